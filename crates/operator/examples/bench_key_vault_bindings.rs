//! Benchmark: KeyVaultBindings with secret sync at scale. NAMESPACES tenant namespaces
//! (default 200), each with one FederatedIdentity and BINDINGS bindings (default 5) to one
//! platform vault, each binding scoped to two secrets of its own and syncing them into a
//! Secret; the operator drives the arm-emulator under ARM's published throttling limits and
//! Key Vault's (4,000 transactions per 10 s per vault). Prints:
//! - the time until every binding is Ready and Synced;
//! - ARM writes against the minimal count (group, vault, an identity and a federated credential
//!   per namespace, one role assignment per binding and secret), reads, 429s;
//! - Entra token requests per identity (target: one per identity per token lifetime);
//! - Key Vault GETs per refresh, for the first sync and for a forced refresh of every binding
//!   (target: the number of items), and Key Vault's 429s;
//! - the requests of a steady-state minute afterwards.
//!
//! `cargo run --release -p azop --example bench_key_vault_bindings [-- NAMESPACES BINDINGS]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use azop_api::conditions;
use azop_api::{KeyVault, KeyVaultBinding};
use azop_arm::{ArmClient, ArmConfig, CredentialConfig, KeyVaultClient, KeyVaultConfig};
use azop_controller::engine::EngineConfig;
use azop_controller::metrics::Metrics;
use azop_controller::runner::{self, RunOptions};
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

const VAULT: &str = "kv-bench";
const CAP: Duration = Duration::from_secs(900);

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let namespaces: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let per_ns: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let bindings = namespaces * per_ns;

    let kube = kube_emulator::KubeEmulator::start(kube_emulator::Config::default())
        .await
        .expect("kube-emulator");
    // Entra verifies ServiceAccount tokens against the kube-emulator's keys.
    let arm = arm_emulator::ArmEmulator::start(arm_emulator::Config {
        trusted_ca_pems: vec![kube.ca_pem().to_string()],
        ..arm_emulator::Config::default()
    })
    .await
    .expect("arm-emulator");
    let client = kube.client().await.expect("client");
    azop_e2e::apply_crds(&client, "bench").await;

    let arm_client = ArmClient::new(ArmConfig {
        endpoint: arm.url(),
        ca_bundle_pem: Some(arm.ca_pem().to_string()),
        credential: CredentialConfig::Static("bench".into()),
        ..ArmConfig::default()
    })
    .expect("ARM client");
    let key_vault = KeyVaultClient::new(KeyVaultConfig {
        ca_bundle_pem: Some(arm.ca_pem().to_string()),
        authority_host: Some(arm.url()),
        ..KeyVaultConfig::default()
    })
    .expect("Key Vault client");
    let (stop, operator) = start_operator(
        &client,
        &arm_client,
        &key_vault,
        kube.issuer_url(),
        Duration::from_secs(3600),
    );

    // The platform: a profile for the tenant namespaces, a group and a vault they may bind.
    let mut platform = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "platform"}}),
        json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AzureProfile", "metadata": {"name": "bench"},
            "spec": {"namespaceSelector": {"matchLabels": {"bench": "true"}},
                "subscriptionId": "00000000-0000-0000-0000-000000000000",
                "allowedLocations": ["*"], "allowedResourceGroups": ["*"], "allowedKinds": ["*"],
                "defaults": {"location": "westeurope", "resourceGroupName": "rg-bench"}}}),
        json!({"apiVersion": "azop.dev/v1alpha1", "kind": "ResourceGroup",
            "metadata": {"name": "rg-bench", "namespace": "platform"}, "spec": {"location": "westeurope"}}),
        json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVault",
            "metadata": {"name": VAULT, "namespace": "platform"},
            "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg-bench"},
                "bindingPolicy": {"namespaceSelector": {"matchLabels": {"bench": "true"}},
                    "allowedRoles": ["SecretsUser"]}}}),
    ];
    for i in 0..namespaces {
        platform.push(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": format!("team-{i:03}"), "labels": {"bench": "true"}}}));
    }
    create_all(&client, platform).await;
    eprintln!("platform applied; waiting for the vault");
    let vaults: Api<KeyVault> = Api::namespaced(client.clone(), "platform");
    wait(
        "the vault",
        || async {
            let v = vaults.get(VAULT).await.ok()?;
            let s = v.status.as_ref()?;
            conditions::is_ready(&s.azure.conditions, v.metadata.generation).then_some(())
        },
        Duration::from_secs(120),
    )
    .await;
    for j in 0..per_ns {
        for what in ["user", "password"] {
            arm.control()
                .set_secret(
                    VAULT,
                    &format!("app-{j}-{what}"),
                    &uuid::Uuid::new_v4().to_string(),
                )
                .expect("secret set");
        }
    }
    eprintln!("vault Ready; applying {namespaces} identities and {bindings} bindings");
    let before = arm.control().counts();
    arm.control().clear_log();

    // The tenants: an identity and the bindings in each namespace, all at once.
    let start = Instant::now();
    let mut tenants = Vec::new();
    for i in 0..namespaces {
        let ns = format!("team-{i:03}");
        tenants.push(
            json!({"apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity",
            "metadata": {"name": "app", "namespace": ns},
            "spec": {"azureName": format!("app-{i:03}"), "resourceGroupName": "rg-bench", "issuer": {"self": {}},
                "serviceAccount": {"name": "app", "create": true}}}),
        );
        for j in 0..per_ns {
            tenants.push(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVaultBinding",
                "metadata": {"name": format!("b-{j}"), "namespace": ns},
                "spec": {"vaultRef": {"name": VAULT, "namespace": "platform"},
                    "identityRef": {"name": "app"}, "role": "SecretsUser",
                    "secrets": [format!("app-{j}-user"), format!("app-{j}-password")],
                    "sync": {"secretName": format!("b-{j}"), "refreshInterval": "1h",
                        "items": [{"key": "user", "vaultSecret": format!("app-{j}-user")},
                                  {"key": "password", "vaultSecret": format!("app-{j}-password")}]}}}));
        }
    }
    create_all(&client, tenants).await;
    let applied = start.elapsed();
    let all: Api<KeyVaultBinding> = Api::all(client.clone());
    let synced = |b: &KeyVaultBinding| {
        b.status.as_ref().is_some_and(|s| {
            conditions::is_ready(&s.basic.conditions, b.metadata.generation)
                && conditions::find(&s.basic.conditions, conditions::SYNCED)
                    .is_some_and(|c| c.status == "True")
        })
    };
    wait_for_bindings(&all, bindings, &synced, start, &arm).await;
    let all_synced = start.elapsed();
    let counts = arm.control().counts();
    let log = arm.control().request_log();
    let tokens = arm.control().token_requests();
    let first_kv_gets = log
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/keyvault/"))
        .count();
    let kv_429 = log
        .iter()
        .filter(|r| r.path.starts_with("/keyvault/") && r.status == 429)
        .count();

    // A forced refresh of every binding.
    arm.control().clear_log();
    let refresh = Instant::now();
    let patches = all.list(&ListParams::default()).await.expect("list").items;
    futures::future::join_all(patches.iter().map(|b| {
        let api: Api<KeyVaultBinding> =
            Api::namespaced(client.clone(), &b.namespace().unwrap_or_default());
        let name = b.name_any();
        async move {
            api.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"annotations": {"azop.dev/sync-requested-at": "1"}}}),
                ),
            )
            .await
            .expect("annotated");
        }
    }))
    .await;
    let refreshed = |b: &KeyVaultBinding| {
        b.status
            .as_ref()
            .is_some_and(|s| s.last_handled_sync_request.as_deref() == Some("1"))
    };
    wait_for_bindings(&all, bindings, &refreshed, refresh, &arm).await;
    let refresh_took = refresh.elapsed();
    let refresh_log = arm.control().request_log();
    let refresh_kv_gets = refresh_log
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/keyvault/"))
        .count();
    let refresh_arm: usize = refresh_log
        .iter()
        .filter(|r| !r.path.starts_with("/keyvault/"))
        .count();
    let refresh_tokens: usize =
        arm.control().token_requests().values().sum::<usize>() - tokens.values().sum::<usize>();

    // A steady minute at the production sync period.
    arm.control().clear_log();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let steady = arm.control().request_log().len();
    let _ = stop.send(());
    let _ = operator.await;

    let writes: usize = counts
        .iter()
        .filter(|(k, _)| !k.starts_with("GET "))
        .map(|(_, v)| v)
        .sum::<usize>()
        + before
            .iter()
            .filter(|(k, _)| !k.starts_with("GET "))
            .map(|(_, v)| v)
            .sum::<usize>();
    let arm_reads: usize = log
        .iter()
        .filter(|r| r.method == "GET" && !r.path.starts_with("/keyvault/"))
        .count();
    let minimal = 2 + namespaces * 2 + bindings * 2;
    let throttled: usize = counts
        .iter()
        .filter(|(k, _)| k.ends_with(" 429"))
        .map(|(_, v)| v)
        .sum::<usize>()
        - kv_429;
    let per_identity: BTreeMap<usize, usize> = tokens.values().fold(BTreeMap::new(), |mut m, n| {
        *m.entry(*n).or_default() += 1;
        m
    });
    println!(
        "{bindings} KeyVaultBindings across {namespaces} namespaces ({namespaces} identities), each scoped to 2 secrets and syncing them"
    );
    println!("  applied in                    {applied:>9.2?}");
    println!("  all Ready and Synced after    {all_synced:>9.2?}");
    println!("  ARM requests by method and status (vault and group included):");
    let mut total = before.clone();
    for (k, v) in &counts {
        *total.entry(k.clone()).or_default() += v;
    }
    for (k, v) in &total {
        println!("    {k:<12} {v:>6}");
    }
    println!(
        "  ARM writes                    {writes:>9}  (minimal: {minimal} = group + vault + {namespaces} identities + {namespaces} federated credentials + {} role assignments)",
        bindings * 2
    );
    println!(
        "  ARM reads for the tenants     {arm_reads:>9}  ({:.2} per binding)",
        arm_reads as f64 / bindings as f64
    );
    println!("  ARM 429s                      {throttled:>9}");
    println!(
        "  Entra token requests          {:>9}  for {} identities (requests per identity: {per_identity:?})",
        tokens.values().sum::<usize>(),
        tokens.len()
    );
    println!(
        "  Key Vault GETs, first sync    {first_kv_gets:>9}  ({:.2} per item; {} items)",
        first_kv_gets as f64 / (bindings * 2) as f64,
        bindings * 2
    );
    println!("  Key Vault 429s                {kv_429:>9}");
    println!(
        "  forced refresh of every binding: {refresh_took:.2?}, {refresh_kv_gets} Key Vault GETs ({:.2} per item), {refresh_arm} ARM requests, {refresh_tokens} token requests",
        refresh_kv_gets as f64 / (bindings * 2) as f64
    );
    println!("  steady state, one minute at a 1h sync period: {steady} requests");
}

async fn create_all(client: &kube::Client, objects: Vec<Value>) {
    eprintln!("discovery");
    let discovery = kube::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    eprintln!("discovered");
    // Namespaces and profiles first, in order; the rest concurrently.
    let mut rest = Vec::new();
    for o in objects {
        let gvk = kube::api::GroupVersionKind::try_from(&kube::api::TypeMeta {
            api_version: o["apiVersion"].as_str().unwrap().to_string(),
            kind: o["kind"].as_str().unwrap().to_string(),
        })
        .expect("gvk");
        let (ar, caps) = discovery.resolve_gvk(&gvk).expect("known kind");
        let api: Api<DynamicObject> = match o.pointer("/metadata/namespace").and_then(Value::as_str)
        {
            Some(ns) if caps.scope == kube::discovery::Scope::Namespaced => {
                Api::namespaced_with(client.clone(), ns, &ar)
            }
            _ => Api::all_with(client.clone(), &ar),
        };
        let obj: DynamicObject = serde_json::from_value(o).expect("object");
        if caps.scope == kube::discovery::Scope::Cluster {
            api.create(&PostParams::default(), &obj)
                .await
                .expect("created");
        } else {
            rest.push((api, obj));
        }
    }
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    futures::future::join_all(rest.into_iter().map(|(api, obj)| {
        let limit = limit.clone();
        async move {
            let _p = limit.acquire().await;
            api.create(&PostParams::default(), &obj)
                .await
                .expect("created");
        }
    }))
    .await;
}

async fn wait<F, Fut>(what: &str, check: F, timeout: Duration)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<()>>,
{
    let start = Instant::now();
    while check().await.is_none() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_for_bindings(
    all: &Api<KeyVaultBinding>,
    n: usize,
    done: &dyn Fn(&KeyVaultBinding) -> bool,
    start: Instant,
    arm: &arm_emulator::ArmEmulator,
) {
    loop {
        let list = all.list(&ListParams::default()).await.expect("list");
        let ok = list.items.iter().filter(|b| done(b)).count();
        if ok == n {
            return;
        }
        let late = start.elapsed() > CAP;
        if late || std::env::var_os("BENCH_VERBOSE").is_some() {
            let mut reasons = BTreeMap::<String, usize>::new();
            for b in list.items.iter().filter(|b| !done(b)) {
                let c = b.status.as_ref().and_then(|s| {
                    conditions::find(&s.basic.conditions, conditions::READY).cloned()
                });
                let key = c.map_or("no condition".to_string(), |c| {
                    format!("{} {}: {}", c.status, c.reason, c.message)
                });
                *reasons.entry(key).or_default() += 1;
            }
            eprintln!("{ok}/{n} after {:?}: {reasons:#?}", start.elapsed());
            eprintln!("ARM: {:?}", arm.control().counts());
            if late {
                std::process::exit(1);
            }
        }
        tokio::time::sleep(Duration::from_millis(
            if std::env::var_os("BENCH_VERBOSE").is_some() {
                5000
            } else {
                250
            },
        ))
        .await;
    }
}

fn start_operator(
    client: &kube::Client,
    arm: &ArmClient,
    key_vault: &KeyVaultClient,
    issuer: String,
    sync_period: Duration,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), runner::RunError>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner::run(
        client.clone(),
        Arc::new(arm.clone()),
        EngineConfig {
            cluster_id: "bench".into(),
            platform_namespaces: vec!["platform".into()],
            sync_period,
            self_issuer_url: Some(issuer),
            ..EngineConfig::default()
        },
        RunOptions {
            key_vault: Some(key_vault.clone()),
            ..RunOptions::default()
        },
        Arc::new(Metrics::default()),
        async move {
            let _ = stopped.await;
        },
    ));
    (stop, task)
}
