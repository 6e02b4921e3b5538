//! A client for Azure Resource Manager, built on azure_core's pipeline (its retry policy,
//! `BearerTokenAuthorizationPolicy`, user agent and `x-ms-client-request-id`) and azure_identity
//! credentials.
//!
//! - [`ArmClient`]: `get`, `put`, `delete`, `post` and [`ArmClient::poll`] of a long-running
//!   operation, one step at a time, from an [`OperationToken`] that serialises to a small string
//!   so another process can resume it. Every request runs in a tracing span `arm_request` with
//!   its method, resource type, resource id, client request id, status, ARM's request id and
//!   duration.
//! - [`ArmError`]: ARM's answers classified once — NotFound, Conflict, Throttled, Transient,
//!   Terminal, Auth — with ARM's code and message kept.
//! - Client-side token buckets per subscription for reads, writes and deletes, below ARM's
//!   published limits and tightened by `x-ms-ratelimit-remaining-*`, plus a concurrency limit.
//! - Endpoints are configuration: the same code talks to Azure or to the arm-emulator (HTTPS,
//!   trusting a configured CA bundle).
//! - [`ResourceId`]: ARM ids parsed (subscription, resource group, provider, nested types,
//!   extension resources such as role assignments, tenant-level ids), compared
//!   case-insensitively as ARM does, formatted as written; `parent()` and `child()`.
//! - [`resources`]: typed request and response bodies for the resources azop manages —
//!   resource groups, AKS clusters and agent pools, Key Vaults, user-assigned identities and
//!   federated identity credentials, role assignments — each with its `API_VERSION`, keeping
//!   every field they do not name so a read-modify-write loses nothing. They are checked
//!   against every example of the Azure REST API specs they follow.

#![deny(missing_docs)]

mod client;
mod credential;
mod error;
mod keyvault;
mod limits;
mod operation;
mod resource_id;
pub mod resources;

pub use client::{ArmClient, ArmConfig, Written};
pub use credential::{ClientAssertion, CredentialConfig, StaticTokenCredential, TokenFile};
pub use error::ArmError;
pub use keyvault::{
    KEY_VAULT_API_VERSION, KEY_VAULT_AUDIENCE, KeyVaultClient, KeyVaultConfig, VaultError,
    VaultSecret, WorkloadIdentity, vault_label,
};
pub use limits::{BucketLimit, Pass, RateLimits, RequestClass, Reservation};
pub use operation::{OperationToken, Polled};
pub use resource_id::{ResourceId, ResourceIdError};
pub use resources::ArmResource;
