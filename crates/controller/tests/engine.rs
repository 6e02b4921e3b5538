//! The reconcile engine end to end against the kube-emulator, with an in-memory Azure that
//! counts writes: objects become Ready as kstatus reads them, resources carry the ownership
//! tag, a steady state makes no writes, a long-running operation is polled (never re-sent),
//! deletion honours deletionPolicy, and another object's resource is never touched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azop_api::conditions::{self, READY};
use azop_api::{FederatedIdentity, KeyVault, ResourceGroup, RoleAssignment};
use azop_controller::azure::{Azure, AzureError, Polled, Written};
use azop_controller::engine::EngineConfig;
use azop_controller::metrics::Metrics;
use azop_controller::runner::{self, RunOptions};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

/// An in-memory ARM: vault PUTs are long-running (done after `polls` polls), the rest finish at once.
#[derive(Default)]
struct FakeAzure {
    resources: Mutex<HashMap<String, Value>>,
    operations: Mutex<HashMap<String, (u32, String)>>,
    log: Mutex<Vec<(String, String)>>,
    polls: u32,
}

impl FakeAzure {
    fn writes(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == "PUT" || m == "DELETE")
            .count()
    }
    fn count(&self, method: &str, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, id)| m == method && id.contains(needle))
            .count()
    }
    fn get_resource(&self, id: &str) -> Option<Value> {
        self.resources
            .lock()
            .unwrap()
            .get(&id.to_ascii_lowercase())
            .cloned()
    }
}

fn with_outputs(id: &str, body: &Value) -> Value {
    let mut b = body.clone();
    b["id"] = json!(id);
    b["name"] = json!(id.rsplit('/').next().unwrap_or_default());
    if b.get("properties").is_none() {
        b["properties"] = json!({});
    }
    b["properties"]["provisioningState"] = json!("Succeeded");
    if id.contains("userAssignedIdentities") && !id.contains("federatedIdentityCredentials") {
        b["properties"]["clientId"] = json!(uuid::Uuid::new_v4().to_string());
        b["properties"]["principalId"] = json!(uuid::Uuid::new_v4().to_string());
        b["properties"]["tenantId"] = json!("11111111-1111-1111-1111-111111111111");
    }
    if id.contains("Microsoft.KeyVault/vaults") {
        b["properties"]["vaultUri"] = json!(format!(
            "https://{}.vault.azure.net/",
            b["name"].as_str().unwrap_or_default()
        ));
    }
    b
}

impl Azure for FakeAzure {
    fn get<'a>(
        &'a self,
        id: &'a str,
        _v: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, AzureError>> {
        Box::pin(async move {
            self.log.lock().unwrap().push(("GET".into(), id.into()));
            let res = self.resources.lock().unwrap();
            if id.ends_with("/federatedIdentityCredentials") {
                let prefix = format!("{}/", id.to_ascii_lowercase());
                let items: Vec<Value> = res
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| v.clone())
                    .collect();
                return Ok(Some(json!({"value": items})));
            }
            Ok(res.get(&id.to_ascii_lowercase()).cloned())
        })
    }
    fn put<'a>(
        &'a self,
        id: &'a str,
        _v: &'a str,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<Written, AzureError>> {
        Box::pin(async move {
            self.log.lock().unwrap().push(("PUT".into(), id.into()));
            let stored = with_outputs(id, body);
            if id.contains("Microsoft.KeyVault/vaults") && self.polls > 0 {
                let token = uuid::Uuid::new_v4().to_string();
                let mut creating = stored.clone();
                creating["properties"]["provisioningState"] = json!("RegisteringDns");
                self.resources
                    .lock()
                    .unwrap()
                    .insert(id.to_ascii_lowercase(), creating);
                self.operations
                    .lock()
                    .unwrap()
                    .insert(token.clone(), (self.polls, id.to_ascii_lowercase()));
                return Ok(Written::Started {
                    token,
                    retry_after: Some(Duration::from_millis(200)),
                });
            }
            self.resources
                .lock()
                .unwrap()
                .insert(id.to_ascii_lowercase(), stored.clone());
            Ok(Written::Done(Some(stored)))
        })
    }
    fn delete<'a>(
        &'a self,
        id: &'a str,
        _v: &'a str,
    ) -> BoxFuture<'a, Result<Written, AzureError>> {
        Box::pin(async move {
            self.log.lock().unwrap().push(("DELETE".into(), id.into()));
            self.resources
                .lock()
                .unwrap()
                .remove(&id.to_ascii_lowercase());
            Ok(Written::Done(None))
        })
    }
    fn poll<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Polled, AzureError>> {
        Box::pin(async move {
            self.log.lock().unwrap().push(("POLL".into(), token.into()));
            let mut ops = self.operations.lock().unwrap();
            let Some((left, id)) = ops.get_mut(token) else {
                return Err(AzureError::NotFound {
                    code: "OperationNotFound".into(),
                    message: token.into(),
                });
            };
            if *left > 1 {
                *left -= 1;
                return Ok(Polled::InProgress {
                    retry_after: Some(Duration::from_millis(200)),
                });
            }
            let id = id.clone();
            ops.remove(token);
            let mut res = self.resources.lock().unwrap();
            if let Some(r) = res.get_mut(&id) {
                r["properties"]["provisioningState"] = json!("Succeeded");
            }
            Ok(Polled::Succeeded(res.get(&id).cloned()))
        })
    }
}

struct Setup {
    _kube: kube_emulator::KubeEmulator,
    client: Client,
    azure: Arc<FakeAzure>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Setup {
    async fn new(polls: u32) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let kube = kube_emulator::KubeEmulator::start(Default::default())
            .await
            .expect("kube-emulator");
        let client = kube.client().await.expect("client");
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in azop_api::crds() {
            crds.create(&PostParams::default(), &crd)
                .await
                .expect("CRD");
        }
        let ns: Api<Namespace> = Api::all(client.clone());
        ns.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "platform"}})).expect("ns"),
        )
        .await
        .expect("ns");
        let azure = Arc::new(FakeAzure {
            polls,
            ..Default::default()
        });
        let mut s = Setup {
            _kube: kube,
            client,
            azure,
            stop: None,
            task: None,
        };
        s.start_operator();
        s
    }

    fn start_operator(&mut self) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let config = EngineConfig {
            cluster_id: "test".into(),
            platform_namespaces: vec!["platform".into()],
            default_subscription_id: "00000000-0000-0000-0000-000000000000".into(),
            sync_period: Duration::from_secs(2),
            self_issuer_url: Some("https://issuer.example.com".into()),
            ..EngineConfig::default()
        };
        let (client, azure) = (self.client.clone(), self.azure.clone() as Arc<dyn Azure>);
        self.task = Some(tokio::spawn(async move {
            let _ = runner::run(
                client,
                azure,
                config,
                RunOptions::default(),
                Arc::new(Metrics::default()),
                async {
                    let _ = rx.await;
                },
            )
            .await;
        }));
        self.stop = Some(tx);
    }

    async fn stop_operator(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

async fn apply<K>(client: &Client, obj: Value) -> K
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), "platform");
    let obj: K = serde_json::from_value(obj).expect("valid object");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("created")
}

async fn wait_ready<K>(
    client: &Client,
    name: &str,
    conds: impl Fn(&K) -> Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
) -> K
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), "platform");
    for _ in 0..150 {
        let o = api.get(name).await.expect("read");
        if conditions::is_ready(&conds(&o), o.meta().generation) {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let o = api.get(name).await.expect("read");
    panic!(
        "{name} never became Ready: {:?}",
        conditions::find(&conds(&o), READY)
    );
}

fn rg(name: &str, policy: &str) -> Value {
    json!({"apiVersion": "azop.dev/v1alpha1", "kind": "ResourceGroup", "metadata": {"name": name, "namespace": "platform"},
           "spec": {"location": "westeurope", "deletionPolicy": policy, "tags": {"env": "test"}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_become_ready_tagged_and_quiet_in_steady_state() {
    let mut s = Setup::new(0).await;
    apply::<ResourceGroup>(&s.client, rg("rg1", "Delete")).await;
    apply::<KeyVault>(&s.client, json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVault", "metadata": {"name": "kv1", "namespace": "platform"},
        "spec": {"azureName": "azop-kv1", "location": "westeurope", "resourceGroupRef": {"name": "rg1"}}})).await;
    apply::<FederatedIdentity>(&s.client, json!({"apiVersion": "azop.dev/v1alpha1", "kind": "FederatedIdentity", "metadata": {"name": "app", "namespace": "platform"},
        "spec": {"location": "westeurope", "resourceGroupRef": {"name": "rg1"}, "issuer": {"self": {}}, "serviceAccount": {"name": "app", "create": true}}})).await;
    apply::<RoleAssignment>(&s.client, json!({"apiVersion": "azop.dev/v1alpha1", "kind": "RoleAssignment", "metadata": {"name": "app-reader", "namespace": "platform"},
        "spec": {"principal": {"federatedIdentity": {"name": "app"}}, "role": "Reader", "scope": {"resourceGroupRef": {"name": "rg1"}}}})).await;

    let rg1 = wait_ready::<ResourceGroup>(&s.client, "rg1", |o| {
        o.status.clone().unwrap_or_default().azure.conditions
    })
    .await;
    let status = rg1.status.expect("status");
    assert_eq!(status.azure.observed_generation, 1);
    let id = status.azure.resource_id.expect("resource id");
    let stored = s.azure.get_resource(&id).expect("group in Azure");
    assert_eq!(
        stored["tags"]["azop.dev/owner"],
        "test/platform/ResourceGroup/rg1"
    );
    assert_eq!(stored["tags"]["env"], "test");

    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(s.client.clone(), "platform");
    let reasons: Vec<String> = events
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("rg1"))
        .filter_map(|e| e.reason)
        .collect();
    assert!(
        reasons.iter().any(|r| r == "Succeeded"),
        "a Ready transition is an Event: {reasons:?}"
    );

    let kv = wait_ready::<KeyVault>(&s.client, "kv1", |o| {
        o.status.clone().unwrap_or_default().azure.conditions
    })
    .await;
    assert_eq!(
        kv.status.and_then(|s| s.vault_uri).as_deref(),
        Some("https://azop-kv1.vault.azure.net/")
    );

    let fi = wait_ready::<FederatedIdentity>(&s.client, "app", |o| {
        o.status.clone().unwrap_or_default().azure.conditions
    })
    .await;
    let fs = fi.status.expect("status");
    assert_eq!(
        fs.subject.as_deref(),
        Some("system:serviceaccount:platform:app")
    );
    let sa: Api<ServiceAccount> = Api::namespaced(s.client.clone(), "platform");
    let sa = sa.get("app").await.expect("ServiceAccount created");
    assert_eq!(
        sa.metadata
            .annotations
            .unwrap_or_default()
            .get("azure.workload.identity/client-id"),
        fs.client_id.as_ref()
    );
    let cred = s
        .azure
        .get_resource(fs.credential_id.as_deref().expect("credential id"))
        .expect("credential in Azure");
    assert_eq!(cred["properties"]["issuer"], "https://issuer.example.com");

    let ra = wait_ready::<RoleAssignment>(&s.client, "app-reader", |o| {
        o.status.clone().unwrap_or_default().azure.conditions
    })
    .await;
    let ra_id = ra
        .status
        .and_then(|s| s.azure.resource_id)
        .expect("assignment id");
    let stored = s.azure.get_resource(&ra_id).expect("assignment in Azure");
    assert_eq!(stored["properties"]["principalId"], json!(fs.principal_id));
    assert_eq!(stored["properties"]["principalType"], "ServicePrincipal");

    // Steady state: sync periods pass (2s here), reads happen, writes do not.
    let writes = s.azure.writes();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(s.azure.writes(), writes, "no writes in steady state");
    assert!(
        s.azure.count("GET", "resourceGroups/rg1") > 1,
        "drift is checked by reading"
    );
    s.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_made_outside_kubernetes_is_corrected_at_the_next_sync() {
    let mut s = Setup::new(0).await;
    apply::<ResourceGroup>(&s.client, rg("rg1", "Delete")).await;
    let o = wait_ready::<ResourceGroup>(&s.client, "rg1", |o| {
        o.status.clone().unwrap_or_default().azure.conditions
    })
    .await;
    let id = o.status.and_then(|s| s.azure.resource_id).expect("id");
    s.azure
        .resources
        .lock()
        .unwrap()
        .get_mut(&id.to_ascii_lowercase())
        .expect("stored")["tags"]["env"] = json!("changed-by-hand");
    for _ in 0..60 {
        if s.azure.get_resource(&id).expect("stored")["tags"]["env"] == "test" {
            s.stop_operator().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("drift not corrected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_a_long_running_create_resumes_polling_without_a_second_put() {
    let mut s = Setup::new(15).await;
    apply::<ResourceGroup>(&s.client, rg("rg1", "Delete")).await;
    apply::<KeyVault>(&s.client, json!({"apiVersion": "azop.dev/v1alpha1", "kind": "KeyVault", "metadata": {"name": "kv1", "namespace": "platform"},
        "spec": {"azureName": "azop-kv1", "location": "westeurope", "resourceGroupRef": {"name": "rg1"}}})).await;
    let api: Api<KeyVault> = Api::namespaced(s.client.clone(), "platform");
    // Wait until the operation is recorded in status, then kill the operator.
    for _ in 0..100 {
        if api
            .get("kv1")
            .await
            .expect("read")
            .status
            .and_then(|s| s.azure.operation)
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        api.get("kv1")
            .await
            .expect("read")
            .status
            .and_then(|s| s.azure.operation)
            .is_some(),
        "operation recorded"
    );
    s.stop_operator().await;
    s.start_operator();
    wait_ready::<KeyVault>(&s.client, "kv1", |o| {
        o.status.clone().unwrap_or_default().azure.conditions
    })
    .await;
    assert_eq!(
        s.azure.count("PUT", "vaults/azop-kv1"),
        1,
        "the vault was PUT exactly once"
    );
    assert!(s.azure.count("POLL", "") >= 2, "the operation was polled");
    s.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policy_decides_whether_azure_resources_go() {
    let mut s = Setup::new(0).await;
    apply::<ResourceGroup>(&s.client, rg("gone", "Delete")).await;
    apply::<ResourceGroup>(&s.client, rg("kept", "Orphan")).await;
    let ids: Vec<String> = futures::future::join_all(["gone", "kept"].map(|n| {
        let c = s.client.clone();
        async move {
            wait_ready::<ResourceGroup>(&c, n, |o| {
                o.status.clone().unwrap_or_default().azure.conditions
            })
            .await
            .status
            .and_then(|s| s.azure.resource_id)
            .expect("id")
        }
    }))
    .await;
    let api: Api<ResourceGroup> = Api::namespaced(s.client.clone(), "platform");
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
        s.azure.get_resource(&ids[0]).is_none(),
        "Delete removed the group"
    );
    assert!(
        s.azure.get_resource(&ids[1]).is_some(),
        "Orphan left the group"
    );
    s.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_owned_by_another_object_is_never_touched() {
    let mut s = Setup::new(0).await;
    let id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1";
    s.azure.resources.lock().unwrap().insert(id.to_ascii_lowercase(), json!({"id": id, "location": "westeurope",
        "tags": {"azop.dev/owner": "other-cluster/ns/ResourceGroup/rg1"}, "properties": {"provisioningState": "Succeeded"}}));
    apply::<ResourceGroup>(&s.client, rg("rg1", "Delete")).await;
    let api: Api<ResourceGroup> = Api::namespaced(s.client.clone(), "platform");
    let mut stalled = None;
    for _ in 0..100 {
        let o = api.get("rg1").await.expect("read");
        let conds = o.status.unwrap_or_default().azure.conditions;
        if let Some(c) = conditions::find(&conds, conditions::STALLED) {
            stalled = Some(c.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let c = stalled.expect("Stalled condition");
    assert_eq!(c.reason, "OwnedByAnotherObject");
    assert_eq!(s.azure.count("PUT", "rg1"), 0, "never written");
    let _ = api
        .patch(
            "rg1",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await;
    s.stop_operator().await;
}
