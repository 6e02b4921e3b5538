//! Throughput benchmark: the emulator in process (throttling off), driven over loopback by many
//! concurrent keep-alive clients with a GET/PUT mix on resource groups and user-assigned
//! identities across many ids. Runs a fixed time per phase (HTTPS, then plain HTTP to separate
//! the TLS cost) and stops by itself well under a minute.
//!
//! `cargo run --release -p arm-emulator --example bench_throughput [-- SECONDS [CONNECTIONS]]`
//!
//! The clients share the machine's cores with the emulator, so the figure is what one process
//! serving and loading itself reaches, a lower bound for the emulator alone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arm_emulator::{ArmEmulator, Config, ThrottleLimits};
use serde_json::json;

const SUB: &str = "0b5e1d5c-6f43-4e0e-8d7c-2a0c1b4e9f10";
const GROUPS: usize = 100;
const IDENTITIES_PER_GROUP: usize = 10;
/// Percentage of requests that are GETs; the rest are PUTs.
const GET_PERCENT: u64 = 80;

/// One worker's measurements.
#[derive(Default)]
struct Tally {
    get_micros: Vec<u32>,
    put_micros: Vec<u32>,
    get_errors: u64,
    put_errors: u64,
}

/// A tiny xorshift generator: the benchmark needs cheap spread, not quality randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn group_path(g: usize) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/bench-rg-{g}")
}

fn identity_path(g: usize, i: usize) -> String {
    format!(
        "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/bench-id-{i}",
        group_path(g)
    )
}

async fn seed(client: &reqwest::Client, base: &str) {
    for g in 0..GROUPS {
        let r = client
            .put(format!("{base}{}?api-version=2020-06-01", group_path(g)))
            .bearer_auth("bench")
            .json(&json!({"location": "westeurope"}))
            .send()
            .await
            .expect("seed group");
        assert!(r.status().is_success(), "seed group: {}", r.status());
        for i in 0..IDENTITIES_PER_GROUP {
            let r = client
                .put(format!(
                    "{base}{}?api-version=2023-01-31",
                    identity_path(g, i)
                ))
                .bearer_auth("bench")
                .json(&json!({"location": "westeurope"}))
                .send()
                .await
                .expect("seed identity");
            assert!(r.status().is_success(), "seed identity: {}", r.status());
        }
    }
}

async fn worker(
    client: reqwest::Client,
    base: Arc<String>,
    seed: u64,
    until: Instant,
    warm_until: Instant,
) -> Tally {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut t = Tally::default();
    while Instant::now() < until {
        let g = (rng.next() % GROUPS as u64) as usize;
        let identity = rng.next().is_multiple_of(2);
        let (path, api) = if identity {
            let i = (rng.next() % IDENTITIES_PER_GROUP as u64) as usize;
            (identity_path(g, i), "2023-01-31")
        } else {
            (group_path(g), "2020-06-01")
        };
        let url = format!("{base}{path}?api-version={api}");
        let get = rng.next() % 100 < GET_PERCENT;
        let started = Instant::now();
        let req = if get {
            client.get(url)
        } else {
            let tag = rng.next() % 1000;
            client
                .put(url)
                .json(&json!({"location": "westeurope", "tags": {"bench": tag.to_string()}}))
        };
        let ok = match req.bearer_auth("bench").send().await {
            Ok(r) => {
                let success = r.status().is_success();
                // Read the whole body, as a real client does.
                r.bytes().await.is_ok() && success
            }
            Err(_) => false,
        };
        if started < warm_until {
            continue;
        }
        let micros = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        match (get, ok) {
            (true, true) => t.get_micros.push(micros),
            (false, true) => t.put_micros.push(micros),
            (true, false) => t.get_errors += 1,
            (false, false) => t.put_errors += 1,
        }
    }
    t
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn phase(
    name: &str,
    client: &reqwest::Client,
    base: &str,
    connections: usize,
    seconds: u64,
) -> f64 {
    let warm = Duration::from_secs(1);
    let start = Instant::now();
    let warm_until = start + warm;
    let until = warm_until + Duration::from_secs(seconds);
    let base = Arc::new(base.to_string());
    let tasks: Vec<_> = (0..connections)
        .map(|w| {
            tokio::spawn(worker(
                client.clone(),
                base.clone(),
                w as u64 + 1,
                until,
                warm_until,
            ))
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.expect("worker");
        all.get_micros.extend(t.get_micros);
        all.put_micros.extend(t.put_micros);
        all.get_errors += t.get_errors;
        all.put_errors += t.put_errors;
    }
    let measured = (Instant::now() - warm_until).as_secs_f64();
    all.get_micros.sort_unstable();
    all.put_micros.sort_unstable();
    let mut both: Vec<u32> = all
        .get_micros
        .iter()
        .chain(&all.put_micros)
        .copied()
        .collect();
    both.sort_unstable();
    let total = both.len() as f64 / measured;
    println!(
        "{name}: {connections} connections, {measured:.1} s measured (after 1 s warm-up)\n  \
         overall  {total:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}\n  \
         GET      {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}\n  \
         PUT      {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
        percentile(&both, 0.50),
        percentile(&both, 0.99),
        all.get_errors + all.put_errors,
        all.get_micros.len() as f64 / measured,
        percentile(&all.get_micros, 0.50),
        percentile(&all.get_micros, 0.99),
        all.get_errors,
        all.put_micros.len() as f64 / measured,
        percentile(&all.put_micros, 0.50),
        percentile(&all.put_micros, 0.99),
        all.put_errors,
    );
    total
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10)
        .min(25);
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = Config {
        lro_duration: Duration::ZERO,
        principal_propagation_delay: Duration::ZERO,
        throttling: ThrottleLimits {
            enabled: false,
            ..ThrottleLimits::default()
        },
        ..Config::default()
    };
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let emulator = ArmEmulator::start_on(config, loopback, Some(loopback))
        .await
        .expect("emulator");
    let client = |https: bool| {
        let mut b = reqwest::Client::builder()
            .http1_only()
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true);
        if https {
            b = b.add_root_certificate(
                reqwest::Certificate::from_pem(emulator.ca_pem().as_bytes()).expect("CA"),
            );
        }
        b.build().expect("client")
    };
    let https = client(true);
    let http = client(false);
    let http_url = emulator.http_url().expect("http listener");
    seed(&http, &http_url).await;
    println!(
        "arm-emulator throughput: {} cores, {GET_PERCENT}% GET / {}% PUT over {} resource groups \
         and {} identities",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        100 - GET_PERCENT,
        GROUPS,
        GROUPS * IDENTITIES_PER_GROUP
    );
    let tls = phase("HTTPS", &https, &emulator.url(), connections, seconds).await;
    emulator.control().clear_log();
    let plain = phase("HTTP ", &http, &http_url, connections, seconds).await;
    println!(
        "target 5000 req/s: HTTPS {} ({tls:.0}), HTTP {} ({plain:.0})",
        if tls >= 5000.0 { "met" } else { "NOT met" },
        if plain >= 5000.0 { "met" } else { "NOT met" },
    );
}
