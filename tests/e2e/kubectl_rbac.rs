//! Authentication and RBAC with the real kubectl against the kube-emulator: what a tenant's
//! kubectl may and may not do, as kube-apiserver answers it.
//!
//! - a ServiceAccount token (`kubectl create token`) is a user; its Role lets it read
//!   ConfigMaps in its namespace and nothing else: Secrets, another namespace and writes are
//!   refused with kube-apiserver's Forbidden message;
//! - `kubectl auth can-i` (one question, `--list`, `--as`) and `kubectl auth whoami` answer as
//!   the RBAC says;
//! - a token for another audience, or of a deleted ServiceAccount, is Unauthorized;
//! - a client certificate (CN = user, O = group) and a static token with groups authenticate,
//!   and bindings to groups apply;
//! - impersonation needs `impersonate`; a namespace admin cannot grant what it does not hold
//!   (escalation prevention) nor bind cluster-admin;
//! - aggregation: a ClusterRole labelled `aggregate-to-view` adds its rules to `view`, `edit`
//!   and `admin`.

use std::path::PathBuf;
use std::process::Output;

use azop_e2e::{Kubectl, emulated_cluster, repo_path};
use kube_emulator::{Config, KubeEmulator, StaticToken};
use serde_json::Value;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A kubectl for `kubeconfig`, written next to the admin's.
fn kubectl_for(dir: &tempfile::TempDir, name: &str, kubeconfig: &str) -> Kubectl {
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, kubeconfig).expect("kubeconfig written");
    Kubectl::new(&path)
}

/// Runs kubectl and expects it to fail with `message` in its stderr.
fn refused(kubectl: &Kubectl, args: &[&str], message: &str) {
    let out = kubectl.run(args);
    assert!(
        !out.status.success(),
        "kubectl {} should have been refused:\n{}",
        args.join(" "),
        stdout(&out)
    );
    assert!(
        stderr(&out).contains(message),
        "kubectl {}: expected {message:?} in:\n{}",
        args.join(" "),
        stderr(&out)
    );
}

fn can_i(kubectl: &Kubectl, args: &[&str]) -> String {
    let mut all = vec!["auth", "can-i"];
    all.extend_from_slice(args);
    stdout(&kubectl.run(&all)).trim().to_string()
}

/// The admin's cluster with two tenant namespaces, a ServiceAccount `app` in team-a that a
/// Role lets read ConfigMaps there, and a ConfigMap and a Secret in each namespace.
fn tenants(admin: &Kubectl) {
    for ns in ["team-a", "team-b"] {
        admin.ok(&["create", "namespace", ns]);
        admin.ok(&[
            "create",
            "configmap",
            "settings",
            "-n",
            ns,
            "--from-literal=a=b",
        ]);
        admin.ok(&[
            "create",
            "secret",
            "generic",
            "creds",
            "-n",
            ns,
            "--from-literal=p=q",
        ]);
    }
    admin.ok(&["create", "serviceaccount", "app", "-n", "team-a"]);
    admin.ok(&[
        "create",
        "role",
        "reader",
        "-n",
        "team-a",
        "--verb=get,list,watch",
        "--resource=configmaps",
    ]);
    admin.ok(&[
        "create",
        "rolebinding",
        "app-reader",
        "-n",
        "team-a",
        "--role=reader",
        "--serviceaccount=team-a:app",
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_account_gets_what_its_role_grants_and_nothing_else() {
    let (emulator, kubeconfig, dir) = emulated_cluster().await;
    let admin = Kubectl::new(&kubeconfig);
    tenants(&admin);
    let token = admin.ok(&["create", "token", "app", "-n", "team-a"]);
    let app = kubectl_for(&dir, "app", &emulator.kubeconfig_with_token(token.trim()));

    // Inside its Role.
    let names = app.ok(&["get", "configmaps", "-n", "team-a", "-o", "name"]);
    assert!(names.contains("configmap/settings"), "{names}");
    app.ok(&["get", "configmap", "settings", "-n", "team-a", "-o", "yaml"]);

    // Outside it, with kube-apiserver's words.
    let user = "User \"system:serviceaccount:team-a:app\"";
    refused(
        &app,
        &["get", "secrets", "-n", "team-a"],
        &format!(
            "Error from server (Forbidden): secrets is forbidden: {user} cannot list resource \"secrets\" in API group \"\" in the namespace \"team-a\""
        ),
    );
    refused(
        &app,
        &["get", "secret", "creds", "-n", "team-a"],
        &format!(
            "secrets \"creds\" is forbidden: {user} cannot get resource \"secrets\" in API group \"\" in the namespace \"team-a\""
        ),
    );
    refused(
        &app,
        &["get", "configmaps", "-n", "team-b"],
        &format!(
            "{user} cannot list resource \"configmaps\" in API group \"\" in the namespace \"team-b\""
        ),
    );
    refused(
        &app,
        &["create", "configmap", "mine", "-n", "team-a"],
        &format!("{user} cannot create resource \"configmaps\""),
    );
    refused(
        &app,
        &["delete", "configmap", "settings", "-n", "team-a"],
        &format!("{user} cannot delete resource \"configmaps\""),
    );
    refused(
        &app,
        &["get", "namespaces"],
        &format!(
            "{user} cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
        ),
    );
    refused(
        &app,
        &["create", "token", "app", "-n", "team-a"],
        &format!("{user} cannot create resource \"serviceaccounts/token\""),
    );

    // What it may do, asked.
    assert_eq!(can_i(&app, &["list", "configmaps", "-n", "team-a"]), "yes");
    assert_eq!(
        can_i(&app, &["watch", "configmaps/settings", "-n", "team-a"]),
        "yes"
    );
    assert_eq!(can_i(&app, &["list", "secrets", "-n", "team-a"]), "no");
    assert_eq!(can_i(&app, &["list", "configmaps", "-n", "team-b"]), "no");
    assert_eq!(can_i(&app, &["create", "configmaps", "-n", "team-a"]), "no");
    let listed = app.ok(&["auth", "can-i", "--list", "-n", "team-a"]);
    let row = listed
        .lines()
        .find(|l| l.starts_with("configmaps "))
        .unwrap_or_else(|| panic!("no configmaps row in:\n{listed}"));
    assert!(row.contains("[get list watch]"), "{row}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("selfsubjectaccessreviews.authorization.k8s.io")),
        "system:basic-user's rules are listed too:\n{listed}"
    );
    assert!(!listed.contains("secrets"), "{listed}");
    let whoami = app.ok(&["auth", "whoami", "-o", "json"]);
    let whoami: Value = serde_json::from_str(&whoami).expect("whoami JSON");
    assert_eq!(
        whoami["status"]["userInfo"]["username"],
        "system:serviceaccount:team-a:app"
    );
    let groups = whoami["status"]["userInfo"]["groups"].to_string();
    assert!(groups.contains("system:serviceaccounts:team-a"), "{groups}");

    // The admin asks on its behalf, and may impersonate it; the app may not impersonate.
    let as_app = "--as=system:serviceaccount:team-a:app";
    assert_eq!(
        can_i(&admin, &["list", "configmaps", "-n", "team-a", as_app]),
        "yes"
    );
    assert_eq!(
        can_i(&admin, &["list", "secrets", "-n", "team-a", as_app]),
        "no"
    );
    refused(
        &admin,
        &["get", "secrets", "-n", "team-a", as_app],
        &format!("{user} cannot list resource \"secrets\""),
    );
    refused(
        &app,
        &["get", "configmaps", "-n", "team-a", "--as=jane"],
        &format!(
            "users \"jane\" is forbidden: {user} cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        ),
    );

    // A token for another audience does not reach the API server; nor does a deleted
    // ServiceAccount's.
    let exchange = admin.ok(&[
        "create",
        "token",
        "app",
        "-n",
        "team-a",
        "--audience=api://AzureADTokenExchange",
    ]);
    let other = kubectl_for(
        &dir,
        "other",
        &emulator.kubeconfig_with_token(exchange.trim()),
    );
    // (kubectl words a 401 so.)
    let unauthorized = "error: You must be logged in to the server";
    refused(&other, &["get", "configmaps", "-n", "team-a"], unauthorized);
    admin.ok(&["delete", "serviceaccount", "app", "-n", "team-a"]);
    refused(&app, &["get", "configmaps", "-n", "team-a"], unauthorized);
    refused(
        &kubectl_for(
            &dir,
            "forged",
            &emulator.kubeconfig_with_token("not-a-token"),
        ),
        &["get", "configmaps"],
        unauthorized,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn certificates_and_static_tokens_authenticate_as_kube_apiserver_does() {
    let config = Config {
        static_tokens: StaticToken::parse_file("s3cr3t-ops,olga,1001,\"ops,auditors\"\n")
            .expect("token file"),
        ..Config::default()
    };
    let emulator = KubeEmulator::start(config)
        .await
        .expect("kube-emulator starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let admin = kubectl_for(&dir, "admin", &emulator.kubeconfig_yaml());
    tenants(&admin);
    admin.ok(&[
        "create",
        "rolebinding",
        "ops-view",
        "-n",
        "team-b",
        "--clusterrole=view",
        "--group=ops",
    ]);

    // A client certificate: CN is the user, O the group.
    let jane = kubectl_for(
        &dir,
        "jane",
        &emulator
            .kubeconfig_with_certificate("jane", Some("ops"))
            .expect("certificate"),
    );
    let whoami: Value =
        serde_json::from_str(&jane.ok(&["auth", "whoami", "-o", "json"])).expect("JSON");
    assert_eq!(whoami["status"]["userInfo"]["username"], "jane");
    let groups = whoami["status"]["userInfo"]["groups"].to_string();
    assert!(
        groups.contains("\"ops\"") && groups.contains("system:authenticated"),
        "{groups}"
    );
    jane.ok(&["get", "configmaps", "-n", "team-b"]);
    refused(
        &jane,
        &["get", "secrets", "-n", "team-b"],
        "User \"jane\" cannot list resource \"secrets\"",
    );
    refused(
        &jane,
        &["create", "configmap", "x", "-n", "team-b"],
        "User \"jane\" cannot create resource \"configmaps\"",
    );

    // A static token with two groups.
    let olga = kubectl_for(&dir, "olga", &emulator.kubeconfig_with_token("s3cr3t-ops"));
    assert_eq!(can_i(&olga, &["list", "configmaps", "-n", "team-b"]), "yes");
    assert_eq!(can_i(&olga, &["list", "secrets", "-n", "team-b"]), "no");
    assert_eq!(can_i(&olga, &["list", "configmaps", "-n", "team-a"]), "no");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_admin_cannot_escalate_and_aggregation_extends_the_user_roles() {
    let (emulator, kubeconfig, dir) = emulated_cluster().await;
    let admin = Kubectl::new(&kubeconfig);
    tenants(&admin);
    admin.ok(&[
        "create",
        "rolebinding",
        "app-admin",
        "-n",
        "team-a",
        "--clusterrole=admin",
        "--serviceaccount=team-a:app",
    ]);
    let token = admin.ok(&["create", "token", "app", "-n", "team-a"]);
    let app = kubectl_for(&dir, "app", &emulator.kubeconfig_with_token(token.trim()));

    // Within what it holds: a Role for Secrets and its binding.
    app.ok(&[
        "create",
        "role",
        "secret-reader",
        "-n",
        "team-a",
        "--verb=get",
        "--resource=secrets",
    ]);
    app.ok(&[
        "create",
        "rolebinding",
        "default-secret-reader",
        "-n",
        "team-a",
        "--role=secret-reader",
        "--serviceaccount=team-a:default",
    ]);
    // Beyond it: writing quotas (admin only reads them), a wildcard, cluster-admin, and
    // anything in another namespace.
    refused(
        &app,
        &[
            "create",
            "role",
            "quota-writer",
            "-n",
            "team-a",
            "--verb=create",
            "--resource=resourcequotas",
        ],
        "is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"resourcequotas\"], Verbs:[\"create\"]}",
    );
    refused(
        &app,
        &[
            "create",
            "role",
            "everything",
            "-n",
            "team-a",
            "--verb=*",
            "--resource=secrets",
        ],
        "is attempting to grant RBAC permissions not currently held",
    );
    refused(
        &app,
        &[
            "create",
            "rolebinding",
            "root",
            "-n",
            "team-a",
            "--clusterrole=cluster-admin",
            "--serviceaccount=team-a:app",
        ],
        "rolebindings.rbac.authorization.k8s.io \"root\" is forbidden",
    );
    refused(
        &app,
        &[
            "create",
            "role",
            "r",
            "-n",
            "team-b",
            "--verb=get",
            "--resource=configmaps",
        ],
        "cannot create resource \"roles\" in API group \"rbac.authorization.k8s.io\" in the namespace \"team-b\"",
    );
    // A binding's roleRef cannot change, for anyone.
    refused(
        &app,
        &[
            "patch",
            "rolebinding",
            "default-secret-reader",
            "-n",
            "team-a",
            "--type=merge",
            "-p",
            r#"{"roleRef":{"kind":"ClusterRole","name":"cluster-admin"}}"#,
        ],
        "cannot change roleRef",
    );

    // Aggregation: a ClusterRole labelled for `view` reaches view, edit and admin (what a
    // chart does to let namespace users read its kinds).
    admin.ok(&["apply", "-f", &repo_path("crds")]);
    let keyvaults = ["list", "keyvaults.azop.dev", "-n", "team-a"];
    assert_eq!(can_i(&app, &keyvaults), "no");
    let aggregated = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: azop-view\n  labels:\n    rbac.authorization.k8s.io/aggregate-to-view: \"true\"\nrules:\n- apiGroups: [azop.dev]\n  resources: [keyvaults]\n  verbs: [get, list, watch]\n";
    let out = admin.run_with_stdin(&["apply", "-f", "-"], Some(aggregated));
    assert!(out.status.success(), "{}", stderr(&out));
    for role in ["view", "edit", "admin"] {
        let rules = admin.ok(&["get", "clusterrole", role, "-o", "jsonpath={.rules}"]);
        assert!(rules.contains("keyvaults"), "{role}: {rules}");
    }
    assert_eq!(can_i(&app, &keyvaults), "yes");
    // Removing the label takes the rules away again.
    admin.ok(&[
        "label",
        "clusterrole",
        "azop-view",
        "rbac.authorization.k8s.io/aggregate-to-view-",
    ]);
    assert_eq!(can_i(&app, &keyvaults), "no");
}
