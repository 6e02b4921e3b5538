//! HTTP(S) serving and routing.

use std::collections::HashMap;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

use crate::arm::{self, Answer, ArmError};
use crate::control::{Control, Fault, FaultKind, LoggedRequest, class_of};
use crate::{KeyVaultLimits, ThrottleLimits};

/// Serves `listener` (TLS when an acceptor is given) until `stop` flips.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    control: Control,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let control = control.clone();
            async move { handle(control, method, uri, headers, body).await }
        },
    );
    let mut stop_accept = stop.clone();
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                c = listener.accept() => c,
                _ = stop_accept.changed() => return,
            };
            let Ok((tcp, _)) = conn else { continue };
            let _ = tcp.set_nodelay(true);
            let (app, tls, mut stop_conn) = (app.clone(), tls.clone(), stop.clone());
            tokio::spawn(async move {
                let service = hyper_util::service::TowerToHyperService::new(app);
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match tls {
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        tokio::select! {
                            _ = builder.serve_connection(TokioIo::new(stream), service) => {}
                            _ = stop_conn.changed() => {}
                        }
                    }
                    None => {
                        tokio::select! {
                            _ = builder.serve_connection(TokioIo::new(tcp), service) => {}
                            _ = stop_conn.changed() => {}
                        }
                    }
                }
            });
        }
    });
}

fn respond(status: u16, body: Option<&Value>, headers: &[(String, String)]) -> Response {
    let mut r = Response::new(body.map(|b| Body::from(b.to_string())).unwrap_or_default());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if body.is_some() {
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::try_from(k.as_str()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().append(k, v);
        }
    }
    r
}

fn error(e: &ArmError) -> Response {
    respond(e.status, Some(&e.body()), &[])
}

fn default_code(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        404 => "NotFound",
        409 => "Conflict",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "Error",
    }
}

async fn handle(
    control: Control,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/').to_string();
    let query = uri.query().unwrap_or_default().to_string();
    if let Some(rest) = path.strip_prefix("/_emulator") {
        return control_api(&control, &method, rest, &body);
    }
    let m = method.as_str().to_string();

    // Faults first: they stand for the network and the service misbehaving.
    let fault = Control::fault_for(&mut control.lock(), &m, &path);
    match fault {
        Some(FaultKind::Latency { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await
        }
        Some(FaultKind::LoseAnswer) => {
            let answered = answer(
                control.clone(),
                method,
                path.clone(),
                query.clone(),
                headers,
                body,
            )
            .await;
            log(
                &control,
                &m,
                &path,
                &query,
                0,
                Some(format!("AnswerLost({})", answered.status().as_u16())),
            );
            return reset();
        }
        Some(FaultKind::HoldAnswer { millis }) => {
            let answered = answer(control, method, path, query, headers, body).await;
            tokio::time::sleep(Duration::from_millis(millis)).await;
            return answered;
        }
        Some(FaultKind::FailOperation { code }) => {
            let answered =
                answer(control.clone(), method, path.clone(), query, headers, body).await;
            control.lock().arm.fail_operations_on(&path, &code);
            return answered;
        }
        Some(FaultKind::Status {
            status,
            code,
            retry_after,
        }) => {
            let e = ArmError::new(
                status,
                code.as_deref().unwrap_or(default_code(status)),
                format!("Injected fault: {status}"),
            );
            log(&control, &m, &path, &query, status, Some(e.code.clone()));
            let mut extra = Vec::new();
            if let Some(seconds) = retry_after {
                extra.push(("Retry-After".to_string(), seconds.to_string()));
            } else if status == 429 || status == 503 {
                extra.push(("Retry-After".to_string(), "1".to_string()));
            }
            return respond(status, Some(&e.body()), &extra);
        }
        Some(FaultKind::Reset) => {
            log(
                &control,
                &m,
                &path,
                &query,
                0,
                Some("ConnectionReset".into()),
            );
            return reset();
        }
        None => {}
    }
    answer(control, method, path, query, headers, body).await
}

/// An answer whose body breaks off: the connection reset mid-response.
fn reset() -> Response {
    let broken = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected reset",
        ))
    });
    let mut r = Response::new(Body::from_stream(broken));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("100"));
    r
}

/// A request past the faults: Entra, Key Vault or ARM answers it.
async fn answer(
    control: Control,
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let m = method.as_str().to_string();

    // Entra's token endpoint and the Key Vault data plane answer in their own shapes and stay
    // out of ARM's throttling (Key Vault throttles per vault itself). Key Vault requests are
    // logged, with their `/keyvault/{vault}/...` path and Key Vault's error code; the token
    // endpoint's are not.
    if let Some(tenant) = path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix("/oauth2/v2.0/token"))
        .filter(|t| !t.is_empty() && !t.contains('/'))
        && method == Method::POST
    {
        let a = crate::entra::token(&control, tenant, &body).await;
        return respond(a.status, a.body.as_ref(), &a.headers);
    }
    if path == "/msi/token" && method == Method::GET {
        let header = headers
            .get("x-identity-header")
            .and_then(|v| v.to_str().ok());
        let a = crate::entra::node_token(&control, &query, header);
        return respond(a.status, a.body.as_ref(), &a.headers);
    }
    if let Some(a) = crate::keyvault::route(&control, &method, &path, &query, &headers, &body) {
        let code = a
            .body
            .as_ref()
            .and_then(|b| b.pointer("/error/code"))
            .and_then(Value::as_str)
            .map(str::to_string);
        log(&control, &m, &path, &query, a.status, code);
        return respond(a.status, a.body.as_ref(), &a.headers);
    }

    if !headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("Bearer "))
    {
        let e = ArmError::new(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        );
        log(&control, &m, &path, &query, 401, Some(e.code.clone()));
        return respond(401, Some(&e.body()), &[("WWW-Authenticate".into(), "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\"".into())]);
    }
    if !query.split('&').any(|p| p.starts_with("api-version=")) {
        let e = ArmError::new(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
        log(&control, &m, &path, &query, 400, Some(e.code.clone()));
        return error(&e);
    }
    let mut common = vec![
        (
            "x-ms-request-id".to_string(),
            uuid::Uuid::new_v4().to_string(),
        ),
        (
            "x-ms-correlation-request-id".to_string(),
            headers
                .get("x-ms-client-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        ),
    ];
    // Authentication and authorization come before throttling (see the authz module).
    if control.lock().config.enforce_authorization
        && let Err(e) = authorize(&control, &m, &path, &headers)
    {
        log(&control, &m, &path, &query, e.status, Some(e.code.clone()));
        if e.status == 401 {
            common.push((
                "WWW-Authenticate".into(),
                format!(
                    "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\", error_description=\"{}\"",
                    e.message.replace('"', "'")
                ),
            ));
        } else {
            common.push(("x-ms-failure-cause".into(), "gateway".into()));
        }
        return respond(e.status, Some(&e.body()), &common);
    }
    let subscription = path.split('/').nth(2).unwrap_or_default().to_string();
    let class = class_of(&m);
    let principal = principal_of(
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    );
    let remaining = Control::take_token(&mut control.lock(), &subscription, &principal, class);
    let remaining = match remaining {
        Ok(r) => r,
        Err(wait) => {
            let e = ArmError::new(
                429,
                "TooManyRequests",
                format!(
                    "The request is being throttled as the limit has been reached for operation type - {}. For more information, see - https://aka.ms/srpthrottlinglimits",
                    if class == "reads" {
                        "Read"
                    } else if class == "deletes" {
                        "Delete"
                    } else {
                        "Write"
                    }
                ),
            );
            log(&control, &m, &path, &query, 429, Some(e.code.clone()));
            common.push(("Retry-After".into(), wait.as_secs().max(1).to_string()));
            common.push((
                format!("x-ms-ratelimit-remaining-subscription-{class}"),
                "0".into(),
            ));
            return respond(429, Some(&e.body()), &common);
        }
    };
    common.push((
        format!("x-ms-ratelimit-remaining-subscription-{class}"),
        remaining.to_string(),
    ));

    let lower_headers: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    let result = route(&control, &method, &path, &lower_headers, &body);
    let (status, code) = match &result {
        Ok(a) => (a.status, None),
        Err(e) => (e.status, Some(e.code.clone())),
    };
    log(&control, &m, &path, &query, status, code);
    match result {
        Ok(a) => {
            common.extend(a.headers);
            respond(a.status, a.body.as_ref(), &common)
        }
        Err(e) => respond(e.status, Some(&e.body()), &common),
    }
}

/// ARM's own authorization of a request: a token the emulator's Entra issued for ARM, whose
/// principal holds a role allowing the request's action over its scope.
fn authorize(
    control: &Control,
    method: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<(), ArmError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let caller = crate::authz::authenticate(
        &control.signer,
        authorization,
        jiff::Timestamp::now().as_second(),
    )?;
    let Some(requested) = crate::authz::requested(method, path) else {
        return Ok(());
    };
    let mut state = control.lock();
    state.arm.settle();
    crate::authz::authorize(&state.arm, &caller, &requested)
}

fn log(
    control: &Control,
    method: &str,
    path: &str,
    query: &str,
    status: u16,
    error_code: Option<String>,
) {
    control.lock().log.push(LoggedRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        status,
        error_code,
        at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    });
}

fn route(
    control: &Control,
    method: &Method,
    path: &str,
    headers: &HashMap<String, String>,
    body: &Bytes,
) -> Result<Answer, ArmError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let mut state = control.lock();
    let cfg = state.config.clone();
    let base = control.base_url.clone();
    let n = lower.len();
    // Operation status and result resources.
    if n == 8 && lower[2] == "providers" && lower[3] == "microsoft.emulator" {
        return match lower[6].as_str() {
            "operationstatuses" => state.arm.operation_status(segs[7]),
            _ => state.arm.operation_result(segs[7], &cfg).map(|mut a| {
                if a.status == 202 {
                    // Each 202 names where to poll next, as ARM's do (recorded).
                    a.headers.push((
                        "Location".into(),
                        format!("{base}{path}?api-version=2025-04-01"),
                    ));
                }
                a
            }),
        };
    }
    // deletedVaults.
    if n >= 8
        && lower[2] == "providers"
        && lower[3] == "microsoft.keyvault"
        && lower[4] == "locations"
        && lower[6] == "deletedvaults"
    {
        return match (method, n) {
            (&Method::GET, 8) => state.arm.deleted_vault(segs[1], segs[5], segs[7]),
            (&Method::POST, 9) if lower[8] == "purge" => state.arm.purge_vault(segs[1], segs[7]),
            _ => Err(ArmError::new(
                405,
                "MethodNotAllowed",
                "The requested method is not allowed.",
            )),
        };
    }
    // Role definitions at any scope.
    if n >= 4
        && lower[n - 3] == "microsoft.authorization"
        && lower[n - 2] == "roledefinitions"
        && lower[n - 4] == "providers"
    {
        let scope = format!("/{}", segs[..n - 4].join("/"));
        return arm::role_definition(&scope, segs[n - 1])
            .map(|b| Answer {
                status: 200,
                body: Some(b),
                headers: Vec::new(),
            })
            .ok_or_else(|| {
                ArmError::new(
                    404,
                    "RoleDefinitionDoesNotExist",
                    format!("The role definition '{}' could not be found.", segs[n - 1]),
                )
            });
    }
    // Cluster credentials.
    if *method == Method::POST
        && n == 9
        && (lower[8] == "listclusterusercredential" || lower[8] == "listclusteradmincredential")
    {
        let cluster = arm::parse(&format!("/{}", segs[..8].join("/")))
            .ok_or_else(|| ArmError::new(404, "NotFound", "Not found"))?;
        return state
            .arm
            .list_credential(&cluster, lower[8] == "listclusteradmincredential");
    }
    if *method == Method::POST && n == 9 && lower[8] == "rotateclustercertificates" {
        let cluster = arm::parse(&format!("/{}", segs[..8].join("/")))
            .ok_or_else(|| ArmError::new(404, "NotFound", "Not found"))?;
        return state.arm.rotate_certificates(&cluster, &cfg, &base);
    }
    // Child collections.
    if *method == Method::GET
        && n == 9
        && (lower[8] == "federatedidentitycredentials" || lower[8] == "agentpools")
    {
        let parent = format!("/{}", segs[..8].join("/"));
        if !state
            .arm
            .resources
            .contains_key(&parent.to_ascii_lowercase())
        {
            return Err(ArmError::new(
                404,
                "ResourceNotFound",
                format!("The Resource '{parent}' was not found."),
            ));
        }
        return Ok(Answer {
            status: 200,
            body: Some(state.arm.list_children(&parent, segs[8])),
            headers: Vec::new(),
        });
    }
    // Resources - List By Resource Group: the group's top-level resources.
    if *method == Method::GET
        && n == 5
        && lower[0] == "subscriptions"
        && lower[2] == "resourcegroups"
        && lower[4] == "resources"
    {
        return state
            .arm
            .list_group_resources(segs[1], segs[3])
            .map(|body| Answer {
                status: 200,
                body: Some(body),
                headers: Vec::new(),
            });
    }
    let target = arm::parse(path).ok_or_else(|| {
        ArmError::new(
            400,
            "InvalidResourceType",
            format!("The resource type could not be found for the path '{path}'."),
        )
    })?;
    match *method {
        Method::GET => state.arm.get(&target),
        Method::PUT => {
            let parsed: Value = serde_json::from_slice(body).map_err(|e| {
                ArmError::new(
                    400,
                    "InvalidRequestContent",
                    format!(
                        "The request content was invalid and could not be deserialized: '{e}'."
                    ),
                )
            })?;
            state.arm.put(&target, parsed, headers, &cfg, &base)
        }
        Method::PATCH => {
            let patch: Value = serde_json::from_slice(body).map_err(|e| {
                ArmError::new(
                    400,
                    "InvalidRequestContent",
                    format!(
                        "The request content was invalid and could not be deserialized: '{e}'."
                    ),
                )
            })?;
            let mut current = state.arm.get(&target)?.body.unwrap_or_default();
            merge(&mut current, &patch);
            state.arm.put(&target, current, headers, &cfg, &base)
        }
        Method::DELETE => state.arm.delete(&target, &cfg, &base),
        // Check existence (ResourceGroups_CheckExistence, Resources_CheckExistenceById): 204
        // or 404, no body either way.
        Method::HEAD => match state.arm.get(&target) {
            Ok(_) => Ok(arm::Answer::empty(204)),
            Err(e) if e.status == 404 => Ok(arm::Answer::empty(404)),
            Err(e) => Err(e),
        },
        _ => Err(ArmError::new(
            405,
            "MethodNotAllowed",
            "The requested method is not allowed.",
        )),
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn control_api(control: &Control, method: &Method, rest: &str, body: &Bytes) -> Response {
    let ok = |v: Value| respond(200, Some(&v), &[]);
    let bad = |m: String| {
        respond(
            400,
            Some(&json!({"error": {"code": "BadRequest", "message": m}})),
            &[],
        )
    };
    match (method, rest.trim_end_matches('/')) {
        (&Method::GET, "/resources") => ok(json!(control.resources())),
        (&Method::GET, "/requests") => ok(json!(control.request_log())),
        (&Method::GET, "/requests/counts") => ok(json!(control.counts())),
        (&Method::GET, "/tokenRequests") => ok(json!(control.token_requests())),
        (&Method::GET, "/nodeIdentity") => ok(json!({
            "endpoint": format!("{}/msi/token", control.base_url),
            "header": control.lock().config.node_identity_header.clone(),
        })),
        (&Method::DELETE, "/requests") => {
            control.clear_log();
            ok(json!({}))
        }
        (&Method::POST, "/faults") => match serde_json::from_slice::<Fault>(body) {
            Ok(f) => match control.inject_fault(f) {
                Ok(()) => ok(json!({})),
                Err(e) => bad(format!("invalid pathPattern: {e}")),
            },
            Err(e) => bad(format!("invalid fault: {e}")),
        },
        (&Method::DELETE, "/faults") => {
            control.clear_faults();
            ok(json!({}))
        }
        (&Method::POST, "/config") => {
            let Ok(v) = serde_json::from_slice::<Value>(body) else {
                return bad("invalid JSON".into());
            };
            if let Some(ms) = v.get("lroDurationMillis").and_then(Value::as_u64) {
                control.set_lro_duration(Duration::from_millis(ms));
            }
            if let Some(ms) = v.get("principalDelayMillis").and_then(Value::as_u64) {
                control.set_principal_delay(Duration::from_millis(ms));
            }
            if let Some(b) = v.get("enforceAuthorization").and_then(Value::as_bool) {
                control.set_enforce_authorization(b);
            }
            if let Some(t) = v.get("throttling") {
                match serde_json::from_value::<ThrottleLimits>(t.clone()) {
                    Ok(t) => control.set_throttling(t),
                    Err(e) => return bad(format!("invalid throttling: {e}")),
                }
            }
            if let Some(t) = v.get("keyvaultThrottling") {
                match serde_json::from_value::<KeyVaultLimits>(t.clone()) {
                    Ok(t) => control.set_keyvault_throttling(t),
                    Err(e) => return bad(format!("invalid keyvaultThrottling: {e}")),
                }
            }
            ok(json!({}))
        }
        (&Method::POST, "/servicePrincipals") => match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
                let (Some(id), Some(secret)) = (text("clientId"), text("clientSecret")) else {
                    return bad("clientId and clientSecret are required".into());
                };
                let sp = crate::ServicePrincipal {
                    client_id: id,
                    client_secret: secret,
                    object_id: text("objectId").unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                };
                control.put_service_principal(sp.clone());
                ok(json!(sp))
            }
            Err(e) => bad(format!("invalid JSON: {e}")),
        },
        (&Method::POST, "/grants") => match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                let text = |k: &str| v.get(k).and_then(Value::as_str).filter(|t| !t.is_empty());
                let (Some(principal), Some(role), Some(scope)) =
                    (text("principalId"), text("roleDefinitionId"), text("scope"))
                else {
                    return bad("principalId, roleDefinitionId and scope are required".into());
                };
                let id = control.grant(principal, role, scope);
                ok(control.resource(&id).unwrap_or_else(|| json!({"id": id})))
            }
            Err(e) => bad(format!("invalid JSON: {e}")),
        },
        (&Method::POST, "/workloadIdentities") => {
            match serde_json::from_slice::<crate::WorkloadIdentity>(body) {
                Ok(w) if !w.client_id.is_empty() && !w.object_id.is_empty() => {
                    control.put_workload_identity(w.clone());
                    ok(json!(w))
                }
                Ok(_) => bad("clientId and objectId must not be empty".into()),
                Err(e) => bad(format!(
                    "expected {{clientId, objectId, issuer, subject, audiences}}: {e}"
                )),
            }
        }
        (&Method::POST, "/secrets") => {
            #[derive(serde::Deserialize)]
            struct Set {
                vault: String,
                name: String,
                value: String,
            }
            match serde_json::from_slice::<Set>(body) {
                Ok(x) => match control.set_secret(&x.vault, &x.name, &x.value) {
                    Some(version) => {
                        ok(json!({"vault": x.vault, "name": x.name, "version": version}))
                    }
                    None => bad(format!(
                        "no vault {} (or {} is not a secret name)",
                        x.vault, x.name
                    )),
                },
                Err(e) => bad(format!("expected {{vault, name, value}}: {e}")),
            }
        }
        (&Method::POST, "/trustedCas") => match std::str::from_utf8(body) {
            Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => {
                control.trust_ca_pem(pem);
                ok(json!({}))
            }
            _ => bad("expected a PEM certificate as the body".into()),
        },
        (&Method::POST, "/reset") => {
            control.reset();
            ok(json!({}))
        }
        _ => respond(
            404,
            Some(
                &json!({"error": {"code": "NotFound", "message": "unknown /_emulator/ endpoint"}}),
            ),
            &[],
        ),
    }
}

/// Whom ARM throttles a request as: the bearer token's `oid` claim (read, not verified: when
/// [`crate::Config::enforce_authorization`] is set the token was verified already), or for a
/// token that is not a JWT (an arm-emulator accepts any) the token itself, so each distinct
/// caller has its own buckets as each principal does in Azure.
fn principal_of(authorization: &str) -> String {
    use base64::Engine as _;
    let token = authorization
        .strip_prefix("Bearer ")
        .unwrap_or(authorization)
        .trim();
    token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
        .and_then(|claims| {
            claims
                .get("oid")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| token.to_string())
}
