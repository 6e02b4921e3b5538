//! KeyVaultBinding `spec.sync`: vault secrets copied into a Kubernetes Secret, read as the
//! binding's own identity and never with the operator's rights.
//!
//! - **Sign-in.** A TokenRequest for the FederatedIdentity's ServiceAccount (audience
//!   `api://AzureADTokenExchange`) is the client assertion Entra exchanges for a Key Vault
//!   token. One credential per identity, kept: its token is cached until shortly before expiry,
//!   so Entra and the API server see one request per identity per token lifetime.
//! - **Trust.** The token comes from the cluster azop runs in. An identity that trusts only
//!   another cluster's issuer (a `clusterRef` to a workload cluster, a `url`) gets one more
//!   federated credential, `azop-sync-<namespace>-<serviceAccount>`, for azop's own issuer and
//!   the same subject, while a syncing binding needs it (it counts against Azure's 20 per
//!   identity; the binding's `status.syncCredentialId` shows it); it goes when the last
//!   syncing binding of the identity does.
//! - **Budget.** A refresh reads each listed vault secret once (GET, current version), never
//!   lists. Refreshes come every `refreshInterval` (jittered per binding), when `items` change,
//!   when the Secret went missing or was edited, or when the `azop.dev/sync-requested-at`
//!   annotation takes a new value; otherwise a reconcile reads nothing from the vault.
//! - **The Secret.** Owned by the binding (a controller ownerReference, so Kubernetes deletes
//!   it with the binding) and labelled with its name; written only when its data differs from
//!   what the vault holds. A Secret of that name the binding does not own is never touched
//!   (`Stalled`/`Conflict`). A missing vault secret (`SecretNotFound`), a 403 (`AccessDenied`)
//!   or a throttled vault leaves the last Secret as it is.
//! - **Secrecy.** Values are held as `azure_core::credentials::Secret` (whose `Debug` redacts)
//!   until they become the Secret's data; messages, Events and status name secrets and
//!   versions only.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use azop_api::conditions::Reason;
use azop_api::{FederatedIdentity, KeyVault, KeyVaultBinding, KeyVaultBindingStatus};
use azop_arm::resources::FederatedIdentityCredential;
use azop_arm::{VaultError, WorkloadIdentity};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::Value;

use crate::azure::AzureError;
use crate::engine::{self, Context, ReconcileError};
use crate::kinds::federated_identity::{
    API_VERSION, MAX_CREDENTIALS, azure_credential_name, credentials_of, subject,
};
use crate::kinds::key_vault_binding::BindingContext;
use crate::tokens::{ServiceAccountToken, TOKEN_EXCHANGE_AUDIENCE};

/// Setting this annotation on a binding to a new value forces a refresh now.
pub const SYNC_REQUEST_ANNOTATION: &str = "azop.dev/sync-requested-at";
/// The label on a synced Secret naming the binding that owns it.
pub const BINDING_LABEL: &str = "azop.dev/key-vault-binding";
/// The prefix of the federated credentials azop adds for its own issuer.
const SYNC_CREDENTIAL_PREFIX: &str = "azop-sync-";

/// What a sync pass did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Until the next refresh is due (`None`: only when the spec or the annotation changes,
    /// `refreshInterval: 0`, or no sync at all).
    pub next: Option<Duration>,
    /// Whether this pass read the vault.
    pub refreshed: bool,
}

/// The sync fields of each binding's last written status, by uid (see
/// `BindingContext::last_sync`).
#[derive(Default)]
pub struct SyncMemory(std::sync::Mutex<std::collections::HashMap<String, KeyVaultBindingStatus>>);

impl SyncMemory {
    /// Records the sync fields of the status just written for `binding`.
    pub fn remember(&self, binding: &KeyVaultBinding, status: &KeyVaultBindingStatus) {
        let Some(uid) = binding.metadata.uid.clone() else {
            return;
        };
        let kept = KeyVaultBindingStatus {
            synced_versions: status.synced_versions.clone(),
            last_sync_time: status.last_sync_time.clone(),
            secret_name: status.secret_name.clone(),
            last_handled_sync_request: status.last_handled_sync_request.clone(),
            sync_credential_id: status.sync_credential_id.clone(),
            ..KeyVaultBindingStatus::default()
        };
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(uid, kept);
    }

    /// Puts back into `status` what this process wrote last, when the status read from the
    /// store is older (its last sync earlier, or none).
    pub fn recall(&self, binding: &KeyVaultBinding, status: &mut KeyVaultBindingStatus) {
        let Some(uid) = binding.metadata.uid.as_deref() else {
            return;
        };
        let memory = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(kept) = memory.get(uid) else {
            return;
        };
        let newer = match (&kept.last_sync_time, &status.last_sync_time) {
            (Some(k), Some(s)) => k.0 > s.0,
            (Some(_), None) => true,
            _ => false,
        };
        if newer {
            status.synced_versions = kept.synced_versions.clone();
            status.last_sync_time = kept.last_sync_time.clone();
            status.secret_name = kept.secret_name.clone();
            status.last_handled_sync_request = kept.last_handled_sync_request.clone();
            status.sync_credential_id = kept.sync_credential_id.clone();
        }
    }

    /// Forgets a deleted binding.
    pub fn forget(&self, binding: &KeyVaultBinding) {
        if let Some(uid) = binding.metadata.uid.as_deref() {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(uid);
        }
    }
}

/// Parses a Go duration (`1h`, `15m`, `1h30m`, `1.5h`, `500ms`, `0s`), as the CRD's pattern
/// admits them.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else if rest.starts_with('s') {
            (1.0, 1)
        } else if rest.starts_with('m') {
            (60.0, 1)
        } else if rest.starts_with('h') {
            (3600.0, 1)
        } else {
            return None;
        };
        total += number * unit;
        rest = &rest[len..];
    }
    Duration::try_from_secs_f64(total).ok()
}

/// The refresh interval of one binding: `refreshInterval` less a per-binding share of up to
/// 10% (a hash of its uid), so a thousand bindings created together do not refresh together.
/// `None` for `0`: sync once.
pub fn refresh_interval(binding: &KeyVaultBinding) -> Option<Duration> {
    let sync = binding.spec.sync.as_ref()?;
    let base = parse_duration(&sync.refresh_interval).unwrap_or(Duration::from_secs(3600));
    if base.is_zero() {
        return None;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    binding.metadata.uid.hash(&mut h);
    let share = (h.finish() % 1000) as f64 / 10_000.0;
    Some(base.mul_f64(1.0 - share))
}

/// The federated credential azop adds to identity `fi` for its own issuer.
fn sync_credential_name(fi: &FederatedIdentity) -> String {
    azure_credential_name(format!(
        "{SYNC_CREDENTIAL_PREFIX}{}-{}",
        fi.namespace().unwrap_or_default(),
        fi.spec.service_account.name
    ))
}

/// Whether a binding syncs with identity `ns/name` and is not going away.
fn syncs_with(b: &KeyVaultBinding, ns: &str, name: &str) -> bool {
    b.spec.sync.is_some()
        && b.metadata.deletion_timestamp.is_none()
        && b.namespace().as_deref() == Some(ns)
        && b.spec.identity_ref.name == name
        && !b
            .status
            .as_ref()
            .is_some_and(|s| azop_api::conditions::denied_by_policy(&s.basic.conditions))
}

/// Makes sure identity `fi` trusts azop's own issuer for its subject; the id of the
/// credential azop added, if it added one.
async fn ensure_trust(
    fi: &FederatedIdentity,
    ctx: &Context,
) -> Result<Option<String>, ReconcileError> {
    let Some(own_issuer) = ctx.config.self_issuer_url.clone() else {
        // Without a known issuer, the identity's own credential is all there is to try.
        return Ok(None);
    };
    let status = fi.status.clone().unwrap_or_default();
    if status
        .issuer_url
        .as_deref()
        .is_some_and(|u| u.trim_end_matches('/') == own_issuer.trim_end_matches('/'))
    {
        return Ok(None);
    }
    let Some(identity_id) = status.azure.resource_id.clone() else {
        return Err(ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!(
                "FederatedIdentity {}/{} has no resource id yet",
                fi.namespace().unwrap_or_default(),
                fi.name_any()
            ),
        });
    };
    let subject = subject(fi);
    let id = format!(
        "{identity_id}/federatedIdentityCredentials/{}",
        sync_credential_name(fi)
    );
    let azure = engine::azure_for_namespace(ctx, &fi.namespace().unwrap_or_default())?;
    let trusts = |c: &Value| trusts_for(c, &own_issuer, &subject);
    if let Some(c) = azure.get(&id, API_VERSION).await?
        && trusts(&c)
    {
        return Ok(Some(id));
    }
    // Azure refuses concurrent credential writes on one identity: the identity's own
    // reconcile takes the same lock.
    let lock = ctx.write_lock(&identity_id);
    let _guard = lock.lock().await;
    let list = credentials_of(azure.as_ref(), &identity_id).await?;
    if list.iter().any(trusts) {
        // Someone already trusts azop's issuer for this subject: nothing of azop's to add.
        return Ok(None);
    }
    if list.len() >= MAX_CREDENTIALS {
        return Err(ReconcileError::Stalled {
            reason: Reason::QuotaExceeded,
            message: format!(
                "secret sync needs a federated credential on {identity_id} for the issuer of the cluster azop runs in ({own_issuer}), and the identity already has Azure's maximum of {MAX_CREDENTIALS}"
            ),
        });
    }
    let body = FederatedIdentityCredential {
        properties: Some(azop_arm::resources::FederatedIdentityCredentialProperties {
            issuer: Some(own_issuer),
            subject: Some(subject),
            audiences: Some(vec![TOKEN_EXCHANGE_AUDIENCE.to_string()]),
            ..Default::default()
        }),
        ..FederatedIdentityCredential::default()
    };
    azure
        .put(&id, API_VERSION, &serde_json::to_value(body)?)
        .await?;
    Ok(Some(id))
}

/// Whether federated credential `c` trusts `issuer` for `subject`.
fn trusts_for(c: &Value, issuer: &str, subject: &str) -> bool {
    c.pointer("/properties/issuer")
        .and_then(Value::as_str)
        .is_some_and(|i| i.trim_end_matches('/') == issuer.trim_end_matches('/'))
        && c.pointer("/properties/subject").and_then(Value::as_str) == Some(subject)
}

/// Deletes the credential azop added for its own issuer when no other syncing binding of the
/// identity needs it.
pub async fn release_trust(
    binding: &KeyVaultBinding,
    bctx: &BindingContext,
    status: &mut KeyVaultBindingStatus,
) -> Result<(), ReconcileError> {
    let id = match status.sync_credential_id.clone() {
        Some(id) => id,
        None => match unrecorded_trust(binding, &bctx.ctx).await? {
            Some(id) => id,
            None => return Ok(()),
        },
    };
    let ns = binding.namespace().unwrap_or_default();
    let name = &binding.spec.identity_ref.name;
    let needed = bctx.sharers_of(binding).await?.iter().any(|b| {
        b.metadata.uid != binding.metadata.uid
            && syncs_with(b, &ns, name)
            && b.status
                .as_ref()
                .is_none_or(|s| s.sync_credential_id.as_deref().is_none_or(|o| o == id))
    });
    let ours = id
        .rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with(SYNC_CREDENTIAL_PREFIX));
    if !needed && ours {
        let azure = engine::azure_for_namespace(&bctx.ctx, &ns)?;
        let identity_id = id
            .rsplit_once("/federatedIdentityCredentials/")
            .map(|(i, _)| i.to_string())
            .unwrap_or_default();
        let lock = bctx.ctx.write_lock(&identity_id);
        let _guard = lock.lock().await;
        match azure.delete(&id, API_VERSION).await {
            Ok(_) | Err(AzureError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    status.sync_credential_id = None;
    Ok(())
}

/// The credential azop adds for its own issuer, when the binding syncs and its status never
/// recorded one (a pass cut short between the credential's PUT and the status write): found
/// by its name and trusted only if it trusts azop's issuer for the identity's subject, as
/// azop makes it. One read, and only for a syncing binding going away without a record.
async fn unrecorded_trust(
    binding: &KeyVaultBinding,
    ctx: &Context,
) -> Result<Option<String>, ReconcileError> {
    let Some(own_issuer) = ctx.config.self_issuer_url.clone() else {
        return Ok(None);
    };
    if binding.spec.sync.is_none() {
        return Ok(None);
    }
    let ns = binding.namespace().unwrap_or_default();
    let Some(fi) = ctx
        .stores
        .find::<FederatedIdentity>(&ns, &binding.spec.identity_ref.name)
        .await?
    else {
        return Ok(None);
    };
    let Some(identity_id) = fi.status.as_ref().and_then(|s| s.azure.resource_id.clone()) else {
        return Ok(None);
    };
    let id = format!(
        "{identity_id}/federatedIdentityCredentials/{}",
        sync_credential_name(&fi)
    );
    let azure = engine::azure_for_namespace(ctx, &ns)?;
    let made_by_azop = azure
        .get(&id, API_VERSION)
        .await?
        .is_some_and(|c| trusts_for(&c, &own_issuer, &subject(&fi)));
    Ok(made_by_azop.then_some(id))
}

/// What the Secret should hold, from what the vault answered.
fn secret_data(
    binding: &KeyVaultBinding,
    values: &BTreeMap<String, azop_arm::VaultSecret>,
) -> BTreeMap<String, ByteString> {
    let Some(sync) = &binding.spec.sync else {
        return BTreeMap::new();
    };
    sync.items
        .iter()
        .filter_map(|i| {
            values.get(&i.vault_secret).map(|v| {
                (
                    i.key.clone(),
                    ByteString(v.value.secret().as_bytes().to_vec()),
                )
            })
        })
        .collect()
}

/// Whether `secret` is the binding's (its controller ownerReference names the binding's uid).
fn owned_by(secret: &Secret, binding: &KeyVaultBinding) -> bool {
    secret
        .owner_references()
        .iter()
        .any(|o| Some(&o.uid) == binding.metadata.uid.as_ref() && o.kind == "KeyVaultBinding")
}

fn conflict(ns: &str, name: &str, binding: &KeyVaultBinding) -> ReconcileError {
    ReconcileError::Stalled {
        reason: Reason::Conflict,
        message: format!(
            "Secret {ns}/{name} exists and is not owned by KeyVaultBinding {ns}/{}: azop never overwrites it; delete it or choose another spec.sync.secretName",
            binding.name_any()
        ),
    }
}

/// The vault error as the binding's condition; the last Secret stays as it is.
fn vault_failure(error: VaultError, secret: &str, vault: &str, identity: &str) -> ReconcileError {
    match error {
        VaultError::NotFound { code, message } => ReconcileError::Waiting {
            reason: Reason::SecretNotFound,
            message: format!(
                "vault {vault} has no secret {secret} ({code}: {message}); the Secret keeps its last values"
            ),
        },
        VaultError::Forbidden { code, message } => ReconcileError::Waiting {
            reason: Reason::AccessDenied,
            message: format!(
                "Key Vault refused identity {identity} secret {secret} of vault {vault} ({code}: {message}); a new role assignment can take minutes to apply; the Secret keeps its last values"
            ),
        },
        VaultError::Throttled { retry_after } => {
            ReconcileError::Azure(AzureError::Throttled { retry_after })
        }
        VaultError::Transient { message } => {
            ReconcileError::Azure(AzureError::Transient { message })
        }
        VaultError::Auth { message } => ReconcileError::Azure(AzureError::Auth {
            message: format!("identity {identity} could not sign in to Key Vault: {message}"),
        }),
        VaultError::Other { code, message } => ReconcileError::Azure(AzureError::Terminal {
            code,
            message: format!("reading secret {secret} of vault {vault}: {message}"),
        }),
    }
}

/// One sync pass: refreshes the Secret when due. `status` carries what the binding recorded
/// and receives what this pass did.
pub async fn sync_secret(
    binding: &KeyVaultBinding,
    bctx: &BindingContext,
    status: &mut KeyVaultBindingStatus,
) -> Result<Outcome, ReconcileError> {
    let ctx = &bctx.ctx;
    let Some(sync) = &binding.spec.sync else {
        return Ok(Outcome {
            next: None,
            refreshed: false,
        });
    };
    let ns = binding.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    // A Secret of another name than last time: the old one goes (it is the binding's).
    if let Some(old) = status.secret_name.clone()
        && old != sync.secret_name
    {
        if let Some(s) = secrets.get_opt(&old).await?
            && owned_by(&s, binding)
        {
            secrets.delete(&old, &DeleteParams::default()).await?;
        }
        status.secret_name = None;
        status.synced_versions.clear();
    }
    // Someone else's Secret of that name is never touched, and not worth a vault read.
    let existing = secrets.get_opt(&sync.secret_name).await?;
    if let Some(s) = &existing
        && !owned_by(s, binding)
    {
        return Err(conflict(&ns, &sync.secret_name, binding));
    }

    let items: BTreeSet<&str> = sync.items.iter().map(|i| i.vault_secret.as_str()).collect();
    let keys: BTreeSet<&str> = sync.items.iter().map(|i| i.key.as_str()).collect();
    let requested = binding.annotations().get(SYNC_REQUEST_ANNOTATION).cloned();
    let interval = refresh_interval(binding);
    let since_last = status.last_sync_time.as_ref().map(|t| {
        let elapsed = engine::now().0.as_millisecond() - t.0.as_millisecond();
        Duration::from_millis(elapsed.max(0) as u64)
    });
    let secret_intact = existing.as_ref().is_some_and(|s| {
        let data = s.data.clone().unwrap_or_default();
        data.len() == keys.len() && keys.iter().all(|k| data.contains_key(*k))
    });
    let versions_cover = status.synced_versions.len() == items.len()
        && items
            .iter()
            .all(|i| status.synced_versions.contains_key(*i));
    let due_by_time = match (interval, since_last) {
        (_, None) => true,
        (Some(interval), Some(since)) => since >= interval,
        (None, Some(_)) => false,
    };
    let due = due_by_time
        || !secret_intact
        || !versions_cover
        || status.secret_name.as_deref() != Some(sync.secret_name.as_str())
        || (requested.is_some() && requested != status.last_handled_sync_request);
    if !due {
        let next = match (interval, since_last) {
            (Some(i), Some(s)) => Some(i.saturating_sub(s)),
            _ => None,
        };
        return Ok(Outcome {
            next,
            refreshed: false,
        });
    }

    // Sign in as the binding's identity.
    let fi =
        crate::references::ready::<FederatedIdentity>(ctx, &ns, &binding.spec.identity_ref.name)
            .await?;
    let fi_status = fi.status.clone().unwrap_or_default();
    let identity_label = format!("{ns}/{}", fi.name_any());
    let (Some(client_id), Some(tenant_id)) =
        (fi_status.client_id.clone(), fi_status.tenant_id.clone())
    else {
        return Err(ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!("FederatedIdentity {identity_label} has no clientId or tenantId yet"),
        });
    };
    let vref = &binding.spec.vault_ref;
    let vns = vref.namespace.clone().unwrap_or_else(|| ns.clone());
    let vault = crate::references::ready::<KeyVault>(ctx, &vns, &vref.name).await?;
    let Some(vault_uri) = vault.status.as_ref().and_then(|s| s.vault_uri.clone()) else {
        return Err(ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!("KeyVault {vns}/{} has no vaultUri yet", vref.name),
        });
    };
    let Some(key_vault) = ctx.key_vault.clone() else {
        return Err(ReconcileError::Azure(AzureError::Configuration {
            message: "this operator has no Key Vault client: secret sync is off".to_string(),
        }));
    };
    let added = ensure_trust(&fi, ctx).await?;
    if added.is_some() {
        status.sync_credential_id = added;
    }
    let identity = WorkloadIdentity {
        tenant_id,
        client_id: client_id.clone(),
        assertion: Arc::new(ServiceAccountToken {
            client: ctx.client.clone(),
            namespace: ns.clone(),
            name: fi.spec.service_account.name.clone(),
        }),
    };
    // One credential per identity (and per client id, should the identity be recreated).
    let key = format!("{ns}/{}/{client_id}", fi.name_any());
    let mut values = BTreeMap::new();
    for item in &items {
        let secret = key_vault
            .get_secret(&key, &identity, &vault_uri, item)
            .await
            .map_err(|e| vault_failure(e, item, &vref.name, &identity_label))?;
        values.insert(item.to_string(), secret);
    }

    // Write the Secret only when its data differs.
    let data = secret_data(binding, &values);
    let written = match existing {
        Some(mut s) => {
            if s.data.as_ref() != Some(&data) {
                s.data = Some(data);
                s.string_data = None;
                secrets
                    .replace(&sync.secret_name, &PostParams::default(), &s)
                    .await?;
                true
            } else {
                false
            }
        }
        None => {
            let owner =
                binding
                    .controller_owner_ref(&())
                    .ok_or_else(|| ReconcileError::Stalled {
                        reason: Reason::InvalidObject,
                        message: "the binding has no uid to own a Secret with".to_string(),
                    })?;
            let s = Secret {
                metadata: ObjectMeta {
                    name: Some(sync.secret_name.clone()),
                    namespace: Some(ns.clone()),
                    labels: Some(BTreeMap::from([
                        (BINDING_LABEL.to_string(), binding.name_any()),
                        (
                            "app.kubernetes.io/managed-by".to_string(),
                            "azop".to_string(),
                        ),
                    ])),
                    owner_references: Some(vec![owner]),
                    ..ObjectMeta::default()
                },
                type_: Some("Opaque".to_string()),
                data: Some(data),
                ..Secret::default()
            };
            match secrets.create(&PostParams::default(), &s).await {
                Ok(_) => {}
                // Created by someone else since the read: theirs, not the binding's.
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    return Err(conflict(&ns, &sync.secret_name, binding));
                }
                Err(e) => return Err(e.into()),
            }
            true
        }
    };
    let versions: BTreeMap<String, String> = values
        .iter()
        .map(|(k, v)| (k.clone(), v.version.clone()))
        .collect();
    if written || versions != status.synced_versions {
        tracing::info!(
            binding = %format!("{ns}/{}", binding.name_any()),
            secret = %sync.secret_name,
            written,
            items = versions.len(),
            "secret sync refreshed"
        );
    }
    status.synced_versions = versions;
    status.secret_name = Some(sync.secret_name.clone());
    status.last_sync_time = Some(engine::now());
    status.last_handled_sync_request = requested;
    Ok(Outcome {
        next: interval,
        refreshed: true,
    })
}

/// `spec.sync` was removed (or the binding is going): the Secret goes if it is the binding's,
/// and with it what the status recorded of it.
pub async fn stop_sync(
    binding: &KeyVaultBinding,
    bctx: &BindingContext,
    status: &mut KeyVaultBindingStatus,
) -> Result<(), ReconcileError> {
    if let Some(name) = status.secret_name.clone() {
        let ns = binding.namespace().unwrap_or_default();
        let secrets: Api<Secret> = Api::namespaced(bctx.ctx.client.clone(), &ns);
        if let Some(s) = secrets.get_opt(&name).await?
            && owned_by(&s, binding)
        {
            secrets.delete(&name, &DeleteParams::default()).await?;
        }
    }
    release_trust(binding, bctx, status).await?;
    status.secret_name = None;
    status.synced_versions.clear();
    status.last_sync_time = None;
    status.last_handled_sync_request = None;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("5d"), None);
    }

    #[test]
    fn refresh_is_jittered_down_by_at_most_a_tenth() {
        let mut b = KeyVaultBinding::new(
            "b",
            serde_json::from_value(serde_json::json!({
                "vaultRef": {"name": "kv"}, "identityRef": {"name": "id"}, "role": "SecretsUser",
                "sync": {"secretName": "s", "refreshInterval": "1h", "items": [{"key": "k", "vaultSecret": "v"}]}
            }))
            .unwrap(),
        );
        b.metadata.uid = Some("1234".into());
        let i = refresh_interval(&b).unwrap();
        assert!(i <= Duration::from_secs(3600) && i >= Duration::from_secs(3240));
        b.spec.sync.as_mut().unwrap().refresh_interval = "0s".into();
        assert_eq!(refresh_interval(&b), None);
    }
}
