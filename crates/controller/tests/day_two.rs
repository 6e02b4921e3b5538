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
    // An addon, Defender and the authorized IP ranges turned off in one spec change.
    let mut env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(rg("platform", "rg1", "westeurope", "Delete"))
        .await;
    env.create::<AksCluster>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AksCluster",
        "metadata": {"name": "aks1", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg1"}, "kubernetesVersion": "1.31",
                 "dnsPrefix": "aks1", "addons": {"azurePolicy": true,
                    "defender": {"logAnalyticsWorkspaceId": "/subscriptions/s/resourceGroups/m/providers/Microsoft.OperationalInsights/workspaces/w"}},
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
        &Patch::Merge(
            json!({"spec": {"addons": {"azurePolicy": false, "defender": null},
                                      "apiServer": {"authorizedIpRanges": []}}}),
        ),
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
    assert!(
        stored["properties"]["securityProfile"]
            .get("defender")
            .is_none(),
        "Defender is off in Azure: {}",
        stored["properties"]["securityProfile"]
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

/// The writes (PUT, DELETE, POST) answered since `mark` requests into the log, as
/// `METHOD path-after-the-cluster` (`PUT /agentpools/apps`, `PUT (cluster)` for the cluster
/// itself).
fn writes_since(env: &Env, mark: usize, cluster_id: &str) -> Vec<String> {
    let cluster = cluster_id.to_ascii_lowercase();
    env.arm
        .request_log()
        .iter()
        .skip(mark)
        .filter(|r| matches!(r.method.as_str(), "PUT" | "DELETE" | "POST"))
        .map(|r| {
            let path = r.path.to_ascii_lowercase();
            match path.strip_prefix(&cluster) {
                Some("") => format!("{} (cluster)", r.method),
                Some(rest) => format!("{} {rest}", r.method),
                None => format!("{} {path}", r.method),
            }
        })
        .collect()
}

/// Both emulators with 300 ms operations polled as often, and resource group `rg1` in
/// `platform`.
async fn fast_env_with_group() -> Env {
    let mut options = Options {
        lro_duration: Duration::from_millis(300),
        ..Options::default()
    };
    // The emulator's operations end in 300 ms: poll them as often.
    options.engine.max_poll_interval = Duration::from_millis(300);
    let env = Env::start(options).await;
    env.create::<ResourceGroup>(rg("platform", "rg1", "westeurope", "Delete"))
        .await;
    env
}

/// Applies a merge patch to the cluster's spec and waits until the new generation is Ready.
async fn change(env: &Env, spec: serde_json::Value) -> AksCluster {
    let api: Api<AksCluster> = Api::namespaced(env.client.clone(), "platform");
    let changed = api
        .patch(
            "aks1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": spec})),
        )
        .await
        .expect("changed");
    let generation = changed.metadata.generation;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let c = env
            .wait_ready_within::<AksCluster>("platform", "aks1", Duration::from_secs(40))
            .await;
        if c.metadata.generation == generation
            && c.status.as_ref().map(|s| s.azure.observed_generation) == generation
        {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "generation {generation:?} not Ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One day-two change: the spec patched, the new generation Ready, and exactly `expected`
/// written meanwhile (as `writes_since` lists them).
async fn step(
    env: &Env,
    id: &str,
    spec: serde_json::Value,
    expected: &[&str],
    what: &str,
) -> (AksCluster, Vec<String>) {
    let mark = env.arm.request_log().len();
    let started = std::time::Instant::now();
    let changed = change(env, spec).await;
    let written = writes_since(env, mark, id);
    eprintln!("{what}: {:?}", started.elapsed());
    assert_eq!(written, expected, "{what}");
    (changed, written)
}

/// A spec change listing the cluster's System pool, unchanged, and `others`.
fn beside_system(others: serde_json::Value) -> serde_json::Value {
    let mut pools =
        vec![json!({"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5", "count": 1})];
    pools.extend(others.as_array().cloned().unwrap_or_default());
    json!({"nodePools": pools})
}

fn pool<'a>(cluster: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    cluster["properties"]["agentPoolProfiles"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == name))
}

/// Each day-two change of a pool is one agentPools operation on that pool, never a cluster
/// PUT; an upgrade is the control plane first, then each pool, one operation each, waiting for
/// each; a pool someone else added is never removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_pool_change_is_one_operation_on_that_pool_and_upgrades_go_step_by_step() {
    let mut env = fast_env_with_group().await;
    env.create::<AksCluster>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AksCluster",
        "metadata": {"name": "aks1", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg1"}, "kubernetesVersion": "1.30",
                 "dnsPrefix": "aks1",
                 "nodePools": [
                    {"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5", "count": 1},
                    {"name": "apps", "mode": "User", "vmSize": "Standard_D8ds_v5", "count": 2,
                     "labels": {"team": "a"}, "taints": ["workload=apps:NoSchedule"]}]}}))
        .await;
    let id = env
        .wait_ready_within::<AksCluster>("platform", "aks1", Duration::from_secs(30))
        .await
        .azure()
        .resource_id
        .expect("cluster id");
    let mut table = Vec::new();

    // Scale one pool.
    let (_, w) = step(
        &env,
        &id,
        beside_system(json!([
        {"name": "apps", "mode": "User", "vmSize": "Standard_D8ds_v5", "count": 3,
         "labels": {"team": "a"}, "taints": ["workload=apps:NoSchedule"]}])),
        &["PUT /agentpools/apps"],
        "scaling: one PUT of that pool",
    )
    .await;
    let stored = env.arm.resource(&id).expect("cluster");
    assert_eq!(pool(&stored, "apps").expect("apps")["count"], 3);
    table.push(("scale a pool 2 → 3", w));

    // Relabel and untaint it.
    let (_, w) = step(
        &env,
        &id,
        beside_system(json!([
        {"name": "apps", "mode": "User", "vmSize": "Standard_D8ds_v5", "count": 3,
         "labels": {"team": "b"}}])),
        &["PUT /agentpools/apps"],
        "relabelling: one PUT of that pool",
    )
    .await;
    let stored = env.arm.resource(&id).expect("cluster");
    let apps = pool(&stored, "apps").expect("apps");
    assert_eq!(
        apps["nodeLabels"],
        json!({"team": "b"}),
        "the old label is gone"
    );
    assert!(
        apps.get("nodeTaints").is_none_or(|t| t == &json!([])),
        "the taint is gone: {apps}"
    );
    table.push(("relabel and remove the taint", w));

    // Autoscale it, then fix its size again (the autoscaler's bounds go with it).
    let (_, w) = step(
        &env,
        &id,
        beside_system(json!([
        {"name": "apps", "mode": "User", "vmSize": "Standard_D8ds_v5", "count": 3,
         "autoscaling": {"min": 1, "max": 5}, "labels": {"team": "b"}}])),
        &["PUT /agentpools/apps"],
        "autoscaling on: one PUT of that pool",
    )
    .await;
    table.push(("autoscaling on (1–5)", w));
    let (_, w) = step(
        &env,
        &id,
        beside_system(json!([
        {"name": "apps", "mode": "User", "vmSize": "Standard_D8ds_v5", "count": 3,
         "autoscaling": null, "labels": {"team": "b"}}])),
        &["PUT /agentpools/apps"],
        "autoscaling off: one PUT of that pool",
    )
    .await;
    let stored = env.arm.resource(&id).expect("cluster");
    let apps = pool(&stored, "apps").expect("apps");
    assert_eq!(
        (
            &apps["enableAutoScaling"],
            apps.get("minCount"),
            &apps["count"]
        ),
        (&json!(false), None, &json!(3)),
        "{apps}"
    );
    table.push(("autoscaling off, 3 nodes", w));

    // Someone adds a pool with az aks nodepool add: azop leaves it.
    let foreign = format!("{id}/agentPools/theirs");
    env.arm_client
        .put(
            &foreign,
            "2026-05-01",
            &json!({"properties": {"vmSize": "Standard_D2ds_v5", "count": 1, "mode": "User"}}),
        )
        .await
        .expect("their pool");

    // Add a pool, then remove it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, w) = step(
        &env,
        &id,
        beside_system(json!([
        {"name": "apps", "mode": "User", "vmSize": "Standard_D8ds_v5", "count": 3, "labels": {"team": "b"}},
        {"name": "batch", "mode": "User", "vmSize": "Standard_D8ds_v5", "count": 1}])),
        &["PUT /agentpools/batch"],
        "adding: one PUT of the new pool",
    )
    .await;
    table.push(("add a pool", w));
    let (_, w) = step(
        &env,
        &id,
        beside_system(json!([
        {"name": "apps", "mode": "User", "vmSize": "Standard_D8ds_v5", "count": 3, "labels": {"team": "b"}}])),
        &["DELETE /agentpools/batch"],
        "removing: one DELETE of that pool",
    )
    .await;
    let stored = env.arm.resource(&id).expect("cluster");
    assert!(pool(&stored, "batch").is_none(), "batch is gone");
    assert!(
        pool(&stored, "theirs").is_some(),
        "the pool azop did not make stays"
    );
    table.push(("remove a pool", w));

    // Upgrade 1.30 → 1.31: the control plane, then each pool, each waiting for the last.
    let mark = env.arm.request_log().len();
    let (upgraded, w) = step(
        &env,
        &id,
        json!({"kubernetesVersion": "1.31"}),
        &[
            "PUT (cluster)",
            "PUT /agentpools/system",
            "PUT /agentpools/apps",
        ],
        "control plane first, then each pool",
    )
    .await;
    let log = env.arm.request_log();
    let writes: Vec<_> = log
        .iter()
        .skip(mark)
        .filter(|r| r.method == "PUT")
        .collect();
    for pair in writes.windows(2) {
        let between = log
            .iter()
            .filter(|r| r.at_ms >= pair[0].at_ms && r.at_ms <= pair[1].at_ms)
            .filter(|r| r.method == "GET" && r.path.contains("operationStatuses"))
            .count();
        assert!(between >= 1, "each step waits for the last one's operation");
    }
    let status = upgraded.status.expect("status");
    assert_eq!(status.current_kubernetes_version.as_deref(), Some("1.31.2"));
    assert_eq!(status.target_kubernetes_version.as_deref(), Some("1.31"));
    for p in status.node_pools.iter().filter(|p| p.name != "theirs") {
        assert_eq!(
            p.current_orchestrator_version.as_deref(),
            Some("1.31.2"),
            "{p:?}"
        );
        assert_eq!(
            p.target_orchestrator_version.as_deref(),
            Some("1.31"),
            "{p:?}"
        );
    }
    let stored = env.arm.resource(&id).expect("cluster");
    let theirs = &pool(&stored, "theirs").expect("theirs")["orchestratorVersion"];
    assert!(
        theirs.as_str().is_some_and(|v| v.starts_with("1.30")),
        "a pool azop did not make is not upgraded: {theirs}"
    );
    table.push(("upgrade 1.30 → 1.31 (control plane, 2 pools)", w));

    // Then nothing: five seconds (two sync periods and more), no write.
    let mark = env.arm.request_log().len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        writes_since(&env, mark, &id),
        Vec::<String>::new(),
        "steady"
    );

    println!("\nday-two change | ARM writes");
    for (what, writes) in &table {
        println!("{what} | {} ({})", writes.len(), writes.join(", "));
    }
    env.stop_operator().await;
}

/// `kubeconfigSecret`: the credential AKS lists, in a Secret the cluster owns; listed once
/// (a POST counts as a write in ARM's buckets), not at every sync; listed and rewritten after
/// the cluster's certificates are rotated; gone when the spec drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubeconfig_secret_is_listed_once_and_rewritten_when_the_credential_changes() {
    use k8s_openapi::api::core::v1::Secret;
    let mut env = fast_env_with_group().await;
    let cluster = env
        .create::<AksCluster>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AksCluster",
        "metadata": {"name": "aks1", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg1"}, "dnsPrefix": "aks1",
                 "kubeconfigSecret": {"name": "aks1-kubeconfig"},
                 "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5"}]}}))
        .await;
    let ready = env
        .wait_ready_within::<AksCluster>("platform", "aks1", Duration::from_secs(30))
        .await;
    let id = ready.azure().resource_id.clone().expect("id");
    let status = ready.status.clone().expect("status");
    assert_eq!(status.kubeconfig_secret.as_deref(), Some("aks1-kubeconfig"));
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), "platform");
    let secret = secrets.get("aks1-kubeconfig").await.expect("the Secret");
    let owner = &secret.metadata.owner_references.clone().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), Some(&owner.uid)),
        ("AksCluster", cluster.metadata.uid.as_ref())
    );
    let first = secret.data.expect("data")["value"].0.clone();
    let text = String::from_utf8(first.clone()).expect("utf-8");
    let fqdn = status.fqdn.expect("fqdn");
    assert!(
        text.contains(&format!("server: https://{fqdn}:443")),
        "{text}"
    );
    assert!(text.contains("clusterUser_"), "the user credential: {text}");
    let lists = || env.requests("POST", "/listClusterUserCredential");
    assert_eq!(lists(), 1, "listed once");

    // Steady: no list at each sync.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        lists(),
        1,
        "not listed again while the cluster did not change"
    );

    // The certificates are rotated (az aks rotate-certs): a new credential.
    env.arm_client
        .post(
            &format!("{id}/rotateClusterCertificates"),
            "2026-05-01",
            None,
        )
        .await
        .expect("rotated");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = secrets.get("aks1-kubeconfig").await.expect("the Secret");
        if now.data.expect("data")["value"].0 != first {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Secret was not rewritten after the rotation"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(lists(), 2, "listed again once, after the rotation");

    // Dropped from the spec: the Secret goes.
    let api: Api<AksCluster> = Api::namespaced(env.client.clone(), "platform");
    api.patch(
        "aks1",
        &PatchParams::default(),
        &Patch::Json::<()>(
            serde_json::from_value(json!([{"op": "remove", "path": "/spec/kubeconfigSecret"}]))
                .expect("patch"),
        ),
    )
    .await
    .expect("dropped");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while secrets
        .get_opt("aks1-kubeconfig")
        .await
        .expect("read")
        .is_some()
    {
        assert!(tokio::time::Instant::now() < deadline, "the Secret stayed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    env.stop_operator().await;
}

/// Network ACLs removed from a vault's spec are removed in Azure (the vault is open again), in
/// one PUT of the vault, because azop records what it applied; a vault whose ACLs azop never
/// set keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_acls_dropped_from_a_vault_are_removed_in_azure() {
    use azop_api::KeyVault;
    let mut env = Env::start(Options::default()).await;
    env.create::<ResourceGroup>(rg("platform", "rg1", "westeurope", "Delete"))
        .await;
    env.create::<KeyVault>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVault",
        "metadata": {"name": "kv1", "namespace": "platform"},
        "spec": {"azureName": "azop-daytwo-kv1", "location": "westeurope", "resourceGroupRef": {"name": "rg1"},
                 "networkAcls": {"defaultAction": "Deny", "ipRules": ["203.0.113.0/24"]}}}))
        .await;
    let ready = env.wait_ready::<KeyVault>("platform", "kv1").await;
    let id = ready.azure().resource_id.clone().expect("id");
    assert_eq!(
        ready.azure().applied_fields,
        ["/properties/networkAcls"],
        "what azop applied is recorded"
    );
    let stored = env.arm.resource(&id).expect("vault");
    assert_eq!(stored["properties"]["networkAcls"]["defaultAction"], "Deny");

    let writes = env.writes();
    let api: Api<KeyVault> = Api::namespaced(env.client.clone(), "platform");
    api.patch(
        "kv1",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"networkAcls": null}})),
    )
    .await
    .expect("dropped");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let after = loop {
        let k = env.wait_ready::<KeyVault>("platform", "kv1").await;
        if k.azure().observed_generation == 2 {
            break k;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "generation 2 not Ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let acls = &env.arm.resource(&id).expect("vault")["properties"]["networkAcls"];
    assert_eq!(
        acls["defaultAction"], "Allow",
        "the vault is open again: {acls}"
    );
    assert_eq!(acls["ipRules"], json!([]), "{acls}");
    assert_eq!(env.writes() - writes, 1, "one PUT of the vault");
    assert!(after.azure().applied_fields.is_empty());

    // Someone sets ACLs on the vault in Azure: the spec never set them, azop leaves them.
    env.arm.modify_resource(&id, |v| {
        v["properties"]["networkAcls"] = json!({"defaultAction": "Deny", "bypass": "None",
            "ipRules": [{"value": "198.51.100.0/24"}], "virtualNetworkRules": []});
    });
    let writes = env.writes();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        env.writes(),
        writes,
        "ACLs azop never set are not its to undo"
    );
    env.stop_operator().await;
}

/// The controller agrees with admission: an Admin kubeconfig on a cluster without local
/// accounts (stored as if written before the rule existed) is Stalled before any Azure
/// request for the cluster, and no credential is listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_kubeconfig_without_local_accounts_is_refused_before_azure() {
    use azop_api::conditions::{self, READY};
    // The CRDs without their CEL rules: the object is stored around validation.
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                o.remove("x-kubernetes-validations");
                o.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let crds = azop_api::crds()
        .into_iter()
        .map(|c| {
            let mut v = serde_json::to_value(c).expect("crd");
            strip(&mut v);
            serde_json::from_value(v).expect("crd")
        })
        .collect();
    let mut env = Env::start(Options {
        crds,
        ..Options::default()
    })
    .await;
    env.create::<ResourceGroup>(rg("platform", "rg1", "westeurope", "Delete"))
        .await;
    env.wait_ready::<ResourceGroup>("platform", "rg1").await;
    let mark = env.arm.request_log().len();
    env.create::<AksCluster>(json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AksCluster",
        "metadata": {"name": "aks1", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg1"}, "dnsPrefix": "aks1",
                 "disableLocalAccounts": true, "entraId": {"azureRbac": true},
                 "kubeconfigSecret": {"name": "aks1-admin", "kind": "Admin"},
                 "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5"}]}}))
        .await;
    let stalled = env
        .wait_condition::<AksCluster>("platform", "aks1", "Stalled")
        .await;
    assert!(
        stalled
            .message
            .contains("kubeconfigSecret.kind Admin needs local accounts"),
        "{stalled:?}"
    );
    let api: Api<AksCluster> = Api::namespaced(env.client.clone(), "platform");
    let c = api.get("aks1").await.expect("cluster");
    assert_eq!(
        conditions::find(&c.azure().conditions, READY).map(|r| r.status.as_str()),
        Some("False")
    );
    let touched: Vec<_> = env.arm.request_log()[mark..]
        .iter()
        .filter(|r| r.path.to_ascii_lowercase().contains("managedclusters"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        touched.is_empty(),
        "no request for the cluster: {touched:?}"
    );
    env.stop_operator().await;
}
