//! The one reconcile engine (ARCHITECTURE.md, steps 1–7), shared by every Azure-backed kind
//! through [`AzureKind`].
//!
//! 1. Resolve references ([`AzureKind::desired`]); not ready yet: `WaitingForDependency`.
//! 2. Check tenancy policy; refused: `Stalled`/`PolicyDenied`, no ARM call.
//! 3. An operation recorded in `status.operation`: poll it and stop there.
//! 4. GET; 404 → PUT; owned by another object → `Stalled`/`OwnedByAnotherObject`; owned fields
//!    differ → PUT; equal → no write.
//! 5. A PUT/DELETE that starts an operation records it in status before returning.
//! 6. Status is written only when it changed.
//! 7. Requeue: operation → Retry-After (bounded); transient → backoff; terminal → Stalled until
//!    the spec changes; in sync → the sync period, jittered.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use azop_api::azure_resource::{
    AzureResourceStatus, DeletionPolicy, ManagementPolicy, PendingOperation,
};
use azop_api::conditions::{Conditions, Reason};
use azop_api::profile::{AzopKind, AzureProfile};
use futures::future::BoxFuture;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::azure::{Azure, AzureError, Polled, Written};
use crate::drift;
use crate::policy::{self, Decision, Governing, PolicyError, Request};

/// Settings of one operator instance.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Names this management cluster in ownership tags (`<cluster-id>/<ns>/<kind>/<name>`).
    pub cluster_id: String,
    /// The subscription for platform namespaces without a profile.
    pub default_subscription_id: String,
    /// The tenant for platform namespaces without a profile.
    pub default_tenant_id: String,
    /// Namespaces that may use the operator's own defaults without a profile.
    pub platform_namespaces: Vec<String>,
    /// How often an in-sync object is re-read to catch drift made outside Kubernetes.
    pub sync_period: Duration,
    /// The OIDC issuer of the cluster azop runs in (`issuer: {self: {}}`).
    pub self_issuer_url: Option<String>,
    /// Longest wait between polls of an operation, whatever Retry-After says.
    pub max_poll_interval: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cluster_id: "azop".to_string(),
            default_subscription_id: "00000000-0000-0000-0000-000000000000".to_string(),
            default_tenant_id: "00000000-0000-0000-0000-000000000000".to_string(),
            platform_namespaces: Vec::new(),
            sync_period: Duration::from_secs(3600),
            self_issuer_url: None,
            max_poll_interval: Duration::from_secs(60),
        }
    }
}

/// What every reconcile shares.
pub struct Context {
    /// The Kubernetes client.
    pub client: kube::Client,
    /// The ARM client.
    pub azure: Arc<dyn Azure>,
    /// Settings.
    pub config: EngineConfig,
    /// All AzureProfiles, kept current by a reflector.
    pub profiles: Store<AzureProfile>,
    /// All Namespaces (for their labels), kept current by a reflector.
    pub namespaces: Store<Namespace>,
    /// Publishes Kubernetes Events on each condition transition.
    pub recorder: kube::runtime::events::Recorder,
    /// One lock per managed identity: Azure refuses concurrent credential writes on one.
    pub identity_locks:
        std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Context {
    /// The lock serialising federated-credential writes on one identity (ids compared
    /// case-insensitively, as ARM does).
    pub fn identity_lock(&self, identity_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .identity_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks
            .entry(identity_id.to_ascii_lowercase())
            .or_default()
            .clone()
    }
}

/// A reference from one azop object to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The referenced kind.
    pub kind: AzopKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl Reference {
    /// A reference to `kind` `name` in `namespace` (or in `own` when unset).
    pub fn new(kind: AzopKind, namespace: Option<&str>, own: &str, name: &str) -> Self {
        Reference {
            kind,
            namespace: namespace.unwrap_or(own).to_string(),
            name: name.to_string(),
        }
    }
}

/// The ARM resource a kind wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Its full ARM id.
    pub id: String,
    /// The body azop PUTs; its fields are the ones azop owns.
    pub body: Value,
}

/// Why a reconcile stopped short.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A referenced object is not ready; retried soon.
    #[error("{message}")]
    Waiting {
        /// WaitingForDependency or WaitingForPrincipal.
        reason: Reason,
        /// For the person reading the condition.
        message: String,
    },
    /// Needs a person; not retried until the spec changes.
    #[error("{message}")]
    Stalled {
        /// The stable reason.
        reason: Reason,
        /// For the person reading the condition.
        message: String,
    },
    /// Azure answered an error.
    #[error(transparent)]
    Azure(#[from] AzureError),
    /// The Kubernetes API answered an error.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The Azure delete is still running; the finalizer stays until it ends.
    #[error("delete operation running in Azure")]
    DeletionInProgress {
        /// When to look again.
        retry_after: Duration,
    },
    /// A body could not be (de)serialised.
    #[error("serialisation: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<PolicyError> for ReconcileError {
    fn from(e: PolicyError) -> Self {
        let reason = match e {
            // The object itself is incomplete; no profile is at fault.
            PolicyError::LocationMissing | PolicyError::LocationRequired { .. } => {
                Reason::InvalidSpec
            }
            _ => Reason::PolicyDenied,
        };
        ReconcileError::Stalled {
            reason,
            message: e.to_string(),
        }
    }
}

/// One kind's mapping to Azure. A reader finds the whole mapping of a kind in its adapter file.
pub trait AzureKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The kind, for policy.
    const KIND: AzopKind;
    /// The ARM api-version the kind reads and writes with.
    const API_VERSION: &'static str;
    /// The kind's status type.
    type Status: Default + Clone + PartialEq + Serialize + DeserializeOwned + Send + Sync;

    /// The object's status, if written.
    fn status(&self) -> Option<&Self::Status>;
    /// The shared part of the status.
    fn azure_status(status: &mut Self::Status) -> &mut AzureResourceStatus;
    /// `spec.deletionPolicy`.
    fn deletion_policy(&self) -> DeletionPolicy;
    /// `spec.managementPolicy`.
    fn management_policy(&self) -> ManagementPolicy {
        ManagementPolicy::Manage
    }
    /// What the object asks of the tenancy policy.
    fn policy_request(&self) -> Request<'_>;
    /// Resolves references and computes the desired ARM resource (step 1).
    fn desired<'a>(
        &'a self,
        ctx: &'a Context,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Desired, ReconcileError>>;
    /// Copies the kind's outputs from the ARM body into status.
    fn outputs(status: &mut Self::Status, actual: &Value);

    /// Whether Azure still holds what azop owns. Default: every field of the desired body.
    fn in_sync(desired: &Value, actual: &Value) -> bool {
        drift::in_sync(desired, actual)
    }

    /// Marks a body as owned by `owner`. Default: the `azop.dev/owner` tag.
    fn mark_owner(body: &mut Value, owner: &str) {
        if let Some(b) = body.as_object_mut()
            && let Some(tags) = b.entry("tags").or_insert_with(|| json!({})).as_object_mut()
        {
            tags.insert(
                azop_api::OWNER_TAG.to_string(),
                Value::String(owner.to_string()),
            );
        }
    }

    /// The owner an ARM body names, if any. Default: the `azop.dev/owner` tag.
    fn owner_of(actual: &Value) -> Option<&str> {
        actual
            .get("tags")
            .and_then(|t| t.get(azop_api::OWNER_TAG))
            .and_then(Value::as_str)
    }

    /// How a failed PUT is read. Default: as the error it is.
    fn on_write_error(error: AzureError) -> Result<(), ReconcileError> {
        Err(error.into())
    }

    /// The azop objects this one waits for, so their readiness wakes it.
    fn references(&self) -> Vec<Reference> {
        Vec::new()
    }

    /// Work after the main resource is in sync (a FederatedIdentity's credential and
    /// ServiceAccount). Default: none.
    fn after_sync<'a>(
        &'a self,
        _ctx: &'a Context,
        _desired: &'a Desired,
        _status: &'a mut Self::Status,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The ownership tag's value for an object.
pub fn owner_tag_value<K: Resource<DynamicType = ()>>(cluster_id: &str, obj: &K) -> String {
    format!(
        "{cluster_id}/{}/{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        K::kind(&()),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

fn provisioning_state(actual: &Value) -> Option<&str> {
    actual
        .get("properties")
        .and_then(|p| p.get("provisioningState"))
        .and_then(Value::as_str)
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

/// A duration near `base`, ±10%, so ten thousand objects do not all wake at once.
fn jittered(base: Duration) -> Duration {
    let nanos = jiff::Timestamp::now().subsec_nanosecond().unsigned_abs() as u64;
    let spread = base.as_millis() as u64 / 10;
    if spread == 0 {
        return base;
    }
    let offset = nanos % (2 * spread);
    Duration::from_millis(base.as_millis() as u64 - spread + offset)
}

/// Where the object stands after one pass; turned into conditions and a requeue.
enum Outcome {
    InSync {
        observed: bool,
    },
    Operation {
        kind: &'static str,
        retry_after: Option<Duration>,
    },
}

/// Writes the status when it changed (step 6), as a merge patch of the status subresource.
async fn write_status<K: AzureKind>(
    api: &Api<K>,
    obj: &K,
    status: &K::Status,
) -> Result<(), ReconcileError> {
    let old = serde_json::to_value(obj.status().cloned().unwrap_or_default())?;
    let new = serde_json::to_value(status)?;
    if old == new && obj.status().is_some() {
        return Ok(());
    }
    let patch = json!({ "status": drift::merge_patch(&old, &new) });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

fn decision_for<K: AzureKind>(obj: &K, ctx: &Context) -> Result<Decision, ReconcileError> {
    let namespace = obj.namespace().unwrap_or_default();
    let labels: BTreeMap<String, String> = ctx
        .namespaces
        .get(&ObjectRef::new(&namespace))
        .and_then(|ns| ns.metadata.labels.clone())
        .unwrap_or_default();
    let profiles: Vec<AzureProfile> = ctx.profiles.state().iter().map(|p| (**p).clone()).collect();
    let governing = policy::governing_profile(
        &profiles,
        &namespace,
        &labels,
        &ctx.config.platform_namespaces,
    )?;
    let mut request = obj.policy_request();
    request.kind = Some(K::KIND);
    let mut decision = policy::decide(&governing, &request)?;
    if matches!(governing, Governing::OperatorDefault) {
        decision.subscription_id = Some(ctx.config.default_subscription_id.clone());
        decision.tenant_id = Some(ctx.config.default_tenant_id.clone());
    }
    Ok(decision)
}

/// Reconciles one object towards its spec (the finalizer's Apply branch).
pub async fn apply<K: AzureKind>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let generation = obj.meta().generation.unwrap_or(0);
    let mut status = obj.status().cloned().unwrap_or_default();

    // A new generation: Ready=Unknown, Reconciling=True before any Azure call.
    if K::azure_status(&mut status).observed_generation != generation {
        let common = K::azure_status(&mut status);
        common.observed_generation = generation;
        Conditions::new(&mut common.conditions, generation, now())
            .progressing(format!("generation {generation} seen; reconciling"));
        write_status(&api, &obj, &status).await?;
    }

    let result = sync::<K>(&obj, &ctx, &mut status).await;
    let common = K::azure_status(&mut status);
    let mut conditions = Conditions::new(&mut common.conditions, generation, now());
    let action = match &result {
        Ok(Outcome::InSync { observed }) => {
            if *observed {
                conditions.ready_because(
                    Reason::Observed,
                    "observed in Azure (managementPolicy: Observe)",
                );
            } else {
                conditions.ready("in sync with Azure");
            }
            Action::requeue(jittered(ctx.config.sync_period))
        }
        Ok(Outcome::Operation { kind, retry_after }) => {
            let reason = match *kind {
                "Create" => Reason::Creating,
                "Delete" => Reason::Deleting,
                _ => Reason::Updating,
            };
            conditions.working(reason, format!("{kind} operation running in Azure"));
            Action::requeue(
                retry_after
                    .unwrap_or(Duration::from_secs(5))
                    .min(ctx.config.max_poll_interval),
            )
        }
        Err(e) => condition_for_error(&mut conditions, e),
    };
    write_status(&api, &obj, &status).await?;
    publish_transition::<K>(&ctx, &obj, &status).await;
    match result {
        Err(ReconcileError::Kube(e)) => Err(ReconcileError::Kube(e)),
        _ => Ok(action),
    }
}

/// Publishes an Event when Ready's status or reason changed. Best effort: an Event that cannot
/// be written never fails a reconcile.
async fn publish_transition<K: AzureKind>(ctx: &Context, obj: &K, status: &K::Status) {
    use azop_api::conditions::READY;
    use kube::runtime::events::{Event, EventType};
    let mut before = obj.status().cloned().unwrap_or_default();
    let mut after = status.clone();
    let old = azop_api::conditions::find(&K::azure_status(&mut before).conditions, READY).cloned();
    let new = azop_api::conditions::find(&K::azure_status(&mut after).conditions, READY).cloned();
    let Some(new) = new else { return };
    if old
        .as_ref()
        .is_some_and(|o| o.status == new.status && o.reason == new.reason)
    {
        return;
    }
    let warning = new.status == "False"
        && !matches!(
            new.reason.as_str(),
            "Creating"
                | "Updating"
                | "Deleting"
                | "WaitingForDependency"
                | "WaitingForPrincipal"
                | "Progressing"
        );
    let event = Event {
        type_: if warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: new.reason.clone(),
        note: Some(new.message.chars().take(1000).collect()),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::debug!(error = %e, "could not publish an event");
    }
}

/// Sets the conditions for an error and says when to look again (step 7).
fn condition_for_error(conditions: &mut Conditions<'_>, e: &ReconcileError) -> Action {
    match e {
        ReconcileError::Waiting { reason, message } => {
            conditions.working(*reason, message.clone());
            Action::requeue(Duration::from_secs(10))
        }
        ReconcileError::Stalled { reason, message } => {
            conditions.stalled(*reason, message.clone());
            Action::await_change()
        }
        ReconcileError::Azure(AzureError::Throttled { retry_after }) => {
            conditions.working(Reason::Throttled, e.to_string());
            Action::requeue(*retry_after)
        }
        ReconcileError::Azure(AzureError::Terminal { code, message }) => {
            conditions.stalled(
                Reason::InvalidSpec,
                format!("AzureError: {code}: {message}"),
            );
            Action::await_change()
        }
        ReconcileError::Azure(AzureError::Conflict { code, message }) => {
            let reason = if code == "VaultAlreadyExists" || code.contains("AlreadyExists") {
                Reason::NameConflict
            } else {
                Reason::Conflict
            };
            conditions.working(reason, format!("AzureError: {code}: {message}"));
            Action::requeue(Duration::from_secs(30))
        }
        ReconcileError::Azure(err) => {
            conditions.working(Reason::AzureError, format!("AzureError: {err}"));
            Action::requeue(Duration::from_secs(15))
        }
        ReconcileError::DeletionInProgress { retry_after } => {
            conditions.working(Reason::Deleting, e.to_string());
            Action::requeue(*retry_after)
        }
        ReconcileError::Kube(_) | ReconcileError::Json(_) => {
            conditions.working(Reason::AzureError, e.to_string());
            Action::requeue(Duration::from_secs(15))
        }
    }
}

/// Steps 1–5 for one object.
async fn sync<K: AzureKind>(
    obj: &K,
    ctx: &Context,
    status: &mut K::Status,
) -> Result<Outcome, ReconcileError> {
    let decision = decision_for(obj, ctx)?;
    let desired = obj.desired(ctx, &decision).await?;
    let owner = owner_tag_value(&ctx.config.cluster_id, obj);
    let common = K::azure_status(status);
    common.resource_id = Some(desired.id.clone());

    // Step 3: an operation in flight is polled, never repeated.
    if let Some(op) = common.operation.clone() {
        match ctx.azure.poll(&op.token).await? {
            Polled::InProgress { retry_after } => {
                let kind = if op.kind == "Create" {
                    "Create"
                } else {
                    "Update"
                };
                return Ok(Outcome::Operation { kind, retry_after });
            }
            Polled::Failed(err) => {
                common.operation = None;
                return Err(err.into());
            }
            Polled::Succeeded(_) => {
                common.operation = None;
            }
        }
    }

    // Step 4: read, compare on owned fields, write only on difference.
    let mut body = desired.body.clone();
    K::mark_owner(&mut body, &owner);
    let actual = ctx.azure.get(&desired.id, K::API_VERSION).await?;
    let observe = obj.management_policy() == ManagementPolicy::Observe;
    match &actual {
        Some(actual) => {
            if !observe
                && let Some(other) = K::owner_of(actual)
                && other != owner
            {
                return Err(ReconcileError::Stalled {
                    reason: Reason::OwnedByAnotherObject,
                    message: format!(
                        "{} carries {}={other}: another object owns it; azop will not change or delete it",
                        desired.id,
                        azop_api::OWNER_TAG
                    ),
                });
            }
            K::outputs(status, actual);
            let common = K::azure_status(status);
            common.provisioning_state = provisioning_state(actual).map(str::to_string);
            if observe {
                return Ok(Outcome::InSync { observed: true });
            }
            match provisioning_state(actual) {
                None | Some("Succeeded") | Some("Failed") | Some("Canceled") => {}
                // Someone else's operation runs (AKS allows one at a time): wait for it.
                Some(_) => {
                    return Ok(Outcome::Operation {
                        kind: "Update",
                        retry_after: None,
                    });
                }
            }
            if K::in_sync(&body, actual) {
                obj.after_sync(ctx, &desired, status).await?;
                return Ok(Outcome::InSync { observed: false });
            }
        }
        None if observe => {
            return Err(ReconcileError::Waiting {
                reason: Reason::WaitingForDependency,
                message: format!(
                    "{} does not exist; managementPolicy Observe never creates it",
                    desired.id
                ),
            });
        }
        None => {}
    }

    // Step 5: write; an operation is recorded before returning.
    let kind = if actual.is_some() { "Update" } else { "Create" };
    let written = match ctx.azure.put(&desired.id, K::API_VERSION, &body).await {
        Ok(w) => w,
        Err(e) => {
            K::on_write_error(e)?;
            Written::Done(None)
        }
    };
    match written {
        Written::Done(answer) => {
            if let Some(answer) = &answer {
                K::outputs(status, answer);
                let common = K::azure_status(status);
                common.provisioning_state = provisioning_state(answer).map(str::to_string);
                if let Some(state) = provisioning_state(answer)
                    && !matches!(state, "Succeeded")
                {
                    return Ok(Outcome::Operation {
                        kind,
                        retry_after: None,
                    });
                }
            }
            obj.after_sync(ctx, &desired, status).await?;
            Ok(Outcome::InSync { observed: false })
        }
        Written::Started { token, retry_after } => {
            K::azure_status(status).operation = Some(PendingOperation {
                kind: kind.to_string(),
                started_at: now(),
                token,
            });
            Ok(Outcome::Operation { kind, retry_after })
        }
    }
}

/// Deletes the Azure resource when policy says so (the finalizer's Cleanup branch). `Ok(None)`
/// lets the object go; `Ok(Some(wait))` keeps the finalizer while the delete runs.
pub async fn cleanup<K: AzureKind>(
    obj: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Option<Duration>, ReconcileError> {
    let mut status = obj.status().cloned().unwrap_or_default();
    let common = K::azure_status(&mut status);
    if obj.deletion_policy() == DeletionPolicy::Orphan
        || obj.management_policy() == ManagementPolicy::Observe
    {
        return Ok(None);
    }
    let Some(id) = common.resource_id.clone() else {
        return Ok(None);
    };
    if let Some(op) = common.operation.clone()
        && op.kind == "Delete"
    {
        match ctx.azure.poll(&op.token).await? {
            Polled::InProgress { retry_after } => {
                return Ok(Some(
                    retry_after
                        .unwrap_or(Duration::from_secs(5))
                        .min(ctx.config.max_poll_interval),
                ));
            }
            Polled::Succeeded(_) => return Ok(None),
            Polled::Failed(err) => {
                common.operation = None;
                let api: Api<K> =
                    Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
                write_status(&api, &obj, &status).await?;
                return Err(err.into());
            }
        }
    }
    let api_version = K::API_VERSION;
    let owner = owner_tag_value(&ctx.config.cluster_id, &*obj);
    match ctx.azure.get(&id, api_version).await? {
        None => Ok(None),
        Some(actual) if K::owner_of(&actual) != Some(owner.as_str()) => Ok(None),
        Some(_) => match ctx.azure.delete(&id, api_version).await? {
            Written::Done(_) => Ok(None),
            Written::Started { token, retry_after } => {
                common.operation = Some(PendingOperation {
                    kind: "Delete".to_string(),
                    started_at: now(),
                    token,
                });
                let generation = obj.meta().generation.unwrap_or(0);
                Conditions::new(&mut common.conditions, generation, now())
                    .working(Reason::Deleting, "delete operation running in Azure");
                let api: Api<K> =
                    Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
                write_status(&api, &obj, &status).await?;
                Ok(Some(
                    retry_after
                        .unwrap_or(Duration::from_secs(5))
                        .min(ctx.config.max_poll_interval),
                ))
            }
        },
    }
}

/// The controller's entry point for one object: the finalizer wraps [`apply`] and [`cleanup`].
pub async fn reconcile<K: AzureKind>(
    obj: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, kube::runtime::finalizer::Error<ReconcileError>> {
    use kube::runtime::finalizer::{Event, finalizer};
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    finalizer(&api, azop_api::FINALIZER, obj, |event| async {
        match event {
            Event::Apply(o) => apply(o, ctx.clone()).await,
            Event::Cleanup(o) => match cleanup(o, ctx.clone()).await? {
                None => Ok(Action::await_change()),
                Some(retry_after) => Err(ReconcileError::DeletionInProgress { retry_after }),
            },
        }
    })
    .await
}

/// What the controller does after a failed reconcile: the error's own wait, else a backoff.
pub fn error_policy<K: AzureKind>(
    _obj: Arc<K>,
    error: &kube::runtime::finalizer::Error<ReconcileError>,
    _ctx: Arc<Context>,
) -> Action {
    use kube::runtime::finalizer::Error as F;
    match error {
        F::ApplyFailed(ReconcileError::DeletionInProgress { retry_after })
        | F::CleanupFailed(ReconcileError::DeletionInProgress { retry_after }) => {
            Action::requeue(*retry_after)
        }
        F::CleanupFailed(ReconcileError::Azure(AzureError::Throttled { retry_after })) => {
            Action::requeue(*retry_after)
        }
        _ => Action::requeue(jittered(Duration::from_secs(15))),
    }
}
