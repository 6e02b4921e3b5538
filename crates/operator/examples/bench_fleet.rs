//! Benchmark: a fleet of tenants, with the operator in its own process (`azop run`), so that
//! its memory and its overhead are its own, against the kube-emulator and the arm-emulator
//! (both in this process) under ARM's published throttling (configurable with `--arm-scale`).
//!
//! Scenarios (default `fleet`; `all` runs each in turn):
//! - `fleet`: NAMESPACES tenant namespaces (default 1,000), each with a resource group, a
//!   FederatedIdentity and BINDINGS KeyVaultBindings (default 8), one to each platform vault:
//!   10,000 objects by default. Prints the time to all Ready against the floor computed from
//!   the minimal write count and the write bucket, writes against the minimal count, reads per
//!   object, 429s, the worst time from apply to a first condition, the steady state's reads per
//!   second (a histogram), a restart's reads in its first minute and its time to leader with
//!   caches synced, condition flips, peak RSS with the fleet and with no object, and the
//!   reconcile overhead (p50, p99) from `azop_reconcile_overhead_seconds`.
//! - `unthrottled`: GROUPS resource groups (default 10,000) with throttling off, against what
//!   the two emulators sustain alone for the same requests.
//! - `fairness`: two subscriptions, one throttled hard by the emulator; the other's groups go
//!   Ready at their own pace (compared with a run of that subscription alone).
//! - `principals`: PRINCIPALS AzureProfiles (default 4), each reconciled as its own workload
//!   identity with its own buckets; the combined write rate against one principal's.
//! - `shards`: two `azop run --shard` processes and the main one (`--exclude-shards`), each
//!   shard's objects reconciled by its own process.
//!
//! ```text
//! cargo build --release -p azop --bin azop --example bench_fleet
//! target/release/examples/bench_fleet [fleet|unthrottled|fairness|principals|shards|all] [--small]
//! ```
//! `--small` is a quick fleet (50 namespaces × (group + identity + 3 bindings), sync period
//! 60 s); `--help` lists the sizes. The operator binary is taken from beside this one
//! (`target/release/azop`) unless `AZOP_BIN` names another.
//!
//! For investigations: `BENCH_DEBUG=1` keeps the operator's logs and prints the laggards;
//! `BENCH_FIRST_ONLY=1` stops the fleet once every object has its first condition, printing
//! per second of the apply how long this process's watch took to show the objects and how
//! long their first condition took, and the Kubernetes API requests made meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arm_emulator::{ArmEmulator, Bucket, ThrottleLimits};
use clap::Parser;
use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
const OTHER_SUBSCRIPTION: &str = "22222222-2222-2222-2222-222222222222";
const ISSUER: &str = "https://issuer.fleet.test/cluster/";
const OPERATOR_SUBJECT: &str = "system:serviceaccount:azop-system:azop";
const TOKEN_EXCHANGE: &str = "api://AzureADTokenExchange";
const KINDS: [(&str, &str); 4] = [
    ("ResourceGroup", "resourcegroups"),
    ("KeyVault", "keyvaults"),
    ("FederatedIdentity", "federatedidentities"),
    ("KeyVaultBinding", "keyvaultbindings"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    Fleet,
    Unthrottled,
    Fairness,
    Principals,
    Shards,
    All,
}

#[derive(Debug, Parser)]
struct Args {
    /// What to run.
    #[arg(value_enum, default_value = "fleet")]
    scenario: Scenario,
    /// A quick fleet: 50 namespaces, 3 bindings each, a 60 s sync period; smaller runs of the
    /// other scenarios.
    #[arg(long)]
    small: bool,
    /// Tenant namespaces of the fleet.
    #[arg(long)]
    namespaces: Option<usize>,
    /// KeyVaultBindings per tenant namespace (one platform vault each).
    #[arg(long)]
    bindings: Option<usize>,
    /// The operator's sync period in the fleet, in seconds; the steady state is watched for
    /// one period. ARM's read refill (25/s) bounds it from below: objects / 25 s.
    #[arg(long)]
    sync_period: Option<u64>,
    /// Subscriptions the fleet is spread over (Azure allows 4,000 role assignments in each).
    #[arg(long)]
    subscriptions: Option<usize>,
    /// Resource groups of `unthrottled`.
    #[arg(long)]
    groups: Option<usize>,
    /// Profiles with identities of their own in `principals`.
    #[arg(long, default_value_t = 4)]
    principals: usize,
    /// Multiplies ARM's published buckets (reads 250 + 25/s, writes and deletes 200 + 10/s),
    /// in the emulator and in the operator's client alike.
    #[arg(long, default_value_t = 1.0)]
    arm_scale: f64,
}

impl Args {
    fn namespaces(&self) -> usize {
        self.namespaces
            .unwrap_or(if self.small { 50 } else { 1000 })
    }
    fn bindings(&self) -> usize {
        self.bindings.unwrap_or(if self.small { 3 } else { 8 })
    }
    fn sync_period(&self) -> Duration {
        Duration::from_secs(
            self.sync_period
                .unwrap_or(if self.small { 60 } else { 300 }),
        )
    }
    fn subscriptions(&self) -> usize {
        self.subscriptions
            .unwrap_or(if self.small { 1 } else { 4 })
            .max(1)
    }
    fn groups(&self) -> usize {
        self.groups
            .unwrap_or(if self.small { 1000 } else { 10_000 })
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let _ = azop_binary();
    let run = |s: Scenario| args.scenario == s || args.scenario == Scenario::All;
    if run(Scenario::Fleet) {
        fleet(&args).await;
    }
    if run(Scenario::Unthrottled) {
        unthrottled(&args).await;
    }
    if run(Scenario::Fairness) {
        fairness(&args).await;
    }
    if run(Scenario::Principals) {
        principals(&args).await;
    }
    if run(Scenario::Shards) {
        shards(&args).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

async fn fleet(args: &Args) {
    let (namespaces, per_ns, period) = (args.namespaces(), args.bindings(), args.sync_period());
    let subs = args.subscriptions();
    let objects = namespaces * (2 + per_ns);
    println!(
        "== fleet: {namespaces} tenant namespaces × (group + identity + {per_ns} bindings) = {objects} objects, {per_ns} platform vaults, over {subs} subscriptions; sync period {period:?}; ARM buckets × {}",
        args.arm_scale
    );
    let env = Env::start(published(args.arm_scale), None).await;

    // The operator with no object at all: its floor of memory.
    let idle = env.operator("idle", args, &[]);
    let idle_ready = idle.wait_ready().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_rss = idle.memory();
    idle.stop();

    // Azure allows 4,000 role assignments per subscription (azop stops at 3,800): the fleet's
    // are spread over `subs` subscriptions, each with its profiles, its platform namespace and
    // its share of the vaults and of the tenants.
    let vault = |j: usize| (format!("fleet-kv-{j}"), j % subs);
    let mut platform = Vec::new();
    for k in 0..subs {
        let sub = fleet_subscription(k);
        platform.push(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": format!("platform-{k}"), "labels": {"fleet-platform": k.to_string()}}}));
        platform.push(
            json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AzureProfile",
            "metadata": {"name": format!("platform-{k}")},
            "spec": {"namespaceSelector": {"matchLabels": {"fleet-platform": k.to_string()}},
                "subscriptionId": sub, "allowedLocations": ["*"], "allowedResourceGroups": ["*"],
                "allowedKinds": ["*"], "defaults": {"location": "westeurope"}}}),
        );
        platform.push(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AzureProfile",
            "metadata": {"name": format!("tenants-{k}")},
            "spec": {"namespaceSelector": {"matchLabels": {"fleet": "tenant", "fleet-sub": k.to_string()}},
                "subscriptionId": sub,
                "allowedLocations": ["westeurope"], "allowedResourceGroups": ["rg-t*"],
                "allowedKinds": ["ResourceGroup", "FederatedIdentity", "KeyVaultBinding"],
                "allowedIssuers": [format!("{ISSUER}*")],
                "defaults": {"location": "westeurope"}}}));
        platform.push(object(
            "ResourceGroup",
            &format!("platform-{k}"),
            &format!("rg-fleet-platform-{k}"),
            json!({"location": "westeurope"}),
        ));
    }
    for j in 0..per_ns {
        let (name, k) = vault(j);
        platform.push(object(
            "KeyVault",
            &format!("platform-{k}"),
            &name,
            json!({"location": "westeurope", "resourceGroupRef": {"name": format!("rg-fleet-platform-{k}")},
                "bindingPolicy": {"namespaceSelector": {"matchLabels": {"fleet": "tenant"}},
                    "allowedRoles": ["SecretsUser"]}}),
        ));
    }
    for i in 0..namespaces {
        platform.push(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": tenant(i), "labels": {"fleet": "tenant", "fleet-sub": (i % subs).to_string()}}}));
    }
    let tracker = Tracker::start(&env.client).await;
    let op = env.operator("fleet", args, &[("--sync-period", secs(period))]);
    op.wait_ready().await;
    env.apply(platform, &tracker).await;
    tracker
        .wait_ready(subs + per_ns, Duration::from_secs(300))
        .await;
    // Let the write buckets fill again, so the tenants start from full ones.
    let platform_writes = writes(&env.arm.control().counts());
    tokio::time::sleep(Duration::from_secs_f64(
        platform_writes as f64 / (10.0 * args.arm_scale),
    ))
    .await;
    env.arm.control().clear_log();
    tracker.forget();

    let mut tenants = Vec::with_capacity(objects);
    for i in 0..namespaces {
        let ns = tenant(i);
        let rg = format!("rg-t{i:04}");
        tenants.push(object(
            "ResourceGroup",
            &ns,
            &rg,
            json!({"location": "westeurope"}),
        ));
        tenants.push(object(
            "FederatedIdentity",
            &ns,
            "app",
            json!({"resourceGroupRef": {"name": rg}, "issuer": {"url": ISSUER},
                "serviceAccount": {"name": "app", "create": true}}),
        ));
        for j in 0..per_ns {
            let (name, k) = vault(j);
            tenants.push(object(
                "KeyVaultBinding",
                &ns,
                &format!("b-{j}"),
                json!({"vaultRef": {"name": name, "namespace": format!("platform-{k}")},
                    "identityRef": {"name": "app"}, "role": "SecretsUser"}),
            ));
        }
    }
    let minimal = namespaces * (1 + 2 + per_ns);
    // Each subscription's writes: its tenants' groups, identities and credentials, and one
    // assignment per tenant on each of its vaults. The slowest subscription sets the floor.
    let per_sub: Vec<usize> = (0..subs)
        .map(|k| {
            let tenants = (0..namespaces).filter(|i| i % subs == k).count();
            let vaults = (0..per_ns).filter(|j| j % subs == k).count();
            tenants * 3 + vaults * namespaces
        })
        .collect();
    let busiest = per_sub.iter().copied().max().unwrap_or(0);
    let (burst, refill) = (200.0 * args.arm_scale, 10.0 * args.arm_scale);
    let floor = Duration::from_secs_f64((busiest as f64 - burst).max(0.0) / refill);
    let sampler = Sampler::start(&env.arm);
    let kube_before = env.kube.request_counts();
    let start = Instant::now();
    env.apply(tenants, &tracker).await;
    let applied = start.elapsed();
    if std::env::var_os("BENCH_FIRST_ONLY").is_some() {
        // Investigation aid: only the first conditions, with where their time went.
        tracker
            .wait_first_conditions(objects, Duration::from_secs(120))
            .await;
        let (worst, n) = tracker.worst_first_condition();
        println!(
            "  applied in {applied:.2?}; worst apply → first condition {worst:.2?} over {n} objects"
        );
        tracker.timeline(start);
        println!(
            "  Kubernetes API requests from the start of the apply to the last first condition:"
        );
        for (key, n) in env.kube.request_counts() {
            let n = n - kube_before.get(&key).copied().unwrap_or(0);
            if n > 0 {
                println!("  {n:>8}  {} {} {}", key.0, key.1, key.2);
            }
        }
        op.stop();
        return;
    }
    let cap = floor * 2 + Duration::from_secs(300);
    tracker.wait_ready(objects, cap).await;
    let all_ready = start.elapsed();
    let creation = env.arm.control().counts();
    let first_condition = tracker.worst_first_condition();
    let creation_rate = sampler.take().await;

    // Steady state: one sync period, from half a period on (so that the objects created last
    // have had their first periodic check in it, whatever the fleet's size).
    tokio::time::sleep(period / 2).await;
    env.arm.control().clear_log();
    let sampler = Sampler::start(&env.arm);
    let steady_from = azop_e2e::now_ms();
    tracker.watch_flips();
    tokio::time::sleep(period).await;
    let steady = env.arm.control().counts();
    let _ = sampler.take().await;
    let steady_per_second = per_subscription_seconds(&env.arm, steady_from, azop_e2e::now_ms());
    let steady_flips = tracker.flips();
    if std::env::var_os("BENCH_DEBUG").is_some() {
        busiest_second(&env.arm);
    }

    let rss = op.memory();
    let overhead = op.overhead().await;
    op.stop();

    // Restart: a new process, the same objects.
    env.arm.control().clear_log();
    let restart_from = azop_e2e::now_ms();
    let again = env.operator("restart", args, &[("--sync-period", secs(period))]);
    let to_ready = again.wait_ready().await;
    let restarted = Instant::now();
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(restarted.elapsed())).await;
    let first_minute = env.arm.control().counts();
    let restart_per_second = per_subscription_seconds(&env.arm, restart_from, azop_e2e::now_ms());
    let restart_flips = tracker.flips() - steady_flips;
    if std::env::var_os("BENCH_DEBUG").is_some() {
        for f in tracker.flipped() {
            println!("    flipped: {f}");
        }
    }
    let restart_rss = again.memory();
    again.stop();

    let reads = self::reads(&creation);
    // Every object's Azure resources, the platform's included: what a periodic check reads.
    let all_objects = objects + subs + per_ns;
    let resources = namespaces * (3 + per_ns) + subs + per_ns;
    let bound = all_objects as f64 * 60.0 / period.as_secs_f64() * 1.05;
    let resource_bound = resources as f64 * 60.0 / period.as_secs_f64() * 1.05;
    println!("  applied in                    {applied:>10.2?}");
    if floor.is_zero() {
        println!(
            "  all Ready after               {all_ready:>10.2?}   floor: none ({minimal} writes fit in the burst of {burst})"
        );
    } else {
        println!(
            "  all Ready after               {all_ready:>10.2?}   floor {floor:.2?} (the busiest subscription's {busiest} writes − {burst} burst, at {refill}/s; writes by subscription {per_sub:?}): {:.3}× (target ≤ 1.1×)",
            all_ready.as_secs_f64() / floor.as_secs_f64()
        );
    }
    println!(
        "  ARM writes                    {:>10}   minimal {minimal} = {namespaces} × (group + identity + federated credential + {per_ns} role assignments)",
        writes(&creation)
    );
    println!(
        "  ARM reads                     {reads:>10}   {:.2} per object (target ≤ 1.5)",
        reads as f64 / objects as f64
    );
    println!(
        "  ARM 429s                      {:>10}   (target 0)",
        throttled(&creation)
    );
    println!("  ARM requests by method and status: {creation:?}");
    println!(
        "  worst apply → first condition {:>10.2?}   over {} objects (target ≤ 2 s)",
        first_condition.0, first_condition.1
    );
    println!(
        "  request rate while creating   max {} reads/s, max {} writes/s",
        creation_rate.iter().map(|s| s.reads).max().unwrap_or(0),
        creation_rate.iter().map(|s| s.writes).max().unwrap_or(0)
    );
    println!(
        "  steady state, {period:?}:        {} writes (target 0), {} reads = {:.2} per object, {:.2} per Azure resource per period ({all_objects} objects with {resources} resources: an identity is two, itself and its federated credential; target ≤ 1 per object)",
        writes(&steady),
        self::reads(&steady),
        self::reads(&steady) as f64 / all_objects as f64,
        self::reads(&steady) as f64 / resources as f64
    );
    histogram(
        "  steady reads per second and subscription",
        &steady_per_second,
        25.0 * args.arm_scale,
    );
    println!(
        "  restart: leader with caches synced after {to_ready:.2?} (target < 2 s); first minute {} reads (objects × 60 s / period + 5%: {bound:.0}; resources × 60 s / period + 5%: {resource_bound:.0}), {} writes, {restart_flips} Ready flips",
        self::reads(&first_minute),
        writes(&first_minute)
    );
    histogram(
        "  restart reads per second and subscription",
        &restart_per_second,
        25.0 * args.arm_scale,
    );
    println!("  Ready flips in the steady period: {steady_flips}");
    println!(
        "  peak RSS: {:.1} MiB with {objects} objects (target < 150), {:.1} MiB after the restart's first minute, {:.1} MiB with no object (target < 40; ready after {idle_ready:.2?})",
        mib(rss.peak),
        mib(restart_rss.peak),
        mib(idle_rss.peak)
    );
    println!("  reconcile overhead outside ARM (azop_reconcile_overhead_seconds): {overhead}");
}

async fn unthrottled(args: &Args) {
    let n = args.groups();
    println!("== unthrottled: {n} resource groups, throttling off");
    let mut off = published(1.0);
    off.enabled = false;
    // The emulators alone, each fresh, for the requests the operator makes per group: a GET (404) and a
    // PUT to ARM; a create, a finalizer patch and two status patches to Kubernetes.
    let alone = Env::start(off, None).await;
    let http = alone.http();
    let t = Instant::now();
    run_concurrently(n, 64, |i| {
        let http = http.clone();
        let base = alone.arm.url();
        async move {
            let url = format!(
                "{base}/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-alone-{i}?api-version=2025-04-01"
            );
            let get = http.get(&url).bearer_auth("alone").send().await.expect("GET");
            assert_eq!(get.status().as_u16(), 404);
            let put = http
                .put(&url)
                .bearer_auth("alone")
                .header("content-type", "application/json")
                .body(json!({"location": "westeurope"}).to_string())
                .send()
                .await
                .expect("PUT");
            assert!(put.status().is_success());
        }
    })
    .await;
    let arm_alone = t.elapsed();
    alone.namespace("alone").await;
    let api = api_of(&alone.client, "ResourceGroup", "alone");
    let t = Instant::now();
    run_concurrently(n, 64, |i| {
        let api = api.clone();
        async move {
            let name = format!("rg-alone-{i}");
            let obj: DynamicObject = serde_json::from_value(object(
                "ResourceGroup",
                "alone",
                &name,
                json!({"location": "westeurope"}),
            ))
            .expect("object");
            api.create(&PostParams::default(), &obj)
                .await
                .expect("create");
            api.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": ["bench.azop.dev/finalizer"]}})),
            )
            .await
            .expect("finalizer");
            for status in ["Unknown", "True"] {
                api.patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"conditions": [
                        {"type": "Ready", "status": status, "reason": "Bench", "message": "",
                         "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})),
                )
                .await
                .expect("status");
            }
        }
    })
    .await;
    let kube_alone = t.elapsed();
    drop(alone);

    let env = Env::start(off, None).await;

    let tracker = Tracker::start(&env.client).await;
    let op = env.operator(
        "unthrottled",
        args,
        &[("--arm-rate-limit-scale", "1000".into())],
    );
    op.wait_ready().await;
    let groups: Vec<Value> = (0..n)
        .map(|i| {
            platform_object(
                "ResourceGroup",
                &format!("rg-u{i:05}"),
                json!({"location": "westeurope"}),
            )
        })
        .collect();
    let start = Instant::now();
    env.apply(groups, &tracker).await;
    tracker.wait_ready(n, Duration::from_secs(1800)).await;
    let took = start.elapsed();
    let counts = env.arm.control().counts();
    let rss = op.memory();
    let overhead = op.overhead().await;
    op.stop();
    println!(
        "  operator: all {n} Ready after {took:.2?} ({:.0} groups/s); ARM {counts:?}",
        n as f64 / took.as_secs_f64()
    );
    println!(
        "  arm-emulator alone, GET + PUT per group, 64 at a time: {arm_alone:.2?} ({:.0} groups/s)",
        n as f64 / arm_alone.as_secs_f64()
    );
    println!(
        "  kube-emulator alone, create + finalizer + 2 status patches per group, 64 at a time: {kube_alone:.2?} ({:.0} groups/s)",
        n as f64 / kube_alone.as_secs_f64()
    );
    println!(
        "  operator against the slower emulator alone: {:.2}×; peak RSS {:.1} MiB; overhead {overhead}",
        took.as_secs_f64() / arm_alone.max(kube_alone).as_secs_f64(),
        mib(rss.peak)
    );
}

async fn fairness(args: &Args) {
    let n = if args.small { 250 } else { 400 };
    println!(
        "== fairness: {n} groups in each of two subscriptions; the second throttled hard by the emulator (writes 5 burst + 0.5/s)"
    );
    let profile = |name: &str, sub: &str| {
        json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AzureProfile", "metadata": {"name": name},
            "spec": {"namespaceSelector": {"matchLabels": {"fairness": name}},
                "subscriptionId": sub, "allowedLocations": ["*"], "allowedResourceGroups": ["*"],
                "allowedKinds": ["ResourceGroup"], "defaults": {"location": "westeurope"}}})
    };
    let groups = |ns: &str| -> Vec<Value> {
        (0..n)
            .map(|i| {
                object(
                    "ResourceGroup",
                    ns,
                    &format!("rg-{ns}-{i:04}"),
                    json!({"location": "westeurope"}),
                )
            })
            .collect()
    };
    let mut times = Vec::new();
    for with_hard in [false, true] {
        let env = Env::start(published(args.arm_scale), None).await;
        if with_hard {
            env.arm.control().set_subscription_throttling(
                OTHER_SUBSCRIPTION,
                Some(ThrottleLimits {
                    writes: Bucket {
                        capacity: 5.0,
                        refill_per_second: 0.5,
                    },
                    ..published(args.arm_scale)
                }),
            );
        }
        let tracker = Tracker::start(&env.client).await;
        let op = env.operator("fairness", args, &[]);
        op.wait_ready().await;
        let mut setup = vec![
            profile("fair", SUBSCRIPTION),
            profile("hard", OTHER_SUBSCRIPTION),
        ];
        for name in ["fair", "hard"] {
            setup.push(json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": {"fairness": name}}}));
        }
        env.apply(setup, &tracker).await;
        let mut objects = groups("fair");
        if with_hard {
            objects.extend(groups("hard"));
        }
        let start = Instant::now();
        env.apply(objects, &tracker).await;
        tracker
            .wait_ready_in("fair", n, Duration::from_secs(600))
            .await;
        let fair = start.elapsed();
        let hard_ready = tracker.ready_in("hard");
        let counts = env.arm.control().counts();
        op.stop();
        times.push(fair);
        println!(
            "  {}: the unthrottled subscription's {n} groups Ready after {fair:.2?}{}; ARM {counts:?}",
            if with_hard {
                "beside the throttled one"
            } else {
                "alone"
            },
            if with_hard {
                format!("; the throttled subscription had {hard_ready}/{n} Ready by then")
            } else {
                String::new()
            }
        );
    }
    let floor = (n as f64 - 200.0 * args.arm_scale).max(0.0) / (10.0 * args.arm_scale);
    println!(
        "  fair subscription beside a throttled one: {:.2}× its time alone (floor {floor:.1} s)",
        times[1].as_secs_f64() / times[0].as_secs_f64()
    );
}

async fn principals(args: &Args) {
    let k = args.principals.max(1);
    let n = if args.small { 300 } else { 600 };
    println!(
        "== principals: {k} AzureProfiles, each reconciled as its own workload identity, {n} groups each"
    );
    let env = Env::start(published(args.arm_scale), Some(())).await;
    let token_file = env.dir.path().join("federated-token");
    std::fs::write(&token_file, env.operator_token().await).expect("token file");
    let mut setup = Vec::new();
    for p in 0..k {
        let client_id = format!("7eaa0000-0000-4000-8000-{p:012}");
        env.arm.control().register_workload_identity(
            &client_id,
            &format!("0b1e0000-0000-4000-8000-{p:012}"),
            &env.kube.issuer_url(),
            OPERATOR_SUBJECT,
            &[TOKEN_EXCHANGE],
        );
        setup.push(
            json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AzureProfile",
            "metadata": {"name": format!("p{p}")},
            "spec": {"namespaceSelector": {"matchLabels": {"principal": format!("p{p}")}},
                "subscriptionId": SUBSCRIPTION, "tenantId": "11111111-1111-1111-1111-111111111111",
                "credential": {"workloadIdentity": {"clientId": client_id}},
                "allowedLocations": ["*"], "allowedResourceGroups": ["*"],
                "allowedKinds": ["ResourceGroup"], "defaults": {"location": "westeurope"}}}),
        );
        setup.push(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": format!("p{p}"), "labels": {"principal": format!("p{p}")}}}));
    }
    let tracker = Tracker::start(&env.client).await;
    let authority = env.arm.url();
    let op = env.operator(
        "principals",
        args,
        &[
            ("--federated-token-file", token_file.display().to_string()),
            ("--authority-host", authority),
            ("--arm-audience", "https://management.azure.com".into()),
        ],
    );
    op.wait_ready().await;
    env.apply(setup, &tracker).await;
    let mut groups = Vec::new();
    for p in 0..k {
        for i in 0..n {
            groups.push(object(
                "ResourceGroup",
                &format!("p{p}"),
                &format!("rg-p{p}-{i:04}"),
                json!({"location": "westeurope"}),
            ));
        }
    }
    let sampler = Sampler::start(&env.arm);
    let start = Instant::now();
    env.apply(groups, &tracker).await;
    tracker.wait_ready(k * n, Duration::from_secs(900)).await;
    let took = start.elapsed();
    let per_second = sampler.take().await;
    let counts = env.arm.control().counts();
    let tokens = env.arm.control().token_requests();
    op.stop();
    let total = k * n;
    let (burst, refill) = (200.0 * args.arm_scale, 10.0 * args.arm_scale);
    let one = (total as f64 - burst).max(0.0) / refill;
    let each = (n as f64 - burst).max(0.0) / refill;
    println!(
        "  all {total} Ready after {took:.2?}: one principal's floor for {total} writes {one:.1} s; {k} principals' floor {each:.1} s ({:.2}× it)",
        took.as_secs_f64() / each.max(0.001)
    );
    let beyond = (writes(&counts) as f64 - k as f64 * burst).max(0.0);
    println!(
        "  combined write rate beyond the {k} bursts {:.1}/s (one principal's refill {refill}/s, {k} principals' {:.0}/s; max {} writes in one second); 429s {}; token requests by client id {tokens:?}",
        beyond / took.as_secs_f64(),
        k as f64 * refill,
        per_second.iter().map(|s| s.writes).max().unwrap_or(0),
        throttled(&counts)
    );
}

async fn shards(args: &Args) {
    let n = if args.small { 200 } else { 500 };
    println!(
        "== shards: two `azop run --shard` processes and the main one, {n} groups per shard and {n} unlabelled"
    );
    let env = Env::start(published(args.arm_scale), None).await;
    let tracker = Tracker::start(&env.client).await;
    // Three processes signed in as one principal share its buckets: each takes a third.
    let scale = format!("{}", args.arm_scale / 3.0);
    let procs = [
        ("main", vec![("--exclude-shards", String::new())]),
        ("a", vec![("--shard", "a".to_string())]),
        ("b", vec![("--shard", "b".to_string())]),
    ]
    .map(|(name, mut extra)| {
        extra.push(("--arm-rate-limit-scale", scale.clone()));
        (name, env.operator(&format!("shard-{name}"), args, &extra))
    });
    for (_, p) in &procs {
        p.wait_ready().await;
    }
    let mut groups = Vec::new();
    for shard in ["main", "a", "b"] {
        for i in 0..n {
            let mut o = platform_object(
                "ResourceGroup",
                &format!("rg-s{shard}-{i:04}"),
                json!({"location": "westeurope"}),
            );
            if shard != "main" {
                o["metadata"]["labels"] = json!({azop_api::SHARD_LABEL: shard});
            }
            groups.push(o);
        }
    }
    let start = Instant::now();
    env.apply(groups, &tracker).await;
    tracker.wait_ready(3 * n, Duration::from_secs(900)).await;
    let took = start.elapsed();
    let counts = env.arm.control().counts();
    let floor = (3.0 * n as f64 - 200.0 * args.arm_scale).max(0.0) / (10.0 * args.arm_scale);
    println!(
        "  all {} Ready after {took:.2?} (floor {floor:.1} s for one principal); writes {}, 429s {}",
        3 * n,
        writes(&counts),
        throttled(&counts)
    );
    for (name, p) in procs {
        let reconciles = p.reconciles().await;
        println!(
            "  process {name}: peak RSS {:.1} MiB, reconciles by kind {reconciles:?}",
            mib(p.memory().peak)
        );
        p.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// The emulators and the operator's process.

/// ARM's published buckets, scaled.
fn published(scale: f64) -> ThrottleLimits {
    ThrottleLimits::default().scaled(scale)
}

struct Env {
    kube: kube_emulator::KubeEmulator,
    arm: ArmEmulator,
    client: kube::Client,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    ca: PathBuf,
    discovery: tokio::sync::OnceCell<kube::Discovery>,
}

impl Env {
    /// Both emulators, the CRDs and the operator's namespace; `entra` makes the arm-emulator's
    /// Entra trust the kube-emulator's issuer.
    async fn start(throttling: ThrottleLimits, entra: Option<()>) -> Env {
        let kube = kube_emulator::KubeEmulator::start(kube_emulator::Config::default())
            .await
            .expect("kube-emulator");
        let arm = ArmEmulator::start(arm_emulator::Config {
            throttling,
            trusted_ca_pems: entra
                .map(|()| kube.ca_pem().to_string())
                .into_iter()
                .collect(),
            ..arm_emulator::Config::default()
        })
        .await
        .expect("arm-emulator");
        let client = kube.client().await.expect("client");
        // BENCH_DEBUG keeps the directory (the operator's logs) and says where it is.
        let debug = std::env::var_os("BENCH_DEBUG").is_some();
        let dir = tempfile::Builder::new()
            .disable_cleanup(debug)
            .tempdir()
            .expect("temp dir");
        if debug {
            eprintln!("  (operator logs in {})", dir.path().display());
        }
        let kubeconfig = dir.path().join("kubeconfig");
        kube.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let ca = dir.path().join("arm-ca.pem");
        std::fs::write(&ca, arm.ca_pem()).expect("CA");
        azop_e2e::apply_crds(&client, "bench").await;
        let env = Env {
            kube,
            arm,
            client,
            dir,
            kubeconfig,
            ca,
            discovery: tokio::sync::OnceCell::new(),
        };
        for ns in ["azop-system", "platform"] {
            env.namespace(ns).await;
        }
        env.create_service_account().await;
        env
    }

    async fn namespace(&self, name: &str) {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        api.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace"),
        )
        .await
        .expect("namespace created");
    }

    async fn create_service_account(&self) {
        let api: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(self.client.clone(), "azop-system");
        api.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "azop"}})).expect("account"),
        )
        .await
        .expect("account created");
    }

    /// The operator's ServiceAccount token for Entra's token exchange, as a pod's projected
    /// `azure-identity-token` would be.
    async fn operator_token(&self) -> String {
        use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
        let api: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(self.client.clone(), "azop-system");
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![TOKEN_EXCHANGE.to_string()],
                expiration_seconds: Some(24 * 3600),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        api.create_token_request("azop", &PostParams::default(), &request)
            .await
            .expect("token request")
            .status
            .expect("token")
            .token
    }

    fn http(&self) -> reqwest::Client {
        let mut http = reqwest::ClientBuilder::new();
        for cert in reqwest::Certificate::from_pem_bundle(self.arm.ca_pem().as_bytes()).expect("CA")
        {
            http = http.add_root_certificate(cert);
        }
        http.build().expect("HTTP client")
    }

    /// Starts `azop run` against the emulators; `extra` flags are added (an empty value: a
    /// flag alone).
    fn operator(&self, name: &str, args: &Args, extra: &[(&str, String)]) -> Operator {
        let port = azop_e2e::free_port();
        let log = self.dir.path().join(format!("{name}.log"));
        let mut cmd = Command::new(azop_binary());
        cmd.arg("run")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--arm-endpoint", &self.arm.url(), "--arm-ca-file"])
            .arg(&self.ca)
            .args(["--credential", "static-token"])
            .args(["--platform-namespace", "platform"])
            .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
            .args(["--cluster-id", "fleet", "--leader-election"])
            .args(["--log-format", "text"]);
        let mut scaled = false;
        for (flag, value) in extra {
            cmd.arg(flag);
            if !value.is_empty() {
                cmd.arg(value);
            }
            scaled |= *flag == "--arm-rate-limit-scale";
        }
        if !scaled {
            cmd.args(["--arm-rate-limit-scale", &args.arm_scale.to_string()]);
        }
        let child = cmd
            .env("AZOP_ARM_TOKEN", "fleet-operator")
            .env(
                "RUST_LOG",
                std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("azop run starts");
        Operator {
            child: Mutex::new(child),
            metrics: SocketAddr::from(([127, 0, 0, 1], port)),
            started: Instant::now(),
            log,
        }
    }

    /// Creates the objects: cluster-scoped ones first, in order, then the rest 64 at a time,
    /// noting when each was sent.
    async fn apply(&self, objects: Vec<Value>, tracker: &Tracker) {
        let discovery = self
            .discovery
            .get_or_init(|| async {
                kube::Discovery::new(self.client.clone())
                    .run()
                    .await
                    .expect("discovery")
            })
            .await;
        let mut rest = Vec::new();
        for o in objects {
            let gvk = GroupVersionKind::try_from(&kube::api::TypeMeta {
                api_version: o["apiVersion"].as_str().expect("apiVersion").to_string(),
                kind: o["kind"].as_str().expect("kind").to_string(),
            })
            .expect("gvk");
            let (ar, caps) = discovery.resolve_gvk(&gvk).expect("a known kind");
            let ns = o.pointer("/metadata/namespace").and_then(Value::as_str);
            let api: Api<DynamicObject> = match ns {
                Some(ns) if caps.scope == kube::discovery::Scope::Namespaced => {
                    Api::namespaced_with(self.client.clone(), ns, &ar)
                }
                _ => Api::all_with(self.client.clone(), &ar),
            };
            let key = format!(
                "{}/{}/{}",
                gvk.kind,
                ns.unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default()
            );
            let obj: DynamicObject = serde_json::from_value(o).expect("object");
            if caps.scope == kube::discovery::Scope::Cluster {
                api.create(&PostParams::default(), &obj)
                    .await
                    .expect("created");
            } else {
                rest.push((api, obj, key));
            }
        }
        let rest = Arc::new(Mutex::new(rest.into_iter()));
        let workers = (0..64).map(|_| {
            let rest = rest.clone();
            async move {
                loop {
                    let next = rest.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some((api, obj, key)) = next else { break };
                    tracker.sent(&key);
                    api.create(&PostParams::default(), &obj)
                        .await
                        .unwrap_or_else(|e| panic!("creating {key}: {e}"));
                }
            }
        });
        futures::future::join_all(workers).await;
    }
}

/// The operator binary: `AZOP_BIN`, else `azop` beside this benchmark's directory.
fn azop_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("AZOP_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("this executable");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("azop"))
        .expect("a target directory");
    if !bin.exists() {
        eprintln!(
            "{} is missing: build it first (cargo build --release -p azop --bin azop), or name the binary in AZOP_BIN",
            bin.display()
        );
        std::process::exit(2);
    }
    bin
}

struct Operator {
    child: Mutex<Child>,
    metrics: SocketAddr,
    started: Instant,
    log: PathBuf,
}

#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    peak: u64,
}

impl Operator {
    /// Waits for `/readyz` (leading, caches synced); the time since the process started.
    async fn wait_ready(&self) -> Duration {
        loop {
            if let Ok(Some(status)) = self
                .child
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .try_wait()
            {
                panic!(
                    "azop run exited ({status}):\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if http_get(self.metrics, "/readyz")
                .await
                .is_some_and(|(code, _)| code == 200)
            {
                return self.started.elapsed();
            }
            assert!(
                self.started.elapsed() < Duration::from_secs(60),
                "azop run not ready after 60 s:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The process's peak resident set (`VmHWM`).
    fn memory(&self) -> Memory {
        let pid = self
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        Memory { peak: kb("VmHWM:") }
    }

    async fn metrics_text(&self) -> String {
        http_get(self.metrics, "/metrics")
            .await
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    /// p50 and p99 of `azop_reconcile_overhead_seconds`, every kind together (bucket upper
    /// bounds), and the count.
    async fn overhead(&self) -> String {
        let text = self.metrics_text().await;
        let mut by_le: BTreeMap<u64, f64> = BTreeMap::new();
        let mut per_kind: BTreeMap<String, f64> = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("azop_reconcile_overhead_seconds_bucket{") else {
                continue;
            };
            let Some((labels, value)) = rest.split_once("} ") else {
                continue;
            };
            let label = |k: &str| {
                labels
                    .split(',')
                    .find_map(|p| p.strip_prefix(&format!("{k}=\"")))
                    .map(|v| v.trim_end_matches('"').to_string())
            };
            let (Some(le), Ok(n)) = (label("le"), value.trim().parse::<f64>()) else {
                continue;
            };
            let micros = if le == "+Inf" {
                u64::MAX
            } else {
                (le.parse::<f64>().unwrap_or(0.0) * 1e6).round() as u64
            };
            *by_le.entry(micros).or_default() += n;
            if micros == u64::MAX {
                *per_kind
                    .entry(label("kind").unwrap_or_default())
                    .or_default() += n;
            }
        }
        let total = by_le.get(&u64::MAX).copied().unwrap_or(0.0);
        if total == 0.0 {
            return "no reconcile recorded".into();
        }
        let quantile = |q: f64| {
            by_le
                .iter()
                .find(|(_, n)| **n >= q * total)
                .map_or("?".to_string(), |(le, _)| {
                    if *le == u64::MAX {
                        "> the last bucket".to_string()
                    } else {
                        format!("≤ {:.1} ms", *le as f64 / 1000.0)
                    }
                })
        };
        format!(
            "p50 {}, p99 {} over {total} reconciles {per_kind:?}",
            quantile(0.5),
            quantile(0.99)
        )
    }

    /// Reconciles by kind, from `azop_reconcile_duration_seconds_count`.
    async fn reconciles(&self) -> BTreeMap<String, u64> {
        let text = self.metrics_text().await;
        let mut out = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("azop_reconcile_duration_seconds_count{")
                && let Some((labels, value)) = rest.split_once("} ")
            {
                let kind = labels
                    .split(',')
                    .find_map(|p| p.strip_prefix("kind=\""))
                    .map(|v| v.trim_end_matches('"').to_string())
                    .unwrap_or_default();
                *out.entry(kind).or_default() += value.trim().parse::<u64>().unwrap_or(0);
            }
        }
        out
    }

    /// SIGTERM (a graceful stop that releases the Lease), then waits.
    fn stop(self) {
        let mut child = self
            .child
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A plain HTTP GET on loopback: the status code and the body.
async fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let code = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

// ---------------------------------------------------------------------------------------------
// Watching the objects: when each was sent, its first condition, Ready, and flips.

#[derive(Default)]
struct Track {
    sent: Option<Instant>,
    /// When this process's watch first showed the object (BENCH_DEBUG: how late the watch is).
    first_seen: Option<Instant>,
    first_condition: Option<Instant>,
    ready: bool,
    namespace: String,
    /// Ready's reason and message as last seen (BENCH_DEBUG prints the laggards').
    condition: String,
}

#[derive(Default)]
struct TrackState {
    objects: HashMap<String, Track>,
    watching_flips: bool,
    flips: usize,
    /// The first flips: the object and its Ready as it flipped (BENCH_DEBUG prints them).
    flipped: Vec<String>,
}

#[derive(Clone, Default)]
struct Tracker(Arc<Mutex<TrackState>>);

impl Tracker {
    /// Watches every azop kind that has conditions.
    async fn start(client: &kube::Client) -> Tracker {
        let tracker = Tracker::default();
        for (kind, plural) in KINDS {
            let ar = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(azop_api::GROUP, azop_api::VERSION, kind),
                plural,
            );
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            let t = tracker.clone();
            tokio::spawn(async move {
                let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
                let debug = std::env::var_os("BENCH_DEBUG").is_some();
                let born = Instant::now();
                while let Some(e) = events.next().await {
                    match e {
                        Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                            t.seen(kind, &o)
                        }
                        Ok(watcher::Event::Init) if debug => {
                            eprintln!("      ({kind} watch: listing at {:.1?})", born.elapsed())
                        }
                        Err(e) if debug => {
                            eprintln!("      ({kind} watch: {e} at {:.1?})", born.elapsed())
                        }
                        _ => {}
                    }
                }
            });
        }
        tracker
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrackState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sent(&self, key: &str) {
        let ns = key.split('/').nth(1).unwrap_or_default().to_string();
        let mut s = self.lock();
        let t = s.objects.entry(key.to_string()).or_default();
        t.sent.get_or_insert_with(Instant::now);
        t.namespace = ns;
    }

    fn seen(&self, kind: &str, o: &DynamicObject) {
        let key = format!(
            "{kind}/{}/{}",
            o.namespace().unwrap_or_default(),
            o.name_any()
        );
        let conditions = o.data["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let find = |t: &str| {
            conditions
                .iter()
                .find(|c| c["type"] == t)
                .and_then(|c| c["status"].as_str())
                .map(str::to_string)
        };
        let observed = o.data["status"]["observedGeneration"].as_i64().or_else(|| {
            conditions
                .iter()
                .find(|c| c["type"] == "Ready")
                .and_then(|c| c["observedGeneration"].as_i64())
        });
        let ready = find("Ready").as_deref() == Some("True")
            && observed.is_none_or(|g| Some(g) == o.metadata.generation);
        let progressing = find("Reconciling").as_deref() == Some("True") || ready;
        let mut s = self.lock();
        let watching = s.watching_flips;
        let t = s.objects.entry(key.clone()).or_default();
        t.first_seen.get_or_insert_with(Instant::now);
        t.namespace = o.namespace().unwrap_or_default();
        t.condition = conditions
            .iter()
            .find(|c| c["type"] == "Ready")
            .map(|c| format!("{} {}: {}", c["status"], c["reason"], c["message"]))
            .unwrap_or_default();
        if progressing && t.first_condition.is_none() {
            t.first_condition = Some(Instant::now());
        }
        let flipped = (watching && t.ready && !ready).then(|| format!("{key}: {}", t.condition));
        t.ready = ready;
        if let Some(what) = flipped {
            s.flips += 1;
            if s.flipped.len() < 20 {
                s.flipped.push(what);
            }
        }
    }

    /// Forgets what it saw (the platform's objects), but keeps watching.
    fn forget(&self) {
        self.lock().objects.clear();
    }

    fn ready_in(&self, namespace: &str) -> usize {
        self.lock()
            .objects
            .values()
            .filter(|t| t.ready && t.sent.is_some() && t.namespace == namespace)
            .count()
    }

    async fn wait_ready_in(&self, namespace: &str, n: usize, cap: Duration) {
        let start = Instant::now();
        while self.ready_in(namespace) < n {
            self.check_cap(start, cap, n);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_ready(&self, n: usize, cap: Duration) {
        let start = Instant::now();
        let mut said = Instant::now();
        loop {
            let ready = self
                .lock()
                .objects
                .values()
                .filter(|t| t.ready && t.sent.is_some())
                .count();
            if ready >= n {
                return;
            }
            if said.elapsed() > Duration::from_secs(30) {
                eprintln!("  … {ready}/{n} Ready after {:.0?}", start.elapsed());
                if std::env::var_os("BENCH_DEBUG").is_some() {
                    for (key, t) in self
                        .lock()
                        .objects
                        .iter()
                        .filter(|(_, t)| !t.ready && t.sent.is_some())
                        .take(5)
                    {
                        eprintln!("      {key}: {}", t.condition);
                    }
                }
                said = Instant::now();
            }
            self.check_cap(start, cap, n);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn check_cap(&self, start: Instant, cap: Duration, n: usize) {
        if start.elapsed() > cap {
            let s = self.lock();
            let not_ready: Vec<&String> = s
                .objects
                .iter()
                .filter(|(_, t)| !t.ready)
                .map(|(k, _)| k)
                .take(10)
                .collect();
            eprintln!("not all {n} Ready after {cap:?}; some not Ready: {not_ready:?}");
            std::process::exit(1);
        }
    }

    /// The longest time from sending an object to its first condition, and how many objects
    /// were measured.
    fn worst_first_condition(&self) -> (Duration, usize) {
        let s = self.lock();
        if std::env::var_os("BENCH_DEBUG").is_some() {
            let mut worst: Vec<(Duration, &String)> = s
                .objects
                .iter()
                .filter_map(|(k, t)| {
                    Some((t.first_condition?.saturating_duration_since(t.sent?), k))
                })
                .collect();
            worst.sort();
            for (d, k) in worst.iter().rev().take(5) {
                let t = &s.objects[*k];
                let seen = t
                    .first_seen
                    .zip(t.sent)
                    .map(|(seen, sent)| seen.saturating_duration_since(sent));
                eprintln!(
                    "      first condition of {k} after {d:.2?} (this process's watch first showed it after {seen:.2?})"
                );
            }
        }
        let times: Vec<Duration> = s
            .objects
            .values()
            .filter_map(|t| Some(t.first_condition?.saturating_duration_since(t.sent?)))
            .collect();
        (times.iter().max().copied().unwrap_or_default(), times.len())
    }

    async fn wait_first_conditions(&self, n: usize, cap: Duration) {
        let start = Instant::now();
        while self
            .lock()
            .objects
            .values()
            .filter(|t| t.sent.is_some() && t.first_condition.is_some())
            .count()
            < n
            && start.elapsed() < cap
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Per second of sending: how many objects were sent, and the median and worst times from
    /// sending each to this process's watch showing it, and to its first condition.
    fn timeline(&self, start: Instant) {
        let s = self.lock();
        let mut by_second: BTreeMap<u64, Vec<(Duration, Duration)>> = BTreeMap::new();
        for t in s.objects.values() {
            let (Some(sent), Some(seen), Some(first)) = (t.sent, t.first_seen, t.first_condition)
            else {
                continue;
            };
            by_second
                .entry(sent.saturating_duration_since(start).as_secs())
                .or_default()
                .push((
                    seen.saturating_duration_since(sent),
                    first.saturating_duration_since(sent),
                ));
        }
        println!("  sent in second   objects   seen p50 / max      first condition p50 / max");
        for (second, mut v) in by_second {
            let n = v.len();
            v.sort_by_key(|(seen, _)| *seen);
            let (seen50, seen_max) = (v[n / 2].0, v[n - 1].0);
            v.sort_by_key(|(_, first)| *first);
            let (first50, first_max) = (v[n / 2].1, v[n - 1].1);
            println!(
                "  {second:>14}   {n:>7}   {seen50:>8.2?} / {seen_max:>8.2?}   {first50:>8.2?} / {first_max:>8.2?}"
            );
        }
    }

    fn watch_flips(&self) {
        self.lock().watching_flips = true;
    }

    fn flips(&self) -> usize {
        self.lock().flips
    }

    /// The first flips seen, each with Ready as it flipped.
    fn flipped(&self) -> Vec<String> {
        self.lock().flipped.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// ARM requests per second, from the arm-emulator's exact counts.

#[derive(Debug, Clone, Copy, Default)]
struct Second {
    reads: usize,
    writes: usize,
}

struct Sampler {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Vec<Second>>,
}

impl Sampler {
    fn start(arm: &ArmEmulator) -> Sampler {
        let control = arm.control();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut seconds = Vec::new();
            let mut last = control.counts();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut stopped => return seconds,
                }
                let now = control.counts();
                let delta =
                    |f: fn(&BTreeMap<String, usize>) -> usize| f(&now).saturating_sub(f(&last));
                seconds.push(Second {
                    reads: delta(reads),
                    writes: delta(writes),
                });
                last = now;
            }
        });
        Sampler { stop, task }
    }

    async fn take(self) -> Vec<Second> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

fn histogram(title: &str, seconds: &[Second], read_refill: f64) {
    let edges = [0usize, 1, 3, 6, 11, 26, 51, usize::MAX];
    let mut counts = vec![0usize; edges.len() - 1];
    for s in seconds {
        let i = edges
            .windows(2)
            .position(|w| s.reads >= w[0] && s.reads < w[1])
            .unwrap_or(0);
        counts[i] += 1;
    }
    let max = seconds.iter().map(|s| s.reads).max().unwrap_or(0);
    let limit = 0.1 * read_refill * 10.0;
    println!(
        "{title}: max {max} in one second (target ≤ 10% of the read bucket of {:.0}: {limit:.0}); seconds by reads: {}",
        read_refill * 10.0,
        edges
            .windows(2)
            .zip(&counts)
            .map(|(w, n)| if w[1] == usize::MAX {
                format!("≥{}: {n}", w[0])
            } else if w[1] - w[0] == 1 {
                format!("{}: {n}", w[0])
            } else {
                format!("{}–{}: {n}", w[0], w[1] - 1)
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

fn tenant(i: usize) -> String {
    format!("tenant-{i:04}")
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn object(kind: &str, ns: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": format!("{}/{}", azop_api::GROUP, azop_api::VERSION), "kind": kind,
        "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

fn platform_object(kind: &str, name: &str, spec: Value) -> Value {
    object(kind, "platform", name, spec)
}

fn api_of(client: &kube::Client, kind: &str, ns: &str) -> Api<DynamicObject> {
    let plural = KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, p)| *p)
        .expect("a known kind");
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(azop_api::GROUP, azop_api::VERSION, kind),
        plural,
    );
    Api::namespaced_with(client.clone(), ns, &ar)
}

async fn run_concurrently<F, Fut>(n: usize, width: usize, f: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    futures::stream::iter((0..n).map(f))
        .buffer_unordered(width)
        .collect::<Vec<()>>()
        .await;
}

fn reads(counts: &BTreeMap<String, usize>) -> usize {
    counts
        .iter()
        .filter(|(k, _)| (k.starts_with("GET ") || k.starts_with("HEAD ")) && !k.ends_with(" 429"))
        .map(|(_, v)| v)
        .sum()
}

fn writes(counts: &BTreeMap<String, usize>) -> usize {
    counts
        .iter()
        .filter(|(k, _)| !(k.starts_with("GET ") || k.starts_with("HEAD ") || k.ends_with(" 429")))
        .map(|(_, v)| v)
        .sum()
}

fn throttled(counts: &BTreeMap<String, usize>) -> usize {
    counts
        .iter()
        .filter(|(k, _)| k.ends_with(" 429"))
        .map(|(_, v)| v)
        .sum()
}

/// What the busiest second of the request log read (`BENCH_DEBUG`).
fn busiest_second(arm: &ArmEmulator) {
    let log = arm.control().request_log();
    let mut by_second: BTreeMap<u64, Vec<&arm_emulator::LoggedRequest>> = BTreeMap::new();
    for r in &log {
        by_second.entry(r.at_ms / 1000).or_default().push(r);
    }
    let Some((second, requests)) = by_second.iter().max_by_key(|(_, v)| v.len()) else {
        return;
    };
    let kinds = |requests: &[&arm_emulator::LoggedRequest]| {
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for r in requests {
            let segments: Vec<&str> = r.path.split('/').collect();
            let kind = segments
                .iter()
                .rev()
                .skip(1)
                .step_by(2)
                .take(2)
                .rev()
                .copied()
                .collect::<Vec<_>>()
                .join("/");
            *kinds
                .entry(format!("{} {} {kind}", r.method, r.status))
                .or_default() += 1;
        }
        kinds
    };
    eprintln!(
        "busiest second {second}: {} requests {:#?}",
        requests.len(),
        kinds(requests)
    );
    let all: Vec<&arm_emulator::LoggedRequest> = log.iter().collect();
    eprintln!("the whole log: {:#?}", kinds(&all));
}

/// Milliseconds since the Unix epoch, as the arm-emulator's request log stamps requests.
/// The subscription of the fleet's `k`th share.
fn fleet_subscription(k: usize) -> String {
    format!("00000000-0000-0000-0000-{:012}", k + 1)
}

/// ARM reads in each second of `[from, to)` and each subscription (ARM's buckets are per
/// subscription), from the arm-emulator's request log.
fn per_subscription_seconds(arm: &ArmEmulator, from: u64, to: u64) -> Vec<Second> {
    let mut counts: BTreeMap<(String, u64), usize> = BTreeMap::new();
    let mut subscriptions = std::collections::BTreeSet::new();
    for r in arm.control().request_log() {
        if r.method != "GET" || r.status == 429 || r.at_ms < from || r.at_ms >= to {
            continue;
        }
        let sub = r
            .path
            .split('/')
            .nth(2)
            .unwrap_or_default()
            .to_ascii_lowercase();
        subscriptions.insert(sub.clone());
        *counts.entry((sub, (r.at_ms - from) / 1000)).or_default() += 1;
    }
    let seconds = (to.saturating_sub(from)).div_ceil(1000);
    let mut out = Vec::new();
    for sub in &subscriptions {
        for s in 0..seconds {
            out.push(Second {
                reads: counts.get(&(sub.clone(), s)).copied().unwrap_or(0),
                writes: 0,
            });
        }
    }
    out
}
