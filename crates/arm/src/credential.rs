//! Credentials, chosen in an explicit order (azure_identity 1.x has no
//! DefaultAzureCredential): workload identity, managed identity, client secret, Azure CLI.

use std::sync::Arc;

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};

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

    /// Builds the credential.
    pub fn build(&self) -> azure_core::Result<Arc<dyn TokenCredential>> {
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
