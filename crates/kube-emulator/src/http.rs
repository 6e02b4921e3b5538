//! The HTTP face of the store: discovery, CRUD, patches, list and watch, the Table format.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::auth::{Authenticator, Impersonation, MASTERS, Peer, UserInfo};
use crate::builtin::catalog;
use crate::builtin::printers::age;
use crate::managed_fields::{self, Writer};
use crate::negotiation::{Encoding, negotiate, negotiate_openapi_v2};
use crate::rbac::{self, Attributes, Policy};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{
    ApiError, Ownership, ResourceType, Store, TypeKey, WatchEvent, admit_create, cannot_be_handled,
    merge_patch,
};
use crate::stored::Stored;
use crate::tokens::Signer;
use crate::{openapi_v2, protobuf};

/// What every request handler shares.
pub struct Shared {
    /// The objects.
    pub store: Mutex<Store>,
    /// Signs ServiceAccount tokens.
    pub signer: Signer,
    /// The issuer URL (this server's base URL).
    pub issuer: String,
    /// Who requests come from.
    pub authn: Authenticator,
    /// RBAC (`true`) or AlwaysAllow.
    pub rbac: bool,
    /// The RBAC policy, loaded again when the store's RBAC epoch moves.
    pub policy: Mutex<Option<(u64, Arc<Policy>)>>,
    /// The store's RBAC epoch ([`Store::rbac_epoch`]).
    pub rbac_epoch: Arc<std::sync::atomic::AtomicU64>,
    /// Faults a test injects ([`crate::Faults`]).
    pub faults: FaultState,
    /// Requests served, by user, verb and resource ([`crate::KubeEmulator::request_counts`]).
    pub requests: Mutex<std::collections::HashMap<(String, String, String), u64>>,
}

/// What a test made the API server do wrong.
pub struct FaultState {
    /// Bumped to end every open watch stream.
    pub cut: tokio::sync::watch::Sender<u64>,
    /// While set, every request is answered 503 and no watch stays open.
    pub unavailable: std::sync::atomic::AtomicBool,
    /// How many status writes are still to be answered 409 Conflict.
    pub status_conflicts: std::sync::atomic::AtomicU32,
    /// Lists (not watches, not single objects) of these resources, by plural, answered only
    /// after the delay.
    pub slow_lists: Mutex<std::collections::HashMap<String, std::time::Duration>>,
}

impl Default for FaultState {
    fn default() -> Self {
        FaultState {
            cut: tokio::sync::watch::channel(0).0,
            unavailable: Default::default(),
            status_conflicts: Default::default(),
            slow_lists: Default::default(),
        }
    }
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The RBAC policy the store holds now.
    fn policy(&self) -> Arc<Policy> {
        let epoch = self.rbac_epoch.load(std::sync::atomic::Ordering::Acquire);
        let cached = |cache: &Option<(u64, Arc<Policy>)>| {
            cache
                .as_ref()
                .filter(|(e, _)| *e == epoch)
                .map(|(_, p)| p.clone())
        };
        let lock = || {
            self.policy
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(p) = cached(&lock()) {
            return p;
        }
        // Loaded under the store's lock (taken first, as everywhere), so no write slips
        // between the epoch read there and the objects read.
        let store = self.store();
        let epoch = self.rbac_epoch.load(std::sync::atomic::Ordering::Acquire);
        let p = Arc::new(Policy::load(&store));
        *lock() = Some((epoch, p.clone()));
        p
    }

    /// Whether `user` may do `attrs`, and why.
    fn decide(&self, user: &UserInfo, attrs: &Attributes) -> rbac::Decision {
        if !self.rbac || user.in_group(MASTERS) {
            return rbac::Decision {
                allowed: true,
                reason: String::new(),
            };
        }
        self.policy().authorize(user, attrs)
    }

    /// `Ok` if `user` may do `attrs`, else kube-apiserver's 403.
    fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Result<(), ApiError> {
        let decision = self.decide(user, attrs);
        if decision.allowed {
            Ok(())
        } else {
            Err(rbac::forbidden(user, attrs, &decision.reason))
        }
    }

    /// The policy to check a write against, when `user` writes an RBAC object under RBAC and
    /// is not privileged.
    fn guards_escalation(&self, t: &Target, user: &UserInfo) -> Option<Arc<Policy>> {
        (self.rbac && !user.in_group(MASTERS) && t.key.0 == rbac::GROUP && t.sub.is_none())
            .then(|| self.policy())
    }

    /// Looks a ServiceAccount's uid up in the store, for token authentication.
    fn service_accounts(&self) -> impl Fn(&str, &str) -> Option<String> + '_ {
        move |ns, name| service_account_uid(&self.store(), ns, name)
    }

    /// Who sent the request, after impersonation (which it must be allowed).
    fn user(&self, headers: &HeaderMap, peer: &Peer) -> Result<UserInfo, ApiError> {
        let user =
            self.authn
                .authenticate(headers, peer, &self.signer, &self.service_accounts())?;
        let Some(imp) = Impersonation::from_headers(headers)? else {
            return Ok(user);
        };
        for check in imp.checks() {
            self.authorize(&user, &check)?;
        }
        Ok(imp.user())
    }
}

fn json_response(code: u16, body: &Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

/// `fieldValidation=Strict` (what kubectl sends by default): a field the CRD's schema does not
/// know is refused as kube-apiserver refuses it, instead of being pruned silently.
fn strict_fields(
    rt: &ResourceType,
    params: &[(String, String)],
    body: &Value,
) -> Result<(), ApiError> {
    // A value of the wrong type is refused first, whatever the validation asked for.
    if let Some(error) = rt.builtin.and_then(|k| k.decode_error(body)) {
        return Err(ApiError::bad_request(cannot_be_handled(rt, &error)));
    }
    if param(params, "fieldValidation") != Some("Strict") {
        return Ok(());
    }
    let Some(schema) = &rt.schema else {
        return Ok(());
    };
    let unknown = schema.unknown_fields(body);
    if unknown.is_empty() {
        return Ok(());
    }
    let fields: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    Err(ApiError::bad_request(cannot_be_handled(
        rt,
        &format!("strict decoding error: {}", fields.join(", ")),
    )))
}

/// The answer a fault the test injected gives instead of serving the request, if any.
fn injected_fault(shared: &Shared, method: &Method, segs: &[&str]) -> Option<ApiError> {
    use std::sync::atomic::Ordering;
    if shared.faults.unavailable.load(Ordering::SeqCst) {
        return Some(ApiError {
            code: 503,
            reason: "ServiceUnavailable",
            message: "the server is currently unable to handle the request".into(),
            details: None,
        });
    }
    let writes_status =
        matches!(*method, Method::PUT | Method::PATCH) && segs.last() == Some(&"status");
    if writes_status
        && shared
            .faults
            .status_conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        let name = segs.iter().rev().nth(1).copied().unwrap_or_default();
        return Some(ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {name}: the object has been modified; please apply your changes to the latest version and try again"
            ),
            details: None,
        });
    }
    None
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.code, &e.status())
}

fn bytes_response(code: u16, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    r
}

/// An object (which names its apiVersion and kind) in the negotiated encoding.
fn respond(encoding: Encoding, code: u16, object: &Value) -> Response {
    match encoding {
        Encoding::Json => json_response(code, object),
        Encoding::Protobuf => match protobuf::encode(object) {
            Ok(bytes) => bytes_response(code, protobuf::MEDIA_TYPE, bytes),
            Err(e) => respond_error(encoding, &e),
        },
    }
}

/// An error's Status in the negotiated encoding.
fn respond_error(encoding: Encoding, e: &ApiError) -> Response {
    match encoding {
        Encoding::Protobuf => match protobuf::encode(&e.status()) {
            Ok(bytes) => bytes_response(e.code, protobuf::MEDIA_TYPE, bytes),
            Err(_) => error_response(e),
        },
        Encoding::Json => error_response(e),
    }
}

fn query_params(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    out.push(b);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The single entry point.
pub async fn handle(
    shared: Arc<Shared>,
    peer: Peer,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/').to_string();
    let params = query_params(&uri);
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let Some(e) = injected_fault(&shared, &method, &segs) {
        return error_response(&e);
    }
    if method == Method::GET && !matches!(param(&params, "watch"), Some("true" | "1")) {
        let delay = segs.last().and_then(|plural| {
            shared
                .faults
                .slow_lists
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(*plural)
                .copied()
        });
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }
    // The OIDC documents are public, as an AKS cluster's issuer documents are (Entra and the
    // arm-emulator fetch them without credentials).
    let public = matches!(
        segs.as_slice(),
        [".well-known", "openid-configuration"] | ["openid", "v1", "jwks"]
    );
    let user = if public {
        UserInfo::anonymous()
    } else {
        let user = match shared.user(&headers, &peer) {
            Ok(user) => user,
            Err(e) => return error_response(&e),
        };
        let attrs = Attributes::of_request(method.as_str(), uri.path(), &params);
        if let Err(e) = shared.authorize(&user, &attrs) {
            return error_response(&e);
        }
        if attrs.resource_request {
            let resource = if attrs.subresource.is_empty() {
                attrs.resource
            } else {
                format!("{}/{}", attrs.resource, attrs.subresource)
            };
            *shared
                .requests
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry((user.name.clone(), attrs.verb, resource))
                .or_default() += 1;
        }
        user
    };
    match segs.as_slice() {
        ["version"] => json_response(
            200,
            &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-emulator", "platform": "linux/amd64", "goVersion": "go1.24", "compiler": "gc"}),
        ),
        ["healthz"] | ["livez"] | ["readyz"] => Response::new(Body::from("ok")),
        [".well-known", "openid-configuration"] => {
            json_response(200, &shared.signer.openid_configuration(&shared.issuer))
        }
        ["openid", "v1", "jwks"] => json_response(200, &shared.signer.jwks()),
        ["openapi", "v2"] => {
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
            match negotiate_openapi_v2(accept) {
                Ok(Encoding::Json) => json_response(200, &openapi_v2::json()),
                Ok(Encoding::Protobuf) => {
                    bytes_response(200, openapi_v2::PROTOBUF_MEDIA_TYPE, openapi_v2::protobuf())
                }
                Err(e) => error_response(&e),
            }
        }
        ["openapi", "v3"] => json_response(200, &openapi_index(&shared.store().types())),
        ["openapi", "v3", "api", "v1"] => json_response(
            200,
            &openapi_group_version("", "v1", &shared.store().types()),
        ),
        ["openapi", "v3", "apis", g, v] => {
            json_response(200, &openapi_group_version(g, v, &shared.store().types()))
        }
        ["openapi", ..] => error_response(&ApiError {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".into(),
            details: None,
        }),
        ["api"] => json_response(
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
        ),
        ["apis"] => json_response(200, &group_list(&shared.store().types())),
        ["api", "v1"] => json_response(200, &resource_list("", "v1", &shared.store().types())),
        ["apis", g] => {
            let types = shared.store().types();
            match group_list(&types)["groups"]
                .as_array()
                .and_then(|gs| gs.iter().find(|x| x["name"] == *g).cloned())
            {
                Some(mut grp) => {
                    grp["kind"] = json!("APIGroup");
                    grp["apiVersion"] = json!("v1");
                    json_response(200, &grp)
                }
                None => error_response(&ApiError {
                    code: 404,
                    reason: "NotFound",
                    message: format!("group {g} not found"),
                    details: None,
                }),
            }
        }
        ["apis", g, v] => json_response(200, &resource_list(g, v, &shared.store().types())),
        ["api", "v1", rest @ ..] => {
            let request = Request {
                method,
                params: &params,
                headers: &headers,
                user: &user,
            };
            resource(shared, "", "v1", rest, request, body).await
        }
        ["apis", g, v, rest @ ..] => {
            let (g, v) = (g.to_string(), v.to_string());
            let request = Request {
                method,
                params: &params,
                headers: &headers,
                user: &user,
            };
            resource(shared, &g, &v, rest, request, body).await
        }
        _ => error_response(&ApiError {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".into(),
            details: None,
        }),
    }
}

/// `/openapi/v3`: one document per group-version.
fn openapi_index(types: &[Arc<ResourceType>]) -> Value {
    let mut paths = serde_json::Map::new();
    for t in types {
        let gv = if t.group.is_empty() {
            "api/v1".to_string()
        } else {
            format!("apis/{}/{}", t.group, t.version)
        };
        paths.insert(
            gv.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{gv}")}),
        );
    }
    json!({"paths": paths})
}

/// A group-version's OpenAPI document, as far as kubectl needs it: every write operation
/// accepts `fieldValidation`, so kubectl leaves validation to the server (which validates
/// against the kind's schema); and the kinds' schemas under `components.schemas`, each naming
/// its `x-kubernetes-group-version-kind`, for `kubectl explain` — the built-in kinds' as
/// kube-apiserver publishes them, a custom resource's from its CRD.
fn openapi_group_version(group: &str, version: &str, types: &[Arc<ResourceType>]) -> Value {
    let mut paths = serde_json::Map::new();
    let prefix = if group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group}/{version}")
    };
    let served: Vec<&Arc<ResourceType>> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    for t in &served {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let params = json!([{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}, {"name": "dryRun", "in": "query", "schema": {"type": "string"}}]);
        let op = |action: &str| json!({"x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {"200": {"description": "OK"}}});
        let base = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", t.plural)
        } else {
            format!("{prefix}/{}", t.plural)
        };
        paths.insert(base.clone(), json!({"post": op("post"), "get": op("list")}));
        paths.insert(format!("{base}/{{name}}"), json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
    }
    let api_versions: Vec<(String, String)> = served
        .iter()
        .filter(|t| t.builtin.is_some())
        .map(|t| (t.api_version(), t.kind.clone()))
        .collect();
    let catalog = catalog();
    let mut schemas = catalog.published(api_versions.iter().map(|(v, k)| (v.as_str(), k.as_str())));
    for t in served.iter().filter(|t| t.builtin.is_none()) {
        let Some(schema) = &t.schema else { continue };
        let mut schema = schema.open_api_v3_schema().clone();
        let object_meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
        schema["properties"]["metadata"] = json!({"allOf": [{"$ref": format!("#/components/schemas/{object_meta}")}], "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"});
        schema["x-kubernetes-group-version-kind"] =
            json!([{"group": t.group, "kind": t.kind, "version": t.version}]);
        // kube-apiserver names a custom resource's definition by its group reversed.
        let reversed: Vec<&str> = t.group.split('.').rev().collect();
        schemas.insert(
            format!("{}.{}.{}", reversed.join("."), t.version, t.kind),
            schema,
        );
        schemas.extend(catalog.definitions_under([object_meta]));
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": paths, "components": {"schemas": schemas}})
}

fn group_list(types: &[Arc<ResourceType>]) -> Value {
    let mut groups: Vec<(String, String)> = types
        .iter()
        .filter(|t| !t.group.is_empty())
        .map(|t| (t.group.clone(), t.version.clone()))
        .collect();
    groups.sort();
    groups.dedup();
    let items: Vec<Value> = groups
        .iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": items})
}

fn resource_list(group: &str, version: &str, types: &[Arc<ResourceType>]) -> Value {
    let mut resources = Vec::new();
    for t in types
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        let verbs = if t.create_only {
            json!(["create"])
        } else {
            json!([
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch"
            ])
        };
        resources.push(json!({
            "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced, "kind": t.kind,
            "verbs": verbs,
            "shortNames": t.short_names, "categories": t.categories,
        }));
        if t.status_subresource {
            resources.push(json!({"name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"]}));
        }
        for sub in &t.extra_subresources {
            let (kind, group, verbs) = match sub.as_str() {
                "scale" => ("Scale", "autoscaling", json!(["get", "patch", "update"])),
                _ => ("TokenRequest", "authentication.k8s.io", json!(["create"])),
            };
            resources.push(json!({"name": format!("{}/{sub}", t.plural), "singularName": "", "namespaced": t.namespaced, "kind": kind, "group": group, "version": "v1", "verbs": verbs}));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

struct Target {
    rt: Arc<ResourceType>,
    key: TypeKey,
    namespace: String,
    name: Option<String>,
    sub: Option<String>,
}

fn target(store: &Store, group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let not_found = || ApiError {
        code: 404,
        reason: "NotFound",
        message: "the server could not find the requested resource".into(),
        details: None,
    };
    let namespaced_form = rest.len() >= 3
        && rest[0] == "namespaces"
        && store
            .type_for(group, version, rest[2])
            .is_some_and(|t| t.namespaced);
    // `namespaces/NAME/SUB` is a namespace's subresource only for the ones it has; anything
    // else there is a namespaced resource this server does not serve.
    if !namespaced_form
        && rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"))
    {
        return Err(not_found());
    }
    let (namespace, plural, name, sub) = if namespaced_form {
        (rest[1].to_string(), rest[2], rest.get(3), rest.get(4))
    } else {
        (
            String::new(),
            *rest.first().ok_or_else(not_found)?,
            rest.get(1),
            rest.get(2),
        )
    };
    let rt = store
        .type_for(group, version, plural)
        .ok_or_else(not_found)?;
    if !rt.namespaced && namespaced_form {
        return Err(not_found());
    }
    Ok(Target {
        key: (rt.group.clone(), rt.plural.clone()),
        rt,
        namespace,
        name: name.map(|s| s.to_string()),
        sub: sub.map(|s| s.to_string()),
    })
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if body.is_empty() {
        return Ok(Value::Null);
    }
    if ct.starts_with(protobuf::MEDIA_TYPE) {
        // Custom resources have no protobuf form: 415 for them, as on a real server.
        return protobuf::decode(body);
    }
    if ct.contains("yaml") {
        serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid YAML body: {e}")))
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
}

/// The uid of ServiceAccount `ns/name`, if it exists.
fn service_account_uid(store: &Store, ns: &str, name: &str) -> Option<String> {
    store
        .get(&(String::new(), "serviceaccounts".to_string()), ns, name)?
        .pointer("/metadata/uid")?
        .as_str()
        .map(str::to_string)
}

/// A resource request, authenticated and authorized.
struct Request<'a> {
    method: Method,
    params: &'a [(String, String)],
    headers: &'a HeaderMap,
    user: &'a UserInfo,
}

async fn resource(
    shared: Arc<Shared>,
    group: &str,
    version: &str,
    rest: &[&str],
    request: Request<'_>,
    body: Bytes,
) -> Response {
    let Request {
        method,
        params,
        headers,
        user,
    } = request;
    let t = match target(&shared.store(), group, version, rest) {
        Ok(t) => t,
        Err(e) => return error_response(&e),
    };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let wants_table = accept.is_some_and(|a| a.contains("as=Table"));
    // What the answer is (a TokenRequest for `serviceaccounts/NAME/token`) decides whether it
    // can be protobuf.
    let protobuf_form = if t.sub.as_deref() == Some("token") {
        protobuf::serves("authentication.k8s.io/v1", "TokenRequest")
    } else {
        protobuf::serves(&t.rt.api_version(), &t.rt.kind)
    };
    let encoding = match negotiate(accept, protobuf_form && !wants_table) {
        Ok(encoding) => encoding,
        Err(e) => return error_response(&e),
    };
    let manager = field_manager(params, headers);
    let dry_run = param(params, "dryRun").is_some_and(|d| !d.is_empty());
    let result: Result<Response, ApiError> = (|| {
        let parsed = parse_body(headers, &body)?;
        match (&method, &t.name, t.sub.as_deref()) {
            (m, _, _) if t.rt.create_only && m != Method::POST => Err(ApiError {
                code: 405,
                reason: "MethodNotAllowed",
                message: "the server does not allow this method on the requested resource".into(),
                details: None,
            }),
            (&Method::GET, None, _) if matches!(param(params, "watch"), Some("true" | "1")) => {
                Ok(watch(shared.clone(), &t, params, encoding)?)
            }
            (&Method::GET, None, _) => {
                let selection = Selection::parse(params)?;
                let store = shared.store();
                if wants_table {
                    let (items, meta) = list_page(&store, &t, params, &selection)?;
                    let items: Vec<Value> = items.into_iter().map(Stored::to_value).collect();
                    Ok(json_response(
                        200,
                        &table(&t.rt, &Value::Array(items), &meta, params),
                    ))
                } else {
                    list(&store, &t, params, &selection, encoding)
                }
            }
            (&Method::GET, Some(name), None | Some("status")) => {
                let obj = shared
                    .store()
                    .get(&t.key, &t.namespace, name)
                    .ok_or_else(|| ApiError::not_found(&t.rt, name))?;
                Ok(if wants_table {
                    json_response(200, &table(&t.rt, &json!([obj]), &json!({}), params))
                } else {
                    respond(encoding, 200, &obj)
                })
            }
            (&Method::POST, None, _) if t.rt.create_only => {
                review(&shared, &t, user, parsed).map(|obj| respond(encoding, 201, &obj))
            }
            (&Method::POST, None, _)
            | (&Method::PUT | &Method::PATCH, Some(_), None | Some("status")) => {
                let write = Write {
                    method: &method,
                    params,
                    headers,
                    manager: &manager,
                };
                if t.key.0 == rbac::GROUP && t.sub.is_none() {
                    // What would be stored, checked before it is.
                    let (_, would) = write.run(&shared, &t, parsed.clone(), true)?;
                    if let Some(name) = t.name.as_deref() {
                        let old = shared.store().get(&t.key, &t.namespace, name);
                        rbac::check_role_ref(&t.rt.kind, old.as_ref(), &would)?;
                    }
                    if let Some(policy) = shared.guards_escalation(&t, user) {
                        policy.check_write(user, &t.rt.plural, &would)?;
                    }
                }
                let (code, obj) = write.run(&shared, &t, parsed, dry_run)?;
                if !dry_run && t.key.0 == rbac::GROUP && t.key.1 == "clusterroles" {
                    rbac::aggregate(&mut shared.store());
                }
                Ok(respond(encoding, code, &obj))
            }
            (&Method::DELETE, Some(name), None) => {
                // kubectl sends a delete's dryRun in the DeleteOptions body.
                let body_dry_run = parsed["dryRun"].as_array().is_some_and(|d| !d.is_empty());
                let dry_run = dry_run || body_dry_run;
                let obj = if !dry_run && t.key.1 == "namespaces" && t.key.0.is_empty() {
                    delete_namespace(&shared, name)?
                } else {
                    shared.store().delete(&t.key, &t.namespace, name, dry_run)?
                };
                Ok(respond(encoding, 200, &obj))
            }
            (&Method::POST, Some(name), Some("token")) if t.key.1 == "serviceaccounts" => {
                let sa = shared
                    .store()
                    .get(&t.key, &t.namespace, name)
                    .ok_or_else(|| ApiError::not_found(&t.rt, name))?;
                Ok(respond(
                    encoding,
                    201,
                    &shared.signer.token_request(&shared.issuer, &sa, &parsed)?,
                ))
            }
            (_, Some(name), Some("scale"))
                if t.rt.extra_subresources.iter().any(|s| s == "scale") =>
            {
                let (code, obj) = scale(
                    &shared, &t, name, &method, parsed, headers, &manager, dry_run,
                )?;
                Ok(respond(encoding, code, &obj))
            }
            _ => Err(ApiError {
                code: 405,
                reason: "MethodNotAllowed",
                message: format!("{method} is not supported here"),
                details: None,
            }),
        }
    })();
    result.unwrap_or_else(|e| respond_error(encoding, &e))
}

/// A create, update or patch: what the request asks for.
struct Write<'a> {
    method: &'a Method,
    params: &'a [(String, String)],
    headers: &'a HeaderMap,
    manager: &'a str,
}

impl Write<'_> {
    /// Stores the write (or, with `dry_run`, only answers what would be stored).
    fn run(
        &self,
        shared: &Shared,
        t: &Target,
        parsed: Value,
        dry_run: bool,
    ) -> Result<(u16, Value), ApiError> {
        let (params, headers, manager) = (self.params, self.headers, self.manager);
        match (self.method, &t.name) {
            (&Method::POST, _) => {
                strict_fields(&t.rt, params, &parsed)?;
                // Validated before taking the store's lock; stored under it.
                let admitted = admit_create(
                    t.rt.clone(),
                    &t.namespace,
                    parsed,
                    Ownership::Update(manager),
                )?;
                Ok((
                    201,
                    shared.store().commit_create(&t.key, admitted, dry_run)?,
                ))
            }
            (&Method::PUT, Some(name)) => {
                strict_fields(&t.rt, params, &parsed)?;
                let obj = shared.store().update(
                    &t.key,
                    &t.namespace,
                    name,
                    parsed,
                    t.sub.is_some(),
                    Ownership::Update(manager),
                    dry_run,
                )?;
                Ok((200, obj))
            }
            (_, Some(name)) => {
                let ct = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let force = matches!(param(params, "force"), Some("true" | "1"));
                let how = PatchHow {
                    status: t.sub.is_some(),
                    content_type: &ct,
                    manager,
                    force,
                    dry_run,
                    params,
                };
                patch(shared, t, name, parsed, &how)
            }
            _ => Err(ApiError::bad_request("a write needs a name")),
        }
    }
}

/// The review kinds: SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview,
/// SelfSubjectRulesReview (`kubectl auth can-i [--list]`), SelfSubjectReview (`kubectl auth
/// whoami`) and TokenReview, answered and not stored.
fn review(shared: &Shared, t: &Target, user: &UserInfo, body: Value) -> Result<Value, ApiError> {
    let invalid = |field: &str, why: &str| ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("{} in version \"v1\" is invalid: {field}: {why}", t.rt.kind),
        details: None,
    };
    let spec = body.get("spec").cloned().unwrap_or(json!({}));
    let str_of = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let status = match t.rt.plural.as_str() {
        "selfsubjectaccessreviews" | "subjectaccessreviews" | "localsubjectaccessreviews" => {
            let subject = if t.rt.plural == "selfsubjectaccessreviews" {
                user.clone()
            } else {
                let groups: Vec<String> = spec
                    .get("groups")
                    .cloned()
                    .and_then(|g| serde_json::from_value(g).ok())
                    .unwrap_or_default();
                if str_of(&spec, "user").is_empty() && groups.is_empty() {
                    return Err(invalid(
                        "spec.user",
                        "at least one of user or group must be specified",
                    ));
                }
                UserInfo {
                    name: str_of(&spec, "user"),
                    uid: str_of(&spec, "uid"),
                    groups,
                    extra: spec
                        .get("extra")
                        .cloned()
                        .and_then(|e| serde_json::from_value(e).ok())
                        .unwrap_or_default(),
                }
            };
            let attrs = if let Some(r) = spec.get("resourceAttributes") {
                let namespace = str_of(r, "namespace");
                if t.rt.plural == "localsubjectaccessreviews" && namespace != t.namespace {
                    return Err(invalid(
                        "spec.resourceAttributes.namespace",
                        "must match metadata.namespace",
                    ));
                }
                Attributes::resource(
                    &str_of(r, "verb"),
                    &str_of(r, "group"),
                    &str_of(r, "resource"),
                    &str_of(r, "subresource"),
                    &namespace,
                    &str_of(r, "name"),
                )
            } else if let Some(n) = spec.get("nonResourceAttributes") {
                Attributes::non_resource(&str_of(n, "verb"), &str_of(n, "path"))
            } else {
                return Err(invalid(
                    "spec.resourceAttributes",
                    "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                ));
            };
            let decision = shared.decide(&subject, &attrs);
            let mut status = json!({"allowed": decision.allowed});
            if !decision.reason.is_empty() {
                status["reason"] = json!(decision.reason);
            }
            status
        }
        "selfsubjectrulesreviews" => {
            let namespace = str_of(&spec, "namespace");
            if shared.rbac && !user.in_group(MASTERS) {
                rbac::rules_review(&shared.policy(), user, &namespace)
            } else {
                json!({
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    "incomplete": false,
                })
            }
        }
        "selfsubjectreviews" => json!({"userInfo": user.to_json()}),
        "tokenreviews" => {
            let token = str_of(&spec, "token");
            let who = (!token.is_empty())
                .then(|| {
                    shared
                        .authn
                        .token(&token, &shared.signer, &shared.service_accounts())
                })
                .flatten();
            match who {
                Some(u) => {
                    json!({"authenticated": true, "user": u.to_json(), "audiences": shared.authn.api_audiences})
                }
                None => json!({"authenticated": false, "error": "invalid bearer token"}),
            }
        }
        other => return Err(ApiError::bad_request(format!("{other} cannot be created"))),
    };
    let mut answer = json!({
        "apiVersion": t.rt.api_version(),
        "kind": t.rt.kind,
        "metadata": body.get("metadata").cloned().unwrap_or(json!({})),
        "spec": spec,
        "status": status,
    });
    if t.rt.plural == "selfsubjectreviews"
        && let Some(o) = answer.as_object_mut()
    {
        o.remove("spec");
    }
    Ok(answer)
}

/// `deployments/NAME/scale`: the object's replicas as an autoscaling/v1 Scale (what
/// `kubectl scale` and an autoscaler read and write); a write sets `spec.replicas`.
#[allow(clippy::too_many_arguments)]
fn scale(
    shared: &Shared,
    t: &Target,
    name: &str,
    method: &Method,
    body: Value,
    headers: &HeaderMap,
    manager: &str,
    dry_run: bool,
) -> Result<(u16, Value), ApiError> {
    let mut store = shared.store();
    let current = store
        .get(&t.key, &t.namespace, name)
        .ok_or_else(|| ApiError::not_found(&t.rt, name))?;
    let mut wanted = scale_of(&current);
    match *method {
        Method::GET => return Ok((200, wanted)),
        Method::PUT => wanted = body,
        Method::PATCH => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let scale = crate::builtin::kind("autoscaling/v1", "Scale");
            apply_patch(&mut wanted, body, content_type, scale)?;
        }
        _ => {
            return Err(ApiError {
                code: 405,
                reason: "MethodNotAllowed",
                message: format!("{method} is not supported here"),
                details: None,
            });
        }
    }
    // Go leaves a zero `replicas` out of a Scale.
    let replicas = match wanted.pointer("/spec/replicas") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().ok_or_else(|| {
            ApiError::bad_request(
                "Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of type int32",
            )
        })?,
    };
    let mut object = current;
    object["spec"]["replicas"] = json!(replicas);
    // A Scale naming a resourceVersion is a precondition on the object's.
    if let Some(rv) = wanted.pointer("/metadata/resourceVersion") {
        object["metadata"]["resourceVersion"] = rv.clone();
    }
    let updated = store.update(
        &t.key,
        &t.namespace,
        name,
        object,
        false,
        Ownership::Update(manager),
        dry_run,
    )?;
    Ok((200, scale_of(&updated)))
}

/// An object's Scale: its desired and current replicas and its selector.
fn scale_of(object: &Value) -> Value {
    let metadata = &object["metadata"];
    let selector = object
        .pointer("/spec/selector")
        .and_then(LabelSelector::from_object)
        .map(|s| s.to_string())
        .unwrap_or_default();
    json!({
        "apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": metadata["name"], "namespace": metadata["namespace"], "uid": metadata["uid"],
            "resourceVersion": metadata["resourceVersion"], "creationTimestamp": metadata["creationTimestamp"]},
        "spec": {"replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {"replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector},
    })
}

fn delete_namespace(shared: &Shared, name: &str) -> Result<Value, ApiError> {
    let mut store = shared.store();
    for rt in store.types().into_iter().filter(|t| t.namespaced) {
        let key = (rt.group.clone(), rt.plural.clone());
        for obj in store.list(&key, name) {
            let n = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            // Objects with finalizers stay until their controllers let go, as in Kubernetes.
            let _ = store.delete(&key, name, &n, false);
        }
    }
    store.delete(&("".into(), "namespaces".into()), "", name, false)
}

/// The field manager a write is recorded under: `fieldManager`, else the user-agent's
/// program name, as kube-apiserver does.
fn field_manager(params: &[(String, String)], headers: &HeaderMap) -> String {
    if let Some(m) = param(params, "fieldManager").filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|ua| !ua.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

/// How a PATCH request asks to be applied.
struct PatchHow<'a> {
    /// Through the status subresource.
    status: bool,
    content_type: &'a str,
    manager: &'a str,
    /// `force=true`: a server-side apply takes conflicting fields over.
    force: bool,
    dry_run: bool,
    /// The request's parameters (`fieldValidation`).
    params: &'a [(String, String)],
}

fn patch(
    shared: &Shared,
    t: &Target,
    name: &str,
    patch: Value,
    how: &PatchHow<'_>,
) -> Result<(u16, Value), ApiError> {
    let (status, content_type, manager) = (how.status, how.content_type, how.manager);
    let mut store = shared.store();
    let existing = store.get(&t.key, &t.namespace, name);
    if content_type.starts_with("application/apply-patch") {
        strict_fields(&t.rt, how.params, &patch)?;
        return server_side_apply(&mut store, t, name, existing, patch, how);
    }
    let Some(mut obj) = existing else {
        return Err(ApiError::not_found(&t.rt, name));
    };
    apply_patch(&mut obj, patch, content_type, t.rt.builtin)?;
    // The patched object is decoded (and, if asked, strictly) as a body would be.
    strict_fields(&t.rt, how.params, &obj)?;
    let obj = store.update(
        &t.key,
        &t.namespace,
        name,
        obj,
        status,
        Ownership::Update(manager),
        how.dry_run,
    )?;
    Ok((200, obj))
}

/// A JSON patch (with `test`), a strategic merge patch (for a built-in kind; a custom
/// resource's is applied as a merge patch) or a merge patch applied to `obj`.
fn apply_patch(
    obj: &mut Value,
    patch: Value,
    content_type: &str,
    kind: Option<&crate::builtin::Kind>,
) -> Result<(), ApiError> {
    if let Some(kind) =
        kind.filter(|_| content_type.starts_with("application/strategic-merge-patch"))
    {
        kind.strategic_merge(obj, &patch);
    } else if content_type.starts_with("application/json-patch+json") {
        // As kube-apiserver (evanphx/json-patch) does, `test` with a null value passes when
        // the path is absent; kube's finalizer helper relies on it.
        let mut kept = Vec::new();
        for op in patch.as_array().cloned().unwrap_or_default() {
            if op.get("op").and_then(Value::as_str) == Some("test")
                && op.get("value").is_none_or(Value::is_null)
            {
                let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
                if obj.pointer(path).is_some_and(|v| !v.is_null()) {
                    return Err(ApiError {
                        code: 422,
                        reason: "Invalid",
                        message: format!(
                            "the JSON patch could not be applied: test failed: {path} is not null"
                        ),
                        details: None,
                    });
                }
                continue;
            }
            kept.push(op);
        }
        let ops: json_patch::Patch = serde_json::from_value(Value::Array(kept))
            .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
        json_patch::patch(obj, &ops).map_err(|e| ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("the JSON patch could not be applied: {e}"),
            details: None,
        })?;
    } else {
        // The stored resourceVersion stays unless the patch names one (then it must match).
        merge_patch(obj, &patch);
    }
    Ok(())
}

/// `application/apply-patch+yaml`: create or merge the configuration, with field ownership
/// and conflicts (see `managed_fields`).
fn server_side_apply(
    store: &mut Store,
    t: &Target,
    name: &str,
    existing: Option<Value>,
    config: Value,
    how: &PatchHow<'_>,
) -> Result<(u16, Value), ApiError> {
    let (status, manager, force) = (how.status, how.manager, how.force);
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "the applied configuration must be an object",
        ));
    }
    if existing.is_none() && status {
        return Err(ApiError::not_found(&t.rt, name));
    }
    let api_version = t.rt.api_version();
    let now = crate::store::now();
    let writer = Writer {
        manager,
        subresource: status.then_some("status"),
        api_version: &api_version,
        now: &now,
    };
    let mut obj = managed_fields::apply(
        existing.as_ref(),
        &config,
        &writer,
        t.rt.status_subresource,
        force,
    )
    .map_err(|c| ApiError {
        code: 409,
        reason: "Conflict",
        message: c.message(&api_version),
        details: Some(json!({
            "name": name, "group": t.rt.group, "kind": t.rt.plural,
            "causes": c.0.iter().map(|(m, f)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{m}\" using {api_version}"), "field": f})).collect::<Vec<_>>(),
        })),
    })?;
    match existing {
        None => {
            obj["metadata"]["name"] = json!(name);
            let admitted = admit_create(t.rt.clone(), &t.namespace, obj, Ownership::Applied)?;
            Ok((201, store.commit_create(&t.key, admitted, how.dry_run)?))
        }
        Some(_) => Ok((
            200,
            store.update(
                &t.key,
                &t.namespace,
                name,
                obj,
                status,
                Ownership::Applied,
                how.dry_run,
            )?,
        )),
    }
}

/// A list or watch request's label and field selectors, parsed once per request.
struct Selection {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Selection {
    fn parse(params: &[(String, String)]) -> Result<Self, ApiError> {
        let labels = match param(params, "labelSelector").filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(LabelSelector::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!("unable to parse requirement: {s}"))
            })?),
            None => None,
        };
        let fields = match param(params, "fieldSelector").filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(
                FieldSelector::parse(s)
                    .ok_or_else(|| ApiError::bad_request(format!("invalid field selector: {s}")))?,
            ),
            None => None,
        };
        Ok(Selection { labels, fields })
    }

    fn selects(&self, obj: &Value) -> bool {
        self.labels.as_ref().is_none_or(|l| l.matches(obj))
            && self.fields.as_ref().is_none_or(|f| f.matches(obj))
    }
}

/// A continue token: the key of the page's last object, so the next page starts after it
/// whatever was created or deleted in between.
fn continue_token(key: &(String, String)) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!([key.0, key.1]).to_string())
}

fn continue_key(token: &str) -> Result<(String, String), ApiError> {
    use base64::Engine;
    let invalid = || ApiError::bad_request(format!("continue key is not valid: {token}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let (ns, name): (String, String) = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    Ok((ns, name))
}

/// One page of a list, borrowed from the store, and the list's metadata.
fn list_page<'s>(
    store: &'s Store,
    t: &'s Target,
    params: &[(String, String)],
    selection: &Selection,
) -> Result<(Vec<&'s Stored>, Value), ApiError> {
    let limit = param(params, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let after = match param(params, "continue").filter(|c| !c.is_empty()) {
        Some(c) => Some(continue_key(c)?),
        None => None,
    };
    let mut matching = store
        .scan(&t.key, &t.namespace, after)
        .filter(|(_, o)| selection.selects(&o.object));
    let mut page = Vec::new();
    let mut last = None;
    for (k, o) in matching.by_ref() {
        page.push(&**o);
        last = Some(k);
        if limit.is_some_and(|l| page.len() >= l) {
            break;
        }
    }
    let remaining = if limit.is_some() { matching.count() } else { 0 };
    let mut meta = json!({"resourceVersion": store.resource_version().to_string()});
    if remaining > 0
        && let Some(k) = last
    {
        meta["continue"] = json!(continue_token(k));
        meta["remainingItemCount"] = json!(remaining);
    }
    Ok((page, meta))
}

/// A list: in JSON, written straight from the store's objects without copying them.
fn list(
    store: &Store,
    t: &Target,
    params: &[(String, String)],
    selection: &Selection,
    encoding: Encoding,
) -> Result<Response, ApiError> {
    const CHUNK: usize = 256 * 1024;
    let (items, meta) = list_page(store, t, params, selection)?;
    if encoding == Encoding::Protobuf {
        let rt = &t.rt;
        let items = items.into_iter().map(Stored::to_value).collect();
        let bytes =
            protobuf::encode_list(&rt.api_version(), &rt.kind, &rt.list_kind, &meta, items)?;
        return Ok(bytes_response(200, protobuf::MEDIA_TYPE, bytes));
    }
    let head = json!({"kind": t.rt.list_kind, "apiVersion": t.rt.api_version(), "metadata": meta});
    let head = head.to_string();
    // `{"kind":...,"metadata":{...}` then `,"items":[...]}`, in chunks: a big list is never
    // one growing (and re-allocated) buffer.
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut body = Vec::with_capacity(CHUNK + 4096);
    body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    body.extend_from_slice(b",\"items\":[");
    for (i, o) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        serde_json::to_writer(&mut body, o)
            .map_err(|e| ApiError::bad_request(format!("serializing the list: {e}")))?;
        if body.len() >= CHUNK {
            chunks.push(Bytes::from(std::mem::replace(
                &mut body,
                Vec::with_capacity(CHUNK + 4096),
            )));
        }
    }
    body.extend_from_slice(b"]}");
    chunks.push(Bytes::from(body));
    let stream = futures::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>));
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

fn watch(
    shared: Arc<Shared>,
    t: &Target,
    params: &[(String, String)],
    encoding: Encoding,
) -> Result<Response, ApiError> {
    let selection = Selection::parse(params)?;
    let since = param(params, "resourceVersion")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| *v > 0);
    let bookmarks = matches!(param(params, "allowWatchBookmarks"), Some("true" | "1"));
    let timeout = param(params, "timeoutSeconds")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1800);
    let ns = t.namespace.clone();
    let key = t.key.clone();
    let rt = t.rt.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    let (initial, subscription, current) = {
        let store = shared.store();
        let current = store.resource_version();
        let initial: Vec<Arc<WatchEvent>> = match since {
            None => store
                .scan(&t.key, &t.namespace, None)
                .filter(|(_, o)| selection.selects(&o.object))
                .map(|(_, o)| WatchEvent::new(current, "ADDED", o.clone(), None))
                .collect(),
            Some(_) => Vec::new(),
        };
        (
            initial,
            store.watch_from(&t.key, since.unwrap_or(current)),
            current,
        )
    };
    // What this watch sees of an event. With a selector, as kube-apiserver's watch cache does:
    // an object modified into the selection is ADDED, and one modified out of it is DELETED
    // (as last selected, at the event's resourceVersion), so a watcher's cache never keeps an
    // object it no longer selects.
    let in_scope = move |e: &Arc<WatchEvent>| -> Option<Arc<WatchEvent>> {
        let in_namespace = ns.is_empty()
            || e.object
                .object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                == Some(ns.as_str());
        if !in_namespace {
            return None;
        }
        let now = selection.selects(&e.object.object);
        let before = e.previous.as_ref().map(|p| selection.selects(&p.object));
        match (before, now) {
            (None | Some(true), true) => Some(e.clone()),
            (Some(false), true) => Some(WatchEvent::new(e.rv, "ADDED", e.object.clone(), None)),
            (Some(true), false) => {
                let mut last = e.previous.as_ref()?.to_value();
                last["metadata"]["resourceVersion"] = json!(e.rv.to_string());
                Some(WatchEvent::new(
                    e.rv,
                    "DELETED",
                    Arc::new(Stored::new(last)),
                    None,
                ))
            }
            (None | Some(false), false) => None,
        }
    };
    let line = move |type_: &str, object: &Value| match encoding {
        Encoding::Json => Bytes::from(format!("{}\n", json!({"type": type_, "object": object}))),
        // Cannot fail: Status and every kind negotiated as protobuf have a protobuf form.
        Encoding::Protobuf => protobuf::watch_frame(type_, object).unwrap_or_default(),
    };
    let gone = move |message: &str| {
        line(
            "ERROR",
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": "Expired", "code": 410}),
        )
    };
    let api_version = rt.api_version();
    let kind = rt.kind.clone();
    let bookmark = move |rv: u64| json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": rv.to_string()}});
    let mut cut = shared.faults.cut.subscribe();
    tokio::spawn(async move {
        let Some((replay, mut live)) = subscription else {
            let _ = tx.send(gone("too old resource version")).await;
            return;
        };
        let mut last = since.unwrap_or(current);
        for e in initial.iter().filter_map(&in_scope) {
            if tx.send(e.encoded(encoding)).await.is_err() {
                return;
            }
        }
        let mut backlog = replay;
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut bookmark_due = false;
        loop {
            // Events from the log (at the start, or after falling behind the broadcast) first.
            for e in backlog.drain(..) {
                if e.rv > last {
                    last = e.rv;
                    if let Some(e) = in_scope(&e)
                        && tx.send(e.encoded(encoding)).await.is_err()
                    {
                        return;
                    }
                }
            }
            // A bookmark only when nothing is queued, so it never passes an unsent event; events
            // are taken only by `recv` below, which is where a lagged watch catches up.
            if bookmark_due && live.is_empty() {
                bookmark_due = false;
                if tx.send(line("BOOKMARK", &bookmark(last))).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = &mut deadline => return,
                _ = cut.changed() => return,
                ev = live.recv() => match ev {
                    Ok(e) if e.rv <= last => {}
                    Ok(e) => {
                        last = e.rv;
                        if let Some(e) = in_scope(&e)
                        && tx.send(e.encoded(encoding)).await.is_err()
                    {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // A slow reader catches up from the event log, as from the apiserver's
                        // watch cache; only when the log has moved past it is the watch over.
                        let resumed = shared.store().watch_from(&key, last);
                        match resumed {
                            Some((replay, rx)) => {
                                backlog = replay;
                                live = rx;
                            }
                            None => {
                                let _ = tx.send(gone("watch fell behind")).await;
                                return;
                            }
                        }
                    }
                    Err(_) => return,
                },
                _ = tick.tick(), if bookmarks => bookmark_due = true,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let first = rx.recv().await?;
        // What else is already queued goes in the same chunk: one write (and one TLS record)
        // for many events when a watcher is busy.
        let mut chunk: Option<Vec<u8>> = None;
        while chunk.as_ref().map_or(first.len(), Vec::len) < 64 * 1024 {
            let Ok(next) = rx.try_recv() else { break };
            chunk
                .get_or_insert_with(|| first.to_vec())
                .extend_from_slice(&next);
        }
        let bytes = chunk.map_or(first, Bytes::from);
        Some((Ok::<_, Infallible>(bytes), rx))
    });
    let mut r = Response::new(Body::from_stream(stream));
    let content_type = match encoding {
        Encoding::Json => "application/json",
        Encoding::Protobuf => protobuf::WATCH_MEDIA_TYPE,
    };
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    Ok(r)
}

/// A tiny JSONPath for printer columns: `.a.b`, `[n]`, `[?(@.k=="v")]`.
fn json_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    let mut rest = path.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[?(@.") {
            let end = r.find(")]")?;
            let (cond, after) = (&r[..end], &r[end + 2..]);
            let (k, v) = cond.split_once("==")?;
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            cur = cur
                .as_array()?
                .iter()
                .find(|e| e.get(k.trim()).and_then(Value::as_str) == Some(v))?;
            rest = after;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            cur = cur.get(r[..end].parse::<usize>().ok()?)?;
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            cur = cur.get(&r[..end])?;
            rest = &r[end..];
        } else {
            return None;
        }
    }
    Some(cur)
}

/// Core Events print as kube-apiserver prints them: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE.
fn event_table(items: &Value, meta: &Value, params: &[(String, String)]) -> Value {
    let columns: Vec<Value> = [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Source", 1),
        ("Message", 0),
        ("Count", 1),
        ("Name", 1),
    ]
    .iter()
    .map(|(name, priority)| json!({"name": name, "type": "string", "format": "", "description": name, "priority": priority}))
    .collect();
    let full = param(params, "includeObject") == Some("Object");
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let rows: Vec<Value> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let seen = ["lastTimestamp", "eventTime", "firstTimestamp"]
                .iter()
                .find_map(|k| e[*k].as_str().filter(|t| !t.is_empty()))
                .or_else(|| e["series"]["lastObservedTime"].as_str())
                .map(age)
                .unwrap_or_else(|| "<unknown>".into());
            let involved = &e["involvedObject"];
            let object = format!(
                "{}/{}",
                s(&involved["kind"]).to_lowercase(),
                s(&involved["name"])
            );
            let source = match s(&e["source"]["component"]) {
                c if c.is_empty() => s(&e["reportingComponent"]),
                c => c,
            };
            let count = e["count"].as_i64().unwrap_or(1);
            let cells = json!([seen, e["type"], e["reason"], object, source, e["message"], count, e["metadata"]["name"]]);
            let object = if full { e.clone() } else { json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": e["metadata"]}) };
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": columns, "rows": rows})
}

/// A built-in kind's table, with kube-apiserver's columns for it.
fn builtin_table(
    columns: &crate::builtin::Columns,
    items: &Value,
    meta: &Value,
    params: &[(String, String)],
) -> Value {
    let definitions: Vec<Value> = std::iter::once(&("Name", "string", 0, "Name must be unique within a namespace."))
        .chain(columns.definitions)
        .map(|(name, type_, priority, description)| {
            let format = if *name == "Name" { "name" } else { "" };
            json!({"name": name, "type": type_, "format": format, "description": description, "priority": priority})
        })
        .collect();
    let full = param(params, "includeObject") == Some("Object");
    let rows: Vec<Value> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            let mut cells = vec![o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
            cells.extend((columns.cells)(o));
            let object = if full { o.clone() } else { json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}) };
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": definitions, "rows": rows})
}

fn table(rt: &ResourceType, items: &Value, meta: &Value, params: &[(String, String)]) -> Value {
    if rt.plural == "events" && rt.group.is_empty() {
        return event_table(items, meta, params);
    }
    if let Some(columns) = rt.builtin.and_then(|k| k.columns) {
        return builtin_table(columns, items, meta, params);
    }
    let mut columns = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}),
    ];
    let mut paths = Vec::new();
    let printer = if rt.printer_columns.is_empty() {
        vec![json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})]
    } else {
        rt.printer_columns.clone()
    };
    for c in &printer {
        columns.push(json!({"name": c["name"], "type": c["type"], "format": c.get("format").cloned().unwrap_or(json!("")), "description": c.get("description").cloned().unwrap_or(json!("")), "priority": c.get("priority").cloned().unwrap_or(json!(0))}));
        paths.push((
            c["jsonPath"].as_str().unwrap_or_default().to_string(),
            c["type"].as_str().unwrap_or("string").to_string(),
        ));
    }
    let full = param(params, "includeObject") == Some("Object");
    let rows: Vec<Value> = items
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    let mut cells = vec![o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
                    for (p, ty) in &paths {
                        let v = json_path(o, p).cloned().unwrap_or(Value::Null);
                        cells.push(match (ty.as_str(), &v) {
                            ("date", Value::String(s)) => json!(age(s)),
                            (_, Value::Null) => json!("<none>"),
                            _ => v,
                        });
                    }
                    let object = if full { o.clone() } else { json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}) };
                    json!({"cells": cells, "object": object})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": columns, "rows": rows})
}
