//! The typed bodies against the Azure REST API specs in `shared/arm-specs`: every example
//! request and response body of the resource types azop manages reads into its type and writes
//! back to the same JSON, the fields the types name are read from where the examples have them,
//! and every name the types use exists in the spec's definition.
//!
//! An example's type comes from the operation that references it (`x-ms-examples` in the spec),
//! else from the operation its `operationId` names, else from the body's `type`.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use azop_arm::ArmResource;
use azop_arm::resources::{
    AgentPool, ArmList, Extra, FederatedIdentityCredential, ManagedCluster, ResourceGroup,
    RoleAssignment, UserAssignedIdentity, Vault,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn specs_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/arm-specs");
    assert!(
        root.join("README.md").is_file(),
        "the ARM specs are missing: expected {} (shared/arm-specs beside the repository)",
        root.display()
    );
    root
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

fn dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ResourceGroup,
    ManagedCluster,
    AgentPool,
    Vault,
    UserAssignedIdentity,
    FederatedIdentityCredential,
    RoleAssignment,
}

const KINDS: [Kind; 7] = [
    Kind::ResourceGroup,
    Kind::ManagedCluster,
    Kind::AgentPool,
    Kind::Vault,
    Kind::UserAssignedIdentity,
    Kind::FederatedIdentityCredential,
    Kind::RoleAssignment,
];

impl Kind {
    fn resource_type(self) -> &'static str {
        match self {
            Kind::ResourceGroup => ResourceGroup::RESOURCE_TYPE,
            Kind::ManagedCluster => ManagedCluster::RESOURCE_TYPE,
            Kind::AgentPool => AgentPool::RESOURCE_TYPE,
            Kind::Vault => Vault::RESOURCE_TYPE,
            Kind::UserAssignedIdentity => UserAssignedIdentity::RESOURCE_TYPE,
            Kind::FederatedIdentityCredential => FederatedIdentityCredential::RESOURCE_TYPE,
            Kind::RoleAssignment => RoleAssignment::RESOURCE_TYPE,
        }
    }

    /// The kind a path's last type segment names.
    fn of_segment(segment: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| {
            k.resource_type()
                .rsplit('/')
                .next()
                .is_some_and(|last| last.eq_ignore_ascii_case(segment))
        })
    }

    /// Reads `body` as this kind (a list page when `list`), writes it back, and checks the
    /// named fields; returns the number of resource bodies checked.
    fn check(self, body: &Value, list: bool) -> Result<usize, String> {
        match self {
            Kind::ResourceGroup => check_as::<ResourceGroup>(body, list, resource_group_fields),
            Kind::ManagedCluster => check_as::<ManagedCluster>(body, list, managed_cluster_fields),
            Kind::AgentPool => check_as::<AgentPool>(body, list, agent_pool_fields),
            Kind::Vault => check_as::<Vault>(body, list, vault_fields),
            Kind::UserAssignedIdentity => {
                check_as::<UserAssignedIdentity>(body, list, identity_fields)
            }
            Kind::FederatedIdentityCredential => {
                check_as::<FederatedIdentityCredential>(body, list, fic_fields)
            }
            Kind::RoleAssignment => check_as::<RoleAssignment>(body, list, role_assignment_fields),
        }
    }
}

/// (JSON pointer, what the typed body holds there) for the fields a type names.
type Named = Vec<(&'static str, Value)>;

fn v(x: impl Serialize) -> Value {
    serde_json::to_value(x).expect("typed fields serialise")
}

/// `id`, `name` and `type`.
fn common(id: &Option<String>, name: &Option<String>, ty: &Option<String>) -> Named {
    vec![("/id", v(id)), ("/name", v(name)), ("/type", v(ty))]
}

fn resource_group_fields(r: &ResourceGroup) -> Named {
    let mut n = vec![
        ("/id", v(&r.id)),
        ("/name", v(&r.name)),
        ("/type", v(&r.resource_type)),
        ("/location", v(&r.location)),
        ("/tags", v(&r.tags)),
        ("/managedBy", v(&r.managed_by)),
    ];
    let p = r.properties.clone().unwrap_or_default();
    n.push(("/properties/provisioningState", v(&p.provisioning_state)));
    n
}

fn managed_cluster_fields(r: &ManagedCluster) -> Named {
    let mut n = vec![
        ("/id", v(&r.id)),
        ("/name", v(&r.name)),
        ("/type", v(&r.resource_type)),
        ("/location", v(&r.location)),
        ("/tags", v(&r.tags)),
        ("/eTag", v(&r.etag)),
        ("/sku/name", v(r.sku.as_ref().map(|s| &s.name))),
        ("/sku/tier", v(r.sku.as_ref().map(|s| &s.tier))),
        (
            "/identity/type",
            v(r.identity.as_ref().map(|i| &i.identity_type)),
        ),
    ];
    if let Some(uai) = r
        .identity
        .as_ref()
        .and_then(|i| i.user_assigned_identities.as_ref())
        && let Some((key, details)) = uai.iter().next()
    {
        assert!(key.starts_with("/subscriptions/"), "identity keys are ids");
        n.push((
            "/identity/userAssignedIdentities/*/clientId",
            v(&details.client_id),
        ));
    }
    let p = r.properties.clone().unwrap_or_default();
    n.extend([
        ("/properties/provisioningState", v(&p.provisioning_state)),
        (
            "/properties/powerState/code",
            v(p.power_state.as_ref().map(|s| &s.code)),
        ),
        ("/properties/kubernetesVersion", v(&p.kubernetes_version)),
        (
            "/properties/currentKubernetesVersion",
            v(&p.current_kubernetes_version),
        ),
        ("/properties/dnsPrefix", v(&p.dns_prefix)),
        ("/properties/fqdn", v(&p.fqdn)),
        ("/properties/privateFQDN", v(&p.private_fqdn)),
        ("/properties/nodeResourceGroup", v(&p.node_resource_group)),
        ("/properties/enableRBAC", v(p.enable_rbac)),
        (
            "/properties/oidcIssuerProfile/issuerURL",
            v(p.oidc_issuer_url()),
        ),
        (
            "/properties/oidcIssuerProfile/enabled",
            v(p.oidc_issuer_profile.as_ref().map(|o| o.enabled)),
        ),
        (
            "/properties/securityProfile/workloadIdentity/enabled",
            v(p.security_profile
                .as_ref()
                .and_then(|s| s.workload_identity.as_ref())
                .map(|w| w.enabled)),
        ),
        (
            "/properties/identityProfile/kubeletidentity/clientId",
            v(p.kubelet_identity().map(|k| &k.client_id)),
        ),
        (
            "/properties/identityProfile/kubeletidentity/objectId",
            v(p.kubelet_identity().map(|k| &k.object_id)),
        ),
        (
            "/properties/identityProfile/kubeletidentity/resourceId",
            v(p.kubelet_identity().map(|k| &k.resource_id)),
        ),
    ]);
    let net = p.network_profile.clone().unwrap_or_default();
    if p.network_profile.is_some() {
        n.extend([
            (
                "/properties/networkProfile/networkPlugin",
                v(&net.network_plugin),
            ),
            (
                "/properties/networkProfile/networkPluginMode",
                v(&net.network_plugin_mode),
            ),
            (
                "/properties/networkProfile/networkPolicy",
                v(&net.network_policy),
            ),
            (
                "/properties/networkProfile/networkDataplane",
                v(&net.network_dataplane),
            ),
            ("/properties/networkProfile/podCidr", v(&net.pod_cidr)),
            (
                "/properties/networkProfile/serviceCidr",
                v(&net.service_cidr),
            ),
            (
                "/properties/networkProfile/dnsServiceIP",
                v(&net.dns_service_ip),
            ),
            (
                "/properties/networkProfile/outboundType",
                v(&net.outbound_type),
            ),
            (
                "/properties/networkProfile/loadBalancerSku",
                v(&net.load_balancer_sku),
            ),
            ("/properties/networkProfile/podCidrs", v(&net.pod_cidrs)),
            (
                "/properties/networkProfile/serviceCidrs",
                v(&net.service_cidrs),
            ),
            ("/properties/networkProfile/ipFamilies", v(&net.ip_families)),
        ]);
    }
    if let Some(addons) = &p.addon_profiles
        && let Some((name, addon)) = addons.iter().next()
    {
        assert!(!name.is_empty());
        n.push(("/properties/addonProfiles/*/enabled", v(addon.enabled)));
    }
    if let Some(pool) = p.agent_pool_profiles.as_ref().and_then(|p| p.first()) {
        n.push(("/properties/agentPoolProfiles/0/name", v(&pool.name)));
        n.extend(pool_fields(
            "/properties/agentPoolProfiles/0",
            &pool.properties,
        ));
    }
    n
}

fn pool_fields(
    prefix: &'static str,
    p: &azop_arm::resources::AgentPoolProperties,
) -> Vec<(&'static str, Value)> {
    // Leaked so the pointers can be `'static`; a few short strings per test run.
    let at =
        |field: &str| -> &'static str { Box::leak(format!("{prefix}/{field}").into_boxed_str()) };
    vec![
        (at("provisioningState"), v(&p.provisioning_state)),
        (
            at("powerState/code"),
            v(p.power_state.as_ref().map(|s| &s.code)),
        ),
        (at("mode"), v(&p.mode)),
        (at("type"), v(&p.pool_type)),
        (at("vmSize"), v(&p.vm_size)),
        (at("count"), v(p.count)),
        (at("enableAutoScaling"), v(p.enable_auto_scaling)),
        (at("minCount"), v(p.min_count)),
        (at("maxCount"), v(p.max_count)),
        (at("maxPods"), v(p.max_pods)),
        (at("osType"), v(&p.os_type)),
        (at("osSKU"), v(&p.os_sku)),
        (at("osDiskSizeGB"), v(p.os_disk_size_gb)),
        (at("orchestratorVersion"), v(&p.orchestrator_version)),
        (
            at("currentOrchestratorVersion"),
            v(&p.current_orchestrator_version),
        ),
        (at("nodeImageVersion"), v(&p.node_image_version)),
        (at("availabilityZones"), v(&p.availability_zones)),
        (at("nodeLabels"), v(&p.node_labels)),
        (at("nodeTaints"), v(&p.node_taints)),
        (at("vnetSubnetID"), v(&p.vnet_subnet_id)),
    ]
}

fn agent_pool_fields(r: &AgentPool) -> Named {
    let mut n = common(&r.id, &r.name, &r.resource_type);
    n.extend(pool_fields(
        "/properties",
        &r.properties.clone().unwrap_or_default(),
    ));
    n
}

fn vault_fields(r: &Vault) -> Named {
    let mut n = common(&r.id, &r.name, &r.resource_type);
    n.push(("/location", v(&r.location)));
    n.push(("/tags", v(&r.tags)));
    n.push((
        "/systemData/createdAt",
        v(r.system_data.as_ref().map(|s| &s.created_at)),
    ));
    n.push((
        "/systemData/lastModifiedByType",
        v(r.system_data.as_ref().map(|s| &s.last_modified_by_type)),
    ));
    let p = r.properties.clone().unwrap_or_default();
    n.extend([
        ("/properties/tenantId", v(&p.tenant_id)),
        (
            "/properties/sku/family",
            v(p.sku.as_ref().map(|s| &s.family)),
        ),
        ("/properties/sku/name", v(p.sku.as_ref().map(|s| &s.name))),
        ("/properties/vaultUri", v(&p.vault_uri)),
        (
            "/properties/enableRbacAuthorization",
            v(p.enable_rbac_authorization),
        ),
        ("/properties/enableSoftDelete", v(p.enable_soft_delete)),
        (
            "/properties/softDeleteRetentionInDays",
            v(p.soft_delete_retention_in_days),
        ),
        (
            "/properties/enablePurgeProtection",
            v(p.enable_purge_protection),
        ),
        ("/properties/createMode", v(&p.create_mode)),
        (
            "/properties/publicNetworkAccess",
            v(&p.public_network_access),
        ),
        ("/properties/provisioningState", v(&p.provisioning_state)),
    ]);
    if let Some(acls) = &p.network_acls {
        n.extend([
            ("/properties/networkAcls/bypass", v(&acls.bypass)),
            (
                "/properties/networkAcls/defaultAction",
                v(&acls.default_action),
            ),
            (
                "/properties/networkAcls/ipRules/0/value",
                v(acls
                    .ip_rules
                    .as_ref()
                    .and_then(|r| r.first())
                    .map(|r| &r.value)),
            ),
            (
                "/properties/networkAcls/virtualNetworkRules/0/id",
                v(acls
                    .virtual_network_rules
                    .as_ref()
                    .and_then(|r| r.first())
                    .map(|r| &r.id)),
            ),
            (
                "/properties/networkAcls/virtualNetworkRules/0/ignoreMissingVnetServiceEndpoint",
                v(acls
                    .virtual_network_rules
                    .as_ref()
                    .and_then(|r| r.first())
                    .map(|r| r.ignore_missing_vnet_service_endpoint)),
            ),
        ]);
    }
    n
}

fn identity_fields(r: &UserAssignedIdentity) -> Named {
    let mut n = common(&r.id, &r.name, &r.resource_type);
    n.push(("/location", v(&r.location)));
    n.push(("/tags", v(&r.tags)));
    let p = r.properties.clone().unwrap_or_default();
    n.extend([
        ("/properties/tenantId", v(&p.tenant_id)),
        ("/properties/principalId", v(&p.principal_id)),
        ("/properties/clientId", v(&p.client_id)),
        ("/properties/isolationScope", v(&p.isolation_scope)),
    ]);
    n
}

fn fic_fields(r: &FederatedIdentityCredential) -> Named {
    let mut n = common(&r.id, &r.name, &r.resource_type);
    let p = r.properties.clone().unwrap_or_default();
    n.extend([
        ("/properties/issuer", v(&p.issuer)),
        ("/properties/subject", v(&p.subject)),
        ("/properties/audiences", v(&p.audiences)),
    ]);
    n
}

fn role_assignment_fields(r: &RoleAssignment) -> Named {
    let mut n = common(&r.id, &r.name, &r.resource_type);
    let p = r.properties.clone().unwrap_or_default();
    n.extend([
        ("/properties/roleDefinitionId", v(&p.role_definition_id)),
        ("/properties/principalId", v(&p.principal_id)),
        ("/properties/principalType", v(&p.principal_type)),
        ("/properties/scope", v(&p.scope)),
    ]);
    n
}

/// The JSON at `pointer`, where `*` stands for the first key of an object.
fn at_pointer(json: &Value, pointer: &str) -> Value {
    let mut cur = json;
    for part in pointer.split('/').skip(1) {
        let next = match (cur, part) {
            (Value::Object(m), "*") => m.values().next(),
            (Value::Object(m), key) => m.get(key),
            (Value::Array(a), index) => index.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return Value::Null,
        }
    }
    cur.clone()
}

fn check_one<T>(body: &Value, named: fn(&T) -> Named) -> Result<(), String>
where
    T: Serialize + DeserializeOwned + Debug,
{
    let typed: T =
        serde_json::from_value(body.clone()).map_err(|e| format!("does not read: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("does not write: {e}"))?;
    if &back != body {
        return Err(format!(
            "writes back different JSON\n original: {body}\n written:  {back}"
        ));
    }
    for (pointer, typed_value) in named(&typed) {
        let original = at_pointer(body, pointer);
        if original != typed_value {
            return Err(format!(
                "{pointer}: the example has {original}, the typed field holds {typed_value}"
            ));
        }
    }
    Ok(())
}

fn check_as<T>(body: &Value, list: bool, named: fn(&T) -> Named) -> Result<usize, String>
where
    T: Serialize + DeserializeOwned + Debug,
{
    if !list {
        check_one::<T>(body, named)?;
        return Ok(1);
    }
    // The page as a whole, then each item with its named fields.
    check_one::<ArmList<T>>(body, |_| Vec::new())?;
    let items = body
        .get("value")
        .and_then(Value::as_array)
        .ok_or("a list answer without `value`")?;
    for (i, item) in items.iter().enumerate() {
        check_one::<T>(item, named).map_err(|e| format!("value[{i}]: {e}"))?;
    }
    Ok(items.len())
}

/// An operation of a spec: method and path template.
#[derive(Debug, Clone)]
struct Operation {
    method: String,
    path: String,
}

/// Operations of every spec file in a provider's folder, by example file name and by
/// operationId.
#[derive(Default)]
struct OperationIndex {
    by_example: BTreeMap<String, Operation>,
    by_operation_id: BTreeMap<String, Operation>,
}

fn index_provider(provider: &Path) -> OperationIndex {
    let mut index = OperationIndex::default();
    for version in dirs(provider) {
        for spec in files(&version, "json") {
            let spec = read_json(&spec);
            let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
                continue;
            };
            for (path, ops) in paths {
                for (method, op) in ops.as_object().into_iter().flatten() {
                    let operation = Operation {
                        method: method.to_ascii_uppercase(),
                        path: path.clone(),
                    };
                    if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                        index
                            .by_operation_id
                            .insert(id.to_string(), operation.clone());
                    }
                    let examples = op.get("x-ms-examples").and_then(Value::as_object);
                    for example in examples.into_iter().flat_map(|e| e.values()) {
                        if let Some(file) = example
                            .get("$ref")
                            .and_then(Value::as_str)
                            .and_then(|r| r.rsplit('/').next())
                        {
                            index.by_example.insert(file.to_string(), operation.clone());
                        }
                    }
                }
            }
        }
    }
    index
}

/// The kind an operation's path names, and whether it answers a list.
fn classify(path: &str) -> Option<(Kind, bool)> {
    if path == "/{roleAssignmentId}" {
        return Some((Kind::RoleAssignment, false));
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let last = *segments.last()?;
    if last.starts_with('{') {
        let ty = segments
            .len()
            .checked_sub(2)
            .and_then(|i| segments.get(i))?;
        Kind::of_segment(ty).map(|k| (k, false))
    } else {
        Kind::of_segment(last).map(|k| (k, true))
    }
}

#[derive(Default)]
struct Tally {
    /// Resource bodies checked, by kind and by where they came from.
    checked: BTreeMap<Kind, BTreeMap<&'static str, usize>>,
    examples: BTreeMap<Kind, Vec<String>>,
    skipped: Vec<String>,
    failures: Vec<String>,
}

impl Tally {
    fn record(
        &mut self,
        kind: Kind,
        source: &'static str,
        example: &str,
        result: Result<usize, String>,
    ) {
        match result {
            Ok(n) => {
                *self
                    .checked
                    .entry(kind)
                    .or_default()
                    .entry(source)
                    .or_default() += n
            }
            Err(e) => self
                .failures
                .push(format!("{example} ({kind:?}, {source}): {e}")),
        }
    }
}

#[test]
fn every_spec_example_body_reads_into_its_type_and_writes_back_unchanged() {
    let root = specs_root();
    let mut tally = Tally::default();
    for provider in dirs(&root) {
        let index = index_provider(&provider);
        for version in dirs(&provider) {
            let examples_dir = version.join("examples");
            if !examples_dir.is_dir() {
                continue;
            }
            for path in files(&examples_dir, "json") {
                let file = path
                    .file_name()
                    .and_then(|f| f.to_str())
                    .unwrap_or_default()
                    .to_string();
                let label = path
                    .strip_prefix(&root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                let example = read_json(&path);
                let operation = index.by_example.get(&file).cloned().or_else(|| {
                    example
                        .get("operationId")
                        .and_then(Value::as_str)
                        .and_then(|id| index.by_operation_id.get(id).cloned())
                });
                let classified = match &operation {
                    Some(op) => classify(&op.path),
                    None => example
                        .pointer("/responses/200/body/type")
                        .and_then(Value::as_str)
                        .and_then(|t| {
                            KINDS
                                .into_iter()
                                .find(|k| k.resource_type().eq_ignore_ascii_case(t))
                        })
                        .map(|k| (k, false)),
                };
                let method = operation.as_ref().map_or("?", |o| o.method.as_str());
                let Some((kind, list)) = classified.filter(|_| method != "POST") else {
                    tally.skipped.push(format!(
                        "{label} ({method} {})",
                        operation
                            .as_ref()
                            .map_or("no operation", |o| o.path.as_str())
                    ));
                    continue;
                };
                tally
                    .examples
                    .entry(kind)
                    .or_default()
                    .push(format!("{label} ({method})"));
                // Request bodies: the example's object-valued parameters.
                for (name, value) in example
                    .get("parameters")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if value.is_object() {
                        let result = kind.check(value, false);
                        tally.record(
                            kind,
                            "request",
                            &format!("{label} parameters.{name}"),
                            result,
                        );
                    }
                }
                // Response bodies, of every status that has one.
                for (status, response) in example
                    .get("responses")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let Some(body) = response.get("body") else {
                        continue;
                    };
                    let source = if list { "list item" } else { "response" };
                    let result = kind.check(body, list);
                    tally.record(kind, source, &format!("{label} {status}"), result);
                }
            }
        }
    }

    println!(
        "spec examples checked, by type (resource bodies: requests / responses / list items):"
    );
    for kind in KINDS {
        let by_source = tally.checked.get(&kind).cloned().unwrap_or_default();
        let count = |s| by_source.get(s).copied().unwrap_or(0);
        println!(
            "  {:<30} {:>2} bodies ({} requests, {} responses, {} list items) from {}",
            kind.resource_type().rsplit('/').next().unwrap_or_default(),
            by_source.values().sum::<usize>(),
            count("request"),
            count("response"),
            count("list item"),
            tally
                .examples
                .get(&kind)
                .map(|e| e.join(", "))
                .unwrap_or_default()
        );
    }
    println!(
        "examples of other operations, not checked: {}",
        tally.skipped.len()
    );
    for s in &tally.skipped {
        println!("  {s}");
    }
    assert!(
        tally.failures.is_empty(),
        "{} example bodies do not round-trip:\n{}",
        tally.failures.len(),
        tally.failures.join("\n\n")
    );
    // Minimums, so a change in the walk or the specs cannot make this pass on nothing.
    for kind in KINDS {
        let by_source = tally.checked.get(&kind).cloned().unwrap_or_default();
        let requests = by_source.get("request").copied().unwrap_or(0);
        let responses = by_source.get("response").copied().unwrap_or(0);
        assert!(
            requests >= 1 && responses >= 2,
            "{kind:?}: only {requests} request and {responses} response bodies checked"
        );
    }
    let total: usize = tally.checked.values().flat_map(|m| m.values()).sum();
    assert!(total >= 28, "only {total} bodies checked");
}

/// The names of `names` that `T` does not read into a typed field (they land in `extra`),
/// given a body with each of them set to a value of the spec's type.
fn untyped<T: DeserializeOwned>(
    body: &Value,
    extra: fn(&T) -> &Extra,
) -> Result<Vec<String>, String> {
    let typed: T =
        serde_json::from_value(body.clone()).map_err(|e| format!("does not read: {e}"))?;
    Ok(extra(&typed).keys().cloned().collect())
}

/// A value of the type a spec property has (following local `$ref`s).
fn sample(spec: &Value, property: &Value) -> Value {
    let resolved = match property.get("$ref").and_then(Value::as_str) {
        Some(r) if r.starts_with("#/definitions/") => spec.pointer(&r[1..]).unwrap_or(property),
        _ => property,
    };
    match resolved.get("type").and_then(Value::as_str) {
        Some("string") => Value::from("x"),
        Some("boolean") => Value::from(true),
        Some("integer") => Value::from(1),
        Some("number") => Value::from(1.5),
        Some("array") => Value::Array(Vec::new()),
        _ => Value::Object(Default::default()),
    }
}

type Reader = fn(&Value) -> Result<Vec<String>, String>;

/// Every field name a type uses is in the spec's definition, and the type reads it into a
/// typed field. A misspelt rename would otherwise pass the round trip (the field would land in
/// `extra`) whenever no example sets it.
#[test]
fn every_field_name_the_types_use_is_in_the_spec_and_read_into_its_field() {
    use azop_arm::resources::*;
    let root = specs_root();
    const RG: &str = "Microsoft.Resources/2025-04-01/resources.json";
    const AKS: &str = "Microsoft.ContainerService/2026-05-01/managedClusters.json";
    const KV: &str = "Microsoft.KeyVault/2025-05-01/keyvault.json";
    const MI: &str = "Microsoft.ManagedIdentity/2024-11-30/ManagedIdentity.json";
    const RA: &str = "Microsoft.Authorization/2022-04-01/authorization-RoleAssignmentsCalls.json";
    let table: &[(&str, &str, &[&str], Reader)] = &[
        (
            RG,
            "ResourceGroup",
            &[
                "id",
                "name",
                "type",
                "location",
                "managedBy",
                "tags",
                "properties",
            ],
            |b| untyped::<ResourceGroup>(b, |t| &t.extra),
        ),
        (RG, "ResourceGroupProperties", &["provisioningState"], |b| {
            untyped::<ResourceGroupProperties>(b, |t| &t.extra)
        }),
        (
            AKS,
            "ManagedCluster",
            &[
                "id",
                "name",
                "type",
                "location",
                "tags",
                "eTag",
                "sku",
                "identity",
                "systemData",
                "properties",
            ],
            |b| untyped::<ManagedCluster>(b, |t| &t.extra),
        ),
        (AKS, "ManagedClusterSKU", &["name", "tier"], |b| {
            untyped::<ManagedClusterSku>(b, |t| &t.extra)
        }),
        (
            AKS,
            "ManagedClusterIdentity",
            &["type", "principalId", "tenantId", "userAssignedIdentities"],
            |b| untyped::<ManagedClusterIdentity>(b, |t| &t.extra),
        ),
        (
            AKS,
            "ManagedClusterProperties",
            &[
                "provisioningState",
                "powerState",
                "kubernetesVersion",
                "currentKubernetesVersion",
                "dnsPrefix",
                "fqdn",
                "privateFQDN",
                "nodeResourceGroup",
                "enableRBAC",
                "agentPoolProfiles",
                "networkProfile",
                "oidcIssuerProfile",
                "securityProfile",
                "identityProfile",
                "addonProfiles",
            ],
            |b| untyped::<ManagedClusterProperties>(b, |t| &t.extra),
        ),
        (AKS, "PowerState", &["code"], |b| {
            untyped::<PowerState>(b, |t| &t.extra)
        }),
        (
            AKS,
            "UserAssignedIdentity",
            &["resourceId", "clientId", "objectId"],
            |b| untyped::<UserAssignedIdentityReference>(b, |t| &t.extra),
        ),
        (
            AKS,
            "ContainerServiceNetworkProfile",
            &[
                "networkPlugin",
                "networkPluginMode",
                "networkPolicy",
                "networkDataplane",
                "podCidr",
                "serviceCidr",
                "dnsServiceIP",
                "outboundType",
                "loadBalancerSku",
                "podCidrs",
                "serviceCidrs",
                "ipFamilies",
            ],
            |b| untyped::<NetworkProfile>(b, |t| &t.extra),
        ),
        (
            AKS,
            "ManagedClusterOIDCIssuerProfile",
            &["enabled", "issuerURL"],
            |b| untyped::<OidcIssuerProfile>(b, |t| &t.extra),
        ),
        (
            AKS,
            "ManagedClusterSecurityProfile",
            &["workloadIdentity"],
            |b| untyped::<SecurityProfile>(b, |t| &t.extra),
        ),
        (
            AKS,
            "ManagedClusterSecurityProfileWorkloadIdentity",
            &["enabled"],
            |b| untyped::<WorkloadIdentityProfile>(b, |t| &t.extra),
        ),
        (
            AKS,
            "ManagedClusterAddonProfile",
            &["enabled", "config", "identity"],
            |b| untyped::<AddonProfile>(b, |t| &t.extra),
        ),
        (
            AKS,
            "ManagedClusterAgentPoolProfileProperties",
            &[
                "provisioningState",
                "powerState",
                "mode",
                "type",
                "vmSize",
                "count",
                "enableAutoScaling",
                "minCount",
                "maxCount",
                "maxPods",
                "osType",
                "osSKU",
                "osDiskSizeGB",
                "orchestratorVersion",
                "currentOrchestratorVersion",
                "nodeImageVersion",
                "availabilityZones",
                "nodeLabels",
                "nodeTaints",
                "vnetSubnetID",
            ],
            |b| untyped::<AgentPoolProperties>(b, |t| &t.extra),
        ),
        (
            AKS,
            "ManagedClusterAgentPoolProfile",
            &["name", "vmSize", "osSKU"],
            |b| untyped::<AgentPoolProfile>(b, |t| &t.properties.extra),
        ),
        (
            AKS,
            "AgentPool",
            &["id", "name", "type", "systemData", "properties"],
            |b| untyped::<AgentPool>(b, |t| &t.extra),
        ),
        (
            KV,
            "Vault",
            &[
                "id",
                "name",
                "type",
                "location",
                "tags",
                "systemData",
                "properties",
            ],
            |b| untyped::<Vault>(b, |t| &t.extra),
        ),
        (
            KV,
            "VaultProperties",
            &[
                "tenantId",
                "sku",
                "vaultUri",
                "enableRbacAuthorization",
                "enableSoftDelete",
                "softDeleteRetentionInDays",
                "enablePurgeProtection",
                "createMode",
                "publicNetworkAccess",
                "networkAcls",
                "provisioningState",
            ],
            |b| untyped::<VaultProperties>(b, |t| &t.extra),
        ),
        (KV, "Sku", &["family", "name"], |b| {
            untyped::<VaultSku>(b, |t| &t.extra)
        }),
        (
            KV,
            "NetworkRuleSet",
            &["bypass", "defaultAction", "ipRules", "virtualNetworkRules"],
            |b| untyped::<NetworkRuleSet>(b, |t| &t.extra),
        ),
        (KV, "IPRule", &["value"], |b| {
            untyped::<IpRule>(b, |t| &t.extra)
        }),
        (
            KV,
            "VirtualNetworkRule",
            &["id", "ignoreMissingVnetServiceEndpoint"],
            |b| untyped::<VirtualNetworkRule>(b, |t| &t.extra),
        ),
        (
            "Microsoft.KeyVault/2025-05-01/common.json",
            "SystemData",
            &[
                "createdBy",
                "createdByType",
                "createdAt",
                "lastModifiedBy",
                "lastModifiedByType",
                "lastModifiedAt",
            ],
            |b| untyped::<SystemData>(b, |t| &t.extra),
        ),
        (
            MI,
            "UserAssignedIdentityProperties",
            &["tenantId", "principalId", "clientId", "isolationScope"],
            |b| untyped::<UserAssignedIdentityProperties>(b, |t| &t.extra),
        ),
        (
            MI,
            "FederatedIdentityCredentialProperties",
            &["issuer", "subject", "audiences"],
            |b| untyped::<FederatedIdentityCredentialProperties>(b, |t| &t.extra),
        ),
        (
            RA,
            "RoleAssignment",
            &["id", "name", "type", "properties"],
            |b| untyped::<RoleAssignment>(b, |t| &t.extra),
        ),
        (
            RA,
            "RoleAssignmentProperties",
            &["roleDefinitionId", "principalId", "principalType", "scope"],
            |b| untyped::<RoleAssignmentProperties>(b, |t| &t.extra),
        ),
    ];
    let mut problems = Vec::new();
    for (file, definition, names, read) in table {
        let spec = read_json(&root.join(file));
        let def = spec
            .pointer(&format!("/definitions/{definition}"))
            .unwrap_or_else(|| panic!("{file} has no definition {definition}"));
        // The definition's properties and those of what it is `allOf`: a local `$ref`, or a
        // common-types base (not copied) whose properties are ARM's envelope.
        let mut known: BTreeMap<String, Value> = BTreeMap::new();
        let mut pending = vec![def.clone()];
        while let Some(d) = pending.pop() {
            for (k, p) in d
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                known.insert(k.clone(), sample(&spec, p));
            }
            for base in d
                .get("allOf")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match base.get("$ref").and_then(Value::as_str) {
                    Some(r) if r.starts_with("#/definitions/") => {
                        pending.extend(spec.pointer(&r[1..]).cloned());
                    }
                    Some(_) => {
                        for k in ["id", "name", "type", "location"] {
                            known.insert(k.into(), Value::from("x"));
                        }
                        for k in ["tags", "systemData"] {
                            known.insert(k.into(), Value::Object(Default::default()));
                        }
                    }
                    None => pending.push(base.clone()),
                }
            }
        }
        let mut body = serde_json::Map::new();
        for name in *names {
            match known.get(*name) {
                Some(value) => {
                    body.insert(name.to_string(), value.clone());
                }
                None => problems.push(format!("{file}: {definition} has no property {name}")),
            }
        }
        match read(&Value::Object(body)) {
            Ok(left) if left.is_empty() => {}
            Ok(left) => problems.push(format!(
                "{definition}: the type does not read {left:?} into its fields"
            )),
            Err(e) => problems.push(format!("{definition}: {e}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
