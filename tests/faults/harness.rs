//! The fault suite's harness: the emulators in this process, `azop run` in its own, the sets
//! of objects, the scenarios and the audit of Azure afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arm_emulator::{ArmEmulator, Fault as ArmFault, FaultKind};
use kube::ResourceExt;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use kube_emulator::KubeEmulator;
use serde_json::{Value, json};

mod bad_input;
pub use bad_input::bad_input;

/// The namespace every set lives in (one of the operator's platform namespaces).
const NS: &str = "faults";
/// The bearer token the operator signs its ARM requests with: a secret the suite looks for
/// afterwards in everything the operator wrote.
const ARM_TOKEN: &str = "faults-arm-token-5ecr3t-5d1c0a77";
/// The vault secret every set's binding syncs into a Secret: a value that belongs in that
/// Secret and nowhere else the operator writes.
const VAULT_SECRET_NAME: &str = "app-secret";
const VAULT_SECRET: &str = "faults-vault-value-5ecr3t-8e11c0de";
const ISSUER: &str = "https://issuer.faults.test/cluster/";
/// The kinds a set holds; deleted in this order's reverse.
const KINDS: [&str; 6] = [
    "ResourceGroup",
    "KeyVault",
    "FederatedIdentity",
    "RoleAssignment",
    "KeyVaultBinding",
    "AksCluster",
];

/// Every azop kind's API resource and whether it is namespaced, from the CRDs azop serves.
fn resource_of(kind: &str) -> (ApiResource, bool) {
    static RESOURCES: std::sync::LazyLock<Vec<(ApiResource, bool)>> =
        std::sync::LazyLock::new(|| {
            azop_api::crds()
                .into_iter()
                .map(|crd| {
                    let gvk = GroupVersionKind::gvk(
                        azop_api::GROUP,
                        azop_api::VERSION,
                        &crd.spec.names.kind,
                    );
                    (
                        ApiResource::from_gvk_with_plural(&gvk, &crd.spec.names.plural),
                        crd.spec.scope == "Namespaced",
                    )
                })
                .collect()
        });
    RESOURCES
        .iter()
        .find(|(ar, _)| ar.kind == kind)
        .cloned()
        .unwrap_or_else(|| panic!("{kind} is not an azop kind"))
}

/// How much a run does.
pub struct Scale {
    kills: usize,
    initial_sets: usize,
    /// Longest pause between two kills.
    max_gap: Duration,
    converge_cap: Duration,
    /// How long a storm of faults lasts.
    storm: Duration,
    /// The Retry-After of a 429 storm.
    retry_after: u64,
    /// How long the API server is gone.
    api_outage: Duration,
    /// Bad objects stored around validation, and as many generated specs admitted.
    malformed: usize,
}

impl Scale {
    pub fn small() -> Self {
        Scale {
            kills: 4,
            initial_sets: 2,
            max_gap: Duration::from_millis(2500),
            converge_cap: Duration::from_secs(120),
            storm: Duration::from_secs(6),
            retry_after: 5,
            api_outage: Duration::from_secs(8),
            malformed: 500,
        }
    }

    pub fn long() -> Self {
        Scale {
            kills: 30,
            initial_sets: 4,
            max_gap: Duration::from_millis(4000),
            converge_cap: Duration::from_secs(300),
            storm: Duration::from_secs(60),
            retry_after: 60,
            api_outage: Duration::from_secs(30),
            malformed: 1000,
        }
    }
}

/// One line of the table.
pub struct Row {
    pub fault: String,
    runs: usize,
    duplicates: usize,
    leaks: usize,
    stuck: usize,
    converge: Duration,
    /// Most ARM requests in one second during the fault, and after it.
    peak_during: usize,
    peak_after: usize,
    /// Requests the fault answered (429, 5xx, reset, lost answer) or operations it failed.
    injected: usize,
    pub problems: Vec<String>,
}

impl Row {
    pub fn header() -> String {
        format!(
            "{:<34} {:>5} {:>9} {:>10} {:>6} {:>6} {:>10} {:>12} {:>11}",
            "fault",
            "runs",
            "injected",
            "duplicates",
            "leaks",
            "stuck",
            "converge",
            "peak req/s",
            "after req/s"
        )
    }

    pub fn line(&self) -> String {
        format!(
            "{:<34} {:>5} {:>9} {:>10} {:>6} {:>6} {:>9.1}s {:>12} {:>11}",
            self.fault,
            self.runs,
            self.injected,
            self.duplicates,
            self.leaks,
            self.stuck,
            self.converge.as_secs_f64(),
            self.peak_during,
            self.peak_after
        )
    }

    pub fn clean(&self) -> bool {
        self.duplicates == 0 && self.leaks == 0 && self.stuck == 0 && self.problems.is_empty()
    }
}

/// The emulators, the operator and what the operator wrote.
pub struct Env {
    name: String,
    kube: KubeEmulator,
    arm: ArmEmulator,
    client: kube::Client,
    dir: tempfile::TempDir,
    operator: Option<Child>,
    /// A second replica, in the leader-election scenario.
    standby: Option<Child>,
    /// Replicas take the `azop-leader` Lease in the suite's namespace.
    leader_election: bool,
    metrics_port: u16,
    started: usize,
    /// The operator's /metrics, read before each stop.
    metrics: Vec<String>,
    /// Sets of objects by index: true while they should exist.
    sets: BTreeMap<usize, bool>,
    /// The tag value each live set's group should carry in Azure (its last update).
    updates: BTreeMap<usize, u64>,
    /// Puts the vault secret into each vault once it exists, as a platform team would.
    seeding: tokio::task::JoinHandle<()>,
}

impl Env {
    pub async fn start(name: &str) -> Env {
        Env::start_with(name, false).await
    }

    /// With `leader_election`, the operator runs as one of two replicas would.
    pub async fn start_with(name: &str, leader_election: bool) -> Env {
        let kube = KubeEmulator::start(kube_emulator::Config::default())
            .await
            .expect("kube-emulator");
        // Entra trusts the kube-emulator's CA: a binding's sync exchanges its identity's
        // ServiceAccount token for a Key Vault token.
        let arm = ArmEmulator::start(arm_emulator::Config {
            lro_duration: Duration::from_secs(2),
            trusted_ca_pems: vec![kube.ca_pem().to_string()],
            ..Default::default()
        })
        .await
        .expect("arm-emulator");
        let client = kube.client().await.expect("client");
        azop_e2e::apply_crds(&client, "faults").await;
        let dir = tempfile::tempdir().expect("temp dir");
        kube.write_kubeconfig(&dir.path().join("kubeconfig"))
            .expect("kubeconfig");
        std::fs::write(dir.path().join("arm-ca.pem"), arm.ca_pem()).expect("CA");
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        namespaces
            .patch(
                NS,
                &PatchParams::apply("faults").force(),
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": NS, "labels": {"faults": "yes"}}})),
            )
            .await
            .expect("namespace");
        let metrics_port = azop_e2e::free_port();
        let seeding = tokio::spawn(seed_vault_secrets(arm.control()));
        let mut env = Env {
            name: name.to_string(),
            kube,
            arm,
            client,
            dir,
            operator: None,
            standby: None,
            leader_election,
            metrics_port,
            started: 0,
            metrics: Vec::new(),
            sets: BTreeMap::new(),
            updates: BTreeMap::new(),
            seeding,
        };
        env.start_operator();
        env
    }

    fn start_operator(&mut self) {
        let child = self.spawn_operator(self.metrics_port);
        self.operator = Some(child);
    }

    /// `azop run`, named `{scenario}-{n}` (its log file and, with leader election, its
    /// identity in the Lease).
    fn spawn_operator(&mut self, metrics_port: u16) -> Child {
        self.started += 1;
        let pod = format!("{}-{}", self.name, self.started);
        let log = self.dir.path().join(format!("{pod}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_azop"));
        cmd.arg("run");
        if self.leader_election {
            cmd.args(["--leader-election", "--lease-namespace", NS]);
        }
        cmd.env("POD_NAME", &pod);
        cmd.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .args(["--arm-endpoint", &self.arm.url(), "--arm-ca-file"])
            .arg(self.dir.path().join("arm-ca.pem"))
            .args(["--credential", "static-token", "--platform-namespace", NS])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .args(["--cluster-id", "faults", "--sync-period", "30s"])
            .args(["--issuer-url", &self.kube.issuer_url()])
            .args(["--authority-host", &self.arm.url()])
            .env("AZOP_ARM_TOKEN", ARM_TOKEN)
            .env(
                "RUST_LOG",
                "debug,hyper=info,h2=info,rustls=info,tower=info",
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("azop run starts")
    }

    /// SIGKILL, as the kernel's OOM killer or a node loss would.
    fn kill_operator(&mut self) {
        if let Some(mut c) = self.operator.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn read_metrics(&mut self) {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        if let Ok(text) = tokio::task::spawn_blocking(move || http_get(&url)).await
            && let Some(text) = text
        {
            self.metrics.push(text);
        }
    }

    pub fn stop(&mut self) {
        self.seeding.abort();
        for mut c in [self.operator.take(), self.standby.take()]
            .into_iter()
            .flatten()
        {
            azop_e2e::terminate(&mut c);
        }
    }

    /// The objects of an azop kind: in the suite's namespace, or cluster-wide for a
    /// cluster-scoped kind.
    fn api(&self, kind: &str) -> Api<DynamicObject> {
        match resource_of(kind) {
            (ar, true) => Api::namespaced_with(self.client.clone(), NS, &ar),
            (ar, false) => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// The sets that should exist.
    fn live_sets(&self) -> Vec<usize> {
        self.sets
            .iter()
            .filter(|(_, live)| **live)
            .map(|(i, _)| *i)
            .collect()
    }

    /// The index of a set never made yet.
    fn next_set(&self) -> usize {
        self.sets.keys().next_back().map_or(0, |i| i + 1)
    }

    /// Creates set `i` (or applies it again): one object of every kind.
    async fn apply_set(&mut self, i: usize) {
        for o in set_objects(i, self.updates.get(&i).copied().unwrap_or(0)) {
            let kind = o["kind"].as_str().expect("kind").to_string();
            let name = o["metadata"]["name"].as_str().expect("name").to_string();
            self.api(&kind)
                .patch(
                    &name,
                    &PatchParams::apply("faults").force(),
                    &Patch::Apply(&o),
                )
                .await
                .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
        }
        self.sets.insert(i, true);
    }

    /// An update azop must carry to Azure: a new tag on the set's group.
    async fn update_set(&mut self, i: usize, value: u64) {
        self.updates.insert(i, value);
        self.apply_set(i).await;
    }

    async fn delete_set(&mut self, i: usize) {
        for kind in KINDS.iter().rev() {
            let name = object_name(kind, i);
            match self.api(kind).delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => panic!("deleting {kind} {name}: {e}"),
            }
        }
        self.sets.insert(i, false);
        self.updates.remove(&i);
    }

    /// What is not where it should be in Kubernetes: objects of live sets not Ready for their
    /// generation, objects of deleted sets still there.
    async fn unconverged(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, live) in &self.sets {
            for kind in KINDS {
                let name = object_name(kind, *i);
                let got = self.api(kind).get_opt(&name).await.ok().flatten();
                match (live, got) {
                    (true, Some(o)) if ready(&o) => {}
                    (true, Some(o)) => out.push(format!("{kind} {name}: {}", ready_text(&o))),
                    (true, None) => out.push(format!("{kind} {name}: missing")),
                    (false, Some(_)) => out.push(format!("{kind} {name}: not gone")),
                    (false, None) => {}
                }
            }
        }
        out
    }

    /// Waits until everything converged (and Azure holds what it should); the time it took,
    /// or what was still wrong at the cap.
    async fn converge(&self, cap: Duration) -> Result<Duration, Vec<String>> {
        let start = Instant::now();
        loop {
            let mut wrong = self.unconverged().await;
            if wrong.is_empty() {
                let audit = self.audit();
                wrong.extend(audit.missing);
                for (i, v) in &self.updates {
                    let id = format!("rg-flt-{i}");
                    let tag = self
                        .arm
                        .control()
                        .resources()
                        .into_iter()
                        .find(|r| id_of(r).ends_with(&format!("/resourcegroups/{id}")))
                        .and_then(|r| r["tags"]["round"].as_str().map(str::to_string));
                    if tag.as_deref() != Some(v.to_string().as_str()) {
                        wrong.push(format!("group {id} has tag round {tag:?}, want {v}"));
                    }
                }
                if wrong.is_empty() {
                    return Ok(start.elapsed());
                }
            }
            if start.elapsed() > cap {
                return Err(wrong);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Azure's resources against the sets: duplicates under live sets, anything under deleted
    /// ones, what live sets lack.
    fn audit(&self) -> Audit {
        let resources = self.arm.control().resources();
        let mut audit = Audit::default();
        for (i, live) in &self.sets {
            let mine: Vec<&Value> = resources.iter().filter(|r| in_set(r, *i)).collect();
            if !live {
                for r in &mine {
                    audit.leaks.push(id_of(r));
                }
                continue;
            }
            let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
            // (The group AKS made for its nodes is AKS's: counted only as a leak.)
            for r in mine
                .iter()
                .filter(|r| !id_of(r).contains("/resourcegroups/mc_"))
            {
                if let Some(t) = category(&id_of(r)) {
                    *by_type.entry(t).or_default() += 1;
                }
            }
            for (t, want) in EXPECTED {
                let got = by_type.get(t).copied().unwrap_or(0);
                if got > want {
                    audit
                        .duplicates
                        .push(format!("set {i}: {got} {t}, want {want}"));
                } else if got < want {
                    audit
                        .missing
                        .push(format!("set {i}: {got} {t}, want {want}"));
                }
            }
            // The same role for the same principal at the same scope twice is a duplicate
            // whatever the assignments' names.
            let mut seen = BTreeSet::new();
            for r in mine
                .iter()
                .filter(|r| category(&id_of(r)) == Some("role assignment"))
            {
                let p = &r["properties"];
                let key = (
                    p["scope"].as_str().unwrap_or_default().to_ascii_lowercase(),
                    p["principalId"].as_str().unwrap_or_default().to_string(),
                    p["roleDefinitionId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase(),
                );
                if !seen.insert(key.clone()) {
                    audit
                        .duplicates
                        .push(format!("set {i}: role assignment {key:?} twice"));
                }
            }
        }
        audit
    }

    /// Every secret value the suite used, looked for in the operator's logs, the Events, the
    /// statuses and the metrics: where each was found.
    pub async fn secrets_found(&mut self) -> Vec<String> {
        self.read_metrics().await;
        // The operator's ARM token and Kubernetes token, the vault secret its bindings sync,
        // every ServiceAccount token the API server issued (the bindings' identities', for
        // the token exchange) and every access token Entra issued (their Key Vault tokens).
        let mut secrets = vec![
            ARM_TOKEN.to_string(),
            self.kube.admin_token().to_string(),
            VAULT_SECRET.to_string(),
        ];
        secrets.extend(self.kube.issued_tokens());
        secrets.extend(self.arm.control().issued_tokens());
        let mut found = Vec::new();
        // The value is where it belongs, so the search below is not an empty one: in the
        // Secret of every live set's binding.
        let secrets_api: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(self.client.clone(), NS);
        for i in self.live_sets() {
            let held = secrets_api
                .get_opt(&synced_secret(i))
                .await
                .ok()
                .flatten()
                .and_then(|s| s.data)
                .and_then(|d| d.get("value").cloned())
                .is_some_and(|v| v.0 == VAULT_SECRET.as_bytes());
            if !held {
                found.push(format!(
                    "{}: Secret {} does not hold the vault secret (nothing was synced)",
                    self.name,
                    synced_secret(i)
                ));
            }
        }
        let mut look = |what: String, text: &str| {
            for s in &secrets {
                if text.contains(s.as_str()) {
                    found.push(format!("{}: {what}", self.name));
                }
            }
        };
        for entry in std::fs::read_dir(self.dir.path()).expect("dir").flatten() {
            if entry.path().extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                look(format!("log {}", entry.path().display()), &text);
            }
        }
        for (i, m) in self.metrics.iter().enumerate() {
            look(format!("metrics read {i}"), m);
        }
        let events: Api<k8s_openapi::api::events::v1::Event> = Api::all(self.client.clone());
        let core: Api<k8s_openapi::api::core::v1::Event> = Api::all(self.client.clone());
        for (name, json) in listed(events).await.into_iter().chain(listed(core).await) {
            look(format!("Event {name}"), &json);
        }
        for kind in KINDS {
            for (name, json) in listed(self.api(kind)).await {
                look(format!("{kind} {name}"), &json);
            }
        }
        found
    }

    /// The log of the operator's `n`th start, for a failure's message.
    fn log_tail(&self) -> String {
        let path: PathBuf = self
            .dir
            .path()
            .join(format!("{}-{}.log", self.name, self.started));
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(r#""level":"WARN""#) || l.contains(r#""level":"ERROR""#))
            .collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
}

/// Every object `api` lists, by name, as JSON.
async fn listed<K>(api: Api<K>) -> Vec<(String, String)>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize,
{
    api.list(&Default::default())
        .await
        .map(|list| {
            list.into_iter()
                .map(|o| (o.name_any(), serde_json::to_string(&o).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Default)]
struct Audit {
    duplicates: Vec<String>,
    leaks: Vec<String>,
    missing: Vec<String>,
}

/// What one live set holds in Azure.
const EXPECTED: [(&str, usize); 6] = [
    ("resource group", 1),
    ("vault", 1),
    ("identity", 1),
    // The identity's own, and the one azop adds for its own issuer to sync as the binding's
    // identity.
    ("federated credential", 2),
    // The RoleAssignment's and the binding's.
    ("role assignment", 2),
    ("cluster", 1),
];

fn category(id: &str) -> Option<&'static str> {
    let id = id.to_ascii_lowercase();
    let segments: Vec<&str> = id.trim_start_matches('/').split('/').collect();
    let last_type = segments
        .len()
        .checked_sub(2)
        .and_then(|i| segments.get(i))
        .copied()
        .unwrap_or_default();
    Some(match last_type {
        "resourcegroups" => "resource group",
        "vaults" => "vault",
        "userassignedidentities" => "identity",
        "federatedidentitycredentials" => "federated credential",
        "roleassignments" => "role assignment",
        "managedclusters" => "cluster",
        _ => return None,
    })
}

fn id_of(r: &Value) -> String {
    r["id"].as_str().unwrap_or_default().to_ascii_lowercase()
}

/// Whether a resource belongs to set `i`: inside its group (or the group itself), or the
/// group AKS made for its nodes.
fn in_set(r: &Value, i: usize) -> bool {
    let id = id_of(r);
    let group = format!("/resourcegroups/rg-flt-{i}");
    id.ends_with(&group)
        || id.contains(&format!("{group}/"))
        || id.contains(&format!("/resourcegroups/mc_rg-flt-{i}_"))
}

fn object_name(kind: &str, i: usize) -> String {
    match kind {
        "ResourceGroup" => format!("rg-flt-{i}"),
        "KeyVault" => format!("kv-flt-{i}"),
        "FederatedIdentity" => format!("id-flt-{i}"),
        "RoleAssignment" => format!("ra-flt-{i}"),
        "KeyVaultBinding" => format!("kvb-flt-{i}"),
        _ => format!("aks-flt-{i}"),
    }
}

/// The Secret set `i`'s binding syncs the vault secret into.
fn synced_secret(i: usize) -> String {
    format!("kvb-flt-{i}-synced")
}

/// Sets the vault secret in every vault as soon as it exists in Azure (once per vault).
async fn seed_vault_secrets(control: arm_emulator::Control) {
    let mut seeded = BTreeSet::new();
    loop {
        for r in control.resources() {
            let vault = r["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.KeyVault/vaults"));
            let Some(name) = r["name"].as_str().filter(|_| vault) else {
                continue;
            };
            if !seeded.contains(name)
                && control
                    .set_secret(name, VAULT_SECRET_NAME, VAULT_SECRET)
                    .is_some()
            {
                seeded.insert(name.to_string());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn set_objects(i: usize, round: u64) -> Vec<Value> {
    let o = |kind: &str, spec: Value| {
        json!({"apiVersion": format!("{}/{}", azop_api::GROUP, azop_api::VERSION), "kind": kind,
            "metadata": {"name": object_name(kind, i), "namespace": NS}, "spec": spec})
    };
    let rg = object_name("ResourceGroup", i);
    let mut tags = json!({"suite": "faults"});
    if round > 0 {
        tags["round"] = json!(round.to_string());
    }
    vec![
        o(
            "ResourceGroup",
            json!({"location": "westeurope", "tags": tags}),
        ),
        o(
            "KeyVault",
            json!({"location": "westeurope", "resourceGroupRef": {"name": rg},
                "bindingPolicy": {"namespaceSelector": {"matchLabels": {"faults": "yes"}},
                    "allowedRoles": ["SecretsUser"]}}),
        ),
        o(
            "FederatedIdentity",
            json!({"location": "westeurope", "resourceGroupRef": {"name": rg}, "issuer": {"url": ISSUER},
                "serviceAccount": {"name": format!("sa-flt-{i}"), "create": true}}),
        ),
        o(
            "RoleAssignment",
            json!({"principal": {"federatedIdentity": {"name": object_name("FederatedIdentity", i)}},
                "role": "Reader", "scope": {"resourceGroupRef": {"name": rg}}}),
        ),
        o(
            "KeyVaultBinding",
            json!({"vaultRef": {"name": object_name("KeyVault", i)},
                "identityRef": {"name": object_name("FederatedIdentity", i)}, "role": "SecretsUser",
                "sync": {"secretName": synced_secret(i), "refreshInterval": "1h",
                    "items": [{"key": "value", "vaultSecret": VAULT_SECRET_NAME}]}}),
        ),
        o(
            "AksCluster",
            json!({"location": "westeurope", "resourceGroupRef": {"name": rg},
                "kubernetesVersion": "1.31", "dnsPrefix": format!("aks-flt-{i}"),
                "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5", "count": 1}]}),
        ),
    ]
}

fn ready(o: &DynamicObject) -> bool {
    let status = &o.data["status"];
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    let Some(r) = conditions.iter().find(|c| c["type"] == "Ready") else {
        return false;
    };
    let observed = status["observedGeneration"]
        .as_i64()
        .or_else(|| r["observedGeneration"].as_i64());
    r["status"] == "True" && observed == o.metadata.generation
}

fn ready_text(o: &DynamicObject) -> String {
    let conditions = o.data["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    conditions
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| format!("{} {}: {}", c["status"], c["reason"], c["message"]))
        .unwrap_or_else(|| "no Ready condition".into())
}

/// A plain HTTP GET on loopback (the metrics endpoint): the body, if it answered 200.
fn http_get(url: &str) -> Option<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/')?;
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.starts_with("HTTP/1.1 200")
        .then(|| text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()))
        .flatten()
}

/// ARM requests per second between two instants of the request log: the busiest second.
fn peak_rate(env: &Env, from_ms: u64, to_ms: u64) -> usize {
    let mut per_second: BTreeMap<u64, usize> = BTreeMap::new();
    for r in env.arm.control().request_log() {
        if r.at_ms >= from_ms && r.at_ms < to_ms {
            *per_second.entry(r.at_ms / 1000).or_default() += 1;
        }
    }
    per_second.values().copied().max().unwrap_or(0)
}

fn finish(env: &Env, fault: String, runs: usize, converged: Result<Duration, Vec<String>>) -> Row {
    let audit = env.audit();
    let mut problems = Vec::new();
    let (converge, stuck) = match converged {
        Ok(d) => (d, 0),
        Err(wrong) => {
            problems.push(format!(
                "not converged: {}\n  operator's last warnings:\n{}",
                wrong.join("; "),
                env.log_tail()
            ));
            (Duration::ZERO, wrong.len())
        }
    };
    problems.extend(audit.duplicates.iter().cloned());
    problems.extend(audit.leaks.iter().map(|l| format!("leak: {l}")));
    Row {
        fault,
        runs,
        duplicates: audit.duplicates.len(),
        leaks: audit.leaks.len(),
        stuck,
        converge,
        peak_during: 0,
        peak_after: 0,
        injected: 0,
        problems,
    }
}

/// Crash anywhere: SIGKILL at seeded random points while sets are created, updated and
/// deleted; started again each time.
pub async fn crash(env: &mut Env, scale: &Scale, seed: u64) -> Row {
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..scale.initial_sets {
        env.apply_set(env.next_set()).await;
    }
    let from = azop_e2e::now_ms();
    for round in 1..=scale.kills as u64 {
        // One or two changes, then the kill somewhere in what they cause.
        for _ in 0..rng.usize(1..=2) {
            let live = env.live_sets();
            match rng.u8(0..10) {
                0..=3 => env.apply_set(env.next_set()).await,
                4..=6 if !live.is_empty() => {
                    let i = live[rng.usize(0..live.len())];
                    env.update_set(i, round).await;
                }
                _ if live.len() > 1 => {
                    let i = live[rng.usize(0..live.len())];
                    env.delete_set(i).await;
                }
                _ => env.apply_set(env.next_set()).await,
            }
        }
        let gap = rng.u64(100..=scale.max_gap.as_millis() as u64);
        tokio::time::sleep(Duration::from_millis(gap)).await;
        if rng.bool() {
            env.read_metrics().await;
        }
        env.kill_operator();
        tokio::time::sleep(Duration::from_millis(rng.u64(0..300))).await;
        env.start_operator();
    }
    let converged = env.converge(scale.converge_cap).await;
    let mut row = finish(
        env,
        format!("SIGKILL ({} sets)", env.sets.len()),
        scale.kills,
        converged,
    );
    row.peak_during = peak_rate(env, from, azop_e2e::now_ms());
    row.injected = scale.kills;
    row
}

/// A write of a set's whose answer Azure holds while the operator is SIGKILLed: done in Azure,
/// never heard of by the operator, so never recorded in status. With `delete_while_down`, the
/// set is deleted before the operator starts again (its objects carry no record of it).
struct Aim {
    what: &'static str,
    method: &'static str,
    /// A path pattern; `{rg}` stands for the set's group.
    pattern: &'static str,
    delete_while_down: bool,
}

const AIMS: [Aim; 7] = [
    Aim {
        what: "group PUT",
        method: "PUT",
        pattern: "/resourceGroups/{rg}$",
        delete_while_down: true,
    },
    Aim {
        what: "vault PUT",
        method: "PUT",
        pattern: "/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/[^/]+$",
        delete_while_down: false,
    },
    Aim {
        what: "identity PUT",
        method: "PUT",
        pattern: "/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/[^/]+$",
        delete_while_down: true,
    },
    Aim {
        what: "federated credential PUT",
        method: "PUT",
        pattern: "/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/[^/]+/federatedIdentityCredentials/[^/]+$",
        delete_while_down: false,
    },
    Aim {
        what: "role assignment PUT",
        method: "PUT",
        pattern: "/resourceGroups/{rg}/.*providers/Microsoft.Authorization/roleAssignments/[^/]+$",
        delete_while_down: false,
    },
    Aim {
        what: "cluster PUT",
        method: "PUT",
        pattern: "/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/[^/]+$",
        delete_while_down: true,
    },
    Aim {
        what: "group DELETE",
        method: "DELETE",
        pattern: "/resourceGroups/{rg}$",
        delete_while_down: false,
    },
];

/// Crash at chosen moments: for each of [`AIMS`], the operator is SIGKILLed while Azure holds
/// the answer to that write, then started again; every object converges and the audit finds
/// no duplicate and no leak after each.
pub async fn aimed(env: &mut Env, scale: &Scale) -> Row {
    let from = azop_e2e::now_ms();
    let mut worst = Duration::ZERO;
    let mut problems = Vec::new();
    let (mut duplicates, mut leaks, mut stuck) = (0, 0, 0);
    for aim in &AIMS {
        // A DELETE is aimed at a set made (and converged) before; a PUT at a new one.
        let i = env.next_set();
        if aim.method == "DELETE" {
            env.apply_set(i).await;
            if let Err(wrong) = env.converge(scale.converge_cap).await {
                problems.push(format!("{}: set {i} never converged: {wrong:?}", aim.what));
                continue;
            }
        }
        let pattern = aim.pattern.replace("{rg}", &format!("rg-flt-{i}"));
        env.arm
            .control()
            .inject_fault(ArmFault {
                path_pattern: pattern.clone(),
                method: Some(aim.method.into()),
                kind: FaultKind::HoldAnswer { millis: 20_000 },
                count: Some(1),
                probability: None,
            })
            .expect("fault");
        if aim.method == "DELETE" {
            env.delete_set(i).await;
        } else {
            env.apply_set(i).await;
        }
        let waiting = Instant::now();
        let pending = |env: &Env| {
            env.arm
                .control()
                .faults()
                .iter()
                .any(|f| f.path_pattern == pattern)
        };
        while pending(env) && waiting.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if pending(env) {
            env.arm.control().clear_faults();
            problems.push(format!("{}: the request never came", aim.what));
            continue;
        }
        // The write is done in Azure as the fault is taken; its answer is 20 s away.
        tokio::time::sleep(Duration::from_millis(100)).await;
        env.kill_operator();
        if aim.delete_while_down {
            env.delete_set(i).await;
        }
        env.start_operator();
        let converged = env.converge(scale.converge_cap).await;
        let row = finish(env, aim.what.to_string(), 1, converged);
        worst = worst.max(row.converge);
        duplicates += row.duplicates;
        leaks += row.leaks;
        stuck += row.stuck;
        problems.extend(row.problems.into_iter().map(|p| {
            format!(
                "{}{}: {p}",
                aim.what,
                if aim.delete_while_down {
                    " (set deleted while down)"
                } else {
                    ""
                }
            )
        }));
    }
    Row {
        fault: format!("SIGKILL, answer held ({} writes)", AIMS.len()),
        runs: AIMS.len(),
        duplicates,
        leaks,
        stuck,
        converge: worst,
        peak_during: peak_rate(env, from, azop_e2e::now_ms()),
        peak_after: 0,
        injected: AIMS.len(),
        problems,
    }
}

/// A way Azure misbehaves.
pub struct Fault {
    name: String,
    /// Faults injected for the storm's length (the set's own paths), cleared after it.
    storm: Vec<ArmFault>,
}

impl Fault {
    pub fn all(scale: &Scale) -> Vec<Fault> {
        let any = |kind: FaultKind, probability: Option<f64>, method: Option<&str>| ArmFault {
            path_pattern: "/subscriptions/".into(),
            method: method.map(str::to_string),
            kind,
            count: None,
            probability,
        };
        vec![
            Fault {
                name: format!("429 storm, Retry-After {} s", scale.retry_after),
                storm: vec![any(
                    FaultKind::Status {
                        status: 429,
                        code: None,
                        retry_after: Some(scale.retry_after),
                    },
                    None,
                    None,
                )],
            },
            Fault {
                name: "500/503 bursts".into(),
                storm: vec![
                    any(
                        FaultKind::Status {
                            status: 503,
                            code: None,
                            retry_after: None,
                        },
                        Some(0.4),
                        None,
                    ),
                    any(
                        FaultKind::Status {
                            status: 500,
                            code: None,
                            retry_after: None,
                        },
                        Some(0.4),
                        None,
                    ),
                ],
            },
            Fault {
                name: "connections reset mid-answer".into(),
                storm: vec![any(FaultKind::Reset, Some(0.4), None)],
            },
            Fault {
                name: "latency spikes (3 s)".into(),
                storm: vec![any(FaultKind::Latency { millis: 3000 }, Some(0.3), None)],
            },
            Fault {
                name: "operation ends Failed".into(),
                storm: vec![ArmFault {
                    path_pattern: "/managedClusters/[^/]+$".into(),
                    method: Some("PUT".into()),
                    kind: FaultKind::FailOperation {
                        code: "InternalOperationError".into(),
                    },
                    count: Some(1),
                    probability: None,
                }],
            },
            Fault {
                name: "PUT succeeds, answer lost".into(),
                storm: vec![any(FaultKind::LoseAnswer, Some(0.5), Some("PUT"))],
            },
        ]
    }
}

/// One way Azure misbehaves while a new set is created (and an old one deleted): the storm
/// for its length, then calm; convergence, duplicates, leaks and request rates.
pub async fn azure_fault(env: &mut Env, scale: &Scale, seed: u64, fault: &Fault) -> Row {
    let mut rng = fastrand::Rng::with_seed(seed ^ fault.name.len() as u64);
    let control = env.arm.control();
    let next = env.next_set();
    let from = azop_e2e::now_ms();
    let hits = || control.fault_hits().values().sum::<usize>();
    let hits_before = hits();
    for f in &fault.storm {
        control.inject_fault(f.clone()).expect("fault pattern");
    }
    env.apply_set(next).await;
    let live: Vec<usize> = env.live_sets().into_iter().filter(|i| *i != next).collect();
    if !live.is_empty() && rng.bool() {
        env.delete_set(live[rng.usize(0..live.len())]).await;
    }
    tokio::time::sleep(scale.storm).await;
    control.clear_faults();
    let calm = azop_e2e::now_ms();
    let converged = env.converge(scale.converge_cap).await;
    let mut row = finish(env, fault.name.clone(), 1, converged);
    row.peak_during = peak_rate(env, from, calm);
    // The requests the storm's faults hit, as the emulator counts them (a latency spike
    // answers as usual, only later: the request log cannot tell it).
    row.injected = hits() - hits_before;
    if fault.name.contains("Failed") {
        // The failed create, then the PUT that reconciled the Failed cluster.
        row.injected = control
            .request_log()
            .iter()
            .filter(|r| r.at_ms >= from && r.method == "PUT")
            .filter(|r| r.path.to_ascii_lowercase().contains("/managedclusters/"))
            .count()
            .saturating_sub(1);
    }
    if row.injected == 0 {
        row.problems.push("the fault never hit a request".into());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    row.peak_after = peak_rate(env, calm, azop_e2e::now_ms());
    row
}

/// A way the Kubernetes API misbehaves.
#[derive(Clone, Copy)]
pub enum KubeFault {
    /// Every watch stream cut and the history compacted (410 Gone on resumption) while sets
    /// are created, updated and deleted: each change made during the cut is reconciled.
    WatchCutAndGone,
    /// Status writes answered 409 Conflict.
    StatusConflicts,
    /// The API server answers nothing but 503 for a while, then comes back.
    ApiServerGone,
}

impl KubeFault {
    pub fn all() -> [KubeFault; 3] {
        [
            KubeFault::WatchCutAndGone,
            KubeFault::StatusConflicts,
            KubeFault::ApiServerGone,
        ]
    }
}

/// One way Kubernetes misbehaves while sets change; then convergence and the audit.
pub async fn kube_fault(env: &mut Env, scale: &Scale, seed: u64, fault: KubeFault) -> Row {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x6b75_6265);
    let faults = env.kube.faults();
    let next = env.next_set();
    let live = env.live_sets();
    let from = azop_e2e::now_ms();
    let name = match fault {
        KubeFault::WatchCutAndGone => {
            // Changes the operator's watches cannot see as they happen: made between the cut
            // and its next watch, which finds its resourceVersion compacted away.
            for _ in 0..3 {
                faults.cut_watches();
                faults.compact();
                env.apply_set(next).await;
                if let Some(i) = live.first() {
                    env.update_set(*i, 1000 + rng.u64(0..1000)).await;
                }
                faults.cut_watches();
                faults.compact();
                tokio::time::sleep(Duration::from_millis(rng.u64(50..500))).await;
            }
            if live.len() > 1 {
                env.delete_set(live[live.len() - 1]).await;
                faults.cut_watches();
                faults.compact();
            }
            "watches cut, 410 Gone".to_string()
        }
        KubeFault::StatusConflicts => {
            faults.conflict_status_writes(25);
            env.apply_set(next).await;
            "409 Conflict on status writes (25)".to_string()
        }
        KubeFault::ApiServerGone => {
            env.apply_set(next).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            faults.set_unavailable(true);
            tokio::time::sleep(scale.api_outage).await;
            faults.set_unavailable(false);
            // Made right after it came back, before the operator's watches are up again.
            if let Some(i) = live.first() {
                env.update_set(*i, 2000 + rng.u64(0..1000)).await;
            }
            format!("API server gone {} s", scale.api_outage.as_secs())
        }
    };
    let calm = azop_e2e::now_ms();
    let converged = env.converge(scale.converge_cap).await;
    let mut problems = Vec::new();
    // The operator kept running through it.
    if let Some(c) = env.operator.as_mut()
        && let Ok(Some(status)) = c.try_wait()
    {
        problems.push(format!("the operator exited: {status}"));
    }
    let mut row = finish(env, name, 1, converged);
    row.problems.extend(problems);
    row.injected = 1;
    row.peak_during = peak_rate(env, from, calm.max(from + 1));
    tokio::time::sleep(Duration::from_secs(3)).await;
    row.peak_after = peak_rate(env, calm, azop_e2e::now_ms());
    row
}

/// The leader Lease's spec, if it exists.
async fn lease(env: &Env) -> Option<k8s_openapi::api::coordination::v1::LeaseSpec> {
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(env.client.clone(), NS);
    leases.get_opt("azop-leader").await.ok().flatten()?.spec
}

/// The Lease's holder, if any.
async fn lease_holder(env: &Env) -> Option<String> {
    lease(env).await?.holder_identity
}

/// Two replicas with leader election: the leader is SIGKILLed mid-create, the standby takes
/// over within the Lease's duration, and no Azure write happens twice.
pub async fn leader_failover(env: &mut Env, scale: &Scale, seed: u64) -> Row {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x1ead);
    let mut problems = Vec::new();
    let start = Instant::now();
    let first = loop {
        if let Some(h) = lease_holder(env).await {
            break h;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no leader after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let port = azop_e2e::free_port();
    let standby = env.spawn_operator(port);
    env.standby = Some(standby);
    let from = azop_e2e::now_ms();
    let next = env.next_set();
    env.apply_set(next).await;
    tokio::time::sleep(Duration::from_millis(rng.u64(200..1500))).await;
    env.kill_operator();
    let killed = Instant::now();
    let takeover = loop {
        match lease_holder(env).await {
            Some(h) if h != first => break killed.elapsed(),
            _ => {}
        }
        if killed.elapsed() > Duration::from_secs(90) {
            problems.push("the standby did not take the Lease within 90 s".to_string());
            break killed.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The standby leads now: it is the operator of the rest of the run.
    env.operator = env.standby.take();
    env.apply_set(next + 1).await;
    let converged = env.converge(scale.converge_cap).await;
    // Every resource was created once: no id PUT twice (the sets are never updated here).
    let mut puts: BTreeMap<String, usize> = BTreeMap::new();
    for r in env.arm.control().request_log() {
        if r.at_ms >= from && r.method == "PUT" && (200..300).contains(&r.status) {
            *puts.entry(r.path.to_ascii_lowercase()).or_default() += 1;
        }
    }
    let twice: Vec<&String> = puts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(p, _)| p)
        .collect();
    let mut row = finish(
        env,
        "leader SIGKILLed, standby takes over".into(),
        1,
        converged,
    );
    row.duplicates += twice.len();
    row.problems
        .extend(twice.iter().map(|p| format!("written twice: {p}")));
    row.problems.extend(problems);
    row.injected = 1;
    row.peak_during = peak_rate(env, from, azop_e2e::now_ms());
    let duration = lease(env)
        .await
        .and_then(|l| l.lease_duration_seconds)
        .unwrap_or_default();
    println!(
        "  leader failover: the standby led {:.1} s after the leader was killed (Lease duration {duration} s)",
        takeover.as_secs_f64()
    );
    if takeover > Duration::from_secs(u64::try_from(duration).unwrap_or(0) + 10) {
        row.problems.push(format!(
            "takeover took {takeover:?}, the Lease lasts {duration} s"
        ));
    }
    row
}
