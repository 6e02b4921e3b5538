//! Azure RBAC as far as the emulator's data planes need it: the built-in roles' real
//! permissions, and whether a principal's role assignments allow a data action at a scope.

use serde_json::{Value, json};

use crate::arm::{Arm, Kind};

/// The permissions block of a built-in role definition (as Azure publishes it), by GUID.
pub(crate) fn permissions(role_guid: &str) -> Value {
    let (actions, not_actions, data_actions): (&[&str], &[&str], &[&str]) =
        match role_guid.to_ascii_lowercase().as_str() {
            // Key Vault Secrets User
            "4633458b-17de-408a-b874-0445c86b69e6" => (
                &[],
                &[],
                &[
                    "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                    "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
                ],
            ),
            // Key Vault Secrets Officer
            "b86a8fe4-44ce-4948-aee5-eccb2c155cd7" => (
                KEY_VAULT_READ_ACTIONS,
                &[],
                &["Microsoft.KeyVault/vaults/secrets/*"],
            ),
            // Key Vault Certificates User
            "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba" => (
                &[],
                &[],
                &[
                    "Microsoft.KeyVault/vaults/certificates/read",
                    "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                    "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
                    "Microsoft.KeyVault/vaults/keys/read",
                ],
            ),
            // Key Vault Crypto User
            "12338af0-0e69-4776-bea7-57ae8d297424" => (
                &[],
                &[],
                &[
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
            ),
            // Key Vault Administrator
            "00482a5a-887f-4fb3-b363-3b7fe8e74483" => (
                KEY_VAULT_READ_ACTIONS,
                &[],
                &["Microsoft.KeyVault/vaults/*"],
            ),
            // AcrPull
            "7f951dda-4ed3-4680-a7ca-43fe172d538d" => (
                &["Microsoft.ContainerRegistry/registries/pull/read"],
                &[],
                &[],
            ),
            // Contributor
            "b24988ac-6180-42a0-ab88-20f7382dd24c" => (
                &["*"],
                &[
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
                &[],
            ),
            // Reader
            "acdd72a7-3385-48ef-bd42-f606fba81ae7" => (&["*/read"], &[], &[]),
            _ => (&[], &[], &[]),
        };
    json!({"actions": actions, "notActions": not_actions, "dataActions": data_actions, "notDataActions": []})
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

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a role definition's permissions allow a data action.
fn allows_data_action(permissions: &Value, action: &str) -> bool {
    strings(permissions, "dataActions")
        .iter()
        .any(|p| action_matches(p, action))
        && !strings(permissions, "notDataActions")
            .iter()
            .any(|p| action_matches(p, action))
}

/// Whether a scope covers a resource: equal, or an ancestor (ids compare case-insensitively).
fn covers(scope: &str, resource: &str) -> bool {
    let (s, r) = (
        scope.trim_end_matches('/').to_ascii_lowercase(),
        resource.to_ascii_lowercase(),
    );
    r == s || r.starts_with(&format!("{s}/"))
}

/// Whether `principal` holds a role assignment at `resource` or above whose role allows
/// `data_action`. Only built-in roles carry permissions: a custom role grants nothing.
pub(crate) fn principal_may(arm: &Arm, principal: &str, resource: &str, data_action: &str) -> bool {
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
            && allows_data_action(
                &permissions(p("roleDefinitionId").rsplit('/').next().unwrap_or_default()),
                data_action,
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

    #[test]
    fn secrets_user_reads_but_does_not_write() {
        let user = permissions("4633458b-17de-408a-b874-0445c86b69e6");
        assert!(allows_data_action(
            &user,
            "Microsoft.KeyVault/vaults/secrets/getSecret/action"
        ));
        assert!(!allows_data_action(
            &user,
            "Microsoft.KeyVault/vaults/secrets/setSecret/action"
        ));
        let reader = permissions("acdd72a7-3385-48ef-bd42-f606fba81ae7");
        assert!(!allows_data_action(
            &reader,
            "Microsoft.KeyVault/vaults/secrets/getSecret/action"
        ));
    }

    #[test]
    fn scopes_cover_their_descendants_only() {
        assert!(covers(
            "/subscriptions/s",
            "/subscriptions/S/resourceGroups/g"
        ));
        assert!(covers("/subscriptions/s/", "/subscriptions/s"));
        assert!(!covers("/subscriptions/s1", "/subscriptions/s10"));
    }
}
