//! Azure Resource Manager semantics for the resource types azop manages.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// An ARM error: status and `{"error":{"code","message"}}`.
#[derive(Debug, Clone)]
pub struct ArmError {
    /// HTTP status.
    pub status: u16,
    /// ARM's error code.
    pub code: String,
    /// ARM's message.
    pub message: String,
    /// A resource provider's own error body, where it answers in a shape other than ARM's.
    rp_body: Option<Value>,
}

impl ArmError {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ArmError {
            status,
            code: code.to_string(),
            message: message.into(),
            rp_body: None,
        }
    }

    /// The body ARM sends (or the resource provider's own, where it answers itself).
    pub fn body(&self) -> Value {
        self.rp_body
            .clone()
            .unwrap_or_else(|| json!({"error": {"code": self.code, "message": self.message}}))
    }
}

/// What an answer carries besides its status and body.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body, if any.
    pub body: Option<Value>,
    /// Extra headers (Azure-AsyncOperation, Location, Retry-After, ETag).
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Answer {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    pub(crate) fn empty(status: u16) -> Self {
        Answer {
            status,
            body: None,
            headers: Vec::new(),
        }
    }
}

/// The resource types the emulator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Microsoft.Resources/resourceGroups
    ResourceGroup,
    /// Microsoft.ContainerService/managedClusters
    ManagedCluster,
    /// Microsoft.ContainerService/managedClusters/agentPools
    AgentPool,
    /// Microsoft.KeyVault/vaults
    Vault,
    /// Microsoft.ManagedIdentity/userAssignedIdentities
    Identity,
    /// .../federatedIdentityCredentials
    FederatedCredential,
    /// Microsoft.Authorization/roleAssignments
    RoleAssignment,
}

impl Kind {
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Kind::ResourceGroup => "Microsoft.Resources/resourceGroups",
            Kind::ManagedCluster => "Microsoft.ContainerService/managedClusters",
            Kind::AgentPool => "Microsoft.ContainerService/managedClusters/agentPools",
            Kind::Vault => "Microsoft.KeyVault/vaults",
            Kind::Identity => "Microsoft.ManagedIdentity/userAssignedIdentities",
            Kind::FederatedCredential => {
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
            }
            Kind::RoleAssignment => "Microsoft.Authorization/roleAssignments",
        }
    }

    /// Whether a create runs as a long-running operation.
    fn slow(self) -> bool {
        matches!(self, Kind::ManagedCluster | Kind::AgentPool)
    }
}

/// A parsed request path.
#[derive(Debug, Clone)]
pub struct Target {
    /// The id as the caller wrote it (no trailing slash, no query).
    pub id: String,
    /// The subscription.
    pub subscription: String,
    /// The resource group, when the id is in one.
    pub resource_group: Option<String>,
    /// The kind.
    pub kind: Kind,
    /// The last segment.
    pub name: String,
    /// The parent's id (for child resources).
    pub parent: Option<String>,
}

/// Recognises the ARM ids the emulator serves.
pub fn parse(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    if lower.len() < 2 || lower[0] != "subscriptions" {
        return None;
    }
    let id = format!("/{}", segs.join("/"));
    let subscription = segs[1].to_string();
    // Extension resource: {scope}/providers/Microsoft.Authorization/roleAssignments/{name}
    let n = lower.len();
    if n >= 4
        && lower[n - 4] == "providers"
        && lower[n - 3] == "microsoft.authorization"
        && lower[n - 2] == "roleassignments"
    {
        let scope = format!("/{}", segs[..n - 4].join("/"));
        let resource_group =
            (lower.len() > 3 && lower[2] == "resourcegroups").then(|| segs[3].to_string());
        return Some(Target {
            id,
            subscription,
            resource_group,
            kind: Kind::RoleAssignment,
            name: segs[n - 1].to_string(),
            parent: Some(scope),
        });
    }
    if n == 4 && lower[2] == "resourcegroups" {
        return Some(Target {
            id,
            subscription,
            resource_group: Some(segs[3].to_string()),
            kind: Kind::ResourceGroup,
            name: segs[3].to_string(),
            parent: None,
        });
    }
    if n >= 8 && lower[2] == "resourcegroups" && lower[4] == "providers" {
        let rg = Some(segs[3].to_string());
        let base = format!("/{}", segs[..8].join("/"));
        let kind = match (lower[5].as_str(), lower[6].as_str(), n) {
            ("microsoft.containerservice", "managedclusters", 8) => Kind::ManagedCluster,
            ("microsoft.containerservice", "managedclusters", 10) if lower[8] == "agentpools" => {
                Kind::AgentPool
            }
            ("microsoft.keyvault", "vaults", 8) => Kind::Vault,
            ("microsoft.managedidentity", "userassignedidentities", 8) => Kind::Identity,
            ("microsoft.managedidentity", "userassignedidentities", 10)
                if lower[8] == "federatedidentitycredentials" =>
            {
                Kind::FederatedCredential
            }
            _ => return None,
        };
        let parent = (n == 10).then_some(base);
        return Some(Target {
            id,
            subscription,
            resource_group: rg,
            kind,
            name: segs[n - 1].to_string(),
            parent,
        });
    }
    None
}

/// A stored resource.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The body as GET answers it.
    pub body: Value,
    /// Its kind.
    pub kind: Kind,
    /// When a running operation on it ends.
    pub busy_until: Option<Instant>,
    /// When it was created (principals replicate for a while).
    pub created: Instant,
}

/// A long-running operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Resource it works on (lower-cased id).
    pub resource: String,
    /// When it ends.
    pub done_at: Instant,
    /// When it started.
    pub started: String,
    /// Whether it deletes.
    pub delete: bool,
    /// Whether its end has been applied; an ended operation is applied once, so a resource
    /// created again under the same id survives, and settling costs nothing per old operation.
    pub settled: bool,
    /// The error code it ends with, when it fails (a fault injected by the test).
    pub fails_with: Option<String>,
}

/// The state of the emulated Azure.
#[derive(Default)]
pub struct Arm {
    /// Resources by lower-cased id.
    pub resources: BTreeMap<String, Stored>,
    /// Operations by id.
    pub operations: HashMap<String, Operation>,
    /// Soft-deleted vaults by lower-cased name: (subscription, location, last body).
    pub deleted_vaults: HashMap<String, (String, String, Value)>,
    /// Principals (identity principalIds and kubelet identities) and when they were created.
    pub principals: HashMap<String, Instant>,
    /// The vaults' secrets (their data plane). They outlive a soft delete, so a recovered vault
    /// has them back, and go when the vault is purged or removed with its group.
    pub secrets: crate::keyvault::Secrets,
    /// How many times each cluster's certificates were rotated (lower-cased id): its
    /// credentials change with each rotation, and only then.
    pub certificate_rotations: HashMap<String, u32>,
}

/// The object id ARM records as creator of what the emulator's callers create (any bearer token
/// is accepted, so there is no caller to name).
const EMULATOR_CALLER: &str = "5e3b1c52-0c39-4bd6-9b7d-e3d0d4f2a5a1";

/// Removes null-valued fields, recursively.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|_, x| !x.is_null());
            o.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Sets each field of `defaults` that `target` lacks.
fn fill(target: &mut Value, defaults: Value) {
    if let (Some(t), Value::Object(d)) = (target.as_object_mut(), defaults) {
        for (k, v) in d {
            t.entry(k).or_insert(v);
        }
    }
}

fn now_text() -> String {
    jiff::Timestamp::now().to_string()
}

fn system_data(existing: Option<&Value>) -> Value {
    let created = existing
        .and_then(|e| e.pointer("/systemData/createdAt").cloned())
        .unwrap_or_else(|| json!(now_text()));
    json!({"createdBy": "azop-emulator", "createdByType": "Application", "createdAt": created,
           "lastModifiedBy": "azop-emulator", "lastModifiedByType": "Application", "lastModifiedAt": now_text()})
}

/// A role definition body, if the GUID is a built-in role the emulator knows.
pub fn role_definition(scope: &str, guid: &str) -> Option<Value> {
    let role = crate::rbac::built_in(guid)?;
    let (g, name) = (role.guid, role.name);
    Some(json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/{g}"),
        "name": g, "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {"roleName": name, "type": "BuiltInRole", "description": format!("{name} (emulated)"),
            "assignableScopes": ["/"], "permissions": [crate::rbac::permissions(g)]}
    }))
}

/// What a role assignment PUT stores besides the caller's fields: its scope, the role as a
/// tenant-level id, timestamps and the fields Azure always returns (recorded).
fn finish_role_assignment(
    body: &mut Value,
    scope: &str,
    role_guid: &str,
    existing: Option<&Value>,
) {
    body["properties"]["scope"] = json!(scope);
    if body.pointer("/properties/principalType").is_none() {
        body["properties"]["principalType"] = json!("ServicePrincipal");
    }
    body["properties"]["roleDefinitionId"] = json!(format!(
        "/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"
    ));
    let created_on = existing
        .and_then(|e| e.pointer("/properties/createdOn").cloned())
        .unwrap_or_else(|| json!(now_text()));
    body["properties"]["createdOn"] = created_on;
    body["properties"]["updatedOn"] = json!(now_text());
    // Fields Azure always returns, null when unset (recorded).
    fill(
        &mut body["properties"],
        json!({"condition": null, "conditionVersion": null, "description": null,
            "delegatedManagedIdentityResourceId": null,
            "createdBy": EMULATOR_CALLER, "updatedBy": EMULATOR_CALLER}),
    );
    if let Some(o) = body.as_object_mut() {
        o.remove("etag");
    }
}

fn require<'a>(body: &'a Value, pointer: &str, what: &str) -> Result<&'a Value, ArmError> {
    body.pointer(pointer)
        .filter(|v| !v.is_null())
        .ok_or_else(|| {
            ArmError::new(
                400,
                "InvalidParameter",
                format!("The parameter '{what}' is required but was not provided."),
            )
        })
}

fn name_matches(name: &str, min: usize, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    (min..=max).contains(&name.chars().count()) && name.chars().all(allowed)
}

impl Arm {
    fn exists(&self, id: &str) -> bool {
        self.resources.contains_key(&id.to_ascii_lowercase())
    }

    fn group_id(t: &Target) -> Option<String> {
        t.resource_group
            .as_ref()
            .map(|rg| format!("/subscriptions/{}/resourceGroups/{rg}", t.subscription))
    }

    fn check_parents(&self, t: &Target) -> Result<(), ArmError> {
        if t.kind != Kind::ResourceGroup
            && let Some(g) = Self::group_id(t)
            && !self.exists(&g)
        {
            return Err(ArmError::new(
                404,
                "ResourceGroupNotFound",
                format!(
                    "Resource group '{}' could not be found.",
                    t.resource_group.clone().unwrap_or_default()
                ),
            ));
        }
        if let Some(p) = &t.parent
            && t.kind != Kind::RoleAssignment
            && !self.exists(p)
        {
            return Err(ArmError::new(
                404,
                "ParentResourceNotFound",
                format!(
                    "Can not perform requested operation on nested resource. Parent resource '{p}' not found."
                ),
            ));
        }
        Ok(())
    }

    /// Advances time-based state: finished operations make their resources Succeeded or gone.
    pub fn settle(&mut self) {
        let now = Instant::now();
        let mut done = Vec::new();
        for op in self.operations.values_mut() {
            if !op.settled && op.done_at <= now {
                op.settled = true;
                done.push(op.clone());
            }
        }
        for op in done {
            if op.resource.contains("/agentpools/") {
                self.settle_pool(&op.resource, op.delete, op.fails_with.is_some());
            } else if op.fails_with.is_some() {
                // A failed operation leaves the resource as it got: Failed, and kept (a failed
                // delete too).
                if let Some(r) = self.resources.get_mut(&op.resource) {
                    r.busy_until = None;
                    r.body["properties"]["provisioningState"] = json!("Failed");
                }
            } else if op.delete {
                self.remove_tree(&op.resource);
            } else if let Some(r) = self.resources.get_mut(&op.resource)
                && r.busy_until.is_some_and(|t| t <= now)
            {
                r.busy_until = None;
                r.body["properties"]["provisioningState"] = json!("Succeeded");
                if let Some(pools) = r
                    .body
                    .pointer_mut("/properties/agentPoolProfiles")
                    .and_then(Value::as_array_mut)
                {
                    for p in pools {
                        p["provisioningState"] = json!("Succeeded");
                    }
                }
            }
        }
    }

    /// Removes a resource and everything under it.
    fn remove_tree(&mut self, lower_id: &str) {
        let prefix = format!("{lower_id}/");
        let doomed: Vec<String> = self
            .resources
            .keys()
            .filter(|k| *k == lower_id || k.starts_with(&prefix))
            .cloned()
            .collect();
        for k in doomed {
            // A vault's secrets go with it unless it was soft-deleted (recovery brings them back).
            if let Some(r) = self.resources.remove(&k)
                && r.kind == Kind::Vault
                && let Some(name) = r.body["name"].as_str()
                && !self.deleted_vaults.contains_key(&name.to_ascii_lowercase())
            {
                self.secrets.forget_vault(name);
            }
        }
    }

    /// GET.
    pub fn get(&mut self, t: &Target) -> Result<Answer, ArmError> {
        self.settle();
        if t.kind == Kind::AgentPool
            && let Some(pool) = self.pool(&t.id.to_ascii_lowercase())
        {
            return Ok(Answer::json(200, pool));
        }
        if let Some(r) = self.resources.get(&t.id.to_ascii_lowercase()) {
            let etag = r
                .body
                .get("etag")
                .and_then(Value::as_str)
                .map(str::to_string);
            let mut a = Answer::json(200, r.body.clone());
            if let Some(e) = etag {
                a.headers.push(("ETag".into(), e));
            }
            return Ok(a);
        }
        self.check_parents(t)?;
        if t.kind == Kind::AgentPool {
            // AKS answers for its nested agent pools itself, in its own error shape (recorded).
            let cluster = t
                .parent
                .as_deref()
                .and_then(|p| p.rsplit('/').next())
                .unwrap_or_default();
            let message = format!(
                "Could not find the agentpool: {} in subscription: {}, resourceGroup: {}, resourceName: {cluster}.",
                t.name,
                t.subscription,
                t.resource_group.clone().unwrap_or_default()
            );
            let mut e = ArmError::new(404, "NotFound", message.clone());
            e.rp_body = Some(json!({"code": "NotFound", "message": message,
                "subcode": "GetAgentPool_NotFound_HCPServerError",
                "details": [{"code": "Unspecified", "message": "rpc error: code = NotFound desc = Agent Pool not found"}]}));
            return Err(e);
        }
        let (code, message) = match t.kind {
            Kind::ResourceGroup => (
                "ResourceGroupNotFound",
                format!("Resource group '{}' could not be found.", t.name),
            ),
            Kind::RoleAssignment => (
                "RoleAssignmentNotFound",
                format!("The role assignment '{}' is not found.", t.name),
            ),
            Kind::FederatedCredential => {
                ("NotFound", format!("Resource '{}' does not exist.", t.id))
            }
            _ => (
                "ResourceNotFound",
                format!(
                    "The Resource '{}/{}' under resource group '{}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
                    t.kind.type_name(),
                    t.name,
                    t.resource_group.clone().unwrap_or_default()
                ),
            ),
        };
        Err(ArmError::new(404, code, message))
    }

    /// `GET /subscriptions/{s}/resourceGroups/{g}/resources`: the group's top-level resources
    /// (child and extension resources are not listed, as in ARM), each with ARM's generic
    /// fields. 404 `ResourceGroupNotFound` for a group that does not exist.
    pub fn list_group_resources(
        &mut self,
        subscription: &str,
        group: &str,
    ) -> Result<Value, ArmError> {
        self.settle();
        let group_id = format!("/subscriptions/{subscription}/resourceGroups/{group}");
        if !self.resources.contains_key(&group_id.to_ascii_lowercase()) {
            return Err(ArmError::new(
                404,
                "ResourceGroupNotFound",
                format!("Resource group '{group}' could not be found."),
            ));
        }
        let prefix = format!("{}/providers/", group_id.to_ascii_lowercase());
        let items: Vec<Value> = self
            .resources
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(&prefix)
                    .is_some_and(|rest| rest.split('/').count() == 3)
            })
            .map(|(_, r)| {
                let mut item = serde_json::Map::new();
                for key in [
                    "id", "name", "type", "location", "tags", "kind", "sku", "identity",
                ] {
                    if let Some(v) = r.body.get(key) {
                        item.insert(key.to_string(), v.clone());
                    }
                }
                Value::Object(item)
            })
            .collect();
        Ok(json!({"value": items}))
    }

    /// GET of a child collection (`.../federatedIdentityCredentials`, `.../agentPools`).
    pub fn list_children(&mut self, parent: &str, child_type: &str) -> Value {
        self.settle();
        if child_type.eq_ignore_ascii_case("agentPools") {
            return self.list_pools(parent);
        }
        let prefix = format!(
            "{}/{}/",
            parent.to_ascii_lowercase(),
            child_type.to_ascii_lowercase()
        );
        let items: Vec<Value> = self
            .resources
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
            .map(|(_, r)| r.body.clone())
            .collect();
        json!({"value": items})
    }

    /// Stores a role assignment as a PUT would have, without a PUT's checks (the caller's own
    /// rights, the scope existing, principal replication): how tests and `azop dev` bootstrap
    /// the first rights when authorization is enforced. `role` is a GUID or a role definition
    /// id. An assignment of the same role to the same principal at the same scope is kept, and
    /// its id returned; otherwise the new one is named by a v5 UUID of scope, principal and role,
    /// so granting again is idempotent.
    pub fn grant(&mut self, principal: &str, role: &str, scope: &str) -> String {
        let role_guid = role
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let scope = scope.trim_end_matches('/');
        let existing = self.resources.values().find(|r| {
            let p = |f: &str| {
                r.body
                    .pointer(&format!("/properties/{f}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            };
            r.kind == Kind::RoleAssignment
                && p("principalId").eq_ignore_ascii_case(principal)
                && p("scope").trim_end_matches('/').eq_ignore_ascii_case(scope)
                && p("roleDefinitionId")
                    .rsplit('/')
                    .next()
                    .is_some_and(|g| g.eq_ignore_ascii_case(&role_guid))
        });
        if let Some(id) = existing.and_then(|r| r.body["id"].as_str()) {
            return id.to_string();
        }
        let name = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("{scope}|{principal}|{role_guid}")
                .to_ascii_lowercase()
                .as_bytes(),
        )
        .to_string();
        let id = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}");
        let mut body = json!({
            "id": id, "name": name, "type": Kind::RoleAssignment.type_name(),
            "systemData": system_data(None),
            "properties": {"principalId": principal, "principalType": "ServicePrincipal",
                "description": "emulator bootstrap"},
        });
        // The root scope is written `/`, as Azure does.
        let scope = if scope.is_empty() { "/" } else { scope };
        finish_role_assignment(&mut body, scope, &role_guid, None);
        self.resources.insert(
            id.to_ascii_lowercase(),
            Stored {
                body,
                kind: Kind::RoleAssignment,
                busy_until: None,
                created: Instant::now(),
            },
        );
        id
    }

    /// PUT.
    pub fn put(
        &mut self,
        t: &Target,
        mut body: Value,
        headers: &HashMap<String, String>,
        cfg: &crate::Config,
        base: &str,
    ) -> Result<Answer, ArmError> {
        self.settle();
        if !body.is_object() {
            return Err(ArmError::new(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized.",
            ));
        }
        self.check_parents(t)?;
        if matches!(t.kind, Kind::ManagedCluster | Kind::AgentPool) {
            // AKS treats an explicit null as "not set" (clients serialise unset fields as null).
            drop_nulls(&mut body);
        }
        if t.kind == Kind::AgentPool {
            return self.put_pool(t, body, cfg, base);
        }
        let lower = t.id.to_ascii_lowercase();
        let existing = self.resources.get(&lower).cloned();
        if let Some(m) = headers.get("if-match") {
            let etag = existing.as_ref().and_then(|e| {
                e.body
                    .get("etag")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            if existing.is_none() || (m != "*" && etag.as_deref() != Some(m.as_str())) {
                return Err(ArmError::new(
                    412,
                    "PreconditionFailed",
                    "The condition specified using HTTP conditional header(s) is not met.",
                ));
            }
        }
        if headers.get("if-none-match").is_some_and(|m| m == "*") && existing.is_some() {
            return Err(ArmError::new(
                412,
                "PreconditionFailed",
                "The condition specified using HTTP conditional header(s) is not met.",
            ));
        }
        if let Some(e) = &existing
            && e.busy_until.is_some()
            && t.kind == Kind::ManagedCluster
        {
            return Err(ArmError::new(
                409,
                "OperationNotAllowed",
                format!(
                    "Operation is not allowed because there's an in progress create managed cluster operation which will be completed soon. Please retry later. Resource: {}",
                    t.id
                ),
            ));
        }
        if t.kind == Kind::ManagedCluster
            && let Some(pools) = body
                .pointer_mut("/properties/agentPoolProfiles")
                .and_then(Value::as_array_mut)
            && !pools
                .iter()
                .any(|p| p.get("mode").and_then(Value::as_str) == Some("System"))
            && let Some(first) = pools.iter_mut().find(|p| p.get("mode").is_none())
        {
            // AKS makes the first pool without a mode the System pool.
            first["mode"] = json!("System");
        }
        if t.kind == Kind::ManagedCluster
            && let Some(e) = &existing
        {
            if body.pointer("/properties/kubernetesVersion").is_none()
                && let Some(v) = e.body.pointer("/properties/kubernetesVersion")
            {
                body["properties"]["kubernetesVersion"] = v.clone();
            }
            self.merge_cluster_pools(&e.body, &mut body)?;
        }
        self.validate(t, &body, existing.as_ref(), cfg)?;
        let props = body
            .as_object_mut()
            .and_then(|b| b.get_mut("properties"))
            .and_then(Value::as_object_mut)
            .map(|_| ());
        if props.is_none() && t.kind != Kind::ResourceGroup && t.kind != Kind::Identity {
            body["properties"] = json!({});
        }
        let canonical_id = existing
            .as_ref()
            .and_then(|e| e.body.get("id").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| t.id.clone());
        body["id"] = json!(canonical_id);
        body["name"] = json!(t.name);
        body["type"] = json!(t.kind.type_name());
        body["systemData"] = system_data(existing.as_ref().map(|e| &e.body));
        body["etag"] = json!(format!("\"{}\"", uuid::Uuid::new_v4().simple()));
        if matches!(
            t.kind,
            Kind::ResourceGroup | Kind::Vault | Kind::Identity | Kind::ManagedCluster
        ) && body.get("tags").is_none()
        {
            body["tags"] = json!({});
        }
        let mut answer_headers = Vec::new();
        let mut busy_until = None;
        // A recovered vault is not a new resource: Key Vault answers 200 (recorded).
        let mut recovered = false;
        let mut created = existing
            .as_ref()
            .map(|e| e.created)
            .unwrap_or_else(Instant::now);
        match t.kind {
            Kind::ResourceGroup => {
                body["properties"] = json!({"provisioningState": "Succeeded"});
                if let Some(e) = &existing {
                    body["location"] = e.body["location"].clone();
                }
            }
            Kind::Identity => {
                let keep = |k: &str| {
                    existing
                        .as_ref()
                        .and_then(|e| e.body.pointer(&format!("/properties/{k}")).cloned())
                };
                let principal =
                    keep("principalId").unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
                body["properties"] = json!({
                    "tenantId": keep("tenantId").unwrap_or_else(|| json!(cfg.tenant_id)),
                    "principalId": principal,
                    "clientId": keep("clientId").unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string())),
                    "isolationScope": "None",
                });
                if existing.is_none()
                    && let Some(p) = principal.as_str()
                {
                    self.principals
                        .insert(p.to_ascii_lowercase(), Instant::now());
                }
                if existing.is_none() {
                    answer_headers.push(("Location".to_string(), canonical_id.clone()));
                }
            }
            Kind::FederatedCredential => {
                if existing.is_none() {
                    answer_headers.push(("Location".to_string(), canonical_id.clone()));
                }
            }
            Kind::Vault => {
                let name = t.name.to_ascii_lowercase();
                let recover = body
                    .pointer("/properties/createMode")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m.eq_ignore_ascii_case("recover"));
                if existing.is_none() {
                    if let Some((sub, _, _)) = self.deleted_vaults.get(&name) {
                        if recover && sub.eq_ignore_ascii_case(&t.subscription) {
                            self.deleted_vaults.remove(&name);
                            recovered = true;
                        } else {
                            return Err(ArmError::new(
                                409,
                                "ConflictError",
                                format!(
                                    "A vault with the same name already exists in deleted state. You need to either recover or purge existing key vault. Vault name: {}",
                                    t.name
                                ),
                            ));
                        }
                    } else if recover {
                        return Err(ArmError::new(
                            400,
                            "BadRequest",
                            format!(
                                "Vault '{}' cannot be recovered: no deleted vault of that name exists.",
                                t.name
                            ),
                        ));
                    }
                    let taken = self.resources.values().any(|r| {
                        r.kind == Kind::Vault
                            && r.body["name"]
                                .as_str()
                                .is_some_and(|n| n.eq_ignore_ascii_case(&t.name))
                    });
                    if taken {
                        return Err(ArmError::new(
                            409,
                            "VaultAlreadyExists",
                            format!(
                                "The vault name '{}' is already in use. Vault names are globally unique so it is possible that the name is already taken.",
                                t.name
                            ),
                        ));
                    }
                }
                if let Some(p) = body["properties"].as_object_mut() {
                    p.remove("createMode");
                }
                body["properties"]["vaultUri"] = json!(format!("{base}/keyvault/{}/", t.name));
                body["properties"]["provisioningState"] = json!("Succeeded");
                for (k, v) in [
                    ("enableSoftDelete", json!(true)),
                    ("softDeleteRetentionInDays", json!(90)),
                    ("enableRbacAuthorization", json!(false)),
                    ("publicNetworkAccess", json!("Enabled")),
                    ("accessPolicies", json!([])),
                    ("enabledForDeployment", json!(false)),
                    ("enabledForDiskEncryption", json!(false)),
                    ("enabledForTemplateDeployment", json!(false)),
                    ("hsmPoolResourceId", Value::Null),
                ] {
                    if body["properties"].get(k).is_none() {
                        body["properties"][k] = v;
                    }
                }
            }
            Kind::ManagedCluster => {
                let loc = body["location"]
                    .as_str()
                    .unwrap_or("westeurope")
                    .to_string();
                let dns = body
                    .pointer("/properties/dnsPrefix")
                    .and_then(Value::as_str)
                    .unwrap_or("aks")
                    .to_string();
                let keep = |p: &str| existing.as_ref().and_then(|e| e.body.pointer(p).cloned());
                let suffix = keep("/properties/fqdn")
                    .and_then(|f| f.as_str().map(str::to_string))
                    .unwrap_or_else(|| {
                        format!(
                            "{dns}-{}.hcp.{loc}.azmk8s.io",
                            &uuid::Uuid::new_v4().simple().to_string()[..8]
                        )
                    });
                body["properties"]["fqdn"] = json!(suffix);
                let version = body
                    .pointer("/properties/kubernetesVersion")
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                    .unwrap_or("1.33")
                    .to_string();
                let current = if version.matches('.').count() == 1 {
                    format!("{version}.2")
                } else {
                    version.clone()
                };
                body["properties"]["kubernetesVersion"] = json!(version);
                body["properties"]["currentKubernetesVersion"] = json!(current);
                body["properties"]["powerState"] = json!({"code": "Running"});
                body["properties"]["azurePortalFQDN"] =
                    json!(format!("{}-portal.portal.hcp.{loc}.azmk8s.io", dns));
                body["properties"]["maxAgentPools"] = json!(100);
                if body.pointer("/properties/enableRBAC").is_none() {
                    body["properties"]["enableRBAC"] = json!(true);
                }
                if body.pointer("/properties/networkProfile").is_none() {
                    body["properties"]["networkProfile"] = json!({"networkPlugin": "azure", "networkPluginMode": "overlay", "outboundType": "loadBalancer", "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10"});
                }
                // What AKS fills in on every cluster it answers for (recorded).
                let lb = keep("/properties/networkProfile/loadBalancerProfile").unwrap_or_else(|| {
                    json!({"managedOutboundIPs": {"count": 1}, "backendPoolType": "nodeIPConfiguration",
                        "effectiveOutboundIPs": [{"id": format!(
                            "/subscriptions/{}/resourceGroups/MC_{}_{}_{loc}/providers/Microsoft.Network/publicIPAddresses/{}",
                            t.subscription, t.resource_group.clone().unwrap_or_default(), t.name, uuid::Uuid::new_v4()
                        )}]})
                });
                let network = &mut body["properties"]["networkProfile"];
                let mut cidrs = json!({"podCidrs": network.get("podCidr").map(|c| json!([c])),
                    "serviceCidrs": network.get("serviceCidr").map(|c| json!([c]))});
                drop_nulls(&mut cidrs);
                fill(
                    network,
                    json!({"networkPolicy": "none", "networkDataplane": "azure",
                    "loadBalancerSku": "standard", "ipFamilies": ["IPv4"]}),
                );
                fill(network, cidrs);
                // Egress: the load balancer's outbound IPs, or the NAT gateway AKS manages
                // (its defaults: one IP, 4 minutes), or nothing AKS makes.
                match network.get("outboundType").and_then(Value::as_str) {
                    None | Some("loadBalancer") => {
                        fill(network, json!({"loadBalancerProfile": lb}))
                    }
                    Some("managedNATGateway") => {
                        let ips = keep("/properties/networkProfile/natGatewayProfile/effectiveOutboundIPs")
                            .unwrap_or_else(|| json!([{"id": format!(
                                "/subscriptions/{}/resourceGroups/MC_{}_{}_{loc}/providers/Microsoft.Network/publicIPAddresses/{}",
                                t.subscription, t.resource_group.clone().unwrap_or_default(), t.name, uuid::Uuid::new_v4()
                            )}]));
                        fill(network, json!({"natGatewayProfile": {}}));
                        fill(
                            &mut network["natGatewayProfile"],
                            json!({"managedOutboundIPProfile": {"count": 1}, "idleTimeoutInMinutes": 4}),
                        );
                        network["natGatewayProfile"]["effectiveOutboundIPs"] = ips;
                    }
                    Some(_) => {}
                }
                let uid = keep("/properties/resourceUID")
                    .unwrap_or_else(|| json!(&uuid::Uuid::new_v4().simple().to_string()[..24]));
                fill(
                    &mut body["properties"],
                    json!({
                        "servicePrincipalProfile": {"clientId": "msi"},
                        "supportPlan": "KubernetesOfficial",
                        "addonProfiles": {},
                        "autoUpgradeProfile": {"nodeOSUpgradeChannel": "NodeImage"},
                        "securityProfile": {},
                        "storageProfile": {"diskCSIDriver": {"enabled": true}, "fileCSIDriver": {"enabled": true}, "snapshotController": {"enabled": true}},
                        "oidcIssuerProfile": {"enabled": false},
                        "workloadAutoScalerProfile": {},
                        "metricsProfile": {"costAnalysis": {"enabled": false}},
                        "nodeProvisioningProfile": {"mode": "Manual", "defaultNodePools": "Auto"},
                        "bootstrapProfile": {"artifactSource": "Direct"},
                        "resourceUID": uid,
                    }),
                );
                fill(
                    &mut body,
                    json!({"kind": "Base", "sku": {"name": "Base", "tier": "Free"}}),
                );
                // What a cluster does not have comes back empty or null, not as the `false` it
                // was sent (recorded: `"securityProfile": {}`, `"disableLocalAccounts": null`,
                // `"aadProfile": null` for a cluster without them).
                let props = &mut body["properties"];
                if props.pointer("/securityProfile/workloadIdentity/enabled") == Some(&json!(false))
                    && let Some(security) = props["securityProfile"].as_object_mut()
                {
                    security.remove("workloadIdentity");
                }
                if props
                    .get("disableLocalAccounts")
                    .is_none_or(|v| v == &json!(false))
                {
                    props["disableLocalAccounts"] = Value::Null;
                }
                if props.get("aadProfile").is_none() {
                    props["aadProfile"] = Value::Null;
                }
                body["eTag"] = json!(uuid::Uuid::new_v4().simple().to_string());
                // Defender off comes back as nothing at all (a cluster without it answers
                // `"securityProfile": {}`, recorded).
                if body.pointer("/properties/securityProfile/defender/securityMonitoring/enabled")
                    == Some(&json!(false))
                    && let Some(security) = body["properties"]["securityProfile"].as_object_mut()
                {
                    security.remove("defender");
                }
                let node_group = keep("/properties/nodeResourceGroup")
                    .or_else(|| body.pointer("/properties/nodeResourceGroup").cloned())
                    .unwrap_or_else(|| {
                        json!(format!(
                            "MC_{}_{}_{loc}",
                            t.resource_group.clone().unwrap_or_default(),
                            t.name
                        ))
                    });
                body["properties"]["nodeResourceGroup"] = node_group;
                if body.pointer("/properties/apiServerAccessProfile/enablePrivateCluster")
                    == Some(&json!(true))
                {
                    fill(
                        &mut body["properties"]["apiServerAccessProfile"],
                        json!({"privateDNSZone": "system", "enablePrivateClusterPublicFQDN": false}),
                    );
                    let private = keep("/properties/privateFQDN").unwrap_or_else(|| {
                        json!(format!(
                            "{dns}-{}.{}.privatelink.{loc}.azmk8s.io",
                            &uuid::Uuid::new_v4().simple().to_string()[..8],
                            &uuid::Uuid::new_v4().simple().to_string()[..8]
                        ))
                    });
                    body["properties"]["privateFQDN"] = private;
                }
                let oidc = body
                    .pointer("/properties/oidcIssuerProfile/enabled")
                    .and_then(Value::as_bool)
                    == Some(true);
                if oidc {
                    let url =
                        keep("/properties/oidcIssuerProfile/issuerURL").unwrap_or_else(|| {
                            json!(format!(
                                "https://{loc}.oic.prod-aks.azure.com/{}/{}/",
                                cfg.tenant_id,
                                uuid::Uuid::new_v4()
                            ))
                        });
                    body["properties"]["oidcIssuerProfile"]["issuerURL"] = url;
                }
                let kubelet = keep("/properties/identityProfile/kubeletidentity").unwrap_or_else(|| {
                    let object_id = uuid::Uuid::new_v4().to_string();
                    self.principals.insert(object_id.clone(), Instant::now());
                    json!({"resourceId": format!("/subscriptions/{}/resourcegroups/MC_{}_{}_{loc}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}-agentpool", t.subscription, t.resource_group.clone().unwrap_or_default(), t.name, t.name),
                           "clientId": uuid::Uuid::new_v4().to_string(), "objectId": object_id})
                });
                body["properties"]["identityProfile"] = json!({"kubeletidentity": kubelet});
                if body.pointer("/identity/type").and_then(Value::as_str) == Some("SystemAssigned")
                {
                    body["identity"]["principalId"] = keep("/identity/principalId")
                        .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
                    body["identity"]["tenantId"] = json!(cfg.tenant_id);
                }
                let state = if existing.is_some() {
                    "Updating"
                } else {
                    "Creating"
                };
                body["properties"]["provisioningState"] = json!(state);
                let max_pods = default_max_pods(&body);
                if let Some(pools) = body
                    .pointer_mut("/properties/agentPoolProfiles")
                    .and_then(Value::as_array_mut)
                {
                    for p in pools {
                        p["provisioningState"] = json!(state);
                        pool_defaults(p, &current, max_pods);
                    }
                }
                busy_until = Some(Instant::now() + cfg.lro_duration);
            }
            // Put pool by pool, inside its cluster (aks.rs).
            Kind::AgentPool => {}
            Kind::RoleAssignment => {
                let principal = body
                    .pointer("/properties/principalId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let role = body
                    .pointer("/properties/roleDefinitionId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let role_guid = role
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let scope = t.parent.clone().unwrap_or_default();
                if existing.is_none() {
                    // Setting principalType is Azure's documented way round the replication
                    // delay (https://aka.ms/docs-principaltype, and the error's own message):
                    // the recorded PrincipalNotFound answers are to PUTs without it.
                    let typed = body.pointer("/properties/principalType").is_some();
                    let young = !typed
                        && self
                            .principals
                            .get(&principal)
                            .is_some_and(|c| c.elapsed() < cfg.principal_propagation_delay);
                    if young {
                        return Err(ArmError::new(
                            400,
                            "PrincipalNotFound",
                            format!(
                                "Principal {} does not exist in the directory {}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
                                principal.replace('-', ""),
                                cfg.tenant_id
                            ),
                        ));
                    }
                    let dup = self.resources.iter().find(|(k, r)| {
                        r.kind == Kind::RoleAssignment
                            && **k != lower
                            && r.body
                                .pointer("/properties/principalId")
                                .and_then(Value::as_str)
                                .is_some_and(|p| p.eq_ignore_ascii_case(&principal))
                            && r.body
                                .pointer("/properties/scope")
                                .and_then(Value::as_str)
                                .is_some_and(|s| s.eq_ignore_ascii_case(&scope))
                            && r.body
                                .pointer("/properties/roleDefinitionId")
                                .and_then(Value::as_str)
                                .is_some_and(|d| d.to_ascii_lowercase().ends_with(&role_guid))
                    });
                    if dup.is_some() {
                        return Err(ArmError::new(
                            409,
                            "RoleAssignmentExists",
                            "The role assignment already exists.",
                        ));
                    }
                    // Azure's fixed limit per subscription (assignments at the subscription,
                    // its groups and resources; management groups aside).
                    let subscription = scope
                        .to_ascii_lowercase()
                        .split('/')
                        .take(3)
                        .collect::<Vec<_>>()
                        .join("/");
                    let in_subscription = self
                        .resources
                        .iter()
                        .filter(|(k, r)| {
                            r.kind == Kind::RoleAssignment
                                && k.starts_with(&format!("{subscription}/"))
                        })
                        .count();
                    if subscription.starts_with("/subscriptions/")
                        && in_subscription >= cfg.max_role_assignments
                    {
                        return Err(ArmError::new(
                            400,
                            "RoleAssignmentLimitExceeded",
                            "No more role assignments can be created.",
                        ));
                    }
                    created = Instant::now();
                } else if let Some(e) = &existing {
                    for k in ["principalId", "roleDefinitionId"] {
                        let old = e
                            .body
                            .pointer(&format!("/properties/{k}"))
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let new = body
                            .pointer(&format!("/properties/{k}"))
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        if !old.to_ascii_lowercase().ends_with(
                            &new.rsplit('/')
                                .next()
                                .unwrap_or_default()
                                .to_ascii_lowercase(),
                        ) {
                            return Err(ArmError::new(
                                400,
                                "RoleAssignmentUpdateNotPermitted",
                                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                            ));
                        }
                    }
                }
                finish_role_assignment(
                    &mut body,
                    &scope,
                    &role_guid,
                    existing.as_ref().map(|e| &e.body),
                );
            }
        }
        let status = if existing.is_some() || recovered {
            200
        } else {
            201
        };
        self.resources.insert(
            lower.clone(),
            Stored {
                body: body.clone(),
                kind: t.kind,
                busy_until,
                created,
            },
        );
        let mut answer = Answer::json(status, body);
        answer.headers.extend(answer_headers);
        if t.kind.slow() {
            let op = self.start_operation(&lower, false, cfg.lro_duration);
            answer.headers.extend(operation_headers(
                base,
                &t.subscription,
                &op,
                cfg.lro_duration,
                Poll::Status,
            ));
        }
        Ok(answer)
    }

    pub(crate) fn start_operation(
        &mut self,
        lower_id: &str,
        delete: bool,
        duration: Duration,
    ) -> String {
        let op = uuid::Uuid::new_v4().to_string();
        self.operations.insert(
            op.clone(),
            Operation {
                resource: lower_id.to_string(),
                done_at: Instant::now() + duration,
                started: now_text(),
                delete,
                settled: false,
                fails_with: None,
            },
        );
        op
    }

    fn validate(
        &self,
        t: &Target,
        body: &Value,
        existing: Option<&Stored>,
        cfg: &crate::Config,
    ) -> Result<(), ArmError> {
        let bad_name = |rule: &str| {
            Err(ArmError::new(
                400,
                "InvalidResourceName",
                format!("Resource name {} is invalid. {rule}", t.name),
            ))
        };
        match t.kind {
            Kind::ResourceGroup => {
                require(body, "/location", "location")?;
                if !name_matches(&t.name, 1, 90, |c| {
                    c.is_alphanumeric() || "-_.()".contains(c)
                }) || t.name.ends_with('.')
                {
                    return Err(ArmError::new(
                        400,
                        "InvalidResourceGroupName",
                        format!("Resource group name '{}' is invalid.", t.name),
                    ));
                }
                if let (Some(e), Some(l)) = (existing, body["location"].as_str())
                    && !e.body["location"]
                        .as_str()
                        .is_some_and(|o| o.eq_ignore_ascii_case(l))
                {
                    return Err(ArmError::new(
                        409,
                        "InvalidResourceGroupLocation",
                        format!(
                            "Invalid resource group location '{l}'. The Resource group already exists in location '{}'.",
                            e.body["location"].as_str().unwrap_or_default()
                        ),
                    ));
                }
            }
            Kind::Vault => {
                require(body, "/location", "location")?;
                require(body, "/properties/tenantId", "properties.tenantId")?;
                let sku = require(body, "/properties/sku/name", "properties.sku.name")?;
                if !matches!(
                    sku.as_str().map(str::to_ascii_lowercase).as_deref(),
                    Some("standard" | "premium")
                ) {
                    return Err(ArmError::new(
                        400,
                        "InvalidParameter",
                        format!(
                            "The value '{sku}' of parameter 'properties.sku.name' is not valid. Allowed values: standard, premium."
                        ),
                    ));
                }
                let ok = name_matches(&t.name, 3, 24, |c| c.is_ascii_alphanumeric() || c == '-')
                    && t.name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && !t.name.ends_with('-')
                    && !t.name.contains("--");
                if !ok {
                    return bad_name(
                        "Vault name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.",
                    );
                }
                if let Some(e) = existing
                    && e.body.pointer("/properties/enablePurgeProtection") == Some(&json!(true))
                    && body.pointer("/properties/enablePurgeProtection") == Some(&json!(false))
                {
                    return Err(ArmError::new(
                        400,
                        "BadRequest",
                        "The property \"enablePurgeProtection\" cannot be set to false. Enabling the purge protection for a vault is an irreversible action.",
                    ));
                }
            }
            Kind::Identity => {
                require(body, "/location", "location")?;
                if !name_matches(&t.name, 3, 128, |c| {
                    c.is_ascii_alphanumeric() || c == '-' || c == '_'
                }) || !t.name.starts_with(|c: char| c.is_ascii_alphanumeric())
                {
                    return bad_name(
                        "The name can contain only letters, numbers, underscores and hyphens, start with a letter or number, and be 3 to 128 characters long.",
                    );
                }
            }
            Kind::FederatedCredential => {
                let issuer = require(body, "/properties/issuer", "properties.issuer")?
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let subject = require(body, "/properties/subject", "properties.subject")?
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let aud = require(body, "/properties/audiences", "properties.audiences")?;
                if aud.as_array().is_none_or(|a| a.is_empty()) {
                    return Err(ArmError::new(
                        400,
                        "BadRequest",
                        "Audiences must contain at least one value.",
                    ));
                }
                if !issuer.starts_with("https://") {
                    return Err(ArmError::new(
                        400,
                        "BadRequest",
                        format!("Issuer '{issuer}' must be an https URL."),
                    ));
                }
                let parent = t.parent.clone().unwrap_or_default().to_ascii_lowercase();
                let prefix = format!("{parent}/federatedidentitycredentials/");
                let siblings: Vec<&Stored> = self
                    .resources
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix) && **k != t.id.to_ascii_lowercase())
                    .map(|(_, v)| v)
                    .collect();
                if existing.is_none() && siblings.len() >= cfg.max_federated_credentials {
                    return Err(ArmError::new(
                        400,
                        "BadRequest",
                        format!(
                            "Too many Federated Identity Credentials. A managed identity can have at most {} federated identity credentials.",
                            cfg.max_federated_credentials
                        ),
                    ));
                }
                if siblings.iter().any(|s| {
                    s.body.pointer("/properties/issuer").and_then(Value::as_str)
                        == Some(issuer.as_str())
                        && s.body
                            .pointer("/properties/subject")
                            .and_then(Value::as_str)
                            == Some(subject.as_str())
                }) {
                    return Err(ArmError::new(
                        400,
                        "BadRequest",
                        format!(
                            "FederatedIdentityCredential with issuer '{issuer}' and subject '{subject}' already exists."
                        ),
                    ));
                }
            }
            Kind::RoleAssignment => {
                require(
                    body,
                    "/properties/roleDefinitionId",
                    "properties.roleDefinitionId",
                )?;
                require(body, "/properties/principalId", "properties.principalId")?;
                if uuid::Uuid::parse_str(&t.name).is_err() {
                    return Err(ArmError::new(
                        400,
                        "InvalidRoleAssignmentId",
                        format!(
                            "The role assignment ID '{}' is not valid. The role assignment ID must be a GUID.",
                            t.name
                        ),
                    ));
                }
                // Built-in and custom roles are both accepted; only a malformed id is refused.
                let role = body
                    .pointer("/properties/roleDefinitionId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let guid = role.rsplit('/').next().unwrap_or_default();
                if uuid::Uuid::parse_str(guid).is_err() {
                    return Err(ArmError::new(
                        400,
                        "RoleDefinitionDoesNotExist",
                        format!("The specified role definition with ID '{guid}' does not exist."),
                    ));
                }
            }
            Kind::ManagedCluster => {
                require(body, "/location", "location")?;
                if existing.is_none() {
                    require(body, "/properties/dnsPrefix", "properties.dnsPrefix")?;
                }
                if let Some(pools) = body
                    .pointer("/properties/agentPoolProfiles")
                    .and_then(Value::as_array)
                {
                    if !pools
                        .iter()
                        .any(|p| p.get("mode").and_then(Value::as_str) == Some("System"))
                        && existing.is_none()
                    {
                        return Err(ArmError::new(
                            400,
                            "InvalidParameter",
                            "A cluster must have at least one System agent pool.",
                        ));
                    }
                } else if existing.is_none() {
                    return Err(ArmError::new(
                        400,
                        "InvalidParameter",
                        "The parameter 'properties.agentPoolProfiles' is required.",
                    ));
                }
                if body.pointer("/properties/securityProfile/defender/securityMonitoring/enabled")
                    == Some(&json!(true))
                    && body
                        .pointer(
                            "/properties/securityProfile/defender/logAnalyticsWorkspaceResourceId",
                        )
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                {
                    return Err(ArmError::new(
                        400,
                        "InvalidParameter",
                        "The Log Analytics workspace resource ID is required when Microsoft Defender is enabled (securityProfile.defender.logAnalyticsWorkspaceResourceId).",
                    ));
                }
                for field in ["nodeResourceGroup", "apiServerAccessProfile/privateDNSZone"] {
                    let pointer = format!("/properties/{field}");
                    if let (Some(e), Some(new)) = (existing, body.pointer(&pointer))
                        && let Some(old) = e.body.pointer(&pointer)
                        && !old
                            .as_str()
                            .zip(new.as_str())
                            .is_some_and(|(o, n)| o.eq_ignore_ascii_case(n))
                    {
                        return Err(ArmError::new(
                            400,
                            "PropertyChangeNotAllowed",
                            format!(
                                "Changing property '{}' is not allowed.",
                                field.rsplit('/').next().unwrap_or(field)
                            ),
                        ));
                    }
                }
                if let (Some(e), Some(new)) = (
                    existing,
                    body.pointer("/properties/dnsPrefix")
                        .and_then(Value::as_str),
                ) && e
                    .body
                    .pointer("/properties/dnsPrefix")
                    .and_then(Value::as_str)
                    .is_some_and(|o| o != new)
                {
                    return Err(ArmError::new(
                        400,
                        "PropertyChangeNotAllowed",
                        "Changing property 'dnsPrefix' is not allowed.",
                    ));
                }
            }
            Kind::AgentPool => {}
        }
        Ok(())
    }

    /// DELETE.
    pub fn delete(
        &mut self,
        t: &Target,
        cfg: &crate::Config,
        base: &str,
    ) -> Result<Answer, ArmError> {
        self.settle();
        let lower = t.id.to_ascii_lowercase();
        if t.kind == Kind::AgentPool {
            self.check_parents(t)?;
            return self.delete_pool(t, cfg, base);
        }
        let Some(existing) = self.resources.get(&lower).cloned() else {
            self.check_parents(t)?;
            return Ok(Answer::empty(204));
        };
        match t.kind {
            Kind::ResourceGroup | Kind::ManagedCluster | Kind::AgentPool => {
                if t.kind == Kind::ManagedCluster && existing.busy_until.is_some() {
                    return Err(ArmError::new(
                        409,
                        "OperationNotAllowed",
                        format!(
                            "Operation is not allowed because there's an in progress operation on managed cluster {}. Please retry later.",
                            t.name
                        ),
                    ));
                }
                if t.kind == Kind::ResourceGroup {
                    // Vaults inside go to soft delete, as a group delete does in Azure.
                    let prefix = format!("{lower}/");
                    let vaults: Vec<Stored> = self
                        .resources
                        .iter()
                        .filter(|(k, r)| k.starts_with(&prefix) && r.kind == Kind::Vault)
                        .map(|(_, r)| r.clone())
                        .collect();
                    for v in vaults {
                        self.soft_delete_vault(&v, &t.subscription);
                    }
                }
                if let Some(r) = self.resources.get_mut(&lower) {
                    r.body["properties"]["provisioningState"] = json!("Deleting");
                    r.busy_until = Some(Instant::now() + cfg.lro_duration);
                }
                let op = self.start_operation(&lower, true, cfg.lro_duration);
                let mut a = Answer::empty(202);
                // A group's delete answers with Location only (recorded).
                let poll = if t.kind == Kind::ResourceGroup {
                    Poll::Result
                } else {
                    Poll::Both
                };
                a.headers.extend(operation_headers(
                    base,
                    &t.subscription,
                    &op,
                    cfg.lro_duration,
                    poll,
                ));
                Ok(a)
            }
            Kind::Vault => {
                self.soft_delete_vault(&existing, &t.subscription);
                self.remove_tree(&lower);
                Ok(Answer::empty(200))
            }
            Kind::RoleAssignment => {
                self.resources.remove(&lower);
                Ok(Answer::json(200, existing.body))
            }
            Kind::Identity | Kind::FederatedCredential => {
                self.remove_tree(&lower);
                Ok(Answer::empty(200))
            }
        }
    }

    fn soft_delete_vault(&mut self, vault: &Stored, subscription: &str) {
        let name = vault.body["name"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let location = vault.body["location"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let id = vault.body["id"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        // A vault's role assignments vanish with it.
        let prefix = format!("{id}/");
        let doomed: Vec<String> = self
            .resources
            .iter()
            .filter(|(_, r)| {
                r.kind == Kind::RoleAssignment
                    && r.body
                        .pointer("/properties/scope")
                        .and_then(Value::as_str)
                        .is_some_and(|s| {
                            let s = s.to_ascii_lowercase();
                            s == id || s.starts_with(&prefix)
                        })
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.resources.remove(&k);
        }
        self.deleted_vaults.insert(
            name,
            (subscription.to_string(), location, vault.body.clone()),
        );
    }

    /// GET of an operation's status (Azure-AsyncOperation URL).
    pub fn operation_status(&mut self, id: &str) -> Result<Answer, ArmError> {
        self.settle();
        let op = self.operations.get(id).cloned().ok_or_else(|| {
            ArmError::new(
                404,
                "OperationNotFound",
                format!("The operation '{id}' was not found."),
            )
        })?;
        let done = op.done_at <= Instant::now();
        let status = match (&op.fails_with, done) {
            (_, false) => "InProgress",
            (None, true) => "Succeeded",
            (Some(_), true) => "Failed",
        };
        let mut body = json!({"id": id, "name": id, "status": status, "startTime": op.started});
        if done {
            body["endTime"] = json!(now_text());
            body["percentComplete"] = json!(100);
        }
        if let (Some(code), true) = (&op.fails_with, done) {
            body["error"] = json!({"code": code, "message": format!("The operation failed: {code} (injected fault)")});
        }
        Ok(Answer::json(200, body))
    }

    /// Marks the operations running on `path`'s resource as ending `Failed` with `code`.
    pub fn fail_operations_on(&mut self, path: &str, code: &str) {
        let lower = path.to_ascii_lowercase();
        for op in self.operations.values_mut() {
            if op.resource == lower && !op.settled {
                op.fails_with = Some(code.to_string());
            }
        }
    }

    /// GET of an operation's result (Location URL): 202 while running, then 200/204.
    pub fn operation_result(&mut self, id: &str, cfg: &crate::Config) -> Result<Answer, ArmError> {
        self.settle();
        let op = self.operations.get(id).cloned().ok_or_else(|| {
            ArmError::new(
                404,
                "OperationNotFound",
                format!("The operation '{id}' was not found."),
            )
        })?;
        if op.done_at > Instant::now() {
            let mut a = Answer::empty(202);
            a.headers
                .push(("Retry-After".into(), retry_after(cfg.lro_duration)));
            return Ok(a);
        }
        if op.delete {
            return Ok(Answer::empty(200));
        }
        if let Some(pool) = self.pool(&op.resource) {
            return Ok(Answer::json(200, pool));
        }
        Ok(self
            .resources
            .get(&op.resource)
            .map(|r| Answer::json(200, r.body.clone()))
            .unwrap_or_else(|| Answer::empty(204)))
    }

    /// deletedVaults GET.
    pub fn deleted_vault(
        &self,
        subscription: &str,
        location: &str,
        name: &str,
    ) -> Result<Answer, ArmError> {
        match self.deleted_vaults.get(&name.to_ascii_lowercase()) {
            Some((sub, loc, body)) if sub.eq_ignore_ascii_case(subscription) => Ok(Answer::json(
                200,
                json!({
                    "id": format!("/subscriptions/{subscription}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}"),
                    "name": name, "type": "Microsoft.KeyVault/deletedVaults",
                    "properties": {"vaultId": body["id"], "location": loc, "deletionDate": now_text(), "scheduledPurgeDate": now_text(), "tags": body.get("tags").cloned().unwrap_or(json!({})), "purgeProtectionEnabled": body.pointer("/properties/enablePurgeProtection").cloned().unwrap_or(json!(false))}
                }),
            )),
            _ => Err(ArmError::new(
                404,
                "ResourceNotFound",
                format!(
                    "The Resource 'Microsoft.KeyVault/deletedVaults/{name}' under resource group '<null>' was not found."
                ),
            )),
        }
    }

    /// deletedVaults purge.
    pub fn purge_vault(&mut self, subscription: &str, name: &str) -> Result<Answer, ArmError> {
        match self.deleted_vaults.get(&name.to_ascii_lowercase()) {
            Some((sub, _, body)) if sub.eq_ignore_ascii_case(subscription) => {
                if body.pointer("/properties/enablePurgeProtection") == Some(&json!(true)) {
                    return Err(ArmError::new(
                        409,
                        "Conflict",
                        format!(
                            "Vault '{name}' has purge protection enabled and cannot be purged before its retention period ends."
                        ),
                    ));
                }
                self.deleted_vaults.remove(&name.to_ascii_lowercase());
                self.secrets.forget_vault(name);
                Ok(Answer::empty(202))
            }
            _ => Err(ArmError::new(
                404,
                "ResourceNotFound",
                format!("Deleted vault '{name}' was not found."),
            )),
        }
    }

    /// rotateClusterCertificates: new credentials, a new eTag, and an operation that holds the
    /// cluster while it runs.
    pub fn rotate_certificates(
        &mut self,
        cluster: &Target,
        cfg: &crate::Config,
        base: &str,
    ) -> Result<Answer, ArmError> {
        self.settle();
        let lower = cluster.id.to_ascii_lowercase();
        let Some(c) = self.resources.get_mut(&lower) else {
            return self.get(cluster);
        };
        if c.busy_until.is_some() {
            return Err(ArmError::new(
                409,
                "OperationNotAllowed",
                format!(
                    "Operation is not allowed because there's an in progress operation on managed cluster {}. Please retry later.",
                    cluster.name
                ),
            ));
        }
        c.busy_until = Some(Instant::now() + cfg.lro_duration);
        c.body["properties"]["provisioningState"] = json!("RotatingClusterCertificates");
        c.body["eTag"] = json!(uuid::Uuid::new_v4().simple().to_string());
        *self.certificate_rotations.entry(lower.clone()).or_default() += 1;
        let op = self.start_operation(&lower, false, cfg.lro_duration);
        let mut a = Answer::empty(202);
        a.headers.extend(operation_headers(
            base,
            &cluster.subscription,
            &op,
            cfg.lro_duration,
            Poll::Result,
        ));
        Ok(a)
    }

    /// listClusterUserCredential / listClusterAdminCredential.
    pub fn list_credential(&mut self, cluster: &Target, admin: bool) -> Result<Answer, ArmError> {
        let c = self.get(cluster)?.body.unwrap_or_default();
        if !admin
            && c.pointer("/properties/disableLocalAccounts") == Some(&json!(true))
            && c.pointer("/properties/aadProfile").is_none()
        {
            return Err(ArmError::new(
                400,
                "BadRequest",
                "Getting static credential is not allowed because this cluster is set to disable local accounts.",
            ));
        }
        if admin && c.pointer("/properties/disableLocalAccounts") == Some(&json!(true)) {
            return Err(ArmError::new(
                400,
                "BadRequest",
                "Getting static credential is not allowed because this cluster is set to disable local accounts.",
            ));
        }
        use base64::Engine;
        let fqdn = c
            .pointer("/properties/fqdn")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let user = if admin {
            format!(
                "clusterAdmin_{}_{}",
                cluster.resource_group.clone().unwrap_or_default(),
                cluster.name
            )
        } else {
            format!(
                "clusterUser_{}_{}",
                cluster.resource_group.clone().unwrap_or_default(),
                cluster.name
            )
        };
        // The same credential until the cluster's certificates are rotated, as in AKS.
        let rotation = self
            .certificate_rotations
            .get(&cluster.id.to_ascii_lowercase())
            .copied()
            .unwrap_or(0);
        let seed = format!(
            "{}/{user}/{rotation}",
            c.pointer("/properties/resourceUID")
                .and_then(Value::as_str)
                .unwrap_or_default()
        );
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {n}\n  cluster:\n    server: https://{fqdn}:443\ncontexts:\n- name: {n}\n  context:\n    cluster: {n}\n    user: {user}\ncurrent-context: {n}\nusers:\n- name: {user}\n  user:\n    token: emulated-{t}\n",
            n = cluster.name,
            t = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, seed.as_bytes()).simple()
        );
        let value = base64::engine::general_purpose::STANDARD.encode(kubeconfig);
        Ok(Answer::json(
            200,
            json!({"kubeconfigs": [{"name": if admin { "clusterAdmin" } else { "clusterUser" }, "value": value}]}),
        ))
    }
}

/// What AKS fills in on an agent pool.
/// The pods per node AKS gives a pool that does not say: 250 with Azure CNI Overlay (recorded)
/// or no CNI, 30 with flat Azure CNI, 110 with kubenet.
pub(crate) fn default_max_pods(cluster: &Value) -> i64 {
    let network = cluster.pointer("/properties/networkProfile");
    let plugin = network
        .and_then(|n| n.get("networkPlugin"))
        .and_then(Value::as_str)
        .unwrap_or("azure");
    let overlay = network
        .and_then(|n| n.get("networkPluginMode"))
        .and_then(Value::as_str)
        == Some("overlay");
    match plugin {
        "kubenet" => 110,
        "azure" if !overlay => 30,
        _ => 250,
    }
}

pub(crate) fn pool_defaults(p: &mut Value, version: &str, max_pods: i64) {
    let orchestrator = p
        .get("orchestratorVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .unwrap_or(version)
        .to_string();
    p["orchestratorVersion"] = json!(orchestrator);
    p["currentOrchestratorVersion"] = json!(if orchestrator.matches('.').count() == 1 {
        format!("{orchestrator}.2")
    } else {
        orchestrator
    });
    for (k, v) in [
        ("osType", json!("Linux")),
        ("maxPods", json!(max_pods)),
        ("type", json!("VirtualMachineScaleSets")),
        ("upgradeSettings", json!({})),
        ("enableAutoScaling", json!(false)),
        ("enableFIPS", json!(false)),
        ("enableNodePublicIP", json!(false)),
        ("kubeletDiskType", json!("OS")),
        ("osDiskSizeGB", json!(128)),
        ("osDiskType", json!("Managed")),
        ("osSKU", json!("Ubuntu")),
        ("powerState", json!({"code": "Running"})),
        ("scaleDownMode", json!("Delete")),
        (
            "securityProfile",
            json!({"sshAccess": "LocalUser", "enableVTPM": false, "enableSecureBoot": false}),
        ),
        (
            "nodeImageVersion",
            json!("AKSUbuntu-2204gen2containerd-202611.01.0"),
        ),
    ] {
        if p.get(k).is_none() {
            p[k] = v;
        }
    }
    fill(
        &mut p["upgradeSettings"],
        json!({"maxSurge": "10%", "maxUnavailable": "0"}),
    );
    // Recorded: a pool sent `"nodeLabels": {}, "nodeTaints": [], "tags": {}` comes back with
    // the labels and tags as empty objects and without the taints.
    fill(p, json!({"nodeLabels": {}, "tags": {}}));
    if p.get("nodeTaints")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
        && let Some(o) = p.as_object_mut()
    {
        o.remove("nodeTaints");
    }
}

/// Which URLs an operation's answer gives to poll it.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Poll {
    /// `Azure-AsyncOperation`: the operation's status.
    Status,
    /// `Location`: the operation's result.
    Result,
    /// Both.
    Both,
}

/// The headers of an answer that started operation `op`: where to poll it, and `Retry-After`.
pub(crate) fn operation_headers(
    base: &str,
    subscription: &str,
    op: &str,
    lro: Duration,
    poll: Poll,
) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if poll != Poll::Status {
        headers.push((
            "Location".to_string(),
            format!(
                "{base}/subscriptions/{subscription}/providers/Microsoft.Emulator/locations/emulated/operationResults/{op}?api-version=2025-04-01"
            ),
        ));
    }
    if poll != Poll::Result {
        headers.push((
            "Azure-AsyncOperation".to_string(),
            format!(
                "{base}/subscriptions/{subscription}/providers/Microsoft.Emulator/locations/emulated/operationStatuses/{op}?api-version=2026-05-01"
            ),
        ));
    }
    headers.push(("Retry-After".to_string(), retry_after(lro)));
    headers
}

pub(crate) fn retry_after(d: Duration) -> String {
    // Whole seconds, as ARM sends; 0 for the sub-second operations tests configure.
    d.as_secs().min(15).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_created_again_after_its_delete_ended_is_kept() {
        let cfg = crate::Config {
            lro_duration: Duration::ZERO,
            ..crate::Config::default()
        };
        let group = parse("/subscriptions/s/resourceGroups/again").expect("a group id");
        let mut arm = Arm::default();
        let body = json!({"location": "westeurope"});
        let put = |arm: &mut Arm| arm.put(&group, body.clone(), &HashMap::new(), &cfg, "https://x");
        assert_eq!(put(&mut arm).expect("created").status, 201);
        assert_eq!(
            arm.delete(&group, &cfg, "https://x")
                .expect("deleting")
                .status,
            202
        );
        assert_eq!(
            arm.get(&group).map(|a| a.status).map_err(|e| e.status),
            Err(404)
        );
        assert_eq!(put(&mut arm).expect("created again").status, 201);
        assert_eq!(arm.get(&group).expect("still there").status, 200);
    }
}
