//! The Key Vault data plane throttles per vault as Azure Key Vault does: at most
//! `KeyVaultLimits::transactions` in any window (Azure: 4,000 per 10 s per vault), then 429
//! `Throttled` with `Retry-After`, changing nothing and counting nothing; other vaults are not
//! affected. Key Vault requests are in the request log.

use std::time::{Duration, Instant};

use arm_emulator::{ArmEmulator, Config, KeyVaultLimits};
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-000000000001";
const RG: &str = "kv-throttle";
const SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

struct Env {
    arm: ArmEmulator,
    http: reqwest::Client,
    token: String,
}

struct Reply {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

impl Env {
    /// An emulator with `limits`, vaults `kv-a` and `kv-b`, and a vault token for a principal
    /// that is Key Vault Secrets Officer on both.
    async fn start(limits: KeyVaultLimits) -> Env {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let config = Config {
            lro_duration: Duration::ZERO,
            principal_propagation_delay: Duration::ZERO,
            keyvault_throttling: limits,
            ..Config::default()
        };
        let tenant = config.tenant_id.clone();
        let arm = ArmEmulator::start(config).await.expect("arm-emulator");
        let http = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(arm.ca_pem().as_bytes()).expect("CA"),
            )
            .build()
            .expect("client");
        let group = format!("/subscriptions/{SUB}/resourceGroups/{RG}");
        let arm_put = |path: String, body: Value| {
            let r = http
                .put(format!("{}{path}?api-version=2024-11-30", arm.url()))
                .bearer_auth("any-token")
                .json(&body);
            async move { r.send().await.expect("ARM PUT").status().as_u16() }
        };
        assert_eq!(
            arm_put(group.clone(), json!({"location": "westeurope"})).await,
            201
        );
        for vault in ["kv-a", "kv-b"] {
            let s = arm_put(
                format!("{group}/providers/Microsoft.KeyVault/vaults/{vault}"),
                json!({"location": "westeurope", "properties": {"tenantId": tenant,
                    "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}),
            )
            .await;
            assert!(s == 200 || s == 201, "{vault}: {s}");
        }
        let control = arm.control();
        let officer = control.add_service_principal("officer-app", "o");
        control.grant(&officer.object_id, SECRETS_OFFICER, &group);
        let r = http
            .post(format!("{}/{tenant}/oauth2/v2.0/token", arm.url()))
            .form(&[
                ("client_id", "officer-app"),
                ("client_secret", "o"),
                ("grant_type", "client_credentials"),
                ("scope", "https://vault.azure.net/.default"),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status().as_u16(), 200);
        let b: Value = r.json().await.expect("token");
        let token = b["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        Env { arm, http, token }
    }

    async fn kv(&self, method: &str, vault: &str, path: &str, body: Option<Value>) -> Reply {
        let mut r = self
            .http
            .request(
                method.parse().expect("method"),
                format!("{}/keyvault/{vault}/{path}?api-version=7.6", self.arm.url()),
            )
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("Key Vault request");
        let status = r.status().as_u16();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("ascii").parse().expect("whole seconds"));
        let bytes = r.bytes().await.expect("body");
        Reply {
            status,
            retry_after,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn set(&self, vault: &str, name: &str, value: &str) -> Reply {
        self.kv(
            "PUT",
            vault,
            &format!("secrets/{name}"),
            Some(json!({"value": value})),
        )
        .await
    }

    /// Logged Key Vault requests to `vault` answered with `status`.
    fn logged(&self, vault: &str, status: u16) -> Vec<arm_emulator::LoggedRequest> {
        let prefix = format!("/keyvault/{vault}/");
        self.arm
            .control()
            .request_log()
            .into_iter()
            .filter(|r| r.path.starts_with(&prefix) && r.status == status)
            .collect()
    }
}

#[test]
fn the_default_limit_is_azures_4000_per_10_seconds() {
    let d = KeyVaultLimits::default();
    assert_eq!(
        (d.enabled, d.transactions, d.window),
        (true, 4000, Duration::from_secs(10))
    );
    assert_eq!(Config::default().keyvault_throttling, d);
}

#[tokio::test]
async fn the_request_past_the_limit_is_429_throttled_changes_nothing_and_spares_other_vaults() {
    let window = Duration::from_secs(4);
    let env = Env::start(KeyVaultLimits {
        enabled: true,
        transactions: 5,
        window,
    })
    .await;
    let started = Instant::now();

    // Five transactions of every kind: set, get, list, versions, get.
    let r = env.set("kv-a", "db-password", "v1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.retry_after, None);
    let first_version = r.body["id"].clone();
    for path in [
        "secrets/db-password",
        "secrets",
        "secrets/db-password/versions",
        "secrets/db-password",
    ] {
        let r = env.kv("GET", "kv-a", path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }

    // The sixth within the window: a PUT that must change nothing, then a DELETE.
    let r = env.set("kv-a", "db-password", "v2").await;
    assert!(
        started.elapsed() < window,
        "the test is too slow for its window"
    );
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "Throttled", "{}", r.body);
    assert_eq!(
        r.body["error"]["message"],
        "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"
    );
    let wait = r.retry_after.expect("Retry-After");
    assert!(
        (1..=window.as_secs()).contains(&wait),
        "Retry-After: {wait}"
    );
    let r = env.kv("DELETE", "kv-a", "secrets/db-password", None).await;
    assert_eq!(r.status, 429, "{}", r.body);

    // Another vault has its own window.
    let r = env.set("kv-b", "db-password", "other").await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The log has every Key Vault request with its real method, path and status.
    let throttled = env.logged("kv-a", 429);
    assert_eq!(throttled.len(), 2, "{throttled:?}");
    assert_eq!(
        (throttled[0].method.as_str(), throttled[0].path.as_str()),
        ("PUT", "/keyvault/kv-a/secrets/db-password")
    );
    assert_eq!(throttled[0].query, "api-version=7.6");
    assert_eq!(throttled[0].error_code.as_deref(), Some("Throttled"));
    assert_eq!(throttled[1].method, "DELETE");
    assert_eq!(env.logged("kv-a", 200).len(), 5);
    assert_eq!(env.logged("kv-b", 200).len(), 1);
    assert_eq!(env.arm.control().counts().get("PUT 429"), Some(&1));

    // After Retry-After a slot is free again; the throttled PUT and DELETE changed nothing:
    // the secret is there, its latest version still the first one.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let r = env.kv("GET", "kv-a", "secrets/db-password", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["value"], &r.body["id"]),
        (&json!("v1"), &first_version)
    );

    // A whole window later the vault serves its full limit again.
    tokio::time::sleep(window).await;
    for _ in 0..5 {
        let r = env.kv("GET", "kv-a", "secrets", None).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[tokio::test]
async fn the_limit_changes_at_run_time_over_http_and_in_process() {
    let env = Env::start(KeyVaultLimits::default()).await;
    // Azure's limit: a burst well under 4,000 passes.
    for _ in 0..20 {
        assert_eq!(env.kv("GET", "kv-a", "secrets", None).await.status, 200);
    }

    // Over /_emulator/config: 2 per minute; every window starts empty.
    let r = env
        .http
        .post(format!("{}/_emulator/config", env.arm.url()))
        .json(&json!({"keyvaultThrottling": {"transactions": 2, "windowMillis": 60_000}}))
        .send()
        .await
        .expect("config");
    assert_eq!(r.status().as_u16(), 200);
    // A request without a token (the challenge) is not a transaction.
    let r = env
        .http
        .get(format!(
            "{}/keyvault/kv-a/secrets?api-version=7.6",
            env.arm.url()
        ))
        .send()
        .await
        .expect("challenge");
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(env.kv("GET", "kv-a", "secrets", None).await.status, 200);
    assert_eq!(env.kv("GET", "kv-a", "secrets", None).await.status, 200);
    let r = env.kv("GET", "kv-a", "secrets", None).await;
    assert_eq!(r.status, 429, "{}", r.body);
    let wait = r.retry_after.expect("Retry-After");
    assert!((58..=60).contains(&wait), "Retry-After: {wait}");

    // An invalid setting is refused.
    let r = env
        .http
        .post(format!("{}/_emulator/config", env.arm.url()))
        .json(&json!({"keyvaultThrottling": {"transactions": "many"}}))
        .send()
        .await
        .expect("config");
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(env.kv("GET", "kv-a", "secrets", None).await.status, 429);

    // In process: off.
    env.arm.control().set_keyvault_throttling(KeyVaultLimits {
        enabled: false,
        ..KeyVaultLimits::default()
    });
    for _ in 0..5 {
        assert_eq!(env.kv("GET", "kv-a", "secrets", None).await.status, 200);
    }
}
