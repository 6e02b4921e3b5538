//! Authorization as kube-apiserver's RBAC authorizer does it.
//!
//! - A request's [`Attributes`] come from its path, method and query as kube-apiserver's
//!   RequestInfoFactory derives them (verbs `get`/`list`/`watch`/`create`/`update`/`patch`/
//!   `delete`/`deletecollection`, a list or watch with `fieldSelector=metadata.name=X` names X,
//!   `namespaces/X` is in namespace X, non-resource paths get the lower-cased method).
//! - Members of `system:masters` may do anything (kube-apiserver's privileged-group
//!   authorizer, which runs before RBAC). Everyone else gets what their bindings grant: the
//!   ClusterRoleBindings, and in a namespace that namespace's RoleBindings, whose subjects name
//!   the user, one of its groups or (for a ServiceAccount) it; rules match as
//!   `k8s.io/kubernetes/pkg/apis/rbac/v1` matches them (`*`, `*/subresource`, resourceNames,
//!   nonResourceURLs with a trailing `*`).
//! - ClusterRoles with an `aggregationRule` get the rules of every ClusterRole its selectors
//!   match, written into the object as the clusterrole-aggregation controller writes them.
//! - Writing a Role, ClusterRole or binding cannot grant what the writer does not hold
//!   (escalation prevention) unless it may `escalate` the role or `bind` the referenced role.
//! - The bootstrap policy: `cluster-admin` (bound to `system:masters`), `admin`/`edit`/`view`
//!   with their aggregation, `system:discovery`, `system:basic-user` and
//!   `system:public-info-viewer` bound as kube-apiserver binds them
//!   (`bootstrap_rbac.yaml`).

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{MASTERS, UserInfo};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{ApiError, Ownership, Store};

/// The RBAC API group.
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// What a request asks to do, as the authorizer sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// The verb.
    pub verb: String,
    /// Whether the request is for a resource (else a non-resource path).
    pub resource_request: bool,
    /// API group.
    pub group: String,
    /// Resource (plural).
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// Namespace ("" when cluster-scoped).
    pub namespace: String,
    /// The object's name, if the request names one.
    pub name: String,
    /// The path of a non-resource request.
    pub path: String,
}

impl Attributes {
    /// A resource request.
    pub fn resource(
        verb: &str,
        group: &str,
        resource: &str,
        subresource: &str,
        namespace: &str,
        name: &str,
    ) -> Self {
        Attributes {
            verb: verb.into(),
            resource_request: true,
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    /// An `impersonate` check.
    pub fn impersonate(
        group: &str,
        resource: &str,
        subresource: &str,
        namespace: &str,
        name: &str,
    ) -> Self {
        Attributes::resource("impersonate", group, resource, subresource, namespace, name)
    }

    /// A non-resource request.
    pub fn non_resource(verb: &str, path: &str) -> Self {
        Attributes {
            verb: verb.into(),
            path: path.into(),
            ..Attributes::default()
        }
    }

    /// The attributes of an HTTP request, as kube-apiserver's RequestInfoFactory derives them.
    pub fn of_request(method: &str, path: &str, params: &[(String, String)]) -> Self {
        let verb = match method {
            "POST" => "create",
            "GET" | "HEAD" => "get",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            other => return Attributes::non_resource(&other.to_ascii_lowercase(), path),
        };
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (group, rest) = match segs.as_slice() {
            ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
            ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
            _ => return Attributes::non_resource(&method.to_ascii_lowercase(), path),
        };
        let mut attrs = Attributes {
            verb: verb.into(),
            resource_request: true,
            group: group.into(),
            ..Attributes::default()
        };
        let mut parts = rest;
        if parts[0] == "namespaces" && parts.len() > 1 {
            attrs.namespace = parts[1].to_string();
            if parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
                parts = &parts[2..];
            }
        }
        attrs.resource = parts[0].to_string();
        if let Some(name) = parts.get(1) {
            attrs.name = name.to_string();
        }
        if let Some(sub) = parts.get(2) {
            attrs.subresource = sub.to_string();
        }
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if attrs.name.is_empty() && attrs.verb == "get" {
            attrs.verb = if matches!(param("watch"), Some("true" | "1")) {
                "watch".into()
            } else {
                "list".into()
            };
            if let Some(name) = param("fieldSelector").and_then(exact_name) {
                attrs.name = name;
            }
        }
        if attrs.name.is_empty() && attrs.verb == "delete" {
            attrs.verb = "deletecollection".into();
        }
        attrs
    }

    /// What kube-apiserver's Forbidden message says was refused.
    fn refused(&self, user: &str) -> String {
        if !self.resource_request {
            return format!("User {user:?} cannot {} path {:?}", self.verb, self.path);
        }
        let mut resource = self.resource.clone();
        if !self.subresource.is_empty() {
            resource = format!("{resource}/{}", self.subresource);
        }
        if self.namespace.is_empty() {
            format!(
                "User {user:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
                self.verb, self.group
            )
        } else {
            format!(
                "User {user:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
                self.verb, self.group, self.namespace
            )
        }
    }

    /// `resource` or `resource.group`, as an error names it.
    fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

/// The name a field selector requires (`metadata.name=X`), if it is a valid path segment.
fn exact_name(selector: &str) -> Option<String> {
    FieldSelector::parse(selector)?
        .exact("metadata.name")
        .filter(|n| !n.is_empty() && !n.contains('/') && *n != "." && *n != "..")
        .map(str::to_string)
}

/// A 403 as kube-apiserver writes it.
pub fn forbidden(user: &UserInfo, attrs: &Attributes, reason: &str) -> ApiError {
    let mut message = if attrs.resource_request {
        let what = attrs.qualified_resource();
        if attrs.name.is_empty() {
            format!("{what} is forbidden: {}", attrs.refused(&user.name))
        } else {
            format!(
                "{what} {:?} is forbidden: {}",
                attrs.name,
                attrs.refused(&user.name)
            )
        }
    } else {
        format!("forbidden: {}", attrs.refused(&user.name))
    };
    if !reason.is_empty() {
        let _ = write!(message, ": {reason}");
    }
    let details = attrs.resource_request.then(|| {
        let mut d = json!({"kind": attrs.resource});
        if !attrs.name.is_empty() {
            d["name"] = json!(attrs.name);
        }
        if !attrs.group.is_empty() {
            d["group"] = json!(attrs.group);
        }
        d
    });
    ApiError {
        code: 403,
        reason: "Forbidden",
        message,
        details,
    }
}

/// A PolicyRule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase", default)]
pub struct Rule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// API groups.
    pub api_groups: Vec<String>,
    /// Resources (`plural`, `plural/sub`, `*`, `*/sub`).
    pub resources: Vec<String>,
    /// Resource names (empty: all).
    pub resource_names: Vec<String>,
    /// Non-resource URLs (a trailing `*` is a prefix).
    #[serde(rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

fn has(set: &[String], v: &str) -> bool {
    set.iter().any(|s| s == v)
}

impl Rule {
    fn to_json(&self) -> Value {
        let mut v = json!({"verbs": self.verbs});
        let mut put = |k: &str, xs: &Vec<String>| {
            if !xs.is_empty() {
                v[k] = json!(xs);
            }
        };
        put("apiGroups", &self.api_groups);
        put("resources", &self.resources);
        put("resourceNames", &self.resource_names);
        put("nonResourceURLs", &self.non_resource_urls);
        v
    }

    /// Whether the rule allows the request (`RuleAllows`).
    pub fn allows(&self, a: &Attributes) -> bool {
        let verb = has(&self.verbs, "*") || has(&self.verbs, &a.verb);
        if !verb {
            return false;
        }
        if !a.resource_request {
            return self.non_resource_urls.iter().any(|u| {
                u == "*"
                    || *u == a.path
                    || u.strip_suffix('*').is_some_and(|p| a.path.starts_with(p))
            });
        }
        let group = has(&self.api_groups, "*") || has(&self.api_groups, &a.group);
        let combined = if a.subresource.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        let resource = self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || (!a.subresource.is_empty()
                    && r.strip_prefix("*/") == Some(a.subresource.as_str()))
        });
        let name = self.resource_names.is_empty() || has(&self.resource_names, &a.name);
        group && resource && name
    }

    /// The rule broken into rules of one verb, group, resource and name (or URL), as
    /// kube-apiserver breaks them down to compare them.
    fn atoms(&self) -> Vec<Rule> {
        let mut out = Vec::new();
        for verb in &self.verbs {
            for url in &self.non_resource_urls {
                out.push(Rule {
                    verbs: vec![verb.clone()],
                    non_resource_urls: vec![url.clone()],
                    ..Rule::default()
                });
            }
            for group in &self.api_groups {
                for resource in &self.resources {
                    let one = |names: Vec<String>| Rule {
                        verbs: vec![verb.clone()],
                        api_groups: vec![group.clone()],
                        resources: vec![resource.clone()],
                        resource_names: names,
                        ..Rule::default()
                    };
                    if self.resource_names.is_empty() {
                        out.push(one(Vec::new()));
                    } else {
                        for name in &self.resource_names {
                            out.push(one(vec![name.clone()]));
                        }
                    }
                }
            }
        }
        out
    }

    /// Whether this rule covers `atom` (one of [`Rule::atoms`]): kube-apiserver's `ruleCovers`.
    fn covers(&self, atom: &Rule) -> bool {
        let all = |set: &[String], xs: &[String]| has(set, "*") || xs.iter().all(|x| has(set, x));
        if !all(&self.verbs, &atom.verbs) {
            return false;
        }
        if !atom.non_resource_urls.is_empty() {
            return atom.non_resource_urls.iter().all(|u| {
                self.non_resource_urls.iter().any(|o| {
                    o == "*" || o == u || o.strip_suffix('*').is_some_and(|p| u.starts_with(p))
                })
            });
        }
        let resources = has(&self.resources, "*")
            || atom.resources.iter().all(|r| {
                has(&self.resources, r)
                    || r.split_once('/')
                        .is_some_and(|(_, sub)| has(&self.resources, &format!("*/{sub}")))
            });
        let names = self.resource_names.is_empty()
            || (!atom.resource_names.is_empty()
                && atom
                    .resource_names
                    .iter()
                    .all(|n| has(&self.resource_names, n)));
        all(&self.api_groups, &atom.api_groups) && resources && names
    }

    fn describe(&self) -> String {
        let list = |xs: &[String]| {
            xs.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if !self.non_resource_urls.is_empty() {
            return format!(
                "{{NonResourceURLs:[{}], Verbs:[{}]}}",
                list(&self.non_resource_urls),
                list(&self.verbs)
            );
        }
        let mut s = format!(
            "{{APIGroups:[{}], Resources:[{}]",
            list(&self.api_groups),
            list(&self.resources)
        );
        if !self.resource_names.is_empty() {
            let _ = write!(s, ", ResourceNames:[{}]", list(&self.resource_names));
        }
        let _ = write!(s, ", Verbs:[{}]}}", list(&self.verbs));
        s
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subject {
    kind: String,
    name: String,
    #[serde(default)]
    namespace: String,
}

impl Subject {
    fn names(&self, user: &UserInfo, binding_namespace: &str) -> bool {
        match self.kind.as_str() {
            "User" => self.name == user.name,
            "Group" => user.in_group(&self.name),
            "ServiceAccount" => {
                let ns = if self.namespace.is_empty() {
                    binding_namespace
                } else {
                    &self.namespace
                };
                user.name == format!("system:serviceaccount:{ns}:{}", self.name)
            }
            _ => false,
        }
    }

    fn describe(&self) -> String {
        if self.kind == "ServiceAccount" {
            format!("ServiceAccount \"{}/{}\"", self.namespace, self.name)
        } else {
            format!("{} {:?}", self.kind, self.name)
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleRef {
    kind: String,
    name: String,
}

#[derive(Debug, Clone)]
struct Binding {
    kind: &'static str,
    name: String,
    namespace: String,
    role: RoleRef,
    subjects: Vec<Subject>,
}

/// The RBAC objects, indexed for authorizing.
#[derive(Debug, Default)]
pub struct Policy {
    cluster_roles: HashMap<String, Vec<Rule>>,
    roles: HashMap<(String, String), Vec<Rule>>,
    cluster_bindings: Vec<Binding>,
    role_bindings: HashMap<String, Vec<Binding>>,
}

/// Whether a request is allowed, and why (kube-apiserver's decision reason).
#[derive(Debug, Clone)]
pub struct Decision {
    /// Allowed.
    pub allowed: bool,
    /// Why, or the RBAC errors met on the way ("" if none).
    pub reason: String,
}

fn key(group: &str, plural: &str) -> (String, String) {
    (group.to_string(), plural.to_string())
}

fn rules_of(obj: &Value) -> Vec<Rule> {
    obj.get("rules")
        .cloned()
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default()
}

fn binding_of(kind: &'static str, obj: &Value) -> Option<Binding> {
    Some(Binding {
        kind,
        name: obj.pointer("/metadata/name")?.as_str()?.to_string(),
        namespace: obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        role: serde_json::from_value(obj.get("roleRef")?.clone()).ok()?,
        subjects: obj
            .get("subjects")
            .cloned()
            .and_then(|s| serde_json::from_value(s).ok())
            .unwrap_or_default(),
    })
}

fn name_of(obj: &Value) -> String {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl Policy {
    /// The policy the store holds now.
    pub fn load(store: &Store) -> Policy {
        let mut p = Policy::default();
        for obj in store.list(&key(GROUP, "clusterroles"), "") {
            p.cluster_roles.insert(name_of(&obj), rules_of(&obj));
        }
        for obj in store.list(&key(GROUP, "roles"), "") {
            let ns = obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            p.roles.insert((ns, name_of(&obj)), rules_of(&obj));
        }
        for obj in store.list(&key(GROUP, "clusterrolebindings"), "") {
            if let Some(b) = binding_of("ClusterRoleBinding", &obj) {
                p.cluster_bindings.push(b);
            }
        }
        for obj in store.list(&key(GROUP, "rolebindings"), "") {
            if let Some(b) = binding_of("RoleBinding", &obj) {
                p.role_bindings
                    .entry(b.namespace.clone())
                    .or_default()
                    .push(b);
            }
        }
        p
    }

    fn role_rules(&self, binding: &Binding) -> Result<&[Rule], String> {
        match binding.role.kind.as_str() {
            "ClusterRole" => self
                .cluster_roles
                .get(&binding.role.name)
                .map(Vec::as_slice)
                .ok_or_else(|| {
                    format!(
                        "clusterrole.rbac.authorization.k8s.io {:?} not found",
                        binding.role.name
                    )
                }),
            "Role" if binding.kind == "RoleBinding" => self
                .roles
                .get(&(binding.namespace.clone(), binding.role.name.clone()))
                .map(Vec::as_slice)
                .ok_or_else(|| {
                    format!(
                        "role.rbac.authorization.k8s.io {:?} not found",
                        binding.role.name
                    )
                }),
            other => Err(format!("unknown roleRef kind {other:?}")),
        }
    }

    /// Each binding (cluster-wide, then `namespace`'s) naming `user`, with the subject that
    /// names it.
    fn bindings_for<'a>(
        &'a self,
        user: &'a UserInfo,
        namespace: &'a str,
    ) -> impl Iterator<Item = (&'a Binding, &'a Subject)> + 'a {
        let local = (!namespace.is_empty())
            .then(|| self.role_bindings.get(namespace))
            .flatten();
        self.cluster_bindings
            .iter()
            .chain(local.into_iter().flatten())
            .filter_map(move |b| {
                b.subjects
                    .iter()
                    .find(|s| s.names(user, &b.namespace))
                    .map(|s| (b, s))
            })
    }

    /// Whether `user` may do `attrs`.
    pub fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Decision {
        if user.in_group(MASTERS) {
            return Decision {
                allowed: true,
                reason: String::new(),
            };
        }
        let mut errors = Vec::new();
        for (binding, subject) in self.bindings_for(user, &attrs.namespace) {
            match self.role_rules(binding) {
                Ok(rules) => {
                    if rules.iter().any(|r| r.allows(attrs)) {
                        let scope = if binding.kind == "RoleBinding" {
                            format!(" in namespace {:?}", binding.namespace)
                        } else {
                            String::new()
                        };
                        return Decision {
                            allowed: true,
                            reason: format!(
                                "RBAC: allowed by {} \"{}\" of {} {:?} to {}{scope}",
                                binding.kind,
                                if binding.kind == "RoleBinding" {
                                    format!("{}/{}", binding.namespace, binding.name)
                                } else {
                                    binding.name.clone()
                                },
                                binding.role.kind,
                                binding.role.name,
                                subject.describe()
                            ),
                        };
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        Decision {
            allowed: false,
            reason: if errors.is_empty() {
                String::new()
            } else {
                format!("RBAC: [{}]", errors.join(", "))
            },
        }
    }

    /// Every rule `user` holds in `namespace` ("" = cluster-wide only), and errors met.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<Rule>, Vec<String>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (binding, _) in self.bindings_for(user, namespace) {
            match self.role_rules(binding) {
                Ok(r) => rules.extend(r.iter().cloned()),
                Err(e) => errors.push(e),
            }
        }
        (rules, errors)
    }

    /// The rules of `atoms` that `user` does not hold in `namespace`.
    fn not_held(&self, user: &UserInfo, namespace: &str, wanted: &[Rule]) -> Vec<Rule> {
        if user.in_group(MASTERS) {
            return Vec::new();
        }
        let (held, _) = self.rules_for(user, namespace);
        let mut missing: Vec<Rule> = Vec::new();
        for atom in wanted.iter().flat_map(Rule::atoms) {
            if !held.iter().any(|h| h.covers(&atom)) && !missing.contains(&atom) {
                missing.push(atom);
            }
        }
        missing
    }

    /// Escalation prevention for a Role, ClusterRole, RoleBinding or ClusterRoleBinding that
    /// `user` is about to store (`obj`, the object as it would be stored).
    pub fn check_write(
        &self,
        user: &UserInfo,
        resource: &str,
        obj: &Value,
    ) -> Result<(), ApiError> {
        if user.in_group(MASTERS) {
            return Ok(());
        }
        let name = name_of(obj);
        let namespace = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let refuse = |message: String| ApiError {
            code: 403,
            reason: "Forbidden",
            message: format!("{resource}.{GROUP} {name:?} is forbidden: {message}"),
            details: Some(json!({"name": name, "group": GROUP, "kind": resource})),
        };
        let not_held = |rules: &[Rule]| {
            let missing = self.not_held(user, &namespace, rules);
            if missing.is_empty() {
                return None;
            }
            let groups = user
                .groups
                .iter()
                .map(|g| format!("{g:?}"))
                .collect::<Vec<_>>()
                .join(" ");
            Some(format!(
                "user {:?} (groups=[{groups}]) is attempting to grant RBAC permissions not currently held:\n{}",
                user.name,
                missing
                    .iter()
                    .map(Rule::describe)
                    .collect::<Vec<_>>()
                    .join("\n")
            ))
        };
        match resource {
            "roles" | "clusterroles" => {
                let may_escalate = self
                    .authorize(
                        user,
                        &Attributes::resource("escalate", GROUP, resource, "", &namespace, &name),
                    )
                    .allowed;
                if may_escalate {
                    return Ok(());
                }
                if resource == "clusterroles"
                    && obj.get("aggregationRule").is_some_and(|a| !a.is_null())
                {
                    let all = Rule {
                        verbs: vec!["*".into()],
                        api_groups: vec!["*".into()],
                        resources: vec!["*".into()],
                        ..Rule::default()
                    };
                    if !self.not_held(user, "", &[all]).is_empty() {
                        return Err(refuse(
                            "must have cluster-admin privileges to use the aggregationRule".into(),
                        ));
                    }
                }
                match not_held(&rules_of(obj)) {
                    Some(m) => Err(refuse(m)),
                    None => Ok(()),
                }
            }
            "rolebindings" | "clusterrolebindings" => {
                let Some(role) = obj
                    .get("roleRef")
                    .cloned()
                    .and_then(|r| serde_json::from_value::<RoleRef>(r).ok())
                else {
                    return Ok(());
                };
                let (role_resource, role_namespace) = match role.kind.as_str() {
                    "Role" => ("roles", namespace.as_str()),
                    _ => ("clusterroles", ""),
                };
                let may_bind = self
                    .authorize(
                        user,
                        &Attributes::resource(
                            "bind",
                            GROUP,
                            role_resource,
                            "",
                            role_namespace,
                            &role.name,
                        ),
                    )
                    .allowed;
                if may_bind {
                    return Ok(());
                }
                let binding = Binding {
                    kind: if resource == "rolebindings" {
                        "RoleBinding"
                    } else {
                        "ClusterRoleBinding"
                    },
                    name: name.clone(),
                    namespace: namespace.clone(),
                    role,
                    subjects: Vec::new(),
                };
                let rules = self
                    .role_rules(&binding)
                    .map_err(|e| refuse(e.to_string()))?;
                match not_held(rules) {
                    Some(m) => Err(refuse(m)),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

/// A binding's `roleRef` is immutable, as kube-apiserver's validation says.
pub fn check_role_ref(kind: &str, old: Option<&Value>, new: &Value) -> Result<(), ApiError> {
    let (Some(old), Some(new_ref)) = (old, new.get("roleRef")) else {
        return Ok(());
    };
    if old.get("roleRef") == Some(new_ref) {
        return Ok(());
    }
    let s = |k: &str| new_ref.get(k).and_then(Value::as_str).unwrap_or_default();
    let name = name_of(new);
    Err(ApiError {
        code: 422,
        reason: "Invalid",
        message: format!(
            "{kind}.{GROUP} {name:?} is invalid: roleRef: Invalid value: rbac.RoleRef{{APIGroup:{:?}, Kind:{:?}, Name:{:?}}}: cannot change roleRef",
            s("apiGroup"),
            s("kind"),
            s("name")
        ),
        details: Some(
            json!({"name": name, "group": GROUP, "kind": kind, "causes": [{"reason": "FieldValueInvalid", "message": "Invalid value: cannot change roleRef", "field": "roleRef"}]}),
        ),
    })
}

/// `SelfSubjectRulesReview`'s status for `user` in `namespace`.
pub fn rules_review(policy: &Policy, user: &UserInfo, namespace: &str) -> Value {
    let (rules, errors) = policy.rules_for(user, namespace);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in rules {
        if !seen.insert(r.clone()) {
            continue;
        }
        if r.non_resource_urls.is_empty() {
            let mut v = r.to_json();
            v["apiGroups"] = json!(r.api_groups);
            v["resources"] = json!(r.resources);
            resource_rules.push(v);
        } else {
            non_resource_rules
                .push(json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}));
        }
    }
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": !errors.is_empty(),
    });
    if !errors.is_empty() {
        status["evaluationError"] = json!(errors.join(", "));
    }
    status
}

/// The bootstrap policy, created at start.
const BOOTSTRAP: &str = include_str!("bootstrap_rbac.yaml");

/// Creates the bootstrap roles and bindings, and aggregates.
pub fn bootstrap(store: &mut Store) {
    for doc in serde_yaml::Deserializer::from_str(BOOTSTRAP) {
        let Ok(obj) = Value::deserialize(doc) else {
            continue;
        };
        let plural = match obj.get("kind").and_then(Value::as_str) {
            Some("ClusterRole") => "clusterroles",
            Some("ClusterRoleBinding") => "clusterrolebindings",
            _ => continue,
        };
        let _ = store.create(
            &key(GROUP, plural),
            "",
            obj,
            Ownership::Update("kube-apiserver"),
        );
    }
    aggregate(store);
}

/// The clusterrole-aggregation controller: every ClusterRole with an `aggregationRule` gets
/// the rules of the ClusterRoles its selectors match (in name order, duplicates dropped),
/// written only when they change. Aggregated roles can themselves be aggregated (`view` into
/// `edit` into `admin`), so this repeats until nothing changes.
pub fn aggregate(store: &mut Store) {
    let k = key(GROUP, "clusterroles");
    for _ in 0..8 {
        let roles = store.list(&k, "");
        let mut changed = false;
        for role in &roles {
            let Some(selectors) = role
                .pointer("/aggregationRule/clusterRoleSelectors")
                .and_then(Value::as_array)
            else {
                continue;
            };
            let selectors: Vec<LabelSelector> = selectors
                .iter()
                .filter_map(LabelSelector::from_object)
                .collect();
            let me = name_of(role);
            let mut rules: Vec<Value> = Vec::new();
            let mut sources: Vec<&Value> = roles
                .iter()
                .filter(|r| name_of(r) != me && selectors.iter().any(|s| s.matches(r)))
                .collect();
            sources.sort_by_key(|r| name_of(r));
            for source in sources {
                for rule in source
                    .get("rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if !rules.contains(rule) {
                        rules.push(rule.clone());
                    }
                }
            }
            if role.get("rules").cloned().unwrap_or(json!([])) == json!(rules) {
                continue;
            }
            let mut updated = role.clone();
            updated["rules"] = json!(rules);
            if store
                .update(
                    &k,
                    "",
                    &me,
                    updated,
                    false,
                    Ownership::Update("clusterrole-aggregation-controller"),
                    false,
                )
                .is_ok()
            {
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(method: &str, path: &str, query: &[(&str, &str)]) -> Attributes {
        let params: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Attributes::of_request(method, path, &params)
    }

    #[test]
    fn request_attributes_follow_kube_apiserver() {
        let a = attrs("GET", "/api/v1/namespaces/team-a/secrets", &[]);
        assert_eq!(
            (a.verb.as_str(), a.resource.as_str(), a.namespace.as_str()),
            ("list", "secrets", "team-a")
        );
        let a = attrs(
            "GET",
            "/api/v1/namespaces/team-a/secrets",
            &[("watch", "true"), ("fieldSelector", "metadata.name=s1")],
        );
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "s1"));
        let a = attrs(
            "GET",
            "/api/v1/namespaces/team-a/secrets",
            &[("fieldSelector", "type!=Opaque,metadata.name=s2")],
        );
        assert_eq!(
            a.name, "s2",
            "another field's != term does not hide the name"
        );
        let a = attrs(
            "POST",
            "/api/v1/namespaces/team-a/serviceaccounts/app/token",
            &[],
        );
        assert_eq!(
            (
                a.verb.as_str(),
                a.resource.as_str(),
                a.subresource.as_str(),
                a.name.as_str()
            ),
            ("create", "serviceaccounts", "token", "app")
        );
        let a = attrs("GET", "/api/v1/namespaces/team-a", &[]);
        assert_eq!(
            (
                a.verb.as_str(),
                a.resource.as_str(),
                a.namespace.as_str(),
                a.name.as_str()
            ),
            ("get", "namespaces", "team-a", "team-a")
        );
        let a = attrs("PUT", "/api/v1/namespaces/team-a/finalize", &[]);
        assert_eq!(
            (a.resource.as_str(), a.subresource.as_str()),
            ("namespaces", "finalize")
        );
        let a = attrs(
            "DELETE",
            "/apis/azop.dev/v1alpha1/namespaces/x/keyvaults",
            &[],
        );
        assert_eq!(
            (a.verb.as_str(), a.group.as_str()),
            ("deletecollection", "azop.dev")
        );
        let a = attrs("GET", "/apis/azop.dev/v1alpha1", &[]);
        assert!(!a.resource_request);
        assert_eq!(a.path, "/apis/azop.dev/v1alpha1");
    }

    #[test]
    fn rules_match_as_rbac_matches_them() {
        let rule = Rule {
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec!["".into()],
            resources: vec!["secrets".into(), "*/status".into()],
            resource_names: vec![],
            non_resource_urls: vec![],
        };
        assert!(rule.allows(&Attributes::resource("get", "", "secrets", "", "a", "s")));
        assert!(!rule.allows(&Attributes::resource("watch", "", "secrets", "", "a", "s")));
        assert!(!rule.allows(&Attributes::resource(
            "get", "apps", "secrets", "", "a", "s"
        )));
        assert!(rule.allows(&Attributes::resource("get", "", "pods", "status", "a", "p")));
        assert!(!rule.allows(&Attributes::resource(
            "get", "", "secrets", "data", "a", "p"
        )));
        let named = Rule {
            resource_names: vec!["only".into()],
            ..rule.clone()
        };
        assert!(named.allows(&Attributes::resource("get", "", "secrets", "", "a", "only")));
        assert!(!named.allows(&Attributes::resource("list", "", "secrets", "", "a", "")));
        let urls = Rule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/apis/*".into(), "/version".into()],
            ..Rule::default()
        };
        assert!(urls.allows(&Attributes::non_resource("get", "/apis/azop.dev")));
        assert!(urls.allows(&Attributes::non_resource("get", "/version")));
        assert!(!urls.allows(&Attributes::non_resource("get", "/version/x")));
    }

    #[test]
    fn covering_needs_every_atom() {
        let owner = Rule {
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec!["".into()],
            resources: vec!["configmaps".into()],
            ..Rule::default()
        };
        let wanted = Rule {
            verbs: vec!["get".into(), "delete".into()],
            ..owner.clone()
        };
        let atoms = wanted.atoms();
        assert_eq!(atoms.len(), 2);
        assert!(owner.covers(&atoms[0]));
        assert!(!owner.covers(&atoms[1]));
        let star = Rule {
            verbs: vec!["*".into()],
            ..owner.clone()
        };
        assert!(
            !owner.covers(&star.atoms()[0]),
            "a wildcard is only covered by a wildcard"
        );
    }
}
