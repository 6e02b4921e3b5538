//! The built-in kinds an operator's install brings (Deployment, Service, PodDisruptionBudget,
//! NetworkPolicy, and a ServiceMonitor CRD), driven with the real kubectl against the
//! kube-emulator as a user drives a cluster: the typed `create` verbs (which send protobuf),
//! `apply -f` and its server dry run, `get` with kube-apiserver's columns, `explain`, `scale`
//! and `set image` (a strategic merge patch).
//!
//! Every test has its own emulator and its own kubectl discovery cache.

use std::process::Output;

use azop_e2e::{Kubectl, emulated_cluster, repo_path as path};
use kube_emulator::KubeEmulator;
use serde_json::{Value, json};

struct Cluster {
    _emulator: KubeEmulator,
    kubectl: Kubectl,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn apply(&self, yaml: &str, extra: &[&str]) -> Output {
        let mut args = vec!["apply", "-f", "-"];
        args.extend_from_slice(extra);
        self.kubectl.run_with_stdin(&args, Some(yaml))
    }

    fn json(&self, what: &[&str]) -> Value {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.kubectl.ok(&args)).expect("kubectl printed JSON")
    }
}

async fn run(test: impl FnOnce(Cluster) + Send + 'static) {
    let (emulator, kubeconfig, dir) = emulated_cluster().await;
    let c = Cluster {
        _emulator: emulator,
        kubectl: Kubectl::new(&kubeconfig),
        _dir: dir,
    };
    tokio::task::spawn_blocking(move || test(c))
        .await
        .expect("kubectl steps");
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The header and rows `kubectl get` printed, each split on its column gaps.
fn rows(printed: &str) -> Vec<Vec<String>> {
    printed
        .lines()
        .map(|l| {
            l.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect()
        })
        .collect()
}

/// What a Helm chart for an operator installs: a Deployment, a Service for its metrics, a
/// PodDisruptionBudget and a NetworkPolicy.
const INSTALL: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: azop
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels:
      app: azop
  template:
    metadata:
      labels:
        app: azop
    spec:
      containers:
      - name: azop
        image: ghcr.io/azop-dev/azop:0.1.0
        args: ["run"]
        ports:
        - name: metrics
          containerPort: 8080
        readinessProbe:
          httpGet:
            path: /readyz
            port: metrics
---
apiVersion: v1
kind: Service
metadata:
  name: azop-metrics
  namespace: default
spec:
  selector:
    app: azop
  ports:
  - name: metrics
    port: 8080
    targetPort: metrics
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: azop
  namespace: default
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app: azop
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: azop
  namespace: default
spec:
  podSelector:
    matchLabels:
      app: azop
  ingress:
  - ports:
    - port: 8080
"#;

/// A Deployment named `name`, `spec` being its spec's YAML (indented by 2).
fn deployment(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n{spec}"
    )
}

const GOOD_SPEC: &str = "  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx\n";

#[tokio::test(flavor = "multi_thread")]
async fn create_deployment_and_create_service_store_what_kube_apiserver_would() {
    run(|c| {
        // Both send protobuf bodies.
        assert_eq!(
            c.kubectl.ok(&["create", "deployment", "web", "--image=nginx:1.27", "--port=80"]),
            "deployment.apps/web created\n"
        );
        assert_eq!(
            c.kubectl.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]),
            "service/web created\n"
        );

        let d = c.json(&["deployment", "web"]);
        assert_eq!(d["metadata"]["generation"], 1);
        assert_eq!(d["status"], json!({}));
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["schedulerName"], "default-scheduler");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["securityContext"], json!({}));
        assert_eq!(
            pod["containers"][0],
            json!({"name": "nginx", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 80, "protocol": "TCP"}], "resources": {},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}),
            "Go's zero values sent in protobuf (hostPort: 0, stdin: false) are not stored"
        );
        // Go's zero-valued template metadata is not read back as the epoch.
        assert!(spec["template"]["metadata"].get("creationTimestamp").is_none());

        let s = c.json(&["service", "web"]);
        assert!(s["metadata"].get("generation").is_none(), "Services have no generation");
        let ip = s["spec"]["clusterIP"].as_str().expect("a cluster IP").to_string();
        assert!(ip.starts_with("10.96.") && ip != "10.96.0.1", "{ip}");
        assert_eq!(s["spec"]["clusterIPs"], json!([ip]));
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(s["spec"]["sessionAffinity"], "None");
        assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4"]));
        assert_eq!(s["spec"]["internalTrafficPolicy"], "Cluster");
        assert_eq!(
            s["spec"]["ports"],
            json!([{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}])
        );
        assert_eq!(s["status"], json!({"loadBalancer": {}}));

        let got = rows(&c.kubectl.ok(&["get", "deployment", "web"]));
        assert_eq!(got[0], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
        assert_eq!(got[1][..4], ["web", "0/1", "0", "0"]);
        let got = rows(&c.kubectl.ok(&["get", "services"]));
        assert_eq!(
            got[0],
            ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        );
        assert_eq!(got[1][..5], ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"]);
        assert_eq!(got[2][..5], ["web", "ClusterIP", ip.as_str(), "<none>", "80/TCP"]);

        // The scale subresource, and a strategic merge patch that changes one container.
        assert_eq!(
            c.kubectl.ok(&["scale", "deployment", "web", "--replicas=3"]),
            "deployment.apps/web scaled\n"
        );
        c.kubectl.ok(&["set", "image", "deployment/web", "nginx=nginx:1.28"]);
        let d = c.json(&["deployment", "web"]);
        assert_eq!(d["spec"]["replicas"], 3);
        let container = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "nginx:1.28");
        assert_eq!(container["ports"][0]["containerPort"], 80, "the rest of the container stays");
        assert_eq!(d["metadata"]["generation"], 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operators_install_applies_and_lists_with_kube_apiservers_columns() {
    run(|c| {
        let out = c.apply(INSTALL, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "deployment.apps/azop created\nservice/azop-metrics created\npoddisruptionbudget.policy/azop created\nnetworkpolicy.networking.k8s.io/azop created\n"
        );

        let got = rows(&c.kubectl.ok(&["get", "deployments", "-o", "wide"]));
        assert_eq!(
            got[0],
            ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
        );
        assert_eq!(got[1][..4], ["azop", "0/2", "0", "0"]);
        assert_eq!(got[1][5..], ["azop", "ghcr.io/azop-dev/azop:0.1.0", "app=azop"]);
        let got = rows(&c.kubectl.ok(&["get", "service", "azop-metrics"]));
        assert_eq!(got[1][1], "ClusterIP");
        assert_eq!(got[1][4], "8080/TCP");
        let got = rows(&c.kubectl.ok(&["get", "pdb"]));
        assert_eq!(
            got[0],
            ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]
        );
        assert_eq!(got[1][..4], ["azop", "1", "N/A", "0"]);
        let got = rows(&c.kubectl.ok(&["get", "networkpolicy"]));
        assert_eq!(got[0], ["NAME", "POD-SELECTOR", "AGE"]);
        assert_eq!(got[1][..2], ["azop", "app=azop"]);

        let d = c.json(&["deployment", "azop"]);
        let probe = &d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
        assert_eq!(
            *probe,
            json!({"httpGet": {"path": "/readyz", "port": "metrics", "scheme": "HTTP"},
                "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        let pdb = c.json(&["pdb", "azop"]);
        assert_eq!(pdb["metadata"]["generation"], 1);
        assert_eq!(
            pdb["status"],
            json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0})
        );
        let policy = c.json(&["networkpolicy", "azop"]);
        assert_eq!(policy["metadata"]["generation"], 1);
        assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress"]));
        assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP");

        // Applying it again changes nothing that was applied.
        let out = c.apply(INSTALL, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("deployment.apps/azop unchanged\n"), "{}", stdout(&out));
        assert!(stdout(&out).contains("service/azop-metrics unchanged\n"), "{}", stdout(&out));
        assert_eq!(c.json(&["deployment", "azop"])["metadata"]["generation"], 1);

        // A changed image is applied as a strategic merge patch: the container keeps its
        // probe and ports.
        let out = c.apply(&INSTALL.replace("azop:0.1.0", "azop:0.2.0"), &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        let d = c.json(&["deployment", "azop"]);
        let container = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "ghcr.io/azop-dev/azop:0.2.0");
        assert_eq!(container["ports"][0]["name"], "metrics");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(d["metadata"]["generation"], 2);

        // Secrets and ConfigMaps have no generation; a Secret's type defaults to Opaque.
        c.kubectl.ok(&["create", "secret", "generic", "s", "--from-literal=a=b"]);
        c.kubectl.ok(&["create", "configmap", "m", "--from-literal=a=b"]);
        let secret = c.json(&["secret", "s"]);
        assert_eq!(secret["type"], "Opaque");
        assert!(secret["metadata"].get("generation").is_none());
        assert!(c.json(&["configmap", "m"])["metadata"].get("generation").is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_dry_run_of_a_broken_deployment_is_refused_naming_the_field() {
    run(|c| {
        let refused = |yaml: &str| {
            let out = c.apply(yaml, &["--dry-run=server"]);
            assert!(!out.status.success(), "accepted:\n{}", stdout(&out));
            stderr(&out)
        };
        let misspelt = deployment("web", &GOOD_SPEC.replace("image:", "imagee:"));
        assert_eq!(
            refused(&misspelt),
            "Error from server (BadRequest): error when creating \"STDIN\": Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.template.spec.containers[0].imagee\"\n"
        );
        let mistyped = deployment("web", &format!("  replicas: two\n{GOOD_SPEC}"));
        assert_eq!(
            refused(&mistyped),
            "Error from server (BadRequest): error when creating \"STDIN\": Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32\n"
        );
        let mismatched = deployment("web", &GOOD_SPEC.replace("        app: web", "        app: other"));
        assert_eq!(
            refused(&mismatched),
            "The Deployment \"web\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`\n"
        );
        let unselected = deployment(
            "web",
            &GOOD_SPEC.replace("  selector:\n    matchLabels:\n      app: web\n", ""),
        );
        let message = refused(&unselected);
        assert!(message.contains("spec.selector: Required value"), "{message}");
        let imageless = deployment("web", &GOOD_SPEC.replace("        image: nginx\n", ""));
        let message = refused(&imageless);
        assert!(
            message.contains("spec.template.spec.containers[0].image: Required value"),
            "{message}"
        );
        let portless = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - name: http\n    targetPort: 80\n";
        assert_eq!(
            refused(portless),
            "The Service \"web\" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive\n"
        );

        // A good one is answered and stores nothing.
        let out = c.apply(&deployment("web", GOOD_SPEC), &["--dry-run=server"]);
        assert_eq!(stdout(&out), "deployment.apps/web created (server dry run)\n", "{}", stderr(&out));
        let out = c.kubectl.run(&["get", "deployment", "web"]);
        assert!(stderr(&out).contains("NotFound"), "{}", stderr(&out));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_describes_built_in_fields_and_custom_resources() {
    run(|c| {
        let explained = c.kubectl.ok(&["explain", "deployment.spec.replicas"]);
        for line in [
            "GROUP:      apps\n",
            "KIND:       Deployment\n",
            "VERSION:    v1\n",
            "FIELD: replicas <integer>\n",
            "    Number of desired pods.",
        ] {
            assert!(
                explained.contains(line),
                "{line:?} missing from:\n{explained}"
            );
        }
        let explained = c.kubectl.ok(&["explain", "service.spec.ports"]);
        assert!(
            explained.contains("FIELD: ports <[]ServicePort>\n"),
            "{explained}"
        );
        assert!(
            explained.contains("  targetPort\t<IntOrString>\n"),
            "{explained}"
        );
        assert!(
            explained.contains("  port\t<integer> -required-\n"),
            "{explained}"
        );

        c.kubectl.ok(&["apply", "-f", &path("crds")]);
        c.kubectl.ok(&[
            "wait",
            "--for=condition=Established",
            "crd",
            "--all",
            "--timeout=20s",
        ]);
        let explained = c.kubectl.ok(&["explain", "akscluster.spec"]);
        assert!(
            explained.contains("KIND:       AksCluster\n"),
            "{explained}"
        );
        assert!(explained.contains("FIELD: spec <Object>\n"), "{explained}");
        let explained = c.kubectl.ok(&["explain", "akscluster.metadata.labels"]);
        assert!(
            explained.contains("FIELD: labels <map[string]string>\n"),
            "{explained}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_monitor_crd_installs_and_a_service_monitor_applies() {
    run(|c| {
        let crd = path("crates/kube-emulator/tests/testdata/servicemonitor-crd.yaml");
        c.kubectl.ok(&["apply", "-f", &crd]);
        c.kubectl.ok(&[
            "wait",
            "--for=condition=Established",
            "crd/servicemonitors.monitoring.coreos.com",
            "--timeout=20s",
        ]);
        let monitor = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: azop\n  namespace: default\nspec:\n  selector:\n    matchLabels:\n      app: azop\n  endpoints:\n  - port: metrics\n    interval: 30s\n";
        let out = c.apply(monitor, &[]);
        assert_eq!(
            stdout(&out),
            "servicemonitor.monitoring.coreos.com/azop created\n",
            "{}",
            stderr(&out)
        );
        let got = c.json(&["servicemonitor", "azop"]);
        assert_eq!(got["spec"]["endpoints"][0]["port"], "metrics");
        assert_eq!(rows(&c.kubectl.ok(&["get", "smon"]))[1][0], "azop");

        let out = c.apply(&monitor.replace("30s", "thirty"), &["--dry-run=server"]);
        assert!(
            stderr(&out).contains("spec.endpoints[0].interval: Invalid value: \"thirty\""),
            "{}",
            stderr(&out)
        );
        // Applied over the existing object (a patch), an unknown field is refused too.
        let out = c.apply(&monitor.replace("  endpoints:", "  endpoint:"), &[]);
        assert!(
            stderr(&out).ends_with("error when patching \"STDIN\": ServiceMonitor in version \"v1\" cannot be handled as a ServiceMonitor: strict decoding error: unknown field \"spec.endpoint\"\n"),
            "{}",
            stderr(&out)
        );
    })
    .await;
}
