//! AksCluster on the days after it was made: what a platform team changes, and the ARM writes
//! each change causes (counted from the arm-emulator's request log).

mod common;

use std::time::Duration;

use azop_api::{AksCluster, ResourceGroup};
use common::{Env, Managed, Options, rg};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_things_off_is_applied_in_one_update() {
    let mut env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(rg("platform", "rg1", "westeurope", "Delete"))
        .await;
    env.create::<AksCluster>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AksCluster",
        "metadata": {"name": "aks1", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg1"}, "kubernetesVersion": "1.31",
                 "dnsPrefix": "aks1", "addons": {"azurePolicy": true},
                 "apiServer": {"authorizedIpRanges": ["203.0.113.0/24"]},
                 "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5", "count": 1}]}}))
        .await;
    let id = env
        .wait_ready_within::<AksCluster>("platform", "aks1", Duration::from_secs(30))
        .await
        .azure()
        .resource_id
        .expect("cluster id");
    let stored = env.arm.resource(&id).expect("cluster");
    assert_eq!(
        stored["properties"]["addonProfiles"]["azurepolicy"]["enabled"],
        true
    );
    assert_eq!(
        stored["properties"]["apiServerAccessProfile"]["authorizedIPRanges"],
        json!(["203.0.113.0/24"])
    );

    let writes = env.writes();
    let api: Api<AksCluster> = Api::namespaced(env.client.clone(), "platform");
    api.patch(
        "aks1",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"addons": {"azurePolicy": false},
                                      "apiServer": {"authorizedIpRanges": []}}})),
    )
    .await
    .expect("turned off");
    let after = env
        .wait_ready_within::<AksCluster>("platform", "aks1", Duration::from_secs(30))
        .await;
    assert_eq!(after.metadata.generation, Some(2));
    let stored = env.arm.resource(&id).expect("cluster");
    assert_eq!(
        stored["properties"]["addonProfiles"]["azurepolicy"]["enabled"], false,
        "the addon is off in Azure"
    );
    let ranges = &stored["properties"]["apiServerAccessProfile"]["authorizedIPRanges"];
    assert!(
        ranges.is_null() || ranges == &json!([]),
        "no authorized ranges left: {ranges}"
    );
    assert_eq!(
        env.writes() - writes,
        1,
        "one update of the cluster for the change"
    );
    env.stop_operator().await;
}
