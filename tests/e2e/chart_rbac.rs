//! The Helm chart's RBAC is enough, proven against the kube-emulator with RBAC on: the
//! chart's ServiceAccount, ClusterRole, leader-election Role and their bindings are rendered
//! with `helm template`, applied, and `azop dev --operator-as-service-account` runs the
//! operator with a token of that ServiceAccount (not as the administrator). Every example goes
//! Ready, the binding's Secret is synced, and the operator met no 403. Then the same run with
//! one rule taken out of the ClusterRole (the Secrets rule) stops at the Secret sync with the
//! 403 in the log: the proof can fail. The chart says which rule is for what, rule by rule.
//!
//! The file lives in `tests/` but belongs to the `azop` package, so Cargo builds the binary
//! these tests start (`CARGO_BIN_EXE_azop`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use azop_e2e::{Dev, eventually, repo_path, repo_root};
use serde::Deserialize as _;
use serde_json::{Value, json};

const AZOP: &str = env!("CARGO_BIN_EXE_azop");
const NAMESPACE: &str = "azop-system";

/// The chart's ServiceAccount and RBAC, rendered for release `azop` in `azop-system`.
fn rendered_rbac() -> Vec<Value> {
    let helm = std::env::var_os("AZOP_HELM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("helm"));
    let home = tempfile::tempdir().expect("temp dir");
    let out = Command::new(&helm)
        .args(["template", "azop", "charts/azop", "--namespace", NAMESPACE])
        .args(["--set", "crds.enabled=false"])
        .current_dir(repo_root())
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "helm ({}) does not start ({e}); run tests/run, or eval \"$(tests/run --env)\"",
                helm.display()
            )
        });
    assert!(
        out.status.success(),
        "helm template failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("rendered YAML parses"))
        .filter(|d| !d.is_null())
        .filter(|d| {
            matches!(
                d["kind"].as_str(),
                Some(
                    "ServiceAccount"
                        | "ClusterRole"
                        | "ClusterRoleBinding"
                        | "Role"
                        | "RoleBinding"
                )
            )
        })
        .collect();
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    for kind in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    ] {
        assert!(
            kinds.contains(&kind),
            "the chart renders a {kind}: {kinds:?}"
        );
    }
    docs
}

/// `azop dev` with the examples and these RBAC objects, the operator running as the chart's
/// ServiceAccount.
fn dev_as_chart(rbac: &[Value]) -> (Dev, tempfile::TempDir) {
    let mut yaml = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n");
    for doc in rbac {
        yaml.push_str("---\n");
        yaml.push_str(&serde_yaml::to_string(doc).expect("YAML"));
    }
    let dir = Dev::yaml_dir("chart-rbac", &yaml);
    let rbac_dir = dir.path().to_string_lossy().into_owned();
    let examples = repo_path("examples");
    let dev = Dev::start(
        AZOP,
        &[
            "--apply",
            &examples,
            "--apply",
            &rbac_dir,
            "--operator-as-service-account",
        ],
    );
    assert!(
        dev.printed
            .iter()
            .any(|l| l == "operator-kube-user: system:serviceaccount:azop-system:azop"),
        "the operator runs as the chart's ServiceAccount: {:?}",
        dev.printed
    );
    (dev, dir)
}

fn forbidden_lines(dev: &Dev) -> Vec<String> {
    dev.stderr()
        .lines()
        .filter(|l| l.contains("forbidden") || l.contains("Forbidden") || l.contains(" 403"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_charts_rbac_is_enough_for_every_example() {
    let (dev, _dir) = dev_as_chart(&rendered_rbac());
    dev.wait_examples_ready("120s");
    // The binding's Secret was written by the operator as its ServiceAccount.
    let data = dev.kubectl.ok(&[
        "get",
        "secret",
        "-n",
        "team-a",
        "-l",
        "azop.dev/key-vault-binding=orders-db",
        "-o",
        "jsonpath={.items[0].data}",
    ]);
    assert!(data.contains("password"), "the synced Secret: {data}");
    // And the leader-election Lease is held in the release namespace.
    let holder = dev.kubectl.ok(&[
        "get",
        "lease",
        "-n",
        NAMESPACE,
        "-o",
        "jsonpath={.items[*].spec.holderIdentity}",
    ]);
    assert!(!holder.trim().is_empty(), "a Lease in {NAMESPACE}");
    assert!(
        forbidden_lines(&dev).is_empty(),
        "the operator met no 403: {:?}",
        forbidden_lines(&dev)
    );

    // The chart's user roles: a team member bound to `edit` in team-a writes azop's kinds
    // there, and neither their status nor AzureProfiles; `view` only reads.
    let kubectl = &dev.kubectl;
    for (who, role) in [("dev", "edit"), ("auditor", "view")] {
        kubectl.ok(&["create", "serviceaccount", who, "-n", "team-a"]);
        kubectl.ok(&[
            "create",
            "rolebinding",
            who,
            "-n",
            "team-a",
            &format!("--clusterrole={role}"),
            &format!("--serviceaccount=team-a:{who}"),
        ]);
    }
    let can_i = |who: &str, args: &[&str]| {
        let token = kubectl.ok(&["create", "token", who, "-n", "team-a"]);
        let mut all = vec!["--token", token.trim(), "auth", "can-i", "-n", "team-a"];
        all.extend_from_slice(args);
        String::from_utf8_lossy(&kubectl.run(&all).stdout)
            .trim()
            .to_string()
    };
    for kind in ["federatedidentities.azop.dev", "keyvaultbindings.azop.dev"] {
        assert_eq!(
            can_i("dev", &["create", kind]),
            "yes",
            "edit creates {kind}"
        );
        assert_eq!(
            can_i("auditor", &["list", kind]),
            "yes",
            "view lists {kind}"
        );
        assert_eq!(
            can_i("auditor", &["create", kind]),
            "no",
            "view only reads {kind}"
        );
        assert_eq!(
            can_i("dev", &["patch", kind, "--subresource=status"]),
            "no",
            "nobody but the operator writes {kind}' status"
        );
    }
    assert_eq!(can_i("dev", &["create", "azureprofiles.azop.dev"]), "no");
}

#[test]
fn without_its_secrets_rule_the_chart_could_not_sync_a_binding() {
    let mut rbac = rendered_rbac();
    let role = rbac
        .iter_mut()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("the ClusterRole");
    let rules = role["rules"].as_array_mut().expect("rules");
    let before = rules.len();
    rules.retain(|r| r["resources"] != json!(["secrets"]));
    assert_eq!(rules.len(), before - 1, "one rule for Secrets");
    let (dev, _dir) = dev_as_chart(&rbac);
    eventually(
        "the operator to be refused the Secret",
        Duration::from_secs(60),
        || {
            let refused = forbidden_lines(&dev)
                .into_iter()
                .find(|l| l.contains("secrets"));
            refused.map(|_| ())
        },
    );
    let synced = dev.kubectl.ok(&[
        "get",
        "keyvaultbinding",
        "orders-db",
        "-n",
        "team-a",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ]);
    assert_ne!(synced.trim(), "True", "no Secret, no Ready binding");
}
