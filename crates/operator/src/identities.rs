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
