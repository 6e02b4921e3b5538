//! Records the git revision `azop version` prints: `AZOP_GIT_REVISION` when set (an image
//! build whose context has no `.git`), else `git rev-parse`, else "unknown" (a source tarball).

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=AZOP_GIT_REVISION");
    println!("cargo:rerun-if-changed=build.rs");
    let revision = std::env::var("AZOP_GIT_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| {
            let revision = git(&["rev-parse", "--short=12", "HEAD"])?;
            // Rebuild when HEAD moves: HEAD itself, the branch it names, and packed refs.
            let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
            let common = git(&["rev-parse", "--git-common-dir"])
                .map(|c| git_dir.join(c))
                .unwrap_or_else(|| git_dir.clone());
            let mut watched = vec![git_dir.join("HEAD"), common.join("packed-refs")];
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watched.push(common.join(branch));
            }
            for path in watched.iter().filter(|p| p.exists()) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
            Some(revision)
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=AZOP_GIT_REVISION={revision}");
}
