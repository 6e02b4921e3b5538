//! ResourceGroup → `Microsoft.Resources/resourceGroups`.

use azop_api::azure_resource::AzureBacked;
use azop_api::{ResourceGroup, ResourceGroupStatus};
use azop_arm::resources::ResourceGroup as ArmResourceGroup;
use futures::future::BoxFuture;

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

    fn outputs(_status: &mut ResourceGroupStatus, _actual: &ArmResourceGroup) {}
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
