//! `Microsoft.Resources/resourceGroups`.

use serde::{Deserialize, Serialize};

use super::{ArmResource, Extra, ProvisioningState, SystemData, Tags};

/// The api-version azop sends for resource groups.
pub const API_VERSION: &str = "2025-04-01";

/// A resource group: the body of `PUT`/`GET /subscriptions/{s}/resourceGroups/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroup {
    /// `/subscriptions/{s}/resourceGroups/{name}` (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The group's name (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Microsoft.Resources/resourceGroups` (read-only).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// The region of the group's metadata; required on create, immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The id of the resource that manages the group (an AKS node resource group's cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// Who created and changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_data: Option<SystemData>,
    /// The group's properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<ResourceGroupProperties>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `properties` of a resource group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupProperties {
    /// `Succeeded`, or `Deleting` while a delete runs (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ArmResource for ResourceGroup {
    const API_VERSION: &'static str = API_VERSION;
    const RESOURCE_TYPE: &'static str = "Microsoft.Resources/resourceGroups";

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn provisioning_state(&self) -> Option<&ProvisioningState> {
        self.properties.as_ref()?.provisioning_state.as_ref()
    }
}
