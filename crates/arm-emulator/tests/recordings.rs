//! Replays real recorded exchanges with Azure (go-vcr cassettes from Azure Service Operator's
//! tests, in ../shared/arm-recordings, read at test time) against a fresh emulator: for each
//! recorded exchange of a kind the emulator serves, the emulator's answer to the same request
//! (ids rewritten to this test's subscription) has the recorded status code, the recorded ARM
//! headers (Azure-AsyncOperation, Location, Retry-After) where the recording has them, and the
//! recorded body's field names.
//!
//! What the replay does besides sending the recorded requests, and why:
//! - Hosts and subscription ids are rewritten to the emulator and [`SUB`].
//! - Values Azure generated and later requests refer to are learned from the pair of answers
//!   and rewritten in later requests: operation URLs from `Azure-AsyncOperation`/`Location`
//!   (operation ids differ), and `principalId`/`clientId`/`objectId` (a role assignment names
//!   the principal the identity PUT returned).
//! - Preconditions the recording shows rather than performs are set up first: a resource whose
//!   first recorded exchange is a GET or PUT answered 200 existed before the recording started
//!   (it is created by PUTting the recorded body and waiting for it to settle), and a
//!   `deletedVaults` GET answered 200 means a soft-deleted vault of that name existed (a vault is
//!   created in a scratch group and deleted).
//!
//! Relaxations, each because Azure's timing cannot be reproduced exactly:
//! - Operation polls: a recorded poll that is still running must be answered with the recorded
//!   status code and a non-terminal state (the recorded intermediate status text, such as AKS's
//!   `ProvisioningControlPlane`, is not compared); a recorded poll that is terminal is repeated,
//!   as the recorded client did after Retry-After, until the emulator's operation ends (within
//!   [`PATIENCE`]), and must then have the recorded status code and terminal state. The number
//!   of extra polls is printed.
//! - A recorded success after recorded `PrincipalNotFound` answers to the same URL is retried,
//!   as the recorded client retried, while the emulator still answers `PrincipalNotFound`.
//! - Header values are not compared (URLs and Retry-After seconds differ by design); that the
//!   header is present is, and that `Azure-AsyncOperation`/`Location` URLs are absolute
//!   emulator URLs where Azure's were absolute.
//! - Field names are compared one way: every field the recording has must be in the emulator's
//!   answer (recursively; for arrays, the first element). Extra emulator fields are allowed,
//!   since the recordings use several api-versions. Fields in [`IGNORED`] are left out, each
//!   with its reason.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use arm_emulator::{ArmEmulator, Config};
use serde_json::{Value, json};

/// The subscription the replay uses in place of the recorded one.
const SUB: &str = "5f3a8c2e-0b1d-4e6f-9a7c-3d2e1f0a9b8c";
const RECORDED_SUB: &str = "00000000-0000-0000-0000-000000000000";
/// How long the emulator's operations run and fresh principals stay unknown: long enough that
/// back-to-back polls see them running, short enough that the replay stays quick.
const LRO: Duration = Duration::from_millis(1500);
/// How long the replay waits for an operation or a principal at most.
const PATIENCE: Duration = Duration::from_secs(20);

/// Recorded fields the emulator leaves out on purpose: (JSON path as the failure message prints
/// it, reason). Paths use `.` between keys and `[0]` for an array's first element.
const IGNORED: &[(&str, &str)] = &[
    (
        "properties.addonProfiles.azurepolicy",
        "added by an Azure Policy assignment in the recording's subscription, not by the request",
    ),
    (
        "error",
        "on AKS operation status while InProgress/Succeeded: NotLatestOperation, a transient AKS \
         goal-state save failure the emulator does not model (checked only on non-Failed polls)",
    ),
];

fn recordings_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/arm-recordings/aso")
}

/// One recorded exchange.
#[derive(Debug, Clone)]
struct Exchange {
    method: String,
    url: String,
    request_body: String,
    status: u16,
    /// Lower-cased header name -> first value.
    headers: HashMap<String, String>,
    body: Option<Value>,
}

fn load(name: &str) -> Vec<Exchange> {
    let path = recordings_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the recording {}: {e}. The recordings live in /work/shared/arm-recordings \
             (../../../shared/arm-recordings from this crate); without them this test cannot check \
             anything and refuses to pass.",
            path.display()
        )
    });
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("cassette is YAML");
    let interactions = doc["interactions"]
        .as_sequence()
        .expect("cassette has interactions");
    interactions
        .iter()
        .map(|i| {
            let req = &i["request"];
            let resp = &i["response"];
            let s = |v: &serde_yaml::Value| v.as_str().unwrap_or_default().to_string();
            let status = resp["code"]
                .as_u64()
                .map(|c| c as u16)
                .or_else(|| {
                    resp["status"]
                        .as_str()
                        .and_then(|t| t.split(' ').next())
                        .and_then(|c| c.parse().ok())
                })
                .expect("recorded status");
            let headers = resp["headers"]
                .as_mapping()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| {
                    let first = v
                        .as_sequence()
                        .and_then(|s| s.first())
                        .and_then(|f| f.as_str())?;
                    Some((k.as_str()?.to_ascii_lowercase(), first.to_string()))
                })
                .collect();
            let body_text = s(&resp["body"]);
            Exchange {
                method: s(&req["method"]),
                url: s(&req["url"]),
                request_body: s(&req["body"]),
                status,
                headers,
                body: serde_json::from_str(&body_text).ok(),
            }
        })
        .collect()
}

/// The path of a URL, lower-cased, without scheme, host or query.
fn path_key(url: &str) -> String {
    let no_query = url.split('?').next().unwrap_or_default();
    let path = match no_query.find("://") {
        Some(i) => {
            let rest = &no_query[i + 3..];
            rest.find('/').map(|j| &rest[j..]).unwrap_or("/")
        }
        None => no_query,
    };
    path.trim_end_matches('/').to_ascii_lowercase()
}

/// What a recorded URL addresses.
#[derive(Debug, Clone, PartialEq)]
enum Addressed {
    /// An ARM resource, action or collection the emulator serves.
    Served,
    /// A long-running operation's status (`Azure-AsyncOperation`) or result (`Location`).
    Poll,
    /// Something the emulator does not serve; the reason.
    NotServed(String),
}

fn addressed(url: &str) -> Addressed {
    let key = path_key(url);
    let s: Vec<&str> = key.trim_start_matches('/').split('/').collect();
    let n = s.len();
    if n < 2 || s[0] != "subscriptions" {
        return Addressed::NotServed(format!("not under a subscription: {key}"));
    }
    if s.iter()
        .any(|p| matches!(*p, "operations" | "operationresults" | "operationstatuses"))
    {
        return Addressed::Poll;
    }
    if n >= 4 && s[n - 4] == "providers" && s[n - 3] == "microsoft.authorization" {
        return match s[n - 2] {
            "roleassignments" | "roledefinitions" => Addressed::Served,
            other => Addressed::NotServed(format!("Microsoft.Authorization/{other}")),
        };
    }
    if n >= 8 && s[2] == "providers" && s[3] == "microsoft.keyvault" && s[6] == "deletedvaults" {
        return Addressed::Served;
    }
    if n == 4 && s[2] == "resourcegroups" {
        return Addressed::Served;
    }
    if n >= 8 && s[2] == "resourcegroups" && s[4] == "providers" {
        let rest = &s[8..];
        let ok = match (s[5], s[6]) {
            ("microsoft.containerservice", "managedclusters") => matches!(
                rest,
                [] | ["agentpools"]
                    | ["agentpools", _]
                    | ["listclusterusercredential"]
                    | ["listclusteradmincredential"]
            ),
            ("microsoft.keyvault", "vaults") => rest.is_empty(),
            ("microsoft.managedidentity", "userassignedidentities") => matches!(
                rest,
                [] | ["federatedidentitycredentials"] | ["federatedidentitycredentials", _]
            ),
            _ => false,
        };
        return if ok {
            Addressed::Served
        } else {
            Addressed::NotServed(format!("{}/{}/{}", s[5], s[6], rest.join("/")))
        };
    }
    Addressed::NotServed(key)
}

fn is_terminal(state: &str) -> bool {
    matches!(state, "Succeeded" | "Failed" | "Canceled")
}

/// Whether a poll answer says the operation has ended: an Azure-AsyncOperation status body with
/// a terminal status, or a Location answer other than 202.
fn poll_done(status: u16, body: Option<&Value>) -> bool {
    match body.and_then(|b| b.get("status")).and_then(Value::as_str) {
        Some(s) => is_terminal(s),
        None => status != 202,
    }
}

/// Fields of `want` missing from `got`, recursively (arrays: the first element).
fn missing_fields(want: &Value, got: &Value, path: &str, ignore: &[&str], out: &mut Vec<String>) {
    match want {
        Value::Object(w) => {
            for (k, v) in w {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if ignore.contains(&p.as_str()) {
                    continue;
                }
                match got.get(k) {
                    None => out.push(p),
                    Some(g) => missing_fields(v, g, &p, ignore, out),
                }
            }
        }
        Value::Array(w) => {
            if let Some(first) = w.first().filter(|f| f.is_object() || f.is_array()) {
                match got.as_array().and_then(|a| a.first()) {
                    Some(g) => missing_fields(first, g, &format!("{path}[0]"), ignore, out),
                    None => out.push(format!("{path}[0]")),
                }
            }
        }
        _ => {}
    }
}

/// Generated identifiers both sides return under these names; later requests may quote them.
const LEARNED_KEYS: &[&str] = &["principalId", "clientId", "objectId"];

fn learn_values(recorded: &Value, got: &Value, out: &mut Vec<(String, String)>) {
    match (recorded, got) {
        (Value::Object(r), Value::Object(g)) => {
            for (k, rv) in r {
                let Some(gv) = g.get(k) else { continue };
                if let (Some(a), Some(b)) = (rv.as_str(), gv.as_str())
                    && LEARNED_KEYS.contains(&k.as_str())
                    && a != b
                    && uuid::Uuid::parse_str(a).is_ok()
                    && !out.iter().any(|(x, _)| x == a)
                {
                    out.push((a.to_string(), b.to_string()));
                }
                learn_values(rv, gv, out);
            }
        }
        (Value::Array(r), Value::Array(g)) => {
            for (rv, gv) in r.iter().zip(g) {
                learn_values(rv, gv, out);
            }
        }
        _ => {}
    }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Option<Value>,
    text: String,
}

struct Replay {
    name: &'static str,
    emulator: ArmEmulator,
    client: reqwest::Client,
    /// Recorded value -> emulated value, applied to later URLs and bodies.
    rewrites: Vec<(String, String)>,
    /// Recorded operation URL path -> the emulator's URL for the same operation.
    operations: HashMap<String, String>,
    /// URLs the recording answered with PrincipalNotFound.
    principal_not_found: HashSet<String>,
    compared: usize,
    skipped: Vec<String>,
    extra_polls: usize,
    retries: usize,
    failures: Vec<String>,
}

impl Replay {
    async fn new(name: &'static str) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let config = Config {
            lro_duration: LRO,
            principal_propagation_delay: LRO,
            ..Config::default()
        };
        let emulator = ArmEmulator::start(config).await.expect("emulator");
        let client = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(emulator.ca_pem().as_bytes()).expect("CA"),
            )
            .build()
            .expect("client");
        let host = emulator.url();
        Replay {
            name,
            emulator,
            client,
            rewrites: vec![
                ("https://management.azure.com".to_string(), host),
                (
                    format!("/subscriptions/{RECORDED_SUB}"),
                    format!("/subscriptions/{SUB}"),
                ),
            ],
            operations: HashMap::new(),
            principal_not_found: HashSet::new(),
            compared: 0,
            skipped: Vec::new(),
            extra_polls: 0,
            retries: 0,
            failures: Vec::new(),
        }
    }

    fn rewrite(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (from, to) in &self.rewrites {
            out = out.replace(from.as_str(), to);
        }
        out
    }

    async fn send(&self, method: &str, url: &str, body: &str) -> Answer {
        let mut req = self
            .client
            .request(method.parse().expect("method"), url)
            .bearer_auth("recorded");
        if !body.is_empty() {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let r = req.send().await.expect("the emulator answers");
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        let text = r.text().await.unwrap_or_default();
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).ok(),
            text,
        }
    }

    /// Sets up what the recording shows existing before its first exchange.
    async fn preconditions(&mut self, exchanges: &[Exchange]) {
        let mut seen = HashSet::new();
        for (i, x) in exchanges.iter().enumerate() {
            if addressed(&x.url) != Addressed::Served {
                continue;
            }
            let key = path_key(&x.url);
            if !seen.insert(key.clone()) {
                continue;
            }
            let segs: Vec<&str> = key.trim_start_matches('/').split('/').collect();
            if x.method == "GET" && x.status == 200 && segs.get(6) == Some(&"deletedvaults") {
                self.seed_deleted_vault(exchanges, segs[7]).await;
                continue;
            }
            let recovers = x.request_body.contains("\"createMode\":\"recover\"");
            let existed = x.status == 200 && (x.method == "GET" || x.method == "PUT") && !recovers;
            let is_resource = !matches!(
                segs.last().copied(),
                Some("agentpools" | "federatedidentitycredentials")
            );
            if !(existed && is_resource) {
                continue;
            }
            let body = exchanges[i..]
                .iter()
                .find(|y| y.method == "PUT" && path_key(&y.url) == key)
                .map(|y| y.request_body.clone())
                .or_else(|| x.body.as_ref().map(Value::to_string))
                .expect("a body to create the pre-existing resource from");
            let url = self.rewrite(&x.url);
            let a = self.send("PUT", &url, &self.rewrite(&body)).await;
            assert!(
                a.status < 300,
                "{}: creating pre-existing {key} answered {} {}",
                self.name,
                a.status,
                a.text
            );
            self.wait_settled(&url).await;
            println!("{}: precondition: {key} existed", self.name);
        }
    }

    async fn seed_deleted_vault(&mut self, exchanges: &[Exchange], name: &str) {
        let put = exchanges
            .iter()
            .find(|y| y.method == "PUT" && path_key(&y.url).ends_with(&format!("/vaults/{name}")))
            .expect("the recording PUTs the vault it recovers");
        let mut body: Value = serde_json::from_str(&self.rewrite(&put.request_body)).expect("JSON");
        if let Some(p) = body["properties"].as_object_mut() {
            p.remove("createMode");
        }
        let group = format!(
            "{}/subscriptions/{SUB}/resourceGroups/recordings-seed",
            self.emulator.url()
        );
        let a = self
            .send(
                "PUT",
                &format!("{group}?api-version=2020-06-01"),
                &json!({"location": body["location"]}).to_string(),
            )
            .await;
        assert!(a.status < 300, "seed group: {} {}", a.status, a.text);
        let vault =
            format!("{group}/providers/Microsoft.KeyVault/vaults/{name}?api-version=2023-07-01");
        let a = self.send("PUT", &vault, &body.to_string()).await;
        assert!(a.status < 300, "seed vault: {} {}", a.status, a.text);
        let a = self.send("DELETE", &vault, "").await;
        assert!(a.status < 300, "seed vault delete: {} {}", a.status, a.text);
        println!("{}: precondition: vault {name} was soft-deleted", self.name);
    }

    /// Waits until the resource's provisioningState is terminal (or absent).
    async fn wait_settled(&self, url: &str) {
        let start = Instant::now();
        loop {
            let a = self.send("GET", url, "").await;
            let state = a
                .body
                .as_ref()
                .and_then(|b| b.pointer("/properties/provisioningState"))
                .and_then(Value::as_str)
                .unwrap_or("Succeeded")
                .to_string();
            if is_terminal(&state) {
                return;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{}: {url} stayed {state}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn run(&mut self, exchanges: &[Exchange]) {
        self.preconditions(exchanges).await;
        for (i, x) in exchanges.iter().enumerate() {
            self.exchange(i, x).await;
        }
    }

    async fn exchange(&mut self, i: usize, x: &Exchange) {
        let what = format!("#{i} {} {}", x.method, path_key(&x.url));
        let url = match addressed(&x.url) {
            Addressed::NotServed(reason) => {
                self.skipped.push(format!("{what} ({reason})"));
                return;
            }
            Addressed::Served => self.rewrite(&x.url),
            Addressed::Poll => match self.operations.get(&path_key(&x.url)) {
                Some(u) => u.clone(),
                None => {
                    self.failures.push(format!(
                        "{what}: polls an operation no earlier answer of the emulator named"
                    ));
                    return;
                }
            },
        };
        let body = self.rewrite(&x.request_body);
        let is_poll = addressed(&x.url) == Addressed::Poll;
        let recorded_done = is_poll && poll_done(x.status, x.body.as_ref());
        let start = Instant::now();
        let mut got = self.send(&x.method, &url, &body).await;
        // Sequence-dependent answers: wait as the recorded client waited.
        loop {
            let pnf = got.status == 400 && got.text.contains("PrincipalNotFound");
            let waiting_for_op = recorded_done && !poll_done(got.status, got.body.as_ref());
            let waiting_for_principal =
                pnf && x.status != 400 && self.principal_not_found.contains(&path_key(&x.url));
            if !(waiting_for_op || waiting_for_principal) || start.elapsed() > PATIENCE {
                break;
            }
            if waiting_for_op {
                self.extra_polls += 1;
            } else {
                self.retries += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            got = self.send(&x.method, &url, &body).await;
        }
        if x.status == 400
            && x.body
                .as_ref()
                .and_then(|b| b.pointer("/error/code"))
                .and_then(Value::as_str)
                == Some("PrincipalNotFound")
        {
            self.principal_not_found.insert(path_key(&x.url));
        }
        self.compared += 1;
        let mut problems = Vec::new();
        if got.status != x.status {
            problems.push(format!("status {} (recorded {})", got.status, x.status));
        }
        if is_poll {
            let (rec_done, got_done) = (
                poll_done(x.status, x.body.as_ref()),
                poll_done(got.status, got.body.as_ref()),
            );
            if rec_done != got_done {
                problems.push(format!(
                    "operation {} (recorded {})",
                    if got_done { "ended" } else { "running" },
                    if rec_done { "ended" } else { "running" }
                ));
            }
            let state = |b: Option<&Value>| {
                b.and_then(|b| b.get("status"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            if rec_done
                && let Some(want) = state(x.body.as_ref())
                && state(got.body.as_ref()).as_deref() != Some(want.as_str())
            {
                problems.push(format!(
                    "operation status {:?} (recorded {want})",
                    state(got.body.as_ref())
                ));
            }
        }
        for h in ["azure-asyncoperation", "location", "retry-after"] {
            let Some(recorded) = x.headers.get(h) else {
                continue;
            };
            let Some(value) = got.headers.get(h).and_then(|v| v.to_str().ok()) else {
                problems.push(format!("no {h} header (recorded {})", short(recorded)));
                continue;
            };
            if h == "retry-after" {
                if value.parse::<u64>().is_err() {
                    problems.push(format!("retry-after {value:?} is not whole seconds"));
                }
                continue;
            }
            if recorded.starts_with("https://") {
                if !value.starts_with(&self.emulator.url()) {
                    problems.push(format!("{h} {value} is not an absolute emulator URL"));
                }
                self.operations
                    .insert(path_key(recorded), value.to_string());
            }
        }
        match (&x.body, &got.body) {
            (Some(want), Some(have)) => {
                let ignore: Vec<&str> = IGNORED
                    .iter()
                    .map(|(p, _)| *p)
                    .filter(|p| {
                        // The operation-status `error` is only ignored where it is not a failure.
                        *p != "error"
                            || (is_poll
                                && want.get("status").and_then(Value::as_str) != Some("Failed"))
                    })
                    .collect();
                let mut missing = Vec::new();
                missing_fields(want, have, "", &ignore, &mut missing);
                if !missing.is_empty() {
                    problems.push(format!("fields missing: {missing:?}"));
                }
                learn_values(want, have, &mut self.rewrites);
            }
            (Some(_), None) => problems.push(format!("no JSON body ({:?})", short(&got.text))),
            (None, _) if !got.text.trim().is_empty() => problems.push(format!(
                "a body where the recording has none: {}",
                short(&got.text)
            )),
            _ => {}
        }
        if !problems.is_empty() {
            self.failures
                .push(format!("{what}: {}", problems.join("; ")));
        }
    }

    fn report(&self, min_compared: usize) {
        println!(
            "{}: compared {}, skipped {} (extra polls while operations ran: {}, retries while \
             principals replicated: {})",
            self.name,
            self.compared,
            self.skipped.len(),
            self.extra_polls,
            self.retries
        );
        for s in &self.skipped {
            println!("  skipped {s}");
        }
        assert!(
            self.failures.is_empty(),
            "{}: {} of {} exchanges differ from the recording:\n{}",
            self.name,
            self.failures.len(),
            self.compared,
            self.failures.join("\n")
        );
        assert!(
            self.compared >= min_compared,
            "{}: only {} exchanges compared, expected at least {min_compared}",
            self.name,
            self.compared
        );
    }
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

async fn replay(name: &'static str, min_compared: usize) {
    let exchanges = load(name);
    let mut r = Replay::new(name).await;
    r.run(&exchanges).await;
    r.report(min_compared);
}

/// Cassettes a test below replays; a new cassette in the directory must get one.
const CASSETTES: &[&str] = &[
    "Test_Resources_ResourceGroup_CRUD.yaml",
    "Test_KeyVault_Vault_20230701_CRUD.yaml",
    "Test_ManagedIdentity_UserAssignedIdentity_20230131_CRUD.yaml",
    "Test_Authorization_RoleAssignment_OnResourceGroup_CRUD.yaml",
    "Test_AKS_ManagedCluster_20250801_CRUD.yaml",
    "Test_ReconcilePolicy_SkipsDelete__Skip_OnResource.yaml",
];

#[test]
fn every_recording_in_the_directory_is_replayed() {
    let dir = recordings_dir();
    let found: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "the recordings directory {} is missing ({e}); these tests need \
                 /work/shared/arm-recordings",
                dir.display()
            )
        })
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    let known: BTreeSet<String> = CASSETTES.iter().map(|s| s.to_string()).collect();
    assert_eq!(found, known, "cassettes on disk vs cassettes replayed");
}

#[tokio::test]
async fn resource_group_crud_answers_as_recorded() {
    replay("Test_Resources_ResourceGroup_CRUD.yaml", 8).await;
}

#[tokio::test]
async fn key_vault_recover_and_delete_answer_as_recorded() {
    replay("Test_KeyVault_Vault_20230701_CRUD.yaml", 9).await;
}

#[tokio::test]
async fn user_assigned_identity_and_federated_credentials_answer_as_recorded() {
    replay(
        "Test_ManagedIdentity_UserAssignedIdentity_20230131_CRUD.yaml",
        22,
    )
    .await;
}

#[tokio::test]
async fn role_assignment_answers_principal_not_found_until_replicated_as_recorded() {
    replay(
        "Test_Authorization_RoleAssignment_OnResourceGroup_CRUD.yaml",
        20,
    )
    .await;
}

#[tokio::test]
async fn aks_managed_cluster_and_agent_pool_crud_with_polling_answer_as_recorded() {
    // 72 exchanges; the 5 on maintenanceConfigurations are not served.
    replay("Test_AKS_ManagedCluster_20250801_CRUD.yaml", 67).await;
}

#[tokio::test]
async fn skip_delete_policy_exchanges_answer_as_recorded() {
    replay("Test_ReconcilePolicy_SkipsDelete__Skip_OnResource.yaml", 9).await;
}
