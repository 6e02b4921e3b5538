//! Step 1 of the engine: resolving references to other azop objects, from the shared stores
//! in memory; an operator running one shard reads an object of another shard from the API
//! server instead ([`crate::index::Stores::find`]). A reference that does not exist yet, or is
//! not Ready for its current generation, is `WaitingForDependency`; the runner wakes
//! dependents when a dependency's readiness changes (one in another shard is seen when the
//! dependent looks again, every `waiting_requeue` while it waits).

use std::sync::Arc;

use azop_api::ResourceGroup;
use azop_api::azure_resource::{AzureBacked, ManagementPolicy};
use azop_api::conditions::Reason;
use azop_api::conditions::{self, READY};
use azop_api::profile::AzopKind;
use azop_arm::ResourceId;
use kube::ResourceExt;

use crate::engine::{Context, ReconcileError, Reference};
use crate::policy::Decision;

/// A referenced object as last seen, whether or not it is ready.
pub async fn existing<T: AzureBacked>(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Arc<T>, ReconcileError> {
    ctx.stores
        .find::<T>(namespace, name)
        .await?
        .ok_or_else(|| ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!("{} {namespace}/{name} does not exist yet", T::kind(&())),
        })
}

tokio::task_local! {
    /// Set while a deleting object works out what its spec names (see [`for_delete`]).
    static FOR_DELETE: ();
}

/// Runs `f` (a kind's `resolve`, a binding's gate) for an object being deleted: a reference
/// that exists counts whatever its readiness, as it may be going away too; what it reports
/// (a resource id, a principal) is still required. Resolution for anything else still waits
/// for Ready.
pub async fn for_delete<F: std::future::Future>(f: F) -> F::Output {
    FOR_DELETE.scope((), f).await
}

/// A referenced object that is Ready for its current generation (or only existing, inside
/// [`for_delete`]).
pub async fn ready<T: AzureBacked>(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Arc<T>, ReconcileError> {
    let obj = existing::<T>(ctx, namespace, name).await?;
    if FOR_DELETE.try_with(|_| ()).is_ok() {
        return Ok(obj);
    }
    let common = obj.common_status();
    if !conditions::is_ready(&common.conditions, obj.meta().generation) {
        let why = conditions::find(&common.conditions, READY)
            .map(|c| format!(" ({}: {})", c.reason, c.message))
            .unwrap_or_default();
        return Err(ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!("{} {namespace}/{name} is not Ready yet{why}", T::kind(&())),
        });
    }
    Ok(obj)
}

/// Refuses a referenced object azop only observes (`managementPolicy: Observe`, which any
/// namespace may point at a resource it does not own) as `Stalled`/`PolicyDenied`: `use_` (what
/// the referrer would do with it) happens only with what azop manages.
pub fn not_observed<T: AzureBacked>(obj: &T, use_: &str) -> Result<(), ReconcileError> {
    if obj.management_policy() != ManagementPolicy::Observe {
        return Ok(());
    }
    Err(ReconcileError::Stalled {
        reason: Reason::PolicyDenied,
        message: format!(
            "{} {}/{} is observed (managementPolicy: Observe): {use_} only with what azop manages",
            T::kind(&()),
            obj.namespace().unwrap_or_default(),
            obj.name_any()
        ),
    })
}

/// The ARM id a Ready referenced object reports.
pub async fn ready_resource_id<T: AzureBacked>(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<ResourceId, ReconcileError> {
    let obj = ready::<T>(ctx, namespace, name).await?;
    let id = obj
        .common_status()
        .resource_id
        .ok_or_else(|| ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!("{} {namespace}/{name} has no resourceId yet", T::kind(&())),
        })?;
    parse_id(&id)
}

/// Parses an id azop or Azure wrote; a malformed one is the spec's fault.
pub fn parse_id(id: &str) -> Result<ResourceId, ReconcileError> {
    ResourceId::parse(id).map_err(|e| ReconcileError::Stalled {
        reason: Reason::InvalidSpec,
        message: format!("{id} is not an ARM resource id: {e}"),
    })
}

/// The ARM id of the resource group a placed object lives in: its `resourceGroupRef`'s (Ready)
/// id, else the group the policy decision names.
pub async fn resource_group_id<K: AzureBacked>(
    ctx: &Context,
    obj: &K,
    decision: &Decision,
) -> Result<ResourceId, ReconcileError> {
    let namespace = obj.namespace().unwrap_or_default();
    if let Some(r) = obj.placement().and_then(|p| p.resource_group_ref.as_ref()) {
        return ready_resource_id::<ResourceGroup>(ctx, &namespace, &r.name).await;
    }
    group_by_name(decision)
}

/// The group the decision names, in the decision's subscription.
pub fn group_by_name(decision: &Decision) -> Result<ResourceId, ReconcileError> {
    let subscription = decision.subscription_id.as_deref().unwrap_or_default();
    match &decision.resource_group_name {
        Some(name) => ResourceId::for_resource_group(subscription, name).map_err(|e| {
            ReconcileError::Stalled {
                reason: Reason::InvalidSpec,
                message: format!("resource group {name}: {e}"),
            }
        }),
        None => Err(ReconcileError::Stalled {
            reason: Reason::InvalidSpec,
            message: "set spec.resourceGroupRef or spec.resourceGroupName".to_string(),
        }),
    }
}

/// The ResourceGroup a placed object references, if any.
pub fn placement_refs<K: AzureBacked>(obj: &K) -> Vec<Reference> {
    let own = obj.meta().namespace.clone().unwrap_or_default();
    obj.placement()
        .and_then(|p| p.resource_group_ref.as_ref())
        .map(|r| Reference::new(AzopKind::ResourceGroup, None, &own, &r.name))
        .into_iter()
        .collect()
}
