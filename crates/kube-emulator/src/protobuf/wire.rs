//! Conversions between k8s-openapi's types (the JSON side: serde) and k8s-pb's generated
//! messages (the protobuf side: prost) for the same Kubernetes type.
//!
//! Both crates are generated from the same Go types, so a struct's fields have the same names
//! on both sides (but for a few spelled differently, which [`wire!`] renames). What differs is
//! the shape: proto2 makes every scalar and message field optional, and repeated and map fields
//! are never absent, where k8s-openapi has required fields and optional lists. [`Field`] bridges
//! the shapes; [`Wire`] converts the values.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as crd;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as crd_pb;
use k8s_pb::apimachinery::pkg::api::resource as resource_pb;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_pb;
use k8s_pb::apimachinery::pkg::util::intstr as intstr_pb;
use serde_json::Value;

/// A k8s-openapi type and the k8s-pb message (or scalar) it is written as.
pub trait Wire: Sized {
    /// The protobuf side.
    type Pb;
    /// To the protobuf side.
    fn into_pb(self) -> Self::Pb;
    /// From the protobuf side.
    fn from_pb(pb: Self::Pb) -> Self;
    /// An optional field from the protobuf side.
    fn from_pb_optional(pb: Option<Self::Pb>) -> Option<Self> {
        pb.map(Self::from_pb)
    }
}

/// A field of a k8s-openapi struct as the same field of the k8s-pb message, `P`.
pub trait Field<P>: Sized {
    /// To the protobuf field.
    fn into_pb_field(self) -> P;
    /// From the protobuf field.
    fn from_pb_field(pb: P) -> Self;
}

/// An optional field.
impl<T: Wire> Field<Option<T::Pb>> for Option<T> {
    fn into_pb_field(self) -> Option<T::Pb> {
        self.map(Wire::into_pb)
    }
    fn from_pb_field(pb: Option<T::Pb>) -> Self {
        T::from_pb_optional(pb)
    }
}

/// A required field: absent on the wire, it is the protobuf zero value, as in Go.
impl<T: Wire> Field<Option<T::Pb>> for T
where
    T::Pb: Default,
{
    fn into_pb_field(self) -> Option<T::Pb> {
        Some(self.into_pb())
    }
    fn from_pb_field(pb: Option<T::Pb>) -> Self {
        T::from_pb(pb.unwrap_or_default())
    }
}

/// An optional list: an empty repeated field reads back as absent (Go's `omitempty`).
impl<T: Wire> Field<Vec<T::Pb>> for Option<Vec<T>> {
    fn into_pb_field(self) -> Vec<T::Pb> {
        self.into_iter().flatten().map(Wire::into_pb).collect()
    }
    fn from_pb_field(pb: Vec<T::Pb>) -> Self {
        (!pb.is_empty()).then(|| pb.into_iter().map(T::from_pb).collect())
    }
}

/// A required list.
impl<T: Wire> Field<Vec<T::Pb>> for Vec<T> {
    fn into_pb_field(self) -> Vec<T::Pb> {
        self.into_iter().map(Wire::into_pb).collect()
    }
    fn from_pb_field(pb: Vec<T::Pb>) -> Self {
        pb.into_iter().map(T::from_pb).collect()
    }
}

/// An optional map: an empty map field reads back as absent.
impl<T: Wire> Field<BTreeMap<String, T::Pb>> for Option<BTreeMap<String, T>> {
    fn into_pb_field(self) -> BTreeMap<String, T::Pb> {
        self.into_iter()
            .flatten()
            .map(|(k, v)| (k, v.into_pb()))
            .collect()
    }
    fn from_pb_field(pb: BTreeMap<String, T::Pb>) -> Self {
        (!pb.is_empty()).then(|| pb.into_iter().map(|(k, v)| (k, T::from_pb(v))).collect())
    }
}

/// Types written as themselves.
macro_rules! same {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            type Pb = $t;
            fn into_pb(self) -> $t {
                self
            }
            fn from_pb(pb: $t) -> Self {
                pb
            }
        }
    )*};
}
same!(bool, i32, i64, f64);

impl Wire for String {
    type Pb = String;
    fn into_pb(self) -> String {
        self
    }
    fn from_pb(pb: String) -> Self {
        pb
    }
    /// Go writes a string field that is not a pointer even when it is empty, and its JSON
    /// leaves it out (`omitempty`): an empty optional string reads back as absent, so that
    /// `kubectl create secret` does not store `generateName: ""` or `type: ""`.
    fn from_pb_optional(pb: Option<String>) -> Option<Self> {
        pb.filter(|s| !s.is_empty())
    }
}

impl<T: Wire> Wire for Box<T> {
    type Pb = Box<T::Pb>;
    fn into_pb(self) -> Self::Pb {
        Box::new((*self).into_pb())
    }
    fn from_pb(pb: Self::Pb) -> Self {
        Box::new(T::from_pb(*pb))
    }
}

impl Wire for ByteString {
    type Pb = Vec<u8>;
    fn into_pb(self) -> Vec<u8> {
        self.0
    }
    fn from_pb(pb: Vec<u8>) -> Self {
        ByteString(pb)
    }
}

/// Seconds and nanoseconds since the epoch; out of range (never written by Kubernetes) is the
/// epoch.
fn timestamp(seconds: Option<i64>, nanos: Option<i32>) -> jiff::Timestamp {
    jiff::Timestamp::new(seconds.unwrap_or_default(), nanos.unwrap_or_default()).unwrap_or_default()
}

impl Wire for meta::Time {
    type Pb = meta_pb::Time;
    fn into_pb(self) -> Self::Pb {
        meta_pb::Time {
            seconds: Some(self.0.as_second()),
            nanos: Some(self.0.subsec_nanosecond()),
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        meta::Time(timestamp(pb.seconds, pb.nanos))
    }
    /// Go writes an unset (zero) Time as an empty message, which its JSON writes as `null`:
    /// it reads back as absent (a pod template's `creationTimestamp`), not as the epoch.
    fn from_pb_optional(pb: Option<Self::Pb>) -> Option<Self> {
        pb.filter(|t| t.seconds.is_some() || t.nanos.is_some())
            .map(Self::from_pb)
    }
}

impl Wire for meta::MicroTime {
    type Pb = meta_pb::MicroTime;
    fn into_pb(self) -> Self::Pb {
        meta_pb::MicroTime {
            seconds: Some(self.0.as_second()),
            nanos: Some(self.0.subsec_nanosecond()),
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        meta::MicroTime(timestamp(pb.seconds, pb.nanos))
    }
}

impl Wire for Quantity {
    type Pb = resource_pb::Quantity;
    fn into_pb(self) -> Self::Pb {
        resource_pb::Quantity {
            string: Some(self.0),
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        Quantity(pb.string.unwrap_or_default())
    }
}

impl Wire for IntOrString {
    type Pb = intstr_pb::IntOrString;
    fn into_pb(self) -> Self::Pb {
        match self {
            IntOrString::Int(i) => intstr_pb::IntOrString {
                r#type: Some(0),
                int_val: Some(i),
                str_val: None,
            },
            IntOrString::String(s) => intstr_pb::IntOrString {
                r#type: Some(1),
                int_val: None,
                str_val: Some(s),
            },
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        match pb.r#type {
            Some(1) => IntOrString::String(pb.str_val.unwrap_or_default()),
            _ => IntOrString::Int(pb.int_val.unwrap_or_default()),
        }
    }
}

/// A free-form JSON value, carried in protobuf as its JSON text (`raw`).
fn json_raw(value: &Value) -> Option<Vec<u8>> {
    serde_json::to_vec(value).ok()
}

/// JSON text from the wire; bytes that are not JSON read as null.
fn json_value(raw: Option<Vec<u8>>) -> Value {
    raw.and_then(|r| serde_json::from_slice(&r).ok())
        .unwrap_or(Value::Null)
}

impl Wire for meta::FieldsV1 {
    type Pb = meta_pb::FieldsV1;
    fn into_pb(self) -> Self::Pb {
        meta_pb::FieldsV1 {
            raw: json_raw(&self.0),
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        meta::FieldsV1(json_value(pb.raw))
    }
}

impl Wire for crd::JSON {
    type Pb = crd_pb::Json;
    fn into_pb(self) -> Self::Pb {
        crd_pb::Json {
            raw: json_raw(&self.0),
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        crd::JSON(json_value(pb.raw))
    }
}

/// `items`: one schema, or (rarely) a schema per position.
impl Wire for crd::JSONSchemaPropsOrArray {
    type Pb = Box<crd_pb::JsonSchemaPropsOrArray>;
    fn into_pb(self) -> Self::Pb {
        Box::new(match self {
            crd::JSONSchemaPropsOrArray::Schema(s) => crd_pb::JsonSchemaPropsOrArray {
                schema: Some(s.into_pb()),
                j_son_schemas: Vec::new(),
            },
            crd::JSONSchemaPropsOrArray::Schemas(all) => crd_pb::JsonSchemaPropsOrArray {
                schema: None,
                j_son_schemas: all.into_iter().map(Wire::into_pb).collect(),
            },
        })
    }
    fn from_pb(pb: Self::Pb) -> Self {
        match (pb.schema, pb.j_son_schemas) {
            (_, all) if !all.is_empty() => {
                crd::JSONSchemaPropsOrArray::Schemas(all.into_iter().map(Wire::from_pb).collect())
            }
            (schema, _) => {
                crd::JSONSchemaPropsOrArray::Schema(Box::from_pb(schema.unwrap_or_default()))
            }
        }
    }
}

/// `additionalProperties` and `additionalItems`: a schema, or a boolean.
impl Wire for crd::JSONSchemaPropsOrBool {
    type Pb = Box<crd_pb::JsonSchemaPropsOrBool>;
    fn into_pb(self) -> Self::Pb {
        Box::new(match self {
            crd::JSONSchemaPropsOrBool::Schema(s) => crd_pb::JsonSchemaPropsOrBool {
                allows: Some(true),
                schema: Some(s.into_pb()),
            },
            crd::JSONSchemaPropsOrBool::Bool(b) => crd_pb::JsonSchemaPropsOrBool {
                allows: Some(b),
                schema: None,
            },
        })
    }
    fn from_pb(pb: Self::Pb) -> Self {
        match pb.schema {
            Some(s) => crd::JSONSchemaPropsOrBool::Schema(Box::from_pb(s)),
            None => crd::JSONSchemaPropsOrBool::Bool(pb.allows.unwrap_or_default()),
        }
    }
}

/// `dependencies`: a schema, or the names of required properties.
impl Wire for crd::JSONSchemaPropsOrStringArray {
    type Pb = crd_pb::JsonSchemaPropsOrStringArray;
    fn into_pb(self) -> Self::Pb {
        match self {
            crd::JSONSchemaPropsOrStringArray::Schema(s) => crd_pb::JsonSchemaPropsOrStringArray {
                schema: Some((*s).into_pb()),
                property: Vec::new(),
            },
            crd::JSONSchemaPropsOrStringArray::Strings(property) => {
                crd_pb::JsonSchemaPropsOrStringArray {
                    schema: None,
                    property,
                }
            }
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        match pb.schema {
            Some(s) => crd::JSONSchemaPropsOrStringArray::Schema(Box::new(Wire::from_pb(s))),
            None => crd::JSONSchemaPropsOrStringArray::Strings(pb.property),
        }
    }
}

/// [`Wire`] for a struct, field by field: `openapi::Type => pb::Type { field, other => pb_name }`.
/// Every field of the k8s-openapi struct is listed; a trailing `..` says the message has fields
/// k8s-openapi does not know (a newer Kubernetes), left at their defaults.
macro_rules! wire {
    ($oa:path => $pb:path { $($fields:tt)* }) => {
        $crate::protobuf::wire::wire!(@munch $oa => $pb; []; $($fields)*);
    };
    (@munch $oa:path => $pb:path; [$($done:tt)*]; $f:ident => $p:ident $(, $($rest:tt)*)?) => {
        $crate::protobuf::wire::wire!(@munch $oa => $pb; [$($done)* ($f $p)]; $($($rest)*)?);
    };
    (@munch $oa:path => $pb:path; [$($done:tt)*]; $f:ident $(, $($rest:tt)*)?) => {
        $crate::protobuf::wire::wire!(@munch $oa => $pb; [$($done)* ($f $f)]; $($($rest)*)?);
    };
    (@munch $oa:path => $pb:path; [$(($f:ident $p:ident))*]; ..) => {
        $crate::protobuf::wire::wire!(@emit $oa => $pb; [$(($f $p))*]; ..Default::default());
    };
    (@munch $oa:path => $pb:path; [$(($f:ident $p:ident))*]; ) => {
        $crate::protobuf::wire::wire!(@emit $oa => $pb; [$(($f $p))*]; );
    };
    (@emit $oa:path => $pb:path; [$(($f:ident $p:ident))*]; $($rest:tt)*) => {
        impl $crate::protobuf::wire::Wire for $oa {
            type Pb = $pb;
            fn into_pb(self) -> Self::Pb {
                // A path fragment cannot name a struct expression's type; an alias can.
                type Message = $pb;
                #[allow(clippy::needless_update)]
                let pb = Message {
                    $($p: $crate::protobuf::wire::Field::into_pb_field(self.$f),)*
                    $($rest)*
                };
                pb
            }
            fn from_pb(pb: Self::Pb) -> Self {
                Self {
                    $($f: $crate::protobuf::wire::Field::from_pb_field(pb.$p),)*
                }
            }
        }
    };
}
pub(crate) use wire;

/// [`Wire`] for a struct whose Go type embeds another (a Volume embeds its VolumeSource, a
/// Probe its ProbeHandler, a key selector its LocalObjectReference): k8s-openapi flattens the
/// embedded fields into the struct, k8s-pb keeps them in a message of their own.
/// `openapi::Type => pb::Type { own, fields; embedded: pb::Embedded { its, fields } }`.
macro_rules! wire_embedding {
    ($oa:path => $pb:path { $($f:ident),* ; $e:ident : $epb:path { $($g:ident),* $(,)? } }) => {
        impl $crate::protobuf::wire::Wire for $oa {
            type Pb = $pb;
            fn into_pb(self) -> Self::Pb {
                use $crate::protobuf::wire::Field;
                type Message = $pb;
                type Embedded = $epb;
                // Fields of a newer Kubernetes than k8s-openapi's are left at their defaults.
                #[allow(clippy::needless_update)]
                let pb = Message {
                    $($f: Field::into_pb_field(self.$f),)*
                    $e: Some(Embedded {
                        $($g: Field::into_pb_field(self.$g),)*
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                pb
            }
            fn from_pb(pb: Self::Pb) -> Self {
                use $crate::protobuf::wire::Field;
                let embedded = pb.$e.unwrap_or_default();
                Self {
                    $($f: Field::from_pb_field(pb.$f),)*
                    $($g: Field::from_pb_field(embedded.$g),)*
                }
            }
        }
    };
}
pub(crate) use wire_embedding;

wire!(meta::ObjectMeta => meta_pb::ObjectMeta {
    annotations, creation_timestamp, deletion_grace_period_seconds, deletion_timestamp,
    finalizers, generate_name, generation, labels, managed_fields, name, namespace,
    owner_references, resource_version, self_link, uid
});
wire!(meta::ListMeta => meta_pb::ListMeta {
    continue_ => r#continue, remaining_item_count, resource_version, self_link
});
wire!(meta::OwnerReference => meta_pb::OwnerReference {
    api_version, block_owner_deletion, controller, kind, name, uid
});
wire!(meta::ManagedFieldsEntry => meta_pb::ManagedFieldsEntry {
    api_version, fields_type, fields_v1, manager, operation, subresource, time
});
wire!(meta::Status => meta_pb::Status { code, details, message, metadata, reason, status });
wire!(meta::StatusDetails => meta_pb::StatusDetails {
    causes, group, kind, name, retry_after_seconds, uid
});
wire!(meta::StatusCause => meta_pb::StatusCause { field, message, reason });
wire!(meta::Preconditions => meta_pb::Preconditions { resource_version, uid });

/// DeleteOptions carries its own (optional) apiVersion and kind in JSON; in protobuf those are
/// the envelope's.
impl Wire for meta::DeleteOptions {
    type Pb = meta_pb::DeleteOptions;
    fn into_pb(self) -> Self::Pb {
        meta_pb::DeleteOptions {
            dry_run: Field::into_pb_field(self.dry_run),
            grace_period_seconds: self.grace_period_seconds,
            ignore_store_read_error_with_cluster_breaking_potential: self
                .ignore_store_read_error_with_cluster_breaking_potential,
            orphan_dependents: self.orphan_dependents,
            preconditions: Field::into_pb_field(self.preconditions),
            propagation_policy: self.propagation_policy,
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        meta::DeleteOptions {
            api_version: Some("v1".into()),
            kind: Some("DeleteOptions".into()),
            dry_run: Field::from_pb_field(pb.dry_run),
            grace_period_seconds: pb.grace_period_seconds,
            ignore_store_read_error_with_cluster_breaking_potential: pb
                .ignore_store_read_error_with_cluster_breaking_potential,
            orphan_dependents: pb.orphan_dependents,
            preconditions: Field::from_pb_field(pb.preconditions),
            propagation_policy: pb.propagation_policy,
        }
    }
}

wire!(crd::CustomResourceDefinition => crd_pb::CustomResourceDefinition { metadata, spec, status });
wire!(crd::CustomResourceDefinitionSpec => crd_pb::CustomResourceDefinitionSpec {
    conversion, group, names, preserve_unknown_fields, scope, versions
});
wire!(crd::CustomResourceDefinitionStatus => crd_pb::CustomResourceDefinitionStatus {
    accepted_names, conditions, stored_versions, ..
});
wire!(crd::CustomResourceDefinitionCondition => crd_pb::CustomResourceDefinitionCondition {
    last_transition_time, message, reason, status, type_ => r#type, ..
});
wire!(crd::CustomResourceDefinitionNames => crd_pb::CustomResourceDefinitionNames {
    categories, kind, list_kind, plural, short_names, singular
});
wire!(crd::CustomResourceDefinitionVersion => crd_pb::CustomResourceDefinitionVersion {
    additional_printer_columns, deprecated, deprecation_warning, name, schema,
    selectable_fields, served, storage, subresources
});
wire!(crd::CustomResourceColumnDefinition => crd_pb::CustomResourceColumnDefinition {
    description, format, json_path, name, priority, type_ => r#type
});
wire!(crd::CustomResourceConversion => crd_pb::CustomResourceConversion { strategy, webhook });
wire!(crd::WebhookConversion => crd_pb::WebhookConversion {
    client_config, conversion_review_versions
});
wire!(crd::WebhookClientConfig => crd_pb::WebhookClientConfig { ca_bundle, service, url });
wire!(crd::ServiceReference => crd_pb::ServiceReference { name, namespace, path, port });
wire!(crd::CustomResourceSubresources => crd_pb::CustomResourceSubresources { scale, status });
wire!(crd::CustomResourceSubresourceScale => crd_pb::CustomResourceSubresourceScale {
    label_selector_path, spec_replicas_path, status_replicas_path
});
wire!(crd::CustomResourceValidation => crd_pb::CustomResourceValidation {
    open_api_v3_schema => open_apiv3_schema
});
wire!(crd::SelectableField => crd_pb::SelectableField { json_path });
wire!(crd::ExternalDocumentation => crd_pb::ExternalDocumentation { description, url });
wire!(crd::ValidationRule => crd_pb::ValidationRule {
    field_path, message, message_expression, optional_old_self, reason, rule
});
wire!(crd::JSONSchemaProps => crd_pb::JsonSchemaProps {
    ref_path => r#ref, schema, additional_items, additional_properties, all_of, any_of,
    default, definitions, dependencies, description, enum_ => r#enum, example,
    exclusive_maximum, exclusive_minimum, external_docs, format, id, items, max_items,
    max_length, max_properties, maximum, min_items, min_length, min_properties, minimum,
    multiple_of, not, nullable, one_of, pattern, pattern_properties, properties, required,
    title, type_ => r#type, unique_items, x_kubernetes_embedded_resource,
    x_kubernetes_int_or_string, x_kubernetes_list_map_keys, x_kubernetes_list_type,
    x_kubernetes_map_type, x_kubernetes_preserve_unknown_fields, x_kubernetes_validations
});

/// `subresources.status` is an empty object: present or not.
impl Wire for crd::CustomResourceSubresourceStatus {
    type Pb = crd_pb::CustomResourceSubresourceStatus;
    fn into_pb(self) -> Self::Pb {
        crd_pb::CustomResourceSubresourceStatus {}
    }
    fn from_pb(_: Self::Pb) -> Self {
        crd::CustomResourceSubresourceStatus(Value::Object(Default::default()))
    }
}
