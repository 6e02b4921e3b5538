//! Long-running operations: a small token that says how to follow one, and one poll step.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ArmError;

/// How to follow an operation; serialises to a short string kept in the object's status so a
/// restarted operator resumes polling instead of repeating the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationToken {
    /// `PUT`, `DELETE` or `POST`.
    pub method: String,
    /// The resource the operation works on.
    pub resource_id: String,
    /// The api-version of the resource.
    pub api_version: String,
    /// The Azure-AsyncOperation URL (preferred when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub async_operation: Option<String>,
    /// The Location URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl OperationToken {
    /// The token as a string.
    pub fn to_token_string(&self) -> String {
        // Serialising a struct of strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a token written by [`OperationToken::to_token_string`].
    pub fn parse(s: &str) -> Result<Self, ArmError> {
        serde_json::from_str(s).map_err(|e| ArmError::Terminal {
            code: "InvalidOperationToken".into(),
            message: e.to_string(),
        })
    }
}

/// One poll's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled {
    /// Still running; poll again after this long.
    InProgress {
        /// ARM's Retry-After, if it sent one.
        retry_after: Option<Duration>,
    },
    /// Done; the final resource for a PUT, `None` for a DELETE.
    Succeeded(Option<Value>),
    /// Failed or Canceled, with ARM's error.
    Failed(ArmError),
}

/// Terminal provisioning states (a missing state means Succeeded).
pub(crate) fn is_terminal(state: Option<&str>) -> bool {
    matches!(state, None | Some("Succeeded" | "Failed" | "Canceled"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_through_its_string() {
        let t = OperationToken {
            method: "PUT".into(),
            resource_id: "/subscriptions/s/resourceGroups/rg".into(),
            api_version: "2025-04-01".into(),
            async_operation: Some("https://x/op?api-version=1".into()),
            location: None,
        };
        assert_eq!(
            OperationToken::parse(&t.to_token_string()).expect("parses"),
            t
        );
        assert!(OperationToken::parse("not json").is_err());
    }
}
