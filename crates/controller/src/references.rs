//! Step 1 of the engine: resolving references to other azop objects. A reference that does
//! not exist yet, or is not Ready for its current generation, is `WaitingForDependency`; the
//! controller also watches referenced kinds, so their readiness wakes the dependents.

use azop_api::ResourceGroup;
use azop_api::azure_resource::{AzureResourceStatus, ResourceGroupPlacement};
use azop_api::conditions::Reason;
use azop_api::conditions::{self, READY};
use azop_api::profile::AzopKind;
use kube::{Api, ResourceExt};

use crate::engine::{AzureKind, Context, ReconcileError, Reference};
use crate::policy::Decision;

/// A referenced object that is Ready for its current generation, with its shared status.
pub async fn ready<T: AzureKind>(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<(T, AzureResourceStatus), ReconcileError> {
    let api: Api<T> = Api::namespaced(ctx.client.clone(), namespace);
    let kind = T::kind(&());
    let Some(obj) = api.get_opt(name).await? else {
        return Err(ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!("{kind} {namespace}/{name} does not exist yet"),
        });
    };
    let mut status = obj.status().cloned().unwrap_or_default();
    let common = T::azure_status(&mut status).clone();
    if !conditions::is_ready(&common.conditions, obj.meta().generation) {
        let why = conditions::find(&common.conditions, READY)
            .map(|c| format!(" ({}: {})", c.reason, c.message))
            .unwrap_or_default();
        return Err(ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!("{kind} {namespace}/{name} is not Ready yet{why}"),
        });
    }
    Ok((obj, common))
}

/// The ARM id of the resource group a placed object lives in.
pub async fn resource_group_id(
    ctx: &Context,
    namespace: &str,
    placement: &ResourceGroupPlacement,
    decision: &Decision,
) -> Result<String, ReconcileError> {
    if let Some(r) = &placement.resource_group_ref {
        let (rg, common) = ready::<ResourceGroup>(ctx, namespace, &r.name).await?;
        return common.resource_id.ok_or_else(|| ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!(
                "ResourceGroup {namespace}/{} has no resourceId yet",
                rg.name_any()
            ),
        });
    }
    let subscription = subscription(ctx, decision);
    match &decision.resource_group_name {
        Some(name) => Ok(format!(
            "/subscriptions/{subscription}/resourceGroups/{name}"
        )),
        None => Err(ReconcileError::Stalled {
            reason: Reason::InvalidSpec,
            message: "set spec.resourceGroupRef or spec.resourceGroupName".to_string(),
        }),
    }
}

/// The subscription an object's resources go to.
pub fn subscription<'a>(ctx: &'a Context, decision: &'a Decision) -> &'a str {
    decision
        .subscription_id
        .as_deref()
        .unwrap_or(&ctx.config.default_subscription_id)
}

/// The ResourceGroup a placed object references, if any.
pub fn placement_refs<K: kube::Resource>(
    obj: &K,
    placement: &ResourceGroupPlacement,
) -> Vec<Reference> {
    let own = obj.meta().namespace.clone().unwrap_or_default();
    placement
        .resource_group_ref
        .iter()
        .map(|r| Reference::new(AzopKind::ResourceGroup, None, &own, &r.name))
        .collect()
}
