//! A CA generated at start-up and a server certificate it signs for `127.0.0.1`, `::1` and
//! `localhost`: what the emulators serve HTTPS with. Azure's SDK refuses plain-http endpoints
//! and kubectl expects TLS, so the emulators speak HTTPS and hand their CA to their clients.
//!
//! The same CA signs client certificates ([`LoopbackTls::client_certificate`]), which an
//! acceptor built with [`LoopbackTls::acceptor_with_client_auth`] verifies: how the
//! kube-emulator authenticates users by certificate, as kube-apiserver does with its client CA.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

/// Certificate generation or TLS set-up failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen could not make a key or certificate.
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("configuring TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("configuring client authentication: {0}")]
    ClientAuth(#[from] rustls::server::VerifierBuilderError),
}

/// A CA and the loopback server certificate it signed.
pub struct LoopbackTls {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

impl LoopbackTls {
    /// Generates a new CA (named after `who`) and a server certificate.
    pub fn generate(who: &str) -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{who} CA"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])?;
        params
            .distinguished_name
            .push(DnType::CommonName, who.to_string());
        let server_cert = params.signed_by(&server_key, &issuer)?;
        Ok(LoopbackTls {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            issuer,
            server_chain: vec![server_cert.der().clone(), ca_cert.der().clone()],
            server_key: server_key.serialize_der(),
        })
    }

    /// The CA certificate, PEM-encoded: what clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A TLS acceptor offering HTTP/1.1.
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }

    /// A TLS acceptor offering HTTP/1.1 that asks for a client certificate and verifies one
    /// if given (signed by this CA, for client authentication); clients without one are let
    /// through, to authenticate otherwise. The verified chain is the connection's
    /// `peer_certificates()`.
    pub fn acceptor_with_client_auth(&self) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone())?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server_chain.clone(), key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }

    /// A client certificate signed by this CA, with `common_name` as its subject's CN and
    /// `organization`, if any, as its O (kube-apiserver's user name and group). rcgen writes
    /// one value per attribute type, so a certificate carries one group at most; a verifier
    /// reads every O. Returns the certificate and its PKCS#8 key, PEM-encoded.
    pub fn client_certificate(
        &self,
        common_name: &str,
        organization: Option<&str>,
    ) -> Result<(String, String), TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name.to_string());
        if let Some(org) = organization {
            params
                .distinguished_name
                .push(DnType::OrganizationName, org.to_string());
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}
