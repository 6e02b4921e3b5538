//! `/openapi/v2`: the Swagger 2.0 document kubectl reads to validate what `/openapi/v3` cannot
//! tell it about, such as the items of a `kind: List` (`kubectl apply -f list.yaml`, where the
//! file is what `kubectl get -o yaml` prints).
//!
//! kubectl asks for it in gnostic's protobuf form only
//! (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) and parses whatever comes
//! back as that message, so JSON would not do. The document publishes no definitions: kubectl
//! then validates nothing client side from it (as for any kind a server publishes no schema
//! for) and the server validates what it stores, custom resources against their CRD schema.
//!
//! The messages are the few fields of gnostic's `openapi.v2.Document` (OpenAPIv2.proto) this
//! document uses; k8s-pb does not carry gnostic's types.

use prost::Message;
use serde_json::{Value, json};

/// The media type of the protobuf form, as answered (kube-openapi's handler answers this for
/// either name; Go's `mime` cannot parse the `@` of the older one).
pub const PROTOBUF_MEDIA_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The older name of [`PROTOBUF_MEDIA_TYPE`], which kubectl 1.32 still asks for.
pub const PROTOBUF_MEDIA_TYPE_DEPRECATED: &str =
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// What the document says it is.
const TITLE: &str = "Kubernetes";
/// The server's version, as `/version` reports it.
const VERSION: &str = "v1.33.0";

/// `openapi.v2.Document`, the fields used here.
#[derive(Clone, PartialEq, Message)]
struct Document {
    #[prost(string, tag = "1")]
    swagger: String,
    #[prost(message, optional, tag = "2")]
    info: Option<Info>,
    #[prost(message, optional, tag = "8")]
    paths: Option<Paths>,
    #[prost(message, optional, tag = "9")]
    definitions: Option<Definitions>,
}

/// `openapi.v2.Info`, the fields used here.
#[derive(Clone, PartialEq, Message)]
struct Info {
    #[prost(string, tag = "1")]
    title: String,
    #[prost(string, tag = "2")]
    version: String,
}

/// `openapi.v2.Paths`, empty here.
#[derive(Clone, PartialEq, Message)]
struct Paths {}

/// `openapi.v2.Definitions`, empty here.
#[derive(Clone, PartialEq, Message)]
struct Definitions {}

/// The document as JSON.
pub fn json() -> Value {
    json!({"swagger": "2.0", "info": {"title": TITLE, "version": VERSION}, "paths": {}, "definitions": {}})
}

/// The document in gnostic's protobuf form.
pub fn protobuf() -> Vec<u8> {
    Document {
        swagger: "2.0".into(),
        info: Some(Info {
            title: TITLE.into(),
            version: VERSION.into(),
        }),
        paths: Some(Paths {}),
        definitions: Some(Definitions {}),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protobuf_form_reads_back_as_a_swagger_document() {
        let document = Document::decode(protobuf().as_slice()).expect("a Document");
        assert_eq!(document.swagger, "2.0");
        assert_eq!(document.info.map(|i| i.title).as_deref(), Some(TITLE));
        assert_eq!(json()["swagger"], "2.0");
    }
}
