//! Bad input: objects stored around validation (as if written before a schema tightened) and
//! specs generated from the CRDs' own schemas through admission. Each ends with a condition or
//! an Event a person can act on, or is refused by admission naming a field; the good sets
//! keep converging; neither process crashes; deleting them all leaves nothing in Azure.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};

use super::{Env, NS, Row, Scale, finish, peak_rate};

/// The label every bad object carries, for listing and deleting them.
const LABEL: &str = "faults-bad";

/// Every kind azop serves: a set's kinds and the profile.
const KINDS: [&str; 7] = [
    "ResourceGroup",
    "KeyVault",
    "FederatedIdentity",
    "RoleAssignment",
    "KeyVaultBinding",
    "AksCluster",
    "AzureProfile",
];

/// A valid spec of each kind, its references pointing at `-bad-` objects (never the good
/// sets'), a profile selecting no namespace that exists.
fn base_spec(kind: &str) -> Value {
    if kind == "AzureProfile" {
        return json!({"namespaceSelector": {"matchLabels": {"bad-input": "never"}},
            "subscriptionId": "00000000-0000-0000-0000-000000000000",
            "allowedLocations": ["westeurope"], "allowedKinds": ["*"], "allowedResourceGroups": ["*"]});
    }
    let set = super::set_objects(0, 0);
    let o = set
        .iter()
        .find(|o| o["kind"] == kind)
        .expect("kind in a set");
    let text = serde_json::to_string(&o["spec"])
        .expect("json")
        .replace("-flt-", "-bad-");
    serde_json::from_str(&text).expect("json")
}

/// Values of every shape, for fields that expect another.
fn odd(rng: &mut fastrand::Rng) -> Value {
    match rng.u8(0..14) {
        0 => json!("x"),
        1 => json!(42),
        2 => json!(-1),
        3 => json!(1.5),
        4 => json!(true),
        5 => Value::Null,
        6 => json!([]),
        7 => json!({}),
        8 => json!("x".repeat(5000)),
        9 => json!("ünïcødé ☃ \u{0} ../../etc"),
        10 => json!([1, "two", null]),
        11 => json!({"a": {"b": [null, {"c": 1}]}}),
        12 => json!(i64::MIN),
        _ => json!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-bad-9"),
    }
}

/// Every JSON pointer inside `v` ("" for `v` itself).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(
                    c,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// One to three changes no schema would let through: a field removed, a value of the wrong
/// shape, an unknown field; now and then the whole spec.
fn malformed(kind: &str, rng: &mut fastrand::Rng) -> Option<Value> {
    let mut spec = base_spec(kind);
    if rng.u8(0..20) == 0 {
        return if rng.bool() { None } else { Some(odd(rng)) };
    }
    for _ in 0..rng.usize(1..=3) {
        let mut all = Vec::new();
        pointers(&spec, String::new(), &mut all);
        let at = all[rng.usize(0..all.len())].clone();
        let (parent, last) = at.rsplit_once('/').unwrap_or(("", ""));
        match rng.u8(0..3) {
            0 if !at.is_empty() => match spec.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.remove(&last.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = last.parse::<usize>()
                        && i < a.len()
                    {
                        a.remove(i);
                    }
                }
                _ => {}
            },
            1 => {
                if let Some(Value::Object(m)) = spec.pointer_mut(&at) {
                    m.insert("zzUnknown".into(), odd(rng));
                }
            }
            _ => {
                let value = odd(rng);
                if let Some(slot) = spec.pointer_mut(&at) {
                    *slot = value;
                }
            }
        }
    }
    Some(spec)
}

/// Strings a person might write, and some no one should.
fn string(rng: &mut fastrand::Rng) -> String {
    const POOL: [&str; 22] = [
        "westeurope",
        "eastus",
        "mars",
        "",
        "a",
        "rg-bad-0",
        "kv-bad-0",
        "id-bad-0",
        "1.31",
        "1.99",
        "Standard_D4ds_v5",
        "System",
        "Reader",
        "SecretsUser",
        "https://issuer.faults.test/cluster/",
        "not a url",
        "ÄÖÜ-ünïcødé",
        "../../etc",
        "*",
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-bad-1",
        "00000000-0000-0000-0000-000000000000",
        "10.0.0.0/8",
    ];
    match rng.u8(0..10) {
        0 => "y".repeat(rng.usize(64..400)),
        1 => format!("bad-{}", rng.u32(..)),
        _ => POOL[rng.usize(0..POOL.len())].to_string(),
    }
}

/// A value for `schema` (an OpenAPI v3 schema from a CRD): mostly of the declared type, its
/// enum values most of the time, fields present at random (required ones more often).
fn generate(schema: &Value, rng: &mut fastrand::Rng, depth: usize) -> Value {
    if let Some(e) = schema["enum"].as_array()
        && !e.is_empty()
        && rng.u8(0..10) < 8
    {
        return e[rng.usize(0..e.len())].clone();
    }
    if schema["x-kubernetes-int-or-string"] == true {
        return if rng.bool() {
            json!(rng.i64(-2..10))
        } else {
            json!(string(rng))
        };
    }
    match schema["type"].as_str() {
        Some("object") => {
            let mut o = Map::new();
            let required: BTreeSet<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema["properties"].as_object() {
                for (k, s) in props {
                    let odds = if required.contains(k.as_str()) { 9 } else { 4 };
                    if depth < 6 && rng.u8(0..10) < odds {
                        o.insert(k.clone(), generate(s, rng, depth + 1));
                    }
                }
            } else if schema["additionalProperties"].is_object() && depth < 6 {
                for _ in 0..rng.usize(0..3) {
                    o.insert(
                        string(rng),
                        generate(&schema["additionalProperties"], rng, depth + 1),
                    );
                }
            }
            Value::Object(o)
        }
        Some("array") if depth < 6 => (0..rng.usize(0..4))
            .map(|_| generate(&schema["items"], rng, depth + 1))
            .collect(),
        Some("array") => json!([]),
        Some("string") => json!(string(rng)),
        Some("integer") => {
            const INTS: [i64; 9] = [-1, 0, 1, 2, 3, 5, 100, 1000, i32::MAX as i64];
            json!(INTS[rng.usize(0..INTS.len())])
        }
        Some("number") => json!(rng.f64() * 1000.0 - 10.0),
        Some("boolean") => json!(rng.bool()),
        _ => odd(rng),
    }
}

/// A valid spec with one to three fields given values generated from their own schemas:
/// well-formed as far as the schema goes, often nonsense to Azure or to azop's rules.
fn regenerate_fields(kind: &str, schema: &Value, rng: &mut fastrand::Rng) -> Value {
    let mut spec = base_spec(kind);
    for _ in 0..rng.usize(1..=3) {
        let (mut node, mut at) = (&mut spec, schema);
        while let Some(props) = at["properties"].as_object() {
            let keys: Vec<&String> = props.keys().collect();
            let key = keys[rng.usize(0..keys.len())].clone();
            let sub = &props[&key];
            let Some(map) = node.as_object_mut() else {
                break;
            };
            if sub["type"] == "object" && map.get(&key).is_some_and(Value::is_object) && rng.bool()
            {
                node = map.get_mut(&key).expect("present");
                at = sub;
                continue;
            }
            map.insert(key, generate(sub, rng, 2));
            break;
        }
    }
    spec
}

/// The CRDs with every schema opened up: what an API server stored before a rule existed.
fn relaxed_crds() -> Vec<CustomResourceDefinition> {
    let mut crds = azop_api::crds();
    for crd in &mut crds {
        for v in &mut crd.spec.versions {
            v.schema = Some(
                serde_json::from_value(json!({"openAPIV3Schema": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": true}}))
                .expect("schema"),
            );
        }
    }
    crds
}

async fn apply_crds(env: &Env, crds: Vec<CustomResourceDefinition>) {
    let api: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(
            &name,
            &PatchParams::apply("faults").force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap_or_else(|e| panic!("CRD {name}: {e}"));
    }
}

fn object(kind: &str, name: &str, spec: Option<Value>) -> DynamicObject {
    let mut o = json!({"apiVersion": format!("{}/{}", azop_api::GROUP, azop_api::VERSION),
        "kind": kind, "metadata": {"name": name, "labels": {LABEL: "yes"}}});
    if super::resource_of(kind).1 {
        o["metadata"]["namespace"] = json!(NS);
    }
    if let Some(s) = spec {
        o["spec"] = s;
    }
    serde_json::from_value(o).expect("object")
}

/// Whether a person can tell from the object (or an Event about it) what is wrong, or it is
/// simply Ready: a Ready or Stalled condition with a reason and a message that is not "still
/// working on it".
fn settled(o: &DynamicObject, evented: &BTreeSet<String>) -> bool {
    let name = o.metadata.name.clone().unwrap_or_default();
    if evented.contains(&name) {
        return true;
    }
    let conditions = o.data["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |t: &str| conditions.iter().find(|c| c["type"] == t);
    if find("Stalled").is_some_and(|c| c["status"] == "True" && c["message"] != "") {
        return true;
    }
    find("Ready").is_some_and(|c| {
        c["status"] == "True"
            || (c["message"] != ""
                && !["Progressing", "Reconciling", "Deleting", ""]
                    .contains(&c["reason"].as_str().unwrap_or_default()))
    })
}

/// What the bad objects show once settled: how many Ready, Stalled, waiting or failing, and
/// how many only an Event explains.
fn outcome(o: &DynamicObject, evented: &BTreeSet<String>) -> String {
    let conditions = o.data["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ready = conditions.iter().find(|c| c["type"] == "Ready");
    match ready {
        Some(c) if c["status"] == "True" => "Ready".into(),
        Some(c) => c["reason"].as_str().unwrap_or("?").to_string(),
        None if evented.contains(&o.metadata.name.clone().unwrap_or_default()) => {
            "Event InvalidObject".into()
        }
        None => "nothing".into(),
    }
}

/// Names of the objects an InvalidObject Event is about.
async fn evented(env: &Env) -> BTreeSet<String> {
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::all(env.client.clone());
    events
        .list(&Default::default())
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter(|e| {
                    e.reason.as_deref() == Some("InvalidObject")
                        && e.message.as_deref().is_some_and(|m| !m.is_empty())
                })
                .filter_map(|e| e.involved_object.name)
                .collect()
        })
        .unwrap_or_default()
}

async fn bad_objects(env: &Env) -> Vec<(String, DynamicObject)> {
    let mut out = Vec::new();
    for kind in KINDS {
        let lp = kube::api::ListParams::default().labels(&format!("{LABEL}=yes"));
        if let Ok(list) = env.api(kind).list(&lp).await {
            out.extend(list.items.into_iter().map(|o| (kind.to_string(), o)));
        }
    }
    out
}

pub async fn bad_input(env: &mut Env, scale: &Scale, seed: u64) -> Row {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x6261_6420);
    let from = azop_e2e::now_ms();
    let mut problems = Vec::new();

    // Stored around validation: the schemas opened, the objects written, the schemas back.
    apply_crds(env, relaxed_crds()).await;
    let mut stored = 0;
    for n in 0..scale.malformed {
        let kind = KINDS[n % KINDS.len()];
        let name = format!("bad-s-{}-{n}", kind.to_ascii_lowercase());
        let mut spec = malformed(kind, &mut rng);
        // A profile that still reads, with an emptied selector, would govern every namespace
        // (as the platform team asked): not what this scenario is about.
        if kind == "AzureProfile"
            && let Some(selector) = spec.as_mut().and_then(|s| s.get_mut("namespaceSelector"))
            && selector.is_object()
        {
            *selector = json!({"matchLabels": {"bad-input": "never"}});
        }
        let o = object(kind, &name, spec);
        if env.api(kind).create(&Default::default(), &o).await.is_ok() {
            stored += 1;
        }
    }
    apply_crds(env, azop_api::crds()).await;

    // Generated from the schemas, through admission: refused naming a field, or stored.
    let schemas: BTreeMap<String, Value> = azop_api::crds()
        .into_iter()
        .map(|c| {
            let v = serde_json::to_value(&c.spec.versions[0]).expect("json");
            (
                c.spec.names.kind.clone(),
                v["schema"]["openAPIV3Schema"]["properties"]["spec"].clone(),
            )
        })
        .collect();
    let (mut admitted, mut refused, mut attempts) = (0, 0, 0);
    let mut orphaned: BTreeSet<String> = BTreeSet::new();
    while admitted < scale.malformed && attempts < scale.malformed * 6 {
        let kind = KINDS[attempts % KINDS.len()];
        let name = format!("bad-g-{}-{attempts}", kind.to_ascii_lowercase());
        attempts += 1;
        let mut spec = if rng.bool() {
            generate(&schemas[kind], &mut rng, 0)
        } else {
            regenerate_fields(kind, &schemas[kind], &mut rng)
        };
        if kind == "AzureProfile" {
            // A generated profile must not govern the suite's namespace.
            spec["namespaceSelector"] = json!({"matchLabels": {"bad-input": "never"}});
        }
        // What azop leaves in Azure on purpose when the object goes.
        let kept = spec["deletionPolicy"] == "Orphan"
            || spec["adopt"] == true
            || spec["managementPolicy"] == "Observe";
        match env
            .api(kind)
            .create(&Default::default(), &object(kind, &name, Some(spec)))
            .await
        {
            Ok(_) => {
                admitted += 1;
                if kept {
                    orphaned.insert(format!("/{kind}/{name}"));
                }
            }
            Err(kube::Error::Api(e)) if e.code == 422 || e.code == 400 => {
                refused += 1;
                if !e.message.contains("spec") {
                    problems.push(format!(
                        "{kind} {name} refused naming no field: {}",
                        e.message
                    ));
                }
            }
            Err(e) => problems.push(format!("{kind} {name}: {e}")),
        }
    }

    // The good keep converging meanwhile.
    for _ in 0..2 {
        env.apply_set(env.next_set()).await;
    }
    let start = Instant::now();
    let mut unsettled: Vec<String>;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    loop {
        let marked = evented(env).await;
        let all = bad_objects(env).await;
        unsettled = all
            .iter()
            .filter(|(_, o)| !settled(o, &marked))
            .map(|(k, o)| {
                format!(
                    "{k} {}: {}",
                    o.metadata.name.clone().unwrap_or_default(),
                    super::ready_text(o)
                )
            })
            .collect();
        if unsettled.is_empty() || start.elapsed() > scale.converge_cap {
            outcomes.clear();
            for (_, o) in &all {
                *outcomes.entry(outcome(o, &marked)).or_default() += 1;
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settle = start.elapsed();
    let converged = env.converge(scale.converge_cap).await;
    println!(
        "  bad input: {stored} stored around validation, {admitted} admitted and {refused} refused of {attempts} generated; settled in {:.1} s: {outcomes:?}",
        settle.as_secs_f64()
    );
    let stuck_bad = unsettled.len();
    for u in unsettled.iter().take(10) {
        problems.push(format!("no condition or Event a person can act on: {u}"));
    }

    // Neither process crashed.
    if let Some(c) = env.operator.as_mut()
        && !matches!(c.try_wait(), Ok(None))
    {
        problems.push("the operator exited".into());
    }
    for entry in std::fs::read_dir(env.dir.path()).expect("dir").flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("panicked")) {
            problems.push(format!("{}: {line}", entry.path().display()));
        }
    }

    // Deleting them all: every one goes, and what they made in Azure with it.
    for (kind, o) in bad_objects(env).await {
        let name = o.metadata.name.clone().unwrap_or_default();
        let _ = env.api(&kind).delete(&name, &Default::default()).await;
    }
    let gone_by = Instant::now() + scale.converge_cap;
    let mut left = bad_objects(env).await;
    while !left.is_empty() && Instant::now() < gone_by {
        tokio::time::sleep(Duration::from_millis(500)).await;
        left = bad_objects(env).await;
    }
    for (kind, o) in left.iter().take(10) {
        problems.push(format!(
            "{kind} {} not released after its delete: {}",
            o.metadata.name.clone().unwrap_or_default(),
            super::ready_text(o)
        ));
    }
    // Their Azure resources carry their owner tags (`faults/faults/<Kind>/bad-...`); those
    // orphaned on purpose stay.
    let leaked: Vec<String> = env
        .arm
        .control()
        .resources()
        .iter()
        .filter(|r| {
            r["tags"]["azop.dev/owner"].as_str().is_some_and(|o| {
                o.contains("/bad-") && !orphaned.iter().any(|kept| o.ends_with(kept.as_str()))
            })
        })
        .map(super::id_of)
        .collect();

    let mut row = finish(
        env,
        format!("bad input ({} objects)", stored + admitted),
        stored + admitted,
        converged,
    );
    row.injected = stored + admitted + refused;
    row.stuck += stuck_bad + left.len();
    row.leaks += leaked.len();
    row.converge = row.converge.max(settle);
    row.peak_during = peak_rate(env, from, azop_e2e::now_ms());
    row.problems.extend(problems);
    row.problems.extend(
        leaked
            .iter()
            .take(10)
            .map(|l| format!("leak of a bad object: {l}")),
    );
    row
}
