//! The built-in kinds' behaviour beyond being stored, as kube-apiserver has it per kind: the
//! OpenAPI schema (published in `/openapi/v3` for `kubectl explain`, and what a write is
//! decoded, pruned and checked against), what the kind's defaulting functions and registry
//! strategy do (defaults, the status a create starts with, `metadata.generation`), its
//! validation, and its `kubectl get` columns.
//!
//! A kind is one line of [`KINDS`]: `Kind::of::<k8s_openapi::api::rbac::v1::Role>()` gives it
//! its schema, and with it type checks, unknown-field checks, pruning and `kubectl explain`;
//! the builder methods add what its strategy does beyond that.

mod defaults;
pub mod printers;
mod schemas;
mod strategic_merge;
mod validation;

use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::authentication::v1 as authentication;
use k8s_openapi::api::autoscaling::v1 as autoscaling;
use k8s_openapi::api::coordination::v1 as coordination;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::api::networking::v1 as networking;
use k8s_openapi::api::policy::v1 as policy;
use k8s_openapi::api::rbac::v1 as rbac;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use serde_json::Value;

pub use crd_validation::FieldError;
pub use printers::Columns;
pub use schemas::catalog;

/// When kube-apiserver sets and bumps `metadata.generation` for a kind (its strategy's
/// `PrepareForCreate` and `PrepareForUpdate`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Generation {
    /// Never set (Secrets, ConfigMaps, Services, ...).
    Untracked,
    /// 1 on create, bumped when anything but metadata and status changes.
    Spec,
    /// As `Spec`, and bumped when the annotations change too (Deployments: annotations are
    /// copied to their ReplicaSets).
    SpecAndAnnotations,
}

/// A built-in kind.
pub struct Kind {
    /// `apps/v1`.
    pub api_version: &'static str,
    /// `Deployment`.
    pub kind: &'static str,
    /// Registers the kind's definitions (and those it refers to) with a generator and returns
    /// its definition's name (`io.k8s.api.apps.v1.Deployment`).
    register: fn(&mut schemars::SchemaGenerator) -> String,
    /// `metadata.generation`.
    pub generation: Generation,
    /// What the defaulting functions do beyond the schema's defaults (those that depend on
    /// other fields), run on every write.
    default: fn(&mut Value),
    /// What `PrepareForCreate` does: the status a new object starts with.
    on_create: fn(&mut Value),
    /// The kind's own validation (`ValidateDeployment`), beyond the schema.
    validate: fn(&Value, Option<&Value>) -> Vec<FieldError>,
    /// The columns `kubectl get` prints; `None`: Name and Age.
    pub columns: Option<&'static Columns>,
}

fn register<T: schemars::JsonSchema>(generator: &mut schemars::SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

fn nothing_to_do(_: &mut Value) {}

fn nothing_to_check(_: &Value, _: Option<&Value>) -> Vec<FieldError> {
    Vec::new()
}

impl Kind {
    /// The k8s-openapi type `T`, with its schema and nothing more.
    const fn of<T: k8s_openapi::Resource + schemars::JsonSchema>() -> Kind {
        Kind {
            api_version: T::API_VERSION,
            kind: T::KIND,
            register: register::<T>,
            generation: Generation::Untracked,
            default: nothing_to_do,
            on_create: nothing_to_do,
            validate: nothing_to_check,
            columns: None,
        }
    }

    const fn generation(mut self, generation: Generation) -> Kind {
        self.generation = generation;
        self
    }

    const fn defaulted_by(mut self, default: fn(&mut Value)) -> Kind {
        self.default = default;
        self
    }

    const fn created_by(mut self, on_create: fn(&mut Value)) -> Kind {
        self.on_create = on_create;
        self
    }

    const fn validated_by(
        mut self,
        validate: fn(&Value, Option<&Value>) -> Vec<FieldError>,
    ) -> Kind {
        self.validate = validate;
        self
    }

    const fn printed_as(mut self, columns: &'static Columns) -> Kind {
        self.columns = Some(columns);
        self
    }

    /// Checks that `object` decodes as the kind (every value of its field's type), as the
    /// apiserver's decoder does before anything else: the error is Go's, e.g. `json: cannot
    /// unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`.
    pub fn decode_error(&self, object: &Value) -> Option<String> {
        catalog().decode_error(self, object)
    }

    /// Defaults that depend on other fields (the schema's own defaults are applied with
    /// pruning).
    pub fn default(&self, object: &mut Value) {
        (self.default)(object)
    }

    /// What a create starts with (the status `PrepareForCreate` resets).
    pub fn on_create(&self, object: &mut Value) {
        (self.on_create)(object)
    }

    /// Drops the empty maps and lists kube-apiserver would not write back.
    pub fn omit_empty(&self, object: &mut Value) {
        catalog().omit_empty(self.api_version, self.kind, object)
    }

    /// Applies a strategic merge patch to an object of the kind.
    pub fn strategic_merge(&self, object: &mut Value, patch: &Value) {
        let catalog = catalog();
        match catalog.definition_of(self.api_version, self.kind) {
            Some(definition) => strategic_merge::apply(catalog, definition, object, patch),
            None => crate::store::merge_patch(object, patch),
        }
    }

    /// The kind's own validation.
    pub fn validate(&self, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
        (self.validate)(object, old)
    }
}

/// The built-in kinds that have a schema here. Discovery (plural, scope, short names) is the
/// store's; this is what a kind's schema and registry strategy say.
static KINDS: &[Kind] = &[
    Kind::of::<core::Namespace>().printed_as(&printers::NAMESPACE),
    Kind::of::<core::Secret>().printed_as(&printers::SECRET),
    Kind::of::<core::ConfigMap>().printed_as(&printers::CONFIG_MAP),
    Kind::of::<core::ServiceAccount>(),
    Kind::of::<core::Event>(),
    Kind::of::<core::ResourceQuota>(),
    Kind::of::<core::LimitRange>(),
    Kind::of::<core::Service>()
        .defaulted_by(defaults::service)
        .created_by(defaults::new_service)
        .validated_by(validation::service)
        .printed_as(&printers::SERVICE),
    Kind::of::<core::Pod>()
        .defaulted_by(defaults::pod)
        .created_by(defaults::new_pod)
        .validated_by(validation::pod)
        .printed_as(&printers::POD),
    Kind::of::<events::Event>(),
    Kind::of::<coordination::Lease>(),
    Kind::of::<apiextensions::CustomResourceDefinition>().generation(Generation::Spec),
    Kind::of::<apps::Deployment>()
        .generation(Generation::SpecAndAnnotations)
        .defaulted_by(defaults::deployment)
        .created_by(defaults::new_deployment)
        .validated_by(validation::deployment)
        .printed_as(&printers::DEPLOYMENT),
    Kind::of::<policy::PodDisruptionBudget>()
        .generation(Generation::Spec)
        .created_by(defaults::new_pod_disruption_budget)
        .validated_by(validation::pod_disruption_budget)
        .printed_as(&printers::POD_DISRUPTION_BUDGET),
    Kind::of::<networking::NetworkPolicy>()
        .generation(Generation::Spec)
        .defaulted_by(defaults::network_policy)
        .validated_by(validation::network_policy)
        .printed_as(&printers::NETWORK_POLICY),
    Kind::of::<rbac::Role>(),
    Kind::of::<rbac::ClusterRole>(),
    Kind::of::<rbac::RoleBinding>(),
    Kind::of::<rbac::ClusterRoleBinding>(),
];

/// Kinds that are never stored but are published (and decoded) all the same: a
/// subresource's body.
static SUBRESOURCE_KINDS: &[Kind] = &[
    Kind::of::<autoscaling::Scale>(),
    Kind::of::<authentication::TokenRequest>(),
];

/// The built-in kind `api_version`/`kind`, if it has a schema here.
pub fn kind(api_version: &str, kind: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .chain(SUBRESOURCE_KINDS)
        .find(|k| k.api_version == api_version && k.kind == kind)
}

fn all() -> impl Iterator<Item = &'static Kind> {
    KINDS.iter().chain(SUBRESOURCE_KINDS)
}
