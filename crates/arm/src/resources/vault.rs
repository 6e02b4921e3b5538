//! `Microsoft.KeyVault/vaults`.

use serde::{Deserialize, Serialize};

use super::{ArmResource, Extra, ProvisioningState, SystemData, Tags};

/// The api-version azop sends for vaults.
pub const API_VERSION: &str = "2025-05-01";

/// A Key Vault: the body of `PUT`/`GET`/`PATCH …/providers/Microsoft.KeyVault/vaults/{name}`.
/// Vault names are global, and a deleted vault keeps its name while soft-deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vault {
    /// The vault's id (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The vault's name (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Microsoft.KeyVault/vaults` (read-only).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// The region; required on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// Who created and changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_data: Option<SystemData>,
    /// The vault's properties (required in a PUT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<VaultProperties>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `properties` of a vault. Access policies, the `enabledFor*` switches and private endpoint
/// connections are kept in `extra`: azop uses RBAC and does not touch them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultProperties {
    /// The Entra tenant that authenticates requests to the vault; required in a PUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The SKU; required in a PUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<VaultSku>,
    /// The data-plane URI, `https://{name}.vault.azure.net/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_uri: Option<String>,
    /// Authorise data-plane access with Azure RBAC rather than access policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_rbac_authorization: Option<bool>,
    /// Soft delete; on by default and cannot be turned off once on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_soft_delete: Option<bool>,
    /// How long a deleted vault stays recoverable, 7 to 90 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_delete_retention_in_days: Option<i32>,
    /// Purge protection; cannot be turned off once on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_purge_protection: Option<bool>,
    /// `default` or `recover` (recover a soft-deleted vault of the same name); request only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_mode: Option<String>,
    /// `Enabled` or `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_network_access: Option<String>,
    /// Firewall rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_acls: Option<NetworkRuleSet>,
    /// `Succeeded` or `RegisteringDns` (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `properties.sku` of a vault.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultSku {
    /// Always `A`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// `standard` or `premium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `properties.networkAcls` of a vault.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRuleSet {
    /// `AzureServices` or `None`: which traffic passes the rules regardless.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass: Option<String>,
    /// `Allow` or `Deny` when no rule matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<String>,
    /// Allowed addresses and ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_rules: Option<Vec<IpRule>>,
    /// Allowed subnets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_network_rules: Option<Vec<VirtualNetworkRule>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One of `networkAcls.ipRules`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpRule {
    /// An IPv4 address or CIDR range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One of `networkAcls.virtualNetworkRules`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualNetworkRule {
    /// The subnet's resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Accept the rule before the subnet has the `Microsoft.KeyVault` service endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_vnet_service_endpoint: Option<bool>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ArmResource for Vault {
    const API_VERSION: &'static str = API_VERSION;
    const RESOURCE_TYPE: &'static str = "Microsoft.KeyVault/vaults";

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn provisioning_state(&self) -> Option<&ProvisioningState> {
        self.properties.as_ref()?.provisioning_state.as_ref()
    }
}
