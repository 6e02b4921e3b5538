//! Per-profile credentials: the operator signs in as each AzureProfile's workload identity
//! with its own ServiceAccount token as the assertion (Entra's federated credential on that
//! identity trusts the operator's ServiceAccount), as Azure Service Operator does per
//! namespace. One ARM client per identity; each caches its access token until shortly before
//! it expires (azure_identity's token cache) and keeps its own rate limits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use azop_arm::{ArmClient, ArmConfig, ClientAssertion, CredentialConfig};
use azop_controller::azure::{Azure, AzureError};
use azop_controller::engine::Identities;
use azure_core::http::ClientMethodOptions;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;

/// The audience Entra expects of a federated assertion.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// A ServiceAccount token asked of the API server (TokenRequest), for an operator that has no
/// projected token file (`azop dev`, or `azop run` outside a cluster).
#[derive(Clone)]
pub struct ServiceAccountToken {
    /// The client for the API server.
    pub client: kube::Client,
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub name: String,
}

impl std::fmt::Debug for ServiceAccountToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServiceAccountToken({}/{})", self.namespace, self.name)
    }
}

#[async_trait::async_trait]
impl ClientAssertion for ServiceAccountToken {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        let api: kube::Api<ServiceAccount> =
            kube::Api::namespaced(self.client.clone(), &self.namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![TOKEN_EXCHANGE_AUDIENCE.to_string()],
                expiration_seconds: Some(3600),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        let answer = api
            .create_token_request(&self.name, &PostParams::default(), &request)
            .await
            .map_err(|e| {
                azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    format!(
                        "requesting a token for ServiceAccount {}/{}: {e}",
                        self.namespace, self.name
                    ),
                )
            })?;
        answer
            .status
            .map(|s| s.token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    "the API server answered a TokenRequest without a token",
                )
            })
    }
}

/// Makes an ARM client per profile identity from the operator's own ARM settings.
pub struct ArmIdentities {
    /// The operator's ARM settings (endpoint, CA, authority host, limits); the credential is
    /// replaced per identity.
    pub base: ArmConfig,
    /// The operator's ServiceAccount token.
    pub assertion: Arc<dyn ClientAssertion>,
    /// The clients made so far, for their request counts.
    made: Mutex<Vec<ArmClient>>,
}

impl ArmIdentities {
    /// Identities signed in from `base` with the operator's `assertion`.
    pub fn new(base: ArmConfig, assertion: Arc<dyn ClientAssertion>) -> Self {
        ArmIdentities {
            base,
            assertion,
            made: Mutex::default(),
        }
    }
}

impl Identities for ArmIdentities {
    fn azure_as(&self, tenant_id: &str, client_id: &str) -> Result<Arc<dyn Azure>, AzureError> {
        let config = ArmConfig {
            credential: CredentialConfig::Federated {
                tenant_id: tenant_id.to_string(),
                client_id: client_id.to_string(),
                assertion: self.assertion.clone(),
            },
            ..self.base.clone()
        };
        tracing::info!(
            tenant_id,
            client_id,
            "signing in as an AzureProfile's identity"
        );
        let client = ArmClient::new(config)?;
        self.made
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(client.clone());
        Ok(Arc::new(client))
    }

    fn request_counts(&self) -> (BTreeMap<String, u64>, u64) {
        let mut counts = BTreeMap::new();
        let mut waits = 0;
        for client in self
            .made
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            for (k, n) in client.request_counts() {
                *counts.entry(k).or_insert(0) += n;
            }
            waits += client.throttled_waits();
        }
        (counts, waits)
    }
}
