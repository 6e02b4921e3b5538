//! Sharding as Flux does it, end to end against one kube-emulator and one arm-emulator: three
//! operators at once — shard `a` (`azop run --shard a`), shard `b`, and the main one for the
//! objects without the `sharding.azop.dev/key` label (`--exclude-shards`) — each with its own
//! Lease. Each operator's ARM client records the ids it touched, which proves that every object
//! was reconciled by its own shard and by no other; references across shards (an identity of
//! shard `a` in an unlabelled resource group, a binding of shard `b` to the platform's vault)
//! become Ready; an object relabelled from `a` to `b` moves without its Azure resource being
//! deleted, `a` stops looking at it, and it comes back to `a` when relabelled again.
//!
//! The file lives in `tests/` but belongs to the `azop` package, as the other operator tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use azop_api::conditions::{self, READY};
use azop_arm::{ArmClient, ArmConfig, CredentialConfig};
use azop_controller::azure::{Azure, AzureError, Polled, Written};
use azop_controller::engine::EngineConfig;
use azop_controller::metrics::Metrics;
use azop_controller::runner::{self, LeaderElection, RunOptions, Shard};
use futures::future::BoxFuture;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
const LEASE_NAMESPACE: &str = "azop-system";
const SYNC_PERIOD: Duration = Duration::from_secs(3);

/// The ARM ids one operator touched, in order (`METHOD id`; polls as `POLL`).
#[derive(Clone, Default)]
struct Touched(Arc<Mutex<Vec<(String, String)>>>);

impl Touched {
    fn push(&self, method: &str, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((method.to_string(), id.to_ascii_lowercase()));
    }

    fn all(&self) -> Vec<(String, String)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Requests on exactly `id` (not its children).
    fn on(&self, id: &str) -> usize {
        let id = id.to_ascii_lowercase();
        self.all().iter().filter(|(_, t)| *t == id).count()
    }
}

/// An operator's ARM client that records what it asks for.
struct Recording {
    arm: ArmClient,
    touched: Touched,
}

impl Azure for Recording {
    fn get<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, AzureError>> {
        self.touched.push("GET", id);
        Azure::get(&self.arm, id, api_version)
    }

    fn put<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<Written, AzureError>> {
        self.touched.push("PUT", id);
        Azure::put(&self.arm, id, api_version, body)
    }

    fn delete<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
    ) -> BoxFuture<'a, Result<Written, AzureError>> {
        self.touched.push("DELETE", id);
        Azure::delete(&self.arm, id, api_version)
    }

    fn poll<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Polled, AzureError>> {
        self.touched.push("POLL", "");
        Azure::poll(&self.arm, token)
    }

    fn post<'a>(
        &'a self,
        id: &'a str,
        api_version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, AzureError>> {
        self.touched.push("POST", id);
        Azure::post(&self.arm, id, api_version)
    }
}

/// One running operator.
struct Operator {
    touched: Touched,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), runner::RunError>>,
}

fn start_operator(client: &Client, arm: &arm_emulator::ArmEmulator, shard: Shard) -> Operator {
    let touched = Touched::default();
    let azure = Recording {
        arm: ArmClient::new(ArmConfig {
            endpoint: arm.url(),
            ca_bundle_pem: Some(arm.ca_pem().to_string()),
            credential: CredentialConfig::Static("e2e".into()),
            ..ArmConfig::default()
        })
        .expect("ARM client"),
        touched: touched.clone(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner::run(
        client.clone(),
        Arc::new(azure),
        EngineConfig {
            // Every shard marks what it owns with the same cluster id: the objects are one
            // cluster's, whichever shard reconciles them.
            cluster_id: "e2e".into(),
            platform_namespaces: vec!["platform".into(), "team-a".into(), "team-b".into()],
            sync_period: SYNC_PERIOD,
            waiting_requeue: Duration::from_secs(1),
            ..EngineConfig::default()
        },
        RunOptions {
            leader_election: Some(LeaderElection {
                namespace: LEASE_NAMESPACE.into(),
                lease_name: shard.default_lease_name(),
                identity: format!("operator-{}", shard.default_lease_name()),
            }),
            shard,
            ..RunOptions::default()
        },
        Arc::new(Metrics::default()),
        async move {
            let _ = stopped.await;
        },
    ));
    Operator {
        touched,
        stop,
        task,
    }
}

fn api_of(client: &Client, kind: &str, plural: &str, namespace: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(azop_api::GROUP, azop_api::VERSION, kind),
        plural,
    );
    Api::namespaced_with(client.clone(), namespace, &ar)
}

fn plural(kind: &str) -> &'static str {
    match kind {
        "ResourceGroup" => "resourcegroups",
        "KeyVault" => "keyvaults",
        "FederatedIdentity" => "federatedidentities",
        "KeyVaultBinding" => "keyvaultbindings",
        other => panic!("no plural for {other}"),
    }
}

/// Creates an azop object; `shard` labels it.
async fn create(
    client: &Client,
    kind: &str,
    ns: &str,
    name: &str,
    shard: Option<&str>,
    spec: Value,
) {
    let mut metadata = json!({"name": name, "namespace": ns});
    if let Some(key) = shard {
        metadata["labels"] = json!({azop_api::SHARD_LABEL: key});
    }
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": format!("{}/{}", azop_api::GROUP, azop_api::VERSION),
        "kind": kind, "metadata": metadata, "spec": spec,
    }))
    .expect("an object");
    api_of(client, kind, plural(kind), ns)
        .create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("creating {kind} {ns}/{name}: {e}"));
}

async fn get(client: &Client, kind: &str, ns: &str, name: &str) -> DynamicObject {
    api_of(client, kind, plural(kind), ns)
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("{kind} {ns}/{name}: {e}"))
}

/// The object's Ready condition as `status reason: message`, if it has one.
fn ready_of(obj: &DynamicObject) -> Option<(String, String)> {
    let found: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> =
        serde_json::from_value(obj.data["status"]["conditions"].clone()).unwrap_or_default();
    conditions::find(&found, READY)
        .map(|c| (c.status.clone(), format!("{}: {}", c.reason, c.message)))
}

async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(v) => return v,
            Err(why) if start.elapsed() > timeout => {
                panic!("timed out after {timeout:?} waiting for {what}: {why}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn wait_ready(client: &Client, objects: &[(&str, &str, &str)]) {
    for (kind, ns, name) in objects {
        eventually(
            &format!("{kind} {ns}/{name} to be Ready"),
            Duration::from_secs(60),
            || async move {
                let obj = get(client, kind, ns, name).await;
                match ready_of(&obj) {
                    Some((status, _)) if status == "True" => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await;
    }
}

/// Waits until `operator` has made more than `before` requests on `id`.
async fn read_again(operator: &Operator, id: &str, before: usize, what: &str) {
    eventually(what, Duration::from_secs(20), || async {
        let n = operator.touched.on(id);
        if n > before {
            Ok(())
        } else {
            Err(format!("{n} requests"))
        }
    })
    .await;
}

async fn set_shard(client: &Client, kind: &str, ns: &str, name: &str, key: &str) {
    api_of(client, kind, plural(kind), ns)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {azop_api::SHARD_LABEL: key}}})),
        )
        .await
        .expect("relabelled");
}

fn group_id(name: &str) -> String {
    format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}")
}

fn identity_id(group: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
        group_id(group)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_shard_reconciles_its_own_objects_references_cross_shards_and_a_relabel_moves_an_object()
 {
    let kube = kube_emulator::KubeEmulator::start(kube_emulator::Config::default())
        .await
        .expect("kube-emulator");
    let arm = arm_emulator::ArmEmulator::start(arm_emulator::Config {
        lro_duration: Duration::from_millis(300),
        principal_propagation_delay: Duration::ZERO,
        ..arm_emulator::Config::default()
    })
    .await
    .expect("arm-emulator");
    let client = kube.client().await.expect("client");
    azop_e2e::apply_crds(&client, "e2e").await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in ["platform", "team-a", "team-b", LEASE_NAMESPACE] {
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns"),
            )
            .await
            .expect("namespace");
    }

    let operators: BTreeMap<&str, Operator> = [
        ("main", start_operator(&client, &arm, Shard::Unlabelled)),
        (
            "a",
            start_operator(&client, &arm, Shard::key("a").expect("key")),
        ),
        (
            "b",
            start_operator(&client, &arm, Shard::key("b").expect("key")),
        ),
    ]
    .into_iter()
    .collect();

    // The platform's objects, unlabelled: the main operator's.
    let rg = |azure_name: &str| json!({"location": "westeurope", "azureName": azure_name});
    create(
        &client,
        "ResourceGroup",
        "platform",
        "rg-platform",
        None,
        rg("rg-platform"),
    )
    .await;
    create(
        &client,
        "KeyVault",
        "platform",
        "kv",
        None,
        json!({
            "azureName": "azop-shard-kv", "location": "westeurope",
            "resourceGroupRef": {"name": "rg-platform"},
            "bindingPolicy": {"namespaceSelector": {}, "allowedRoles": ["SecretsUser"]},
        }),
    )
    .await;
    // team-a's group is unlabelled too; its identity x, in shard a, is placed in it.
    create(
        &client,
        "ResourceGroup",
        "team-a",
        "rg-shared",
        None,
        rg("rg-shared"),
    )
    .await;
    let identity = |group: &str, sa: &str| {
        json!({
            "resourceGroupRef": {"name": group},
            "location": "westeurope",
            "issuer": {"url": "https://issuer.example/"},
            "serviceAccount": {"name": sa, "create": true},
        })
    };
    create(
        &client,
        "ResourceGroup",
        "team-a",
        "rg-a",
        Some("a"),
        rg("rg-a"),
    )
    .await;
    create(
        &client,
        "ResourceGroup",
        "team-a",
        "rg-move",
        Some("a"),
        rg("rg-move"),
    )
    .await;
    create(
        &client,
        "FederatedIdentity",
        "team-a",
        "id-a",
        Some("a"),
        identity("rg-a", "id-a"),
    )
    .await;
    create(
        &client,
        "FederatedIdentity",
        "team-a",
        "id-x",
        Some("a"),
        identity("rg-shared", "id-x"),
    )
    .await;
    // Shard b: a group, an identity, and a binding to the platform's vault.
    create(
        &client,
        "ResourceGroup",
        "team-b",
        "rg-b",
        Some("b"),
        rg("rg-b"),
    )
    .await;
    create(
        &client,
        "FederatedIdentity",
        "team-b",
        "id-b",
        Some("b"),
        identity("rg-b", "id-b"),
    )
    .await;
    let binding = json!({
        "vaultRef": {"name": "kv", "namespace": "platform"},
        "identityRef": {"name": "id-b"},
        "role": "SecretsUser",
    });
    create(
        &client,
        "KeyVaultBinding",
        "team-b",
        "kv-b",
        Some("b"),
        binding.clone(),
    )
    .await;
    // The same grant asked for by an unlabelled binding: the two shards share one assignment.
    create(
        &client,
        "KeyVaultBinding",
        "team-b",
        "kv-shared",
        None,
        binding,
    )
    .await;

    wait_ready(
        &client,
        &[
            ("ResourceGroup", "platform", "rg-platform"),
            ("KeyVault", "platform", "kv"),
            ("ResourceGroup", "team-a", "rg-shared"),
            ("ResourceGroup", "team-a", "rg-a"),
            ("ResourceGroup", "team-a", "rg-move"),
            ("FederatedIdentity", "team-a", "id-a"),
            // Across shards: its group is the main operator's.
            ("FederatedIdentity", "team-a", "id-x"),
            ("ResourceGroup", "team-b", "rg-b"),
            ("FederatedIdentity", "team-b", "id-b"),
            // Across shards: its vault is the main operator's.
            ("KeyVaultBinding", "team-b", "kv-b"),
            // Across shards: its identity is b's.
            ("KeyVaultBinding", "team-b", "kv-shared"),
        ],
    )
    .await;

    // Who touched what: each ARM id belongs to the object whose id is its longest prefix; the
    // role assignment is the two bindings' (b's and the main operator's).
    let vault_id = get(&client, "KeyVault", "platform", "kv").await.data["status"]["resourceId"]
        .as_str()
        .expect("the vault's id")
        .to_ascii_lowercase();
    let owners: Vec<(String, &'static str)> = vec![
        (group_id("rg-platform"), "main"),
        (vault_id.clone(), "main"),
        (group_id("rg-shared"), "main"),
        (group_id("rg-a"), "a"),
        (group_id("rg-move"), "a"),
        (identity_id("rg-a", "id-a"), "a"),
        (identity_id("rg-shared", "id-x"), "a"),
        (group_id("rg-b"), "b"),
        (identity_id("rg-b", "id-b"), "b"),
    ]
    .into_iter()
    .map(|(id, shard)| (id.to_ascii_lowercase(), shard))
    .collect();
    let owner_of = |id: &str, shard: &'static str| -> &'static str {
        let main_or_b = shard == "main" || shard == "b";
        if id.contains("/providers/microsoft.authorization/roleassignments/") && main_or_b {
            return shard;
        }
        owners
            .iter()
            .filter(|(o, _)| id == o || id.starts_with(&format!("{o}/")))
            .max_by_key(|(o, _)| o.len())
            .map_or("nobody", |(_, shard)| shard)
    };
    for (shard, operator) in &operators {
        let touched = operator.touched.all();
        assert!(!touched.is_empty(), "operator {shard} did some work");
        let elsewhere: Vec<_> = touched
            .iter()
            .filter(|(method, id)| method != "POLL" && owner_of(id, shard) != *shard)
            .collect();
        assert!(
            elsewhere.is_empty(),
            "operator {shard} touched other shards' resources: {elsewhere:?}"
        );
        let mut objects: BTreeSet<&str> = BTreeSet::new();
        for (method, id) in &touched {
            if method != "POLL" {
                objects.insert(owner_of(id, shard));
            }
        }
        assert_eq!(objects, BTreeSet::from([*shard]), "operator {shard}");
    }
    // The two bindings share one assignment: whichever shard looks first creates it, the other
    // finds it there (a GET, no write). So b checked it, and between them it was PUT once (or
    // twice, when both looked before either wrote), by each at most once.
    let on_assignment = |shard: &str, method: &str| {
        operators[shard]
            .touched
            .all()
            .iter()
            .filter(|(m, id)| m == method && id.contains("/roleassignments/"))
            .count()
    };
    assert!(
        on_assignment("b", "GET") >= 1,
        "shard b checked its binding's assignment"
    );
    let (put_b, put_main) = (on_assignment("b", "PUT"), on_assignment("main", "PUT"));
    assert!(
        put_b <= 1 && put_main <= 1 && put_b + put_main >= 1,
        "the shared assignment was granted once per shard at most and at least once: b {put_b}, main {put_main}"
    );

    // b's binding goes; the assignment stays, as the main operator's binding still holds it
    // (b asks the API server for the namespace's other bindings, not only its own shard's).
    let assignment_ids = |control: &arm_emulator::Control| -> Vec<String> {
        control
            .resources()
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_ascii_lowercase))
            .filter(|id| id.contains("/providers/microsoft.authorization/roleassignments/"))
            .filter(|id| id.starts_with(&vault_id))
            .collect()
    };
    let granted = assignment_ids(&arm.control());
    assert_eq!(granted.len(), 1, "{granted:?}");
    api_of(
        &client,
        "KeyVaultBinding",
        plural("KeyVaultBinding"),
        "team-b",
    )
    .delete("kv-b", &Default::default())
    .await
    .expect("deleted");
    eventually("b's binding to go", Duration::from_secs(20), || async {
        let api = api_of(
            &client,
            "KeyVaultBinding",
            plural("KeyVaultBinding"),
            "team-b",
        );
        match api.get_opt("kv-b").await.expect("get") {
            None => Ok(()),
            Some(_) => Err("still there".to_string()),
        }
    })
    .await;
    assert_eq!(
        assignment_ids(&arm.control()),
        granted,
        "the shared assignment stays"
    );
    wait_ready(&client, &[("KeyVaultBinding", "team-b", "kv-shared")]).await;

    // Each shard elects its own leader.
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    for (name, holder) in [
        ("azop-leader", "operator-azop-leader"),
        ("azop-leader-a", "operator-azop-leader-a"),
        ("azop-leader-b", "operator-azop-leader-b"),
    ] {
        let lease = leases
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("Lease {name}: {e}"));
        assert_eq!(
            lease.spec.and_then(|s| s.holder_identity).as_deref(),
            Some(holder),
            "Lease {name}"
        );
    }

    // Relabelled from a to b: b takes the group over (it reads it at once, and then every sync
    // period), a stops looking at it, and nobody deletes it.
    let moving = group_id("rg-move");
    let b_before = operators["b"].touched.on(&moving);
    assert_eq!(b_before, 0, "b never looked at a's group");
    set_shard(&client, "ResourceGroup", "team-a", "rg-move", "b").await;
    read_again(
        &operators["b"],
        &moving,
        0,
        "shard b to read the moved group",
    )
    .await;
    // A reconcile a had in flight (or began from a copy its watch had not yet taken back)
    // may still finish: a is settled once it has read nothing of the group for 2 s. After
    // that, a never reads it again.
    let mut a_after_move = operators["a"].touched.on(&moving);
    let settling = tokio::time::Instant::now();
    let mut quiet_since = settling;
    while quiet_since.elapsed() < Duration::from_secs(2)
        && settling.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = operators["a"].touched.on(&moving);
        if now != a_after_move {
            (a_after_move, quiet_since) = (now, tokio::time::Instant::now());
        }
    }
    let b_after_move = operators["b"].touched.on(&moving);
    tokio::time::sleep(SYNC_PERIOD * 3).await;
    assert_eq!(
        operators["a"].touched.on(&moving),
        a_after_move,
        "shard a stopped requeueing the group it no longer holds"
    );
    assert!(
        operators["b"].touched.on(&moving) > b_after_move,
        "shard b keeps it in sync"
    );
    let deletes: Vec<_> = operators
        .values()
        .flat_map(|o| o.touched.all())
        .filter(|(m, _)| m == "DELETE")
        .collect();
    assert!(deletes.is_empty(), "nothing was deleted: {deletes:?}");
    let held = arm.control().resources().iter().any(|r| {
        r["id"]
            .as_str()
            .is_some_and(|id| id.eq_ignore_ascii_case(&moving))
    });
    assert!(held, "the moved group still exists in Azure");
    let moved = get(&client, "ResourceGroup", "team-a", "rg-move").await;
    assert!(
        moved.finalizers().iter().any(|f| f == azop_api::FINALIZER),
        "the finalizer stays"
    );
    assert_eq!(ready_of(&moved).map(|r| r.0).as_deref(), Some("True"));

    // And back to a, unchanged: a reconciles it again (it forgot it when it left).
    set_shard(&client, "ResourceGroup", "team-a", "rg-move", "a").await;
    read_again(
        &operators["a"],
        &moving,
        a_after_move,
        "shard a to read the group again",
    )
    .await;

    for (_, operator) in operators {
        let _ = operator.stop.send(());
        let stopped = tokio::time::timeout(Duration::from_secs(10), operator.task)
            .await
            .expect("the operator stops");
        stopped.expect("no panic").expect("a clean stop");
    }
}
