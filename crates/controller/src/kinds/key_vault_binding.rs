//! KeyVaultBinding → role assignments on a vault (or on some of its secrets) for one of the
//! namespace's FederatedIdentities.
//!
//! A binding has no Azure resource of its own: what it holds are role assignments, and two
//! bindings that need the same one (same scope, principal and role) share it. So it is not an
//! [`AzureKind`](crate::engine::AzureKind) with a main resource; its reconcile is here:
//!
//! 1. The gate, before any Azure request: the binding's namespace's profile allows
//!    KeyVaultBinding; the vault's `bindingPolicy` selects the namespace and allows the role
//!    (`Stalled PolicyDenied` otherwise); the vault and the identity are Ready
//!    (`WaitingForDependency` until they are).
//! 2. The assignments, written with the credential of the vault's own profile (the
//!    platform's): a tenant's identity never needs rights on a platform vault. Deterministic
//!    names (a v5 UUID of scope, principal and role), `principalType: ServicePrincipal`, azop's
//!    shared binding mark in the description; `PrincipalNotFound` is `WaitingForPrincipal`.
//!    One that exists is not written again, whoever made it.
//! 3. An assignment the binding no longer needs (a secret dropped from `spec.secrets`, the
//!    binding deleted) is deleted only when it carries azop's binding mark and no other
//!    binding still needs it.
//! 4. With `spec.sync`, the listed vault secrets are copied into a Secret the binding owns,
//!    read as the binding's own identity ([`binding_sync`](crate::kinds::binding_sync)).
//!    `Ready` means the assignments are in place and, with `spec.sync`, the Secret holds the
//!    vault's current versions (`Synced=True`).

use std::sync::Arc;
use std::time::Duration;

use azop_api::azure_resource::{AzureBacked, DeletionPolicy};
use azop_api::conditions::{Conditions, Reason, SYNCED, Status};
use azop_api::profile::AzopKind;
use azop_api::{FederatedIdentity, KeyVault, KeyVaultBinding, KeyVaultBindingStatus};
use azop_arm::resources::role_assignment::API_VERSION;
use kube::core::{DeserializeGuard, SelectorExt};
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};

use crate::azure::{Azure, AzureError};
use crate::engine::{self, Context, ReconcileError, jittered};
use crate::kinds::binding_sync;
use crate::kinds::role_assignment::assignment_name;
use crate::policy::{self, Request, RoleAsked};
use crate::references;

/// The description mark of the assignments bindings make: shared by every binding of this
/// management cluster, since two bindings may need the same assignment.
pub fn binding_mark(cluster_id: &str) -> String {
    format!("azop.dev/owner={cluster_id}/KeyVaultBinding")
}

/// What a binding's reconcile shares: the engine's context and every binding, for the
/// assignments two bindings share.
pub struct BindingContext {
    /// The engine's context (clients, stores, profiles, config).
    pub ctx: Arc<Context>,
    /// All KeyVaultBindings.
    pub bindings: Store<DeserializeGuard<KeyVaultBinding>>,
    /// What each binding's last sync recorded, by uid: the store can lag behind the status
    /// this process just wrote (the Secret's own watch event may wake the binding first), and
    /// a stale status must not cost a second round of vault reads.
    pub last_sync: binding_sync::SyncMemory,
    /// When each binding's assignments were last found in Azure, and principals Entra does
    /// not know yet.
    pub verified: Verified,
}

/// A binding's generation and assignment ids last found in Azure, and when.
type Checked = (i64, Vec<String>, std::time::Instant);

/// What the binding controller remembers of Azure between reconciles, to spare ARM reads
/// and writes that would answer what it already knows.
#[derive(Default)]
pub struct Verified {
    /// By binding uid: the generation and assignment ids last found in Azure, and when.
    assignments: std::sync::Mutex<std::collections::HashMap<String, Checked>>,
    /// By principal id: until when Entra is assumed not to know it (`PrincipalNotFound`).
    unknown_principals: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl Verified {
    fn recent(&self, binding: &KeyVaultBinding, ids: &[String], period: Duration) -> bool {
        let Some(uid) = binding.metadata.uid.as_deref() else {
            return false;
        };
        self.assignments
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(uid)
            .is_some_and(|(generation, known, at)| {
                Some(*generation) == binding.metadata.generation
                    && known == ids
                    && at.elapsed() < period
            })
    }

    fn record(&self, binding: &KeyVaultBinding, ids: Vec<String>) {
        if let (Some(uid), Some(generation)) =
            (binding.metadata.uid.clone(), binding.metadata.generation)
        {
            self.assignments
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(uid, (generation, ids, std::time::Instant::now()));
        }
    }

    /// Forgets a binding (deleted, or its access revoked).
    pub fn forget(&self, binding: &KeyVaultBinding) {
        if let Some(uid) = binding.metadata.uid.as_deref() {
            self.assignments
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(uid);
        }
    }

    fn principal_unknown(&self, principal: &str, wait: Duration) {
        self.unknown_principals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(principal.to_string(), std::time::Instant::now() + wait);
    }

    fn principal_pending(&self, principal: &str) -> Option<Duration> {
        let now = std::time::Instant::now();
        let mut map = self
            .unknown_principals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(principal) {
            Some(until) if *until > now => Some(*until - now),
            Some(_) => {
                map.remove(principal);
                None
            }
            None => None,
        }
    }
}

impl BindingContext {
    /// A context over the engine's `ctx` and the bindings' store.
    pub fn new(ctx: Arc<Context>, bindings: Store<DeserializeGuard<KeyVaultBinding>>) -> Self {
        BindingContext {
            ctx,
            bindings,
            last_sync: binding_sync::SyncMemory::default(),
            verified: Verified::default(),
        }
    }

    /// The bindings that may share what `binding` holds (an assignment, sync's federated
    /// credential): every binding in the store; when this operator runs one shard, the
    /// bindings of `binding`'s namespace as the API server holds them, since the other shards'
    /// bindings are not in the store. Sharing needs the same identity, and an identity
    /// (a FederatedIdentity azop manages) belongs to its binding's namespace, so none is missed.
    pub async fn sharers_of(
        &self,
        binding: &KeyVaultBinding,
    ) -> Result<Vec<Arc<KeyVaultBinding>>, ReconcileError> {
        if !self.ctx.stores.is_one_shard() {
            return Ok(self
                .bindings
                .state()
                .iter()
                .filter_map(|b| b.0.as_ref().ok().map(|b| Arc::new(b.clone())))
                .collect());
        }
        let ns = binding.namespace().unwrap_or_default();
        let api: Api<KeyVaultBinding> = Api::namespaced(self.ctx.client.clone(), &ns);
        let listed = api.list(&kube::api::ListParams::default()).await?;
        Ok(listed.items.into_iter().map(Arc::new).collect())
    }
}

/// The role assignments a binding needs, by full ARM id, with their bodies.
pub fn wanted_assignments(
    binding: &KeyVaultBinding,
    vault_id: &str,
    principal_id: &str,
    cluster_id: &str,
) -> Result<Vec<(String, Value)>, ReconcileError> {
    let vault = references::parse_id(vault_id)?;
    let subscription = vault.subscription_id().unwrap_or_default();
    let role_definition_id = format!(
        "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{}",
        binding.spec.role.role_definition_guid()
    );
    let scopes: Vec<String> = if binding.spec.secrets.is_empty() {
        vec![vault.as_str().to_string()]
    } else {
        binding
            .spec
            .secrets
            .iter()
            .map(|s| format!("{}/secrets/{s}", vault.as_str()))
            .collect()
    };
    Ok(scopes
        .into_iter()
        .map(|scope| {
            let name = assignment_name(&scope, principal_id, &role_definition_id);
            let id = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}");
            let body = json!({"properties": {
                "roleDefinitionId": role_definition_id,
                "principalId": principal_id,
                "principalType": "ServicePrincipal",
                "description": binding_mark(cluster_id),
            }});
            (id, body)
        })
        .collect())
}

/// The gate (step 1): `(vault id, principal id)` once the binding may proceed.
async fn gate(
    binding: &KeyVaultBinding,
    ctx: &Context,
) -> Result<(String, String), ReconcileError> {
    let ns = binding.namespace().unwrap_or_default();
    // The namespace's own profile must allow the kind.
    let profiles = ctx.profile_list();
    let governing = ctx.governing(&profiles, &ns)?;
    policy::decide(
        &governing,
        &Request {
            kind: Some(AzopKind::KeyVaultBinding),
            ..Request::default()
        },
    )?;
    // The vault's bindingPolicy, read before waiting for the vault to be Ready.
    let vref = &binding.spec.vault_ref;
    let vns = vref.namespace.clone().unwrap_or_else(|| ns.clone());
    let vault = references::existing::<KeyVault>(ctx, &vns, &vref.name).await?;
    let denied = |message: String| ReconcileError::Stalled {
        reason: Reason::PolicyDenied,
        message,
    };
    let Some(bp) = vault.spec.binding_policy.as_ref() else {
        return Err(denied(format!(
            "KeyVault {vns}/{} has no bindingPolicy: no namespace may bind to it",
            vref.name
        )));
    };
    let selects = kube::core::Selector::try_from(bp.namespace_selector.clone())
        .is_ok_and(|s| s.matches(&ctx.namespace_labels(&ns)));
    if !selects {
        return Err(denied(format!(
            "KeyVault {vns}/{}'s bindingPolicy does not select namespace {ns}",
            vref.name
        )));
    }
    if !bp.allowed_roles.contains(&binding.spec.role) {
        return Err(denied(format!(
            "KeyVault {vns}/{}'s bindingPolicy does not allow role {:?} (allowedRoles: {:?})",
            vref.name, binding.spec.role, bp.allowed_roles
        )));
    }
    // Access is granted only on a vault azop manages, not one it merely observes.
    references::not_observed(vault.as_ref(), "azop grants vault access")?;
    // A namespace's own vault has a bindingPolicy the namespace wrote itself: outside the
    // platform namespaces the role must also be one its profile allows.
    if vns == ns && !ctx.config.platform_namespaces.contains(&ns) {
        policy::decide(
            &governing,
            &Request {
                kind: Some(AzopKind::KeyVaultBinding),
                role: Some(RoleAsked {
                    named: format!("{:?}", binding.spec.role),
                    guid: binding.spec.role.role_definition_guid().to_string(),
                }),
                ..Request::default()
            },
        )?;
    }
    let vault_id = references::ready_resource_id::<KeyVault>(ctx, &vns, &vref.name).await?;
    if !vault_id
        .resource_type()
        .eq_ignore_ascii_case("Microsoft.KeyVault/vaults")
    {
        return Err(denied(format!(
            "KeyVault {vns}/{} reports {vault_id} as its resource id, which is no vault",
            vref.name
        )));
    }
    // Nor to an identity azop only observes: a grant on it (or sync's federated credential)
    // would reach an identity the namespace does not own.
    let identity_name = &binding.spec.identity_ref.name;
    references::not_observed(
        references::existing::<FederatedIdentity>(ctx, &ns, identity_name)
            .await?
            .as_ref(),
        "azop grants vault access and syncs",
    )?;
    let identity = references::ready::<FederatedIdentity>(ctx, &ns, identity_name).await?;
    let principal = identity
        .status
        .as_ref()
        .and_then(|s| s.principal_id.clone())
        .ok_or_else(|| ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!(
                "FederatedIdentity {ns}/{} has no principalId yet",
                binding.spec.identity_ref.name
            ),
        })?;
    Ok((vault_id.as_str().to_string(), principal))
}

/// The ARM client of the vault's profile.
fn vault_azure(binding: &KeyVaultBinding, ctx: &Context) -> Result<Arc<dyn Azure>, ReconcileError> {
    let ns = binding.namespace().unwrap_or_default();
    let vns = binding.spec.vault_ref.namespace.clone().unwrap_or(ns);
    engine::azure_for_namespace(ctx, &vns)
}

/// Whether another live binding still needs assignment `id`.
async fn needed_elsewhere(
    binding: &KeyVaultBinding,
    bctx: &BindingContext,
    id: &str,
) -> Result<bool, ReconcileError> {
    for b in bctx.sharers_of(binding).await? {
        if b.metadata.uid == binding.metadata.uid || b.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let holds = b.status.as_ref().is_some_and(|s| {
            s.role_assignment_ids
                .iter()
                .any(|r| r.eq_ignore_ascii_case(id))
        });
        if holds || would_want(&b, &bctx.ctx, id).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether binding `b` wants assignment `id` by its spec, whether or not its status says so
/// yet (a binding that has just found a shared assignment records it only at the end of its
/// pass): its vault's id and its identity's principal from memory.
async fn would_want(b: &KeyVaultBinding, ctx: &Context, id: &str) -> Result<bool, ReconcileError> {
    // A binding policy refuses holds nothing, whatever its spec asks.
    let refused = b
        .status
        .as_ref()
        .is_some_and(|s| azop_api::conditions::denied_by_policy(&s.basic.conditions));
    if refused {
        return Ok(false);
    }
    let ns = b.namespace().unwrap_or_default();
    let vref = &b.spec.vault_ref;
    let vns = vref.namespace.clone().unwrap_or_else(|| ns.clone());
    let vault_id = ctx
        .stores
        .find::<KeyVault>(&vns, &vref.name)
        .await?
        .and_then(|v| v.common_status().resource_id);
    let principal = ctx
        .stores
        .find::<FederatedIdentity>(&ns, &b.spec.identity_ref.name)
        .await?
        .and_then(|f| f.status.as_ref().and_then(|s| s.principal_id.clone()));
    let (Some(vault_id), Some(principal)) = (vault_id, principal) else {
        return Ok(false);
    };
    Ok(
        wanted_assignments(b, &vault_id, &principal, &ctx.config.cluster_id)
            .is_ok_and(|w| w.iter().any(|(w, _)| w.eq_ignore_ascii_case(id))),
    )
}

/// Deletes assignment `id` if it carries azop's binding mark and no other binding needs it.
async fn release(
    binding: &KeyVaultBinding,
    bctx: &BindingContext,
    azure: &dyn Azure,
    id: &str,
) -> Result<(), ReconcileError> {
    if needed_elsewhere(binding, bctx, id).await? {
        return Ok(());
    }
    let Some(actual) = azure.get(id, API_VERSION).await? else {
        bctx.ctx.quota.forget(id);
        return Ok(());
    };
    let mark = binding_mark(&bctx.ctx.config.cluster_id);
    if actual
        .pointer("/properties/description")
        .and_then(Value::as_str)
        != Some(mark.as_str())
    {
        return Ok(());
    }
    azure.delete(id, API_VERSION).await?;
    bctx.ctx.quota.forget(id);
    Ok(())
}

/// Steps 1–3. `held` (the ids the binding holds, as its status records them) is kept current
/// as each assignment is made or released, so a pass cut short still records what it did.
/// `due`: the binding's periodic check has its turn on the calendar, so the assignments are
/// read however recently the status says they were checked (a sync period ago, give or take
/// the clock's resolution).
async fn sync(
    binding: &KeyVaultBinding,
    bctx: &BindingContext,
    held: &mut Vec<String>,
    checked: &mut Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    due: bool,
) -> Result<(), ReconcileError> {
    let ctx = &bctx.ctx;
    let (vault_id, principal) = gate(binding, ctx).await?;
    let azure = vault_azure(binding, ctx)?;
    let wanted = wanted_assignments(binding, &vault_id, &principal, &ctx.config.cluster_id)?;
    // Checked against Azure at most once per sync period while nothing changes: a status
    // write, a refresh annotation or a Secret event wakes the binding without costing ARM
    // reads.
    let ids: Vec<String> = wanted
        .iter()
        .map(|(id, _)| id.to_ascii_lowercase())
        .collect();
    let all_held = ids
        .iter()
        .all(|w| held.iter().any(|h| h.eq_ignore_ascii_case(w)))
        && held.len() == ids.len();
    if all_held && !due && checked_recently(binding, bctx, &ids, checked.as_ref()) {
        return Ok(());
    }
    if let Some(wait) = bctx.verified.principal_pending(&principal) {
        return Err(ReconcileError::Waiting {
            reason: Reason::WaitingForPrincipal,
            message: format!(
                "Entra does not know the identity's principal {principal} yet (replication); trying again in {}s",
                wait.as_secs().max(1)
            ),
        });
    }
    for (id, body) in &wanted {
        if azure.get(id, API_VERSION).await?.is_some() {
            ctx.quota.note(id);
        } else {
            // A new assignment counts against the subscription's fixed limit.
            let admission = ctx.quota.admit(id)?;
            engine::warn_near_quota(ctx, binding, admission).await;
            match azure.put(id, API_VERSION, body).await {
                Ok(_) => {}
                // Someone else's assignment gives the same access: nothing of azop's to hold.
                Err(AzureError::Conflict { code, .. }) if code == "RoleAssignmentExists" => {
                    continue;
                }
                Err(
                    AzureError::Terminal { code, message } | AzureError::NotFound { code, message },
                ) if code == "PrincipalNotFound" => {
                    // Every binding of this identity would get the same answer: they wait
                    // without asking ARM until then.
                    bctx.verified
                        .principal_unknown(&principal, ctx.config.waiting_requeue);
                    return Err(ReconcileError::Waiting {
                        reason: Reason::WaitingForPrincipal,
                        message: format!(
                            "Entra does not know the identity's principal yet (replication): {message}"
                        ),
                    });
                }
                Err(e) => return Err(e.into()),
            }
            ctx.quota.note(id);
        }
        if !held.iter().any(|h| h.eq_ignore_ascii_case(id)) {
            held.push(id.clone());
        }
    }
    bctx.verified.record(binding, ids);
    *checked = Some(engine::now());
    let dropped: Vec<String> = held
        .iter()
        .filter(|h| !wanted.iter().any(|(w, _)| w.eq_ignore_ascii_case(h)))
        .cloned()
        .collect();
    for id in dropped {
        release(binding, bctx, azure.as_ref(), &id).await?;
        held.retain(|h| !h.eq_ignore_ascii_case(&id));
    }
    Ok(())
}

/// Whether the assignments `ids` were found in Azure less than a sync period ago: as this
/// process remembers, or (after a restart) as the status records it for this generation.
fn checked_recently(
    binding: &KeyVaultBinding,
    bctx: &BindingContext,
    ids: &[String],
    checked: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
) -> bool {
    let period = bctx.ctx.config.sync_period;
    if bctx.verified.recent(binding, ids, period) {
        return true;
    }
    let ready_now = binding.status.as_ref().is_some_and(|s| {
        azop_api::conditions::is_ready(&s.basic.conditions, binding.metadata.generation)
    });
    let Some(at) = checked.filter(|_| ready_now) else {
        return false;
    };
    let age = jiff::Timestamp::now().duration_since(at.0);
    age >= jiff::SignedDuration::ZERO
        && jiff::SignedDuration::try_from(period).is_ok_and(|p| age < p)
}

/// What the next pass over `binding` will ask of its vault's subscription.
struct BindingBudget {
    azure: Arc<dyn Azure>,
    subscription: String,
    /// Reads and writes.
    requests: (u32, u32),
    /// When every assignment is held and the binding is Ready: how long until its periodic
    /// check is due (zero: overdue), which waits for its turn on the calendar.
    steady_due: Option<Duration>,
}

/// The ARM requests the next pass over `binding` will make in its vault's subscription:
/// `None` when it cannot tell (the pass will say why) or nothing is due.
async fn binding_budget(
    binding: &KeyVaultBinding,
    bctx: &BindingContext,
    status: &KeyVaultBindingStatus,
) -> Option<BindingBudget> {
    let ctx = &bctx.ctx;
    let (vault_id, principal) = gate(binding, ctx).await.ok()?;
    let wanted = wanted_assignments(binding, &vault_id, &principal, &ctx.config.cluster_id).ok()?;
    let ids: Vec<String> = wanted
        .iter()
        .map(|(id, _)| id.to_ascii_lowercase())
        .collect();
    let held = &status.role_assignment_ids;
    let all_held = ids
        .iter()
        .all(|w| held.iter().any(|h| h.eq_ignore_ascii_case(w)))
        && held.len() == ids.len();
    let subscription = azop_arm::ResourceId::parse(&vault_id)
        .ok()?
        .subscription_id()
        .map(str::to_string)?;
    let azure = vault_azure(binding, ctx).ok()?;
    let n = ids.len() as u32;
    let ready_now =
        azop_api::conditions::is_ready(&status.basic.conditions, binding.metadata.generation);
    // Due a sync period after the last check the status records (a booking made at that
    // check, which this process remembers, comes first).
    let steady_due = (all_held && ready_now).then(|| {
        status
            .assignments_checked_time
            .as_ref()
            .map_or(Duration::ZERO, |t| {
                engine::due_after(t.0, ctx.config.sync_period)
            })
    });
    Some(BindingBudget {
        azure,
        subscription,
        requests: (n, if all_held { 0 } else { n }),
        steady_due,
    })
}

/// Writes the status as a merge patch when it changed.
async fn write_status(
    api: &Api<KeyVaultBinding>,
    binding: &KeyVaultBinding,
    status: &KeyVaultBindingStatus,
) -> Result<(), ReconcileError> {
    engine::patch_status(api, binding, binding.status.as_ref(), status).await
}

/// The controller's entry point for one binding: one pass, its ARM requests reserved first.
pub async fn reconcile(
    guard: Arc<DeserializeGuard<KeyVaultBinding>>,
    bctx: Arc<BindingContext>,
) -> Result<Action, ReconcileError> {
    let binding = match &guard.0 {
        Ok(b) => Arc::new(b.clone()),
        Err(invalid) => {
            engine::report_invalid_object::<KeyVaultBinding>(&bctx.ctx, invalid).await;
            return Ok(Action::await_change());
        }
    };
    let start = std::time::Instant::now();
    let pass = azop_arm::Pass::new();
    let result = pass.run(reconcile_pass(binding, bctx.clone(), &pass)).await;
    bctx.ctx.metrics.overhead(
        "KeyVaultBinding",
        start
            .elapsed()
            .saturating_sub(pass.arm_time())
            .saturating_sub(pass.waited()),
    );
    pass.finish();
    result
}

async fn reconcile_pass(
    binding: Arc<KeyVaultBinding>,
    bctx: Arc<BindingContext>,
    pass: &azop_arm::Pass,
) -> Result<Action, ReconcileError> {
    let ctx = &bctx.ctx;
    let ns = binding.namespace().unwrap_or_default();
    let api: Api<KeyVaultBinding> = Api::namespaced(ctx.client.clone(), &ns);
    if binding.meta().deletion_timestamp.is_some() {
        if !binding
            .finalizers()
            .iter()
            .any(|f| f == azop_api::FINALIZER)
        {
            return Ok(Action::await_change());
        }
        let mut held = binding
            .status
            .as_ref()
            .map(|s| s.role_assignment_ids.clone())
            .unwrap_or_default();
        // What the spec names as well: a pass cut short between an assignment's PUT and its
        // status write (a crash, a failed write) leaves one the status does not name, and the
        // identity would keep its access. `release` deletes only what carries the binding mark
        // and no other binding needs; when the spec names nothing now (the vault or identity
        // gone, policy refusing), the status alone is what can be known.
        if binding.spec.deletion_policy == DeletionPolicy::Delete {
            if let Ok((vault_id, principal)) =
                crate::references::for_delete(gate(&binding, ctx)).await
                && let Ok(wanted) =
                    wanted_assignments(&binding, &vault_id, &principal, &ctx.config.cluster_id)
            {
                for (id, _) in wanted {
                    if !held.iter().any(|h| h.eq_ignore_ascii_case(&id)) {
                        held.push(id);
                    }
                }
            }
            if !held.is_empty() {
                let azure = vault_azure(&binding, ctx)?;
                for id in &held {
                    release(&binding, &bctx, azure.as_ref(), id).await?;
                }
            }
        }
        // The credential azop added for its own issuer is sync's plumbing, not something the
        // binding asked for: it goes whatever the deletion policy (the Secret goes with the
        // binding through its ownerReference).
        let mut status = binding.status.clone().unwrap_or_default();
        bctx.last_sync.recall(&binding, &mut status);
        binding_sync::release_trust(&binding, &bctx, &mut status).await?;
        bctx.last_sync.forget(&binding);
        bctx.verified.forget(&binding);
        engine::forget_turn(ctx, &failure_key(binding.as_ref()));
        engine::remove_finalizer(&api, binding.as_ref()).await?;
        return Ok(Action::await_change());
    }
    engine::add_finalizer(&api, binding.as_ref()).await?;

    let generation = binding.meta().generation.unwrap_or(0);
    let mut status = binding.status.clone().unwrap_or_default();
    bctx.last_sync.recall(&binding, &mut status);
    // A binding in sync checks its assignments at its turn on the subscription's calendar, a
    // sync period after the last check; one that changed is off the calendar.
    let budget = binding_budget(&binding, &bctx, &status).await;
    let key = failure_key(binding.as_ref());
    let due = match &budget {
        Some(BindingBudget {
            subscription,
            requests: (reads, _),
            steady_due: Some(due),
            ..
        }) => {
            if let Some(wait) = engine::steady_turn(ctx, subscription, &key, *due, *reads) {
                return Ok(Action::requeue(wait));
            }
            true
        }
        Some(_) => {
            engine::off_calendar(ctx, &key);
            false
        }
        None => false,
    };
    // ARM's budget: the assignments' reads and writes are reserved first; while they are not
    // this binding's turn yet, it is requeued instead of waiting in a reconcile slot.
    if let Some(b) = &budget
        && let Some((wait, subscription)) = engine::take_turn(
            ctx,
            b.azure.as_ref(),
            &b.subscription,
            b.requests,
            &key,
            pass,
        )
        .await?
    {
        if status.basic.observed_generation != generation {
            status.basic.observed_generation = generation;
            Conditions::new(&mut status.basic.conditions, generation, engine::now()).working(
                Reason::Throttled,
                engine::turn_message(generation, &subscription, wait),
            );
            write_status(&api, &binding, &status).await?;
        }
        return Ok(Action::requeue(wait));
    }
    if status.basic.observed_generation != generation {
        status.basic.observed_generation = generation;
        Conditions::new(&mut status.basic.conditions, generation, engine::now())
            .progressing(format!("generation {generation} seen; reconciling"));
        write_status(&api, &binding, &status).await?;
    }
    let mut held = status.role_assignment_ids.clone();
    let mut checked = status.assignments_checked_time.clone();
    let granted = sync(&binding, &bctx, &mut held, &mut checked, due).await;
    status.assignments_checked_time = checked;
    let n = held.len();
    status.role_assignment_ids = held;
    // Then the Secret, once the access it reads with is in place.
    let synced = match (&granted, &binding.spec.sync) {
        (Ok(()), Some(_)) => Some(binding_sync::sync_secret(&binding, &bctx, &mut status).await),
        (Ok(()), None) => {
            if status.secret_name.is_some() || status.sync_credential_id.is_some() {
                binding_sync::stop_sync(&binding, &bctx, &mut status).await?;
            }
            Conditions::new(&mut status.basic.conditions, generation, engine::now()).remove(SYNCED);
            None
        }
        (Err(_), _) => None,
    };
    let assignments = format!(
        "{n} role assignment{} in place for the identity",
        if n == 1 { "" } else { "s" }
    );
    let result = match (granted, synced) {
        (Err(e), _) => Err(e),
        (Ok(()), None) => Ok(None),
        (Ok(()), Some(Ok(outcome))) => Ok(Some(outcome)),
        (Ok(()), Some(Err(e))) => Err(e),
    };
    let sync_failed = binding.spec.sync.is_some() && result.is_err();
    let mut conditions = Conditions::new(&mut status.basic.conditions, generation, engine::now());
    let action = match result {
        Ok(outcome) => {
            ctx.succeeded(&key);
            // The next check of the assignments, at its turn on the calendar.
            let mut next = match &budget {
                Some(b) => engine::next_steady_turn(ctx, &b.subscription, &key, b.requests.0),
                None => jittered(ctx.config.sync_period),
            };
            match (&binding.spec.sync, outcome) {
                (Some(spec), Some(outcome)) => {
                    let keys = spec.items.len();
                    let message = format!(
                        "Secret {} holds {keys} key{} from vault {} ({} secret version{} read as the binding's identity)",
                        spec.secret_name,
                        if keys == 1 { "" } else { "s" },
                        binding.spec.vault_ref.name,
                        status.synced_versions.len(),
                        if status.synced_versions.len() == 1 {
                            ""
                        } else {
                            "s"
                        },
                    );
                    conditions.set(SYNCED, Status::True, Reason::Succeeded, message.clone());
                    conditions.ready(format!("{assignments}; {message}"));
                    if let Some(n) = outcome.next {
                        next = next.min(n.max(Duration::from_secs(1)));
                    }
                }
                _ => conditions.ready(assignments),
            }
            Ok(Action::requeue(next))
        }
        // A vault secret missing or refused: retried with backoff (each retry reads the
        // vault), the last Secret kept.
        Err(ReconcileError::Waiting { reason, message })
            if matches!(reason, Reason::SecretNotFound | Reason::AccessDenied) =>
        {
            // A 403 may mean an assignment went missing: the next pass checks them in Azure.
            if reason == Reason::AccessDenied {
                bctx.verified.forget(&binding);
            }
            conditions.working(reason, message.clone());
            Ok(ctx.backoff_after(&key, &ReconcileError::Waiting { reason, message }))
        }
        Err(ReconcileError::Waiting { reason, message }) => {
            conditions.working(reason, message);
            Ok(Action::requeue(jittered(ctx.config.waiting_requeue)))
        }
        // Someone else's Secret in the way: looked at again now and then (only the Kubernetes
        // API), as its deletion does not wake the binding.
        Err(ReconcileError::Stalled { reason, message }) if reason == Reason::Conflict => {
            ctx.succeeded(&key);
            conditions.stalled(reason, message);
            Ok(Action::requeue(jittered(ctx.config.waiting_requeue * 6)))
        }
        Err(ReconcileError::Stalled { reason, message }) => {
            ctx.succeeded(&key);
            // Policy no longer allows the binding (the vault's bindingPolicy or the profile
            // changed): what it was granted goes, so revoking the policy revokes the access,
            // and the copy of the vault's secrets goes with it.
            if reason == Reason::PolicyDenied {
                bctx.verified.forget(&binding);
                if !status.role_assignment_ids.is_empty() {
                    let azure = vault_azure(&binding, ctx)?;
                    for id in status.role_assignment_ids.clone() {
                        release(&binding, &bctx, azure.as_ref(), &id).await?;
                        status
                            .role_assignment_ids
                            .retain(|h| !h.eq_ignore_ascii_case(&id));
                    }
                }
                if status.secret_name.is_some() || status.sync_credential_id.is_some() {
                    binding_sync::stop_sync(&binding, &bctx, &mut status).await?;
                }
            }
            let mut conditions =
                Conditions::new(&mut status.basic.conditions, generation, engine::now());
            conditions.stalled(reason, message);
            Ok(Action::await_change())
        }
        Err(e) => {
            engine::set_error_conditions(&mut conditions, &e);
            Err(e)
        }
    };
    // Synced=False with Ready's reason when the pass failed after the assignments (or
    // before them: the Secret is not being kept current either); the last Secret stays.
    if sync_failed {
        Conditions::new(&mut status.basic.conditions, generation, engine::now()).copy_cause(
            azop_api::conditions::READY,
            SYNCED,
            Status::False,
        );
    }
    write_status(&api, &binding, &status).await?;
    bctx.last_sync.remember(&binding, &status);
    action
}

/// After a failed reconcile: the engine's backoff by consecutive failures.
pub fn error_policy(
    binding: Arc<DeserializeGuard<KeyVaultBinding>>,
    error: &ReconcileError,
    bctx: Arc<BindingContext>,
) -> Action {
    bctx.ctx
        .backoff_after(&failure_key(binding.as_ref()), error)
}

/// The binding's key in the engine's failure counts.
fn failure_key(binding: &impl Resource) -> String {
    format!(
        "KeyVaultBinding/{}/{}",
        binding.namespace().unwrap_or_default(),
        binding.name_any()
    )
}
