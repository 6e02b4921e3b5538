//! A client for Azure Resource Manager, built on azure_core's pipeline (its retry policy,
//! `BearerTokenAuthorizationPolicy`, user agent and `x-ms-client-request-id`) and azure_identity
//! credentials.
//!
//! - [`ArmClient`]: `get`, `put`, `delete`, `post` and [`ArmClient::poll`] of a long-running
//!   operation, one step at a time, from an [`OperationToken`] that serialises to a small string
//!   so another process can resume it.
//! - [`ArmError`]: ARM's answers classified once — NotFound, Conflict, Throttled, Transient,
//!   Terminal, Auth — with ARM's code and message kept.
//! - Client-side token buckets per subscription for reads, writes and deletes, below ARM's
//!   published limits and tightened by `x-ms-ratelimit-remaining-*`, plus a concurrency limit.
//! - Endpoints are configuration: the same code talks to Azure or to the arm-emulator (HTTPS,
//!   trusting a configured CA bundle).
//!
//! Issue #5 brings the rest: typed bodies per provider, `ResourceId` with property tests,
//! recordings-based tests.

mod client;
mod credential;
mod error;
mod limits;
mod operation;

pub use client::{ArmClient, ArmConfig, Written};
pub use credential::{CredentialConfig, StaticTokenCredential};
pub use error::ArmError;
pub use limits::{BucketLimit, RateLimits};
pub use operation::{OperationToken, Polled};
