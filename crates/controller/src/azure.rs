//! What the engine needs from Azure Resource Manager, and nothing more.
//!
//! The engine talks to ARM through [`Azure`], so it can be driven by the real ARM client
//! (`azop-arm`, against Azure or the arm-emulator) or, in unit tests, by an in-memory fake.
//! Bodies are JSON: each kind's adapter builds and reads them with `azop-arm`'s typed bodies,
//! and the engine only compares and stores them.

use std::time::Duration;

use azop_arm::ArmClient;

use futures::future::BoxFuture;
use serde_json::Value;

/// ARM's answer, classified once by the ARM client.
pub use azop_arm::ArmError as AzureError;

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
    /// POST an action on a resource (`{id}/listClusterUserCredential`); its answer's body.
    fn post<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, AzureError>>;

    /// Reserves `reads` and `writes` in `subscription`'s client-side buckets for a pass about
    /// to make them (see [`azop_arm::Pass`]). `None`: this client has no buckets.
    fn reserve(
        &self,
        _subscription: &str,
        _reads: u32,
        _writes: u32,
    ) -> Option<azop_arm::Reservation> {
        None
    }
}

/// The engine's view of the real ARM client (Azure or the arm-emulator).
impl Azure for ArmClient {
    fn get<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, AzureError>> {
        Box::pin(ArmClient::get(self, id, api_version))
    }

    fn put<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<Written, AzureError>> {
        Box::pin(async move {
            ArmClient::put(self, id, api_version, body)
                .await
                .map(written)
        })
    }

    fn delete<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
    ) -> BoxFuture<'a, Result<Written, AzureError>> {
        Box::pin(async move { ArmClient::delete(self, id, api_version).await.map(written) })
    }

    fn reserve(
        &self,
        subscription: &str,
        reads: u32,
        writes: u32,
    ) -> Option<azop_arm::Reservation> {
        Some(ArmClient::reserve(self, subscription, reads, writes))
    }

    fn post<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, AzureError>> {
        Box::pin(async move {
            Ok(match ArmClient::post(self, id, api_version, None).await? {
                azop_arm::Written::Done(body) => body,
                // An action that runs long: its answer is not needed here.
                azop_arm::Written::Started { .. } => None,
            })
        })
    }

    fn poll<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Polled, AzureError>> {
        Box::pin(async move {
            let token = azop_arm::OperationToken::parse(token)?;
            Ok(match ArmClient::poll(self, &token).await? {
                azop_arm::Polled::InProgress { retry_after } => Polled::InProgress { retry_after },
                azop_arm::Polled::Succeeded(body) => Polled::Succeeded(body),
                azop_arm::Polled::Failed(e) => Polled::Failed(e),
            })
        })
    }
}

fn written(w: azop_arm::Written) -> Written {
    match w {
        azop_arm::Written::Done(body) => Written::Done(body),
        azop_arm::Written::Started { token, retry_after } => Written::Started {
            token: token.to_token_string(),
            retry_after,
        },
    }
}
