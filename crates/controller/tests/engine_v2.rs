//! The engine's v2 behaviour, black-box, against the kube-emulator and the arm-emulator: a
//! failing object backs off exponentially and is counted by class in metrics; a malformed
//! object does not stop its kind; a policy refusal is lifted by fixing the profile or the
//! namespace's labels, without a restart.

mod common;

use std::time::Duration;

use arm_emulator::{Fault, FaultKind};
use azop_api::conditions::{self, READY, STALLED};
use azop_api::{AzureProfile, ResourceGroup};
use azop_controller::engine::EngineConfig;
use common::{Env, Managed, Options, SUBSCRIPTION, create_namespace, rg, rg_id};
use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::CustomResourceExt;
use serde_json::{Value, json};

/// Retries inside the ARM client per request in the failure tests. The default (4) spends
/// about 6.5 s on one request against a persistent 500 (azure_core waits 400, 800, 1600 and
/// 3200 ms, plus up to 255 ms each), which would leave room for one reconcile in the window.
const FAULT_TEST_RETRIES: u32 = 1;

/// An engine that backs off from 200 ms to 5 s.
fn fast_backoff() -> Options {
    let defaults = Options::default();
    Options {
        engine: EngineConfig {
            error_backoff_base: Duration::from_millis(200),
            error_backoff_max: Duration::from_secs(5),
            ..defaults.engine
        },
        arm_max_retries: FAULT_TEST_RETRIES,
        ..defaults
    }
}

/// An operator with a 200 ms–5 s backoff, and ResourceGroup `platform/rg-flaky` whose every
/// PUT answers 500 until the faults are cleared.
async fn a_group_whose_puts_fail() -> Env {
    let env = Env::start(fast_backoff()).await;
    env.arm
        .inject_fault(Fault {
            path_pattern: "/resourceGroups/rg-flaky$".into(),
            method: Some("PUT".into()),
            kind: FaultKind::Status {
                status: 500,
                code: None,
                retry_after: None,
            },
            count: None,
            probability: None,
        })
        .expect("fault");
    env.create::<ResourceGroup>(rg("platform", "rg-flaky", "westeurope", "Delete"))
        .await;
    env
}

async fn ready_and_stalled(env: &Env, ns: &str, name: &str) -> (Value, Value) {
    let o = Api::<ResourceGroup>::namespaced(env.client.clone(), ns)
        .get(name)
        .await
        .expect("read");
    let conds = o.azure().conditions;
    let json_of = |t: &str| json!(conditions::find(&conds, t));
    (json_of(READY), json_of(STALLED))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_grows_under_repeated_server_errors() {
    let env = a_group_whose_puts_fail().await;

    // Each reconcile attempt reads the group once (404: the fault hits PUTs only), then PUTs it
    // up to 1 + FAULT_TEST_RETRIES times: the GETs mark the attempts.
    let path = "/resourceGroups/rg-flaky";
    let first = tokio::time::Instant::now();
    while env.requests("GET", path) == 0 {
        assert!(
            first.elapsed() < Duration::from_secs(10),
            "the group was never read"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let start = tokio::time::Instant::now();
    let mut attempts = vec![Duration::ZERO];
    while start.elapsed() < Duration::from_secs(8) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let seen = env.requests("GET", path);
        while attempts.len() < seen {
            attempts.push(start.elapsed());
        }
    }
    let puts = env.requests("PUT", path);

    let (ready, stalled) = ready_and_stalled(&env, "platform", "rg-flaky").await;
    assert_eq!(
        ready["status"], "False",
        "Ready=False while failing: {ready}"
    );
    assert_ne!(
        ready["reason"], "InvalidSpec",
        "a 500 is not the spec's fault"
    );
    assert_ne!(stalled["status"], "True", "a 500 does not stall: {stalled}");

    // Without backoff an attempt would follow the last one's ~0.6 s of PUTs at once: ~14.
    assert!(
        attempts.len() <= 8,
        "{} reconcile attempts in 8 s at {attempts:?}: not backing off",
        attempts.len()
    );
    assert!(
        puts <= attempts.len() * (1 + FAULT_TEST_RETRIES as usize),
        "{puts} PUTs for {} attempts",
        attempts.len()
    );
    assert!(
        attempts.len() >= 3,
        "only {} reconcile attempt(s) in 8 s at {attempts:?}: a 200 ms backoff base retries sooner",
        attempts.len()
    );
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.last() > gaps.first(),
        "the gaps between attempts grow: {gaps:?}"
    );

    env.arm.clear_faults();
    env.wait_ready_within::<ResourceGroup>("platform", "rg-flaky", Duration::from_secs(10))
        .await;
    assert!(
        env.arm.resource(&rg_id("rg-flaky")).is_some(),
        "the group exists once the fault is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_counted_in_metrics_by_kind_and_class() {
    let env = a_group_whose_puts_fail().await;
    let counted = |text: &str| {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix("azop_reconcile_failures_total{")?;
            let (labels, value) = rest.split_once('}')?;
            let value: f64 = value.trim().parse().ok()?;
            (labels.contains(r#"kind="ResourceGroup""#)
                && labels.contains(r#"class="Transient""#)
                && value > 0.0)
                .then(|| l.to_string())
        })
    };
    let mut text = String::new();
    for _ in 0..100 {
        text = env.metrics.render();
        if counted(&text).is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reconcile_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("azop_reconcile"))
        .collect();
    panic!(
        "no azop_reconcile_failures_total{{kind=\"ResourceGroup\",class=\"Transient\"}} > 0 after 10 s; \
         {} PUTs failed; reconcile metrics: {reconcile_lines:#?}",
        env.requests("PUT", "/resourceGroups/rg-flaky")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_object_does_not_stop_its_kind() {
    // The API server checks nothing in a ResourceGroup's spec, so a wrong type gets stored.
    let mut crds = azop_api::crds();
    let relaxed = {
        let mut crd = ResourceGroup::crd();
        for v in &mut crd.spec.versions {
            let schema = v
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut());
            let props = schema
                .and_then(|s| s.properties.as_mut())
                .expect("properties");
            props.insert(
                "spec".into(),
                serde_json::from_value(
                    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
                )
                .expect("schema"),
            );
        }
        crd
    };
    crds.retain(|c| c.metadata.name != relaxed.metadata.name);
    crds.push(relaxed);
    let env = Env::start(Options {
        crds,
        ..Options::default()
    })
    .await;

    let untyped: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        "platform",
        &ApiResource::erase::<ResourceGroup>(&()),
    );
    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "azop.dev/v1alpha1", "kind": "ResourceGroup",
        "metadata": {"name": "malformed", "namespace": "platform"},
        "spec": {"location": "westeurope", "tags": "not-a-map"}}))
    .expect("object");
    untyped
        .create(&PostParams::default(), &bad)
        .await
        .expect("the API server stores the malformed object");
    for name in ["good-1", "good-2"] {
        env.create::<ResourceGroup>(rg("platform", name, "westeurope", "Delete"))
            .await;
    }
    for name in ["good-1", "good-2"] {
        env.wait_ready::<ResourceGroup>("platform", name).await;
        assert!(
            env.arm.resource(&rg_id(name)).is_some(),
            "{name} exists in Azure"
        );
    }

    // kube's Recorder writes events.k8s.io/v1; the kube-emulator shows each as a core/v1
    // Event too, so reading core/v1 finds Events written either way.
    let events: Api<Event> = Api::namespaced(env.client.clone(), "platform");
    let mut found = Vec::new();
    for _ in 0..50 {
        found = events
            .list(&Default::default())
            .await
            .expect("events")
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("malformed"))
            .collect();
        if found
            .iter()
            .any(|e| e.reason.as_deref() == Some("InvalidObject"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let event = found
        .iter()
        .find(|e| e.reason.as_deref() == Some("InvalidObject"))
        .unwrap_or_else(|| panic!("an InvalidObject Event for the malformed object: {found:?}"));
    let note = event.message.as_deref().unwrap_or_default();
    assert!(
        note.contains("spec") && note.contains("not-a-map") && note.contains("expected a map"),
        "the note names the field and what is wrong with it: {note:?}"
    );
    assert_eq!(
        env.requests("PUT", "/resourceGroups/malformed"),
        0,
        "nothing is written for the malformed object"
    );
}

fn profile(name: &str, selector_value: &str, locations: &[&str]) -> AzureProfile {
    serde_json::from_value(json!({
        "apiVersion": "azop.dev/v1alpha1", "kind": "AzureProfile", "metadata": {"name": name},
        "spec": {"namespaceSelector": {"matchLabels": {"azop.dev/profile": selector_value}},
                 "subscriptionId": SUBSCRIPTION,
                 "tenantId": arm_emulator::Config::default().tenant_id,
                 "allowedKinds": ["*"], "allowedResourceGroups": ["*"],
                 "allowedLocations": locations}}))
    .expect("profile")
}

/// Policy refusals must be lifted by watching profiles and namespaces, not by a periodic
/// resync: the sync period is an hour here.
fn slow_sync() -> Options {
    let defaults = Options::default();
    Options {
        engine: EngineConfig {
            sync_period: Duration::from_secs(3600),
            ..defaults.engine
        },
        ..defaults
    }
}

/// Creates group `name` in `ns` and checks that policy refuses it with no ARM write; then runs
/// `fix` and checks that the group becomes Ready in the same operator within 10 s.
async fn refused_until(
    env: &Env,
    ns: &str,
    name: &str,
    location: &str,
    fix: impl std::future::Future<Output = ()>,
) {
    env.create::<ResourceGroup>(rg(ns, name, location, "Delete"))
        .await;
    let stalled = env.wait_condition::<ResourceGroup>(ns, name, STALLED).await;
    assert_eq!(stalled.reason, "PolicyDenied", "{stalled:?}");
    assert_eq!(env.writes(), 0, "a refused object makes no ARM writes");
    fix.await;
    env.wait_ready_within::<ResourceGroup>(ns, name, Duration::from_secs(10))
        .await;
    assert!(
        env.arm.resource(&rg_id(name)).is_some(),
        "{name} exists in Azure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixing_a_profile_unsticks_a_denied_object_without_a_restart() {
    let env = Env::start(slow_sync()).await;
    create_namespace(&env.client, "team-a", json!({"azop.dev/profile": "team-a"})).await;
    let profiles: Api<AzureProfile> = Api::all(env.client.clone());
    profiles
        .create(
            &PostParams::default(),
            &profile("team-a", "team-a", &["westeurope"]),
        )
        .await
        .expect("profile");
    refused_until(&env, "team-a", "rg-team-a", "northeurope", async {
        profiles
            .patch(
                "team-a",
                &PatchParams::default(),
                &Patch::Merge(
                    &json!({"spec": {"allowedLocations": ["westeurope", "northeurope"]}}),
                ),
            )
            .await
            .expect("profile fixed");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_label_change_requeues_its_objects() {
    let env = Env::start(slow_sync()).await;
    // No profile selects team-b yet, and it is not a platform namespace.
    create_namespace(&env.client, "team-b", json!({})).await;
    Api::<AzureProfile>::all(env.client.clone())
        .create(&PostParams::default(), &profile("team-b", "team-b", &["*"]))
        .await
        .expect("profile");
    refused_until(&env, "team-b", "rg-team-b", "westeurope", async {
        Api::<Namespace>::all(env.client.clone())
            .patch(
                "team-b",
                &PatchParams::default(),
                &Patch::Merge(&json!({"metadata": {"labels": {"azop.dev/profile": "team-b"}}})),
            )
            .await
            .expect("namespace labelled");
    })
    .await;
}
