//! azure_identity's own credentials against the arm-emulator's Entra token endpoint: the
//! request they send and the answers (tokens and AADSTS errors) they parse.

use std::sync::Arc;

use arm_emulator::{ArmEmulator, Config};
use azure_core::cloud::CustomConfiguration;
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientMethodOptions, ClientOptions, Transport};
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions,
};

/// Options pointing a credential at the emulator, trusting its CA.
fn client_options(emulator: &ArmEmulator) -> ClientOptions {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = emulator.url();
    let mut http = reqwest::ClientBuilder::new();
    for cert in reqwest::Certificate::from_pem_bundle(emulator.ca_pem().as_bytes()).expect("CA") {
        http = http.add_root_certificate(cert);
    }
    ClientOptions {
        cloud: Some(Arc::new(cloud.into())),
        transport: Some(Transport::new(Arc::new(http.build().expect("client")))),
        ..Default::default()
    }
}

fn claims(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).expect("claims");
    let bytes = azure_core::base64::decode_url_safe(part).expect("base64");
    serde_json::from_slice(&bytes).expect("json")
}

#[tokio::test]
async fn client_secret_credential_gets_a_token_naming_the_service_principal() {
    let emulator = ArmEmulator::start(Config::default())
        .await
        .expect("emulator");
    let tenant = Config::default().tenant_id;
    let sp = emulator
        .control()
        .add_service_principal("0b6f1c39-5a0e-4d4e-9f55-2d7f3a1c0001", "s3cret");
    let credential = ClientSecretCredential::new(
        &tenant,
        sp.client_id.clone(),
        Secret::new("s3cret"),
        Some(ClientSecretCredentialOptions {
            client_options: client_options(&emulator),
        }),
    )
    .expect("credential");
    let token = credential
        .get_token(&["https://vault.azure.net/.default"], None)
        .await
        .expect("token");
    let c = claims(token.token.secret());
    assert_eq!(c["oid"], sp.object_id.as_str());
    assert_eq!(c["appid"], sp.client_id.as_str());
    assert_eq!(c["aud"], "https://vault.azure.net");
    assert!(token.expires_on > azure_core::time::OffsetDateTime::now_utc());
}

#[tokio::test]
async fn client_secret_credential_surfaces_aadsts7000215_for_a_wrong_secret() {
    let emulator = ArmEmulator::start(Config::default())
        .await
        .expect("emulator");
    let tenant = Config::default().tenant_id;
    let sp = emulator.control().add_service_principal("app", "right");
    let credential = ClientSecretCredential::new(
        &tenant,
        sp.client_id.clone(),
        Secret::new("wrong"),
        Some(ClientSecretCredentialOptions {
            client_options: client_options(&emulator),
        }),
    )
    .expect("credential");
    let err = credential
        .get_token(&["https://management.azure.com/.default"], None)
        .await
        .expect_err("a wrong secret is refused");
    assert!(err.to_string().contains("AADSTS7000215"), "{err}");
}

#[derive(Debug)]
struct FixedAssertion(String);

#[async_trait::async_trait]
impl ClientAssertion for FixedAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        Ok(self.0.clone())
    }
}

#[tokio::test]
async fn client_assertion_credential_surfaces_aadsts_errors() {
    let emulator = ArmEmulator::start(Config::default())
        .await
        .expect("emulator");
    let tenant = Config::default().tenant_id;
    let credential = |assertion: &str| {
        ClientAssertionCredential::new(
            tenant.clone(),
            "9f0c7a55-0000-4000-8000-00000000abcd".to_string(),
            FixedAssertion(assertion.to_string()),
            Some(ClientAssertionCredentialOptions {
                client_options: client_options(&emulator),
            }),
        )
        .expect("credential")
    };
    let err = credential("not-a-jwt")
        .get_token(&["https://vault.azure.net/.default"], None)
        .await
        .expect_err("malformed");
    assert!(err.to_string().contains("AADSTS50027"), "{err}");
    // A well-formed assertion for a client id no identity has.
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovLzEyNy4wLjAuMTo5In0.c2ln";
    let err = credential(jwt)
        .get_token(&["https://vault.azure.net/.default"], None)
        .await
        .expect_err("unknown client");
    assert!(err.to_string().contains("AADSTS700016"), "{err}");
}
