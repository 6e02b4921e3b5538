//! `azop`: the operator's command line.
//!
//! - `azop crds` prints every CustomResourceDefinition (`--out-dir DIR` writes one file per kind).
//!
//! `azop run` (the operator against a real cluster and Azure) and `azop dev` (everything on the
//! embedded emulators) arrive with the operator issue; until then they are not offered.

mod crd_yaml;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "azop",
    version,
    about = "Azure infrastructure from Kubernetes custom resources"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print every CRD as YAML, or write one file per kind into a directory.
    Crds {
        /// Write `<group>_<plural>.yaml` files here instead of printing.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
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
