//! Status conditions in the `metav1.Condition` shape, written the way kstatus (Flux,
//! `kubectl wait`) reads them.
//!
//! kstatus reads, in order: a deletionTimestamp means Terminating; `status.observedGeneration`
//! different from `metadata.generation` means InProgress; `Reconciling=True` means InProgress;
//! `Stalled=True` means Failed; otherwise the object is Current. So azop writes:
//!
//! | situation                                  | Ready   | Reconciling | Stalled |
//! |--------------------------------------------|---------|-------------|---------|
//! | a new generation, before any Azure call    | Unknown | True        | —       |
//! | still working (creating, waiting, retrying)| False   | True        | —       |
//! | needs a person (policy, invalid spec, ...) | False   | —           | True    |
//! | in sync with Azure                         | True    | —           | —       |
//!
//! ("—" = the condition is removed.) [`Conditions`] does this bookkeeping: it keeps
//! `lastTransitionTime` when a condition's status does not change and stamps every condition with
//! the generation it describes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// `Ready`: the Azure resource matches the spec of `observedGeneration`.
pub const READY: &str = "Ready";
/// `Reconciling`: azop is working towards the spec (kstatus: InProgress).
pub const RECONCILING: &str = "Reconciling";
/// `Stalled`: azop cannot make progress without a person (kstatus: Failed).
pub const STALLED: &str = "Stalled";
/// `Synced`: a KeyVaultBinding's Secret holds the vault secrets' current versions.
pub const SYNCED: &str = "Synced";

/// A condition's status, as the strings `True`, `False`, `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `"True"`
    True,
    /// `"False"`
    False,
    /// `"Unknown"`
    Unknown,
}

impl Status {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

/// Stable, machine-readable reasons. Flux and people filter on these; never reword one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The resource matches its spec.
    Succeeded,
    /// Read-only adoption (`managementPolicy: Observe`) succeeded.
    Observed,
    /// A new generation was seen; nothing has been sent to Azure yet.
    Progressing,
    /// A referenced object (resource group, cluster, identity, vault) is not ready yet.
    WaitingForDependency,
    /// Azure does not know a freshly created principal yet (Entra replication).
    WaitingForPrincipal,
    /// A create operation is running in Azure.
    Creating,
    /// An update operation is running in Azure.
    Updating,
    /// A delete operation is running in Azure.
    Deleting,
    /// ARM throttled azop; it waits and retries.
    Throttled,
    /// Azure answered a transient error (5xx, timeout); azop retries with backoff.
    AzureError,
    /// Azure refused the request (4xx validation); fix the spec.
    InvalidSpec,
    /// The AzureProfile of the namespace does not allow this object.
    PolicyDenied,
    /// A field Azure cannot change was changed.
    ImmutableFieldChanged,
    /// The Azure name is taken (for example by a soft-deleted vault).
    NameConflict,
    /// An Azure limit was reached (for example 20 federated credentials per identity).
    QuotaExceeded,
    /// The Azure resource carries another object's ownership tag; azop will not touch it.
    OwnedByAnotherObject,
    /// Azure answered 409 Conflict for another reason.
    Conflict,
    /// azop's own set-up is wrong (ARM endpoint, CA bundle, credential): the operator's
    /// configuration needs fixing, not the object.
    ConfigurationError,
    /// Azure did not accept azop's credential or refused it the action (401/403).
    AuthorizationFailed,
    /// The object could not be read as its kind (a value of the wrong type, say).
    InvalidObject,
    /// Another AzureProfile selects some of the same namespaces, so neither governs them.
    ProfileOverlap,
    /// The Azure resource exists and azop did not create it (no ownership mark): left
    /// untouched unless the object asks to adopt it.
    AlreadyExists,
    /// Deleting the resource would delete Azure resources azop did not create (a resource
    /// group someone else put resources in): held until a person decides.
    ForeignResources,
    /// A vault secret a binding syncs does not exist (or is disabled); the last Secret written
    /// is kept.
    SecretNotFound,
    /// Key Vault refused the binding's identity (403): its role does not cover the secret, or
    /// the role assignment has not propagated yet; the last Secret written is kept.
    AccessDenied,
}

impl Reason {
    /// The wire form, e.g. `WaitingForDependency`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Succeeded => "Succeeded",
            Reason::Observed => "Observed",
            Reason::Progressing => "Progressing",
            Reason::WaitingForDependency => "WaitingForDependency",
            Reason::WaitingForPrincipal => "WaitingForPrincipal",
            Reason::Creating => "Creating",
            Reason::Updating => "Updating",
            Reason::Deleting => "Deleting",
            Reason::Throttled => "Throttled",
            Reason::AzureError => "AzureError",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::PolicyDenied => "PolicyDenied",
            Reason::ImmutableFieldChanged => "ImmutableFieldChanged",
            Reason::NameConflict => "NameConflict",
            Reason::QuotaExceeded => "QuotaExceeded",
            Reason::OwnedByAnotherObject => "OwnedByAnotherObject",
            Reason::Conflict => "Conflict",
            Reason::ConfigurationError => "ConfigurationError",
            Reason::AuthorizationFailed => "AuthorizationFailed",
            Reason::InvalidObject => "InvalidObject",
            Reason::ProfileOverlap => "ProfileOverlap",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::ForeignResources => "ForeignResources",
            Reason::SecretNotFound => "SecretNotFound",
            Reason::AccessDenied => "AccessDenied",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Editing access to an object's `status.conditions`, for one generation at one instant.
///
/// ```
/// use azop_api::conditions::{Conditions, Reason, READY};
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
///
/// let mut list = Vec::new();
/// let now = Time(jiff::Timestamp::from_second(1_700_000_000).unwrap());
/// Conditions::new(&mut list, 3, now.clone()).ready("vault is ready");
/// assert_eq!(list[0].type_, READY);
/// assert_eq!(list[0].observed_generation, Some(3));
/// assert_eq!(list[0].reason, Reason::Succeeded.as_str());
/// ```
pub struct Conditions<'a> {
    list: &'a mut Vec<Condition>,
    generation: i64,
    now: Time,
}

impl<'a> Conditions<'a> {
    /// Edits `list` for `generation`, stamping changed conditions with `now`.
    pub fn new(list: &'a mut Vec<Condition>, generation: i64, now: Time) -> Self {
        Conditions {
            list,
            generation,
            now,
        }
    }

    /// Sets one condition. `lastTransitionTime` moves only when the status changes;
    /// `observedGeneration` is always the generation being described.
    pub fn set(&mut self, type_: &str, status: Status, reason: Reason, message: impl Into<String>) {
        self.set_reason(type_, status, reason.as_str(), message.into());
    }

    /// Sets condition `to` to `status` with the reason and message `from` has now (nothing
    /// when `from` is absent): a condition that reports the same cause as another.
    pub fn copy_cause(&mut self, from: &str, to: &str, status: Status) {
        if let Some(c) = find(self.list, from).cloned() {
            self.set_reason(to, status, &c.reason, c.message);
        }
    }

    fn set_reason(&mut self, type_: &str, status: Status, reason: &str, message: String) {
        match self.list.iter_mut().find(|c| c.type_ == type_) {
            Some(c) => {
                if c.status != status.as_str() {
                    c.status = status.as_str().to_string();
                    c.last_transition_time = self.now.clone();
                }
                c.reason = reason.to_string();
                c.message = message;
                c.observed_generation = Some(self.generation);
            }
            None => self.list.push(Condition {
                type_: type_.to_string(),
                status: status.as_str().to_string(),
                reason: reason.to_string(),
                message,
                observed_generation: Some(self.generation),
                last_transition_time: self.now.clone(),
            }),
        }
    }

    /// Removes a condition (kstatus treats an absent Reconciling/Stalled as False).
    pub fn remove(&mut self, type_: &str) {
        self.list.retain(|c| c.type_ != type_);
    }

    /// A new generation was seen: `Ready=Unknown`, `Reconciling=True`. Written before any Azure
    /// call so nobody reads the previous generation's `Ready=True` as the new one's.
    pub fn progressing(&mut self, message: impl Into<String>) {
        let message = message.into();
        self.set(READY, Status::Unknown, Reason::Progressing, message.clone());
        self.set(RECONCILING, Status::True, Reason::Progressing, message);
        self.remove(STALLED);
    }

    /// Still working: `Ready=False`, `Reconciling=True` with the reason. Flux keeps waiting.
    pub fn working(&mut self, reason: Reason, message: impl Into<String>) {
        let message = message.into();
        self.set(READY, Status::False, reason, message.clone());
        self.set(RECONCILING, Status::True, reason, message);
        self.remove(STALLED);
    }

    /// Needs a person: `Ready=False`, `Stalled=True`. Flux fails fast.
    pub fn stalled(&mut self, reason: Reason, message: impl Into<String>) {
        let message = message.into();
        self.set(READY, Status::False, reason, message.clone());
        self.set(STALLED, Status::True, reason, message);
        self.remove(RECONCILING);
    }

    /// In sync: `Ready=True`; Reconciling and Stalled removed.
    pub fn ready(&mut self, message: impl Into<String>) {
        self.set(READY, Status::True, Reason::Succeeded, message);
        self.remove(RECONCILING);
        self.remove(STALLED);
    }

    /// Like [`Conditions::ready`] with another reason (e.g. [`Reason::Observed`]).
    pub fn ready_because(&mut self, reason: Reason, message: impl Into<String>) {
        self.set(READY, Status::True, reason, message);
        self.remove(RECONCILING);
        self.remove(STALLED);
    }
}

/// Whether the object is `Stalled` because policy refused it (reason `PolicyDenied`).
pub fn denied_by_policy(list: &[Condition]) -> bool {
    find(list, STALLED)
        .is_some_and(|c| c.status == "True" && c.reason == Reason::PolicyDenied.as_str())
}

/// The condition of a type, if present.
pub fn find<'c>(list: &'c [Condition], type_: &str) -> Option<&'c Condition> {
    list.iter().find(|c| c.type_ == type_)
}

/// Whether `Ready=True` describes `generation` (an older generation's Ready does not count).
pub fn is_ready(list: &[Condition], generation: Option<i64>) -> bool {
    find(list, READY).is_some_and(|c| {
        c.status == "True" && (generation.is_none() || c.observed_generation == generation)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Time {
        Time(jiff::Timestamp::from_second(s).expect("valid timestamp"))
    }

    #[test]
    fn a_copied_cause_keeps_its_own_transition_time() {
        let mut list = Vec::new();
        Conditions::new(&mut list, 1, at(100)).working(Reason::SecretNotFound, "no db-user");
        Conditions::new(&mut list, 1, at(100)).copy_cause(READY, SYNCED, Status::False);
        Conditions::new(&mut list, 1, at(200)).working(Reason::AccessDenied, "403");
        Conditions::new(&mut list, 1, at(200)).copy_cause(READY, SYNCED, Status::False);
        let synced = find(&list, SYNCED).expect("copied");
        assert_eq!(synced.status, "False");
        assert_eq!(synced.reason, "AccessDenied");
        assert_eq!(synced.message, "403");
        assert_eq!(synced.last_transition_time, at(100));
        Conditions::new(&mut list, 1, at(300)).copy_cause("Missing", "Other", Status::True);
        assert!(find(&list, "Other").is_none());
    }

    #[test]
    fn last_transition_time_is_kept_when_status_does_not_change() {
        let mut list = Vec::new();
        Conditions::new(&mut list, 1, at(100)).working(Reason::Creating, "creating");
        Conditions::new(&mut list, 2, at(200)).working(Reason::Updating, "updating");
        let ready = find(&list, READY).expect("ready present");
        assert_eq!(ready.last_transition_time, at(100));
        assert_eq!(ready.reason, "Updating");
        assert_eq!(ready.observed_generation, Some(2));
    }

    #[test]
    fn last_transition_time_moves_when_status_changes() {
        let mut list = Vec::new();
        Conditions::new(&mut list, 1, at(100)).working(Reason::Creating, "creating");
        Conditions::new(&mut list, 1, at(300)).ready("done");
        let ready = find(&list, READY).expect("ready present");
        assert_eq!(ready.last_transition_time, at(300));
        assert_eq!(ready.status, "True");
        assert!(find(&list, RECONCILING).is_none());
    }

    #[test]
    fn new_generation_reads_as_in_progress_to_kstatus() {
        let mut list = Vec::new();
        Conditions::new(&mut list, 1, at(100)).ready("done");
        Conditions::new(&mut list, 2, at(200)).progressing("new generation 2");
        assert_eq!(
            find(&list, READY).map(|c| c.status.as_str()),
            Some("Unknown")
        );
        assert_eq!(
            find(&list, RECONCILING).map(|c| c.status.as_str()),
            Some("True")
        );
        assert!(!is_ready(&list, Some(2)));
    }

    #[test]
    fn stalled_replaces_reconciling() {
        let mut list = Vec::new();
        Conditions::new(&mut list, 1, at(100)).working(Reason::Creating, "creating");
        Conditions::new(&mut list, 1, at(200))
            .stalled(Reason::PolicyDenied, "location not allowed");
        assert!(find(&list, RECONCILING).is_none());
        assert_eq!(
            find(&list, STALLED).map(|c| c.reason.as_str()),
            Some("PolicyDenied")
        );
    }

    #[test]
    fn ready_of_an_older_generation_does_not_count() {
        let mut list = Vec::new();
        Conditions::new(&mut list, 1, at(100)).ready("done");
        assert!(is_ready(&list, Some(1)));
        assert!(!is_ready(&list, Some(2)));
    }
}
