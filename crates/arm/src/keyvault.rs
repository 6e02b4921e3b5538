//! Key Vault's secrets data plane, read as a workload identity: one GET per secret, with a
//! bearer token the identity got from Entra by presenting its ServiceAccount token (a client
//! assertion).
//!
//! Not the Azure SDK's `SecretClient`: that one learns the token's audience from a first,
//! unauthenticated request answered 401 (Key Vault's challenge), so every new client costs a
//! request that reads nothing; azop knows the audience (`https://vault.azure.net` in Azure's
//! public cloud) and asks for it directly.
//!
//! - One credential per identity, made on first use and kept: azure_identity's
//!   `ClientAssertionCredential` caches its token until shortly before expiry, so Entra sees
//!   one token request per identity per token lifetime, and the assertion source (a
//!   TokenRequest to the API server) is asked only then.
//! - No retry inside: a 429 pauses that vault for its `Retry-After` (every later request to
//!   the vault waits it out before going) and comes back as [`VaultError::Throttled`], so a
//!   caller requeues instead of holding a slot.
//! - Requests are counted by vault and status, never with a value: [`KeyVaultClient::request_counts`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, PipelineSendOptions, Request, RetryOptions,
    Transport, Url,
};
use serde_json::Value;

use crate::credential::{ClientAssertion, CredentialConfig};
use crate::error::ArmError;

/// The api-version of Key Vault's secrets API azop reads with.
pub const KEY_VAULT_API_VERSION: &str = "7.5";
/// Key Vault's token audience in Azure's public cloud.
pub const KEY_VAULT_AUDIENCE: &str = "https://vault.azure.net";

/// Where Entra and Key Vault are, and which CA to trust.
#[derive(Debug, Clone)]
pub struct KeyVaultConfig {
    /// Extra CA certificates to trust (PEM), e.g. the arm-emulator's.
    pub ca_bundle_pem: Option<String>,
    /// Entra's endpoint (`https://login.microsoftonline.com` when unset).
    pub authority_host: Option<String>,
    /// The audience of Key Vault tokens (default [`KEY_VAULT_AUDIENCE`]; sovereign clouds
    /// have their own).
    pub audience: String,
    /// How long a request may take.
    pub timeout: Duration,
}

impl Default for KeyVaultConfig {
    fn default() -> Self {
        KeyVaultConfig {
            ca_bundle_pem: None,
            authority_host: None,
            audience: KEY_VAULT_AUDIENCE.to_string(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// An identity that signs in with a client assertion.
#[derive(Clone)]
pub struct WorkloadIdentity {
    /// Its tenant.
    pub tenant_id: String,
    /// Its client (application) id.
    pub client_id: String,
    /// Where its assertion (a ServiceAccount token) comes from.
    pub assertion: Arc<dyn ClientAssertion>,
}

/// A secret's current version as Key Vault answered it. `Debug` never shows the value.
#[derive(Clone)]
pub struct VaultSecret {
    /// The version (the last segment of the secret's id).
    pub version: String,
    /// The value.
    pub value: Secret,
    /// The content type the secret was set with.
    pub content_type: Option<String>,
}

impl std::fmt::Debug for VaultSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultSecret")
            .field("version", &self.version)
            .field("value", &"<redacted>")
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// What went wrong reading a secret, in the classes a controller acts on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VaultError {
    /// 404: no such secret (or it is disabled or deleted), or no such vault.
    #[error("{code}: {message}")]
    NotFound {
        /// Key Vault's error code (`SecretNotFound`, `VaultNotFound`).
        code: String,
        /// Key Vault's message.
        message: String,
    },
    /// 403: the identity holds no role that lets it read the secret (or the role assignment
    /// has not propagated yet).
    #[error("{code}: {message}")]
    Forbidden {
        /// Key Vault's error code.
        code: String,
        /// Key Vault's message.
        message: String,
    },
    /// The identity could not sign in (Entra refused the assertion, no federated credential
    /// trusts it, the ServiceAccount token could not be had) or Key Vault refused the token.
    #[error("signing in: {message}")]
    Auth {
        /// What happened.
        message: String,
    },
    /// 429: the vault's limit was reached; nothing goes to it until `retry_after` has passed.
    #[error("throttled by Key Vault; retry after {retry_after:?}")]
    Throttled {
        /// How long Key Vault asked to wait.
        retry_after: Duration,
    },
    /// 5xx, timeouts, connection errors.
    #[error("transient: {message}")]
    Transient {
        /// What happened.
        message: String,
    },
    /// Anything else: the request is wrong.
    #[error("{code}: {message}")]
    Other {
        /// HTTP status and Key Vault's code.
        code: String,
        /// Key Vault's message.
        message: String,
    },
}

struct Inner {
    pipeline: Pipeline,
    credential_options: ClientOptions,
    scope: String,
    credentials: Mutex<HashMap<String, Arc<dyn TokenCredential>>>,
    counts: Mutex<BTreeMap<(String, String), u64>>,
    paused_until: Mutex<HashMap<String, Instant>>,
}

/// Reads secrets as workload identities; clones share credentials, pauses and counts.
#[derive(Clone)]
pub struct KeyVaultClient {
    inner: Arc<Inner>,
}

impl KeyVaultClient {
    /// A client for `config`.
    pub fn new(config: KeyVaultConfig) -> Result<Self, ArmError> {
        let (http, credential_options) = crate::client::http_and_sign_in(
            reqwest::ClientBuilder::new().timeout(config.timeout),
            config.ca_bundle_pem.as_deref(),
            config.authority_host.as_deref(),
        )?;
        let options = ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            // A 429 pauses the vault and goes back to the caller; no hidden retries, so every
            // request the vault sees is one azop counted.
            retry: RetryOptions::none(),
            ..Default::default()
        };
        let pipeline = Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            options,
            Vec::new(),
            Vec::new(),
            None,
        );
        Ok(KeyVaultClient {
            inner: Arc::new(Inner {
                pipeline,
                credential_options,
                scope: format!("{}/.default", config.audience.trim_end_matches('/')),
                credentials: Mutex::default(),
                counts: Mutex::default(),
                paused_until: Mutex::default(),
            }),
        })
    }

    /// Requests sent, by `(vault host and name, status)` (`error` when there was no answer).
    pub fn request_counts(&self) -> BTreeMap<(String, String), u64> {
        self.inner
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets the credential kept under `key` (the identity was deleted or changed).
    pub fn forget(&self, key: &str) {
        self.inner
            .credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    fn credential(
        &self,
        key: &str,
        identity: &WorkloadIdentity,
    ) -> Result<Arc<dyn TokenCredential>, VaultError> {
        let mut credentials = self
            .inner
            .credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = credentials.get(key) {
            return Ok(c.clone());
        }
        let credential = CredentialConfig::Federated {
            tenant_id: identity.tenant_id.clone(),
            client_id: identity.client_id.clone(),
            assertion: identity.assertion.clone(),
        }
        .build(self.inner.credential_options.clone())
        .map_err(|e| VaultError::Auth {
            message: e.to_string(),
        })?;
        credentials.insert(key.to_string(), credential.clone());
        Ok(credential)
    }

    /// The current version of secret `name` in the vault at `vault_uri`, read as `identity`
    /// (whose credential is kept under `key`).
    pub async fn get_secret(
        &self,
        key: &str,
        identity: &WorkloadIdentity,
        vault_uri: &str,
        name: &str,
    ) -> Result<VaultSecret, VaultError> {
        let mut url = Url::parse(vault_uri).map_err(|e| VaultError::Other {
            code: "InvalidVaultUri".into(),
            message: format!("{vault_uri} is not a URL: {e}"),
        })?;
        if url.scheme() != "https" {
            return Err(VaultError::Other {
                code: "InvalidVaultUri".into(),
                message: format!("{vault_uri} is not https: a token is never sent in the clear"),
            });
        }
        if !valid_name(name) {
            return Err(VaultError::Other {
                code: "BadParameter".into(),
                message: format!("{name:?} is not a Key Vault secret name"),
            });
        }
        {
            let mut path = url.path().trim_end_matches('/').to_string();
            path.push_str("/secrets/");
            path.push_str(name);
            url.set_path(&path);
        }
        url.query_pairs_mut()
            .append_pair("api-version", KEY_VAULT_API_VERSION);
        let vault = vault_label(vault_uri);
        // A vault that throttled azop is left alone until its Retry-After has passed.
        let paused = self
            .inner
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&vault)
            .copied();
        if let Some(until) = paused {
            let now = Instant::now();
            if until > now {
                return Err(VaultError::Throttled {
                    retry_after: until - now,
                });
            }
        }
        let credential = self.credential(key, identity)?;
        let token = credential
            .get_token(&[self.inner.scope.as_str()], None)
            .await
            .map_err(|e| VaultError::Auth {
                message: e.to_string(),
            })?;
        let mut request = Request::new(url, Method::Get);
        request.insert_header("accept", "application/json");
        request.insert_header("authorization", format!("Bearer {}", token.token.secret()));
        let options = PipelineSendOptions {
            skip_checks: true,
            ..Default::default()
        };
        let answer = self
            .inner
            .pipeline
            .send(&Context::new(), &mut request, Some(options))
            .await;
        let (status, headers, body) = match answer {
            Ok(r) => {
                let (status, headers, body) = r.deconstruct();
                (u16::from(status), headers, body.to_vec())
            }
            Err(e) => {
                self.count(&vault, "error");
                return Err(VaultError::Transient {
                    message: e.to_string(),
                });
            }
        };
        self.count(&vault, &status.to_string());
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let code = json
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let message = json
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match status {
            200 => {
                let value = json["value"].as_str().ok_or_else(|| VaultError::Other {
                    code: "NoValue".into(),
                    message: format!("Key Vault answered secret {name} without a value"),
                })?;
                let version = json["id"]
                    .as_str()
                    .and_then(|id| id.trim_end_matches('/').rsplit('/').next())
                    .unwrap_or_default()
                    .to_string();
                Ok(VaultSecret {
                    version,
                    value: Secret::new(value.to_string()),
                    content_type: json["contentType"].as_str().map(str::to_string),
                })
            }
            404 => Err(VaultError::NotFound { code, message }),
            403 => Err(VaultError::Forbidden { code, message }),
            401 => Err(VaultError::Auth {
                message: format!("Key Vault refused the token: {code}: {message}"),
            }),
            429 => {
                let retry_after =
                    crate::client::retry_after(&headers).unwrap_or(Duration::from_secs(10));
                self.inner
                    .paused_until
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(vault, Instant::now() + retry_after);
                Err(VaultError::Throttled { retry_after })
            }
            408 | 500..=599 => Err(VaultError::Transient {
                message: format!("{status} {code}: {message}"),
            }),
            _ => Err(VaultError::Other {
                code: format!("{status} {code}"),
                message,
            }),
        }
    }

    fn count(&self, vault: &str, status: &str) {
        *self
            .inner
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((vault.to_string(), status.to_string()))
            .or_insert(0) += 1;
    }
}

/// Key Vault's secret names: 1–127 letters, digits and dashes.
fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A vault's name for counts and pauses: the host's first label in Azure
/// (`https://kv1.vault.azure.net/` → `kv1`), the path's last segment behind an emulator
/// (`https://127.0.0.1:8443/keyvault/kv1/` → `kv1`).
pub fn vault_label(vault_uri: &str) -> String {
    let Ok(url) = Url::parse(vault_uri) else {
        return vault_uri.to_string();
    };
    let last = url
        .path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    if !last.is_empty() {
        return last.to_ascii_lowercase();
    }
    url.host_str()
        .and_then(|h| h.split('.').next())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vaults_are_named_by_host_or_path() {
        assert_eq!(vault_label("https://kv1.vault.azure.net/"), "kv1");
        assert_eq!(vault_label("https://127.0.0.1:8443/keyvault/KV-2/"), "kv-2");
    }

    #[test]
    fn debug_never_shows_the_value() {
        let s = VaultSecret {
            version: "abc".into(),
            value: Secret::new("hunter2"),
            content_type: None,
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
