//! Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), which kubectl's typed
//! verbs (`kubectl create namespace|secret|configmap|serviceaccount|token|deployment|service`,
//! `kubectl run`) and client-go send and ask for, for the built-in kinds this server stores.
//! Go's protobuf writes a non-pointer field even when it is zero, where its JSON leaves it out;
//! such zeros are dropped from a request (`builtin`), so the object reads as it would from
//! kube-apiserver.
//!
//! On the wire an object is the 4 bytes `k8s\0` and then a `runtime.Unknown` message: the
//! object's apiVersion and kind (`typeMeta`) and the object's own message (`raw`), which has no
//! apiVersion or kind of its own. A list is the same with the list message. A watch is a stream
//! of frames, each a 4-byte big-endian length and a bare `metav1.WatchEvent` message (no
//! envelope: the "raw" stream serializer), whose `object.raw` is the object enveloped as above.
//!
//! The store keeps JSON, so an object goes JSON → k8s-openapi (serde) → k8s-pb (prost) and
//! back; [`wire`] converts between the two crates' types. Custom resources have no protobuf
//! form, as on a real API server.

mod kinds;
mod wire;

use axum::body::Bytes;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_pb;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use prost::Message;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::ApiError;
use wire::Wire;

/// The protobuf media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The media type of a protobuf watch stream.
pub const WATCH_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// What every protobuf-encoded object starts with.
const MAGIC: &[u8; 4] = b"k8s\0";

/// A ListMeta's JSON and the items' JSON to a list message.
type EncodeList = fn(&Value, Vec<Value>) -> Result<Vec<u8>, String>;

/// How one kind is written and read: fn pointers to the generic conversions for its
/// k8s-openapi type and k8s-pb messages.
#[derive(Clone, Copy)]
struct Codec {
    /// The object's JSON to its message.
    encode: fn(&Value) -> Result<Vec<u8>, String>,
    /// A message to the object's JSON.
    decode: fn(&[u8]) -> Result<Value, String>,
    /// A ListMeta's JSON and items' JSON to the list message; `None` for kinds never listed.
    encode_list: Option<EncodeList>,
}

impl Codec {
    /// A kind that is only ever one object (TokenRequest, Status, DeleteOptions).
    fn object<T>() -> Codec
    where
        T: Wire + Serialize + DeserializeOwned,
        T::Pb: Message + Default,
    {
        Codec {
            encode: encode_message::<T>,
            decode: decode_message::<T>,
            encode_list: None,
        }
    }

    /// A kind that is stored and listed, with `L` its list message.
    fn listable<T, L>() -> Codec
    where
        T: Wire + Serialize + DeserializeOwned,
        T::Pb: Message + Default,
        L: kinds::PbList<Item = T::Pb>,
    {
        Codec {
            encode_list: Some(encode_list_message::<T, L>),
            ..Codec::object::<T>()
        }
    }
}

fn encode_message<T>(object: &Value) -> Result<Vec<u8>, String>
where
    T: Wire + DeserializeOwned,
    T::Pb: Message,
{
    let typed = T::deserialize(object).map_err(|e| e.to_string())?;
    Ok(typed.into_pb().encode_to_vec())
}

fn decode_message<T>(raw: &[u8]) -> Result<Value, String>
where
    T: Wire + Serialize,
    T::Pb: Message + Default,
{
    let message = T::Pb::decode(raw).map_err(|e| e.to_string())?;
    serde_json::to_value(T::from_pb(message)).map_err(|e| e.to_string())
}

fn encode_list_message<T, L>(metadata: &Value, items: Vec<Value>) -> Result<Vec<u8>, String>
where
    T: Wire + DeserializeOwned,
    L: kinds::PbList<Item = T::Pb>,
{
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
    let metadata = ListMeta::deserialize(metadata).map_err(|e| e.to_string())?;
    let items = items
        .iter()
        .map(|item| T::deserialize(item).map(Wire::into_pb))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok(L::assemble(metadata.into_pb(), items).encode_to_vec())
}

/// Whether `apiVersion`/`kind` has a protobuf form here (built-in kinds do; custom resources
/// do not).
pub fn serves(api_version: &str, kind: &str) -> bool {
    kinds::codec(api_version, kind).is_some()
}

/// A request body in protobuf, as the JSON object it encodes (with its apiVersion and kind).
/// A kind without a protobuf form is 415, as kube-apiserver answers for custom resources.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let invalid = |why: String| ApiError::bad_request(format!("invalid protobuf body: {why}"));
    let message = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| invalid("it does not start with the k8s\\0 prefix".into()))?;
    let unknown = Unknown::decode(message).map_err(|e| invalid(e.to_string()))?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    let (api_version, kind) = (
        type_meta.api_version.unwrap_or_default(),
        type_meta.kind.unwrap_or_default(),
    );
    let codec =
        kinds::codec(&api_version, &kind).ok_or_else(|| unsupported(&api_version, &kind))?;
    let mut object = (codec.decode)(unknown.raw.as_deref().unwrap_or_default())
        .map_err(|e| invalid(format!("{kind}: {e}")))?;
    crate::builtin::catalog().omit_zero_values(&api_version, &kind, &mut object);
    // DeleteOptions says which group's it is in the envelope only.
    if let Some(fields) = object.as_object_mut() {
        fields.insert("apiVersion".into(), Value::String(api_version));
        fields.insert("kind".into(), Value::String(kind));
    }
    Ok(object)
}

fn unsupported(api_version: &str, kind: &str) -> ApiError {
    ApiError {
        code: 415,
        reason: "UnsupportedMediaType",
        message: format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/merge-patch+json, application/json-patch+json, application/apply-patch+yaml (no protobuf form for {kind} in {api_version})"
        ),
        details: None,
    }
}

/// An object that cannot be written in protobuf (a stored object k8s-openapi refuses).
fn unencodable(kind: &str, why: &str) -> ApiError {
    ApiError {
        code: 500,
        reason: "InternalError",
        message: format!("encoding {kind} as protobuf: {why}"),
        details: None,
    }
}

/// `k8s\0` and the Unknown envelope around `raw`.
fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.to_string()),
            kind: Some(kind.to_string()),
        }),
        raw: Some(raw),
        // Written empty, as Go's serializer writes them.
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = Vec::with_capacity(MAGIC.len() + unknown.encoded_len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&unknown.encode_to_vec());
    out
}

fn type_of(object: &Value) -> (&str, &str) {
    let field = |k: &str| object.get(k).and_then(Value::as_str).unwrap_or_default();
    (field("apiVersion"), field("kind"))
}

/// An object (which names its apiVersion and kind), enveloped.
pub fn encode(object: &Value) -> Result<Vec<u8>, ApiError> {
    let (api_version, kind) = type_of(object);
    let codec = kinds::codec(api_version, kind)
        .ok_or_else(|| unencodable(kind, "the kind has no protobuf form"))?;
    let raw = (codec.encode)(object).map_err(|e| unencodable(kind, &e))?;
    Ok(envelope(api_version, kind, raw))
}

/// A list of `kind` objects, enveloped as `list_kind`.
pub fn encode_list(
    api_version: &str,
    kind: &str,
    list_kind: &str,
    metadata: &Value,
    items: Vec<Value>,
) -> Result<Vec<u8>, ApiError> {
    let encode_list = kinds::codec(api_version, kind)
        .and_then(|c| c.encode_list)
        .ok_or_else(|| unencodable(list_kind, "the kind has no protobuf form"))?;
    let raw = encode_list(metadata, items).map_err(|e| unencodable(list_kind, &e))?;
    Ok(envelope(api_version, list_kind, raw))
}

/// One frame of a protobuf watch: the length, then the WatchEvent whose object is `object`
/// enveloped.
pub fn watch_frame(type_: &str, object: &Value) -> Result<Bytes, ApiError> {
    let event = meta_pb::WatchEvent {
        r#type: Some(type_.to_string()),
        object: Some(RawExtension {
            raw: Some(encode(object)?),
        }),
    };
    let message = event.encode_to_vec();
    let length = u32::try_from(message.len())
        .map_err(|_| unencodable("WatchEvent", "the event is larger than 4 GiB"))?;
    let mut frame = Vec::with_capacity(4 + message.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&message);
    Ok(Bytes::from(frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(object: Value) -> Value {
        let bytes = encode(&object).expect("encodes");
        assert_eq!(&bytes[..4], MAGIC);
        decode(&bytes).expect("decodes")
    }

    #[test]
    fn a_secret_reads_back_as_it_was_written() {
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s1", "namespace": "default", "uid": "u-1", "resourceVersion": "7",
                "creationTimestamp": "2026-01-02T03:04:05Z", "labels": {"a": "b"},
                "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                    "time": "2026-01-02T03:04:05Z", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:a": {}}}}],
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u-2", "controller": true}]},
            "data": {"a": "Yg=="}, "type": "Opaque"
        });
        assert_eq!(round_trip(secret.clone()), secret);
    }

    #[test]
    fn the_envelope_names_the_kind_and_carries_the_bare_message() {
        let bytes = encode(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}))
            .expect("encodes");
        let unknown = Unknown::decode(&bytes[4..]).expect("an Unknown");
        let type_meta = unknown.type_meta.expect("typeMeta");
        assert_eq!(type_meta.api_version.as_deref(), Some("v1"));
        assert_eq!(type_meta.kind.as_deref(), Some("ConfigMap"));
        let config_map =
            k8s_pb::api::core::v1::ConfigMap::decode(unknown.raw.as_deref().unwrap_or_default())
                .expect("a ConfigMap");
        assert_eq!(config_map.data.get("k").map(String::as_str), Some("v"));
        assert_eq!(
            config_map.metadata.and_then(|m| m.name).as_deref(),
            Some("c")
        );
    }

    #[test]
    fn a_crd_schema_survives_the_round_trip() {
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                    "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "required": ["size"], "additionalProperties": false,
                            "properties": {
                                "size": {"type": "integer", "minimum": 1.0, "default": 3},
                                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                                "items": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
                                "color": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}]}}},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]},
            "status": {"acceptedNames": {"plural": "widgets", "kind": "Widget"}, "storedVersions": ["v1"],
                "conditions": [{"type": "Established", "status": "True", "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "InitialNamesAccepted", "message": "ok"}]}
        });
        assert_eq!(round_trip(crd.clone()), crd);
    }

    #[test]
    fn events_leases_and_token_requests_round_trip() {
        for object in [
            json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
                "metadata": {"name": "e", "namespace": "default"},
                "eventTime": "2026-01-02T03:04:05.123456Z", "reportingController": "azop", "reportingInstance": "azop-1",
                "action": "Reconcile", "reason": "Ready", "note": "done", "type": "Normal",
                "regarding": {"apiVersion": "v1", "kind": "Secret", "name": "s", "namespace": "default"},
                "series": {"count": 2, "lastObservedTime": "2026-01-02T03:04:06.000001Z"}}),
            json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e2", "namespace": "default"},
                "involvedObject": {"kind": "Secret", "name": "s"}, "reason": "Ready", "message": "m",
                "count": 3, "type": "Warning", "source": {"component": "azop"},
                "firstTimestamp": "2026-01-02T03:04:05Z", "lastTimestamp": "2026-01-02T03:05:05Z"}),
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "l", "namespace": "default"},
                "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15, "leaseTransitions": 2,
                    "renewTime": "2026-01-02T03:04:05.000000Z"}}),
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "metadata": {"name": "sa1", "namespace": "default"},
                "spec": {"audiences": ["api://AzureADTokenExchange"], "expirationSeconds": 3600},
                "status": {"token": "t", "expirationTimestamp": "2026-01-02T04:04:05Z"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x1", "labels": {"kubernetes.io/metadata.name": "x1"}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
            json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "default"},
                "spec": {"hard": {"pods": "10", "requests.cpu": "500m"}}}),
            json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
                "message": "secrets \"x\" not found", "reason": "NotFound", "code": 404,
                "details": {"name": "x", "kind": "secrets"}}),
        ] {
            assert_eq!(round_trip(object.clone()), object);
        }
    }

    #[test]
    fn a_list_carries_its_metadata_and_items() {
        let items = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}),
        ];
        let bytes = encode_list(
            "v1",
            "ConfigMap",
            "ConfigMapList",
            &json!({"resourceVersion": "12", "continue": "x"}),
            items,
        )
        .expect("encodes");
        let unknown = Unknown::decode(&bytes[4..]).expect("an Unknown");
        assert_eq!(
            unknown.type_meta.and_then(|t| t.kind).as_deref(),
            Some("ConfigMapList")
        );
        let list = k8s_pb::api::core::v1::ConfigMapList::decode(
            unknown.raw.as_deref().unwrap_or_default(),
        )
        .expect("a ConfigMapList");
        let names: Vec<_> = list
            .items
            .iter()
            .filter_map(|i| i.metadata.as_ref()?.name.as_deref())
            .collect();
        assert_eq!(names, ["a", "b"]);
        let metadata = list.metadata.expect("metadata");
        assert_eq!(metadata.resource_version.as_deref(), Some("12"));
        assert_eq!(metadata.r#continue.as_deref(), Some("x"));
    }

    #[test]
    fn a_watch_frame_is_a_length_and_a_bare_watch_event() {
        let frame = watch_frame(
            "ADDED",
            &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}),
        )
        .expect("encodes");
        let length = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        assert_eq!(length, frame.len() - 4);
        let event = meta_pb::WatchEvent::decode(&frame[4..]).expect("a WatchEvent");
        assert_eq!(event.r#type.as_deref(), Some("ADDED"));
        let object = event.object.and_then(|o| o.raw).expect("the object");
        assert_eq!(
            decode(&object).expect("an enveloped Secret")["metadata"]["name"],
            "s"
        );
    }

    #[test]
    fn custom_resources_have_no_protobuf_form() {
        assert!(!serves("example.com/v1", "Widget"));
        assert!(serves("v1", "Secret"));
        let widget = envelope("example.com/v1", "Widget", Vec::new());
        assert_eq!(decode(&widget).expect_err("refused").code, 415);
        assert_eq!(decode(b"{}").expect_err("refused").code, 400);
    }
}
