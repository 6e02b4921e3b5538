//! KeyVaultBinding against the arm-emulator: the gate refuses before any Azure request; the
//! role assignments are made once, shared by the bindings that need the same one, and deleted
//! only when no binding needs them any more.

mod common;

use std::time::Duration;

use azop_api::conditions::{self, READY, STALLED};
use azop_api::{AzureProfile, FederatedIdentity, KeyVault, KeyVaultBinding, ResourceGroup};
use common::{Env, Options, SUBSCRIPTION, create_namespace, delete_and_wait, rg};
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

const VAULT: &str = "azop-bind-kv";

async fn create_binding(env: &Env, obj: Value) {
    let b: KeyVaultBinding = serde_json::from_value(obj).expect("valid binding");
    Api::<KeyVaultBinding>::namespaced(env.client.clone(), &b.namespace().expect("namespaced"))
        .create(&PostParams::default(), &b)
        .await
        .expect("created");
}

fn binding(ns: &str, name: &str, role: &str, secrets: &[&str]) -> Value {
    json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVaultBinding",
           "metadata": {"name": name, "namespace": ns},
           "spec": {"vaultRef": {"name": "kv", "namespace": "platform"},
                    "identityRef": {"name": "orders"}, "role": role, "secrets": secrets}})
}

async fn binding_condition(env: &Env, ns: &str, name: &str, type_: &str) -> (String, String) {
    let api: Api<KeyVaultBinding> = Api::namespaced(env.client.clone(), ns);
    for _ in 0..150 {
        let b = api.get(name).await.expect("read");
        let status = b.status.clone().unwrap_or_default();
        if let Some(c) = conditions::find(&status.basic.conditions, type_)
            && c.status == "True"
            && (type_ != READY
                || status.basic.observed_generation == b.metadata.generation.unwrap_or(0))
        {
            return (c.reason.clone(), c.message.clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let b = api.get(name).await.expect("read");
    panic!("{ns}/{name} never {type_}: {:?}", b.status);
}

async fn held(env: &Env, ns: &str, name: &str) -> Vec<String> {
    let b = Api::<KeyVaultBinding>::namespaced(env.client.clone(), ns)
        .get(name)
        .await
        .expect("read");
    b.status.unwrap_or_default().role_assignment_ids
}

fn role_assignment_writes(env: &Env) -> usize {
    env.arm
        .request_log()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/roleAssignments/"))
        .count()
}

/// The platform's vault, which namespaces labelled vault-access=true may bind as SecretsUser;
/// team-a (selected) and team-b (not), each with a FederatedIdentity `orders`.
async fn vault_and_teams(env: &Env) {
    // The platform's vault, which namespaces labelled vault-access=true may bind as SecretsUser.
    env.create::<ResourceGroup>(rg("platform", "rg-p", "westeurope", "Delete"))
        .await;
    env.create::<KeyVault>(
        json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVault",
        "metadata": {"name": "kv", "namespace": "platform"},
        "spec": {"azureName": VAULT, "location": "westeurope", "resourceGroupRef": {"name": "rg-p"},
                 "bindingPolicy": {"namespaceSelector": {"matchLabels": {"vault-access": "true"}},
                                   "allowedRoles": ["SecretsUser"]}}}),
    )
    .await;
    env.wait_ready::<KeyVault>("platform", "kv").await;
    // team-a, with an identity; team-b, not selected by the vault.
    for (ns, label) in [("team-a", "true"), ("team-b", "false")] {
        create_namespace(
            &env.client,
            ns,
            json!({"azop.dev/profile": "tenants", "vault-access": label}),
        )
        .await;
    }
    let profile: AzureProfile = serde_json::from_value(
        json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AzureProfile",
        "metadata": {"name": "tenants"},
        "spec": {"namespaceSelector": {"matchLabels": {"azop.dev/profile": "tenants"}},
                 "subscriptionId": SUBSCRIPTION, "allowedLocations": ["westeurope"],
                 "allowedResourceGroups": ["rg-team-*"], "allowedIssuers": ["https://issuer.example.com"],
                 "allowedKinds": ["ResourceGroup", "FederatedIdentity", "KeyVaultBinding"]}}),
    )
    .expect("profile");
    Api::<AzureProfile>::all(env.client.clone())
        .create(&PostParams::default(), &profile)
        .await
        .expect("profile created");
    for ns in ["team-a", "team-b"] {
        env.create::<ResourceGroup>(rg(ns, &format!("rg-{ns}"), "westeurope", "Delete"))
            .await;
        env.create::<FederatedIdentity>(
            json!({"apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity",
            "metadata": {"name": "orders", "namespace": ns},
            "spec": {"location": "westeurope", "resourceGroupRef": {"name": format!("rg-{ns}")},
                     "issuer": {"url": "https://issuer.example.com"},
                     "serviceAccount": {"name": "orders", "create": true}}}),
        )
        .await;
        env.wait_ready::<FederatedIdentity>(ns, "orders").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindings_share_assignments_and_release_only_what_no_binding_needs() {
    let env = Env::start(Options::default()).await;
    vault_and_teams(&env).await;
    let writes = env.writes();

    // The gate: refused before any Azure request.
    create_binding(&env, binding("team-b", "not-selected", "SecretsUser", &[])).await;
    let (reason, message) = binding_condition(&env, "team-b", "not-selected", STALLED).await;
    assert_eq!(reason, "PolicyDenied");
    assert!(
        message.contains("does not select namespace team-b"),
        "{message}"
    );
    create_binding(&env, binding("team-a", "officer", "SecretsOfficer", &[])).await;
    let (reason, message) = binding_condition(&env, "team-a", "officer", STALLED).await;
    assert_eq!(reason, "PolicyDenied");
    assert!(message.contains("does not allow role"), "{message}");
    assert_eq!(env.writes(), writes, "refused bindings write nothing");

    // Two bindings, one assignment in common.
    create_binding(
        &env,
        binding("team-a", "b1", "SecretsUser", &["db-password", "db-user"]),
    )
    .await;
    binding_condition(&env, "team-a", "b1", READY).await;
    let b1 = held(&env, "team-a", "b1").await;
    assert_eq!(b1.len(), 2, "{b1:?}");
    for id in &b1 {
        let ra = env.arm.resource(id).expect("assignment exists");
        assert_eq!(ra["properties"]["principalType"], "ServicePrincipal");
        assert_eq!(
            ra["properties"]["description"],
            "azop.dev/owner=test/KeyVaultBinding"
        );
        assert!(id.contains(&format!("/vaults/{VAULT}/secrets/db-")), "{id}");
    }
    assert_eq!(role_assignment_writes(&env), 2);
    create_binding(
        &env,
        binding("team-a", "b2", "SecretsUser", &["db-password"]),
    )
    .await;
    binding_condition(&env, "team-a", "b2", READY).await;
    let b2 = held(&env, "team-a", "b2").await;
    assert_eq!(b2.len(), 1);
    assert!(b1.contains(&b2[0]), "b2 shares b1's db-password assignment");
    assert_eq!(
        role_assignment_writes(&env),
        2,
        "a shared assignment is not written twice"
    );

    // Deleting b1 keeps what b2 still needs and removes what only b1 needed.
    delete_and_wait::<KeyVaultBinding>(&env, "team-a", "b1").await;
    let user = b1.iter().find(|i| i.contains("db-user")).expect("db-user");
    assert!(
        env.arm.resource(user).is_none(),
        "db-user's assignment is gone"
    );
    assert!(
        env.arm.resource(&b2[0]).is_some(),
        "db-password's stays for b2"
    );
    delete_and_wait::<KeyVaultBinding>(&env, "team-a", "b2").await;
    assert!(
        env.arm.resource(&b2[0]).is_none(),
        "the last binding takes it along"
    );
    let names: Vec<String> = Api::<KeyVaultBinding>::all(env.client.clone())
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(|b| b.name_any())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "only the refused bindings remain: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_whose_status_write_was_lost_is_released_with_its_binding() {
    let mut env = Env::start(Options::default()).await;
    vault_and_teams(&env).await;
    create_binding(
        &env,
        binding("team-a", "lost", "SecretsUser", &["db-password"]),
    )
    .await;
    binding_condition(&env, "team-a", "lost", READY).await;
    let ids = held(&env, "team-a", "lost").await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    // As if the operator had stopped between the assignment's PUT and its status write, and
    // the binding were deleted while it was down.
    env.stop_operator().await;
    let api: Api<KeyVaultBinding> = Api::namespaced(env.client.clone(), "team-a");
    api.patch_status(
        "lost",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"status": {"roleAssignmentIds": []}})),
    )
    .await
    .expect("status forgets the assignment");
    common::delete_while_stopped::<KeyVaultBinding>(&mut env, "team-a", "lost").await;
    assert!(
        env.arm.resource(&ids[0]).is_none(),
        "the identity keeps no access the status forgot"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_credential_whose_status_write_was_lost_goes_with_its_binding() {
    // azop's own cluster has another issuer than the identity's workload cluster.
    let mut options = Options::default();
    options.engine.self_issuer_url = Some("https://azop.example.com".into());
    let mut env = Env::start(options).await;
    vault_and_teams(&env).await;
    env.stop_operator().await;
    // The credential a syncing binding adds for azop's own issuer, made before the operator
    // stopped and never recorded; the binding deleted while it was down.
    let identity = Api::<FederatedIdentity>::namespaced(env.client.clone(), "team-a")
        .get("orders")
        .await
        .expect("identity")
        .status
        .unwrap_or_default()
        .azure
        .resource_id
        .expect("identity id");
    let credential = format!("{identity}/federatedIdentityCredentials/azop-sync-team-a-orders");
    azop_controller::azure::Azure::put(
        &env.arm_client,
        &credential,
        azop_arm::resources::identity::API_VERSION,
        &json!({"properties": {"issuer": "https://azop.example.com",
                               "subject": "system:serviceaccount:team-a:orders",
                               "audiences": ["api://AzureADTokenExchange"]}}),
    )
    .await
    .expect("credential made as azop makes it");
    let mut b = binding("team-a", "lost-sync", "SecretsUser", &["db-password"]);
    b["metadata"]["finalizers"] = json!([azop_api::FINALIZER]);
    b["spec"]["sync"] =
        json!({"secretName": "db", "items": [{"key": "p", "vaultSecret": "db-password"}]});
    create_binding(&env, b).await;
    common::delete_while_stopped::<KeyVaultBinding>(&mut env, "team-a", "lost-sync").await;
    assert!(
        env.arm.resource(&credential).is_none(),
        "the identity no longer trusts azop's issuer"
    );
    assert!(
        env.arm.resource(&identity).is_some(),
        "the identity itself stays"
    );
}

/// Azure allows a fixed number of role assignments per subscription: azop warns at 80% of it
/// and refuses new ones past its threshold, before Azure fails; what a refused binding did
/// make is recorded, so deleting it releases that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_assignment_quota_warns_then_refuses_before_azure_does() {
    let defaults = Options::default();
    let env = Env::start(Options {
        engine: azop_controller::engine::EngineConfig {
            role_assignment_quota: azop_controller::quota::QuotaSettings {
                azure_limit: 5,
                threshold: 4,
            },
            ..defaults.engine
        },
        ..defaults
    })
    .await;
    vault_and_teams(&env).await;
    create_binding(
        &env,
        binding("team-a", "three", "SecretsUser", &["s1", "s2", "s3"]),
    )
    .await;
    binding_condition(&env, "team-a", "three", READY).await;
    create_binding(&env, binding("team-a", "two", "SecretsUser", &["s4", "s5"])).await;
    let (reason, message) = binding_condition(&env, "team-a", "two", STALLED).await;
    assert_eq!(reason, "QuotaExceeded");
    assert!(
        message.contains("azop manages 4 role assignments"),
        "{message}"
    );
    assert_eq!(
        role_assignment_writes(&env),
        4,
        "the fifth is never sent to Azure"
    );
    assert_eq!(
        held(&env, "team-a", "two").await.len(),
        1,
        "what it did make is recorded"
    );
    let events: Vec<String> =
        Api::<k8s_openapi::api::events::v1::Event>::namespaced(env.client.clone(), "team-a")
            .list(&Default::default())
            .await
            .expect("events")
            .items
            .iter()
            .filter(|e| e.reason.as_deref() == Some("RoleAssignmentQuota"))
            .filter_map(|e| e.note.clone())
            .collect();
    assert!(
        events
            .iter()
            .any(|n| n.contains("holds 4 role assignments")),
        "a Warning Event at 80% of Azure's limit: {events:?}"
    );
    delete_and_wait::<KeyVaultBinding>(&env, "team-a", "two").await;
    assert_eq!(
        env.arm
            .resources()
            .iter()
            .filter(|r| r["id"].as_str().is_some_and(|i| i.contains("/secrets/s4/")))
            .count(),
        0,
        "deleting the refused binding releases what it made"
    );
}

/// A binding waiting for its identity is woken when the identity becomes Ready, not by the
/// waiting interval (an hour here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_binding_is_woken_when_its_identity_becomes_ready() {
    let defaults = Options::default();
    let env = Env::start(Options {
        engine: azop_controller::engine::EngineConfig {
            waiting_requeue: Duration::from_secs(3600),
            ..defaults.engine
        },
        ..defaults
    })
    .await;
    vault_and_teams(&env).await;
    let mut early = binding("team-a", "early", "SecretsUser", &[]);
    early["spec"]["identityRef"]["name"] = json!("late");
    create_binding(&env, early).await;
    let api: Api<KeyVaultBinding> = Api::namespaced(env.client.clone(), "team-a");
    for _ in 0..100 {
        let b = api.get("early").await.expect("read");
        let waiting = conditions::find(&b.status.unwrap_or_default().basic.conditions, READY)
            .is_some_and(|c| c.reason == "WaitingForDependency");
        if waiting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.create::<FederatedIdentity>(
        json!({"apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity",
        "metadata": {"name": "late", "namespace": "team-a"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg-team-a"},
                 "issuer": {"url": "https://issuer.example.com"},
                 "serviceAccount": {"name": "late", "create": true}}}),
    )
    .await;
    env.wait_ready::<FederatedIdentity>("team-a", "late").await;
    binding_condition(&env, "team-a", "early", READY).await;
    assert_eq!(held(&env, "team-a", "early").await.len(), 1);
}

/// Revoking the policy revokes the access: when the vault's bindingPolicy stops selecting the
/// namespace, the binding is Stalled PolicyDenied and what it was granted is deleted. And a
/// vault azop only observes grants nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_policy_revokes_the_access_and_observed_vaults_grant_nothing() {
    let env = Env::start(Options::default()).await;
    vault_and_teams(&env).await;
    create_binding(&env, binding("team-a", "b", "SecretsUser", &[])).await;
    binding_condition(&env, "team-a", "b", READY).await;
    let granted = held(&env, "team-a", "b").await;
    assert_eq!(granted.len(), 1);
    assert!(env.arm.resource(&granted[0]).is_some());
    Api::<k8s_openapi::api::core::v1::Namespace>::all(env.client.clone())
        .patch(
            "team-a",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&json!({"metadata": {"labels": {"vault-access": "false"}}})),
        )
        .await
        .expect("relabelled");
    let (reason, _) = binding_condition(&env, "team-a", "b", STALLED).await;
    assert_eq!(reason, "PolicyDenied");
    for _ in 0..50 {
        if env.arm.resource(&granted[0]).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        env.arm.resource(&granted[0]).is_none(),
        "the grant is revoked"
    );
    assert!(held(&env, "team-a", "b").await.is_empty());

    // A second KeyVault object that only observes the same vault, with a generous policy.
    env.create::<KeyVault>(
        json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVault",
        "metadata": {"name": "kv-observed", "namespace": "platform"},
        "spec": {"azureName": VAULT, "location": "westeurope", "resourceGroupRef": {"name": "rg-p"},
                 "managementPolicy": "Observe",
                 "bindingPolicy": {"namespaceSelector": {}, "allowedRoles": ["SecretsUser"]}}}),
    )
    .await;
    env.wait_ready::<KeyVault>("platform", "kv-observed").await;
    let mut observed = binding("team-a", "via-observed", "SecretsUser", &[]);
    observed["spec"]["vaultRef"]["name"] = json!("kv-observed");
    create_binding(&env, observed).await;
    let (reason, message) = binding_condition(&env, "team-a", "via-observed", STALLED).await;
    assert_eq!(reason, "PolicyDenied");
    assert!(message.contains("observed"), "{message}");

    // Nor does an identity azop only observes: team-a points an observing object at team-b's
    // identity (its group is inside team-a's allow-list) and asks for access and a sync with
    // it. Refused before any write: no grant, no federated credential on team-b's identity.
    Api::<k8s_openapi::api::core::v1::Namespace>::all(env.client.clone())
        .patch(
            "team-a",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&json!({"metadata": {"labels": {"vault-access": "true"}}})),
        )
        .await
        .expect("selected again");
    // Selected again, binding b is granted again: its write comes before the count below.
    binding_condition(&env, "team-a", "b", READY).await;
    env.create::<FederatedIdentity>(
        json!({"apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity",
        "metadata": {"name": "stolen", "namespace": "team-a"},
        "spec": {"azureName": "orders", "location": "westeurope", "resourceGroupName": "rg-team-b",
                 "managementPolicy": "Observe", "issuer": {"url": "https://issuer.example.com"},
                 "serviceAccount": {"name": "orders", "create": false}}}),
    )
    .await;
    env.wait_ready::<FederatedIdentity>("team-a", "stolen")
        .await;
    let writes_before = env
        .arm
        .request_log()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    let mut stolen = binding("team-a", "via-stolen", "SecretsUser", &["db-password"]);
    stolen["spec"]["identityRef"]["name"] = json!("stolen");
    stolen["spec"]["sync"] =
        json!({"secretName": "loot", "items": [{"key": "p", "vaultSecret": "db-password"}]});
    create_binding(&env, stolen).await;
    let (reason, message) = binding_condition(&env, "team-a", "via-stolen", STALLED).await;
    assert_eq!(reason, "PolicyDenied");
    assert!(
        message.contains("FederatedIdentity team-a/stolen is observed"),
        "{message}"
    );
    let writes_after = env
        .arm
        .request_log()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(
        writes_after, writes_before,
        "no ARM write for the refused binding"
    );
    assert!(
        env.arm.resources().iter().all(|r| !r["id"]
            .as_str()
            .unwrap_or_default()
            .contains("/federatedIdentityCredentials/azop-sync-")),
        "no federated credential added to team-b's identity"
    );
}
