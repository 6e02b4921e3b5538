//! Runs one kube-runtime Controller per kind on the shared engine, with the reflectors policy
//! needs, metrics, and a Lease so only one replica reconciles at a time.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use azop_api::{
    AksCluster, AzureProfile, FederatedIdentity, KeyVault, ResourceGroup, RoleAssignment,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use crate::azure::Azure;
use crate::engine::{self, AzureKind, Context, EngineConfig, Reference};
use crate::metrics::Metrics;
use azop_api::profile::AzopKind;

/// How the operator runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Reconciles in flight per kind.
    pub concurrency: u16,
    /// Take a Lease before reconciling (two replicas are then safe).
    pub leader_election: Option<LeaderElection>,
}

/// Where the Lease lives and who we are.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub lease_name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency: 32,
            leader_election: None,
        }
    }
}

/// Errors that stop the operator.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Leader election failed.
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
    /// Leadership was lost; the process should exit and restart.
    #[error("lost the leader Lease")]
    LostLease,
}

fn reflect<K>(api: Api<K>) -> (Store<K>, impl Future<Output = ()>)
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .for_each(|_| async {});
    (reader, stream)
}

/// Wakes on spec changes and deletion, not on our own status writes.
fn spec_or_deletion<K: Resource>(obj: &K) -> Option<u64> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.meta().generation.hash(&mut h);
    obj.meta().deletion_timestamp.is_some().hash(&mut h);
    obj.meta().finalizers.hash(&mut h);
    Some(h.finish())
}

/// What of a dependency its dependents care about: generation, resource id and conditions.
fn readiness(
    generation: Option<i64>,
    resource_id: &Option<String>,
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> Option<u64> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    generation.hash(&mut h);
    resource_id.hash(&mut h);
    for c in conditions {
        (&c.type_, &c.status, c.observed_generation).hash(&mut h);
    }
    Some(h.finish())
}

fn kind_readiness<D: AzureKind>(obj: &D) -> Option<u64> {
    let mut status = obj.status().cloned().unwrap_or_default();
    let common = D::azure_status(&mut status);
    readiness(
        obj.meta().generation,
        &common.resource_id,
        &common.conditions,
    )
}

fn cluster_readiness(obj: &AksCluster) -> Option<u64> {
    let status = obj.status.clone().unwrap_or_default();
    readiness(
        obj.meta().generation,
        &status.oidc_issuer_url,
        &status.azure.conditions,
    )
}

/// Wakes the objects of `K` that reference a dependency of kind `kind`.
fn dependents<K, D>(
    store: Store<K>,
    kind: AzopKind,
) -> impl Fn(D) -> Vec<ObjectRef<K>> + Send + Sync + 'static
where
    K: AzureKind,
    D: Resource,
{
    move |dep: D| {
        let target = Reference {
            kind,
            namespace: dep.namespace().unwrap_or_default(),
            name: dep.name_any(),
        };
        store
            .state()
            .iter()
            .filter(|o| o.references().contains(&target))
            .map(|o| ObjectRef::from_obj(&**o))
            .collect()
    }
}

/// A watch of dependency kind `D` that yields only readiness changes.
fn dependency_stream<D>(
    client: &Client,
    hash: fn(&D) -> Option<u64>,
) -> impl futures::Stream<Item = Result<D, watcher::Error>> + Send + 'static
where
    D: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    watcher(Api::<D>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .touched_objects()
        .predicate_filter(hash, Default::default())
}

async fn run_kind<K>(client: Client, ctx: Arc<Context>, metrics: Arc<Metrics>, concurrency: u16)
where
    K: AzureKind,
{
    let api: Api<K> = Api::all(client.clone());
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(spec_or_deletion::<K>, Default::default());
    let store = reader.clone();
    let wc = watcher::Config::default();
    let controller = Controller::for_stream(stream, reader)
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
        .watches_stream(
            dependency_stream::<ResourceGroup>(&client, kind_readiness::<ResourceGroup>),
            dependents::<K, ResourceGroup>(store.clone(), AzopKind::ResourceGroup),
        )
        .watches_stream(
            dependency_stream::<KeyVault>(&client, kind_readiness::<KeyVault>),
            dependents::<K, KeyVault>(store.clone(), AzopKind::KeyVault),
        )
        .watches_stream(
            dependency_stream::<FederatedIdentity>(&client, kind_readiness::<FederatedIdentity>),
            dependents::<K, FederatedIdentity>(store.clone(), AzopKind::FederatedIdentity),
        )
        .watches_stream(
            dependency_stream::<AksCluster>(&client, cluster_readiness),
            dependents::<K, AksCluster>(store.clone(), AzopKind::AksCluster),
        )
        .owns(Api::<ServiceAccount>::all(client.clone()), wc);
    let kind = K::kind(&()).to_string();
    let gauges = tokio::spawn(export_gauges::<K>(store.clone(), metrics.clone()));
    controller
        .run(
            move |obj, ctx| {
                let metrics = metrics.clone();
                let kind = kind.clone();
                async move {
                    let start = Instant::now();
                    let result = engine::reconcile::<K>(obj, ctx).await;
                    metrics.reconciled(&kind, result.is_ok(), start.elapsed());
                    result
                }
            },
            engine::error_policy::<K>,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile failed");
            }
        })
        .await;
    gauges.abort();
}

/// Keeps the `objects` and `operations_in_flight` gauges of one kind current, from the
/// controller's own cache (no extra API calls).
async fn export_gauges<K: AzureKind>(store: Store<K>, metrics: Arc<Metrics>) {
    use crate::metrics::{KindLabel, ReadinessLabels};
    let kind = K::kind(&()).to_string();
    loop {
        let mut by_ready: std::collections::BTreeMap<&str, i64> =
            [("True", 0), ("False", 0), ("Unknown", 0)].into();
        let mut in_flight = 0;
        for obj in store.state() {
            let mut status = obj.status().cloned().unwrap_or_default();
            let azure = K::azure_status(&mut status);
            let ready = azop_api::conditions::find(&azure.conditions, azop_api::conditions::READY)
                .map(|c| c.status.as_str())
                .unwrap_or("Unknown");
            let ready = match ready {
                "True" => "True",
                "False" => "False",
                _ => "Unknown",
            };
            *by_ready.entry(ready).or_default() += 1;
            in_flight += i64::from(azure.operation.is_some());
        }
        for (ready, n) in by_ready {
            metrics
                .objects
                .get_or_create(&ReadinessLabels {
                    kind: kind.clone(),
                    ready: ready.to_string(),
                })
                .set(n);
        }
        metrics
            .operations_in_flight
            .get_or_create(&KindLabel { kind: kind.clone() })
            .set(in_flight);
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// Runs every kind's controller until `shutdown` resolves.
pub async fn run(
    client: Client,
    azure: Arc<dyn Azure>,
    config: EngineConfig,
    options: RunOptions,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let mut leading = None;
    if let Some(le) = &options.leader_election {
        let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &le.lease_name)
            .with_namespace(&le.namespace)
            .with_identity(&le.identity)
            .build()
            .await?;
        let (mut rx, task) = manager.watch().await;
        while !*rx.borrow_and_update() {
            tracing::info!(lease = %le.lease_name, "waiting for the leader Lease");
            if rx.changed().await.is_err() {
                return Err(RunError::LostLease);
            }
        }
        tracing::info!(lease = %le.lease_name, identity = %le.identity, "leading");
        leading = Some((rx, task));
    }

    let (profiles, profiles_task) = reflect(Api::<AzureProfile>::all(client.clone()));
    let (namespaces, namespaces_task) = reflect(Api::<Namespace>::all(client.clone()));
    let ctx = Arc::new(Context {
        client: client.clone(),
        azure,
        config,
        profiles: profiles.clone(),
        namespaces: namespaces.clone(),
        recorder: kube::runtime::events::Recorder::new(client.clone(), "azop".into()),
        identity_locks: Default::default(),
    });
    let c = options.concurrency;
    let controllers = async {
        let _ = tokio::time::timeout(Duration::from_secs(30), async {
            let _ = profiles.wait_until_ready().await;
            let _ = namespaces.wait_until_ready().await;
        })
        .await;
        metrics.set_ready(true);
        tokio::join!(
            run_kind::<ResourceGroup>(client.clone(), ctx.clone(), metrics.clone(), c),
            run_kind::<KeyVault>(client.clone(), ctx.clone(), metrics.clone(), c),
            run_kind::<AksCluster>(client.clone(), ctx.clone(), metrics.clone(), c),
            run_kind::<FederatedIdentity>(client.clone(), ctx.clone(), metrics.clone(), c),
            run_kind::<RoleAssignment>(client.clone(), ctx.clone(), metrics.clone(), c),
        );
    };
    let lost = async {
        match &mut leading {
            Some((rx, _)) => loop {
                if rx.changed().await.is_err() || !*rx.borrow() {
                    return;
                }
            },
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        _ = controllers => Ok(()),
        _ = profiles_task => Ok(()),
        _ = namespaces_task => Ok(()),
        _ = shutdown => Ok(()),
        _ = lost => Err(RunError::LostLease),
    };
    metrics.set_ready(false);
    if let Some((rx, task)) = leading {
        // Dropping the receiver makes the manager release the Lease.
        drop(rx);
        let _ = task.await;
    }
    result
}
