//! ARM's answers, classified once.

use std::time::Duration;

/// What went wrong, in the classes a controller acts on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArmError {
    /// 404: the resource, or its parent, does not exist.
    #[error("{code}: {message}")]
    NotFound {
        /// ARM's error code.
        code: String,
        /// ARM's message.
        message: String,
    },
    /// 409: another operation or resource is in the way.
    #[error("{code}: {message}")]
    Conflict {
        /// ARM's error code.
        code: String,
        /// ARM's message.
        message: String,
    },
    /// 429: wait and retry.
    #[error("throttled by ARM; retry after {retry_after:?}")]
    Throttled {
        /// How long ARM asked to wait.
        retry_after: Duration,
    },
    /// 5xx, timeouts, connection resets: retry with backoff.
    #[error("transient: {message}")]
    Transient {
        /// What happened.
        message: String,
    },
    /// A long-running operation Azure accepted ended `Failed` or `Canceled` (AKS's
    /// `InternalOperationError`, a node pool that could not start): the resource is left
    /// Failed, and another PUT (Azure's reconcile) may succeed. Retried with backoff.
    #[error("the operation ended {code}: {message}")]
    OperationFailed {
        /// The operation's error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// Other 4xx: the request is wrong and retrying will not help.
    #[error("{code}: {message}")]
    Terminal {
        /// ARM's error code.
        code: String,
        /// ARM's message.
        message: String,
    },
    /// azop's own set-up is wrong (an endpoint that is not a URL, a CA bundle that does not
    /// parse, a body that cannot be encoded): not the user's spec, not Azure's answer. Retried
    /// with backoff, since the fix is a restart with corrected flags.
    #[error("configuration: {message}")]
    Configuration {
        /// What is wrong.
        message: String,
    },
    /// 401 or a credential that cannot get a token.
    #[error("authentication: {message}")]
    Auth {
        /// What happened.
        message: String,
    },
    /// 403: the identity is known but has no role that allows the action at the scope
    /// (`AuthorizationFailed`). Fixed by a role assignment, not by retrying.
    #[error("{code}: {message}")]
    Forbidden {
        /// ARM's code (`AuthorizationFailed`, `LinkedAuthorizationFailed`, ...).
        code: String,
        /// ARM's message, which names the client, the action and the scope.
        message: String,
    },
}

impl ArmError {
    /// Classifies an HTTP answer with ARM's error body.
    pub fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let code = parsed
            .pointer("/error/code")
            .and_then(|c| c.as_str())
            .unwrap_or(match status {
                404 => "NotFound",
                409 => "Conflict",
                _ => "Error",
            })
            .to_string();
        let message = parsed
            .pointer("/error/message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(500).collect());
        match status {
            401 => ArmError::Auth {
                message: format!("{code}: {message}"),
            },
            403 => ArmError::Forbidden { code, message },
            404 => ArmError::NotFound { code, message },
            409 => ArmError::Conflict { code, message },
            429 => ArmError::Throttled {
                retry_after: retry_after.unwrap_or(Duration::from_secs(10)),
            },
            408 | 500..=599 => ArmError::Transient {
                message: format!("{status} {code}: {message}"),
            },
            _ => ArmError::Terminal { code, message },
        }
    }

    /// Whether retrying the same request can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ArmError::Throttled { .. }
                | ArmError::Transient { .. }
                | ArmError::Conflict { .. }
                | ArmError::OperationFailed { .. }
        )
    }

    /// ARM's error code, where there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ArmError::NotFound { code, .. }
            | ArmError::Conflict { code, .. }
            | ArmError::Forbidden { code, .. }
            | ArmError::Terminal { code, .. }
            | ArmError::OperationFailed { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_error_bodies_are_classified_with_their_code_and_message() {
        let body = br#"{"error":{"code":"InvalidParameter","message":"bad location"}}"#;
        assert_eq!(
            ArmError::from_response(400, body, None),
            ArmError::Terminal {
                code: "InvalidParameter".into(),
                message: "bad location".into()
            }
        );
        assert!(matches!(
            ArmError::from_response(404, b"", None),
            ArmError::NotFound { .. }
        ));
        assert_eq!(
            ArmError::from_response(429, b"", Some(Duration::from_secs(3))),
            ArmError::Throttled {
                retry_after: Duration::from_secs(3)
            }
        );
        assert!(ArmError::from_response(503, b"", None).is_retryable());
        assert!(matches!(
            ArmError::from_response(401, b"", None),
            ArmError::Auth { .. }
        ));
        let forbidden = br#"{"error":{"code":"AuthorizationFailed","message":"The client 'a' with object id 'b' does not have authorization to perform action 'x' over scope 'y' or the scope is invalid."}}"#;
        assert!(matches!(
            ArmError::from_response(403, forbidden, None),
            ArmError::Forbidden { ref code, .. } if code == "AuthorizationFailed"
        ));
    }
}
