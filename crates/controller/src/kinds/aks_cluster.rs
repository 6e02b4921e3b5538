//! AksCluster → `Microsoft.ContainerService/managedClusters`.
//!
//! AKS runs one operation at a time; the engine never writes while the cluster's
//! provisioningState says one runs. Drift ignores what AKS or the autoscaler changes on its own
//! (an autoscaled pool's count) and compares pools by name, whatever order AKS lists them in.

use std::collections::BTreeMap;

use azop_api::aks_cluster::{
    AutoUpgradeChannel, ClusterIdentityType, KubeletIdentity, NetworkPlugin, NetworkPluginMode,
    NetworkPolicyEngine, NodePool, NodePoolStatus, OutboundType, PoolMode, SkuTier,
};
use azop_api::azure_resource::{AzureResourceStatus, DeletionPolicy, ManagementPolicy};
use azop_api::profile::AzopKind;
use azop_api::{AksCluster, AksClusterStatus, FederatedIdentity};
use futures::future::BoxFuture;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::engine::{AzureKind, Context, Desired, ReconcileError, Reference};
use crate::policy::{Decision, Request};
use crate::references;

/// The api-version of ../shared/arm-specs for managed clusters.
pub const API_VERSION: &str = "2026-05-01";

fn azure_name(c: &AksCluster) -> String {
    c.spec
        .azure
        .azure_name
        .clone()
        .unwrap_or_else(|| c.name_any())
}

fn pool_body(p: &NodePool) -> Value {
    let mut body = json!({
        "name": p.name,
        "mode": match p.mode { PoolMode::System => "System", PoolMode::User => "User" },
        "vmSize": p.vm_size,
        "osType": "Linux",
        "type": "VirtualMachineScaleSets",
    });
    if let Some(a) = &p.autoscaling {
        body["enableAutoScaling"] = json!(true);
        body["minCount"] = json!(a.min);
        body["maxCount"] = json!(a.max);
        body["count"] = json!(p.count.unwrap_or(a.min));
    } else {
        body["enableAutoScaling"] = json!(false);
        body["count"] = json!(p.count.unwrap_or(1));
    }
    if !p.zones.is_empty() {
        body["availabilityZones"] = json!(p.zones);
    }
    if !p.taints.is_empty() {
        body["nodeTaints"] = json!(p.taints);
    }
    if !p.labels.is_empty() {
        body["nodeLabels"] = json!(p.labels);
    }
    if let Some(v) = &p.orchestrator_version {
        body["orchestratorVersion"] = json!(v);
    }
    if let Some(d) = p.os_disk_size_gb {
        body["osDiskSizeGB"] = json!(d);
    }
    if let Some(m) = p.max_pods {
        body["maxPods"] = json!(m);
    }
    body
}

impl AzureKind for AksCluster {
    const KIND: AzopKind = AzopKind::AksCluster;
    const API_VERSION: &'static str = API_VERSION;
    type Status = AksClusterStatus;

    fn status(&self) -> Option<&AksClusterStatus> {
        self.status.as_ref()
    }

    fn azure_status(status: &mut AksClusterStatus) -> &mut AzureResourceStatus {
        &mut status.azure
    }

    fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.azure.deletion_policy
    }

    fn management_policy(&self) -> ManagementPolicy {
        self.spec.azure.management_policy
    }

    fn policy_request(&self) -> Request<'_> {
        Request {
            location: self.spec.azure.location.as_deref(),
            needs_location: true,
            resource_group_name: self.spec.placement.resource_group_name.as_deref(),
            resource_group_ref: self.spec.placement.resource_group_ref.is_some(),
            needs_resource_group: true,
            ..Request::default()
        }
    }

    fn references(&self) -> Vec<Reference> {
        let own = self.namespace().unwrap_or_default();
        let mut refs = references::placement_refs(self, &self.spec.placement);
        if let Some(r) = &self.spec.identity.identity_ref {
            refs.push(Reference::new(
                AzopKind::FederatedIdentity,
                None,
                &own,
                &r.name,
            ));
        }
        refs
    }

    fn desired<'a>(
        &'a self,
        ctx: &'a Context,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Desired, ReconcileError>> {
        Box::pin(async move {
            let ns = self.namespace().unwrap_or_default();
            let group =
                references::resource_group_id(ctx, &ns, &self.spec.placement, decision).await?;
            let spec = &self.spec;
            let mut tags = decision.default_tags.clone();
            tags.extend(spec.azure.tags.clone());
            let identity = match spec.identity.type_ {
                ClusterIdentityType::SystemAssigned => json!({"type": "SystemAssigned"}),
                ClusterIdentityType::UserAssigned => {
                    let name = spec
                        .identity
                        .identity_ref
                        .as_ref()
                        .map(|r| r.name.clone())
                        .unwrap_or_default();
                    let (_, common) =
                        references::ready::<FederatedIdentity>(ctx, &ns, &name).await?;
                    let id = common.resource_id.unwrap_or_default();
                    json!({"type": "UserAssigned", "userAssignedIdentities": {id: {}}})
                }
            };
            let net = &spec.network;
            let mut network = json!({
                "networkPlugin": match net.plugin { NetworkPlugin::Azure => "azure", NetworkPlugin::Kubenet => "kubenet", NetworkPlugin::None => "none" },
                "outboundType": match net.outbound_type {
                    OutboundType::LoadBalancer => "loadBalancer",
                    OutboundType::NatGateway => "userAssignedNATGateway",
                    OutboundType::ManagedNatGateway => "managedNATGateway",
                    OutboundType::UserDefinedRouting => "userDefinedRouting",
                },
            });
            if let Some(NetworkPluginMode::Overlay) = net.plugin_mode {
                network["networkPluginMode"] = json!("overlay");
            }
            if let Some(policy) = net.policy {
                let p = match policy {
                    NetworkPolicyEngine::Azure => "azure",
                    NetworkPolicyEngine::Calico => "calico",
                    NetworkPolicyEngine::Cilium => "cilium",
                    NetworkPolicyEngine::None => "none",
                };
                network["networkPolicy"] = json!(p);
                if policy == NetworkPolicyEngine::Cilium {
                    // Azure CNI powered by Cilium: the policy engine is the dataplane.
                    network["networkDataplane"] = json!("cilium");
                }
            }
            for (k, v) in [
                ("podCidr", &net.pod_cidr),
                ("serviceCidr", &net.service_cidr),
                ("dnsServiceIP", &net.dns_service_ip),
            ] {
                if let Some(v) = v {
                    network[k] = json!(v);
                }
            }
            let mut pools: Vec<Value> = spec.node_pools.iter().map(pool_body).collect();
            if let Some(subnet) = &net.subnet_id {
                for p in &mut pools {
                    p["vnetSubnetID"] = json!(subnet);
                }
            }
            let mut addons = serde_json::Map::new();
            if let Some(kv) = &spec.addons.key_vault_secrets_provider {
                addons.insert("azureKeyvaultSecretsProvider".into(), json!({"enabled": true, "config": {"enableSecretRotation": kv.rotation.to_string()}}));
            }
            if spec.addons.azure_policy {
                addons.insert("azurepolicy".into(), json!({"enabled": true}));
            }
            if let Some(m) = &spec.addons.monitoring {
                addons.insert("omsagent".into(), json!({"enabled": true, "config": {"logAnalyticsWorkspaceResourceID": m.workspace_id}}));
            }
            let mut properties = json!({
                "dnsPrefix": spec.dns_prefix,
                "agentPoolProfiles": pools,
                "networkProfile": network,
                "apiServerAccessProfile": {"enablePrivateCluster": spec.api_server.private},
                "oidcIssuerProfile": {"enabled": spec.oidc_issuer},
                "securityProfile": {"workloadIdentity": {"enabled": spec.workload_identity}},
                "disableLocalAccounts": spec.disable_local_accounts,
                "addonProfiles": addons,
                "autoUpgradeProfile": {"upgradeChannel": match spec.auto_upgrade_channel {
                    AutoUpgradeChannel::None => "none",
                    AutoUpgradeChannel::Patch => "patch",
                    AutoUpgradeChannel::Stable => "stable",
                    AutoUpgradeChannel::Rapid => "rapid",
                    AutoUpgradeChannel::NodeImage => "node-image",
                }},
            });
            if !spec.api_server.authorized_ip_ranges.is_empty() {
                properties["apiServerAccessProfile"]["authorizedIPRanges"] =
                    json!(spec.api_server.authorized_ip_ranges);
            }
            if let Some(v) = &spec.kubernetes_version {
                properties["kubernetesVersion"] = json!(v);
            }
            if spec.addons.defender {
                properties["securityProfile"]["defender"] =
                    json!({"securityMonitoring": {"enabled": true}});
            }
            if let Some(e) = &spec.entra_id {
                properties["aadProfile"] = json!({"managed": true, "enableAzureRBAC": e.azure_rbac, "adminGroupObjectIDs": e.admin_group_object_ids});
            }
            let tier = match spec.sku.tier {
                SkuTier::Free => "Free",
                SkuTier::Standard => "Standard",
                SkuTier::Premium => "Premium",
            };
            Ok(Desired {
                id: format!(
                    "{group}/providers/Microsoft.ContainerService/managedClusters/{}",
                    azure_name(self)
                ),
                body: json!({
                    "location": decision.location,
                    "tags": tags,
                    "sku": {"name": "Base", "tier": tier},
                    "identity": identity,
                    "properties": properties,
                }),
            })
        })
    }

    fn in_sync(desired: &Value, actual: &Value) -> bool {
        let mut d = desired.clone();
        let mut a = actual.clone();
        // Pools are compared by name; an autoscaled pool's count is the autoscaler's business.
        let pools_of = |v: &mut Value| -> BTreeMap<String, Value> {
            v.pointer_mut("/properties/agentPoolProfiles")
                .map(Value::take)
                .and_then(|p| p.as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .map(|p| {
                    (
                        p.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        p,
                    )
                })
                .collect()
        };
        let desired_pools = pools_of(&mut d);
        let actual_pools = pools_of(&mut a);
        if desired_pools.len() != actual_pools.len() {
            return false;
        }
        for (name, mut dp) in desired_pools {
            let Some(ap) = actual_pools.get(&name) else {
                return false;
            };
            if dp.get("enableAutoScaling") == Some(&json!(true))
                && let Some(o) = dp.as_object_mut()
            {
                o.remove("count");
            }
            if !crate::drift::in_sync(&dp, ap) {
                return false;
            }
        }
        // An unset version means "AKS's default": whatever runs is fine.
        if d.pointer("/properties/kubernetesVersion").is_none()
            && let Some(p) = a.get_mut("properties").and_then(Value::as_object_mut)
        {
            p.remove("kubernetesVersion");
        }
        if let (Some(want), Some(have)) = (
            d.pointer("/properties/kubernetesVersion")
                .and_then(Value::as_str)
                .map(str::to_string),
            a.pointer("/properties/kubernetesVersion")
                .and_then(Value::as_str)
                .map(str::to_string),
        ) && (have == want || have.starts_with(&format!("{want}.")))
            && let Some(p) = d.get_mut("properties").and_then(Value::as_object_mut)
        {
            // "1.31" is satisfied by "1.31.2".
            p.remove("kubernetesVersion");
        }
        crate::drift::in_sync(&d, &a)
    }

    fn outputs(status: &mut AksClusterStatus, actual: &Value) {
        let s = |p: &str| {
            actual
                .pointer(p)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        status.fqdn = s("/properties/fqdn");
        status.private_fqdn = s("/properties/privateFQDN");
        status.oidc_issuer_url = s("/properties/oidcIssuerProfile/issuerURL");
        status.current_kubernetes_version = s("/properties/currentKubernetesVersion")
            .or_else(|| s("/properties/kubernetesVersion"));
        status.power_state = s("/properties/powerState/code");
        if actual
            .pointer("/properties/identityProfile/kubeletidentity")
            .is_some()
        {
            status.kubelet_identity = Some(KubeletIdentity {
                client_id: s("/properties/identityProfile/kubeletidentity/clientId"),
                object_id: s("/properties/identityProfile/kubeletidentity/objectId"),
                resource_id: s("/properties/identityProfile/kubeletidentity/resourceId"),
            });
        }
        if let Some(pools) = actual
            .pointer("/properties/agentPoolProfiles")
            .and_then(Value::as_array)
        {
            status.node_pools = pools
                .iter()
                .map(|p| NodePoolStatus {
                    name: p
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    count: p
                        .get("count")
                        .and_then(Value::as_i64)
                        .and_then(|c| i32::try_from(c).ok()),
                    provisioning_state: p
                        .get("provisioningState")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    current_orchestrator_version: p
                        .get("currentOrchestratorVersion")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                })
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_are_compared_by_name_and_autoscaled_counts_are_ignored() {
        let desired = json!({"properties": {"kubernetesVersion": "1.31", "agentPoolProfiles": [
            {"name": "system", "count": 3, "enableAutoScaling": false},
            {"name": "apps", "count": 1, "enableAutoScaling": true, "minCount": 1, "maxCount": 10}]}});
        let actual = json!({"properties": {"kubernetesVersion": "1.31.4", "provisioningState": "Succeeded", "agentPoolProfiles": [
            {"name": "apps", "count": 7, "enableAutoScaling": true, "minCount": 1, "maxCount": 10},
            {"name": "system", "count": 3, "enableAutoScaling": false}]}});
        assert!(<AksCluster as AzureKind>::in_sync(&desired, &actual));
        let mut scaled = actual.clone();
        scaled["properties"]["agentPoolProfiles"][1]["count"] = json!(4);
        assert!(!<AksCluster as AzureKind>::in_sync(&desired, &scaled));
    }
}
