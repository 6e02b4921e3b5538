//! ARM's budget at rest and at a restart: in-sync objects are checked at most once per sync
//! period, spread over their subscription's calendar (never a burst of every object at once),
//! a restarted operator reads nothing that is not due, and a new object shows that it was seen
//! even while the write bucket is empty. `bench_fleet` measures the same at 10,000 objects.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use azop_api::conditions::{self, READY};
use azop_api::{KeyVault, ResourceGroup};
use azop_arm::{BucketLimit, RateLimits};
use azop_controller::engine::EngineConfig;
use common::{Env, Managed, Options, rg};
use kube::Api;
use serde_json::json;

fn options(sync_period: Duration, sync_reads_per_second: f64) -> Options {
    let base = Options::default();
    Options {
        engine: EngineConfig {
            sync_period,
            sync_reads_per_second,
            ..base.engine
        },
        ..base
    }
}

async fn groups_ready(env: &Env, n: usize) {
    for i in 0..n {
        env.create::<ResourceGroup>(rg(
            "platform",
            &format!("rg-s{i:02}"),
            "westeurope",
            "Delete",
        ))
        .await;
    }
    for i in 0..n {
        env.wait_ready::<ResourceGroup>("platform", &format!("rg-s{i:02}"))
            .await;
    }
}

/// Each group's Ready condition's last transition, to show that none flipped.
async fn transitions(env: &Env) -> BTreeMap<String, String> {
    let api: Api<ResourceGroup> = Api::namespaced(env.client.clone(), "platform");
    api.list(&Default::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|g| {
            let c = conditions::find(
                &g.status.clone().unwrap_or_default().azure.conditions,
                READY,
            )
            .cloned()
            .expect("Ready");
            (
                g.metadata.name.unwrap_or_default(),
                format!("{} {:?}", c.status, c.last_transition_time),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_operator_reads_nothing_before_each_objects_period_is_over() {
    let mut env = Env::start(options(Duration::from_secs(120), 20.0)).await;
    groups_ready(&env, 30).await;
    let before = transitions(&env).await;
    env.stop_operator().await;
    env.arm.clear_log();
    env.start_operator();
    // Long enough for the restarted operator to list and look at every object.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let log = env.arm.request_log();
    assert!(
        log.is_empty(),
        "a restart within the sync period asks nothing of ARM: {log:?}"
    );
    assert_eq!(transitions(&env).await, before, "no condition flipped");
}

/// A restarted operator reconciles nothing before every store has its first list: a vault
/// reconciled while its group's list was still on its way found the group missing and went
/// WaitingForDependency, and with it every binding to the vault (`bench_fleet`'s restart of
/// 10,000 objects flipped 8,008 Ready conditions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_operator_waits_for_every_list_before_judging_a_reference() {
    let mut env = Env::start(options(Duration::from_secs(120), 20.0)).await;
    env.create::<ResourceGroup>(rg("platform", "rg-kv", "westeurope", "Delete"))
        .await;
    env.create::<KeyVault>(
        json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVault",
        "metadata": {"name": "kv-restart", "namespace": "platform"},
        "spec": {"azureName": "azop-restart-kv", "location": "westeurope",
                 "resourceGroupRef": {"name": "rg-kv"}}}),
    )
    .await;
    let ready = env.wait_ready::<KeyVault>("platform", "kv-restart").await;
    let was = conditions::find(&ready.azure().conditions, READY)
        .cloned()
        .expect("Ready");
    env.stop_operator().await;
    // The groups' list comes 2 s after the vaults' (a large list on a busy API server).
    env.kube_faults()
        .slow_lists("resourcegroups", Some(Duration::from_secs(2)));
    env.arm.clear_log();
    env.start_operator();
    let api: Api<KeyVault> = Api::namespaced(env.client.clone(), "platform");
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < until {
        let vault = api.get("kv-restart").await.expect("read");
        let now = conditions::find(&vault.azure().conditions, READY)
            .cloned()
            .expect("Ready");
        assert_eq!(
            (&now.status, &now.reason, &now.last_transition_time),
            (&was.status, &was.reason, &was.last_transition_time),
            "the vault's Ready never flipped: {}",
            now.message
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.kube_faults().slow_lists("resourcegroups", None);
    assert!(
        env.arm.request_log().is_empty(),
        "nothing asked of ARM within the sync period"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_checks_are_spread_over_the_calendar_once_per_period() {
    // 30 groups created together, a 3 s period, at most 10 periodic reads a second.
    let env = Env::start(options(Duration::from_secs(3), 10.0)).await;
    groups_ready(&env, 30).await;
    env.arm.clear_log();
    tokio::time::sleep(Duration::from_secs(9)).await;
    let log = env.arm.request_log();
    assert!(
        log.iter().all(|r| r.method == "GET"),
        "a steady state writes nothing: {log:?}"
    );
    let mut per_second: BTreeMap<u64, usize> = BTreeMap::new();
    let mut per_group: BTreeMap<String, usize> = BTreeMap::new();
    for r in &log {
        *per_second.entry(r.at_ms / 1000).or_default() += 1;
        *per_group.entry(r.path.to_ascii_lowercase()).or_default() += 1;
    }
    // 10 a second, and one 100 ms window's more where a second straddles two windows; a busy
    // machine may push a late read or two into the next second, which then reads less.
    assert!(
        per_second.values().all(|n| *n <= 13),
        "never much more than the calendar's rate in a second: {per_second:?}"
    );
    let counts: Vec<usize> = (per_second.keys().next().copied().unwrap_or(0)
        ..=per_second.keys().last().copied().unwrap_or(0))
        .map(|s| per_second.get(&s).copied().unwrap_or(0))
        .collect();
    assert!(
        counts.windows(3).all(|w| w.iter().sum::<usize>() <= 32),
        "the calendar's rate over any three seconds: {per_second:?}"
    );
    assert_eq!(
        per_group.len(),
        30,
        "every group was checked: {per_group:?}"
    );
    // 9 s at a 3 s period, the calendar spreading 30 reads over 3 s: two to four checks each.
    assert!(
        per_group.values().all(|n| (2..=4).contains(n)),
        "about one check per group per period: {per_group:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_object_shows_it_was_seen_within_two_seconds_while_the_write_bucket_is_empty() {
    // A write bucket of 1 that refills once every 5 s.
    let base = options(Duration::from_secs(600), 20.0);
    let env = Env::start(Options {
        arm_rate_limits: RateLimits {
            writes: BucketLimit {
                capacity: 1.0,
                refill_per_second: 0.2,
            },
            ..RateLimits::default()
        },
        ..base
    })
    .await;
    let api: Api<ResourceGroup> = Api::namespaced(env.client.clone(), "platform");
    let start = tokio::time::Instant::now();
    for i in 0..6 {
        env.create::<ResourceGroup>(rg("platform", &format!("rg-w{i}"), "westeurope", "Delete"))
            .await;
    }
    // Every group shows Reconciling within 2 s of being applied, though most wait their turn
    // (saying so when its pass came before the acknowledgement: Throttled; after it, the
    // acknowledgement's "seen; reconciling" stands, one status write fewer per object).
    let waiting = loop {
        let groups = api.list(&Default::default()).await.expect("list").items;
        let seen: Vec<_> = groups
            .iter()
            .filter(|g| {
                let c = g.status.clone().unwrap_or_default().azure.conditions;
                conditions::find(&c, "Reconciling").is_some_and(|c| c.status == "True")
                    || conditions::is_ready(&c, g.metadata.generation)
            })
            .collect();
        if seen.len() == 6 {
            break seen
                .iter()
                .filter(|g| {
                    let c = g.status.clone().unwrap_or_default().azure.conditions;
                    !conditions::is_ready(&c, g.metadata.generation)
                        && conditions::find(&c, READY)
                            .is_some_and(|c| c.reason == "Throttled" || c.reason == "Progressing")
                })
                .count();
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "not every group showed Reconciling within 2 s: {} of 6",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(waiting >= 4, "most wait for their turn: {waiting}");
    assert!(env.requests("PUT", "") <= 2, "one write, maybe two, so far");
}
