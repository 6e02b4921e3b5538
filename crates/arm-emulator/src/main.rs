//! `arm-emulator --listen 127.0.0.1:PORT [--http-listen 127.0.0.1:PORT] [--ca-out PATH]
//! [--trust-ca PATH]... [--enforce-authorization]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "arm-emulator",
    about = "A local Azure Resource Manager on loopback"
)]
struct Args {
    /// HTTPS address (loopback only).
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Plain-HTTP address for curl and scripts (loopback only).
    #[arg(long)]
    http_listen: Option<SocketAddr>,
    /// Where to write the CA certificate clients must trust.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// How long long-running operations take, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    lro_millis: u64,
    /// How long a new principal is unknown to role assignments, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    principal_delay_millis: u64,
    /// Turn throttling off: ARM's and the Key Vault data plane's.
    #[arg(long)]
    no_throttling: bool,
    /// A CA certificate (PEM file) to trust when fetching a federated issuer's keys, e.g. the
    /// kube-emulator's; repeatable.
    #[arg(long = "trust-ca")]
    trust_ca: Vec<PathBuf>,
    /// Authorize ARM requests as Azure does (tokens from the emulator's Entra, role
    /// assignments); bootstrap rights with `POST /_emulator/grants`.
    #[arg(long)]
    enforce_authorization: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut config = arm_emulator::Config {
        lro_duration: Duration::from_millis(args.lro_millis),
        principal_propagation_delay: Duration::from_millis(args.principal_delay_millis),
        enforce_authorization: args.enforce_authorization,
        ..Default::default()
    };
    config.throttling.enabled = !args.no_throttling;
    config.keyvault_throttling.enabled = !args.no_throttling;
    for path in &args.trust_ca {
        match std::fs::read_to_string(path) {
            Ok(pem) => config.trusted_ca_pems.push(pem),
            Err(e) => {
                eprintln!("arm-emulator: reading {}: {e}", path.display());
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let emulator =
        match arm_emulator::ArmEmulator::start_on(config, args.listen, args.http_listen).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("arm-emulator: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
    if let Some(path) = &args.ca_out
        && let Err(e) = std::fs::write(path, emulator.ca_pem())
    {
        eprintln!("arm-emulator: writing {}: {e}", path.display());
        return std::process::ExitCode::FAILURE;
    }
    println!("{}", emulator.url());
    if let Some(h) = emulator.http_url() {
        println!("{h}");
    }
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
