//! The workload-identity chain through the emulators: ServiceAccount tokens from the
//! kube-emulator exchanged at the arm-emulator's Entra token endpoint against federated identity
//! credentials, and the access tokens it issues authorised by role assignments on the Key Vault
//! data plane.

use std::time::Duration;

use arm_emulator::{ArmEmulator, Config};
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kube_emulator::KubeEmulator;
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-000000000001";
const RG: &str = "chain";
const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
const VAULT_SCOPE: &str = "https://vault.azure.net/.default";
const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
const SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

struct Env {
    arm: ArmEmulator,
    kube: KubeEmulator,
    http: reqwest::Client,
    tenant: String,
}

/// An identity created through ARM: its ARM id, clientId and principalId.
struct Identity {
    id: String,
    client_id: String,
    principal_id: String,
}

impl Env {
    async fn start() -> Env {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let kube = KubeEmulator::start(kube_emulator::Config::default())
            .await
            .expect("kube-emulator");
        let config = Config {
            lro_duration: Duration::ZERO,
            principal_propagation_delay: Duration::ZERO,
            trusted_ca_pems: vec![kube.ca_pem().to_string()],
            ..Config::default()
        };
        let tenant = config.tenant_id.clone();
        let arm = ArmEmulator::start(config).await.expect("arm-emulator");
        let http = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(arm.ca_pem().as_bytes()).expect("CA"),
            )
            .add_root_certificate(
                reqwest::Certificate::from_pem(kube.ca_pem().as_bytes()).expect("CA"),
            )
            .build()
            .expect("client");
        let env = Env {
            arm,
            kube,
            http,
            tenant,
        };
        let (s, _) = env
            .arm_put(
                &format!("/subscriptions/{SUB}/resourceGroups/{RG}"),
                json!({"location": "westeurope"}),
            )
            .await;
        assert_eq!(s, 201);
        env
    }

    async fn send(&self, r: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = r.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// An ARM call; any bearer token will do.
    async fn arm_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut r = self
            .http
            .request(
                method,
                format!("{}{path}{sep}api-version=2024-11-30", self.arm.url()),
            )
            .bearer_auth("any-token");
        if let Some(b) = body {
            r = r.json(&b);
        }
        let (s, _, b) = self.send(r).await;
        (s, b)
    }

    async fn arm_put(&self, path: &str, body: Value) -> (u16, Value) {
        self.arm_call(reqwest::Method::PUT, path, Some(body)).await
    }

    async fn identity(&self, name: &str) -> Identity {
        let id = format!(
            "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
        );
        let (s, b) = self.arm_put(&id, json!({"location": "westeurope"})).await;
        assert_eq!(s, 201, "{b}");
        Identity {
            id,
            client_id: b["properties"]["clientId"]
                .as_str()
                .expect("clientId")
                .into(),
            principal_id: b["properties"]["principalId"]
                .as_str()
                .expect("principalId")
                .into(),
        }
    }

    async fn federate(&self, identity: &Identity, issuer: &str, subject: &str) {
        let (s, b) = self
            .arm_put(
                &format!("{}/federatedIdentityCredentials/kube", identity.id),
                json!({"properties": {"issuer": issuer, "subject": subject, "audiences": [EXCHANGE_AUDIENCE]}}),
            )
            .await;
        assert!(s == 200 || s == 201, "{s} {b}");
    }

    /// A ServiceAccount token from the kube-emulator's TokenRequest.
    async fn sa_token(&self, name: &str, audience: &str) -> String {
        let base = format!(
            "{}/api/v1/namespaces/default/serviceaccounts",
            self.kube.url()
        );
        let (s, _, _) = self
            .send(self.http.post(&base).bearer_auth(self.kube.admin_token()).json(
                &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}),
            ))
            .await;
        assert!(s == 201 || s == 409, "creating the ServiceAccount: {s}");
        let (s, _, b) = self
            .send(
                self.http
                    .post(format!("{base}/{name}/token"))
                    .bearer_auth(self.kube.admin_token())
                    .json(
                        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                        "spec": {"audiences": [audience]}}),
                    ),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b["status"]["token"].as_str().expect("token").to_string()
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", percent(v)))
            .collect::<Vec<_>>()
            .join("&");
        let (s, _, b) = self
            .send(
                self.http
                    .post(format!(
                        "{}/{}/oauth2/v2.0/token",
                        self.arm.url(),
                        self.tenant
                    ))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body),
            )
            .await;
        (s, b)
    }

    /// Exchanges a client assertion as ClientAssertionCredential does.
    async fn exchange(&self, client_id: &str, assertion: &str) -> (u16, Value) {
        self.token_request(&[
            ("client_assertion", assertion),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_id", client_id),
            ("grant_type", "client_credentials"),
            ("scope", VAULT_SCOPE),
        ])
        .await
    }

    /// A vault token for a service principal signing in with a secret.
    async fn secret_token(&self, client_id: &str, secret: &str) -> String {
        let (s, b) = self
            .token_request(&[
                ("client_id", client_id),
                ("client_secret", secret),
                ("grant_type", "client_credentials"),
                ("scope", VAULT_SCOPE),
            ])
            .await;
        assert_eq!(s, 200, "{b}");
        b["access_token"].as_str().expect("token").to_string()
    }

    async fn vault(&self, name: &str) -> String {
        let id = format!(
            "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/{name}"
        );
        let (s, b) = self
            .arm_put(
                &id,
                json!({"location": "westeurope", "properties": {"tenantId": self.tenant,
                    "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}),
            )
            .await;
        assert!(s == 200 || s == 201, "{s} {b}");
        id
    }

    async fn assign(&self, scope: &str, role: &str, principal: &str) -> String {
        let id = format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
            uuid::Uuid::new_v4()
        );
        let (s, b) = self
            .arm_put(
                &id,
                json!({"properties": {
                    "roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
                    "principalId": principal, "principalType": "ServicePrincipal"}}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        id
    }

    /// A Key Vault data-plane call under the vault's `vaultUri`.
    async fn kv(
        &self,
        method: reqwest::Method,
        vault: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut r = self.http.request(
            method,
            format!("{}/keyvault/{vault}/{path}?api-version=7.6", self.arm.url()),
        );
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        self.send(r).await
    }

    async fn set_secret(&self, vault: &str, name: &str, value: &str, token: &str) -> (u16, Value) {
        let (s, _, b) = self
            .kv(
                reqwest::Method::PUT,
                vault,
                &format!("secrets/{name}"),
                Some(token),
                Some(json!({"value": value})),
            )
            .await;
        (s, b)
    }

    async fn get_secret(&self, vault: &str, name: &str, token: &str) -> (u16, Value) {
        let (s, _, b) = self
            .kv(
                reqwest::Method::GET,
                vault,
                &format!("secrets/{name}"),
                Some(token),
                None,
            )
            .await;
        (s, b)
    }
}

fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("claims");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("json")
}

fn header(jwt: &str) -> Value {
    let part = jwt.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("json")
}

/// A JWT with these header and claims, signed by a key nobody else knows.
fn forge(header: &Value, claims: &Value) -> String {
    let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("key");
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn aadsts(body: &Value) -> i64 {
    body["error_codes"][0].as_i64().unwrap_or_default()
}

/// An identity federated with `system:serviceaccount:default:workload` of the kube-emulator.
async fn federated(env: &Env) -> Identity {
    let identity = env.identity("workload-id").await;
    env.federate(
        &identity,
        &env.kube.issuer_url(),
        "system:serviceaccount:default:workload",
    )
    .await;
    identity
}

#[tokio::test]
async fn service_account_token_is_exchanged_for_an_access_token_naming_the_identity() {
    let env = Env::start().await;
    let identity = federated(&env).await;
    let sa = env.sa_token("workload", EXCHANGE_AUDIENCE).await;
    let (s, b) = env.exchange(&identity.client_id, &sa).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 3599);
    assert_eq!(b["ext_expires_in"], 3599);
    let token = b["access_token"].as_str().expect("access_token");
    assert_eq!(header(token)["alg"], "RS256");
    let c = claims(token);
    assert_eq!(c["oid"], identity.principal_id.as_str());
    assert_eq!(c["appid"], identity.client_id.as_str());
    assert_eq!(c["azp"], identity.client_id.as_str());
    assert_eq!(c["aud"], "https://vault.azure.net");
    assert_eq!(c["tid"], env.tenant.as_str());
    assert_eq!(
        c["iss"],
        format!("{}/{}/v2.0", env.arm.url(), env.tenant).as_str()
    );
    assert!(c["exp"].as_i64().expect("exp") > c["iat"].as_i64().expect("iat"));
}

#[tokio::test]
async fn assertion_from_an_issuer_no_credential_names_is_refused_with_aadsts700211() {
    let env = Env::start().await;
    let identity = env.identity("workload-id").await;
    env.federate(
        &identity,
        "https://127.0.0.1:1/some-other-issuer",
        "system:serviceaccount:default:workload",
    )
    .await;
    let sa = env.sa_token("workload", EXCHANGE_AUDIENCE).await;
    let (s, b) = env.exchange(&identity.client_id, &sa).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_client")),
        "{b}"
    );
    assert_eq!(aadsts(&b), 700211, "{b}");
    assert!(
        b["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("AADSTS700211: No matching federated identity record found for presented assertion issuer")),
        "{b}"
    );
}

#[tokio::test]
async fn assertion_for_another_service_account_is_refused_with_aadsts700213() {
    let env = Env::start().await;
    let identity = federated(&env).await;
    let sa = env.sa_token("intruder", EXCHANGE_AUDIENCE).await;
    let (s, b) = env.exchange(&identity.client_id, &sa).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(aadsts(&b), 700213, "{b}");
    assert!(
        b["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("system:serviceaccount:default:intruder")),
        "{b}"
    );
}

#[tokio::test]
async fn assertion_for_another_audience_is_refused_with_aadsts700212() {
    let env = Env::start().await;
    let identity = federated(&env).await;
    let sa = env
        .sa_token("workload", "https://kubernetes.default.svc")
        .await;
    let (s, b) = env.exchange(&identity.client_id, &sa).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(aadsts(&b), 700212, "{b}");
}

#[tokio::test]
async fn assertion_signed_by_another_key_is_refused_with_aadsts700027() {
    let env = Env::start().await;
    let identity = federated(&env).await;
    let real = env.sa_token("workload", EXCHANGE_AUDIENCE).await;
    // Same header (kid) and claims as a genuine token, another key's signature.
    let forged = forge(&header(&real), &claims(&real));
    let (s, b) = env.exchange(&identity.client_id, &forged).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(aadsts(&b), 700027, "{b}");
    // The genuine one still works, so the issuer's keys were fetched and trusted.
    let (s, b) = env.exchange(&identity.client_id, &real).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn expired_assertion_is_refused_with_aadsts700024() {
    let env = Env::start().await;
    let identity = federated(&env).await;
    let real = env.sa_token("workload", EXCHANGE_AUDIENCE).await;
    let mut c = claims(&real);
    let now = jiff::Timestamp::now().as_second();
    c["iat"] = json!(now - 7200);
    c["nbf"] = json!(now - 7200);
    c["exp"] = json!(now - 3600);
    let (s, b) = env
        .exchange(&identity.client_id, &forge(&header(&real), &c))
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(aadsts(&b), 700024, "{b}");
}

#[tokio::test]
async fn malformed_assertion_and_unknown_client_are_refused() {
    let env = Env::start().await;
    let identity = federated(&env).await;
    let (s, b) = env.exchange(&identity.client_id, "not-a-jwt").await;
    assert_eq!((s, aadsts(&b)), (400, 50027), "{b}");
    let sa = env.sa_token("workload", EXCHANGE_AUDIENCE).await;
    let (s, b) = env.exchange(&uuid::Uuid::new_v4().to_string(), &sa).await;
    assert_eq!((s, aadsts(&b)), (400, 700016), "{b}");
    assert_eq!(b["error"], "unauthorized_client");
}

#[tokio::test]
async fn client_secret_is_accepted_when_right_and_refused_when_wrong() {
    let env = Env::start().await;
    let sp = env
        .arm
        .control()
        .add_service_principal("6d9c0a4e-0000-4000-8000-000000000001", "s3cret");
    let (s, b) = env
        .token_request(&[
            ("client_id", &sp.client_id),
            ("client_secret", "s3cret"),
            ("grant_type", "client_credentials"),
            ("scope", "https://management.azure.com/.default"),
        ])
        .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["access_token"].as_str().expect("token"));
    assert_eq!(c["oid"], sp.object_id.as_str());
    assert_eq!(c["appid"], sp.client_id.as_str());
    assert_eq!(c["aud"], "https://management.azure.com");

    let (s, b) = env
        .token_request(&[
            ("client_id", &sp.client_id),
            ("client_secret", "guess"),
            ("grant_type", "client_credentials"),
            ("scope", VAULT_SCOPE),
        ])
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("invalid_client")),
        "{b}"
    );
    assert_eq!(aadsts(&b), 7000215, "{b}");

    // A scope without /.default is refused as Entra does for client credentials.
    let (s, b) = env
        .token_request(&[
            ("client_id", &sp.client_id),
            ("client_secret", "s3cret"),
            ("grant_type", "client_credentials"),
            ("scope", "https://vault.azure.net/user_impersonation"),
        ])
        .await;
    assert_eq!((s, aadsts(&b)), (400, 1002012), "{b}");

    // Registered over HTTP too.
    let (s, _, b) = env
        .send(
            env.http
                .post(format!("{}/_emulator/servicePrincipals", env.arm.url()))
                .json(&json!({"clientId": "http-app", "clientSecret": "pw", "objectId": "11111111-2222-3333-4444-555555555555"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let token = env.secret_token("http-app", "pw").await;
    assert_eq!(
        claims(&token)["oid"],
        "11111111-2222-3333-4444-555555555555"
    );
}

#[tokio::test]
async fn secrets_user_reads_but_cannot_set_and_officer_sets() {
    let env = Env::start().await;
    let vault = env.vault("kv-roles").await;
    let control = env.arm.control();
    let officer = control.add_service_principal("officer-app", "o");
    let user = control.add_service_principal("user-app", "u");
    env.assign(&vault, SECRETS_OFFICER, &officer.object_id)
        .await;
    env.assign(&vault, SECRETS_USER, &user.object_id).await;
    let officer_token = env.secret_token("officer-app", "o").await;
    let user_token = env.secret_token("user-app", "u").await;

    let (s, b) = env
        .set_secret("kv-roles", "db-password", "hunter2", &officer_token)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["value"], "hunter2");
    assert_eq!(b["attributes"]["enabled"], true);
    assert_eq!(b["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    let id = b["id"].as_str().expect("id");
    let vault_uri = format!("{}/keyvault/kv-roles/", env.arm.url());
    assert!(
        id.starts_with(&format!("{vault_uri}secrets/db-password/")),
        "{id}"
    );
    let version = id.rsplit('/').next().expect("version").to_string();

    let (s, b) = env.get_secret("kv-roles", "db-password", &user_token).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["value"], "hunter2");
    assert_eq!(b["id"], id);
    let (s, _, b) = env
        .kv(
            reqwest::Method::GET,
            "kv-roles",
            &format!("secrets/db-password/{version}"),
            Some(&user_token),
            None,
        )
        .await;
    assert_eq!((s, b["value"].as_str()), (200, Some("hunter2")), "{b}");

    let (s, b) = env
        .set_secret("kv-roles", "db-password", "mine-now", &user_token)
        .await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["error"]["code"], "Forbidden");
    assert_eq!(b["error"]["innererror"]["code"], "ForbiddenByRbac");
    let message = b["error"]["message"].as_str().expect("message");
    assert!(message.starts_with("Caller is not authorized to perform action on resource.\r\n"));
    assert!(
        message.contains(&format!("oid={}", user.object_id)),
        "{message}"
    );
    assert!(message.contains("Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'"));

    // A second version, then the listings.
    let (s, _) = env
        .set_secret("kv-roles", "db-password", "hunter3", &officer_token)
        .await;
    assert_eq!(s, 200);
    let (s, _, b) = env
        .kv(
            reqwest::Method::GET,
            "kv-roles",
            "secrets",
            Some(&user_token),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["nextLink"], Value::Null);
    assert_eq!(b["value"].as_array().map(Vec::len), Some(1), "{b}");
    assert_eq!(
        b["value"][0]["id"],
        format!("{vault_uri}secrets/db-password").as_str()
    );
    assert!(
        b["value"][0].get("value").is_none(),
        "lists carry no values"
    );
    let (s, _, b) = env
        .kv(
            reqwest::Method::GET,
            "kv-roles",
            "secrets/db-password/versions",
            Some(&user_token),
            None,
        )
        .await;
    assert_eq!(
        (s, b["value"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{b}"
    );
    let (s, b) = env.get_secret("kv-roles", "db-password", &user_token).await;
    assert_eq!((s, b["value"].as_str()), (200, Some("hunter3")));
    let (s, b) = env.get_secret("kv-roles", "missing", &user_token).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("SecretNotFound"))
    );

    // Reader is a control-plane role: no data actions.
    let reader = control.add_service_principal("reader-app", "r");
    env.assign(&vault, READER, &reader.object_id).await;
    let reader_token = env.secret_token("reader-app", "r").await;
    let (s, _) = env
        .get_secret("kv-roles", "db-password", &reader_token)
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn role_at_one_secret_scope_reads_that_secret_only() {
    let env = Env::start().await;
    let vault = env.vault("kv-scoped").await;
    let control = env.arm.control();
    let officer = control.add_service_principal("officer-app", "o");
    let narrow = control.add_service_principal("narrow-app", "n");
    // The officer's role is at the resource group: it covers the vault.
    env.assign(
        &format!("/subscriptions/{SUB}/resourceGroups/{RG}"),
        SECRETS_OFFICER,
        &officer.object_id,
    )
    .await;
    env.assign(
        &format!("{vault}/secrets/mine"),
        SECRETS_USER,
        &narrow.object_id,
    )
    .await;
    let officer_token = env.secret_token("officer-app", "o").await;
    let narrow_token = env.secret_token("narrow-app", "n").await;
    for name in ["mine", "theirs"] {
        let (s, b) = env
            .set_secret("kv-scoped", name, name, &officer_token)
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = env.get_secret("kv-scoped", "mine", &narrow_token).await;
    assert_eq!((s, b["value"].as_str()), (200, Some("mine")), "{b}");
    let (s, b) = env.get_secret("kv-scoped", "theirs", &narrow_token).await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["error"]["innererror"]["code"], "ForbiddenByRbac");
    // Listing needs a role at the vault or above.
    let (s, _, _) = env
        .kv(
            reqwest::Method::GET,
            "kv-scoped",
            "secrets",
            Some(&narrow_token),
            None,
        )
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn key_vault_without_a_vault_token_answers_401_with_the_challenge() {
    let env = Env::start().await;
    env.vault("kv-auth").await;
    let challenge = format!(
        "Bearer authorization=\"{}/{}\", resource=\"https://vault.azure.net\"",
        env.arm.url(),
        env.tenant
    );
    let (s, h, b) = env
        .kv(reqwest::Method::GET, "kv-auth", "secrets/x", None, None)
        .await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(b["error"]["code"], "Unauthorized");
    assert_eq!(
        h.get("www-authenticate").and_then(|v| v.to_str().ok()),
        Some(challenge.as_str())
    );
    // A token the emulator did not issue, and one issued for ARM, are refused alike.
    let sp = env.arm.control().add_service_principal("arm-app", "a");
    let (_, arm_token) = env
        .token_request(&[
            ("client_id", &sp.client_id),
            ("client_secret", "a"),
            ("grant_type", "client_credentials"),
            ("scope", "https://management.azure.com/.default"),
        ])
        .await;
    let arm_token = arm_token["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let foreign = forge(&json!({"alg": "RS256", "typ": "JWT"}), &claims(&arm_token));
    for token in [arm_token.as_str(), foreign.as_str(), "opaque"] {
        let (s, h, b) = env
            .kv(
                reqwest::Method::GET,
                "kv-auth",
                "secrets/x",
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(
            h.get("www-authenticate").and_then(|v| v.to_str().ok()),
            Some(challenge.as_str())
        );
    }
    // ARM itself still takes any bearer token.
    let (s, _) = env
        .arm_call(
            reqwest::Method::GET,
            &format!("/subscriptions/{SUB}/resourceGroups/{RG}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn deleting_the_vault_ends_access_and_purging_it_ends_its_secrets() {
    let env = Env::start().await;
    let vault = env.vault("kv-gone").await;
    let control = env.arm.control();
    let officer = control.add_service_principal("officer-app", "o");
    let user = control.add_service_principal("user-app", "u");
    env.assign(
        &format!("/subscriptions/{SUB}/resourceGroups/{RG}"),
        SECRETS_OFFICER,
        &officer.object_id,
    )
    .await;
    let user_assignment = env.assign(&vault, SECRETS_USER, &user.object_id).await;
    let officer_token = env.secret_token("officer-app", "o").await;
    let user_token = env.secret_token("user-app", "u").await;
    let (s, _) = env
        .set_secret("kv-gone", "kept", "v1", &officer_token)
        .await;
    assert_eq!(s, 200);
    let (s, _) = env.get_secret("kv-gone", "kept", &user_token).await;
    assert_eq!(s, 200);

    // Soft delete: the data plane is gone, and so is the role assignment at the vault.
    let (s, _) = env.arm_call(reqwest::Method::DELETE, &vault, None).await;
    assert_eq!(s, 200);
    let (s, b) = env.get_secret("kv-gone", "kept", &officer_token).await;
    assert_eq!(s, 404, "{b}");
    let (s, _) = env
        .arm_call(reqwest::Method::GET, &user_assignment, None)
        .await;
    assert_eq!(s, 404);

    // Recovered, the vault has its secrets back but not the vanished assignment.
    let (s, b) = env
        .arm_put(
            &vault,
            json!({"location": "westeurope", "properties": {"tenantId": env.tenant,
                "sku": {"family": "A", "name": "standard"}, "createMode": "recover"}}),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {b}");
    let (s, b) = env.get_secret("kv-gone", "kept", &officer_token).await;
    assert_eq!((s, b["value"].as_str()), (200, Some("v1")), "{b}");
    let (s, b) = env.get_secret("kv-gone", "kept", &user_token).await;
    assert_eq!(s, 403, "{b}");

    // Deleted and purged, a vault of the same name starts empty.
    let (s, _) = env.arm_call(reqwest::Method::DELETE, &vault, None).await;
    assert_eq!(s, 200);
    let (s, b) = env
        .arm_call(
            reqwest::Method::POST,
            &format!(
                "/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv-gone/purge"
            ),
            None,
        )
        .await;
    assert_eq!(s, 202, "{b}");
    env.vault("kv-gone").await;
    let (s, b) = env.get_secret("kv-gone", "kept", &officer_token).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("SecretNotFound")),
        "{b}"
    );
}

#[tokio::test]
async fn workload_identity_chain_reads_a_secret() {
    let env = Env::start().await;
    // A secret, written by an officer.
    let vault = env.vault("kv-chain").await;
    let control = env.arm.control();
    let officer = control.add_service_principal("officer-app", "o");
    env.assign(&vault, SECRETS_OFFICER, &officer.object_id)
        .await;
    let officer_token = env.secret_token("officer-app", "o").await;
    let (s, _) = env
        .set_secret("kv-chain", "app-config", "from-key-vault", &officer_token)
        .await;
    assert_eq!(s, 200);

    // The workload: an identity federated with its ServiceAccount, allowed to read secrets.
    let identity = federated(&env).await;
    let sa = env.sa_token("workload", EXCHANGE_AUDIENCE).await;
    let (s, b) = env.exchange(&identity.client_id, &sa).await;
    assert_eq!(s, 200, "{b}");
    let token = b["access_token"].as_str().expect("token").to_string();
    let (s, b) = env.get_secret("kv-chain", "app-config", &token).await;
    assert_eq!(s, 403, "no role yet: {b}");

    env.assign(&vault, SECRETS_USER, &identity.principal_id)
        .await;
    let (s, b) = env.get_secret("kv-chain", "app-config", &token).await;
    assert_eq!(
        (s, b["value"].as_str()),
        (200, Some("from-key-vault")),
        "{b}"
    );
}

#[tokio::test]
async fn azure_identity_workload_identity_credential_reads_a_secret_through_the_chain() {
    use azure_core::credentials::TokenCredential;
    let env = Env::start().await;
    let vault = env.vault("kv-sdk").await;
    let officer = env.arm.control().add_service_principal("officer-app", "o");
    env.assign(&vault, SECRETS_OFFICER, &officer.object_id)
        .await;
    let officer_token = env.secret_token("officer-app", "o").await;
    let (s, _) = env
        .set_secret("kv-sdk", "conn", "Server=db", &officer_token)
        .await;
    assert_eq!(s, 200);
    let identity = federated(&env).await;
    env.assign(&vault, SECRETS_USER, &identity.principal_id)
        .await;

    // As the webhook projects it: the ServiceAccount token in a file.
    let token_file = std::env::temp_dir().join(format!("azop-sa-token-{}", uuid::Uuid::new_v4()));
    std::fs::write(
        &token_file,
        env.sa_token("workload", EXCHANGE_AUDIENCE).await,
    )
    .expect("token file");
    let mut cloud = azure_core::cloud::CustomConfiguration::default();
    cloud.authority_host = env.arm.url();
    let http = reqwest013::Client::builder()
        .add_root_certificate(
            reqwest013::Certificate::from_pem(env.arm.ca_pem().as_bytes()).expect("CA"),
        )
        .build()
        .expect("client");
    let credential = azure_identity::WorkloadIdentityCredential::new(Some(
        azure_identity::WorkloadIdentityCredentialOptions {
            credential_options: azure_identity::ClientAssertionCredentialOptions {
                client_options: azure_core::http::ClientOptions {
                    cloud: Some(std::sync::Arc::new(cloud.into())),
                    transport: Some(azure_core::http::Transport::new(std::sync::Arc::new(http))),
                    ..Default::default()
                },
            },
            client_id: Some(identity.client_id.clone()),
            tenant_id: Some(env.tenant.clone()),
            token_file_path: Some(token_file.clone()),
        },
    ))
    .expect("credential");
    let token = credential.get_token(&[VAULT_SCOPE], None).await;
    let _ = std::fs::remove_file(&token_file);
    let token = token.expect("workload identity token");
    let token = token.token.secret().to_string();
    assert_eq!(claims(&token)["oid"], identity.principal_id.as_str());
    let (s, b) = env.get_secret("kv-sdk", "conn", &token).await;
    assert_eq!((s, b["value"].as_str()), (200, Some("Server=db")), "{b}");
}
