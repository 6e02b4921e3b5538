//! The one reconcile engine (ARCHITECTURE.md, steps 1–7), shared by every Azure-backed kind
//! through [`AzureKind`].
//!
//! 1. Resolve references and the Azure lookups a kind needs to decide ([`AzureKind::resolve`],
//!    reading other objects from memory); not ready yet: `WaitingForDependency`.
//! 2. Check tenancy policy; refused: `Stalled`/`PolicyDenied`, no ARM call. Then the pure
//!    [`AzureKind::desired`] turns spec, resolved references and the decision into a typed body.
//! 3. An operation recorded in `status.operation` (on the main resource or a child): poll it
//!    and stop there.
//! 4. GET; 404 → PUT; owned by another object → `Stalled`/`OwnedByAnotherObject`; owned fields
//!    differ → PUT; equal → no write. Then each child resource the same way.
//! 5. A PUT/DELETE that starts an operation records it in status before returning.
//! 6. Status is written only when it changed.
//! 7. Requeue: operation → Retry-After (bounded); failure → exponential backoff with jitter by
//!    consecutive failures (Retry-After honoured); needs a person → Stalled until the spec
//!    changes; in sync → its turn on the subscription's calendar of periodic checks, a sync
//!    period on (`calendar`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use azop_api::azure_resource::{
    AzureBacked, DeletionPolicy, ManagementPolicy, OperationKind, Ownership, PendingOperation,
};
use azop_api::conditions::{Conditions, READY, Reason};
use azop_api::profile::{AzopKind, AzureProfile};
use azop_arm::ResourceId;
use azop_arm::resources::ArmResource;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::azure::{Azure, AzureError, Polled, Written};
use crate::drift;
use crate::index::{Dependents, Stores};
use crate::metrics::Metrics;
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
    /// The wait after the first failure of an object; it doubles with each consecutive one.
    pub error_backoff_base: Duration,
    /// The longest wait between retries of a failing object.
    pub error_backoff_max: Duration,
    /// How often an object waiting for a dependency looks again, besides being woken when the
    /// dependency's readiness changes.
    pub waiting_requeue: Duration,
    /// Azure's role-assignment limit per subscription, and where azop stops short of it.
    pub role_assignment_quota: crate::quota::QuotaSettings,
    /// The most reads per second, per subscription, that in-sync objects spend on their
    /// periodic checks (see [`crate::calendar`]). The default, 20, is 8% of ARM's read bucket
    /// of 250: under its refill of 25 per second, so a steady state never drains it, and creates
    /// keep the rest.
    pub sync_reads_per_second: f64,
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
            error_backoff_base: Duration::from_secs(2),
            error_backoff_max: Duration::from_secs(300),
            waiting_requeue: Duration::from_secs(10),
            role_assignment_quota: crate::quota::QuotaSettings::default(),
            sync_reads_per_second: 20.0,
        }
    }
}

/// Makes the ARM clients that act as the identities AzureProfiles name.
pub trait Identities: Send + Sync {
    /// An ARM client signed in as workload identity `client_id` of `tenant_id`.
    fn azure_as(&self, tenant_id: &str, client_id: &str) -> Result<Arc<dyn Azure>, AzureError>;

    /// ARM requests these clients made, by `METHOD status`, and their waits for the client-side
    /// rate limiter, for `/metrics` (which counts every identity's requests, not only the
    /// operator's own).
    fn request_counts(&self) -> (BTreeMap<String, u64>, u64) {
        (BTreeMap::new(), 0)
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
    /// All AzureProfiles, kept current by a reflector (one that does not deserialise is
    /// kept as such, and governs nothing).
    pub profiles: Store<DeserializeGuard<AzureProfile>>,
    /// All Namespaces (for their labels), kept current by a reflector.
    pub namespaces: Store<Namespace>,
    /// Every Azure-backed kind's objects, kept current by one shared reflector per kind.
    pub stores: Stores,
    /// Which objects reference which, so a dependency's change wakes only its dependents.
    pub dependents: Dependents,
    /// Publishes Kubernetes Events on each condition transition.
    pub recorder: Recorder,
    /// Reconcile counts, failures by class, durations.
    pub metrics: Arc<Metrics>,
    /// The role assignments azop manages per subscription, against Azure's limit.
    pub quota: crate::quota::RoleAssignmentQuota,
    /// One lock per resource whose children Azure refuses to write concurrently (the
    /// federated credentials of one identity).
    write_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Consecutive failures per object, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Signs in as the profiles' identities.
    identities: Option<Arc<dyn Identities>>,
    /// Reads vault secrets as a binding's identity (KeyVaultBinding `spec.sync`).
    pub key_vault: Option<azop_arm::KeyVaultClient>,
    /// One ARM client per profile identity (tenant, client id), made on first use; each
    /// caches its tokens until shortly before they expire and keeps its own rate limits, as
    /// ARM counts them per principal.
    clients: Mutex<HashMap<(String, String), Arc<dyn Azure>>>,
    /// ARM requests reserved per object that waits for its turn (requeued until then, holding
    /// no reconcile slot).
    reservations: Mutex<HashMap<String, azop_arm::Reservation>>,
    /// When each in-sync object checks Azure next.
    calendar: crate::calendar::Calendar,
}

impl Context {
    /// A context; the stores and index are the runner's (or a test's).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: kube::Client,
        azure: Arc<dyn Azure>,
        config: EngineConfig,
        profiles: Store<DeserializeGuard<AzureProfile>>,
        namespaces: Store<Namespace>,
        stores: Stores,
        metrics: Arc<Metrics>,
    ) -> Self {
        Context {
            quota: crate::quota::RoleAssignmentQuota::new(
                config.role_assignment_quota,
                metrics.role_assignments.clone(),
            ),
            recorder: Recorder::new(client.clone(), "azop".into()),
            client,
            azure,
            profiles,
            namespaces,
            stores,
            dependents: Dependents::default(),
            metrics,
            write_locks: Mutex::default(),
            failures: Mutex::default(),
            identities: None,
            key_vault: None,
            clients: Mutex::default(),
            reservations: Mutex::default(),
            calendar: crate::calendar::Calendar::new(
                config.sync_reads_per_second,
                config.sync_period,
            ),
            config,
        }
    }

    /// With the means to sign in as the identities profiles name.
    pub fn with_identities(mut self, identities: Option<Arc<dyn Identities>>) -> Self {
        self.identities = identities;
        self
    }

    /// With the Key Vault client secret sync reads with; its counters go to `/metrics`.
    pub fn with_key_vault(mut self, key_vault: Option<azop_arm::KeyVaultClient>) -> Self {
        if let Some(k) = &key_vault {
            self.metrics.follow_key_vault(k.clone());
        }
        self.key_vault = key_vault;
        self
    }

    /// The ARM client for an object: its profile's identity when the profile names one, else
    /// the operator's own.
    pub fn azure_for(&self, decision: &Decision) -> Result<Arc<dyn Azure>, ReconcileError> {
        let Some(client_id) = &decision.credential_client_id else {
            return Ok(self.azure.clone());
        };
        let tenant = decision
            .tenant_id
            .clone()
            .unwrap_or_else(|| self.config.default_tenant_id.clone());
        let key = (tenant.to_ascii_lowercase(), client_id.to_ascii_lowercase());
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(azure) = clients.get(&key) {
            return Ok(azure.clone());
        }
        let Some(identities) = &self.identities else {
            return Err(ReconcileError::Azure(AzureError::Configuration {
                message: format!(
                    "the AzureProfile names credential.workloadIdentity.clientId {client_id}, but this operator has no federated token to sign in as another identity (run it with workload identity: AZURE_FEDERATED_TOKEN_FILE)"
                ),
            }));
        };
        let azure = identities.azure_as(&tenant, client_id)?;
        clients.insert(key, azure.clone());
        Ok(azure)
    }

    /// The lock serialising writes under `key` (ids compared case-insensitively, as ARM does).
    pub fn write_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .write_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        locks.entry(key.to_ascii_lowercase()).or_default().clone()
    }

    /// Counts one more consecutive failure of `key` and returns the count.
    pub(crate) fn failed(&self, key: &str) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let n = failures.entry(key.to_string()).or_default();
        *n = n.saturating_add(1);
        *n
    }

    /// Forgets `key`'s failures after a reconcile that went through.
    pub(crate) fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// Every AzureProfile, from memory.
    pub fn profile_list(&self) -> Vec<AzureProfile> {
        self.profiles
            .state()
            .iter()
            .filter_map(|p| p.0.as_ref().ok().cloned())
            .collect()
    }

    /// The profile that governs `namespace` among `profiles` (from [`Context::profile_list`]),
    /// with the namespace's labels and the operator's platform namespaces.
    pub fn governing<'p>(
        &self,
        profiles: &'p [AzureProfile],
        namespace: &str,
    ) -> Result<Governing<'p>, PolicyError> {
        policy::governing_profile(
            profiles,
            namespace,
            &self.namespace_labels(namespace),
            &self.config.platform_namespaces,
        )
    }

    /// The wait before retrying `key` after `error`: exponential backoff by its consecutive
    /// failures, never sooner than Azure's Retry-After.
    pub(crate) fn backoff_after(&self, key: &str, error: &ReconcileError) -> Action {
        let consecutive = self.failed(key);
        let retry_after = match error {
            ReconcileError::Azure(AzureError::Throttled { retry_after }) => Some(*retry_after),
            _ => None,
        };
        let mut wait = backoff(
            consecutive,
            self.config.error_backoff_base,
            self.config.error_backoff_max,
            retry_after,
        );
        // A 409 from Kubernetes means someone else wrote the object meanwhile: the next pass
        // reads the newer copy, so it is tried again within a second, not after a doubling wait.
        if let ReconcileError::Kube(kube::Error::Api(e)) = error
            && e.code == 409
        {
            wait = wait.min(jittered(Duration::from_secs(1)));
        }
        tracing::debug!(
            key,
            consecutive,
            wait_ms = wait.as_millis() as u64,
            "backing off"
        );
        Action::requeue(wait)
    }

    /// The labels of a namespace, from memory.
    pub fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        self.namespaces
            .get(&ObjectRef::new(namespace))
            .and_then(|ns| ns.metadata.labels.clone())
            .unwrap_or_default()
    }
}

/// A reference from one azop object to another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

/// The ARM resource a kind wants: its id and the typed body azop PUTs (whose fields are the
/// ones azop owns).
#[derive(Debug, Clone, PartialEq)]
pub struct Desired<B> {
    /// Its full ARM id.
    pub id: ResourceId,
    /// The body.
    pub body: B,
}

/// A resource that belongs to an object besides its main one (a federated credential of an
/// identity, a role assignment of a binding). It goes through the same steps: GET, compare,
/// PUT, operations recorded and resumed, deletion before the main resource.
#[derive(Debug, Clone)]
pub struct Child {
    /// Its full ARM id.
    pub id: ResourceId,
    /// The api-version to read and write it with.
    pub api_version: &'static str,
    /// The body azop PUTs.
    pub body: Value,
    /// What `resolve` already read of it (`Some(None)`: known to be absent), so the engine
    /// does not GET it again.
    pub known: Option<Option<Value>>,
    /// Writes under the same key are serialised (Azure refuses concurrent ones).
    pub write_lock: Option<String>,
    /// How a failed PUT is read.
    pub on_write_error: fn(AzureError) -> Result<(), ReconcileError>,
}

/// Why a reconcile stopped short.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A referenced object is not ready; retried soon, and woken when it changes.
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

/// What kind of failure a reconcile met: the `class` label of `azop_reconcile_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Needs a person (policy, invalid spec, quota, another owner).
    Stalled,
    /// ARM throttled the request.
    Throttled,
    /// 5xx, timeouts, connection failures.
    Transient,
    /// 409 from ARM.
    Conflict,
    /// 404 from ARM where a resource was expected.
    NotFound,
    /// 4xx validation from ARM.
    Terminal,
    /// A long-running operation that ended Failed or Canceled.
    OperationFailed,
    /// 401/403 from ARM or the token endpoint.
    Auth,
    /// azop's own configuration (endpoint, CA bundle).
    Configuration,
    /// The Kubernetes API failed.
    Kubernetes,
    /// A body did not (de)serialise.
    Serialization,
    /// An object that does not deserialise as its kind.
    InvalidObject,
}

impl ErrorClass {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Stalled => "Stalled",
            ErrorClass::Throttled => "Throttled",
            ErrorClass::Transient => "Transient",
            ErrorClass::Conflict => "Conflict",
            ErrorClass::NotFound => "NotFound",
            ErrorClass::Terminal => "Terminal",
            ErrorClass::OperationFailed => "OperationFailed",
            ErrorClass::Auth => "Auth",
            ErrorClass::Configuration => "Configuration",
            ErrorClass::Kubernetes => "Kubernetes",
            ErrorClass::Serialization => "Serialization",
            ErrorClass::InvalidObject => "InvalidObject",
        }
    }
}

impl ReconcileError {
    /// The failure's class, or `None` when it is no failure (waiting for a dependency).
    pub fn class(&self) -> Option<ErrorClass> {
        Some(match self {
            ReconcileError::Waiting { .. } => return None,
            ReconcileError::Stalled { .. } => ErrorClass::Stalled,
            ReconcileError::Azure(e) => match e {
                AzureError::Throttled { .. } => ErrorClass::Throttled,
                AzureError::Transient { .. } => ErrorClass::Transient,
                AzureError::Conflict { .. } => ErrorClass::Conflict,
                AzureError::NotFound { .. } => ErrorClass::NotFound,
                AzureError::Terminal { .. } => ErrorClass::Terminal,
                AzureError::OperationFailed { .. } => ErrorClass::OperationFailed,
                AzureError::Auth { .. } | AzureError::Forbidden { .. } => ErrorClass::Auth,
                AzureError::Configuration { .. } => ErrorClass::Configuration,
            },
            ReconcileError::Kube(_) => ErrorClass::Kubernetes,
            ReconcileError::Json(_) => ErrorClass::Serialization,
        })
    }
}

/// One kind's mapping to Azure. A reader finds the whole mapping of a kind in its adapter file:
/// what it resolves, the body it wants (a pure function, table-tested), what it reads back.
pub trait AzureKind: AzureBacked {
    /// The typed ARM body of the main resource (its api-version comes with it).
    type Body: ArmResource + Clone + Debug + Send + Sync;
    /// What `resolve` found: ids of referenced resources, issuer URLs, existing children.
    type Resolved: Send + Sync;

    /// What the object asks of the tenancy policy.
    fn policy_request(&self) -> Request<'_>;

    /// The azop objects this one waits for, so their readiness wakes it.
    fn references(&self) -> Vec<Reference> {
        crate::references::placement_refs(self)
    }

    /// Step 1: references (from memory) and any Azure lookup needed to decide.
    fn resolve<'a>(
        &'a self,
        ctx: &'a Context,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Self::Resolved, ReconcileError>>;

    /// The main resource azop wants: pure, from the spec, what was resolved and the policy
    /// decision.
    fn desired(
        &self,
        resolved: &Self::Resolved,
        decision: &Decision,
    ) -> Result<Desired<Self::Body>, ReconcileError>;

    /// Copies the kind's outputs from the ARM body into status.
    fn outputs(&self, status: &mut Self::Status, actual: &Self::Body);

    /// Whether Azure still holds what azop owns. Default: every field of the desired body.
    fn in_sync(desired: &Value, actual: &Value) -> bool {
        drift::in_sync(desired, actual)
    }

    /// Marks a body as owned by `owner`. Default: the `azop.dev/owner` tag.
    fn mark_owner(body: &mut Value, owner: &str) {
        owner_tag_into(body, owner);
    }

    /// The owner an ARM body names, if any. Default: the `azop.dev/owner` tag.
    fn owner_of(actual: &Value) -> Option<&str> {
        actual
            .get("tags")
            .and_then(|t| t.get(azop_api::OWNER_TAG))
            .and_then(Value::as_str)
    }

    /// The write that moves an existing main resource toward `desired` when it is not in sync.
    /// Default: one PUT of `update` (Azure's body with azop's fields written over it) on the
    /// resource itself. A kind whose parts have narrower APIs returns the first narrow write
    /// (an AKS cluster's agent pool, one upgrade step); the engine makes it, waits for its
    /// operation and compares again, so each change costs one operation on the narrowest
    /// resource that holds it.
    fn next_write(
        &self,
        id: &str,
        desired: &Value,
        actual: &Value,
        update: Value,
    ) -> Result<Step, ReconcileError> {
        let _ = (desired, actual);
        Ok(Step::Put {
            id: id.to_string(),
            api_version: Self::Body::API_VERSION,
            body: update,
        })
    }

    /// How a failed PUT of the main resource is read. Default: as the error it is.
    fn on_write_error(error: AzureError) -> Result<(), ReconcileError> {
        Err(error.into())
    }

    /// Called only when the main resource does not exist, before it is created: a last
    /// lookup that decides how to create it (a soft-deleted vault is recovered). Default: none.
    fn before_create<'a>(
        &'a self,
        _ctx: &'a Context,
        _decision: &'a Decision,
        _desired: &'a mut Desired<Self::Body>,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(async { Ok(()) })
    }

    /// Called before the main resource `id` is deleted (its children are gone already): a
    /// last look in Azure that may hold the delete — `Waiting` to look again soon, `Stalled`
    /// when a person must decide. Default: nothing to check.
    fn before_delete<'a>(
        &'a self,
        _ctx: &'a Context,
        _azure: &'a dyn Azure,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(async { Ok(()) })
    }

    /// Settings the kind may set and the spec may later drop, each (a JSON pointer into the
    /// body) with the value that undoes it in Azure: a PUT over Azure's body would otherwise
    /// keep what the spec no longer says. Undone only if azop applied it
    /// (`status.appliedFields`).
    const REMOVABLE: &'static [(&'static str, &'static str)] = &[];

    /// The resource types of the kind's children: a delete reaches only children of these
    /// types under the main resource, whatever `status.children` lists.
    const CHILD_TYPES: &'static [&'static str] = &[];

    /// Whether the main resource is a role assignment, counted against Azure's fixed limit per
    /// subscription (`quota.rs`): admitted before it is created, counted while it exists.
    const ROLE_ASSIGNMENT_QUOTA: bool = false;

    /// The child resources, in the order they are written (deleted in reverse). Pure.
    fn children(
        &self,
        _resolved: &Self::Resolved,
        _main: &Desired<Self::Body>,
    ) -> Result<Vec<Child>, ReconcileError> {
        Ok(Vec::new())
    }

    /// What `resolve` already read of the main resource (`Some(None)`: absent), so the engine
    /// does not GET it again. Default: nothing.
    fn known_actual(_resolved: &Self::Resolved) -> Option<Option<Value>> {
        None
    }

    /// The ARM reads and writes a pass over this object is expected to make, reserved in its
    /// subscription's buckets before the first request ([`budget`]): an object not created
    /// yet reads its resource and writes it and each child; one that exists reads them; one
    /// with an operation in flight polls it. A pass that needs more waits for the rest; what
    /// it does not use goes back.
    fn budget(&self) -> (u32, u32) {
        let common = self.common_status();
        let children = Self::CHILD_TYPES.len() as u32;
        if common.operation.is_some() {
            (1, 0)
        } else if common.ownership.is_some()
            || self.management_policy() == ManagementPolicy::Observe
        {
            (steady_reads::<Self>(), 0)
        } else {
            (1, 1 + children)
        }
    }

    /// Kubernetes-side work that must hold even while Azure is not re-read (an in-sync object
    /// whose sync is not due): a FederatedIdentity's ServiceAccount. Default: none.
    fn kubernetes_sync<'a>(
        &'a self,
        _ctx: &'a Context,
        _status: &'a mut Self::Status,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(async { Ok(()) })
    }

    /// Kubernetes-side work once Azure is in sync (a FederatedIdentity's ServiceAccount, an
    /// AKS cluster's kubeconfig Secret), and status fields that come from what was resolved.
    /// `actual` is the main resource as Azure last answered it, when this pass read it.
    /// Default: none.
    fn after_sync<'a>(
        &'a self,
        _ctx: &'a Context,
        _azure: &'a dyn Azure,
        _resolved: &'a Self::Resolved,
        _actual: Option<&'a Value>,
        _status: &'a mut Self::Status,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(async { Ok(()) })
    }
}

/// One write to an existing resource or one of its parts ([`AzureKind::next_write`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// PUT `body` at `id`.
    Put {
        /// The main resource's id, or a part's under it.
        id: String,
        /// The api-version of that resource type.
        api_version: &'static str,
        /// The whole body.
        body: Value,
    },
    /// DELETE `id`, a part under the main resource.
    Delete {
        /// The part's id.
        id: String,
        /// The api-version of that resource type.
        api_version: &'static str,
    },
}

/// Sets the `azop.dev/owner` tag to `owner` in `body`'s tags (made if missing).
pub fn owner_tag_into(body: &mut Value, owner: &str) {
    if let Some(b) = body.as_object_mut()
        && let Some(tags) = b.entry("tags").or_insert_with(|| json!({})).as_object_mut()
    {
        tags.insert(
            azop_api::OWNER_TAG.to_string(),
            Value::String(owner.to_string()),
        );
    }
}

/// The ownership tag's value for an object: `<cluster-id>/<namespace>/<kind>/<name>`. Azure
/// allows tag values of 256 characters; a longer one names the object by a digest instead
/// (`.../<kind>/~<uuid v5 of the name>`), as unique and as stable.
pub fn owner_tag_value<K: Resource<DynamicType = ()>>(cluster_id: &str, obj: &K) -> String {
    let namespace = obj.meta().namespace.as_deref().unwrap_or_default();
    let name = obj.meta().name.as_deref().unwrap_or_default();
    let kind = K::kind(&());
    let value = format!("{cluster_id}/{namespace}/{kind}/{name}");
    if value.len() <= 256 {
        return value;
    }
    let digest = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, value.as_bytes());
    format!("{cluster_id}/{namespace}/{kind}/~{digest}")
}

fn provisioning_state(actual: &Value) -> Option<&str> {
    actual
        .get("properties")
        .and_then(|p| p.get("provisioningState"))
        .and_then(Value::as_str)
}

pub(crate) fn now() -> Time {
    Time(jiff::Timestamp::now())
}

/// A duration near `base`, ±10%, so ten thousand objects do not all wake at once.
pub fn jittered(base: Duration) -> Duration {
    let nanos = jiff::Timestamp::now().subsec_nanosecond().unsigned_abs() as u64;
    let spread = base.as_millis() as u64 / 10;
    if spread == 0 {
        return base;
    }
    let offset = nanos % (2 * spread);
    Duration::from_millis(base.as_millis() as u64 - spread + offset)
}

/// The wait before retrying after `consecutive` failures: `base · 2^(n-1)`, capped, jittered,
/// and never shorter than what Azure asked for.
pub fn backoff(
    consecutive: u32,
    base: Duration,
    max: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    let exp = consecutive.saturating_sub(1).min(20);
    let wait = base.saturating_mul(1u32 << exp).min(max);
    let wait = jittered(wait).min(max);
    match retry_after {
        Some(r) => wait.max(r),
        None => wait,
    }
}

/// Where the object stands after one pass; turned into conditions and a requeue.
enum Outcome {
    InSync {
        observed: bool,
    },
    Operation {
        kind: OperationKind,
        retry_after: Option<Duration>,
    },
}

/// The key of an object in the failure counts (a malformed object has one too).
fn object_key<K: Resource<DynamicType = ()>>(obj: &DeserializeGuard<K>) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&()),
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

/// Writes the status when it changed (step 6), as a merge patch of the status subresource.
async fn write_status<K: AzureBacked>(
    api: &Api<K>,
    obj: &K,
    status: &K::Status,
) -> Result<(), ReconcileError> {
    patch_status(api, obj, obj.status(), status).await
}

/// Patches `obj`'s status from `old` (as last read; `None` when never written) to `new`, as a
/// merge patch, and only when they differ.
pub(crate) async fn patch_status<K, S>(
    api: &Api<K>,
    obj: &K,
    old: Option<&S>,
    new: &S,
) -> Result<(), ReconcileError>
where
    K: Resource<DynamicType = ()> + Clone + Debug + serde::de::DeserializeOwned,
    S: serde::Serialize + Default + Clone,
{
    let was = serde_json::to_value(old.cloned().unwrap_or_default())?;
    let now = serde_json::to_value(new)?;
    if was == now && old.is_some() {
        return Ok(());
    }
    let patch = json!({ "status": drift::merge_patch(&was, &now) });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// Step 2: which profile governs the object and what it allows.
fn decision_for<K: AzureKind>(obj: &K, ctx: &Context) -> Result<Decision, ReconcileError> {
    let namespace = obj.namespace().unwrap_or_default();
    let profiles = ctx.profile_list();
    let governing = ctx.governing(&profiles, &namespace)?;
    let mut request = obj.policy_request();
    request.kind = Some(K::KIND);
    request.adopt = obj.adopt();
    let platform = ctx.config.platform_namespaces.contains(&namespace);
    if let Some(why) = request.platform_only
        && !platform
    {
        return Err(ReconcileError::Stalled {
            reason: Reason::PolicyDenied,
            message: format!(
                "{why}; it is allowed only in the operator's platform namespaces, not {namespace}"
            ),
        });
    }
    let mut decision = policy::decide(&governing, &request)?;
    match governing {
        Governing::OperatorDefault => {
            decision.subscription_id = Some(ctx.config.default_subscription_id.clone());
            decision.tenant_id = Some(ctx.config.default_tenant_id.clone());
        }
        Governing::Profile(profile) if !platform => {
            decision.tenant = Some(policy::Tenant {
                profile: profile.name_any(),
                namespace,
                allowed_resource_groups: profile.spec.allowed_resource_groups.clone(),
                subscription_id: profile.spec.subscription_id.clone(),
            });
        }
        Governing::Profile(_) => {}
    }
    // A profile that names no tenant uses the operator's (AzureProfile.spec.tenantId).
    if decision.tenant_id.is_none() {
        decision.tenant_id = Some(ctx.config.default_tenant_id.clone());
    }
    Ok(decision)
}

/// The controller's entry point for one object: the finalizer, then [`apply`] or [`cleanup`].
/// An object that does not deserialise as its kind gets an Event and is left alone; the
/// others of its kind go on.
pub async fn reconcile<K: AzureKind>(
    guard: Arc<DeserializeGuard<K>>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let obj = match &guard.0 {
        Ok(obj) => obj,
        Err(invalid) => {
            report_invalid::<K>(&ctx, invalid).await;
            return Ok(Action::await_change());
        }
    };
    let kind = K::kind(&());
    let span = tracing::info_span!(
        "reconcile",
        kind = %kind,
        namespace = %obj.namespace().unwrap_or_default(),
        name = %obj.name_any(),
    );
    let start = std::time::Instant::now();
    let key = object_key(&guard);
    let pass = azop_arm::Pass::new();
    let result = pass
        .run(finalized(obj, ctx.clone(), &key, &pass))
        .instrument(span)
        .await;
    let took = start.elapsed();
    ctx.metrics.overhead(
        &kind,
        took.saturating_sub(pass.arm_time())
            .saturating_sub(pass.waited()),
    );
    pass.finish();
    let failure = match &result {
        Ok(Pass::Done(_)) => None,
        Ok(Pass::Stalled(e)) => e.class(),
        Err(e) => e.class(),
    };
    ctx.metrics
        .reconciled(&kind, failure.map(ErrorClass::as_str), took);
    match result {
        Ok(Pass::Done(action)) => {
            ctx.succeeded(&key);
            Ok(action)
        }
        Ok(Pass::Stalled(_)) => {
            ctx.succeeded(&key);
            Ok(Action::await_change())
        }
        Err(e) => Err(e),
    }
}

/// How one pass ended when it did not fail.
enum Pass {
    /// Requeue as the action says.
    Done(Action),
    /// Needs a person: conditions say so; wait for a change.
    Stalled(ReconcileError),
}

/// Adds the finalizer, or runs cleanup and removes it.
async fn finalized<K: AzureKind>(
    obj: &K,
    ctx: Arc<Context>,
    key: &str,
    pass: &azop_arm::Pass,
) -> Result<Pass, ReconcileError> {
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let finalizers = obj.finalizers();
    let position = finalizers.iter().position(|f| f == azop_api::FINALIZER);
    if obj.meta().deletion_timestamp.is_some() {
        // A turn reserved for creating it is not needed any more: its tokens go back.
        forget_turn(&ctx, key);
        if position.is_none() {
            return Ok(Pass::Done(Action::await_change()));
        }
        return match cleanup(obj, &ctx).await? {
            Some(wait) => Ok(Pass::Done(Action::requeue(wait))),
            None => {
                remove_finalizer(&api, obj).await?;
                ctx.dependents.forget(K::KIND, obj);
                Ok(Pass::Done(Action::await_change()))
            }
        };
    }
    // The finalizer is added by `apply`, after the first status write and before anything is
    // made (a new object shows it was seen one write sooner).
    apply(obj, &ctx, &api, key, pass).await
}

/// Adds azop's finalizer unless the object has it: a JSON patch whose `test` makes it fail
/// rather than corrupt a finalizer list someone changed meanwhile. When the list changed since
/// the cache's copy (the pass before added it, and its event has not arrived), the object is
/// read once and the patch made against what it holds now.
pub(crate) async fn add_finalizer<K>(api: &Api<K>, obj: &K) -> Result<(), ReconcileError>
where
    K: Resource<DynamicType = ()> + Clone + Debug + serde::de::DeserializeOwned,
{
    match patch_finalizer_in(api, obj).await {
        Err(kube::Error::Api(e)) if e.code == 422 || e.code == 409 => {
            let fresh = api.get(&obj.name_any()).await?;
            patch_finalizer_in(api, &fresh).await?;
            Ok(())
        }
        other => Ok(other?),
    }
}

/// The finalizer patch against `obj`'s finalizer list as it is in `obj`.
async fn patch_finalizer_in<K>(api: &Api<K>, obj: &K) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + serde::de::DeserializeOwned,
{
    let finalizers = obj.finalizers();
    if finalizers.iter().any(|f| f == azop_api::FINALIZER) {
        return Ok(());
    }
    let patch = if obj.meta().finalizers.is_none() {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [azop_api::FINALIZER]},
        ])
    } else {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
            {"op": "add", "path": "/metadata/finalizers/-", "value": azop_api::FINALIZER},
        ])
    };
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(kube::Error::SerdeError)?;
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::<()>::Json(patch),
    )
    .await?;
    Ok(())
}

/// Removes azop's finalizer, `test` first so a finalizer list changed meanwhile is not
/// corrupted.
pub(crate) async fn remove_finalizer<K>(api: &Api<K>, obj: &K) -> Result<(), ReconcileError>
where
    K: Resource<DynamicType = ()> + Clone + Debug + serde::de::DeserializeOwned,
{
    let Some(i) = obj
        .finalizers()
        .iter()
        .position(|f| f == azop_api::FINALIZER)
    else {
        return Ok(());
    };
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": format!("/metadata/finalizers/{i}"), "value": azop_api::FINALIZER},
        {"op": "remove", "path": format!("/metadata/finalizers/{i}")},
    ]))?;
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::<()>::Json(patch),
    )
    .await?;
    Ok(())
}

/// Publishes an Event for an object that does not deserialise as its kind.
async fn report_invalid<K: AzureKind>(
    ctx: &Context,
    invalid: &kube::core::error_boundary::InvalidObject,
) {
    report_invalid_object::<K>(ctx, invalid).await;
}

/// Why an object azop could not read does not deserialise, naming the field at fault: the
/// object is read once more, untyped, and deserialised with its path tracked (kube's own
/// error names no field). The bare error when that read fails.
pub(crate) async fn unreadable_because<K>(
    client: &kube::Client,
    invalid: &kube::core::error_boundary::InvalidObject,
) -> String
where
    K: Resource<DynamicType = ()> + serde::de::DeserializeOwned,
{
    let meta = &invalid.metadata;
    let ar = kube::api::ApiResource::erase::<K>(&());
    let api: Api<kube::api::DynamicObject> = match &meta.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let name = meta.name.clone().unwrap_or_default();
    let Ok(obj) = api.get(&name).await else {
        return invalid.error.clone();
    };
    let Ok(value) = serde_json::to_value(&obj) else {
        return invalid.error.clone();
    };
    match serde_path_to_error::deserialize::<_, K>(value) {
        Err(e) => format!("{}: {}", e.path(), e.inner()),
        Ok(_) => invalid.error.clone(),
    }
}

/// Publishes an Event (reason `InvalidObject`, what failed to deserialise and where as its
/// note) for an object that does not deserialise as `K`; counted in the reconcile metrics.
pub(crate) async fn report_invalid_object<K>(
    ctx: &Context,
    invalid: &kube::core::error_boundary::InvalidObject,
) where
    K: Resource<DynamicType = ()> + serde::de::DeserializeOwned,
{
    let kind = K::kind(&());
    let why = unreadable_because::<K>(&ctx.client, invalid).await;
    let meta = &invalid.metadata;
    tracing::warn!(
        kind = %kind,
        namespace = meta.namespace.as_deref().unwrap_or_default(),
        name = meta.name.as_deref().unwrap_or_default(),
        error = %why,
        "object does not deserialise; skipped"
    );
    ctx.metrics.reconciled(
        &kind,
        Some(ErrorClass::InvalidObject.as_str()),
        Duration::ZERO,
    );
    publish_unreadable::<K>(&ctx.recorder, meta, &why).await;
}

/// The `InvalidObject` Warning Event about an object of `K` azop cannot read (`meta`, all
/// that deserialised of it), `why` as its note.
pub(crate) async fn publish_unreadable<K: Resource<DynamicType = ()>>(
    recorder: &Recorder,
    meta: &kube::api::ObjectMeta,
    why: &str,
) {
    let reference = ObjectReference {
        api_version: Some(K::api_version(&()).to_string()),
        kind: Some(K::kind(&()).to_string()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    };
    let event = Event {
        type_: EventType::Warning,
        reason: Reason::InvalidObject.as_str().to_string(),
        note: Some(
            format!("azop cannot read this object: {why}")
                .chars()
                .take(1000)
                .collect(),
        ),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &reference).await {
        tracing::debug!(error = %e, "could not publish an event");
    }
}

/// A digest of what a sync of `obj` is computed from without asking Azure: its generation,
/// the policy decision, its ownership mark and the state of every object it references (as
/// dependents are woken by it). Stable across restarts of the same build.
fn sync_inputs<K: AzureKind>(obj: &K, ctx: &Context, decision: &Decision) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.meta().generation.hash(&mut h);
    format!("{decision:?}").hash(&mut h);
    owner_tag_value(&ctx.config.cluster_id, obj).hash(&mut h);
    for r in obj.references() {
        (&r.kind.as_str(), &r.namespace, &r.name).hash(&mut h);
        crate::runner::reference_state(&ctx.stores, &r).hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// How long until `obj`'s next check of Azure is due (zero: overdue), when it is in sync: Ready
/// for its generation, nothing running in Azure, and its last sync computed from `inputs`.
/// `None`: it is not in sync, and goes to Azure now.
fn steady_due<K: AzureKind>(obj: &K, ctx: &Context, inputs: &str) -> Option<Duration> {
    let common = obj.common_status();
    let generation = obj.meta().generation;
    if common.observed_generation != generation.unwrap_or(0)
        || common.operation.is_some()
        || common.last_sync_inputs.as_deref() != Some(inputs)
        || !azop_api::conditions::is_ready(&common.conditions, generation)
    {
        return None;
    }
    let last = common.last_sync_time.as_ref()?.0;
    Some(due_after(last, ctx.config.sync_period))
}

/// How long from now until a sync period after `last` (zero when that is past).
pub(crate) fn due_after(last: jiff::Timestamp, period: Duration) -> Duration {
    jiff::SignedDuration::try_from(period)
        .ok()
        .and_then(|p| last.checked_add(p).ok())
        .and_then(|due| Duration::try_from(jiff::Timestamp::now().duration_until(due)).ok())
        .unwrap_or(Duration::ZERO)
}

/// An in-sync object's turn on its subscription's calendar of periodic checks, due `due` from
/// now: `Some(wait)` until then (it is requeued, and asks nothing of Azure), `None` when its
/// turn is now (the booking is spent).
pub(crate) fn steady_turn(
    ctx: &Context,
    subscription: &str,
    key: &str,
    due: Duration,
    reads: u32,
) -> Option<Duration> {
    let wait = ctx.calendar.book(subscription, key, due, reads);
    if wait > INLINE_BUDGET_WAIT {
        return Some(wait);
    }
    ctx.calendar.used(key);
    None
}

/// Books an object just found in sync for its next periodic check, a sync period from now; the
/// wait until it.
pub(crate) fn next_steady_turn(
    ctx: &Context,
    subscription: &str,
    key: &str,
    reads: u32,
) -> Duration {
    ctx.calendar
        .book(subscription, key, ctx.config.sync_period, reads)
}

/// The reads of an in-sync object's periodic check: its resource and each child.
fn steady_reads<K: AzureKind>() -> u32 {
    1 + K::CHILD_TYPES.len() as u32
}

/// Takes `key` off the calendar: it changed, and is reconciled now.
pub(crate) fn off_calendar(ctx: &Context, key: &str) {
    ctx.calendar.cancel(key);
}

/// The Reconciling message of a new generation waiting for its turn in ARM's budget.
pub(crate) fn turn_message(generation: i64, subscription: &str, wait: Duration) -> String {
    format!(
        "generation {generation} seen; waiting for its turn in ARM's request budget of subscription {subscription} (about {} s), so that Azure does not throttle",
        wait.as_secs().max(1)
    )
}

/// A pass waits less than this inline for its reserved requests; longer, it is requeued.
const INLINE_BUDGET_WAIT: Duration = Duration::from_millis(20);

/// Reserves the requests of this pass (or takes the reservation it was requeued with).
/// `Some((wait, subscription))`: not its turn yet; the reservation is kept for it.
async fn budget<K: AzureKind>(
    obj: &K,
    ctx: &Context,
    decision: &Decision,
    subscription: &str,
    key: &str,
    pass: &azop_arm::Pass,
) -> Result<Option<(Duration, String)>, ReconcileError> {
    let azure = ctx.azure_for(decision)?;
    take_turn(ctx, azure.as_ref(), subscription, obj.budget(), key, pass).await
}

/// Reserves `reads` and `writes` of `subscription` through `azure` for the pass of the object
/// `key` (or takes the reservation it was requeued with). `Some((wait, subscription))`: not
/// its turn yet; the reservation is kept for it, and the caller requeues it after `wait`.
pub(crate) async fn take_turn(
    ctx: &Context,
    azure: &dyn Azure,
    subscription: &str,
    (reads, writes): (u32, u32),
    key: &str,
    pass: &azop_arm::Pass,
) -> Result<Option<(Duration, String)>, ReconcileError> {
    let held = ctx
        .reservations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(key);
    let reservation = match held {
        Some(r) => r,
        None if reads == 0 && writes == 0 => return Ok(None),
        None => match azure.reserve(subscription, reads, writes) {
            Some(r) => r,
            None => return Ok(None),
        },
    };
    let wait = reservation.ready_in();
    if wait > INLINE_BUDGET_WAIT {
        let subscription = reservation.subscription().to_string();
        ctx.reservations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string(), reservation);
        return Ok(Some((wait, subscription)));
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
        pass.waited_for(wait);
    }
    pass.spend(reservation);
    Ok(None)
}

/// Gives back the turn reserved for `key` (its object is being deleted).
pub(crate) fn forget_turn(ctx: &Context, key: &str) {
    ctx.reservations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(key);
    ctx.calendar.cancel(key);
}

/// Reconciles one object towards its spec.
async fn apply<K: AzureKind>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    key: &str,
    pass: &azop_arm::Pass,
) -> Result<Pass, ReconcileError> {
    ctx.dependents.record(K::KIND, obj, obj.references());
    let generation = obj.meta().generation.unwrap_or(0);
    let mut status = obj.status().cloned().unwrap_or_default();
    let decision = decision_for(obj, ctx);
    let inputs = decision.as_ref().ok().map(|d| sync_inputs(obj, ctx, d));
    let subscription = decision.as_ref().ok().map(|d| {
        d.subscription_id
            .clone()
            .unwrap_or_else(|| ctx.config.default_subscription_id.clone())
    });

    // In sync and nothing it depends on changed (a restart, a woken dependent, its periodic
    // check): no Azure request until its turn on the subscription's calendar, at least a sync
    // period after its last check.
    match (
        inputs.as_deref().and_then(|i| steady_due(obj, ctx, i)),
        &subscription,
    ) {
        (Some(due), Some(sub)) => {
            if let Some(wait) = steady_turn(ctx, sub, key, due, steady_reads::<K>()) {
                add_finalizer(api, obj).await?;
                obj.kubernetes_sync(ctx, &mut status).await?;
                write_status(api, obj, &status).await?;
                return Ok(Pass::Done(Action::requeue(wait)));
            }
        }
        _ => off_calendar(ctx, key),
    }

    // ARM's budget: the pass's requests are reserved first; while they are not ours yet the
    // object is requeued for its turn instead of waiting in a reconcile slot. An object waiting
    // for a dependency reserves nothing: its turn would pass unused while others wait for
    // theirs (it is woken when the dependency becomes Ready).
    let dependency_pending = obj
        .references()
        .iter()
        .any(|r| crate::runner::reference_not_ready(&ctx.stores, r));
    if let (Ok(decision), Some(sub)) = (&decision, &subscription)
        && !dependency_pending
        && let Some((wait, subscription)) = budget(obj, ctx, decision, sub, key, pass).await?
    {
        if K::azure_status(&mut status).observed_generation != generation {
            let common = K::azure_status(&mut status);
            common.observed_generation = generation;
            Conditions::new(&mut common.conditions, generation, now()).working(
                Reason::Throttled,
                turn_message(generation, &subscription, wait),
            );
            write_status(api, obj, &status).await?;
        }
        // Its turn is reserved: the finalizer gives the tokens back if it is deleted first.
        add_finalizer(api, obj).await?;
        return Ok(Pass::Done(Action::requeue(wait)));
    }

    // A new generation: Ready=Unknown, Reconciling=True before any Azure call. (Also while a
    // dependency is pending: a kind that needs only its dependency's name goes on to Azure.)
    if K::azure_status(&mut status).observed_generation != generation {
        let common = K::azure_status(&mut status);
        common.observed_generation = generation;
        Conditions::new(&mut common.conditions, generation, now())
            .progressing(format!("generation {generation} seen; reconciling"));
        write_status(api, obj, &status).await?;
    }

    let result = match decision {
        Ok(decision) => {
            add_finalizer(api, obj).await?;
            sync::<K>(obj, ctx, &decision, &mut status).await
        }
        Err(e) => Err(e),
    };
    let common = K::azure_status(&mut status);
    if matches!(result, Ok(Outcome::InSync { .. })) {
        common.last_sync_time = Some(now());
        common.last_sync_inputs = inputs;
    }
    let resource_id = common.resource_id.clone().unwrap_or_default();
    let part_in_operation = common
        .operation
        .as_ref()
        .and_then(|o| o.resource_id.clone());
    let mut conditions = Conditions::new(&mut common.conditions, generation, now());
    let pass = match result {
        Ok(Outcome::InSync { observed }) => {
            if observed {
                conditions.ready_because(
                    Reason::Observed,
                    "observed in Azure (managementPolicy: Observe)",
                );
            } else {
                conditions.ready("in sync with Azure");
            }
            Ok(Pass::Done(Action::requeue(match &subscription {
                Some(sub) => next_steady_turn(ctx, sub, key, steady_reads::<K>()),
                None => jittered(ctx.config.sync_period),
            })))
        }
        Ok(Outcome::Operation { kind, retry_after }) => {
            let reason = match kind {
                OperationKind::Create => Reason::Creating,
                OperationKind::Delete => Reason::Deleting,
                OperationKind::Update => Reason::Updating,
            };
            let on = part_in_operation
                .map(|p| format!(" on {p}"))
                .unwrap_or_default();
            conditions.working(
                reason,
                format!("{} operation running in Azure{on}", kind.as_str()),
            );
            Ok(Pass::Done(Action::requeue(
                retry_after
                    .unwrap_or(Duration::from_secs(5))
                    .min(ctx.config.max_poll_interval),
            )))
        }
        Err(e) => {
            let needs_person = set_error_conditions(&mut conditions, &e);
            if let Some(class) = e.class() {
                tracing::warn!(
                    kind = %K::kind(&()),
                    namespace = %obj.namespace().unwrap_or_default(),
                    name = %obj.name_any(),
                    resource_id = %resource_id,
                    class = class.as_str(),
                    error = %e,
                    "reconcile failed"
                );
            }
            match e {
                ReconcileError::Waiting { .. } => Ok(Pass::Done(Action::requeue(jittered(
                    ctx.config.waiting_requeue,
                )))),
                // A role granted later is not visible from Kubernetes: look again at the sync
                // period, never in a hot loop.
                ReconcileError::Azure(AzureError::Forbidden { .. }) => Ok(Pass::Done(
                    Action::requeue(jittered(ctx.config.sync_period)),
                )),
                e if needs_person => Ok(Pass::Stalled(e)),
                e => Err(e),
            }
        }
    };
    write_status(api, obj, &status).await?;
    publish_transition::<K>(ctx, obj, &status).await;
    pass
}

/// A Warning Event on `obj` when a new role assignment brings its subscription to 80% of
/// Azure's limit or more.
pub(crate) async fn warn_near_quota<K>(ctx: &Context, obj: &K, admission: crate::quota::Admission)
where
    K: Resource<DynamicType = ()>,
{
    let crate::quota::Admission::AllowedNearLimit { count } = admission else {
        return;
    };
    let limit = ctx.quota.azure_limit();
    tracing::warn!(count, limit, "role assignments near Azure's limit");
    let event = Event {
        type_: EventType::Warning,
        reason: "RoleAssignmentQuota".to_string(),
        note: Some(format!(
            "this subscription holds {count} role assignments azop manages; Azure allows {limit} and azop refuses new ones past its threshold"
        )),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::debug!(error = %e, "could not publish an event");
    }
}

/// Publishes an Event when Ready's status or reason changed. Best effort: an Event that cannot
/// be written never fails a reconcile.
async fn publish_transition<K: AzureKind>(ctx: &Context, obj: &K, status: &K::Status) {
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
    // Waiting for another object is where most objects start (a fleet applied at once): the
    // condition says it, and an Event each would be as many writes again.
    if matches!(new.reason.as_str(), "WaitingForDependency" | "Progressing") {
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

/// Sets the conditions for an error; true when it needs a person (Stalled).
pub(crate) fn set_error_conditions(conditions: &mut Conditions<'_>, e: &ReconcileError) -> bool {
    match e {
        ReconcileError::Waiting { reason, message } => {
            conditions.working(*reason, message.clone());
            false
        }
        ReconcileError::Stalled { reason, message } => {
            conditions.stalled(*reason, message.clone());
            true
        }
        ReconcileError::Azure(AzureError::Throttled { .. }) => {
            conditions.working(Reason::Throttled, e.to_string());
            false
        }
        // Azure took the request, and its operation failed: the resource is left Failed, and
        // the next pass puts it again (Azure's way to reconcile one), with backoff.
        ReconcileError::Azure(AzureError::OperationFailed { code, message }) => {
            conditions.working(
                Reason::AzureError,
                format!("Azure's operation ended {code}: {message}; azop retries it with backoff"),
            );
            false
        }
        ReconcileError::Azure(AzureError::Terminal { code, message }) => {
            conditions.stalled(
                Reason::InvalidSpec,
                format!("Azure refused the request: {code}: {message}"),
            );
            true
        }
        ReconcileError::Azure(AzureError::Conflict { code, message }) => {
            let reason = if code.contains("AlreadyExists") {
                Reason::NameConflict
            } else {
                Reason::Conflict
            };
            conditions.working(
                reason,
                format!("Azure answered a conflict: {code}: {message}"),
            );
            false
        }
        ReconcileError::Azure(AzureError::Configuration { message }) => {
            conditions.working(
                Reason::ConfigurationError,
                format!("the operator's Azure configuration is wrong: {message}"),
            );
            false
        }
        ReconcileError::Azure(AzureError::Forbidden { code, message }) => {
            conditions.stalled(
                Reason::AuthorizationFailed,
                format!(
                    "Azure refused the action to the identity azop uses for this namespace (its AzureProfile's credential): {code}: {message} Grant that identity a role that allows it; azop tries again at the sync period or when the object changes"
                ),
            );
            true
        }
        ReconcileError::Azure(AzureError::Auth { message }) => {
            conditions.working(
                Reason::AuthorizationFailed,
                format!("Azure refused azop's credential: {message}"),
            );
            false
        }
        ReconcileError::Azure(err) => {
            conditions.working(
                Reason::AzureError,
                format!("Azure answered an error: {err}"),
            );
            false
        }
        ReconcileError::Kube(_) | ReconcileError::Json(_) => {
            conditions.working(Reason::AzureError, e.to_string());
            false
        }
    }
}

/// Polls the operation recorded in status, if any. `Some(outcome)` while it runs.
async fn poll_recorded(
    azure: &dyn Azure,
    common: &mut azop_api::AzureResourceStatus,
) -> Result<Option<Outcome>, ReconcileError> {
    let Some(op) = common.operation.clone() else {
        return Ok(None);
    };
    match azure.poll(&op.token).await? {
        Polled::InProgress { retry_after } => Ok(Some(Outcome::Operation {
            kind: op.kind,
            retry_after,
        })),
        Polled::Failed(err) => {
            common.operation = None;
            Err(err.into())
        }
        Polled::Succeeded(_) => {
            common.operation = None;
            Ok(None)
        }
    }
}

/// Steps 1–5 for one object.
async fn sync<K: AzureKind>(
    obj: &K,
    ctx: &Context,
    decision: &Decision,
    status: &mut K::Status,
) -> Result<Outcome, ReconcileError> {
    let azure = ctx.azure_for(decision)?;
    let azure = azure.as_ref();
    let resolved = obj.resolve(ctx, decision).await?;
    let mut desired = obj.desired(&resolved, decision)?;
    let id = desired.id.as_str().to_string();
    let api_version = K::Body::API_VERSION;
    let owner = owner_tag_value(&ctx.config.cluster_id, obj);
    K::azure_status(status).resource_id = Some(id.clone());

    // Step 3: an operation in flight is polled, never repeated.
    if let Some(running) = poll_recorded(azure, K::azure_status(status)).await? {
        return Ok(running);
    }

    // Step 4: read, compare on owned fields, write only on difference.
    let mut body = owned_body::<K>(&desired, &owner)?;
    // What is written: the owned body alone for a create, over Azure's for an update.
    let mut written_body = None;
    let actual = match K::known_actual(&resolved) {
        Some(known) => known,
        None => azure.get(&id, api_version).await?,
    };
    let observe = obj.management_policy() == ManagementPolicy::Observe;
    let mut adopting = false;
    match &actual {
        Some(actual) => {
            if !observe {
                adopting = check_ownership::<K>(obj, &id, actual, &owner)?;
            }
            let typed: K::Body = serde_json::from_value(actual.clone())?;
            obj.outputs(status, &typed);
            K::azure_status(status).provisioning_state =
                provisioning_state(actual).map(str::to_string);
            if observe {
                return Ok(Outcome::InSync { observed: true });
            }
            match provisioning_state(actual) {
                None | Some("Succeeded") | Some("Failed") | Some("Canceled") => {}
                // Someone else's operation runs (AKS allows one at a time): wait for it.
                Some(_) => {
                    return Ok(Outcome::Operation {
                        kind: OperationKind::Update,
                        retry_after: None,
                    });
                }
            }
            if K::ROLE_ASSIGNMENT_QUOTA {
                ctx.quota.note(&id);
            }
            undo_dropped::<K>(&mut body, &K::azure_status(status).applied_fields);
            let dropped = dropped_tags(&K::azure_status(status).applied_tags, &body, actual);
            // A resource Azure left Failed (its last operation failed) is put again even when
            // its body matches: that PUT is how Azure reconciles it.
            let failed = provisioning_state(actual) == Some("Failed");
            if !adopting && dropped.is_empty() && !failed && K::in_sync(&body, actual) {
                record_owned::<K>(status, &body, None);
                let seen = Seen {
                    created_now: false,
                    answer: Some(actual),
                };
                return sync_children(obj, ctx, azure, &resolved, &desired, status, seen).await;
            }
            let update = update_body(&body, actual, &dropped);
            match obj.next_write(&id, &body, actual, update)? {
                Step::Put {
                    id: part,
                    body: whole,
                    ..
                } if part.eq_ignore_ascii_case(&id) => written_body = Some(whole),
                step => return write_part::<K>(azure, step, status).await,
            }
        }
        None if observe => {
            return Err(ReconcileError::Waiting {
                reason: Reason::WaitingForDependency,
                message: format!("{id} does not exist; managementPolicy Observe never creates it"),
            });
        }
        None => {
            obj.before_create(ctx, decision, &mut desired).await?;
            body = owned_body::<K>(&desired, &owner)?;
            if K::ROLE_ASSIGNMENT_QUOTA {
                let admission = ctx.quota.admit(&id)?;
                warn_near_quota(ctx, obj, admission).await;
            }
        }
    }

    // Step 5: write; an operation is recorded before returning.
    let kind = if actual.is_some() {
        OperationKind::Update
    } else {
        OperationKind::Create
    };
    let written = match azure
        .put(&id, api_version, written_body.as_ref().unwrap_or(&body))
        .await
    {
        Ok(w) => w,
        Err(e) => {
            // The kind reads this error as "already satisfied" (a role assignment someone else
            // made for the same principal, role and scope): nothing of azop's exists.
            K::on_write_error(e)?;
            record_owned::<K>(status, &body, None);
            K::azure_status(status).ownership = None;
            let seen = Seen {
                created_now: false,
                answer: None,
            };
            return sync_children(obj, ctx, azure, &resolved, &desired, status, seen).await;
        }
    };
    if K::ROLE_ASSIGNMENT_QUOTA {
        ctx.quota.note(&id);
    }
    // Azure took the body: from here on the resource carries this object's mark.
    let ownership = match (&actual, adopting) {
        (None, _) => Some(Ownership::Created),
        (Some(_), true) => Some(Ownership::Adopted),
        (Some(_), false) => None,
    };
    record_owned::<K>(status, &body, ownership);
    match written {
        Written::Done(answer) => {
            if let Some(answer) = &answer {
                let typed: K::Body = serde_json::from_value(answer.clone())?;
                obj.outputs(status, &typed);
                K::azure_status(status).provisioning_state =
                    provisioning_state(answer).map(str::to_string);
                if let Some(state) = provisioning_state(answer)
                    && state != "Succeeded"
                {
                    return Ok(Outcome::Operation {
                        kind,
                        retry_after: None,
                    });
                }
            }
            let seen = Seen {
                created_now: actual.is_none(),
                answer: answer.as_ref(),
            };
            sync_children(obj, ctx, azure, &resolved, &desired, status, seen).await
        }
        Written::Started { token, retry_after } => {
            K::azure_status(status).operation = Some(PendingOperation {
                kind,
                resource_id: None,
                started_at: now(),
                token,
            });
            Ok(Outcome::Operation { kind, retry_after })
        }
    }
}

/// Makes one narrow write on a part of the main resource (an agent pool) and records its
/// operation, so the next pass polls it and then compares the whole again.
async fn write_part<K: AzureKind>(
    azure: &dyn Azure,
    step: Step,
    status: &mut K::Status,
) -> Result<Outcome, ReconcileError> {
    let (id, written, kind) = match &step {
        Step::Put {
            id,
            api_version,
            body,
        } => (
            id,
            azure.put(id, api_version, body).await?,
            OperationKind::Update,
        ),
        Step::Delete { id, api_version } => (
            id,
            azure.delete(id, api_version).await?,
            OperationKind::Delete,
        ),
    };
    let retry_after = match written {
        Written::Started { token, retry_after } => {
            K::azure_status(status).operation = Some(PendingOperation {
                kind,
                resource_id: Some(id.clone()),
                started_at: now(),
                token,
            });
            retry_after
        }
        // Done at once: the next pass reads the result.
        Written::Done(_) => Some(Duration::from_secs(1)),
    };
    Ok(Outcome::Operation { kind, retry_after })
}

/// Whether this object may write to an existing resource: its own mark → yes; another
/// object's → `OwnedByAnotherObject`; none → `AlreadyExists` unless the object adopts it (its
/// profile allowed that before any Azure request). `Ok(true)`: being adopted now.
fn check_ownership<K: AzureKind>(
    obj: &K,
    id: &str,
    actual: &Value,
    owner: &str,
) -> Result<bool, ReconcileError> {
    match K::owner_of(actual) {
        Some(mark) if mark == owner => Ok(false),
        Some(other) => Err(ReconcileError::Stalled {
            reason: Reason::OwnedByAnotherObject,
            message: format!(
                "{id} is owned by {other}, not by this object; azop will not change, adopt or delete it"
            ),
        }),
        None if obj.adopt() => Ok(true),
        None => Err(ReconcileError::Stalled {
            reason: Reason::AlreadyExists,
            message: format!(
                "{id} already exists and azop did not create it (it has no {} mark); azop leaves it untouched. To manage it from this object, set spec.adopt: true (the namespace's AzureProfile must set allowAdoption: true); an adopted resource is deleted with the object only if spec.deletionPolicy is Delete",
                azop_api::OWNER_TAG
            ),
        }),
    }
}

/// Records what azop now owns: how it came to (when it just did) and the tags it applied.
fn record_owned<K: AzureKind>(status: &mut K::Status, body: &Value, ownership: Option<Ownership>) {
    let common = K::azure_status(status);
    if let Some(o) = ownership {
        common.ownership = Some(o);
    }
    common.applied_tags = applied_tag_names(body);
    common.applied_fields = K::REMOVABLE
        .iter()
        .filter(|(path, undo)| {
            body.pointer(path)
                .is_some_and(|v| serde_json::from_str::<Value>(undo).ok().as_ref() != Some(v))
        })
        .map(|(path, _)| path.to_string())
        .collect();
}

/// Writes the undoing value of each removable setting azop applied last (`applied`) that the
/// body no longer sets.
fn undo_dropped<K: AzureKind>(body: &mut Value, applied: &[String]) {
    for (path, undo) in K::REMOVABLE {
        if !applied.iter().any(|a| a == path) || body.pointer(path).is_some() {
            continue;
        }
        let Ok(undo) = serde_json::from_str::<Value>(undo) else {
            continue;
        };
        let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
        if let Some(p) = body.pointer_mut(parent).and_then(Value::as_object_mut) {
            p.insert(key.to_string(), undo);
        }
    }
}

/// The tags azop applies in `body`, its ownership tag aside.
fn applied_tag_names(body: &Value) -> Vec<String> {
    body.get("tags")
        .and_then(Value::as_object)
        .map(|t| {
            t.keys()
                .filter(|k| k.as_str() != azop_api::OWNER_TAG)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Tags azop applied before that the body no longer sets and Azure still carries: azop
/// removes those, and only those.
fn dropped_tags(applied: &[String], body: &Value, actual: &Value) -> Vec<String> {
    let wanted = body.get("tags").and_then(Value::as_object);
    let present = actual.get("tags").and_then(Value::as_object);
    applied
        .iter()
        .filter(|k| !wanted.is_some_and(|w| w.contains_key(k.as_str())))
        .filter(|k| present.is_some_and(|p| p.contains_key(k.as_str())))
        .cloned()
        .collect()
}

/// The body of an update: what Azure holds, with what azop sets written over it, so fields and
/// tags azop never set stay as they are; tags in `dropped` go. Azure's own read-only envelope
/// fields are left out (ARM ignores read-only properties in a PUT either way).
fn update_body(desired: &Value, actual: &Value, dropped: &[String]) -> Value {
    let mut body = actual.clone();
    if let Some(b) = body.as_object_mut() {
        for key in ["id", "name", "type", "etag", "systemData"] {
            b.remove(key);
        }
        if let Some(p) = b.get_mut("properties").and_then(Value::as_object_mut) {
            p.remove("provisioningState");
        }
    }
    overlay(&mut body, desired);
    if let Some(tags) = body.get_mut("tags").and_then(Value::as_object_mut) {
        for k in dropped {
            tags.remove(k);
        }
    }
    body
}

/// Writes `top` over `base`: objects key by key, anything else (lists included) whole.
fn overlay(base: &mut Value, top: &Value) {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, tv) in t {
                match b.get_mut(k) {
                    Some(bv) if bv.is_object() && tv.is_object() => overlay(bv, tv),
                    _ => {
                        b.insert(k.clone(), tv.clone());
                    }
                }
            }
        }
        (b, t) => *b = t.clone(),
    }
}

/// The body azop PUTs: the desired one with this object's ownership mark.
fn owned_body<K: AzureKind>(
    desired: &Desired<K::Body>,
    owner: &str,
) -> Result<Value, ReconcileError> {
    let mut body = serde_json::to_value(&desired.body)?;
    K::mark_owner(&mut body, owner);
    Ok(body)
}

/// What a pass saw of the main resource.
struct Seen<'a> {
    /// Created by this pass: it has no children yet, so none is read before it is written.
    created_now: bool,
    /// The main resource as Azure last answered for it in this pass.
    answer: Option<&'a Value>,
}

/// Step 4 for each child resource once the main one is in sync, then the kind's Kubernetes
/// work.
async fn sync_children<K: AzureKind>(
    obj: &K,
    ctx: &Context,
    azure: &dyn Azure,
    resolved: &K::Resolved,
    main: &Desired<K::Body>,
    status: &mut K::Status,
    seen: Seen<'_>,
) -> Result<Outcome, ReconcileError> {
    for child in obj.children(resolved, main)? {
        let id = child.id.as_str();
        let actual = match child.known {
            Some(known) => known,
            None if seen.created_now => None,
            None => azure.get(id, child.api_version).await?,
        };
        if actual
            .as_ref()
            .is_some_and(|a| drift::in_sync(&child.body, a))
        {
            continue;
        }
        let lock = child.write_lock.as_deref().map(|k| ctx.write_lock(k));
        let _guard = match &lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let kind = if actual.is_some() {
            OperationKind::Update
        } else {
            OperationKind::Create
        };
        let written = match azure.put(id, child.api_version, &child.body).await {
            Ok(w) => w,
            Err(e) => {
                (child.on_write_error)(e)?;
                Written::Done(None)
            }
        };
        let common = K::azure_status(status);
        if actual.is_none() && !common.children.iter().any(|c| c.eq_ignore_ascii_case(id)) {
            common.children.push(id.to_string());
        }
        if let Written::Started { token, retry_after } = written {
            common.operation = Some(PendingOperation {
                kind,
                resource_id: Some(id.to_string()),
                started_at: now(),
                token,
            });
            return Ok(Outcome::Operation { kind, retry_after });
        }
    }
    obj.after_sync(ctx, azure, resolved, seen.answer, status)
        .await?;
    Ok(Outcome::InSync { observed: false })
}

/// Deletes the Azure resources when policy says so: children first, then the main resource,
/// and only what this object owns. `Ok(None)` lets the object go; `Ok(Some(wait))` keeps the
/// finalizer while a delete runs.
async fn cleanup<K: AzureKind>(obj: &K, ctx: &Context) -> Result<Option<Duration>, ReconcileError> {
    if effective_deletion_policy(obj) == DeletionPolicy::Orphan
        || obj.management_policy() == ManagementPolicy::Observe
    {
        return Ok(None);
    }
    let mut status = obj.status().cloned().unwrap_or_default();
    let result = match cleanup_azure(obj, ctx) {
        Ok(azure) => delete_owned(obj, ctx, azure.as_ref(), &mut status).await,
        Err(e) => Err(e),
    };
    // Done: the finalizer goes and the object with it; nothing to record.
    if let Ok(None) = result {
        return result;
    }
    let generation = obj.meta().generation.unwrap_or(0);
    let common = K::azure_status(&mut status);
    let mut conditions = Conditions::new(&mut common.conditions, generation, now());
    match &result {
        Err(e) => {
            set_error_conditions(&mut conditions, e);
        }
        Ok(_) => conditions.working(Reason::Deleting, "delete operation running in Azure"),
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    write_status(&api, obj, &status).await?;
    match result {
        // Waiting for other objects to delete what they own: soon again, not a failure.
        Err(ReconcileError::Waiting { .. }) => Ok(Some(jittered(ctx.config.waiting_requeue))),
        other => other,
    }
}

/// The ARM client a delete uses: the governing profile's identity, as for every other write.
/// The profile's allow-lists are not consulted (what the object created may always go); with
/// no profile at all, the operator's own identity deletes, and still only what the object owns.
fn cleanup_azure<K: AzureKind>(obj: &K, ctx: &Context) -> Result<Arc<dyn Azure>, ReconcileError> {
    azure_for_namespace(ctx, &obj.namespace().unwrap_or_default())
}

/// The ARM client of the profile that governs `namespace` (its identity, or the operator's
/// own when it names none; a platform namespace without a profile uses the operator's own).
/// A namespace no single profile governs gets no client at all: azop's own identity never acts
/// for a tenant namespace. Allow-lists are not consulted: callers have checked what they must.
pub fn azure_for_namespace(
    ctx: &Context,
    namespace: &str,
) -> Result<Arc<dyn Azure>, ReconcileError> {
    let profiles = ctx.profile_list();
    match ctx.governing(&profiles, namespace) {
        Ok(Governing::Profile(p)) => ctx.azure_for(&Decision {
            tenant_id: p.spec.tenant_id.clone(),
            credential_client_id: policy::credential_client_id(p),
            ..Decision::default()
        }),
        Ok(Governing::OperatorDefault) => Ok(ctx.azure.clone()),
        Err(e) => Err(e.into()),
    }
}

/// `spec.deletionPolicy`, or when omitted: `Delete` for what azop created, `Orphan` for what
/// the object adopted.
pub fn effective_deletion_policy<K: AzureBacked>(obj: &K) -> DeletionPolicy {
    obj.deletion_policy().unwrap_or_else(|| {
        // `spec.adopt` alone decides it too: status can be lost (a restore, a failed write
        // after the adopting PUT), the spec is what the user wrote.
        if obj.adopt() || obj.common_status().ownership == Some(Ownership::Adopted) {
            DeletionPolicy::Orphan
        } else {
            DeletionPolicy::Delete
        }
    })
}

/// Deletes what this object owns. Status is the object's, not azop's alone, so nothing in it
/// is trusted to say what to delete: the main resource goes only when its ownership mark names
/// this object, and a child only when it sits under that resource.
async fn delete_owned<K: AzureKind>(
    obj: &K,
    ctx: &Context,
    azure: &dyn Azure,
    status: &mut K::Status,
) -> Result<Option<Duration>, ReconcileError> {
    let common = K::azure_status(status);
    let poll_wait = |retry_after: Option<Duration>| {
        retry_after
            .unwrap_or(Duration::from_secs(5))
            .min(ctx.config.max_poll_interval)
    };
    if let Some(op) = common.operation.clone() {
        match azure.poll(&op.token).await? {
            // A delete still running is waited for; so is a create or update, whose resource
            // is deleted once it ends.
            Polled::InProgress { retry_after } => return Ok(Some(poll_wait(retry_after))),
            Polled::Failed(err) if op.kind == OperationKind::Delete => {
                common.operation = None;
                return Err(err.into());
            }
            Polled::Failed(_) | Polled::Succeeded(_) => {
                common.operation = None;
                if op.kind == OperationKind::Delete {
                    match &op.resource_id {
                        Some(child) => common.children.retain(|c| !c.eq_ignore_ascii_case(child)),
                        None => return Ok(None),
                    }
                }
            }
        }
    }
    let id = match common.resource_id.clone() {
        Some(id) => id,
        None => match spec_id(obj, ctx).await? {
            Some(id) => id,
            None => return Ok(None),
        },
    };
    let api_version = K::Body::API_VERSION;
    let owner = owner_tag_value(&ctx.config.cluster_id, obj);
    match azure.get(&id, api_version).await? {
        None => return Ok(None),
        Some(actual) if K::owner_of(&actual) != Some(owner.as_str()) => return Ok(None),
        Some(_) => {}
    }
    let main = crate::references::parse_id(&id)?;
    // Children first, newest first. Each is a child of the main resource, so it shares its
    // provider's api-version.
    while let Some(child) = common.children.last().cloned() {
        let parsed = crate::references::parse_id(&child)?;
        let kind_of_child = K::CHILD_TYPES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&parsed.resource_type()));
        if parsed.parent().as_ref() != Some(&main) || !kind_of_child {
            tracing::warn!(child, resource_id = %id, "status names a child outside the resource; not deleted");
            common.children.pop();
            continue;
        }
        match azure.delete(&child, api_version).await? {
            Written::Done(_) => {
                common.children.pop();
            }
            Written::Started { token, retry_after } => {
                common.operation = Some(PendingOperation {
                    kind: OperationKind::Delete,
                    resource_id: Some(child),
                    started_at: now(),
                    token,
                });
                return Ok(Some(poll_wait(retry_after)));
            }
        }
    }
    obj.before_delete(ctx, azure, &id).await?;
    let deleted = azure.delete(&id, api_version).await?;
    if K::ROLE_ASSIGNMENT_QUOTA {
        ctx.quota.forget(&id);
    }
    match deleted {
        Written::Done(_) => Ok(None),
        Written::Started { token, retry_after } => {
            common.operation = Some(PendingOperation {
                kind: OperationKind::Delete,
                resource_id: None,
                started_at: now(),
                token,
            });
            Ok(Some(poll_wait(retry_after)))
        }
    }
}

/// The id the object's spec names, for a delete whose status never recorded one: the operator
/// can stop (or its status write fail) between a create and the write that records it, and the
/// object be deleted before the next pass. Only a resource carrying this object's ownership
/// mark is deleted through it; references count while they exist, Ready or not (they may be
/// deleting too). `None` when the spec cannot name one now (policy refuses it, a reference is
/// gone or never got an id).
async fn spec_id<K: AzureKind>(obj: &K, ctx: &Context) -> Result<Option<String>, ReconcileError> {
    let Ok(decision) = decision_for(obj, ctx) else {
        return Ok(None);
    };
    // What failed for good now failed the same way before any create: only what may pass
    // (Azure throttling or a 5xx, the API server away) is retried.
    let resolved = match crate::references::for_delete(obj.resolve(ctx, &decision)).await {
        Ok(r) => r,
        Err(
            e @ ReconcileError::Azure(AzureError::Throttled { .. } | AzureError::Transient { .. }),
        ) => return Err(e),
        Err(ReconcileError::Kube(kube::Error::Api(s))) if s.code < 500 && s.code != 429 => {
            return Ok(None);
        }
        Err(ReconcileError::Kube(kube::Error::BuildRequest(_))) => return Ok(None),
        Err(e @ ReconcileError::Kube(_)) => return Err(e),
        Err(_) => return Ok(None),
    };
    Ok(obj
        .desired(&resolved, &decision)
        .ok()
        .map(|d| d.id.as_str().to_string()))
}

/// What the controller does after a failed reconcile: back off exponentially by the object's
/// consecutive failures (Retry-After honoured).
pub fn error_policy<K: AzureKind>(
    guard: Arc<DeserializeGuard<K>>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    ctx.backoff_after(&object_key(&guard), error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_consecutive_failure_up_to_the_cap() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(300);
        let waits: Vec<Duration> = (1..=10).map(|n| backoff(n, base, max, None)).collect();
        for (n, w) in waits.iter().enumerate() {
            let nominal = base.saturating_mul(1 << n).min(max);
            assert!(
                *w >= nominal.mul_f64(0.9) && *w <= nominal.mul_f64(1.1),
                "{n}: {w:?} vs {nominal:?}"
            );
        }
        assert!(waits[9] <= max);
        assert!(backoff(u32::MAX, base, max, None) <= max);
    }

    #[test]
    fn owner_tags_fit_azures_256_characters() {
        let mut rg: azop_api::ResourceGroup = serde_json::from_value(json!({
            "apiVersion": "azop.dev/v1alpha1", "kind": "ResourceGroup",
            "metadata": {"name": "rg", "namespace": "team-a"}, "spec": {}}))
        .expect("a group");
        assert_eq!(
            owner_tag_value("c1", &rg),
            "c1/team-a/ResourceGroup/rg".to_string()
        );
        let long = "n".repeat(253);
        rg.metadata.name = Some(long.clone());
        let a = owner_tag_value(&"c".repeat(64), &rg);
        assert!(a.len() <= 256, "{}", a.len());
        assert!(a.contains("/team-a/ResourceGroup/~"));
        rg.metadata.name = Some(format!("{}m", &long[1..]));
        assert_ne!(
            a,
            owner_tag_value(&"c".repeat(64), &rg),
            "distinct names, distinct marks"
        );
    }

    #[test]
    fn backoff_is_never_shorter_than_retry_after() {
        let wait = backoff(
            1,
            Duration::from_secs(1),
            Duration::from_secs(10),
            Some(Duration::from_secs(30)),
        );
        assert_eq!(wait, Duration::from_secs(30));
    }
}
