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
use crate::engine::{self, AzureKind, Context, EngineConfig};
use crate::metrics::Metrics;

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

/// Objects of `K` in the namespace of a changed dependency: a ResourceGroup, KeyVault,
/// FederatedIdentity or AksCluster becoming Ready wakes its dependents.
fn same_namespace<K, D>(store: Store<K>) -> impl Fn(D) -> Vec<ObjectRef<K>> + Send + Sync + 'static
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    D: Resource,
{
    move |dep: D| {
        let ns = dep.namespace();
        store
            .state()
            .iter()
            .filter(|o| o.namespace() == ns || dep_is_cross_namespace_target::<D>())
            .map(|o| ObjectRef::from_obj(&**o))
            .collect()
    }
}

/// Clusters and vaults are referenced across namespaces (issuer and binding access).
fn dep_is_cross_namespace_target<D: Resource>() -> bool {
    let kind = std::any::type_name::<D>();
    kind.ends_with("AksCluster") || kind.ends_with("KeyVault")
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
        .watches(
            Api::<ResourceGroup>::all(client.clone()),
            wc.clone(),
            same_namespace::<K, ResourceGroup>(store.clone()),
        )
        .watches(
            Api::<KeyVault>::all(client.clone()),
            wc.clone(),
            same_namespace::<K, KeyVault>(store.clone()),
        )
        .watches(
            Api::<FederatedIdentity>::all(client.clone()),
            wc.clone(),
            same_namespace::<K, FederatedIdentity>(store.clone()),
        )
        .watches(
            Api::<AksCluster>::all(client.clone()),
            wc.clone(),
            same_namespace::<K, AksCluster>(store.clone()),
        )
        .owns(Api::<ServiceAccount>::all(client.clone()), wc);
    let kind = K::kind(&()).to_string();
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
