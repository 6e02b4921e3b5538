//! The API semantics a kube-rs controller depends on, exercised with kube-rs itself.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use kube_emulator::{Config, KubeEmulator};
use serde_json::json;

const WIDGET_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.example.com"},
  "spec": {"group": "example.com", "scope": "Namespaced",
    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"], "categories": ["all"]},
    "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "required": ["size"], "properties": {
          "size": {"type": "integer", "minimum": 1},
          "color": {"type": "string", "default": "blue", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "color is immutable"}]}}},
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}, "note": {"type": "string"}}}}}}}]}}"#;

async fn setup(config: Config) -> (KubeEmulator, Client, Api<DynamicObject>) {
    let emulator = KubeEmulator::start(config).await.expect("emulator starts");
    let client = emulator.client().await.expect("client");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_str(WIDGET_CRD).expect("valid CRD");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("CRD created");
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    ns.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "test"}})).expect("ns"),
    )
    .await
    .expect("namespace created");
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let widgets = Api::namespaced_with(client.clone(), "test", &ar);
    (emulator, client, widgets)
}

fn widget(name: &str, size: i64) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": size}}))
        .expect("widget")
}

#[tokio::test]
async fn objects_are_created_read_updated_and_listed_with_defaults_applied() {
    let (_e, _c, widgets) = setup(Config::default()).await;
    let created = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .expect("created");
    assert_eq!(
        created.data["spec"]["color"], "blue",
        "schema default applied"
    );
    assert_eq!(created.metadata.generation, Some(1));
    let mut got = widgets.get("a").await.expect("read");
    got.data["spec"]["size"] = json!(2);
    let updated = widgets
        .replace("a", &PostParams::default(), &got)
        .await
        .expect("updated");
    assert_eq!(
        updated.metadata.generation,
        Some(2),
        "spec change bumps generation"
    );
    assert_eq!(
        widgets
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );
    let dup = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await;
    assert!(
        matches!(dup, Err(kube::Error::Api(ref s)) if s.code == 409),
        "{dup:?}"
    );
}

#[tokio::test]
async fn a_stale_resource_version_is_refused_with_conflict() {
    let (_e, _c, widgets) = setup(Config::default()).await;
    widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .expect("created");
    let stale = widgets.get("a").await.expect("read");
    let mut fresh = stale.clone();
    fresh.data["spec"]["size"] = json!(3);
    widgets
        .replace("a", &PostParams::default(), &fresh)
        .await
        .expect("first write wins");
    let mut late = stale;
    late.data["spec"]["size"] = json!(4);
    let err = widgets.replace("a", &PostParams::default(), &late).await;
    assert!(
        matches!(err, Err(kube::Error::Api(ref s)) if s.code == 409 && s.reason == "Conflict"),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_objects_are_refused_with_422_naming_the_field() {
    let (_e, _c, widgets) = setup(Config::default()).await;
    let err = widgets
        .create(&PostParams::default(), &widget("a", 0))
        .await;
    match err {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422);
            assert!(s.message.contains("spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"), "{}", s.message);
        }
        other => panic!("expected 422, got {other:?}"),
    }
    widgets
        .create(&PostParams::default(), &widget("b", 1))
        .await
        .expect("created");
    let patch = json!({"spec": {"color": "red"}});
    let err = widgets
        .patch("b", &PatchParams::default(), &Patch::Merge(&patch))
        .await;
    assert!(
        matches!(err, Err(kube::Error::Api(ref s)) if s.code == 422 && s.message.contains("color is immutable")),
        "{err:?}"
    );
}

#[tokio::test]
async fn status_and_spec_are_written_only_through_their_own_endpoints() {
    let (_e, _c, widgets) = setup(Config::default()).await;
    let mut w = widget("a", 1);
    w.data["status"] = json!({"ready": true});
    let created = widgets
        .create(&PostParams::default(), &w)
        .await
        .expect("created");
    assert!(
        created
            .data
            .get("status")
            .is_none_or(|s| s.get("ready").is_none()),
        "status ignored on create"
    );

    let both = json!({"spec": {"size": 5}, "status": {"ready": true}});
    let after = widgets
        .patch_status("a", &PatchParams::default(), &Patch::Merge(&both))
        .await
        .expect("status patched");
    assert_eq!(after.data["status"]["ready"], true);
    assert_eq!(after.data["spec"]["size"], 1, "spec ignored on /status");
    assert_eq!(
        after.metadata.generation,
        Some(1),
        "status writes do not bump generation"
    );

    let main = widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"ready": false}})),
        )
        .await
        .expect("patched");
    assert_eq!(
        main.data["status"]["ready"], true,
        "status ignored on the main resource"
    );

    let applied =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "status": {"note": "applied"}});
    let ssa = widgets
        .patch_status(
            "a",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&applied),
        )
        .await
        .expect("server-side apply of status");
    assert_eq!(ssa.data["status"]["note"], "applied");
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let (_e, _c, widgets) = setup(Config::default()).await;
    let mut w = widget("a", 1);
    w.metadata.finalizers = Some(vec!["example.com/cleanup".into()]);
    widgets
        .create(&PostParams::default(), &w)
        .await
        .expect("created");
    widgets
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete accepted");
    let marked = widgets.get("a").await.expect("still there");
    assert!(marked.metadata.deletion_timestamp.is_some());
    // kube's finalizer helper removes finalizers with a JSON patch guarded by `test`.
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "example.com/cleanup"},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]))
    .expect("patch");
    widgets
        .patch("a", &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .expect("finalizer removed");
    assert!(
        widgets.get_opt("a").await.expect("read").is_none(),
        "gone once the last finalizer went"
    );
}

#[tokio::test]
async fn owned_objects_are_garbage_collected_with_their_owner() {
    let (_e, client, widgets) = setup(Config::default()).await;
    let owner = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .expect("created");
    let cms: Api<ConfigMap> = Api::namespaced(client, "test");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "child", "ownerReferences": [
        {"apiVersion": "example.com/v1", "kind": "Widget", "name": "a", "uid": owner.metadata.uid, "controller": true}]}}))
    .expect("cm");
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("child created");
    widgets
        .delete("a", &DeleteParams::background())
        .await
        .expect("owner deleted");
    assert!(
        cms.get_opt("child").await.expect("read").is_none(),
        "child collected"
    );
}

#[tokio::test]
async fn watchers_resume_after_dropped_connections_and_after_410() {
    // A small event log: reconnecting after more changes than it holds gets 410 Gone.
    let (_e, client, _w) = setup(Config {
        watch_cache_size: 5,
        ..Config::default()
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "test");
    let cm = |n: usize| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": format!("cm{n}")}})).expect("cm")
    };
    // Watches that the server ends every second: each reconnect resumes from the last version.
    let seen = watcher(cms.clone(), watcher::Config::default().timeout(1))
        .applied_objects()
        .map_ok(|o: ConfigMap| o.metadata.name.unwrap_or_default());
    tokio::pin!(seen);
    cms.create(&PostParams::default(), &cm(0))
        .await
        .expect("created");
    let mut next_name = async || loop {
        match tokio::time::timeout(Duration::from_secs(10), seen.next())
            .await
            .expect("no stall")
        {
            Some(Ok(n)) => return n,
            // 410 Gone and ended watches surface as errors; the watcher relists and goes on.
            Some(Err(_)) => continue,
            None => panic!("watch stream ended"),
        }
    };
    assert_eq!(next_name().await, "cm0");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for n in 1..20 {
        cms.create(&PostParams::default(), &cm(n))
            .await
            .expect("created");
    }
    let mut names = std::collections::BTreeSet::new();
    while names.len() < 19 {
        names.insert(next_name().await);
    }
    assert!(names.contains("cm19"));

    // A watch from a version older than the log holds answers 410 Gone.
    let mut raw = cms
        .watch(&Default::default(), "1")
        .await
        .expect("watch")
        .boxed();
    match raw.try_next().await.expect("event") {
        Some(kube::api::WatchEvent::Error(e)) => assert_eq!(e.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_that_falls_behind_its_buffer_loses_no_event() {
    // A buffer of two events and a reader that reads nothing until the creates are over: the
    // watch falls behind again and again (also while it drains before a bookmark) and catches
    // up from the event log, as a kube-apiserver watch does from its watch cache.
    let (_e, client, _w) = setup(Config {
        watch_buffer: 2,
        ..Config::default()
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "test");
    let mut events = cms
        .watch(&kube::api::WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    // The reader stops once it has every created name, or 10 s after the creates end.
    let (done, mut created_rx) = tokio::sync::watch::channel(None::<usize>);
    let seen = tokio::spawn(async move {
        let mut names = std::collections::BTreeSet::new();
        let mut bookmarks = 0;
        let mut deadline = None;
        // Nothing is read while the creates go on: the stream backs up to the server's watch,
        // which falls behind its buffer.
        let _ = created_rx.wait_for(Option::is_some).await;
        loop {
            if let Some(n) = *created_rx.borrow_and_update() {
                if names.len() >= n {
                    break;
                }
                deadline
                    .get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_secs(10));
            }
            let next = tokio::select! {
                e = events.next() => e,
                _ = created_rx.changed() => continue,
                () = tokio::time::sleep_until(deadline.unwrap_or_else(|| {
                    tokio::time::Instant::now() + Duration::from_secs(60)
                })) => break,
            };
            let Some(Ok(e)) = next else { break };
            match e {
                kube::api::WatchEvent::Added(cm) => {
                    names.insert(cm.metadata.name.unwrap_or_default());
                }
                kube::api::WatchEvent::Bookmark(_) => bookmarks += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        (names, bookmarks)
    });
    // Creates from 32 clients for 3 s: across three bookmark ticks.
    let start = std::time::Instant::now();
    let created = futures::future::join_all((0..32).map(|w| {
        let cms = cms.clone();
        async move {
            let mut names = Vec::new();
            while start.elapsed() < Duration::from_secs(3) {
                let name = format!("cm-{w}-{}", names.len());
                let cm: ConfigMap =
                    serde_json::from_value(json!({"metadata": {"name": name}})).expect("cm");
                cms.create(&PostParams::default(), &cm)
                    .await
                    .expect("created");
                names.push(name);
            }
            names
        }
    }))
    .await;
    let created: std::collections::BTreeSet<String> = created.into_iter().flatten().collect();
    done.send_replace(Some(created.len()));
    let (names, bookmarks) = seen.await.expect("watch reader");
    let missing: Vec<&String> = created.difference(&names).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} of {} creates never reached the watch, e.g. {missing:?}",
        created.len() - names.len(),
        created.len()
    );
    assert!(bookmarks >= 2, "bookmarks: {bookmarks}");
}

#[tokio::test]
async fn a_watch_with_a_label_selector_sees_objects_enter_as_added_and_leave_as_deleted() {
    let (_e, client, _w) = setup(Config::default()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "test");
    let labelled = |shard: Option<&str>| -> ConfigMap {
        let labels = shard.map_or(json!({}), |s| json!({"shard": s}));
        serde_json::from_value(json!({"metadata": {"name": "cm", "labels": labels}})).expect("cm")
    };
    let mut in_a = cms
        .watch(&kube::api::WatchParams::default().labels("shard=a"), "0")
        .await
        .expect("watch shard=a")
        .boxed();
    let mut unlabelled = cms
        .watch(&kube::api::WatchParams::default().labels("!shard"), "0")
        .await
        .expect("watch !shard")
        .boxed();
    let next = async |events: &mut futures::stream::BoxStream<
        'static,
        kube::Result<kube::api::WatchEvent<ConfigMap>>,
    >| {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(5), events.try_next())
                .await
                .expect("an event within 5s")
                .expect("no error")
                .expect("the watch goes on");
            return match event {
                kube::api::WatchEvent::Added(o) => ("ADDED", o),
                kube::api::WatchEvent::Modified(o) => ("MODIFIED", o),
                kube::api::WatchEvent::Deleted(o) => ("DELETED", o),
                kube::api::WatchEvent::Bookmark(_) => continue,
                kube::api::WatchEvent::Error(e) => panic!("watch error {e:?}"),
            };
        }
    };
    let label_of = |o: &ConfigMap| {
        o.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("shard").cloned())
    };

    cms.create(&PostParams::default(), &labelled(None))
        .await
        .expect("created");
    assert_eq!(next(&mut unlabelled).await.0, "ADDED");
    // Labelled into shard a: it leaves the unlabelled watch (DELETED, as it last matched, at
    // the new resourceVersion) and enters shard a's (ADDED).
    let moved = cms
        .replace("cm", &PostParams::default(), &{
            let mut cm = cms.get("cm").await.expect("cm");
            cm.metadata.labels = Some([("shard".to_string(), "a".to_string())].into());
            cm
        })
        .await
        .expect("relabelled");
    let (type_, left) = next(&mut unlabelled).await;
    assert_eq!(type_, "DELETED");
    assert_eq!(
        label_of(&left),
        None,
        "the object as the watch last selected it"
    );
    assert_eq!(
        left.metadata.resource_version,
        moved.metadata.resource_version
    );
    let (type_, entered) = next(&mut in_a).await;
    assert_eq!(type_, "ADDED");
    assert_eq!(label_of(&entered).as_deref(), Some("a"));
    // A change inside the selection is MODIFIED; out of it, DELETED.
    let mut cm = cms.get("cm").await.expect("cm");
    cm.data = Some([("k".to_string(), "v".to_string())].into());
    cms.replace("cm", &PostParams::default(), &cm)
        .await
        .expect("changed");
    assert_eq!(next(&mut in_a).await.0, "MODIFIED");
    let mut cm = cms.get("cm").await.expect("cm");
    cm.metadata.labels = Some([("shard".to_string(), "b".to_string())].into());
    cms.replace("cm", &PostParams::default(), &cm)
        .await
        .expect("relabelled");
    let (type_, left) = next(&mut in_a).await;
    assert_eq!(type_, "DELETED");
    assert_eq!(label_of(&left).as_deref(), Some("a"));
    // Shard b's label is outside both watches: the unlabelled one saw nothing since.
    cms.delete("cm", &DeleteParams::default())
        .await
        .expect("deleted");
    cms.create(&PostParams::default(), &labelled(None))
        .await
        .expect("created again");
    let (type_, again) = next(&mut unlabelled).await;
    assert_eq!((type_, label_of(&again)), ("ADDED", None));
}

#[tokio::test]
async fn two_contenders_share_one_lease_and_the_second_takes_over() {
    let (_e, client, _w) = setup(Config::default()).await;
    let build = |id: &str| {
        kube_lease_manager::LeaseManagerBuilder::new(client.clone(), "leader")
            .with_namespace("test")
            .with_identity(id)
            // a renews every 2 s: a busy machine's pause does not hand b the lease.
            .with_duration(4)
            .with_grace(2)
            .build()
    };
    let (mut a, a_task) = build("a").await.expect("manager a").watch().await;
    // a leads first.
    tokio::time::timeout(Duration::from_secs(10), async {
        while !*a.borrow_and_update() {
            a.changed().await.expect("a's watch");
        }
    })
    .await
    .expect("a becomes leader");
    let (mut b, _b_task) = build("b").await.expect("manager b").watch().await;
    // While a renews, b does not lead, through more than two lease durations.
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(*a.borrow(), "a still leads");
    assert!(!*b.borrow_and_update(), "b waits while a leads");
    // a steps down (dropping its receiver releases the lease); b takes over.
    drop(a);
    let _ = a_task.await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while !*b.borrow_and_update() {
            b.changed().await.expect("b's watch");
        }
    })
    .await
    .expect("b takes over after a releases");
}

#[tokio::test]
async fn list_pages_continue_after_the_last_key_even_when_objects_are_added_between_pages() {
    let (_e, _c, widgets) = setup(Config::default()).await;
    for name in ["b", "d", "f", "h"] {
        widgets
            .create(&PostParams::default(), &widget(name, 1))
            .await
            .expect("created");
    }
    let first = widgets
        .list(&kube::api::ListParams::default().limit(2))
        .await
        .expect("first page");
    let names = |l: &kube::core::ObjectList<DynamicObject>| {
        l.items
            .iter()
            .filter_map(|o| o.metadata.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first), vec!["b", "d"]);
    assert_eq!(first.metadata.remaining_item_count, Some(2));
    // One before the cursor (not in the next page), one after it (in it).
    for name in ["a", "e"] {
        widgets
            .create(&PostParams::default(), &widget(name, 1))
            .await
            .expect("created");
    }
    let token = first.metadata.continue_.expect("a continue token");
    let rest = widgets
        .list(
            &kube::api::ListParams::default()
                .limit(10)
                .continue_token(&token),
        )
        .await
        .expect("second page");
    assert_eq!(names(&rest), vec!["e", "f", "h"]);
    assert!(rest.metadata.continue_.is_none_or(|c| c.is_empty()));
    let bad = widgets
        .list(&kube::api::ListParams::default().continue_token("not-a-token"))
        .await;
    assert!(
        matches!(bad, Err(kube::Error::Api(ref s)) if s.code == 400),
        "{bad:?}"
    );
}

#[tokio::test]
async fn server_side_apply_records_managers_and_refuses_a_conflicting_apply_unless_forced() {
    let (_e, _c, widgets) = setup(Config::default()).await;
    let config = |size: i64| json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": size}});
    let created = widgets
        .patch("a", &PatchParams::apply("alice"), &Patch::Apply(config(1)))
        .await
        .expect("apply creates");
    let managed = created.metadata.managed_fields.clone().unwrap_or_default();
    assert_eq!(managed.len(), 1, "{managed:?}");
    assert_eq!(managed[0].manager.as_deref(), Some("alice"));
    assert_eq!(managed[0].operation.as_deref(), Some("Apply"));

    let conflict = widgets
        .patch("a", &PatchParams::apply("bob"), &Patch::Apply(config(2)))
        .await;
    match conflict {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(
                s.message
                    .contains(r#"conflict with "alice" using example.com/v1: .spec.size"#),
                "{}",
                s.message
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let forced = widgets
        .patch(
            "a",
            &PatchParams::apply("bob").force(),
            &Patch::Apply(config(2)),
        )
        .await
        .expect("forced apply");
    assert_eq!(forced.data["spec"]["size"], 2);
    assert_eq!(forced.metadata.generation, Some(2));
    // A merge patch is an Update: it never conflicts and takes the field over.
    let patched = widgets
        .patch(
            "a",
            &PatchParams {
                field_manager: Some("carol".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"spec": {"size": 3}})),
        )
        .await
        .expect("merge patch");
    let owners: Vec<(String, String)> = patched
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        owners.contains(&("carol".into(), "Update".into())),
        "{owners:?}"
    );
    assert!(!owners.iter().any(|(m, _)| m == "bob"), "{owners:?}");
}

#[tokio::test]
async fn an_events_k8s_io_event_is_also_a_core_event() {
    let (_e, client, _widgets) = setup(Config::default()).await;
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), "test");
    let event = serde_json::from_value(json!({
        "metadata": {"name": "a.1"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "example.com/controller", "reportingInstance": "c-0",
        "action": "Reconcile", "reason": "Created", "type": "Normal", "note": "made it",
        "regarding": {"apiVersion": "example.com/v1", "kind": "Widget", "name": "a", "namespace": "test", "uid": "u-1"},
    }))
    .expect("event");
    events
        .create(&PostParams::default(), &event)
        .await
        .expect("event created");
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client, "test");
    let listed = core
        .list(&kube::api::ListParams::default().fields("involvedObject.uid=u-1"))
        .await
        .expect("core events");
    assert_eq!(listed.items.len(), 1);
    let e = &listed.items[0];
    assert_eq!(e.message.as_deref(), Some("made it"));
    assert_eq!(e.involved_object.name.as_deref(), Some("a"));
    assert_eq!(
        e.reporting_component.as_deref(),
        Some("example.com/controller")
    );
    events
        .delete("a.1", &DeleteParams::default())
        .await
        .expect("deleted");
    assert!(
        core.list(&Default::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn a_secret_stores_string_data_as_base64_data() {
    let (_e, client, _widgets) = setup(Config::default()).await;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, "test");
    let made = secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "s"},
                "data": {"a": "b2xk", "b": "a2VwdA=="},
                "stringData": {"a": "new", "c": "plain"},
            }))
            .expect("secret"),
        )
        .await
        .expect("created");
    assert_eq!(made.string_data, None, "stringData is write-only");
    let data = made.data.expect("data");
    let text = |k: &str| String::from_utf8(data[k].0.clone()).expect("utf-8");
    assert_eq!(text("a"), "new", "stringData wins over data");
    assert_eq!(text("b"), "kept");
    assert_eq!(text("c"), "plain");
}
