//! The fields every Azure-backed kind shares, defined once and flattened into each spec and
//! status.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What happens in Azure when the object is deleted from Kubernetes. When the spec leaves it
/// out: `Delete` for a resource azop created, `Orphan` for one it adopted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the Azure resource (only if its ownership tag names this object).
    #[default]
    Delete,
    /// Leave the Azure resource in place.
    Orphan,
}

/// Whether azop may write to the Azure resource.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, update and delete the resource to match the spec.
    #[default]
    Manage,
    /// Adopt read-only: fill status from Azure, never write.
    Observe,
}

/// A reference to an object of another kind in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct LocalRef {
    /// The object's `metadata.name`.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A reference to an object that may live in another namespace (when the target allows it).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct NamespacedRef {
    /// The object's `metadata.name`.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The object's namespace; defaults to the referring object's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// Azure name, location, tags and policies: the fields every Azure-backed kind carries.
///
/// The Azure name rule differs per kind, so each kind checks `azureName` (and `metadata.name`,
/// which stands in for it) with a rule of its own; the rules here are the ones all kinds share.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureResourceFields {
    /// The resource's name in Azure. Defaults to `metadata.name`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("azureName is immutable: Azure cannot rename a resource; create a new object instead"))]
    pub azure_name: Option<String>,
    /// The Azure region, in ARM's form (`westeurope`). Optional where the namespace's
    /// AzureProfile gives a default. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9]{1,39}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("location is immutable: Azure cannot move this resource to another region"))]
    pub location: Option<String>,
    /// Tags set on the Azure resource. Azure allows 50; one is azop's ownership tag.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 49))]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('azop.dev/'))").message("tags with the azop.dev/ prefix are reserved for azop"))]
    #[x_kube(validation = Rule::new("self.all(k, size(k) <= 512 && size(self[k]) <= 256)").message("Azure allows tag names of at most 512 characters and values of at most 256"))]
    pub tags: BTreeMap<String, String>,
    /// `Delete` deletes the Azure resource with the object; `Orphan` leaves it. When omitted:
    /// `Delete` for a resource azop created, `Orphan` for one it adopted (an adopted resource
    /// is deleted only when the spec says `Delete` itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// `Manage` (default) or `Observe` (read-only adoption).
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// Take over an Azure resource of this name that exists without azop's ownership tag (one
    /// azop did not create). Without it such a resource is left untouched and the object is
    /// `Stalled` with reason `AlreadyExists`. The namespace's AzureProfile must set
    /// `allowAdoption`; a resource another azop object owns is never taken. Adoption is
    /// recorded in `status.ownership`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
}

/// Spec-level rules for the shared fields. Rules on a flattened struct itself would be lost when
/// two structs are flattened into one spec, so each kind's spec lists the ones that apply to it.
pub mod rules {
    use kube::core::Rule;

    /// `azureName` cannot be added or removed after creation (changing it is refused by the
    /// field's own rule).
    pub fn azure_name_fixed() -> Rule {
        Rule::new("has(self.azureName) == has(oldSelf.azureName)")
            .message("azureName is immutable: it cannot be added or removed after creation")
            .field_path(".azureName")
    }

    /// `resourceGroupRef` and `resourceGroupName` exclude each other.
    pub fn one_resource_group() -> Rule {
        Rule::new("!(has(self.resourceGroupRef) && has(self.resourceGroupName))")
            .message("resourceGroupRef and resourceGroupName are mutually exclusive: set one")
            .field_path(".resourceGroupName")
    }

    /// The resource group cannot be switched between a reference and a name after creation.
    pub fn resource_group_fixed() -> Rule {
        Rule::new("has(self.resourceGroupRef) == has(oldSelf.resourceGroupRef) && (!has(self.resourceGroupRef) || self.resourceGroupRef == oldSelf.resourceGroupRef)")
            .message("resourceGroupRef is immutable: Azure cannot move this resource to another group")
            .field_path(".resourceGroupRef")
    }
}

/// Where a resource lives: a ResourceGroup object, or an existing group by name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupPlacement {
    /// A ResourceGroup object in the same namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_ref: Option<LocalRef>,
    /// An existing resource group by its Azure name (the AzureProfile must allow it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[-\w\.\(\)]{0,89}[-\w\(\)]$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("resourceGroupName is immutable: Azure cannot move this resource to another group"))]
    pub resource_group_name: Option<String>,
}

/// The long-running Azure operation azop is waiting for, recorded before the reconcile that
/// started it returns, so a restarted operator resumes polling instead of sending it again.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingOperation {
    /// What the operation does.
    pub kind: OperationKind,
    /// The ARM id of the resource it works on, when it is one of the object's child resources
    /// (a federated credential, a role assignment) rather than its main resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// When azop started it.
    pub started_at: Time,
    /// The ARM client's serialised operation token (polling URLs and final-state rule).
    pub token: String,
}

/// What a long-running Azure operation does.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum OperationKind {
    /// A PUT that creates the resource.
    Create,
    /// A PUT that changes an existing resource.
    Update,
    /// A DELETE.
    Delete,
}

impl OperationKind {
    /// The name as status and conditions write it.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Create => "Create",
            OperationKind::Update => "Update",
            OperationKind::Delete => "Delete",
        }
    }
}

/// How azop came to own the Azure resource.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Ownership {
    /// azop created it for this object.
    Created,
    /// It existed without azop's ownership tag and this object adopted it (`spec.adopt`).
    Adopted,
}

/// The status every Azure-backed kind shares.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureResourceStatus {
    /// The `metadata.generation` the status describes; -1 until azop has seen the object.
    #[serde(default = "unobserved")]
    pub observed_generation: i64,
    /// Ready, Reconciling and Stalled, as kstatus reads them. A list keyed by type, so
    /// server-side apply merges conditions one by one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The ARM resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// ARM's `provisioningState` as last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    /// The Azure operation in flight, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<PendingOperation>,
    /// The ARM ids of the child resources azop created for this object (a federated
    /// credential, role assignments); they are deleted before the main resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
    /// Whether azop created the resource or adopted it; absent until it owns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<Ownership>,
    /// The tag names azop last applied (the object's tags and its profile's defaults). A tag is
    /// removed from Azure only when it is listed here and the spec no longer sets it; tags
    /// azop never applied are left as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_tags: Vec<String>,
    /// The settings azop last applied that it undoes when the spec drops them (a vault's
    /// `/properties/networkAcls`): undone only when listed here, so a setting azop never
    /// applied is left as it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_fields: Vec<String>,
    /// When azop last found the resource in sync with the spec. The next sync is due a sync
    /// period later; a restarted operator schedules it from here rather than reading every
    /// object from Azure at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// A digest of what that sync was computed from: the generation, the policy decision and
    /// the referenced objects. While it is unchanged and the sync is not due, a reconcile makes
    /// no Azure request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_inputs: Option<String>,
}

impl Default for AzureResourceStatus {
    fn default() -> Self {
        AzureResourceStatus {
            observed_generation: unobserved(),
            conditions: Vec::new(),
            resource_id: None,
            provisioning_state: None,
            operation: None,
            children: Vec::new(),
            ownership: None,
            applied_tags: Vec::new(),
            applied_fields: Vec::new(),
            last_sync_time: None,
            last_sync_inputs: None,
        }
    }
}

/// The status of kinds that are not one Azure resource (profiles, bindings).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BasicStatus {
    /// The `metadata.generation` the status describes; -1 until azop has seen the object.
    #[serde(default = "unobserved")]
    pub observed_generation: i64,
    /// Ready, Reconciling and Stalled, as kstatus reads them. A list keyed by type, so
    /// server-side apply merges conditions one by one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

impl Default for BasicStatus {
    fn default() -> Self {
        BasicStatus {
            observed_generation: unobserved(),
            conditions: Vec::new(),
        }
    }
}

/// `status.observedGeneration` before azop has looked: -1, so kstatus never reads an object
/// nobody has reconciled as healthy.
pub fn unobserved() -> i64 {
    -1
}

/// What every Azure-backed kind has, so the engine, the runner and the tests reach it the same
/// way for each: the shared spec fields, placement and the shared status.
pub trait AzureBacked:
    kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The kind, as AzureProfiles name it in `allowedKinds`.
    const KIND: crate::profile::AzopKind;
    /// The kind's status type.
    type Status: Default
        + Clone
        + PartialEq
        + std::fmt::Debug
        + Serialize
        + serde::de::DeserializeOwned
        + Send
        + Sync;

    /// The shared spec fields (`azureName`, `location`, `tags`, policies), where the kind has
    /// them.
    fn azure_fields(&self) -> Option<&AzureResourceFields>;
    /// Where the resource goes, for kinds that live in a resource group.
    fn placement(&self) -> Option<&ResourceGroupPlacement> {
        None
    }
    /// The object's status, if written.
    fn status(&self) -> Option<&Self::Status>;
    /// The shared part of a status.
    fn azure_status(status: &mut Self::Status) -> &mut AzureResourceStatus;

    /// The Azure name: `spec.azureName`, else `metadata.name`.
    fn azure_name(&self) -> String {
        self.azure_fields()
            .and_then(|f| f.azure_name.clone())
            .or_else(|| self.meta().name.clone())
            .unwrap_or_default()
    }
    /// `spec.deletionPolicy` as written (`None` when omitted: see [`DeletionPolicy`]).
    fn deletion_policy(&self) -> Option<DeletionPolicy> {
        self.azure_fields().and_then(|f| f.deletion_policy)
    }
    /// `spec.adopt`.
    fn adopt(&self) -> bool {
        self.azure_fields().is_some_and(|f| f.adopt)
    }
    /// `spec.managementPolicy`.
    fn management_policy(&self) -> ManagementPolicy {
        self.azure_fields()
            .map(|f| f.management_policy)
            .unwrap_or_default()
    }
    /// `spec.location`.
    fn location(&self) -> Option<&str> {
        self.azure_fields().and_then(|f| f.location.as_deref())
    }
    /// The shared status of the object as written (default when none is).
    fn common_status(&self) -> AzureResourceStatus {
        let mut status = self.status().cloned().unwrap_or_default();
        Self::azure_status(&mut status).clone()
    }
}

/// Implements [`AzureBacked`] for a kind whose spec flattens [`AzureResourceFields`] as
/// `azure` (and, with `placed`, [`ResourceGroupPlacement`] as `placement`), and whose status
/// flattens [`AzureResourceStatus`] as `azure`.
#[macro_export]
macro_rules! azure_backed {
    ($ty:ty, $status:ty, $kind:ident) => {
        $crate::azure_backed!(@impl $ty, $status, $kind, fn placement(&self) -> Option<&$crate::ResourceGroupPlacement> { None });
    };
    ($ty:ty, $status:ty, $kind:ident, placed) => {
        $crate::azure_backed!(@impl $ty, $status, $kind, fn placement(&self) -> Option<&$crate::ResourceGroupPlacement> { Some(&self.spec.placement) });
    };
    (@impl $ty:ty, $status:ty, $kind:ident, $placement:item) => {
        impl $crate::azure_resource::AzureBacked for $ty {
            const KIND: $crate::profile::AzopKind = $crate::profile::AzopKind::$kind;
            type Status = $status;
            fn azure_fields(&self) -> Option<&$crate::AzureResourceFields> {
                Some(&self.spec.azure)
            }
            $placement
            fn status(&self) -> Option<&$status> {
                self.status.as_ref()
            }
            fn azure_status(status: &mut $status) -> &mut $crate::AzureResourceStatus {
                &mut status.azure
            }
        }
    };
}
