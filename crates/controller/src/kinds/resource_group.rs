//! ResourceGroup → `Microsoft.Resources/resourceGroups`.

use azop_api::azure_resource::AzureBacked;
use azop_api::{ResourceGroup, ResourceGroupStatus};
use azop_arm::resources::ResourceGroup as ArmResourceGroup;
use futures::future::BoxFuture;

use azop_api::conditions::Reason;
use azop_arm::resources::resource_group::API_VERSION;
use serde_json::Value;

use crate::azure::Azure;
use crate::engine::{AzureKind, Context, Desired, ReconcileError};
use crate::kinds::tags;
use crate::policy::{Decision, Request};
use crate::references::group_by_name;

impl AzureKind for ResourceGroup {
    type Body = ArmResourceGroup;
    type Resolved = ();

    fn policy_request(&self) -> Request<'_> {
        Request {
            location: self.spec.azure.location.as_deref(),
            needs_location: true,
            own_group_name: self
                .spec
                .azure
                .azure_name
                .as_deref()
                .or(self.metadata.name.as_deref()),
            ..Request::default()
        }
    }

    fn resolve<'a>(
        &'a self,
        _ctx: &'a Context,
        _decision: &'a Decision,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(async { Ok(()) })
    }

    fn desired(
        &self,
        _resolved: &(),
        decision: &Decision,
    ) -> Result<Desired<ArmResourceGroup>, ReconcileError> {
        let name = self.azure_name();
        let id = group_by_name(&Decision {
            resource_group_name: Some(name),
            ..decision.clone()
        })?;
        Ok(Desired {
            id,
            body: ArmResourceGroup {
                location: decision.location.clone(),
                tags: Some(tags(decision, &self.spec.azure)),
                ..ArmResourceGroup::default()
            },
        })
    }

    fn outputs(&self, _status: &mut ResourceGroupStatus, _actual: &ArmResourceGroup) {}

    /// Deleting a group deletes everything in it. So the group goes only when it is empty of
    /// other things: resources azop did not create — no mark of this cluster, or the mark of
    /// an object that no longer exists (orphaned) — hold the delete for a person (`Stalled
    /// ForeignResources`); resources that live objects own are waited for, as their objects
    /// delete them. Every page of the group's resource list is read.
    fn before_delete<'a>(
        &'a self,
        ctx: &'a Context,
        azure: &'a dyn Azure,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(async move {
            let mut resources: Vec<Value> = Vec::new();
            let mut page = format!("{id}/resources");
            for _ in 0..MAX_PAGES {
                let Some(list) = azure.get(&page, API_VERSION).await? else {
                    return Ok(());
                };
                resources.extend(list["value"].as_array().cloned().unwrap_or_default());
                match list["nextLink"].as_str() {
                    Some(next) if !next.is_empty() => page = next.to_string(),
                    _ => break,
                }
            }
            let ours = format!("{}/", ctx.config.cluster_id);
            let (mut owned, mut foreign): (Vec<&Value>, Vec<&Value>) = (Vec::new(), Vec::new());
            for r in &resources {
                let object = Self::owner_of(r).and_then(|o| o.strip_prefix(&ours));
                match object {
                    Some(object) if owner_exists(ctx, object).await? => owned.push(r),
                    _ => foreign.push(r),
                }
            }
            let ids = |rs: &[&Value]| {
                let mut ids: Vec<&str> = rs.iter().filter_map(|r| r["id"].as_str()).collect();
                let more = ids.len().saturating_sub(5);
                ids.truncate(5);
                let mut text = ids.join(", ");
                if more > 0 {
                    text.push_str(&format!(" and {more} more"));
                }
                text
            };
            if !foreign.is_empty() {
                return Err(ReconcileError::Stalled {
                    reason: Reason::ForeignResources,
                    message: format!(
                        "{id} holds {} resources no azop object of this cluster owns ({}); deleting the group would delete them, so azop will not. Delete or move them, or set spec.deletionPolicy: Orphan to keep the group",
                        foreign.len(),
                        ids(&foreign)
                    ),
                });
            }
            if !owned.is_empty() {
                return Err(ReconcileError::Waiting {
                    reason: Reason::WaitingForDependency,
                    message: format!(
                        "{id} still holds {} resources other azop objects own ({}); the group is deleted once their objects have deleted them",
                        owned.len(),
                        ids(&owned)
                    ),
                });
            }
            Ok(())
        })
    }
}

/// Pages of a group's resource list read at most (ARM pages at 1,000).
const MAX_PAGES: usize = 100;

/// Whether the object a mark names (`<namespace>/<kind>/<name>`, after the cluster id) still
/// exists, in this shard or (read from the API server) another. A digest-form name (`~…`)
/// cannot be looked up and counts as existing.
async fn owner_exists(ctx: &Context, object: &str) -> Result<bool, ReconcileError> {
    let mut parts = object.splitn(3, '/');
    let (Some(ns), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(false);
    };
    if name.starts_with('~') {
        return Ok(true);
    }
    let stores = &ctx.stores;
    Ok(match kind {
        "ResourceGroup" => stores.find::<ResourceGroup>(ns, name).await?.is_some(),
        "KeyVault" => stores.find::<azop_api::KeyVault>(ns, name).await?.is_some(),
        "AksCluster" => stores
            .find::<azop_api::AksCluster>(ns, name)
            .await?
            .is_some(),
        "FederatedIdentity" => stores
            .find::<azop_api::FederatedIdentity>(ns, name)
            .await?
            .is_some(),
        "RoleAssignment" => stores
            .find::<azop_api::RoleAssignment>(ns, name)
            .await?
            .is_some(),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::test_support::{decision, obj};
    use serde_json::json;

    #[test]
    fn desired_is_the_named_group_with_default_and_own_tags() {
        let rg: ResourceGroup = obj(
            json!({"kind": "ResourceGroup", "metadata": {"name": "rg-a", "namespace": "team-a"},
            "spec": {"azureName": "rg-team-a", "location": "westeurope", "tags": {"env": "prod", "team": "mine"}}}),
        );
        let d = rg.desired(&(), &decision()).expect("desired");
        assert_eq!(
            d.id.as_str(),
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-team-a"
        );
        assert_eq!(
            serde_json::to_value(&d.body).expect("serialises"),
            json!({"location": "westeurope", "tags": {"env": "prod", "team": "mine", "cost": "42"}})
        );
    }

    #[test]
    fn the_name_defaults_to_the_object_name() {
        let rg: ResourceGroup = obj(
            json!({"kind": "ResourceGroup", "metadata": {"name": "rg-a", "namespace": "team-a"},
            "spec": {"location": "westeurope"}}),
        );
        let d = rg.desired(&(), &decision()).expect("desired");
        assert_eq!(d.id.name(), "rg-a");
    }
}
