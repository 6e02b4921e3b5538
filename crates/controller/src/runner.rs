//! Runs one kube-runtime Controller per kind on the shared engine: one shared watch per kind
//! (every controller subscribes to it rather than opening its own), objects read through
//! `DeserializeGuard` so a malformed one cannot stop its kind, dependents woken through an index,
//! AzureProfile and Namespace changes requeue the objects they govern, metrics, and a Lease so
//! only one replica reconciles at a time.
//!
//! Sharding, as Flux shards its controllers: with [`Shard::Key`] the watches of azop's kinds
//! select only the objects labelled `sharding.azop.dev/key=KEY` ([`azop_api::SHARD_LABEL`]),
//! with [`Shard::Unlabelled`] only those without the label; AzureProfiles and Namespaces are
//! cluster policy and every shard watches them all. An object relabelled into another shard
//! leaves this shard's watch as a deletion would (kube-apiserver sends DELETED when an object
//! stops matching a watch's selector): it leaves the store, so its scheduled requeues find
//! nothing and stop, and it is forgotten here ([`forget_departed`]); no cleanup runs, since
//! that only follows a `deletionTimestamp` seen while the object is in the watch. The new
//! shard sees it ADDED and takes it from its status. References to other shards' objects are
//! read from the API server ([`crate::index::Stores::find`]).

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use azop_api::azure_resource::AzureBacked;
use azop_api::conditions::{self, READY};
use azop_api::{AksCluster, AzureProfile, FederatedIdentity, KeyVault, ResourceGroup};
use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::core::{DeserializeGuard, SelectorExt};
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use crate::acknowledge::Acknowledger;
use crate::azure::Azure;
use crate::engine::{self, AzureKind, Context, EngineConfig, Reference};
use crate::index::Stores;
use crate::metrics::Metrics;

/// Which of azop's objects this operator reconciles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Shard {
    /// Every object: no sharding.
    #[default]
    All,
    /// Only the objects labelled `sharding.azop.dev/key=KEY` (`azop run --shard KEY`).
    Key(String),
    /// Only the objects without that label (`azop run --exclude-shards`): the main operator
    /// when shards exist, as Flux's runs with `--watch-label-selector='!sharding.fluxcd.io/key'`.
    Unlabelled,
}

impl Shard {
    /// The shard of `key`, which must be a DNS label (lowercase letters, digits and `-`, at
    /// most 63 characters): it is a label value, and it names the shard's Lease (and, in the
    /// Helm chart, its Deployment).
    pub fn key(key: &str) -> Result<Shard, String> {
        let valid = !key.is_empty()
            && key.len() <= 63
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !key.starts_with('-')
            && !key.ends_with('-');
        if valid {
            Ok(Shard::Key(key.to_string()))
        } else {
            Err(format!(
                "shard key {key:?}: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (it is the value of the {} label and names the shard's Lease)",
                azop_api::SHARD_LABEL
            ))
        }
    }

    /// The label selector of azop's kinds' watches; `None` for every object.
    pub fn label_selector(&self) -> Option<String> {
        match self {
            Shard::All => None,
            Shard::Key(key) => Some(format!("{}={key}", azop_api::SHARD_LABEL)),
            Shard::Unlabelled => Some(format!("!{}", azop_api::SHARD_LABEL)),
        }
    }

    /// The watch configuration of azop's kinds in this shard.
    pub fn watcher_config(&self) -> watcher::Config {
        let config = watcher::Config::default();
        match self.label_selector() {
            Some(selector) => config.labels(&selector),
            None => config,
        }
    }

    /// The Lease this shard's replicas elect a leader with, unless one is named: each shard
    /// has its own (`azop-leader-KEY`); the unlabelled shard keeps the unsharded operator's
    /// (`azop-leader`), as it is the same Deployment with `--exclude-shards` added.
    pub fn default_lease_name(&self) -> String {
        match self {
            Shard::Key(key) => format!("{DEFAULT_LEASE_NAME}-{key}"),
            Shard::All | Shard::Unlabelled => DEFAULT_LEASE_NAME.to_string(),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shard::All => f.write_str("every object"),
            Shard::Key(key) => write!(f, "shard {key} ({}={key})", azop_api::SHARD_LABEL),
            Shard::Unlabelled => write!(f, "objects without {}", azop_api::SHARD_LABEL),
        }
    }
}

/// The Lease of the unsharded operator (`azop run --lease-name`'s default).
pub const DEFAULT_LEASE_NAME: &str = "azop-leader";

/// How the operator runs.
#[derive(Clone)]
pub struct RunOptions {
    /// Reconciles in flight per kind.
    pub concurrency: u16,
    /// Which objects this operator reconciles.
    pub shard: Shard,
    /// Take a Lease before reconciling (two replicas are then safe).
    pub leader_election: Option<LeaderElection>,
    /// Signs in as the identities AzureProfiles name (`credential.workloadIdentity`); without
    /// it, objects governed by such a profile are refused with a ConfigurationError.
    pub identities: Option<Arc<dyn crate::engine::Identities>>,
    /// Reads vault secrets as a KeyVaultBinding's identity (`spec.sync`); without it, a
    /// binding that syncs is answered with a ConfigurationError.
    pub key_vault: Option<azop_arm::KeyVaultClient>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("concurrency", &self.concurrency)
            .field("shard", &self.shard)
            .field("leader_election", &self.leader_election)
            .field("identities", &self.identities.is_some())
            .field("key_vault", &self.key_vault.is_some())
            .finish()
    }
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
            shard: Shard::All,
            leader_election: None,
            identities: None,
            key_vault: None,
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

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How many events a shared watch buffers per subscriber before it waits for the slowest.
const SHARED_BUFFER: usize = 1024;

/// One shared watch: its store, the task that drives it, and the writer handing out
/// subscriptions until every controller has taken its own.
struct Shared<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    writer: Option<reflector::store::Writer<K>>,
    /// For a kind with a controller of its own: what that controller last saw of each object
    /// ([`own_changes`]), forgotten when the object leaves the watch, so that it is reconciled
    /// afresh if it comes back (relabelled into this shard again).
    seen: Option<Arc<Changed<K>>>,
}

impl<K> Shared<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    fn new() -> Self {
        let (store, writer) = reflector::store_shared(SHARED_BUFFER);
        Shared {
            store,
            writer: Some(writer),
            seen: None,
        }
    }

    /// The watch of a kind whose controller reads its own changes through `hash`.
    fn with_own_changes(hash: fn(&K) -> u64) -> Self {
        Shared {
            seen: Some(Arc::new(Changed::new(hash))),
            ..Shared::new()
        }
    }

    /// What the kind's controller last saw of each object.
    fn seen(&self) -> Arc<Changed<K>> {
        self.seen
            .clone()
            // Only kinds with a controller of their own are watched `with_own_changes`.
            .expect("a kind with a controller of its own")
    }

    fn subscribe(&self) -> ReflectHandle<K> {
        self.writer
            .as_ref()
            .and_then(|w| w.subscribe())
            // A shared writer always subscribes; the writer is only taken by `start` after
            // every controller has subscribed.
            .expect("subscriptions are taken before the watch starts")
    }

    /// The task driving the watch (`config` selects what it holds) into the store and every
    /// subscriber. An object that leaves the watch — deleted, or no longer selected (relabelled
    /// into another shard) — is handed to `left`; after a re-list, what the kind's controller
    /// remembers of objects that went meanwhile, unseen, is dropped too.
    fn start(
        &mut self,
        api: Api<K>,
        config: watcher::Config,
        left: impl Fn(&K) + Send + Sync + 'static,
    ) -> Task {
        let Some(writer) = self.writer.take() else {
            return Box::pin(async {});
        };
        let store = self.store.clone();
        let seen = self.seen.clone();
        Box::pin(
            watcher(api, config)
                .default_backoff()
                .modify(slim::<K>)
                .reflect_shared(writer)
                .for_each(move |event| {
                    match event {
                        Ok(watcher::Event::Delete(obj)) => {
                            if let Some(seen) = &seen {
                                seen.forget(&obj);
                            }
                            left(&obj);
                        }
                        // The store holds the new list already, and its objects have not been
                        // handed to the controller yet.
                        Ok(watcher::Event::InitDone) => {
                            if let Some(seen) = &seen {
                                seen.retain(&store.state());
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "watch failed; retrying"),
                    }
                    futures::future::ready(())
                }),
        )
    }
}

/// A hash of what dependents care about: generation, resource id and conditions.
fn readiness<K: AzureBacked>(obj: &K) -> u64 {
    let common = obj.common_status();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.meta().generation.hash(&mut h);
    common.resource_id.hash(&mut h);
    for c in &common.conditions {
        (&c.type_, &c.status, c.observed_generation).hash(&mut h);
    }
    h.finish()
}

/// Readiness, plus the outputs dependents read from a cluster (issuer, kubelet identity).
fn cluster_readiness(obj: &AksCluster) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    readiness(obj).hash(&mut h);
    if let Some(s) = &obj.status {
        s.oidc_issuer_url.hash(&mut h);
        s.kubelet_identity
            .as_ref()
            .and_then(|k| k.object_id.as_ref())
            .hash(&mut h);
    }
    obj.spec.issuer_access.is_some().hash(&mut h);
    h.finish()
}

/// A referenced object this process caches, as its dependents see it: the hash of what their
/// last sync depends on (its readiness, and a cluster's outputs), and whether it is Ready for
/// its generation. `None` when it is not cached here (another shard's, or not created yet).
fn cached_reference(stores: &Stores, r: &Reference) -> Option<(u64, bool)> {
    use azop_api::profile::AzopKind;
    fn seen<K: AzureBacked>(o: &K, state: u64) -> (u64, bool) {
        let ready =
            azop_api::conditions::is_ready(&o.common_status().conditions, o.meta().generation);
        (state, ready)
    }
    let (ns, name) = (r.namespace.as_str(), r.name.as_str());
    match r.kind {
        AzopKind::ResourceGroup => stores
            .get::<ResourceGroup>(ns, name)
            .map(|o| seen(&*o, readiness(&*o))),
        AzopKind::KeyVault => stores
            .get::<KeyVault>(ns, name)
            .map(|o| seen(&*o, readiness(&*o))),
        AzopKind::AksCluster => stores
            .get::<AksCluster>(ns, name)
            .map(|o| seen(&*o, cluster_readiness(&o))),
        AzopKind::FederatedIdentity => stores
            .get::<FederatedIdentity>(ns, name)
            .map(|o| seen(&*o, readiness(&*o))),
        AzopKind::RoleAssignment => stores
            .get::<azop_api::RoleAssignment>(ns, name)
            .map(|o| seen(&*o, readiness(&*o))),
        AzopKind::KeyVaultBinding => None,
    }
}

/// What a dependent's last sync depends on of a referenced object (its readiness, and a
/// cluster's outputs), from memory; `None` when it is not there. Part of
/// `status.lastSyncInputs`.
pub(crate) fn reference_state(stores: &Stores, r: &Reference) -> Option<u64> {
    cached_reference(stores, r).map(|(state, _)| state)
}

/// What the caches keep of an object: all but `metadata.managedFields` and kubectl's
/// last-applied annotation, which azop never reads and which are most of a small object's size
/// (kube-rs' advice for large fleets).
fn slim<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Whether a referenced object this process caches is not Ready for its generation (`false`
/// when it is, or when it is not cached here: another shard's, or not created yet).
pub(crate) fn reference_not_ready(stores: &Stores, r: &Reference) -> bool {
    cached_reference(stores, r).is_some_and(|(_, ready)| !ready)
}

/// Yields a value only when `hash` of an object differs from the last one seen for it, so a
/// dependency's status writes that change nothing its dependents read wake nobody.
struct Changed<T> {
    last: Mutex<HashMap<String, u64>>,
    hash: fn(&T) -> u64,
    /// Whether the first sight of an object counts as a change.
    first_sight: bool,
}

impl<T: Resource> Changed<T> {
    fn new(hash: fn(&T) -> u64) -> Self {
        Changed {
            last: Mutex::default(),
            hash,
            first_sight: true,
        }
    }

    /// Counts only changes after an object was first seen: a dependency listed when the
    /// operator starts wakes none of its dependents (they are listed themselves, and their
    /// `lastSyncInputs` tells whether the dependency changed while azop was away), and one
    /// created later wakes them when it becomes Ready, which is a change.
    fn after_first_sight(hash: fn(&T) -> u64) -> Self {
        Changed {
            first_sight: false,
            ..Changed::new(hash)
        }
    }

    fn key(obj: &T) -> String {
        format!(
            "{}/{}",
            obj.meta().namespace.as_deref().unwrap_or_default(),
            obj.meta().name.as_deref().unwrap_or_default()
        )
    }

    fn changed(&self, obj: &T) -> bool {
        let h = (self.hash)(obj);
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match last.insert(Self::key(obj), h) {
            Some(before) => before != h,
            None => self.first_sight,
        }
    }

    /// Forgets `obj`: it is new again the next time it is seen.
    fn forget(&self, obj: &T) {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&Self::key(obj));
    }

    /// Forgets every object but those of `present`.
    fn retain(&self, present: &[Arc<T>]) {
        let present: std::collections::HashSet<String> =
            present.iter().map(|o| Self::key(o)).collect();
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, _| present.contains(key));
    }
}

/// The dependents of kind `K` of each changed object of kind `D`, from the index.
fn dependents_of<K, D>(
    ctx: Arc<Context>,
    hash: fn(&D) -> u64,
) -> impl Fn(Arc<DeserializeGuard<D>>) -> Vec<ObjectRef<DeserializeGuard<K>>> + Send + Sync + 'static
where
    K: AzureKind,
    D: AzureBacked,
{
    let changed = Changed::after_first_sight(hash);
    move |dep| {
        let Ok(dep) = &dep.0 else { return Vec::new() };
        if !changed.changed(dep) {
            return Vec::new();
        }
        let target = Reference {
            kind: D::KIND,
            namespace: dep.namespace().unwrap_or_default(),
            name: dep.name_any(),
        };
        ctx.dependents
            .of::<K>(K::KIND, &target)
            .into_iter()
            .map(|r| ObjectRef::new(&r.name).within(r.namespace.as_deref().unwrap_or_default()))
            .collect()
    }
}

/// Whether an object's Ready condition is refused by policy (or by a missing profile).
fn denied_by_policy<K: AzureBacked>(obj: &K) -> bool {
    conditions::denied_by_policy(&obj.common_status().conditions)
}

/// The readable objects of a store that `keep` selects, as references for the controller.
fn objects_where<K: AzureKind>(
    store: &Store<DeserializeGuard<K>>,
    keep: impl Fn(&K) -> bool,
) -> Vec<ObjectRef<DeserializeGuard<K>>> {
    store
        .state()
        .iter()
        .filter_map(|g| g.0.as_ref().ok())
        .filter(|obj| keep(obj))
        .map(|obj| ObjectRef::new(&obj.name_any()).within(&obj.namespace().unwrap_or_default()))
        .collect()
}

/// On a profile change: the objects of `K` in the namespaces the profile selects now, and every
/// object of `K` refused by policy (the profile may have stopped selecting or started
/// allowing it). A profile that does not deserialise selects nothing azop can tell: every
/// object of `K` is looked at again (it may have governed some).
fn governed_by_profile<K: AzureKind>(
    ctx: Arc<Context>,
    store: Store<DeserializeGuard<K>>,
) -> impl Fn(Arc<DeserializeGuard<AzureProfile>>) -> Vec<ObjectRef<DeserializeGuard<K>>>
+ Send
+ Sync
+ 'static {
    let changed = Changed::new(|p: &DeserializeGuard<AzureProfile>| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        p.meta().generation.hash(&mut h);
        p.meta().deletion_timestamp.is_some().hash(&mut h);
        p.0.is_ok().hash(&mut h);
        h.finish()
    });
    move |guard| {
        if !changed.changed(&guard) {
            return Vec::new();
        }
        let Ok(profile) = &guard.0 else {
            return objects_where(&store, |_| true);
        };
        let selector = crate::policy::namespace_selector(profile).ok();
        objects_where(&store, |obj| {
            let labels = ctx.namespace_labels(&obj.namespace().unwrap_or_default());
            denied_by_policy(obj) || selector.as_ref().is_some_and(|s| s.matches(&labels))
        })
    }
}

/// On a namespace's label change: the objects of `K` in it.
fn in_namespace<K: AzureKind>(
    store: Store<DeserializeGuard<K>>,
) -> impl Fn(Arc<Namespace>) -> Vec<ObjectRef<DeserializeGuard<K>>> + Send + Sync + 'static {
    let changed = Changed::new(|ns: &Namespace| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        ns.metadata.labels.hash(&mut h);
        h.finish()
    });
    move |ns| {
        if !changed.changed(&ns) {
            return Vec::new();
        }
        let name = ns.name_any();
        objects_where(&store, |obj| {
            obj.namespace().as_deref() == Some(name.as_str())
        })
    }
}

/// Wakes on spec changes, deletion and other finalizers, not on our own status writes nor
/// on azop's finalizer being added (the pass that added it goes on; waking it again would
/// read Azure twice for one create). A finalizer list without azop's wakes it ([`lacks_finalizer`]).
fn spec_or_deletion<K: Resource>(obj: &K) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.meta().generation.hash(&mut h);
    obj.meta().deletion_timestamp.is_some().hash(&mut h);
    obj.meta()
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != azop_api::FINALIZER)
        .for_each(|f| f.hash(&mut h));
    h.finish()
}

/// Whether an object has conditions (a new one has none until azop writes them).
fn has_conditions<K: AzureKind>(obj: &K) -> bool {
    obj.status().is_some() && !obj.common_status().conditions.is_empty()
}

/// What wakes a binding: its spec, its deletion, other finalizers, and a sync requested with
/// the `azop.dev/sync-requested-at` annotation; a malformed one, any change.
fn binding_change(guard: &DeserializeGuard<azop_api::KeyVaultBinding>) -> u64 {
    guarded_change(guard, |b| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        spec_or_deletion(b).hash(&mut h);
        b.annotations()
            .get(crate::kinds::binding_sync::SYNC_REQUEST_ANNOTATION)
            .hash(&mut h);
        h.finish()
    })
}

/// `of` a well-formed object; a malformed one (read through `DeserializeGuard`) changes with
/// every write, its resourceVersion.
fn guarded_change<K>(guard: &DeserializeGuard<K>, of: impl Fn(&K) -> u64) -> u64 {
    match &guard.0 {
        Ok(obj) => of(obj),
        Err(invalid) => {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            invalid.metadata.resource_version.hash(&mut h);
            h.finish()
        }
    }
}

/// Whether an event of a kind's own watch wakes its controller: a change `seen` had not seen,
/// or a live object without azop's finalizer. A new object is handed to the acknowledger
/// first, whether or not it wakes the controller now.
fn wakes<K>(
    guard: &DeserializeGuard<K>,
    ack: &Acknowledger<K>,
    seen: &Changed<DeserializeGuard<K>>,
) -> bool
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
{
    if let Ok(obj) = &guard.0 {
        ack.saw(obj);
    }
    seen.changed(guard) || guard.0.as_ref().is_ok_and(lacks_finalizer)
}

/// A live object without azop's finalizer: someone removed it, or azop has not added it yet.
fn lacks_finalizer<K: Resource>(obj: &K) -> bool {
    obj.meta().deletion_timestamp.is_none()
        && !obj
            .meta()
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == azop_api::FINALIZER)
}

/// Everything a kind's controller subscribes to.
struct Subscriptions {
    resource_groups: ReflectHandle<DeserializeGuard<ResourceGroup>>,
    key_vaults: ReflectHandle<DeserializeGuard<KeyVault>>,
    aks_clusters: ReflectHandle<DeserializeGuard<AksCluster>>,
    federated_identities: ReflectHandle<DeserializeGuard<FederatedIdentity>>,
    profiles: ReflectHandle<DeserializeGuard<AzureProfile>>,
    namespaces: ReflectHandle<Namespace>,
}

/// Resolves once `store` has its first list (or its writer is gone).
fn first_list<K>(store: &Store<K>) -> futures::future::BoxFuture<'static, ()>
where
    K: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    let store = store.clone();
    Box::pin(async move {
        let _ = store.wait_until_ready().await;
    })
}

/// Declares `Watches`, the shared watches of every Azure-backed kind plus AzureProfiles and
/// Namespaces, from the kind registry (`azop_api::for_each_azure_kind!`).
macro_rules! declare_watches {
    ($($kind:ty => $field:ident),* $(,)?) => {
        /// The shared watches of every kind the controllers read or wake on.
        struct Watches {
            $($field: Shared<DeserializeGuard<$kind>>,)*
            profiles: Shared<DeserializeGuard<AzureProfile>>,
            namespaces: Shared<Namespace>,
        }

        impl Watches {
            fn new() -> Self {
                Watches {
                    $($field: Shared::with_own_changes(own_change::<$kind>),)*
                    profiles: Shared::new(),
                    namespaces: Shared::new(),
                }
            }

            /// The kinds' stores; one shard's only look beyond it for what they miss.
            fn stores(&self, shard: &Shard, client: &Client) -> Stores {
                let stores = match shard {
                    Shard::All => Stores::default(),
                    Shard::Key(_) | Shard::Unlabelled => Stores::beyond_shard(client.clone()),
                };
                $(stores.insert(self.$field.store.clone());)*
                stores
            }

            /// Waits until every store has its first list: references are resolved against
            /// them, and a controller that started earlier would find a dependency merely not
            /// listed yet missing (a restart flipped Ready on every vault whose group was listed
            /// after it, and on each of the vault's bindings).
            fn listed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
                let waits = vec![
                    $(first_list(&self.$field.store),)*
                    first_list(&self.profiles.store),
                    first_list(&self.namespaces.store),
                ];
                async move {
                    futures::future::join_all(waits).await;
                }
            }

            /// One controller per kind, each with its own subscriptions.
            fn controllers(&self, ctx: &Arc<Context>, concurrency: u16) -> Vec<Task> {
                vec![$(controller_for::<$kind>(
                    ctx.clone(),
                    self.$field.subscribe(),
                    self.$field.seen(),
                    self.$field.store.clone(),
                    self.subscriptions(),
                    concurrency,
                ),)*]
            }

            /// The tasks driving every watch; called after every controller subscribed. The
            /// kinds' watches select `shard`; profiles and namespaces are watched whole.
            fn start(&mut self, client: &Client, shard: &Shard, ctx: &Arc<Context>) -> Vec<Task> {
                vec![
                    $(self.$field.start(
                        Api::all(client.clone()),
                        shard.watcher_config(),
                        forget_departed::<$kind>(ctx.clone()),
                    ),)*
                    self.profiles.start(Api::all(client.clone()), watcher::Config::default(), |_| {}),
                    self.namespaces.start(Api::all(client.clone()), watcher::Config::default(), |_| {}),
                ]
            }
        }
    };
}

azop_api::for_each_azure_kind!(declare_watches);

impl Watches {
    fn subscriptions(&self) -> Subscriptions {
        Subscriptions {
            resource_groups: self.resource_groups.subscribe(),
            key_vaults: self.key_vaults.subscribe(),
            aks_clusters: self.aks_clusters.subscribe(),
            federated_identities: self.federated_identities.subscribe(),
            profiles: self.profiles.subscribe(),
            namespaces: self.namespaces.subscribe(),
        }
    }
}

/// What of a kind's own objects wakes its controller: spec changes and deletion (a malformed
/// object: any change).
fn own_change<K: AzureKind>(guard: &DeserializeGuard<K>) -> u64 {
    guarded_change(guard, spec_or_deletion)
}

/// A kind's own objects, filtered to the changes that matter ([`own_change`]); `seen` is what
/// was seen last of each.
fn own_changes<K: AzureKind>(
    handle: ReflectHandle<DeserializeGuard<K>>,
    seen: Arc<Changed<DeserializeGuard<K>>>,
    ack: Acknowledger<K>,
) -> impl Stream<Item = Arc<DeserializeGuard<K>>> + Send + 'static {
    handle.filter(move |g| futures::future::ready(wakes(g, &ack, &seen)))
}

/// What an object that left this operator's watch of kind `K` (deleted, or relabelled into
/// another shard) leaves behind here: its references in the dependents index. Nothing else is
/// done: its finalizer and Azure resource are another shard's now, or already gone.
fn forget_departed<K: AzureKind>(
    ctx: Arc<Context>,
) -> impl Fn(&DeserializeGuard<K>) + Send + Sync + 'static {
    move |guard| {
        if let Ok(obj) = &guard.0 {
            ctx.dependents.forget(K::KIND, obj);
            if ctx.stores.is_one_shard() && obj.meta().deletion_timestamp.is_none() {
                tracing::debug!(
                    kind = %K::kind(&()),
                    namespace = %obj.namespace().unwrap_or_default(),
                    name = %obj.name_any(),
                    "left this shard's watch (deleted, or relabelled into another shard)"
                );
            }
        }
    }
}

fn controller_for<K: AzureKind>(
    ctx: Arc<Context>,
    own: ReflectHandle<DeserializeGuard<K>>,
    seen: Arc<Changed<DeserializeGuard<K>>>,
    store: Store<DeserializeGuard<K>>,
    subs: Subscriptions,
    concurrency: u16,
) -> Task {
    let (ack, acknowledging) = Acknowledger::start(ctx.client.clone(), has_conditions::<K>);
    let mut controller = Controller::for_shared_stream(own_changes(own, seen, ack), store.clone())
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
        .watches_shared_stream(
            subs.resource_groups,
            dependents_of::<K, ResourceGroup>(ctx.clone(), readiness::<ResourceGroup>),
        )
        .watches_shared_stream(
            subs.key_vaults,
            dependents_of::<K, KeyVault>(ctx.clone(), readiness::<KeyVault>),
        )
        .watches_shared_stream(
            subs.aks_clusters,
            dependents_of::<K, AksCluster>(ctx.clone(), cluster_readiness),
        )
        .watches_shared_stream(
            subs.federated_identities,
            dependents_of::<K, FederatedIdentity>(ctx.clone(), readiness::<FederatedIdentity>),
        )
        .watches_shared_stream(
            subs.profiles,
            governed_by_profile(ctx.clone(), store.clone()),
        )
        .watches_shared_stream(subs.namespaces, in_namespace(store.clone()));
    if K::KIND == azop_api::profile::AzopKind::FederatedIdentity {
        // A FederatedIdentity owns the ServiceAccount it creates: recreate it if removed.
        controller = controller.owns(
            Api::<ServiceAccount>::all(ctx.client.clone()),
            watcher::Config::default(),
        );
    }
    let gauges = tokio::spawn(export_gauges::<K>(store, ctx.metrics.clone()));
    let acknowledging = tokio::spawn(acknowledging);
    Box::pin(async move {
        controller
            .run(engine::reconcile::<K>, engine::error_policy::<K>, ctx)
            .for_each(|result| async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "controller event");
                }
            })
            .await;
        gauges.abort();
        acknowledging.abort();
    })
}

/// The bindings of `store` that `refers` to a changed vault or identity, when its readiness
/// (or generation) changed.
fn bindings_of<D: AzureBacked>(
    store: Store<DeserializeGuard<azop_api::KeyVaultBinding>>,
    refers: fn(&azop_api::KeyVaultBinding, &str, &str) -> bool,
) -> impl Fn(Arc<DeserializeGuard<D>>) -> Vec<ObjectRef<DeserializeGuard<azop_api::KeyVaultBinding>>>
+ Send
+ Sync
+ 'static {
    let changed = Changed::after_first_sight(readiness::<D>);
    move |dep| {
        let Ok(dep) = &dep.0 else { return Vec::new() };
        if !changed.changed(dep) {
            return Vec::new();
        }
        let (ns, name) = (dep.namespace().unwrap_or_default(), dep.name_any());
        store
            .state()
            .iter()
            .filter(|b| b.0.as_ref().is_ok_and(|b| refers(b, &ns, &name)))
            .map(|b| ObjectRef::from_obj(&**b))
            .collect()
    }
}

/// KeyVaultBindings: not one Azure resource each, but role assignments they may share
/// (`kinds::key_vault_binding`), so a controller of their own, with their own store for the
/// assignments two bindings share. A change of readiness of the vault or identity a binding
/// names wakes it, and so does a change of its namespace's labels (a vault's bindingPolicy
/// selects by them).
fn binding_controller(
    ctx: Arc<Context>,
    subs: Subscriptions,
    shard: &Shard,
    concurrency: u16,
) -> Task {
    use crate::kinds::key_vault_binding::{self, BindingContext};
    use azop_api::KeyVaultBinding;
    // A binding relabelled into another shard leaves this watch and its store: its requeues
    // find nothing and stop.
    // Read through `DeserializeGuard`, as the other kinds: one malformed binding gets an Event
    // and leaves the others going.
    let (store, writer) = reflector::store();
    // Its own status writes and its finalizer do not wake a binding, as for the other kinds:
    // each pass that wrote would otherwise be followed by another that finds nothing to do.
    let seen = Changed::new(binding_change);
    let (ack, acknowledging) = Acknowledger::start(ctx.client.clone(), |b: &KeyVaultBinding| {
        b.status
            .as_ref()
            .is_some_and(|s| !s.basic.conditions.is_empty())
    });
    let bindings = watcher(
        Api::<DeserializeGuard<KeyVaultBinding>>::all(ctx.client.clone()),
        shard.watcher_config(),
    )
    .default_backoff()
    .modify(slim::<DeserializeGuard<KeyVaultBinding>>)
    .reflect(writer)
    .applied_objects()
    .try_filter(move |g| futures::future::ready(wakes(g, &ack, &seen)));
    let controller = Controller::for_stream(bindings, store.clone())
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency));
    let labels = Changed::new(|ns: &Namespace| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        ns.metadata.labels.hash(&mut h);
        h.finish()
    });
    let in_ns = store.clone();
    // A synced Secret deleted or edited by hand wakes its binding, which writes it again.
    let secrets = watcher::Config::default().labels(crate::kinds::binding_sync::BINDING_LABEL);
    let controller = controller
        .owns(
            Api::<k8s_openapi::api::core::v1::Secret>::all(ctx.client.clone()),
            secrets,
        )
        .watches_shared_stream(
            subs.key_vaults,
            bindings_of::<KeyVault>(store.clone(), |b, ns, name| {
                let own = b.namespace().unwrap_or_default();
                b.spec.vault_ref.name == name
                    && b.spec.vault_ref.namespace.as_deref().unwrap_or(&own) == ns
            }),
        )
        .watches_shared_stream(
            subs.federated_identities,
            bindings_of::<FederatedIdentity>(store.clone(), |b, ns, name| {
                b.spec.identity_ref.name == name && b.namespace().as_deref() == Some(ns)
            }),
        )
        .watches_shared_stream(subs.namespaces, move |ns: Arc<Namespace>| {
            if !labels.changed(&ns) {
                return Vec::new();
            }
            let name = ns.name_any();
            in_ns
                .state()
                .iter()
                .filter(|b| b.meta().namespace.as_deref() == Some(name.as_str()))
                .map(|b| ObjectRef::from_obj(&**b))
                .collect()
        });
    let bctx = Arc::new(BindingContext::new(ctx, store));
    let acknowledging = tokio::spawn(acknowledging);
    Box::pin(async move {
        controller
            .run(
                key_vault_binding::reconcile,
                key_vault_binding::error_policy,
                bctx,
            )
            .for_each(|result| async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "binding controller event");
                }
            })
            .await;
        acknowledging.abort();
    })
}

/// Keeps the `objects` and `operations_in_flight` gauges of one kind current, from the
/// controller's own cache (no extra API calls).
async fn export_gauges<K: AzureKind>(store: Store<DeserializeGuard<K>>, metrics: Arc<Metrics>) {
    use crate::metrics::{KindLabel, ReadinessLabels};
    let kind = K::kind(&()).to_string();
    loop {
        let mut by_ready: std::collections::BTreeMap<&str, i64> =
            [("True", 0), ("False", 0), ("Unknown", 0)].into();
        let mut in_flight = 0;
        for guard in store.state() {
            let Ok(obj) = &guard.0 else { continue };
            let azure = obj.common_status();
            let ready = match conditions::find(&azure.conditions, READY).map(|c| c.status.as_str())
            {
                Some("True") => "True",
                Some("False") => "False",
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
        // A standby is ready: healthy, and it takes over when the Lease frees. Deployments
        // count only ready replicas as available, so with a standby that is never ready a
        // rollout (and Flux's health check of a two-replica release) would never finish.
        metrics.set_ready(true);
        while !*rx.borrow_and_update() {
            tracing::info!(lease = %le.lease_name, "waiting for the leader Lease");
            if rx.changed().await.is_err() {
                return Err(RunError::LostLease);
            }
        }
        tracing::info!(lease = %le.lease_name, identity = %le.identity, "leading");
        leading = Some((rx, task));
    }

    let shard = &options.shard;
    if *shard != Shard::All {
        tracing::info!(shard = %shard, "reconciling {shard} only");
    }
    let mut watches = Watches::new();
    let ctx = Arc::new(
        Context::new(
            client.clone(),
            azure,
            config,
            watches.profiles.store.clone(),
            watches.namespaces.store.clone(),
            watches.stores(shard, &client),
            metrics.clone(),
        )
        .with_identities(options.identities.clone())
        .with_key_vault(options.key_vault.clone()),
    );
    let mut controllers = watches.controllers(&ctx, options.concurrency);
    controllers.push(binding_controller(
        ctx.clone(),
        watches.subscriptions(),
        shard,
        options.concurrency,
    ));
    let listed = watches.listed();
    let watch_tasks = watches.start(&client, shard, &ctx);
    let profiles = watches.profiles.store.clone();
    let namespaces = watches.namespaces.store.clone();
    // AzureProfiles get conditions of their own (Ready with the namespaces they govern, or
    // Stalled on an invalid selector or an overlap), from the same stores. Profiles are not
    // sharded: the main operator (unsharded, or the unlabelled shard) writes their status,
    // not each shard again.
    let profile_status: Task = match shard {
        Shard::Key(_) => Box::pin(async {}),
        Shard::All | Shard::Unlabelled => Box::pin(crate::profiles::run_profiles(
            client.clone(),
            profiles.clone(),
            namespaces.clone(),
            crate::profiles::CHECK_INTERVAL,
        )),
    };
    let all = async move {
        let watch_tasks = futures::future::join_all(watch_tasks);
        let controllers = async {
            // Every store listed first (profiles and namespaces, and each kind's).
            let _ = tokio::time::timeout(Duration::from_secs(30), listed).await;
            metrics.set_ready(true);
            futures::future::join_all(controllers).await;
        };
        tokio::join!(watch_tasks, controllers, profile_status);
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
        _ = all => Ok(()),
        _ = shutdown => Ok(()),
        _ = lost => Err(RunError::LostLease),
    };
    ctx.metrics.set_ready(false);
    if let Some((rx, task)) = leading {
        // Dropping the receiver makes the manager release the Lease.
        drop(rx);
        let _ = task.await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shard_selects_its_label_and_the_main_one_the_unlabelled() {
        assert_eq!(Shard::All.label_selector(), None);
        assert_eq!(
            Shard::key("a")
                .expect("a valid key")
                .label_selector()
                .as_deref(),
            Some("sharding.azop.dev/key=a")
        );
        assert_eq!(
            Shard::Unlabelled.label_selector().as_deref(),
            Some("!sharding.azop.dev/key")
        );
        assert_eq!(
            Shard::key("team-a")
                .expect("a valid key")
                .watcher_config()
                .label_selector
                .as_deref(),
            Some("sharding.azop.dev/key=team-a")
        );
        assert_eq!(Shard::All.watcher_config().label_selector, None);
    }

    #[test]
    fn a_shard_key_is_a_dns_label_and_names_the_shards_own_lease() {
        for good in ["a", "shard-1", "0", &"x".repeat(63)] {
            assert_eq!(Shard::key(good), Ok(Shard::Key(good.to_string())));
        }
        for bad in ["", "A", "a_b", "a.b", "-a", "a-", "a b", &"x".repeat(64)] {
            let refused = Shard::key(bad).expect_err(bad);
            assert!(refused.contains("sharding.azop.dev/key"), "{refused}");
        }
        assert_eq!(Shard::All.default_lease_name(), "azop-leader");
        assert_eq!(Shard::Unlabelled.default_lease_name(), "azop-leader");
        assert_eq!(Shard::Key("b".into()).default_lease_name(), "azop-leader-b");
    }

    fn guard(name: &str, generation: i64) -> Arc<DeserializeGuard<ResourceGroup>> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "azop.dev/v1alpha1", "kind": "ResourceGroup",
                "metadata": {"name": name, "namespace": "a", "generation": generation},
                "spec": {}
            }))
            .expect("a ResourceGroup"),
        )
    }

    #[test]
    fn an_object_that_left_the_watch_is_new_again_when_it_comes_back() {
        let seen = Changed::new(own_change::<ResourceGroup>);
        let (rg, other) = (guard("rg", 1), guard("other", 1));
        assert!(seen.changed(&rg), "first seen");
        assert!(!seen.changed(&rg), "unchanged: no wake-up");
        // Relabelled into another shard (a Delete event), then back, unchanged.
        seen.forget(&rg);
        assert!(seen.changed(&rg), "back in the shard: reconciled afresh");
        // A re-list that no longer holds `rg` forgets it too.
        assert!(seen.changed(&other));
        seen.retain(std::slice::from_ref(&other));
        assert!(seen.changed(&rg));
        assert!(!seen.changed(&other), "what the list still holds is kept");
    }
}
