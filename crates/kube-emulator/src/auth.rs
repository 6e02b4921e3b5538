//! Authentication as kube-apiserver does it: who a request comes from.
//!
//! In kube-apiserver's order: a client certificate signed by the server's CA (user = CN,
//! groups = every O); a bearer token, either a static token (`--token-auth-file`) or a
//! ServiceAccount token this server signed (TokenRequest tokens included; checked for
//! signature, issuer, expiry, one of the API audiences, and that the ServiceAccount still
//! exists with the same uid); else `system:anonymous`. A bearer token that is none of these is
//! 401 Unauthorized, even with a valid certificate absent. Every authenticated user is in
//! `system:authenticated`; ServiceAccounts are also in `system:serviceaccounts` and
//! `system:serviceaccounts:<namespace>`.
//!
//! Impersonation (`Impersonate-User`, `-Group`, `-Uid`, `-Extra-*`: `kubectl --as`) follows:
//! the requester must be allowed `impersonate` on each of `users`, `serviceaccounts`,
//! `groups`, `uids` and `userextras/<key>` it names ([`impersonation_checks`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::rbac::Attributes;
use crate::store::ApiError;
use crate::tokens::Signer;

/// Finds a ServiceAccount's uid by namespace and name.
pub type ServiceAccounts<'a> = &'a dyn Fn(&str, &str) -> Option<String>;

/// The group every authenticated user is in.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The group of requests without credentials.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The user of requests without credentials.
pub const ANONYMOUS: &str = "system:anonymous";
/// The group whose members may do anything (kube-apiserver's privileged group).
pub const MASTERS: &str = "system:masters";

/// Who a request is from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name (`system:serviceaccount:<ns>:<name>` for a ServiceAccount).
    pub name: String,
    /// The uid, if the authenticator knows one.
    pub uid: String,
    /// Groups, `system:authenticated` included.
    pub groups: Vec<String>,
    /// Extra attributes.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user with `groups` and `system:authenticated`.
    pub fn authenticated(name: &str, uid: &str, groups: &[String]) -> Self {
        let mut groups = groups.to_vec();
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.to_string());
        }
        UserInfo {
            name: name.to_string(),
            uid: uid.to_string(),
            groups,
            extra: BTreeMap::new(),
        }
    }

    /// `system:anonymous`.
    pub fn anonymous() -> Self {
        UserInfo {
            name: ANONYMOUS.to_string(),
            groups: vec![UNAUTHENTICATED.to_string()],
            ..UserInfo::default()
        }
    }

    /// A ServiceAccount's user.
    pub fn service_account(namespace: &str, name: &str, uid: &str) -> Self {
        UserInfo::authenticated(
            &format!("system:serviceaccount:{namespace}:{name}"),
            uid,
            &[
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{namespace}"),
            ],
        )
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The user as authentication.k8s.io's `UserInfo` JSON.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"username": self.name, "groups": self.groups});
        if !self.uid.is_empty() {
            v["uid"] = json!(self.uid);
        }
        if !self.extra.is_empty() {
            v["extra"] = json!(self.extra);
        }
        v
    }
}

/// A static token's user (a line of `--token-auth-file`).
#[derive(Debug, Clone)]
pub struct StaticToken {
    /// The bearer token.
    pub token: String,
    /// The user.
    pub user: String,
    /// The uid.
    pub uid: String,
    /// The groups.
    pub groups: Vec<String>,
}

impl StaticToken {
    /// Parses kube-apiserver's token file: CSV lines `token,user,uid[,"group1,group2"]`;
    /// blank lines and `#` comments are skipped.
    pub fn parse_file(text: &str) -> Result<Vec<StaticToken>, String> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = csv_fields(line);
            if fields.len() < 3 {
                return Err(format!(
                    "line {}: want token,user,uid[,\"groups\"], got {} fields",
                    n + 1,
                    fields.len()
                ));
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            out.push(StaticToken {
                token: fields[0].clone(),
                user: fields[1].clone(),
                uid: fields[2].clone(),
                groups,
            });
        }
        Ok(out)
    }
}

/// A CSV line's fields; a field in double quotes may hold commas.
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    fields.push(cur.trim().to_string());
    fields
}

/// The subject of a verified client certificate: CN and every O, or `None` without a CN.
pub fn certificate_user(der: &[u8]) -> Option<UserInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups: Vec<String> = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some(UserInfo::authenticated(&name, "", &groups))
}

/// The client certificate a connection presented (verified by the TLS layer), as a request
/// extension.
#[derive(Debug, Clone, Default)]
pub struct Peer(pub Option<UserInfo>);

/// What authenticates requests.
pub struct Authenticator {
    /// Static tokens by token.
    pub static_tokens: HashMap<String, UserInfo>,
    /// The audiences a ServiceAccount token must name one of to reach this server.
    pub api_audiences: Vec<String>,
    /// The issuer its ServiceAccount tokens must carry.
    pub issuer: String,
    /// Claims of tokens whose signature was verified, by token: the RSA check is the costly
    /// part, done once per token (as kube-apiserver caches token authentication); expiry,
    /// audience and the ServiceAccount are checked on every request.
    pub verified: Mutex<HashMap<String, Arc<Value>>>,
}

/// Verified tokens kept before the cache starts over.
const VERIFIED_TOKENS: usize = 10_000;

fn unauthorized() -> ApiError {
    ApiError {
        code: 401,
        reason: "Unauthorized",
        message: "Unauthorized".into(),
        details: None,
    }
}

impl Authenticator {
    /// Who sent a request: its certificate, else its bearer token, else anonymous.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: &Peer,
        signer: &Signer,
        service_accounts: ServiceAccounts<'_>,
    ) -> Result<UserInfo, ApiError> {
        if let Some(user) = &peer.0 {
            return Ok(user.clone());
        }
        let Some(auth) = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(UserInfo::anonymous());
        };
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(unauthorized)?;
        self.token(token, signer, service_accounts)
            .ok_or_else(unauthorized)
    }

    /// The user of a bearer token: a static token's, else a ServiceAccount token's (also
    /// what a TokenReview asks).
    pub fn token(
        &self,
        token: &str,
        signer: &Signer,
        service_accounts: ServiceAccounts<'_>,
    ) -> Option<UserInfo> {
        match self.static_tokens.get(token) {
            Some(user) => Some(user.clone()),
            None => self.service_account_token(token, signer, service_accounts),
        }
    }

    fn verified_claims(&self, token: &str, signer: &Signer) -> Option<Arc<Value>> {
        let cache = || {
            self.verified
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(claims) = cache().get(token) {
            return Some(claims.clone());
        }
        let claims = Arc::new(signer.verify(token)?);
        let mut cache = cache();
        if cache.len() >= VERIFIED_TOKENS {
            cache.clear();
        }
        cache.insert(token.to_string(), claims.clone());
        Some(claims)
    }

    /// A ServiceAccount token this server signed, still valid for this server and for a
    /// ServiceAccount that still exists.
    fn service_account_token(
        &self,
        token: &str,
        signer: &Signer,
        service_accounts: ServiceAccounts<'_>,
    ) -> Option<UserInfo> {
        let claims = self.verified_claims(token, signer)?;
        let now = jiff::Timestamp::now().as_second();
        let exp = claims.get("exp").and_then(Value::as_i64)?;
        // kube-apiserver allows a minute of clock skew either way.
        if exp + 60 < now {
            return None;
        }
        if claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| nbf > now + 60)
        {
            return None;
        }
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return None;
        }
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audiences
            .iter()
            .any(|a| self.api_audiences.iter().any(|b| b == a))
        {
            return None;
        }
        let k8s = claims.get("kubernetes.io")?;
        let namespace = k8s.get("namespace").and_then(Value::as_str)?;
        let name = k8s
            .pointer("/serviceaccount/name")
            .and_then(Value::as_str)?;
        let uid = k8s
            .pointer("/serviceaccount/uid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if service_accounts(namespace, name).as_deref() != Some(uid) {
            return None;
        }
        Some(UserInfo::service_account(namespace, name, uid))
    }
}

/// What an impersonating request asks to be.
#[derive(Debug, Default)]
pub struct Impersonation {
    user: Option<String>,
    uid: Option<String>,
    groups: Vec<String>,
    extra: BTreeMap<String, Vec<String>>,
}

impl Impersonation {
    /// The `Impersonate-*` headers, or `None` if there are none.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Impersonation>, ApiError> {
        let mut imp = Impersonation::default();
        let mut any = false;
        for (name, value) in headers {
            let name = name.as_str().to_ascii_lowercase();
            let Some(what) = name.strip_prefix("impersonate-") else {
                continue;
            };
            any = true;
            let value = value
                .to_str()
                .map_err(|_| ApiError::bad_request("an Impersonate header is not text"))?
                .to_string();
            match what {
                "user" => imp.user = Some(value),
                "uid" => imp.uid = Some(value),
                "group" => imp.groups.push(value),
                _ => {
                    if let Some(key) = what.strip_prefix("extra-") {
                        imp.extra.entry(decode_key(key)).or_default().push(value);
                    }
                }
            }
        }
        if !any {
            return Ok(None);
        }
        if imp.user.is_none() {
            return Err(ApiError::bad_request(
                "requested impersonation of groups, uid or extra fields without a user: Impersonate-User is required",
            ));
        }
        Ok(Some(imp))
    }

    /// Each permission the requester needs, with the attributes to check.
    pub fn checks(&self) -> Vec<Attributes> {
        impersonation_checks(self)
    }

    /// The user the request then runs as.
    pub fn user(&self) -> UserInfo {
        let name = self.user.clone().unwrap_or_default();
        let mut groups = self.groups.clone();
        if let Some((ns, _)) = name
            .strip_prefix("system:serviceaccount:")
            .and_then(|r| r.split_once(':'))
        {
            for g in [
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{ns}"),
            ] {
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
        if name != ANONYMOUS
            && !groups
                .iter()
                .any(|g| g == AUTHENTICATED || g == UNAUTHENTICATED)
        {
            groups.push(AUTHENTICATED.to_string());
        }
        UserInfo {
            name,
            uid: self.uid.clone().unwrap_or_default(),
            groups,
            extra: self.extra.clone(),
        }
    }
}

/// Header names are case-insensitive, so extra keys travel percent-encoded and lower-case.
fn decode_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&key[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `impersonate` permissions an impersonation needs, as kube-apiserver checks them.
fn impersonation_checks(imp: &Impersonation) -> Vec<Attributes> {
    let mut checks = Vec::new();
    if let Some(user) = &imp.user {
        match user
            .strip_prefix("system:serviceaccount:")
            .and_then(|r| r.split_once(':'))
        {
            Some((ns, name)) => {
                checks.push(Attributes::impersonate("", "serviceaccounts", "", ns, name))
            }
            None => checks.push(Attributes::impersonate("", "users", "", "", user)),
        }
    }
    for g in &imp.groups {
        checks.push(Attributes::impersonate("", "groups", "", "", g));
    }
    if let Some(uid) = &imp.uid {
        checks.push(Attributes::impersonate(
            "authentication.k8s.io",
            "uids",
            "",
            "",
            uid,
        ));
    }
    for (key, values) in &imp.extra {
        for v in values {
            checks.push(Attributes::impersonate(
                "authentication.k8s.io",
                "userextras",
                key,
                "",
                v,
            ));
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn token_files_parse_as_kube_apiserver_reads_them() {
        let tokens = StaticToken::parse_file(
            "# comment\nt1,alice,1\n\nt2,bob,2,\"dev,ops\"\nt3,carol,3,admins\n",
        )
        .expect("parses");
        assert_eq!(tokens.len(), 3);
        assert_eq!(tokens[1].user, "bob");
        assert_eq!(tokens[1].groups, vec!["dev", "ops"]);
        assert_eq!(tokens[2].groups, vec!["admins"]);
        assert!(tokens[0].groups.is_empty());
        assert!(StaticToken::parse_file("only,two\n").is_err());
    }

    #[test]
    fn service_account_tokens_are_checked_for_signature_expiry_audience_and_owner() {
        let signer = Signer::generate().expect("key");
        let mut store = Store::new(10, 16);
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}});
        store
            .create(
                &(String::new(), "namespaces".into()),
                "",
                ns,
                crate::store::Ownership::Update("t"),
            )
            .expect("namespace");
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app"}});
        let sa = store
            .create(
                &(String::new(), "serviceaccounts".into()),
                "team",
                sa,
                crate::store::Ownership::Update("t"),
            )
            .expect("service account");
        let uid = sa["metadata"]["uid"].as_str().expect("uid").to_string();
        let authn = Authenticator {
            static_tokens: HashMap::new(),
            api_audiences: vec!["https://kubernetes.default.svc".into()],
            issuer: "https://issuer".into(),
            verified: Mutex::default(),
        };
        let now = jiff::Timestamp::now().as_second();
        let claims = |exp: i64, aud: &str, iss: &str, uid: &str| {
            json!({"aud": [aud], "exp": exp, "iat": now, "nbf": now, "iss": iss,
                "sub": "system:serviceaccount:team:app",
                "kubernetes.io": {"namespace": "team", "serviceaccount": {"name": "app", "uid": uid}}})
        };
        let lookup = |ns: &str, name: &str| {
            store
                .get(&(String::new(), "serviceaccounts".into()), ns, name)
                .and_then(|sa| sa["metadata"]["uid"].as_str().map(str::to_string))
        };
        let check = |c: Value| {
            let token = signer.sign(&c).expect("signed");
            authn.service_account_token(&token, &signer, &lookup)
        };
        let good = check(claims(
            now + 600,
            "https://kubernetes.default.svc",
            "https://issuer",
            &uid,
        ))
        .expect("a valid token authenticates");
        assert_eq!(good.name, "system:serviceaccount:team:app");
        assert!(good.in_group("system:serviceaccounts:team"));
        assert!(
            check(claims(
                now - 120,
                "https://kubernetes.default.svc",
                "https://issuer",
                &uid
            ))
            .is_none(),
            "expired"
        );
        assert!(
            check(claims(
                now + 600,
                "api://AzureADTokenExchange",
                "https://issuer",
                &uid
            ))
            .is_none(),
            "audience"
        );
        assert!(
            check(claims(
                now + 600,
                "https://kubernetes.default.svc",
                "https://elsewhere",
                &uid
            ))
            .is_none(),
            "issuer"
        );
        assert!(
            check(claims(
                now + 600,
                "https://kubernetes.default.svc",
                "https://issuer",
                "other-uid"
            ))
            .is_none(),
            "a recreated ServiceAccount"
        );
        let other = Signer::generate().expect("key");
        let forged = other
            .sign(&claims(
                now + 600,
                "https://kubernetes.default.svc",
                "https://issuer",
                &uid,
            ))
            .expect("signed");
        assert!(
            authn
                .service_account_token(&forged, &signer, &lookup)
                .is_none(),
            "another key"
        );
    }

    #[test]
    fn impersonated_users_get_their_implied_groups() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "Impersonate-User",
            "system:serviceaccount:team-a:app".parse().unwrap(),
        );
        let imp = Impersonation::from_headers(&headers).unwrap().unwrap();
        let user = imp.user();
        assert!(user.in_group("system:serviceaccounts:team-a"));
        assert!(user.in_group(AUTHENTICATED));
        let checks = imp.checks();
        assert_eq!(checks.len(), 1);

        let mut headers = HeaderMap::new();
        headers.insert("Impersonate-Group", "ops".parse().unwrap());
        assert!(Impersonation::from_headers(&headers).is_err());
    }
}
