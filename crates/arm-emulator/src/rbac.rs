//! Azure RBAC as far as the emulator's data planes need it: the built-in roles' real
//! permissions, and whether a principal's role assignments allow a data action at a scope.

use serde_json::{Value, json};

use crate::arm::{Arm, Kind};

/// A built-in role definition: its GUID, name and permissions, as Azure publishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltInRole {
    /// The role definition's name (a GUID, the same in every tenant).
    pub guid: &'static str,
    /// `roleName`.
    pub name: &'static str,
    /// Control-plane actions it allows (wildcards allowed).
    pub actions: &'static [&'static str],
    /// Control-plane actions taken away again from `actions`.
    pub not_actions: &'static [&'static str],
    /// Data-plane actions it allows.
    pub data_actions: &'static [&'static str],
}

/// The control-plane actions Azure gives the Key Vault Officer and Administrator roles.
const KEY_VAULT_READ_ACTIONS: &[&str] = &[
    "Microsoft.Authorization/*/read",
    "Microsoft.Insights/alertRules/*",
    "Microsoft.Resources/deployments/*",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Support/*",
    "Microsoft.KeyVault/checkNameAvailability/read",
    "Microsoft.KeyVault/deletedVaults/read",
    "Microsoft.KeyVault/locations/*/read",
    "Microsoft.KeyVault/vaults/*/read",
    "Microsoft.KeyVault/operations/read",
];

/// The built-in roles the emulator knows, with Azure's real permissions; one table serves ARM's
/// own authorization (`actions`/`notActions`), the Key Vault data plane (`dataActions`) and the
/// roleDefinitions GETs. Any other role id (custom roles) grants nothing.
///
/// Sources, Microsoft's generated built-in role reference (MicrosoftDocs/azure-docs,
/// `articles/role-based-access-control/built-in-roles/`): `privileged.md` (2025-01-25: Owner,
/// Contributor, User Access Administrator, Role Based Access Control Administrator),
/// `general.md` (Reader), `identity.md` (Managed Identity Contributor and Operator),
/// `security.md` (the Key Vault roles), `containers.md` (AcrPull, Azure Kubernetes Service
/// Contributor Role); also https://learn.microsoft.com/azure/role-based-access-control/built-in-roles.
pub const ROLE_DEFINITIONS: &[BuiltInRole] = &[
    BuiltInRole {
        guid: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        name: "Owner",
        actions: &["*"],
        not_actions: &[],
        data_actions: &[],
    },
    BuiltInRole {
        guid: "b24988ac-6180-42a0-ab88-20f7382dd24c",
        name: "Contributor",
        actions: &["*"],
        not_actions: &[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ],
        data_actions: &[],
    },
    BuiltInRole {
        guid: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        name: "Reader",
        actions: &["*/read"],
        not_actions: &[],
        data_actions: &[],
    },
    BuiltInRole {
        guid: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        name: "User Access Administrator",
        actions: &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        not_actions: &[],
        data_actions: &[],
    },
    // Azure attaches a condition to assignments of this role limiting which roles its holder may
    // assign (and to whom); the emulator does not evaluate conditions, so here it may assign any.
    BuiltInRole {
        guid: "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        name: "Role Based Access Control Administrator",
        actions: &[
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "*/read",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
        data_actions: &[],
    },
    BuiltInRole {
        guid: "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
        name: "Managed Identity Contributor",
        actions: &[
            "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
            "Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
        data_actions: &[],
    },
    BuiltInRole {
        guid: "f1a07417-d97a-45cb-824c-7a7467783830",
        name: "Managed Identity Operator",
        actions: &[
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
        data_actions: &[],
    },
    BuiltInRole {
        guid: "f25e0fa2-a7c8-4377-a976-54943a77a395",
        name: "Key Vault Contributor",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.KeyVault/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
        not_actions: &[
            "Microsoft.KeyVault/locations/deletedVaults/purge/action",
            "Microsoft.KeyVault/hsmPools/*",
            "Microsoft.KeyVault/managedHsms/*",
        ],
        data_actions: &[],
    },
    BuiltInRole {
        guid: "ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8",
        name: "Azure Kubernetes Service Contributor Role",
        actions: &[
            "Microsoft.ContainerService/managedClusters/read",
            "Microsoft.ContainerService/managedClusters/write",
            "Microsoft.Resources/deployments/*",
        ],
        not_actions: &[],
        data_actions: &[],
    },
    BuiltInRole {
        guid: "4633458b-17de-408a-b874-0445c86b69e6",
        name: "Key Vault Secrets User",
        actions: &[],
        not_actions: &[],
        data_actions: &[
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ],
    },
    BuiltInRole {
        guid: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        name: "Key Vault Secrets Officer",
        actions: KEY_VAULT_READ_ACTIONS,
        not_actions: &[],
        data_actions: &["Microsoft.KeyVault/vaults/secrets/*"],
    },
    BuiltInRole {
        guid: "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
        name: "Key Vault Certificates User",
        actions: &[],
        not_actions: &[],
        data_actions: &[
            "Microsoft.KeyVault/vaults/certificates/read",
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            "Microsoft.KeyVault/vaults/keys/read",
        ],
    },
    BuiltInRole {
        guid: "12338af0-0e69-4776-bea7-57ae8d297424",
        name: "Key Vault Crypto User",
        actions: &[],
        not_actions: &[],
        data_actions: &[
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/update/action",
            "Microsoft.KeyVault/vaults/keys/backup/action",
            "Microsoft.KeyVault/vaults/keys/encrypt/action",
            "Microsoft.KeyVault/vaults/keys/decrypt/action",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
            "Microsoft.KeyVault/vaults/keys/sign/action",
            "Microsoft.KeyVault/vaults/keys/verify/action",
        ],
    },
    BuiltInRole {
        guid: "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        name: "Key Vault Administrator",
        actions: KEY_VAULT_READ_ACTIONS,
        not_actions: &[],
        data_actions: &["Microsoft.KeyVault/vaults/*"],
    },
    BuiltInRole {
        guid: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
        name: "AcrPull",
        actions: &["Microsoft.ContainerRegistry/registries/pull/read"],
        not_actions: &[],
        data_actions: &[],
    },
];

/// A built-in role, by GUID (case-insensitive).
pub(crate) fn built_in(role_guid: &str) -> Option<&'static BuiltInRole> {
    ROLE_DEFINITIONS
        .iter()
        .find(|r| r.guid.eq_ignore_ascii_case(role_guid))
}

/// The permissions block of a role definition, as role definition GETs answer it; empty for a
/// role the emulator does not know.
pub(crate) fn permissions(role_guid: &str) -> Value {
    let (actions, not_actions, data_actions) = built_in(role_guid)
        .map(|r| (r.actions, r.not_actions, r.data_actions))
        .unwrap_or_default();
    json!({"actions": actions, "notActions": not_actions, "dataActions": data_actions, "notDataActions": []})
}

/// Azure's action patterns: `*` matches any run of characters; case-insensitive.
pub(crate) fn action_matches(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match p.split_first() {
            None => a.is_empty(),
            Some((b'*', rest)) => (0..=a.len()).any(|i| go(rest, &a[i..])),
            Some((c, rest)) => a
                .split_first()
                .is_some_and(|(d, tail)| c.eq_ignore_ascii_case(d) && go(rest, tail)),
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

/// Which plane an action belongs to: a role's `actions`/`notActions` govern ARM's control
/// plane, its `dataActions` the data planes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plane {
    Control,
    Data,
}

/// Whether a role allows an action: one of its allowing patterns matches and none of the same
/// role's excluding patterns does (Azure subtracts `notActions` per role, not across roles).
/// Built-in roles only: an unknown (custom) role allows nothing.
fn role_allows(role_guid: &str, plane: Plane, action: &str) -> bool {
    let Some(role) = built_in(role_guid) else {
        return false;
    };
    let (allowed, excluded): (&[&str], &[&str]) = match plane {
        Plane::Control => (role.actions, role.not_actions),
        // No built-in role the emulator knows has notDataActions.
        Plane::Data => (role.data_actions, &[]),
    };
    allowed.iter().any(|p| action_matches(p, action))
        && !excluded.iter().any(|p| action_matches(p, action))
}

/// Whether a scope covers a resource: equal, or an ancestor on a path-segment boundary (ids
/// compare case-insensitively; `/resourceGroups/rg-a` does not cover `/resourceGroups/rg-ab`).
fn covers(scope: &str, resource: &str) -> bool {
    let (s, r) = (
        scope.trim_end_matches('/').to_ascii_lowercase(),
        resource.trim_end_matches('/').to_ascii_lowercase(),
    );
    r == s || r.starts_with(&format!("{s}/"))
}

/// Whether `principal` holds a role assignment at `resource` or above whose role allows
/// `action` on `plane`.
pub(crate) fn principal_may(
    arm: &Arm,
    principal: &str,
    resource: &str,
    plane: Plane,
    action: &str,
) -> bool {
    arm.resources.values().any(|r| {
        let p = |f: &str| {
            r.body
                .pointer(&format!("/properties/{f}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        r.kind == Kind::RoleAssignment
            && p("principalId").eq_ignore_ascii_case(principal)
            && covers(p("scope"), resource)
            && role_allows(
                p("roleDefinitionId").rsplit('/').next().unwrap_or_default(),
                plane,
                action,
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_azure_actions() {
        assert!(action_matches(
            "Microsoft.KeyVault/vaults/secrets/*",
            "Microsoft.KeyVault/vaults/secrets/setSecret/action"
        ));
        assert!(action_matches("*/read", "Microsoft.KeyVault/vaults/read"));
        assert!(action_matches("*", "anything"));
        assert!(action_matches(
            "microsoft.keyvault/VAULTS/secrets/getsecret/action",
            "Microsoft.KeyVault/vaults/secrets/getSecret/action"
        ));
        assert!(!action_matches(
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/setSecret/action"
        ));
        assert!(!action_matches("*/read", "Microsoft.KeyVault/vaults/write"));
    }

    const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
    const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
    const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";

    #[test]
    fn secrets_user_reads_but_does_not_write() {
        let get = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
        assert!(role_allows(SECRETS_USER, Plane::Data, get));
        assert!(!role_allows(
            SECRETS_USER,
            Plane::Data,
            "Microsoft.KeyVault/vaults/secrets/setSecret/action"
        ));
        assert!(!role_allows(READER, Plane::Data, get));
        // dataActions never grant control-plane actions, nor actions data ones.
        assert!(!role_allows(SECRETS_USER, Plane::Control, get));
    }

    #[test]
    fn contributor_writes_anything_but_authorization() {
        assert!(role_allows(
            CONTRIBUTOR,
            Plane::Control,
            "Microsoft.KeyVault/vaults/write"
        ));
        assert!(!role_allows(
            CONTRIBUTOR,
            Plane::Control,
            "Microsoft.Authorization/roleAssignments/write"
        ));
        assert!(!role_allows(
            CONTRIBUTOR,
            Plane::Control,
            "microsoft.authorization/roleassignments/DELETE"
        ));
        assert!(role_allows(
            CONTRIBUTOR,
            Plane::Control,
            "Microsoft.Authorization/roleAssignments/read"
        ));
        assert!(role_allows(
            READER,
            Plane::Control,
            "Microsoft.Resources/subscriptions/resourcegroups/read"
        ));
        assert!(!role_allows(
            READER,
            Plane::Control,
            "Microsoft.Resources/subscriptions/resourcegroups/write"
        ));
        assert!(!role_allows(
            "11111111-2222-3333-4444-555555555555",
            Plane::Control,
            "Microsoft.Resources/subscriptions/resourcegroups/read"
        ));
    }

    #[test]
    fn every_built_in_role_is_listed_once_and_answers_its_permissions() {
        for r in ROLE_DEFINITIONS {
            assert_eq!(
                ROLE_DEFINITIONS.iter().filter(|o| o.guid == r.guid).count(),
                1,
                "{}",
                r.name
            );
            assert!(uuid::Uuid::parse_str(r.guid).is_ok(), "{}", r.name);
            assert_eq!(
                permissions(&r.guid.to_ascii_uppercase())["actions"],
                json!(r.actions)
            );
        }
    }

    #[test]
    fn scopes_cover_their_descendants_only() {
        assert!(covers(
            "/subscriptions/s",
            "/subscriptions/S/resourceGroups/g"
        ));
        assert!(covers("/subscriptions/s/", "/subscriptions/s"));
        assert!(!covers("/subscriptions/s1", "/subscriptions/s10"));
        assert!(!covers(
            "/subscriptions/s/resourceGroups/rg-a",
            "/subscriptions/s/resourceGroups/rg-ab"
        ));
        assert!(covers("/", "/subscriptions/s"));
    }
}
