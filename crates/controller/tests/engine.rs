//! The reconcile engine end to end against the kube-emulator and the arm-emulator (through the
//! real ARM client): objects become Ready as kstatus reads them, resources carry the ownership
//! tag, a steady state makes no writes, drift is corrected, a long-running operation is polled
//! (never re-sent) across a restart, deletion honours deletionPolicy, and another object's
//! resource is never touched.

mod common;

use std::time::Duration;

use azop_api::conditions;
use azop_api::{AksCluster, FederatedIdentity, KeyVault, ResourceGroup, RoleAssignment};
use common::{Env, Managed, Options, rg, rg_id};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_become_ready_tagged_and_quiet_in_steady_state() {
    let mut env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(rg("platform", "rg1", "westeurope", "Delete"))
        .await;
    env.create::<KeyVault>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVault", "metadata": {"name": "kv1", "namespace": "platform"},
        "spec": {"azureName": "azop-kv1", "location": "westeurope", "resourceGroupRef": {"name": "rg1"}}})).await;
    env.create::<FederatedIdentity>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity", "metadata": {"name": "app", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg1"}, "issuer": {"self": {}}, "serviceAccount": {"name": "app", "create": true}}})).await;
    env.create::<RoleAssignment>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "RoleAssignment", "metadata": {"name": "app-reader", "namespace": "platform"},
        "spec": {"principal": {"federatedIdentity": {"name": "app"}}, "role": "Reader", "scope": {"resourceGroupRef": {"name": "rg1"}}}})).await;

    let rg1 = env.wait_ready::<ResourceGroup>("platform", "rg1").await;
    let status = rg1.azure();
    assert_eq!(status.observed_generation, 1);
    let id = status.resource_id.expect("resource id");
    let stored = env.arm.resource(&id).expect("group in Azure");
    assert_eq!(
        stored["tags"]["azop.dev/owner"],
        "test/platform/ResourceGroup/rg1"
    );
    assert_eq!(stored["tags"]["env"], "test");

    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(env.client.clone(), "platform");
    // The Event follows the status write that made the group Ready: looked for a few times.
    let mut reasons: Vec<String> = Vec::new();
    for _ in 0..50 {
        reasons = events
            .list(&Default::default())
            .await
            .expect("events")
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("rg1"))
            .filter_map(|e| e.reason)
            .collect();
        if reasons.iter().any(|r| r == "Succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reasons.iter().any(|r| r == "Succeeded"),
        "a Ready transition is an Event: {reasons:?}"
    );

    let kv = env.wait_ready::<KeyVault>("platform", "kv1").await;
    let kv_id = kv.azure().resource_id.expect("vault id");
    let vault = env.arm.resource(&kv_id).expect("vault in Azure");
    assert_eq!(
        kv.status.and_then(|s| s.vault_uri).as_deref(),
        vault["properties"]["vaultUri"].as_str(),
        "status carries the vault URI Azure reports"
    );

    let fi = env.wait_ready::<FederatedIdentity>("platform", "app").await;
    let fs = fi.status.expect("status");
    assert_eq!(
        fs.subject.as_deref(),
        Some("system:serviceaccount:platform:app")
    );
    let sa: Api<ServiceAccount> = Api::namespaced(env.client.clone(), "platform");
    let sa = sa.get("app").await.expect("ServiceAccount created");
    assert_eq!(
        sa.metadata
            .annotations
            .unwrap_or_default()
            .get("azure.workload.identity/client-id"),
        fs.client_id.as_ref()
    );
    let cred = env
        .arm
        .resource(fs.credential_id.as_deref().expect("credential id"))
        .expect("credential in Azure");
    assert_eq!(cred["properties"]["issuer"], "https://issuer.example.com");

    let ra = env
        .wait_ready::<RoleAssignment>("platform", "app-reader")
        .await;
    let ra_id = ra.azure().resource_id.expect("assignment id");
    let stored = env.arm.resource(&ra_id).expect("assignment in Azure");
    assert_eq!(stored["properties"]["principalId"], json!(fs.principal_id));
    assert_eq!(stored["properties"]["principalType"], "ServicePrincipal");

    // Steady state: sync periods pass (2s here), reads happen, writes do not.
    let writes = env.writes();
    let reads = env.requests("GET", "/resourceGroups/rg1");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(env.writes(), writes, "no writes in steady state");
    assert!(
        env.requests("GET", "/resourceGroups/rg1") > reads,
        "drift is checked by reading"
    );
    env.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_made_outside_kubernetes_is_corrected_at_the_next_sync() {
    let mut env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(rg("platform", "rg1", "westeurope", "Delete"))
        .await;
    let o = env.wait_ready::<ResourceGroup>("platform", "rg1").await;
    let id = o.azure().resource_id.expect("id");
    assert!(
        env.arm
            .modify_resource(&id, |b| b["tags"]["env"] = json!("changed-by-hand")),
        "the group exists in Azure"
    );
    for _ in 0..60 {
        if env.arm.resource(&id).expect("stored")["tags"]["env"] == "test" {
            env.stop_operator().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("drift not corrected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_a_long_running_create_resumes_polling_without_a_second_put() {
    // A cluster create runs 6 s in the emulator: long enough to stop the operator mid-way, on
    // a busy machine too.
    let mut env = Env::start(Options {
        lro_duration: Duration::from_secs(6),
        ..Options::default()
    })
    .await;
    env.create::<ResourceGroup>(rg("platform", "rg1", "westeurope", "Delete"))
        .await;
    env.create::<AksCluster>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AksCluster", "metadata": {"name": "aks1", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg1"}, "kubernetesVersion": "1.31", "dnsPrefix": "aks1",
                 "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5", "count": 1}]}})).await;
    let api: Api<AksCluster> = Api::namespaced(env.client.clone(), "platform");
    // Wait until the operation is recorded in status, then stop the operator.
    let mut recorded = false;
    for _ in 0..150 {
        recorded = api
            .get("aks1")
            .await
            .expect("read")
            .azure()
            .operation
            .is_some();
        if recorded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recorded, "operation recorded");
    env.stop_operator().await;
    let cluster = "/managedClusters/aks1";
    let stopped_at = env.arm.request_log().len();
    let id = api
        .get("aks1")
        .await
        .expect("read")
        .azure()
        .resource_id
        .expect("id");
    assert_ne!(
        env.arm.resource(&id).expect("cluster in Azure")["properties"]["provisioningState"],
        "Succeeded",
        "stopped while the create still ran"
    );
    env.start_operator();
    env.wait_ready::<AksCluster>("platform", "aks1").await;
    assert_eq!(
        env.requests("PUT", cluster),
        1,
        "the cluster was PUT exactly once"
    );
    let resumed_polls = env.arm.request_log()[stopped_at..]
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/operationStatuses/"))
        .count();
    assert!(
        resumed_polls >= 1,
        "the operation was polled after the restart"
    );
    env.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policy_decides_whether_azure_resources_go() {
    let mut env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(rg("platform", "gone", "westeurope", "Delete"))
        .await;
    env.create::<ResourceGroup>(rg("platform", "kept", "westeurope", "Orphan"))
        .await;
    let mut ids = Vec::new();
    for n in ["gone", "kept"] {
        let o = env.wait_ready::<ResourceGroup>("platform", n).await;
        ids.push(o.azure().resource_id.expect("id"));
    }
    let api: Api<ResourceGroup> = Api::namespaced(env.client.clone(), "platform");
    for n in ["gone", "kept"] {
        api.delete(n, &DeleteParams::default())
            .await
            .expect("delete");
    }
    for _ in 0..100 {
        if api.get_opt("gone").await.expect("read").is_none()
            && api.get_opt("kept").await.expect("read").is_none()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        api.get_opt("gone").await.expect("read").is_none()
            && api.get_opt("kept").await.expect("read").is_none(),
        "finalizers released"
    );
    assert!(
        env.arm.resource(&ids[0]).is_none(),
        "Delete removed the group"
    );
    assert!(env.arm.resource(&ids[1]).is_some(), "Orphan left the group");
    assert_eq!(
        env.requests("DELETE", "/resourceGroups/kept"),
        0,
        "Orphan sent no DELETE"
    );
    env.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_status_write_was_lost_is_still_deleted_with_its_object() {
    // The operator created the group and stopped before its status recorded the id; the object
    // was deleted while it was down. The fault suite's SIGKILLs found this leak.
    let mut env = Env::start(Options::default()).await;
    env.stop_operator().await;
    let id = rg_id("lost");
    azop_controller::azure::Azure::put(
        &env.arm_client,
        &id,
        azop_arm::resources::resource_group::API_VERSION,
        &json!({"location": "westeurope",
                "tags": {"azop.dev/owner": "test/platform/ResourceGroup/lost", "team": "a"}}),
    )
    .await
    .expect("group made as azop makes it");
    let mut obj = rg("platform", "lost", "westeurope", "Delete");
    obj["metadata"]["finalizers"] = json!([azop_api::FINALIZER]);
    env.create::<ResourceGroup>(obj).await;
    env.arm.clear_log();
    common::delete_while_stopped::<ResourceGroup>(&mut env, "platform", "lost").await;
    assert!(
        env.arm.resource(&id).is_none(),
        "the group the lost status never named is deleted"
    );
    assert_eq!(env.requests("DELETE", "/resourceGroups/lost"), 1);
    assert_eq!(env.writes(), 1, "nothing else written");
    env.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_object_without_a_status_cannot_delete_what_another_object_owns() {
    // Hostile: an object with no status whose spec names a group another object owns (or
    // nobody azop knows), deleted before the operator ever looked at it.
    let mut env = Env::start(Options::default()).await;
    env.stop_operator().await;
    for (group, owner) in [
        ("owned", Some("test/platform/ResourceGroup/owner")),
        ("foreign", None),
    ] {
        let mut tags = json!({"team": "a"});
        if let Some(o) = owner {
            tags["azop.dev/owner"] = json!(o);
        }
        azop_controller::azure::Azure::put(
            &env.arm_client,
            &rg_id(group),
            azop_arm::resources::resource_group::API_VERSION,
            &json!({"location": "westeurope", "tags": tags}),
        )
        .await
        .expect("group made");
        let mut obj = rg(
            "platform",
            &format!("thief-{group}"),
            "westeurope",
            "Delete",
        );
        obj["spec"]["azureName"] = json!(group);
        obj["metadata"]["finalizers"] = json!([azop_api::FINALIZER]);
        env.create::<ResourceGroup>(obj).await;
    }
    env.arm.clear_log();
    common::delete_while_stopped::<ResourceGroup>(&mut env, "platform", "thief-owned").await;
    env.stop_operator().await;
    common::delete_while_stopped::<ResourceGroup>(&mut env, "platform", "thief-foreign").await;
    for group in ["owned", "foreign"] {
        assert!(env.arm.resource(&rg_id(group)).is_some(), "{group} stays");
    }
    assert_eq!(env.writes(), 0, "no ARM write");
    env.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_owned_by_another_object_is_never_touched() {
    let mut env = Env::start(Options::default()).await;
    let id = rg_id("rg1");
    env.arm_client
        .put(
            &id,
            "2025-04-01",
            &json!({"location": "westeurope", "tags": {"azop.dev/owner": "other-cluster/ns/ResourceGroup/rg1"}}),
        )
        .await
        .expect("group made by another owner");
    env.arm.clear_log();
    env.create::<ResourceGroup>(rg("platform", "rg1", "westeurope", "Delete"))
        .await;
    let c = env
        .wait_condition::<ResourceGroup>("platform", "rg1", conditions::STALLED)
        .await;
    assert_eq!(c.reason, "OwnedByAnotherObject");
    assert_eq!(
        env.requests("PUT", "/resourceGroups/rg1"),
        0,
        "never written"
    );
    // A metadata-only change wakes nothing that writes.
    Api::<ResourceGroup>::namespaced(env.client.clone(), "platform")
        .patch(
            "rg1",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("labelled");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.writes(), 0, "still never written");
    assert_eq!(
        env.arm.resource(&id).expect("still there")["tags"]["azop.dev/owner"],
        "other-cluster/ns/ResourceGroup/rg1"
    );
    env.stop_operator().await;
}

/// Status is writable by whoever may write the object's status subresource, so a forged
/// `status.children` or `status.resourceId` must not make azop delete what it did not create
/// for this object: another identity's credential, another object's identity, a resource group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_status_cannot_make_a_delete_reach_other_resources() {
    let mut env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(rg("platform", "rg1", "westeurope", "Orphan"))
        .await;
    for name in ["mine", "theirs"] {
        env.create::<FederatedIdentity>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity",
            "metadata": {"name": name, "namespace": "platform"},
            "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg1"}, "issuer": {"self": {}},
                     "serviceAccount": {"name": name, "create": true}}}))
            .await;
    }
    let theirs = env
        .wait_ready::<FederatedIdentity>("platform", "theirs")
        .await
        .status
        .expect("status");
    let mine = env
        .wait_ready::<FederatedIdentity>("platform", "mine")
        .await
        .status
        .expect("status");
    let their_identity = theirs.azure.resource_id.clone().expect("identity id");
    let their_credential = theirs.credential_id.clone().expect("credential id");
    let my_credential = mine.credential_id.clone().expect("credential id");

    // "mine" claims their credential and the resource group as its children.
    let api: Api<FederatedIdentity> = Api::namespaced(env.client.clone(), "platform");
    api.patch_status(
        "mine",
        &PatchParams::default(),
        &Patch::Merge(
            &json!({"status": {"children": [rg_id("rg1"), their_credential, my_credential]}}),
        ),
    )
    .await
    .expect("status forged");
    env.arm.clear_log();
    delete_and_wait(&api, "mine").await;
    assert!(
        env.arm.resource(&their_credential).is_some(),
        "their credential stays"
    );
    assert!(env.arm.resource(&rg_id("rg1")).is_some(), "the group stays");
    assert!(
        env.arm.resource(&my_credential).is_none(),
        "my own credential went"
    );
    assert_eq!(env.requests("DELETE", "/resourceGroups/rg1"), 0);

    // "theirs" now points its resourceId at an identity it does not own: nothing is deleted.
    let mine_identity = mine.azure.resource_id.clone().expect("identity id");
    assert!(
        env.arm.resource(&mine_identity).is_none(),
        "my identity went"
    );
    api.patch_status(
        "theirs",
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"resourceId": rg_id("rg1"), "children": [format!("{}/x", rg_id("rg1"))]}})),
    )
    .await
    .expect("status forged");
    env.arm.clear_log();
    delete_and_wait(&api, "theirs").await;
    assert!(env.arm.resource(&rg_id("rg1")).is_some(), "the group stays");
    assert_eq!(
        env.writes(),
        0,
        "no DELETE for a resource this object does not own"
    );
    assert!(
        env.arm.resource(&their_identity).is_some(),
        "left as it is, orphaned"
    );
    env.stop_operator().await;
}

/// Deletes an object and waits (10 s at most) until its finalizer has let it go.
async fn delete_and_wait(api: &Api<FederatedIdentity>, name: &str) {
    api.delete(name, &DeleteParams::default())
        .await
        .expect("deleted");
    for _ in 0..100 {
        if api.get_opt(name).await.expect("read").is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} was never let go");
}
