//! ResourceGroup: `Microsoft.Resources/resourceGroups`.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::azure_resource::{AzureResourceFields, AzureResourceStatus, rules};
use crate::naming::RESOURCE_GROUP;

/// A resource group. Deleting it in Azure deletes everything it holds, so azop deletes only a
/// group whose ownership tag names this object.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "azop.dev",
    version = "v1alpha1",
    derive = "PartialEq",
    kind = "ResourceGroup",
    namespaced,
    status = "ResourceGroupStatus",
    shortname = "azrg",
    category = "azop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Location","type":"string","jsonPath":".spec.location"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = RESOURCE_GROUP.root_rule()
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = RESOURCE_GROUP.spec_rule(), validation = rules::azure_name_fixed())]
pub struct ResourceGroupSpec {
    /// Name, location, tags and policies.
    #[serde(flatten)]
    pub azure: AzureResourceFields,
}

/// What azop read back from Azure.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupStatus {
    /// Generation, conditions, resource id, operation.
    #[serde(flatten)]
    pub azure: AzureResourceStatus,
}

crate::azure_backed!(ResourceGroup, ResourceGroupStatus, ResourceGroup);
