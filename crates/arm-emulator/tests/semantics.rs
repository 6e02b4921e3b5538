//! Azure's behaviour as azop meets it: long-running operations, throttling, soft delete,
//! Entra replication delay, cascading deletes, one AKS operation at a time, faults.

use std::time::Duration;

use arm_emulator::{ArmEmulator, Bucket, Config, Fault, FaultKind, ThrottleLimits};
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-000000000000";

struct Env {
    e: ArmEmulator,
    c: reqwest::Client,
}

impl Env {
    async fn new(config: Config) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let e = ArmEmulator::start(config).await.expect("emulator");
        let c = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(e.ca_pem().as_bytes()).expect("CA"),
            )
            .build()
            .expect("client");
        Env { e, c }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = if path.starts_with("https://") {
            path.to_string()
        } else {
            format!(
                "{}{path}{}api-version=2025-04-01",
                self.e.url(),
                if path.contains('?') { "&" } else { "?" }
            )
        };
        let mut req = self
            .c
            .request(method.parse().expect("method"), url)
            .bearer_auth("t");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("answer");
        let (s, h) = (r.status().as_u16(), r.headers().clone());
        let text = r.text().await.unwrap_or_default();
        (s, h, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn group(&self, name: &str) -> String {
        let id = format!("/subscriptions/{SUB}/resourceGroups/{name}");
        let (s, _, _) = self
            .call("PUT", &id, Some(json!({"location": "westeurope"})))
            .await;
        assert_eq!(s, 201);
        id
    }
}

fn fast() -> Config {
    Config {
        // Long enough that a busy machine's pause between two requests does not end an
        // operation a test expects to be still running.
        lro_duration: Duration::from_millis(1000),
        principal_propagation_delay: Duration::from_millis(1000),
        ..Config::default()
    }
}

fn cluster_body() -> Value {
    json!({"location": "westeurope", "properties": {"dnsPrefix": "prod", "oidcIssuerProfile": {"enabled": true},
        "agentPoolProfiles": [{"name": "system", "mode": "System", "count": 1, "vmSize": "Standard_D2s_v5"}]}})
}

#[tokio::test]
async fn a_cluster_create_is_a_long_running_operation_and_refuses_a_second_write_meanwhile() {
    let env = Env::new(fast()).await;
    let rg = env.group("rg").await;
    let id = format!("{rg}/providers/Microsoft.ContainerService/managedClusters/prod");
    let (s, h, body) = env.call("PUT", &id, Some(cluster_body())).await;
    assert_eq!(s, 201);
    assert_eq!(body["properties"]["provisioningState"], "Creating");
    let op = h
        .get("azure-asyncoperation")
        .and_then(|v| v.to_str().ok())
        .expect("Azure-AsyncOperation")
        .to_string();
    assert!(h.get("retry-after").is_some());
    let (s, _, err) = env.call("PUT", &id, Some(cluster_body())).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed"))
    );
    let (_, _, status) = env.call("GET", &op, None).await;
    assert_eq!(status["status"], "InProgress");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, _, status) = env.call("GET", &op, None).await;
    assert_eq!(status["status"], "Succeeded");
    let (_, _, got) = env.call("GET", &id, None).await;
    assert_eq!(got["properties"]["provisioningState"], "Succeeded");
    assert!(
        got["properties"]["oidcIssuerProfile"]["issuerURL"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://"))
    );
    assert!(got["properties"]["identityProfile"]["kubeletidentity"]["objectId"].is_string());
    let (s, _, creds) = env
        .call("POST", &format!("{id}/listClusterUserCredential"), None)
        .await;
    assert_eq!(s, 200);
    assert!(creds["kubeconfigs"][0]["value"].is_string());
}

#[tokio::test]
async fn deleting_a_group_answers_202_with_location_and_takes_what_it_holds() {
    let env = Env::new(fast()).await;
    let rg = env.group("rg").await;
    let mi = format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-mi");
    assert_eq!(
        env.call("PUT", &mi, Some(json!({"location": "westeurope"})))
            .await
            .0,
        201
    );
    let (s, h, _) = env.call("DELETE", &rg, None).await;
    assert_eq!(s, 202);
    let location = h
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_string();
    assert_eq!(env.call("GET", &location, None).await.0, 202);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(env.call("GET", &location, None).await.0, 200);
    let (s, _, err) = env.call("GET", &rg, None).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (404, Some("ResourceGroupNotFound"))
    );
    assert_eq!(env.call("GET", &mi, None).await.0, 404);
    assert_eq!(
        env.call(
            "DELETE",
            &format!("/subscriptions/{SUB}/resourceGroups/never"),
            None
        )
        .await
        .0,
        204
    );
}

#[tokio::test]
async fn a_soft_deleted_vault_name_collides_until_recovered() {
    let env = Env::new(fast()).await;
    let rg = env.group("rg").await;
    let kv = format!("{rg}/providers/Microsoft.KeyVault/vaults/team-kv");
    let body = json!({"location": "westeurope", "properties": {"tenantId": "11111111-1111-1111-1111-111111111111", "sku": {"family": "A", "name": "standard"}}});
    assert_eq!(env.call("PUT", &kv, Some(body.clone())).await.0, 201);
    let other = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/x/providers/Microsoft.KeyVault/vaults/team-kv".to_string();
    let _ = env
        .call(
            "PUT",
            "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/x",
            Some(json!({"location": "westeurope"})),
        )
        .await;
    let (s, _, err) = env.call("PUT", &other, Some(body.clone())).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (409, Some("VaultAlreadyExists")),
        "vault names are global"
    );
    assert_eq!(env.call("DELETE", &kv, None).await.0, 200);
    let deleted = format!(
        "/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/team-kv"
    );
    assert_eq!(env.call("GET", &deleted, None).await.0, 200);
    let (s, _, err) = env.call("PUT", &kv, Some(body.clone())).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (409, Some("ConflictError"))
    );
    let mut recover = body.clone();
    recover["properties"]["createMode"] = json!("recover");
    // Recovering restores the vault rather than creating one: Key Vault answers 200 (recorded in
    // ../shared/arm-recordings/aso/Test_KeyVault_Vault_20230701_CRUD.yaml).
    assert_eq!(env.call("PUT", &kv, Some(recover)).await.0, 200);
    assert_eq!(env.call("GET", &deleted, None).await.0, 404);
}

#[tokio::test]
async fn a_fresh_principal_is_not_found_until_replicated_and_duplicates_are_refused() {
    let env = Env::new(fast()).await;
    let rg = env.group("rg").await;
    let mi = format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-mi");
    let (_, _, identity) = env
        .call("PUT", &mi, Some(json!({"location": "westeurope"})))
        .await;
    let principal = identity["properties"]["principalId"]
        .as_str()
        .expect("principal")
        .to_string();
    // As recorded (Test_Authorization_RoleAssignment_OnResourceGroup_CRUD.yaml): a PUT without
    // principalType for a fresh principal is refused until Entra has replicated it.
    let untyped = json!({"properties": {"roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"), "principalId": principal}});
    let ra = format!(
        "{rg}/providers/Microsoft.Authorization/roleAssignments/11111111-0000-0000-0000-000000000001"
    );
    let (s, _, err) = env.call("PUT", &ra, Some(untyped.clone())).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (400, Some("PrincipalNotFound"))
    );
    // Naming the principal's type is the documented way round the delay.
    let mut body = untyped.clone();
    body["properties"]["principalType"] = json!("ServicePrincipal");
    let typed = format!(
        "{rg}/providers/Microsoft.Authorization/roleAssignments/11111111-0000-0000-0000-000000000003"
    );
    assert_eq!(env.call("PUT", &typed, Some(body.clone())).await.0, 201);
    assert_eq!(env.call("DELETE", &typed, None).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(env.call("PUT", &ra, Some(untyped)).await.0, 201);
    let again = format!(
        "{rg}/providers/Microsoft.Authorization/roleAssignments/11111111-0000-0000-0000-000000000002"
    );
    let (s, _, err) = env.call("PUT", &again, Some(body)).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (409, Some("RoleAssignmentExists"))
    );
    let (s, _, deleted) = env.call("DELETE", &ra, None).await;
    assert_eq!(s, 200);
    assert_eq!(deleted["properties"]["principalId"], json!(principal));
}

#[tokio::test]
async fn role_assignments_are_limited_per_subscription() {
    let env = Env::new(Config {
        max_role_assignments: 3,
        principal_propagation_delay: Duration::ZERO,
        ..fast()
    })
    .await;
    let rg = env.group("rg").await;
    let role = |guid: &str| {
        format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}")
    };
    let roles = [
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "4633458b-17de-408a-b874-0445c86b69e6",
    ];
    let mut answers = Vec::new();
    for (i, guid) in roles.iter().enumerate() {
        let id = format!(
            "{rg}/providers/Microsoft.Authorization/roleAssignments/22222222-0000-0000-0000-00000000000{i}"
        );
        let body = json!({"properties": {"roleDefinitionId": role(guid),
            "principalId": "33333333-3333-3333-3333-333333333333", "principalType": "ServicePrincipal"}});
        let (s, _, answer) = env.call("PUT", &id, Some(body)).await;
        answers.push((s, answer["error"]["code"].as_str().map(str::to_string)));
    }
    assert_eq!(
        answers,
        vec![
            (201, None),
            (201, None),
            (201, None),
            (400, Some("RoleAssignmentLimitExceeded".to_string()))
        ]
    );
}

#[tokio::test]
async fn federated_credentials_are_unique_by_issuer_and_subject_and_limited_to_twenty() {
    let env = Env::new(fast()).await;
    let rg = env.group("rg").await;
    let mi = format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-mi");
    env.call("PUT", &mi, Some(json!({"location": "westeurope"})))
        .await;
    let fic = |n: usize, subject: &str| {
        (
            format!("{mi}/federatedIdentityCredentials/c{n}"),
            json!({"properties": {"issuer": "https://issuer.example.com", "subject": subject, "audiences": ["api://AzureADTokenExchange"]}}),
        )
    };
    for n in 0..20 {
        let (id, body) = fic(n, &format!("system:serviceaccount:ns:sa{n}"));
        assert_eq!(
            env.call("PUT", &id, Some(body)).await.0,
            201,
            "credential {n}"
        );
    }
    let (id, body) = fic(20, "system:serviceaccount:ns:sa20");
    assert_eq!(
        env.call("PUT", &id, Some(body)).await.0,
        400,
        "the 21st is refused"
    );
    let (id, body) = fic(0, "system:serviceaccount:ns:sa1");
    assert_eq!(
        env.call("PUT", &id, Some(body)).await.0,
        400,
        "a second credential with the same issuer and subject is refused"
    );
    let (_, _, list) = env
        .call("GET", &format!("{mi}/federatedIdentityCredentials"), None)
        .await;
    assert_eq!(list["value"].as_array().map(Vec::len), Some(20));
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_and_remaining_headers() {
    let mut config = fast();
    config.throttling = ThrottleLimits {
        enabled: true,
        reads: Bucket {
            capacity: 3.0,
            refill_per_second: 1.0,
        },
        ..ThrottleLimits::default()
    };
    let env = Env::new(config).await;
    let rg = env.group("rg").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (s, h, _) = env.call("GET", &rg, None).await;
        assert!(
            h.get("x-ms-ratelimit-remaining-subscription-reads")
                .is_some()
        );
        if s == 429 {
            assert!(h.get("retry-after").is_some());
        }
        statuses.push(s);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429]);
    assert_eq!(env.e.control().counts().get("GET 429"), Some(&1));
}

#[tokio::test]
async fn each_principal_has_its_own_buckets_under_the_subscriptions_global_one() {
    let mut config = fast();
    config.throttling = ThrottleLimits {
        enabled: true,
        reads: Bucket {
            capacity: 3.0,
            refill_per_second: 0.01,
        },
        global_factor: 2.0,
        ..ThrottleLimits::default()
    };
    let env = Env::new(config).await;
    let rg = env.group("rg").await;
    let get_as = |token: &'static str| {
        let req = env
            .c
            .get(format!("{}{rg}?api-version=2025-04-01", env.e.url()))
            .bearer_auth(token);
        async move {
            let r = req.send().await.expect("answer");
            let remaining = r
                .headers()
                .get("x-ms-ratelimit-remaining-subscription-reads")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            (r.status().as_u16(), remaining)
        }
    };
    let mut seen = Vec::new();
    for token in [
        "alice", "alice", "alice", "alice", "bob", "bob", "bob", "carol",
    ] {
        seen.push(get_as(token).await);
    }
    let statuses: Vec<u16> = seen.iter().map(|(s, _)| *s).collect();
    // alice's own bucket of 3 runs out; bob has his own 3; carol's own bucket is full, but the
    // subscription's global bucket (2 × 3) is spent.
    assert_eq!(statuses, vec![200, 200, 200, 429, 200, 200, 200, 429]);
    assert_eq!(seen[4].1.as_deref(), Some("2"), "bob's own remaining count");

    // A subscription with limits of its own starts with full buckets of that size.
    let sub = rg.split('/').nth(2).expect("subscription");
    env.e.control().set_subscription_throttling(
        sub,
        Some(ThrottleLimits {
            reads: Bucket {
                capacity: 1.0,
                refill_per_second: 0.01,
            },
            ..ThrottleLimits::default()
        }),
    );
    assert_eq!(get_as("alice").await, (200, Some("0".to_string())));
    assert_eq!(get_as("alice").await.0, 429);
}

#[tokio::test]
async fn head_on_a_group_says_whether_it_exists() {
    let env = Env::new(fast()).await;
    let rg = env.group("there").await;
    let (status, _, body) = env.call("HEAD", &rg, None).await;
    assert_eq!((status, body), (204, Value::Null));
    let missing = rg.replace("/there", "/missing");
    assert_eq!(env.call("HEAD", &missing, None).await.0, 404);
}

#[tokio::test]
async fn a_held_answer_is_done_and_logged_before_the_caller_hears() {
    let env = Env::new(fast()).await;
    let rg = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/held";
    env.e
        .control()
        .inject_fault(Fault {
            path_pattern: "resourceGroups/held$".into(),
            method: Some("PUT".into()),
            kind: FaultKind::HoldAnswer { millis: 3_000 },
            count: Some(1),
            probability: None,
        })
        .expect("fault");
    let started = std::time::Instant::now();
    let put = env.call("PUT", rg, Some(json!({"location": "westeurope"})));
    let watch = async {
        loop {
            if env.e.control().resource(rg).is_some() {
                break started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let ((status, _, _), made_after) = tokio::join!(put, watch);
    assert_eq!(status, 201);
    assert!(
        made_after < Duration::from_secs(2),
        "made at once: {made_after:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "answered after the hold"
    );
    assert!(
        env.e
            .control()
            .request_log()
            .iter()
            .any(|r| r.method == "PUT" && r.path.ends_with("/held") && r.status == 201),
        "logged as answered while held"
    );
}

#[tokio::test]
async fn injected_faults_and_missing_credentials_answer_as_configured() {
    let env = Env::new(fast()).await;
    let rg = env.group("rg").await;
    env.e
        .control()
        .inject_fault(Fault {
            path_pattern: "resourceGroups/rg$".into(),
            method: Some("GET".into()),
            kind: FaultKind::Status {
                status: 503,
                code: None,
                retry_after: None,
            },
            count: Some(1),
            probability: None,
        })
        .expect("fault");
    assert_eq!(env.call("GET", &rg, None).await.0, 503);
    assert_eq!(
        env.call("GET", &rg, None).await.0,
        200,
        "the fault hit once"
    );
    let anonymous = env
        .c
        .get(format!("{}{rg}?api-version=2025-04-01", env.e.url()))
        .send()
        .await
        .expect("answer");
    assert_eq!(anonymous.status().as_u16(), 401);
    let (s, _, err) = env
        .call("PUT", &rg, Some(json!({"location": "northeurope"})))
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (409, Some("InvalidResourceGroupLocation"))
    );
    let (s, _, err) = env
        .call(
            "PUT",
            &format!("{rg}/providers/Microsoft.KeyVault/vaults/kv"),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (400, Some("InvalidParameter"))
    );
}

/// AKS's pools: one list on the cluster that the agentPools API reads and changes pool by
/// pool, one operation at a time, with AKS's version rules and a System pool always there.
#[tokio::test]
async fn agent_pools_live_in_their_cluster_under_aks_rules() {
    let env = Env::new(fast()).await;
    let rg = env.group("rg").await;
    let id = format!("{rg}/providers/Microsoft.ContainerService/managedClusters/prod");
    let mut body = cluster_body();
    body["properties"]["kubernetesVersion"] = json!("1.30");
    assert_eq!(env.call("PUT", &id, Some(body.clone())).await.0, 201);
    let settle = || tokio::time::sleep(Duration::from_millis(1100));
    settle().await;

    // The pool the cluster was made with answers through the agentPools API, labels included.
    let (s, _, system) = env
        .call("GET", &format!("{id}/agentPools/system"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(system["properties"]["nodeLabels"], json!({}));
    assert_eq!(system["properties"]["orchestratorVersion"], "1.30.2");

    // A pool added through agentPools shows in the cluster, and holds it while it is made.
    let apps = format!("{id}/agentPools/apps");
    let (s, _, made) = env
        .call(
            "PUT",
            &apps,
            Some(
                json!({"properties": {"vmSize": "Standard_D4s_v5", "count": 2,
            "mode": "User", "nodeLabels": {"team": "a"}, "nodeTaints": []}}),
            ),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(made["properties"]["provisioningState"], "Creating");
    assert!(
        made["properties"].get("nodeTaints").is_none(),
        "empty taints are not answered"
    );
    let (s, _, busy) = env.call("PUT", &id, Some(body.clone())).await;
    assert_eq!(
        (s, busy["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed"))
    );
    settle().await;
    let (_, _, cluster) = env.call("GET", &id, None).await;
    let names: Vec<&str> = cluster["properties"]["agentPoolProfiles"]
        .as_array()
        .expect("pools")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["system", "apps"]);
    let (_, _, list) = env.call("GET", &format!("{id}/agentPools"), None).await;
    assert_eq!(list["value"].as_array().map(Vec::len), Some(2));

    // Versions: no pool newer than the control plane, no minor skipped, none downgraded.
    let (s, _, e) = env
        .call("PUT", &apps, Some(json!({"properties": {"vmSize": "Standard_D4s_v5", "count": 2, "mode": "User", "orchestratorVersion": "1.31"}})))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("NodePoolMcVersionIncompatible"))
    );
    let mut skip = body.clone();
    skip["properties"]["kubernetesVersion"] = json!("1.32");
    let (s, _, e) = env.call("PUT", &id, Some(skip)).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("OperationNotAllowed")),
        "{e}"
    );
    let mut down = body.clone();
    down["properties"]["kubernetesVersion"] = json!("1.29");
    assert_eq!(env.call("PUT", &id, Some(down)).await.0, 400);
    // A vmSize cannot change.
    let (s, _, e) = env
        .call(
            "PUT",
            &apps,
            Some(json!({"properties": {"vmSize": "Standard_D8s_v5", "count": 2, "mode": "User"}})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("PropertyChangeNotAllowed"))
    );

    // The last System pool cannot go; a User pool can, and is gone when its operation ends.
    let (s, _, e) = env
        .call("DELETE", &format!("{id}/agentPools/system"), None)
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("OperationNotAllowed"))
    );
    assert_eq!(env.call("DELETE", &apps, None).await.0, 202);
    settle().await;
    assert_eq!(env.call("GET", &apps, None).await.0, 404);
    let (_, _, cluster) = env.call("GET", &id, None).await;
    assert_eq!(
        cluster["properties"]["agentPoolProfiles"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}
