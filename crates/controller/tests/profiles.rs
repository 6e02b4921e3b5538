//! AzureProfile status end to end against the kube-emulator: profiles become Ready with the
//! number of namespaces they govern, a namespace relabelled into two profiles stalls both with
//! ProfileOverlap and relabelled back makes them Ready again (nothing restarted), a spec change
//! is observed, and a settled state sends no further status writes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use azop_api::AzureProfile;
use azop_api::conditions::{self, READY, RECONCILING, STALLED};
use azop_controller::profiles::run_profiles;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde_json::{Value, json};

/// A reflector store kept current by a background task, as the operator's runner keeps one.
fn reflect<K>(api: Api<K>) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .for_each(|_| async {});
    tokio::spawn(stream);
    reader
}

async fn start() -> (kube_emulator::KubeEmulator, Client) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let (kube, client) = common::kube_with_crds().await;
    (kube, client)
}

/// A client for the emulator that counts the status PATCHes it sends. The server keeps the
/// resourceVersion on a no-op PATCH (as Kubernetes does), so only the requests show whether
/// anything is written in a steady state.
async fn counting_client(kube: &kube_emulator::KubeEmulator) -> (Client, Arc<AtomicUsize>) {
    let kubeconfig =
        kube::config::Kubeconfig::from_yaml(&kube.kubeconfig_yaml()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("client config");
    let patches = Arc::new(AtomicUsize::new(0));
    let counter = patches.clone();
    let count = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        if req.method() == http::Method::PATCH && req.uri().path().ends_with("/status") {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        req
    });
    let client = kube::client::ClientBuilder::try_from(config)
        .expect("client builder")
        .with_layer(&count)
        .build();
    (client, patches)
}

/// Creates a profile selecting the namespaces labelled `<label>: "true"`.
async fn create_profile(client: &Client, name: &str, label: &str) {
    create_profile_with(client, name, json!({"matchLabels": {label: "true"}})).await;
}

async fn create_profile_with(client: &Client, name: &str, namespace_selector: Value) {
    let profile: AzureProfile = serde_json::from_value(json!({
        "apiVersion": "azop.dev/v1alpha1",
        "kind": "AzureProfile",
        "metadata": {"name": name},
        "spec": {
            "namespaceSelector": namespace_selector,
            "subscriptionId": "00000000-0000-0000-0000-000000000000",
        },
    }))
    .expect("valid profile");
    Api::<AzureProfile>::all(client.clone())
        .create(&PostParams::default(), &profile)
        .await
        .expect("profile created");
}

async fn create_namespace(client: &Client, name: &str, label: &str) {
    let ns: Namespace = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {label: "true"}},
    }))
    .expect("valid namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");
}

/// Sets (`Some("true")`) or removes (`None`) one label of a namespace.
async fn label_namespace(client: &Client, name: &str, label: &str, value: Option<&str>) {
    Api::<Namespace>::all(client.clone())
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {label: value}}})),
        )
        .await
        .expect("namespace relabelled");
}

/// What kstatus and a person read from a profile: Ready's status and reason, Stalled's status,
/// whether Reconciling is present, the governed count and whether the status describes the
/// current generation.
#[derive(Debug, PartialEq)]
struct Seen {
    ready: String,
    reason: String,
    stalled: Option<String>,
    reconciling: bool,
    governed: Option<i32>,
    current_generation: bool,
}

fn seen(p: &AzureProfile) -> Seen {
    let status = p.status.clone().unwrap_or_default();
    let ready = conditions::find(&status.basic.conditions, READY);
    Seen {
        ready: ready.map(|c| c.status.clone()).unwrap_or_default(),
        reason: ready.map(|c| c.reason.clone()).unwrap_or_default(),
        stalled: conditions::find(&status.basic.conditions, STALLED).map(|c| c.status.clone()),
        reconciling: conditions::find(&status.basic.conditions, RECONCILING).is_some(),
        governed: status.governed_namespaces,
        current_generation: p.metadata.generation == Some(status.basic.observed_generation)
            && ready.is_some_and(|c| c.observed_generation == p.metadata.generation),
    }
}

fn ready(governed: i32) -> Seen {
    Seen {
        ready: "True".into(),
        reason: "Succeeded".into(),
        stalled: None,
        reconciling: false,
        governed: Some(governed),
        current_generation: true,
    }
}

fn overlapping(governed: i32) -> Seen {
    Seen {
        ready: "False".into(),
        reason: "ProfileOverlap".into(),
        stalled: Some("True".into()),
        reconciling: false,
        governed: Some(governed),
        current_generation: true,
    }
}

/// Waits until the profile reads as `want`, and returns it.
async fn wait_for(client: &Client, name: &str, want: Seen) -> AzureProfile {
    let api: Api<AzureProfile> = Api::all(client.clone());
    for _ in 0..100 {
        let p = api.get(name).await.expect("read profile");
        if seen(&p) == want {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let p = api.get(name).await.expect("read profile");
    panic!(
        "{name} never read as {want:?}; it reads {:?} with status {:?}",
        seen(&p),
        p.status
    );
}

fn ready_message(p: &AzureProfile) -> String {
    p.status
        .as_ref()
        .and_then(|s| conditions::find(&s.basic.conditions, READY))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

fn resource_version(p: &AzureProfile) -> String {
    p.metadata.resource_version.clone().unwrap_or_default()
}

#[tokio::test]
async fn profiles_follow_namespace_labels_into_and_out_of_overlap_and_then_stay_quiet() {
    let (kube, client) = start().await;
    let (operator, status_patches) = counting_client(&kube).await;
    let runner = tokio::spawn(run_profiles(
        operator.clone(),
        reflect(Api::<DeserializeGuard<AzureProfile>>::all(operator.clone())),
        reflect(Api::<Namespace>::all(operator)),
        Duration::from_millis(200),
    ));

    create_namespace(&client, "a-dev", "tenant-a").await;
    create_namespace(&client, "a-prod", "tenant-a").await;
    create_namespace(&client, "b-dev", "tenant-b").await;
    create_profile(&client, "team-a", "tenant-a").await;
    create_profile(&client, "team-b", "tenant-b").await;

    let a = wait_for(&client, "team-a", ready(2)).await;
    assert_eq!(ready_message(&a), "governs 2 namespaces");
    wait_for(&client, "team-b", ready(1)).await;

    // a-dev now carries both profiles' labels: neither governs it, and both say so.
    label_namespace(&client, "a-dev", "tenant-b", Some("true")).await;
    let a = wait_for(&client, "team-a", overlapping(1)).await;
    let b = wait_for(&client, "team-b", overlapping(1)).await;
    assert_eq!(
        ready_message(&a),
        "AzureProfiles team-a and team-b both select namespace a-dev; a namespace may be governed by exactly one profile: narrow one of the namespaceSelectors"
    );
    assert!(
        ready_message(&b)
            .starts_with("AzureProfiles team-b and team-a both select namespace a-dev"),
        "{}",
        ready_message(&b)
    );

    // And back: both Ready again, with nothing restarted.
    label_namespace(&client, "a-dev", "tenant-b", None).await;
    wait_for(&client, "team-a", ready(2)).await;
    wait_for(&client, "team-b", ready(1)).await;
    assert!(!runner.is_finished(), "run_profiles is still the same task");

    // A spec change is a new generation, and the status follows it.
    Api::<AzureProfile>::all(client.clone())
        .patch(
            "team-b",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"subscriptionId": "33333333-3333-3333-3333-333333333333"}}),
            ),
        )
        .await
        .expect("profile spec changed");
    let b = wait_for(&client, "team-b", ready(1)).await;
    assert_eq!(b.metadata.generation, Some(2));

    // Settled: no more status writes, not even no-op ones.
    let a = wait_for(&client, "team-a", ready(2)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let patches = status_patches.load(Ordering::SeqCst);
    assert!(
        patches >= 7,
        "each change was written: {patches} status PATCHes"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        status_patches.load(Ordering::SeqCst),
        patches,
        "status PATCHes in a steady state"
    );
    let api: Api<AzureProfile> = Api::all(client.clone());
    let (a_later, b_later) = (
        api.get("team-a").await.expect("read"),
        api.get("team-b").await.expect("read"),
    );
    assert_eq!(resource_version(&a_later), resource_version(&a));
    assert_eq!(resource_version(&b_later), resource_version(&b));

    runner.abort();
}

#[tokio::test]
async fn a_profile_with_an_invalid_selector_is_stalled_and_the_others_stay_ready() {
    let (_kube, client) = start().await;
    let runner = tokio::spawn(run_profiles(
        client.clone(),
        reflect(Api::<DeserializeGuard<AzureProfile>>::all(client.clone())),
        reflect(Api::<Namespace>::all(client.clone())),
        Duration::from_millis(200),
    ));
    create_namespace(&client, "a-dev", "tenant-a").await;
    create_profile(&client, "team-a", "tenant-a").await;
    create_profile_with(
        &client,
        "broken",
        json!({"matchExpressions": [{"key": "tenant-a", "operator": "In"}]}),
    )
    .await;

    let b = wait_for(
        &client,
        "broken",
        Seen {
            ready: "False".into(),
            reason: "InvalidSpec".into(),
            stalled: Some("True".into()),
            reconciling: false,
            governed: None,
            current_generation: true,
        },
    )
    .await;
    assert!(
        ready_message(&b).contains("operator In needs at least one value"),
        "{}",
        ready_message(&b)
    );
    wait_for(&client, "team-a", ready(1)).await;
    runner.abort();
}

#[tokio::test]
async fn a_profile_azop_cannot_read_is_stalled_and_the_others_stay_ready() {
    let (_kube, client) = start().await;
    // Stored while the schema let anything through, as an API server keeps what an older
    // CRD admitted; then the schema is back.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let strict = AzureProfile::crd();
    let mut relaxed = strict.clone();
    for v in &mut relaxed.spec.versions {
        v.schema = Some(
            serde_json::from_value(json!({"openAPIV3Schema": {
                "type": "object", "x-kubernetes-preserve-unknown-fields": true}}))
            .expect("schema"),
        );
    }
    let apply = PatchParams::apply("test").force();
    let name = strict.metadata.name.clone().expect("name");
    crds.patch(&name, &apply, &Patch::Apply(&relaxed))
        .await
        .expect("relaxed");
    let untyped: Api<DynamicObject> =
        Api::all_with(client.clone(), &ApiResource::erase::<AzureProfile>(&()));
    let unreadable: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "azop.dev/v1alpha1", "kind": "AzureProfile", "metadata": {"name": "unreadable"},
        "spec": {"namespaceSelector": {"matchLabels": {"tenant-a": "true"}}, "subscriptionId": 42}}))
    .expect("object");
    untyped
        .create(&PostParams::default(), &unreadable)
        .await
        .expect("stored");
    crds.patch(&name, &apply, &Patch::Apply(&strict))
        .await
        .expect("strict again");

    let runner = tokio::spawn(run_profiles(
        client.clone(),
        reflect(Api::<DeserializeGuard<AzureProfile>>::all(client.clone())),
        reflect(Api::<Namespace>::all(client.clone())),
        Duration::from_millis(200),
    ));
    create_namespace(&client, "a-dev", "tenant-a").await;
    create_profile(&client, "team-a", "tenant-a").await;
    let mut stalled = None;
    for _ in 0..100 {
        let o = untyped.get("unreadable").await.expect("read");
        let conditions = o.data["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(c) = conditions
            .iter()
            .find(|c| c["type"] == "Stalled" && c["status"] == "True")
        {
            stalled = Some(c.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stalled = stalled.expect("the unreadable profile is Stalled");
    assert_eq!(stalled["reason"], "InvalidSpec");
    let message = stalled["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("cannot read") && message.contains("subscriptionId"),
        "{message}"
    );
    // The readable profile governs a-dev alone: the unreadable one overlaps nothing.
    wait_for(&client, "team-a", ready(1)).await;
    runner.abort();
}
