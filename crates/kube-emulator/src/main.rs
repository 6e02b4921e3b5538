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
    /// Where to write a kubeconfig for kubectl.
    #[arg(long, default_value = "kube-emulator.kubeconfig")]
    kubeconfig: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let emulator =
        match kube_emulator::KubeEmulator::start_on(kube_emulator::Config::default(), args.listen)
            .await
        {
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
