//! `Microsoft.ManagedIdentity/userAssignedIdentities` and their
//! `federatedIdentityCredentials`.

use serde::{Deserialize, Serialize};

use super::{ArmResource, Extra, ProvisioningState, SystemData, Tags};

/// The api-version azop sends for identities and federated identity credentials.
pub const API_VERSION: &str = "2024-11-30";

/// A user-assigned managed identity: the body of
/// `PUT`/`GET`/`PATCH …/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentity {
    /// The identity's id (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The identity's name (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Microsoft.ManagedIdentity/userAssignedIdentities` (read-only).
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
    /// The identity's properties, all read-only but `isolationScope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<UserAssignedIdentityProperties>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `properties` of a user-assigned identity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentityProperties {
    /// The Entra tenant of the identity (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The service principal's object id: what role assignments name (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// The application (client) id: what a workload asks tokens for (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `None` or `Regional`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation_scope: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A federated identity credential: the body of
/// `…/userAssignedIdentities/{identity}/federatedIdentityCredentials/{name}`. It lets tokens
/// from `issuer` with subject `subject` be exchanged for the identity's tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedIdentityCredential {
    /// The credential's id (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The credential's name (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials`
    /// (read-only).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Who created and changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_data: Option<SystemData>,
    /// The credential's properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<FederatedIdentityCredentialProperties>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `properties` of a federated identity credential; all three are required in a PUT.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedIdentityCredentialProperties {
    /// The token issuer's URL, e.g. an AKS cluster's OIDC issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The external identity, e.g. `system:serviceaccount:{namespace}:{name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The tokens' audiences, usually `["api://AzureADTokenExchange"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ArmResource for UserAssignedIdentity {
    const API_VERSION: &'static str = API_VERSION;
    const RESOURCE_TYPE: &'static str = "Microsoft.ManagedIdentity/userAssignedIdentities";

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Identities have no provisioning state: a PUT finishes at once.
    fn provisioning_state(&self) -> Option<&ProvisioningState> {
        None
    }
}

impl ArmResource for FederatedIdentityCredential {
    const API_VERSION: &'static str = API_VERSION;
    const RESOURCE_TYPE: &'static str =
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials";

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Federated credentials have no provisioning state: a PUT finishes at once.
    fn provisioning_state(&self) -> Option<&ProvisioningState> {
        None
    }
}
