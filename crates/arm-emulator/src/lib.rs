//! A local Azure for tests, benchmarks and `azop dev`: Azure Resource Manager for the resource
//! types azop manages, served over HTTPS on loopback with a CA it generates (azure_core's bearer
//! policy refuses plain http), plus a plain-HTTP listener for curl and scripts.
//!
//! What it serves:
//! - resource groups; managedClusters (+ agentPools, listClusterUser/AdminCredential) as
//!   long-running operations (201 + `Azure-AsyncOperation` + `Retry-After`, 409
//!   `OperationNotAllowed` while one runs), with generated fqdn, OIDC issuer URL and kubelet
//!   identity; vaults with global names, soft delete, `deletedVaults` and purge, the
//!   soft-deleted-name collision and `createMode: recover`; userAssignedIdentities with generated
//!   client/principal ids and their federatedIdentityCredentials (20 at most, issuer+subject
//!   unique); roleAssignments (`RoleAssignmentExists`, `PrincipalNotFound` for principals
//!   younger than a configurable delay unless the PUT sets `principalType`) and the built-in roleDefinitions azop uses;
//! - ARM semantics: 200/201 PUTs, 202 + `Location` deletes (204 when absent, 404 when the
//!   group is missing), operation status and result resources, ARM's error bodies, request
//!   validation answering 400, case-insensitive ids, ETag/If-Match, systemData;
//! - per-subscription, per-principal token-bucket throttling (and a global bucket per subscription) with the `x-ms-ratelimit-remaining-*` headers and
//!   429 + Retry-After;
//! - test control under `/_emulator/`: stored resources, the request log and counts, token
//!   requests per client id (`GET /_emulator/tokenRequests`: the token endpoint is not in the
//!   request log), fault
//!   injection, LRO duration and throttling limits (`POST /_emulator/config` with
//!   `throttling` and `keyvaultThrottling`), reset;
//! - Microsoft Entra's token endpoint, `POST /{tenant}/oauth2/v2.0/token` (form-encoded, as
//!   azure_identity's ClientSecretCredential, ClientAssertionCredential and
//!   WorkloadIdentityCredential send it; point their authority host at [`ArmEmulator::url`] and
//!   trust [`ArmEmulator::ca_pem`]). Only the client-credentials grant, with a `scope` ending in
//!   `/.default`; the tenant must be [`Config::tenant_id`]. It answers
//!   `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token"}`, the token
//!   an RS256 JWT signed by a key generated at start-up, with `aud` (the scope less `/.default`),
//!   `iss` (`{url}/{tenant}/v2.0`), `oid`/`sub` (the principal), `tid`, `appid`/`azp` (the
//!   client id), `iat`, `nbf`, `exp`. Errors carry Entra's `{error, error_description:
//!   "AADSTS…: …", error_codes, timestamp, trace_id, correlation_id, error_uri}`. Two ways to
//!   sign in:
//!   - a client secret of a [`ServicePrincipal`], registered in [`Config::service_principals`],
//!     with [`Control::add_service_principal`], or `POST /_emulator/servicePrincipals`
//!     `{"clientId","clientSecret","objectId"?}`; a wrong secret answers 401 `invalid_client`
//!     AADSTS7000215, an unknown client 400 `unauthorized_client` AADSTS700016;
//!   - a client assertion (a Kubernetes ServiceAccount token) for the user-assigned identity
//!     whose `clientId` is the `client_id` (or, when no identity has it, for the
//!     [`WorkloadIdentity`] entries registered with that client id, which then stand for its
//!     credentials). One of the identity's federatedIdentityCredentials
//!     must name the token's `iss` and `sub` (case-sensitive) and one of its `aud`s, else 400
//!     `invalid_client` AADSTS700211 (issuer), AADSTS700213 (subject) or AADSTS700212
//!     (audience); `exp`/`nbf` must hold (60 s skew), else AADSTS700024; the RS256 signature
//!     must verify against the issuer's JWKS (`{iss}/.well-known/openid-configuration` →
//!     `jwks_uri`), else AADSTS700027. Keys are fetched over HTTPS trusting only
//!     [`Config::trusted_ca_pems`] (add more with [`Control::trust_ca_pem`] or
//!     `POST /_emulator/trustedCas` with a PEM body), from loopback issuers only (anything else
//!     answers AADSTS50166, so nothing leaves the machine), and cached per issuer (refetched
//!     once when a token names an unknown `kid`). A malformed assertion answers AADSTS50027.
//! - the managed identity endpoint of an emulated AKS node, `GET {url}/msi/token` (the App
//!   Service protocol azure_identity's `ManagedIdentityCredential` speaks when
//!   `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set; `api-version=2019-08-01`, `resource`,
//!   and `client_id`, `object_id` or `msi_res_id`): it answers tokens for the kubelet identities
//!   of the managed clusters it holds, as IMDS does on their nodes, and nothing else.
//!   `GET /_emulator/nodeIdentity` gives the endpoint and the header value.
//! - the Key Vault secrets data plane under each vault's `properties.vaultUri`,
//!   `{url}/keyvault/{vault}/` (any `api-version`, e.g. 7.5, 7.6): `PUT secrets/{name}` (set a new
//!   version: `value`, `contentType`, `tags`, `attributes.enabled/nbf/exp`), `GET secrets/{name}`
//!   and `secrets/{name}/{version}`, `GET secrets` and `secrets/{name}/versions` (one page,
//!   `nextLink: null`, no values), `DELETE secrets/{name}` (removes it outright: no
//!   deleted-secret recovery). Bodies are Key Vault's (`{value, id: "{vaultUri}secrets/{name}/
//!   {version}", attributes: {enabled, created, updated, recoveryLevel, recoverableDays},
//!   tags?, contentType?}`), as are its errors (`SecretNotFound`, `BadParameter`). Secrets
//!   belong to the vault: while it is soft-deleted its data plane answers 404 `VaultNotFound`,
//!   recovering it brings them back, purging it drops them. A test (or `azop dev`, playing the
//!   platform team's `az keyvault secret set`) sets a version directly with
//!   [`Control::set_secret`] or `POST /_emulator/secrets` `{"vault","name","value"}`. Every call needs a bearer token the
//!   token endpoint issued (signature checked) for `https://vault.azure.net`, else 401 with
//!   `WWW-Authenticate: Bearer authorization="{url}/{tenant}", resource="https://vault.azure.net"`.
//!   Authorisation is always Azure RBAC, whatever the vault's `enableRbacAuthorization` says
//!   (access policies are not emulated): the token's `oid` needs a role assignment at the
//!   secret (`{vaultId}/secrets/{name}`), the vault, its resource group or subscription whose
//!   built-in role's `dataActions` (wildcards honoured, `notDataActions` subtracted) allow the
//!   operation (`…/secrets/getSecret/action` for reads, `…/readMetadata/action` for lists,
//!   which need the vault scope or above, `…/setSecret/action`, `…/secrets/delete`); else 403
//!   `Forbidden` with innererror `ForbiddenByRbac` and Key Vault's message. The built-in
//!   roleDefinitions carry Azure's real permissions; custom roles grant nothing. Each vault
//!   serves at most [`KeyVaultLimits::transactions`] authenticated requests in any
//!   [`KeyVaultLimits::window`] (Azure: 4,000 per 10 s, a sliding window here); past that it
//!   answers 429 `Throttled` with `Retry-After` and changes nothing (see [`KeyVaultLimits`],
//!   [`Config::keyvault_throttling`], [`Control::set_keyvault_throttling`]).
//!
//! By default ARM itself accepts any bearer token (a request without one answers 401
//! `AuthenticationFailed`) and acts with every right. With [`Config::enforce_authorization`] (or
//! [`Control::set_enforce_authorization`]) it authorizes as Azure does, see the `authz` module:
//! the token must be an access token the token endpoint issued for ARM (else 401
//! `InvalidAuthenticationToken`, `InvalidAuthenticationTokenAudience` or
//! `ExpiredAuthenticationToken`), and its `oid` must hold a role assignment at the request's
//! scope or above whose built-in role's `actions` (less its `notActions`) allow the request's
//! action, else 403 `AuthorizationFailed`. First rights are bootstrapped without authorization
//! with [`Control::grant`] or `POST /_emulator/grants` `{"principalId","roleDefinitionId",
//! "scope"}`; an application federated with a Kubernetes issuer without being a managed identity
//! with [`Control::register_workload_identity`] or `POST /_emulator/workloadIdentities`
//! `{"clientId","objectId","issuer","subject","audiences"}`.
//!
//! The request log covers ARM and Key Vault data-plane requests (the latter with their
//! `/keyvault/{vault}/...` path, status and Key Vault's error code), not the token endpoint.
//! ARM's token buckets cover ARM requests only; the Key Vault data plane has its own per-vault
//! limit.

mod aks;
mod arm;
mod authz;
mod control;
mod entra;
mod keyvault;
mod rbac;
mod server;

use std::net::SocketAddr;
use std::time::Duration;

pub use arm::{ArmError, Kind};
pub use control::{Control, Fault, FaultKind, LoggedRequest, REQUEST_LOG_CAPACITY};
pub use entra::{ServicePrincipal, WorkloadIdentity};
pub use rbac::{BuiltInRole, ROLE_DEFINITIONS};

/// One token bucket: capacity and refill per second.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bucket {
    /// Burst size.
    pub capacity: f64,
    /// Tokens added per second.
    pub refill_per_second: f64,
}

/// ARM's limits, as its token-bucket algorithm applies them: each bucket is per subscription
/// and per principal (the caller's `oid`), and the subscription as a whole has a global bucket
/// of `global_factor` times each size across all principals ("Understand how Azure Resource
/// Manager throttles requests": "global subscription limits that are equivalent to 15 times the
/// individual service principal limits"). A request takes a token from both; the
/// `x-ms-ratelimit-remaining-*` header reports the caller's own bucket.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThrottleLimits {
    /// Whether throttling applies at all.
    pub enabled: bool,
    /// GETs.
    pub reads: Bucket,
    /// PUTs, PATCHes, POSTs.
    pub writes: Bucket,
    /// DELETEs.
    pub deletes: Bucket,
    /// The subscription's global buckets are this many times a principal's (Azure: 15).
    #[serde(default = "global_factor")]
    pub global_factor: f64,
}

fn global_factor() -> f64 {
    15.0
}

impl ThrottleLimits {
    /// Every bucket's size and refill multiplied by `factor` (the global factor kept).
    pub fn scaled(self, factor: f64) -> Self {
        let scale = |b: Bucket| Bucket {
            capacity: b.capacity * factor,
            refill_per_second: b.refill_per_second * factor,
        };
        ThrottleLimits {
            reads: scale(self.reads),
            writes: scale(self.writes),
            deletes: scale(self.deletes),
            ..self
        }
    }
}

impl Default for ThrottleLimits {
    /// Azure's published sizes: reads 250 / 25 per s, writes and deletes 200 / 10 per s.
    fn default() -> Self {
        ThrottleLimits {
            enabled: true,
            reads: Bucket {
                capacity: 250.0,
                refill_per_second: 25.0,
            },
            writes: Bucket {
                capacity: 200.0,
                refill_per_second: 10.0,
            },
            deletes: Bucket {
                capacity: 200.0,
                refill_per_second: 10.0,
            },
            global_factor: global_factor(),
        }
    }
}

/// Key Vault's per-vault data-plane limit: at most `transactions` in any `window`.
///
/// Azure's "Azure Key Vault service limits"
/// (<https://learn.microsoft.com/en-us/azure/key-vault/general/service-limits>), table
/// "Secrets, managed storage account keys, and vault transactions": 4,000 transactions in
/// 10 seconds, per vault per region (older editions of the page said 2,000). Every secret GET,
/// PUT, DELETE and LIST counts. Over it Key Vault answers 429 (see "Azure Key Vault throttling
/// guidance", <https://learn.microsoft.com/en-us/azure/key-vault/general/overview-throttling>),
/// and a refused request does not count towards the limit.
///
/// Over `/_emulator/config` it reads `{"enabled", "transactions", "windowMillis"}`; a missing
/// field takes the default's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KeyVaultLimits {
    /// Whether the data plane is throttled at all.
    pub enabled: bool,
    /// Transactions a vault may serve in any `window`.
    pub transactions: u32,
    /// The window's length.
    #[serde(rename = "windowMillis", with = "millis")]
    pub window: Duration,
}

impl Default for KeyVaultLimits {
    /// Azure's published limit: 4,000 transactions per 10 seconds per vault, enabled.
    fn default() -> Self {
        KeyVaultLimits {
            enabled: true,
            transactions: 4000,
            window: Duration::from_secs(10),
        }
    }
}

/// A [`Duration`] as whole milliseconds.
mod millis {
    use std::time::Duration;

    pub(crate) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Duration, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(Duration::from_millis)
    }
}

/// Settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long long-running operations (AKS creates, group and cluster deletes) run.
    pub lro_duration: Duration,
    /// Role assignments to a principal younger than this answer 400 `PrincipalNotFound`, unless
    /// the PUT names the `principalType` (Azure's documented way round the replication delay).
    pub principal_propagation_delay: Duration,
    /// Throttling per subscription and principal.
    pub throttling: ThrottleLimits,
    /// Per-vault throttling of the Key Vault data plane (Azure: 4,000 per 10 s). Change it at
    /// run time with [`Control::set_keyvault_throttling`].
    pub keyvault_throttling: KeyVaultLimits,
    /// The tenant identities and clusters belong to.
    pub tenant_id: String,
    /// Federated credentials allowed per identity (Azure: 20).
    pub max_federated_credentials: usize,
    /// Role assignments allowed per subscription (Azure: 4,000, a fixed limit; the 4,001st
    /// is refused with `RoleAssignmentLimitExceeded`).
    pub max_role_assignments: usize,
    /// Service principals that sign in at the token endpoint with a client secret.
    pub service_principals: Vec<ServicePrincipal>,
    /// CA certificates (PEM) trusted when fetching a federated issuer's OIDC documents, e.g.
    /// the kube-emulator's.
    pub trusted_ca_pems: Vec<String>,
    /// Applications that sign in with a federated client assertion without being ARM managed
    /// identities (see [`Control::register_workload_identity`]).
    pub workload_identities: Vec<WorkloadIdentity>,
    /// Whether ARM authorizes requests as Azure does: the bearer token must be one the token
    /// endpoint issued for ARM, and its `oid` must hold a role assignment at the request's scope
    /// or above whose role allows the request's action. Off by default: any bearer token then
    /// acts with every right. Flip at run time with [`Control::set_enforce_authorization`].
    pub enforce_authorization: bool,
    /// The secret an emulated AKS node's managed identity endpoint expects in its
    /// `X-IDENTITY-HEADER` (`IDENTITY_HEADER` for azure_identity's `ManagedIdentityCredential`);
    /// a random one by default.
    pub node_identity_header: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lro_duration: Duration::from_secs(2),
            principal_propagation_delay: Duration::from_secs(2),
            throttling: ThrottleLimits::default(),
            keyvault_throttling: KeyVaultLimits::default(),
            tenant_id: "11111111-1111-1111-1111-111111111111".to_string(),
            max_federated_credentials: 20,
            max_role_assignments: 4000,
            service_principals: Vec::new(),
            trusted_ca_pems: Vec::new(),
            workload_identities: Vec::new(),
            enforce_authorization: false,
            node_identity_header: uuid::Uuid::new_v4().simple().to_string(),
        }
    }
}

/// Starting the emulator failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not a loopback address.
    #[error("refusing to listen on {0}: the arm-emulator serves loopback addresses only")]
    NotLoopback(SocketAddr),
    /// Binding failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Certificates could not be made.
    #[error(transparent)]
    Tls(#[from] loopback_tls::TlsError),
    /// The key that signs access tokens could not be made.
    #[error("generating the access-token signing key failed")]
    Key,
}

/// A running emulator; it stops when dropped.
pub struct ArmEmulator {
    url: String,
    http_url: Option<String>,
    ca_pem: String,
    control: Control,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Drop for ArmEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl ArmEmulator {
    /// Starts HTTPS on a random loopback port.
    pub async fn start(config: Config) -> Result<Self, Error> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0)), None).await
    }

    /// Starts HTTPS on `https` and, if given, plain HTTP on `http` (loopback only).
    pub async fn start_on(
        config: Config,
        https: SocketAddr,
        http: Option<SocketAddr>,
    ) -> Result<Self, Error> {
        for a in std::iter::once(https).chain(http) {
            if !a.ip().is_loopback() {
                return Err(Error::NotLoopback(a));
            }
        }
        let tls = loopback_tls::LoopbackTls::generate("arm-emulator")?;
        let https_listener = tokio::net::TcpListener::bind(https).await?;
        let url = format!("https://{}", https_listener.local_addr()?);
        let http_listener = match http {
            Some(a) => Some(tokio::net::TcpListener::bind(a).await?),
            None => None,
        };
        let http_url = match &http_listener {
            Some(l) => Some(format!("http://{}", l.local_addr()?)),
            None => None,
        };
        let signer = entra::Signer::generate().map_err(|_| Error::Key)?;
        let control = Control::new(config, url.clone(), signer);
        let (shutdown, stop) = tokio::sync::watch::channel(false);
        server::serve(
            https_listener,
            Some(tls.acceptor()?),
            control.clone(),
            stop.clone(),
        );
        if let Some(l) = http_listener {
            server::serve(l, None, control.clone(), stop);
        }
        Ok(ArmEmulator {
            url,
            http_url,
            ca_pem: tls.ca_pem().to_string(),
            control,
            shutdown,
        })
    }

    /// `https://127.0.0.1:PORT`: the ARM endpoint.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The plain-HTTP listener's URL, if one was asked for.
    pub fn http_url(&self) -> Option<String> {
        self.http_url.clone()
    }

    /// The CA that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// In-process access to what `/_emulator/` offers.
    pub fn control(&self) -> Control {
        self.control.clone()
    }
}
