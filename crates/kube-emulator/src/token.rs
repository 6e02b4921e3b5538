//! ServiceAccount tokens: RS256 JWTs shaped as kube-apiserver issues them, and the OIDC
//! discovery document and JWKS that let a relying party (the arm-emulator) verify them.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Signs ServiceAccount tokens with an RSA key generated at start-up.
pub(crate) struct TokenSigner {
    key: RsaKeyPair,
    kid: String,
    issuer: String,
    rng: SystemRandom,
}

/// What a token names.
pub(crate) struct TokenSubject<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
}

impl TokenSigner {
    /// Generates a 2048-bit RSA key.
    pub fn generate(issuer: String) -> Result<TokenSigner, crate::Error> {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|e| crate::Error::Crypto(e.to_string()))?;
        let kid = {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.public_key().as_ref());
            URL_SAFE_NO_PAD.encode(digest.as_ref())
        };
        Ok(TokenSigner { key, kid, issuer, rng: SystemRandom::new() })
    }

    /// Issues a token; returns it with its expiry (unix seconds).
    pub fn issue(&self, subject: &TokenSubject<'_>) -> Result<(String, i64), crate::Error> {
        let now = jiff::Timestamp::now().as_second();
        let exp = now + subject.expiration_seconds;
        let header = json!({"alg": "RS256", "kid": self.kid});
        let claims = json!({
            "aud": subject.audiences,
            "exp": exp,
            "iat": now,
            "nbf": now,
            "iss": self.issuer,
            "jti": uuid::Uuid::new_v4().to_string(),
            "sub": format!("system:serviceaccount:{}:{}", subject.namespace, subject.name),
            "kubernetes.io": {
                "namespace": subject.namespace,
                "serviceaccount": {"name": subject.name, "uid": subject.uid},
            },
        });
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, signing_input.as_bytes(), &mut signature)
            .map_err(|e| crate::Error::Crypto(e.to_string()))?;
        Ok((format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)), exp))
    }

    /// The JWKS document (`/openid/v1/jwks`).
    pub fn jwks(&self) -> Value {
        let public = self.key.public_key();
        json!({"keys": [{
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        }]})
    }

    /// The OIDC discovery document (`/.well-known/openid-configuration`).
    pub fn openid_configuration(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/openid/v1/jwks", self.issuer),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    }
}
