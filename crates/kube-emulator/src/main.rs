//! `kube-emulator --listen 127.0.0.1:PORT --kubeconfig PATH`: a local Kubernetes API server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "kube-emulator",
    about = "A local, in-memory Kubernetes API server (loopback only)"
)]
struct Args {
    /// Address to serve HTTPS on (loopback only).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Where to write a kubeconfig for kubectl (a `system:masters` user).
    #[arg(long, default_value = "kube-emulator.kubeconfig")]
    kubeconfig: PathBuf,
    /// `RBAC` or `AlwaysAllow`, as kube-apiserver's flag.
    #[arg(long, default_value = "RBAC", value_parser = ["RBAC", "AlwaysAllow"])]
    authorization_mode: String,
    /// Static bearer tokens, kube-apiserver's CSV format: `token,user,uid[,"group1,group2"]`.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut config = kube_emulator::Config::default();
    if args.authorization_mode == "AlwaysAllow" {
        config.authorization = kube_emulator::Authorization::AlwaysAllow;
    }
    if let Some(path) = &args.token_auth_file {
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| kube_emulator::StaticToken::parse_file(&text));
        match parsed {
            Ok(tokens) => config.static_tokens = tokens,
            Err(e) => {
                eprintln!("kube-emulator: --token-auth-file {}: {e}", path.display());
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let emulator = match kube_emulator::KubeEmulator::start_on(config, args.listen).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("kube-emulator: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Err(e) = emulator.write_kubeconfig(&args.kubeconfig) {
        eprintln!("kube-emulator: writing {}: {e}", args.kubeconfig.display());
        return std::process::ExitCode::FAILURE;
    }
    println!("kube-emulator serving {}", emulator.url());
    println!(
        "kubeconfig: {}  (export KUBECONFIG={})",
        args.kubeconfig.display(),
        args.kubeconfig.display()
    );
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
