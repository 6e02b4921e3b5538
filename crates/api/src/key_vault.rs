//! KeyVault: `Microsoft.KeyVault/vaults`, RBAC authorisation only.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::azure_resource::{
    AzureResourceFields, AzureResourceStatus, ResourceGroupPlacement, rules,
};
use crate::naming::VAULT;

/// A Key Vault and the policy saying which namespaces may bind to it, with which roles.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "azop.dev",
    version = "v1alpha1",
    derive = "PartialEq",
    kind = "KeyVault",
    namespaced,
    status = "KeyVaultStatus",
    shortname = "kv",
    category = "azop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"URI","type":"string","jsonPath":".status.vaultUri"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = VAULT.root_rule()
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = VAULT.spec_rule(),
    validation = rules::azure_name_fixed(),
    validation = rules::one_resource_group(),
    validation = rules::resource_group_fixed()
)]
pub struct KeyVaultSpec {
    /// Name, location, tags and policies.
    #[serde(flatten)]
    pub azure: AzureResourceFields,
    /// The resource group.
    #[serde(flatten)]
    pub placement: ResourceGroupPlacement,
    /// `standard` (default) or `premium` (HSM-backed keys).
    #[serde(default)]
    pub sku: VaultSku,
    /// The Entra tenant whose principals use the vault. Defaults to the AzureProfile's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::naming::GUID_PATTERN))]
    pub tenant_id: Option<String>,
    /// Authorise data-plane access with Azure RBAC. Must be true: access policies are not
    /// offered, because role assignments are what bindings grant.
    #[serde(default = "default_true")]
    #[x_kube(validation = Rule::new("self == true").message("rbacAuthorization must be true: azop grants vault access with role assignments, not access policies"))]
    pub rbac_authorization: bool,
    /// Days a deleted vault stays recoverable (7–90). Azure fixes it at creation.
    #[serde(default = "default_retention_days")]
    #[schemars(range(min = 7, max = 90))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("softDeleteRetentionDays is immutable: Azure fixes it when the vault is created"))]
    pub soft_delete_retention_days: i32,
    /// Forbid purging deleted vaults and secrets before retention ends. Once on, Azure never
    /// lets it be turned off.
    #[serde(default)]
    #[x_kube(validation = Rule::new("oldSelf == false || self == true").message("purgeProtection cannot be turned off once enabled (Azure refuses it)"))]
    pub purge_protection: bool,
    /// Whether the vault answers on its public endpoint.
    #[serde(default)]
    pub public_network_access: PublicNetworkAccess,
    /// Firewall rules for the public endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_acls: Option<NetworkAcls>,
    /// `Default` fails on a soft-deleted vault of the same name (NameConflict);
    /// `CreateOrRecover` recovers it.
    #[serde(default)]
    pub create_mode: VaultCreateMode,
    /// Which namespaces may bind to this vault with a KeyVaultBinding, and with which roles.
    /// Without it, only bindings in the vault's own namespace are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_policy: Option<BindingPolicy>,
}

fn default_true() -> bool {
    true
}

fn default_retention_days() -> i32 {
    90
}

/// The vault's pricing tier.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum VaultSku {
    /// Software-protected keys.
    #[default]
    Standard,
    /// HSM-protected keys.
    Premium,
}

/// Public endpoint on or off.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PublicNetworkAccess {
    /// Reachable from the internet (subject to `networkAcls`).
    #[default]
    Enabled,
    /// Private endpoints only.
    Disabled,
}

/// What to do when a soft-deleted vault holds the name.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum VaultCreateMode {
    /// Create; a soft-deleted vault of the same name is a NameConflict.
    #[default]
    Default,
    /// Recover a soft-deleted vault of the same name, else create.
    CreateOrRecover,
}

/// Firewall rules for the vault's public endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkAcls {
    /// What happens to traffic no rule matches.
    #[serde(default)]
    pub default_action: NetworkAction,
    /// Let trusted Azure services through.
    #[serde(default)]
    pub bypass: NetworkBypass,
    /// Allowed IPv4 addresses or CIDR ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    pub ip_rules: Vec<String>,
    /// Allowed subnets, by ARM id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200))]
    pub virtual_network_subnet_ids: Vec<String>,
}

/// Allow or deny.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum NetworkAction {
    /// Allow unmatched traffic.
    #[default]
    Allow,
    /// Deny unmatched traffic.
    Deny,
}

/// Whether trusted Azure services bypass the firewall.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum NetworkBypass {
    /// Trusted Azure services pass.
    #[default]
    AzureServices,
    /// Nothing bypasses the rules.
    None,
}

/// A data-plane role a binding may grant on a vault (or on some of its secrets).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum VaultRole {
    /// Key Vault Secrets User: read secret values.
    SecretsUser,
    /// Key Vault Secrets Officer: read and write secrets.
    SecretsOfficer,
    /// Key Vault Certificates User: read certificates.
    CertificatesUser,
    /// Key Vault Crypto User: use keys.
    CryptoUser,
}

impl VaultRole {
    /// The built-in role definition's GUID.
    pub fn role_definition_guid(self) -> &'static str {
        match self {
            VaultRole::SecretsUser => "4633458b-17de-408a-b874-0445c86b69e6",
            VaultRole::SecretsOfficer => "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
            VaultRole::CertificatesUser => "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
            VaultRole::CryptoUser => "12338af0-0e69-4776-bea7-57ae8d297424",
        }
    }
}

/// Who may bind to a vault.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingPolicy {
    /// Namespaces whose KeyVaultBindings may use this vault.
    pub namespace_selector: LabelSelector,
    /// Roles those bindings may ask for. Empty allows none.
    #[serde(default)]
    #[schemars(length(max = 4))]
    pub allowed_roles: Vec<VaultRole>,
}

/// What azop read back from Azure.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyVaultStatus {
    /// Generation, conditions, resource id, operation.
    #[serde(flatten)]
    pub azure: AzureResourceStatus,
    /// The data-plane URI, `https://<name>.vault.azure.net/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_uri: Option<String>,
}

crate::azure_backed!(KeyVault, KeyVaultStatus, KeyVault, placed);
