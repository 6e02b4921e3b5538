//! Prometheus metrics, `/metrics`, `/healthz` and `/readyz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `kind` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The azop kind.
    pub kind: String,
}

/// `kind` + `result` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// The azop kind.
    pub kind: String,
    /// `ok` or `error`.
    pub result: String,
}

/// `kind` + `ready` labels.
/// Labels of a failure: the kind and the error class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// The azop kind.
    pub kind: String,
    /// The error class.
    pub class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReadinessLabels {
    /// The azop kind.
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub ready: String,
}

/// `subscription` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SubscriptionLabel {
    /// The subscription id, lower-cased.
    pub subscription: String,
}

/// `method` + `status` labels of ARM requests.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ArmLabels {
    /// HTTP method.
    pub method: String,
    /// HTTP status, or `error` for no answer.
    pub status: String,
}

/// `vault` + `status` labels of Key Vault requests.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VaultLabels {
    /// The vault's name.
    pub vault: String,
    /// HTTP status, or `error` for no answer.
    pub status: String,
}

/// Everything azop exports.
pub struct Metrics {
    registry: Registry,
    /// Reconciles by kind and result.
    pub reconciles: Family<ResultLabels, Counter>,
    /// Failed reconciles by kind and error class (`Transient`, `Throttled`, `Stalled`, …).
    pub reconcile_failures: Family<FailureLabels, Counter>,
    /// Reconcile duration by kind.
    pub reconcile_duration: Family<KindLabel, Histogram>,
    /// Reconcile time outside ARM requests, by kind.
    pub reconcile_overhead: Family<KindLabel, Histogram>,
    /// ARM requests by method and status.
    pub arm_requests: Family<ArmLabels, Counter>,
    /// Waits for a client-side or server-side (429) throttle.
    pub throttled_waits: Counter,
    /// Azure operations azop is polling, by kind.
    pub operations_in_flight: Family<KindLabel, Gauge>,
    /// Objects by kind and Ready status.
    pub objects: Family<ReadinessLabels, Gauge>,
    /// Role assignments azop manages, by subscription (Azure allows 4,000 per subscription).
    pub role_assignments: Family<SubscriptionLabel, Gauge>,
    /// Key Vault data-plane requests (KeyVaultBinding secret sync) by vault and status.
    pub key_vault_requests: Family<VaultLabels, Counter>,
    ready: AtomicBool,
    arm_source: std::sync::OnceLock<ArmSource>,
    key_vault_source: std::sync::OnceLock<azop_arm::KeyVaultClient>,
}

/// Where ARM request counts come from: the ARM client's own counters, read at scrape time.
type ArmSource = Box<dyn Fn() -> (std::collections::BTreeMap<String, u64>, u64) + Send + Sync>;

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("azop");
        let reconciles = Family::<ResultLabels, Counter>::default();
        let reconcile_duration = Family::<KindLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        let reconcile_overhead = Family::<KindLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 16))
        });
        registry.register(
            "reconcile_overhead_seconds",
            "Time a reconcile spends outside ARM requests and budget waits: azop's own work and the Kubernetes API",
            reconcile_overhead.clone(),
        );
        let arm_requests = Family::<ArmLabels, Counter>::default();
        let reconcile_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "reconcile_failures",
            "Failed reconciles by kind and error class",
            reconcile_failures.clone(),
        );
        let throttled_waits = Counter::default();
        let operations_in_flight = Family::<KindLabel, Gauge>::default();
        let objects = Family::<ReadinessLabels, Gauge>::default();
        registry.register(
            "reconciles",
            "Reconciles by kind and result",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration",
            reconcile_duration.clone(),
        );
        registry.register(
            "arm_requests",
            "ARM requests by method and status",
            arm_requests.clone(),
        );
        registry.register(
            "throttled_waits",
            "Waits for ARM throttling",
            throttled_waits.clone(),
        );
        registry.register(
            "operations_in_flight",
            "Azure operations being polled",
            operations_in_flight.clone(),
        );
        registry.register("objects", "Objects by kind and readiness", objects.clone());
        let role_assignments = Family::<SubscriptionLabel, Gauge>::default();
        registry.register(
            "role_assignments",
            "Role assignments azop manages, by subscription (Azure allows 4,000 per subscription)",
            role_assignments.clone(),
        );
        let key_vault_requests = Family::<VaultLabels, Counter>::default();
        registry.register(
            "key_vault_requests",
            "Key Vault data-plane requests (secret sync) by vault and status",
            key_vault_requests.clone(),
        );
        Metrics {
            registry,
            key_vault_requests,
            reconciles,
            reconcile_failures,
            reconcile_duration,
            reconcile_overhead,
            arm_requests,
            throttled_waits,
            operations_in_flight,
            objects,
            role_assignments,
            ready: AtomicBool::new(false),
            arm_source: std::sync::OnceLock::new(),
            key_vault_source: std::sync::OnceLock::new(),
        }
    }
}

impl Metrics {
    /// Records one reconcile.
    pub fn reconciled(&self, kind: &str, failure: Option<&str>, took: Duration) {
        self.reconciles
            .get_or_create(&ResultLabels {
                kind: kind.to_string(),
                result: if failure.is_none() { "ok" } else { "error" }.to_string(),
            })
            .inc();
        if let Some(class) = failure {
            self.reconcile_failures
                .get_or_create(&FailureLabels {
                    kind: kind.to_string(),
                    class: class.to_string(),
                })
                .inc();
        }
        self.reconcile_duration
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Records the part of one reconcile spent outside ARM.
    pub fn overhead(&self, kind: &str, took: Duration) {
        self.reconcile_overhead
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Exports the ARM client's counters: `source` answers requests by `"METHOD STATUS"` and
    /// throttled waits, and is read at every scrape.
    pub fn follow_arm(
        &self,
        source: impl Fn() -> (std::collections::BTreeMap<String, u64>, u64) + Send + Sync + 'static,
    ) {
        let _ = self.arm_source.set(Box::new(source));
    }

    fn sync_arm(&self) {
        let Some(source) = self.arm_source.get() else {
            return;
        };
        let (counts, waits) = source();
        for (key, n) in counts {
            let (method, status) = key.split_once(' ').unwrap_or((key.as_str(), ""));
            let c = self.arm_requests.get_or_create(&ArmLabels {
                method: method.to_string(),
                status: status.to_string(),
            });
            c.inc_by(n.saturating_sub(c.get()));
        }
        self.throttled_waits
            .inc_by(waits.saturating_sub(self.throttled_waits.get()));
    }

    /// Exports the Key Vault client's counters (by vault and status), read at every scrape.
    pub fn follow_key_vault(&self, client: azop_arm::KeyVaultClient) {
        let _ = self.key_vault_source.set(client);
    }

    fn sync_key_vault(&self) {
        let Some(client) = self.key_vault_source.get() else {
            return;
        };
        for ((vault, status), n) in client.request_counts() {
            let c = self
                .key_vault_requests
                .get_or_create(&VaultLabels { vault, status });
            c.inc_by(n.saturating_sub(c.get()));
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        self.sync_arm();
        self.sync_key_vault();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Marks the operator ready (caches synced, leading) or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr` until the future is dropped.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    serve_on(tokio::net::TcpListener::bind(addr).await?, metrics).await
}

/// Serves `/metrics`, `/healthz` and `/readyz` on a bound listener until dropped.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
) -> std::io::Result<()> {
    use axum::http::StatusCode;
    use axum::routing::get;
    let m = metrics.clone();
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = m.clone();
                async move { m.render() }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let m = metrics.clone();
                async move {
                    if m.is_ready() {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                    }
                }
            }),
        );
    axum::serve(listener, app).await
}
