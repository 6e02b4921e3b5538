//! The in-memory object store and the API semantics a controller depends on: resource
//! versions and optimistic concurrency, generation, the status subresource, finalizers and
//! deletionTimestamp, owner-reference garbage collection, CRD registration with schema
//! validation, and the event log watches resume from.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::builtin::{self, Generation};
use crate::cluster_ips;
use crate::managed_fields::{self, Writer};
use crate::negotiation::Encoding;
use crate::stored::Stored;

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
    /// A review kind (SelfSubjectAccessReview, TokenReview, ...): only created, never stored.
    pub create_only: bool,
    /// For a built-in kind with a schema here: what kube-apiserver does with it beyond
    /// storing it (`builtin`). `None` for custom resources.
    pub builtin: Option<&'static builtin::Kind>,
    /// When `metadata.generation` is set and bumped.
    pub generation: Generation,
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
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        let known = builtin::kind(&api_version, kind);
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
            status_subresource: matches!(
                plural,
                "namespaces"
                    | "customresourcedefinitions"
                    | "deployments"
                    | "services"
                    | "pods"
                    | "poddisruptionbudgets"
            ),
            schema: known.and_then(|_| builtin::catalog().schema(&api_version, kind)),
            printer_columns: Vec::new(),
            extra_subresources: Vec::new(),
            create_only: false,
            builtin: known,
            generation: known.map_or(Generation::Untracked, |k| k.generation),
        }
    }

    /// A review kind: answered on create, never stored.
    fn review(group: &str, plural: &str, kind: &str, namespaced: bool) -> Self {
        ResourceType {
            create_only: true,
            ..ResourceType::builtin(group, "v1", plural, kind, namespaced, &[])
        }
    }

    /// With these categories (`all`: what `kubectl get all` lists).
    fn in_categories(mut self, categories: &[&str]) -> Self {
        self.categories = categories.iter().map(|c| c.to_string()).collect();
        self
    }
}

/// An entry of a type's event log: resourceVersion, type, object, object before the change.
type LoggedEvent = (u64, &'static str, Arc<Stored>, Option<Arc<Stored>>);

/// Key of a resource type: (group, plural).
pub type TypeKey = (String, String);

/// A watch event as sent on the wire, shared by every watcher of its type.
#[derive(Debug)]
pub struct WatchEvent {
    /// The resource version after the change.
    pub rv: u64,
    /// ADDED, MODIFIED or DELETED.
    pub type_: &'static str,
    /// The object.
    pub object: Arc<Stored>,
    /// For MODIFIED, the object before the change: a watch with a selector sends an object
    /// that starts to match as ADDED and one that stops matching as DELETED, as kube-apiserver's
    /// watch cache does.
    pub previous: Option<Arc<Stored>>,
    /// The serialized line, made once however many watchers send it.
    line: OnceLock<Bytes>,
    /// The protobuf frame, likewise.
    frame: OnceLock<Bytes>,
}

impl WatchEvent {
    /// An event; `previous` is the object before a MODIFIED change.
    pub fn new(
        rv: u64,
        type_: &'static str,
        object: Arc<Stored>,
        previous: Option<Arc<Stored>>,
    ) -> Arc<Self> {
        Arc::new(WatchEvent {
            rv,
            type_,
            object,
            previous,
            line: OnceLock::new(),
            frame: OnceLock::new(),
        })
    }

    /// `{"type": ..., "object": ...}` and a newline.
    pub fn line(&self) -> Bytes {
        self.line
            .get_or_init(|| {
                // Written directly: wrapping the object in a new Value would copy it.
                let object = serde_json::to_string(&*self.object).unwrap_or_else(|_| "null".into());
                Bytes::from(format!(
                    "{{\"type\":\"{}\",\"object\":{object}}}\n",
                    self.type_
                ))
            })
            .clone()
    }

    /// The event in `encoding`: the JSON line, or the protobuf frame (an object that cannot
    /// be written in protobuf is an ERROR event carrying a 500 Status).
    pub fn encoded(&self, encoding: Encoding) -> Bytes {
        match encoding {
            Encoding::Json => self.line(),
            Encoding::Protobuf => self
                .frame
                .get_or_init(|| {
                    crate::protobuf::watch_frame(self.type_, &self.object.to_value())
                        .or_else(|e| crate::protobuf::watch_frame("ERROR", &e.status()))
                        // Cannot fail: a Status always has a protobuf form.
                        .unwrap_or_default()
                })
                .clone(),
        }
    }
}

/// Who a write's changed fields are recorded for in `metadata.managedFields`.
pub enum Ownership<'a> {
    /// A create, update or non-apply patch by this field manager.
    Update(&'a str),
    /// A server-side apply: the object already carries the managedFields it computed.
    Applied,
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
    /// What resumed watches replay. It keeps objects, not serialized lines: a line lives only
    /// as long as live watchers need it. A MODIFIED entry keeps the object before the change
    /// too (most often the previous entry's own object, so it costs a pointer).
    log: VecDeque<LoggedEvent>,
    tx: broadcast::Sender<Arc<WatchEvent>>,
}

/// Everything the server holds.
pub struct Store {
    rv: u64,
    types: HashMap<TypeKey, Arc<ResourceType>>,
    /// (group, plural) -> (namespace, name) -> object
    /// Shared with the watch events that carry them, so the event log costs no copies.
    objects: HashMap<TypeKey, BTreeMap<(String, String), Arc<Stored>>>,
    channels: HashMap<TypeKey, Channel>,
    log_size: usize,
    /// Events queued per type for open watches ([`crate::Config::watch_buffer`]).
    buffer: usize,
    /// Watches from a resourceVersion older than this are answered 410 Gone: the event log
    /// was compacted here (etcd's compaction, a test's fault).
    compacted: u64,
    /// Owner uid -> the objects naming it in ownerReferences: deleting an object finds its
    /// dependents without scanning the store.
    dependents: HashMap<String, BTreeSet<(TypeKey, String, String)>>,
    /// Bumped on every change to an RBAC object: when the authorizer's policy is stale.
    /// Shared, so the authorizer reads it without taking the store's lock.
    rbac_epoch: Arc<AtomicU64>,
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str).map(String::from))
        .collect()
}

/// Now, as Kubernetes writes timestamps (whole seconds, UTC).
pub(crate) fn now() -> String {
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

/// Whether two versions of an object differ outside metadata and status (what bumps
/// generation), compared in place.
fn spec_differs(a: &Value, b: &Value) -> bool {
    let skip = |k: &str| matches!(k, "metadata" | "status" | "apiVersion" | "kind");
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a != b;
    };
    let count = |m: &serde_json::Map<String, Value>| m.keys().filter(|k| !skip(k)).count();
    count(a) != count(b) || a.iter().any(|(k, v)| !skip(k) && b.get(k) != Some(v))
}

impl Store {
    /// A store with the built-in types.
    pub fn new(log_size: usize, buffer: usize) -> Self {
        let mut s = Store {
            rv: 1,
            types: HashMap::new(),
            objects: HashMap::new(),
            channels: HashMap::new(),
            log_size,
            buffer: buffer.max(1),
            compacted: 0,
            dependents: HashMap::new(),
            rbac_epoch: Arc::new(AtomicU64::new(0)),
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
            // Served (empty unless created) because `kubectl describe namespace` lists them.
            ResourceType::builtin(
                "",
                "v1",
                "resourcequotas",
                "ResourceQuota",
                true,
                &["quota"],
            ),
            ResourceType::builtin("", "v1", "limitranges", "LimitRange", true, &["limits"]),
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
            ResourceType::builtin(crate::rbac::GROUP, "v1", "roles", "Role", true, &[]),
            ResourceType::builtin(
                crate::rbac::GROUP,
                "v1",
                "rolebindings",
                "RoleBinding",
                true,
                &[],
            ),
            ResourceType::builtin(
                crate::rbac::GROUP,
                "v1",
                "clusterroles",
                "ClusterRole",
                false,
                &[],
            ),
            ResourceType::builtin(
                crate::rbac::GROUP,
                "v1",
                "clusterrolebindings",
                "ClusterRoleBinding",
                false,
                &[],
            ),
            ResourceType::review(
                "authorization.k8s.io",
                "selfsubjectaccessreviews",
                "SelfSubjectAccessReview",
                false,
            ),
            ResourceType::review(
                "authorization.k8s.io",
                "selfsubjectrulesreviews",
                "SelfSubjectRulesReview",
                false,
            ),
            ResourceType::review(
                "authorization.k8s.io",
                "subjectaccessreviews",
                "SubjectAccessReview",
                false,
            ),
            ResourceType::review(
                "authorization.k8s.io",
                "localsubjectaccessreviews",
                "LocalSubjectAccessReview",
                true,
            ),
            ResourceType::review(
                "authentication.k8s.io",
                "selfsubjectreviews",
                "SelfSubjectReview",
                false,
            ),
            ResourceType::review(
                "authentication.k8s.io",
                "tokenreviews",
                "TokenReview",
                false,
            ),
            // What an operator's install brings (stored, validated, never scheduled).
            ResourceType::builtin("", "v1", "services", "Service", true, &["svc"])
                .in_categories(&["all"]),
            ResourceType::builtin("", "v1", "pods", "Pod", true, &["po"]).in_categories(&["all"]),
            ResourceType {
                extra_subresources: vec!["scale".into()],
                ..ResourceType::builtin(
                    "apps",
                    "v1",
                    "deployments",
                    "Deployment",
                    true,
                    &["deploy"],
                )
                .in_categories(&["all"])
            },
            ResourceType::builtin(
                "policy",
                "v1",
                "poddisruptionbudgets",
                "PodDisruptionBudget",
                true,
                &["pdb"],
            ),
            ResourceType::builtin(
                "networking.k8s.io",
                "v1",
                "networkpolicies",
                "NetworkPolicy",
                true,
                &["netpol"],
            ),
        ] {
            s.register(rt);
        }
        for ns in ["default", "kube-system", "kube-public"] {
            let key = ("".to_string(), "namespaces".to_string());
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            let _ = s.create(&key, "", obj, Ownership::Update("kube-apiserver"));
        }
        // The API server's own Service, holding the range's first address, as in a cluster.
        let kubernetes = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": cluster_ips::FIRST, "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}});
        let _ = s.create(
            &("".into(), "services".into()),
            "default",
            kubernetes,
            Ownership::Update("kube-apiserver"),
        );
        s
    }

    fn register(&mut self, rt: ResourceType) {
        let key = (rt.group.clone(), rt.plural.clone());
        self.channels.entry(key.clone()).or_insert_with(|| Channel {
            log: VecDeque::new(),
            tx: broadcast::channel(self.buffer).0,
        });
        self.objects.entry(key.clone()).or_default();
        self.types.insert(key, Arc::new(rt));
    }

    /// Every served type.
    pub fn types(&self) -> Vec<Arc<ResourceType>> {
        let mut t: Vec<_> = self.types.values().cloned().collect();
        t.sort_by(|a, b| (&a.group, &a.plural).cmp(&(&b.group, &b.plural)));
        t
    }

    /// The type served at group/version/plural.
    pub fn type_for(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .get(&(group.to_string(), plural.to_string()))
            .filter(|t| t.version == version)
            .cloned()
    }

    /// The current resource version.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// Changes with every write to an RBAC object; readable without the store's lock.
    pub fn rbac_epoch(&self) -> Arc<AtomicU64> {
        self.rbac_epoch.clone()
    }

    /// One object.
    pub fn get(&self, key: &TypeKey, ns: &str, name: &str) -> Option<Value> {
        self.objects
            .get(key)?
            .get(&(ns.to_string(), name.to_string()))
            .map(|o| o.to_value())
    }

    fn exists(&self, key: &TypeKey, ns: &str, name: &str) -> bool {
        self.objects
            .get(key)
            .is_some_and(|m| m.contains_key(&(ns.to_string(), name.to_string())))
    }

    /// Objects in a namespace ("" = all) after the key `after` (exclusive), in key order,
    /// without copying them: what list pages and continue tokens walk.
    pub fn scan<'a>(
        &'a self,
        key: &TypeKey,
        ns: &'a str,
        after: Option<(String, String)>,
    ) -> impl Iterator<Item = (&'a (String, String), &'a Arc<Stored>)> + 'a {
        let start = match after {
            Some(k) => Bound::Excluded(k),
            None if ns.is_empty() => Bound::Unbounded,
            None => Bound::Included((ns.to_string(), String::new())),
        };
        self.objects
            .get(key)
            .into_iter()
            .flat_map(move |m| m.range((start.clone(), Bound::Unbounded)))
            .take_while(move |((n, _), _)| ns.is_empty() || n == ns)
    }

    /// Objects in a namespace ("" = all), in key order.
    pub fn list(&self, key: &TypeKey, ns: &str) -> Vec<Value> {
        self.objects
            .get(key)
            .map(|m| {
                m.iter()
                    .filter(|((n, _), _)| ns.is_empty() || n == ns)
                    .map(|(_, v)| v.to_value())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Subscribes to a type's events, returning the log entries after `since` too. `None` means
    /// `since` is older than the log holds (410 Gone).
    #[allow(clippy::type_complexity)]
    pub fn watch_from(
        &self,
        key: &TypeKey,
        since: u64,
    ) -> Option<(Vec<Arc<WatchEvent>>, broadcast::Receiver<Arc<WatchEvent>>)> {
        let ch = self.channels.get(key)?;
        if since < self.compacted {
            return None;
        }
        let oldest = ch.log.front().map(|e| e.0).unwrap_or(self.rv);
        if since + 1 < oldest && since < self.rv {
            // Events between `since` and the oldest logged one were dropped from the log.
            if ch.log.len() >= self.log_size {
                return None;
            }
        }
        // The log is in resourceVersion order.
        let first = ch.log.partition_point(|e| e.0 <= since);
        let replay = ch
            .log
            .range(first..)
            .map(|(rv, type_, object, previous)| {
                WatchEvent::new(*rv, type_, object.clone(), previous.clone())
            })
            .collect();
        Some((replay, ch.tx.subscribe()))
    }

    /// Compacts every event log at the current resourceVersion: a watch resumed from before
    /// it gets 410 Gone and its client lists again.
    pub fn compact(&mut self) {
        self.compacted = self.rv;
        for ch in self.channels.values_mut() {
            ch.log.clear();
        }
    }

    fn emit(
        &mut self,
        key: &TypeKey,
        type_: &'static str,
        object: Arc<Stored>,
        previous: Option<Arc<Stored>>,
    ) {
        let ev = WatchEvent::new(self.rv, type_, object.clone(), previous.clone());
        if let Some(ch) = self.channels.get_mut(key) {
            ch.log.push_back((self.rv, type_, object, previous));
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

    fn rt(&self, key: &TypeKey) -> Result<Arc<ResourceType>, ApiError> {
        self.types.get(key).cloned().ok_or_else(|| {
            ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
        })
    }

    /// POST (and a server-side apply that creates).
    pub fn create(
        &mut self,
        key: &TypeKey,
        ns: &str,
        obj: Value,
        ownership: Ownership<'_>,
    ) -> Result<Value, ApiError> {
        let admitted = admit_create(self.rt(key)?, ns, obj, ownership)?;
        self.commit_create(key, admitted, false)
    }

    /// Stores a create [`admit_create`] admitted: what needs the other objects (the
    /// namespace, a name already taken) and the resourceVersion. A dry run checks, answers
    /// the object it would store, and stores nothing.
    pub fn commit_create(
        &mut self,
        key: &TypeKey,
        admitted: AdmittedCreate,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let AdmittedCreate {
            rt,
            ns,
            name,
            mut obj,
            now,
        } = admitted;
        if rt.namespaced && !self.exists(&("".into(), "namespaces".into()), "", &ns) {
            return Err(ApiError {
                details: Some(json!({"name": ns, "kind": "namespaces"})),
                ..ApiError::new(404, "NotFound", format!("namespaces \"{ns}\" not found"))
            });
        }
        if self.exists(key, &ns, &name) {
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
        let m = &mut obj["metadata"];
        m["name"] = json!(name);
        if rt.namespaced {
            m["namespace"] = json!(ns);
        } else if let Some(o) = m.as_object_mut() {
            o.remove("namespace");
        }
        m["uid"] = json!(uuid::Uuid::new_v4().to_string());
        m["creationTimestamp"] = json!(now);
        if rt.generation != Generation::Untracked {
            m["generation"] = json!(1);
        }
        if let Some(o) = m.as_object_mut() {
            if rt.generation == Generation::Untracked {
                o.remove("generation");
            }
            o.remove("deletionTimestamp");
            o.remove("resourceVersion");
        }
        if rt.builtin.is_some() && key.0.is_empty() && key.1 == "services" {
            self.allocate_service_addresses(&mut obj)?;
        }
        if dry_run {
            return Ok(obj);
        }
        obj["metadata"]["resourceVersion"] = json!(self.next_rv());
        if key.1 == "customresourcedefinitions" {
            self.register_crd(&mut obj)?;
        }
        let (shared, _) = self.put(key, (ns, name), obj.clone());
        self.emit(key, "ADDED", shared, None);
        self.mirror_event(key, "ADDED", &obj);
        Ok(obj)
    }

    /// PUT (main resource or `/status`). A dry run answers what it would store, and stores
    /// nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        key: &TypeKey,
        ns: &str,
        name: &str,
        mut obj: Value,
        status_only: bool,
        ownership: Ownership<'_>,
        dry_run: bool,
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
        let applied_fields = obj.pointer("/metadata/managedFields").cloned();
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
        match ownership {
            Ownership::Update(manager) => {
                let writer = Writer {
                    manager,
                    subresource: status_only.then_some("status"),
                    api_version: &rt.api_version(),
                    now: &now(),
                };
                managed_fields::record_update(Some(&old), &mut obj, &writer);
            }
            Ownership::Applied => match applied_fields {
                Some(f) => obj["metadata"]["managedFields"] = f,
                None => {
                    if let Some(m) = obj["metadata"].as_object_mut() {
                        m.remove("managedFields");
                    }
                }
            },
        }
        if rt.builtin.is_some() && key.0.is_empty() && key.1 == "services" {
            cluster_ips::keep_allocated(&old, &mut obj);
        }
        admit(&rt, &mut obj, Some(&old))?;
        if obj == old {
            return Ok(old);
        }
        if let Some(mut generation) = old.pointer("/metadata/generation").and_then(Value::as_i64) {
            let annotations_changed = rt.generation == Generation::SpecAndAnnotations
                && obj.pointer("/metadata/annotations") != old.pointer("/metadata/annotations");
            if spec_differs(&obj, &old) || annotations_changed {
                generation += 1;
            }
            obj["metadata"]["generation"] = json!(generation);
        }
        if dry_run {
            return Ok(obj);
        }
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
        let (shared, previous) = self.put(key, (ns, name.to_string()), obj.clone());
        self.emit(key, "MODIFIED", shared, previous);
        self.mirror_event(key, "MODIFIED", &obj);
        Ok(obj)
    }

    /// DELETE: marks the object deleting while finalizers remain, else removes it. A dry run
    /// answers the object as the delete would leave it, and changes nothing.
    pub fn delete(
        &mut self,
        key: &TypeKey,
        ns: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
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
                if let Some(generation) =
                    obj.pointer("/metadata/generation").and_then(Value::as_i64)
                {
                    obj["metadata"]["generation"] = json!(generation + 1);
                }
                if dry_run {
                    return Ok(obj);
                }
                let rv = self.next_rv();
                obj["metadata"]["resourceVersion"] = json!(rv);
                let (shared, previous) = self.put(key, (ns, name.to_string()), obj.clone());
                self.emit(key, "MODIFIED", shared, previous);
            }
            return Ok(obj);
        }
        if !dry_run {
            self.remove(key, &ns, name, obj.clone());
        }
        Ok(obj)
    }

    fn remove(&mut self, key: &TypeKey, ns: &str, name: &str, mut obj: Value) {
        self.take(key, &(ns.to_string(), name.to_string()));
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv);
        let uid = obj
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.mirror_event(key, "DELETED", &obj);
        self.emit(key, "DELETED", Arc::new(Stored::new(obj)), None);
        self.collect_garbage(&uid);
    }

    /// events.k8s.io/v1 and core/v1 Events are one resource in Kubernetes: an Event a
    /// controller records (kube's `Recorder` writes events.k8s.io/v1) is also a core/v1 Event,
    /// which is what `kubectl describe` and `kubectl get events` read.
    fn mirror_event(&mut self, key: &TypeKey, type_: &'static str, obj: &Value) {
        if key.0 != "events.k8s.io" || key.1 != "events" {
            return;
        }
        let core_key: TypeKey = (String::new(), "events".into());
        let core = core_event(obj);
        let id = (
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            obj.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        );
        let (shared, previous) = if type_ == "DELETED" {
            self.take(&core_key, &id);
            (Arc::new(Stored::new(core)), None)
        } else {
            self.put(&core_key, id, core)
        };
        self.emit(&core_key, type_, shared, previous);
    }

    /// Stores an object, keeping the owner index current; answers it and the object it
    /// replaced.
    fn put(
        &mut self,
        key: &TypeKey,
        id: (String, String),
        obj: Value,
    ) -> (Arc<Stored>, Option<Arc<Stored>>) {
        if key.0 == crate::rbac::GROUP {
            self.rbac_epoch.fetch_add(1, Ordering::Release);
        }
        let owners = owner_uids(&obj);
        let obj = Arc::new(Stored::new(obj));
        let old = self
            .objects
            .entry(key.clone())
            .or_default()
            .insert(id.clone(), obj.clone());
        let old_owners = old
            .as_deref()
            .map(|o| owner_uids(&o.object))
            .unwrap_or_default();
        self.index_owners(key, &id, old_owners, owners);
        (obj, old)
    }

    /// Drops an object, keeping the owner index current.
    fn take(&mut self, key: &TypeKey, id: &(String, String)) -> Option<Arc<Stored>> {
        let old = self.objects.get_mut(key)?.remove(id)?;
        if key.0 == crate::rbac::GROUP {
            self.rbac_epoch.fetch_add(1, Ordering::Release);
        }
        self.index_owners(key, id, owner_uids(&old.object), Vec::new());
        Some(old)
    }

    fn index_owners(
        &mut self,
        key: &TypeKey,
        id: &(String, String),
        old: Vec<String>,
        new: Vec<String>,
    ) {
        if old == new {
            return;
        }
        let entry = (key.clone(), id.0.clone(), id.1.clone());
        for uid in old {
            if let Some(set) = self.dependents.get_mut(&uid) {
                set.remove(&entry);
                if set.is_empty() {
                    self.dependents.remove(&uid);
                }
            }
        }
        for uid in new {
            self.dependents
                .entry(uid)
                .or_default()
                .insert(entry.clone());
        }
    }

    /// Background garbage collection: dependents whose owners are all gone are deleted.
    fn collect_garbage(&mut self, owner_uid: &str) {
        if owner_uid.is_empty() {
            return;
        }
        let doomed: Vec<(TypeKey, String, String)> = self
            .dependents
            .get(owner_uid)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default();
        for (key, ns, name) in doomed {
            let _ = self.delete(&key, &ns, &name, false);
        }
    }

    /// A new Service's cluster IP (and node ports), allocated as the Service registry does:
    /// the next free address of the range unless one is asked for (taken, or outside the
    /// range: 422).
    fn allocate_service_addresses(&self, service: &mut Value) -> Result<(), ApiError> {
        let key: TypeKey = ("".into(), "services".into());
        let services = || self.objects.get(&key).into_iter().flat_map(|m| m.values());
        let ips: BTreeSet<String> = services()
            .filter_map(|s| {
                s.object
                    .pointer("/spec/clusterIP")?
                    .as_str()
                    .map(String::from)
            })
            .collect();
        let node_ports: BTreeSet<i64> = services()
            .flat_map(|s| {
                s.object
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
            })
            .collect();
        cluster_ips::allocate(service, &ips, &node_ports).map_err(|m| {
            let name = service
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            ApiError::new(
                422,
                "Invalid",
                format!("Service \"{name}\" is invalid: {m}"),
            )
        })
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

/// A create that passed admission, to be stored with [`Store::commit_create`].
pub struct AdmittedCreate {
    rt: Arc<ResourceType>,
    ns: String,
    name: String,
    obj: Value,
    now: String,
}

/// The part of a create that needs no other object: naming, defaults, field ownership and
/// validation (the schema and its CEL rules, the costly part of a write). It runs outside the
/// store's lock, so writes are validated in parallel.
pub fn admit_create(
    rt: Arc<ResourceType>,
    ns: &str,
    mut obj: Value,
    ownership: Ownership<'_>,
) -> Result<AdmittedCreate, ApiError> {
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
    if rt.status_subresource
        && rt.schema.is_some()
        && let Some(o) = obj.as_object_mut()
    {
        o.remove("status");
    }
    if let Some(kind) = rt.builtin {
        kind.on_create(&mut obj);
    }
    if rt.group.is_empty() && rt.plural == "namespaces" {
        // As the namespace strategy does on create.
        obj["status"] = json!({"phase": "Active"});
        if obj.pointer("/spec/finalizers").is_none() {
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
        }
        obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
    }
    let now = now();
    if let Ownership::Update(manager) = ownership {
        let writer = Writer {
            manager,
            subresource: None,
            api_version: &rt.api_version(),
            now: &now,
        };
        managed_fields::record_update(None, &mut obj, &writer);
    }
    admit(&rt, &mut obj, None)?;
    Ok(AdmittedCreate {
        rt,
        ns,
        name,
        obj,
        now,
    })
}

fn admit(rt: &ResourceType, obj: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
    if let Some(kind) = rt.builtin {
        // What the apiserver's decoder refuses, before anything else looks at the object.
        if let Some(error) = kind.decode_error(obj) {
            return Err(ApiError::bad_request(cannot_be_handled(rt, &error)));
        }
    }
    if rt.plural == "customresourcedefinitions" && rt.group == "apiextensions.k8s.io" {
        return crd_type(obj).map(|_| ());
    }
    if rt.plural == "secrets" && rt.group.is_empty() {
        fold_string_data(obj);
    }
    let Some(schema) = &rt.schema else {
        return Ok(());
    };
    schema.prune_and_default(obj);
    if let Some(kind) = rt.builtin {
        kind.default(obj);
        kind.omit_empty(obj);
    }
    let mut errors = schema.validate(obj, old);
    if let Some(kind) = rt.builtin {
        // The schema's required fields and the kind's own rules can name the same field.
        for e in kind.validate(obj, old) {
            if !errors.contains(&e) {
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let what = if rt.group.is_empty() {
        format!("{} \"{name}\"", rt.kind)
    } else {
        format!("{}.{} \"{name}\"", rt.kind, rt.group)
    };
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
        details: Some(json!({"name": name, "group": rt.group, "kind": rt.kind, "causes": causes})),
        ..ApiError::new(422, "Invalid", message)
    })
}

/// kube-apiserver's words for a body it cannot decode as the kind.
pub fn cannot_be_handled(rt: &ResourceType, why: &str) -> String {
    format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: {why}",
        kind = rt.kind,
        version = rt.version,
    )
}

/// A Secret's write-only `stringData` merged into `data` (base64), its keys winning, and
/// dropped, as kube-apiserver stores Secrets.
fn fold_string_data(obj: &mut Value) {
    use base64::Engine as _;
    let Some(Value::Object(strings)) = obj.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    if !obj.get("data").is_some_and(Value::is_object) {
        obj["data"] = json!({});
    }
    for (k, v) in strings {
        if let Some(v) = v.as_str() {
            obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(v));
        }
    }
}

/// An events.k8s.io/v1 Event in its core/v1 form.
fn core_event(event: &Value) -> Value {
    let mut core =
        json!({"apiVersion": "v1", "kind": "Event", "metadata": event["metadata"].clone()});
    for (from, to) in [
        ("regarding", "involvedObject"),
        ("related", "related"),
        ("note", "message"),
        ("reason", "reason"),
        ("type", "type"),
        ("action", "action"),
        ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("eventTime", "eventTime"),
        ("series", "series"),
    ] {
        if let Some(v) = event.get(from).filter(|v| !v.is_null()) {
            core[to] = v.clone();
        }
    }
    if core.get("involvedObject").is_none() {
        core["involvedObject"] = json!({});
    }
    core
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
        create_only: false,
        builtin: None,
        generation: Generation::Spec,
    })
}
