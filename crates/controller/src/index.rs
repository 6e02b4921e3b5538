//! In-memory views the engine reads instead of the API server: one shared store per kind
//! ([`Stores`]), and which objects reference which ([`Dependents`]), so a dependency's change
//! wakes only the objects that name it.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use azop_api::azure_resource::AzureBacked;
use azop_api::profile::AzopKind;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use crate::engine::Reference;

/// One reflector store per Azure-backed kind, filled by the runner's shared watches.
#[derive(Clone, Default)]
pub struct Stores {
    by_kind: Arc<RwLock<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
}

impl Stores {
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

    /// The object `namespace/name` of kind `K` as last seen, if it exists and deserialises.
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
