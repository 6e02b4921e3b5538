//! The kubectl verbs people use on azop objects, run with the real kubectl against the
//! kube-emulator: server-side apply (field managers and conflicts), describe, patch (spec and
//! the status subresource), label and label selectors, wait for a condition set while kubectl
//! waits, delete held by a finalizer, get's yaml, json and jsonpath output, and the typed
//! `create` verbs (which send protobuf) with `apply -f` of the List `get -o yaml` prints.
//!
//! Every test has its own emulator and its own kubectl discovery cache.

use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use azop_e2e::{Kubectl, emulated_cluster, repo_path as path};
use kube_emulator::KubeEmulator;
use serde_json::Value;

struct Cluster {
    _emulator: KubeEmulator,
    kubectl: Kubectl,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// kubectl started in the background (for `wait` and `delete --wait`), with this test's
    /// kubeconfig and a discovery cache of its own.
    fn spawn(&self, args: &[&str]) -> Child {
        static SPAWNED: AtomicUsize = AtomicUsize::new(0);
        let n = SPAWNED.fetch_add(1, Ordering::Relaxed);
        let cache = self.dir.path().join(format!("kubectl-cache-{n}"));
        self.kubectl
            .command(args)
            .env("KUBECACHEDIR", &cache)
            .env("HOME", &cache)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl starts (set AZOP_KUBECTL or run tests/run)")
    }

    /// kubectl with a discovery cache of its own, for one invocation: nothing it finds (or
    /// fails to find) is remembered from an earlier one.
    fn fresh(&self) -> Kubectl {
        Kubectl::new(&self.dir.path().join("kubeconfig"))
    }

    fn apply(&self, yaml: &str, extra: &[&str]) -> Output {
        let mut args = vec!["apply", "-f", "-"];
        args.extend_from_slice(extra);
        self.kubectl.run_with_stdin(&args, Some(yaml))
    }

    fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let template = format!("jsonpath={path}");
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", &template]);
        self.kubectl.ok(&args)
    }

    fn json(&self, what: &[&str]) -> Value {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.kubectl.ok(&args)).expect("kubectl printed JSON")
    }
}

async fn cluster() -> Cluster {
    let (emulator, kubeconfig, dir) = emulated_cluster().await;
    Cluster {
        _emulator: emulator,
        kubectl: Kubectl::new(&kubeconfig),
        dir,
    }
}

/// The CRDs from `crds/`, established.
fn install_crds(c: &Cluster) {
    c.kubectl.ok(&["apply", "-f", &path("crds")]);
    c.kubectl.ok(&[
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=20s",
    ]);
}

/// The CRDs, the namespaces and a ResourceGroup shaped like the one in examples/.
fn install_resource_group(c: &Cluster) {
    install_crds(c);
    c.kubectl
        .ok(&["apply", "-f", &path("examples/00-namespaces.yaml")]);
    let out = c.apply(&resource_group("rg-platform", "prod", ""), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn resource_group(name: &str, environment: &str, extra_metadata: &str) -> String {
    format!(
        "apiVersion: azop.dev/v1alpha1\nkind: ResourceGroup\nmetadata:\n  name: {name}\n  namespace: platform\n{extra_metadata}spec:\n  location: westeurope\n  tags:\n    environment: {environment}\n"
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Waits for a background kubectl to exit; kills it and fails the test after `timeout`.
fn finish(mut child: Child, timeout: Duration, what: &str) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait().expect("kubectl's status") {
            Some(_) => return child.wait_with_output().expect("kubectl's output"),
            None if start.elapsed() > timeout => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("kubectl's output");
                panic!(
                    "{what} still running after {timeout:?}:\n{}{}",
                    stdout(&out),
                    stderr(&out)
                );
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Asserts a background kubectl is still running `for_at_least` after it started.
fn assert_still_running(child: &mut Child, for_at_least: Duration, what: &str) {
    std::thread::sleep(for_at_least);
    assert!(
        child.try_wait().expect("kubectl's status").is_none(),
        "{what} returned before it should have"
    );
}

fn set_ready(c: &Cluster, name: &str, status: &str, observed_generation: i64) {
    let patch = format!(
        r#"{{"status":{{"observedGeneration":{observed_generation},"conditions":[{{"type":"Ready","status":"{status}","reason":"Tested","message":"set by the test","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":{observed_generation}}}]}}}}"#
    );
    c.kubectl.ok(&[
        "patch",
        "resourcegroup",
        name,
        "-n",
        "platform",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        &patch,
    ]);
}

async fn run(test: impl FnOnce(Cluster) + Send + 'static) {
    let c = cluster().await;
    tokio::task::spawn_blocking(move || test(c))
        .await
        .expect("kubectl steps");
}

const RG: [&str; 4] = ["resourcegroup", "rg-platform", "-n", "platform"];

#[tokio::test(flavor = "multi_thread")]
async fn server_side_apply_creates_updates_and_reports_conflicts_between_field_managers() {
    run(|c| {
        install_crds(&c);
        let applied = c
            .kubectl
            .ok(&["apply", "--server-side", "-f", &path("examples")]);
        for obj in [
            "namespace/platform",
            "azureprofile.azop.dev/platform",
            "resourcegroup.azop.dev/rg-platform",
            "akscluster.azop.dev/prod",
            "keyvault.azop.dev/platform-kv",
            "keyvaultbinding.azop.dev/orders-db",
        ] {
            assert!(
                applied.contains(&format!("{obj} serverside-applied")),
                "{obj} missing from:\n{applied}"
            );
        }
        assert_eq!(applied.matches("serverside-applied").count(), 14, "{applied}");
        let rg = c.json(&RG);
        assert_eq!(rg["spec"]["location"], "westeurope");
        assert_eq!(rg["spec"]["managementPolicy"], "Manage", "schema default");
        assert_eq!(rg["metadata"]["generation"], 1);
        let yaml = c.kubectl.ok(&[
            "get",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "-o",
            "yaml",
            "--show-managed-fields",
        ]);
        assert!(yaml.contains("manager: kubectl\n"), "{yaml}");
        assert!(yaml.contains("operation: Apply"), "{yaml}");
        assert!(yaml.contains("f:environment: {}"), "{yaml}");

        // A second apply changing a field and adding one: the change lands, generation moves.
        let changed = resource_group("rg-platform", "staging", "")
            + "    owner: platform-team\n";
        let out = c.apply(&changed, &["--server-side"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).contains("resourcegroup.azop.dev/rg-platform serverside-applied"),
            "{}",
            stdout(&out)
        );
        let rg = c.json(&RG);
        assert_eq!(
            rg["spec"]["tags"],
            serde_json::json!({"environment": "staging", "owner": "platform-team"})
        );
        assert_eq!(rg["metadata"]["generation"], 2);

        // Another manager takes a field with a patch; applying the old value now conflicts...
        c.kubectl.ok(&[
            "patch",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"tags":{"environment":"prod"}}}"#,
        ]);
        let out = c.apply(&changed, &["--server-side"]);
        assert!(!out.status.success(), "a conflicting apply was accepted");
        let err = stderr(&out);
        assert!(
            err.contains(
                r#"Apply failed with 1 conflict: conflict with "kubectl-patch" using azop.dev/v1alpha1: .spec.tags.environment"#
            ),
            "{err}"
        );
        assert_eq!(
            c.jsonpath(&RG, "{.spec.tags.environment}"),
            "prod",
            "a refused apply changes nothing"
        );
        let managers = c.jsonpath(&RG, "{.metadata.managedFields[*].manager}");
        assert!(
            managers.contains("kubectl-patch") && managers.contains("kubectl"),
            "{managers}"
        );

        // ...unless forced, which takes the field over.
        let out = c.apply(&changed, &["--server-side", "--force-conflicts"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(c.jsonpath(&RG, "{.spec.tags.environment}"), "staging");
        assert_eq!(
            c.jsonpath(&RG, "{.metadata.managedFields[*].manager}"),
            "kubectl",
            "kubectl-patch lost its only field"
        );

        // Agreeing on a value is no conflict: both managers own it.
        let out = c.apply(
            &resource_group("rg-platform", "staging", ""),
            &["--server-side", "--field-manager=alice"],
        );
        assert!(out.status.success(), "{}", stderr(&out));

        // A field the applier stops applying, and nobody else owns, is removed.
        let out = c.apply(&resource_group("rg-platform", "staging", ""), &["--server-side"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let rg = c.json(&RG);
        assert_eq!(
            rg["spec"]["tags"],
            serde_json::json!({"environment": "staging"})
        );
        assert_eq!(rg["spec"]["location"], "westeurope");
        assert_eq!(rg["metadata"]["generation"], 5);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_dry_runs_are_validated_and_answered_but_change_nothing() {
    run(|c| {
        install_resource_group(&c);
        let before = c.json(&RG);
        let out = c.apply(
            &resource_group("rg-platform", "staging", ""),
            &["--dry-run=server"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "resourcegroup.azop.dev/rg-platform configured (server dry run)\n"
        );
        let out = c.apply(
            &resource_group("rg-new", "dev", ""),
            &["--server-side", "--dry-run=server"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).contains("rg-new serverside-applied (server dry run)"),
            "{}",
            stdout(&out)
        );
        let out = c.kubectl.ok(&[
            "delete",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "--dry-run=server",
        ]);
        assert!(out.contains("deleted (server dry run)"), "{out}");
        // A dry run is still validated: a bad location is refused.
        let bad = resource_group("rg-bad", "dev", "").replace("westeurope", "West Europe");
        let out = c.apply(&bad, &["--dry-run=server"]);
        assert!(!out.status.success(), "an invalid dry run was accepted");
        assert!(stderr(&out).contains("spec.location"), "{}", stderr(&out));

        assert_eq!(c.json(&RG), before, "nothing changed");
        let listed = c
            .kubectl
            .ok(&["get", "resourcegroups", "-n", "platform", "-o", "name"]);
        assert_eq!(listed, "resourcegroup.azop.dev/rg-platform\n");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_shows_a_custom_objects_fields_and_events_and_a_namespaces_summary() {
    run(|c| {
        install_resource_group(&c);
        let uid = c.jsonpath(&RG, "{.metadata.uid}");
        // An Event as kube's Recorder writes it: events.k8s.io/v1. describe reads core/v1.
        let event = format!(
            r#"{{"apiVersion": "events.k8s.io/v1", "kind": "Event",
  "metadata": {{"name": "rg-platform.1", "namespace": "platform"}},
  "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "azop.dev/operator",
  "reportingInstance": "azop-0", "action": "Reconcile", "reason": "Created", "type": "Normal",
  "note": "resource group rg-platform created in westeurope",
  "regarding": {{"apiVersion": "azop.dev/v1alpha1", "kind": "ResourceGroup", "name": "rg-platform",
    "namespace": "platform", "uid": "{uid}"}}}}"#
        );
        let out = c
            .kubectl
            .run_with_stdin(&["create", "-f", "-"], Some(&event));
        assert!(out.status.success(), "{}", stderr(&out));

        let described =
            c.kubectl
                .ok(&["describe", "resourcegroup", "rg-platform", "-n", "platform"]);
        for line in [
            "Name:         rg-platform",
            "Namespace:    platform",
            "API Version:  azop.dev/v1alpha1",
            "Kind:         ResourceGroup",
            "Location:",
            "westeurope",
            "Management Policy:",
            "Environment:  prod",
            "Observed Generation:  -1",
            "Events:",
            "azop.dev/operator",
            "resource group rg-platform created in westeurope",
        ] {
            assert!(
                described.contains(line),
                "{line:?} missing from:\n{described}"
            );
        }
        assert!(
            described
                .lines()
                .any(|l| ["Type", "Reason", "Age", "From", "Message"]
                    .iter()
                    .all(|h| l.contains(h))),
            "no events header in:\n{described}"
        );
        let event_row = described
            .lines()
            .find(|l| l.contains("resource group rg-platform created"))
            .unwrap_or_default();
        assert!(
            event_row.contains("Normal") && event_row.contains("Created"),
            "{event_row}"
        );

        let ns = c.kubectl.ok(&["describe", "namespace", "platform"]);
        for line in [
            "Name:         platform",
            "azop.dev/profile=platform",
            "kubernetes.io/metadata.name=platform",
            "Status:       Active",
            "No resource quota.",
            "No LimitRange resource.",
        ] {
            assert!(ns.contains(line), "{line:?} missing from:\n{ns}");
        }
        // The same event, through core/v1, as `kubectl get events` shows it.
        let events = c.kubectl.ok(&["get", "events", "-n", "platform"]);
        assert!(events.contains("resourcegroup/rg-platform"), "{events}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn merge_patches_bump_generation_for_spec_changes_only() {
    run(|c| {
        install_resource_group(&c);
        assert_eq!(c.jsonpath(&RG, "{.metadata.generation}"), "1");
        let out = c.kubectl.ok(&[
            "patch",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"tags":{"owner":"platform-team"}}}"#,
        ]);
        assert!(
            out.contains("resourcegroup.azop.dev/rg-platform patched"),
            "{out}"
        );
        let rg = c.json(&RG);
        assert_eq!(
            rg["spec"]["tags"],
            serde_json::json!({"environment": "prod", "owner": "platform-team"})
        );
        assert_eq!(rg["metadata"]["generation"], 2);
        let rv = rg["metadata"]["resourceVersion"].clone();

        set_ready(&c, "rg-platform", "True", 2);
        let rg = c.json(&RG);
        assert_eq!(
            rg["metadata"]["generation"], 2,
            "a status write is no spec change"
        );
        assert_ne!(rg["metadata"]["resourceVersion"], rv);
        assert_eq!(rg["status"]["conditions"][0]["type"], "Ready");
        assert_eq!(rg["status"]["observedGeneration"], 2);
        let table = c.kubectl.ok(&["get", "resourcegroup", "-n", "platform"]);
        assert!(
            table.lines().any(|l| l.starts_with("rg-platform")
                && l.contains("True")
                && l.contains("Tested")),
            "{table}"
        );

        // Status sent to the main resource is ignored; the spec in the same patch lands.
        c.kubectl.ok(&[
            "patch",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"tags":{"owner":"someone-else"}},"status":{"observedGeneration":42}}"#,
        ]);
        let rg = c.json(&RG);
        assert_eq!(rg["status"]["observedGeneration"], 2);
        assert_eq!(rg["spec"]["tags"]["owner"], "someone-else");
        assert_eq!(rg["metadata"]["generation"], 3);

        // A patch that changes nothing is no write at all.
        let rv = c.jsonpath(&RG, "{.metadata.resourceVersion}");
        c.kubectl.ok(&[
            "patch",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"tags":{"owner":"someone-else"}}}"#,
        ]);
        assert_eq!(c.jsonpath(&RG, "{.metadata.resourceVersion}"), rv);
        assert_eq!(c.jsonpath(&RG, "{.metadata.generation}"), "3");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn labels_are_added_selected_overwritten_and_removed() {
    run(|c| {
        install_resource_group(&c);
        let out = c.apply(&resource_group("rg-other", "dev", ""), &[]);
        assert!(out.status.success(), "{}", stderr(&out));

        let out = c.kubectl.ok(&[
            "label",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "team=platform",
        ]);
        assert!(
            out.contains("resourcegroup.azop.dev/rg-platform labeled"),
            "{out}"
        );
        let selected = c.kubectl.ok(&[
            "get",
            "resourcegroups",
            "-A",
            "-l",
            "team=platform",
            "-o",
            "name",
        ]);
        assert_eq!(selected, "resourcegroup.azop.dev/rg-platform\n");
        let others = c.kubectl.ok(&[
            "get",
            "resourcegroups",
            "-n",
            "platform",
            "-l",
            "team!=platform",
            "-o",
            "name",
        ]);
        assert_eq!(others, "resourcegroup.azop.dev/rg-other\n");
        let set = c.kubectl.ok(&[
            "get",
            "resourcegroups",
            "-n",
            "platform",
            "-l",
            "team in (platform,apps)",
            "-o",
            "name",
        ]);
        assert_eq!(set, "resourcegroup.azop.dev/rg-platform\n");

        // A different value needs --overwrite.
        let out = c.kubectl.run(&[
            "label",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "team=apps",
        ]);
        assert!(!out.status.success());
        assert!(
            stderr(&out)
                .contains("'team' already has a value (platform), and --overwrite is false"),
            "{}",
            stderr(&out)
        );
        c.kubectl.ok(&[
            "label",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "team=apps",
            "--overwrite",
        ]);
        assert_eq!(c.jsonpath(&RG, "{.metadata.labels.team}"), "apps");
        assert_eq!(
            c.kubectl.ok(&[
                "get",
                "resourcegroups",
                "-A",
                "-l",
                "team=platform",
                "-o",
                "name"
            ]),
            ""
        );
        assert_eq!(
            c.kubectl.ok(&[
                "get",
                "resourcegroups",
                "-A",
                "-l",
                "team=apps",
                "-o",
                "name"
            ]),
            "resourcegroup.azop.dev/rg-platform\n"
        );
        let shown = c.kubectl.ok(&[
            "get",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "--show-labels",
        ]);
        assert!(shown.contains("team=apps"), "{shown}");
        assert_eq!(
            c.jsonpath(&RG, "{.metadata.generation}"),
            "1",
            "labels are not spec"
        );

        let out = c.kubectl.ok(&[
            "label",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "team-",
        ]);
        assert!(
            out.contains("resourcegroup.azop.dev/rg-platform unlabeled"),
            "{out}"
        );
        assert_eq!(
            c.json(&RG)["metadata"]
                .get("labels")
                .and_then(|l| l.get("team")),
            None
        );
        assert_eq!(
            c.kubectl
                .ok(&["get", "resourcegroups", "-A", "-l", "team", "-o", "name"]),
            ""
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_returns_when_ready_is_set_for_the_current_generation_and_times_out_otherwise() {
    run(|c| {
        install_resource_group(&c);
        let mut waiting = c.spawn(&[
            "wait",
            "--for=condition=Ready",
            "resourcegroup/rg-platform",
            "-n",
            "platform",
            "--timeout=60s",
        ]);
        assert_still_running(
            &mut waiting,
            Duration::from_secs(2),
            "kubectl wait without a condition",
        );
        set_ready(&c, "rg-platform", "True", 1);
        let out = finish(waiting, Duration::from_secs(20), "kubectl wait");
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "resourcegroup.azop.dev/rg-platform condition met\n"
        );

        // A spec change makes the condition stale: Ready=True for generation 1 no longer counts.
        c.kubectl.ok(&[
            "patch",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"tags":{"environment":"staging"}}}"#,
        ]);
        assert_eq!(c.jsonpath(&RG, "{.metadata.generation}"), "2");
        let wait = [
            "wait",
            "--for=condition=Ready",
            "resourcegroup/rg-platform",
            "-n",
            "platform",
            "--timeout=3s",
        ];
        let out = c.kubectl.run(&wait);
        assert!(
            !out.status.success(),
            "a stale condition satisfied kubectl wait"
        );
        assert!(
            stderr(&out).contains("timed out waiting for the condition"),
            "{}",
            stderr(&out)
        );

        // Current but False: still waiting.
        set_ready(&c, "rg-platform", "False", 2);
        let out = c.kubectl.run(&wait);
        assert!(!out.status.success(), "Ready=False satisfied kubectl wait");
        assert!(
            stderr(&out).contains("timed out waiting for the condition"),
            "{}",
            stderr(&out)
        );

        // Current and True, set while kubectl watches.
        let mut waiting = c.spawn(&[
            "wait",
            "--for=condition=Ready",
            "resourcegroup/rg-platform",
            "-n",
            "platform",
            "--timeout=60s",
        ]);
        assert_still_running(
            &mut waiting,
            Duration::from_secs(2),
            "kubectl wait on Ready=False",
        );
        set_ready(&c, "rg-platform", "True", 2);
        let out = finish(waiting, Duration::from_secs(20), "kubectl wait");
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("condition met"), "{}", stdout(&out));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_waits_for_a_finalizer_and_without_waiting_leaves_the_object_terminating() {
    run(|c| {
        install_crds(&c);
        c.kubectl
            .ok(&["apply", "-f", &path("examples/00-namespaces.yaml")]);
        let finalizer = "  finalizers: [azop.dev/cleanup]\n";
        for name in ["rg-platform", "rg-later"] {
            let out = c.apply(&resource_group(name, "prod", finalizer), &[]);
            assert!(out.status.success(), "{}", stderr(&out));
        }

        let mut deleting = c.spawn(&[
            "delete",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "--wait=true",
            "--timeout=60s",
        ]);
        let terminating =
            azop_e2e::eventually("a deletionTimestamp", Duration::from_secs(20), || {
                Some(c.jsonpath(&RG, "{.metadata.deletionTimestamp}")).filter(|t| !t.is_empty())
            });
        assert!(terminating.ends_with('Z'), "{terminating}");
        assert_still_running(
            &mut deleting,
            Duration::from_secs(2),
            "kubectl delete --wait with a finalizer",
        );
        assert_eq!(
            c.jsonpath(&RG, "{.metadata.finalizers}"),
            r#"["azop.dev/cleanup"]"#
        );

        c.kubectl.ok(&[
            "patch",
            "resourcegroup",
            "rg-platform",
            "-n",
            "platform",
            "--type",
            "json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ]);
        let out = finish(deleting, Duration::from_secs(20), "kubectl delete --wait");
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "resourcegroup.azop.dev \"rg-platform\" deleted\n"
        );
        let gone = c
            .kubectl
            .run(&["get", "resourcegroup", "rg-platform", "-n", "platform"]);
        assert!(!gone.status.success());
        assert!(
            stderr(&gone).contains(r#"resourcegroups.azop.dev "rg-platform" not found"#),
            "{}",
            stderr(&gone)
        );

        // --wait=false answers at once; the object stays, terminating, with its finalizer.
        let start = Instant::now();
        let out = c.kubectl.ok(&[
            "delete",
            "resourcegroup",
            "rg-later",
            "-n",
            "platform",
            "--wait=false",
        ]);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "took {:?}",
            start.elapsed()
        );
        assert_eq!(out, "resourcegroup.azop.dev \"rg-later\" deleted\n");
        let later = c.json(&["resourcegroup", "rg-later", "-n", "platform"]);
        assert!(
            later["metadata"]["deletionTimestamp"].is_string(),
            "{later}"
        );
        assert_eq!(
            later["metadata"]["finalizers"],
            serde_json::json!(["azop.dev/cleanup"])
        );
        let listed = c
            .kubectl
            .ok(&["get", "resourcegroups", "-n", "platform", "-o", "name"]);
        assert_eq!(listed, "resourcegroup.azop.dev/rg-later\n");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_prints_yaml_json_and_jsonpath() {
    run(|c| {
        install_crds(&c);
        c.kubectl.ok(&["apply", "-f", &path("examples")]);

        let yaml = c.kubectl.ok(&["get", "resourcegroup", "rg-platform", "-n", "platform", "-o", "yaml"]);
        for line in [
            "apiVersion: azop.dev/v1alpha1\n",
            "kind: ResourceGroup\n",
            "  name: rg-platform\n",
            "  namespace: platform\n",
            "  location: westeurope\n",
            "    environment: prod\n",
            "  managementPolicy: Manage\n",
            "  observedGeneration: -1\n",
        ] {
            assert!(yaml.contains(line), "{line:?} missing from:\n{yaml}");
        }
        assert!(!yaml.contains("managedFields"), "kubectl hides managedFields:\n{yaml}");

        let obj = c.json(&RG);
        assert_eq!(obj["kind"], "ResourceGroup");
        assert_eq!(obj["metadata"]["name"], "rg-platform");
        assert_eq!(obj["spec"]["tags"]["environment"], "prod");
        assert!(obj["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36), "{obj}");

        let list = c.json(&["resourcegroups", "-A"]);
        assert_eq!(list["kind"], "List");
        let names: Vec<&str> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["metadata"]["name"].as_str())
            .collect();
        assert_eq!(names, vec!["rg-platform", "rg-team-a"]);

        assert_eq!(c.jsonpath(&RG, "{.spec.location}"), "westeurope");
        let rows = c.jsonpath(
            &["resourcegroups", "-A"],
            r#"{range .items[*]}{.metadata.namespace}/{.metadata.name}={.spec.location}{"\n"}{end}"#,
        );
        assert_eq!(rows, "platform/rg-platform=westeurope\nteam-a/rg-team-a=westeurope\n");
        let kinds = c.jsonpath(&["azop", "-n", "platform"], "{.items[*].kind}");
        for kind in ["AksCluster", "FederatedIdentity", "KeyVault", "ResourceGroup", "RoleAssignment"] {
            assert!(kinds.contains(kind), "{kind} missing from {kinds}");
        }
        let namespaces = c.kubectl.ok(&["get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}"]);
        assert_eq!(namespaces, "default kube-public kube-system platform team-a");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_create_verbs_work_and_a_listed_yaml_applies_back() {
    run(|c| {
        // These send protobuf bodies and ask for protobuf answers.
        for (args, printed) in [
            (vec!["create", "namespace", "x1"], "namespace/x1 created\n"),
            (
                vec![
                    "create",
                    "secret",
                    "generic",
                    "s1",
                    "--from-literal=a=b",
                    "-n",
                    "x1",
                ],
                "secret/s1 created\n",
            ),
            (
                vec![
                    "create",
                    "configmap",
                    "c1",
                    "--from-literal=a=b",
                    "-n",
                    "x1",
                ],
                "configmap/c1 created\n",
            ),
            (
                vec!["create", "serviceaccount", "sa1", "-n", "x1"],
                "serviceaccount/sa1 created\n",
            ),
        ] {
            assert_eq!(c.fresh().ok(&args), printed);
        }
        let token = c.fresh().ok(&[
            "create",
            "token",
            "sa1",
            "-n",
            "x1",
            "--audience",
            "api://AzureADTokenExchange",
        ]);
        assert!(
            token.starts_with("eyJ") && token.trim().split('.').count() == 3,
            "{token}"
        );

        let yaml = c
            .fresh()
            .ok(&["get", "secret", "s1", "-n", "x1", "-o", "yaml"]);
        for line in [
            "kind: Secret\n",
            "  a: Yg==\n",
            "  name: s1\n",
            "  namespace: x1\n",
        ] {
            assert!(yaml.contains(line), "{line:?} missing from:\n{yaml}");
        }
        // Go writes empty strings in protobuf; they are not stored as fields.
        assert!(!yaml.contains("generateName"), "{yaml}");

        // What `get -o yaml` prints for several objects is a `kind: List`, which kubectl
        // validates against /openapi/v2 before applying.
        let list = c.fresh().ok(&[
            "get",
            "configmaps,secrets,serviceaccounts",
            "-n",
            "x1",
            "-o",
            "yaml",
        ]);
        assert!(list.contains("kind: List\n"), "{list}");
        let out = c.fresh().run_with_stdin(&["apply", "-f", "-"], Some(&list));
        assert!(
            out.status.success(),
            "apply -f of the List failed:\n{}",
            stderr(&out)
        );
        let applied = stdout(&out);
        for line in [
            "configmap/c1 configured\n",
            "secret/s1 configured\n",
            "serviceaccount/sa1 configured\n",
        ] {
            assert!(applied.contains(line), "{line:?} missing from:\n{applied}");
        }
        let last_applied = c.fresh().ok(&[
            "get",
            "configmap",
            "c1",
            "-n",
            "x1",
            "-o",
            "jsonpath={.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}",
        ]);
        assert!(last_applied.contains("\"a\":\"b\""), "{last_applied}");
    })
    .await;
}
