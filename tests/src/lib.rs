//! Helpers shared by azop's end-to-end tests: where the repository is, and the real kubectl
//! pointed at an emulator with its own kubeconfig and discovery cache.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The kubectl binary: `$AZOP_KUBECTL` (set by `tests/run`), else `kubectl` on PATH.
pub fn kubectl_binary() -> PathBuf {
    std::env::var_os("AZOP_KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kubectl"))
}

/// kubectl bound to one kubeconfig, with a discovery cache of its own (kubectl caches
/// discovery for hours, which would leak between tests).
pub struct Kubectl {
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
}

impl Kubectl {
    /// kubectl for the cluster in `kubeconfig`.
    pub fn new(kubeconfig: &Path) -> Self {
        Kubectl {
            kubeconfig: kubeconfig.to_path_buf(),
            cache: tempfile::tempdir().expect("temp dir for kubectl's cache"),
        }
    }

    /// Runs kubectl with `args` and returns its output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    /// Runs kubectl with `args`, feeding `stdin` (for `-f -`).
    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut cmd = Command::new(kubectl_binary());
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.cache.path())
            .env("HOME", self.cache.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd
            .spawn()
            .expect("kubectl starts (set AZOP_KUBECTL or run tests/run)");
        if let Some(input) = stdin
            && let Some(mut pipe) = child.stdin.take()
        {
            pipe.write_all(input.as_bytes()).expect("kubectl stdin");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("kubectl finishes")
    }

    /// Runs kubectl and returns stdout, failing the test with kubectl's stderr if it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
