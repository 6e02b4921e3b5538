//! One adapter per kind: what it resolves, how its spec becomes a typed ARM body (a pure
//! function with table tests beside it), and how an ARM body becomes its status.

use azop_api::AzureResourceFields;
use azop_arm::resources::Tags;

use crate::policy::Decision;

pub mod aks_cluster;
pub mod aks_kubeconfig;
pub mod binding_sync;
pub mod federated_identity;
pub mod key_vault;
pub mod key_vault_binding;
pub mod resource_group;
pub mod role_assignment;

/// The tags azop applies: the profile's defaults, then the object's own (which win).
pub(crate) fn tags(decision: &Decision, fields: &AzureResourceFields) -> Tags {
    let mut tags = decision.default_tags.clone();
    tags.extend(fields.tags.clone());
    tags
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use crate::policy::Decision;

    /// An object of kind `K` from JSON, with apiVersion filled in.
    pub fn obj<K: serde::de::DeserializeOwned>(mut v: Value) -> K {
        v["apiVersion"] = json!("azop.dev/v1alpha1");
        serde_json::from_value(v).expect("a valid object")
    }

    /// A profile's decision: westeurope, subscription …01, tenant …02, default tags.
    pub fn decision() -> Decision {
        Decision {
            location: Some("westeurope".to_string()),
            resource_group_name: Some("rg-team-a".to_string()),
            default_tags: BTreeMap::from([
                ("team".to_string(), "a".to_string()),
                ("cost".to_string(), "42".to_string()),
            ]),
            subscription_id: Some("00000000-0000-0000-0000-000000000001".to_string()),
            tenant_id: Some("00000000-0000-0000-0000-000000000002".to_string()),
            ..Decision::default()
        }
    }

    /// The resource group id of [`decision`].
    pub const GROUP: &str =
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-team-a";
}
