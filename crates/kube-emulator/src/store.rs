//! The in-memory object store and the API semantics a controller depends on: resource
//! versions and optimistic concurrency, generation, the status subresource, finalizers and
//! deletionTimestamp, owner-reference garbage collection, CRD registration with schema
//! validation, and the event log watches resume from.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

/// A served resource type.
#[derive(Clone)]
pub struct ResourceType {
    /// API group ("" for core).
    pub group: String,
    /// Served version.
    pub version: String,
    /// Plural, e.g. `keyvaults`.
    pub plural: String,
    /// Singular, e.g. `keyvault`.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// List kind.
    pub list_kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names.
    pub short_names: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Whether `/status` is a subresource (status ignored on the main resource).
    pub status_subresource: bool,
    /// The CRD's schema, for custom resources.
    pub schema: Option<Arc<crd_validation::Schema>>,
    /// additionalPrinterColumns.
    pub printer_columns: Vec<Value>,
    /// Extra subresources listed in discovery (e.g. `token` for serviceaccounts).
    pub extra_subresources: Vec<String>,
}

impl ResourceType {
    /// `group/version`, or `version` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn builtin(
        group: &str,
        version: &str,
        plural: &str,
        kind: &str,
        namespaced: bool,
        short: &[&str],
    ) -> Self {
        ResourceType {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            kind: kind.into(),
            list_kind: format!("{kind}List"),
            namespaced,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            categories: Vec::new(),
            status_subresource: matches!(plural, "namespaces" | "customresourcedefinitions"),
            schema: None,
            printer_columns: Vec::new(),
            extra_subresources: Vec::new(),
        }
    }
}

/// Key of a resource type: (group, plural).
pub type TypeKey = (String, String);

/// A watch event as sent on the wire.
#[derive(Clone, Debug)]
pub struct WatchEvent {
    /// The resource version after the change.
    pub rv: u64,
    /// ADDED, MODIFIED or DELETED.
    pub type_: &'static str,
    /// The object.
    pub object: Value,
}

/// An API error with the HTTP status and a metav1.Status body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub code: u16,
    /// Status reason (NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Gone, ...).
    pub reason: &'static str,
    /// Message.
    pub message: String,
    /// `details` of the Status.
    pub details: Option<Value>,
}

impl ApiError {
    /// A Status body.
    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }

    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 404.
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        let what = if rt.group.is_empty() {
            rt.plural.clone()
        } else {
            format!("{}.{}", rt.plural, rt.group)
        };
        ApiError {
            details: Some(json!({"name": name, "group": rt.group, "kind": rt.plural})),
            ..Self::new(404, "NotFound", format!("{what} \"{name}\" not found"))
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }
}

/// Per-type event log and broadcast.
struct Channel {
    log: VecDeque<WatchEvent>,
    tx: broadcast::Sender<WatchEvent>,
}

/// Everything the server holds.
pub struct Store {
    rv: u64,
    types: HashMap<TypeKey, ResourceType>,
    /// (group, plural) -> (namespace, name) -> object
    objects: HashMap<TypeKey, BTreeMap<(String, String), Value>>,
    channels: HashMap<TypeKey, Channel>,
    log_size: usize,
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if k.starts_with('$') {
                    continue;
                }
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => {
            let mut p = p.clone();
            strip_nulls(&mut p);
            *t = p;
        }
    }
}

fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|k, v| !v.is_null() && !k.starts_with('$'));
        for v in m.values_mut() {
            strip_nulls(v);
        }
    }
}

/// RFC 7386 merge patch (strategic-merge directives `$...` are dropped).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    merge(target, patch);
}

fn spec_part(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    o
}

impl Store {
    /// A store with the built-in types.
    pub fn new(log_size: usize) -> Self {
        let mut s = Store {
            rv: 1,
            types: HashMap::new(),
            objects: HashMap::new(),
            channels: HashMap::new(),
            log_size,
        };
        for rt in [
            ResourceType::builtin("", "v1", "namespaces", "Namespace", false, &["ns"]),
            ResourceType::builtin("", "v1", "secrets", "Secret", true, &[]),
            ResourceType::builtin("", "v1", "configmaps", "ConfigMap", true, &["cm"]),
            ResourceType {
                extra_subresources: vec!["token".into()],
                ..ResourceType::builtin(
                    "",
                    "v1",
                    "serviceaccounts",
                    "ServiceAccount",
                    true,
                    &["sa"],
                )
            },
            ResourceType::builtin("", "v1", "events", "Event", true, &["ev"]),
            ResourceType::builtin("events.k8s.io", "v1", "events", "Event", true, &["ev"]),
            ResourceType::builtin("coordination.k8s.io", "v1", "leases", "Lease", true, &[]),
            ResourceType::builtin(
                "apiextensions.k8s.io",
                "v1",
                "customresourcedefinitions",
                "CustomResourceDefinition",
                false,
                &["crd", "crds"],
            ),
        ] {
            s.register(rt);
        }
        for ns in ["default", "kube-system", "kube-public"] {
            let key = ("".to_string(), "namespaces".to_string());
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            let _ = s.create(&key, "", obj);
        }
        s
    }

    fn register(&mut self, rt: ResourceType) {
        let key = (rt.group.clone(), rt.plural.clone());
        self.channels.entry(key.clone()).or_insert_with(|| Channel {
            log: VecDeque::new(),
            tx: broadcast::channel(4096).0,
        });
        self.objects.entry(key.clone()).or_default();
        self.types.insert(key, rt);
    }

    /// Every served type.
    pub fn types(&self) -> Vec<ResourceType> {
        let mut t: Vec<_> = self.types.values().cloned().collect();
        t.sort_by(|a, b| (&a.group, &a.plural).cmp(&(&b.group, &b.plural)));
        t
    }

    /// The type served at group/version/plural.
    pub fn type_for(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types
            .get(&(group.to_string(), plural.to_string()))
            .filter(|t| t.version == version)
            .cloned()
    }

    /// The current resource version.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// One object.
    pub fn get(&self, key: &TypeKey, ns: &str, name: &str) -> Option<Value> {
        self.objects
            .get(key)?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Objects in a namespace ("" = all), in key order.
    pub fn list(&self, key: &TypeKey, ns: &str) -> Vec<Value> {
        self.objects
            .get(key)
            .map(|m| {
                m.iter()
                    .filter(|((n, _), _)| ns.is_empty() || n == ns)
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Subscribes to a type's events, returning the log entries after `since` too. `None` means
    /// `since` is older than the log holds (410 Gone).
    pub fn watch_from(
        &self,
        key: &TypeKey,
        since: u64,
    ) -> Option<(Vec<WatchEvent>, broadcast::Receiver<WatchEvent>)> {
        let ch = self.channels.get(key)?;
        let oldest = ch.log.front().map(|e| e.rv).unwrap_or(self.rv);
        if since + 1 < oldest && since < self.rv {
            // Events between `since` and the oldest logged one were dropped from the log.
            if ch.log.len() >= self.log_size {
                return None;
            }
        }
        let replay = ch.log.iter().filter(|e| e.rv > since).cloned().collect();
        Some((replay, ch.tx.subscribe()))
    }

    fn emit(&mut self, key: &TypeKey, type_: &'static str, object: Value) {
        let ev = WatchEvent {
            rv: self.rv,
            type_,
            object,
        };
        if let Some(ch) = self.channels.get_mut(key) {
            ch.log.push_back(ev.clone());
            while ch.log.len() > self.log_size {
                ch.log.pop_front();
            }
            let _ = ch.tx.send(ev);
        }
    }

    fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }

    fn rt(&self, key: &TypeKey) -> Result<ResourceType, ApiError> {
        self.types.get(key).cloned().ok_or_else(|| {
            ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
        })
    }

    fn admit(
        &self,
        rt: &ResourceType,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        if rt.plural == "customresourcedefinitions" && rt.group == "apiextensions.k8s.io" {
            return crd_type(obj).map(|_| ());
        }
        let Some(schema) = &rt.schema else {
            return Ok(());
        };
        schema.prune_and_default(obj);
        let errors = schema.validate(obj, old);
        if errors.is_empty() {
            return Ok(());
        }
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let what = format!("{}.{} \"{name}\"", rt.kind, rt.group);
        let message = if errors.len() == 1 {
            format!("{what} is invalid: {}", errors[0].message)
        } else {
            format!(
                "{what} is invalid: [{}]",
                errors
                    .iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        // A cause's message leaves the field out: kubectl prints "field: message".
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| {
                let detail = e
                    .message
                    .strip_prefix(&format!("{}: ", e.field))
                    .unwrap_or(&e.message);
                json!({"reason": e.reason, "message": detail, "field": e.field})
            })
            .collect();
        Err(ApiError {
            details: Some(
                json!({"name": name, "group": rt.group, "kind": rt.kind, "causes": causes}),
            ),
            ..ApiError::new(422, "Invalid", message)
        })
    }

    /// POST.
    pub fn create(&mut self, key: &TypeKey, ns: &str, mut obj: Value) -> Result<Value, ApiError> {
        let rt = self.rt(key)?;
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be an object"));
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        let meta_ok = obj
            .as_object_mut()
            .map(|o| o.entry("metadata").or_insert(json!({})).is_object())
            .unwrap_or(false);
        if !meta_ok {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
        let mut name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            if let Some(prefix) = obj
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
            {
                name = format!(
                    "{prefix}{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..5]
                );
            } else {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!(
                        "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                        rt.kind
                    ),
                ));
            }
        }
        let ns = if rt.namespaced {
            ns.to_string()
        } else {
            String::new()
        };
        if rt.namespaced && ns.is_empty() {
            return Err(ApiError::bad_request("a namespace is required"));
        }
        if rt.namespaced
            && self
                .get(&("".into(), "namespaces".into()), "", &ns)
                .is_none()
        {
            return Err(ApiError {
                details: Some(json!({"name": ns, "kind": "namespaces"})),
                ..ApiError::new(404, "NotFound", format!("namespaces \"{ns}\" not found"))
            });
        }
        if self.get(key, &ns, &name).is_some() {
            let what = if rt.group.is_empty() {
                rt.plural.clone()
            } else {
                format!("{}.{}", rt.plural, rt.group)
            };
            return Err(ApiError {
                details: Some(json!({"name": name, "group": rt.group, "kind": rt.plural})),
                ..ApiError::new(
                    409,
                    "AlreadyExists",
                    format!("{what} \"{name}\" already exists"),
                )
            });
        }
        if rt.status_subresource
            && rt.schema.is_some()
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
        self.admit(&rt, &mut obj, None)?;
        let rv = self.next_rv();
        let m = &mut obj["metadata"];
        m["name"] = json!(name);
        if rt.namespaced {
            m["namespace"] = json!(ns);
        } else if let Some(o) = m.as_object_mut() {
            o.remove("namespace");
        }
        m["uid"] = json!(uuid::Uuid::new_v4().to_string());
        m["resourceVersion"] = json!(rv);
        m["creationTimestamp"] = json!(now());
        m["generation"] = json!(1);
        if let Some(o) = m.as_object_mut() {
            o.remove("deletionTimestamp");
        }
        if key.1 == "customresourcedefinitions" {
            self.register_crd(&mut obj)?;
        }
        self.objects
            .entry(key.clone())
            .or_default()
            .insert((ns, name), obj.clone());
        self.emit(key, "ADDED", obj.clone());
        Ok(obj)
    }

    /// PUT (main resource or `/status`).
    pub fn update(
        &mut self,
        key: &TypeKey,
        ns: &str,
        name: &str,
        mut obj: Value,
        status_only: bool,
    ) -> Result<Value, ApiError> {
        let rt = self.rt(key)?;
        let ns = if rt.namespaced {
            ns.to_string()
        } else {
            String::new()
        };
        let Some(old) = self.get(key, &ns, name) else {
            return Err(ApiError::not_found(&rt, name));
        };
        if let Some(rv) = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && !rv.is_empty()
            && Some(rv)
                != old
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
        {
            let what = if rt.group.is_empty() {
                rt.plural.clone()
            } else {
                format!("{}.{}", rt.plural, rt.group)
            };
            return Err(ApiError {
                details: Some(json!({"name": name, "group": rt.group, "kind": rt.plural})),
                ..ApiError::new(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {what} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                    ),
                )
            });
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        // What the caller may change: status only through /status; with a status
        // subresource, never status through the main resource.
        if status_only {
            let status = obj.get("status").cloned();
            obj = old.clone();
            match status {
                Some(s) => obj["status"] = s,
                None => {
                    if let Some(o) = obj.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
        } else {
            if rt.status_subresource {
                match old.get("status") {
                    Some(s) => obj["status"] = s.clone(),
                    None => {
                        if let Some(o) = obj.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            // System metadata is the server's.
            for k in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "generation",
                "namespace",
                "name",
            ] {
                match old["metadata"].get(k) {
                    Some(v) => obj["metadata"][k] = v.clone(),
                    None => {
                        if let Some(m) = obj["metadata"].as_object_mut() {
                            m.remove(k);
                        }
                    }
                }
            }
        }
        self.admit(&rt, &mut obj, Some(&old))?;
        if obj == old {
            return Ok(old);
        }
        let mut generation = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        if spec_part(&obj) != spec_part(&old) {
            generation += 1;
        }
        obj["metadata"]["generation"] = json!(generation);
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv);
        if key.1 == "customresourcedefinitions" {
            self.register_crd(&mut obj)?;
        }
        let deleting = obj.pointer("/metadata/deletionTimestamp").is_some();
        let finalizers_empty = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(|f| f.is_empty());
        if deleting && finalizers_empty {
            self.remove(key, &ns, name, obj.clone());
            return Ok(obj);
        }
        self.objects
            .entry(key.clone())
            .or_default()
            .insert((ns, name.to_string()), obj.clone());
        self.emit(key, "MODIFIED", obj.clone());
        Ok(obj)
    }

    /// DELETE: marks the object deleting while finalizers remain, else removes it.
    pub fn delete(&mut self, key: &TypeKey, ns: &str, name: &str) -> Result<Value, ApiError> {
        let rt = self.rt(key)?;
        let ns = if rt.namespaced {
            ns.to_string()
        } else {
            String::new()
        };
        let Some(mut obj) = self.get(key, &ns, name) else {
            return Err(ApiError::not_found(&rt, name));
        };
        let has_finalizers = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if has_finalizers {
            if obj.pointer("/metadata/deletionTimestamp").is_none() {
                obj["metadata"]["deletionTimestamp"] = json!(now());
                obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                let generation = obj
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                obj["metadata"]["generation"] = json!(generation + 1);
                let rv = self.next_rv();
                obj["metadata"]["resourceVersion"] = json!(rv);
                self.objects
                    .entry(key.clone())
                    .or_default()
                    .insert((ns, name.to_string()), obj.clone());
                self.emit(key, "MODIFIED", obj.clone());
            }
            return Ok(obj);
        }
        self.remove(key, &ns, name, obj.clone());
        Ok(obj)
    }

    fn remove(&mut self, key: &TypeKey, ns: &str, name: &str, mut obj: Value) {
        self.objects
            .entry(key.clone())
            .or_default()
            .remove(&(ns.to_string(), name.to_string()));
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv);
        let uid = obj
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.emit(key, "DELETED", obj);
        self.collect_garbage(&uid);
    }

    /// Background garbage collection: dependents whose owners are all gone are deleted.
    fn collect_garbage(&mut self, owner_uid: &str) {
        if owner_uid.is_empty() {
            return;
        }
        let mut doomed = Vec::new();
        for (key, objs) in &self.objects {
            for ((ns, name), obj) in objs {
                let owners = obj
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array);
                if owners.is_some_and(|o| {
                    o.iter()
                        .any(|r| r.get("uid").and_then(Value::as_str) == Some(owner_uid))
                }) {
                    doomed.push((key.clone(), ns.clone(), name.clone()));
                }
            }
        }
        for (key, ns, name) in doomed {
            let _ = self.delete(&key, &ns, &name);
        }
    }

    /// Registers the resource a CRD defines and marks it Established.
    fn register_crd(&mut self, crd: &mut Value) -> Result<(), ApiError> {
        let rt = crd_type(crd)?;
        crd["status"] = json!({
            "acceptedNames": crd["spec"]["names"].clone(),
            "storedVersions": [rt.version.clone()],
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now()},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now()}
            ]
        });
        self.register(rt);
        Ok(())
    }
}

/// The resource type a CRD object defines, its schema compiled; 422 for an unusable CRD.
fn crd_type(crd: &Value) -> Result<ResourceType, ApiError> {
    let invalid = |m: String| {
        ApiError::new(
            422,
            "Invalid",
            format!(
                "CustomResourceDefinition.apiextensions.k8s.io \"{}\" is invalid: {m}",
                crd.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
        )
    };
    let spec = &crd["spec"];
    let group = spec["group"]
        .as_str()
        .ok_or_else(|| invalid("spec.group: Required value".into()))?
        .to_string();
    let names = &spec["names"];
    let plural = names["plural"]
        .as_str()
        .ok_or_else(|| invalid("spec.names.plural: Required value".into()))?
        .to_string();
    let kind = names["kind"]
        .as_str()
        .ok_or_else(|| invalid("spec.names.kind: Required value".into()))?
        .to_string();
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let version = versions
        .iter()
        .find(|v| v["storage"].as_bool() == Some(true))
        .or_else(|| versions.first())
        .ok_or_else(|| invalid("spec.versions: Required value".into()))?;
    let schema = match version.pointer("/schema/openAPIV3Schema") {
        Some(s) => Some(Arc::new(crd_validation::Schema::new(s).map_err(|e| {
            invalid(format!(
                "spec.versions[0].schema.openAPIV3Schema: Invalid value: {e}"
            ))
        })?)),
        None => None,
    };
    let strs = |v: &Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(ResourceType {
        group,
        version: version["name"].as_str().unwrap_or("v1").to_string(),
        singular: names["singular"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_ascii_lowercase()),
        list_kind: names["listKind"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{kind}List")),
        kind,
        plural,
        namespaced: spec["scope"].as_str() != Some("Cluster"),
        short_names: strs(&names["shortNames"]),
        categories: strs(&names["categories"]),
        status_subresource: version.pointer("/subresources/status").is_some(),
        schema,
        printer_columns: version["additionalPrinterColumns"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        extra_subresources: Vec::new(),
    })
}
