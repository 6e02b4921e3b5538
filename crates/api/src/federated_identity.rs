//! FederatedIdentity: a user-assigned managed identity, its federated credential for one
//! ServiceAccount, and that ServiceAccount's workload-identity annotations.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::azure_resource::{
    AzureResourceFields, AzureResourceStatus, NamespacedRef, ResourceGroupPlacement, rules,
};
use crate::naming::{DNS_SUBDOMAIN_PATTERN, FEDERATED_CREDENTIAL_PATTERN, IDENTITY};

/// The audience Entra expects in a federated token unless told otherwise.
pub const DEFAULT_AUDIENCE: &str = "api://AzureADTokenExchange";

/// A workload identity for a ServiceAccount in this namespace. The credential's subject is
/// always `system:serviceaccount:<this namespace>:<serviceAccount.name>`: a tenant can never
/// write another namespace's subject.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "azop.dev",
    version = "v1alpha1",
    derive = "PartialEq",
    kind = "FederatedIdentity",
    namespaced,
    status = "FederatedIdentityStatus",
    shortname = "fid",
    category = "azop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Client-ID","type":"string","jsonPath":".status.clientId"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = IDENTITY.root_rule()
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = IDENTITY.spec_rule(),
    validation = rules::azure_name_fixed(),
    validation = rules::one_resource_group(),
    validation = rules::resource_group_fixed()
)]
pub struct FederatedIdentitySpec {
    /// Name, location, tags and policies of the managed identity.
    #[serde(flatten)]
    pub azure: AzureResourceFields,
    /// The identity's resource group.
    #[serde(flatten)]
    pub placement: ResourceGroupPlacement,
    /// The OIDC issuer whose tokens the identity trusts.
    pub issuer: IssuerSource,
    /// The ServiceAccount in this namespace that gets the identity.
    pub service_account: ServiceAccountBinding,
    /// Audiences of the federated credential (Azure allows at most 20).
    #[serde(default = "default_audiences")]
    #[schemars(length(min = 1, max = 20))]
    #[x_kube(validation = Rule::new("self.all(a, size(a) > 0 && size(a) <= 600)").message("each audience must be 1-600 characters"))]
    pub audiences: Vec<String>,
    /// The federated credential's name. Defaults to `<namespace>-<name>` of this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = FEDERATED_CREDENTIAL_PATTERN))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("credentialName is immutable"))]
    pub credential_name: Option<String>,
}

fn default_audiences() -> Vec<String> {
    vec![DEFAULT_AUDIENCE.to_string()]
}

/// Where the trusted issuer comes from: exactly one of `clusterRef`, `url`, `self`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.clusterRef) ? 1 : 0) + (has(self.url) ? 1 : 0) + (has(self.self) ? 1 : 0) == 1").message("issuer must set exactly one of clusterRef, url and self"))]
pub struct IssuerSource {
    /// An AksCluster whose OIDC issuer to trust. Another namespace's cluster only when its
    /// `issuerAccess` selects this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_ref: Option<NamespacedRef>,
    /// An issuer URL (https); the namespace's AzureProfile must allow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 600))]
    #[x_kube(validation = Rule::new("self.startsWith('https://')").message("issuer.url must be an https URL"))]
    pub url: Option<String>,
    /// The cluster azop runs in (the operator's configured issuer).
    #[serde(default, rename = "self", skip_serializing_if = "Option::is_none")]
    pub self_: Option<SelfIssuer>,
}

/// Marker for `issuer: {self: {}}`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SelfIssuer {}

/// The ServiceAccount that receives the identity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountBinding {
    /// Its name, in this object's namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("serviceAccount.name is immutable: the credential's subject is derived from it"))]
    pub name: String,
    /// Create the ServiceAccount if it does not exist (it is then owned by this object).
    #[serde(default)]
    pub create: bool,
}

/// What azop read back from Azure.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FederatedIdentityStatus {
    /// Generation, conditions, the identity's resource id, operation.
    #[serde(flatten)]
    pub azure: AzureResourceStatus,
    /// The identity's client (application) id: what workloads put in AZURE_CLIENT_ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The identity's service principal object id: what role assignments name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// The identity's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The federated credential's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The issuer URL the credential trusts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_url: Option<String>,
    /// The federated credential's ARM id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
}

crate::azure_backed!(
    FederatedIdentity,
    FederatedIdentityStatus,
    FederatedIdentity,
    placed
);
