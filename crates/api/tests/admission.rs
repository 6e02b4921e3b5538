//! The generated CRDs' schemas and CEL rules, evaluated for real (crd-validation: structural
//! checks plus kube-cel) against the examples and against one bad object per rule.

use std::collections::HashMap;
use std::path::PathBuf;

use azop_api::{
    AksCluster, AzureProfile, FederatedIdentity, KeyVault, KeyVaultBinding, ResourceGroup,
    RoleAssignment,
};
use crd_validation::Schema;
use serde_json::Value;

struct ApiServer {
    schemas: HashMap<String, Schema>,
}

impl ApiServer {
    fn new() -> Self {
        let schemas = azop_api::crds()
            .into_iter()
            .map(|crd| {
                let schema = crd.spec.versions[0]
                    .schema
                    .as_ref()
                    .and_then(|s| s.open_api_v3_schema.as_ref())
                    .expect("every CRD has a schema");
                let json = serde_json::to_value(schema).expect("schema serialises");
                let compiled = Schema::new(&json)
                    .unwrap_or_else(|e| panic!("{} schema compiles: {e}", crd.spec.names.kind));
                (crd.spec.names.kind.clone(), compiled)
            })
            .collect();
        ApiServer { schemas }
    }

    /// What the API server does on create (old = None) or update: prune, default, validate.
    fn admit(&self, mut obj: Value, old: Option<&Value>) -> Result<Value, Vec<String>> {
        let kind = obj["kind"].as_str().expect("object has a kind").to_string();
        let schema = &self.schemas[&kind];
        schema.prune_and_default(&mut obj);
        let errors = schema.validate(&obj, old);
        if errors.is_empty() {
            Ok(obj)
        } else {
            Err(errors.into_iter().map(|e| e.message).collect())
        }
    }
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn yaml_docs(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn example_objects() -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|p| yaml_docs(&std::fs::read_to_string(p).expect("readable example")))
        .filter(|v| v["apiVersion"] == "azop.dev/v1alpha1")
        .collect()
}

fn example(kind: &str, name: &str) -> Value {
    example_objects()
        .into_iter()
        .find(|v| v["kind"] == kind && v["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("example {kind}/{name} exists"))
}

/// Deserialises into the Rust type, proving schema and types agree.
fn typed(obj: &Value) {
    let kind = obj["kind"].as_str().expect("kind");
    let o = obj.clone();
    let r = match kind {
        "AzureProfile" => serde_json::from_value::<AzureProfile>(o).map(|_| ()),
        "ResourceGroup" => serde_json::from_value::<ResourceGroup>(o).map(|_| ()),
        "AksCluster" => serde_json::from_value::<AksCluster>(o).map(|_| ()),
        "KeyVault" => serde_json::from_value::<KeyVault>(o).map(|_| ()),
        "FederatedIdentity" => serde_json::from_value::<FederatedIdentity>(o).map(|_| ()),
        "KeyVaultBinding" => serde_json::from_value::<KeyVaultBinding>(o).map(|_| ()),
        "RoleAssignment" => serde_json::from_value::<RoleAssignment>(o).map(|_| ()),
        other => panic!("unexpected kind {other}"),
    };
    r.unwrap_or_else(|e| panic!("{kind} {} deserialises: {e}", obj["metadata"]["name"]));
}

#[test]
fn every_example_is_admitted_and_deserialises() {
    let api = ApiServer::new();
    let objects = example_objects();
    let kinds: std::collections::BTreeSet<_> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(kinds.len(), 7, "the examples cover every kind: {kinds:?}");
    for obj in objects {
        let name = format!("{}/{}", obj["kind"], obj["metadata"]["name"]);
        let admitted = api
            .admit(obj, None)
            .unwrap_or_else(|e| panic!("{name} refused: {e:#?}"));
        typed(&admitted);
        // An unchanged update passes the transition rules too.
        api.admit(admitted.clone(), Some(&admitted))
            .unwrap_or_else(|e| panic!("{name} update refused: {e:#?}"));
    }
}

/// A rule must not read a field the user may leave out without `has()` first: the apiserver
/// refuses the object with `no such key` (a binding that syncs from a whole vault was refused
/// so until the fault suite tried one). Each example is admitted with each of its spec's
/// fields left out in turn: refused, perhaps (a required field), but never by a rule that
/// could not be evaluated.
#[test]
fn no_rule_fails_to_evaluate_when_a_field_is_left_out() {
    fn paths(v: &Value, at: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let p = format!("{at}.{k}");
                    out.push(p.clone());
                    paths(v, &p, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    paths(v, &format!("{at}.{i}"), out);
                }
            }
            _ => {}
        }
    }
    let api = ApiServer::new();
    let mut failures = Vec::new();
    let mut tried = 0;
    for obj in example_objects() {
        let name = format!("{}/{}", obj["kind"], obj["metadata"]["name"]);
        let mut fields = Vec::new();
        paths(&obj["spec"], "spec", &mut fields);
        for field in fields {
            let mut without = obj.clone();
            set(&mut without, &field, Value::Null);
            tried += 1;
            if let Err(errors) = api.admit(without, None) {
                let unevaluated: Vec<&String> = errors
                    .iter()
                    .filter(|e| e.to_ascii_lowercase().contains("no such key"))
                    .collect();
                if !unevaluated.is_empty() {
                    failures.push(format!("{name} without {field}: {unevaluated:?}"));
                }
            }
        }
    }
    assert!(tried > 100, "only {tried} fields tried");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn defaults_fill_in_what_a_user_leaves_out() {
    let api = ApiServer::new();
    let mut kv = example("KeyVault", "platform-kv");
    kv["spec"] = serde_json::json!({"resourceGroupRef": {"name": "rg"}});
    kv["status"] = serde_json::json!({});
    let kv = api.admit(kv, None).expect("minimal vault admitted");
    assert_eq!(kv["spec"]["sku"], "standard");
    assert_eq!(kv["spec"]["rbacAuthorization"], true);
    assert_eq!(kv["spec"]["softDeleteRetentionDays"], 90);
    // No default: left out, it means Delete for what azop creates and Orphan for what it adopts.
    assert_eq!(kv["spec"]["deletionPolicy"], serde_json::Value::Null);
    assert_eq!(kv["spec"]["managementPolicy"], "Manage");
    assert_eq!(kv["status"]["observedGeneration"], -1);

    let fid = api
        .admit(example("FederatedIdentity", "external-dns"), None)
        .expect("identity admitted");
    assert_eq!(
        fid["spec"]["audiences"],
        serde_json::json!(["api://AzureADTokenExchange"])
    );
}

#[test]
fn the_status_schema_defaults_observed_generation_to_minus_one() {
    let crds = azop_api::crds();
    for crd in crds {
        let schema = serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref()),
        )
        .expect("serialises");
        let status = &schema["properties"]["status"];
        assert_eq!(
            status["default"],
            serde_json::json!({}),
            "{}",
            crd.spec.names.kind
        );
        assert_eq!(
            status["properties"]["observedGeneration"]["default"], -1,
            "{}",
            crd.spec.names.kind
        );
    }
}

/// Sets a value at a dotted path (creating objects on the way); `null` removes the key.
fn set(obj: &mut Value, path: &str, value: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cur = if let Ok(i) = p.parse::<usize>() {
            &mut cur[i]
        } else {
            cur.as_object_mut()
                .expect("object on the path")
                .entry(p.to_string())
                .or_insert_with(|| serde_json::json!({}))
        };
    }
    let last = parts[parts.len() - 1];
    if value.is_null() {
        if let Some(m) = cur.as_object_mut() {
            m.remove(last);
        }
    } else if let Ok(i) = last.parse::<usize>() {
        cur[i] = value;
    } else {
        cur[last] = value;
    }
}

struct Case {
    what: &'static str,
    kind: &'static str,
    name: &'static str,
    /// Changes made to the example before creating it.
    create: &'static [(&'static str, &'static str)],
    /// When set: changes made to the admitted object for an update (transition rules).
    update: &'static [(&'static str, &'static str)],
    /// The refusal must contain this text (naming the field).
    expect: &'static str,
}

fn apply(obj: &mut Value, changes: &[(&str, &str)]) {
    for (path, json) in changes {
        set(
            obj,
            path,
            serde_json::from_str(json).expect("valid JSON in case"),
        );
    }
}

const CASES: &[Case] = &[
    Case {
        what: "vault name too short",
        kind: "KeyVault",
        name: "platform-kv",
        create: &[("spec.azureName", r#""kv""#)],
        update: &[],
        expect: "spec.azureName: Invalid value: \"string\": azureName is not valid as a Key Vault name",
    },
    Case {
        what: "vault name with consecutive hyphens",
        kind: "KeyVault",
        name: "platform-kv",
        create: &[("spec.azureName", r#""team--kv""#)],
        update: &[],
        expect: "spec.azureName: Invalid value: \"string\": azureName is not valid as a Key Vault name",
    },
    Case {
        what: "vault metadata.name used as the Azure name must follow the rule",
        kind: "KeyVault",
        name: "platform-kv",
        create: &[
            ("spec.azureName", "null"),
            ("metadata.name", r#""1-vault""#),
        ],
        update: &[],
        expect: "metadata.name: Invalid value: \"string\": metadata.name is used as a Key Vault name",
    },
    Case {
        what: "resource group name ending with a period",
        kind: "ResourceGroup",
        name: "rg-platform",
        create: &[("spec.azureName", r#""rg-platform.""#)],
        update: &[],
        expect: "spec.azureName: Invalid value: \"string\": azureName is not valid as a resource group name",
    },
    Case {
        what: "resource group name longer than 90",
        kind: "ResourceGroup",
        name: "rg-platform",
        create: &[(
            "spec.azureName",
            r#""aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa""#,
        )],
        update: &[],
        expect: "spec.azureName: Invalid value: \"string\": azureName is not valid as a resource group name",
    },
    Case {
        what: "identity name too short",
        kind: "FederatedIdentity",
        name: "orders",
        create: &[("spec.azureName", r#""ab""#)],
        update: &[],
        expect: "spec.azureName: Invalid value: \"string\": azureName is not valid as a managed identity name",
    },
    Case {
        what: "federated credential name with a dot",
        kind: "FederatedIdentity",
        name: "orders",
        create: &[("spec.credentialName", r#""orders.cred""#)],
        update: &[],
        expect: "spec.credentialName: Invalid value: \"orders.cred\": spec.credentialName in body should match",
    },
    Case {
        what: "AKS cluster name with a dot",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.azureName", r#""prod.cluster""#)],
        update: &[],
        expect: "spec.azureName: Invalid value: \"string\": azureName is not valid as an AKS cluster name",
    },
    Case {
        what: "AKS dnsPrefix starting with a hyphen",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.dnsPrefix", r#""-prod""#)],
        update: &[],
        expect: "spec.dnsPrefix: Invalid value: \"-prod\": spec.dnsPrefix in body should match",
    },
    Case {
        what: "agent pool name with capitals",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.nodePools.1.name", r#""Apps""#)],
        update: &[],
        expect: "spec.nodePools[1].name: Invalid value: \"Apps\": spec.nodePools[1].name in body should match",
    },
    Case {
        what: "location not in ARM form",
        kind: "ResourceGroup",
        name: "rg-platform",
        create: &[("spec.location", r#""West Europe""#)],
        update: &[],
        expect: "spec.location: Invalid value: \"West Europe\": spec.location in body should match",
    },
    Case {
        what: "subscription id that is not a GUID",
        kind: "AzureProfile",
        name: "team-a",
        create: &[("spec.subscriptionId", r#""my-subscription""#)],
        update: &[],
        expect: "spec.subscriptionId: Invalid value: \"my-subscription\": spec.subscriptionId in body should match",
    },
    Case {
        what: "unknown vault sku",
        kind: "KeyVault",
        name: "platform-kv",
        create: &[("spec.sku", r#""gold""#)],
        update: &[],
        expect: "spec.sku: Unsupported value: \"gold\": supported values: \"standard\", \"premium\"",
    },
    Case {
        what: "unknown binding role",
        kind: "KeyVaultBinding",
        name: "orders-db",
        create: &[("spec.role", r#""Owner""#)],
        update: &[],
        expect: "spec.role: Unsupported value: \"Owner\": supported values: \"SecretsUser\"",
    },
    Case {
        what: "unknown network plugin",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.network.plugin", r#""flannel""#)],
        update: &[],
        expect: "spec.network.plugin: Unsupported value: \"flannel\"",
    },
    Case {
        what: "unknown deletion policy",
        kind: "ResourceGroup",
        name: "rg-platform",
        create: &[("spec.deletionPolicy", r#""Retain""#)],
        update: &[],
        expect: "spec.deletionPolicy: Unsupported value: \"Retain\": supported values: \"Delete\", \"Orphan\"",
    },
    Case {
        what: "missing required role",
        kind: "KeyVaultBinding",
        name: "orders-db",
        create: &[("spec.role", "null")],
        update: &[],
        expect: "spec.role: Required value",
    },
    Case {
        what: "both resourceGroupRef and resourceGroupName",
        kind: "KeyVault",
        name: "platform-kv",
        create: &[("spec.resourceGroupName", r#""rg-existing""#)],
        update: &[],
        expect: "spec.resourceGroupName: Invalid value: \"string\": resourceGroupRef and resourceGroupName are mutually exclusive",
    },
    Case {
        what: "issuer with both url and clusterRef",
        kind: "FederatedIdentity",
        name: "orders",
        create: &[("spec.issuer.url", r#""https://issuer.example.com""#)],
        update: &[],
        expect: "spec.issuer: Invalid value: \"object\": issuer must set exactly one of clusterRef, url and self",
    },
    Case {
        what: "issuer with none of its choices",
        kind: "FederatedIdentity",
        name: "orders",
        create: &[("spec.issuer", "{}")],
        update: &[],
        expect: "spec.issuer: Invalid value: \"object\": issuer must set exactly one of clusterRef, url and self",
    },
    Case {
        what: "plain-http issuer url",
        kind: "FederatedIdentity",
        name: "orders",
        create: &[("spec.issuer", r#"{"url": "http://issuer.example.com"}"#)],
        update: &[],
        expect: "spec.issuer.url: Invalid value: \"string\": issuer.url must be an https URL",
    },
    Case {
        what: "principal with two variants",
        kind: "RoleAssignment",
        name: "external-dns-reader",
        create: &[(
            "spec.principal.objectId",
            r#""44444444-4444-4444-4444-444444444444""#,
        )],
        update: &[],
        expect: "spec.principal: Invalid value: \"object\": principal must set exactly one of aksKubeletOf, federatedIdentity and objectId",
    },
    Case {
        what: "scope with two variants",
        kind: "RoleAssignment",
        name: "external-dns-reader",
        create: &[("spec.scope.keyVaultRef", r#"{"name": "platform-kv"}"#)],
        update: &[],
        expect: "spec.scope: Invalid value: \"object\": scope must set exactly one of resourceId, keyVaultRef, aksClusterRef and resourceGroupRef",
    },
    Case {
        what: "role and roleDefinitionId together",
        kind: "RoleAssignment",
        name: "external-dns-reader",
        create: &[(
            "spec.roleDefinitionId",
            r#""acdd72a7-3385-48ef-bd42-f606fba81ae7""#,
        )],
        update: &[],
        expect: "spec: Invalid value: \"object\": set exactly one of role and roleDefinitionId",
    },
    Case {
        what: "21 audiences",
        kind: "FederatedIdentity",
        name: "orders",
        create: &[(
            "spec.audiences",
            r#"["a1","a2","a3","a4","a5","a6","a7","a8","a9","a10","a11","a12","a13","a14","a15","a16","a17","a18","a19","a20","a21"]"#,
        )],
        update: &[],
        expect: "spec.audiences: Too many: 21: must have at most 20 items",
    },
    Case {
        what: "workload identity without an OIDC issuer",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.oidcIssuer", "false")],
        update: &[],
        expect: "spec: Invalid value: \"object\": workloadIdentity requires oidcIssuer: true",
    },
    Case {
        what: "no System pool",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.nodePools.0.mode", r#""User""#)],
        update: &[],
        expect: "spec: Invalid value: \"object\": at least one node pool must have mode System",
    },
    Case {
        what: "duplicate pool names",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.nodePools.1.name", r#""system""#)],
        update: &[],
        expect: "spec.nodePools[1]: Duplicate value: {\"name\":\"system\"}",
    },
    Case {
        what: "autoscaling min above max",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.nodePools.1.autoscaling", r#"{"min": 5, "max": 2}"#)],
        update: &[],
        expect: "spec.nodePools[1]: Invalid value: \"object\": autoscaling.min must not exceed autoscaling.max",
    },
    Case {
        what: "reserved tag prefix",
        kind: "ResourceGroup",
        name: "rg-platform",
        create: &[("spec.tags", r#"{"azop.dev/owner": "me"}"#)],
        update: &[],
        expect: "spec.tags: Invalid value: \"object\": tags with the azop.dev/ prefix are reserved for azop",
    },
    Case {
        what: "retention outside 7-90 days",
        kind: "KeyVault",
        name: "platform-kv",
        create: &[("spec.softDeleteRetentionDays", "100")],
        update: &[],
        expect: "spec.softDeleteRetentionDays: Invalid value: 100: spec.softDeleteRetentionDays in body should be less than or equal to 90",
    },
    Case {
        what: "access policies instead of RBAC",
        kind: "KeyVault",
        name: "platform-kv",
        create: &[("spec.rbacAuthorization", "false")],
        update: &[],
        expect: "spec.rbacAuthorization: Invalid value: \"boolean\": rbacAuthorization must be true",
    },
    Case {
        what: "sync item outside the scoped secrets",
        kind: "KeyVaultBinding",
        name: "orders-db",
        create: &[("spec.sync.items.1.vaultSecret", r#""api-key""#)],
        update: &[],
        expect: "spec: Invalid value: \"object\": every sync item's vaultSecret must be listed in secrets",
    },
    Case {
        what: "profile default location outside the allowed ones",
        kind: "AzureProfile",
        name: "team-a",
        create: &[("spec.defaults.location", r#""eastus""#)],
        update: &[],
        expect: "spec: Invalid value: \"object\": defaults.location must be one of allowedLocations",
    },
    // Transition rules: the object is created as in the example, then changed.
    Case {
        what: "azureName changed",
        kind: "KeyVault",
        name: "platform-kv",
        create: &[],
        update: &[("spec.azureName", r#""azop-other-kv""#)],
        expect: "spec.azureName: Invalid value: \"string\": azureName is immutable",
    },
    Case {
        what: "azureName added after creation",
        kind: "ResourceGroup",
        name: "rg-platform",
        create: &[],
        update: &[("spec.azureName", r#""rg-renamed""#)],
        expect: "spec.azureName: Invalid value: \"string\": azureName is immutable: it cannot be added or removed",
    },
    Case {
        what: "location changed",
        kind: "ResourceGroup",
        name: "rg-platform",
        create: &[],
        update: &[("spec.location", r#""northeurope""#)],
        expect: "spec.location: Invalid value: \"string\": location is immutable",
    },
    Case {
        what: "dnsPrefix changed",
        kind: "AksCluster",
        name: "prod",
        create: &[],
        update: &[("spec.dnsPrefix", r#""prod2""#)],
        expect: "spec.dnsPrefix: Invalid value: \"string\": dnsPrefix is immutable",
    },
    Case {
        what: "Kubernetes downgraded",
        kind: "AksCluster",
        name: "prod",
        create: &[],
        update: &[("spec.kubernetesVersion", r#""1.30""#)],
        expect: "spec.kubernetesVersion: Invalid value: \"string\": kubernetesVersion moves up one minor version at a time: AKS cannot downgrade a cluster or skip a minor version",
    },
    Case {
        what: "a minor version skipped",
        kind: "AksCluster",
        name: "prod",
        create: &[],
        update: &[("spec.kubernetesVersion", r#""1.33""#)],
        expect: "spec.kubernetesVersion: Invalid value: \"string\": kubernetesVersion moves up one minor version at a time",
    },
    Case {
        what: "a patch version downgraded",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.kubernetesVersion", r#""1.31.3""#)],
        update: &[("spec.kubernetesVersion", r#""1.31.2""#)],
        expect: "spec.kubernetesVersion: Invalid value: \"string\": kubernetesVersion cannot go back to an earlier patch version",
    },
    Case {
        what: "entraId removed",
        kind: "AksCluster",
        name: "prod",
        create: &[],
        update: &[
            ("spec.entraId", "null"),
            ("spec.disableLocalAccounts", "false"),
        ],
        expect: "spec: Invalid value: \"object\": entraId cannot be removed once set",
    },
    Case {
        what: "network plugin changed",
        kind: "AksCluster",
        name: "prod",
        create: &[],
        update: &[
            ("spec.network.plugin", r#""kubenet""#),
            ("spec.network.pluginMode", "null"),
            ("spec.network.policy", "null"),
        ],
        expect: "spec.network.plugin: Invalid value: \"string\": network.plugin is immutable",
    },
    Case {
        what: "private DNS zone on a public API server",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.apiServer", r#"{"privateDnsZone": "system"}"#)],
        update: &[],
        expect: "apiServer.privateDnsZone applies to a private API server",
    },
    Case {
        what: "custom private DNS zone with a system-assigned identity",
        kind: "AksCluster",
        name: "prod",
        create: &[(
            "spec.apiServer",
            r#"{"private": true, "privateDnsZone": "/subscriptions/s/resourceGroups/dns/providers/Microsoft.Network/privateDnsZones/privatelink.westeurope.azmk8s.io"}"#,
        )],
        update: &[],
        expect: "apiServer.privateDnsZone given by id needs identity.type UserAssigned",
    },
    Case {
        what: "private DNS zone that is no privatelink zone",
        kind: "AksCluster",
        name: "prod",
        create: &[(
            "spec.apiServer",
            r#"{"private": true, "privateDnsZone": "/subscriptions/s/resourceGroups/dns/providers/Microsoft.Network/privateDnsZones/example.com"}"#,
        )],
        update: &[],
        expect: "spec.apiServer.privateDnsZone",
    },
    Case {
        what: "NAT gateway outbound without the subnet it sits on",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.network", r#"{"outboundType": "natGateway"}"#)],
        update: &[],
        expect: "network.outboundType natGateway needs network.subnetId",
    },
    Case {
        what: "managed NAT gateway settings with load balancer outbound",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.network", r#"{"natGateway": {"outboundIps": 2}}"#)],
        update: &[],
        expect: "network.natGateway configures the NAT gateway AKS manages",
    },
    Case {
        what: "Defender without its workspace",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.addons", r#"{"defender": {}}"#)],
        update: &[],
        expect: "spec.addons.defender.logAnalyticsWorkspaceId: Required value",
    },
    Case {
        what: "node resource group changed",
        kind: "AksCluster",
        name: "prod",
        create: &[("spec.nodeResourceGroup", r#""rg-nodes""#)],
        update: &[("spec.nodeResourceGroup", r#""rg-other""#)],
        expect: "nodeResourceGroup is immutable",
    },
    Case {
        what: "node resource group named after creation",
        kind: "AksCluster",
        name: "prod",
        create: &[],
        update: &[("spec.nodeResourceGroup", r#""rg-nodes""#)],
        expect: "nodeResourceGroup cannot be added or removed after creation",
    },
    Case {
        what: "private API server switched on",
        kind: "AksCluster",
        name: "prod",
        create: &[],
        update: &[("spec.apiServer", r#"{"private": true}"#)],
        expect: "spec.apiServer.private: Invalid value: \"boolean\": apiServer.private is immutable",
    },
    Case {
        what: "resource group reference changed",
        kind: "KeyVault",
        name: "platform-kv",
        create: &[],
        update: &[("spec.resourceGroupRef", r#"{"name": "rg-other"}"#)],
        expect: "spec.resourceGroupRef: Invalid value: \"object\": resourceGroupRef is immutable",
    },
    Case {
        what: "purge protection turned off",
        kind: "KeyVault",
        name: "platform-kv",
        create: &[],
        update: &[("spec.purgeProtection", "false")],
        expect: "spec.purgeProtection: Invalid value: \"boolean\": purgeProtection cannot be turned off",
    },
    Case {
        what: "ServiceAccount changed",
        kind: "FederatedIdentity",
        name: "orders",
        create: &[],
        update: &[("spec.serviceAccount.name", r#""payments""#)],
        expect: "spec.serviceAccount.name: Invalid value: \"string\": serviceAccount.name is immutable",
    },
    Case {
        what: "role assignment scope changed",
        kind: "RoleAssignment",
        name: "external-dns-reader",
        create: &[],
        update: &[(
            "spec.scope",
            r#"{"resourceGroupRef": {"name": "rg-other"}}"#,
        )],
        expect: "spec.scope: Invalid value: \"object\": scope is immutable",
    },
    Case {
        what: "binding moved to another vault",
        kind: "KeyVaultBinding",
        name: "orders-db",
        create: &[],
        update: &[(
            "spec.vaultRef",
            r#"{"name": "other-kv", "namespace": "platform"}"#,
        )],
        expect: "spec.vaultRef: Invalid value: \"object\": vaultRef is immutable",
    },
];

#[test]
fn each_bad_object_is_refused_with_a_message_naming_the_field() {
    let api = ApiServer::new();
    let mut failures = Vec::new();
    for case in CASES {
        let mut obj = example(case.kind, case.name);
        apply(&mut obj, case.create);
        let result = if case.update.is_empty() {
            api.admit(obj, None)
        } else {
            let old = api
                .admit(obj, None)
                .unwrap_or_else(|e| panic!("{}: the original is admitted: {e:?}", case.what));
            let mut new = old.clone();
            apply(&mut new, case.update);
            api.admit(new, Some(&old))
        };
        match result {
            Ok(_) => failures.push(format!(
                "{}: admitted, expected `{}`",
                case.what, case.expect
            )),
            Err(errors) => {
                if !errors.iter().any(|e| e.contains(case.expect)) {
                    failures.push(format!(
                        "{}: expected `{}`, got {errors:#?}",
                        case.what, case.expect
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn a_cluster_moves_up_one_minor_or_any_patch_at_a_time() {
    let api = ApiServer::new();
    for (from, to) in [
        ("1.31", "1.32"),
        ("1.31", "1.31.5"),
        ("1.31.2", "1.31.3"),
        ("1.31.9", "1.32.1"),
        ("1.31", "1.31"),
    ] {
        let mut obj = example("AksCluster", "prod");
        apply(
            &mut obj,
            &[("spec.kubernetesVersion", &format!("{from:?}"))],
        );
        let old = api.admit(obj, None).expect("the original is admitted");
        let mut new = old.clone();
        apply(&mut new, &[("spec.kubernetesVersion", &format!("{to:?}"))]);
        if let Err(e) = api.admit(new, Some(&old)) {
            panic!("{from} → {to} refused: {e:?}");
        }
    }
}

#[test]
fn every_rule_is_within_the_apiservers_cost_budget() {
    let mut warnings = Vec::new();
    for crd in azop_api::crds() {
        let schema = serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref()),
        )
        .expect("serialises");
        for w in crd_validation::rule_cost_warnings(&schema) {
            warnings.push(format!("{}: {w}", crd.spec.names.kind));
        }
    }
    assert!(warnings.is_empty(), "{}", warnings.join("\n"));
}
