//! Setup shared by the engine tests: the kube-emulator, the arm-emulator reached through a real
//! `ArmClient` over HTTPS on loopback, and the operator (`runner::run`) in this process.
//!
//! ARM requests are counted from the arm-emulator's request log (`Control::request_log`): one
//! entry per HTTP request answered, retries included.

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use arm_emulator::{ArmEmulator, Control};
use azop_api::azure_resource::AzureResourceStatus;
use azop_api::conditions::{self, READY};
use azop_api::{AksCluster, FederatedIdentity, KeyVault, ResourceGroup, RoleAssignment};
use azop_arm::{ArmClient, ArmConfig, CredentialConfig, RateLimits};
use azop_controller::azure::Azure;
use azop_controller::engine::EngineConfig;
use azop_controller::metrics::Metrics;
use azop_controller::runner::{self, RunOptions};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::{Value, json};

/// The subscription every test uses (the operator's default).
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";

/// An azop kind whose status carries the shared Azure status.
pub trait Managed:
    kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
{
    /// Conditions, resource id, operation.
    fn azure(&self) -> AzureResourceStatus;
}

macro_rules! managed {
    ($($kind:ty),*) => {$(
        impl Managed for $kind {
            fn azure(&self) -> AzureResourceStatus {
                self.status.clone().unwrap_or_default().azure
            }
        }
    )*};
}
managed!(
    ResourceGroup,
    KeyVault,
    FederatedIdentity,
    RoleAssignment,
    AksCluster
);

/// How a test's world is set up.
pub struct Options {
    /// The engine's settings; `default_tenant_id` is replaced by the emulator's tenant.
    pub engine: EngineConfig,
    /// The CRDs installed before the operator starts.
    pub crds: Vec<CustomResourceDefinition>,
    /// How long the arm-emulator's long-running operations run.
    pub lro_duration: Duration,
    /// Retries inside the ARM client's pipeline per request (`ArmConfig::max_retries`).
    pub arm_max_retries: u32,
    /// The ARM client's buckets (`ArmConfig::rate_limits`).
    pub arm_rate_limits: RateLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            engine: EngineConfig {
                cluster_id: "test".into(),
                platform_namespaces: vec!["platform".into()],
                default_subscription_id: SUBSCRIPTION.into(),
                sync_period: Duration::from_secs(2),
                self_issuer_url: Some("https://issuer.example.com".into()),
                ..EngineConfig::default()
            },
            crds: azop_api::crds(),
            lro_duration: Duration::from_secs(1),
            arm_max_retries: ArmConfig::default().max_retries,
            arm_rate_limits: RateLimits::default(),
        }
    }
}

/// Both emulators and an operator running against them.
pub struct Env {
    kube: kube_emulator::KubeEmulator,
    /// The arm-emulator; dropping it stops it.
    pub arm_emulator: ArmEmulator,
    /// Its controls: stored resources, request log, faults.
    pub arm: Control,
    /// A Kubernetes client for the test's own calls.
    pub client: Client,
    /// The ARM client the operator uses (the test may use it too, e.g. to seed a resource).
    pub arm_client: ArmClient,
    /// The metrics the operator records into.
    pub metrics: Arc<Metrics>,
    config: EngineConfig,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Env {
    /// The kube-emulator's faults (slow lists, cut watches, conflicts).
    pub fn kube_faults(&self) -> kube_emulator::Faults {
        self.kube.faults()
    }

    /// Both emulators, the CRDs, namespace `platform`, and a running operator.
    pub async fn start(options: Options) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let kube = kube_emulator::KubeEmulator::start(Default::default())
            .await
            .expect("kube-emulator");
        let client = kube.client().await.expect("client");
        let arm_emulator = ArmEmulator::start(arm_emulator::Config {
            lro_duration: options.lro_duration,
            principal_propagation_delay: Duration::ZERO,
            ..arm_emulator::Config::default()
        })
        .await
        .expect("arm-emulator");
        let tenant = arm_emulator::Config::default().tenant_id;
        let arm_client = ArmClient::new(ArmConfig {
            endpoint: arm_emulator.url(),
            ca_bundle_pem: Some(arm_emulator.ca_pem().to_string()),
            // The arm-emulator accepts any bearer token.
            credential: CredentialConfig::Static("test-token".into()),
            max_retries: options.arm_max_retries,
            rate_limits: options.arm_rate_limits,
            ..ArmConfig::default()
        })
        .expect("ARM client");
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in options.crds {
            crds.create(&PostParams::default(), &crd)
                .await
                .expect("CRD");
        }
        create_namespace(&client, "platform", json!({})).await;
        let mut env = Env {
            kube,
            arm: arm_emulator.control(),
            arm_emulator,
            client,
            arm_client,
            metrics: Arc::new(Metrics::default()),
            config: EngineConfig {
                default_tenant_id: tenant,
                ..options.engine
            },
            stop: None,
            task: None,
        };
        env.start_operator();
        env
    }

    /// Starts the operator (again).
    pub fn start_operator(&mut self) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let client = self.client.clone();
        let azure = Arc::new(self.arm_client.clone()) as Arc<dyn Azure>;
        let (config, metrics) = (self.config.clone(), self.metrics.clone());
        self.task = Some(tokio::spawn(async move {
            let _ = runner::run(
                client,
                azure,
                config,
                RunOptions::default(),
                metrics,
                async {
                    let _ = rx.await;
                },
            )
            .await;
        }));
        self.stop = Some(tx);
    }

    /// Stops the operator, as a killed process would: nothing runs after this returns.
    pub async fn stop_operator(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// Every answered ARM request with this method whose path ends with `suffix`
    /// (case-insensitive, as ARM compares ids).
    pub fn requests(&self, method: &str, suffix: &str) -> usize {
        let suffix = suffix.to_ascii_lowercase();
        self.arm
            .request_log()
            .iter()
            .filter(|r| r.method == method && r.path.to_ascii_lowercase().ends_with(&suffix))
            .count()
    }

    /// Every answered PUT and DELETE, whatever the status.
    pub fn writes(&self) -> usize {
        self.arm
            .request_log()
            .iter()
            .filter(|r| r.method == "PUT" || r.method == "DELETE")
            .count()
    }

    /// A namespaced object of kind `K`, created from JSON.
    pub async fn create<K: Managed>(&self, obj: Value) -> K {
        let obj: K = serde_json::from_value(obj).expect("valid object");
        let ns = obj.meta().namespace.clone().expect("namespaced");
        Api::<K>::namespaced(self.client.clone(), &ns)
            .create(&PostParams::default(), &obj)
            .await
            .expect("created")
    }

    /// Waits (15 s at most) until kstatus would read the object as Ready.
    pub async fn wait_ready<K: Managed>(&self, ns: &str, name: &str) -> K {
        self.wait_ready_within::<K>(ns, name, Duration::from_secs(15))
            .await
    }

    /// Waits until kstatus would read the object as Ready, or panics with its Ready condition.
    pub async fn wait_ready_within<K: Managed>(&self, ns: &str, name: &str, limit: Duration) -> K {
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let o = api.get(name).await.expect("read");
            if conditions::is_ready(&o.azure().conditions, o.meta().generation) {
                return o;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "{ns}/{name} not Ready within {limit:?}: {:?}",
                    conditions::find(&o.azure().conditions, READY)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (10 s at most) for condition `type_` with status True.
    pub async fn wait_condition<K: Managed>(&self, ns: &str, name: &str, type_: &str) -> Condition {
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        for _ in 0..100 {
            let o = api.get(name).await.expect("read");
            if let Some(c) = conditions::find(&o.azure().conditions, type_)
                && c.status == "True"
            {
                return c.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let o = api.get(name).await.expect("read");
        panic!(
            "{ns}/{name} never had {type_}=True: {:?}",
            o.azure().conditions
        );
    }
}

/// A namespaced kind the tests read and delete.
pub trait Namespaced:
    kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + serde::de::DeserializeOwned
{
}

impl<K> Namespaced for K where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
{
}

/// Deletes a namespaced object and waits (15 s at most) until azop's finalizer lets it go.
pub async fn delete_and_wait<K: Namespaced>(env: &Env, ns: &str, name: &str) {
    let api: Api<K> = Api::namespaced(env.client.clone(), ns);
    api.delete(name, &kube::api::DeleteParams::default())
        .await
        .expect("deleted");
    wait_released::<K>(env, ns, name).await;
}

/// Waits (15 s at most) until `ns/name` is gone, its finalizer released.
pub async fn wait_released<K: Namespaced>(env: &Env, ns: &str, name: &str) {
    let api: Api<K> = Api::namespaced(env.client.clone(), ns);
    for _ in 0..150 {
        if api.get_opt(name).await.expect("read").is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{ns}/{name} was not released by azop's finalizer");
}

/// With the operator stopped: deletes `ns/name` (its finalizer keeps it), starts the operator
/// and waits until the object is released.
pub async fn delete_while_stopped<K: Namespaced>(env: &mut Env, ns: &str, name: &str) {
    Api::<K>::namespaced(env.client.clone(), ns)
        .delete(name, &kube::api::DeleteParams::default())
        .await
        .expect("deleted");
    env.start_operator();
    wait_released::<K>(env, ns, name).await;
}

/// A kube-emulator with azop's CRDs installed, and a client for it.
pub async fn kube_with_crds() -> (kube_emulator::KubeEmulator, Client) {
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
    (kube, client)
}

/// Creates a namespace with these labels.
pub async fn create_namespace(client: &Client, name: &str, labels: Value) {
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))
                .expect("namespace"),
        )
        .await
        .expect("namespace created");
}

/// A ResourceGroup object.
pub fn rg(ns: &str, name: &str, location: &str, deletion_policy: &str) -> Value {
    json!({"apiVersion": "azop.dev/v1alpha1", "kind": "ResourceGroup",
           "metadata": {"name": name, "namespace": ns},
           "spec": {"location": location, "deletionPolicy": deletion_policy, "tags": {"env": "test"}}})
}

/// The ARM id of a resource group in the test subscription.
pub fn rg_id(name: &str) -> String {
    format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}")
}
