//! azop's custom resources: group `azop.dev`, version `v1alpha1`.
//!
//! Every kind is a [`kube::CustomResource`] with a schemars schema that carries Azure's naming
//! rules, enums, limits and immutability as admission rules (`x-kubernetes-validations`), so a
//! bad object is refused by the API server with a message naming the field, not discovered
//! minutes later from ARM. [`crds()`] produces the CustomResourceDefinitions that `azop crds`
//! prints and `crds/` holds.
//!
//! Status follows kstatus (Flux, `kubectl wait`): see [`conditions`].

pub mod aks_cluster;
pub mod azure_resource;
pub mod conditions;
pub mod federated_identity;
pub mod key_vault;
pub mod key_vault_binding;
pub mod naming;
pub mod profile;
pub mod resource_group;
pub mod role_assignment;

pub use aks_cluster::{AksCluster, AksClusterSpec, AksClusterStatus};
pub use azure_resource::{
    AzureBacked, AzureResourceFields, AzureResourceStatus, BasicStatus, DeletionPolicy, LocalRef,
    ManagementPolicy, NamespacedRef, OperationKind, PendingOperation, ResourceGroupPlacement,
};
pub use federated_identity::{FederatedIdentity, FederatedIdentitySpec, FederatedIdentityStatus};
pub use key_vault::{KeyVault, KeyVaultSpec, KeyVaultStatus, VaultRole};
pub use key_vault_binding::{KeyVaultBinding, KeyVaultBindingSpec, KeyVaultBindingStatus};
pub use profile::{AzureProfile, AzureProfileSpec, AzureProfileStatus};
pub use resource_group::{ResourceGroup, ResourceGroupSpec, ResourceGroupStatus};
pub use role_assignment::{RoleAssignment, RoleAssignmentSpec, RoleAssignmentStatus};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group.
pub const GROUP: &str = "azop.dev";
/// The API version.
pub const VERSION: &str = "v1alpha1";
/// The finalizer azop puts on every object it manages in Azure.
pub const FINALIZER: &str = "azop.dev/finalizer";
/// The tag naming the object that owns an Azure resource:
/// `<cluster-id>/<namespace>/<kind>/<name>`.
pub const OWNER_TAG: &str = "azop.dev/owner";
/// The label that puts an object in a shard, as Flux's `sharding.fluxcd.io/key` does: `azop run
/// --shard KEY` reconciles only the objects labelled `sharding.azop.dev/key=KEY`, and `azop run
/// --exclude-shards` only those without the label. AzureProfiles are cluster policy, read by
/// every shard, and never sharded.
pub const SHARD_LABEL: &str = "sharding.azop.dev/key";

/// Every CRD, in the order they are best applied (the profile first).
pub fn crds() -> Vec<CustomResourceDefinition> {
    macro_rules! azure_crds {
        ($($kind:ty => $watch:ident),* $(,)?) => {
            vec![$(<$kind>::crd()),*]
        };
    }
    let mut crds = vec![AzureProfile::crd(), KeyVaultBinding::crd()];
    crds.extend(for_each_azure_kind!(azure_crds));
    crds.into_iter().map(with_status_defaulted).collect()
}

/// Every Azure-backed kind ([`AzureBacked`]) once, with a snake-case name for per-kind state
/// (the operator's shared watch of it): `azop crds`, the operator's runner and `azop dev`'s
/// table all visit the kinds through this list. A new kind adds one line here.
///
/// `$m` is called once with the whole list, `Type => name, ...`.
#[macro_export]
macro_rules! for_each_azure_kind {
    ($m:ident) => {
        $m! {
            $crate::ResourceGroup => resource_groups,
            $crate::KeyVault => key_vaults,
            $crate::AksCluster => aks_clusters,
            $crate::FederatedIdentity => federated_identities,
            $crate::RoleAssignment => role_assignments,
        }
    };
}

/// Gives `status` a schema default of `{}`, so the API server fills in
/// `status.observedGeneration: -1` on objects nobody has reconciled yet (it defaults a field's
/// children only when the field exists). kstatus then reads them as InProgress, never as
/// healthy.
fn with_status_defaulted(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        let status = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
            .and_then(|s| s.properties.as_mut())
            .and_then(|p| p.get_mut("status"));
        if let Some(status) = status {
            status.default = Some(
                k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSON(
                    serde_json::json!({}),
                ),
            );
        }
    }
    crd
}
