//! AzureProfile status: whether each profile is usable and how many namespaces it governs,
//! written the way kstatus reads it, so Flux and `kubectl wait` see a profile as Current or
//! Failed rather than in progress forever.
//!
//! A profile is judged against every other profile, not alone: a namespace two profiles select
//! is governed by neither (see [`crate::policy::governing_profile`]), so adding a profile or
//! relabelling a namespace can stall a profile nobody touched. [`evaluate`] is the pure
//! judgement; [`status_for`] turns a verdict into a status; [`run_profiles`] keeps every
//! profile's status current from the operator's reflector stores.

use std::borrow::Borrow;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use azop_api::conditions::{Conditions, Reason};
use azop_api::profile::{AzureProfile, AzureProfileStatus};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::error_boundary::InvalidObject;
use kube::core::{DeserializeGuard, SelectorExt};
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio::time::{Instant, MissedTickBehavior};

use crate::drift;
use crate::policy::{name_of, namespace_selector};

/// How often [`run_profiles`] looks at its stores for changes: also how long changes are
/// gathered into one evaluation.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The longest wait before a failed status write is tried again.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Status writes in flight at once.
const WRITE_CONCURRENCY: usize = 8;

/// How many names a message lists before it says "and N more".
const LISTED: usize = 3;

/// What a profile's status should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The selector is valid and no namespace it selects is selected by another profile.
    Ready {
        /// Namespaces it governs (its selector matches them, no other profile's does).
        governed: usize,
    },
    /// The profile needs a person: `Ready=False, Stalled=True`.
    Stalled {
        /// [`Reason::InvalidSpec`] or [`Reason::ProfileOverlap`].
        reason: Reason,
        /// What is wrong and what to do, naming the profiles and namespaces involved.
        message: String,
        /// Namespaces it still governs alone; `None` when its selector cannot be read.
        governed: Option<usize>,
    },
}

impl Verdict {
    /// The number of namespaces the profile governs, when known.
    pub fn governed(&self) -> Option<usize> {
        match self {
            Verdict::Ready { governed } => Some(*governed),
            Verdict::Stalled { governed, .. } => *governed,
        }
    }

    /// The message of its conditions.
    pub fn message(&self) -> String {
        match self {
            Verdict::Ready { governed: 1 } => "governs 1 namespace".to_string(),
            Verdict::Ready { governed } => format!("governs {governed} namespaces"),
            Verdict::Stalled { message, .. } => message.clone(),
        }
    }
}

/// Judges every profile against the namespaces and the other profiles, by profile name.
///
/// A profile whose `namespaceSelector` is not a valid label selector is Stalled `InvalidSpec`
/// (and, since nobody can tell what it selects, overlaps nothing). A profile that shares at least
/// one namespace with another is Stalled `ProfileOverlap`, as is the other. Every other profile
/// is Ready, including one that selects no namespace at all.
pub fn evaluate<P, N>(profiles: &[P], namespaces: &[N]) -> BTreeMap<String, Verdict>
where
    P: Borrow<AzureProfile>,
    N: Borrow<Namespace>,
{
    let mut verdicts = BTreeMap::new();
    let mut selectors = Vec::new();
    for p in profiles {
        let p = p.borrow();
        match namespace_selector(p) {
            Ok(selector) => selectors.push((name_of(p), selector)),
            Err(e) => {
                verdicts.insert(
                    name_of(p),
                    Verdict::Stalled {
                        reason: Reason::InvalidSpec,
                        message: e.to_string(),
                        governed: None,
                    },
                );
            }
        }
    }

    let mut governed: BTreeMap<&str, usize> = selectors.iter().map(|(n, _)| (&**n, 0)).collect();
    // profile -> other profile -> the namespaces both select
    let mut shared: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    let no_labels = BTreeMap::new();
    for ns in namespaces {
        let ns = ns.borrow();
        let labels = ns.metadata.labels.as_ref().unwrap_or(&no_labels);
        let selecting: Vec<&str> = selectors
            .iter()
            .filter(|(_, s)| s.matches(labels))
            .map(|(n, _)| &**n)
            .collect();
        match selecting.as_slice() {
            [] => {}
            [one] => *governed.entry(one).or_default() += 1,
            several => {
                let ns_name = ns.metadata.name.as_deref().unwrap_or_default();
                for a in several {
                    for b in several.iter().filter(|b| *b != a) {
                        shared
                            .entry(a)
                            .or_default()
                            .entry(b)
                            .or_default()
                            .insert(ns_name);
                    }
                }
            }
        }
    }

    for (name, count) in governed {
        let verdict = match shared.get(name) {
            None => Verdict::Ready { governed: count },
            Some(others) => Verdict::Stalled {
                reason: Reason::ProfileOverlap,
                message: overlap_message(name, others),
                governed: Some(count),
            },
        };
        verdicts.insert(name.to_string(), verdict);
    }
    verdicts
}

/// "AzureProfiles team-a and shared both select namespace team-a-dev; a namespace may be
/// governed by exactly one profile: narrow one of the namespaceSelectors".
fn overlap_message(name: &str, others: &BTreeMap<&str, BTreeSet<&str>>) -> String {
    let mut clauses: Vec<String> = others
        .iter()
        .take(LISTED)
        .map(|(other, namespaces)| {
            let noun = if namespaces.len() == 1 {
                "namespace"
            } else {
                "namespaces"
            };
            format!(
                "AzureProfiles {name} and {other} both select {noun} {}",
                listed(namespaces)
            )
        })
        .collect();
    if others.len() > LISTED {
        clauses.push(format!(
            "{} more AzureProfiles select some of its namespaces too",
            others.len() - LISTED
        ));
    }
    format!(
        "{}; a namespace may be governed by exactly one profile: narrow one of the namespaceSelectors",
        clauses.join("; ")
    )
}

/// "a", "a and b", "a, b and c", "a, b, c and 2 more".
fn listed(names: &BTreeSet<&str>) -> String {
    let shown: Vec<&str> = names.iter().take(LISTED).copied().collect();
    let rest = names.len() - shown.len();
    match (shown.as_slice(), rest) {
        ([], _) => String::new(),
        ([one], 0) => (*one).to_string(),
        ([init @ .., last], 0) => format!("{} and {last}", init.join(", ")),
        (all, rest) => format!("{} and {rest} more", all.join(", ")),
    }
}

/// The status a verdict asks for, starting from the current one so that `lastTransitionTime`
/// moves only when a condition's status does. The same verdict on the same generation gives
/// back an equal status, which is what keeps [`run_profiles`] from writing in a steady state.
pub fn status_for(
    verdict: &Verdict,
    current: Option<&AzureProfileStatus>,
    generation: i64,
    now: Time,
) -> AzureProfileStatus {
    let mut status = current.cloned().unwrap_or_default();
    let mut conditions = Conditions::new(&mut status.basic.conditions, generation, now);
    match verdict {
        Verdict::Ready { .. } => conditions.ready(verdict.message()),
        Verdict::Stalled {
            reason, message, ..
        } => conditions.stalled(*reason, message.clone()),
    }
    status.basic.observed_generation = generation;
    status.governed_namespaces = verdict
        .governed()
        .map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    status
}

/// Keeps every AzureProfile's status current until the future is dropped (or a store's
/// writer goes away): conditions, `observedGeneration` and `governedNamespaces`.
///
/// It reads only `profiles` and `namespaces`, the reflector stores the operator keeps anyway,
/// and looks at them every `interval`: when a profile changed (spec, status or deletion) or a
/// namespace appeared, went or changed its labels, it evaluates all profiles once and
/// merge-patches the status subresource of those whose status differs. Changes within one
/// interval are gathered into one evaluation; nothing changed means no evaluation and no
/// write. Failed writes are retried with exponential backoff up to a minute.
pub async fn run_profiles(
    client: Client,
    profiles: Store<DeserializeGuard<AzureProfile>>,
    namespaces: Store<Namespace>,
    interval: Duration,
) {
    let profiles_listed = profiles.wait_until_ready().await;
    let namespaces_listed = namespaces.wait_until_ready().await;
    if profiles_listed.is_err() || namespaces_listed.is_err() {
        tracing::warn!(
            kind = "AzureProfile",
            "the profile or namespace watch stopped before its first list; profile statuses are not written"
        );
        return;
    }
    let api: Api<AzureProfile> = Api::all(client.clone());
    let untyped: Api<DynamicObject> =
        Api::all_with(client.clone(), &ApiResource::erase::<AzureProfile>(&()));
    // The generation of each unreadable profile whose status says so already, by uid.
    let mut told: BTreeMap<String, i64> = BTreeMap::new();
    let interval = interval.max(Duration::from_millis(10));
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seen = None;
    let mut consecutive_failures = 0u32;
    let mut retry_at = Instant::now();
    loop {
        ticks.tick().await;
        let (guards, namespaces) = (profiles.state(), namespaces.state());
        let now_seen = fingerprint(&guards, &namespaces);
        let retry_due = consecutive_failures > 0 && Instant::now() >= retry_at;
        if seen == Some(now_seen) && !retry_due {
            continue;
        }
        seen = Some(now_seen);
        let mut valid = Vec::new();
        let mut failed = 0;
        for g in &guards {
            match &g.0 {
                Ok(p) => valid.push(Arc::new(p.clone())),
                Err(invalid) => {
                    if !tell_unreadable(&client, &untyped, invalid, &mut told).await {
                        failed += 1;
                    }
                }
            }
        }
        told.retain(|uid, _| {
            guards
                .iter()
                .any(|g| g.meta().uid.as_deref() == Some(uid.as_str()))
        });
        failed += sync_statuses(&api, &valid, &namespaces).await;
        if failed == 0 {
            consecutive_failures = 0;
        } else {
            consecutive_failures = consecutive_failures.saturating_add(1);
            retry_at = Instant::now() + retry_delay(interval, consecutive_failures);
        }
    }
}

/// `interval` doubled per consecutive failed pass, at most [`MAX_RETRY_DELAY`].
fn retry_delay(interval: Duration, consecutive_failures: u32) -> Duration {
    let factor = 1u32 << consecutive_failures.min(16);
    interval.saturating_mul(factor).min(MAX_RETRY_DELAY)
}

/// What of the stores a verdict or a status depends on: each profile's resourceVersion (spec,
/// status, deletion) and each namespace's labels. Summed per object, so the stores' order does
/// not matter.
fn fingerprint(
    profiles: &[Arc<DeserializeGuard<AzureProfile>>],
    namespaces: &[Arc<Namespace>],
) -> u64 {
    fn hash_of(value: impl Hash) -> u64 {
        let mut h = DefaultHasher::new();
        value.hash(&mut h);
        h.finish()
    }
    let profiles = profiles.iter().map(|p| {
        let meta = p.meta();
        hash_of(("profile", &meta.name, &meta.uid, &meta.resource_version))
    });
    let namespaces = namespaces
        .iter()
        .map(|n| hash_of(("namespace", &n.metadata.name, &n.metadata.labels)));
    profiles
        .chain(namespaces)
        .fold(0u64, |sum, h| sum.wrapping_add(h))
}

/// Evaluates every profile and writes the statuses that changed; returns how many writes
/// failed.
async fn sync_statuses(
    api: &Api<AzureProfile>,
    profiles: &[Arc<AzureProfile>],
    namespaces: &[Arc<Namespace>],
) -> usize {
    let verdicts = evaluate(profiles, namespaces);
    let now = Time(jiff::Timestamp::now());
    let mut writes = Vec::new();
    for p in profiles {
        let Some(verdict) = verdicts.get(&name_of(p)) else {
            continue;
        };
        let generation = p.metadata.generation.unwrap_or_default();
        let status = status_for(verdict, p.status.as_ref(), generation, now.clone());
        if p.status.as_ref() != Some(&status) {
            writes.push(write_status(api, p, status));
        }
    }
    futures::stream::iter(writes)
        .buffer_unordered(WRITE_CONCURRENCY)
        .filter(|ok| std::future::ready(!ok))
        .count()
        .await
}

/// A profile azop cannot read (stored before a schema rule existed, or written around it)
/// governs no namespace; its status says so, Stalled `InvalidSpec` with the reason, once per
/// generation. `false` when the write failed for a reason worth retrying.
async fn tell_unreadable(
    client: &Client,
    api: &Api<DynamicObject>,
    invalid: &InvalidObject,
    told: &mut BTreeMap<String, i64>,
) -> bool {
    let meta = &invalid.metadata;
    let (Some(name), Some(uid)) = (meta.name.clone(), meta.uid.clone()) else {
        return true;
    };
    let generation = meta.generation.unwrap_or_default();
    if told.get(&uid) == Some(&generation) {
        return true;
    }
    let error: String = crate::engine::unreadable_because::<AzureProfile>(client, invalid)
        .await
        .chars()
        .take(500)
        .collect();
    let verdict = Verdict::Stalled {
        reason: Reason::InvalidSpec,
        message: format!(
            "azop cannot read this AzureProfile ({error}); it governs no namespace until its spec is fixed"
        ),
        governed: None,
    };
    let status = status_for(&verdict, None, generation, Time(jiff::Timestamp::now()));
    let patch = json!({ "status": status });
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            tracing::warn!(kind = "AzureProfile", name = %name, error = %error, "profile does not deserialise; it governs nothing");
            told.insert(uid, generation);
            true
        }
        // Gone, or refused for good (the API server refuses any write to an object missing a
        // required field): an Event says it instead.
        Err(kube::Error::Api(e)) => {
            tracing::warn!(kind = "AzureProfile", name = %name, error = %error, status_write = %e, "profile does not deserialise; it governs nothing (its status could not say so)");
            let recorder =
                kube::runtime::events::Recorder::new(api.clone().into_client(), "azop".into());
            crate::engine::publish_unreadable::<AzureProfile>(
                &recorder,
                meta,
                &format!("{error}; it governs no namespace until its spec is fixed"),
            )
            .await;
            told.insert(uid, generation);
            true
        }
        Err(e) => {
            tracing::warn!(kind = "AzureProfile", name = %name, error = %e, "could not write profile status");
            false
        }
    }
}

/// Merge-patches one profile's status subresource; `false` when that failed for a reason
/// worth retrying.
async fn write_status(
    api: &Api<AzureProfile>,
    profile: &AzureProfile,
    status: AzureProfileStatus,
) -> bool {
    let name = profile.name_any();
    let reason = azop_api::conditions::find(&status.basic.conditions, azop_api::conditions::READY)
        .map(|c| c.reason.clone())
        .unwrap_or_default();
    let patch = match (
        serde_json::to_value(profile.status.clone().unwrap_or_default()),
        serde_json::to_value(&status),
    ) {
        (Ok(old), Ok(new)) => json!({ "status": drift::merge_patch(&old, &new) }),
        (Err(e), _) | (_, Err(e)) => {
            // Serialising our own status types cannot fail in practice; retrying will not help.
            tracing::error!(kind = "AzureProfile", name = %name, error = %e, "could not serialise status");
            return true;
        }
    };
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            tracing::info!(
                kind = "AzureProfile",
                name = %name,
                reason = %reason,
                governed_namespaces = ?status.governed_namespaces,
                "profile status written"
            );
            true
        }
        // Deleted since the store saw it: nothing left to write.
        Err(kube::Error::Api(s)) if s.code == 404 => true,
        Err(e) => {
            tracing::warn!(kind = "AzureProfile", name = %name, error = %e, "could not write profile status");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azop_api::conditions::{READY, RECONCILING, STALLED, find};
    use azop_api::profile::AzureProfileSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

    fn selecting(key: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Some(BTreeMap::from([(key.to_string(), "true".to_string())])),
            match_expressions: None,
        }
    }

    fn expression(key: &str, operator: &str, values: Option<Vec<String>>) -> LabelSelector {
        LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.to_string(),
                operator: operator.to_string(),
                values,
            }]),
        }
    }

    fn profile(name: &str, selector: LabelSelector) -> AzureProfile {
        let mut p = AzureProfile::new(
            name,
            AzureProfileSpec {
                namespace_selector: selector,
                subscription_id: "00000000-0000-0000-0000-000000000000".to_string(),
                tenant_id: None,
                credential: None,
                allowed_locations: Vec::new(),
                allowed_resource_groups: Vec::new(),
                allowed_kinds: Vec::new(),
                allowed_issuers: Vec::new(),
                allowed_roles: Vec::new(),
                allow_adoption: false,
                defaults: None,
            },
        );
        p.metadata.generation = Some(1);
        p
    }

    fn namespace(name: &str, labels: &[&str]) -> Namespace {
        let mut ns = Namespace::default();
        ns.metadata.name = Some(name.to_string());
        ns.metadata.labels = Some(
            labels
                .iter()
                .map(|k| (k.to_string(), "true".to_string()))
                .collect(),
        );
        ns
    }

    fn stalled(verdict: Option<&Verdict>) -> (Reason, &str, Option<usize>) {
        match verdict {
            Some(Verdict::Stalled {
                reason,
                message,
                governed,
            }) => (*reason, message.as_str(), *governed),
            other => panic!("expected Stalled, got {other:?}"),
        }
    }

    fn at(s: i64) -> Time {
        Time(jiff::Timestamp::from_second(s).expect("valid timestamp"))
    }

    #[test]
    fn a_valid_profile_is_ready_with_the_number_of_namespaces_it_governs() {
        let profiles = [profile("team-a", selecting("team-a"))];
        let namespaces = [
            namespace("a-dev", &["team-a"]),
            namespace("a-prod", &["team-a"]),
            namespace("b-dev", &["team-b"]),
        ];
        let verdicts = evaluate(&profiles, &namespaces);
        assert_eq!(verdicts["team-a"], Verdict::Ready { governed: 2 });
        assert_eq!(verdicts["team-a"].message(), "governs 2 namespaces");
    }

    #[test]
    fn an_in_expression_without_values_is_stalled_as_invalid_spec() {
        let profiles = [profile("broken", expression("team", "In", None))];
        let verdicts = evaluate(&profiles, &[namespace("a-dev", &["team"])]);
        let (reason, message, governed) = stalled(verdicts.get("broken"));
        assert_eq!(reason, Reason::InvalidSpec);
        assert!(message.contains("AzureProfile broken"), "{message}");
        assert!(message.contains("key team"), "{message}");
        assert_eq!(governed, None);
    }

    #[test]
    fn an_in_expression_with_an_empty_value_list_is_invalid_as_the_api_server_says() {
        let selector = expression("team", "In", Some(Vec::new()));
        let verdicts = evaluate(&[profile("broken", selector)], &[] as &[Namespace]);
        assert_eq!(stalled(verdicts.get("broken")).0, Reason::InvalidSpec);
    }

    #[test]
    fn overlapping_profiles_are_both_stalled_naming_each_other_and_the_namespace() {
        let profiles = [
            profile("team-a", selecting("team-a")),
            profile("shared", selecting("shared")),
            profile("team-c", selecting("team-c")),
        ];
        let namespaces = [
            namespace("team-a-dev", &["team-a", "shared"]),
            namespace("team-a-prod", &["team-a"]),
            namespace("c-dev", &["team-c"]),
        ];
        let verdicts = evaluate(&profiles, &namespaces);

        let (reason, message, governed) = stalled(verdicts.get("team-a"));
        assert_eq!(reason, Reason::ProfileOverlap);
        assert_eq!(
            message,
            "AzureProfiles team-a and shared both select namespace team-a-dev; a namespace may be governed by exactly one profile: narrow one of the namespaceSelectors"
        );
        assert_eq!(governed, Some(1), "team-a-prod is still team-a's alone");

        let (reason, message, governed) = stalled(verdicts.get("shared"));
        assert_eq!(reason, Reason::ProfileOverlap);
        assert!(
            message
                .starts_with("AzureProfiles shared and team-a both select namespace team-a-dev;"),
            "{message}"
        );
        assert_eq!(governed, Some(0));

        assert_eq!(verdicts["team-c"], Verdict::Ready { governed: 1 });
    }

    #[test]
    fn an_overlap_message_lists_a_few_namespaces_and_counts_the_rest() {
        let profiles = [profile("a", selecting("x")), profile("b", selecting("x"))];
        let namespaces: Vec<Namespace> = (1..=5)
            .map(|i| namespace(&format!("ns-{i}"), &["x"]))
            .collect();
        let verdicts = evaluate(&profiles, &namespaces);
        let (_, message, _) = stalled(verdicts.get("a"));
        assert!(
            message.starts_with(
                "AzureProfiles a and b both select namespaces ns-1, ns-2, ns-3 and 2 more;"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_profile_that_selects_no_namespace_is_ready_governing_zero() {
        let profiles = [profile("lonely", selecting("nobody-has-this"))];
        let verdicts = evaluate(&profiles, &[namespace("a-dev", &["team-a"])]);
        assert_eq!(verdicts["lonely"], Verdict::Ready { governed: 0 });
        assert_eq!(verdicts["lonely"].message(), "governs 0 namespaces");
    }

    #[test]
    fn a_ready_status_reads_as_current_to_kstatus() {
        let status = status_for(&Verdict::Ready { governed: 2 }, None, 3, at(100));
        assert_eq!(status.basic.observed_generation, 3);
        assert_eq!(status.governed_namespaces, Some(2));
        let ready = find(&status.basic.conditions, READY).expect("Ready");
        assert_eq!(
            (ready.status.as_str(), ready.observed_generation),
            ("True", Some(3))
        );
        assert!(find(&status.basic.conditions, STALLED).is_none());
        assert!(find(&status.basic.conditions, RECONCILING).is_none());
    }

    #[test]
    fn a_stalled_status_reads_as_failed_to_kstatus_and_recovers() {
        let overlap = Verdict::Stalled {
            reason: Reason::ProfileOverlap,
            message: "overlap".to_string(),
            governed: Some(1),
        };
        let status = status_for(&overlap, None, 1, at(100));
        assert_eq!(
            find(&status.basic.conditions, READY).map(|c| c.status.as_str()),
            Some("False")
        );
        let stalled = find(&status.basic.conditions, STALLED).expect("Stalled");
        assert_eq!(
            (stalled.status.as_str(), stalled.reason.as_str()),
            ("True", "ProfileOverlap")
        );

        let recovered = status_for(&Verdict::Ready { governed: 2 }, Some(&status), 1, at(200));
        assert!(find(&recovered.basic.conditions, STALLED).is_none());
        assert_eq!(
            find(&recovered.basic.conditions, READY).map(|c| c.last_transition_time.clone()),
            Some(at(200))
        );
    }

    #[test]
    fn the_same_verdict_again_gives_an_equal_status_so_nothing_is_written() {
        for verdict in [
            Verdict::Ready { governed: 2 },
            Verdict::Stalled {
                reason: Reason::InvalidSpec,
                message: "bad selector".to_string(),
                governed: None,
            },
        ] {
            let first = status_for(&verdict, None, 4, at(100));
            let again = status_for(&verdict, Some(&first), 4, at(200));
            assert_eq!(first, again);
        }
    }

    #[test]
    fn the_fingerprint_ignores_order_and_sees_label_changes() {
        let profiles = [Arc::new(DeserializeGuard(Ok(profile("a", selecting("x")))))];
        let (n1, n2) = (
            Arc::new(namespace("n1", &["x"])),
            Arc::new(namespace("n2", &[])),
        );
        let before = fingerprint(&profiles, &[n1.clone(), n2.clone()]);
        assert_eq!(before, fingerprint(&profiles, &[n2, n1.clone()]));
        let relabelled = Arc::new(namespace("n2", &["x"]));
        assert_ne!(before, fingerprint(&profiles, &[n1, relabelled]));
    }

    #[test]
    fn failed_writes_back_off_up_to_a_minute() {
        let second = Duration::from_secs(1);
        assert_eq!(retry_delay(second, 1), Duration::from_secs(2));
        assert_eq!(retry_delay(second, 3), Duration::from_secs(8));
        assert_eq!(retry_delay(second, 40), MAX_RETRY_DELAY);
    }
}
