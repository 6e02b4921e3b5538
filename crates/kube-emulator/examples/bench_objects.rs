//! How the kube-emulator copes with a busy cluster: 10,000 ResourceGroups (the checked-in CRD,
//! so pruning, defaulting, the schema and its CEL rules all run) created through kube-rs with
//! 64 requests in flight, while 8 watchers started beforehand each wait for every ADDED event;
//! then a full list and a list paged by 500.
//!
//! The writers, watchers and listers are a ServiceAccount whose ClusterRole (bound in the
//! namespace) allows ResourceGroups, authenticated by its TokenRequest token under RBAC, as an
//! operator runs; `BENCH_AS=admin` runs them as the `system:masters` administrator instead,
//! and `BENCH_AUTHORIZATION=AlwaysAllow` turns RBAC off.
//!
//! `cargo run --release -p kube-emulator --example bench_objects [-- OBJECTS]`
//!
//! Prints creates per second, list times, when the last watcher saw the last object, and the
//! process's peak RSS (VmHWM). It stops by itself: the watchers give up after a minute.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Api, Client};
use kube_emulator::{Authorization, Config, KubeEmulator};
use serde_json::json;

const CRD: &str = include_str!("../../../crds/azop.dev_resourcegroups.yaml");
const IN_FLIGHT: usize = 64;
const WATCHERS: usize = 8;
const NAMESPACE: &str = "bench";

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let objects: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 10_000,
    };
    let authorization = match std::env::var("BENCH_AUTHORIZATION").as_deref() {
        Ok("AlwaysAllow") => Authorization::AlwaysAllow,
        _ => Authorization::Rbac,
    };
    let emulator = KubeEmulator::start(Config {
        authorization,
        ..Config::default()
    })
    .await?;
    let admin = emulator.client().await?;
    install(&admin).await?;
    let client = if std::env::var("BENCH_AS").as_deref() == Ok("admin") {
        println!("as the system:masters administrator, {authorization:?}");
        admin
    } else {
        println!(
            "as ServiceAccount {NAMESPACE}/operator (token, ClusterRole bound in the namespace), {authorization:?}"
        );
        emulator
            .client_with_token(&operator_token(&admin).await?)
            .await?
    };
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("azop.dev", "v1alpha1", "ResourceGroup"),
        "resourcegroups",
    );
    let groups: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &ar);

    // Watchers first, so every create is an event each of them must receive.
    let start = Instant::now();
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let stream = groups.watch(&WatchParams::default(), "0").await?.boxed();
        watchers.push(tokio::spawn(count_added(stream, objects, start)));
    }

    let start = Instant::now();
    let created = futures::stream::iter(0..objects)
        .map(|i| {
            let groups = groups.clone();
            async move {
                groups
                    .create(&PostParams::default(), &resource_group(i))
                    .await
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await?;
    let create_time = start.elapsed();
    let rss_after_creates = rss("VmRSS:");
    println!(
        "created {created} ResourceGroups in {:.2?} ({:.0} objects/s, {IN_FLIGHT} in flight)",
        create_time,
        created as f64 / create_time.as_secs_f64()
    );

    let start = Instant::now();
    let all = groups.list(&ListParams::default()).await?;
    println!(
        "listed {} in one page in {:.2?}",
        all.items.len(),
        start.elapsed()
    );
    drop(all);

    let start = Instant::now();
    let (mut listed, mut pages) = (0, 0);
    let mut params = ListParams::default().limit(500);
    loop {
        let page = groups.list(&params).await?;
        listed += page.items.len();
        pages += 1;
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    println!(
        "listed {listed} in {pages} pages of 500 in {:.2?}",
        start.elapsed()
    );

    let mut last = Duration::ZERO;
    for (i, w) in watchers.into_iter().enumerate() {
        let (seen, at) = w.await?;
        if seen < objects {
            return Err(format!("watcher {i} saw only {seen} of {objects} ADDED events").into());
        }
        last = last.max(at);
    }
    println!(
        "{WATCHERS} watchers each saw all {objects} ADDED events; the last one {:.2?} after the watches started",
        last
    );
    println!(
        "RSS after the creates: {rss_after_creates}; peak RSS (VmHWM): {}",
        rss("VmHWM:")
    );
    Ok(())
}

async fn install(client: &Client) -> Result<(), Failure> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &serde_yaml::from_str(CRD)?)
        .await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?,
        )
        .await?;
    Ok(())
}

/// A ServiceAccount allowed ResourceGroups in the namespace, and a token for it.
async fn operator_token(client: &Client) -> Result<String, Failure> {
    let pp = PostParams::default();
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), NAMESPACE);
    sas.create(
        &pp,
        &serde_json::from_value(json!({"metadata": {"name": "operator"}}))?,
    )
    .await?;
    Api::<ClusterRole>::all(client.clone())
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "resourcegroups"}, "rules": [
                {"apiGroups": ["azop.dev"], "resources": ["resourcegroups"], "verbs": ["create", "get", "list", "watch", "update", "patch", "delete"]},
                {"apiGroups": ["azop.dev"], "resources": ["resourcegroups/status"], "verbs": ["get", "update", "patch"]}]}))?,
        )
        .await?;
    Api::<RoleBinding>::namespaced(client.clone(), NAMESPACE)
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "operator"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "resourcegroups"},
                "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": NAMESPACE}]}))?,
        )
        .await?;
    let request: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": []}}))?;
    let token = sas
        .create_token_request("operator", &pp, &request)
        .await?
        .status
        .ok_or("no token in the TokenRequest")?
        .token;
    Ok(token)
}

fn resource_group(i: usize) -> DynamicObject {
    let value = json!({
        "apiVersion": "azop.dev/v1alpha1",
        "kind": "ResourceGroup",
        "metadata": {"name": format!("rg-{i:05}"), "labels": {"bench": "true", "shard": (i % 16).to_string()}},
        "spec": {"location": "westeurope", "tags": {"environment": "bench", "index": i.to_string()}},
    });
    // The value is a well-formed object by construction.
    serde_json::from_value(value).expect("a DynamicObject")
}

/// Counts ADDED events until `want`, or until a minute passes; answers how many and when.
async fn count_added(
    mut stream: futures::stream::BoxStream<'static, kube::Result<WatchEvent<DynamicObject>>>,
    want: usize,
    start: Instant,
) -> (usize, Duration) {
    let mut seen = 0;
    let deadline = tokio::time::sleep(Duration::from_secs(60));
    tokio::pin!(deadline);
    while seen < want {
        tokio::select! {
            _ = &mut deadline => break,
            ev = stream.next() => match ev {
                Some(Ok(WatchEvent::Added(_))) => seen += 1,
                Some(Ok(WatchEvent::Error(e))) => {
                    eprintln!("watch error: {e:?}");
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    eprintln!("watch failed: {e}");
                    break;
                }
                None => break,
            },
        }
    }
    (seen, start.elapsed())
}

/// A line of /proc/self/status: `VmHWM:` is the peak resident set, `VmRSS:` the current one.
fn rss(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l.trim_start_matches(field).trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
