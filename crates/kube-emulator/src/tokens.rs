//! ServiceAccount tokens as Kubernetes issues them (RS256 JWTs with iss/sub/aud/exp and the
//! `kubernetes.io` claim), and the OIDC discovery documents a relying party (the
//! arm-emulator's token endpoint, Entra) verifies them with.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::store::ApiError;

/// The key that signs ServiceAccount tokens.
pub struct Signer {
    key: RsaKeyPair,
    kid: String,
    /// Every token a TokenRequest was answered with ([`crate::KubeEmulator::issued_tokens`]).
    issued: std::sync::Mutex<Vec<String>>,
}

/// The audience Kubernetes uses when a TokenRequest names none.
pub const DEFAULT_AUDIENCE: &str = "https://kubernetes.default.svc";

impl Signer {
    /// A fresh 2048-bit RSA key.
    pub fn generate() -> Result<Self, aws_lc_rs::error::Unspecified> {
        let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)?;
        let kid = uuid::Uuid::new_v4().simple().to_string();
        Ok(Signer {
            key,
            kid,
            issued: std::sync::Mutex::default(),
        })
    }

    /// Every ServiceAccount token issued through a TokenRequest so far.
    pub fn issued(&self) -> Vec<String> {
        self.issued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// `/openid/v1/jwks`.
    pub fn jwks(&self) -> Value {
        let public = self.key.public_key();
        json!({"keys": [{
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        }]})
    }

    /// `/.well-known/openid-configuration`.
    pub fn openid_configuration(&self, issuer: &str) -> Value {
        json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    }

    /// Signs claims into a compact JWT.
    pub fn sign(&self, claims: &Value) -> Result<String, ApiError> {
        let header = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| ApiError {
                code: 500,
                reason: "InternalError",
                message: "signing the token failed".into(),
                details: None,
            })?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// The claims of a compact JWT this key signed (RS256, this key's id), or `None`. Expiry,
    /// issuer and audience are the caller's to check.
    pub fn verify(&self, token: &str) -> Option<Value> {
        use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
        let mut parts = token.split('.');
        let (header, claims, sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let head: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if head.get("alg").and_then(Value::as_str) != Some("RS256")
            || head.get("kid").and_then(Value::as_str) != Some(self.kid.as_str())
        {
            return None;
        }
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        let input = &token[..header.len() + 1 + claims.len()];
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, self.key.public_key().as_ref())
            .verify(input.as_bytes(), &sig)
            .ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()
    }

    /// Answers `POST .../serviceaccounts/{name}/token`.
    pub fn token_request(
        &self,
        issuer: &str,
        sa: &Value,
        request: &Value,
    ) -> Result<Value, ApiError> {
        let ns = sa
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = sa
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let uid = sa
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let audiences: Vec<String> = request
            .pointer("/spec/audiences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .filter(|a: &Vec<String>| !a.is_empty())
            .unwrap_or_else(|| vec![DEFAULT_AUDIENCE.to_string()]);
        let ttl = request
            .pointer("/spec/expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(3600)
            .max(600);
        let now = jiff::Timestamp::now().as_second();
        let claims = json!({
            "aud": audiences, "exp": now + ttl, "iat": now, "nbf": now, "iss": issuer,
            "jti": uuid::Uuid::new_v4().to_string(),
            "sub": format!("system:serviceaccount:{ns}:{name}"),
            "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": name, "uid": uid}},
        });
        let token = self.sign(&claims)?;
        self.issued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(token.clone());
        let expires = jiff::Timestamp::from_second(now + ttl)
            .map(|t| t.to_string())
            .unwrap_or_default();
        Ok(json!({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"audiences": audiences, "expirationSeconds": ttl},
            "status": {"token": token, "expirationTimestamp": expires},
        }))
    }
}
