//! `azop run`: the operator for a real cluster and real Azure (or any ARM endpoint, such as a
//! standalone arm-emulator).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use std::sync::Arc;

use azop_arm::{ArmConfig, CredentialConfig, TokenFile};
use azop_controller::engine::EngineConfig;
use azop_controller::engine::Identities;
use azop_controller::runner::{LeaderElection, RunOptions, Shard};

use crate::identities::ArmIdentities;
use crate::operator::{LogFormat, Operator, init_logging, parse_duration, shutdown_signal};

/// Which Azure credential to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CredentialKind {
    /// Workload identity if its variables are set, else a client secret if
    /// `AZURE_CLIENT_SECRET` is set, else managed identity if the host offers it, else the
    /// Azure CLI.
    Auto,
    /// `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE`.
    WorkloadIdentity,
    /// The host's managed identity (`AZURE_CLIENT_ID` picks a user-assigned one).
    ManagedIdentity,
    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`.
    ClientSecret,
    /// The Azure CLI's signed-in account.
    AzureCli,
    /// The bearer token in `AZOP_ARM_TOKEN` (for an arm-emulator, which accepts any token).
    StaticToken,
}

/// `azop run`'s flags; every one also reads an `AZOP_*` environment variable.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The kubeconfig; default: `KUBECONFIG`, `~/.kube/config`, then the in-cluster config.
    #[arg(long, env = "AZOP_KUBECONFIG_PATH")]
    kubeconfig: Option<PathBuf>,
    /// The ARM endpoint.
    #[arg(
        long,
        env = "AZOP_ARM_ENDPOINT",
        default_value = "https://management.azure.com"
    )]
    arm_endpoint: String,
    /// Extra CA certificates (PEM) to trust for the ARM endpoint.
    #[arg(long, env = "AZOP_ARM_CA_FILE")]
    arm_ca_file: Option<PathBuf>,
    /// The Azure credential.
    #[arg(long, env = "AZOP_CREDENTIAL", value_enum, default_value = "auto")]
    credential: CredentialKind,
    /// The subscription platform namespaces use when no AzureProfile selects them.
    #[arg(
        long,
        env = "AZOP_SUBSCRIPTION_ID",
        default_value = "00000000-0000-0000-0000-000000000000"
    )]
    subscription_id: String,
    /// The tenant platform namespaces use when no AzureProfile selects them.
    #[arg(
        long,
        env = "AZOP_TENANT_ID",
        default_value = "00000000-0000-0000-0000-000000000000"
    )]
    tenant_id: String,
    /// Names this management cluster in the ownership tags of Azure resources; default: the
    /// UID of the cluster's kube-system namespace. Unique per management cluster.
    #[arg(long, env = "AZOP_CLUSTER_ID")]
    cluster_id: Option<String>,
    /// Namespaces that may use the defaults above without an AzureProfile (repeatable).
    #[arg(
        long = "platform-namespace",
        env = "AZOP_PLATFORM_NAMESPACES",
        value_delimiter = ','
    )]
    platform_namespaces: Vec<String>,
    /// The OIDC issuer of this cluster, for `issuer: {self: {}}`.
    #[arg(long, env = "AZOP_ISSUER_URL")]
    issuer_url: Option<String>,
    /// How often an in-sync object is re-read from Azure to catch drift.
    #[arg(long, env = "AZOP_SYNC_PERIOD", default_value = "1h", value_parser = parse_duration)]
    sync_period: Duration,
    /// Reconciles in flight per kind.
    #[arg(long, env = "AZOP_CONCURRENCY", default_value_t = 32)]
    concurrency: u16,
    /// ARM requests in flight at most.
    #[arg(long, env = "AZOP_ARM_CONCURRENCY", default_value_t = 64)]
    arm_concurrency: usize,
    /// Scales the client's ARM buckets, which are 98% of ARM's published per-principal limits
    /// (reads 250 burst and 25/s, writes and deletes 200 and 10/s). Lower it to leave room for
    /// other clients signed in as the same principal; raise it only against an endpoint whose
    /// limits are higher (an arm-emulator with its throttling off).
    #[arg(long, env = "AZOP_ARM_RATE_LIMIT_SCALE", default_value_t = 1.0, value_parser = parse_scale)]
    arm_rate_limit_scale: f64,
    /// Serve /metrics, /healthz and /readyz here.
    #[arg(long, env = "AZOP_METRICS_LISTEN", default_value = "0.0.0.0:8080")]
    metrics_listen: SocketAddr,
    /// Take a Lease before reconciling, so several replicas are safe.
    #[arg(long, env = "AZOP_LEADER_ELECTION")]
    leader_election: bool,
    /// The Lease's namespace.
    #[arg(long, env = "AZOP_LEASE_NAMESPACE", default_value = "azop-system")]
    lease_namespace: String,
    /// The Lease's name; default: `azop-leader`, and `azop-leader-KEY` with `--shard KEY` (each
    /// shard elects its own leader).
    #[arg(long, env = "AZOP_LEASE_NAME")]
    lease_name: Option<String>,
    /// Reconcile only the objects labelled `sharding.azop.dev/key=KEY`, as Flux shards its
    /// controllers: each shard its own Deployment, with its own Lease. References to objects of
    /// other shards are read from the API server. AzureProfile status is left to the main
    /// operator (`--exclude-shards`).
    #[arg(long, env = "AZOP_SHARD", value_name = "KEY", value_parser = parse_shard, conflicts_with = "exclude_shards")]
    shard: Option<Shard>,
    /// Reconcile only the objects without the `sharding.azop.dev/key` label: the main
    /// operator when `--shard` operators run beside it.
    #[arg(long, env = "AZOP_EXCLUDE_SHARDS")]
    exclude_shards: bool,
    /// Entra's endpoint (`AZURE_AUTHORITY_HOST`), for sovereign clouds or an arm-emulator.
    #[arg(long, env = "AZURE_AUTHORITY_HOST")]
    authority_host: Option<String>,
    /// The operator's projected ServiceAccount token. With it, objects governed by an
    /// AzureProfile that names `credential.workloadIdentity.clientId` are reconciled as that
    /// identity (the token exchanged through its federated credential).
    #[arg(long, env = "AZURE_FEDERATED_TOKEN_FILE")]
    federated_token_file: Option<PathBuf>,
    /// The audience of ARM tokens; default: the ARM endpoint. Set it to
    /// `https://management.azure.com` when the endpoint is an arm-emulator.
    #[arg(long, env = "AZOP_ARM_AUDIENCE")]
    arm_audience: Option<String>,
    /// The audience of Key Vault tokens (secret sync); sovereign clouds have their own.
    #[arg(long, env = "AZOP_KEY_VAULT_AUDIENCE", default_value = azop_arm::KEY_VAULT_AUDIENCE)]
    key_vault_audience: String,
    /// azop creates no role assignment once it manages this many in a subscription (Azure's
    /// fixed limit is 4,000 and fails abruptly); it warns at 80% of Azure's limit.
    #[arg(long, env = "AZOP_ROLE_ASSIGNMENT_THRESHOLD", default_value_t = 3800)]
    role_assignment_threshold: usize,
    /// Log format.
    #[arg(long, env = "AZOP_LOG_FORMAT", value_enum, default_value = "json")]
    log_format: LogFormat,
}

fn credential(kind: CredentialKind) -> anyhow::Result<CredentialConfig> {
    Ok(match kind {
        CredentialKind::Auto => CredentialConfig::from_env(),
        CredentialKind::WorkloadIdentity => CredentialConfig::WorkloadIdentity,
        CredentialKind::ManagedIdentity => CredentialConfig::ManagedIdentity {
            client_id: std::env::var("AZURE_CLIENT_ID").ok(),
        },
        CredentialKind::ClientSecret => {
            let var = |k: &str| std::env::var(k).with_context(|| format!("{k} is not set"));
            CredentialConfig::ClientSecret {
                tenant_id: var("AZURE_TENANT_ID")?,
                client_id: var("AZURE_CLIENT_ID")?,
                secret: var("AZURE_CLIENT_SECRET")?,
            }
        }
        CredentialKind::AzureCli => CredentialConfig::AzureCli,
        CredentialKind::StaticToken => CredentialConfig::Static(
            std::env::var("AZOP_ARM_TOKEN").context("AZOP_ARM_TOKEN is not set")?,
        ),
    })
}

/// A positive, finite factor.
fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

fn parse_shard(key: &str) -> Result<Shard, String> {
    Shard::key(key)
}

impl RunArgs {
    /// Which objects to reconcile.
    fn shard(&self) -> Shard {
        match (&self.shard, self.exclude_shards) {
            (Some(shard), _) => shard.clone(),
            (None, true) => Shard::Unlabelled,
            (None, false) => Shard::All,
        }
    }

    /// The Lease: `--lease-name`, else the shard's own.
    fn lease_name(&self) -> String {
        self.lease_name
            .clone()
            .unwrap_or_else(|| self.shard().default_lease_name())
    }
}

async fn kube_client(kubeconfig: Option<&PathBuf>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?
        }
        None => kube::Config::infer()
            .await
            .context("no kubeconfig and not in a cluster")?,
    };
    Ok(kube::Client::try_from(config)?)
}

/// Runs the operator until Ctrl-C or SIGTERM.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(args.log_format, "info,kube_runtime=warn");
    let client = kube_client(args.kubeconfig.as_ref()).await?;
    let ca_bundle_pem = match &args.arm_ca_file {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
        }
        None => None,
    };
    let identity = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| format!("azop-{}", std::process::id()));
    let cluster_id = crate::operator::cluster_id(&client, args.cluster_id.as_deref()).await?;
    tracing::info!(cluster_id = %cluster_id, "ownership marks name this cluster as {cluster_id}");
    let arm = ArmConfig {
        endpoint: args.arm_endpoint.clone(),
        ca_bundle_pem,
        credential: credential(args.credential)?,
        max_concurrency: args.arm_concurrency,
        rate_limits: azop_arm::RateLimits::default().scaled(args.arm_rate_limit_scale),
        authority_host: args.authority_host.clone(),
        audience: args.arm_audience.clone(),
        ..ArmConfig::default()
    };
    let key_vault = azop_arm::KeyVaultClient::new(azop_arm::KeyVaultConfig {
        ca_bundle_pem: arm.ca_bundle_pem.clone(),
        authority_host: arm.authority_host.clone(),
        audience: args.key_vault_audience.clone(),
        ..azop_arm::KeyVaultConfig::default()
    })
    .context("building the Key Vault client")?;
    let identities = args.federated_token_file.as_ref().map(|path| {
        Arc::new(ArmIdentities::new(
            arm.clone(),
            Arc::new(TokenFile(path.clone())),
        )) as Arc<dyn Identities>
    });
    let shard = args.shard();
    let operator = Operator::start(
        client,
        arm,
        EngineConfig {
            cluster_id: cluster_id.clone(),
            default_subscription_id: args.subscription_id.clone(),
            default_tenant_id: args.tenant_id.clone(),
            platform_namespaces: args.platform_namespaces.clone(),
            sync_period: args.sync_period,
            self_issuer_url: args.issuer_url.clone(),
            role_assignment_quota: azop_controller::quota::QuotaSettings {
                threshold: args.role_assignment_threshold,
                ..Default::default()
            },
            // Periodic checks take a share of the read bucket the client keeps.
            sync_reads_per_second: EngineConfig::default().sync_reads_per_second
                * args.arm_rate_limit_scale,
            ..EngineConfig::default()
        },
        RunOptions {
            identities,
            key_vault: Some(key_vault),
            concurrency: args.concurrency,
            leader_election: args.leader_election.then(|| LeaderElection {
                namespace: args.lease_namespace.clone(),
                lease_name: args.lease_name(),
                identity,
            }),
            shard: shard.clone(),
        },
        Some(args.metrics_listen),
    )
    .await?;
    tracing::info!(endpoint = %args.arm_endpoint, cluster_id = %cluster_id, shard = %shard, "azop running");
    operator
        .run_until(async {
            shutdown_signal().await;
            tracing::info!("shutting down");
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("azop-run").chain(args.iter().copied())).map(|c| c.run)
    }

    #[test]
    fn shard_flags_choose_the_objects_and_the_lease() {
        let all = parse(&[]).expect("no flags");
        assert_eq!(all.shard(), Shard::All);
        assert_eq!(all.lease_name(), "azop-leader");
        let a = parse(&["--shard", "a"]).expect("--shard a");
        assert_eq!(a.shard(), Shard::Key("a".into()));
        assert_eq!(a.lease_name(), "azop-leader-a", "each shard its own Lease");
        let named = parse(&["--shard", "a", "--lease-name", "mine"]).expect("a named Lease");
        assert_eq!(named.lease_name(), "mine", "an explicit --lease-name wins");
        let main = parse(&["--exclude-shards"]).expect("--exclude-shards");
        assert_eq!(main.shard(), Shard::Unlabelled);
        assert_eq!(
            main.lease_name(),
            "azop-leader",
            "the main operator keeps its Lease"
        );
    }

    #[test]
    fn shard_and_exclude_shards_conflict_and_a_bad_key_is_refused() {
        let both = parse(&["--shard", "a", "--exclude-shards"]).expect_err("both");
        assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
        for bad in ["", "A", "a_b", "-a", "a-", &"x".repeat(64)] {
            let refused = parse(&[&format!("--shard={bad}")]).expect_err(bad);
            assert_eq!(
                refused.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{bad:?}"
            );
        }
        assert!(parse(&["--shard", "team-a-1"]).is_ok());
    }
}
