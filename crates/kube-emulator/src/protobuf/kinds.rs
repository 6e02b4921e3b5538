//! The built-in kinds this server writes in protobuf: their fields (for [`Wire`]) and, in
//! [`codec`], which k8s-openapi type and k8s-pb list message serve each `apiVersion`/`kind`.

use k8s_openapi::api::authentication::v1 as authn;
use k8s_openapi::api::authorization::v1 as authz;
use k8s_openapi::api::coordination::v1 as coordination;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::api::rbac::v1 as rbac;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as crd;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::api::authentication::v1 as authn_pb;
use k8s_pb::api::authorization::v1 as authz_pb;
use k8s_pb::api::coordination::v1 as coordination_pb;
use k8s_pb::api::core::v1 as core_pb;
use k8s_pb::api::events::v1 as events_pb;
use k8s_pb::api::rbac::v1 as rbac_pb;
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as crd_pb;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_pb;

use std::collections::BTreeMap;

use super::Codec;
use super::wire::{Field, Wire, wire};

/// The codec for `apiVersion`/`kind`, if the kind has a protobuf form here.
pub(super) fn codec(api_version: &str, kind: &str) -> Option<Codec> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => Codec::listable::<core::Namespace, core_pb::NamespaceList>(),
        ("v1", "Secret") => Codec::listable::<core::Secret, core_pb::SecretList>(),
        ("v1", "ConfigMap") => Codec::listable::<core::ConfigMap, core_pb::ConfigMapList>(),
        ("v1", "ServiceAccount") => {
            Codec::listable::<core::ServiceAccount, core_pb::ServiceAccountList>()
        }
        ("v1", "Event") => Codec::listable::<core::Event, core_pb::EventList>(),
        ("v1", "ResourceQuota") => {
            Codec::listable::<core::ResourceQuota, core_pb::ResourceQuotaList>()
        }
        ("v1", "LimitRange") => Codec::listable::<core::LimitRange, core_pb::LimitRangeList>(),
        ("events.k8s.io/v1", "Event") => Codec::listable::<events::Event, events_pb::EventList>(),
        ("coordination.k8s.io/v1", "Lease") => {
            Codec::listable::<coordination::Lease, coordination_pb::LeaseList>()
        }
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            Codec::listable::<crd::CustomResourceDefinition, crd_pb::CustomResourceDefinitionList>()
        }
        ("authentication.k8s.io/v1", "TokenRequest") => Codec::object::<authn::TokenRequest>(),
        ("authentication.k8s.io/v1", "TokenReview") => Codec::object::<authn::TokenReview>(),
        ("authentication.k8s.io/v1", "SelfSubjectReview") => {
            Codec::object::<authn::SelfSubjectReview>()
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            Codec::object::<authz::SelfSubjectAccessReview>()
        }
        ("authorization.k8s.io/v1", "SubjectAccessReview") => {
            Codec::object::<authz::SubjectAccessReview>()
        }
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview") => {
            Codec::object::<authz::LocalSubjectAccessReview>()
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            Codec::object::<authz::SelfSubjectRulesReview>()
        }
        ("rbac.authorization.k8s.io/v1", "Role") => {
            Codec::listable::<rbac::Role, rbac_pb::RoleList>()
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            Codec::listable::<rbac::ClusterRole, rbac_pb::ClusterRoleList>()
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
            Codec::listable::<rbac::RoleBinding, rbac_pb::RoleBindingList>()
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            Codec::listable::<rbac::ClusterRoleBinding, rbac_pb::ClusterRoleBindingList>()
        }
        // Status and DeleteOptions belong to every group ("meta.k8s.io/v1" or the group's own).
        (_, "Status") => Codec::object::<meta::Status>(),
        (_, "DeleteOptions") => Codec::object::<meta::DeleteOptions>(),
        _ => return None,
    })
}

/// A k8s-pb list message: its ListMeta and items.
pub(super) trait PbList: prost::Message + Sized {
    /// The item message.
    type Item;
    /// The list.
    fn assemble(metadata: meta_pb::ListMeta, items: Vec<Self::Item>) -> Self;
}

macro_rules! pb_list {
    ($($list:path => $item:path),* $(,)?) => {$(
        impl PbList for $list {
            type Item = $item;
            fn assemble(metadata: meta_pb::ListMeta, items: Vec<$item>) -> Self {
                Self { metadata: Some(metadata), items }
            }
        }
    )*};
}

pb_list!(
    core_pb::NamespaceList => core_pb::Namespace,
    core_pb::SecretList => core_pb::Secret,
    core_pb::ConfigMapList => core_pb::ConfigMap,
    core_pb::ServiceAccountList => core_pb::ServiceAccount,
    core_pb::EventList => core_pb::Event,
    core_pb::ResourceQuotaList => core_pb::ResourceQuota,
    core_pb::LimitRangeList => core_pb::LimitRange,
    events_pb::EventList => events_pb::Event,
    coordination_pb::LeaseList => coordination_pb::Lease,
    crd_pb::CustomResourceDefinitionList => crd_pb::CustomResourceDefinition,
    rbac_pb::RoleList => rbac_pb::Role,
    rbac_pb::ClusterRoleList => rbac_pb::ClusterRole,
    rbac_pb::RoleBindingList => rbac_pb::RoleBinding,
    rbac_pb::ClusterRoleBindingList => rbac_pb::ClusterRoleBinding,
);

wire!(core::Namespace => core_pb::Namespace { metadata, spec, status });
wire!(core::NamespaceSpec => core_pb::NamespaceSpec { finalizers });
wire!(core::NamespaceStatus => core_pb::NamespaceStatus { conditions, phase });
wire!(core::NamespaceCondition => core_pb::NamespaceCondition {
    last_transition_time, message, reason, status, type_ => r#type
});
wire!(core::Secret => core_pb::Secret { data, immutable, metadata, string_data, type_ => r#type });
wire!(core::ConfigMap => core_pb::ConfigMap { binary_data, data, immutable, metadata });
wire!(core::ServiceAccount => core_pb::ServiceAccount {
    automount_service_account_token, image_pull_secrets, metadata, secrets
});
wire!(core::ObjectReference => core_pb::ObjectReference {
    api_version, field_path, kind, name, namespace, resource_version, uid
});
wire!(core::LocalObjectReference => core_pb::LocalObjectReference { name });
wire!(core::Event => core_pb::Event {
    action, count, event_time, first_timestamp, involved_object, last_timestamp, message,
    metadata, reason, related, reporting_component, reporting_instance, series, source,
    type_ => r#type
});
wire!(core::EventSource => core_pb::EventSource { component, host });
wire!(core::EventSeries => core_pb::EventSeries { count, last_observed_time });
wire!(core::ResourceQuota => core_pb::ResourceQuota { metadata, spec, status });
wire!(core::ResourceQuotaSpec => core_pb::ResourceQuotaSpec { hard, scope_selector, scopes });
wire!(core::ResourceQuotaStatus => core_pb::ResourceQuotaStatus { hard, used });
wire!(core::ScopeSelector => core_pb::ScopeSelector { match_expressions });
wire!(core::ScopedResourceSelectorRequirement => core_pb::ScopedResourceSelectorRequirement {
    operator, scope_name, values
});
wire!(core::LimitRange => core_pb::LimitRange { metadata, spec });
wire!(core::LimitRangeSpec => core_pb::LimitRangeSpec { limits });
wire!(core::LimitRangeItem => core_pb::LimitRangeItem {
    default, default_request, max, max_limit_request_ratio, min, type_ => r#type
});

wire!(authn::TokenRequest => authn_pb::TokenRequest { metadata, spec, status });
wire!(authn::TokenRequestSpec => authn_pb::TokenRequestSpec {
    audiences, bound_object_ref, expiration_seconds
});
wire!(authn::TokenRequestStatus => authn_pb::TokenRequestStatus { expiration_timestamp, token });
wire!(authn::BoundObjectReference => authn_pb::BoundObjectReference {
    api_version, kind, name, uid => u_id
});

wire!(events::Event => events_pb::Event {
    action, deprecated_count, deprecated_first_timestamp, deprecated_last_timestamp,
    deprecated_source, event_time, metadata, note, reason, regarding, related,
    reporting_controller, reporting_instance, series, type_ => r#type
});
wire!(events::EventSeries => events_pb::EventSeries { count, last_observed_time });

wire!(coordination::Lease => coordination_pb::Lease { metadata, spec });
wire!(coordination::LeaseSpec => coordination_pb::LeaseSpec {
    acquire_time, holder_identity, lease_duration_seconds, lease_transitions,
    preferred_holder, renew_time, strategy
});

wire!(rbac::Role => rbac_pb::Role { metadata, rules });
wire!(rbac::ClusterRole => rbac_pb::ClusterRole { aggregation_rule, metadata, rules });
wire!(rbac::RoleBinding => rbac_pb::RoleBinding { metadata, role_ref, subjects });
wire!(rbac::ClusterRoleBinding => rbac_pb::ClusterRoleBinding { metadata, role_ref, subjects });
wire!(rbac::PolicyRule => rbac_pb::PolicyRule {
    api_groups, non_resource_urls => non_resource_ur_ls, resource_names, resources, verbs
});
wire!(rbac::AggregationRule => rbac_pb::AggregationRule { cluster_role_selectors });
wire!(rbac::Subject => rbac_pb::Subject { api_group, kind, name, namespace });
wire!(rbac::RoleRef => rbac_pb::RoleRef { api_group, kind, name });
wire!(meta::LabelSelector => meta_pb::LabelSelector { match_expressions, match_labels });
wire!(meta::LabelSelectorRequirement => meta_pb::LabelSelectorRequirement { key, operator, values });
wire!(meta::FieldSelectorRequirement => meta_pb::FieldSelectorRequirement { key, operator, values });

wire!(authz::SelfSubjectAccessReview => authz_pb::SelfSubjectAccessReview { metadata, spec, status });
wire!(authz::SelfSubjectAccessReviewSpec => authz_pb::SelfSubjectAccessReviewSpec {
    non_resource_attributes, resource_attributes
});
wire!(authz::SubjectAccessReview => authz_pb::SubjectAccessReview { metadata, spec, status });
wire!(authz::LocalSubjectAccessReview => authz_pb::LocalSubjectAccessReview { metadata, spec, status });
wire!(authz::SubjectAccessReviewStatus => authz_pb::SubjectAccessReviewStatus {
    allowed, denied, evaluation_error, reason
});
wire!(authz::ResourceAttributes => authz_pb::ResourceAttributes {
    field_selector, group, label_selector, name, namespace, resource, subresource, verb, version
});
wire!(authz::FieldSelectorAttributes => authz_pb::FieldSelectorAttributes { raw_selector, requirements });
wire!(authz::LabelSelectorAttributes => authz_pb::LabelSelectorAttributes { raw_selector, requirements });
wire!(authz::NonResourceAttributes => authz_pb::NonResourceAttributes { path, verb });
wire!(authz::SelfSubjectRulesReview => authz_pb::SelfSubjectRulesReview { metadata, spec, status });
wire!(authz::SelfSubjectRulesReviewSpec => authz_pb::SelfSubjectRulesReviewSpec { namespace });
wire!(authz::SubjectRulesReviewStatus => authz_pb::SubjectRulesReviewStatus {
    evaluation_error, incomplete, non_resource_rules, resource_rules
});
wire!(authz::ResourceRule => authz_pb::ResourceRule { api_groups, resource_names, resources, verbs });
wire!(authz::NonResourceRule => authz_pb::NonResourceRule {
    non_resource_urls => non_resource_ur_ls, verbs
});

wire!(authn::SelfSubjectReview => authn_pb::SelfSubjectReview { metadata, status });
wire!(authn::SelfSubjectReviewStatus => authn_pb::SelfSubjectReviewStatus { user_info });
wire!(authn::TokenReview => authn_pb::TokenReview { metadata, spec, status });
wire!(authn::TokenReviewSpec => authn_pb::TokenReviewSpec { audiences, token });
wire!(authn::TokenReviewStatus => authn_pb::TokenReviewStatus { audiences, authenticated, error, user });

/// `extra`: a map of string lists in JSON, of `ExtraValue { items }` messages in protobuf
/// (one message type per group).
trait ExtraValue {
    fn of(items: Vec<String>) -> Self;
    fn items(self) -> Vec<String>;
}

impl ExtraValue for authn_pb::ExtraValue {
    fn of(items: Vec<String>) -> Self {
        Self { items }
    }
    fn items(self) -> Vec<String> {
        self.items
    }
}

impl ExtraValue for authz_pb::ExtraValue {
    fn of(items: Vec<String>) -> Self {
        Self { items }
    }
    fn items(self) -> Vec<String> {
        self.items
    }
}

fn extra_to_pb<E: ExtraValue>(extra: Option<BTreeMap<String, Vec<String>>>) -> BTreeMap<String, E> {
    extra
        .unwrap_or_default()
        .into_iter()
        .map(|(k, items)| (k, E::of(items)))
        .collect()
}

fn extra_from_pb<E: ExtraValue>(
    extra: BTreeMap<String, E>,
) -> Option<BTreeMap<String, Vec<String>>> {
    (!extra.is_empty()).then(|| extra.into_iter().map(|(k, v)| (k, v.items())).collect())
}

impl Wire for authn::UserInfo {
    type Pb = authn_pb::UserInfo;
    fn into_pb(self) -> Self::Pb {
        authn_pb::UserInfo {
            extra: extra_to_pb(self.extra),
            groups: Field::into_pb_field(self.groups),
            uid: Field::into_pb_field(self.uid),
            username: Field::into_pb_field(self.username),
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        authn::UserInfo {
            extra: extra_from_pb(pb.extra),
            groups: Field::from_pb_field(pb.groups),
            uid: Field::from_pb_field(pb.uid),
            username: Field::from_pb_field(pb.username),
        }
    }
}

impl Wire for authz::SubjectAccessReviewSpec {
    type Pb = authz_pb::SubjectAccessReviewSpec;
    fn into_pb(self) -> Self::Pb {
        authz_pb::SubjectAccessReviewSpec {
            extra: extra_to_pb(self.extra),
            groups: Field::into_pb_field(self.groups),
            non_resource_attributes: Field::into_pb_field(self.non_resource_attributes),
            resource_attributes: Field::into_pb_field(self.resource_attributes),
            uid: Field::into_pb_field(self.uid),
            user: Field::into_pb_field(self.user),
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        authz::SubjectAccessReviewSpec {
            extra: extra_from_pb(pb.extra),
            groups: Field::from_pb_field(pb.groups),
            non_resource_attributes: Field::from_pb_field(pb.non_resource_attributes),
            resource_attributes: Field::from_pb_field(pb.resource_attributes),
            uid: Field::from_pb_field(pb.uid),
            user: Field::from_pb_field(pb.user),
        }
    }
}
