//! The image, built as a container runtime would see it: deploy/image/build-oci.sh builds the
//! OCI archive with umoci and skopeo (`tests/run` installs them), and this unpacks it again
//! with skopeo and umoci and runs `azop version` inside its root filesystem (chroot as root,
//! else in a user namespace), so the binary needs nothing the image lacks.
//!
//! The archive's azop is built with the cargo profile `image-test` (the release image's static
//! build without optimisation or debug info): CI compiles it in minutes, not a release build's
//! tens of minutes; the image is otherwise the one `build-oci.sh` makes for a release.

use std::path::Path;
use std::process::{Command, Output};

use azop_e2e::repo_root;
use serde_json::Value;

fn run(cmd: &mut Command) -> Output {
    let what = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} does not start ({e}); run tests/run"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether an ELF file asks for a program interpreter (ld.so): a dynamically linked binary.
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF", "an ELF file");
    assert_eq!(elf[4], 2, "64-bit");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&elf[o..o + 8]);
        u64::from_le_bytes(b) as usize
    };
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    // PT_INTERP = 3
    (0..phnum).any(|i| {
        u32::from_le_bytes(
            elf[phoff + i * phentsize..][..4]
                .try_into()
                .unwrap_or_default(),
        ) == 3
    })
}

/// A program on the test's PATH, as an absolute path (the child's environment is cleared).
fn on_path(program: &str) -> std::path::PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is not installed"))
}

/// Runs `argv` with `rootfs` as its root and an empty environment: chroot as root, else chroot
/// in a user namespace.
fn in_rootfs(rootfs: &Path, argv: &[&str]) -> Output {
    let mut cmd = if is_root() {
        Command::new(on_path("chroot"))
    } else {
        let mut c = Command::new(on_path("unshare"));
        c.args(["--user", "--map-root-user"]).arg(on_path("chroot"));
        c
    };
    cmd.arg(rootfs).args(argv).env_clear();
    cmd.output().expect("chroot starts")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn the_oci_archive_runs_azop_version_from_its_root_filesystem() {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("azop-oci.tar");
    run(Command::new(repo_root().join("deploy/image/build-oci.sh"))
        .args(["--profile", "image-test", "--tag", "test", "--out"])
        .arg(&archive));
    let size = std::fs::metadata(&archive).expect("archive").len();
    eprintln!("image archive: {} MiB", size / (1 << 20));

    // The image config: user, entrypoint, labels.
    let config = run(Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("oci-archive:{}", archive.display())));
    let config: Value = serde_json::from_slice(&config.stdout).expect("image config");
    let c = &config["config"];
    assert_eq!(c["User"], "65532:65532", "{config}");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/local/bin/azop"]));
    assert_eq!(c["Cmd"], serde_json::json!(["run"]));
    let labels = &c["Labels"];
    for label in [
        "org.opencontainers.image.title",
        "org.opencontainers.image.source",
        "org.opencontainers.image.licenses",
        "org.opencontainers.image.version",
        "org.opencontainers.image.revision",
        "org.opencontainers.image.created",
    ] {
        assert!(labels[label].is_string(), "label {label} in {labels}");
    }
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");

    // Unpack it as a runtime would.
    let layout = dir.path().join("layout");
    run(Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("oci-archive:{}", archive.display()))
        .arg(format!("oci:{}:azop", layout.display())));
    let bundle = dir.path().join("bundle");
    let mut unpack = Command::new("umoci");
    unpack.arg("unpack");
    if !is_root() {
        unpack.arg("--rootless");
    }
    run(unpack
        .arg("--image")
        .arg(format!("{}:azop", layout.display()))
        .arg(&bundle));
    let runtime: Value = serde_json::from_slice(
        &std::fs::read(bundle.join("config.json")).expect("the runtime config"),
    )
    .expect("JSON");
    assert_eq!(runtime["process"]["user"]["uid"], 65532);
    assert_eq!(
        runtime["process"]["args"],
        serde_json::json!(["/usr/local/bin/azop", "run"])
    );

    let rootfs = bundle.join("rootfs");
    let binary = std::fs::read(rootfs.join("usr/local/bin/azop")).expect("azop in the image");
    eprintln!(
        "azop binary (image-test profile): {} MiB",
        binary.len() / (1 << 20)
    );
    assert!(!has_interpreter(&binary), "azop is statically linked");
    for absent in [
        "bin/sh",
        "bin/bash",
        "usr/bin/sh",
        "lib/x86_64-linux-gnu/libc.so.6",
    ] {
        assert!(!rootfs.join(absent).exists(), "the image has no {absent}");
    }
    for present in ["etc/ssl/certs/ca-certificates.crt", "etc/passwd", "tmp"] {
        assert!(rootfs.join(present).exists(), "the image has {present}");
    }
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).expect("passwd");
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");

    let out = in_rootfs(&rootfs, &["/usr/local/bin/azop", "version"]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "azop version in the image: {printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        printed.starts_with(&format!("azop {version} (revision ")),
        "{printed}"
    );
    assert_eq!(labels["org.opencontainers.image.version"], version);
    let revision = labels["org.opencontainers.image.revision"]
        .as_str()
        .unwrap_or_default();
    assert!(
        printed.contains(&format!("(revision {revision})")),
        "the binary and the label name one revision: {printed} vs {revision}"
    );

    // Built without the emulators: no `azop dev`.
    let out = in_rootfs(&rootfs, &["/usr/local/bin/azop", "dev"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand 'dev'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
