//! Credentials, chosen in an explicit order (azure_identity 1.x has no
//! DefaultAzureCredential): workload identity, managed identity, client secret, Azure CLI.

use std::path::PathBuf;
use std::sync::Arc;

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientMethodOptions, ClientOptions};
/// Supplies the assertion of a federated sign-in: a Kubernetes ServiceAccount token.
pub use azure_identity::ClientAssertion;

/// Which credential to use.
#[derive(Debug, Clone)]
pub enum CredentialConfig {
    /// Workload identity from `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
    /// `AZURE_FEDERATED_TOKEN_FILE`, as the Azure Workload Identity webhook injects them.
    WorkloadIdentity,
    /// The managed identity of the host (optionally a user-assigned one by client id).
    ManagedIdentity {
        /// A user-assigned identity's client id.
        client_id: Option<String>,
    },
    /// A service principal's client secret.
    ClientSecret {
        /// Tenant.
        tenant_id: String,
        /// Client id.
        client_id: String,
        /// Secret (never logged).
        secret: String,
    },
    /// The Azure CLI's signed-in account (a laptop).
    AzureCli,
    /// A fixed token (tests against the arm-emulator, which accepts any bearer token).
    Static(String),
    /// A workload identity by client id, signed in with the assertions `assertion` supplies
    /// (the operator's own ServiceAccount token): how one operator acts as each AzureProfile's
    /// identity, as Azure Service Operator does per namespace. Entra is reached at the
    /// ARM client's `authority_host` through its transport (so a test CA is trusted).
    Federated {
        /// The identity's tenant.
        tenant_id: String,
        /// The identity's client (application) id.
        client_id: String,
        /// Where the ServiceAccount token comes from.
        assertion: Arc<dyn ClientAssertion>,
    },
}

/// A ServiceAccount token projected into a file (the kubelet rotates it), read at each sign-in.
#[derive(Debug, Clone)]
pub struct TokenFile(pub PathBuf);

#[async_trait::async_trait]
impl ClientAssertion for TokenFile {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        let token = tokio::fs::read_to_string(&self.0).await.map_err(|e| {
            azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                format!("reading the federated token file {}: {e}", self.0.display()),
            )
        })?;
        Ok(token.trim().to_string())
    }
}

/// A shared assertion source, as `ClientAssertionCredential` takes one by value.
#[derive(Debug)]
struct SharedAssertion(Arc<dyn ClientAssertion>);

#[async_trait::async_trait]
impl ClientAssertion for SharedAssertion {
    async fn secret(&self, options: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        self.0.secret(options).await
    }
}

impl CredentialConfig {
    /// Workload identity when its variables are set, else managed identity when
    /// `AZURE_CLIENT_SECRET` is unset, else a client secret, else the Azure CLI.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if var("AZURE_FEDERATED_TOKEN_FILE").is_some() && var("AZURE_CLIENT_ID").is_some() {
            return CredentialConfig::WorkloadIdentity;
        }
        if let (Some(t), Some(c), Some(s)) = (
            var("AZURE_TENANT_ID"),
            var("AZURE_CLIENT_ID"),
            var("AZURE_CLIENT_SECRET"),
        ) {
            return CredentialConfig::ClientSecret {
                tenant_id: t,
                client_id: c,
                secret: s,
            };
        }
        if var("IDENTITY_ENDPOINT").is_some() || var("MSI_ENDPOINT").is_some() {
            return CredentialConfig::ManagedIdentity {
                client_id: var("AZURE_CLIENT_ID"),
            };
        }
        CredentialConfig::AzureCli
    }

    /// Builds the credential. `client_options` carry the transport and cloud (authority host)
    /// for the credentials that sign in at Entra themselves.
    pub fn build(
        &self,
        client_options: ClientOptions,
    ) -> azure_core::Result<Arc<dyn TokenCredential>> {
        Ok(match self {
            CredentialConfig::WorkloadIdentity => {
                azure_identity::WorkloadIdentityCredential::new(None)?
            }
            CredentialConfig::ManagedIdentity { client_id } => {
                let options = azure_identity::ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id
                        .clone()
                        .map(azure_identity::UserAssignedId::ClientId),
                    ..Default::default()
                };
                azure_identity::ManagedIdentityCredential::new(Some(options))?
            }
            CredentialConfig::ClientSecret {
                tenant_id,
                client_id,
                secret,
            } => azure_identity::ClientSecretCredential::new(
                tenant_id,
                client_id.clone(),
                Secret::new(secret.clone()),
                None,
            )?,
            CredentialConfig::AzureCli => azure_identity::AzureCliCredential::new(None)?,
            CredentialConfig::Static(token) => Arc::new(StaticTokenCredential(token.clone())),
            CredentialConfig::Federated {
                tenant_id,
                client_id,
                assertion,
            } => azure_identity::ClientAssertionCredential::new(
                tenant_id.clone(),
                client_id.clone(),
                SharedAssertion(assertion.clone()),
                Some(azure_identity::ClientAssertionCredentialOptions { client_options }),
            )?,
        })
    }
}

/// A credential that always answers the same token.
pub struct StaticTokenCredential(pub String);

impl std::fmt::Debug for StaticTokenCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticTokenCredential")
    }
}

#[async_trait::async_trait]
impl TokenCredential for StaticTokenCredential {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let expires =
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1);
        Ok(AccessToken::new(Secret::new(self.0.clone()), expires))
    }
}
