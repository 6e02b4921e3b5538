//! The Key Vault secrets data plane, served under each vault's `vaultUri`
//! (`{base}/keyvault/{vault}/`), authorised as Key Vault does with RBAC: the bearer token must be
//! one the emulator's token endpoint issued for `https://vault.azure.net`, and its `oid` must
//! hold a role assignment at the secret, the vault or above whose role allows the data action.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::{Value, json};

use crate::arm::{Answer, Kind};
use crate::control::Control;

/// The audience Key Vault accepts.
const VAULT_AUDIENCE: &str = "https://vault.azure.net";

/// One version of a secret.
#[derive(Debug, Clone)]
struct SecretVersion {
    version: String,
    value: String,
    content_type: Option<String>,
    tags: Option<Value>,
    enabled: bool,
    not_before: Option<i64>,
    expires: Option<i64>,
    created: i64,
    updated: i64,
}

/// A secret: the name as first written, and its versions, oldest first.
#[derive(Debug, Clone, Default)]
struct Secret {
    name: String,
    versions: Vec<SecretVersion>,
}

/// Every vault's secrets, by lower-cased vault name, then lower-cased secret name.
#[derive(Debug, Default)]
pub(crate) struct Secrets {
    vaults: HashMap<String, BTreeMap<String, Secret>>,
}

impl Secrets {
    /// Sets a new version of secret `name` in vault `vault` (as `az keyvault secret set` does
    /// through the data plane); its version id.
    pub(crate) fn set(&mut self, vault: &str, name: &str, value: &str) -> String {
        let t = now();
        let version = SecretVersion {
            version: uuid::Uuid::new_v4().simple().to_string(),
            value: value.to_string(),
            content_type: None,
            tags: None,
            enabled: true,
            not_before: None,
            expires: None,
            created: t,
            updated: t,
        };
        let s = self
            .vaults
            .entry(vault.to_ascii_lowercase())
            .or_default()
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| Secret {
                name: name.to_string(),
                versions: Vec::new(),
            });
        s.versions.push(version.clone());
        version.version
    }

    /// Drops a vault's secrets (it was purged).
    pub(crate) fn forget_vault(&mut self, vault: &str) {
        self.vaults.remove(&vault.to_ascii_lowercase());
    }
}

fn kv_error(status: u16, code: &str, message: impl Into<String>) -> Answer {
    Answer {
        status,
        body: Some(json!({"error": {"code": code, "message": message.into()}})),
        headers: Vec::new(),
    }
}

fn ok(body: Value) -> Answer {
    Answer {
        status: 200,
        body: Some(body),
        headers: Vec::new(),
    }
}

/// 401 with the challenge clients use to find the authority and resource.
fn unauthorized(base: &str, tenant: &str, message: &str) -> Answer {
    let mut a = kv_error(401, "Unauthorized", message);
    a.headers.push((
        "WWW-Authenticate".into(),
        format!("Bearer authorization=\"{base}/{tenant}\", resource=\"{VAULT_AUDIENCE}\""),
    ));
    a
}

/// 429 as Key Vault answers it when a vault's limit is reached, with `Retry-After` in whole
/// seconds (rounded up, at least 1). The code and message are Key Vault's own, as a real answer
/// shows them (e.g. github.com/vcsjones/AzureSignTool/issues/219):
/// `{"error":{"code":"Throttled","message":"Request was not processed because too many requests
/// were received. Reason: VaultRequestTypeLimitReached"}}`, with no innererror.
fn throttled(wait: Duration) -> Answer {
    let mut a = kv_error(
        429,
        "Throttled",
        "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached",
    );
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    a.headers
        .push(("Retry-After".into(), seconds.max(1).to_string()));
    a
}

/// What a request asks for.
enum Operation {
    List,
    Set(String),
    Get(String, Option<String>),
    Versions(String),
    Delete(String),
}

impl Operation {
    fn data_action(&self) -> &'static str {
        match self {
            Operation::List | Operation::Versions(_) => {
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
            }
            Operation::Set(_) => "Microsoft.KeyVault/vaults/secrets/setSecret/action",
            Operation::Get(..) => "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            Operation::Delete(_) => "Microsoft.KeyVault/vaults/secrets/delete",
        }
    }

    fn secret(&self) -> Option<&str> {
        match self {
            Operation::List => None,
            Operation::Set(n) | Operation::Get(n, _) | Operation::Versions(n) => Some(n),
            Operation::Delete(n) => Some(n),
        }
    }
}

/// The body of the live vault named `name` (ARM names vaults case-insensitively).
pub(crate) fn vault_named<'a>(arm: &'a crate::arm::Arm, name: &str) -> Option<&'a Value> {
    arm.resources
        .values()
        .find(|r| {
            r.kind == Kind::Vault
                && r.body["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .map(|r| &r.body)
}

pub(crate) fn valid_secret_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Answers a request under `/keyvault/`; `None` for any other path.
pub(crate) fn route(
    control: &Control,
    method: &Method,
    path: &str,
    query: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Option<Answer> {
    let rest = path.strip_prefix("/keyvault/")?;
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let vault_name = *segs.first()?;
    let base = control.base_url.clone();
    let mut state = control.lock();
    let tenant = state.config.tenant_id.clone();
    state.arm.settle();

    let Some(vault) = vault_named(&state.arm, vault_name).cloned() else {
        // Azure's DNS would not resolve the name; the emulator answers 404.
        return Some(kv_error(
            404,
            "VaultNotFound",
            format!("The vault '{vault_name}' does not exist or has been deleted."),
        ));
    };
    let vault_id = vault["id"].as_str().unwrap_or_default().to_string();
    let vault_uri = vault
        .pointer("/properties/vaultUri")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let location = vault["location"].as_str().unwrap_or_default().to_string();
    let recovery_level = if vault.pointer("/properties/enablePurgeProtection") == Some(&json!(true))
    {
        "Recoverable"
    } else {
        "Recoverable+Purgeable"
    };

    // Authentication.
    let Some(token) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.strip_prefix("Bearer "))
    else {
        return Some(unauthorized(
            &base,
            &tenant,
            "AKV10000: Request is missing a Bearer or PoP token.",
        ));
    };
    let Some(claims) = control.signer.verify(token) else {
        return Some(unauthorized(
            &base,
            &tenant,
            "AKV10032: Invalid issuer or signature: the token was not issued by this tenant's token endpoint.",
        ));
    };
    let aud = claims["aud"].as_str().unwrap_or_default();
    if !aud
        .trim_end_matches('/')
        .eq_ignore_ascii_case(VAULT_AUDIENCE)
    {
        return Some(unauthorized(
            &base,
            &tenant,
            &format!("AKV10022: Invalid audience. Expected {VAULT_AUDIENCE}, found: {aud}."),
        ));
    }
    if claims["exp"].as_i64().is_none_or(|e| e <= now()) {
        return Some(unauthorized(
            &base,
            &tenant,
            "AKV10021: Invalid token: the token has expired.",
        ));
    }
    if !claims["tid"]
        .as_str()
        .is_some_and(|t| t.eq_ignore_ascii_case(&tenant))
    {
        return Some(unauthorized(
            &base,
            &tenant,
            "AKV10032: Invalid issuer: the token's tenant is not the vault's.",
        ));
    }
    let oid = claims["oid"].as_str().unwrap_or_default().to_string();
    let appid = claims["appid"].as_str().unwrap_or_default().to_string();

    // Throttling, per vault (see `KeyVaultLimits`). What counts is every authenticated request
    // to an existing vault, whatever it then answers (400, 403, 404 included): a transaction
    // the vault served. Requests for a vault that does not exist, and the unauthenticated
    // first request that fetches the 401 challenge, are not counted; Azure's pages do not say
    // either way. A throttled request changes nothing.
    if let Err(wait) = Control::take_vault_transaction(&mut state, vault_name, Instant::now()) {
        return Some(throttled(wait));
    }

    if !query.split('&').any(|p| {
        p.strip_prefix("api-version=")
            .is_some_and(|v| !v.is_empty())
    }) {
        return Some(kv_error(
            400,
            "BadParameter",
            "The api-version query parameter is missing.",
        ));
    }

    let operation = match (method, &segs[1..]) {
        (&Method::GET, ["secrets"]) => Operation::List,
        (&Method::PUT, ["secrets", name]) => Operation::Set(name.to_string()),
        (&Method::GET, ["secrets", name]) => Operation::Get(name.to_string(), None),
        (&Method::GET, ["secrets", name, "versions"]) => Operation::Versions(name.to_string()),
        (&Method::GET, ["secrets", name, version]) => {
            Operation::Get(name.to_string(), Some(version.to_string()))
        }
        (&Method::DELETE, ["secrets", name]) => Operation::Delete(name.to_string()),
        _ => {
            return Some(kv_error(
                405,
                "MethodNotAllowed",
                format!("{method} {path} is not supported by the emulated Key Vault."),
            ));
        }
    };
    if let Some(n) = operation.secret()
        && !valid_secret_name(n)
    {
        return Some(kv_error(
            400,
            "BadParameter",
            format!("The request URI contains an invalid name: {n}"),
        ));
    }

    // Authorisation (RBAC, whatever the vault's enableRbacAuthorization says).
    let resource = match operation.secret() {
        Some(n) => format!("{vault_id}/secrets/{n}"),
        None => vault_id.clone(),
    };
    let action = operation.data_action();
    if !crate::rbac::principal_may(
        &state.arm,
        &oid,
        &resource,
        crate::rbac::Plane::Data,
        action,
    ) {
        let message = format!(
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={appid};oid={oid};iss={iss}\r\nAction: '{action}'\r\nResource: '{r}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {vault_name};location={location}\r\n",
            iss = claims["iss"].as_str().unwrap_or_default(),
            r = resource.to_ascii_lowercase(),
        );
        return Some(Answer {
            status: 403,
            body: Some(json!({"error": {"code": "Forbidden", "message": message,
                "innererror": {"code": "ForbiddenByRbac"}}})),
            headers: Vec::new(),
        });
    }

    let bundle = |name: &str, v: &SecretVersion, with_value: bool, with_version: bool| {
        let mut attributes = json!({"enabled": v.enabled, "created": v.created, "updated": v.updated,
            "recoveryLevel": recovery_level, "recoverableDays": 90});
        if let Some(n) = v.not_before {
            attributes["nbf"] = json!(n);
        }
        if let Some(e) = v.expires {
            attributes["exp"] = json!(e);
        }
        let id = if with_version {
            format!("{vault_uri}secrets/{name}/{}", v.version)
        } else {
            format!("{vault_uri}secrets/{name}")
        };
        let mut b = json!({"id": id, "attributes": attributes});
        if with_value {
            b["value"] = json!(v.value);
        }
        if let Some(t) = &v.tags {
            b["tags"] = t.clone();
        }
        if let Some(c) = &v.content_type {
            b["contentType"] = json!(c);
        }
        b
    };
    let not_found = |name: &str| {
        kv_error(
            404,
            "SecretNotFound",
            format!(
                "A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
            ),
        )
    };
    let secrets = state
        .arm
        .secrets
        .vaults
        .entry(vault_name.to_ascii_lowercase())
        .or_default();
    Some(match operation {
        Operation::List => {
            let items: Vec<Value> = secrets
                .values()
                .filter_map(|s| s.versions.last().map(|v| bundle(&s.name, v, false, false)))
                .collect();
            ok(json!({"value": items, "nextLink": null}))
        }
        Operation::Versions(name) => match secrets.get(&name.to_ascii_lowercase()) {
            Some(s) => {
                let items: Vec<Value> = s
                    .versions
                    .iter()
                    .map(|v| bundle(&s.name, v, false, true))
                    .collect();
                ok(json!({"value": items, "nextLink": null}))
            }
            None => not_found(&name),
        },
        Operation::Get(name, version) => {
            let found = secrets.get(&name.to_ascii_lowercase()).and_then(|s| {
                let v = match &version {
                    Some(want) => s
                        .versions
                        .iter()
                        .find(|v| v.version.eq_ignore_ascii_case(want)),
                    None => s.versions.last(),
                };
                v.map(|v| (s.name.clone(), v.clone()))
            });
            match found {
                Some((_, v)) if !v.enabled => {
                    let mut a = kv_error(
                        403,
                        "Forbidden",
                        "Operation get is not allowed on a disabled secret.",
                    );
                    if let Some(b) = &mut a.body {
                        b["error"]["innererror"] = json!({"code": "SecretDisabled"});
                    }
                    a
                }
                Some((n, v)) => ok(bundle(&n, &v, true, true)),
                None => not_found(&name),
            }
        }
        Operation::Set(name) => {
            let parsed: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => {
                    return Some(kv_error(
                        400,
                        "BadParameter",
                        format!("The request body is not valid JSON: {e}"),
                    ));
                }
            };
            let Some(value) = parsed.get("value").and_then(Value::as_str) else {
                return Some(kv_error(
                    400,
                    "BadParameter",
                    "Property 'value' is required and must be a string.",
                ));
            };
            let t = now();
            let attrs = parsed.get("attributes");
            let version = SecretVersion {
                version: uuid::Uuid::new_v4().simple().to_string(),
                value: value.to_string(),
                content_type: parsed
                    .get("contentType")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                tags: parsed.get("tags").filter(|t| t.is_object()).cloned(),
                enabled: attrs
                    .and_then(|a| a.get("enabled"))
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                not_before: attrs.and_then(|a| a.get("nbf")).and_then(Value::as_i64),
                expires: attrs.and_then(|a| a.get("exp")).and_then(Value::as_i64),
                created: t,
                updated: t,
            };
            let s = secrets
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| Secret {
                    name: name.clone(),
                    versions: Vec::new(),
                });
            s.versions.push(version.clone());
            ok(bundle(&s.name.clone(), &version, true, true))
        }
        Operation::Delete(name) => match secrets.remove(&name.to_ascii_lowercase()) {
            Some(s) => {
                let mut b = s
                    .versions
                    .last()
                    .map(|v| bundle(&s.name, v, false, true))
                    .unwrap_or_else(|| json!({}));
                b["recoveryId"] = json!(format!("{vault_uri}deletedsecrets/{}", s.name));
                b["deletedDate"] = json!(now());
                b["scheduledPurgeDate"] = json!(now() + 90 * 24 * 3600);
                ok(b)
            }
            None => not_found(&name),
        },
    })
}
