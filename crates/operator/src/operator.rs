//! What `azop run` and `azop dev` share: the ARM client, the metrics endpoint, logging, the
//! controllers, and a graceful stop on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use azop_arm::{ArmClient, ArmConfig, KeyVaultClient, KeyVaultConfig};
use azop_controller::engine::EngineConfig;
use azop_controller::metrics::{self, Metrics};
use azop_controller::runner::{self, RunOptions};
use tracing_subscriber::EnvFilter;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for a cluster's log pipeline).
    Json,
    /// Human-readable lines.
    Text,
}

/// Sets up logging to stderr; `RUST_LOG` overrides `default_filter`.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Parses `500ms`, `30s`, `10m`, `1h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 30s, 10m or 1h"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{text:?}: the unit must be ms, s, m or h")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{text:?}: {e}"))
}

/// The id that names this management cluster in the ownership marks azop writes to Azure:
/// `explicit` when given, else the UID of the cluster's `kube-system` namespace, which is unique
/// per cluster and lives as long as it does. Two management clusters must never share one, or
/// each would take the other's resources for its own.
pub async fn cluster_id(client: &kube::Client, explicit: Option<&str>) -> anyhow::Result<String> {
    if let Some(id) = explicit.filter(|id| !id.trim().is_empty()) {
        anyhow::ensure!(
            id.len() <= 64 && !id.contains('/'),
            "--cluster-id {id:?}: at most 64 characters and no '/' (it is the first part of the azop.dev/owner tag)"
        );
        return Ok(id.to_string());
    }
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(client.clone());
    let ns = namespaces.get("kube-system").await.context(
        "reading the kube-system namespace's UID for the cluster id (set --cluster-id to choose one)",
    )?;
    ns.metadata
        .uid
        .filter(|u| !u.is_empty())
        .context("the kube-system namespace has no UID; set --cluster-id")
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// A running operator: the task running the controllers.
pub struct Operator {
    task: tokio::task::JoinHandle<Result<(), runner::RunError>>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Operator {
    /// Starts the controllers and, if `metrics_listen` is set, `/metrics`, `/healthz` and
    /// `/readyz`.
    pub async fn start(
        client: kube::Client,
        arm: ArmConfig,
        engine: EngineConfig,
        options: RunOptions,
        metrics_listen: Option<SocketAddr>,
    ) -> anyhow::Result<Self> {
        let mut options = options;
        if options.key_vault.is_none() {
            // Secret sync reaches Entra and Key Vault through the same CA bundle and authority
            // host as ARM.
            options.key_vault = Some(
                KeyVaultClient::new(KeyVaultConfig {
                    ca_bundle_pem: arm.ca_bundle_pem.clone(),
                    authority_host: arm.authority_host.clone(),
                    ..KeyVaultConfig::default()
                })
                .context("building the Key Vault client")?,
            );
        }
        let arm = ArmClient::new(arm).context("building the ARM client")?;
        let metrics = Arc::new(Metrics::default());
        let counters = arm.clone();
        let identities = options.identities.clone();
        metrics.follow_arm(move || {
            let mut counts = counters.request_counts();
            let mut waits = counters.throttled_waits();
            if let Some(ids) = &identities {
                let (theirs, their_waits) = ids.request_counts();
                for (k, n) in theirs {
                    *counts.entry(k).or_insert(0) += n;
                }
                waits += their_waits;
            }
            (counts, waits)
        });
        if let Some(addr) = metrics_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the metrics endpoint to {addr}"))?;
            tracing::info!(addr = %listener.local_addr()?, "serving /metrics, /healthz, /readyz");
            tokio::spawn(metrics::serve_on(listener, metrics.clone()));
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(runner::run(
            client,
            Arc::new(arm),
            engine,
            options,
            metrics,
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(Operator { task, stop })
    }

    /// Runs until `signal` resolves (then stops gracefully) or the controllers stop on their
    /// own (a lost Lease), whichever comes first.
    pub async fn run_until(
        mut self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::select! {
            joined = &mut self.task => {
                joined.context("the controllers panicked")??;
                anyhow::bail!("the controllers stopped")
            }
            _ = signal => self.stop().await,
        }
    }

    /// Stops the controllers (in-flight reconciles are dropped; their state is in the objects'
    /// status, so the next start resumes them) and releases the Lease.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        match tokio::time::timeout(Duration::from_secs(10), self.task).await {
            Ok(joined) => joined
                .context("the controllers panicked")?
                .map_err(Into::into),
            Err(_) => anyhow::bail!("the controllers did not stop within 10s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err());
    }
}
