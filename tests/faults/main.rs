//! The fault suite: azop (`azop run`, its own process) against the emulators while things go
//! wrong, then a count of what it left in Azure: every object converges, nothing is created
//! twice, nothing stays behind after its object is deleted.
//!
//! ```text
//! cargo test -p azop --test faults                      # CI: small N, a seed from the clock
//! cargo test -p azop --test faults -- --long            # the figures of the closing note
//! cargo test -p azop --test faults -- --seed 1234       # replay a failing run
//! cargo test -p azop --test faults -- --only crash      # one scenario: crash | aimed | bad | kube | leader | azure
//! ```
//!
//! Scenarios:
//! - crash: the operator is SIGKILLed at seeded random points, N times, while sets of objects
//!   of every kind are created, updated and deleted, and started again each time.
//! - aimed: the operator is SIGKILLed while Azure holds the answer to one chosen write (a
//!   group, vault, identity, federated credential, role assignment or cluster PUT, a group
//!   DELETE): done in Azure, never recorded in status; for some the set is deleted while the
//!   operator is down.
//! - bad: objects of every kind stored around validation (wrong types, fields missing, unknown
//!   fields) and specs generated from the CRDs' schemas through admission: each refused naming
//!   a field, or given a condition or Event a person can act on, while good sets converge;
//!   neither process crashes; deleting them leaves nothing in Azure.
//! - azure: the arm-emulator misbehaves while a new set is created: 429 storms with a long
//!   Retry-After, 500/503 bursts, connections reset mid-answer, latency spikes, an operation
//!   that ends Failed, a PUT whose answer is lost. Requests per second during and after each.
//! - kube: the kube-emulator misbehaves while sets change: watch streams cut with their
//!   history compacted (410 Gone), status writes answered 409 Conflict, the API server gone
//!   (503 to everything) and back; the operator keeps running and catches up.
//! - leader: two replicas with leader election; the leader is SIGKILLed mid-create, the other
//!   takes the Lease, and no Azure resource is written twice.
//!
//! After each: exactly the expected Azure resources per live set (duplicates counted), none
//! under a deleted set (leaks), no object short of Ready or of gone (stuck). Each set's binding
//! syncs a vault secret into a Secret (as the binding's own identity, through Entra's token
//! exchange). The secrets the suite used (the operator's ARM and Kubernetes tokens, the vault
//! secret's value, every access token Entra issued) are then searched for in everything the
//! operator wrote: its logs (at debug level), Events, statuses and metrics; and the vault
//! secret must be in each live set's Secret, where it belongs. The table printed at the end is the
//! figures; any duplicate, leak, stuck object or secret found fails the run, with its seed.

mod harness;

use harness::{Env, Fault, KubeFault, Row, Scale};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let long = args.iter().any(|a| a == "--long");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seed = value("--seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(azop_e2e::now_ms);
    let only = value("--only");
    let scale = if long { Scale::long() } else { Scale::small() };
    println!(
        "fault suite: seed {seed} ({} mode); replay with `cargo test -p azop --test faults -- --seed {seed}{}`",
        if long { "long" } else { "small" },
        if long { " --long" } else { "" }
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows: Vec<Row> = Vec::new();
    let mut secrets_found = Vec::new();
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    rt.block_on(async {
        if run("crash") {
            let mut env = Env::start("crash").await;
            rows.push(harness::crash(&mut env, &scale, seed).await);
            secrets_found.extend(env.secrets_found().await);
            env.stop();
        }
        if run("aimed") {
            let mut env = Env::start("aimed").await;
            rows.push(harness::aimed(&mut env, &scale).await);
            secrets_found.extend(env.secrets_found().await);
            env.stop();
        }
        if run("bad") {
            let mut env = Env::start("bad").await;
            rows.push(harness::bad_input(&mut env, &scale, seed).await);
            secrets_found.extend(env.secrets_found().await);
            env.stop();
        }
        if run("kube") {
            let mut env = Env::start("kube").await;
            for fault in KubeFault::all() {
                rows.push(harness::kube_fault(&mut env, &scale, seed, fault).await);
            }
            secrets_found.extend(env.secrets_found().await);
            env.stop();
        }
        if run("leader") {
            let mut env = Env::start_with("leader", true).await;
            rows.push(harness::leader_failover(&mut env, &scale, seed).await);
            secrets_found.extend(env.secrets_found().await);
            env.stop();
        }
        if run("azure") {
            let mut env = Env::start("azure").await;
            for fault in Fault::all(&scale) {
                rows.push(harness::azure_fault(&mut env, &scale, seed, &fault).await);
            }
            secrets_found.extend(env.secrets_found().await);
            env.stop();
        }
    });
    println!();
    println!("{}", Row::header());
    for r in &rows {
        println!("{}", r.line());
    }
    println!(
        "secrets found in logs, Events, statuses and metrics: {} (target 0){}",
        secrets_found.len(),
        if secrets_found.is_empty() {
            String::new()
        } else {
            format!(": {secrets_found:?}")
        }
    );
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.clean()).collect();
    if !failed.is_empty() || !secrets_found.is_empty() {
        for r in &failed {
            eprintln!("FAILED {}: {}", r.fault, r.problems.join("; "));
        }
        eprintln!("fault suite failed; replay with --seed {seed}");
        std::process::exit(1);
    }
}
