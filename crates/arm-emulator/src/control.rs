//! The emulator's state and its test controls (in process, and over HTTP under `/_emulator/`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::arm::Arm;
use crate::{Bucket, Config, KeyVaultLimits, ThrottleLimits};

/// One answered request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// Status answered.
    pub status: u16,
    /// ARM error code, if any.
    pub error_code: Option<String>,
    /// When it was answered, in milliseconds since the Unix epoch (for request rates).
    #[serde(default)]
    pub at_ms: u64,
}

/// What an injected fault does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum FaultKind {
    /// Answer this status with an ARM error body (code defaults from the status).
    Status {
        /// HTTP status.
        status: u16,
        /// ARM error code.
        #[serde(default)]
        code: Option<String>,
        /// `Retry-After` in seconds (429 and 503 say 1 when unset).
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Delay the answer.
    Latency {
        /// Milliseconds.
        millis: u64,
    },
    /// Drop the connection without a complete answer.
    Reset,
    /// Do what the request asks, then drop the connection before the answer: a PUT that
    /// succeeded in Azure while the caller never heard.
    LoseAnswer,
    /// Do what the request asks (logged as answered), then hold the answer this long before
    /// sending it: Azure has done it while the caller still waits, the moment a crash that
    /// loses the answer lands in.
    HoldAnswer {
        /// Milliseconds.
        millis: u64,
    },
    /// Do what the request asks; the long-running operation it starts ends `Failed` with this
    /// error code (the resource's provisioningState too). Requests that start no operation
    /// are answered as usual.
    FailOperation {
        /// The operation's error code.
        code: String,
    },
}

/// A fault for requests whose path matches a regular expression.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// A regular expression matched against the path (case-insensitive).
    pub path_pattern: String,
    /// Only this method, if set.
    #[serde(default)]
    pub method: Option<String>,
    /// What happens.
    pub kind: FaultKind,
    /// How many requests it hits (unlimited when unset).
    #[serde(default)]
    pub count: Option<u32>,
    /// Probability of hitting a matching request (1.0 when unset).
    #[serde(default)]
    pub probability: Option<f64>,
}

/// How many requests the log keeps; older ones are dropped (their counts are kept), so a long
/// `azop dev` session does not grow without bound.
pub const REQUEST_LOG_CAPACITY: usize = 100_000;

/// The newest answered requests and the counts of all of them.
#[derive(Default)]
pub(crate) struct RequestLog {
    entries: std::collections::VecDeque<LoggedRequest>,
    counts: BTreeMap<String, usize>,
}

impl RequestLog {
    pub(crate) fn push(&mut self, r: LoggedRequest) {
        *self
            .counts
            .entry(format!("{} {}", r.method, r.status))
            .or_insert(0) += 1;
        if self.entries.len() == REQUEST_LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(r);
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.counts.clear();
    }
}

pub(crate) struct BucketState {
    tokens: f64,
    at: Instant,
}

pub(crate) struct State {
    pub config: Config,
    pub arm: Arm,
    pub log: RequestLog,
    pub faults: Vec<(Fault, regex::Regex)>,
    /// How many requests each kind of injected fault hit, by kind (`latency`, `status`, …).
    pub fault_hits: BTreeMap<String, usize>,
    /// By (lower-cased subscription, principal, class); the global bucket's principal is "".
    buckets: HashMap<(String, String, &'static str), BucketState>,
    /// Limits of their own for some subscriptions, by lower-cased id.
    subscription_limits: HashMap<String, ThrottleLimits>,
    /// When each vault's counted data-plane transactions were served, oldest first, by
    /// lower-cased vault name: the ones inside the current window.
    vault_windows: HashMap<String, VecDeque<Instant>>,
    /// Federated issuers' JWKS, by issuer URL.
    pub jwks: HashMap<String, Value>,
    /// Token requests with a client id (the token endpoint's are not in the request log), by
    /// lower-cased client id.
    pub token_requests: BTreeMap<String, usize>,
    /// Every access token the token endpoints issued, for a test that searches a client's
    /// output for secrets.
    pub issued_tokens: Vec<String>,
}

/// A handle on a running emulator's state; cheap to clone.
#[derive(Clone)]
pub struct Control {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) base_url: String,
    /// Signs (and checks) the access tokens the Entra endpoint issues.
    pub(crate) signer: Arc<crate::entra::Signer>,
}

/// The throttling class of a request.
pub(crate) fn class_of(method: &str) -> &'static str {
    match method {
        "GET" | "HEAD" => "reads",
        "DELETE" => "deletes",
        _ => "writes",
    }
}

impl Control {
    pub(crate) fn new(config: Config, base_url: String, signer: crate::entra::Signer) -> Self {
        Control {
            state: Arc::new(Mutex::new(State {
                config,
                arm: Arm::default(),
                log: RequestLog::default(),
                faults: Vec::new(),
                fault_hits: BTreeMap::new(),
                buckets: HashMap::new(),
                subscription_limits: HashMap::new(),
                vault_windows: HashMap::new(),
                jwks: HashMap::new(),
                token_requests: BTreeMap::new(),
                issued_tokens: Vec::new(),
            })),
            base_url,
            signer: Arc::new(signer),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The answered ARM and Key Vault data-plane requests (paths `/keyvault/{vault}/...`),
    /// oldest first: the last [`REQUEST_LOG_CAPACITY`] of them.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.lock().log.entries.iter().cloned().collect()
    }

    /// Every answered (logged) request since the last reset, ARM's and Key Vault's alike,
    /// counted by `"METHOD STATUS"` (exact, even past the log's capacity).
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.lock().log.counts.clone()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// Adds a fault; an invalid pattern is refused.
    pub fn inject_fault(&self, fault: Fault) -> Result<(), regex::Error> {
        let re = regex::RegexBuilder::new(&fault.path_pattern)
            .case_insensitive(true)
            .build()?;
        self.lock().faults.push((fault, re));
        Ok(())
    }

    /// The faults still in force (one with a count leaves when it has hit that many).
    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.iter().map(|(f, _)| f.clone()).collect()
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Changes how long operations run.
    pub fn set_lro_duration(&self, d: Duration) {
        self.lock().config.lro_duration = d;
    }

    /// Changes how long fresh principals stay unknown to role assignments.
    pub fn set_principal_delay(&self, d: Duration) {
        self.lock().config.principal_propagation_delay = d;
    }

    /// Changes the throttling limits (buckets start full).
    pub fn set_throttling(&self, limits: ThrottleLimits) {
        let mut s = self.lock();
        s.config.throttling = limits;
        s.buckets.clear();
    }

    /// Gives one subscription limits of its own (`None`: the common ones again), its buckets
    /// starting full: a subscription that another workload throttles hard, say.
    pub fn set_subscription_throttling(&self, subscription: &str, limits: Option<ThrottleLimits>) {
        let mut s = self.lock();
        let subscription = subscription.to_ascii_lowercase();
        match limits {
            Some(l) => s.subscription_limits.insert(subscription.clone(), l),
            None => s.subscription_limits.remove(&subscription),
        };
        s.buckets.retain(|(sub, _, _), _| *sub != subscription);
    }

    /// Changes the Key Vault data plane's per-vault limit (every vault's window starts empty).
    pub fn set_keyvault_throttling(&self, limits: KeyVaultLimits) {
        let mut s = self.lock();
        s.config.keyvault_throttling = limits;
        s.vault_windows.clear();
    }

    /// Every stored resource's body.
    pub fn resources(&self) -> Vec<Value> {
        let mut s = self.lock();
        s.arm.settle();
        s.arm.resources.values().map(|r| r.body.clone()).collect()
    }

    /// One stored resource, by id (case-insensitive).
    pub fn resource(&self, id: &str) -> Option<Value> {
        let mut s = self.lock();
        s.arm.settle();
        s.arm
            .resources
            .get(&id.to_ascii_lowercase())
            .map(|r| r.body.clone())
    }

    /// Changes a stored resource behind the client's back (as a person in the portal would).
    /// Returns whether it existed.
    pub fn modify_resource(&self, id: &str, change: impl FnOnce(&mut Value)) -> bool {
        let mut s = self.lock();
        match s.arm.resources.get_mut(&id.to_ascii_lowercase()) {
            Some(r) => {
                change(&mut r.body);
                true
            }
            None => false,
        }
    }

    /// Forgets every resource, operation, log entry and fault; keeps the configuration.
    pub fn reset(&self) {
        let mut s = self.lock();
        s.arm = Arm::default();
        s.log.clear();
        s.faults.clear();
        s.buckets.clear();
        s.vault_windows.clear();
        s.jwks.clear();
        s.token_requests.clear();
        s.issued_tokens.clear();
        s.fault_hits.clear();
    }

    /// How many requests each kind of injected fault has hit so far, by its `type` tag
    /// (`latency`, `status`, `reset`, …): what the request log cannot tell of a latency spike,
    /// which answers as usual, only later.
    pub fn fault_hits(&self) -> BTreeMap<String, usize> {
        self.lock().fault_hits.clone()
    }

    /// Every access token issued so far (Entra's token endpoint, AKS nodes' managed identity
    /// endpoint): what must never appear in a client's logs, Events, statuses or metrics.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued_tokens.clone()
    }

    /// Requests to the token endpoint by lower-cased client id (answered or refused).
    pub fn token_requests(&self) -> BTreeMap<String, usize> {
        self.lock().token_requests.clone()
    }

    /// Registers a service principal that signs in with `client_secret`; returns it with a
    /// fresh object id. Registering a client id again replaces its secret and object id.
    pub fn add_service_principal(
        &self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> crate::ServicePrincipal {
        let sp = crate::ServicePrincipal {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            object_id: uuid::Uuid::new_v4().to_string(),
        };
        self.put_service_principal(sp.clone());
        sp
    }

    /// Registers (or replaces, by client id) a service principal as given.
    pub fn put_service_principal(&self, sp: crate::ServicePrincipal) {
        let mut s = self.lock();
        s.config
            .service_principals
            .retain(|p| !p.client_id.eq_ignore_ascii_case(&sp.client_id));
        s.config.service_principals.push(sp);
    }

    /// Turns ARM's authorization on or off (see [`Config::enforce_authorization`]).
    pub fn set_enforce_authorization(&self, enforce: bool) {
        self.lock().config.enforce_authorization = enforce;
    }

    /// Assigns a role without authorization, for bootstrapping tests and `azop dev`: stores the
    /// role assignment of `role_definition_guid` (a GUID or a role definition id) to
    /// `principal_object_id` at `scope` exactly as a PUT would have, named by a v5 UUID of
    /// scope, principal and role (granting again changes nothing), with description
    /// `emulator bootstrap`. Returns the role assignment's id. No check is made that the scope
    /// exists or the principal is known.
    pub fn grant(
        &self,
        principal_object_id: &str,
        role_definition_guid: &str,
        scope: &str,
    ) -> String {
        self.lock()
            .arm
            .grant(principal_object_id, role_definition_guid, scope)
    }

    /// Registers an application that is not an ARM managed identity but signs in at the token
    /// endpoint with a client assertion: a token from `issuer` about `subject` with one of
    /// `audiences` (e.g. a kube-emulator ServiceAccount token for `api://AzureADTokenExchange`),
    /// presented for `client_id`, yields an access token whose `oid` is `object_id`. Calling it
    /// again for the same client id adds another federated credential (replacing one with the
    /// same issuer and subject; the latest object id applies). Registrations survive [`Control::reset`], as service
    /// principals do.
    pub fn register_workload_identity(
        &self,
        client_id: &str,
        object_id: &str,
        issuer: &str,
        subject: &str,
        audiences: &[&str],
    ) -> crate::WorkloadIdentity {
        let w = crate::WorkloadIdentity {
            client_id: client_id.to_string(),
            object_id: object_id.to_string(),
            issuer: issuer.to_string(),
            subject: subject.to_string(),
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
        };
        self.put_workload_identity(w.clone());
        w
    }

    /// Registers a [`crate::WorkloadIdentity`] as given (see
    /// [`Control::register_workload_identity`]).
    pub fn put_workload_identity(&self, w: crate::WorkloadIdentity) {
        let mut s = self.lock();
        s.config.workload_identities.retain(|o| {
            !(o.client_id.eq_ignore_ascii_case(&w.client_id)
                && o.issuer == w.issuer
                && o.subject == w.subject)
        });
        // One application has one object id: the latest registration's.
        for o in &mut s.config.workload_identities {
            if o.client_id.eq_ignore_ascii_case(&w.client_id) {
                o.object_id = w.object_id.clone();
            }
        }
        s.config.workload_identities.push(w);
    }

    /// Sets a new version of secret `name` in the vault named `vault`, as a platform team's
    /// `az keyvault secret set` would (a test control: no token, no throttling, not logged).
    /// The new version's id, or `None` when no such vault exists or the name is not a secret
    /// name.
    pub fn set_secret(&self, vault: &str, name: &str, value: &str) -> Option<String> {
        if !crate::keyvault::valid_secret_name(name) {
            return None;
        }
        let mut s = self.lock();
        crate::keyvault::vault_named(&s.arm, vault)?;
        Some(s.arm.secrets.set(vault, name, value))
    }

    /// Trusts another CA (PEM) when fetching a federated issuer's keys; forgets cached keys.
    pub fn trust_ca_pem(&self, pem: impl Into<String>) {
        let mut s = self.lock();
        s.config.trusted_ca_pems.push(pem.into());
        s.jwks.clear();
    }

    /// Takes a token for `subscription` and the request's class; `Err(wait)` when empty.
    /// Also returns what remains, for the `x-ms-ratelimit-remaining-*` header.
    pub(crate) fn take_token(
        state: &mut State,
        subscription: &str,
        principal: &str,
        class: &'static str,
    ) -> Result<u64, Duration> {
        let subscription = subscription.to_ascii_lowercase();
        let limits = state
            .subscription_limits
            .get(&subscription)
            .copied()
            .unwrap_or(state.config.throttling);
        let bucket: Bucket = match class {
            "reads" => limits.reads,
            "deletes" => limits.deletes,
            _ => limits.writes,
        };
        let global = Bucket {
            capacity: bucket.capacity * limits.global_factor,
            refill_per_second: bucket.refill_per_second * limits.global_factor,
        };
        let now = Instant::now();
        let mut refilled = |principal: &str, bucket: Bucket| {
            let b = state
                .buckets
                .entry((subscription.clone(), principal.to_string(), class))
                .or_insert(BucketState {
                    tokens: bucket.capacity,
                    at: now,
                });
            b.tokens = (b.tokens
                + now.duration_since(b.at).as_secs_f64() * bucket.refill_per_second)
                .min(bucket.capacity);
            b.at = now;
            (b.tokens, bucket.refill_per_second)
        };
        let (own, own_refill) = refilled(principal, bucket);
        let (all, all_refill) = refilled("", global);
        if !limits.enabled {
            return Ok(own as u64);
        }
        if own >= 1.0 && all >= 1.0 {
            for p in [principal, ""] {
                if let Some(b) =
                    state
                        .buckets
                        .get_mut(&(subscription.clone(), p.to_string(), class))
                {
                    b.tokens -= 1.0;
                }
            }
            Ok((own - 1.0) as u64)
        } else {
            let wait = |tokens: f64, refill: f64| {
                if tokens >= 1.0 {
                    0.0
                } else {
                    (1.0 - tokens) / refill.max(0.001)
                }
            };
            Err(Duration::from_secs_f64(
                wait(own, own_refill).max(wait(all, all_refill)),
            ))
        }
    }

    /// Counts one Key Vault data-plane transaction against `vault` at `now`; `Err(wait)`, and
    /// nothing counted, when the vault already served its limit within the last window: `wait`
    /// is how long until the oldest of those leaves the window and frees a slot.
    ///
    /// A sliding window (every window-long interval holds at most the limit), as the service
    /// limits page states the limit: "maximum transactions allowed in 10 seconds, per vault".
    /// A fixed window would let twice the limit through across a window boundary. Refused
    /// requests are not counted, as the throttling guidance says: "Failed requests that return
    /// a 429 do not count towards the throttle limits tracked by Key Vault"
    /// (<https://learn.microsoft.com/en-us/azure/key-vault/general/overview-throttling>).
    pub(crate) fn take_vault_transaction(
        state: &mut State,
        vault: &str,
        now: Instant,
    ) -> Result<(), Duration> {
        let limits = state.config.keyvault_throttling;
        if !limits.enabled {
            return Ok(());
        }
        let served = state
            .vault_windows
            .entry(vault.to_ascii_lowercase())
            .or_default();
        while served
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= limits.window)
        {
            served.pop_front();
        }
        if served.len() < limits.transactions as usize {
            served.push_back(now);
            return Ok(());
        }
        // Full: a slot frees when the oldest transaction in the window leaves it (a limit of 0
        // refuses everything, a window at a time).
        match served.front() {
            Some(oldest) => Err((*oldest + limits.window).saturating_duration_since(now)),
            None => Err(limits.window),
        }
    }

    /// Removes and returns the fault a request hits, if any.
    pub(crate) fn fault_for(state: &mut State, method: &str, path: &str) -> Option<FaultKind> {
        let idx = state.faults.iter().position(|(f, re)| {
            re.is_match(path)
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && f.probability.is_none_or(|p| {
                    let roll = (uuid::Uuid::new_v4().as_u128() % 10_000) as f64 / 10_000.0;
                    roll < p
                })
        })?;
        let (fault, _) = &mut state.faults[idx];
        let kind = fault.kind.clone();
        // The kind's serde tag: `latency`, `status`, `reset`, …
        let tag = serde_json::to_value(&kind)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_string))
            .unwrap_or_default();
        *state.fault_hits.entry(tag).or_default() += 1;
        if let Some(c) = &mut fault.count {
            *c = c.saturating_sub(1);
            if *c == 0 {
                state.faults.remove(idx);
            }
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(config: Config) -> Control {
        let signer = crate::entra::Signer::generate().expect("signing key");
        Control::new(config, "https://127.0.0.1:1".into(), signer)
    }

    #[test]
    fn the_default_vault_limit_is_4000_per_sliding_10_seconds() {
        assert_eq!(
            Config::default().keyvault_throttling,
            KeyVaultLimits {
                enabled: true,
                transactions: 4000,
                window: Duration::from_secs(10),
            }
        );
        let c = control(Config::default());
        let mut s = c.lock();
        let start = Instant::now();
        // 4,000 spread over the first second all pass; the 4,001st is refused until the first
        // leaves the window, 10 s after it was served.
        for i in 0..4000u32 {
            let at = start + Duration::from_micros(250 * u64::from(i));
            assert_eq!(
                Control::take_vault_transaction(&mut s, "kv", at),
                Ok(()),
                "{i}"
            );
        }
        let at = start + Duration::from_secs(1);
        assert_eq!(
            Control::take_vault_transaction(&mut s, "kv", at),
            Err(Duration::from_secs(9))
        );
        // Refused requests are not counted: still exactly one slot frees at 10 s.
        assert_eq!(
            Control::take_vault_transaction(&mut s, "KV", start + Duration::from_secs(10)),
            Ok(())
        );
        assert!(
            Control::take_vault_transaction(&mut s, "kv", start + Duration::from_secs(10)).is_err()
        );
        // Sliding, not fixed: at 10.5 s the 2,000 served from 0.25 ms to 0.5 s have left.
        let at = start + Duration::from_millis(10_500);
        for _ in 0..2000 {
            assert_eq!(Control::take_vault_transaction(&mut s, "kv", at), Ok(()));
        }
        assert!(Control::take_vault_transaction(&mut s, "kv", at).is_err());
        // Another vault has its own window.
        assert_eq!(Control::take_vault_transaction(&mut s, "other", at), Ok(()));
    }

    #[test]
    fn a_disabled_or_zero_limit() {
        let mut config = Config::default();
        config.keyvault_throttling.transactions = 0;
        let c = control(config);
        let now = Instant::now();
        assert_eq!(
            Control::take_vault_transaction(&mut c.lock(), "kv", now),
            Err(Duration::from_secs(10))
        );
        c.set_keyvault_throttling(KeyVaultLimits {
            enabled: false,
            transactions: 0,
            window: Duration::from_secs(10),
        });
        assert_eq!(
            Control::take_vault_transaction(&mut c.lock(), "kv", now),
            Ok(())
        );
    }
}
