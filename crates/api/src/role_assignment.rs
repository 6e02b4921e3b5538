//! RoleAssignment: `Microsoft.Authorization/roleAssignments`, for platform use.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::azure_resource::{AzureResourceStatus, DeletionPolicy, LocalRef, NamespacedRef};
use crate::naming::GUID_PATTERN;

/// A role for a principal at a scope. The assignment's name is a GUID derived from scope,
/// principal and role, so a retry never makes a second one.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "azop.dev",
    version = "v1alpha1",
    derive = "PartialEq",
    kind = "RoleAssignment",
    namespaced,
    status = "RoleAssignmentStatus",
    shortname = "azra",
    category = "azop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Role","type":"string","jsonPath":".spec.role"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.role) != has(self.roleDefinitionId)").message("set exactly one of role and roleDefinitionId"))]
pub struct RoleAssignmentSpec {
    /// Who gets the role.
    #[x_kube(validation = Rule::new("self == oldSelf").message("principal is immutable: Azure cannot change an assignment's principal"))]
    pub principal: Principal,
    /// A built-in role by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("role is immutable: Azure cannot change an assignment's role"))]
    pub role: Option<BuiltInRole>,
    /// Any role by its definition's GUID or ARM id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 36, max = 300))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("roleDefinitionId is immutable"))]
    pub role_definition_id: Option<String>,
    /// Where the role applies.
    #[x_kube(validation = Rule::new("self == oldSelf").message("scope is immutable: Azure cannot change an assignment's scope"))]
    pub scope: Scope,
    /// `Delete` removes the assignment with the object; `Orphan` keeps it. When omitted:
    /// `Delete` for an assignment azop made, `Orphan` for one it adopted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// Take over an assignment of the same scope, principal and role that exists without
    /// azop's mark in its description (one azop did not make). Without it such an assignment
    /// is left untouched and the object is `Stalled` with reason `AlreadyExists`; the
    /// AzureProfile must set `allowAdoption`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
}

/// The principal: exactly one of `aksKubeletOf`, `federatedIdentity`, `objectId`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.aksKubeletOf) ? 1 : 0) + (has(self.federatedIdentity) ? 1 : 0) + (has(self.objectId) ? 1 : 0) == 1").message("principal must set exactly one of aksKubeletOf, federatedIdentity and objectId"))]
#[x_kube(validation = Rule::new("!has(self.type) || has(self.objectId)").message("principal.type applies only with objectId"))]
pub struct Principal {
    /// The kubelet identity of an AksCluster. Every pod on its nodes gets the role, so azop
    /// allows this only from the operator's platform namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aks_kubelet_of: Option<NamespacedRef>,
    /// A FederatedIdentity in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_identity: Option<LocalRef>,
    /// An Entra object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = GUID_PATTERN))]
    pub object_id: Option<String>,
    /// The object's type (default ServicePrincipal).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<PrincipalType>,
}

/// Entra principal types.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PrincipalType {
    /// An application or managed identity.
    #[default]
    ServicePrincipal,
    /// A user.
    User,
    /// A group.
    Group,
}

/// Built-in roles by name.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum BuiltInRole {
    /// Pull images from a container registry.
    AcrPull,
    /// Full access except granting roles.
    Contributor,
    /// Read everything.
    Reader,
    /// Key Vault Secrets User.
    KeyVaultSecretsUser,
    /// Key Vault Secrets Officer.
    KeyVaultSecretsOfficer,
    /// Key Vault Certificates User.
    KeyVaultCertificatesUser,
    /// Key Vault Crypto User.
    KeyVaultCryptoUser,
    /// Key Vault Administrator.
    KeyVaultAdministrator,
}

impl BuiltInRole {
    /// The built-in role definition's GUID (the same in every subscription).
    pub fn role_definition_guid(self) -> &'static str {
        match self {
            BuiltInRole::AcrPull => "7f951dda-4ed3-4680-a7ca-43fe172d538d",
            BuiltInRole::Contributor => "b24988ac-6180-42a0-ab88-20f7382dd24c",
            BuiltInRole::Reader => "acdd72a7-3385-48ef-bd42-f606fba81ae7",
            BuiltInRole::KeyVaultSecretsUser => "4633458b-17de-408a-b874-0445c86b69e6",
            BuiltInRole::KeyVaultSecretsOfficer => "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
            BuiltInRole::KeyVaultCertificatesUser => "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
            BuiltInRole::KeyVaultCryptoUser => "12338af0-0e69-4776-bea7-57ae8d297424",
            BuiltInRole::KeyVaultAdministrator => "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        }
    }
}

/// The scope: exactly one of `resourceId`, `keyVaultRef`, `aksClusterRef`, `resourceGroupRef`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.resourceId) ? 1 : 0) + (has(self.keyVaultRef) ? 1 : 0) + (has(self.aksClusterRef) ? 1 : 0) + (has(self.resourceGroupRef) ? 1 : 0) == 1").message("scope must set exactly one of resourceId, keyVaultRef, aksClusterRef and resourceGroupRef"))]
pub struct Scope {
    /// An ARM id (a subscription, group or resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/subscriptions/[0-9a-fA-F-]{36}(/.*)?$"))]
    pub resource_id: Option<String>,
    /// A KeyVault object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault_ref: Option<NamespacedRef>,
    /// An AksCluster object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aks_cluster_ref: Option<NamespacedRef>,
    /// A ResourceGroup object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_ref: Option<LocalRef>,
}

/// What azop read back from Azure.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentStatus {
    /// Generation, conditions, the assignment's ARM id.
    #[serde(flatten)]
    pub azure: AzureResourceStatus,
    /// The assignment's name (a GUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<String>,
    /// The principal it was made for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
}

/// A role assignment has no name, location or tags of its own: only a deletion policy.
impl crate::azure_resource::AzureBacked for RoleAssignment {
    const KIND: crate::profile::AzopKind = crate::profile::AzopKind::RoleAssignment;
    type Status = RoleAssignmentStatus;

    fn azure_fields(&self) -> Option<&crate::AzureResourceFields> {
        None
    }

    fn status(&self) -> Option<&RoleAssignmentStatus> {
        self.status.as_ref()
    }

    fn azure_status(status: &mut RoleAssignmentStatus) -> &mut AzureResourceStatus {
        &mut status.azure
    }

    fn deletion_policy(&self) -> Option<DeletionPolicy> {
        self.spec.deletion_policy
    }

    fn adopt(&self) -> bool {
        self.spec.adopt
    }
}
