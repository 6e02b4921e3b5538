//! Every field name azop writes in a body exists in Azure's own REST spec for that resource
//! (`../shared/arm-specs`), so a typo or an invented field is caught here, not by ARM.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use azop_api::{AksCluster, FederatedIdentity, KeyVault, ResourceGroup, RoleAssignment};
use azop_arm::ResourceId;
use azop_controller::engine::AzureKind;
use azop_controller::kinds::{aks_cluster, federated_identity, key_vault, role_assignment};
use azop_controller::policy::Decision;
use serde_json::{Value, json};

const GROUP: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-a";

fn specs(provider: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/arm-specs")
        .join(provider)
}

/// Every property name the provider's specs define, anywhere.
fn defined_names(provider: &str) -> BTreeSet<String> {
    fn walk(v: &Value, names: &mut BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::Object(props)) = o.get("properties") {
                    names.extend(props.keys().cloned());
                }
                o.values().for_each(|c| walk(c, names));
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, names)),
            _ => {}
        }
    }
    // The envelope every tracked resource has, defined in ARM's common types.
    let mut names: BTreeSet<String> = ["id", "name", "type", "location", "tags"]
        .into_iter()
        .map(String::from)
        .collect();
    let mut dirs = vec![specs(provider)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("the specs are beside the repository") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "examples") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "json") {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read"))
                    .expect("json");
                walk(&v, &mut names);
            }
        }
    }
    names
}

/// Keys whose children are names the user chooses (tags, identities by id, add-ons by name).
const MAPS: &[&str] = &[
    "tags",
    "userAssignedIdentities",
    "addonProfiles",
    "config",
    "nodeLabels",
];

fn unknown_fields(body: &Value, names: &BTreeSet<String>, path: &str, out: &mut Vec<String>) {
    match body {
        Value::Object(o) => {
            for (k, v) in o {
                if !names.contains(k) {
                    out.push(format!("{path}/{k}"));
                }
                if MAPS.contains(&k.as_str()) {
                    if let Value::Object(m) = v {
                        for (mk, mv) in m {
                            unknown_fields(mv, names, &format!("{path}/{k}/{mk}"), out);
                        }
                    }
                } else {
                    unknown_fields(v, names, &format!("{path}/{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                unknown_fields(v, names, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn assert_known(provider: &str, body: Value) {
    let names = defined_names(provider);
    let mut unknown = Vec::new();
    unknown_fields(&body, &names, "", &mut unknown);
    assert!(
        unknown.is_empty(),
        "{provider}: fields the spec does not define: {unknown:?}"
    );
}

fn decision() -> Decision {
    Decision {
        location: Some("westeurope".into()),
        resource_group_name: Some("rg-a".into()),
        default_tags: BTreeMap::from([("team".into(), "a".into())]),
        subscription_id: Some("00000000-0000-0000-0000-000000000001".into()),
        tenant_id: Some("00000000-0000-0000-0000-000000000002".into()),
        ..Decision::default()
    }
}

fn obj<K: serde::de::DeserializeOwned>(kind: &str, spec: Value) -> K {
    serde_json::from_value(json!({"apiVersion": "azop.dev/v1alpha1", "kind": kind,
        "metadata": {"name": "x", "namespace": "team-a"}, "spec": spec}))
    .expect("a valid object")
}

fn group() -> ResourceId {
    ResourceId::parse(GROUP).expect("group")
}

#[test]
fn resource_group_fields_are_azures() {
    let rg: ResourceGroup = obj(
        "ResourceGroup",
        json!({"location": "westeurope", "tags": {"a": "b"}}),
    );
    let d = rg.desired(&(), &decision()).expect("desired");
    assert_known(
        "Microsoft.Resources",
        serde_json::to_value(d.body).expect("json"),
    );
}

#[test]
fn key_vault_fields_are_azures() {
    let kv: KeyVault = obj(
        "KeyVault",
        json!({"resourceGroupName": "rg-a", "sku": "premium", "purgeProtection": true, "publicNetworkAccess": "Disabled",
               "networkAcls": {"defaultAction": "Deny", "bypass": "None", "ipRules": ["203.0.113.0/24"],
                               "virtualNetworkSubnetIds": ["/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/a"]}}),
    );
    let mut d = kv
        .desired(&key_vault::Resolved { group: group() }, &decision())
        .expect("desired");
    // What a recover adds is Azure's too.
    if let Some(p) = d.body.properties.as_mut() {
        p.create_mode = Some("recover".into());
    }
    assert_known(
        "Microsoft.KeyVault",
        serde_json::to_value(d.body).expect("json"),
    );
}

#[test]
fn aks_cluster_fields_are_azures() {
    let c: AksCluster = obj(
        "AksCluster",
        json!({"dnsPrefix": "p", "resourceGroupName": "rg-a", "kubernetesVersion": "1.31", "sku": {"tier": "Standard"},
               "identity": {"type": "UserAssigned", "identityRef": {"name": "cp"}},
               "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5", "count": 3, "zones": ["1"],
                              "orchestratorVersion": "1.31", "osDiskSizeGb": 128, "maxPods": 50},
                             {"name": "apps", "mode": "User", "vmSize": "Standard_D8ds_v5", "autoscaling": {"min": 1, "max": 5},
                              "taints": ["a=b:NoSchedule"], "labels": {"a": "b"}}],
               "network": {"plugin": "azure", "pluginMode": "overlay", "policy": "cilium", "outboundType": "natGateway",
                           "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10",
                           "subnetId": "/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/a"},
               "apiServer": {"private": true, "authorizedIpRanges": ["203.0.113.0/24"], "privateDnsZone": "system"},
               "nodeResourceGroup": "rg-prod-nodes",
               "oidcIssuer": true, "workloadIdentity": true,
               "entraId": {"azureRbac": true, "adminGroupObjectIds": ["33333333-3333-3333-3333-333333333333"]},
               "disableLocalAccounts": true,
               "addons": {"keyVaultSecretsProvider": {"rotation": true}, "azurePolicy": true,
                          "defender": {"logAnalyticsWorkspaceId": "/subscriptions/s/resourceGroups/m/providers/Microsoft.OperationalInsights/workspaces/w"},
                          "monitoring": {"workspaceId": "/subscriptions/s/resourceGroups/m/providers/Microsoft.OperationalInsights/workspaces/w"}},
               "autoUpgradeChannel": "patch"}),
    );
    let resolved = aks_cluster::Resolved {
        group: group(),
        identity: Some(
            ResourceId::parse(&format!(
                "{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cp"
            ))
            .expect("id"),
        ),
    };
    let d = c.desired(&resolved, &decision()).expect("desired");
    assert_known(
        "Microsoft.ContainerService",
        serde_json::to_value(d.body).expect("json"),
    );
}

#[test]
fn federated_identity_and_credential_fields_are_azures() {
    let fi: FederatedIdentity = obj(
        "FederatedIdentity",
        json!({"resourceGroupName": "rg-a", "issuer": {"url": "https://issuer.example/"}, "serviceAccount": {"name": "sa"}}),
    );
    let resolved = federated_identity::Resolved {
        group: group(),
        issuer: "https://issuer.example/".into(),
        credentials: Vec::new(),
        identity: None,
    };
    let d = fi.desired(&resolved, &decision()).expect("desired");
    let children = fi.children(&resolved, &d).expect("children");
    assert_known(
        "Microsoft.ManagedIdentity",
        serde_json::to_value(&d.body).expect("json"),
    );
    for c in children {
        assert_known("Microsoft.ManagedIdentity", c.body);
    }
}

#[test]
fn role_assignment_fields_are_azures() {
    let ra: RoleAssignment = obj(
        "RoleAssignment",
        json!({"principal": {"objectId": "44444444-4444-4444-4444-444444444444"}, "role": "Reader", "scope": {"resourceId": GROUP}}),
    );
    let resolved = role_assignment::Resolved {
        scope: group(),
        principal_id: "44444444-4444-4444-4444-444444444444".into(),
    };
    let d = ra.desired(&resolved, &decision()).expect("desired");
    let mut body = serde_json::to_value(d.body).expect("json");
    RoleAssignment::mark_owner(&mut body, "c/ns/RoleAssignment/x");
    assert_known("Microsoft.Authorization", body);
}
