//! `Microsoft.Authorization/roleAssignments`, an extension resource:
//! `{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`.

use serde::{Deserialize, Serialize};

use super::{ArmResource, Extra, ProvisioningState, SystemData};

/// The api-version azop sends for role assignments.
pub const API_VERSION: &str = "2022-04-01";

/// A role assignment: grants `principalId` the role `roleDefinitionId` at its scope. The
/// name is a GUID the caller picks; role assignments cannot be updated, only replaced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    /// The assignment's id (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The assignment's GUID (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Microsoft.Authorization/roleAssignments` (read-only).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Who created and changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_data: Option<SystemData>,
    /// The assignment's properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<RoleAssignmentProperties>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `properties` of a role assignment. `description`, `condition`, `conditionVersion`,
/// `createdOn`/`updatedOn`/`createdBy`/`updatedBy` and `delegatedManagedIdentityResourceId`
/// stay in `extra`: Azure answers several of them as `null`, which `extra` keeps as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    /// The role's id, `/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}`
    /// (or tenant-level, without the subscription); required in a PUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_definition_id: Option<String>,
    /// The object id of the user, group or service principal; required in a PUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// `User`, `Group`, `ServicePrincipal`, `ForeignGroup` or `Device`. Setting it on a PUT
    /// avoids the replication delay for a principal that was just created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<String>,
    /// The scope the role is granted at (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ArmResource for RoleAssignment {
    const API_VERSION: &'static str = API_VERSION;
    const RESOURCE_TYPE: &'static str = "Microsoft.Authorization/roleAssignments";

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Role assignments have no provisioning state: a PUT finishes at once.
    fn provisioning_state(&self) -> Option<&ProvisioningState> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_with_the_nulls_azure_sends_round_trips_exactly() {
        // The shape Azure answers with: several properties present as explicit nulls.
        let body = serde_json::json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/providers/Microsoft.Authorization/roleAssignments/9e1b5a3c-0000-4000-8000-000000000001",
            "name": "9e1b5a3c-0000-4000-8000-000000000001",
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6",
                "principalId": "2d8c7e8b-0000-4000-8000-000000000002",
                "principalType": "ServicePrincipal",
                "scope": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
                "condition": null,
                "conditionVersion": null,
                "createdBy": null,
                "createdOn": "2026-01-02T03:04:05.6789012Z",
                "delegatedManagedIdentityResourceId": null,
                "description": null,
                "updatedBy": "5a6b7c8d-0000-4000-8000-000000000003",
                "updatedOn": "2026-01-02T03:04:05.6789012Z"
            }
        });
        let typed: RoleAssignment = serde_json::from_value(body.clone()).expect("reads");
        let properties = typed.properties.as_ref().expect("properties");
        assert_eq!(
            properties.principal_type.as_deref(),
            Some("ServicePrincipal")
        );
        assert_eq!(
            properties.extra.get("condition"),
            Some(&serde_json::Value::Null)
        );
        assert_eq!(serde_json::to_value(&typed).expect("writes"), body);
        let id = typed.resource_id().expect("has an id").expect("parses");
        assert!(id.is_extension());
        assert_eq!(
            id.parent().expect("scope").as_str(),
            properties.scope.as_deref().unwrap_or_default()
        );
    }
}
