//! Every kind, once Ready, lets ten sync periods pass without a single ARM write, against an
//! arm-emulator that answers as Azure does (its own defaults and normalisation, not an echo of
//! the body): a field azop sends that Azure answers differently would be a PUT every period.

mod common;

use std::time::Duration;

use azop_api::{
    AksCluster, FederatedIdentity, KeyVault, KeyVaultBinding, ResourceGroup, RoleAssignment,
};
use common::{Env, Managed, Options, rg};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};

fn cluster(name: &str, extra: Value) -> Value {
    let mut spec = json!({"location": "westeurope", "resourceGroupRef": {"name": "rg1"},
        "kubernetesVersion": "1.31", "dnsPrefix": name,
        "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5", "count": 1}]});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AksCluster",
        "metadata": {"name": name, "namespace": "platform"}, "spec": spec})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_syncs_of_every_kind_write_nothing() {
    let mut options = Options::default();
    options.engine.sync_period = Duration::from_secs(1);
    let mut env = Env::start(options).await;
    env.create::<ResourceGroup>(rg("platform", "rg1", "westeurope", "Delete"))
        .await;
    env.create::<KeyVault>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVault", "metadata": {"name": "kv1", "namespace": "platform"},
        "spec": {"azureName": "azop-quiet-kv1", "location": "westeurope", "resourceGroupRef": {"name": "rg1"},
                 "bindingPolicy": {"namespaceSelector": {}, "allowedRoles": ["SecretsUser"]}}})).await;
    env.create::<FederatedIdentity>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity", "metadata": {"name": "app", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg1"}, "issuer": {"self": {}}, "serviceAccount": {"name": "app", "create": true}}})).await;
    env.create::<RoleAssignment>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "RoleAssignment", "metadata": {"name": "app-reader", "namespace": "platform"},
        "spec": {"principal": {"federatedIdentity": {"name": "app"}}, "role": "Reader", "scope": {"resourceGroupRef": {"name": "rg1"}}}})).await;
    let binding: KeyVaultBinding = serde_json::from_value(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVaultBinding",
        "metadata": {"name": "app-kv1", "namespace": "platform"},
        "spec": {"vaultRef": {"name": "kv1", "namespace": "platform"}, "identityRef": {"name": "app"}, "role": "SecretsUser"}}))
        .expect("binding");
    Api::<KeyVaultBinding>::namespaced(env.client.clone(), "platform")
        .create(&PostParams::default(), &binding)
        .await
        .expect("binding created");
    // A cluster with its features left off (workload identity off, local accounts on, no
    // Entra ID), and one with them on.
    env.create::<AksCluster>(cluster("plain", json!({}))).await;
    env.create::<AksCluster>(cluster(
        "full",
        json!({"oidcIssuer": true, "workloadIdentity": true, "disableLocalAccounts": true,
               "entraId": {"azureRbac": true, "adminGroupObjectIds": ["33333333-3333-3333-3333-333333333333"]}}),
    ))
    .await;
    env.create::<AksCluster>(cluster(
        "private",
        json!({"apiServer": {"private": true, "privateDnsZone": "none"},
               "network": {"outboundType": "managedNATGateway", "natGateway": {"outboundIps": 2}},
               "nodeResourceGroup": "rg1-private-nodes",
               "addons": {"defender": {"logAnalyticsWorkspaceId": "/subscriptions/s/resourceGroups/m/providers/Microsoft.OperationalInsights/workspaces/w"}},
               "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5", "count": 1},
                             {"name": "apps", "vmSize": "Standard_D8ds_v5", "autoscaling": {"min": 1, "max": 5},
                              "labels": {"team": "a"}, "taints": ["apps=true:NoSchedule"]}]}),
    ))
    .await;

    let mut ids = Vec::new();
    ids.push(
        env.wait_ready::<ResourceGroup>("platform", "rg1")
            .await
            .azure(),
    );
    ids.push(env.wait_ready::<KeyVault>("platform", "kv1").await.azure());
    ids.push(
        env.wait_ready::<FederatedIdentity>("platform", "app")
            .await
            .azure(),
    );
    ids.push(
        env.wait_ready::<RoleAssignment>("platform", "app-reader")
            .await
            .azure(),
    );
    for name in ["plain", "full", "private"] {
        ids.push(
            env.wait_ready_within::<AksCluster>("platform", name, Duration::from_secs(30))
                .await
                .azure(),
        );
    }
    let ids: Vec<String> = ids
        .into_iter()
        .map(|s| s.resource_id.expect("resource id"))
        .collect();
    let plain = env.arm.resource(&ids[4]).expect("cluster in Azure");
    assert_eq!(
        (
            &plain["properties"]["securityProfile"],
            &plain["properties"]["disableLocalAccounts"],
            &plain["properties"]["aadProfile"]
        ),
        (&json!({}), &Value::Null, &Value::Null),
        "the emulator answers as AKS does for a cluster without these features"
    );

    // The binding too: its role assignment made, and Ready.
    let bindings: Api<KeyVaultBinding> = Api::namespaced(env.client.clone(), "platform");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let b = bindings.get("app-kv1").await.expect("binding");
        let status = b.status.clone().unwrap_or_default();
        if azop_api::conditions::is_ready(&status.basic.conditions, b.metadata.generation) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "binding not Ready: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let private = env.arm.resource(&ids[6]).expect("private cluster in Azure");
    let props = &private["properties"];
    assert_eq!(props["nodeResourceGroup"], "rg1-private-nodes");
    assert_eq!(
        props["networkProfile"]["natGatewayProfile"]["managedOutboundIPProfile"]["count"],
        2
    );
    assert!(props["networkProfile"].get("loadBalancerProfile").is_none());
    assert!(props["privateFQDN"].is_string(), "{props}");
    assert_eq!(props["apiServerAccessProfile"]["privateDNSZone"], "none");
    assert!(props["securityProfile"]["defender"]["logAnalyticsWorkspaceResourceId"].is_string());

    // Ten sync periods: each resource read at least ten times more, nothing written.
    let gets = |env: &Env, id: &str| {
        let id = id.to_ascii_lowercase();
        env.arm
            .request_log()
            .iter()
            .filter(|r| r.method == "GET" && r.path.to_ascii_lowercase() == id)
            .count()
    };
    let log_start = env.arm.request_log().len();
    let before: Vec<usize> = ids.iter().map(|id| gets(&env, id)).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let read: Vec<usize> = ids
            .iter()
            .zip(&before)
            .map(|(id, b)| gets(&env, id) - b)
            .collect();
        if read.iter().all(|n| *n >= 10) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ten syncs of each did not happen in 60 s: {read:?} reads of {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let written: Vec<String> = env.arm.request_log()[log_start..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(written.is_empty(), "writes in steady state: {written:?}");
    env.stop_operator().await;
}
