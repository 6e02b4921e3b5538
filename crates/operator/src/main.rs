//! `azop`: the operator's command line.
//!
//! - `azop dev`: everything on a laptop: the kube-emulator, the arm-emulator, the CRDs, the
//!   examples and the operator in one process, with a kubeconfig for kubectl and a live table.
//! - `azop run`: the operator against a real cluster and Azure.
//! - `azop crds` prints every CustomResourceDefinition (`--out-dir DIR` writes one file per kind).
//! - `azop version` prints the version and the git revision it was built from.
//!
//! `azop dev` and the emulators are the cargo feature `dev` (on by default); the image a
//! cluster runs is built without it.

mod crd_yaml;
#[cfg(feature = "dev")]
mod dev;
mod identities;
#[cfg(feature = "dev")]
mod live_table;
#[cfg(feature = "dev")]
mod manifests;
mod operator;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "azop",
    version = VERSION,
    about = "Azure infrastructure from Kubernetes custom resources"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The version and the git revision this binary was built from (`build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("AZOP_GIT_REVISION"),
    ")"
);

#[derive(Subcommand)]
enum Command {
    /// Run everything locally on the emulators: no cloud, no cluster.
    #[cfg(feature = "dev")]
    Dev(Box<dev::DevArgs>),
    /// Run the operator against a cluster and Azure.
    // Boxed, as `Dev` is: each is far larger than the other variants.
    Run(Box<run::RunArgs>),
    /// Print every CRD as YAML, or write one file per kind into a directory.
    Crds {
        /// Write `<group>_<plural>.yaml` files here instead of printing.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Print the version and the git revision azop was built from.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("azop: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// Prints to stdout; a closed pipe (`azop crds | head`) is not an error.
fn print_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        #[cfg(feature = "dev")]
        Command::Dev(args) => runtime()?.block_on(dev::run(*args))?,
        Command::Version => print_stdout(&format!("azop {VERSION}\n"))?,
        Command::Run(args) => runtime()?.block_on(run::run(*args))?,
        Command::Crds { out_dir } => {
            let crds = azop_api::crds();
            match out_dir {
                None => print_stdout(&crd_yaml::render_all(&crds)?)?,
                Some(dir) => {
                    std::fs::create_dir_all(&dir)?;
                    for crd in &crds {
                        let path = dir.join(crd_yaml::file_name(crd));
                        std::fs::write(&path, crd_yaml::render(crd)?)?;
                        println!("wrote {}", path.display());
                    }
                }
            }
        }
    }
    Ok(())
}
