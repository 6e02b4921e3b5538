//! Microsoft Entra's token endpoint (`POST /{tenant}/oauth2/v2.0/token`) for the client
//! credentials grant, as azure_identity's ClientSecretCredential, ClientAssertionCredential and
//! WorkloadIdentityCredential call it, and the access tokens it signs.
//!
//! Client secrets belong to service principals registered in [`crate::Config`] or through
//! [`crate::Control::add_service_principal`]. Client assertions are JWTs (Kubernetes
//! ServiceAccount tokens) presented for a user-assigned identity: they are accepted when one of
//! the identity's federatedIdentityCredentials names the token's issuer, subject and an
//! audience, the token is within its validity window, and its RS256 signature verifies against
//! the issuer's JWKS (found through `{iss}/.well-known/openid-configuration`, fetched over HTTPS
//! trusting [`crate::Config::trusted_ca_pems`], loopback issuers only, cached per issuer).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::arm::{Answer, Kind};
use crate::control::Control;

/// The `client_assertion_type` of a JWT client assertion.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Lifetime of issued access tokens, in seconds (what Entra answers for app tokens).
const TOKEN_LIFETIME: i64 = 3599;

/// Clock skew tolerated on client assertions' `exp` and `nbf`.
const CLOCK_SKEW: i64 = 60;

/// A service principal that signs in with a client secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    /// The application (client) id it signs in with.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The principal (object) id its tokens carry as `oid`, and role assignments name.
    pub object_id: String,
}

/// A federated identity credential's issuer, subject and audiences.
type Credential = (String, String, Vec<String>);

/// An application that is not an ARM managed identity, federated with an external issuer (e.g.
/// a Kubernetes ServiceAccount of the kube-emulator): a client assertion for `client_id` from
/// `issuer` about `subject` with one of `audiences` signs it in as `object_id`. Several entries
/// with the same client id are several federated credentials of one application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIdentity {
    /// The application (client) id the assertion is presented for.
    pub client_id: String,
    /// The principal (object) id its tokens carry as `oid`, and role assignments name.
    pub object_id: String,
    /// The token issuer the credential trusts (exact, case-sensitive).
    pub issuer: String,
    /// The token subject, e.g. `system:serviceaccount:{namespace}:{name}`.
    pub subject: String,
    /// Accepted token audiences, e.g. `api://AzureADTokenExchange`.
    pub audiences: Vec<String>,
}

/// The RSA key that signs access tokens; generated at start-up.
pub(crate) struct Signer {
    key: RsaKeyPair,
    kid: String,
    rng: SystemRandom,
}

impl Signer {
    /// A fresh 2048-bit key.
    pub(crate) fn generate() -> Result<Self, aws_lc_rs::error::Unspecified> {
        let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)?;
        let kid = uuid::Uuid::new_v4().simple().to_string();
        Ok(Signer {
            key,
            kid,
            rng: SystemRandom::new(),
        })
    }

    /// Signs claims into a compact RS256 JWT.
    pub(crate) fn sign(&self, claims: &Value) -> Option<String> {
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, input.as_bytes(), &mut sig)
            .ok()?;
        Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// The claims of a token this key signed; `None` for anything else.
    pub(crate) fn verify(&self, token: &str) -> Option<Value> {
        let jwt = Jwt::decode(token)?;
        if jwt.header.get("alg").and_then(Value::as_str) != Some("RS256")
            || jwt.header.get("kid").and_then(Value::as_str) != Some(self.kid.as_str())
        {
            return None;
        }
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, self.key.public_key().as_ref())
            .verify(jwt.signing_input.as_bytes(), &jwt.signature)
            .ok()?;
        Some(jwt.claims)
    }
}

/// A decoded (not yet verified) compact JWT.
pub(crate) struct Jwt {
    pub header: Value,
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

/// What checking a signature against a JWKS found.
#[derive(Debug, PartialEq)]
enum SignatureCheck {
    Valid,
    /// No key in the set has the token's `kid` (the issuer may have rotated keys).
    NoKey,
    Invalid,
}

impl Jwt {
    pub(crate) fn decode(token: &str) -> Option<Jwt> {
        let mut parts = token.trim().split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let b64 = |p: &str| URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok();
        let header: Value = serde_json::from_slice(&b64(h)?).ok()?;
        let claims: Value = serde_json::from_slice(&b64(c)?).ok()?;
        if !header.is_object() || !claims.is_object() {
            return None;
        }
        Some(Jwt {
            header,
            claims,
            signing_input: format!("{h}.{c}"),
            signature: b64(s)?,
        })
    }

    fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// `aud` as a list (a JWT may carry one string or an array).
    fn audiences(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    fn check_signature(&self, jwks: &Value) -> SignatureCheck {
        if self.header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return SignatureCheck::Invalid;
        }
        let kid = self.header.get("kid").and_then(Value::as_str);
        let keys: Vec<&Value> = jwks
            .get("keys")
            .and_then(Value::as_array)
            .map(|k| {
                k.iter()
                    .filter(|k| k.get("kty").and_then(Value::as_str) == Some("RSA"))
                    .filter(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid)
                    .collect()
            })
            .unwrap_or_default();
        if keys.is_empty() {
            return SignatureCheck::NoKey;
        }
        let b64 = |k: &Value, f: &str| {
            k.get(f)
                .and_then(Value::as_str)
                .and_then(|v| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok())
        };
        let valid = keys.iter().any(|k| {
            let (Some(n), Some(e)) = (b64(k, "n"), b64(k, "e")) else {
                return false;
            };
            RsaPublicKeyComponents { n: &n, e: &e }
                .verify(
                    &RSA_PKCS1_2048_8192_SHA256,
                    self.signing_input.as_bytes(),
                    &self.signature,
                )
                .is_ok()
        });
        if valid {
            SignatureCheck::Valid
        } else {
            SignatureCheck::Invalid
        }
    }
}

/// An answer in Entra's error shape: `{error, error_description, error_codes, ...}`.
fn entra_error(status: u16, error: &str, code: u32, description: impl Into<String>) -> Answer {
    let trace = uuid::Uuid::new_v4().to_string();
    let correlation = uuid::Uuid::new_v4().to_string();
    let timestamp = jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M:%SZ")
        .to_string();
    let description = format!(
        "AADSTS{code}: {} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}",
        description.into()
    );
    Answer {
        status,
        body: Some(json!({
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        })),
        headers: vec![("Cache-Control".into(), "no-store, no-cache".into())],
    }
}

fn missing(parameter: &str) -> Answer {
    entra_error(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{parameter}'."),
    )
}

/// Answers `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(control: &Control, tenant: &str, body: &[u8]) -> Answer {
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let (tenant_id, principals) = {
        let s = control.lock();
        (
            s.config.tenant_id.clone(),
            s.config.service_principals.clone(),
        )
    };
    if !tenant.eq_ignore_ascii_case(&tenant_id) {
        return entra_error(
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(grant) = get("grant_type") else {
        return missing("grant_type");
    };
    if grant != "client_credentials" {
        return entra_error(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        );
    }
    let Some(client_id) = get("client_id") else {
        return missing("client_id");
    };
    // Counted per client id, whatever the answer: what a budget test reads.
    *control
        .lock()
        .token_requests
        .entry(client_id.to_ascii_lowercase())
        .or_insert(0) += 1;
    let Some(scope) = get("scope") else {
        return missing("scope");
    };
    let Some(resource) = scope
        .split_whitespace()
        .find_map(|s| s.strip_suffix("/.default"))
        .filter(|r| !r.is_empty())
    else {
        return entra_error(
            400,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    };
    let principal = if let Some(kind) = get("client_assertion_type") {
        if kind != ASSERTION_TYPE {
            return entra_error(
                400,
                "invalid_request",
                50027,
                format!("Invalid client_assertion_type '{kind}'."),
            );
        }
        let Some(assertion) = get("client_assertion") else {
            return missing("client_assertion");
        };
        match check_assertion(control, &tenant_id, client_id, assertion).await {
            Ok(oid) => oid,
            Err(a) => return a,
        }
    } else if let Some(secret) = get("client_secret") {
        let Some(sp) = principals
            .iter()
            .find(|p| p.client_id.eq_ignore_ascii_case(client_id))
        else {
            return unknown_client(client_id, &tenant_id);
        };
        if sp.client_secret != secret {
            return entra_error(
                401,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            );
        }
        sp.object_id.clone()
    } else {
        return entra_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    };
    let Some((access_token, _)) =
        access_token(control, &tenant_id, resource, &principal, client_id)
    else {
        return entra_error(500, "temporarily_unavailable", 90033, "Signing failed.");
    };
    Answer {
        status: 200,
        body: Some(json!({
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "ext_expires_in": TOKEN_LIFETIME,
            "access_token": access_token,
        })),
        headers: vec![("Cache-Control".into(), "no-store, no-cache".into())],
    }
}

/// An access token for `principal` (application `client_id`) to `resource`, and when it
/// expires (Unix seconds).
fn access_token(
    control: &Control,
    tenant_id: &str,
    resource: &str,
    principal: &str,
    client_id: &str,
) -> Option<(String, i64)> {
    let now = jiff::Timestamp::now().as_second();
    let exp = now + TOKEN_LIFETIME;
    let claims = json!({
        "aud": resource,
        "iss": format!("{}/{tenant_id}/v2.0", control.base_url),
        "iat": now,
        "nbf": now,
        "exp": exp,
        "oid": principal,
        "sub": principal,
        "tid": tenant_id,
        "appid": client_id,
        "azp": client_id,
        "idtyp": "app",
        "ver": "1.0",
        "uti": uuid::Uuid::new_v4().simple().to_string(),
    });
    let token = control.signer.sign(&claims)?;
    control.lock().issued_tokens.push(token.clone());
    Some((token, exp))
}

/// The managed identity endpoint of an emulated AKS node (`GET /msi/token`, the App Service
/// protocol): a token for one of the managed clusters' kubelet identities, chosen by
/// `client_id`, `object_id` or `msi_res_id` (or the only one there is), when the request
/// carries the node's `X-IDENTITY-HEADER`.
pub(crate) fn node_token(control: &Control, query: &str, header: Option<&str>) -> Answer {
    let fail = |status: u16, message: &str| Answer {
        status,
        body: Some(json!({"error": {"code": "invalid_request", "message": message}})),
        headers: Vec::new(),
    };
    let (tenant_id, expected, kubelets) = {
        let s = control.lock();
        let kubelets: Vec<Value> = s
            .arm
            .resources
            .values()
            .filter(|r| r.kind == crate::arm::Kind::ManagedCluster)
            .filter_map(|r| {
                r.body
                    .pointer("/properties/identityProfile/kubeletidentity")
                    .cloned()
            })
            .collect();
        (
            s.config.tenant_id.clone(),
            s.config.node_identity_header.clone(),
            kubelets,
        )
    };
    if header != Some(expected.as_str()) {
        return fail(401, "The X-IDENTITY-HEADER header is missing or wrong.");
    }
    let q: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let Some(resource) = q.get("resource").filter(|r| !r.is_empty()) else {
        return fail(400, "The resource parameter is required.");
    };
    let field = |k: &Value, f: &str| k[f].as_str().unwrap_or_default().to_ascii_lowercase();
    let asked = [
        ("client_id", "clientId"),
        ("object_id", "objectId"),
        ("msi_res_id", "resourceId"),
    ]
    .iter()
    .find_map(|(p, f)| q.get(*p).map(|v| (*f, v.to_ascii_lowercase())));
    let chosen = match asked {
        Some((f, v)) => kubelets.iter().find(|k| field(k, f) == v),
        None if kubelets.len() == 1 => kubelets.first(),
        None => None,
    };
    let Some(kubelet) = chosen else {
        return fail(
            400,
            "The requested identity has not been assigned to this resource.",
        );
    };
    let Some((token, exp)) = access_token(
        control,
        &tenant_id,
        resource.trim_end_matches('/'),
        &field(kubelet, "objectId"),
        &field(kubelet, "clientId"),
    ) else {
        return fail(500, "Signing failed.");
    };
    Answer {
        status: 200,
        body: Some(json!({
            "access_token": token,
            "expires_on": exp.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": field(kubelet, "clientId"),
        })),
        headers: Vec::new(),
    }
}

fn unknown_client(client_id: &str, tenant: &str) -> Answer {
    entra_error(
        400,
        "unauthorized_client",
        700016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

const MATCHING_NOTE: &str = "Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation";

/// Checks a client assertion for the identity whose clientId is `client_id`; returns the
/// identity's principal id.
async fn check_assertion(
    control: &Control,
    tenant: &str,
    client_id: &str,
    assertion: &str,
) -> Result<String, Answer> {
    let Some(jwt) = Jwt::decode(assertion) else {
        return Err(entra_error(
            400,
            "invalid_client",
            50027,
            "JWT token is invalid or malformed.",
        ));
    };
    // The identity and its federated credentials: (issuer, subject, audiences).
    let (principal, credentials) = {
        let mut s = control.lock();
        s.arm.settle();
        let identity = s.arm.resources.iter().find_map(|(key, r)| {
            let p = |f: &str| {
                r.body
                    .pointer(&format!("/properties/{f}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            (r.kind == Kind::Identity && p("clientId").eq_ignore_ascii_case(client_id))
                .then(|| (key.clone(), p("principalId")))
        });
        match identity {
            Some((key, principal)) => {
                let prefix = format!("{key}/federatedidentitycredentials/");
                let credentials: Vec<Credential> = s
                    .arm
                    .resources
                    .iter()
                    .filter(|(k, r)| k.starts_with(&prefix) && r.kind == Kind::FederatedCredential)
                    .map(|(_, r)| {
                        let p = |f: &str| {
                            r.body
                                .pointer(&format!("/properties/{f}"))
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string()
                        };
                        let audiences = r
                            .body
                            .pointer("/properties/audiences")
                            .and_then(Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default();
                        (p("issuer"), p("subject"), audiences)
                    })
                    .collect();
                (principal, credentials)
            }
            // Not a managed identity: an application registered with its federated credentials.
            None => {
                let registered: Vec<&WorkloadIdentity> = s
                    .config
                    .workload_identities
                    .iter()
                    .filter(|w| w.client_id.eq_ignore_ascii_case(client_id))
                    .collect();
                let Some(first) = registered.first() else {
                    return Err(unknown_client(client_id, tenant));
                };
                let credentials: Vec<Credential> = registered
                    .iter()
                    .map(|w| (w.issuer.clone(), w.subject.clone(), w.audiences.clone()))
                    .collect();
                (first.object_id.clone(), credentials)
            }
        }
    };
    let issuer = jwt.claim_str("iss").unwrap_or_default().to_string();
    let subject = jwt.claim_str("sub").unwrap_or_default().to_string();
    let audiences = jwt.audiences();
    let by_issuer: Vec<_> = credentials.iter().filter(|c| c.0 == issuer).collect();
    if by_issuer.is_empty() {
        return Err(entra_error(
            400,
            "invalid_client",
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{issuer}'. {MATCHING_NOTE}"
            ),
        ));
    }
    let by_subject: Vec<_> = by_issuer.iter().filter(|c| c.1 == subject).collect();
    if by_subject.is_empty() {
        return Err(entra_error(
            400,
            "invalid_client",
            700213,
            format!(
                "No matching federated identity record found for presented assertion subject '{subject}'. {MATCHING_NOTE}"
            ),
        ));
    }
    if !by_subject
        .iter()
        .any(|c| c.2.iter().any(|a| audiences.contains(a)))
    {
        return Err(entra_error(
            400,
            "invalid_client",
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'. {MATCHING_NOTE}",
                audiences.join(",")
            ),
        ));
    }
    let now = jiff::Timestamp::now().as_second();
    let exp = jwt.claims.get("exp").and_then(Value::as_i64);
    let nbf = jwt.claims.get("nbf").and_then(Value::as_i64);
    if exp.is_none_or(|e| e + CLOCK_SKEW <= now) || nbf.is_some_and(|n| n - CLOCK_SKEW > now) {
        let text = |t: Option<i64>| {
            t.and_then(|t| jiff::Timestamp::from_second(t).ok())
                .map(|t| t.to_string())
                .unwrap_or_else(|| "(none)".into())
        };
        return Err(entra_error(
            400,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                text(Some(now)),
                text(nbf),
                text(exp)
            ),
        ));
    }
    let mut check = SignatureCheck::NoKey;
    for refresh in [false, true] {
        let jwks = jwks_for(control, &issuer, refresh).await.map_err(|why| {
            entra_error(
                400,
                "invalid_client",
                50166,
                format!("Request to External OIDC endpoint failed. ({why})"),
            )
        })?;
        check = jwt.check_signature(&jwks);
        if check != SignatureCheck::NoKey {
            break;
        }
    }
    if check != SignatureCheck::Valid {
        return Err(entra_error(
            400,
            "invalid_client",
            700027,
            "Client assertion failed signature validation.",
        ));
    }
    Ok(principal)
}

/// Whether a URL's host is a loopback address: the emulator fetches nothing off the machine.
fn loopback_https(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The issuer's JWKS, from the cache unless `refresh`.
async fn jwks_for(control: &Control, issuer: &str, refresh: bool) -> Result<Value, String> {
    if !refresh && let Some(j) = control.lock().jwks.get(issuer) {
        return Ok(j.clone());
    }
    if !loopback_https(issuer) {
        return Err(format!(
            "the emulator fetches keys only from https loopback issuers, not '{issuer}'"
        ));
    }
    let pems = control.lock().config.trusted_ca_pems.clone();
    let client = https_client(&pems)?;
    let get = |url: String| {
        let client = client.clone();
        async move {
            let r = client
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            if !r.status().is_success() {
                return Err(format!("GET {url}: {}", r.status()));
            }
            let bytes = r.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
            serde_json::from_slice::<Value>(&bytes).map_err(|e| format!("GET {url}: {e}"))
        }
    };
    let discovery = get(format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
    .await?;
    let jwks_uri = discovery
        .get("jwks_uri")
        .and_then(Value::as_str)
        .filter(|u| loopback_https(u))
        .ok_or("the discovery document has no https loopback jwks_uri")?
        .to_string();
    let jwks = get(jwks_uri).await?;
    control.lock().jwks.insert(issuer.to_string(), jwks.clone());
    Ok(jwks)
}

/// An HTTPS client trusting exactly the configured CAs.
fn https_client(pems: &[String]) -> Result<reqwest::Client, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for pem in pems {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("trusted CA PEM: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("trusted CA certificate: {e}"))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_loopback_issuers_are_fetched() {
        assert!(loopback_https("https://127.0.0.1:8443"));
        assert!(loopback_https("https://localhost/x"));
        assert!(loopback_https("https://[::1]:9/"));
        assert!(!loopback_https("http://127.0.0.1:8443"));
        assert!(!loopback_https(
            "https://westeurope.oic.prod-aks.azure.com/t/c/"
        ));
    }

    #[test]
    fn tokens_verify_only_with_the_key_that_signed_them() {
        let a = Signer::generate().expect("key");
        let b = Signer::generate().expect("key");
        let t = a.sign(&json!({"oid": "x"})).expect("signed");
        assert_eq!(a.verify(&t).expect("valid")["oid"], "x");
        assert!(b.verify(&t).is_none());
        let jwks = {
            let public = a.key.public_key();
            json!({"keys": [{"kty": "RSA", "kid": a.kid,
                "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero())}]})
        };
        let jwt = Jwt::decode(&t).expect("decodes");
        assert_eq!(jwt.check_signature(&jwks), SignatureCheck::Valid);
        let other = Jwt::decode(&b.sign(&json!({})).expect("signed")).expect("decodes");
        assert_eq!(other.check_signature(&jwks), SignatureCheck::NoKey);
    }
}
