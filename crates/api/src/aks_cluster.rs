//! AksCluster: `Microsoft.ContainerService/managedClusters` and its agent pools.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::azure_resource::{
    AzureResourceFields, AzureResourceStatus, LocalRef, ResourceGroupPlacement, rules,
};
use crate::naming::{
    AGENT_POOL_PATTERN, AKS_CLUSTER, DNS_PREFIX_PATTERN, DNS_SUBDOMAIN_PATTERN, GUID_PATTERN,
};

/// An AKS cluster. AKS runs one operation at a time, so azop never writes while one is in
/// flight, and upgrades the control plane before pools, one minor version at a time.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "azop.dev",
    version = "v1alpha1",
    derive = "PartialEq",
    kind = "AksCluster",
    namespaced,
    status = "AksClusterStatus",
    shortname = "aks",
    category = "azop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.currentKubernetesVersion"}"#,
    printcolumn = r#"{"name":"FQDN","type":"string","priority":1,"jsonPath":".status.fqdn"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = AKS_CLUSTER.root_rule()
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = AKS_CLUSTER.spec_rule(),
    validation = rules::azure_name_fixed(),
    validation = rules::one_resource_group(),
    validation = rules::resource_group_fixed(),
    validation = Rule::new("!self.workloadIdentity || self.oidcIssuer").message("workloadIdentity requires oidcIssuer: true"),
    validation = Rule::new("!has(oldSelf.oidcIssuer) || !oldSelf.oidcIssuer || self.oidcIssuer").message("oidcIssuer cannot be turned off once enabled (AKS refuses it)"),
    validation = Rule::new("self.nodePools.exists(p, p.mode == 'System')").message("at least one node pool must have mode System"),
    validation = Rule::new("!has(self.kubeconfigSecret) || self.kubeconfigSecret.kind != 'Admin' || !self.disableLocalAccounts").message("kubeconfigSecret.kind Admin needs local accounts: set disableLocalAccounts to false or use kind User"),
    validation = Rule::new("!self.disableLocalAccounts || has(self.entraId)").message("disableLocalAccounts requires entraId: without local accounts, sign-in is through Entra ID"),
    validation = Rule::new("!has(oldSelf.entraId) || has(self.entraId)").message("entraId cannot be removed once set: AKS cannot turn managed Entra ID integration off"),
    validation = Rule::new("!has(self.apiServer) || !has(self.apiServer.privateDnsZone) || self.apiServer.privateDnsZone in ['system', 'none'] || (has(self.identity) && has(self.identity.type) && self.identity.type == 'UserAssigned')").message("apiServer.privateDnsZone given by id needs identity.type UserAssigned: AKS links a custom private DNS zone with the control plane's own identity"),
    validation = Rule::new("!has(self.network) || !has(self.network.outboundType) || self.network.outboundType != 'natGateway' || has(self.network.subnetId)").message("network.outboundType natGateway needs network.subnetId: the NAT gateway is the one associated with that subnet"),
    validation = Rule::new("!has(self.network) || !has(self.network.natGateway) || (has(self.network.outboundType) && self.network.outboundType == 'managedNATGateway')").message("network.natGateway configures the NAT gateway AKS manages: set network.outboundType managedNATGateway"),
    validation = Rule::new("has(oldSelf.nodeResourceGroup) == has(self.nodeResourceGroup)").message("nodeResourceGroup cannot be added or removed after creation: AKS fixes the node resource group when it creates the cluster")
)]
pub struct AksClusterSpec {
    /// Name, location, tags and policies.
    #[serde(flatten)]
    pub azure: AzureResourceFields,
    /// The resource group.
    #[serde(flatten)]
    pub placement: ResourceGroupPlacement,
    /// The control plane's Kubernetes version, `1.31` or `1.31.2`. Omitted: AKS's default.
    /// Moves up one minor version at a time (AKS neither downgrades nor skips a minor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]+(\.[0-9]+)?$"), length(max = 16))]
    #[x_kube(
        validation = Rule::new("self.split('.')[0] == oldSelf.split('.')[0] && int(self.split('.')[1]) >= int(oldSelf.split('.')[1]) && int(self.split('.')[1]) <= int(oldSelf.split('.')[1]) + 1").message("kubernetesVersion moves up one minor version at a time: AKS cannot downgrade a cluster or skip a minor version"),
        validation = Rule::new("int(self.split('.')[1]) != int(oldSelf.split('.')[1]) || size(self.split('.')) < 3 || size(oldSelf.split('.')) < 3 || int(self.split('.')[2]) >= int(oldSelf.split('.')[2])").message("kubernetesVersion cannot go back to an earlier patch version: AKS cannot downgrade a cluster")
    )]
    pub kubernetes_version: Option<String>,
    /// The DNS prefix of the API server's FQDN. Immutable.
    #[schemars(regex(pattern = DNS_PREFIX_PATTERN))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("dnsPrefix is immutable: AKS cannot change it after creation"))]
    pub dns_prefix: String,
    /// The control plane's pricing tier.
    #[serde(default)]
    pub sku: ClusterSku,
    /// The control plane's identity.
    #[serde(default)]
    pub identity: ClusterIdentity,
    /// The resource group AKS creates for the nodes, load balancers and disks (default:
    /// `MC_<group>_<cluster>_<location>`). It must not exist yet, and the namespace's AzureProfile
    /// must allow it as it does the cluster's own group. Fixed at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[-\w\.\(\)]{0,79}[-\w\(\)]$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("nodeResourceGroup is immutable: AKS fixes the node resource group when it creates the cluster"))]
    pub node_resource_group: Option<String>,
    /// Agent pools; at least one System pool. A list keyed by name, so names are unique and
    /// a pool's immutable fields are compared with the same pool's old values.
    #[schemars(length(min = 1, max = 100))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub node_pools: Vec<NodePool>,
    /// Networking. The plugin and its mode are fixed at creation.
    #[serde(default)]
    pub network: ClusterNetwork,
    /// API server access.
    #[serde(default)]
    pub api_server: ApiServerAccess,
    /// Publish an OIDC issuer for workload identity federation.
    #[serde(default)]
    pub oidc_issuer: bool,
    /// Enable the workload identity webhook (needs `oidcIssuer`).
    #[serde(default)]
    pub workload_identity: bool,
    /// Entra ID sign-in and Azure RBAC for Kubernetes authorisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entra_id: Option<EntraIdIntegration>,
    /// Turn off local (certificate) accounts; sign-in only through Entra ID.
    #[serde(default)]
    pub disable_local_accounts: bool,
    /// Add-ons.
    #[serde(default)]
    pub addons: ClusterAddons,
    /// Automatic upgrades.
    #[serde(default)]
    pub auto_upgrade_channel: AutoUpgradeChannel,
    /// Write a kubeconfig to a Secret in this namespace. Listed once, and again only when the
    /// cluster changes (a certificate rotation, sign-in settings) or the Secret was edited;
    /// dropped from the spec, the Secret goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_secret: Option<KubeconfigSecret>,
    /// Namespaces whose FederatedIdentities may trust this cluster's issuer (besides this
    /// object's own namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_access: Option<IssuerAccess>,
}

/// Control plane tier.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSku {
    /// `Free`, `Standard` (uptime SLA) or `Premium` (long-term support).
    #[serde(default)]
    pub tier: SkuTier,
}

/// AKS control plane tiers.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SkuTier {
    /// No SLA.
    #[default]
    Free,
    /// Uptime SLA.
    Standard,
    /// Long-term support.
    Premium,
}

/// The control plane's identity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(self.type == 'UserAssigned') == has(self.identityRef)").message("identityRef is required with type UserAssigned and not allowed otherwise"))]
pub struct ClusterIdentity {
    /// `SystemAssigned` (default) or `UserAssigned`.
    #[serde(default, rename = "type")]
    pub type_: ClusterIdentityType,
    /// A FederatedIdentity in this namespace whose managed identity the control plane uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_ref: Option<LocalRef>,
}

/// Managed identity kinds.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ClusterIdentityType {
    /// AKS creates and owns the identity.
    #[default]
    SystemAssigned,
    /// A user-assigned identity.
    UserAssigned,
}

/// One agent pool.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.autoscaling) || self.autoscaling.min <= self.autoscaling.max").message("autoscaling.min must not exceed autoscaling.max"))]
#[x_kube(validation = Rule::new("self.mode != 'System' || !has(self.autoscaling) || self.autoscaling.min >= 1").message("a System pool needs at least one node"))]
pub struct NodePool {
    /// 1–12 lowercase letters and digits, starting with a letter.
    #[schemars(regex(pattern = AGENT_POOL_PATTERN))]
    pub name: String,
    /// `System` pools run cluster add-ons; `User` pools run workloads.
    #[serde(default)]
    pub mode: PoolMode,
    /// The VM size, e.g. `Standard_D4ds_v5`.
    #[schemars(regex(pattern = r"^Standard_[A-Za-z0-9_]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("vmSize is immutable: AKS cannot resize a pool's VMs; add a new pool"))]
    pub vm_size: String,
    /// Node count (the initial count when autoscaling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub count: Option<i32>,
    /// Cluster autoscaler bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    /// Availability zones. Fixed at pool creation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 3), inner(regex(pattern = "^[1-3]$")))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("zones are immutable: AKS fixes a pool's zones at creation"))]
    pub zones: Vec<String>,
    /// Node taints, `key=value:Effect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(
        pattern = "^[^=:]+(=[^:]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$"
    )))]
    pub taints: Vec<String>,
    /// Node labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The pool's Kubernetes version; defaults to the control plane's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]+(\.[0-9]+)?$"))]
    pub orchestrator_version: Option<String>,
    /// OS disk size in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 30, max = 2048))]
    pub os_disk_size_gb: Option<i32>,
    /// Maximum pods per node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 250))]
    pub max_pods: Option<i32>,
}

/// Agent pool modes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PoolMode {
    /// Runs system pods.
    System,
    /// Runs workloads.
    #[default]
    User,
}

/// Autoscaler bounds.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Autoscaling {
    /// Fewest nodes.
    #[schemars(range(min = 0, max = 1000))]
    pub min: i32,
    /// Most nodes.
    #[schemars(range(min = 1, max = 1000))]
    pub max: i32,
}

/// Cluster networking.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.pluginMode) || self.plugin == 'azure'").message("pluginMode overlay requires plugin azure"))]
#[x_kube(validation = Rule::new("!has(self.policy) || self.policy != 'cilium' || (has(self.pluginMode) && self.pluginMode == 'overlay')").message("policy cilium requires plugin azure with pluginMode overlay"))]
pub struct ClusterNetwork {
    /// The CNI plugin. Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("network.plugin is immutable: AKS cannot change a cluster's network plugin"))]
    pub plugin: NetworkPlugin,
    /// `overlay` for Azure CNI Overlay. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("network.pluginMode is immutable"))]
    pub plugin_mode: Option<NetworkPluginMode>,
    /// Network policy engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<NetworkPolicyEngine>,
    /// Egress.
    #[serde(default)]
    pub outbound_type: OutboundType,
    /// Pod CIDR (overlay and kubenet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"))]
    pub pod_cidr: Option<String>,
    /// Service CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"))]
    pub service_cidr: Option<String>,
    /// The cluster DNS service's IP, inside `serviceCidr`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "dnsServiceIP"
    )]
    #[schemars(regex(pattern = r"^([0-9]{1,3}\.){3}[0-9]{1,3}$"))]
    pub dns_service_ip: Option<String>,
    /// The nodes' subnet (ARM id); omitted: AKS creates a network. With outbound type
    /// `natGateway`, the NAT gateway associated with this subnet carries egress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("network.subnetId is immutable"))]
    pub subnet_id: Option<String>,
    /// The NAT gateway AKS manages (outbound type `managedNATGateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway: Option<ManagedNatGateway>,
}

/// The NAT gateway AKS manages for egress.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedNatGateway {
    /// Public IP addresses AKS gives it, 1–16 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16))]
    pub outbound_ips: Option<i32>,
    /// Idle timeout of outbound flows in minutes, 4–120 (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 4, max = 120))]
    pub idle_timeout_minutes: Option<i32>,
}

/// CNI plugins.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NetworkPlugin {
    /// Azure CNI.
    #[default]
    Azure,
    /// kubenet.
    Kubenet,
    /// Bring your own CNI.
    None,
}

/// Azure CNI modes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NetworkPluginMode {
    /// Pods get addresses from an overlay.
    Overlay,
}

/// Network policy engines.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NetworkPolicyEngine {
    /// Azure Network Policy Manager.
    Azure,
    /// Calico.
    Calico,
    /// Cilium (Azure CNI powered by Cilium).
    Cilium,
    /// No policy engine.
    None,
}

/// Egress types.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OutboundType {
    /// A standard load balancer.
    #[default]
    LoadBalancer,
    /// A user-assigned NAT gateway on the subnet.
    NatGateway,
    /// A NAT gateway AKS manages.
    #[serde(rename = "managedNATGateway")]
    ManagedNatGateway,
    /// Routes you define.
    UserDefinedRouting,
}

/// API server access.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.private || size(self.authorizedIpRanges) == 0").message("authorizedIpRanges do not apply to a private API server"))]
#[x_kube(validation = Rule::new("!has(self.privateDnsZone) || self.private").message("apiServer.privateDnsZone applies to a private API server: set private: true"))]
pub struct ApiServerAccess {
    /// A private API server (private endpoint only). Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("apiServer.private is immutable: AKS cannot switch a cluster between public and private"))]
    pub private: bool,
    /// CIDRs allowed to reach a public API server; empty allows all.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub authorized_ip_ranges: Vec<String>,
    /// A private API server's DNS zone: `system` (AKS makes one, the default), `none` (no
    /// private zone; a public FQDN resolves to the private address), or the resource id of a
    /// `privatelink.<region>.azmk8s.io` private DNS zone (needs a user-assigned control-plane
    /// identity). Only with `private: true`. Fixed at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^(system|none|/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/privateDnsZones/([a-zA-Z0-9-]+\.)?privatelink\.[a-z0-9]+\.azmk8s\.io)$"
    ))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("apiServer.privateDnsZone is immutable: AKS fixes a private cluster's DNS zone at creation"))]
    pub private_dns_zone: Option<String>,
}

/// Entra ID integration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntraIdIntegration {
    /// Authorise Kubernetes requests with Azure RBAC.
    #[serde(default)]
    pub azure_rbac: bool,
    /// Groups that are cluster admins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = GUID_PATTERN)))]
    pub admin_group_object_ids: Vec<String>,
}

/// Add-ons.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAddons {
    /// The Secrets Store CSI driver with the Key Vault provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault_secrets_provider: Option<KeyVaultSecretsProvider>,
    /// Azure Policy for Kubernetes.
    #[serde(default)]
    pub azure_policy: bool,
    /// Microsoft Defender for Containers, reporting to a Log Analytics workspace (AKS requires
    /// one while Defender is on). Removed: Defender is turned off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defender: Option<Defender>,
    /// Container insights into a Log Analytics workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
}

/// Secrets Store CSI driver settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct KeyVaultSecretsProvider {
    /// Rotate mounted secrets.
    #[serde(default)]
    pub rotation: bool,
}

/// Microsoft Defender for Containers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Defender {
    /// The Log Analytics workspace's ARM id
    /// (`/subscriptions/…/providers/Microsoft.OperationalInsights/workspaces/<name>`).
    #[schemars(regex(
        pattern = r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.OperationalInsights/workspaces/[^/]+$"
    ))]
    pub log_analytics_workspace_id: String,
}

/// Container insights.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    /// The Log Analytics workspace's ARM id.
    pub workspace_id: String,
}

/// Upgrade channels.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AutoUpgradeChannel {
    /// No automatic upgrades.
    #[default]
    None,
    /// Latest patch of the current minor.
    Patch,
    /// Latest patch of minor N-1.
    Stable,
    /// Latest supported patch of the latest minor.
    Rapid,
    /// Node images only.
    NodeImage,
}

/// Where to write the kubeconfig.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeconfigSecret {
    /// The Secret's name in this namespace. azop creates it, owned by the AksCluster, with the
    /// kubeconfig under the key `value`; a Secret of that name azop did not create is left
    /// alone (the cluster is Stalled until it is renamed or removed).
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub name: String,
    /// `User` (listClusterUserCredential) or `Admin` (listClusterAdminCredential).
    #[serde(default)]
    pub kind: KubeconfigKind,
}

/// Which credential to list.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum KubeconfigKind {
    /// listClusterUserCredential.
    #[default]
    User,
    /// listClusterAdminCredential.
    Admin,
}

/// Who may trust this cluster's issuer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerAccess {
    /// Namespaces whose FederatedIdentities may name this cluster in `issuer.clusterRef`.
    pub namespace_selector: LabelSelector,
}

/// What azop read back from Azure.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AksClusterStatus {
    /// Generation, conditions, resource id, operation.
    #[serde(flatten)]
    pub azure: AzureResourceStatus,
    /// The API server's public FQDN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// The API server's private FQDN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_fqdn: Option<String>,
    /// The OIDC issuer URL, when `oidcIssuer` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_issuer_url: Option<String>,
    /// The control plane's running version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_kubernetes_version: Option<String>,
    /// The version the spec asks of the control plane; azop gets there one minor version at a
    /// time, the control plane first, then each pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_kubernetes_version: Option<String>,
    /// The Secret azop wrote the kubeconfig to (owned by this AksCluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_secret: Option<String>,
    /// `Running` or `Stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
    /// The kubelet's managed identity (what pulls images and reads vaults for the nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_identity: Option<KubeletIdentity>,
    /// Each pool as Azure reports it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_pools: Vec<NodePoolStatus>,
}

/// The kubelet identity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeletIdentity {
    /// Client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Object (principal) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// ARM id of the user-assigned identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

/// One pool's state.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolStatus {
    /// Pool name.
    pub name: String,
    /// Node count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    /// ARM provisioningState.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    /// The pool's running Kubernetes version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_orchestrator_version: Option<String>,
    /// The version the spec asks of the pool (its own, or the control plane's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_orchestrator_version: Option<String>,
}

crate::azure_backed!(AksCluster, AksClusterStatus, AksCluster, placed);
