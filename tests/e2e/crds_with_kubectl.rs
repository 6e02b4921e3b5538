//! The checked-in CRDs and examples, driven by the real kubectl against the kube-emulator: the
//! CRDs are accepted (client dry-run and for real), every example applies, `kubectl get azop`
//! shows the printer columns, and a bad object is refused with the CEL rule's message.

use azop_e2e::{Kubectl, emulated_cluster, repo_path as path};
use kube_emulator::KubeEmulator;

async fn cluster() -> (KubeEmulator, Kubectl, tempfile::TempDir) {
    let (emulator, kubeconfig, dir) = emulated_cluster().await;
    (emulator, Kubectl::new(&kubeconfig), dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_accepts_the_crds_and_applies_every_example() {
    let (_emulator, kubectl, _dir) = cluster().await;
    let crds = path("crds");
    let examples = path("examples");
    tokio::task::spawn_blocking(move || {
        let dry = kubectl.ok(&["apply", "--dry-run=client", "-f", &crds]);
        assert_eq!(dry.matches("(dry run)").count(), 7, "{dry}");
        let applied = kubectl.ok(&["apply", "-f", &crds]);
        assert_eq!(applied.matches("created").count(), 7, "{applied}");
        kubectl.ok(&[
            "wait",
            "--for=condition=Established",
            "crd",
            "--all",
            "--timeout=20s",
        ]);

        let applied = kubectl.ok(&["apply", "-f", &examples]);
        for obj in [
            "namespace/platform",
            "namespace/team-a",
            "azureprofile.azop.dev/platform",
            "azureprofile.azop.dev/team-a",
            "resourcegroup.azop.dev/rg-platform",
            "akscluster.azop.dev/prod",
            "keyvault.azop.dev/platform-kv",
            "federatedidentity.azop.dev/external-dns",
            "roleassignment.azop.dev/external-dns-reader",
            "resourcegroup.azop.dev/rg-team-a",
            "federatedidentity.azop.dev/orders",
            "keyvaultbinding.azop.dev/orders-db",
            "federatedidentity.azop.dev/exporter",
            "roleassignment.azop.dev/prod-kubelet-kv-officer",
        ] {
            assert!(
                applied.contains(&format!("{obj} created")),
                "{obj} missing from:\n{applied}"
            );
        }
        // Applying again changes nothing.
        let again = kubectl.ok(&["apply", "-f", &examples]);
        assert!(
            !again.contains("created") && !again.contains("configured"),
            "{again}"
        );

        let table = kubectl.ok(&["get", "azop", "-A"]);
        let header = table.lines().next().unwrap_or_default().to_string();
        for column in ["NAMESPACE", "NAME", "READY", "REASON", "AGE"] {
            assert!(header.contains(column), "{column} missing from {header}");
        }
        // Two profiles and ten namespaced objects, every kind listed by the category.
        let rows = table.lines().filter(|l| l.contains(".azop.dev/")).count();
        assert_eq!(rows, 12, "{table}");
        let kv = kubectl.ok(&["get", "kv", "-n", "platform"]);
        assert!(
            kv.lines().next().unwrap_or_default().contains("URI"),
            "{kv}"
        );

        // Defaults and observedGeneration -1 are there before any operator has looked.
        let yaml = kubectl.ok(&[
            "get",
            "keyvault",
            "platform-kv",
            "-n",
            "platform",
            "-o",
            "yaml",
        ]);
        assert!(yaml.contains("rbacAuthorization: true"), "{yaml}");
        assert!(yaml.contains("observedGeneration: -1"), "{yaml}");
    })
    .await
    .expect("kubectl steps");
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_prints_the_rule_message_for_a_bad_object() {
    let (_emulator, kubectl, _dir) = cluster().await;
    let crds = path("crds");
    tokio::task::spawn_blocking(move || {
        kubectl.ok(&["apply", "-f", &crds]);
        kubectl.ok(&["wait", "--for=condition=Established", "crd", "--all", "--timeout=20s"]);
        let ns = kubectl.run_with_stdin(&["apply", "-f", "-"], Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: platform}\n"));
        assert!(ns.status.success(), "{}", String::from_utf8_lossy(&ns.stderr));
        let bad = r#"
apiVersion: azop.dev/v1alpha1
kind: KeyVault
metadata: {name: platform-kv, namespace: platform}
spec:
  azureName: team--kv
  resourceGroupRef: {name: rg}
  resourceGroupName: rg-existing
"#;
        let out = kubectl.run_with_stdin(&["apply", "-f", "-"], Some(bad));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a bad vault was accepted");
        assert!(stderr.contains("spec.azureName: Invalid value: \"string\": azureName is not valid as a Key Vault name"), "{stderr}");
        assert!(stderr.contains("resourceGroupRef and resourceGroupName are mutually exclusive"), "{stderr}");

        // A transition rule: the vault's name cannot change.
        let good = bad.replace("team--kv", "team-kv").replace("  resourceGroupName: rg-existing\n", "");
        kubectl.run_with_stdin(&["apply", "-f", "-"], Some(&good));
        let renamed = good.replace("team-kv", "other-kv");
        let out = kubectl.run_with_stdin(&["apply", "-f", "-"], Some(&renamed));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a renamed vault was accepted");
        assert!(stderr.contains("azureName is immutable"), "{stderr}");
    })
    .await
    .expect("kubectl steps");
}
