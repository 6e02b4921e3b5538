//! Secret sync's Key Vault client against the emulators, as a binding uses it: signed in as a
//! workload identity with a ServiceAccount token from the kube-emulator (TokenRequest), one
//! Entra token for many reads, and a throttled vault left alone until its Retry-After.

use std::sync::Arc;
use std::time::Duration;

use arm_emulator::{ArmEmulator, KeyVaultLimits};
use azop_arm::{KeyVaultClient, KeyVaultConfig, VaultError, WorkloadIdentity};
use azop_controller::tokens::{ServiceAccountToken, TOKEN_EXCHANGE_AUDIENCE};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

const SUB: &str = "00000000-0000-0000-0000-000000000000";
const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
const CLIENT_ID: &str = "5e1d0000-0000-4000-8000-00000000c0de";
const OBJECT_ID: &str = "5e1d0000-0000-4000-8000-0000000000b1";

#[tokio::test]
async fn a_workload_identity_reads_with_one_token_and_waits_out_a_throttled_vault() {
    let kube = kube_emulator::KubeEmulator::start(kube_emulator::Config::default())
        .await
        .expect("kube-emulator");
    let window = Duration::from_secs(4);
    let arm = ArmEmulator::start(arm_emulator::Config {
        trusted_ca_pems: vec![kube.ca_pem().to_string()],
        lro_duration: Duration::ZERO,
        keyvault_throttling: KeyVaultLimits {
            enabled: true,
            transactions: 2,
            window,
        },
        ..arm_emulator::Config::default()
    })
    .await
    .expect("arm-emulator");
    let tenant = arm_emulator::Config::default().tenant_id;
    let client = kube.client().await.expect("client");

    // The workload's ServiceAccount, and an identity that trusts it.
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "app"}})).expect("ns"),
        )
        .await
        .expect("namespace");
    Api::<ServiceAccount>::namespaced(client.clone(), "app")
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "reader"}})).expect("sa"),
        )
        .await
        .expect("service account");
    let control = arm.control();
    control.register_workload_identity(
        CLIENT_ID,
        OBJECT_ID,
        &kube.issuer_url(),
        "system:serviceaccount:app:reader",
        &[TOKEN_EXCHANGE_AUDIENCE],
    );

    // A vault with one secret the identity may read.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(arm.ca_pem().as_bytes()).expect("CA"))
        .build()
        .expect("client");
    let group = format!("/subscriptions/{SUB}/resourceGroups/rg-reads");
    let vault_id = format!("{group}/providers/Microsoft.KeyVault/vaults/kv-reads");
    for (path, body) in [
        (group.clone(), json!({"location": "westeurope"})),
        (
            vault_id.clone(),
            json!({"location": "westeurope", "properties": {"tenantId": tenant,
                "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}),
        ),
    ] {
        let r = http
            .put(format!("{}{path}?api-version=2024-11-30", arm.url()))
            .bearer_auth("platform")
            .json(&body)
            .send()
            .await
            .expect("ARM PUT");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    let version = control
        .set_secret("kv-reads", "db-password", "hunter2")
        .expect("secret set");
    control.grant(
        OBJECT_ID,
        SECRETS_USER,
        &format!("{vault_id}/secrets/db-password"),
    );

    let reader = KeyVaultClient::new(KeyVaultConfig {
        ca_bundle_pem: Some(arm.ca_pem().to_string()),
        authority_host: Some(arm.url()),
        ..KeyVaultConfig::default()
    })
    .expect("Key Vault client");
    let identity = WorkloadIdentity {
        tenant_id: tenant.clone(),
        client_id: CLIENT_ID.into(),
        assertion: Arc::new(ServiceAccountToken {
            client: client.clone(),
            namespace: "app".into(),
            name: "reader".into(),
        }),
    };
    let vault_uri = format!("{}/keyvault/kv-reads/", arm.url());
    let kv_requests = || {
        control
            .request_log()
            .iter()
            .filter(|r| r.path.starts_with("/keyvault/"))
            .count()
    };

    // Two reads fill the window (2 transactions): the value, its version, one token.
    for _ in 0..2 {
        let s = reader
            .get_secret("app/reader", &identity, &vault_uri, "db-password")
            .await
            .expect("read");
        assert_eq!(s.value.secret(), "hunter2");
        assert_eq!(s.version, version);
        assert!(!format!("{s:?}").contains("hunter2"), "Debug redacts");
    }
    assert_eq!(control.token_requests()[CLIENT_ID], 1, "one Entra token");

    // The third is throttled by the vault; the fourth does not even go out.
    let Err(VaultError::Throttled { retry_after }) = reader
        .get_secret("app/reader", &identity, &vault_uri, "db-password")
        .await
    else {
        panic!("the vault's limit answers 429");
    };
    assert!(retry_after > Duration::ZERO && retry_after <= window);
    assert_eq!(kv_requests(), 3);
    assert!(matches!(
        reader
            .get_secret("app/reader", &identity, &vault_uri, "db-password")
            .await,
        Err(VaultError::Throttled { .. })
    ));
    assert_eq!(
        kv_requests(),
        3,
        "nothing sent while the vault asked to wait"
    );

    // After Retry-After, reads go through again.
    tokio::time::sleep(retry_after + Duration::from_millis(100)).await;
    reader
        .get_secret("app/reader", &identity, &vault_uri, "db-password")
        .await
        .expect("read after the wait");

    // A secret the identity holds no role for is a 403, one that does not exist a 404.
    control.set_secret("kv-reads", "other", "x").expect("set");
    tokio::time::sleep(window).await;
    assert!(matches!(
        reader
            .get_secret("app/reader", &identity, &vault_uri, "other")
            .await,
        Err(VaultError::Forbidden { .. })
    ));
    control.grant(OBJECT_ID, SECRETS_USER, &vault_id);
    assert!(matches!(
        reader
            .get_secret("app/reader", &identity, &vault_uri, "missing")
            .await,
        Err(VaultError::NotFound { .. })
    ));
    let counts = reader.request_counts();
    assert_eq!(counts[&("kv-reads".to_string(), "200".to_string())], 3);
    assert_eq!(counts[&("kv-reads".to_string(), "429".to_string())], 1);
    assert_eq!(control.token_requests()[CLIENT_ID], 1, "still one token");
}
