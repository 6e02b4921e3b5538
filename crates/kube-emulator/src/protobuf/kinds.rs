//! The built-in kinds this server writes in protobuf: their fields (for [`Wire`]) and, in
//! [`codec`], which k8s-openapi type and k8s-pb list message serve each `apiVersion`/`kind`.

use k8s_openapi::api::authentication::v1 as authn;
use k8s_openapi::api::coordination::v1 as coordination;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as crd;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::api::authentication::v1 as authn_pb;
use k8s_pb::api::coordination::v1 as coordination_pb;
use k8s_pb::api::core::v1 as core_pb;
use k8s_pb::api::events::v1 as events_pb;
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as crd_pb;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_pb;

use super::Codec;
use super::wire::wire;

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
