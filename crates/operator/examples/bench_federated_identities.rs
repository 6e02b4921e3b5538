//! Benchmark: N FederatedIdentities (default 200) applied at once to the kube-emulator, with
//! the operator driving the arm-emulator under ARM's published throttling limits. Prints the
//! time until all are Ready, ARM requests by method and status, the 429s seen, and the ARM
//! writes of a steady-state period afterwards.
//!
//! `cargo run --release -p azop --example bench_federated_identities [-- N]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use azop_api::FederatedIdentity;
use azop_api::conditions;
use azop_arm::{ArmClient, ArmConfig, CredentialConfig};
use azop_controller::engine::EngineConfig;
use azop_controller::metrics::Metrics;
use azop_controller::runner::{self, RunOptions};
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::json;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let kube = kube_emulator::KubeEmulator::start(kube_emulator::Config::default())
        .await
        .expect("kube-emulator");
    let arm = arm_emulator::ArmEmulator::start(arm_emulator::Config::default())
        .await
        .expect("arm-emulator");
    let client = kube.client().await.expect("client");

    azop_e2e::apply_crds(&client, "bench").await;
    let rgs: Api<azop_api::ResourceGroup> = Api::namespaced(client.clone(), "default");
    rgs.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "apiVersion": "azop.dev/v1alpha1", "kind": "ResourceGroup",
            "metadata": {"name": "rg-bench"}, "spec": {"location": "westeurope"}
        }))
        .expect("rg"),
    )
    .await
    .expect("rg created");

    let arm_client = ArmClient::new(ArmConfig {
        endpoint: arm.url(),
        ca_bundle_pem: Some(arm.ca_pem().to_string()),
        credential: CredentialConfig::Static("bench".into()),
        ..ArmConfig::default()
    })
    .expect("ARM client");
    // A production sync period while the objects are created; a short one afterwards, to show
    // that re-reading every object writes nothing.
    let (stop, operator) = start_operator(&client, &arm_client, Duration::from_secs(3600));
    let fis: Api<FederatedIdentity> = Api::namespaced(client.clone(), "default");
    let start = Instant::now();
    let creates = (0..n).map(|i| {
        let fis = fis.clone();
        async move {
            let fi: FederatedIdentity = serde_json::from_value(json!({
                "apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity",
                "metadata": {"name": format!("app-{i:04}")},
                "spec": {
                    "location": "westeurope",
                    "resourceGroupRef": {"name": "rg-bench"},
                    "issuer": {"url": "https://issuer.bench.test/"},
                    "serviceAccount": {"name": format!("app-{i:04}"), "create": true}
                }
            }))
            .expect("fi");
            fis.create(&PostParams::default(), &fi)
                .await
                .expect("created");
        }
    });
    futures::future::join_all(creates).await;
    let applied = start.elapsed();

    loop {
        let list = fis.list(&ListParams::default()).await.expect("list");
        let ready = list
            .items
            .iter()
            .filter(|f| {
                f.status.as_ref().is_some_and(|s| {
                    conditions::is_ready(&s.azure.conditions, f.metadata.generation)
                })
            })
            .count();
        if ready == n {
            break;
        }
        if start.elapsed() > Duration::from_secs(300) {
            let mut reasons = std::collections::BTreeMap::<String, usize>::new();
            for f in &list.items {
                let c = f.status.as_ref().and_then(|s| {
                    conditions::find(&s.azure.conditions, conditions::READY).cloned()
                });
                let key = c.map_or("no condition".to_string(), |c| {
                    format!("{} {}: {}", c.status, c.reason, c.message)
                });
                *reasons.entry(key).or_default() += 1;
            }
            eprintln!("only {ready}/{n} Ready after 5 minutes: {reasons:#?}");
            eprintln!("ARM: {:?}", arm.control().counts());
            std::process::exit(1);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all_ready = start.elapsed();
    let counts = arm.control().counts();

    let _ = stop.send(());
    let _ = operator.await;
    let sync_period = Duration::from_secs(10);
    let (stop, operator) = start_operator(&client, &arm_client, sync_period);
    tokio::time::sleep(Duration::from_secs(2)).await;
    arm.control().clear_log();
    tokio::time::sleep(sync_period * 3).await;
    let steady = arm.control().counts();
    let steady_writes: usize = steady
        .iter()
        .filter(|(k, _)| !k.starts_with("GET "))
        .map(|(_, v)| v)
        .sum();
    let steady_reads: usize = steady
        .iter()
        .filter(|(k, _)| k.starts_with("GET "))
        .map(|(_, v)| v)
        .sum();
    let _ = stop.send(());
    let _ = operator.await;

    let throttled: usize = counts
        .iter()
        .filter(|(k, _)| k.ends_with(" 429"))
        .map(|(_, v)| v)
        .sum();
    println!("{n} FederatedIdentities (identity + federated credential + ServiceAccount each)");
    println!("  applied in            {:>8.2?}", applied);
    println!("  all Ready after       {:>8.2?}", all_ready);
    println!("  ARM requests by method and status (arm-emulator's log):");
    for (k, v) in &counts {
        println!("    {k:<12} {v:>6}");
    }
    println!("  429s from ARM         {throttled:>8}");
    println!(
        "  client-side throttle waits {:>3}",
        arm_client.throttled_waits()
    );
    println!(
        "  steady state (operator restarted, then {:?} at a sync period of {:?}): {steady_writes} ARM writes, {steady_reads} reads",
        sync_period * 3,
        sync_period
    );
}

fn start_operator(
    client: &kube::Client,
    arm: &ArmClient,
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
            platform_namespaces: vec!["default".into()],
            sync_period,
            ..EngineConfig::default()
        },
        RunOptions::default(),
        Arc::new(Metrics::default()),
        async move {
            let _ = stopped.await;
        },
    ));
    (stop, task)
}
