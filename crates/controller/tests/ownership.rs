//! Safe by default, against the arm-emulator: a resource azop did not create is never changed,
//! adopted or deleted unless the object asks to adopt it; tags are merged (azop removes only the
//! tags it applied); an adopted resource is orphaned unless `deletionPolicy: Delete` is written;
//! and two management clusters with their own cluster ids never touch each other's resources.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use azop_api::ResourceGroup;
use azop_api::azure_resource::Ownership;
use azop_api::conditions::STALLED;
use azop_arm::resources::{identity, resource_group};
use azop_controller::azure::Azure;
use azop_controller::engine::EngineConfig;
use azop_controller::metrics::Metrics;
use azop_controller::runner::{self, RunOptions};
use common::{Env, Managed, Options, SUBSCRIPTION, delete_and_wait, rg_id};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

const FOREIGN: &str = "rg-bars-prod";

fn identity_in(group: &str) -> String {
    format!(
        "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/finance-app",
        rg_id(group)
    )
}

/// A group someone else made, with their tag and an identity in it.
async fn seed_foreign_group(env: &Env) {
    Azure::put(
        &env.arm_client,
        &rg_id(FOREIGN),
        resource_group::API_VERSION,
        &json!({"location": "westeurope", "tags": {"owner": "finance"}}),
    )
    .await
    .expect("group seeded");
    Azure::put(
        &env.arm_client,
        &identity_in(FOREIGN),
        identity::API_VERSION,
        &json!({"location": "westeurope"}),
    )
    .await
    .expect("identity seeded");
    env.arm.clear_log();
}

fn group(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "azop.dev/v1alpha1", "kind": "ResourceGroup",
           "metadata": {"name": name, "namespace": "platform"}, "spec": spec})
}

fn tags(env: &Env, id: &str) -> BTreeMap<String, String> {
    let r = env.arm.resource(id).expect("resource exists");
    serde_json::from_value(r["tags"].clone()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_group_azop_did_not_create_is_never_changed_or_deleted() {
    let env = Env::start(Options::default()).await;
    seed_foreign_group(&env).await;

    env.create::<ResourceGroup>(group(
        FOREIGN,
        json!({"location": "westeurope", "tags": {"env": "prod"}}),
    ))
    .await;
    let stalled = env
        .wait_condition::<ResourceGroup>("platform", FOREIGN, STALLED)
        .await;
    assert_eq!(stalled.reason, "AlreadyExists", "{stalled:?}");
    assert!(
        stalled.message.contains(&rg_id(FOREIGN)) && stalled.message.contains("spec.adopt"),
        "the message names the resource and how to adopt it: {}",
        stalled.message
    );
    assert_eq!(
        env.writes(),
        0,
        "no ARM write for a resource azop did not create"
    );
    assert_eq!(
        tags(&env, &rg_id(FOREIGN)),
        BTreeMap::from([("owner".to_string(), "finance".to_string())])
    );

    delete_and_wait::<ResourceGroup>(&env, "platform", FOREIGN).await;
    assert_eq!(
        env.writes(),
        0,
        "deleting the object deletes nothing in Azure"
    );
    assert!(
        env.arm.resource(&rg_id(FOREIGN)).is_some(),
        "the group stays"
    );
    assert!(
        env.arm.resource(&identity_in(FOREIGN)).is_some(),
        "the identity in it stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adoption_merges_tags_and_orphans_unless_delete_is_written() {
    let env = Env::start(Options::default()).await;
    seed_foreign_group(&env).await;

    env.create::<ResourceGroup>(group(
        FOREIGN,
        json!({"location": "westeurope", "adopt": true, "tags": {"env": "prod", "tier": "1"}}),
    ))
    .await;
    let adopted = env.wait_ready::<ResourceGroup>("platform", FOREIGN).await;
    assert_eq!(adopted.azure().ownership, Some(Ownership::Adopted));
    let t = tags(&env, &rg_id(FOREIGN));
    assert_eq!(t.get("owner").map(String::as_str), Some("finance"), "{t:?}");
    assert_eq!(t.get("env").map(String::as_str), Some("prod"), "{t:?}");
    assert_eq!(
        t.get("azop.dev/owner").map(String::as_str),
        Some("test/platform/ResourceGroup/rg-bars-prod")
    );

    // The spec drops a tag azop applied: azop removes it, and only it.
    Api::<ResourceGroup>::namespaced(env.client.clone(), "platform")
        .patch(
            FOREIGN,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"tags": {"tier": null}}})),
        )
        .await
        .expect("patched");
    for _ in 0..100 {
        if !tags(&env, &rg_id(FOREIGN)).contains_key("tier") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = tags(&env, &rg_id(FOREIGN));
    assert!(!t.contains_key("tier"), "the dropped tag is gone: {t:?}");
    assert_eq!(t.get("owner").map(String::as_str), Some("finance"), "{t:?}");
    assert_eq!(t.get("env").map(String::as_str), Some("prod"), "{t:?}");

    // No deletionPolicy written: the adopted group is orphaned.
    delete_and_wait::<ResourceGroup>(&env, "platform", FOREIGN).await;
    assert!(env.arm.resource(&rg_id(FOREIGN)).is_some(), "orphaned");
    assert_eq!(env.requests("DELETE", FOREIGN), 0);

    // Adopted again, with deletionPolicy: Delete written: the object may delete it. Its
    // ownership tag still names the same object, so it is recognised as its own.
    env.create::<ResourceGroup>(group(
        FOREIGN,
        json!({"location": "westeurope", "adopt": true, "deletionPolicy": "Delete"}),
    ))
    .await;
    env.wait_ready::<ResourceGroup>("platform", FOREIGN).await;
    // The finance identity in it is not azop's: it holds the delete until it is gone.
    Api::<ResourceGroup>::namespaced(env.client.clone(), "platform")
        .delete(FOREIGN, &DeleteParams::default())
        .await
        .expect("delete asked");
    let held = env
        .wait_condition::<ResourceGroup>("platform", FOREIGN, STALLED)
        .await;
    assert_eq!(held.reason, "ForeignResources", "{held:?}");
    assert!(env.arm.resource(&identity_in(FOREIGN)).is_some());
    Azure::delete(
        &env.arm_client,
        &identity_in(FOREIGN),
        identity::API_VERSION,
    )
    .await
    .expect("finance removes its identity");
    for _ in 0..300 {
        let gone = Api::<ResourceGroup>::namespaced(env.client.clone(), "platform")
            .get_opt(FOREIGN)
            .await
            .expect("read")
            .is_none();
        if gone {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..100 {
        if env.arm.resource(&rg_id(FOREIGN)).is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("an adopted group with deletionPolicy: Delete is deleted with its object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_someone_else_added_survive_azops_updates() {
    let env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(group(
        "rg-mine",
        json!({"location": "westeurope", "tags": {"env": "dev"}}),
    ))
    .await;
    let created = env.wait_ready::<ResourceGroup>("platform", "rg-mine").await;
    assert_eq!(created.azure().ownership, Some(Ownership::Created));
    env.arm.modify_resource(&rg_id("rg-mine"), |r| {
        r["tags"]["cost-center"] = json!("42");
    });
    Api::<ResourceGroup>::namespaced(env.client.clone(), "platform")
        .patch(
            "rg-mine",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"tags": {"env": "prod"}}})),
        )
        .await
        .expect("patched");
    for _ in 0..100 {
        if tags(&env, &rg_id("rg-mine")).get("env").map(String::as_str) == Some("prod") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = tags(&env, &rg_id("rg-mine"));
    assert_eq!(t.get("env").map(String::as_str), Some("prod"), "{t:?}");
    assert_eq!(
        t.get("cost-center").map(String::as_str),
        Some("42"),
        "a tag azop did not set is kept: {t:?}"
    );
}

/// A second management cluster: its own kube-emulator and operator (cluster id `other`), the
/// same Azure.
struct OtherCluster {
    _kube: kube_emulator::KubeEmulator,
    client: Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for OtherCluster {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

async fn other_cluster(env: &Env) -> OtherCluster {
    let (kube, client) = common::kube_with_crds().await;
    common::create_namespace(&client, "platform", json!({})).await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let azure = Arc::new(env.arm_client.clone()) as Arc<dyn Azure>;
    let config = EngineConfig {
        cluster_id: "other".into(),
        platform_namespaces: vec!["platform".into()],
        default_subscription_id: SUBSCRIPTION.into(),
        default_tenant_id: arm_emulator::Config::default().tenant_id,
        sync_period: Duration::from_secs(2),
        ..EngineConfig::default()
    };
    let op_client = client.clone();
    tokio::spawn(async move {
        let _ = runner::run(
            op_client,
            azure,
            config,
            RunOptions::default(),
            Arc::new(Metrics::default()),
            async {
                let _ = rx.await;
            },
        )
        .await;
    });
    OtherCluster {
        _kube: kube,
        client,
        stop: Some(tx),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_management_clusters_never_touch_each_others_resources() {
    let env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(group(
        "rg-shared-name",
        json!({"location": "westeurope", "tags": {"cluster": "one"}}),
    ))
    .await;
    env.wait_ready::<ResourceGroup>("platform", "rg-shared-name")
        .await;
    let writes_before = env.writes();

    let other = other_cluster(&env).await;
    let api: Api<ResourceGroup> = Api::namespaced(other.client.clone(), "platform");
    let same: ResourceGroup = serde_json::from_value(group(
        "rg-shared-name",
        json!({"location": "westeurope", "tags": {"cluster": "two"}}),
    ))
    .expect("object");
    api.create(&PostParams::default(), &same)
        .await
        .expect("created in the other cluster");
    let mut reason = String::new();
    for _ in 0..100 {
        let o = api.get("rg-shared-name").await.expect("read");
        if let Some(c) = azop_api::conditions::find(&o.azure().conditions, STALLED)
            && c.status == "True"
        {
            reason = c.reason.clone();
            assert!(
                c.message
                    .contains("test/platform/ResourceGroup/rg-shared-name")
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reason, "OwnedByAnotherObject");

    // Deleting it in the other cluster deletes nothing.
    api.delete("rg-shared-name", &DeleteParams::default())
        .await
        .expect("deleted");
    for _ in 0..100 {
        if api.get_opt("rg-shared-name").await.expect("read").is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        env.writes(),
        writes_before,
        "the other cluster's operator wrote nothing"
    );
    let t = tags(&env, &rg_id("rg-shared-name"));
    assert_eq!(t.get("cluster").map(String::as_str), Some("one"), "{t:?}");
    drop(other);
}

/// Role assignments carry no tags: the deterministic name and azop's mark in the description
/// say whose one is. An assignment someone else made for the same principal, role and scope is
/// not azop's: the object is Ready (the principal has the role), and deleting the object leaves
/// that assignment alone. One with azop's very name but without its mark is AlreadyExists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_assignments_someone_else_made_are_never_deleted_or_taken() {
    use azop_api::{FederatedIdentity, RoleAssignment};
    use azop_controller::kinds::role_assignment::assignment_name;

    let env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(group("rg-ra", json!({"location": "westeurope"})))
        .await;
    env.wait_ready::<ResourceGroup>("platform", "rg-ra").await;
    env.create::<FederatedIdentity>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity",
        "metadata": {"name": "app", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg-ra"}, "issuer": {"url": "https://issuer.example.com"},
                 "serviceAccount": {"name": "app", "create": true}}}))
    .await;
    let fi = env.wait_ready::<FederatedIdentity>("platform", "app").await;
    let principal = fi
        .status
        .and_then(|s| s.principal_id)
        .expect("principal id");
    let scope = rg_id("rg-ra");
    let reader = format!(
        "/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
    );
    let contributor = format!(
        "/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"
    );
    let api_version = azop_arm::resources::role_assignment::API_VERSION;
    let body = |role: &str| {
        json!({"properties": {"roleDefinitionId": role, "principalId": principal,
                              "principalType": "ServicePrincipal"}})
    };
    // Someone grants Reader under a name of their own, and Contributor under azop's name.
    let theirs = format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
        "5a5a5a5a-0000-4000-8000-000000000001"
    );
    Azure::put(&env.arm_client, &theirs, api_version, &body(&reader))
        .await
        .expect("their Reader");
    let same_name = format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
        assignment_name(&scope, &principal, &contributor)
    );
    Azure::put(
        &env.arm_client,
        &same_name,
        api_version,
        &body(&contributor),
    )
    .await
    .expect("their Contributor");
    env.arm.clear_log();

    let ra = |name: &str, role: &str| {
        json!({"apiVersion": "azop.dev/v1alpha1", "kind": "RoleAssignment",
               "metadata": {"name": name, "namespace": "platform"},
               "spec": {"principal": {"federatedIdentity": {"name": "app"}}, "role": role,
                        "scope": {"resourceGroupRef": {"name": "rg-ra"}}}})
    };
    env.create::<RoleAssignment>(ra("reader", "Reader")).await;
    let reader = env.wait_ready::<RoleAssignment>("platform", "reader").await;
    assert_eq!(
        reader.azure().ownership,
        None,
        "the principal has the role through someone else's assignment: azop owns nothing"
    );
    env.create::<RoleAssignment>(ra("contributor", "Contributor"))
        .await;
    let stalled = env
        .wait_condition::<RoleAssignment>("platform", "contributor", STALLED)
        .await;
    assert_eq!(stalled.reason, "AlreadyExists", "{stalled:?}");

    delete_and_wait::<RoleAssignment>(&env, "platform", "reader").await;
    delete_and_wait::<RoleAssignment>(&env, "platform", "contributor").await;
    assert_eq!(
        env.requests(
            "DELETE",
            "/roleAssignments/5a5a5a5a-0000-4000-8000-000000000001"
        ) + env.requests("DELETE", &same_name),
        0,
        "neither assignment someone else made is deleted"
    );
    assert!(env.arm.resource(&theirs).is_some());
    assert!(env.arm.resource(&same_name).is_some());
}

/// Deleting a group deletes what is in it, so a group azop created goes only once it is empty
/// of everything else: what someone else put in it holds the delete (`Stalled
/// ForeignResources`, no DELETE), and what other objects own is waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_not_deleted_with_resources_azop_did_not_create_in_it() {
    use azop_api::FederatedIdentity;

    let env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(group("rg-shared", json!({"location": "westeurope"})))
        .await;
    env.wait_ready::<ResourceGroup>("platform", "rg-shared")
        .await;
    env.create::<FederatedIdentity>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity",
        "metadata": {"name": "app", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg-shared"},
                 "issuer": {"url": "https://issuer.example.com"}, "serviceAccount": {"name": "app", "create": true}}}))
    .await;
    env.wait_ready::<FederatedIdentity>("platform", "app").await;
    // Someone else puts an identity of their own in azop's group.
    let theirs = identity_in("rg-shared");
    Azure::put(
        &env.arm_client,
        &theirs,
        identity::API_VERSION,
        &json!({"location": "westeurope"}),
    )
    .await
    .expect("their identity");

    let api: Api<ResourceGroup> = Api::namespaced(env.client.clone(), "platform");
    api.delete("rg-shared", &DeleteParams::default())
        .await
        .expect("delete asked");
    let stalled = env
        .wait_condition::<ResourceGroup>("platform", "rg-shared", STALLED)
        .await;
    assert_eq!(stalled.reason, "ForeignResources", "{stalled:?}");
    assert!(
        stalled.message.contains("finance-app"),
        "{}",
        stalled.message
    );
    assert_eq!(env.requests("DELETE", "/resourceGroups/rg-shared"), 0);
    assert!(env.arm.resource(&theirs).is_some());

    // Their identity goes; azop's own identity's object still exists, so the group waits.
    Azure::delete(&env.arm_client, &theirs, identity::API_VERSION)
        .await
        .expect("their identity deleted");
    for _ in 0..150 {
        let o = api.get("rg-shared").await.expect("read");
        if azop_api::conditions::find(&o.azure().conditions, azop_api::conditions::READY)
            .is_some_and(|c| c.reason == "WaitingForDependency")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(env.requests("DELETE", "/resourceGroups/rg-shared"), 0);

    // Once the FederatedIdentity's object deletes its identity, the group goes.
    delete_and_wait::<FederatedIdentity>(&env, "platform", "app").await;
    for _ in 0..200 {
        if api.get_opt("rg-shared").await.expect("read").is_none() {
            assert!(
                env.arm.resource(&rg_id("rg-shared")).is_none()
                    || env.requests("DELETE", "/resourceGroups/rg-shared") == 1
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the emptied group was not deleted");
}

/// What an object orphaned keeps its mark, but no object owns it any more: it holds the
/// group's delete like anything azop did not create, instead of being waited for forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphaned_resource_holds_its_groups_delete() {
    use azop_api::FederatedIdentity;

    let env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(group("rg-orphan", json!({"location": "westeurope"})))
        .await;
    env.wait_ready::<ResourceGroup>("platform", "rg-orphan")
        .await;
    env.create::<FederatedIdentity>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity",
        "metadata": {"name": "kept", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg-orphan"}, "deletionPolicy": "Orphan",
                 "issuer": {"url": "https://issuer.example.com"}, "serviceAccount": {"name": "kept", "create": true}}}))
    .await;
    env.wait_ready::<FederatedIdentity>("platform", "kept")
        .await;
    delete_and_wait::<FederatedIdentity>(&env, "platform", "kept").await;
    Api::<ResourceGroup>::namespaced(env.client.clone(), "platform")
        .delete("rg-orphan", &DeleteParams::default())
        .await
        .expect("delete asked");
    let held = env
        .wait_condition::<ResourceGroup>("platform", "rg-orphan", STALLED)
        .await;
    assert_eq!(held.reason, "ForeignResources", "{held:?}");
    assert!(
        held.message.contains("userAssignedIdentities/kept"),
        "{}",
        held.message
    );
    assert_eq!(env.requests("DELETE", "/resourceGroups/rg-orphan"), 0);
}
