//! kstatus: how Flux's health checks and `kubectl wait`'s relatives judge an object, ported from
//! kubernetes-sigs/cli-utils `pkg/kstatus/status` (`status.go`, `generic.go`, and `core.go`'s
//! CustomResourceDefinition rule), so the end-to-end tests can assert what Flux would see.
//!
//! The generic rules, in order: a `deletionTimestamp` is Terminating; a
//! `status.observedGeneration` other than `metadata.generation` is InProgress; a
//! `Reconciling=True` condition is InProgress; a `Stalled=True` condition is Failed; then the
//! kind's own rule (here only CustomResourceDefinition, Secret and ConfigMap; cli-utils also has
//! Pods, workloads, Services, ...); then a `Ready` condition (True: Current; False or Unknown:
//! InProgress); and with none of these, Current.

use serde_json::Value;

/// What kstatus makes of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Still being worked on: Flux keeps waiting.
    InProgress,
    /// Failed: Flux stops waiting and reports it (only `Stalled=True` and a CRD's own failures).
    Failed,
    /// Reconciled and healthy.
    Current,
    /// Being deleted.
    Terminating,
}

/// A condition kstatus computes (`Reconciling` or `Stalled`), as cli-utils' `Condition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `Reconciling` or `Stalled`.
    pub type_: String,
    /// Always `True` for the conditions kstatus adds.
    pub status: String,
    /// The reason, taken from the object's own condition where there is one.
    pub reason: String,
    /// A message for people.
    pub message: String,
}

/// The result of [`compute`]: cli-utils' `Result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computed {
    /// The status.
    pub status: Status,
    /// Why, for people.
    pub message: String,
    /// The standard conditions that describe it (`Reconciling` for InProgress, `Stalled` for
    /// Failed, none otherwise).
    pub conditions: Vec<Condition>,
}

const RECONCILING: &str = "Reconciling";
const STALLED: &str = "Stalled";

fn current(message: &str) -> Computed {
    Computed {
        status: Status::Current,
        message: message.to_string(),
        conditions: Vec::new(),
    }
}

fn with_condition(status: Status, type_: &str, reason: &str, message: &str) -> Computed {
    Computed {
        status,
        message: message.to_string(),
        conditions: vec![Condition {
            type_: type_.to_string(),
            status: "True".to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
        }],
    }
}

fn in_progress(reason: &str, message: &str) -> Computed {
    with_condition(Status::InProgress, RECONCILING, reason, message)
}

fn failed(reason: &str, message: &str) -> Computed {
    with_condition(Status::Failed, STALLED, reason, message)
}

/// One of the object's `status.conditions`, read leniently as cli-utils does.
struct Seen<'a> {
    type_: &'a str,
    status: &'a str,
    reason: &'a str,
    message: &'a str,
}

fn text<'a>(c: &'a Value, key: &str) -> &'a str {
    c.get(key).and_then(Value::as_str).unwrap_or("")
}

fn conditions(obj: &Value) -> Vec<Seen<'_>> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| Seen {
                    type_: text(c, "type"),
                    status: text(c, "status"),
                    reason: text(c, "reason"),
                    message: text(c, "message"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// kstatus's verdict on `obj` (a whole object as the API server returns it, with its status).
pub fn compute(obj: &Value) -> Computed {
    if let Some(result) = generic(obj) {
        return result;
    }
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    match (group, obj["kind"].as_str().unwrap_or_default()) {
        ("apiextensions.k8s.io", "CustomResourceDefinition") => return crd(obj),
        ("", "Secret" | "ConfigMap") => return current("Resource is always ready"),
        _ => {}
    }
    for c in conditions(obj).iter().filter(|c| c.type_ == "Ready") {
        match c.status {
            "True" => return current("Resource is Ready"),
            "False" | "Unknown" => return in_progress(c.reason, c.message),
            _ => {}
        }
    }
    current("Resource is current")
}

/// `generic.go`'s `checkGenericProperties`: deletion, generation, Reconciling, Stalled.
fn generic(obj: &Value) -> Option<Computed> {
    if obj
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        return Some(current_as(
            Status::Terminating,
            "Resource scheduled for deletion",
        ));
    }
    if let Some(generation) = obj.pointer("/metadata/generation").and_then(Value::as_i64)
        && let Some(observed) = obj
            .pointer("/status/observedGeneration")
            .and_then(Value::as_i64)
        && observed != generation
    {
        let kind = obj["kind"].as_str().unwrap_or_default();
        let message = format!(
            "{kind} generation is {generation}, but latest observed generation is {observed}"
        );
        return Some(in_progress("LatestGenerationNotObserved", &message));
    }
    for c in conditions(obj) {
        if c.type_ == RECONCILING && c.status == "True" {
            return Some(in_progress(c.reason, c.message));
        }
        if c.type_ == STALLED && c.status == "True" {
            return Some(failed(c.reason, c.message));
        }
    }
    None
}

fn current_as(status: Status, message: &str) -> Computed {
    Computed {
        status,
        ..current(message)
    }
}

/// `core.go`'s `CRDConditions`.
fn crd(obj: &Value) -> Computed {
    for c in conditions(obj) {
        if c.type_ == "NamesAccepted" && c.status == "False" {
            return failed(c.reason, c.message);
        }
        if c.type_ == "Established" {
            if c.status == "False" && c.reason != "Installing" {
                return failed(c.reason, c.message);
            }
            if c.status == "True" {
                return current("CRD is established");
            }
        }
    }
    in_progress("Installing", "Install in progress")
}

#[cfg(test)]
mod tests {
    //! cli-utils' own cases (`status_compute_test.go`: TestCRDGenericStatus, TestCRDStatus;
    //! `status_augment_test.go`: the standard conditions and the custom kind without any),
    //! with their manifests as written there, plus the deletion rule `generic.go` states.
    use super::*;

    struct Case {
        name: &'static str,
        spec: &'static str,
        expected_status: Status,
        expected_conditions: &'static [(&'static str, &'static str)],
        absent_condition_types: &'static [&'static str],
    }

    /// cli-utils' `runStatusTest`.
    fn run(case: &Case) {
        let obj: Value = serde_yaml::from_str(case.spec).expect("a manifest");
        let res = compute(&obj);
        assert_eq!(res.status, case.expected_status, "{}", case.name);
        for (type_, reason) in case.expected_conditions {
            let c = res
                .conditions
                .iter()
                .find(|c| c.type_ == *type_)
                .unwrap_or_else(|| panic!("{}: expected condition {type_}", case.name));
            assert_eq!(c.status, "True", "{}", case.name);
            assert_eq!(c.reason, *reason, "{}", case.name);
        }
        for absent in case.absent_condition_types {
            assert!(
                res.conditions.iter().all(|c| c.type_ != *absent),
                "{}: {absent} should be absent",
                case.name
            );
        }
    }

    const CRD_NO_STATUS: &str = "
apiVersion: something/v1
kind: MyCR
metadata:
   generation: 1
   name: test
   namespace: qual
";
    const CRD_MISMATCH_STATUS_GENERATION: &str = "
apiVersion: something/v1
kind: MyCR
metadata:
   name: test
   namespace: qual
   generation: 2
status:
   observedGeneration: 1
";
    const CRD_READY: &str = r#"
apiVersion: something/v1
kind: MyCR
metadata:
   name: test
   namespace: qual
   generation: 1
status:
   conditions:
    - type: Ready 
      status: "True"
      message: All looks ok
      reason: AllOk
"#;
    const CRD_NOT_READY: &str = r#"
apiVersion: something/v1
kind: MyCR
metadata:
   generation: 1
   name: test
   namespace: qual
status:
   observedGeneration: 1
   conditions:
    - type: Ready 
      status: "False"
      reason: NotReadyYet
"#;
    const CRD_NO_CONDITION: &str = r#"
apiVersion: something/v1
kind: MyCR
metadata:
   name: test
   namespace: qual
   generation: 1
status:
   conditions:
    - type: SomeCondition 
      status: "False"
"#;

    #[test]
    fn custom_resources_follow_cli_utils_generic_cases() {
        let stalled_reconciling: &[&str] = &[STALLED, RECONCILING];
        for case in [
            Case {
                name: "crdNoStatus",
                spec: CRD_NO_STATUS,
                expected_status: Status::Current,
                expected_conditions: &[],
                absent_condition_types: stalled_reconciling,
            },
            Case {
                name: "crdReady",
                spec: CRD_READY,
                expected_status: Status::Current,
                expected_conditions: &[],
                absent_condition_types: stalled_reconciling,
            },
            Case {
                name: "crdNotReady",
                spec: CRD_NOT_READY,
                expected_status: Status::InProgress,
                expected_conditions: &[(RECONCILING, "NotReadyYet")],
                absent_condition_types: &[STALLED],
            },
            Case {
                name: "crdNoCondition",
                spec: CRD_NO_CONDITION,
                expected_status: Status::Current,
                expected_conditions: &[],
                absent_condition_types: stalled_reconciling,
            },
            Case {
                name: "crdMismatchStatusGeneration",
                spec: CRD_MISMATCH_STATUS_GENERATION,
                expected_status: Status::InProgress,
                expected_conditions: &[(RECONCILING, "LatestGenerationNotObserved")],
                absent_condition_types: &[STALLED],
            },
        ] {
            run(&case);
        }
    }

    const CRD_NO_CONDITIONS: &str = "
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
   generation: 1
";
    const CRD_INSTALLING: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
   generation: 1
status:
   conditions:
    - type: NamesAccepted
      status: "True"
      reason: NoConflicts
    - type: Established
      status: "False"
      reason: Installing
"#;
    const CRD_NAMES_NOT_ACCEPTED: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
   generation: 1
status:
   conditions:
    - type: NamesAccepted
      status: "False"
      reason: SomeReason
"#;
    const CRD_ESTABLISHED: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
   generation: 1
status:
   conditions:
    - type: NamesAccepted
      status: "True"
      reason: NoConflicts
    - type: Established
      status: "True"
      reason: InitialNamesAccepted
"#;

    #[test]
    fn custom_resource_definitions_follow_cli_utils_cases() {
        for case in [
            Case {
                name: "crdNoConditions",
                spec: CRD_NO_CONDITIONS,
                expected_status: Status::InProgress,
                expected_conditions: &[(RECONCILING, "Installing")],
                absent_condition_types: &[STALLED],
            },
            Case {
                name: "crdInstalling",
                spec: CRD_INSTALLING,
                expected_status: Status::InProgress,
                expected_conditions: &[(RECONCILING, "Installing")],
                absent_condition_types: &[STALLED],
            },
            Case {
                name: "crdNamesNotAccepted",
                spec: CRD_NAMES_NOT_ACCEPTED,
                expected_status: Status::Failed,
                expected_conditions: &[(STALLED, "SomeReason")],
                absent_condition_types: &[RECONCILING],
            },
            Case {
                name: "crdEstablished",
                spec: CRD_ESTABLISHED,
                expected_status: Status::Current,
                expected_conditions: &[],
                absent_condition_types: &[RECONCILING, STALLED],
            },
        ] {
            run(&case);
        }
    }

    /// `status_augment_test.go`'s pod with a standard condition: the generic rules decide
    /// before any kind's own rule.
    fn pod_with(condition_type: &str, reason: &str) -> Value {
        let mut pod: Value = serde_yaml::from_str(
            "
apiVersion: v1
kind: Pod
metadata:
   generation: 1
   name: test
   namespace: qual
status:
   phase: Running
",
        )
        .expect("a manifest");
        pod["status"]["conditions"] = serde_json::json!([{
            "lastTransitionTime": "2019-01-01T00:00:00Z",
            "lastUpdateTime": "2019-01-01T00:00:00Z",
            "type": condition_type, "status": "True", "reason": reason,
        }]);
        pod
    }

    #[test]
    fn reconciling_is_in_progress_and_stalled_is_failed_whatever_the_kind() {
        let res = compute(&pod_with(RECONCILING, "PodIsAbsolutelyNotReady"));
        assert_eq!(res.status, Status::InProgress);
        assert_eq!(res.conditions[0].type_, RECONCILING);
        assert_eq!(res.conditions[0].reason, "PodIsAbsolutelyNotReady");
        let res = compute(&pod_with(STALLED, "PodHasFailed"));
        assert_eq!(res.status, Status::Failed);
        assert_eq!(res.conditions[0].type_, STALLED);
        assert_eq!(res.conditions[0].reason, "PodHasFailed");
    }

    #[test]
    fn a_custom_resource_without_conditions_is_current() {
        let custom: Value = serde_yaml::from_str(
            "
apiVersion: v1beta1
kind: SomeCustomKind
metadata:
   generation: 1
   name: test
   namespace: default
",
        )
        .expect("a manifest");
        let res = compute(&custom);
        assert_eq!(res.status, Status::Current);
        assert!(res.conditions.is_empty());
    }

    #[test]
    fn deletion_wins_over_everything() {
        let mut obj: Value = serde_yaml::from_str(CRD_NOT_READY).expect("a manifest");
        obj["metadata"]["deletionTimestamp"] = "2026-11-01T00:00:00Z".into();
        assert_eq!(compute(&obj).status, Status::Terminating);
    }

    #[test]
    fn azop_status_before_the_first_reconcile_is_in_progress() {
        // azop's CRDs default status.observedGeneration to -1: an object nobody has looked at
        // yet is not mistaken for a healthy one.
        let obj = serde_json::json!({
            "apiVersion": "azop.dev/v1alpha1", "kind": "ResourceGroup",
            "metadata": {"name": "rg", "namespace": "platform", "generation": 1},
            "status": {"observedGeneration": -1},
        });
        let res = compute(&obj);
        assert_eq!(res.status, Status::InProgress);
        assert_eq!(res.conditions[0].reason, "LatestGenerationNotObserved");
    }
}
