//! A new object is acknowledged (observedGeneration, Reconciling=True) by the acknowledger's
//! own workers, and an acknowledgement never overwrites conditions a pass wrote first.

mod common;

use std::time::Duration;

use azop_api::ResourceGroup;
use azop_api::azure_resource::AzureBacked;
use azop_api::conditions::{self, RECONCILING};
use azop_controller::acknowledge::Acknowledger;
use common::{create_namespace, kube_with_crds, rg};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_object_is_acknowledged_and_a_pass_is_never_overwritten() {
    let (_kube, client) = kube_with_crds().await;
    create_namespace(&client, "team-a", json!({})).await;
    let api: Api<ResourceGroup> = Api::namespaced(client.clone(), "team-a");
    let (ack, task) = Acknowledger::start(client.clone(), |g: &ResourceGroup| {
        !g.common_status().conditions.is_empty()
    });
    let task = tokio::spawn(task);

    // New: acknowledged.
    let fresh: ResourceGroup =
        serde_json::from_value(rg("team-a", "fresh", "westeurope", "Delete")).expect("group");
    let fresh = api
        .create(&PostParams::default(), &fresh)
        .await
        .expect("created");
    ack.saw(&fresh);
    let mut acknowledged = None;
    for _ in 0..50 {
        let g = api.get("fresh").await.expect("read");
        if !g.common_status().conditions.is_empty() {
            acknowledged = Some(g.common_status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = acknowledged.expect("acknowledged");
    assert_eq!(s.observed_generation, 1);
    let reconciling = conditions::find(&s.conditions, RECONCILING).expect("Reconciling");
    assert_eq!(reconciling.status, "True");

    // A pass wrote first; the acknowledger works from a copy without conditions: it writes
    // nothing.
    let raced: ResourceGroup =
        serde_json::from_value(rg("team-a", "raced", "westeurope", "Delete")).expect("group");
    let stale = api
        .create(&PostParams::default(), &raced)
        .await
        .expect("created");
    let pass = json!({"status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True",
        "reason": "Succeeded", "message": "in sync with Azure", "observedGeneration": 1,
        "lastTransitionTime": "2026-12-01T00:00:00Z"}]}});
    api.patch_status("raced", &PatchParams::default(), &Patch::Merge(&pass))
        .await
        .expect("the pass's status");
    ack.saw(&stale);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = api.get("raced").await.expect("read").common_status();
    assert_eq!(
        s.conditions.len(),
        1,
        "the pass's status stands: {:?}",
        s.conditions
    );
    assert_eq!(s.conditions[0].status, "True");
    task.abort();
}
