//! Helpers shared by azop's end-to-end tests: where the repository is, and the real kubectl
//! pointed at an emulator with its own kubeconfig and discovery cache.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub mod kstatus;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A path in the repository, as a string for kubectl's arguments (`repo_path("crds")`).
pub fn repo_path(rel: &str) -> String {
    repo_root().join(rel).to_string_lossy().into_owned()
}

/// Applies azop's CRDs server-side, as `field_manager`, through `client`.
pub async fn apply_crds(client: &kube::Client, field_manager: &str) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::ResourceExt;
    use kube::api::{Patch, PatchParams};
    let crds: kube::Api<CustomResourceDefinition> = kube::Api::all(client.clone());
    for crd in azop_api::crds() {
        crds.patch(
            &crd.name_any(),
            &PatchParams::apply(field_manager).force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap_or_else(|e| panic!("CRD {}: {e}", crd.name_any()));
    }
}

/// A kube-emulator on a random loopback port, and the kubeconfig for it, written in a temp
/// dir that lives as long as the returned `TempDir`.
pub async fn emulated_cluster() -> (kube_emulator::KubeEmulator, PathBuf, tempfile::TempDir) {
    let emulator = kube_emulator::KubeEmulator::start(kube_emulator::Config::default())
        .await
        .expect("kube-emulator starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    emulator
        .write_kubeconfig(&kubeconfig)
        .expect("kubeconfig written");
    (emulator, kubeconfig, dir)
}

/// The kubectl binary: `$AZOP_KUBECTL` (set by `tests/run`), else `kubectl` on PATH.
pub fn kubectl_binary() -> PathBuf {
    std::env::var_os("AZOP_KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kubectl"))
}

/// kubectl bound to one kubeconfig, with a discovery cache of its own (kubectl caches
/// discovery for hours, which would leak between tests).
pub struct Kubectl {
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
}

impl Kubectl {
    /// kubectl for the cluster in `kubeconfig`.
    pub fn new(kubeconfig: &Path) -> Self {
        Kubectl {
            kubeconfig: kubeconfig.to_path_buf(),
            cache: tempfile::tempdir().expect("temp dir for kubectl's cache"),
        }
    }

    /// Runs kubectl with `args` and returns its output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    /// kubectl with `args`, this kubeconfig and discovery cache, not started yet.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(kubectl_binary());
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.cache.path())
            .env("HOME", self.cache.path());
        cmd
    }

    /// Runs kubectl with `args`, feeding `stdin` (for `-f -`).
    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut cmd = self.command(args);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd
            .spawn()
            .expect("kubectl starts (set AZOP_KUBECTL or run tests/run)");
        if let Some(input) = stdin
            && let Some(mut pipe) = child.stdin.take()
        {
            pipe.write_all(input.as_bytes()).expect("kubectl stdin");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("kubectl finishes")
    }

    /// Runs kubectl and returns stdout, failing the test with kubectl's stderr if it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// One plain-HTTP/1.0 exchange with a loopback emulator (no client library needed, and no
/// chunked encoding to undo): returns the status and the body.
pub fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{url} is not a plain-HTTP URL"));
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream =
        std::net::TcpStream::connect(host).unwrap_or_else(|e| panic!("connecting to {host}: {e}"));
    let body = body.unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .expect("request written");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer read");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {head}"));
    (status, body.to_string())
}

/// Polls `check` every 200 ms until it answers `Some`, or fails the test after `timeout`.
pub fn eventually<T>(
    what: &str,
    timeout: std::time::Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `azop dev` as a child process, with kubectl pointed at it.
pub struct Dev {
    /// The `azop dev` process.
    pub child: Child,
    /// kubectl pointed at its kube-emulator.
    pub kubectl: Kubectl,
    /// The arm-emulator's plain-HTTP URL.
    pub arm_http: String,
    /// The cluster id `azop dev` printed (its ownership marks start with it).
    pub cluster_id: String,
    /// What `azop dev` printed up to "operator: running" (read fields with [`field`]).
    pub printed: Vec<String>,
    /// The kubeconfig it wrote.
    pub kubeconfig: PathBuf,
    /// Where its stderr (the operator's log) goes.
    pub stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

/// Reads the child's stdout until `until` shows, returning the lines; fails with its stderr if
/// it exits or takes longer than a minute. The rest of stdout is drained in the background.
pub fn read_until(child: &mut Child, until: &str, stderr_file: &Path) -> Vec<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                // Nobody listens any more: keep draining so the child never blocks.
                continue;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                let done = line.starts_with(until);
                lines.push(line);
                if done {
                    return lines;
                }
            }
            Err(_) => panic!(
                "azop did not print {until:?}; stdout so far:\n{}\nstderr:\n{}",
                lines.join("\n"),
                std::fs::read_to_string(stderr_file).unwrap_or_default()
            ),
        }
    }
}

pub fn field<'a>(lines: &'a [String], key: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.split_whitespace().next().unwrap_or_default())
        .unwrap_or_else(|| panic!("azop printed no {key:?} line:\n{}", lines.join("\n")))
}

/// Sends SIGTERM (Ctrl-C's twin) and waits for the exit.
pub fn terminate(child: &mut Child) -> ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..150 {
        if let Some(status) = child.try_wait().expect("child status") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("azop did not stop within 15s of SIGTERM");
}

/// The objects `examples/` creates, by namespace ("" for cluster-scoped ones).
pub const EXAMPLE_OBJECTS: &[(&str, &[&str])] = &[
    ("", &["azureprofile/platform", "azureprofile/team-a"]),
    (
        "platform",
        &[
            "resourcegroup/rg-platform",
            "keyvault/platform-kv",
            "akscluster/prod",
            "federatedidentity/external-dns",
            "roleassignment/external-dns-reader",
            "roleassignment/prod-kubelet-kv-officer",
        ],
    ),
    (
        "team-a",
        &[
            "resourcegroup/rg-team-a",
            "federatedidentity/orders",
            "federatedidentity/exporter",
            "keyvaultbinding/orders-db",
        ],
    ),
];

impl Dev {
    /// Starts `azop dev` (the binary at `azop`) with these extra flags; returns once the
    /// operator runs.
    pub fn start(azop: &str, extra: &[&str]) -> Dev {
        Dev::start_with_env(azop, extra, &[])
    }

    /// [`Dev::start`] with environment variables for the child (`RUST_LOG`, say).
    pub fn start_with_env(azop: &str, extra: &[&str], env: &[(&str, &str)]) -> Dev {
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        let stderr_path = dir.path().join("azop.stderr");
        let mut child = Command::new(azop)
            .args([
                "dev",
                "--kube-listen",
                "127.0.0.1:0",
                "--arm-listen",
                "127.0.0.1:0",
            ])
            .args(["--arm-http-listen", "127.0.0.1:0", "--no-table"])
            .args(["--lro-duration", "500ms", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .args(extra)
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("azop dev starts");
        let lines = read_until(&mut child, "operator: running", &stderr_path);
        let printed = field(&lines, "kubeconfig: ");
        assert_eq!(
            Path::new(printed),
            std::fs::canonicalize(&kubeconfig).expect("kubeconfig written"),
            "azop dev prints the kubeconfig it wrote"
        );
        assert!(field(&lines, "arm-emulator: ").starts_with("https://127.0.0.1:"));
        let arm_http = field(&lines, "arm-emulator-http: ").to_string();
        let cluster_id = field(&lines, "cluster-id: ").to_string();
        Dev {
            child,
            kubectl: Kubectl::new(&kubeconfig),
            arm_http,
            cluster_id,
            printed: lines,
            kubeconfig,
            stderr_path,
            _dir: dir,
        }
    }

    /// Waits (up to `timeout`, kubectl's form: `90s`) until every object of `examples/` is
    /// Ready: both AzureProfiles, the platform's objects and team-a's.
    pub fn wait_examples_ready(&self, timeout: &str) {
        let timeout = format!("--timeout={timeout}");
        for (namespace, objects) in EXAMPLE_OBJECTS {
            let mut args = vec!["wait", "--for=condition=Ready", timeout.as_str()];
            if !namespace.is_empty() {
                args.extend_from_slice(&["-n", namespace]);
            }
            args.extend_from_slice(objects);
            self.kubectl.ok(&args);
        }
    }

    /// A call to the arm-emulator's control API (`/_emulator/...`), which must answer 200.
    pub fn emulator(&self, method: &str, path: &str) -> Value {
        let (status, body) = http(method, &format!("{}{path}", self.arm_http), &[], None);
        assert_eq!(status, 200, "{method} {path}: {body}");
        serde_json::from_str(&body).expect("JSON from /_emulator/")
    }

    /// An ARM request by someone other than azop (a person with the portal, another tool):
    /// the arm-emulator stops checking authorization for it and checks again afterwards.
    pub fn arm_as_someone_else(
        &self,
        method: &str,
        path_and_query: &str,
        body: &Value,
    ) -> (u16, String) {
        let enforce = |on: bool| {
            let (status, answer) = http(
                "POST",
                &format!("{}/_emulator/config", self.arm_http),
                &[],
                Some(&serde_json::json!({"enforceAuthorization": on}).to_string()),
            );
            assert_eq!(status, 200, "{answer}");
        };
        enforce(false);
        let answer = http(
            method,
            &format!("{}{path_and_query}", self.arm_http),
            &[("Authorization", "Bearer someone-else")],
            Some(&body.to_string()),
        );
        enforce(true);
        answer
    }

    /// What the operator logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Every resource the arm-emulator holds.
    pub fn resources(&self) -> Vec<Value> {
        serde_json::from_value(self.emulator("GET", "/_emulator/resources")).expect("a list")
    }

    /// The arm-emulator's request counts.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        serde_json::from_value(self.emulator("GET", "/_emulator/requests/counts")).expect("a map")
    }

    /// Writes YAML into a directory of its own, for `--apply`.
    pub fn yaml_dir(name: &str, yaml: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(format!("{name}.yaml")), yaml).expect("yaml written");
        dir
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Milliseconds since the Unix epoch (the emulators' request logs stamp requests with it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A loopback port free at the time of asking (for a process's metrics endpoint).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
