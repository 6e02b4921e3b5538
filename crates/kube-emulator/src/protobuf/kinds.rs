//! The built-in kinds this server writes in protobuf: their fields (for [`Wire`]) and, in
//! [`codec`], which k8s-openapi type and k8s-pb list message serve each `apiVersion`/`kind`.

use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::authentication::v1 as authn;
use k8s_openapi::api::authorization::v1 as authz;
use k8s_openapi::api::autoscaling::v1 as autoscaling;
use k8s_openapi::api::coordination::v1 as coordination;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::api::networking::v1 as networking;
use k8s_openapi::api::policy::v1 as policy;
use k8s_openapi::api::rbac::v1 as rbac;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as crd;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::api::apps::v1 as apps_pb;
use k8s_pb::api::authentication::v1 as authn_pb;
use k8s_pb::api::authorization::v1 as authz_pb;
use k8s_pb::api::autoscaling::v1 as autoscaling_pb;
use k8s_pb::api::coordination::v1 as coordination_pb;
use k8s_pb::api::core::v1 as core_pb;
use k8s_pb::api::events::v1 as events_pb;
use k8s_pb::api::networking::v1 as networking_pb;
use k8s_pb::api::policy::v1 as policy_pb;
use k8s_pb::api::rbac::v1 as rbac_pb;
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as crd_pb;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_pb;

use std::collections::BTreeMap;

use super::Codec;
use super::wire::{Field, Wire, wire, wire_embedding};

/// The codec for `apiVersion`/`kind`, if the kind has a protobuf form here.
pub(super) fn codec(api_version: &str, kind: &str) -> Option<Codec> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => Codec::listable::<core::Namespace, core_pb::NamespaceList>(),
        ("v1", "Secret") => Codec::listable::<core::Secret, core_pb::SecretList>(),
        ("v1", "ConfigMap") => Codec::listable::<core::ConfigMap, core_pb::ConfigMapList>(),
        ("v1", "ServiceAccount") => {
            Codec::listable::<core::ServiceAccount, core_pb::ServiceAccountList>()
        }
        ("v1", "Event") => Codec::listable::<core::Event, core_pb::EventList>(),
        ("v1", "ResourceQuota") => {
            Codec::listable::<core::ResourceQuota, core_pb::ResourceQuotaList>()
        }
        ("v1", "LimitRange") => Codec::listable::<core::LimitRange, core_pb::LimitRangeList>(),
        ("events.k8s.io/v1", "Event") => Codec::listable::<events::Event, events_pb::EventList>(),
        ("coordination.k8s.io/v1", "Lease") => {
            Codec::listable::<coordination::Lease, coordination_pb::LeaseList>()
        }
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            Codec::listable::<crd::CustomResourceDefinition, crd_pb::CustomResourceDefinitionList>()
        }
        ("v1", "Service") => Codec::listable::<core::Service, core_pb::ServiceList>(),
        ("v1", "Pod") => Codec::listable::<core::Pod, core_pb::PodList>(),
        ("apps/v1", "Deployment") => Codec::listable::<apps::Deployment, apps_pb::DeploymentList>(),
        ("policy/v1", "PodDisruptionBudget") => {
            Codec::listable::<policy::PodDisruptionBudget, policy_pb::PodDisruptionBudgetList>()
        }
        ("networking.k8s.io/v1", "NetworkPolicy") => {
            Codec::listable::<networking::NetworkPolicy, networking_pb::NetworkPolicyList>()
        }
        ("authentication.k8s.io/v1", "TokenRequest") => Codec::object::<authn::TokenRequest>(),
        ("authentication.k8s.io/v1", "TokenReview") => Codec::object::<authn::TokenReview>(),
        ("authentication.k8s.io/v1", "SelfSubjectReview") => {
            Codec::object::<authn::SelfSubjectReview>()
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            Codec::object::<authz::SelfSubjectAccessReview>()
        }
        ("authorization.k8s.io/v1", "SubjectAccessReview") => {
            Codec::object::<authz::SubjectAccessReview>()
        }
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview") => {
            Codec::object::<authz::LocalSubjectAccessReview>()
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            Codec::object::<authz::SelfSubjectRulesReview>()
        }
        ("rbac.authorization.k8s.io/v1", "Role") => {
            Codec::listable::<rbac::Role, rbac_pb::RoleList>()
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            Codec::listable::<rbac::ClusterRole, rbac_pb::ClusterRoleList>()
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
            Codec::listable::<rbac::RoleBinding, rbac_pb::RoleBindingList>()
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            Codec::listable::<rbac::ClusterRoleBinding, rbac_pb::ClusterRoleBindingList>()
        }
        ("autoscaling/v1", "Scale") => Codec::object::<autoscaling::Scale>(),
        // Status and DeleteOptions belong to every group ("meta.k8s.io/v1" or the group's own).
        (_, "Status") => Codec::object::<meta::Status>(),
        (_, "DeleteOptions") => Codec::object::<meta::DeleteOptions>(),
        _ => return None,
    })
}

/// A k8s-pb list message: its ListMeta and items.
pub(super) trait PbList: prost::Message + Sized {
    /// The item message.
    type Item;
    /// The list.
    fn assemble(metadata: meta_pb::ListMeta, items: Vec<Self::Item>) -> Self;
}

macro_rules! pb_list {
    ($($list:path => $item:path),* $(,)?) => {$(
        impl PbList for $list {
            type Item = $item;
            fn assemble(metadata: meta_pb::ListMeta, items: Vec<$item>) -> Self {
                Self { metadata: Some(metadata), items }
            }
        }
    )*};
}

pb_list!(
    core_pb::NamespaceList => core_pb::Namespace,
    core_pb::SecretList => core_pb::Secret,
    core_pb::ConfigMapList => core_pb::ConfigMap,
    core_pb::ServiceAccountList => core_pb::ServiceAccount,
    core_pb::EventList => core_pb::Event,
    core_pb::ResourceQuotaList => core_pb::ResourceQuota,
    core_pb::LimitRangeList => core_pb::LimitRange,
    events_pb::EventList => events_pb::Event,
    coordination_pb::LeaseList => coordination_pb::Lease,
    crd_pb::CustomResourceDefinitionList => crd_pb::CustomResourceDefinition,
    rbac_pb::RoleList => rbac_pb::Role,
    rbac_pb::ClusterRoleList => rbac_pb::ClusterRole,
    rbac_pb::RoleBindingList => rbac_pb::RoleBinding,
    rbac_pb::ClusterRoleBindingList => rbac_pb::ClusterRoleBinding,
    core_pb::ServiceList => core_pb::Service,
    core_pb::PodList => core_pb::Pod,
    apps_pb::DeploymentList => apps_pb::Deployment,
    policy_pb::PodDisruptionBudgetList => policy_pb::PodDisruptionBudget,
    networking_pb::NetworkPolicyList => networking_pb::NetworkPolicy,
);

wire!(core::Namespace => core_pb::Namespace { metadata, spec, status });
wire!(core::NamespaceSpec => core_pb::NamespaceSpec { finalizers });
wire!(core::NamespaceStatus => core_pb::NamespaceStatus { conditions, phase });
wire!(core::NamespaceCondition => core_pb::NamespaceCondition {
    last_transition_time, message, reason, status, type_ => r#type
});
wire!(core::Secret => core_pb::Secret { data, immutable, metadata, string_data, type_ => r#type });
wire!(core::ConfigMap => core_pb::ConfigMap { binary_data, data, immutable, metadata });
wire!(core::ServiceAccount => core_pb::ServiceAccount {
    automount_service_account_token, image_pull_secrets, metadata, secrets
});
wire!(core::ObjectReference => core_pb::ObjectReference {
    api_version, field_path, kind, name, namespace, resource_version, uid
});
wire!(core::LocalObjectReference => core_pb::LocalObjectReference { name });
wire!(core::Event => core_pb::Event {
    action, count, event_time, first_timestamp, involved_object, last_timestamp, message,
    metadata, reason, related, reporting_component, reporting_instance, series, source,
    type_ => r#type
});
wire!(core::EventSource => core_pb::EventSource { component, host });
wire!(core::EventSeries => core_pb::EventSeries { count, last_observed_time });
wire!(core::ResourceQuota => core_pb::ResourceQuota { metadata, spec, status });
wire!(core::ResourceQuotaSpec => core_pb::ResourceQuotaSpec { hard, scope_selector, scopes });
wire!(core::ResourceQuotaStatus => core_pb::ResourceQuotaStatus { hard, used });
wire!(core::ScopeSelector => core_pb::ScopeSelector { match_expressions });
wire!(core::ScopedResourceSelectorRequirement => core_pb::ScopedResourceSelectorRequirement {
    operator, scope_name, values
});
wire!(core::LimitRange => core_pb::LimitRange { metadata, spec });
wire!(core::LimitRangeSpec => core_pb::LimitRangeSpec { limits });
wire!(core::LimitRangeItem => core_pb::LimitRangeItem {
    default, default_request, max, max_limit_request_ratio, min, type_ => r#type
});

wire!(authn::TokenRequest => authn_pb::TokenRequest { metadata, spec, status });
wire!(authn::TokenRequestSpec => authn_pb::TokenRequestSpec {
    audiences, bound_object_ref, expiration_seconds
});
wire!(authn::TokenRequestStatus => authn_pb::TokenRequestStatus { expiration_timestamp, token });
wire!(authn::BoundObjectReference => authn_pb::BoundObjectReference {
    api_version, kind, name, uid => u_id
});

wire!(events::Event => events_pb::Event {
    action, deprecated_count, deprecated_first_timestamp, deprecated_last_timestamp,
    deprecated_source, event_time, metadata, note, reason, regarding, related,
    reporting_controller, reporting_instance, series, type_ => r#type
});
wire!(events::EventSeries => events_pb::EventSeries { count, last_observed_time });

wire!(coordination::Lease => coordination_pb::Lease { metadata, spec });
wire!(coordination::LeaseSpec => coordination_pb::LeaseSpec {
    acquire_time, holder_identity, lease_duration_seconds, lease_transitions,
    preferred_holder, renew_time, strategy
});

wire!(rbac::Role => rbac_pb::Role { metadata, rules });
wire!(rbac::ClusterRole => rbac_pb::ClusterRole { aggregation_rule, metadata, rules });
wire!(rbac::RoleBinding => rbac_pb::RoleBinding { metadata, role_ref, subjects });
wire!(rbac::ClusterRoleBinding => rbac_pb::ClusterRoleBinding { metadata, role_ref, subjects });
wire!(rbac::PolicyRule => rbac_pb::PolicyRule {
    api_groups, non_resource_urls => non_resource_ur_ls, resource_names, resources, verbs
});
wire!(rbac::AggregationRule => rbac_pb::AggregationRule { cluster_role_selectors });
wire!(rbac::Subject => rbac_pb::Subject { api_group, kind, name, namespace });
wire!(rbac::RoleRef => rbac_pb::RoleRef { api_group, kind, name });
wire!(meta::FieldSelectorRequirement => meta_pb::FieldSelectorRequirement { key, operator, values });

wire!(authz::SelfSubjectAccessReview => authz_pb::SelfSubjectAccessReview { metadata, spec, status });
wire!(authz::SelfSubjectAccessReviewSpec => authz_pb::SelfSubjectAccessReviewSpec {
    non_resource_attributes, resource_attributes
});
wire!(authz::SubjectAccessReview => authz_pb::SubjectAccessReview { metadata, spec, status });
wire!(authz::LocalSubjectAccessReview => authz_pb::LocalSubjectAccessReview { metadata, spec, status });
wire!(authz::SubjectAccessReviewStatus => authz_pb::SubjectAccessReviewStatus {
    allowed, denied, evaluation_error, reason
});
wire!(authz::ResourceAttributes => authz_pb::ResourceAttributes {
    field_selector, group, label_selector, name, namespace, resource, subresource, verb, version
});
wire!(authz::FieldSelectorAttributes => authz_pb::FieldSelectorAttributes { raw_selector, requirements });
wire!(authz::LabelSelectorAttributes => authz_pb::LabelSelectorAttributes { raw_selector, requirements });
wire!(authz::NonResourceAttributes => authz_pb::NonResourceAttributes { path, verb });
wire!(authz::SelfSubjectRulesReview => authz_pb::SelfSubjectRulesReview { metadata, spec, status });
wire!(authz::SelfSubjectRulesReviewSpec => authz_pb::SelfSubjectRulesReviewSpec { namespace });
wire!(authz::SubjectRulesReviewStatus => authz_pb::SubjectRulesReviewStatus {
    evaluation_error, incomplete, non_resource_rules, resource_rules
});
wire!(authz::ResourceRule => authz_pb::ResourceRule { api_groups, resource_names, resources, verbs });
wire!(authz::NonResourceRule => authz_pb::NonResourceRule {
    non_resource_urls => non_resource_ur_ls, verbs
});

wire!(authn::SelfSubjectReview => authn_pb::SelfSubjectReview { metadata, status });
wire!(authn::SelfSubjectReviewStatus => authn_pb::SelfSubjectReviewStatus { user_info });
wire!(authn::TokenReview => authn_pb::TokenReview { metadata, spec, status });
wire!(authn::TokenReviewSpec => authn_pb::TokenReviewSpec { audiences, token });
wire!(authn::TokenReviewStatus => authn_pb::TokenReviewStatus { audiences, authenticated, error, user });

/// `extra`: a map of string lists in JSON, of `ExtraValue { items }` messages in protobuf
/// (one message type per group).
trait ExtraValue {
    fn of(items: Vec<String>) -> Self;
    fn items(self) -> Vec<String>;
}

impl ExtraValue for authn_pb::ExtraValue {
    fn of(items: Vec<String>) -> Self {
        Self { items }
    }
    fn items(self) -> Vec<String> {
        self.items
    }
}

impl ExtraValue for authz_pb::ExtraValue {
    fn of(items: Vec<String>) -> Self {
        Self { items }
    }
    fn items(self) -> Vec<String> {
        self.items
    }
}

fn extra_to_pb<E: ExtraValue>(extra: Option<BTreeMap<String, Vec<String>>>) -> BTreeMap<String, E> {
    extra
        .unwrap_or_default()
        .into_iter()
        .map(|(k, items)| (k, E::of(items)))
        .collect()
}

fn extra_from_pb<E: ExtraValue>(
    extra: BTreeMap<String, E>,
) -> Option<BTreeMap<String, Vec<String>>> {
    (!extra.is_empty()).then(|| extra.into_iter().map(|(k, v)| (k, v.items())).collect())
}

impl Wire for authn::UserInfo {
    type Pb = authn_pb::UserInfo;
    fn into_pb(self) -> Self::Pb {
        authn_pb::UserInfo {
            extra: extra_to_pb(self.extra),
            groups: Field::into_pb_field(self.groups),
            uid: Field::into_pb_field(self.uid),
            username: Field::into_pb_field(self.username),
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        authn::UserInfo {
            extra: extra_from_pb(pb.extra),
            groups: Field::from_pb_field(pb.groups),
            uid: Field::from_pb_field(pb.uid),
            username: Field::from_pb_field(pb.username),
        }
    }
}

impl Wire for authz::SubjectAccessReviewSpec {
    type Pb = authz_pb::SubjectAccessReviewSpec;
    fn into_pb(self) -> Self::Pb {
        authz_pb::SubjectAccessReviewSpec {
            extra: extra_to_pb(self.extra),
            groups: Field::into_pb_field(self.groups),
            non_resource_attributes: Field::into_pb_field(self.non_resource_attributes),
            resource_attributes: Field::into_pb_field(self.resource_attributes),
            uid: Field::into_pb_field(self.uid),
            user: Field::into_pb_field(self.user),
        }
    }
    fn from_pb(pb: Self::Pb) -> Self {
        authz::SubjectAccessReviewSpec {
            extra: extra_from_pb(pb.extra),
            groups: Field::from_pb_field(pb.groups),
            non_resource_attributes: Field::from_pb_field(pb.non_resource_attributes),
            resource_attributes: Field::from_pb_field(pb.resource_attributes),
            uid: Field::from_pb_field(pb.uid),
            user: Field::from_pb_field(pb.user),
        }
    }
}
// The workload kinds: Deployment, Service, Pod, PodDisruptionBudget, NetworkPolicy and the
// Scale subresource, and every type below them. Each line lists every field of the
// k8s-openapi struct (the compiler holds that to be so); `..` where k8s-pb's message (a newer
// Kubernetes) has more.
wire!(apps::Deployment => apps_pb::Deployment { metadata, spec, status });
wire!(core::Service => core_pb::Service { metadata, spec, status });
wire!(core::Pod => core_pb::Pod { metadata, spec, status });
wire!(policy::PodDisruptionBudget => policy_pb::PodDisruptionBudget { metadata, spec, status });
wire!(networking::NetworkPolicy => networking_pb::NetworkPolicy { metadata, spec });
wire!(autoscaling::Scale => autoscaling_pb::Scale { metadata, spec, status });
wire!(apps::DeploymentSpec => apps_pb::DeploymentSpec {
    min_ready_seconds, paused, progress_deadline_seconds, replicas, revision_history_limit,
    selector, strategy, template
});
wire!(apps::DeploymentStatus => apps_pb::DeploymentStatus {
    available_replicas, collision_count, conditions, observed_generation, ready_replicas, replicas,
    terminating_replicas, unavailable_replicas, updated_replicas
});
wire!(core::ServiceSpec => core_pb::ServiceSpec {
    allocate_load_balancer_node_ports, cluster_ip, cluster_ips, external_ips, external_name,
    external_traffic_policy, health_check_node_port, internal_traffic_policy, ip_families,
    ip_family_policy, load_balancer_class, load_balancer_ip, load_balancer_source_ranges, ports,
    publish_not_ready_addresses, selector, session_affinity, session_affinity_config,
    traffic_distribution, type_ => r#type
});
wire!(core::ServiceStatus => core_pb::ServiceStatus { conditions, load_balancer });
wire!(core::PodSpec => core_pb::PodSpec {
    active_deadline_seconds, affinity, automount_service_account_token, containers, dns_config,
    dns_policy, enable_service_links, ephemeral_containers, host_aliases, host_ipc, host_network,
    host_pid, host_users, hostname, image_pull_secrets, init_containers, node_name, node_selector,
    os, overhead, preemption_policy, priority, priority_class_name, readiness_gates,
    resource_claims, resources, restart_policy, runtime_class_name, scheduler_name,
    scheduling_gates, security_context, service_account, service_account_name,
    set_hostname_as_fqdn, share_process_namespace, subdomain, termination_grace_period_seconds,
    tolerations, topology_spread_constraints, volumes, ..
});
wire!(core::PodStatus => core_pb::PodStatus {
    conditions, container_statuses, ephemeral_container_statuses, host_ip, host_ips,
    init_container_statuses, message, nominated_node_name, observed_generation, phase, pod_ip,
    pod_ips, qos_class, reason, resize, resource_claim_statuses, start_time, ..
});
wire!(policy::PodDisruptionBudgetSpec => policy_pb::PodDisruptionBudgetSpec {
    max_unavailable, min_available, selector, unhealthy_pod_eviction_policy
});
wire!(policy::PodDisruptionBudgetStatus => policy_pb::PodDisruptionBudgetStatus {
    conditions, current_healthy, desired_healthy, disrupted_pods, disruptions_allowed,
    expected_pods, observed_generation
});
wire!(networking::NetworkPolicySpec => networking_pb::NetworkPolicySpec {
    egress, ingress, pod_selector, policy_types
});
wire!(autoscaling::ScaleSpec => autoscaling_pb::ScaleSpec { replicas });
wire!(autoscaling::ScaleStatus => autoscaling_pb::ScaleStatus { replicas, selector });
wire!(meta::LabelSelector => meta_pb::LabelSelector { match_expressions, match_labels });
wire!(apps::DeploymentStrategy => apps_pb::DeploymentStrategy { rolling_update, type_ => r#type });
wire!(core::PodTemplateSpec => core_pb::PodTemplateSpec { metadata, spec });
wire!(apps::DeploymentCondition => apps_pb::DeploymentCondition {
    last_transition_time, last_update_time, message, reason, status, type_ => r#type
});
wire!(core::ServicePort => core_pb::ServicePort {
    app_protocol, name, node_port, port, protocol, target_port
});
wire!(core::SessionAffinityConfig => core_pb::SessionAffinityConfig { client_ip });
wire!(meta::Condition => meta_pb::Condition {
    last_transition_time, message, observed_generation, reason, status, type_ => r#type
});
wire!(core::LoadBalancerStatus => core_pb::LoadBalancerStatus { ingress });
wire!(core::Affinity => core_pb::Affinity { node_affinity, pod_affinity, pod_anti_affinity });
wire!(core::Container => core_pb::Container {
    args, command, env, env_from, image, image_pull_policy, lifecycle, liveness_probe, name, ports,
    readiness_probe, resize_policy, resources, restart_policy, security_context, startup_probe,
    stdin, stdin_once, termination_message_path, termination_message_policy, tty, volume_devices,
    volume_mounts, working_dir, ..
});
wire!(core::PodDNSConfig => core_pb::PodDnsConfig { nameservers, options, searches });
wire_embedding!(core::EphemeralContainer => core_pb::EphemeralContainer {
    target_container_name;
    ephemeral_container_common: core_pb::EphemeralContainerCommon {
        args, command, env, env_from, image, image_pull_policy, lifecycle, liveness_probe, name,
        ports, readiness_probe, resize_policy, resources, restart_policy, security_context,
        startup_probe, stdin, stdin_once, termination_message_path, termination_message_policy,
        tty, volume_devices, volume_mounts, working_dir
    }
});
wire!(core::HostAlias => core_pb::HostAlias { hostnames, ip });
wire!(core::PodOS => core_pb::PodOs { name });
wire!(core::PodReadinessGate => core_pb::PodReadinessGate { condition_type });
wire!(core::PodResourceClaim => core_pb::PodResourceClaim {
    name, resource_claim_name, resource_claim_template_name
});
wire!(core::ResourceRequirements => core_pb::ResourceRequirements { claims, limits, requests });
wire!(core::PodSchedulingGate => core_pb::PodSchedulingGate { name });
wire!(core::PodSecurityContext => core_pb::PodSecurityContext {
    app_armor_profile, fs_group, fs_group_change_policy, run_as_group, run_as_non_root,
    run_as_user, se_linux_change_policy, se_linux_options, seccomp_profile, supplemental_groups,
    supplemental_groups_policy, sysctls, windows_options
});
wire!(core::Toleration => core_pb::Toleration { effect, key, operator, toleration_seconds, value });
wire!(core::TopologySpreadConstraint => core_pb::TopologySpreadConstraint {
    label_selector, match_label_keys, max_skew, min_domains, node_affinity_policy,
    node_taints_policy, topology_key, when_unsatisfiable
});
wire_embedding!(core::Volume => core_pb::Volume {
    name;
    volume_source: core_pb::VolumeSource {
        aws_elastic_block_store, azure_disk, azure_file, cephfs, cinder, config_map, csi,
        downward_api, empty_dir, ephemeral, fc, flex_volume, flocker, gce_persistent_disk,
        git_repo, glusterfs, host_path, image, iscsi, nfs, persistent_volume_claim,
        photon_persistent_disk, portworx_volume, projected, quobyte, rbd, scale_io, secret,
        storageos, vsphere_volume
    }
});
wire!(core::PodCondition => core_pb::PodCondition {
    last_probe_time, last_transition_time, message, observed_generation, reason, status,
    type_ => r#type
});
wire!(core::ContainerStatus => core_pb::ContainerStatus {
    allocated_resources, allocated_resources_status, container_id, image, image_id, last_state,
    name, ready, resources, restart_count, started, state, stop_signal, user, volume_mounts
});
wire!(core::HostIP => core_pb::HostIp { ip });
wire!(core::PodIP => core_pb::PodIp { ip });
wire!(core::PodResourceClaimStatus => core_pb::PodResourceClaimStatus {
    name, resource_claim_name
});
wire!(networking::NetworkPolicyEgressRule => networking_pb::NetworkPolicyEgressRule { ports, to });
wire!(networking::NetworkPolicyIngressRule => networking_pb::NetworkPolicyIngressRule {
    from, ports
});
wire!(meta::LabelSelectorRequirement => meta_pb::LabelSelectorRequirement {
    key, operator, values
});
wire!(apps::RollingUpdateDeployment => apps_pb::RollingUpdateDeployment {
    max_surge, max_unavailable
});
wire!(core::ClientIPConfig => core_pb::ClientIpConfig { timeout_seconds });
wire!(core::LoadBalancerIngress => core_pb::LoadBalancerIngress { hostname, ip, ip_mode, ports });
wire!(core::NodeAffinity => core_pb::NodeAffinity {
    preferred_during_scheduling_ignored_during_execution,
    required_during_scheduling_ignored_during_execution
});
wire!(core::PodAffinity => core_pb::PodAffinity {
    preferred_during_scheduling_ignored_during_execution,
    required_during_scheduling_ignored_during_execution
});
wire!(core::PodAntiAffinity => core_pb::PodAntiAffinity {
    preferred_during_scheduling_ignored_during_execution,
    required_during_scheduling_ignored_during_execution
});
wire!(core::EnvVar => core_pb::EnvVar { name, value, value_from });
wire!(core::EnvFromSource => core_pb::EnvFromSource { config_map_ref, prefix, secret_ref });
wire!(core::Lifecycle => core_pb::Lifecycle { post_start, pre_stop, stop_signal });
wire_embedding!(core::Probe => core_pb::Probe {
    failure_threshold, initial_delay_seconds, period_seconds, success_threshold,
    termination_grace_period_seconds, timeout_seconds;
    handler: core_pb::ProbeHandler {
        exec, grpc, http_get, tcp_socket
    }
});
wire!(core::ContainerPort => core_pb::ContainerPort {
    container_port, host_ip, host_port, name, protocol
});
wire!(core::ContainerResizePolicy => core_pb::ContainerResizePolicy {
    resource_name, restart_policy
});
wire!(core::SecurityContext => core_pb::SecurityContext {
    allow_privilege_escalation, app_armor_profile, capabilities, privileged, proc_mount,
    read_only_root_filesystem, run_as_group, run_as_non_root, run_as_user, se_linux_options,
    seccomp_profile, windows_options
});
wire!(core::VolumeDevice => core_pb::VolumeDevice { device_path, name });
wire!(core::VolumeMount => core_pb::VolumeMount {
    mount_path, mount_propagation, name, read_only, recursive_read_only, sub_path, sub_path_expr
});
wire!(core::PodDNSConfigOption => core_pb::PodDnsConfigOption { name, value });
wire!(core::ResourceClaim => core_pb::ResourceClaim { name, request });
wire!(core::AppArmorProfile => core_pb::AppArmorProfile { localhost_profile, type_ => r#type });
wire!(core::SELinuxOptions => core_pb::SeLinuxOptions { level, role, type_ => r#type, user });
wire!(core::SeccompProfile => core_pb::SeccompProfile { localhost_profile, type_ => r#type });
wire!(core::Sysctl => core_pb::Sysctl { name, value });
wire!(core::WindowsSecurityContextOptions => core_pb::WindowsSecurityContextOptions {
    gmsa_credential_spec, gmsa_credential_spec_name, host_process, run_as_user_name
});
wire!(core::AWSElasticBlockStoreVolumeSource => core_pb::AwsElasticBlockStoreVolumeSource {
    fs_type, partition, read_only, volume_id
});
wire!(core::AzureDiskVolumeSource => core_pb::AzureDiskVolumeSource {
    caching_mode, disk_name, disk_uri, fs_type, kind, read_only
});
wire!(core::AzureFileVolumeSource => core_pb::AzureFileVolumeSource {
    read_only, secret_name, share_name
});
wire!(core::CephFSVolumeSource => core_pb::CephFsVolumeSource {
    monitors, path, read_only, secret_file, secret_ref, user
});
wire!(core::CinderVolumeSource => core_pb::CinderVolumeSource {
    fs_type, read_only, secret_ref, volume_id
});
wire_embedding!(core::ConfigMapVolumeSource => core_pb::ConfigMapVolumeSource {
    default_mode, items, optional;
    local_object_reference: core_pb::LocalObjectReference {
        name
    }
});
wire!(core::CSIVolumeSource => core_pb::CSIVolumeSource {
    driver, fs_type, node_publish_secret_ref, read_only, volume_attributes
});
wire!(core::DownwardAPIVolumeSource => core_pb::DownwardAPIVolumeSource { default_mode, items });
wire!(core::EmptyDirVolumeSource => core_pb::EmptyDirVolumeSource { medium, size_limit });
wire!(core::EphemeralVolumeSource => core_pb::EphemeralVolumeSource { volume_claim_template });
wire!(core::FCVolumeSource => core_pb::FcVolumeSource {
    fs_type, lun, read_only, target_wwns => target_ww_ns, wwids
});
wire!(core::FlexVolumeSource => core_pb::FlexVolumeSource {
    driver, fs_type, options, read_only, secret_ref
});
wire!(core::FlockerVolumeSource => core_pb::FlockerVolumeSource { dataset_name, dataset_uuid });
wire!(core::GCEPersistentDiskVolumeSource => core_pb::GcePersistentDiskVolumeSource {
    fs_type, partition, pd_name, read_only
});
wire!(core::GitRepoVolumeSource => core_pb::GitRepoVolumeSource {
    directory, repository, revision
});
wire!(core::GlusterfsVolumeSource => core_pb::GlusterfsVolumeSource { endpoints, path, read_only });
wire!(core::HostPathVolumeSource => core_pb::HostPathVolumeSource { path, type_ => r#type });
wire!(core::ImageVolumeSource => core_pb::ImageVolumeSource { pull_policy, reference });
wire!(core::ISCSIVolumeSource => core_pb::IscsiVolumeSource {
    chap_auth_discovery, chap_auth_session, fs_type, initiator_name, iqn, iscsi_interface, lun,
    portals, read_only, secret_ref, target_portal
});
wire!(core::NFSVolumeSource => core_pb::NfsVolumeSource { path, read_only, server });
wire!(core::PersistentVolumeClaimVolumeSource => core_pb::PersistentVolumeClaimVolumeSource {
    claim_name, read_only
});
wire!(core::PhotonPersistentDiskVolumeSource => core_pb::PhotonPersistentDiskVolumeSource {
    fs_type, pd_id
});
wire!(core::PortworxVolumeSource => core_pb::PortworxVolumeSource {
    fs_type, read_only, volume_id
});
wire!(core::ProjectedVolumeSource => core_pb::ProjectedVolumeSource { default_mode, sources });
wire!(core::QuobyteVolumeSource => core_pb::QuobyteVolumeSource {
    group, read_only, registry, tenant, user, volume
});
wire!(core::RBDVolumeSource => core_pb::RbdVolumeSource {
    fs_type, image, keyring, monitors, pool, read_only, secret_ref, user
});
wire!(core::ScaleIOVolumeSource => core_pb::ScaleIoVolumeSource {
    fs_type, gateway, protection_domain, read_only, secret_ref, ssl_enabled, storage_mode,
    storage_pool, system, volume_name
});
wire!(core::SecretVolumeSource => core_pb::SecretVolumeSource {
    default_mode, items, optional, secret_name
});
wire!(core::StorageOSVolumeSource => core_pb::StorageOsVolumeSource {
    fs_type, read_only, secret_ref, volume_name, volume_namespace
});
wire!(core::VsphereVirtualDiskVolumeSource => core_pb::VsphereVirtualDiskVolumeSource {
    fs_type, storage_policy_id, storage_policy_name, volume_path
});
wire!(core::ResourceStatus => core_pb::ResourceStatus { name, resources });
wire!(core::ContainerState => core_pb::ContainerState { running, terminated, waiting });
wire!(core::ContainerUser => core_pb::ContainerUser { linux });
wire!(core::VolumeMountStatus => core_pb::VolumeMountStatus {
    mount_path, name, read_only, recursive_read_only
});
wire!(networking::NetworkPolicyPort => networking_pb::NetworkPolicyPort {
    end_port, port, protocol
});
wire!(networking::NetworkPolicyPeer => networking_pb::NetworkPolicyPeer {
    ip_block, namespace_selector, pod_selector
});
wire!(core::PortStatus => core_pb::PortStatus { error, port, protocol });
wire!(core::PreferredSchedulingTerm => core_pb::PreferredSchedulingTerm { preference, weight });
wire!(core::NodeSelector => core_pb::NodeSelector { node_selector_terms });
wire!(core::WeightedPodAffinityTerm => core_pb::WeightedPodAffinityTerm {
    pod_affinity_term, weight
});
wire!(core::PodAffinityTerm => core_pb::PodAffinityTerm {
    label_selector, match_label_keys, mismatch_label_keys, namespace_selector, namespaces,
    topology_key
});
wire!(core::EnvVarSource => core_pb::EnvVarSource {
    config_map_key_ref, field_ref, resource_field_ref, secret_key_ref, ..
});
wire_embedding!(core::ConfigMapEnvSource => core_pb::ConfigMapEnvSource {
    optional;
    local_object_reference: core_pb::LocalObjectReference {
        name
    }
});
wire_embedding!(core::SecretEnvSource => core_pb::SecretEnvSource {
    optional;
    local_object_reference: core_pb::LocalObjectReference {
        name
    }
});
wire!(core::LifecycleHandler => core_pb::LifecycleHandler { exec, http_get, sleep, tcp_socket });
wire!(core::ExecAction => core_pb::ExecAction { command });
wire!(core::GRPCAction => core_pb::GrpcAction { port, service });
wire!(core::HTTPGetAction => core_pb::HttpGetAction { host, http_headers, path, port, scheme });
wire!(core::TCPSocketAction => core_pb::TcpSocketAction { host, port });
wire!(core::Capabilities => core_pb::Capabilities { add, drop });
wire!(core::KeyToPath => core_pb::KeyToPath { key, mode, path });
wire!(core::DownwardAPIVolumeFile => core_pb::DownwardAPIVolumeFile {
    field_ref, mode, path, resource_field_ref
});
wire!(core::PersistentVolumeClaimTemplate => core_pb::PersistentVolumeClaimTemplate {
    metadata, spec
});
wire!(core::VolumeProjection => core_pb::VolumeProjection {
    cluster_trust_bundle, config_map, downward_api, secret, service_account_token, ..
});
wire!(core::ResourceHealth => core_pb::ResourceHealth { health, resource_id });
wire!(core::ContainerStateRunning => core_pb::ContainerStateRunning { started_at });
wire!(core::ContainerStateTerminated => core_pb::ContainerStateTerminated {
    container_id, exit_code, finished_at, message, reason, signal, started_at
});
wire!(core::ContainerStateWaiting => core_pb::ContainerStateWaiting { message, reason });
wire!(core::LinuxContainerUser => core_pb::LinuxContainerUser { gid, supplemental_groups, uid });
wire!(networking::IPBlock => networking_pb::IpBlock { cidr, except });
wire!(core::NodeSelectorTerm => core_pb::NodeSelectorTerm { match_expressions, match_fields });
wire_embedding!(core::ConfigMapKeySelector => core_pb::ConfigMapKeySelector {
    key, optional;
    local_object_reference: core_pb::LocalObjectReference {
        name
    }
});
wire!(core::ObjectFieldSelector => core_pb::ObjectFieldSelector { api_version, field_path });
wire!(core::ResourceFieldSelector => core_pb::ResourceFieldSelector {
    container_name, divisor, resource
});
wire_embedding!(core::SecretKeySelector => core_pb::SecretKeySelector {
    key, optional;
    local_object_reference: core_pb::LocalObjectReference {
        name
    }
});
wire!(core::SleepAction => core_pb::SleepAction { seconds });
wire!(core::HTTPHeader => core_pb::HttpHeader { name, value });
wire!(core::PersistentVolumeClaimSpec => core_pb::PersistentVolumeClaimSpec {
    access_modes, data_source, data_source_ref, resources, selector, storage_class_name,
    volume_attributes_class_name, volume_mode, volume_name
});
wire!(core::ClusterTrustBundleProjection => core_pb::ClusterTrustBundleProjection {
    label_selector, name, optional, path, signer_name
});
wire_embedding!(core::ConfigMapProjection => core_pb::ConfigMapProjection {
    items, optional;
    local_object_reference: core_pb::LocalObjectReference {
        name
    }
});
wire!(core::DownwardAPIProjection => core_pb::DownwardAPIProjection { items });
wire_embedding!(core::SecretProjection => core_pb::SecretProjection {
    items, optional;
    local_object_reference: core_pb::LocalObjectReference {
        name
    }
});
wire!(core::ServiceAccountTokenProjection => core_pb::ServiceAccountTokenProjection {
    audience, expiration_seconds, path
});
wire!(core::NodeSelectorRequirement => core_pb::NodeSelectorRequirement { key, operator, values });
wire!(core::TypedLocalObjectReference => core_pb::TypedLocalObjectReference {
    api_group, kind, name
});
wire!(core::TypedObjectReference => core_pb::TypedObjectReference {
    api_group, kind, name, namespace
});
wire!(core::VolumeResourceRequirements => core_pb::VolumeResourceRequirements { limits, requests });
