//! ARM's own authorization, as the emulator enforces it when asked: tokens the emulator's Entra
//! issued for ARM, actions derived from the request, role assignments at the scope or above
//! checked against the built-in roles' actions and notActions.
//!
//! How a test acts as a principal under enforcement: register it (a service principal with a
//! secret, or a federated workload identity), bootstrap its rights with `Control::grant`, get a
//! token at `{url}/{tenant}/oauth2/v2.0/token` for `https://management.azure.com/.default`, and
//! send it as the bearer token.

use std::time::Duration;

use arm_emulator::{ArmEmulator, Config};
use kube_emulator::KubeEmulator;
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-0000000000a1";
const ARM_SCOPE: &str = "https://management.azure.com/.default";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const USER_ACCESS_ADMINISTRATOR: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
const AKS_CONTRIBUTOR: &str = "ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8";
const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

struct Env {
    arm: ArmEmulator,
    http: reqwest::Client,
    tenant: String,
}

/// A principal that signed in: its object id, client id and ARM access token.
struct Principal {
    oid: String,
    client_id: String,
    token: String,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Env {
    async fn start(config: Config) -> Env {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let config = Config {
            lro_duration: Duration::from_millis(200),
            principal_propagation_delay: Duration::ZERO,
            ..config
        };
        let tenant = config.tenant_id.clone();
        let arm = ArmEmulator::start(config).await.expect("arm-emulator");
        let http = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(arm.ca_pem().as_bytes()).expect("CA"),
            )
            .build()
            .expect("client");
        Env { arm, http, tenant }
    }

    async fn enforcing() -> Env {
        Env::start(Config {
            enforce_authorization: true,
            ..Config::default()
        })
        .await
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                self.arm.url(),
                self.tenant
            ))
            .form(form)
            .send()
            .await
            .expect("token endpoint");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A service principal signing in with a secret, for `scope`.
    async fn principal_for(&self, name: &str, scope: &str) -> Principal {
        let sp = self.arm.control().add_service_principal(name, "s3cret");
        let (s, b) = self
            .token_request(&[
                ("client_id", name),
                ("client_secret", "s3cret"),
                ("grant_type", "client_credentials"),
                ("scope", scope),
            ])
            .await;
        assert_eq!(s, 200, "{b}");
        Principal {
            oid: sp.object_id,
            client_id: sp.client_id,
            token: b["access_token"].as_str().expect("access_token").into(),
        }
    }

    async fn principal(&self, name: &str) -> Principal {
        self.principal_for(name, ARM_SCOPE).await
    }

    /// An ARM call with `token`; `path` may be a full URL (operation status).
    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = if path.starts_with("https://") {
            path.to_string()
        } else {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{}{path}{sep}api-version=2024-11-30", self.arm.url())
        };
        let mut r = self
            .http
            .request(method.parse().expect("method"), url)
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("answer");
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        let text = r.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// A resource group made by a principal granted Owner for the purpose.
    async fn group(&self, name: &str) -> String {
        let id = group_id(name);
        let control = self.arm.control();
        let admin = self.principal("bootstrap-admin").await;
        control.grant(&admin.oid, OWNER, &format!("/subscriptions/{SUB}"));
        let r = self
            .call(
                &admin.token,
                "PUT",
                &id,
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert!(r.status == 201 || r.status == 200, "{}", r.body);
        id
    }
}

fn group_id(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{name}")
}

fn vault_id(group: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.KeyVault/vaults/{name}",
        group_id(group)
    )
}

fn vault_body(tenant: &str) -> Value {
    json!({"location": "westeurope", "properties": {"tenantId": tenant,
        "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}})
}

fn assignment_body(role: &str, principal: &str) -> Value {
    json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
        "principalId": principal, "principalType": "ServicePrincipal"}})
}

fn assignment_id(scope: &str) -> String {
    format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
        uuid::Uuid::new_v4()
    )
}

/// ARM's AuthorizationFailed message (recorded wording).
fn refused(p: &Principal, action: &str, scope: &str) -> String {
    format!(
        "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
        p.client_id, p.oid
    )
}

fn code(r: &Reply) -> &str {
    r.body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn without_enforcement_any_bearer_token_acts_with_every_right() {
    let env = Env::start(Config::default()).await;
    let r = env
        .call(
            "not-a-jwt",
            "PUT",
            &group_id("open"),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = env
        .call(
            "not-a-jwt",
            "PUT",
            &assignment_id(&group_id("open")),
            Some(assignment_body(OWNER, &uuid::Uuid::new_v4().to_string())),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn a_token_the_emulator_did_not_issue_for_arm_is_refused_with_401() {
    let env = Env::enforcing().await;
    let r = env
        .call(
            "not-a-jwt",
            "GET",
            &format!("/subscriptions/{SUB}/resourceGroups"),
            None,
        )
        .await;
    assert_eq!(
        (r.status, code(&r)),
        (401, "InvalidAuthenticationToken"),
        "{}",
        r.body
    );
    assert_eq!(r.body["error"]["message"], "The access token is invalid.");
    assert!(
        r.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer ") && v.contains("invalid_token")),
        "{:?}",
        r.headers
    );

    // A genuine token of this emulator with one character of its signature changed.
    let p = env.principal("tamperer").await;
    env.arm
        .control()
        .grant(&p.oid, OWNER, &format!("/subscriptions/{SUB}"));
    let mut forged = p.token.clone();
    let last = forged.pop().expect("a character");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let r = env.call(&forged, "GET", &group_id("any"), None).await;
    assert_eq!((r.status, code(&r)), (401, "InvalidAuthenticationToken"));

    // A token for Key Vault is not one for ARM.
    let vault_token = env
        .principal_for("vault-only", "https://vault.azure.net/.default")
        .await;
    env.arm
        .control()
        .grant(&vault_token.oid, OWNER, &format!("/subscriptions/{SUB}"));
    let r = env
        .call(&vault_token.token, "GET", &group_id("any"), None)
        .await;
    assert_eq!(
        (r.status, code(&r)),
        (401, "InvalidAuthenticationTokenAudience")
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'https://vault.azure.net'")),
        "{}",
        r.body
    );
    let log = env.arm.control().request_log();
    assert!(
        log.iter().filter(|l| l.status == 401).all(|l| l
            .error_code
            .as_deref()
            .is_some_and(|c| c.starts_with("Invalid"))),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_principal_without_assignments_is_refused_with_arms_message_and_nothing_changes() {
    let env = Env::enforcing().await;
    let nobody = env.principal("nobody").await;
    let id = group_id("rg-denied");
    let r = env
        .call(
            &nobody.token,
            "PUT",
            &id,
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!((r.status, code(&r)), (403, "AuthorizationFailed"));
    assert_eq!(
        r.body["error"]["message"],
        refused(
            &nobody,
            "Microsoft.Resources/subscriptions/resourceGroups/write",
            &id
        )
    );
    // Refused before throttling: no bucket was drawn from.
    assert!(
        r.headers
            .keys()
            .all(|k| !k.as_str().starts_with("x-ms-ratelimit-remaining")),
        "{:?}",
        r.headers
    );
    assert!(env.arm.control().resource(&id).is_none());
    let logged = env.arm.control().request_log();
    let last = logged.last().expect("logged");
    assert_eq!(
        (
            last.method.as_str(),
            last.status,
            last.error_code.as_deref()
        ),
        ("PUT", 403, Some("AuthorizationFailed"))
    );

    // A LIST is authorized over its parent.
    let r = env
        .call(
            &nobody.token,
            "GET",
            &format!("/subscriptions/{SUB}/resourcegroups"),
            None,
        )
        .await;
    assert_eq!(
        r.body["error"]["message"],
        refused(
            &nobody,
            "Microsoft.Resources/subscriptions/resourcegroups/read",
            &format!("/subscriptions/{SUB}")
        )
    );
}

#[tokio::test]
async fn a_reader_at_the_subscription_reads_groups_but_cannot_write_them() {
    let env = Env::enforcing().await;
    let rg = env.group("rg-read").await;
    let reader = env.principal("reader").await;
    env.arm
        .control()
        .grant(&reader.oid, READER, &format!("/subscriptions/{SUB}"));
    let r = env.call(&reader.token, "GET", &rg, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = env
        .call(
            &reader.token,
            "GET",
            &format!("/subscriptions/{SUB}/resourceGroups/rg-missing"),
            None,
        )
        .await;
    assert_eq!(
        (r.status, code(&r)),
        (404, "ResourceGroupNotFound"),
        "a reader learns what is missing"
    );
    let r = env
        .call(
            &reader.token,
            "PUT",
            &group_id("rg-new"),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!((r.status, code(&r)), (403, "AuthorizationFailed"));
    let r = env.call(&reader.token, "DELETE", &rg, None).await;
    assert_eq!(
        r.body["error"]["message"],
        refused(
            &reader,
            "Microsoft.Resources/subscriptions/resourceGroups/delete",
            &rg
        )
    );
    assert!(env.arm.control().resource(&rg).is_some());
}

#[tokio::test]
async fn a_contributor_on_one_group_creates_a_vault_there_only_and_cannot_assign_roles() {
    let env = Env::enforcing().await;
    let rg_a = env.group("rg-a").await;
    env.group("rg-b").await;
    let contributor = env.principal("contributor").await;
    env.arm
        .control()
        .grant(&contributor.oid, CONTRIBUTOR, &rg_a);

    let r = env
        .call(
            &contributor.token,
            "PUT",
            &vault_id("rg-a", "kv-contrib-a"),
            Some(vault_body(&env.tenant)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let other = vault_id("rg-b", "kv-contrib-b");
    let r = env
        .call(
            &contributor.token,
            "PUT",
            &other,
            Some(vault_body(&env.tenant)),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["message"].as_str()),
        (
            403,
            Some(refused(&contributor, "Microsoft.KeyVault/vaults/write", &other).as_str())
        )
    );
    assert!(env.arm.control().resource(&other).is_none());

    // Contributor's notActions take Microsoft.Authorization/*/Write away.
    let ra = assignment_id(&rg_a);
    let r = env
        .call(
            &contributor.token,
            "PUT",
            &ra,
            Some(assignment_body(READER, &contributor.oid)),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["message"].as_str()),
        (
            403,
            Some(
                refused(
                    &contributor,
                    "Microsoft.Authorization/roleAssignments/write",
                    &ra
                )
                .as_str()
            )
        )
    );
    assert!(env.arm.control().resource(&ra).is_none());
    // Reading assignments is still allowed.
    let granted = env
        .arm
        .control()
        .grant(&contributor.oid, CONTRIBUTOR, &rg_a);
    let r = env.call(&contributor.token, "GET", &granted, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn an_owner_or_user_access_administrator_assigns_roles() {
    let env = Env::enforcing().await;
    let rg = env.group("rg-owned").await;
    let owner = env.principal("owner").await;
    let uaa = env.principal("uaa").await;
    let control = env.arm.control();
    control.grant(&owner.oid, OWNER, &rg);
    control.grant(&uaa.oid, USER_ACCESS_ADMINISTRATOR, &rg);
    let grantee = env.principal("grantee").await;
    for p in [&owner, &uaa] {
        let ra = assignment_id(&rg);
        let r = env
            .call(
                &p.token,
                "PUT",
                &ra,
                Some(assignment_body(
                    if p.oid == owner.oid {
                        READER
                    } else {
                        CONTRIBUTOR
                    },
                    &grantee.oid,
                )),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // The grantee now holds Contributor on the group: it can write there.
    let r = env
        .call(
            &grantee.token,
            "PUT",
            &vault_id("rg-owned", "kv-grantee"),
            Some(vault_body(&env.tenant)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // A User Access Administrator manages access, not resources.
    let r = env
        .call(
            &uaa.token,
            "PUT",
            &vault_id("rg-owned", "kv-uaa"),
            Some(vault_body(&env.tenant)),
        )
        .await;
    assert_eq!((r.status, code(&r)), (403, "AuthorizationFailed"));
}

#[tokio::test]
async fn an_assignment_on_rg_a_does_not_cover_rg_ab() {
    let env = Env::enforcing().await;
    let rg_a = env.group("rg-a").await;
    let rg_ab = env.group("rg-ab").await;
    let p = env.principal("prefix").await;
    env.arm.control().grant(&p.oid, OWNER, &rg_a);
    assert_eq!(env.call(&p.token, "GET", &rg_a, None).await.status, 200);
    let r = env.call(&p.token, "GET", &rg_ab, None).await;
    assert_eq!(
        r.body["error"]["message"],
        refused(
            &p,
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            &rg_ab
        )
    );
    // Ids compare case-insensitively.
    let upper = rg_a.replace("rg-a", "RG-A");
    assert_eq!(env.call(&p.token, "GET", &upper, None).await.status, 200);
}

#[tokio::test]
async fn operation_urls_are_open_to_any_authenticated_caller_and_actions_are_named_as_arm_does() {
    let env = Env::enforcing().await;
    let rg = env.group("rg-aks").await;
    let p = env.principal("aks-contributor").await;
    env.arm.control().grant(&p.oid, AKS_CONTRIBUTOR, &rg);
    let cluster = format!("{rg}/providers/Microsoft.ContainerService/managedClusters/c1");
    let r = env
        .call(
            &p.token,
            "PUT",
            &cluster,
            Some(json!({"location": "westeurope", "properties": {"dnsPrefix": "c1",
                "agentPoolProfiles": [{"name": "system", "mode": "System", "count": 1, "vmSize": "Standard_D2s_v5"}]}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let op = r
        .headers
        .get("azure-asyncoperation")
        .and_then(|v| v.to_str().ok())
        .expect("Azure-AsyncOperation")
        .to_string();
    let r = env.call(&p.token, "GET", &op, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The AKS Contributor role reads and writes clusters, nothing more.
    let r = env
        .call(
            &p.token,
            "POST",
            &format!("{cluster}/listClusterUserCredential"),
            None,
        )
        .await;
    assert_eq!(
        r.body["error"]["message"],
        refused(
            &p,
            "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
            &cluster
        )
    );
    let r = env
        .call(&p.token, "GET", &format!("{cluster}/agentPools"), None)
        .await;
    assert_eq!(
        r.body["error"]["message"],
        refused(
            &p,
            "Microsoft.ContainerService/managedClusters/agentPools/read",
            &cluster
        )
    );
    // Nor is anyone else's token refused for polling.
    let stranger = env.principal("stranger").await;
    let r = env.call(&stranger.token, "GET", &op, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn grants_over_http_and_enforcement_flips_at_run_time() {
    let env = Env::start(Config::default()).await;
    let p = env.principal("late").await;
    let rg = group_id("rg-late");
    // Off: an unassigned principal (or any token) may do anything.
    let r = env
        .call(
            &p.token,
            "PUT",
            &rg,
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let control_url = format!("{}/_emulator", env.arm.url());
    let r = env
        .http
        .post(format!("{control_url}/config"))
        .json(&json!({"enforceAuthorization": true}))
        .send()
        .await
        .expect("config");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(env.call(&p.token, "GET", &rg, None).await.status, 403);
    let r = env
        .http
        .post(format!("{control_url}/grants"))
        .json(&json!({"principalId": p.oid, "scope": rg,
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{READER}")}))
        .send()
        .await
        .expect("grant");
    assert_eq!(r.status().as_u16(), 200);
    let assignment: Value = r.json().await.expect("assignment");
    assert_eq!(
        assignment["properties"]["description"],
        "emulator bootstrap"
    );
    assert_eq!(assignment["properties"]["scope"], rg.as_str());
    assert_eq!(
        assignment["type"],
        "Microsoft.Authorization/roleAssignments"
    );
    // Granting again is idempotent.
    assert_eq!(
        env.arm.control().grant(&p.oid, READER, &rg),
        assignment["id"].as_str().expect("id")
    );
    assert_eq!(env.call(&p.token, "GET", &rg, None).await.status, 200);
    let r = env
        .call(
            &p.token,
            "GET",
            assignment["id"].as_str().expect("id"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, assignment);
    env.arm.control().set_enforce_authorization(false);
    assert_eq!(env.call("anything", "DELETE", &rg, None).await.status, 202);
}

#[tokio::test]
async fn role_definitions_answer_azures_permissions() {
    let env = Env::enforcing().await;
    let p = env.principal("role-reader").await;
    env.arm
        .control()
        .grant(&p.oid, READER, &format!("/subscriptions/{SUB}"));
    let r = env
        .call(
            &p.token,
            "GET",
            &format!(
                "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"
            ),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["properties"]["roleName"], "Contributor");
    let not_actions = &r.body["properties"]["permissions"][0]["notActions"];
    assert!(
        not_actions
            .as_array()
            .is_some_and(|a| a.contains(&json!("Microsoft.Authorization/*/Write"))),
        "{not_actions}"
    );
}

/// A ServiceAccount token from the kube-emulator's TokenRequest.
async fn service_account_token(http: &reqwest::Client, kube: &KubeEmulator, name: &str) -> String {
    let base = format!("{}/api/v1/namespaces/default/serviceaccounts", kube.url());
    let r = http
        .post(&base)
        .bearer_auth(kube.admin_token())
        .json(&json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}))
        .send()
        .await
        .expect("ServiceAccount");
    assert!(matches!(r.status().as_u16(), 201 | 409));
    let r = http
        .post(format!("{base}/{name}/token"))
        .bearer_auth(kube.admin_token())
        .json(
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": [EXCHANGE_AUDIENCE]}}),
        )
        .send()
        .await
        .expect("TokenRequest");
    let b: Value = r.json().await.expect("token");
    b["status"]["token"].as_str().expect("token").to_string()
}

#[tokio::test]
async fn a_federated_principal_gets_exactly_its_grants() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let kube = KubeEmulator::start(kube_emulator::Config::default())
        .await
        .expect("kube-emulator");
    let env = Env::start(Config {
        enforce_authorization: true,
        trusted_ca_pems: vec![kube.ca_pem().to_string()],
        ..Config::default()
    })
    .await;
    let rg_a = env.group("rg-fed-a").await;
    env.group("rg-fed-b").await;
    let control = env.arm.control();
    let (client_id, object_id) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    control.register_workload_identity(
        &client_id,
        &object_id,
        &kube.issuer_url(),
        "system:serviceaccount:default:azop",
        &[EXCHANGE_AUDIENCE],
    );
    control.grant(&object_id, CONTRIBUTOR, &rg_a);
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(kube.ca_pem().as_bytes()).expect("CA"))
        .build()
        .expect("client");
    let assertion = service_account_token(&http, &kube, "azop").await;
    let (s, b) = env
        .token_request(&[
            ("client_assertion", &assertion),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_id", &client_id),
            ("grant_type", "client_credentials"),
            ("scope", ARM_SCOPE),
        ])
        .await;
    assert_eq!(s, 200, "{b}");
    let p = Principal {
        oid: object_id,
        client_id,
        token: b["access_token"].as_str().expect("token").into(),
    };
    let r = env
        .call(
            &p.token,
            "PUT",
            &vault_id("rg-fed-a", "kv-fed-a"),
            Some(vault_body(&env.tenant)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let other = vault_id("rg-fed-b", "kv-fed-b");
    let r = env
        .call(&p.token, "PUT", &other, Some(vault_body(&env.tenant)))
        .await;
    assert_eq!(
        r.body["error"]["message"],
        refused(&p, "Microsoft.KeyVault/vaults/write", &other)
    );
    let r = env
        .call(
            &p.token,
            "GET",
            &format!("/subscriptions/{SUB}/resourcegroups"),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "no right at the subscription");

    // Another ServiceAccount of the same cluster is not the federated subject.
    let intruder = service_account_token(&http, &kube, "intruder").await;
    let (s, b) = env
        .token_request(&[
            ("client_assertion", &intruder),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_id", &p.client_id),
            ("grant_type", "client_credentials"),
            ("scope", ARM_SCOPE),
        ])
        .await;
    assert_eq!((s, b["error_codes"][0].as_i64()), (400, Some(700213)));
}
