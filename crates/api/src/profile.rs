//! AzureProfile: who may do what, where — the tenancy policy for namespaced objects.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::azure_resource::BasicStatus;
use crate::naming::GUID_PATTERN;

/// The Azure subscription, credential and limits for the namespaces it selects. A namespaced
/// object uses the one profile whose selector matches its namespace; none or several is a
/// Stalled condition that says so.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "azop.dev",
    version = "v1alpha1",
    derive = "PartialEq",
    kind = "AzureProfile",
    status = "AzureProfileStatus",
    shortname = "azp",
    category = "azop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Subscription","type":"string","jsonPath":".spec.subscriptionId"}"#,
    printcolumn = r#"{"name":"Namespaces","type":"integer","jsonPath":".status.governedNamespaces"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.defaults) || !has(self.defaults.location) || size(self.allowedLocations) == 0 || self.defaults.location in self.allowedLocations").message("defaults.location must be one of allowedLocations"))]
pub struct AzureProfileSpec {
    /// The namespaces this profile governs.
    pub namespace_selector: LabelSelector,
    /// The subscription their Azure resources live in.
    #[schemars(regex(pattern = GUID_PATTERN))]
    pub subscription_id: String,
    /// The Entra tenant. Defaults to the operator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = GUID_PATTERN))]
    pub tenant_id: Option<String>,
    /// The identity azop uses for these namespaces. Default: the operator's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<ProfileCredential>,
    /// Regions objects may use. Empty allows all.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub allowed_locations: Vec<String>,
    /// Resource group names objects may use, as globs (`rg-team-a-*`). Empty allows all.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub allowed_resource_groups: Vec<String>,
    /// Kinds the namespaces may create. Empty allows all.
    #[serde(default)]
    pub allowed_kinds: Vec<AzopKind>,
    /// OIDC issuers a FederatedIdentity's `issuer.url` may name, as globs. Empty allows none
    /// (cluster references and `self` are governed separately).
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub allowed_issuers: Vec<String>,
    /// Values filled in where an object leaves them out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<ProfileDefaults>,
}

/// The credential azop uses for a profile's namespaces.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileCredential {
    /// A user-assigned identity federated with the operator's ServiceAccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<WorkloadIdentityCredential>,
}

/// A workload identity by client id.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIdentityCredential {
    /// The identity's client (application) id.
    #[schemars(regex(pattern = GUID_PATTERN))]
    pub client_id: String,
}

/// Defaults a profile fills in.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDefaults {
    /// Location for objects that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9]{1,39}$"))]
    pub location: Option<String>,
    /// Resource group for objects that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_name: Option<String>,
    /// Tags added to every resource (an object's own tags win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// The kinds a profile can allow.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum AzopKind {
    /// ResourceGroup
    ResourceGroup,
    /// AksCluster
    AksCluster,
    /// KeyVault
    KeyVault,
    /// FederatedIdentity
    FederatedIdentity,
    /// KeyVaultBinding
    KeyVaultBinding,
    /// RoleAssignment
    RoleAssignment,
}

impl AzopKind {
    /// The kind's name, as Kubernetes and `allowedKinds` write it.
    pub fn as_str(self) -> &'static str {
        match self {
            AzopKind::ResourceGroup => "ResourceGroup",
            AzopKind::AksCluster => "AksCluster",
            AzopKind::KeyVault => "KeyVault",
            AzopKind::FederatedIdentity => "FederatedIdentity",
            AzopKind::KeyVaultBinding => "KeyVaultBinding",
            AzopKind::RoleAssignment => "RoleAssignment",
        }
    }
}

/// A profile's status: whether it is usable, and how many namespaces it governs.
///
/// `Ready=True` when its `namespaceSelector` is valid and no namespace it selects is also
/// selected by another profile. Otherwise `Ready=False, Stalled=True` with reason `InvalidSpec`
/// (the selector is not a valid label selector) or `ProfileOverlap` (the message names the
/// other profile and the namespaces both select), so Flux and `kubectl wait` fail fast.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureProfileStatus {
    /// `observedGeneration` (-1 until azop has seen the profile) and the conditions.
    #[serde(flatten)]
    pub basic: BasicStatus,
    /// How many namespaces the profile governs now: those its selector matches and no other
    /// profile's does. A namespace two profiles select is governed by neither. Absent while the
    /// selector is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governed_namespaces: Option<i32>,
}
