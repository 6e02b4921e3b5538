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
///
/// Every allow-list follows one rule: it allows only what it lists, so an omitted or empty list
/// allows nothing, and `*` allows everything. `allowAdoption` is false when omitted. A request
/// the profile does not allow is refused before any Azure request, `Stalled` with reason
/// `PolicyDenied` and a message naming the field.
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
#[x_kube(validation = Rule::new("!has(self.defaults) || !has(self.defaults.location) || (has(self.allowedLocations) && ('*' in self.allowedLocations || self.defaults.location in self.allowedLocations))").message("defaults.location must be one of allowedLocations"))]
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
    /// Regions objects may use (`westeurope`), or `*` for any. Omitted or empty allows none.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub allowed_locations: Vec<String>,
    /// Resource group names objects may create or place resources in, as globs
    /// (`rg-team-a-*`; `*` for any). Omitted or empty allows none.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub allowed_resource_groups: Vec<String>,
    /// Kinds the namespaces may create (`ResourceGroup`, `FederatedIdentity`, ...), or `*` for
    /// every kind. Omitted or empty allows none.
    #[serde(default)]
    #[schemars(length(max = 10))]
    #[x_kube(validation = Rule::new("self.all(k, k in ['*', 'ResourceGroup', 'AksCluster', 'KeyVault', 'FederatedIdentity', 'KeyVaultBinding', 'RoleAssignment'])").message("allowedKinds lists kinds (ResourceGroup, AksCluster, KeyVault, FederatedIdentity, KeyVaultBinding, RoleAssignment) or *"))]
    pub allowed_kinds: Vec<String>,
    /// OIDC issuers a FederatedIdentity's `issuer.url` may name, as globs (`*` for any).
    /// Omitted or empty allows none. Cluster references are governed by the cluster's
    /// `issuerAccess`, and `self` by the operator.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub allowed_issuers: Vec<String>,
    /// Roles a RoleAssignment from these namespaces may grant: built-in role names as
    /// RoleAssignment's `role` writes them (`AcrPull`, `KeyVaultSecretsUser`), role definition
    /// GUIDs, or `*` for any. Omitted or empty allows none. Outside the operator's platform
    /// namespaces a role is granted only to the namespace's own FederatedIdentities, at
    /// scopes inside its allowed resource groups or the vaults it may bind.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub allowed_roles: Vec<String>,
    /// Whether objects may take over Azure resources azop did not create (`spec.adopt`).
    /// Omitted: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_adoption: bool,
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
    /// Every kind.
    pub const ALL: [AzopKind; 6] = [
        AzopKind::ResourceGroup,
        AzopKind::AksCluster,
        AzopKind::KeyVault,
        AzopKind::FederatedIdentity,
        AzopKind::KeyVaultBinding,
        AzopKind::RoleAssignment,
    ];

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
