//! What the engine needs from Azure Resource Manager, and nothing more.
//!
//! The engine talks to ARM through [`Azure`], so it can be driven by the real ARM client
//! (`azop-arm`, against Azure or the arm-emulator) or, in unit tests, by an in-memory fake.
//! Bodies are JSON: each kind's adapter builds and reads them with `azop-arm`'s typed bodies,
//! and the engine only compares and stores them.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

/// ARM's answer, classified once (the ARM client does the classifying).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AzureError {
    /// 404: the resource (or its parent) does not exist.
    #[error("{code}: {message}")]
    NotFound {
        /// ARM's error code (ResourceNotFound, ResourceGroupNotFound, ...).
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
    /// 5xx, timeouts, resets: retry with backoff.
    #[error("transient Azure error: {message}")]
    Transient {
        /// What happened.
        message: String,
    },
    /// 4xx validation: retrying the same request will not help.
    #[error("{code}: {message}")]
    Terminal {
        /// ARM's error code.
        code: String,
        /// ARM's message.
        message: String,
    },
    /// Authentication or authorisation failed.
    #[error("Azure refused azop's credential: {message}")]
    Auth {
        /// What happened.
        message: String,
    },
}

impl AzureError {
    /// ARM's error code, where there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AzureError::NotFound { code, .. }
            | AzureError::Conflict { code, .. }
            | AzureError::Terminal { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The answer to a PUT or DELETE.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// Done: the resource as ARM answered (None for a delete, or a PUT with no body).
    Done(Option<Value>),
    /// A long-running operation started; poll it with this serialised token.
    Started {
        /// The ARM client's serialised operation token.
        token: String,
        /// How long ARM asked to wait before the first poll.
        retry_after: Option<Duration>,
    },
}

/// One poll of a long-running operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled {
    /// Still running.
    InProgress {
        /// How long ARM asked to wait before polling again.
        retry_after: Option<Duration>,
    },
    /// Finished; the final resource body where the operation has one.
    Succeeded(Option<Value>),
    /// Finished with ARM's error (Failed or Canceled).
    Failed(AzureError),
}

/// The ARM calls the engine makes. Ids are full ARM resource ids.
pub trait Azure: Send + Sync + 'static {
    /// GET; `Ok(None)` on 404.
    fn get<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, AzureError>>;
    /// PUT the whole body.
    fn put<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<Written, AzureError>>;
    /// DELETE; a resource that is already gone is `Done(None)`.
    fn delete<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
    ) -> BoxFuture<'a, Result<Written, AzureError>>;
    /// One poll of an operation started by `put` or `delete`.
    fn poll<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Polled, AzureError>>;
}
