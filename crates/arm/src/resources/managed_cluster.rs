//! `Microsoft.ContainerService/managedClusters` (AKS) and their `agentPools`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ArmResource, Extra, ProvisioningState, SystemData, Tags};

/// The api-version azop sends for managed clusters and agent pools.
pub const API_VERSION: &str = "2026-05-01";

/// An AKS cluster: the body of `PUT`/`GET …/providers/Microsoft.ContainerService/managedClusters/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedCluster {
    /// The cluster's id (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The cluster's name (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Microsoft.ContainerService/managedClusters` (read-only).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// The region; required on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// The entity tag, for `If-Match` (read-only).
    #[serde(default, rename = "eTag", skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The pricing tier (`Base` / `Free`, `Standard`, `Premium`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<ManagedClusterSku>,
    /// The control plane's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<ManagedClusterIdentity>,
    /// Who created and changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_data: Option<SystemData>,
    /// The cluster's properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<ManagedClusterProperties>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `sku` of a managed cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedClusterSku {
    /// `Base` (or the older `Basic`), `Automatic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Free`, `Standard` or `Premium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `identity` of a managed cluster: system-assigned, or one user-assigned identity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedClusterIdentity {
    /// `SystemAssigned`, `UserAssigned` or `None`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub identity_type: Option<String>,
    /// The system-assigned identity's principal (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// The system-assigned identity's tenant (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// User-assigned identities by resource id; in a request the values are `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_assigned_identities: Option<BTreeMap<String, UserAssignedIdentityDetails>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// What ARM answers about a user-assigned identity attached to a resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentityDetails {
    /// The identity's principal (object) id (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// The identity's client (application) id (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `properties` of a managed cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedClusterProperties {
    /// `Creating`, `Updating`, `Succeeded`, `Failed`, … (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    /// Running or stopped (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<PowerState>,
    /// The Kubernetes version asked for (`1.33` or `1.33.2`); empty or absent for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// The version running, with the patch (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_kubernetes_version: Option<String>,
    /// The DNS prefix of the API server's name; immutable after create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_prefix: Option<String>,
    /// The API server's public FQDN (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// The API server's private FQDN, for a private cluster (read-only).
    #[serde(
        default,
        rename = "privateFQDN",
        skip_serializing_if = "Option::is_none"
    )]
    pub private_fqdn: Option<String>,
    /// The resource group AKS puts the nodes in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_resource_group: Option<String>,
    /// Kubernetes RBAC.
    #[serde(
        default,
        rename = "enableRBAC",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_rbac: Option<bool>,
    /// The node pools (a create needs at least the system pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_pool_profiles: Option<Vec<AgentPoolProfile>>,
    /// Networking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_profile: Option<NetworkProfile>,
    /// The OIDC issuer that workload identity federates with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_issuer_profile: Option<OidcIssuerProfile>,
    /// Security settings, workload identity among them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_profile: Option<SecurityProfile>,
    /// The identities AKS uses in the cluster, by role; `kubeletidentity` is the nodes'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_profile: Option<BTreeMap<String, UserAssignedIdentityReference>>,
    /// Add-ons by name (`azureKeyvaultSecretsProvider`, `azurepolicy`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addon_profiles: Option<BTreeMap<String, AddonProfile>>,
    /// Who may reach the API server: private cluster, authorized IP ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_access_profile: Option<ApiServerAccessProfile>,
    /// Microsoft Entra ID integration (AKS-managed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_profile: Option<AadProfile>,
    /// Whether local accounts (the static admin kubeconfig) are disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_local_accounts: Option<bool>,
    /// The automatic upgrade channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_upgrade_profile: Option<AutoUpgradeProfile>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `apiServerAccessProfile`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiServerAccessProfile {
    /// Whether the API server has only a private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_private_cluster: Option<bool>,
    /// CIDRs allowed to reach a public API server; empty or absent means everyone.
    #[serde(
        default,
        rename = "authorizedIPRanges",
        skip_serializing_if = "Option::is_none"
    )]
    pub authorized_ip_ranges: Option<Vec<String>>,
    /// A private cluster's DNS zone: `system`, `none`, or a private DNS zone's resource id.
    #[serde(
        default,
        rename = "privateDNSZone",
        skip_serializing_if = "Option::is_none"
    )]
    pub private_dns_zone: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `aadProfile`: AKS-managed Microsoft Entra ID.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AadProfile {
    /// AKS-managed Entra integration (the only kind still offered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    /// Azure RBAC for Kubernetes authorization.
    #[serde(
        default,
        rename = "enableAzureRBAC",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_azure_rbac: Option<bool>,
    /// Entra groups that are cluster admins.
    #[serde(
        default,
        rename = "adminGroupObjectIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub admin_group_object_ids: Option<Vec<String>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `autoUpgradeProfile`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoUpgradeProfile {
    /// `rapid`, `stable`, `patch`, `node-image` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_channel: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `securityProfile.defender`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefenderProfile {
    /// Defender's threat detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_monitoring: Option<DefenderSecurityMonitoring>,
    /// The Log Analytics workspace Defender reports to (required while it is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_analytics_workspace_resource_id: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `securityProfile.defender.securityMonitoring`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefenderSecurityMonitoring {
    /// Whether Defender watches the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ManagedClusterProperties {
    /// The kubelet identity: `identityProfile.kubeletidentity`.
    pub fn kubelet_identity(&self) -> Option<&UserAssignedIdentityReference> {
        self.identity_profile.as_ref()?.get("kubeletidentity")
    }

    /// The OIDC issuer URL, once AKS has published it.
    pub fn oidc_issuer_url(&self) -> Option<&str> {
        self.oidc_issuer_profile.as_ref()?.issuer_url.as_deref()
    }
}

/// `powerState`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PowerState {
    /// `Running` or `Stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An identity AKS made or was given, as `identityProfile` lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentityReference {
    /// The identity's resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Its client (application) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Its object (principal) id: what a role assignment names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `networkProfile`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkProfile {
    /// `azure`, `kubenet` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_plugin: Option<String>,
    /// `overlay` for Azure CNI Overlay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_plugin_mode: Option<String>,
    /// `azure`, `calico`, `cilium` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<String>,
    /// `azure` or `cilium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_dataplane: Option<String>,
    /// The pods' CIDR (kubenet, overlay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<String>,
    /// The services' CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_cidr: Option<String>,
    /// The cluster DNS service's address, inside `service_cidr`.
    #[serde(
        default,
        rename = "dnsServiceIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub dns_service_ip: Option<String>,
    /// `loadBalancer`, `userDefinedRouting`, `managedNATGateway`, `userAssignedNATGateway`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_type: Option<String>,
    /// `standard` or `basic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_sku: Option<String>,
    /// Pod CIDRs, one per IP family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_cidrs: Option<Vec<String>>,
    /// Service CIDRs, one per IP family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_cidrs: Option<Vec<String>>,
    /// `IPv4`, `IPv6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_families: Option<Vec<String>>,
    /// The NAT gateway AKS manages (outbound type `managedNATGateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_profile: Option<NatGatewayProfile>,
    /// Fields not named above (the load balancer profile among them).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `networkProfile.natGatewayProfile`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NatGatewayProfile {
    /// How many public IPs AKS gives the gateway.
    #[serde(
        default,
        rename = "managedOutboundIPProfile",
        skip_serializing_if = "Option::is_none"
    )]
    pub managed_outbound_ip_profile: Option<ManagedOutboundIpProfile>,
    /// Idle timeout of outbound flows, in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_in_minutes: Option<i32>,
    /// Fields not named above (`effectiveOutboundIPs`, read-only).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `natGatewayProfile.managedOutboundIPProfile`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedOutboundIpProfile {
    /// Public IPs, 1–16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `oidcIssuerProfile`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcIssuerProfile {
    /// Whether the issuer is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The issuer URL (read-only).
    #[serde(default, rename = "issuerURL", skip_serializing_if = "Option::is_none")]
    pub issuer_url: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `securityProfile`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityProfile {
    /// Microsoft Entra Workload ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<WorkloadIdentityProfile>,
    /// Microsoft Defender for Containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defender: Option<DefenderProfile>,
    /// Fields not named above (KMS, image cleaner, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `securityProfile.workloadIdentity`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIdentityProfile {
    /// Whether the webhook that injects federated tokens is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One entry of `addonProfiles`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddonProfile {
    /// Whether the add-on is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The add-on's settings, all strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, String>>,
    /// The identity AKS made for the add-on (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<UserAssignedIdentityReference>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A node pool inside a cluster body (`agentPoolProfiles[]`): its name and the same
/// properties a standalone [`AgentPool`] has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentPoolProfile {
    /// The pool's name, unique in the cluster.
    pub name: String,
    /// Everything else, flattened into the same object; its `extra` keeps unnamed fields.
    #[serde(flatten)]
    pub properties: AgentPoolProperties,
}

/// The properties of a node pool: `agentPools/{name}`'s `properties`, and the rest of an
/// `agentPoolProfiles[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentPoolProperties {
    /// `Creating`, `Updating`, `Succeeded`, `Failed`, … (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    /// Running or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<PowerState>,
    /// `System` or `User` (or `Gateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `VirtualMachineScaleSets`, `AvailabilitySet` or `VirtualMachines`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub pool_type: Option<String>,
    /// The VM size, e.g. `Standard_D4s_v5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_size: Option<String>,
    /// How many nodes (the current count under autoscaling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    /// Whether the cluster autoscaler manages the count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_auto_scaling: Option<bool>,
    /// Autoscaling's lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<i32>,
    /// Autoscaling's upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<i32>,
    /// Pods per node at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pods: Option<i32>,
    /// `Linux` or `Windows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// `Ubuntu`, `AzureLinux`, `Windows2022`, ….
    #[serde(default, rename = "osSKU", skip_serializing_if = "Option::is_none")]
    pub os_sku: Option<String>,
    /// The OS disk's size.
    #[serde(
        default,
        rename = "osDiskSizeGB",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_disk_size_gb: Option<i32>,
    /// The Kubernetes version asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator_version: Option<String>,
    /// The version running (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_orchestrator_version: Option<String>,
    /// The node image (read-only in practice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_image_version: Option<String>,
    /// Availability zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zones: Option<Vec<String>>,
    /// Kubernetes labels on every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_labels: Option<BTreeMap<String, String>>,
    /// Taints on every node, `key=value:Effect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_taints: Option<Vec<String>>,
    /// The subnet the nodes join.
    #[serde(
        default,
        rename = "vnetSubnetID",
        skip_serializing_if = "Option::is_none"
    )]
    pub vnet_subnet_id: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A node pool as its own resource: the body of `…/managedClusters/{c}/agentPools/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentPool {
    /// The pool's id (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The pool's name (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Microsoft.ContainerService/managedClusters/agentPools` (read-only).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Who created and changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_data: Option<SystemData>,
    /// The pool's properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<AgentPoolProperties>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ArmResource for ManagedCluster {
    const API_VERSION: &'static str = API_VERSION;
    const RESOURCE_TYPE: &'static str = "Microsoft.ContainerService/managedClusters";

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn provisioning_state(&self) -> Option<&ProvisioningState> {
        self.properties.as_ref()?.provisioning_state.as_ref()
    }
}

impl ArmResource for AgentPool {
    const API_VERSION: &'static str = API_VERSION;
    const RESOURCE_TYPE: &'static str = "Microsoft.ContainerService/managedClusters/agentPools";

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn provisioning_state(&self) -> Option<&ProvisioningState> {
        self.properties.as_ref()?.provisioning_state.as_ref()
    }
}
