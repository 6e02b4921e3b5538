//! ResourceGroup → `Microsoft.Resources/resourceGroups`.

use azop_api::azure_resource::{AzureResourceStatus, DeletionPolicy, ManagementPolicy};
use azop_api::profile::AzopKind;
use azop_api::{ResourceGroup, ResourceGroupStatus};
use futures::future::BoxFuture;

use serde_json::{Value, json};

use crate::engine::{AzureKind, Context, Desired, ReconcileError};
use crate::policy::{Decision, Request};

/// The api-version of ../shared/arm-specs for resource groups.
pub const API_VERSION: &str = "2025-04-01";

impl AzureKind for ResourceGroup {
    const KIND: AzopKind = AzopKind::ResourceGroup;
    const API_VERSION: &'static str = API_VERSION;
    type Status = ResourceGroupStatus;

    fn status(&self) -> Option<&ResourceGroupStatus> {
        self.status.as_ref()
    }

    fn azure_status(status: &mut ResourceGroupStatus) -> &mut AzureResourceStatus {
        &mut status.azure
    }

    fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.azure.deletion_policy
    }

    fn management_policy(&self) -> ManagementPolicy {
        self.spec.azure.management_policy
    }

    fn policy_request(&self) -> Request<'_> {
        Request {
            location: self.spec.azure.location.as_deref(),
            needs_location: true,
            own_group_name: Some(azure_name(self)),
            ..Request::default()
        }
    }

    fn desired<'a>(
        &'a self,
        ctx: &'a Context,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Desired, ReconcileError>> {
        Box::pin(async move {
            let subscription = decision
                .subscription_id
                .as_deref()
                .unwrap_or(&ctx.config.default_subscription_id);
            let mut tags = decision.default_tags.clone();
            tags.extend(self.spec.azure.tags.clone());
            Ok(Desired {
                id: format!(
                    "/subscriptions/{subscription}/resourceGroups/{}",
                    azure_name(self)
                ),
                body: json!({
                    "location": decision.location,
                    "tags": tags,
                }),
            })
        })
    }

    fn outputs(_status: &mut ResourceGroupStatus, _actual: &Value) {}
}

fn azure_name(rg: &ResourceGroup) -> &str {
    rg.spec
        .azure
        .azure_name
        .as_deref()
        .unwrap_or_else(|| rg.metadata.name.as_deref().unwrap_or_default())
}
