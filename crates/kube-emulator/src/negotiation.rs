//! Which encoding a response is written in, chosen from the request's `Accept` header as
//! kube-apiserver chooses it: the media ranges in order of preference (`q`, then the more
//! specific first, then as written), the first one the endpoint serves wins. No `Accept`, `*/*`
//! and `application/*` mean JSON. Protobuf is served for built-in kinds only: for a custom
//! resource, `application/vnd.kubernetes.protobuf` alone is 406 Not Acceptable and
//! `application/vnd.kubernetes.protobuf,application/json` is answered in JSON.

use crate::protobuf;
use crate::store::ApiError;

/// A response encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json` (also what YAML and wildcard requests get here).
    Json,
    /// `application/vnd.kubernetes.protobuf`.
    Protobuf,
}

/// One media range of an Accept header.
struct MediaRange<'a> {
    essence: &'a str,
    quality: f32,
    /// Parameters other than `q` (`as=Table`, `g=`, `v=`, `stream=watch`...).
    params: Vec<(&'a str, &'a str)>,
}

impl MediaRange<'_> {
    /// 0 for `*/*`, 1 for `type/*`, 2 for `type/subtype`.
    fn specificity(&self) -> u8 {
        match self.essence.split_once('/') {
            Some(("*", _)) => 0,
            Some((_, "*")) => 1,
            _ => 2,
        }
    }

    /// Asks for a different shape of the object (`as=Table`, `as=PartialObjectMetadata`).
    fn converts(&self) -> bool {
        self.params.iter().any(|(k, _)| *k == "as")
    }
}

fn media_ranges(accept: &str) -> Vec<MediaRange<'_>> {
    let mut ranges: Vec<MediaRange<'_>> = accept
        .split(',')
        .filter_map(|clause| {
            let mut parts = clause.split(';').map(str::trim);
            let essence = parts.next().filter(|e| !e.is_empty())?;
            let mut quality = 1.0;
            let mut params = Vec::new();
            for p in parts {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                let (k, v) = (k.trim(), v.trim().trim_matches('"'));
                if k == "q" {
                    quality = v.parse().unwrap_or(0.0);
                } else {
                    params.push((k, v));
                }
            }
            Some(MediaRange {
                essence,
                quality,
                params,
            })
        })
        .filter(|r| r.quality > 0.0)
        .collect();
    // Stable: equally preferred ranges keep the order they were written in.
    ranges.sort_by(|a, b| {
        b.quality
            .total_cmp(&a.quality)
            .then(b.specificity().cmp(&a.specificity()))
            .then(b.params.len().cmp(&a.params.len()))
    });
    ranges
}

/// The encoding for a response whose object has a protobuf form or not (`protobuf`), or 406.
pub fn negotiate(accept: Option<&str>, protobuf: bool) -> Result<Encoding, ApiError> {
    choose(accept, protobuf.then_some(protobuf::MEDIA_TYPE))
}

/// The encoding of `/openapi/v2`: JSON, or gnostic's protobuf form, or 406.
pub fn negotiate_openapi_v2(accept: Option<&str>) -> Result<Encoding, ApiError> {
    use crate::openapi_v2::{PROTOBUF_MEDIA_TYPE, PROTOBUF_MEDIA_TYPE_DEPRECATED};
    // Both names of the protobuf form are one offer.
    let accept = accept.map(|a| a.replace(PROTOBUF_MEDIA_TYPE_DEPRECATED, PROTOBUF_MEDIA_TYPE));
    choose(accept.as_deref(), Some(PROTOBUF_MEDIA_TYPE))
}

/// JSON, or `protobuf_type` if the endpoint has a protobuf form and the client prefers it.
fn choose(accept: Option<&str>, protobuf_type: Option<&str>) -> Result<Encoding, ApiError> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Encoding::Json);
    };
    for range in media_ranges(accept) {
        let essence = range.essence.to_ascii_lowercase();
        match essence.as_str() {
            "application/json" | "application/yaml" | "application/*" | "*/*" => {
                return Ok(Encoding::Json);
            }
            // A Table or metadata-only object is served as JSON only here.
            e if Some(e) == protobuf_type && !range.converts() => {
                return Ok(Encoding::Protobuf);
            }
            _ => {}
        }
    }
    let mut accepted = vec!["application/json", "application/yaml"];
    accepted.extend(protobuf_type);
    Err(ApiError {
        code: 406,
        reason: "NotAcceptable",
        message: format!(
            "only the following media types are accepted: {}",
            accepted.join(", ")
        ),
        details: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECTL: &str = "application/vnd.kubernetes.protobuf,application/json";

    #[test]
    fn built_in_kinds_are_answered_as_the_client_prefers() {
        assert_eq!(
            negotiate(Some(KUBECTL), true).ok(),
            Some(Encoding::Protobuf)
        );
        assert_eq!(
            negotiate(Some(protobuf::MEDIA_TYPE), true).ok(),
            Some(Encoding::Protobuf)
        );
        assert_eq!(
            negotiate(
                Some("application/json, application/vnd.kubernetes.protobuf"),
                true
            )
            .ok(),
            Some(Encoding::Json)
        );
        assert_eq!(
            negotiate(
                Some("application/json;q=0.5, application/vnd.kubernetes.protobuf"),
                true
            )
            .ok(),
            Some(Encoding::Protobuf)
        );
        assert_eq!(negotiate(None, true).ok(), Some(Encoding::Json));
        assert_eq!(negotiate(Some("*/*"), true).ok(), Some(Encoding::Json));
    }

    #[test]
    fn custom_resources_fall_back_to_json_or_are_not_acceptable() {
        assert_eq!(negotiate(Some(KUBECTL), false).ok(), Some(Encoding::Json));
        let refused = negotiate(Some(protobuf::MEDIA_TYPE), false).expect_err("406");
        assert_eq!(refused.code, 406);
        assert_eq!(
            refused.message,
            "only the following media types are accepted: application/json, application/yaml"
        );
    }

    #[test]
    fn tables_in_protobuf_are_not_served() {
        let table =
            "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(table), true).ok(), Some(Encoding::Json));
        assert_eq!(
            negotiate(Some("text/html"), true).expect_err("406").code,
            406
        );
    }

    #[test]
    fn the_openapi_v2_document_is_protobuf_when_asked_for_as_kubectl_asks() {
        use crate::openapi_v2::{PROTOBUF_MEDIA_TYPE, PROTOBUF_MEDIA_TYPE_DEPRECATED};
        for asked in [PROTOBUF_MEDIA_TYPE_DEPRECATED, PROTOBUF_MEDIA_TYPE] {
            assert_eq!(
                negotiate_openapi_v2(Some(asked)).ok(),
                Some(Encoding::Protobuf)
            );
        }
        assert_eq!(negotiate_openapi_v2(None).ok(), Some(Encoding::Json));
        assert_eq!(
            negotiate_openapi_v2(Some("application/json")).ok(),
            Some(Encoding::Json)
        );
        assert_eq!(
            negotiate_openapi_v2(Some(protobuf::MEDIA_TYPE))
                .expect_err("406")
                .code,
            406
        );
    }
}
