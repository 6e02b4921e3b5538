//! Azure's naming rules for the resources azop creates, as admission rules.
//!
//! A kind's Azure name is `spec.azureName`, or `metadata.name` when that is unset, so each rule
//! is checked on both: on the spec for an explicit name, and at the root for the fallback.
//! Patterns are ASCII-only and stay within what both RE2 (the apiserver's CEL) and Rust's `regex`
//! accept.

use kube::core::{Message, Rule};

/// One resource type's naming rule.
#[derive(Clone, Copy, Debug)]
pub struct AzureNameRule {
    /// What is being named, for messages ("a Key Vault name").
    pub what: &'static str,
    /// The pattern the whole name must match.
    pub pattern: &'static str,
    /// A CEL condition on `n` that the pattern cannot say (RE2 has no look-ahead), or `true`.
    pub extra: &'static str,
    /// The rule in words.
    pub description: &'static str,
}

/// `Microsoft.KeyVault/vaults`: global, 3–24 letters, digits and single hyphens.
pub const VAULT: AzureNameRule = AzureNameRule {
    what: "a Key Vault name",
    pattern: "^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$",
    extra: "!n.contains('--')",
    description: "3-24 letters, digits and hyphens, starting with a letter, ending with a letter or digit, no consecutive hyphens",
};

/// `Microsoft.Resources/resourceGroups`: 1–90 characters.
pub const RESOURCE_GROUP: AzureNameRule = AzureNameRule {
    what: "a resource group name",
    pattern: "^[-a-zA-Z0-9_.()]{0,89}[-a-zA-Z0-9_()]$",
    extra: "true",
    description: "1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending with a period",
};

/// `Microsoft.ManagedIdentity/userAssignedIdentities`: 3–128 characters.
pub const IDENTITY: AzureNameRule = AzureNameRule {
    what: "a managed identity name",
    pattern: "^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$",
    extra: "true",
    description: "3-128 letters, digits, hyphens and underscores, starting with a letter or digit",
};

/// `Microsoft.ContainerService/managedClusters`: 1–63 characters.
pub const AKS_CLUSTER: AzureNameRule = AzureNameRule {
    what: "an AKS cluster name",
    pattern: "^[a-zA-Z0-9]([-_a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$",
    extra: "true",
    description: "1-63 letters, digits, hyphens and underscores, starting and ending with a letter or digit",
};

/// A federated identity credential's name: 3–120 characters.
pub const FEDERATED_CREDENTIAL_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$";

/// An AKS DNS prefix: 1–54 letters, digits and hyphens, starting and ending alphanumeric.
pub const DNS_PREFIX_PATTERN: &str = "^[a-zA-Z0-9]([-a-zA-Z0-9]{0,52}[a-zA-Z0-9])?$";

/// A Linux agent pool's name: 1–12 lowercase letters and digits, starting with a letter.
pub const AGENT_POOL_PATTERN: &str = "^[a-z][a-z0-9]{0,11}$";

/// A Key Vault secret's name: 1–127 letters, digits and hyphens.
pub const VAULT_SECRET_PATTERN: &str = "^[0-9a-zA-Z-]{1,127}$";

/// A Kubernetes object name (DNS-1123 subdomain), e.g. a ServiceAccount or Secret.
pub const DNS_SUBDOMAIN_PATTERN: &str =
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// A GUID, as Azure writes subscription, tenant, client and object ids.
pub const GUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

impl AzureNameRule {
    fn check(&self, name: &str) -> String {
        format!(
            "{name}.matches('{}') && [{name}].all(n, {})",
            self.pattern, self.extra
        )
    }

    /// The spec-level rule: an explicit `azureName` must follow Azure's rule.
    pub fn spec_rule(&self) -> Rule {
        Rule::new(format!(
            "!has(self.azureName) || {}",
            self.check("self.azureName")
        ))
        .message(Message::Message(format!(
            "azureName is not valid as {}: {}",
            self.what, self.description
        )))
        .field_path(".azureName")
    }

    /// The root-level rule: without `spec.azureName`, `metadata.name` must follow Azure's rule.
    pub fn root_rule(&self) -> Rule {
        Rule::new(format!(
            "has(self.spec.azureName) || {}",
            self.check("self.metadata.name")
        ))
        .message(Message::Message(format!(
            "metadata.name is used as {} when spec.azureName is unset and must be {}; set spec.azureName",
            self.what, self.description
        )))
        .field_path(".metadata.name")
    }
}
