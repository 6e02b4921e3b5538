//! Typed request and response bodies of the ARM resources azop manages, one module per
//! provider, at the api-versions of the specs in `shared/arm-specs`.
//!
//! Every type names the fields azop reads or writes, as `Option`s where ARM may leave them
//! out, and keeps everything else in an `extra` map (`#[serde(flatten)]`) at every object level
//! it types. So a body read from ARM, changed in the fields azop owns and written back, loses
//! nothing a user set in Azure, and reading then writing a body gives back the same JSON:
//! absent fields stay absent (no `null`s are written for `None`). The tests check this against
//! every spec example. One thing does not survive: a *typed* field that ARM sends as an
//! explicit `null` comes back absent — which ARM reads the same way in a PUT. Fields ARM is
//! known to send as `null` (a role assignment's `condition`, `description`) are left untyped,
//! in `extra`, so they round-trip exactly.
//!
//! | module | types | api-version |
//! |---|---|---|
//! | [`resource_group`] | [`ResourceGroup`] | 2025-04-01 |
//! | [`managed_cluster`] | [`ManagedCluster`], [`AgentPool`] | 2026-05-01 |
//! | [`vault`] | [`Vault`] | 2025-05-01 |
//! | [`identity`] | [`UserAssignedIdentity`], [`FederatedIdentityCredential`] | 2024-11-30 |
//! | [`role_assignment`] | [`RoleAssignment`] | 2022-04-01 |

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::resource_id::{ResourceId, ResourceIdError};

pub mod identity;
pub mod managed_cluster;
pub mod resource_group;
pub mod role_assignment;
pub mod vault;

pub use identity::{
    FederatedIdentityCredential, FederatedIdentityCredentialProperties, UserAssignedIdentity,
    UserAssignedIdentityProperties,
};
pub use managed_cluster::{
    AadProfile, AddonProfile, AgentPool, AgentPoolProfile, AgentPoolProperties,
    ApiServerAccessProfile, AutoUpgradeProfile, DefenderProfile, DefenderSecurityMonitoring,
    ManagedCluster, ManagedClusterIdentity, ManagedClusterProperties, ManagedClusterSku,
    ManagedOutboundIpProfile, NatGatewayProfile, NetworkProfile, OidcIssuerProfile, PowerState,
    SecurityProfile, UserAssignedIdentityDetails, UserAssignedIdentityReference,
    WorkloadIdentityProfile,
};
pub use resource_group::{ResourceGroup, ResourceGroupProperties};
pub use role_assignment::{RoleAssignment, RoleAssignmentProperties};
pub use vault::{IpRule, NetworkRuleSet, Vault, VaultProperties, VaultSku, VirtualNetworkRule};

/// Fields of a body that its type does not name, kept as ARM sent them.
pub type Extra = Map<String, Value>;

/// Resource tags, name to value.
pub type Tags = BTreeMap<String, String>;

/// A typed ARM resource body.
pub trait ArmResource: Serialize + DeserializeOwned {
    /// The api-version azop sends for this type.
    const API_VERSION: &'static str;
    /// The resource type as ARM writes it in `type`, e.g. `Microsoft.KeyVault/vaults`.
    const RESOURCE_TYPE: &'static str;

    /// The `id` ARM answered with, as written.
    fn id(&self) -> Option<&str>;

    /// The provisioning state, where the type has one; `None` means Succeeded (FACTS.md).
    fn provisioning_state(&self) -> Option<&ProvisioningState>;

    /// The `id`, parsed.
    fn resource_id(&self) -> Option<Result<ResourceId, ResourceIdError>> {
        self.id().map(ResourceId::parse)
    }
}

/// `properties.provisioningState`. A string rather than an enum: each provider adds its own
/// non-terminal states (`Creating`, `Updating`, `RegisteringDns`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProvisioningState(pub String);

impl ProvisioningState {
    /// The state as ARM wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `Succeeded`.
    pub fn is_succeeded(&self) -> bool {
        self.0.eq_ignore_ascii_case("Succeeded")
    }

    /// `Failed` or `Canceled`.
    pub fn is_failed(&self) -> bool {
        self.0.eq_ignore_ascii_case("Failed") || self.0.eq_ignore_ascii_case("Canceled")
    }

    /// Succeeded, Failed or Canceled: no operation is running on the resource.
    pub fn is_terminal(&self) -> bool {
        self.is_succeeded() || self.is_failed()
    }
}

/// Who created and last changed a resource, and when (`systemData`). The times are kept as
/// ARM wrote them (seven fractional digits, say) so they round-trip unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemData {
    /// Who created the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// `User`, `Application`, `ManagedIdentity` or `Key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_type: Option<String>,
    /// When, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Who changed it last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<String>,
    /// `User`, `Application`, `ManagedIdentity` or `Key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by_type: Option<String>,
    /// When, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_at: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One page of a list answer: `{"value": [...], "nextLink": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmList<T> {
    /// The items of this page.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// The absolute URL of the next page, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl<T> Default for ArmList<T> {
    fn default() -> Self {
        ArmList {
            value: Vec::new(),
            next_link: None,
            extra: Extra::new(),
        }
    }
}
