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
use azop_controller::runner::{LeaderElection, RunOptions};

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
    /// Serve /metrics, /healthz and /readyz here.
    #[arg(long, env = "AZOP_METRICS_LISTEN", default_value = "0.0.0.0:8080")]
    metrics_listen: SocketAddr,
    /// Take a Lease before reconciling, so several replicas are safe.
    #[arg(long, env = "AZOP_LEADER_ELECTION")]
    leader_election: bool,
    /// The Lease's namespace.
    #[arg(long, env = "AZOP_LEASE_NAMESPACE", default_value = "azop-system")]
    lease_namespace: String,
    /// The Lease's name.
    #[arg(long, env = "AZOP_LEASE_NAME", default_value = "azop-leader")]
    lease_name: String,
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
            ..EngineConfig::default()
        },
        RunOptions {
            identities,
            key_vault: Some(key_vault),
            concurrency: args.concurrency,
            leader_election: args.leader_election.then(|| LeaderElection {
                namespace: args.lease_namespace.clone(),
                lease_name: args.lease_name.clone(),
                identity,
            }),
        },
        Some(args.metrics_listen),
    )
    .await?;
    tracing::info!(endpoint = %args.arm_endpoint, cluster_id = %cluster_id, "azop running");
    operator
        .run_until(async {
            shutdown_signal().await;
            tracing::info!("shutting down");
        })
        .await
}
