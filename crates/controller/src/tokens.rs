//! ServiceAccount tokens asked of the API server (TokenRequest) as client assertions: how the
//! operator signs in as a profile's identity without a projected token file, and how a
//! KeyVaultBinding reads its vault as the binding's own identity (a token for the
//! FederatedIdentity's ServiceAccount), never with the operator's rights.

use azop_arm::ClientAssertion;
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
