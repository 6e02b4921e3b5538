//! charts/azop and deploy/, checked with the real tools `tests/run` installs: helm (`helm lint
//! --strict`, `helm template` over a matrix of values, the schema's refusals), the PyPI
//! `kubernetes-validate --strict` on every rendered built-in object, checkov's Kubernetes checks
//! (the chart's `.checkov.yaml` justifies each skip), kubectl's kustomize on deploy/, and the
//! real kubectl's `apply --dry-run=server` against the kube-emulator. The kustomize base and the
//! chart's copy of the CRDs fail here when they drift, as crds/ does in crates/operator.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

use azop_e2e::{Kubectl, emulated_cluster, kubectl_binary, repo_path, repo_root};
use serde::Deserialize as _;
use serde_json::Value;

const NAMESPACE: &str = "azop-system";
const KUBE_VERSION: &str = "1.33.0";
const CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
const TENANT_ID: &str = "11111111-1111-1111-1111-111111111111";

/// The command that renders the kustomize base (deploy/README.md gives it too).
const BASE_ARGS: &[&str] = &["--namespace", NAMESPACE, "--set", "crds.keep=false"];
const BASE_HEADER: &str =
    "# Generated from charts/azop; do not edit. Render it again with deploy/README.md's command.\n";

fn tool(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(fallback))
}

fn run(mut cmd: Command, what: &str) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("{what} does not start ({e}); run tests/run, or eval \"$(tests/run --env)\"")
    })
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// helm with its cache, config and data in a temp dir (no network, nothing in $HOME).
struct Helm {
    home: tempfile::TempDir,
}

impl Helm {
    fn new() -> Self {
        Helm {
            home: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn output(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(tool("AZOP_HELM", "helm"));
        cmd.args(args).current_dir(repo_root());
        for (var, dir) in [
            ("HELM_CACHE_HOME", "cache"),
            ("HELM_CONFIG_HOME", "config"),
            ("HELM_DATA_HOME", "data"),
        ] {
            cmd.env(var, self.home.path().join(dir));
        }
        run(cmd, "helm (AZOP_HELM)")
    }

    /// `helm template azop charts/azop ARGS`, which must succeed.
    fn template(&self, args: &[&str]) -> String {
        let mut all = vec![
            "template",
            "azop",
            "charts/azop",
            "--kube-version",
            KUBE_VERSION,
        ];
        all.extend_from_slice(args);
        let out = self.output(&all);
        assert!(out.status.success(), "helm {all:?} failed:\n{}", text(&out));
        String::from_utf8(out.stdout).expect("UTF-8")
    }
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).expect("rendered YAML parses"))
        .filter(|d| !d.is_null())
        .collect()
}

fn kinds(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .map(|d| d["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered; kinds: {:?}", kinds(docs)))
}

/// The main Deployment's arguments (it renders first).
fn args_of(docs: &[Value]) -> Vec<String> {
    deployment_args(find(docs, "Deployment"))
}

fn deployment_args(deployment: &Value) -> Vec<String> {
    deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_string())
        .collect()
}

fn to_yaml(docs: &[&Value]) -> String {
    docs.iter()
        .map(|d| serde_yaml::to_string(d).expect("YAML"))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// kubernetes-validate --strict on every built-in object (it has no schema for a
/// ServiceMonitor, a Prometheus Operator CRD).
fn validate_strictly(docs: &[Value], case: &str) {
    let builtin: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] != "ServiceMonitor")
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, to_yaml(&builtin)).expect("written");
    let mut cmd = Command::new(tool("AZOP_KUBERNETES_VALIDATE", "kubernetes-validate"));
    cmd.args(["--strict", "--quiet", "-k", KUBE_VERSION])
        .arg(&file);
    let out = run(cmd, "kubernetes-validate (AZOP_KUBERNETES_VALIDATE)");
    assert!(
        out.status.success(),
        "{case}: kubernetes-validate --strict refuses the rendered chart:\n{}",
        text(&out)
    );
}

/// The values matrix: each case's `helm template` arguments.
fn matrix() -> Vec<(&'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let wi_client = format!("azure.workloadIdentity.clientId={CLIENT_ID}");
    let wi_tenant = format!("azure.workloadIdentity.tenantId={TENANT_ID}");
    vec![
        ("defaults", s(&["-n", NAMESPACE])),
        (
            "workload identity",
            s(&[
                "-n",
                NAMESPACE,
                "--set",
                "azure.workloadIdentity.enabled=true",
                "--set",
                &wi_client,
                "--set",
                &wi_tenant,
                "--set",
                "azure.credential=workload-identity",
            ]),
        ),
        (
            "workload identity without the webhook",
            s(&[
                "-n",
                NAMESPACE,
                "--set",
                "azure.workloadIdentity.projectToken=true",
                "--set",
                &wi_client,
                "--set",
                &wi_tenant,
            ]),
        ),
        (
            "ServiceMonitor API present",
            s(&[
                "-n",
                NAMESPACE,
                "--api-versions",
                "monitoring.coreos.com/v1",
            ]),
        ),
        (
            "NetworkPolicy on",
            s(&[
                "-n",
                NAMESPACE,
                "--set",
                "networkPolicy.enabled=true",
                "--set",
                "networkPolicy.apiServer.cidrs={10.0.0.1/32}",
                "--set",
                "networkPolicy.apiServer.port=6443",
            ]),
        ),
        (
            "CRDs off",
            s(&["-n", NAMESPACE, "--set", "crds.enabled=false"]),
        ),
        (
            "one replica without leader election",
            s(&[
                "-n",
                NAMESPACE,
                "--set",
                "replicaCount=1",
                "--set",
                "leaderElection.enabled=false",
            ]),
        ),
        ("every flag set", every_flag_args()),
        (
            "two shards",
            s(&["-n", NAMESPACE, "--set", "sharding.shards={a,b}"]),
        ),
    ]
}

/// Values that set every `azop run` flag the chart offers.
fn every_flag_args() -> Vec<String> {
    [
        "azure.subscriptionId=00000000-0000-0000-0000-000000000001",
        "azure.tenantId=11111111-1111-1111-1111-111111111111",
        "azure.credential=workload-identity",
        "azure.armEndpoint=https://management.usgovcloudapi.net",
        "azure.armAudience=https://management.core.usgovcloudapi.net",
        "azure.authorityHost=https://login.microsoftonline.us",
        "azure.keyVaultAudience=https://vault.usgovcloudapi.net",
        "azure.armCaBundle.configMapName=proxy-ca",
        "clusterId=mgmt-weu-1",
        "platformNamespaces={platform,infra}",
        "issuerUrl=https://oidc.example/issuer",
        "syncPeriod=30m",
        "concurrency=8",
        "armConcurrency=16",
        "armRateLimitScale=0.5",
        "roleAssignmentThreshold=3000",
        "logFormat=text",
        "logLevel=debug",
        "metrics.port=9090",
    ]
    .iter()
    .flat_map(|v| ["--set".to_string(), v.to_string()])
    .chain(["-n".to_string(), NAMESPACE.to_string()])
    .collect()
}

#[test]
fn helm_lint_strict_passes_for_every_values_case() {
    let helm = Helm::new();
    for (case, args) in matrix() {
        let mut all = vec![
            "lint",
            "--strict",
            "charts/azop",
            "--kube-version",
            KUBE_VERSION,
        ];
        // `--api-versions` is template-only; lint takes the values.
        all.extend(
            args.iter()
                .map(String::as_str)
                .filter(|a| !a.starts_with("monitoring.") && *a != "--api-versions"),
        );
        let out = helm.output(&all);
        assert!(
            out.status.success(),
            "{case}: helm lint --strict fails:\n{}",
            text(&out)
        );
    }
}

#[test]
fn every_values_case_renders_what_it_should_and_validates_strictly() {
    let helm = Helm::new();
    let always: BTreeSet<String> = [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    for (case, args) in matrix() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let docs = documents(&helm.template(&args));
        let rendered = kinds(&docs);
        assert!(
            always.is_subset(&rendered),
            "{case}: {rendered:?} lacks some of {always:?}"
        );
        for d in &docs {
            let kind = d["kind"].as_str().unwrap_or_default();
            let cluster_scoped = [
                "CustomResourceDefinition",
                "ClusterRole",
                "ClusterRoleBinding",
            ];
            if !cluster_scoped.contains(&kind) {
                assert_eq!(
                    d["metadata"]["namespace"], NAMESPACE,
                    "{case}: {kind} names the release namespace"
                );
            }
        }
        let crds = docs
            .iter()
            .filter(|d| d["kind"] == "CustomResourceDefinition")
            .count();
        let count = |kind: &str| docs.iter().filter(|d| d["kind"] == kind).count();
        let pod = &find(&docs, "Deployment")["spec"]["template"];
        let sa = find(&docs, "ServiceAccount");
        let args = args_of(&docs);
        match case {
            "CRDs off" => assert_eq!(crds, 0, "{case}"),
            _ => assert_eq!(crds, 7, "{case}: the seven CRDs"),
        }
        assert_eq!(
            count("ServiceMonitor"),
            usize::from(case == "ServiceMonitor API present"),
            "{case}: a ServiceMonitor only where monitoring.coreos.com/v1 is served"
        );
        assert_eq!(
            count("NetworkPolicy"),
            usize::from(case == "NetworkPolicy on"),
            "{case}"
        );
        let single = case == "one replica without leader election";
        let shards = if case == "two shards" { 2 } else { 0 };
        assert_eq!(count("Deployment"), 1 + shards, "{case}: one per shard");
        assert_eq!(
            count("PodDisruptionBudget"),
            usize::from(!single) * (1 + shards),
            "{case}"
        );
        assert_eq!(
            args.contains(&"--exclude-shards".to_string()),
            shards > 0,
            "{case}: the main Deployment leaves the shards' objects to them"
        );
        assert_eq!(count("Role"), usize::from(!single), "{case}");
        assert_eq!(
            args.contains(&"--leader-election".to_string()),
            !single,
            "{case}: {args:?}"
        );
        let labelled = pod["metadata"]["labels"]["azure.workload.identity/use"] == "true";
        assert_eq!(labelled, case == "workload identity", "{case}: pod label");
        if case == "workload identity" {
            assert_eq!(
                sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
                CLIENT_ID
            );
            assert_eq!(
                sa["metadata"]["annotations"]["azure.workload.identity/tenant-id"],
                TENANT_ID
            );
        }
        if case == "workload identity without the webhook" {
            let env = pod["spec"]["containers"][0]["env"].to_string();
            for var in [
                "AZURE_CLIENT_ID",
                "AZURE_TENANT_ID",
                "AZURE_FEDERATED_TOKEN_FILE",
                "AZURE_AUTHORITY_HOST",
            ] {
                assert!(env.contains(var), "{case}: {var} in {env}");
            }
            let token =
                &pod["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"];
            assert_eq!(token["audience"], "api://AzureADTokenExchange");
        }
        validate_strictly(&docs, case);
    }
}

#[test]
fn the_deployment_is_hardened_as_the_issue_asks() {
    let docs = documents(&Helm::new().template(&["-n", NAMESPACE]));
    let deployment = find(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(
        c["securityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert_eq!(
        pod["topologySpreadConstraints"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        c["image"], "ghcr.io/azop-dev/azop:0.1.0",
        "the tag is appVersion"
    );

    // Least privilege: no wildcard, no escalation verbs, no CRDs, the Lease by name.
    let cluster_role = find(&docs, "ClusterRole");
    for rule in cluster_role["rules"].as_array().expect("rules") {
        let words = |key: &str| -> Vec<String> {
            rule[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        for verb in words("verbs") {
            assert!(
                !["*", "escalate", "bind", "impersonate", "deletecollection"]
                    .contains(&verb.as_str()),
                "ClusterRole grants {verb}: {rule}"
            );
        }
        for resource in words("resources").iter().chain(&words("apiGroups")) {
            assert!(
                resource != "*" && resource != "customresourcedefinitions",
                "ClusterRole grants {resource}: {rule}"
            );
        }
    }
    let role = find(&docs, "Role");
    assert_eq!(
        role["rules"][1]["resourceNames"],
        serde_json::json!(["azop-leader"])
    );
    let crd = find(&docs, "CustomResourceDefinition");
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
        "crds.keep is on by default"
    );
}

/// The long flags of `azop run`, read from its clap struct (crates/operator/src/run.rs).
fn run_flags() -> BTreeSet<String> {
    let source =
        std::fs::read_to_string(repo_root().join("crates/operator/src/run.rs")).expect("run.rs");
    let body = source
        .split("pub struct RunArgs {")
        .nth(1)
        .and_then(|rest| rest.split("\n}\n").next())
        .expect("RunArgs in run.rs");
    let mut flags = BTreeSet::new();
    // The attribute text since the last field (an `#[arg(...)]` may span lines).
    let mut attribute = String::new();
    for line in body.lines().map(str::trim) {
        if line.starts_with("///") {
            continue;
        }
        let field = line
            .strip_prefix("pub ")
            .unwrap_or(line)
            .split_once(':')
            .map(|(f, _)| f)
            .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        let Some(field) = field.filter(|_| attribute.contains("#[arg(")) else {
            attribute.push_str(line);
            continue;
        };
        let explicit = attribute
            .split("long = \"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(str::to_string);
        attribute.clear();
        flags.insert(explicit.unwrap_or_else(|| field.replace('_', "-")));
    }
    flags
}

#[test]
fn every_azop_run_flag_is_a_chart_value() {
    // With a shard: `--shard` is its Deployment's, `--exclude-shards` the main one's.
    let mut values = every_flag_args();
    values.extend(["--set".to_string(), "sharding.shards={a}".to_string()]);
    let docs =
        documents(&Helm::new().template(&values.iter().map(String::as_str).collect::<Vec<_>>()));
    let args: Vec<String> = docs
        .iter()
        .filter(|d| d["kind"] == "Deployment")
        .flat_map(deployment_args)
        .collect();
    let given: BTreeSet<String> = args
        .iter()
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.split('=').next().unwrap_or(a).to_string())
        .collect();
    // Not values, on purpose: the pod uses its in-cluster config, and the workload identity
    // webhook (or azure.workloadIdentity.projectToken) sets AZURE_FEDERATED_TOKEN_FILE.
    let by_environment: BTreeSet<String> = ["kubeconfig", "federated-token-file"]
        .iter()
        .map(|f| f.to_string())
        .collect();
    let flags = run_flags();
    assert!(flags.len() > 15, "read the flags of run.rs: {flags:?}");
    let missing: Vec<_> = flags
        .difference(&given)
        .filter(|f| !by_environment.contains(*f))
        .collect();
    assert!(
        missing.is_empty(),
        "azop run flags the chart does not set: {missing:?} (args: {args:?})"
    );
    let unknown: Vec<_> = given.difference(&flags).collect();
    assert!(
        unknown.is_empty(),
        "the chart passes flags azop run lacks: {unknown:?}"
    );
    assert!(args.contains(&"--platform-namespace=platform,infra".to_string()));
    assert!(args.contains(&"--arm-ca-file=/etc/azop/arm-ca/ca.crt".to_string()));
}

/// Whether a `matchLabels` selector selects `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .expect("matchLabels")
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn each_shard_is_a_deployment_with_its_own_lease_and_only_its_own_pods_selected() {
    let helm = Helm::new();
    let docs = documents(&helm.template(&[
        "-n",
        NAMESPACE,
        "--api-versions",
        "monitoring.coreos.com/v1",
        "--set",
        "networkPolicy.enabled=true",
        "--set",
        "sharding.shards[0]=a",
        "--set",
        "sharding.shards[1].key=b",
        "--set",
        "sharding.shards[1].replicas=1",
        "--set",
        "sharding.shards[1].resources.limits.memory=1Gi",
        "--set",
        "sharding.shards[1].extraArgs={--concurrency=8}",
    ]));
    validate_strictly(&docs, "two shards, every optional object");
    let named = |kind: &str, name: &str| -> &Value {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let (main, a, b) = (
        named("Deployment", "azop"),
        named("Deployment", "azop-shard-a"),
        named("Deployment", "azop-shard-b"),
    );
    let has = |d: &Value, arg: &str| deployment_args(d).iter().any(|a| a == arg);
    assert!(has(main, "--exclude-shards") && has(main, "--lease-name=azop-leader"));
    assert!(has(a, "--shard=a") && has(a, "--lease-name=azop-leader-a"));
    assert!(has(b, "--shard=b") && has(b, "--lease-name=azop-leader-b"));
    assert!(!has(a, "--exclude-shards") && !has(main, "--shard=a"));
    assert!(has(b, "--concurrency=8"), "a shard's own extraArgs");
    assert_eq!(a["spec"]["replicas"], 2, "replicaCount by default");
    assert_eq!(b["spec"]["replicas"], 1);
    let resources = |d: &Value| d["spec"]["template"]["spec"]["containers"][0]["resources"].clone();
    assert_eq!(resources(a), resources(main));
    assert_eq!(
        resources(b),
        serde_json::json!({"limits": {"memory": "1Gi"}})
    );
    for d in [main, a, b] {
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "azop", "the same ServiceAccount");
        assert!(selects(
            &d["spec"]["selector"]["matchLabels"],
            &d["spec"]["template"]["metadata"]["labels"]
        ));
    }
    // No Deployment, Service or PodDisruptionBudget selects another's pods.
    let pods = [("main", main), ("a", a), ("b", b)];
    let selected_by = |selector: &Value| -> Vec<&str> {
        pods.iter()
            .filter(|(_, d)| selects(selector, &d["spec"]["template"]["metadata"]["labels"]))
            .map(|(n, _)| *n)
            .collect()
    };
    assert_eq!(
        selected_by(&main["spec"]["selector"]["matchLabels"]),
        ["main"]
    );
    assert_eq!(selected_by(&a["spec"]["selector"]["matchLabels"]), ["a"]);
    assert_eq!(
        selected_by(&named("Service", "azop-metrics")["spec"]["selector"]),
        ["main"]
    );
    assert_eq!(
        selected_by(&named("Service", "azop-shards-metrics")["spec"]["selector"]),
        ["a", "b"],
        "every shard's pods are scraped"
    );
    assert_eq!(
        selected_by(&named("PodDisruptionBudget", "azop")["spec"]["selector"]["matchLabels"]),
        ["main"]
    );
    assert_eq!(
        selected_by(
            &named("PodDisruptionBudget", "azop-shard-a")["spec"]["selector"]["matchLabels"]
        ),
        ["a"]
    );
    let pdbs = docs
        .iter()
        .filter(|d| d["kind"] == "PodDisruptionBudget")
        .count();
    assert_eq!(pdbs, 2, "none for shard b's single replica");
    let mut guarded: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "NetworkPolicy")
        .flat_map(|d| selected_by(&d["spec"]["podSelector"]["matchLabels"]))
        .collect();
    guarded.sort();
    assert_eq!(
        guarded,
        ["a", "b", "main"],
        "every pod has its NetworkPolicy"
    );
    // Each ServiceMonitor finds its Service, and shards' targets carry their shard.
    let services = [
        named("Service", "azop-metrics"),
        named("Service", "azop-shards-metrics"),
    ];
    for (monitor, service) in [
        ("azop", "azop-metrics"),
        ("azop-shards", "azop-shards-metrics"),
    ] {
        let selector = &named("ServiceMonitor", monitor)["spec"]["selector"]["matchLabels"];
        let found: Vec<&Value> = services
            .iter()
            .copied()
            .filter(|s| selects(selector, &s["metadata"]["labels"]))
            .collect();
        assert_eq!(found.len(), 1, "{monitor}");
        assert_eq!(found[0]["metadata"]["name"], service, "{monitor}");
    }
    assert_eq!(
        named("ServiceMonitor", "azop-shards")["spec"]["podTargetLabels"],
        serde_json::json!(["azop.dev/shard"])
    );
    // The leader-election Role reaches each shard's Lease.
    assert_eq!(
        find(&docs, "Role")["rules"][1]["resourceNames"],
        serde_json::json!(["azop-leader", "azop-leader-a", "azop-leader-b"])
    );

    // Without shards, nothing of this: one Deployment, unsharded.
    let plain = documents(&helm.template(&["-n", NAMESPACE]));
    assert_eq!(
        plain.iter().filter(|d| d["kind"] == "Deployment").count(),
        1
    );
    assert!(!args_of(&plain).iter().any(|a| a.contains("shard")));
}

#[test]
fn the_schema_refuses_bad_values_with_a_clear_message() {
    let helm = Helm::new();
    // (values, what the message must name)
    let refused: &[(&[&str], &str)] = &[
        (&["replicaCount=0"], "replicaCount"),
        (&["azure.credential=password"], "azure.credential"),
        (
            &["azure.subscriptionId=my-subscription"],
            "azure.subscriptionId",
        ),
        (
            &["azure.armEndpoint=http://management.azure.com"],
            "azure.armEndpoint",
        ),
        (&["azure.workloadIdentity.clientId=not-a-guid"], "clientId"),
        (&["syncPeriod=soon"], "syncPeriod"),
        (&["logFormat=xml"], "logFormat"),
        (&["metrics.port=80"], "metrics.port"),
        (&["roleAssignmentThreshold=5000"], "roleAssignmentThreshold"),
        (&["clusterId=a/b"], "clusterId"),
        (&["platformNamespaces={Team_A}"], "platformNamespaces"),
        (&["image.digest=latest"], "image.digest"),
        (&["sharding.shards={Team_A}"], "sharding.shards"),
        (&["sharding.shards[0].name=a"], "sharding.shards"),
        (&["sharding.shards={a,a}"], "sharding.shards"),
        // A typo is refused, not ignored.
        (&["replicas=3"], "replicas"),
        (
            &["azure.subscriptionID=00000000-0000-0000-0000-000000000000"],
            "subscriptionID",
        ),
        // Rules across values, from the templates.
        (
            &["replicaCount=2", "leaderElection.enabled=false"],
            "replicaCount > 1 needs leaderElection.enabled",
        ),
        (
            &["azure.workloadIdentity.enabled=true"],
            "azure.workloadIdentity.enabled needs azure.workloadIdentity.clientId",
        ),
        (
            &["azure.credential=client-secret"],
            "azure.credential client-secret needs azure.clientSecret.secretName",
        ),
        (
            &["sharding.shards[0]=a", "sharding.shards[1].key=a"],
            "sharding.shards: shard a is listed twice",
        ),
        (
            &[
                "fullnameOverride=operator-of-the-platform-team-in-the-west-europe-region-1",
                "sharding.shards={abc}",
            ],
            "is longer than 63 characters",
        ),
    ];
    for (values, names) in refused {
        let mut args = vec!["template", "azop", "charts/azop", "-n", NAMESPACE];
        for v in *values {
            args.extend(["--set", v]);
        }
        let out = helm.output(&args);
        let message = text(&out);
        assert!(!out.status.success(), "{values:?} was accepted");
        let path = names.replace('.', "/");
        assert!(
            message.contains(names) || message.contains(&path),
            "{values:?}: the refusal does not name {names}:\n{message}"
        );
    }
}

#[test]
fn checkov_finds_nothing_the_chart_does_not_justify() {
    let helm = Helm::new();
    // Not tempfile's default `.tmpXXXX`: checkov skips hidden directories.
    let dir = tempfile::Builder::new()
        .prefix("azop-checkov-")
        .tempdir()
        .expect("temp dir");
    let full: Vec<String> = [
        "--api-versions",
        "monitoring.coreos.com/v1",
        "--set",
        "networkPolicy.enabled=true",
        "--set",
        "azure.workloadIdentity.enabled=true",
        "--set",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("azure.workloadIdentity.clientId={CLIENT_ID}")])
    .chain(["--set".to_string(), "sharding.shards={a}".to_string()])
    .chain(["-n".to_string(), NAMESPACE.to_string()])
    .collect();
    std::fs::write(
        dir.path().join("defaults.yaml"),
        helm.template(&["-n", NAMESPACE]),
    )
    .expect("written");
    std::fs::write(
        dir.path().join("full.yaml"),
        helm.template(&full.iter().map(String::as_str).collect::<Vec<_>>()),
    )
    .expect("written");
    let mut cmd = Command::new(tool("AZOP_CHECKOV", "checkov"));
    cmd.args([
        "--framework",
        "kubernetes",
        "--skip-download",
        "--compact",
        "--quiet",
    ])
    .arg("--config-file")
    .arg(repo_root().join("charts/azop/.checkov.yaml"))
    .arg("-d")
    .arg(dir.path());
    let out = run(cmd, "checkov (AZOP_CHECKOV)");
    let report = text(&out);
    assert!(
        out.status.success(),
        "checkov fails checks charts/azop/.checkov.yaml does not justify:\n{report}"
    );
    assert!(report.contains("Failed checks: 0"), "{report}");
}

#[test]
fn the_charts_crds_are_the_crds_directory() {
    let dir = |p: &str| -> Vec<(String, String)> {
        let mut files: Vec<_> = std::fs::read_dir(repo_root().join(p))
            .expect("directory")
            .map(|e| e.expect("entry").path())
            .map(|p| {
                let name = p.file_name().expect("name").to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).expect("readable"))
            })
            .collect();
        files.sort();
        files
    };
    assert!(
        dir("crds") == dir("charts/azop/files/crds"),
        "charts/azop/files/crds differs from crds/; run `cargo run -p azop -- crds --out-dir charts/azop/files/crds`"
    );
    // And the chart renders them unchanged but for its labels and annotation.
    let docs = documents(&Helm::new().template(&["-n", NAMESPACE]));
    for (name, content) in dir("crds") {
        let want: Value = serde_yaml::from_str(&content).expect("CRD");
        let got = docs
            .iter()
            .find(|d| d["metadata"]["name"] == want["metadata"]["name"])
            .unwrap_or_else(|| panic!("crds/{name} is not rendered"));
        assert_eq!(got["spec"], want["spec"], "crds/{name}'s spec as rendered");
    }
}

#[test]
fn the_kustomize_base_is_the_rendered_chart() {
    let rendered = Helm::new().template(BASE_ARGS);
    let checked_in = std::fs::read_to_string(repo_root().join("deploy/kustomize/base/azop.yaml"))
        .expect("deploy/kustomize/base/azop.yaml");
    assert!(
        checked_in == format!("{BASE_HEADER}{rendered}"),
        "deploy/kustomize/base/azop.yaml differs from the chart; render it again with the \
         command in deploy/README.md"
    );
}

fn kustomize(dir: &str) -> Vec<Value> {
    let mut cmd = Command::new(kubectl_binary());
    cmd.args(["kustomize", &repo_path(dir)]);
    let out = run(cmd, "kubectl (AZOP_KUBECTL)");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}:\n{}",
        text(&out)
    );
    documents(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn the_kustomize_overlay_signs_in_with_workload_identity() {
    let base = kustomize("deploy/kustomize/base");
    validate_strictly(&base, "kustomize base");
    for crd in base
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
    {
        assert_eq!(
            crd["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"], "disabled",
            "Flux never prunes the CRDs"
        );
    }
    let overlay = kustomize("deploy/kustomize/overlays/workload-identity");
    validate_strictly(&overlay, "workload identity overlay");
    let sa = find(&overlay, "ServiceAccount");
    assert!(sa["metadata"]["annotations"]["azure.workload.identity/client-id"].is_string());
    let pod = &find(&overlay, "Deployment")["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    let args = args_of(&overlay);
    assert!(
        args.contains(&"--credential=workload-identity".to_string()),
        "{args:?}"
    );
    assert!(!args.contains(&"--credential=auto".to_string()), "{args:?}");
}

#[test]
fn the_flux_manifests_build_and_their_values_fit_the_chart() {
    let azop = kustomize("deploy/flux/azop");
    let release = find(&azop, "HelmRelease");
    assert_eq!(release["spec"]["chart"]["spec"]["chart"], "./charts/azop");
    // The HelmRelease's values pass the chart's schema and templates.
    let dir = tempfile::tempdir().expect("temp dir");
    let values = dir.path().join("values.yaml");
    std::fs::write(
        &values,
        serde_yaml::to_string(&release["spec"]["values"]).expect("YAML"),
    )
    .expect("written");
    let docs = documents(&Helm::new().template(&[
        "-n",
        NAMESPACE,
        "-f",
        values.to_str().expect("UTF-8 path"),
    ]));
    assert_eq!(
        find(&docs, "Deployment")["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );

    let infrastructure: Vec<Value> = documents(
        &std::fs::read_to_string(repo_root().join("deploy/flux/infrastructure.yaml"))
            .expect("infrastructure.yaml"),
    );
    let platform = infrastructure
        .iter()
        .find(|d| d["metadata"]["name"] == "azop-platform")
        .expect("the platform Kustomization");
    assert_eq!(
        platform["spec"]["wait"], true,
        "Flux waits on azop objects' health"
    );
    assert_eq!(platform["spec"]["dependsOn"][0]["name"], "azop");

    let tenants = kustomize("deploy/flux/tenants");
    let team = tenants
        .iter()
        .find(|d| d["kind"] == "Kustomization")
        .expect("the tenant Kustomization");
    let sa = team["spec"]["serviceAccountName"]
        .as_str()
        .expect("serviceAccountName");
    let ns = team["metadata"]["namespace"].as_str().expect("namespace");
    assert!(
        tenants.iter().any(|d| d["kind"] == "ServiceAccount"
            && d["metadata"]["name"] == sa
            && d["metadata"]["namespace"] == ns),
        "the tenant applies as its own ServiceAccount"
    );
    let role = find(&tenants, "ClusterRole").to_string();
    for kept in ["azureprofiles", "keyvaults\"", "aksclusters", "\"*\""] {
        assert!(
            !role.contains(kept),
            "a tenant may not manage {kept}: {role}"
        );
    }
}

fn served_kinds(kubectl: &Kubectl) -> BTreeSet<String> {
    kubectl
        .ok(&["api-resources", "--no-headers"])
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rendered_chart_applies_to_the_kube_emulator_with_server_dry_run() {
    let (_emulator, kubeconfig, _dir) = emulated_cluster().await;
    tokio::task::spawn_blocking(move || {
        let kubectl = Kubectl::new(&kubeconfig);
        // The Prometheus Operator's ServiceMonitor CRD, as a cluster that has it.
        kubectl.ok(&[
            "apply",
            "-f",
            &repo_path("crates/kube-emulator/tests/testdata/servicemonitor-crd.yaml"),
        ]);
        kubectl.ok(&[
            "wait",
            "--for=condition=Established",
            "crd",
            "--all",
            "--timeout=20s",
        ]);
        let served = served_kinds(&kubectl);
        let helm = Helm::new();
        for (case, args) in matrix() {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let docs: Vec<Value> = documents(&helm.template(&args));
            let applied: Vec<&Value> = docs.iter().collect();
            for d in &docs {
                let kind = d["kind"].as_str().unwrap_or_default();
                assert!(
                    served.contains(kind),
                    "{case}: the kube-emulator does not serve {kind}"
                );
            }
            let dir = tempfile::tempdir().expect("temp dir");
            let file = dir.path().join("chart.yaml");
            std::fs::write(&file, to_yaml(&applied)).expect("written");
            let _ = kubectl.run(&["create", "namespace", NAMESPACE]);
            let out = kubectl.ok(&[
                "apply",
                "--dry-run=server",
                "-f",
                file.to_str().expect("UTF-8 path"),
            ]);
            assert_eq!(
                out.matches("(server dry run)").count(),
                applied.len(),
                "{case}: every served object passes the server's dry run:\n{out}"
            );
        }
        // A dry run changes nothing.
        let crds = kubectl.ok(&["get", "crd", "-o", "name"]);
        assert_eq!(
            crds.trim(),
            "customresourcedefinition.apiextensions.k8s.io/servicemonitors.monitoring.coreos.com",
            "dry run created CRDs"
        );
    })
    .await
    .expect("the test's blocking part");
}
