//! The hostile tenant: YAML that an application team could apply with kubectl in its own
//! namespace, trying to reach beyond what its AzureProfile allows. Each attack must be refused
//! — by admission, or by the operator as `Stalled` with the reason and a message that names the
//! rule — with zero ARM writes (the arm-emulator's request log proves it), and with nothing
//! outside the tenant changed. A legitimate request of the same tenant goes Ready, so the
//! refusals are the rules at work and not a tenant that can do nothing.
//!
//! Runs `azop dev` (both emulators and the operator) as a child process and drives it with the
//! real kubectl. The file lives in `tests/` but belongs to the `azop` package, so Cargo builds
//! the binary it starts.

use std::time::Duration;

use azop_e2e::{Dev, eventually, field, http};
use serde_json::{Value, json};

const AZOP: &str = env!("CARGO_BIN_EXE_azop");
const SUB: &str = "00000000-0000-0000-0000-000000000000";

/// The platform team's set-up: namespaces, profiles, a platform group, a cluster whose issuer
/// only team-b may trust, a vault only labelled namespaces may bind, and a ServiceAccount in
/// team-a that azop did not create.
const SETUP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: platform, labels: {azop.dev/profile: platform}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a, labels: {azop.dev/profile: team-a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b, labels: {azop.dev/profile: team-b}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-c, labels: {azop.dev/profile: team-c}}
---
apiVersion: azop.dev/v1alpha1
kind: AzureProfile
metadata: {name: platform}
spec:
  namespaceSelector: {matchLabels: {azop.dev/profile: platform}}
  subscriptionId: 00000000-0000-0000-0000-000000000000
  allowedLocations: ["*"]
  allowedResourceGroups: ["*"]
  allowedKinds: ["*"]
  allowedRoles: ["*"]
---
apiVersion: azop.dev/v1alpha1
kind: AzureProfile
metadata: {name: team-a}
spec:
  namespaceSelector: {matchLabels: {azop.dev/profile: team-a}}
  subscriptionId: 00000000-0000-0000-0000-000000000000
  allowedLocations: [westeurope]
  allowedResourceGroups: ["rg-team-a*", "rg-shared-*"]
  allowedKinds: [ResourceGroup, FederatedIdentity, KeyVaultBinding, RoleAssignment]
  allowedIssuers: ["https://westeurope.oic.prod-aks.azure.com/*"]
  allowedRoles: [AcrPull, KeyVaultSecretsUser]
  defaults: {location: westeurope, resourceGroupName: rg-team-a}
---
apiVersion: azop.dev/v1alpha1
kind: AzureProfile
metadata: {name: team-b}
spec:
  namespaceSelector: {matchLabels: {azop.dev/profile: team-b}}
  subscriptionId: 00000000-0000-0000-0000-000000000000
  allowedLocations: [westeurope]
  allowedResourceGroups: ["rg-team-b*", "rg-shared-*"]
  allowedKinds: [ResourceGroup, FederatedIdentity]
  defaults: {location: westeurope, resourceGroupName: rg-team-b}
---
# A profile that lists no kinds: its namespace may create nothing.
apiVersion: azop.dev/v1alpha1
kind: AzureProfile
metadata: {name: team-c}
spec:
  namespaceSelector: {matchLabels: {azop.dev/profile: team-c}}
  subscriptionId: 00000000-0000-0000-0000-000000000000
  allowedLocations: [westeurope]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ci-deployer, namespace: team-a}
---
apiVersion: azop.dev/v1alpha1
kind: ResourceGroup
metadata: {name: rg-platform, namespace: platform}
spec: {location: westeurope}
---
apiVersion: azop.dev/v1alpha1
kind: AksCluster
metadata: {name: prod, namespace: platform}
spec:
  location: westeurope
  resourceGroupRef: {name: rg-platform}
  kubernetesVersion: "1.31"
  dnsPrefix: prod
  identity: {type: SystemAssigned}
  nodePools:
  - {name: system, mode: System, vmSize: Standard_D4ds_v5, count: 1}
  oidcIssuer: true
  workloadIdentity: true
  issuerAccess:
    namespaceSelector: {matchLabels: {azop.dev/profile: team-b}}
---
apiVersion: azop.dev/v1alpha1
kind: KeyVault
metadata: {name: platform-kv, namespace: platform}
spec:
  azureName: azop-tenancy-kv
  location: westeurope
  resourceGroupRef: {name: rg-platform}
  bindingPolicy:
    namespaceSelector: {matchLabels: {vault-access/platform-kv: "true"}}
    allowedRoles: [SecretsUser]
---
apiVersion: azop.dev/v1alpha1
kind: ResourceGroup
metadata: {name: rg-team-a, namespace: team-a}
spec: {}
---
apiVersion: azop.dev/v1alpha1
kind: FederatedIdentity
metadata: {name: orders, namespace: team-a}
spec:
  resourceGroupRef: {name: rg-team-a}
  issuer: {url: "https://westeurope.oic.prod-aks.azure.com/tenant/issuer/"}
  serviceAccount: {name: orders, create: true}
"#;

/// One attack: YAML applied in a tenant namespace, and the refusal expected.
struct Attack {
    what: &'static str,
    yaml: String,
    /// `kind/name` and namespace of the object to watch.
    object: (&'static str, &'static str),
    refusal: Refusal,
}

enum Refusal {
    /// The operator: `Stalled` with this reason, and a message containing every fragment.
    Stalled(&'static str, &'static [&'static str]),
    /// Admission: `kubectl apply` fails with a message containing this.
    Admission(&'static str),
}

/// Every ARM request answered so far that is not a read, whatever its status (from the
/// emulator's counts, which no log capacity truncates).
fn writes(dev: &Dev) -> u64 {
    dev.counts()
        .iter()
        .filter(|(k, _)| !(k.starts_with("GET ") || k.starts_with("HEAD ")))
        .map(|(_, n)| n)
        .sum()
}

/// The last `n` writes in the request log, for a failure message.
fn last_writes(dev: &Dev, n: u64) -> Vec<String> {
    let log: Vec<Value> =
        serde_json::from_value(dev.emulator("GET", "/_emulator/requests")).expect("request log");
    let writes: Vec<String> = log
        .iter()
        .filter(|r| !matches!(r["method"].as_str(), Some("GET") | Some("HEAD")))
        .map(|r| format!("{} {} {}", r["method"], r["path"], r["status"]))
        .collect();
    writes[writes.len().saturating_sub(n as usize)..].to_vec()
}

fn condition(dev: &Dev, ns: &str, object: &str, type_: &str) -> Option<(String, String)> {
    let out = dev.kubectl.run(&["get", "-n", ns, object, "-o", "json"]);
    if !out.status.success() {
        return None;
    }
    let obj: Value = serde_json::from_slice(&out.stdout).ok()?;
    let c = obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_ && c["status"] == "True")?
        .clone();
    Some((
        c["reason"].as_str().unwrap_or_default().to_string(),
        c["message"].as_str().unwrap_or_default().to_string(),
    ))
}

/// The ids of every role assignment in Azure (those `azop dev` made for its identities too).
fn role_assignments(resources: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = resources
        .iter()
        .filter_map(|r| r["id"].as_str())
        .filter(|id| id.contains("/roleAssignments/"))
        .map(str::to_string)
        .collect();
    ids.sort();
    ids
}

fn ra(name: &str, principal: &str, role: &str, scope: &str) -> String {
    format!(
        "apiVersion: azop.dev/v1alpha1\nkind: RoleAssignment\nmetadata: {{name: {name}, namespace: team-a}}\nspec:\n  principal: {principal}\n  {role}\n  scope: {scope}\n"
    )
}

fn attacks() -> Vec<Attack> {
    let own_fi = "{federatedIdentity: {name: orders}}";
    let own_rg = "{resourceGroupRef: {name: rg-team-a}}";
    vec![
        Attack {
            what: "take over an existing group azop did not create (name inside the allow-list)",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: ResourceGroup\nmetadata: {name: rg-team-a-finance, namespace: team-a}\nspec: {tags: {owner: team-a}}\n".into(),
            object: ("resourcegroup/rg-team-a-finance", "team-a"),
            refusal: Refusal::Stalled("AlreadyExists", &["rg-team-a-finance", "spec.adopt"]),
        },
        Attack {
            what: "adopt it with spec.adopt while the profile does not allow adoption",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: ResourceGroup\nmetadata: {name: finance-adopted, namespace: team-a}\nspec: {azureName: rg-team-a-finance, adopt: true}\n".into(),
            object: ("resourcegroup/finance-adopted", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["allowAdoption"]),
        },
        Attack {
            what: "a role the profile does not list (Contributor)",
            yaml: ra("contrib", own_fi, "role: Contributor", own_rg),
            object: ("roleassignment/contrib", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["allowedRoles", "Contributor"]),
        },
        Attack {
            what: "a role given by definition id (Owner)",
            yaml: ra(
                "owner-by-id",
                own_fi,
                "roleDefinitionId: 8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
                own_rg,
            ),
            object: ("roleassignment/owner-by-id", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["allowedRoles"]),
        },
        Attack {
            what: "an allowed role at the subscription scope",
            yaml: ra(
                "sub-scope",
                own_fi,
                "role: AcrPull",
                &format!("{{resourceId: /subscriptions/{SUB}}}"),
            ),
            object: ("roleassignment/sub-scope", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["subscription or management-group scope"]),
        },
        Attack {
            what: "an allowed role on another team's group",
            yaml: ra(
                "other-team",
                own_fi,
                "role: AcrPull",
                &format!("{{resourceId: /subscriptions/{SUB}/resourceGroups/rg-team-b}}"),
            ),
            object: ("roleassignment/other-team", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["allowedResourceGroups"]),
        },
        Attack {
            what: "an arbitrary objectId as principal",
            yaml: ra(
                "object-id",
                "{objectId: 44444444-4444-4444-4444-444444444444}",
                "role: AcrPull",
                own_rg,
            ),
            object: ("roleassignment/object-id", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["principal.objectId", "platform namespaces"]),
        },
        Attack {
            what: "someone else's identity (finance's payroll, in a group inside the allow-list) observed into the namespace and named as principal",
            yaml: format!(
                "apiVersion: azop.dev/v1alpha1\nkind: FederatedIdentity\nmetadata: {{name: watched-payroll, namespace: team-a}}\nspec:\n  azureName: payroll\n  resourceGroupName: rg-team-a-finance\n  managementPolicy: Observe\n  issuer: {{url: \"https://westeurope.oic.prod-aks.azure.com/tenant/issuer/\"}}\n  serviceAccount: {{name: payroll}}\n---\n{}",
                ra(
                    "observed-principal",
                    "{federatedIdentity: {name: watched-payroll}}",
                    "role: AcrPull",
                    own_rg,
                )
            ),
            object: ("roleassignment/observed-principal", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["is observed", "managementPolicy: Observe"]),
        },
        Attack {
            what: "the platform cluster's kubelet identity as principal",
            yaml: ra(
                "kubelet",
                "{aksKubeletOf: {name: prod, namespace: platform}}",
                "role: AcrPull",
                own_rg,
            ),
            object: ("roleassignment/kubelet", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["aksKubeletOf"]),
        },
        Attack {
            what: "a role on another namespace's vault whose bindingPolicy does not select it",
            yaml: ra(
                "vault-cross-ns",
                own_fi,
                "role: KeyVaultSecretsUser",
                "{keyVaultRef: {name: platform-kv, namespace: platform}}",
            ),
            object: ("roleassignment/vault-cross-ns", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["bindingPolicy", "select"]),
        },
        Attack {
            what: "another namespace's FederatedIdentity as principal",
            yaml: ra(
                "fi-cross-ns",
                "{federatedIdentity: {name: payments, namespace: team-b}}",
                "role: AcrPull",
                own_rg,
            ),
            object: ("roleassignment/fi-cross-ns", "team-a"),
            refusal: Refusal::Admission("namespace"),
        },
        Attack {
            what: "a FederatedIdentity trusting a cluster whose issuerAccess does not select the namespace",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: FederatedIdentity\nmetadata: {name: sneaky, namespace: team-a}\nspec:\n  resourceGroupRef: {name: rg-team-a}\n  issuer: {clusterRef: {name: prod, namespace: platform}}\n  serviceAccount: {name: sneaky}\n".into(),
            object: ("federatedidentity/sneaky", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["issuerAccess"]),
        },
        Attack {
            what: "a FederatedIdentity whose subject is another namespace's ServiceAccount",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: FederatedIdentity\nmetadata: {name: subject-b, namespace: team-a}\nspec:\n  resourceGroupRef: {name: rg-team-a}\n  issuer: {url: \"https://westeurope.oic.prod-aks.azure.com/tenant/issuer/\"}\n  serviceAccount: {name: \"system:serviceaccount:team-b:payments\"}\n".into(),
            object: ("federatedidentity/subject-b", "team-a"),
            refusal: Refusal::Admission("serviceAccount.name"),
        },
        Attack {
            what: "an issuer URL the profile does not allow",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: FederatedIdentity\nmetadata: {name: evil-issuer, namespace: team-a}\nspec:\n  resourceGroupRef: {name: rg-team-a}\n  issuer: {url: \"https://evil.example.com/\"}\n  serviceAccount: {name: evil}\n".into(),
            object: ("federatedidentity/evil-issuer", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["allowedIssuers"]),
        },
        Attack {
            what: "a resource group name outside the allow-list",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: ResourceGroup\nmetadata: {name: rg-prod, namespace: team-a}\nspec: {}\n".into(),
            object: ("resourcegroup/rg-prod", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["allowedResourceGroups", "rg-prod"]),
        },
        Attack {
            what: "an identity in another team's group, by name",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: FederatedIdentity\nmetadata: {name: in-b, namespace: team-a}\nspec:\n  resourceGroupName: rg-team-b\n  issuer: {url: \"https://westeurope.oic.prod-aks.azure.com/tenant/issuer/\"}\n  serviceAccount: {name: in-b}\n".into(),
            object: ("federatedidentity/in-b", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["allowedResourceGroups", "rg-team-b"]),
        },
        Attack {
            what: "the same Azure name as another namespace's group",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: ResourceGroup\nmetadata: {name: rg-shared-x, namespace: team-b}\nspec: {}\n".into(),
            object: ("resourcegroup/rg-shared-x", "team-b"),
            refusal: Refusal::Stalled("OwnedByAnotherObject", &["team-a/ResourceGroup/rg-shared-x"]),
        },
        Attack {
            what: "take over a ServiceAccount azop did not create (create: true)",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: FederatedIdentity\nmetadata: {name: ci-identity, namespace: team-a}\nspec:\n  resourceGroupRef: {name: rg-team-a}\n  issuer: {url: \"https://westeurope.oic.prod-aks.azure.com/tenant/issuer/\"}\n  serviceAccount: {name: ci-deployer, create: true}\n".into(),
            object: ("federatedidentity/ci-identity", "team-a"),
            refusal: Refusal::Stalled("AlreadyExists", &["ServiceAccount team-a/ci-deployer"]),
        },
        Attack {
            what: "a KeyVaultBinding to a vault whose bindingPolicy does not select the namespace",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: KeyVaultBinding\nmetadata: {name: steal-kv, namespace: team-a}\nspec:\n  vaultRef: {name: platform-kv, namespace: platform}\n  identityRef: {name: orders}\n  role: SecretsUser\n".into(),
            object: ("keyvaultbinding/steal-kv", "team-a"),
            refusal: Refusal::Stalled("PolicyDenied", &["bindingPolicy does not select namespace team-a"]),
        },
        Attack {
            what: "a KeyVaultBinding for another namespace's identity",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: KeyVaultBinding\nmetadata: {name: other-identity, namespace: team-a}\nspec:\n  vaultRef: {name: platform-kv, namespace: platform}\n  identityRef: {name: payments, namespace: team-b}\n  role: SecretsUser\n".into(),
            object: ("keyvaultbinding/other-identity", "team-a"),
            refusal: Refusal::Admission("namespace"),
        },
        Attack {
            what: "a kind its profile does not list (team-b: KeyVault)",
            yaml: "apiVersion: azop.dev/v1alpha1\nkind: KeyVault\nmetadata: {name: kv-b, namespace: team-b}\nspec: {resourceGroupName: rg-team-b}\n".into(),
            object: ("keyvault/kv-b", "team-b"),
            refusal: Refusal::Stalled("PolicyDenied", &["allowedKinds"]),
        },
        Attack {
            what: "a profile with no allowedKinds: Contributor at the subscription for an objectId",
            yaml: format!("apiVersion: azop.dev/v1alpha1\nkind: RoleAssignment\nmetadata: {{name: escalate, namespace: team-c}}\nspec:\n  principal: {{objectId: 44444444-4444-4444-4444-444444444444}}\n  role: Contributor\n  scope: {{resourceId: /subscriptions/{SUB}}}\n"),
            object: ("roleassignment/escalate", "team-c"),
            refusal: Refusal::Stalled("PolicyDenied", &[]),
        },
    ]
}

#[test]
fn every_hostile_tenant_request_is_refused_with_zero_arm_writes() {
    let setup = Dev::yaml_dir("setup", SETUP);
    let dev = Dev::start(
        AZOP,
        &["--no-examples", "--apply", &setup.path().to_string_lossy()],
    );
    // A group someone else made (the finance team), inside team-a's allow-list, with a tag
    // and an identity in it.
    let finance = format!("/subscriptions/{SUB}/resourceGroups/rg-team-a-finance");
    for (path, body) in [
        (
            finance.clone(),
            json!({"location": "westeurope", "tags": {"owner": "finance"}}),
        ),
        (
            format!("{finance}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/payroll"),
            json!({"location": "westeurope"}),
        ),
    ] {
        let (status, answer) =
            dev.arm_as_someone_else("PUT", &format!("{path}?api-version=2025-04-01"), &body);
        assert!(status < 300, "PUT {path}: {status} {answer}");
    }

    dev.kubectl.ok(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=90s",
        "-n",
        "platform",
        "resourcegroup/rg-platform",
        "akscluster/prod",
        "keyvault/platform-kv",
    ]);
    dev.kubectl.ok(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "-n",
        "team-a",
        "resourcegroup/rg-team-a",
        "federatedidentity/orders",
    ]);
    // team-a holds rg-shared-x first; team-b will ask for the same name.
    dev.kubectl.run_with_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: azop.dev/v1alpha1\nkind: ResourceGroup\nmetadata: {name: rg-shared-x, namespace: team-a}\nspec: {}\n"),
    );
    dev.kubectl.ok(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "-n",
        "team-a",
        "resourcegroup/rg-shared-x",
    ]);
    // A steady state makes no writes, so every write from here on is an attack's.
    std::thread::sleep(Duration::from_secs(1));

    let assignments_before = role_assignments(&dev.resources());
    let mut table = vec![
        "| attack | refusal | ARM writes |".to_string(),
        "|---|---|---|".to_string(),
    ];
    let mut failures = Vec::new();
    for attack in attacks() {
        let before = writes(&dev);
        let applied = dev
            .kubectl
            .run_with_stdin(&["apply", "-f", "-"], Some(&attack.yaml));
        let (ns_object, ns) = (attack.object.0, attack.object.1);
        let refusal = match &attack.refusal {
            Refusal::Admission(fragment) => {
                let stderr = String::from_utf8_lossy(&applied.stderr).into_owned();
                if applied.status.success() || !stderr.contains(fragment) {
                    failures.push(format!(
                        "{}: admission should refuse it mentioning {fragment:?}; kubectl said: {stderr}",
                        attack.what
                    ));
                }
                format!("admission: {}", stderr.lines().next().unwrap_or_default())
            }
            Refusal::Stalled(reason, fragments) => {
                assert!(
                    applied.status.success(),
                    "{}: kubectl apply failed: {}",
                    attack.what,
                    String::from_utf8_lossy(&applied.stderr)
                );
                let (got, message) = eventually(
                    &format!("{} to be Stalled", attack.what),
                    Duration::from_secs(30),
                    || condition(&dev, ns, ns_object, "Stalled"),
                );
                if got != *reason || !fragments.iter().all(|f| message.contains(f)) {
                    failures.push(format!(
                        "{}: expected Stalled {reason} mentioning {fragments:?}, got {got}: {message}",
                        attack.what
                    ));
                }
                format!("Stalled {got}: {message}")
            }
        };
        // Give a wrongly admitted object time to write, then count.
        std::thread::sleep(Duration::from_millis(500));
        let caused = writes(&dev) - before;
        if caused != 0 {
            failures.push(format!(
                "{}: ARM writes {:?}",
                attack.what,
                last_writes(&dev, caused)
            ));
        }
        table.push(format!(
            "| {} | {} | {caused} |",
            attack.what,
            refusal.replace('|', "/")
        ));
    }

    // Deleting the refused objects deletes nothing in Azure either.
    let before = writes(&dev);
    dev.kubectl.ok(&[
        "delete",
        "-n",
        "team-a",
        "resourcegroup/rg-team-a-finance",
        "resourcegroup/finance-adopted",
        "--timeout=30s",
    ]);
    dev.kubectl.ok(&[
        "delete",
        "-n",
        "team-b",
        "resourcegroup/rg-shared-x",
        "--timeout=30s",
    ]);
    std::thread::sleep(Duration::from_millis(500));
    let caused = writes(&dev) - before;
    table.push(format!(
        "| delete the objects that named the finance group and team-a's group | nothing deleted | {caused} |"
    ));
    if caused != 0 {
        failures.push(format!(
            "deleting refused objects caused {caused} ARM writes"
        ));
    }

    // Nothing outside the tenant changed.
    let resources = dev.resources();
    let by_id = |suffix: &str| {
        resources
            .iter()
            .find(|r| {
                r["id"].as_str().is_some_and(|id| {
                    id.to_ascii_lowercase()
                        .ends_with(&suffix.to_ascii_lowercase())
                })
            })
            .cloned()
    };
    let group = by_id("/resourceGroups/rg-team-a-finance").expect("the finance group stays");
    assert_eq!(
        group["tags"],
        json!({"owner": "finance"}),
        "its tags are untouched"
    );
    assert!(
        by_id("/resourceGroups/rg-team-a-finance/providers/Microsoft.ManagedIdentity/userAssignedIdentities/payroll").is_some(),
        "the identity in it stays"
    );
    let shared = by_id("/resourceGroups/rg-shared-x").expect("team-a's group stays");
    assert_eq!(
        shared["tags"]["azop.dev/owner"]
            .as_str()
            .map(|o| o.ends_with("/team-a/ResourceGroup/rg-shared-x")),
        Some(true),
        "still team-a's: {shared}"
    );
    assert_eq!(
        role_assignments(&resources),
        assignments_before,
        "the attacks made no role assignment"
    );
    let sa: Value = serde_json::from_str(&dev.kubectl.ok(&[
        "get",
        "serviceaccount",
        "ci-deployer",
        "-n",
        "team-a",
        "-o",
        "json",
    ]))
    .expect("json");
    assert!(
        sa["metadata"]["annotations"]
            .get("azure.workload.identity/client-id")
            .is_none()
            && sa["metadata"]["ownerReferences"].is_null(),
        "the ServiceAccount azop did not create is untouched: {sa}"
    );

    // The same tenant's legitimate request goes through: the rules refuse, not a broken setup.
    dev.kubectl.run_with_stdin(
        &["apply", "-f", "-"],
        Some(&ra(
            "acr-pull",
            "{federatedIdentity: {name: orders}}",
            "role: AcrPull",
            "{resourceGroupRef: {name: rg-team-a}}",
        )),
    );
    dev.kubectl.ok(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "-n",
        "team-a",
        "roleassignment/acr-pull",
    ]);

    println!("{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "attacks not refused as they must be:\n{}",
        failures.join("\n")
    );
}

/// Per-profile credentials: a profile that names its own identity has its namespace's objects
/// reconciled as that identity, not as the operator (which is Owner of the subscription). The
/// arm-emulator checks ARM authorization as Azure does: without a role the identity's first
/// request is refused with 403, and the object is `Stalled reason=AuthorizationFailed` with
/// Azure's message and no write; once the platform team grants the role, the object goes
/// Ready with that identity.
#[test]
fn a_profile_identity_acts_for_its_namespaces_and_a_missing_role_is_stalled() {
    const CLIENT_ID: &str = "7eaa0000-0000-4000-8000-0000000000dd";
    const OBJECT_ID: &str = "0b1ec700-0000-4000-8000-0000000000dd";
    let dev = Dev::start(AZOP, &["--no-examples"]);
    // The platform team federates a new identity with the operator's ServiceAccount, and gives
    // it no role yet.
    let issuer = field(&dev.printed, "issuer: ").to_string();
    let subject = field(&dev.printed, "operator-subject: ").to_string();
    let (status, body) = http(
        "POST",
        &format!("{}/_emulator/workloadIdentities", dev.arm_http),
        &[],
        Some(
            &json!({"clientId": CLIENT_ID, "objectId": OBJECT_ID, "issuer": issuer,
                    "subject": subject, "audiences": ["api://AzureADTokenExchange"]})
            .to_string(),
        ),
    );
    assert!(status < 300, "{status} {body}");
    let yaml = format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: team-d, labels: {{azop.dev/profile: team-d}}}}
---
apiVersion: azop.dev/v1alpha1
kind: AzureProfile
metadata: {{name: team-d}}
spec:
  namespaceSelector: {{matchLabels: {{azop.dev/profile: team-d}}}}
  subscriptionId: {SUB}
  credential: {{workloadIdentity: {{clientId: {CLIENT_ID}}}}}
  allowedLocations: [westeurope]
  allowedResourceGroups: ["rg-team-d*"]
  allowedKinds: [ResourceGroup]
"#
    );
    dev.kubectl.ok(&[
        "apply",
        "-f",
        &Dev::yaml_dir("team-d", &yaml).path().to_string_lossy(),
    ]);
    let before = writes(&dev);
    dev.kubectl.run_with_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: azop.dev/v1alpha1\nkind: ResourceGroup\nmetadata: {name: rg-team-d, namespace: team-d}\nspec: {location: westeurope}\n"),
    );
    let (reason, message) = eventually("rg-team-d Stalled", Duration::from_secs(30), || {
        condition(&dev, "team-d", "resourcegroup/rg-team-d", "Stalled")
    });
    assert_eq!(reason, "AuthorizationFailed", "{message}");
    assert!(
        message.contains(&format!("object id '{OBJECT_ID}'"))
            && message.contains("does not have authorization to perform action"),
        "Azure's message names the profile's identity, not the operator's: {message}"
    );
    assert_eq!(writes(&dev), before, "a refused identity writes nothing");

    // The platform team grants Contributor on the subscription; a change to the object (or the
    // next sync) brings it to Ready, created by the profile's identity.
    let (status, body) = http(
        "POST",
        &format!("{}/_emulator/grants", dev.arm_http),
        &[],
        Some(
            &json!({"principalId": OBJECT_ID, "roleDefinitionId": "b24988ac-6180-42a0-ab88-20f7382dd24c",
                    "scope": format!("/subscriptions/{SUB}")})
            .to_string(),
        ),
    );
    assert!(status < 300, "{status} {body}");
    dev.kubectl.ok(&[
        "patch",
        "-n",
        "team-d",
        "resourcegroup/rg-team-d",
        "--type=merge",
        "-p",
        r#"{"spec":{"tags":{"granted":"yes"}}}"#,
    ]);
    dev.kubectl.ok(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "-n",
        "team-d",
        "resourcegroup/rg-team-d",
    ]);
    let resources = dev.resources();
    let group = resources
        .iter()
        .find(|r| {
            r["id"]
                .as_str()
                .is_some_and(|id| id.ends_with("/resourceGroups/rg-team-d"))
        })
        .expect("the group exists");
    assert_eq!(
        group["tags"]["azop.dev/owner"],
        json!(format!("{}/team-d/ResourceGroup/rg-team-d", dev.cluster_id))
    );
}
