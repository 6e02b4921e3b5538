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
use azop_api::azure_resource::AzureBacked;
use azop_api::conditions::Reason;
use azop_api::profile::AzopKind;
use azop_api::{AksCluster, AksClusterStatus, FederatedIdentity};
use azop_arm::ResourceId;
use azop_arm::resources::{
    AadProfile, AddonProfile, AgentPoolProfile, AgentPoolProperties, ApiServerAccessProfile,
    AutoUpgradeProfile, DefenderProfile, DefenderSecurityMonitoring, ManagedCluster,
    ManagedClusterIdentity, ManagedClusterProperties, ManagedClusterSku, NetworkProfile,
    OidcIssuerProfile, SecurityProfile, UserAssignedIdentityDetails, WorkloadIdentityProfile,
};
use futures::future::BoxFuture;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::engine::{AzureKind, Context, Desired, ReconcileError, Reference};
use crate::kinds::tags;
use crate::policy::{Decision, Request};
use crate::references;

/// The api-version of ../shared/arm-specs for managed clusters.
pub const API_VERSION: &str = azop_arm::resources::managed_cluster::API_VERSION;

/// What a cluster needs resolved: its group, and its control-plane identity when user-assigned.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The group the cluster lives in.
    pub group: ResourceId,
    /// The user-assigned identity (`identity.identityRef`), once Ready.
    pub identity: Option<ResourceId>,
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn pool_profile(p: &NodePool, subnet: Option<&String>) -> AgentPoolProfile {
    let (autoscale, min, max, count) = match &p.autoscaling {
        Some(a) => (true, Some(a.min), Some(a.max), p.count.unwrap_or(a.min)),
        None => (false, None, None, p.count.unwrap_or(1)),
    };
    AgentPoolProfile {
        name: p.name.clone(),
        properties: AgentPoolProperties {
            mode: s(match p.mode {
                PoolMode::System => "System",
                PoolMode::User => "User",
            }),
            vm_size: Some(p.vm_size.clone()),
            os_type: s("Linux"),
            pool_type: s("VirtualMachineScaleSets"),
            enable_auto_scaling: Some(autoscale),
            min_count: min,
            max_count: max,
            count: Some(count),
            availability_zones: (!p.zones.is_empty()).then(|| p.zones.clone()),
            node_taints: (!p.taints.is_empty()).then(|| p.taints.clone()),
            node_labels: (!p.labels.is_empty()).then(|| p.labels.clone()),
            orchestrator_version: p.orchestrator_version.clone(),
            os_disk_size_gb: p.os_disk_size_gb,
            max_pods: p.max_pods,
            vnet_subnet_id: subnet.cloned(),
            ..AgentPoolProperties::default()
        },
    }
}

fn network_profile(spec: &azop_api::AksClusterSpec) -> NetworkProfile {
    let net = &spec.network;
    let policy = net.policy.map(|p| match p {
        NetworkPolicyEngine::Azure => "azure",
        NetworkPolicyEngine::Calico => "calico",
        NetworkPolicyEngine::Cilium => "cilium",
        NetworkPolicyEngine::None => "none",
    });
    NetworkProfile {
        network_plugin: s(match net.plugin {
            NetworkPlugin::Azure => "azure",
            NetworkPlugin::Kubenet => "kubenet",
            NetworkPlugin::None => "none",
        }),
        network_plugin_mode: match net.plugin_mode {
            Some(NetworkPluginMode::Overlay) => s("overlay"),
            _ => None,
        },
        network_policy: policy.map(str::to_string),
        // Azure CNI powered by Cilium: the policy engine is the dataplane.
        network_dataplane: (net.policy == Some(NetworkPolicyEngine::Cilium))
            .then(|| "cilium".to_string()),
        pod_cidr: net.pod_cidr.clone(),
        service_cidr: net.service_cidr.clone(),
        dns_service_ip: net.dns_service_ip.clone(),
        outbound_type: s(match net.outbound_type {
            OutboundType::LoadBalancer => "loadBalancer",
            OutboundType::NatGateway => "userAssignedNATGateway",
            OutboundType::ManagedNatGateway => "managedNATGateway",
            OutboundType::UserDefinedRouting => "userDefinedRouting",
        }),
        ..NetworkProfile::default()
    }
}

/// Every addon azop manages, on or off: one turned off in the spec is sent `enabled: false`,
/// so a cluster where it was on is updated (an addon left out of the body would be left on),
/// while a cluster that never had it reads as in sync (AKS omits or answers `false`).
fn addon_profiles(spec: &azop_api::AksClusterSpec) -> BTreeMap<String, AddonProfile> {
    let mut addons: BTreeMap<String, AddonProfile> =
        ["azureKeyvaultSecretsProvider", "azurepolicy", "omsagent"]
            .into_iter()
            .map(|name| {
                (
                    name.to_string(),
                    AddonProfile {
                        enabled: Some(false),
                        ..AddonProfile::default()
                    },
                )
            })
            .collect();
    let on = |config: Option<BTreeMap<String, String>>| AddonProfile {
        enabled: Some(true),
        config,
        ..AddonProfile::default()
    };
    if let Some(kv) = &spec.addons.key_vault_secrets_provider {
        addons.insert(
            "azureKeyvaultSecretsProvider".to_string(),
            on(Some(BTreeMap::from([(
                "enableSecretRotation".to_string(),
                kv.rotation.to_string(),
            )]))),
        );
    }
    if spec.addons.azure_policy {
        addons.insert("azurepolicy".to_string(), on(None));
    }
    if let Some(m) = &spec.addons.monitoring {
        addons.insert(
            "omsagent".to_string(),
            on(Some(BTreeMap::from([(
                "logAnalyticsWorkspaceResourceID".to_string(),
                m.workspace_id.clone(),
            )]))),
        );
    }
    addons
}

impl AzureKind for AksCluster {
    type Body = ManagedCluster;
    type Resolved = Resolved;

    fn policy_request(&self) -> Request<'_> {
        Request::placed(&self.spec.azure, &self.spec.placement)
    }

    fn references(&self) -> Vec<Reference> {
        let own = self.namespace().unwrap_or_default();
        let mut refs = references::placement_refs(self);
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

    fn resolve<'a>(
        &'a self,
        ctx: &'a Context,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Resolved, ReconcileError>> {
        Box::pin(async move {
            let ns = self.namespace().unwrap_or_default();
            let group = references::resource_group_id(ctx, self, decision).await?;
            let identity = match self.spec.identity.type_ {
                ClusterIdentityType::SystemAssigned => None,
                ClusterIdentityType::UserAssigned => {
                    let Some(r) = &self.spec.identity.identity_ref else {
                        return Err(ReconcileError::Stalled {
                            reason: Reason::InvalidSpec,
                            message: "identity.type UserAssigned needs identity.identityRef"
                                .to_string(),
                        });
                    };
                    Some(
                        references::ready_resource_id::<FederatedIdentity>(ctx, &ns, &r.name)
                            .await?,
                    )
                }
            };
            Ok(Resolved { group, identity })
        })
    }

    fn desired(
        &self,
        resolved: &Resolved,
        decision: &Decision,
    ) -> Result<Desired<ManagedCluster>, ReconcileError> {
        let spec = &self.spec;
        let identity = match &resolved.identity {
            None => ManagedClusterIdentity {
                identity_type: s("SystemAssigned"),
                ..ManagedClusterIdentity::default()
            },
            Some(id) => ManagedClusterIdentity {
                identity_type: s("UserAssigned"),
                user_assigned_identities: Some(BTreeMap::from([(
                    id.to_string(),
                    UserAssignedIdentityDetails::default(),
                )])),
                ..ManagedClusterIdentity::default()
            },
        };
        let security = SecurityProfile {
            workload_identity: Some(WorkloadIdentityProfile {
                enabled: Some(spec.workload_identity),
                ..WorkloadIdentityProfile::default()
            }),
            defender: spec.addons.defender.then(|| DefenderProfile {
                security_monitoring: Some(DefenderSecurityMonitoring {
                    enabled: Some(true),
                    ..DefenderSecurityMonitoring::default()
                }),
                ..DefenderProfile::default()
            }),
            ..SecurityProfile::default()
        };
        let properties = ManagedClusterProperties {
            kubernetes_version: spec.kubernetes_version.clone(),
            dns_prefix: Some(spec.dns_prefix.clone()),
            agent_pool_profiles: Some(
                spec.node_pools
                    .iter()
                    .map(|p| pool_profile(p, spec.network.subnet_id.as_ref()))
                    .collect(),
            ),
            network_profile: Some(network_profile(spec)),
            api_server_access_profile: Some(ApiServerAccessProfile {
                enable_private_cluster: Some(spec.api_server.private),
                // Always sent for a public API server: emptied in the spec, emptied in Azure
                // (an empty list is how AKS is told to drop them).
                authorized_ip_ranges: (!spec.api_server.private)
                    .then(|| spec.api_server.authorized_ip_ranges.clone()),
                ..ApiServerAccessProfile::default()
            }),
            oidc_issuer_profile: Some(OidcIssuerProfile {
                enabled: Some(spec.oidc_issuer),
                ..OidcIssuerProfile::default()
            }),
            security_profile: Some(security),
            disable_local_accounts: Some(spec.disable_local_accounts),
            addon_profiles: Some(addon_profiles(spec)),
            auto_upgrade_profile: Some(AutoUpgradeProfile {
                upgrade_channel: s(match spec.auto_upgrade_channel {
                    AutoUpgradeChannel::None => "none",
                    AutoUpgradeChannel::Patch => "patch",
                    AutoUpgradeChannel::Stable => "stable",
                    AutoUpgradeChannel::Rapid => "rapid",
                    AutoUpgradeChannel::NodeImage => "node-image",
                }),
                ..AutoUpgradeProfile::default()
            }),
            aad_profile: spec.entra_id.as_ref().map(|e| AadProfile {
                managed: Some(true),
                enable_azure_rbac: Some(e.azure_rbac),
                admin_group_object_ids: Some(e.admin_group_object_ids.clone()),
                ..AadProfile::default()
            }),
            ..ManagedClusterProperties::default()
        };
        let id = resolved
            .group
            .child(
                "Microsoft.ContainerService/managedClusters",
                &self.azure_name(),
            )
            .map_err(|e| ReconcileError::Stalled {
                reason: Reason::InvalidSpec,
                message: format!("cluster name {}: {e}", self.azure_name()),
            })?;
        Ok(Desired {
            id,
            body: ManagedCluster {
                location: decision.location.clone(),
                tags: Some(tags(decision, &spec.azure)),
                sku: Some(ManagedClusterSku {
                    name: s("Base"),
                    tier: s(match spec.sku.tier {
                        SkuTier::Free => "Free",
                        SkuTier::Standard => "Standard",
                        SkuTier::Premium => "Premium",
                    }),
                    ..ManagedClusterSku::default()
                }),
                identity: Some(identity),
                properties: Some(properties),
                ..ManagedCluster::default()
            },
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

    fn outputs(status: &mut AksClusterStatus, actual: &ManagedCluster) {
        let Some(p) = &actual.properties else { return };
        status.fqdn = p.fqdn.clone();
        status.private_fqdn = p.private_fqdn.clone();
        status.oidc_issuer_url = p.oidc_issuer_url().map(str::to_string);
        status.current_kubernetes_version = p
            .current_kubernetes_version
            .clone()
            .or_else(|| p.kubernetes_version.clone());
        status.power_state = p.power_state.as_ref().and_then(|s| s.code.clone());
        if let Some(k) = p.kubelet_identity() {
            status.kubelet_identity = Some(KubeletIdentity {
                client_id: k.client_id.clone(),
                object_id: k.object_id.clone(),
                resource_id: k.resource_id.clone(),
            });
        }
        if let Some(pools) = &p.agent_pool_profiles {
            status.node_pools = pools
                .iter()
                .map(|pool| NodePoolStatus {
                    name: pool.name.clone(),
                    count: pool.properties.count,
                    provisioning_state: pool
                        .properties
                        .provisioning_state
                        .as_ref()
                        .map(|s| s.as_str().to_string()),
                    current_orchestrator_version: pool
                        .properties
                        .current_orchestrator_version
                        .clone(),
                })
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::test_support::{GROUP, decision, obj};

    fn cluster(spec: Value) -> AksCluster {
        obj(
            json!({"kind": "AksCluster", "metadata": {"name": "prod", "namespace": "platform"}, "spec": spec}),
        )
    }

    fn resolved(identity: Option<&str>) -> Resolved {
        Resolved {
            group: ResourceId::parse(GROUP).expect("group"),
            identity: identity.map(|i| ResourceId::parse(i).expect("identity")),
        }
    }

    fn body(c: &AksCluster, r: &Resolved) -> Value {
        serde_json::to_value(c.desired(r, &decision()).expect("desired").body).expect("serialises")
    }

    #[test]
    fn a_minimal_cluster_has_system_identity_one_pool_and_azures_defaults() {
        let c = cluster(
            json!({"dnsPrefix": "prod", "resourceGroupName": "rg-team-a",
            "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5"}]}),
        );
        let d = c.desired(&resolved(None), &decision()).expect("desired");
        assert_eq!(
            d.id.as_str(),
            format!("{GROUP}/providers/Microsoft.ContainerService/managedClusters/prod")
        );
        let b = serde_json::to_value(&d.body).expect("serialises");
        assert_eq!(b["identity"], json!({"type": "SystemAssigned"}));
        assert_eq!(b["sku"], json!({"name": "Base", "tier": "Free"}));
        assert_eq!(
            b["properties"]["agentPoolProfiles"],
            json!([{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5", "osType": "Linux",
                    "type": "VirtualMachineScaleSets", "enableAutoScaling": false, "count": 1}])
        );
        assert!(b["properties"].get("kubernetesVersion").is_none());
        assert!(b["properties"].get("aadProfile").is_none());
    }

    /// Every AKS field of the spec, and where it lands in Azure's body.
    #[test]
    fn every_cluster_field_lands_where_azure_reads_it() {
        let c = cluster(json!({
            "dnsPrefix": "prod", "resourceGroupName": "rg-team-a", "kubernetesVersion": "1.31",
            "sku": {"tier": "Standard"},
            "identity": {"type": "UserAssigned", "identityRef": {"name": "cp"}},
            "nodePools": [
                {"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5", "count": 3, "zones": ["1", "2", "3"],
                 "orchestratorVersion": "1.31", "osDiskSizeGb": 128, "maxPods": 50},
                {"name": "apps", "mode": "User", "vmSize": "Standard_D8ds_v5", "autoscaling": {"min": 2, "max": 10},
                 "taints": ["workload=apps:NoSchedule"], "labels": {"workload": "apps"}}],
            "network": {"plugin": "azure", "pluginMode": "overlay", "policy": "cilium", "outboundType": "natGateway",
                        "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10",
                        "subnetId": "/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/nodes"},
            "apiServer": {"private": false, "authorizedIpRanges": ["203.0.113.0/24"]},
            "oidcIssuer": true, "workloadIdentity": true,
            "entraId": {"azureRbac": true, "adminGroupObjectIds": ["33333333-3333-3333-3333-333333333333"]},
            "disableLocalAccounts": true,
            "addons": {"keyVaultSecretsProvider": {"rotation": true}, "azurePolicy": true, "defender": true,
                       "monitoring": {"workspaceId": "/subscriptions/s/resourceGroups/m/providers/Microsoft.OperationalInsights/workspaces/w"}},
            "autoUpgradeChannel": "node-image"
        }));
        let identity =
            format!("{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cp");
        let b = body(&c, &resolved(Some(&identity)));
        let p = &b["properties"];
        let subnet = "/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/nodes";
        let table: &[(&str, Value)] = &[
            ("/location", json!("westeurope")),
            ("/tags", json!({"team": "a", "cost": "42"})),
            ("/sku", json!({"name": "Base", "tier": "Standard"})),
            (
                "/identity",
                json!({"type": "UserAssigned", "userAssignedIdentities": {identity.clone(): {}}}),
            ),
            ("/properties/kubernetesVersion", json!("1.31")),
            ("/properties/dnsPrefix", json!("prod")),
            (
                "/properties/networkProfile",
                json!({"networkPlugin": "azure", "networkPluginMode": "overlay",
                "networkPolicy": "cilium", "networkDataplane": "cilium", "podCidr": "10.244.0.0/16",
                "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10", "outboundType": "userAssignedNATGateway"}),
            ),
            (
                "/properties/apiServerAccessProfile",
                json!({"enablePrivateCluster": false, "authorizedIPRanges": ["203.0.113.0/24"]}),
            ),
            ("/properties/oidcIssuerProfile", json!({"enabled": true})),
            (
                "/properties/securityProfile",
                json!({"workloadIdentity": {"enabled": true},
                "defender": {"securityMonitoring": {"enabled": true}}}),
            ),
            (
                "/properties/aadProfile",
                json!({"managed": true, "enableAzureRBAC": true,
                "adminGroupObjectIDs": ["33333333-3333-3333-3333-333333333333"]}),
            ),
            ("/properties/disableLocalAccounts", json!(true)),
            (
                "/properties/addonProfiles",
                json!({
                "azureKeyvaultSecretsProvider": {"enabled": true, "config": {"enableSecretRotation": "true"}},
                "azurepolicy": {"enabled": true},
                "omsagent": {"enabled": true, "config": {"logAnalyticsWorkspaceResourceID":
                    "/subscriptions/s/resourceGroups/m/providers/Microsoft.OperationalInsights/workspaces/w"}}}),
            ),
            (
                "/properties/autoUpgradeProfile",
                json!({"upgradeChannel": "node-image"}),
            ),
            (
                "/properties/agentPoolProfiles/0",
                json!({"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5",
                "osType": "Linux", "type": "VirtualMachineScaleSets", "enableAutoScaling": false, "count": 3,
                "availabilityZones": ["1", "2", "3"], "orchestratorVersion": "1.31", "osDiskSizeGB": 128,
                "maxPods": 50, "vnetSubnetID": subnet}),
            ),
            (
                "/properties/agentPoolProfiles/1",
                json!({"name": "apps", "mode": "User", "vmSize": "Standard_D8ds_v5",
                "osType": "Linux", "type": "VirtualMachineScaleSets", "enableAutoScaling": true, "minCount": 2,
                "maxCount": 10, "count": 2, "nodeTaints": ["workload=apps:NoSchedule"],
                "nodeLabels": {"workload": "apps"}, "vnetSubnetID": subnet}),
            ),
        ];
        for (pointer, want) in table {
            assert_eq!(b.pointer(pointer), Some(want), "{pointer}");
        }
        assert_eq!(
            p.as_object().map(|o| o.len()),
            Some(11),
            "no field beyond the table: {p}"
        );
    }

    #[test]
    fn each_outbound_type_and_upgrade_channel_has_its_arm_spelling() {
        for (outbound, arm) in [
            ("loadBalancer", "loadBalancer"),
            ("natGateway", "userAssignedNATGateway"),
            ("managedNATGateway", "managedNATGateway"),
            ("userDefinedRouting", "userDefinedRouting"),
        ] {
            let c = cluster(
                json!({"dnsPrefix": "p", "resourceGroupName": "rg-team-a", "network": {"outboundType": outbound},
                "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5"}]}),
            );
            assert_eq!(
                body(&c, &resolved(None))["properties"]["networkProfile"]["outboundType"],
                arm
            );
        }
        for channel in ["none", "patch", "stable", "rapid", "node-image"] {
            let c = cluster(
                json!({"dnsPrefix": "p", "resourceGroupName": "rg-team-a", "autoUpgradeChannel": channel,
                "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5"}]}),
            );
            assert_eq!(
                body(&c, &resolved(None))["properties"]["autoUpgradeProfile"]["upgradeChannel"],
                channel
            );
        }
    }

    #[test]
    fn outputs_read_issuer_fqdns_versions_kubelet_identity_and_pools() {
        let actual: ManagedCluster = serde_json::from_value(json!({"properties": {
            "fqdn": "prod-abc.hcp.westeurope.azmk8s.io", "privateFQDN": "prod.privatelink.westeurope.azmk8s.io",
            "kubernetesVersion": "1.31", "currentKubernetesVersion": "1.31.4", "powerState": {"code": "Running"},
            "oidcIssuerProfile": {"enabled": true, "issuerURL": "https://westeurope.oic.prod-aks.azure.com/t/c/"},
            "identityProfile": {"kubeletidentity": {"clientId": "c", "objectId": "o", "resourceId": "/r"}},
            "agentPoolProfiles": [{"name": "system", "count": 3, "provisioningState": "Succeeded", "currentOrchestratorVersion": "1.31.4"}]
        }}))
        .expect("body");
        let mut status = AksClusterStatus::default();
        AksCluster::outputs(&mut status, &actual);
        assert_eq!(
            status.fqdn.as_deref(),
            Some("prod-abc.hcp.westeurope.azmk8s.io")
        );
        assert_eq!(
            status.private_fqdn.as_deref(),
            Some("prod.privatelink.westeurope.azmk8s.io")
        );
        assert_eq!(status.current_kubernetes_version.as_deref(), Some("1.31.4"));
        assert_eq!(status.power_state.as_deref(), Some("Running"));
        assert_eq!(
            status.oidc_issuer_url.as_deref(),
            Some("https://westeurope.oic.prod-aks.azure.com/t/c/")
        );
        let k = status.kubelet_identity.expect("kubelet identity");
        assert_eq!(
            (k.client_id.as_deref(), k.object_id.as_deref()),
            (Some("c"), Some("o"))
        );
        assert_eq!(status.node_pools.len(), 1);
        assert_eq!(status.node_pools[0].count, Some(3));
        assert_eq!(
            status.node_pools[0].current_orchestrator_version.as_deref(),
            Some("1.31.4")
        );
    }

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
