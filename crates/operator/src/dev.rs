//! `azop dev`: the whole chain on a laptop, in one process and on loopback only: the
//! kube-emulator, the arm-emulator, the CRDs, the examples (or `--apply DIR`), the operator
//! against both, a kubeconfig for kubectl, and a live table until Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use azop_arm::{ArmConfig, CredentialConfig};
use azop_controller::engine::EngineConfig;
use azop_controller::runner::RunOptions;

use azop_controller::tokens::{ServiceAccountToken, TOKEN_EXCHANGE_AUDIENCE};

use crate::identities::ArmIdentities;
use crate::operator::{LogFormat, Operator, init_logging, parse_duration, shutdown_signal};
use crate::{live_table, manifests};

/// `azop dev`'s flags.
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// The kube-emulator's address (loopback only; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    kube_listen: SocketAddr,
    /// The arm-emulator's HTTPS address (loopback only; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    arm_listen: SocketAddr,
    /// Also serve the arm-emulator over plain HTTP here, for curl and scripts.
    #[arg(long)]
    arm_http_listen: Option<SocketAddr>,
    /// Where to write the kubeconfig for kubectl.
    #[arg(long, default_value = "azop-dev.kubeconfig")]
    kubeconfig_out: PathBuf,
    /// Apply the YAML files of this directory (repeatable); replaces the examples unless
    /// they are asked for too.
    #[arg(long = "apply", value_name = "DIR")]
    apply: Vec<PathBuf>,
    /// Apply nothing (not even the examples).
    #[arg(long)]
    no_examples: bool,
    /// How long the arm-emulator's long-running operations take.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    lro_duration: Duration,
    /// How often an in-sync object is re-read to catch changes made behind azop's back.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    sync_period: Duration,
    /// Turn the arm-emulator's ARM throttling off.
    #[arg(long)]
    no_throttling: bool,
    /// Let any bearer token do anything in the arm-emulator (by default it checks role
    /// assignments as ARM does, and the operator signs in as the identities below).
    #[arg(long)]
    no_authorization: bool,
    /// Serve /metrics, /healthz and /readyz here.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// The operator's platform namespaces: they may use azop's defaults without an
    /// AzureProfile, and grant roles to any principal at any scope their profile allows.
    #[arg(long = "platform-namespace", default_values = ["default", "platform"])]
    platform_namespaces: Vec<String>,
    /// Do not draw the live table (log lines only).
    #[arg(long)]
    no_table: bool,
    /// Run the operator as the ServiceAccount azop-system/azop (a TokenRequest token), with
    /// only the RBAC the applied manifests grant it — the Helm chart's, rendered with `helm
    /// template --namespace azop-system` and given with `--apply` — instead of as the cluster
    /// administrator, and with leader election on its Lease (azop-system/azop-leader). A
    /// missing permission then shows as a 403 in the operator's log.
    #[arg(long)]
    operator_as_service_account: bool,
}

/// Plays the platform team's `az keyvault secret set`: every vault secret an example binding
/// syncs gets a generated demo value once azop has created its vault (each `azop dev` starts
/// with empty vaults). The values are printed nowhere; `kubectl get secret -o yaml` shows the copy.
async fn seed_vault_secrets(control: arm_emulator::Control, documents: Vec<serde_json::Value>) {
    let ns_of = |d: &serde_json::Value| {
        d.pointer("/metadata/namespace")
            .and_then(|v| v.as_str())
            .unwrap_or("default")
            .to_string()
    };
    let mut wanted: Vec<(String, String)> = Vec::new();
    for b in documents.iter().filter(|d| d["kind"] == "KeyVaultBinding") {
        let ns = ns_of(b);
        let vname = b.pointer("/spec/vaultRef/name").and_then(|v| v.as_str());
        let vns = b
            .pointer("/spec/vaultRef/namespace")
            .and_then(|v| v.as_str())
            .map_or(ns.clone(), str::to_string);
        let vault = documents.iter().find(|d| {
            d["kind"] == "KeyVault"
                && d.pointer("/metadata/name").and_then(|v| v.as_str()) == vname
                && ns_of(d) == vns
        });
        let Some(vault) = vault else { continue };
        let azure_name = vault
            .pointer("/spec/azureName")
            .or_else(|| vault.pointer("/metadata/name"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        for item in b
            .pointer("/spec/sync/items")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(secret) = item["vaultSecret"].as_str() {
                let pair = (azure_name.clone(), secret.to_string());
                if !wanted.contains(&pair) {
                    wanted.push(pair);
                }
            }
        }
    }
    while !wanted.is_empty() {
        wanted.retain(|(vault, secret)| {
            let value = format!("demo-{}", uuid::Uuid::new_v4().simple());
            match control.set_secret(vault, secret, &value) {
                Some(_) => {
                    tracing::info!(vault = %vault, secret = %secret, "seeded a demo secret value");
                    false
                }
                None => true,
            }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The examples shipped with azop: `./examples`, else the source tree's.
fn examples_dir() -> anyhow::Result<PathBuf> {
    let candidates = [
        PathBuf::from("examples"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples"),
    ];
    candidates
        .into_iter()
        .find(|p| p.join("01-profiles.yaml").is_file())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no examples/ directory found here; run from azop's checkout, or pass --apply DIR or --no-examples"
            )
        })
}

/// The operator's own ServiceAccount in `azop dev`, whose token is its only credential.
const OPERATOR_NAMESPACE: &str = "azop-system";
const OPERATOR_SERVICE_ACCOUNT: &str = "azop";
const OPERATOR_SUBJECT: &str = "system:serviceaccount:azop-system:azop";
/// The operator's own identity in the arm-emulator's Entra: Owner of the default subscription.
const OPERATOR_CLIENT_ID: &str = "a20b0000-0000-4000-8000-000000000001";

const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const RBAC_ADMINISTRATOR: &str = "f58310d9-a9f6-439a-9e8d-f62e7b41a168";

/// Registers, in the arm-emulator's Entra, identities federated with the operator's
/// ServiceAccount: the operator's (Owner of the default subscription) and one for each AzureProfile
/// that names `credential.workloadIdentity.clientId`, with the roles the profile implies:
/// Contributor on its subscription (groups, identities, vaults, clusters), and Role Based
/// Access Control Administrator when it may create RoleAssignments. No secret exists anywhere:
/// every sign-in is the ServiceAccount token exchanged at the emulator's token endpoint.
async fn register_identities(
    client: &kube::Client,
    arm: &arm_emulator::ArmEmulator,
    issuer: &str,
    documents: &[kube::api::DynamicObject],
) -> anyhow::Result<ArmIdentities> {
    let control = arm.control();
    let register = |client_id: &str| {
        let object_id = uuid_for(client_id);
        control.register_workload_identity(
            client_id,
            &object_id,
            issuer,
            OPERATOR_SUBJECT,
            &[TOKEN_EXCHANGE_AUDIENCE],
        );
        object_id
    };
    let operator = register(OPERATOR_CLIENT_ID);
    let default_subscription = EngineConfig::default().default_subscription_id;
    control.grant(
        &operator,
        OWNER,
        &format!("/subscriptions/{default_subscription}"),
    );
    for doc in documents {
        if doc.types.as_ref().map(|t| t.kind.as_str()) != Some("AzureProfile") {
            continue;
        }
        let spec = &doc.data["spec"];
        let Some(client_id) = spec
            .pointer("/credential/workloadIdentity/clientId")
            .and_then(serde_json::Value::as_str)
        else {
            continue;
        };
        let subscription = spec["subscriptionId"]
            .as_str()
            .unwrap_or(&default_subscription);
        let scope = format!("/subscriptions/{subscription}");
        let principal = register(client_id);
        control.grant(&principal, CONTRIBUTOR, &scope);
        let kinds: Vec<&str> = spec["allowedKinds"]
            .as_array()
            .map(|k| k.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        let may_assign = kinds.iter().any(|k| *k == "*" || *k == "RoleAssignment");
        if may_assign {
            control.grant(&principal, RBAC_ADMINISTRATOR, &scope);
        }
        println!(
            "identity for AzureProfile {}: client id {client_id}, Contributor{} on {scope}",
            doc.metadata.name.as_deref().unwrap_or_default(),
            if may_assign {
                " and Role Based Access Control Administrator"
            } else {
                ""
            }
        );
    }
    Ok(ArmIdentities::new(
        ArmConfig {
            endpoint: arm.url(),
            ca_bundle_pem: Some(arm.ca_pem().to_string()),
            authority_host: Some(arm.url()),
            audience: Some("https://management.azure.com".into()),
            ..ArmConfig::default()
        },
        Arc::new(ServiceAccountToken {
            client: client.clone(),
            namespace: OPERATOR_NAMESPACE.into(),
            name: OPERATOR_SERVICE_ACCOUNT.into(),
        }),
    ))
}

/// The operator's namespace and ServiceAccount (unless the applied manifests made them).
async fn ensure_operator_account(client: &kube::Client) -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
    use kube::api::PostParams;
    let meta = |ns: Option<&str>, name: &str| kube::api::ObjectMeta {
        name: Some(name.to_string()),
        namespace: ns.map(str::to_string),
        ..Default::default()
    };
    let namespaces: kube::Api<Namespace> = kube::Api::all(client.clone());
    if namespaces.get_opt(OPERATOR_NAMESPACE).await?.is_none() {
        namespaces
            .create(
                &PostParams::default(),
                &Namespace {
                    metadata: meta(None, OPERATOR_NAMESPACE),
                    ..Default::default()
                },
            )
            .await
            .context("creating the operator's namespace")?;
    }
    let accounts: kube::Api<ServiceAccount> =
        kube::Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
    if accounts.get_opt(OPERATOR_SERVICE_ACCOUNT).await?.is_none() {
        accounts
            .create(
                &PostParams::default(),
                &ServiceAccount {
                    metadata: meta(Some(OPERATOR_NAMESPACE), OPERATOR_SERVICE_ACCOUNT),
                    ..Default::default()
                },
            )
            .await
            .context("creating the operator's ServiceAccount")?;
    }
    Ok(())
}

/// A day-long token of the operator's ServiceAccount for the Kubernetes API (a TokenRequest
/// with the API server's audience), as a pod's projected token would be.
async fn operator_token(client: &kube::Client) -> anyhow::Result<String> {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    let accounts: kube::Api<ServiceAccount> =
        kube::Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(24 * 3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = accounts
        .create_token_request(
            OPERATOR_SERVICE_ACCOUNT,
            &kube::api::PostParams::default(),
            &request,
        )
        .await
        .context("a token for the operator's ServiceAccount")?;
    answer
        .status
        .map(|s| s.token)
        .context("the TokenRequest answered no token")
}

/// A stable object id for a client id, so `azop dev` names the same principals each run.
fn uuid_for(client_id: &str) -> String {
    let key = format!("azop-dev/principal/{}", client_id.to_ascii_lowercase());
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, key.as_bytes()).to_string()
}

/// Runs `azop dev` until Ctrl-C.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let table = !args.no_table;
    // The table owns the terminal: only warnings go to stderr unless RUST_LOG says otherwise.
    init_logging(
        LogFormat::Text,
        if table {
            "warn"
        } else {
            "info,kube_runtime=warn"
        },
    );

    let dirs: Vec<PathBuf> = if args.no_examples {
        args.apply.clone()
    } else if args.apply.is_empty() {
        vec![examples_dir()?]
    } else {
        args.apply.clone()
    };
    let mut documents = Vec::new();
    for dir in &dirs {
        documents.extend(manifests::read_dir_documents(dir)?);
    }

    let kube =
        kube_emulator::KubeEmulator::start_on(kube_emulator::Config::default(), args.kube_listen)
            .await
            .context("starting the kube-emulator")?;
    kube.write_kubeconfig(&args.kubeconfig_out)
        .with_context(|| format!("writing {}", args.kubeconfig_out.display()))?;
    let kubeconfig = std::fs::canonicalize(&args.kubeconfig_out)?;

    // The token endpoint verifies ServiceAccount tokens against the kube-emulator's JWKS, so
    // it trusts the kube-emulator's CA: workload identity works end to end in `azop dev`.
    let mut arm_config = arm_emulator::Config {
        lro_duration: args.lro_duration,
        trusted_ca_pems: vec![kube.ca_pem().to_string()],
        ..Default::default()
    };
    arm_config.throttling.enabled = !args.no_throttling;
    arm_config.enforce_authorization = !args.no_authorization;
    let tenant_id = arm_config.tenant_id.clone();
    let arm =
        arm_emulator::ArmEmulator::start_on(arm_config, args.arm_listen, args.arm_http_listen)
            .await
            .context("starting the arm-emulator")?;
    let ca_path = kubeconfig.with_extension("arm-ca.pem");
    std::fs::write(&ca_path, arm.ca_pem())
        .with_context(|| format!("writing {}", ca_path.display()))?;

    println!("kube-api: {}", kube.url());
    println!(
        "kubeconfig: {}  (export KUBECONFIG={})",
        kubeconfig.display(),
        kubeconfig.display()
    );
    println!("arm-emulator: {}", arm.url());
    println!("arm-emulator-ca: {}", ca_path.display());
    if let Some(http) = arm.http_url() {
        println!("arm-emulator-http: {http}");
    }
    println!(
        "  ARM state: curl --cacert {} {}/_emulator/resources",
        ca_path.display(),
        arm.url()
    );

    let client = kube
        .client()
        .await
        .context("connecting to the kube-emulator")?;
    manifests::install_crds(&client).await?;
    let applied = manifests::apply_objects(&client, &documents).await?;
    println!(
        "applied {} objects from {}",
        applied.len(),
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let cluster_id = crate::operator::cluster_id(&client, None).await?;
    println!("cluster-id: {cluster_id}");
    ensure_operator_account(&client).await?;
    let operator_client = if args.operator_as_service_account {
        let token = operator_token(&client).await?;
        println!("operator-kube-user: {OPERATOR_SUBJECT}");
        kube.client_with_token(&token)
            .await
            .context("connecting to the kube-emulator as the operator's ServiceAccount")?
    } else {
        client.clone()
    };
    // The operator asks for its own ServiceAccount's tokens (to sign in to Azure) with its
    // own client.
    let identities =
        register_identities(&operator_client, &arm, &kube.issuer_url(), &documents).await?;
    println!("issuer: {}", kube.issuer_url());
    println!("operator-subject: {OPERATOR_SUBJECT}");
    println!("operator-client-id: {OPERATOR_CLIENT_ID}");
    let operator = Operator::start(
        operator_client,
        ArmConfig {
            credential: CredentialConfig::Federated {
                tenant_id: tenant_id.clone(),
                client_id: OPERATOR_CLIENT_ID.into(),
                assertion: identities.assertion.clone(),
            },
            ..identities.base.clone()
        },
        EngineConfig {
            cluster_id,
            default_tenant_id: tenant_id,
            platform_namespaces: args.platform_namespaces.clone(),
            sync_period: args.sync_period,
            self_issuer_url: Some(kube.issuer_url()),
            ..EngineConfig::default()
        },
        RunOptions {
            identities: Some(Arc::new(identities)),
            // As the chart runs it: the Lease its leader-election Role names.
            leader_election: args.operator_as_service_account.then(|| {
                azop_controller::runner::LeaderElection {
                    namespace: OPERATOR_NAMESPACE.into(),
                    lease_name: "azop-leader".into(),
                    identity: "azop-dev".into(),
                }
            }),
            ..RunOptions::default()
        },
        args.metrics_listen,
    )
    .await?;
    println!("operator: running (Ctrl-C stops everything)");
    tokio::spawn(seed_vault_secrets(
        arm.control(),
        documents
            .iter()
            .filter_map(|d| serde_json::to_value(d).ok())
            .collect(),
    ));

    let shown = async {
        if table {
            live_table::show(client.clone()).await
        } else {
            std::future::pending().await
        }
    };
    operator
        .run_until(async {
            tokio::select! {
                _ = shutdown_signal() => {},
                _ = shown => {},
            }
            println!("stopping");
        })
        .await?;
    drop(arm);
    drop(kube);
    Ok(())
}
