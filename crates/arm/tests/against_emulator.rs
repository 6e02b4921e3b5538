//! The ARM client against the arm-emulator, over HTTPS and through azure_core's bearer-token
//! policy: resources through the poller, an operation resumed by a fresh client from its token,
//! 429 and 5xx retried, a 400 classified Terminal with ARM's message, and a burst kept under a
//! small bucket with no 429 at all.

use std::time::Duration;

use arm_emulator::{ArmEmulator, Bucket, Config, Fault, FaultKind, ThrottleLimits};
use azop_arm::{
    ArmClient, ArmConfig, ArmError, BucketLimit, CredentialConfig, OperationToken, Polled,
    RateLimits, Written,
};
use serde_json::json;

const SUB: &str = "00000000-0000-0000-0000-000000000000";

fn client(e: &ArmEmulator, limits: RateLimits) -> ArmClient {
    ArmClient::new(ArmConfig {
        endpoint: e.url(),
        ca_bundle_pem: Some(e.ca_pem().to_string()),
        credential: CredentialConfig::Static("test-token".into()),
        rate_limits: limits,
        ..ArmConfig::default()
    })
    .expect("client")
}

async fn until_done(c: &ArmClient, token: &OperationToken) -> Polled {
    for _ in 0..100 {
        match c.poll(token).await.expect("poll") {
            Polled::InProgress { .. } => tokio::time::sleep(Duration::from_millis(50)).await,
            done => return done,
        }
    }
    panic!("operation never finished")
}

fn fast() -> Config {
    Config {
        lro_duration: Duration::from_millis(300),
        principal_propagation_delay: Duration::ZERO,
        ..Config::default()
    }
}

#[tokio::test]
async fn each_resource_type_is_created_read_and_deleted_through_the_poller() {
    let e = ArmEmulator::start(fast()).await.expect("emulator");
    let c = client(&e, RateLimits::default());
    let rg = format!("/subscriptions/{SUB}/resourceGroups/rg");
    assert!(matches!(
        c.put(&rg, "2025-04-01", &json!({"location": "westeurope"}))
            .await
            .expect("rg"),
        Written::Done(Some(_))
    ));
    let mi = format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-mi");
    let Written::Done(Some(identity)) = c
        .put(&mi, "2024-11-30", &json!({"location": "westeurope"}))
        .await
        .expect("identity")
    else {
        panic!("identity is synchronous")
    };
    let principal = identity["properties"]["principalId"]
        .as_str()
        .expect("principal")
        .to_string();
    let fic = format!("{mi}/federatedIdentityCredentials/cred");
    c.put(&fic, "2024-11-30", &json!({"properties": {"issuer": "https://i.example.com", "subject": "system:serviceaccount:a:b", "audiences": ["api://AzureADTokenExchange"]}})).await.expect("credential");
    let kv = format!("{rg}/providers/Microsoft.KeyVault/vaults/azop-test-kv");
    c.put(&kv, "2025-05-01", &json!({"location": "westeurope", "properties": {"tenantId": "11111111-1111-1111-1111-111111111111", "sku": {"family": "A", "name": "standard"}}})).await.expect("vault");
    let ra = format!(
        "{rg}/providers/Microsoft.Authorization/roleAssignments/6a2c2a9e-2a47-4f6e-9b73-0f1f1b1d9e01"
    );
    c.put(&ra, "2022-04-01", &json!({"properties": {"roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"), "principalId": principal, "principalType": "ServicePrincipal"}})).await.expect("role assignment");
    let aks = format!("{rg}/providers/Microsoft.ContainerService/managedClusters/prod");
    let Written::Started { token, .. } = c.put(&aks, "2026-05-01", &json!({"location": "westeurope", "properties": {"dnsPrefix": "prod", "agentPoolProfiles": [{"name": "system", "mode": "System", "count": 1, "vmSize": "Standard_D2s_v5"}]}})).await.expect("cluster") else { panic!("a cluster create is long-running") };
    let Polled::Succeeded(Some(cluster)) = until_done(&c, &token).await else {
        panic!("cluster created")
    };
    assert_eq!(cluster["properties"]["provisioningState"], "Succeeded");
    for (id, v) in [
        (&fic, "2024-11-30"),
        (&mi, "2024-11-30"),
        (&kv, "2025-05-01"),
        (&ra, "2022-04-01"),
    ] {
        assert!(c.get(id, v).await.expect("get").is_some(), "{id}");
        c.delete(id, v).await.expect("delete");
        assert!(c.get(id, v).await.expect("get").is_none(), "{id} gone");
    }
    let Written::Started { token, .. } = c.delete(&rg, "2025-04-01").await.expect("delete group")
    else {
        panic!("a group delete is long-running")
    };
    assert_eq!(until_done(&c, &token).await, Polled::Succeeded(None));
    assert!(
        c.get(&aks, "2026-05-01").await.is_err()
            || c.get(&aks, "2026-05-01").await.expect("get").is_none(),
        "the group took the cluster"
    );
}

#[tokio::test]
async fn an_operation_is_resumed_from_its_token_by_a_fresh_client() {
    let e = ArmEmulator::start(fast()).await.expect("emulator");
    let rg = format!("/subscriptions/{SUB}/resourceGroups/rg");
    let first = client(&e, RateLimits::default());
    first
        .put(&rg, "2025-04-01", &json!({"location": "westeurope"}))
        .await
        .expect("rg");
    let aks = format!("{rg}/providers/Microsoft.ContainerService/managedClusters/prod");
    let Written::Started { token, .. } = first.put(&aks, "2026-05-01", &json!({"location": "westeurope", "properties": {"dnsPrefix": "prod", "agentPoolProfiles": [{"name": "system", "mode": "System", "count": 1, "vmSize": "Standard_D2s_v5"}]}})).await.expect("cluster") else { panic!("long-running") };
    let saved = token.to_token_string();
    drop(first);
    let second = client(&e, RateLimits::default());
    let resumed = OperationToken::parse(&saved).expect("token");
    assert!(matches!(
        until_done(&second, &resumed).await,
        Polled::Succeeded(Some(_))
    ));
    let puts = e
        .control()
        .request_log()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("managedClusters"))
        .count();
    assert_eq!(puts, 1, "resuming never sends the PUT again");
}

#[tokio::test]
async fn server_errors_are_retried_throttling_is_handed_back_and_validation_is_terminal() {
    let e = ArmEmulator::start(fast()).await.expect("emulator");
    let c = client(&e, RateLimits::default());
    let rg = format!("/subscriptions/{SUB}/resourceGroups/rg");
    c.put(&rg, "2025-04-01", &json!({"location": "westeurope"}))
        .await
        .expect("rg");
    // A 429 is not slept out inside the request (that would hold a concurrency slot for the
    // whole Retry-After): it comes back as Throttled, and the subscription's bucket pauses.
    e.control()
        .inject_fault(Fault {
            path_pattern: "resourceGroups/rg$".into(),
            method: Some("GET".into()),
            kind: FaultKind::Status {
                status: 429,
                code: None,
                retry_after: None,
            },
            count: Some(1),
            probability: None,
        })
        .expect("fault");
    match c.get(&rg, "2025-04-01").await {
        Err(ArmError::Throttled { retry_after }) => {
            assert!(retry_after > std::time::Duration::ZERO, "{retry_after:?}");
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert!(
        c.get(&rg, "2025-04-01")
            .await
            .expect("after the pause")
            .is_some()
    );
    assert!(
        c.throttled_waits() >= 1,
        "the next request waited out the pause"
    );
    for kind in [
        FaultKind::Status {
            status: 503,
            code: None,
            retry_after: None,
        },
        FaultKind::Reset,
    ] {
        e.control()
            .inject_fault(Fault {
                path_pattern: "resourceGroups/rg$".into(),
                method: Some("GET".into()),
                kind,
                count: Some(1),
                probability: None,
            })
            .expect("fault");
        assert!(c.get(&rg, "2025-04-01").await.expect("retried").is_some());
    }
    let err = c
        .put(
            &format!("{rg}/providers/Microsoft.KeyVault/vaults/kv-bad"),
            "2025-05-01",
            &json!({"location": "westeurope"}),
        )
        .await
        .expect_err("refused");
    match err {
        ArmError::Terminal { code, message } => {
            assert_eq!(code, "InvalidParameter");
            assert!(message.contains("properties.tenantId"), "{message}");
        }
        other => panic!("expected Terminal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_thousand_concurrent_creates_under_a_small_bucket_earn_no_429() {
    let mut config = fast();
    config.throttling = ThrottleLimits {
        enabled: true,
        writes: Bucket {
            capacity: 100.0,
            refill_per_second: 400.0,
        },
        ..ThrottleLimits::default()
    };
    let e = ArmEmulator::start(config).await.expect("emulator");
    // Half ARM's refill: on two busy cores a thousand spawned tasks reach the emulator in
    // bunches, and a bunch arriving after a stall finds the emulator's bucket capped at its
    // burst (refill lost), which a client at 75% of the refill rate overran now and then.
    let c = client(
        &e,
        RateLimits {
            writes: BucketLimit {
                capacity: 80.0,
                refill_per_second: 200.0,
            },
            ..RateLimits::default()
        },
    );
    let rg = format!("/subscriptions/{SUB}/resourceGroups/rg");
    c.put(&rg, "2025-04-01", &json!({"location": "westeurope"}))
        .await
        .expect("rg");
    let tasks: Vec<_> = (0..1000)
        .map(|n| {
            let c = c.clone();
            let id = format!(
                "{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-{n:04}"
            );
            tokio::spawn(async move {
                c.put(&id, "2024-11-30", &json!({"location": "westeurope"}))
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("created");
    }
    let counts = e.control().counts();
    assert_eq!(counts.get("PUT 429"), None, "{counts:?}");
    assert_eq!(counts.get("PUT 201"), Some(&1001), "{counts:?}");
    assert!(c.throttled_waits() > 0, "the client waited for its bucket");
}
