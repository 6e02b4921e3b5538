//! KeyVaultBinding: a namespace asks for a role on a vault (or some of its secrets) for one of
//! its FederatedIdentities, and optionally a copy of secrets in a Kubernetes Secret.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::azure_resource::{BasicStatus, DeletionPolicy, LocalRef, NamespacedRef};
use crate::key_vault::VaultRole;
use crate::naming::{DNS_SUBDOMAIN_PATTERN, VAULT_SECRET_PATTERN};

/// Access to a vault for an identity of this namespace. Refused (Stalled, no Azure call) unless
/// the vault's `bindingPolicy` selects the namespace and allows the role.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "azop.dev",
    version = "v1alpha1",
    derive = "PartialEq",
    kind = "KeyVaultBinding",
    namespaced,
    status = "KeyVaultBindingStatus",
    shortname = "kvb",
    category = "azop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Vault","type":"string","jsonPath":".spec.vaultRef.name"}"#,
    printcolumn = r#"{"name":"Role","type":"string","jsonPath":".spec.role"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.sync) || !has(self.secrets) || size(self.secrets) == 0 || self.sync.items.all(i, i.vaultSecret in self.secrets)").message("every sync item's vaultSecret must be listed in secrets: the role is scoped to those secrets only"))]
pub struct KeyVaultBindingSpec {
    /// The KeyVault object.
    #[x_kube(validation = Rule::new("self == oldSelf").message("vaultRef is immutable: create another binding for another vault"))]
    pub vault_ref: NamespacedRef,
    /// A FederatedIdentity in this namespace.
    #[x_kube(validation = Rule::new("self == oldSelf").message("identityRef is immutable: create another binding for another identity"))]
    pub identity_ref: LocalRef,
    /// The role to grant.
    pub role: VaultRole,
    /// Scope the role to these secrets; empty grants it on the whole vault.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50), inner(regex(pattern = VAULT_SECRET_PATTERN)))]
    pub secrets: Vec<String>,
    /// Copy secrets into a Kubernetes Secret, read with the binding's own identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SecretSync>,
    /// `Delete` (default) removes the role assignments with the binding; `Orphan` keeps them.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// A Kubernetes Secret kept in step with vault secrets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.items.all(i, self.items.exists_one(j, j.key == i.key))").message("sync.items keys must be unique"))]
pub struct SecretSync {
    /// The Secret's name in this namespace (owned by the binding).
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub secret_name: String,
    /// How often to re-read the vault, as a Go duration (`1h`, `15m`). Default 1h, jittered
    /// by up to 10% per binding so refreshes spread out; `0s` reads once (a changed `items`
    /// list or the `azop.dev/sync-requested-at` annotation reads again).
    #[serde(default = "default_refresh")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub refresh_interval: String,
    /// Which vault secret goes under which key.
    #[schemars(length(min = 1, max = 100))]
    pub items: Vec<SyncItem>,
}

fn default_refresh() -> String {
    "1h".to_string()
}

/// One key of the synced Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncItem {
    /// The key in the Kubernetes Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
    /// The vault secret's name.
    #[schemars(regex(pattern = VAULT_SECRET_PATTERN))]
    pub vault_secret: String,
}

/// What the binding holds.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyVaultBindingStatus {
    /// Generation and conditions.
    #[serde(flatten)]
    pub basic: BasicStatus,
    /// The role assignments made for the binding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_assignment_ids: Vec<String>,
    /// The vault secret versions last copied into the Secret (never their values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub synced_versions: BTreeMap<String, String>,
    /// When the Secret was last refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    /// When azop last found the role assignments in Azure. The next check is due a sync
    /// period later; a restarted operator schedules it from here rather than reading every
    /// binding's assignments at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignments_checked_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    /// The Secret the values were last written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The value of the `azop.dev/sync-requested-at` annotation last honoured: setting the
    /// annotation to a new value (a timestamp, say) forces a refresh now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_sync_request: Option<String>,
    /// The federated credential azop added to the identity so that a token from the cluster
    /// azop runs in can sign in as it while this binding syncs (the identity trusts another
    /// cluster's issuer); removed when no syncing binding needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_credential_id: Option<String>,
}
