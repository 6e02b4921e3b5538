//! KeyVaultBinding secret sync end to end: `azop dev` (both emulators and the operator) as a
//! child process, driven with the real kubectl, the vault's secrets set as a platform team's
//! `az keyvault secret set` would, and the application played with Azure's own SDK
//! (azure_identity's `WorkloadIdentityCredential` and azure_security_keyvault_secrets'
//! `SecretClient`).
//!
//! What it shows, in one run:
//! - a binding copies its items into a Secret it owns, read as the binding's identity through
//!   the federated credential azop adds for its own cluster's issuer (the identity trusts
//!   another cluster's);
//! - the budget: one Key Vault GET per item per refresh, none between refreshes, no Secret
//!   write when nothing changed; one Entra token request for the identity;
//! - a rotated secret reaches the Secret after the refresh annotation;
//! - a missing vault secret (`SecretNotFound`) and a role that cannot read secrets
//!   (`AccessDenied`) keep the last Secret; someone else's Secret is never touched (`Conflict`);
//! - deleting bindings removes the Secret and, with the last syncing binding of the identity,
//!   the federated credential;
//! - no secret value and no token appears in the operator's log (at debug level), Events,
//!   statuses or metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use azop_e2e::{Dev, eventually, field, http};
use serde_json::{Value, json};

const AZOP: &str = env!("CARGO_BIN_EXE_azop");
const VAULT: &str = "azop-sync-kv";
const WAIT: Duration = Duration::from_secs(60);

const SETUP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: platform, labels: {azop.dev/profile: platform}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a, labels: {azop.dev/profile: team-a, vault-access/kv: "true"}}
---
apiVersion: azop.dev/v1alpha1
kind: AzureProfile
metadata: {name: platform}
spec:
  namespaceSelector: {matchLabels: {azop.dev/profile: platform}}
  subscriptionId: 00000000-0000-0000-0000-000000000000
  allowedLocations: ["*"]
  allowedResourceGroups: ["*"]
  allowedKinds: ["*"]
  allowedRoles: ["*"]
---
apiVersion: azop.dev/v1alpha1
kind: AzureProfile
metadata: {name: team-a}
spec:
  namespaceSelector: {matchLabels: {azop.dev/profile: team-a}}
  subscriptionId: 00000000-0000-0000-0000-000000000000
  allowedLocations: [westeurope]
  allowedResourceGroups: ["rg-team-a*"]
  allowedKinds: [ResourceGroup, FederatedIdentity, KeyVaultBinding]
  allowedIssuers: ["https://westeurope.oic.prod-aks.azure.com/*"]
  defaults: {location: westeurope, resourceGroupName: rg-team-a}
---
apiVersion: azop.dev/v1alpha1
kind: ResourceGroup
metadata: {name: rg-platform, namespace: platform}
spec: {location: westeurope}
---
apiVersion: azop.dev/v1alpha1
kind: KeyVault
metadata: {name: kv, namespace: platform}
spec:
  azureName: azop-sync-kv
  location: westeurope
  resourceGroupRef: {name: rg-platform}
  bindingPolicy:
    namespaceSelector: {matchLabels: {vault-access/kv: "true"}}
    allowedRoles: [SecretsUser, CryptoUser]
---
apiVersion: azop.dev/v1alpha1
kind: ResourceGroup
metadata: {name: rg-team-a, namespace: team-a}
spec: {location: westeurope}
---
# The application's identity trusts a workload cluster's issuer, not the management cluster's.
apiVersion: azop.dev/v1alpha1
kind: FederatedIdentity
metadata: {name: orders, namespace: team-a}
spec:
  resourceGroupRef: {name: rg-team-a}
  issuer: {url: "https://westeurope.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/11111111-1111-1111-1111-111111111111/"}
  serviceAccount: {name: orders, create: true}
---
# A Secret the team made by hand.
apiVersion: v1
kind: Secret
metadata: {name: made-by-hand, namespace: team-a}
stringData: {note: theirs}
"#;

fn binding(name: &str, role: &str, secret_name: &str, items: &[(&str, &str)]) -> String {
    let secrets: Vec<&str> = items.iter().map(|(_, s)| *s).collect();
    let items: Vec<Value> = items
        .iter()
        .map(|(k, s)| json!({"key": k, "vaultSecret": s}))
        .collect();
    json!({
        "apiVersion": "azop.dev/v1alpha1",
        "kind": "KeyVaultBinding",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {
            "vaultRef": {"name": "kv", "namespace": "platform"},
            "identityRef": {"name": "orders"},
            "role": role,
            "secrets": secrets,
            "sync": {"secretName": secret_name, "refreshInterval": "1h", "items": items},
        }
    })
    .to_string()
}

fn set_secret(dev: &Dev, name: &str, value: &str) -> String {
    let (status, body) = http(
        "POST",
        &format!("{}/_emulator/secrets", dev.arm_http),
        &[],
        Some(&json!({"vault": VAULT, "name": name, "value": value}).to_string()),
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Key Vault GETs of one secret so far.
fn vault_gets(dev: &Dev, secret: &str) -> usize {
    let log = dev.emulator("GET", "/_emulator/requests");
    let path = format!("/keyvault/{VAULT}/secrets/{secret}");
    log.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"].as_str() == Some(path.as_str()))
        .count()
}

fn get_json(dev: &Dev, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&dev.kubectl.ok(&all)).unwrap()
}

/// A Secret's data, decoded.
fn secret_data(dev: &Dev, name: &str) -> Option<BTreeMap<String, String>> {
    let out = dev.kubectl.run(&[
        "get",
        "secret",
        "-n",
        "team-a",
        name,
        "-o",
        r#"go-template={{range $k, $v := .data}}{{$k}}={{$v | base64decode}}{{"\n"}}{{end}}"#,
    ]);
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.into(), v.into())))
            .collect(),
    )
}

fn condition(b: &Value, type_: &str) -> Option<(String, String, String)> {
    b.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
            )
        })
}

fn kvb(dev: &Dev, name: &str) -> Value {
    get_json(dev, &["get", "kvb", "-n", "team-a", name])
}

fn apply(dev: &Dev, yaml: &str) {
    let out = dev
        .kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(yaml));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn resource_version(dev: &Dev, name: &str) -> String {
    dev.kubectl.ok(&[
        "get",
        "secret",
        "-n",
        "team-a",
        name,
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ])
}

fn sync_credentials(dev: &Dev) -> Vec<String> {
    dev.resources()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .filter(|id| id.contains("/federatedIdentityCredentials/azop-sync-"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_binding_syncs_its_secrets_as_its_own_identity() {
    let setup = Dev::yaml_dir("setup", SETUP);
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let dev = Dev::start_with_env(
        AZOP,
        &[
            "--apply",
            setup.path().to_str().unwrap(),
            "--metrics-listen",
            &metrics,
        ],
        &[(
            "RUST_LOG",
            "debug,hyper=info,h2=info,rustls=info,tower=info",
        )],
    );
    dev.kubectl.ok(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "-n",
        "platform",
        "keyvault/kv",
    ]);
    dev.kubectl.ok(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "-n",
        "team-a",
        "federatedidentity/orders",
    ]);
    let user = format!("alice-{}", uuid::Uuid::new_v4().simple());
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let mut values = vec![user.clone(), password.clone()];
    set_secret(&dev, "db-user", &user);
    let first_version = set_secret(&dev, "db-password", &password);

    // (1) The binding syncs.
    apply(
        &dev,
        &binding(
            "orders-db",
            "SecretsUser",
            "orders-db",
            &[("user", "db-user"), ("password", "db-password")],
        ),
    );
    dev.kubectl.ok(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "-n",
        "team-a",
        "kvb/orders-db",
    ]);
    let b = kvb(&dev, "orders-db");
    assert_eq!(condition(&b, "Synced").unwrap().0, "True", "{b}");
    assert_eq!(
        b["status"]["syncedVersions"]["db-password"], first_version,
        "{b}"
    );
    assert_eq!(
        secret_data(&dev, "orders-db").unwrap(),
        BTreeMap::from([
            ("user".to_string(), user.clone()),
            ("password".to_string(), password.clone())
        ])
    );
    let s = get_json(&dev, &["get", "secret", "-n", "team-a", "orders-db"]);
    assert_eq!(
        s["metadata"]["ownerReferences"][0]["kind"],
        "KeyVaultBinding"
    );
    assert_eq!(
        s["metadata"]["ownerReferences"][0]["uid"],
        b["metadata"]["uid"]
    );
    assert_eq!(
        s["metadata"]["labels"]["azop.dev/key-vault-binding"],
        "orders-db"
    );
    // Read through the credential azop added for the management cluster's issuer.
    let credentials = sync_credentials(&dev);
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    assert_eq!(
        b["status"]["syncCredentialId"].as_str(),
        Some(credentials[0].as_str())
    );
    assert_eq!(vault_gets(&dev, "db-user"), 1);
    assert_eq!(vault_gets(&dev, "db-password"), 1);

    // (2) Between refreshes: reconciles read nothing from the vault and write no Secret.
    let rv = resource_version(&dev, "orders-db");
    dev.kubectl
        .ok(&["annotate", "kvb", "-n", "team-a", "orders-db", "touched=1"]);
    dev.kubectl
        .ok(&["label", "kvb", "-n", "team-a", "orders-db", "touched=1"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        vault_gets(&dev, "db-password"),
        1,
        "no read between refreshes"
    );
    assert_eq!(resource_version(&dev, "orders-db"), rv, "no Secret write");

    // (3) A forced refresh with nothing changed: one GET per item, no Secret write.
    dev.kubectl.ok(&[
        "annotate",
        "kvb",
        "-n",
        "team-a",
        "orders-db",
        "azop.dev/sync-requested-at=1",
    ]);
    eventually("the forced refresh", WAIT, || {
        (kvb(&dev, "orders-db")["status"]["lastHandledSyncRequest"] == "1").then_some(())
    });
    assert_eq!(vault_gets(&dev, "db-password"), 2);
    assert_eq!(vault_gets(&dev, "db-user"), 2);
    assert_eq!(
        resource_version(&dev, "orders-db"),
        rv,
        "same versions: no write"
    );

    // (4) Rotation: the new version reaches the Secret at the next refresh.
    let rotated = format!("pw-{}", uuid::Uuid::new_v4().simple());
    values.push(rotated.clone());
    let second_version = set_secret(&dev, "db-password", &rotated);
    dev.kubectl.ok(&[
        "annotate",
        "--overwrite",
        "kvb",
        "-n",
        "team-a",
        "orders-db",
        "azop.dev/sync-requested-at=2",
    ]);
    eventually("the rotated password in the Secret", WAIT, || {
        (secret_data(&dev, "orders-db")?.get("password") == Some(&rotated)).then_some(())
    });
    eventually("the new version in status", WAIT, || {
        (kvb(&dev, "orders-db")["status"]["syncedVersions"]["db-password"] == second_version)
            .then_some(())
    });

    // (5) The application, with Azure's SDK and its ServiceAccount token, reads the same value.
    let vault_uri =
        get_json(&dev, &["get", "keyvault", "-n", "platform", "kv"])["status"]["vaultUri"]
            .as_str()
            .unwrap()
            .to_string();
    let fi = get_json(
        &dev,
        &["get", "federatedidentity", "-n", "team-a", "orders"],
    );
    let read = workload_reads(
        &dev,
        &vault_uri,
        fi["status"]["clientId"].as_str().unwrap(),
        fi["status"]["tenantId"].as_str().unwrap(),
        "db-password",
    );
    assert_eq!(read, rotated, "the SDK reads what azop synced");

    // (6) A vault secret that does not exist: SecretNotFound, the last Secret kept.
    apply(
        &dev,
        &binding(
            "orders-db",
            "SecretsUser",
            "orders-db",
            &[
                ("user", "db-user"),
                ("password", "db-password"),
                ("extra", "db-missing"),
            ],
        ),
    );
    let (status, _, message) = eventually("SecretNotFound", WAIT, || {
        condition(&kvb(&dev, "orders-db"), "Synced").filter(|c| c.1 == "SecretNotFound")
    });
    assert_eq!(status, "False");
    assert!(message.contains("db-missing"), "{message}");
    let b = kvb(&dev, "orders-db");
    assert_eq!(condition(&b, "Ready").unwrap().1, "SecretNotFound", "{b}");
    assert_eq!(
        secret_data(&dev, "orders-db").unwrap().get("password"),
        Some(&rotated),
        "the last good Secret stays"
    );
    // Setting the secret ends it (the binding retries with backoff).
    let extra = format!("extra-{}", uuid::Uuid::new_v4().simple());
    values.push(extra.clone());
    set_secret(&dev, "db-missing", &extra);
    eventually("the extra key", WAIT, || {
        (secret_data(&dev, "orders-db")?.get("extra") == Some(&extra)).then_some(())
    });

    // (7) A role that cannot read secrets (keys only), on a secret no other binding of the
    // identity grants: AccessDenied, nothing written.
    let app_key = format!("key-{}", uuid::Uuid::new_v4().simple());
    values.push(app_key.clone());
    set_secret(&dev, "app-key", &app_key);
    apply(
        &dev,
        &binding(
            "crypto-only",
            "CryptoUser",
            "crypto-only",
            &[("key", "app-key")],
        ),
    );
    let (_, _, message) = eventually("AccessDenied", WAIT, || {
        condition(&kvb(&dev, "crypto-only"), "Synced").filter(|c| c.1 == "AccessDenied")
    });
    assert!(message.contains("app-key"), "{message}");
    assert!(secret_data(&dev, "crypto-only").is_none());

    // (8) Someone else's Secret is never overwritten.
    apply(
        &dev,
        &binding(
            "hijack",
            "SecretsUser",
            "made-by-hand",
            &[("note", "db-user")],
        ),
    );
    let (_, _, message) = eventually("Conflict", WAIT, || {
        condition(&kvb(&dev, "hijack"), "Stalled").filter(|c| c.1 == "Conflict")
    });
    assert!(message.contains("made-by-hand"), "{message}");
    assert_eq!(
        secret_data(&dev, "made-by-hand").unwrap(),
        BTreeMap::from([("note".to_string(), "theirs".to_string())])
    );

    // (9) One Entra token request for the identity, however many reads.
    let tokens = dev.emulator("GET", "/_emulator/tokenRequests");
    let client_id = fi["status"]["clientId"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    let by_identity = tokens[&client_id].as_u64().unwrap();
    // azop's own, and the SDK's in (5).
    assert_eq!(by_identity, 2, "{tokens}");

    // (10) Nothing leaked: values and tokens in logs, Events, statuses, metrics.
    let (status, metrics_text) = http("GET", &format!("http://{metrics}/metrics"), &[], None);
    assert_eq!(status, 200);
    assert!(
        metrics_text
            .contains("azop_key_vault_requests_total{vault=\"azop-sync-kv\",status=\"200\"}"),
        "{metrics_text}"
    );
    let events = dev.kubectl.ok(&["get", "events", "-A", "-o", "json"]);
    let statuses = dev.kubectl.ok(&[
        "get",
        "kvb,federatedidentity,keyvault,resourcegroup",
        "-A",
        "-o",
        "json",
    ]);
    let log = dev.stderr();
    assert!(
        log.contains("secret sync refreshed"),
        "the log was captured"
    );
    for (what, text) in [
        ("log", &log),
        ("events", &events),
        ("statuses", &statuses),
        ("metrics", &metrics_text),
    ] {
        for v in &values {
            assert!(
                !text.contains(v.as_str()),
                "a secret value is in the {what}"
            );
        }
        // JWTs (ServiceAccount tokens, access tokens) start with a base64url `{"`.
        assert!(!text.contains("eyJ"), "a token is in the {what}");
    }

    // (11) Deleting: the Secret goes with its binding; the credential with the last one.
    dev.kubectl.ok(&[
        "delete",
        "kvb",
        "-n",
        "team-a",
        "orders-db",
        "--timeout=60s",
    ]);
    eventually("the Secret gone", WAIT, || {
        secret_data(&dev, "orders-db").is_none().then_some(())
    });
    assert_eq!(
        sync_credentials(&dev).len(),
        1,
        "still needed by crypto-only"
    );
    dev.kubectl.ok(&[
        "delete",
        "kvb",
        "-n",
        "team-a",
        "crypto-only",
        "hijack",
        "--timeout=60s",
    ]);
    eventually("the sync credential gone", WAIT, || {
        sync_credentials(&dev).is_empty().then_some(())
    });
    assert!(
        secret_data(&dev, "made-by-hand").is_some(),
        "someone else's Secret stays"
    );
}

/// What the application does in its pod: a token for its ServiceAccount, Azure's
/// `WorkloadIdentityCredential` and `SecretClient`.
fn workload_reads(
    dev: &Dev,
    vault_uri: &str,
    client_id: &str,
    tenant_id: &str,
    secret: &str,
) -> String {
    use azure_core::http::{ClientOptions, Transport};
    use azure_identity::{
        ClientAssertionCredentialOptions, WorkloadIdentityCredential,
        WorkloadIdentityCredentialOptions,
    };
    use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // The projected token the kubelet would mount (audience api://AzureADTokenExchange).
        let kubeconfig = kube::config::Kubeconfig::read_from(&dev.kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let sas: kube::Api<ServiceAccount> = kube::Api::namespaced(client, "team-a");
        let token = sas
            .create_token_request(
                "orders",
                &Default::default(),
                &TokenRequest {
                    spec: TokenRequestSpec {
                        audiences: vec!["api://AzureADTokenExchange".into()],
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .status
            .unwrap()
            .token;
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("azure-identity-token");
        std::fs::write(&token_file, token).unwrap();

        // Trust the emulators' CA; Entra is the arm-emulator.
        let ca = std::fs::read_to_string(field(&dev.printed, "arm-emulator-ca: ")).unwrap();
        let mut http = reqwest::ClientBuilder::new();
        for cert in reqwest::Certificate::from_pem_bundle(ca.as_bytes()).unwrap() {
            http = http.add_root_certificate(cert);
        }
        let transport = Transport::new(Arc::new(http.build().unwrap()));
        let mut cloud = azure_core::cloud::CustomConfiguration::default();
        cloud.authority_host = field(&dev.printed, "arm-emulator: ").to_string();
        let credential = WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
            credential_options: ClientAssertionCredentialOptions {
                client_options: ClientOptions {
                    transport: Some(transport.clone()),
                    cloud: Some(Arc::new(cloud.into())),
                    ..Default::default()
                },
            },
            client_id: Some(client_id.to_string()),
            tenant_id: Some(tenant_id.to_string()),
            token_file_path: Some(token_file),
        }))
        .unwrap();
        let secrets = SecretClient::new(
            vault_uri,
            credential,
            Some(SecretClientOptions {
                client_options: ClientOptions {
                    transport: Some(transport),
                    ..Default::default()
                },
                // The emulated vault lives at 127.0.0.1, not under vault.azure.net.
                verify_challenge_resource: Some(false),
                ..Default::default()
            }),
        )
        .unwrap();
        secrets
            .get_secret(secret, None)
            .await
            .unwrap()
            .into_model()
            .unwrap()
            .value
            .unwrap()
    })
}
