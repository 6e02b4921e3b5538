//! A new object shows at once that azop saw it: `observedGeneration` and `Reconciling=True`,
//! written by a few workers of their own, in the order the objects arrived, whatever the
//! reconcile queue holds. Under a burst of thousands of objects (a Flux sync, `kubectl apply`
//! of a fleet) every reconcile slot is busy, kube-runtime holds the rest in a set taken in no
//! particular order, and an object could show nothing until the burst was over.
//!
//! Only an object without any condition is acknowledged, with a JSON patch whose `test` fails
//! once a pass has written conditions: the acknowledgement never overwrites a pass.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};

use azop_api::conditions::Conditions;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde_json::json;

use crate::engine;

/// How many acknowledgements are written at once. Each waits a round trip to the API server,
/// so this bounds their rate: with 8, a fleet applied at 2,500 objects/s outran them (a 2 s
/// backlog at 10,000 objects); with 32 the worst acknowledgement lands within 0.8 s
/// (`bench_fleet`'s `BENCH_FIRST_ONLY`). A quiet operator writes none.
const WORKERS: usize = 32;

type Ask = (String, String, i64);

/// Asks for new objects of kind `K` to be acknowledged.
pub struct Acknowledger<K> {
    asks: tokio::sync::mpsc::UnboundedSender<Ask>,
    /// The objects asked for and not yet written (a new object is seen more than once before
    /// its conditions land: created, then its finalizer added).
    pending: Arc<Mutex<HashSet<Ask>>>,
    has_conditions: fn(&K) -> bool,
}

impl<K> Acknowledger<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
{
    /// The acknowledger, and the task writing its acknowledgements.
    pub fn start(
        client: Client,
        has_conditions: fn(&K) -> bool,
    ) -> (Self, impl std::future::Future<Output = ()> + Send + 'static) {
        let (asks, mut rx) = tokio::sync::mpsc::unbounded_channel::<Ask>();
        let pending: Arc<Mutex<HashSet<Ask>>> = Arc::default();
        let done = pending.clone();
        let task = async move {
            let slots = Arc::new(tokio::sync::Semaphore::new(WORKERS));
            while let Some(ask) = rx.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (client, done) = (client.clone(), done.clone());
                tokio::spawn(async move {
                    acknowledge::<K>(client, &ask).await;
                    done.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&ask);
                    drop(slot);
                });
            }
        };
        (
            Acknowledger {
                asks,
                pending,
                has_conditions,
            },
            task,
        )
    }

    /// Acknowledges `obj` if it is new: live, and without any condition.
    pub fn saw(&self, obj: &K) {
        let meta = obj.meta();
        if (self.has_conditions)(obj) || meta.deletion_timestamp.is_some() {
            return;
        }
        let ask = (
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
            meta.generation.unwrap_or(1),
        );
        let fresh = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(ask.clone());
        if fresh {
            let _ = self.asks.send(ask);
        }
    }
}

/// Writes the acknowledgement unless the object has conditions by now (or is gone).
async fn acknowledge<K>(client: Client, (namespace, name, generation): &Ask)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + serde::de::DeserializeOwned,
{
    let mut conditions = Vec::new();
    Conditions::new(&mut conditions, *generation, engine::now())
        .progressing(format!("generation {generation} seen; reconciling"));
    // The status of a new object holds its schema's defaults only; once a pass wrote
    // conditions the test fails and nothing is written.
    let ops = json!([
        {"op": "test", "path": "/status/conditions", "value": null},
        {"op": "add", "path": "/status", "value": {"observedGeneration": generation, "conditions": conditions}},
    ]);
    let Ok(patch) = serde_json::from_value::<json_patch::Patch>(ops) else {
        return;
    };
    let api: Api<K> = Api::namespaced(client, namespace);
    // 422: a pass wrote first; 404: the object went. Either way, nothing to do.
    if let Err(e) = api
        .patch_status(name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
    {
        tracing::debug!(namespace, name, error = %e, "not acknowledged");
    }
}
