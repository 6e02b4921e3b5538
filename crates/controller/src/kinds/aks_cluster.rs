//! AksCluster → `Microsoft.ContainerService/managedClusters`.
//!
//! AKS runs one operation at a time; the engine never writes while the cluster's
//! provisioningState says one runs. Drift ignores what AKS or the autoscaler changes on its own
//! (an autoscaled pool's count) and compares pools by name, whatever order AKS lists them in.

use std::collections::BTreeMap;

use azop_api::aks_cluster::{
    AutoUpgradeChannel, ClusterIdentityType, KubeconfigKind, KubeletIdentity, NetworkPlugin,
    NetworkPluginMode, NetworkPolicyEngine, NodePool, NodePoolStatus, OutboundType, PoolMode,
    SkuTier,
};
use azop_api::azure_resource::AzureBacked;
use azop_api::conditions::Reason;
use azop_api::profile::AzopKind;
use azop_api::{AksCluster, AksClusterStatus, FederatedIdentity};
use azop_arm::ResourceId;
use azop_arm::resources::{
    AadProfile, AddonProfile, AgentPoolProfile, AgentPoolProperties, ApiServerAccessProfile,
    AutoUpgradeProfile, DefenderProfile, DefenderSecurityMonitoring, ManagedCluster,
    ManagedClusterIdentity, ManagedClusterProperties, ManagedClusterSku, ManagedOutboundIpProfile,
    NatGatewayProfile, NetworkProfile, OidcIssuerProfile, SecurityProfile,
    UserAssignedIdentityDetails, WorkloadIdentityProfile,
};
use futures::future::BoxFuture;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::azure::Azure;
use crate::engine::{AzureKind, Context, Desired, ReconcileError, Reference, Step, owner_tag_into};
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
            // Always sent, empty too: labels and taints removed in the spec go in Azure.
            node_taints: Some(p.taints.clone()),
            node_labels: Some(p.labels.clone()),
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
        nat_gateway_profile: net.nat_gateway.as_ref().map(|n| NatGatewayProfile {
            managed_outbound_ip_profile: n.outbound_ips.map(|count| ManagedOutboundIpProfile {
                count: Some(count),
                ..ManagedOutboundIpProfile::default()
            }),
            idle_timeout_in_minutes: n.idle_timeout_minutes,
            ..NatGatewayProfile::default()
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

/// `(major, minor, patch)`; the patch is `None` in `1.31` ("that minor's latest").
fn version(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let mut parts = v.split('.').map(str::parse::<u64>);
    let major = parts.next()?.ok()?;
    let minor = parts.next()?.ok()?;
    let patch = match parts.next() {
        Some(p) => Some(p.ok()?),
        None => None,
    };
    Some((major, minor, patch))
}

/// The next version on the way from `have` (what runs) to `want`: the next minor version
/// while more than one is missing (AKS skips none), then `want` itself. `Ok(None)`: `want` is
/// met (`1.31` is met by `1.31.2`). `Err`: `want` is older than what runs.
fn next_step(have: &str, want: &str) -> Result<Option<String>, String> {
    let (Some(h), Some(w)) = (version(have), version(want)) else {
        return Ok((have != want).then(|| want.to_string()));
    };
    let (hp, wp) = (h.2.unwrap_or(0), w.2);
    if (w.0, w.1) == (h.0, h.1) {
        return match wp {
            None => Ok(None),
            Some(p) if p == hp => Ok(None),
            Some(p) if p > hp => Ok(Some(want.to_string())),
            Some(_) => Err(format!("{want} is older than the {have} that runs")),
        };
    }
    if (w.0, w.1) < (h.0, h.1) {
        return Err(format!("{want} is older than the {have} that runs"));
    }
    if w.0 == h.0 && w.1 == h.1 + 1 {
        return Ok(Some(want.to_string()));
    }
    Ok(Some(format!("{}.{}", h.0, h.1 + 1)))
}

/// What runs: `currentKubernetesVersion` (or `currentOrchestratorVersion` on a pool), else the
/// version asked of it.
fn running<'a>(v: &'a Value, current: &str, asked: &str) -> Option<&'a str> {
    v.get(current)
        .and_then(Value::as_str)
        .or_else(|| v.get(asked).and_then(Value::as_str))
}

/// The one change azop makes next to an existing cluster, the narrowest that holds it.
#[derive(Debug, Clone, PartialEq)]
enum Plan {
    InSync,
    /// A cluster PUT: the control plane's next version, and the cluster's own fields.
    Cluster {
        version: Option<String>,
    },
    /// An agentPools PUT of a pool the spec adds.
    AddPool(String),
    /// An agentPools PUT of a pool that differs: its next version, and its own fields.
    ChangePool {
        name: String,
        version: Option<String>,
    },
    /// An agentPools DELETE of a pool azop made that the spec no longer lists.
    RemovePool(String),
    /// What the spec asks cannot be done (a downgrade, a pool newer than the control plane).
    Refuse(String),
}

fn pools(v: &Value) -> Vec<&Value> {
    v.pointer("/properties/agentPoolProfiles")
        .and_then(Value::as_array)
        .map(|p| p.iter().collect())
        .unwrap_or_default()
}

fn pool_name(p: &Value) -> &str {
    p.get("name").and_then(Value::as_str).unwrap_or_default()
}

fn find<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    pools(v)
        .into_iter()
        .find(|p| pool_name(p).eq_ignore_ascii_case(name))
}

fn desired_pool<'a>(desired: &'a Value, name: &str) -> &'a Value {
    find(desired, name).unwrap_or(&Value::Null)
}

fn actual_pool<'a>(actual: &'a Value, name: &str) -> &'a Value {
    find(actual, name).unwrap_or(&Value::Null)
}

fn without_name(p: &Value) -> Value {
    let mut p = p.clone();
    if let Some(o) = p.as_object_mut() {
        o.remove("name");
    }
    p
}

/// Whether a pool holds what azop sets, its version aside (compared as a step): labels and
/// taints exactly (one removed in the spec is a difference), an autoscaled pool's count not
/// at all (the autoscaler's business), the rest as drift compares.
fn pool_in_sync(want: &Value, have: &Value) -> bool {
    let mut w = without_name(want);
    if let Some(o) = w.as_object_mut() {
        o.remove("orchestratorVersion");
        if o.get("enableAutoScaling") == Some(&json!(true)) {
            o.remove("count");
        }
        // Missing or null is none at all.
        let or_empty = |v: Option<Value>, empty: Value| v.filter(|v| !v.is_null()).unwrap_or(empty);
        let labels = or_empty(o.remove("nodeLabels"), json!({}));
        let taints = or_empty(o.remove("nodeTaints"), json!([]));
        let have_labels = or_empty(have.get("nodeLabels").cloned(), json!({}));
        let have_taints = or_empty(have.get("nodeTaints").cloned(), json!([]));
        if labels != have_labels || taints != have_taints {
            return false;
        }
    }
    crate::drift::in_sync(&w, have)
}

/// The cluster's own fields: everything but its pools and the control plane's version.
fn cluster_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(p) = v.get_mut("properties").and_then(Value::as_object_mut) {
        p.remove("agentPoolProfiles");
        p.remove("kubernetesVersion");
    }
    v
}

/// What a pool runs.
fn pool_runs(pool: &Value) -> Option<&str> {
    running(pool, "currentOrchestratorVersion", "orchestratorVersion")
}

/// The next change, in AKS's order: the control plane (one minor version at a time) with the
/// cluster's own fields, then each pool the spec lists (added, or changed with its next
/// version, never newer than the control plane), then pools azop made that the spec dropped
/// (after the additions, so a System pool is always there).
fn plan(desired: &Value, actual: &Value) -> Plan {
    let props = actual.get("properties").unwrap_or(&Value::Null);
    let control_plane = running(props, "currentKubernetesVersion", "kubernetesVersion")
        .unwrap_or_default()
        .to_string();
    let wanted = desired
        .pointer("/properties/kubernetesVersion")
        .and_then(Value::as_str);
    // Under an upgrade channel AKS moves versions on by itself: running ahead of the spec is
    // then no downgrade to refuse, only the channel at work.
    let auto = matches!(
        desired
            .pointer("/properties/autoUpgradeProfile/upgradeChannel")
            .and_then(Value::as_str),
        Some("patch" | "stable" | "rapid")
    );
    let step_to = |runs: &str, target: &str| match next_step(runs, target) {
        Err(_) if auto => Ok(None),
        other => other,
    };
    let mut desired_pools = pools(desired);
    if let Some(want) = wanted {
        match step_to(&control_plane, want) {
            Err(why) => {
                return Plan::Refuse(format!(
                    "kubernetesVersion {want}: AKS cannot downgrade a cluster ({why})"
                ));
            }
            Ok(Some(step)) => {
                // One minor at a time for everything: pools that follow the control plane
                // catch up with the minor it runs before it moves on, so none falls behind
                // further than AKS allows.
                let minor =
                    version(&control_plane).map(|(major, minor, _)| format!("{major}.{minor}"));
                for want in &desired_pools {
                    let name = pool_name(want);
                    if want.get("orchestratorVersion").is_some() {
                        continue;
                    }
                    if let (Some(have), Some(minor)) = (find(actual, name), &minor)
                        && let Some(runs) = pool_runs(have)
                        && let Ok(Some(catch_up)) = step_to(runs, minor)
                    {
                        return Plan::ChangePool {
                            name: name.to_string(),
                            version: Some(catch_up),
                        };
                    }
                }
                if let Some((_, next, _)) = version(&step) {
                    for want in &desired_pools {
                        let pinned = want.get("orchestratorVersion").and_then(Value::as_str);
                        if let Some(have) = find(actual, pool_name(want))
                            && let (Some(pin), Some((_, runs, _))) =
                                (pinned, pool_runs(have).and_then(version))
                            && next > runs + 3
                        {
                            return Plan::Refuse(format!(
                                "nodePools[{}] is pinned at {pin}: the control plane's {step} would leave it more than three minor versions behind, which AKS does not allow; raise its orchestratorVersion first",
                                pool_name(want)
                            ));
                        }
                    }
                }
                return Plan::Cluster {
                    version: Some(step),
                };
            }
            Ok(None) => {}
        }
    }
    if !crate::drift::in_sync(&cluster_fields(desired), &cluster_fields(actual)) {
        return Plan::Cluster { version: None };
    }
    // A pool that stops being System goes last: the one taking its place is System first.
    desired_pools.sort_by_key(|want| {
        want.get("mode").and_then(Value::as_str) == Some("User")
            && find(actual, pool_name(want))
                .is_some_and(|have| have.get("mode").and_then(Value::as_str) == Some("System"))
    });
    for want in desired_pools {
        let name = pool_name(want).to_string();
        let Some(have) = find(actual, &name) else {
            return Plan::AddPool(name);
        };
        let mut step = None;
        if let Some(target) = want
            .get("orchestratorVersion")
            .and_then(Value::as_str)
            .or(wanted)
            && let Some(runs) = pool_runs(have)
        {
            match step_to(runs, target) {
                Err(why) => {
                    return Plan::Refuse(format!(
                        "nodePools[{name}].orchestratorVersion {target}: AKS cannot downgrade a pool ({why})"
                    ));
                }
                Ok(s) => step = s,
            }
        }
        if let Some(s) = &step
            && let (Some(p), Some(c)) = (version(s), version(&control_plane))
            && (p.0, p.1) > (c.0, c.1)
        {
            return Plan::Refuse(format!(
                "nodePools[{name}] asks for {s}, newer than the control plane's {control_plane}: AKS runs no pool newer than its control plane; raise kubernetesVersion first"
            ));
        }
        if step.is_some() || !pool_in_sync(want, have) {
            return Plan::ChangePool {
                name,
                version: step,
            };
        }
    }
    let mark = desired
        .get("tags")
        .and_then(|t| t.get(azop_api::OWNER_TAG))
        .and_then(Value::as_str);
    for have in pools(actual) {
        let name = pool_name(have);
        let ours = mark.is_some()
            && have
                .pointer("/tags")
                .and_then(|t| t.get(azop_api::OWNER_TAG))
                .and_then(Value::as_str)
                == mark;
        if find(desired, name).is_none() && ours {
            return Plan::RemovePool(name.to_string());
        }
    }
    Plan::InSync
}

/// What Azure answers that a PUT does not send back.
const POOL_READ_ONLY: &[&str] = &[
    "name",
    "provisioningState",
    "currentOrchestratorVersion",
    "powerState",
    "nodeImageVersion",
    "eTag",
];

/// A pool's PUT body: what Azure holds with what azop sets written over it; labels and taints
/// exactly as the spec says; an autoscaled pool keeps the count the autoscaler chose; the
/// version is the next step, or the one the pool has.
fn changed_pool(have: &Value, want: &Value, version: Option<String>) -> Value {
    let mut body = have.clone();
    if let Some(o) = body.as_object_mut() {
        for k in POOL_READ_ONLY {
            o.remove(*k);
        }
    }
    let mut want = without_name(want);
    if let Some(o) = want.as_object_mut() {
        o.remove("orchestratorVersion");
        if o.get("enableAutoScaling") == Some(&json!(true)) && have.get("count").is_some() {
            o.remove("count");
        }
    }
    if let (Some(b), Some(w)) = (body.as_object_mut(), want.as_object()) {
        for (k, v) in w {
            if k == "tags"
                && let (Some(bt), Some(wt)) = (
                    b.get_mut("tags").and_then(Value::as_object_mut),
                    v.as_object(),
                )
            {
                bt.extend(wt.clone());
                continue;
            }
            b.insert(k.clone(), v.clone());
        }
    }
    if let Some(v) = version {
        body["orchestratorVersion"] = json!(v);
    }
    // Autoscaling turned off: its bounds go too (AKS refuses them on a fixed-size pool).
    if body.get("enableAutoScaling") == Some(&json!(false))
        && let Some(o) = body.as_object_mut()
    {
        o.remove("minCount");
        o.remove("maxCount");
    }
    body
}

/// A cluster PUT that changes no pool: Azure's pools as they are, and the control plane at
/// `version` (its next step) or at the version it has.
fn cluster_update(mut update: Value, actual: &Value, version: Option<String>) -> Value {
    let pools: Vec<Value> = pools(actual)
        .into_iter()
        .map(|p| {
            let mut p = p.clone();
            if let Some(o) = p.as_object_mut() {
                for k in POOL_READ_ONLY.iter().filter(|k| **k != "name") {
                    o.remove(*k);
                }
            }
            p
        })
        .collect();
    let kept = actual
        .pointer("/properties/kubernetesVersion")
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(p) = update.get_mut("properties").and_then(Value::as_object_mut) {
        p.insert("agentPoolProfiles".to_string(), Value::Array(pools));
        p.insert(
            "kubernetesVersion".to_string(),
            version.map(Value::String).unwrap_or(kept),
        );
        p.remove("currentKubernetesVersion");
    }
    update
}

impl AzureKind for AksCluster {
    type Body = ManagedCluster;
    type Resolved = Resolved;

    /// The node resource group is a group the cluster makes: the profile must allow it too.
    fn policy_request(&self) -> Request<'_> {
        Request {
            own_group_name: self.spec.node_resource_group.as_deref(),
            ..Request::placed(&self.spec.azure, &self.spec.placement)
        }
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
            if let Some(k) = &self.spec.kubeconfig_secret
                && k.kind == KubeconfigKind::Admin
                && self.spec.disable_local_accounts
            {
                return Err(ReconcileError::Stalled {
                    reason: Reason::InvalidSpec,
                    message: "kubeconfigSecret.kind Admin needs local accounts, and disableLocalAccounts is true: use kind User (Entra ID sign-in)".to_string(),
                });
            }
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
            // Off is sent too, so Defender turned off in the spec goes off in Azure.
            defender: Some(DefenderProfile {
                security_monitoring: Some(DefenderSecurityMonitoring {
                    enabled: Some(spec.addons.defender.is_some()),
                    ..DefenderSecurityMonitoring::default()
                }),
                log_analytics_workspace_resource_id: spec
                    .addons
                    .defender
                    .as_ref()
                    .map(|d| d.log_analytics_workspace_id.clone()),
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
                private_dns_zone: spec.api_server.private_dns_zone.clone(),
                ..ApiServerAccessProfile::default()
            }),
            oidc_issuer_profile: Some(OidcIssuerProfile {
                enabled: Some(spec.oidc_issuer),
                ..OidcIssuerProfile::default()
            }),
            security_profile: Some(security),
            disable_local_accounts: Some(spec.disable_local_accounts),
            node_resource_group: spec.node_resource_group.clone(),
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
        plan(desired, actual) == Plan::InSync
    }

    /// Each pool carries the mark too: a pool azop did not make is never removed.
    fn mark_owner(body: &mut Value, owner: &str) {
        owner_tag_into(body, owner);
        for pool in body
            .pointer_mut("/properties/agentPoolProfiles")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            owner_tag_into(pool, owner);
        }
    }

    fn next_write(
        &self,
        id: &str,
        desired: &Value,
        actual: &Value,
        update: Value,
    ) -> Result<Step, ReconcileError> {
        let pool_id = |name: &str| format!("{id}/agentPools/{name}");
        match plan(desired, actual) {
            Plan::Refuse(message) => Err(ReconcileError::Stalled {
                reason: Reason::InvalidSpec,
                message,
            }),
            Plan::AddPool(name) => Ok(Step::Put {
                id: pool_id(&name),
                api_version: API_VERSION,
                body: json!({"properties": without_name(desired_pool(desired, &name))}),
            }),
            Plan::ChangePool { name, version } => {
                let have = actual_pool(actual, &name);
                let want = desired_pool(desired, &name);
                Ok(Step::Put {
                    id: pool_id(&name),
                    api_version: API_VERSION,
                    body: json!({"properties": changed_pool(have, want, version)}),
                })
            }
            Plan::RemovePool(name) => Ok(Step::Delete {
                id: pool_id(&name),
                api_version: API_VERSION,
            }),
            // The cluster itself (or a write the engine asks for anyway: tags to drop, a
            // Failed cluster): its pools as they are, so the PUT changes no pool; the control
            // plane's next version, or the one it has.
            Plan::Cluster { version } => Ok(Step::Put {
                id: id.to_string(),
                api_version: API_VERSION,
                body: cluster_update(update, actual, version),
            }),
            Plan::InSync => Ok(Step::Put {
                id: id.to_string(),
                api_version: API_VERSION,
                body: cluster_update(update, actual, None),
            }),
        }
    }

    fn after_sync<'a>(
        &'a self,
        ctx: &'a Context,
        azure: &'a dyn Azure,
        _resolved: &'a Resolved,
        actual: Option<&'a Value>,
        status: &'a mut AksClusterStatus,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(super::aks_kubeconfig::sync(
            self, ctx, azure, actual, status,
        ))
    }

    fn outputs(&self, status: &mut AksClusterStatus, actual: &ManagedCluster) {
        let Some(p) = &actual.properties else { return };
        status.fqdn = p.fqdn.clone();
        status.private_fqdn = p.private_fqdn.clone();
        status.oidc_issuer_url = p.oidc_issuer_url().map(str::to_string);
        status.current_kubernetes_version = p
            .current_kubernetes_version
            .clone()
            .or_else(|| p.kubernetes_version.clone());
        status.target_kubernetes_version = self.spec.kubernetes_version.clone();
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
                    target_orchestrator_version: self
                        .spec
                        .node_pools
                        .iter()
                        .find(|p| p.name.eq_ignore_ascii_case(&pool.name))
                        .and_then(|p| {
                            p.orchestrator_version
                                .clone()
                                .or_else(|| self.spec.kubernetes_version.clone())
                        }),
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
                    "type": "VirtualMachineScaleSets", "enableAutoScaling": false, "count": 1,
                    "nodeLabels": {}, "nodeTaints": []}])
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
            "addons": {"keyVaultSecretsProvider": {"rotation": true}, "azurePolicy": true,
                       "defender": {"logAnalyticsWorkspaceId": "/subscriptions/s/resourceGroups/m/providers/Microsoft.OperationalInsights/workspaces/w"},
                       "monitoring": {"workspaceId": "/subscriptions/s/resourceGroups/m/providers/Microsoft.OperationalInsights/workspaces/w"}},
            "autoUpgradeChannel": "node-image", "nodeResourceGroup": "rg-prod-nodes"
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
                "defender": {"securityMonitoring": {"enabled": true}, "logAnalyticsWorkspaceResourceId":
                    "/subscriptions/s/resourceGroups/m/providers/Microsoft.OperationalInsights/workspaces/w"}}),
            ),
            (
                "/properties/aadProfile",
                json!({"managed": true, "enableAzureRBAC": true,
                "adminGroupObjectIDs": ["33333333-3333-3333-3333-333333333333"]}),
            ),
            ("/properties/disableLocalAccounts", json!(true)),
            ("/properties/nodeResourceGroup", json!("rg-prod-nodes")),
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
                "maxPods": 50, "vnetSubnetID": subnet, "nodeLabels": {}, "nodeTaints": []}),
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
            Some(12),
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
        cluster(json!({"dnsPrefix": "prod", "resourceGroupName": "rg-team-a", "kubernetesVersion": "1.32",
            "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5"}]}))
        .outputs(&mut status, &actual);
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
        assert_eq!(status.target_kubernetes_version.as_deref(), Some("1.32"));
        assert_eq!(
            status.node_pools[0].target_orchestrator_version.as_deref(),
            Some("1.32")
        );
    }

    #[test]
    fn a_private_cluster_names_its_dns_zone_and_a_managed_nat_gateway_its_ips() {
        let zone = "/subscriptions/s/resourceGroups/dns/providers/Microsoft.Network/privateDnsZones/privatelink.westeurope.azmk8s.io";
        let c = cluster(json!({"dnsPrefix": "p", "resourceGroupName": "rg-team-a",
            "identity": {"type": "UserAssigned", "identityRef": {"name": "cp"}},
            "apiServer": {"private": true, "privateDnsZone": zone},
            "network": {"outboundType": "managedNATGateway", "natGateway": {"outboundIps": 2, "idleTimeoutMinutes": 10}},
            "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5"}]}));
        let identity =
            format!("{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cp");
        let b = body(&c, &resolved(Some(&identity)));
        assert_eq!(
            b["properties"]["apiServerAccessProfile"],
            json!({"enablePrivateCluster": true, "privateDNSZone": zone})
        );
        assert_eq!(
            b["properties"]["networkProfile"]["natGatewayProfile"],
            json!({"managedOutboundIPProfile": {"count": 2}, "idleTimeoutInMinutes": 10})
        );
        assert_eq!(
            b["properties"]["securityProfile"]["defender"],
            json!({"securityMonitoring": {"enabled": false}}),
            "Defender left out is sent off"
        );
        assert_eq!(
            c.policy_request().own_group_name,
            None,
            "no node resource group named: AKS's default, nothing to check"
        );
        let named = cluster(
            json!({"dnsPrefix": "p", "resourceGroupName": "rg-team-a", "nodeResourceGroup": "rg-nodes",
            "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5"}]}),
        );
        assert_eq!(named.policy_request().own_group_name, Some("rg-nodes"));
    }

    #[test]
    fn upgrades_go_one_minor_at_a_time_and_never_down() {
        assert_eq!(next_step("1.30.2", "1.31"), Ok(Some("1.31".into())));
        assert_eq!(next_step("1.30.2", "1.32"), Ok(Some("1.31".into())));
        assert_eq!(next_step("1.30.2", "1.32.1"), Ok(Some("1.31".into())));
        assert_eq!(next_step("1.31.2", "1.32.1"), Ok(Some("1.32.1".into())));
        assert_eq!(next_step("1.31.2", "1.31"), Ok(None));
        assert_eq!(next_step("1.31.2", "1.31.2"), Ok(None));
        assert_eq!(next_step("1.31.2", "1.31.4"), Ok(Some("1.31.4".into())));
        assert!(next_step("1.31.2", "1.31.1").is_err());
        assert!(next_step("1.31.2", "1.30").is_err());
    }

    /// The order of a day-two change: the control plane with the cluster's own fields, then
    /// each listed pool (added, or changed with its next version), then pools azop made that
    /// the spec dropped; a pool azop did not make is left.
    #[test]
    fn each_change_is_planned_on_the_narrowest_resource() {
        let mark = json!({"azop.dev/owner": "c/ns/AksCluster/a"});
        let pool = |name: &str, count: i32, version: &str| {
            json!({"name": name, "mode": "System", "count": count, "enableAutoScaling": false,
                   "orchestratorVersion": version, "currentOrchestratorVersion": format!("{version}.2"),
                   "nodeLabels": {}, "tags": mark})
        };
        let want_pool = |name: &str, count: i32| {
            json!({"name": name, "mode": "System", "count": count, "enableAutoScaling": false,
                   "nodeLabels": {}, "nodeTaints": [], "tags": mark})
        };
        let cluster = |version: &str, sku: &str, pools: Vec<Value>| {
            json!({"tags": mark, "sku": {"tier": sku}, "properties": {
                "kubernetesVersion": version, "currentKubernetesVersion": format!("{version}.2"),
                "agentPoolProfiles": pools}})
        };
        let desired = |version: &str, sku: &str, pools: Vec<Value>| {
            json!({"tags": mark, "sku": {"tier": sku}, "properties": {
                "kubernetesVersion": version, "agentPoolProfiles": pools}})
        };
        let actual = cluster(
            "1.30",
            "Free",
            vec![pool("system", 1, "1.30"), pool("apps", 2, "1.30")],
        );
        let same = desired(
            "1.30",
            "Free",
            vec![want_pool("system", 1), want_pool("apps", 2)],
        );
        assert_eq!(plan(&same, &actual), Plan::InSync);
        let scaled = desired(
            "1.30",
            "Free",
            vec![want_pool("system", 1), want_pool("apps", 3)],
        );
        assert_eq!(
            plan(&scaled, &actual),
            Plan::ChangePool {
                name: "apps".into(),
                version: None
            }
        );
        let tier = desired(
            "1.30",
            "Standard",
            vec![want_pool("system", 1), want_pool("apps", 3)],
        );
        assert_eq!(
            plan(&tier, &actual),
            Plan::Cluster { version: None },
            "the cluster's own field first"
        );
        let two_up = desired(
            "1.32",
            "Free",
            vec![want_pool("system", 1), want_pool("apps", 2)],
        );
        assert_eq!(
            plan(&two_up, &actual),
            Plan::Cluster {
                version: Some("1.31".into())
            }
        );
        let upgraded = cluster(
            "1.31",
            "Free",
            vec![pool("system", 1, "1.30"), pool("apps", 2, "1.30")],
        );
        assert_eq!(
            plan(&two_up, &upgraded),
            Plan::ChangePool {
                name: "system".into(),
                version: Some("1.31".into())
            },
            "the pools catch up with the control plane's minor before it moves on"
        );
        let up = desired(
            "1.31",
            "Free",
            vec![want_pool("system", 1), want_pool("apps", 2)],
        );
        assert_eq!(
            plan(&up, &upgraded),
            Plan::ChangePool {
                name: "system".into(),
                version: Some("1.31".into())
            }
        );
        let added = desired(
            "1.30",
            "Free",
            vec![
                want_pool("system", 1),
                want_pool("apps", 2),
                want_pool("batch", 1),
            ],
        );
        assert_eq!(plan(&added, &actual), Plan::AddPool("batch".into()));
        let replaced = desired(
            "1.30",
            "Free",
            vec![want_pool("system2", 1), want_pool("apps", 2)],
        );
        assert_eq!(
            plan(&replaced, &actual),
            Plan::AddPool("system2".into()),
            "a System pool replaced: the new one first, so one is always there"
        );
        let one_system = cluster(
            "1.30",
            "Free",
            vec![
                pool("system2", 1, "1.30"),
                pool("system", 1, "1.30"),
                pool("apps", 2, "1.30"),
            ],
        );
        assert_eq!(
            plan(&replaced, &one_system),
            Plan::RemovePool("system".into())
        );
        let dropped = desired("1.30", "Free", vec![want_pool("system", 1)]);
        assert_eq!(plan(&dropped, &actual), Plan::RemovePool("apps".into()));
        let mut theirs = actual.clone();
        theirs["properties"]["agentPoolProfiles"][1]["tags"] = json!({});
        assert_eq!(
            plan(&dropped, &theirs),
            Plan::InSync,
            "a pool without azop's mark stays"
        );
        let relabelled = {
            let mut p = want_pool("apps", 2);
            p["nodeLabels"] = json!({});
            let mut a = actual.clone();
            a["properties"]["agentPoolProfiles"][1]["nodeLabels"] = json!({"team": "a"});
            (desired("1.30", "Free", vec![want_pool("system", 1), p]), a)
        };
        assert_eq!(
            plan(&relabelled.0, &relabelled.1),
            Plan::ChangePool {
                name: "apps".into(),
                version: None
            },
            "a label removed in the spec is a difference"
        );
        let down = desired(
            "1.29",
            "Free",
            vec![want_pool("system", 1), want_pool("apps", 2)],
        );
        assert!(matches!(plan(&down, &actual), Plan::Refuse(m) if m.contains("cannot downgrade")));
        let mut ahead = want_pool("apps", 2);
        ahead["orchestratorVersion"] = json!("1.31");
        let ahead = desired("1.30", "Free", vec![want_pool("system", 1), ahead]);
        assert!(
            matches!(plan(&ahead, &actual), Plan::Refuse(m) if m.contains("newer than the control plane"))
        );
    }

    /// What could leave a cluster half-changed: two System pools swapping roles, a pool left
    /// too far behind by the control plane, a version the upgrade channel moved on.
    #[test]
    fn changes_are_ordered_so_aks_accepts_each_step() {
        let pool = |name: &str, mode: &str, version: &str| {
            json!({"name": name, "mode": mode, "count": 1, "enableAutoScaling": false,
                   "orchestratorVersion": version, "currentOrchestratorVersion": format!("{version}.2"),
                   "nodeLabels": {}})
        };
        let want = |name: &str, mode: &str| {
            json!({"name": name, "mode": mode, "count": 1, "enableAutoScaling": false,
                   "nodeLabels": {}, "nodeTaints": []})
        };
        let cluster = |version: &str, pools: Vec<Value>| {
            json!({"properties": {"kubernetesVersion": version, "autoUpgradeProfile": {"upgradeChannel": "none"},
                "currentKubernetesVersion": format!("{version}.2"), "agentPoolProfiles": pools}})
        };
        let desired = |version: &str, channel: &str, pools: Vec<Value>| {
            json!({"properties": {"kubernetesVersion": version,
                "autoUpgradeProfile": {"upgradeChannel": channel}, "agentPoolProfiles": pools}})
        };
        // The System role moves from `a` to `b`: `b` is promoted before `a` is demoted.
        let actual = cluster(
            "1.30",
            vec![pool("a", "System", "1.30"), pool("b", "User", "1.30")],
        );
        let swap = desired("1.30", "none", vec![want("a", "User"), want("b", "System")]);
        assert_eq!(
            plan(&swap, &actual),
            Plan::ChangePool {
                name: "b".into(),
                version: None
            }
        );
        // The control plane went to 1.31 and the spec says 1.32 already: pools catch up with
        // 1.31 before the control plane moves again.
        let behind = cluster("1.31", vec![pool("a", "System", "1.30")]);
        let on = desired("1.32", "none", vec![want("a", "System")]);
        assert_eq!(
            plan(&on, &behind),
            Plan::ChangePool {
                name: "a".into(),
                version: Some("1.31".into())
            }
        );
        // A pinned pool the next control plane would leave four minors behind: refused.
        let pinned = cluster("1.30", vec![pool("a", "System", "1.27")]);
        let mut keep = want("a", "System");
        keep["orchestratorVersion"] = json!("1.27");
        assert!(matches!(
            plan(&desired("1.31", "none", vec![keep]), &pinned),
            Plan::Refuse(m) if m.contains("more than three minor versions behind")
        ));
        // The patch channel moved the cluster past the pinned patch: not a downgrade.
        let mut moved = cluster("1.30", vec![pool("a", "System", "1.30")]);
        moved["properties"]["autoUpgradeProfile"]["upgradeChannel"] = json!("patch");
        let pinned_patch = desired("1.30.1", "patch", vec![want("a", "System")]);
        assert_eq!(plan(&pinned_patch, &moved), Plan::InSync);
        moved["properties"]["autoUpgradeProfile"]["upgradeChannel"] = json!("none");
        let no_channel = desired("1.30.1", "none", vec![want("a", "System")]);
        assert!(matches!(plan(&no_channel, &moved), Plan::Refuse(_)));
    }

    #[test]
    fn autoscaling_turned_off_drops_its_bounds() {
        let have = json!({"name": "apps", "count": 4, "enableAutoScaling": true, "minCount": 1, "maxCount": 10});
        let want = json!({"name": "apps", "count": 3, "enableAutoScaling": false, "nodeLabels": {}, "nodeTaints": []});
        assert_eq!(
            changed_pool(&have, &want, None),
            json!({"count": 3, "enableAutoScaling": false, "nodeLabels": {}, "nodeTaints": []})
        );
    }

    #[test]
    fn a_pool_update_keeps_what_azure_holds_and_sets_labels_exactly() {
        let have = json!({"name": "apps", "count": 7, "enableAutoScaling": true, "minCount": 1, "maxCount": 10,
            "orchestratorVersion": "1.30", "currentOrchestratorVersion": "1.30.2", "provisioningState": "Succeeded",
            "nodeLabels": {"team": "a", "old": "x"}, "osDiskType": "Ephemeral", "tags": {"cost": "1"}});
        let want = json!({"name": "apps", "count": 1, "enableAutoScaling": true, "minCount": 2, "maxCount": 10,
            "nodeLabels": {"team": "b"}, "nodeTaints": [], "tags": {"azop.dev/owner": "o"}});
        let body = changed_pool(&have, &want, Some("1.31".into()));
        assert_eq!(
            body,
            json!({"count": 7, "enableAutoScaling": true, "minCount": 2, "maxCount": 10,
                "orchestratorVersion": "1.31", "nodeLabels": {"team": "b"}, "nodeTaints": [],
                "osDiskType": "Ephemeral", "tags": {"cost": "1", "azop.dev/owner": "o"}})
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
