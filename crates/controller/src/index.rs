//! In-memory views the engine reads instead of the API server: one shared store per kind
//! ([`Stores`]), and which objects reference which ([`Dependents`]), so a dependency's change
//! wakes only the objects that name it.
//!
//! An operator that runs one shard (`azop run --shard KEY` or `--exclude-shards`) keeps only its
//! shard's objects in the stores, not every object of every kind: a reference to an object of
//! another shard (a tenant's identity in shard `a` placed in an unlabelled resource group, a
//! binding to a platform vault) misses them, and [`Stores::find`] reads that object from the
//! API server instead, remembered for [`BEYOND_SHARD_FOR`] so that the many dependents of one
//! object cost one read. A change of such an object wakes nobody in this shard (it is not
//! watched here): its dependents see it when they look again (`waiting_requeue` while they
//! wait for it, the sync period once Ready).

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use azop_api::azure_resource::AzureBacked;
use azop_api::profile::AzopKind;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};

use crate::engine::Reference;

/// How long an object read from beyond this shard is taken as current.
pub const BEYOND_SHARD_FOR: Duration = Duration::from_secs(2);

/// One reflector store per Azure-backed kind, filled by the runner's shared watches; with
/// [`Stores::beyond_shard`], a miss is read from the API server.
#[derive(Clone, Default)]
pub struct Stores {
    by_kind: Arc<RwLock<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
    beyond: Option<Arc<BeyondShard>>,
}

/// An object of some kind read from the API server (`None`: it does not exist, or does not
/// deserialise), and when.
type Read = (Instant, Option<Arc<dyn Any + Send + Sync>>);

/// Objects of other shards, read from the API server and remembered for a moment.
struct BeyondShard {
    client: kube::Client,
    recent: Mutex<HashMap<(TypeId, String, String), Read>>,
}

impl BeyondShard {
    async fn get<K: AzureBacked>(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<K>>, kube::Error> {
        let key = (TypeId::of::<K>(), namespace.to_string(), name.to_string());
        let remembered = self
            .recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .filter(|(at, _)| at.elapsed() < BEYOND_SHARD_FOR)
            .map(|(_, obj)| obj.clone());
        if let Some(obj) = remembered {
            return Ok(obj.and_then(|o| o.downcast::<K>().ok()));
        }
        let api: Api<DeserializeGuard<K>> = Api::namespaced(self.client.clone(), namespace);
        // One that does not deserialise counts as missing, as in the stores.
        let obj = api
            .get_opt(name)
            .await?
            .and_then(|guard| guard.0.ok())
            .map(Arc::new);
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() >= 1024 {
            recent.retain(|_, (at, _)| at.elapsed() < BEYOND_SHARD_FOR);
        }
        recent.insert(
            key,
            (
                Instant::now(),
                obj.clone().map(|o| o as Arc<dyn Any + Send + Sync>),
            ),
        );
        Ok(obj)
    }
}

impl Stores {
    /// Stores that hold one shard's objects: what they miss is read from the API server with
    /// `client`.
    pub fn beyond_shard(client: kube::Client) -> Self {
        Stores {
            by_kind: Arc::default(),
            beyond: Some(Arc::new(BeyondShard {
                client,
                recent: Mutex::default(),
            })),
        }
    }

    /// Whether these stores hold one shard's objects only.
    pub fn is_one_shard(&self) -> bool {
        self.beyond.is_some()
    }

    /// The object `namespace/name` of kind `K`: as last seen in this shard's store, else (one
    /// shard only) as the API server holds it, if it exists and deserialises.
    pub async fn find<K: AzureBacked>(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<K>>, kube::Error> {
        if let Some(obj) = self.get::<K>(namespace, name) {
            return Ok(Some(obj));
        }
        match &self.beyond {
            Some(beyond) => beyond.get::<K>(namespace, name).await,
            None => Ok(None),
        }
    }

    /// Registers the store of kind `K`.
    pub fn insert<K: AzureBacked>(&self, store: Store<DeserializeGuard<K>>) {
        self.by_kind
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(TypeId::of::<K>(), Box::new(store));
    }

    /// The store of kind `K`, if registered.
    pub fn of<K: AzureBacked>(&self) -> Option<Store<DeserializeGuard<K>>> {
        self.by_kind
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&TypeId::of::<K>())
            .and_then(|s| s.downcast_ref::<Store<DeserializeGuard<K>>>())
            .cloned()
    }

    /// The object `namespace/name` of kind `K` as last seen in the store (this shard's
    /// objects only when [`Stores::is_one_shard`]; [`Stores::find`] looks beyond), if it exists
    /// and deserialises.
    pub fn get<K: AzureBacked>(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let store = self.of::<K>()?;
        let guard = store.get(&ObjectRef::new(name).within(namespace))?;
        guard.0.as_ref().ok().map(|k| Arc::new(k.clone()))
    }
}

/// Which objects reference which: `Reference` (kind, namespace, name) → the objects that
/// named it at their last reconcile.
#[derive(Default)]
pub struct Dependents {
    inner: RwLock<DependentsInner>,
}

#[derive(Default)]
struct DependentsInner {
    /// The referenced object → who references it.
    by_target: HashMap<Reference, HashSet<Reference>>,
    /// Who references → what it references, to undo an old entry.
    by_source: HashMap<Reference, Vec<Reference>>,
}

fn reference_of<K: Resource>(kind: AzopKind, obj: &K) -> Reference {
    Reference {
        kind,
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
    }
}

impl Dependents {
    /// Records what `obj` (of `kind`) references now, replacing what it referenced before.
    pub fn record<K: Resource>(&self, kind: AzopKind, obj: &K, references: Vec<Reference>) {
        let source = reference_of(kind, obj);
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if inner.by_source.get(&source) == Some(&references) {
            return;
        }
        inner.unlink(&source);
        for target in &references {
            inner
                .by_target
                .entry(target.clone())
                .or_default()
                .insert(source.clone());
        }
        inner.by_source.insert(source, references);
    }

    /// Forgets an object that is gone.
    pub fn forget<K: Resource>(&self, kind: AzopKind, obj: &K) {
        let source = reference_of(kind, obj);
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.unlink(&source);
        inner.by_source.remove(&source);
    }

    /// The objects of `of_kind` that reference `target`.
    pub fn of<K: Resource<DynamicType = ()>>(
        &self,
        of_kind: AzopKind,
        target: &Reference,
    ) -> Vec<ObjectRef<K>> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        inner
            .by_target
            .get(target)
            .into_iter()
            .flatten()
            .filter(|s| s.kind == of_kind)
            .map(|s| ObjectRef::new(&s.name).within(&s.namespace))
            .collect()
    }
}

impl DependentsInner {
    fn unlink(&mut self, source: &Reference) {
        if let Some(old) = self.by_source.get(source).cloned() {
            for target in old {
                if let Some(set) = self.by_target.get_mut(&target) {
                    set.remove(source);
                    if set.is_empty() {
                        self.by_target.remove(&target);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azop_api::ResourceGroup;

    fn rg(ns: &str, name: &str) -> ResourceGroup {
        serde_json::from_value(
            serde_json::json!({"apiVersion": "azop.dev/v1alpha1", "kind": "ResourceGroup",
            "metadata": {"name": name, "namespace": ns}, "spec": {}}),
        )
        .expect("a ResourceGroup")
    }

    #[test]
    fn dependents_follow_the_latest_references_and_forget_deleted_objects() {
        let index = Dependents::default();
        let target = Reference::new(AzopKind::ResourceGroup, None, "a", "rg1");
        let other = Reference::new(AzopKind::ResourceGroup, None, "a", "rg2");
        let vault = rg("a", "kv1");
        index.record(AzopKind::KeyVault, &vault, vec![target.clone()]);
        let found: Vec<ObjectRef<ResourceGroup>> = index.of(AzopKind::KeyVault, &target);
        assert_eq!(found, vec![ObjectRef::new("kv1").within("a")]);
        assert!(
            index
                .of::<ResourceGroup>(AzopKind::FederatedIdentity, &target)
                .is_empty()
        );
        index.record(AzopKind::KeyVault, &vault, vec![other.clone()]);
        assert!(
            index
                .of::<ResourceGroup>(AzopKind::KeyVault, &target)
                .is_empty()
        );
        assert_eq!(
            index.of::<ResourceGroup>(AzopKind::KeyVault, &other).len(),
            1
        );
        index.forget(AzopKind::KeyVault, &vault);
        assert!(
            index
                .of::<ResourceGroup>(AzopKind::KeyVault, &other)
                .is_empty()
        );
    }
}
