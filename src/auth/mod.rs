//! Who is calling: bearer JWT verification and the principal it yields.
//! Members and organizations are created just in time from verified claims
//! (see `store::members`).

use crate::config::JwtKey;
use crate::domain::enums::Role;
use crate::error::{AppError, AppResult};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

/// The claims riskgraph reads. `sub`, `org`, `role` and `exp` are required.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub org: String,
    pub role: String,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The caller of a request: always scoped to one organization.
#[derive(Clone, Debug)]
pub struct Principal {
    pub org_id: String,
    pub member_id: String,
    pub role: Role,
    /// When the token stops being valid (seconds since the epoch).
    pub expires_at: i64,
}

impl Principal {
    /// Fails with FORBIDDEN unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> AppResult<()> {
        let rank = |r: Role| match r {
            Role::Viewer => 0,
            Role::Editor => 1,
            Role::Admin => 2,
        };
        if rank(self.role) >= rank(role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this needs the {} role",
                role.as_str()
            )))
        }
    }
}

/// Verifies tokens with the one configured algorithm (never `none`).
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    pub fn new(
        key: &JwtKey,
        issuer: Option<&str>,
        audience: Option<&str>,
        leeway_secs: u64,
    ) -> Result<Self, String> {
        let (key, algorithm) = match key {
            JwtKey::Secret(secret) => (
                DecodingKey::from_secret(secret.expose_secret().as_bytes()),
                Algorithm::HS256,
            ),
            JwtKey::PublicKeyPem(pem) => match DecodingKey::from_ec_pem(pem) {
                Ok(key) => (key, Algorithm::ES256),
                Err(_) => (
                    DecodingKey::from_rsa_pem(pem)
                        .map_err(|e| format!("the public key is neither EC nor RSA PEM: {e}"))?,
                    Algorithm::RS256,
                ),
            },
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = leeway_secs;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(issuer) = issuer {
            validation.set_issuer(&[issuer]);
        }
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Self { key, validation })
    }

    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        let data = decode::<Claims>(token, &self.key, &self.validation).map_err(|e| {
            tracing::debug!(error = %e, "token rejected");
            AppError::Unauthenticated("invalid or expired token".into())
        })?;
        Ok(data.claims)
    }
}

/// Signs an HS256 token: the `token` command, local mode and tests.
pub fn mint(secret: &str, claims: &Claims) -> String {
    // HS256 signing with an in-memory key cannot fail.
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}

/// The token of an `Authorization: Bearer` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "alice".into(),
            org: "acme".into(),
            role: "admin".into(),
            exp,
            name: None,
            email: None,
        }
    }

    #[test]
    fn verifies_what_it_signed_and_rejects_other_keys() {
        let verifier = Verifier::new(
            &JwtKey::Secret(SecretString::from("s3cret")),
            None,
            None,
            30,
        )
        .expect("verifier");
        let far = 4_000_000_000;
        assert!(verifier.verify(&mint("s3cret", &claims(far))).is_ok());
        assert!(verifier.verify(&mint("other", &claims(far))).is_err());
        assert!(verifier.verify(&mint("s3cret", &claims(1_000))).is_err());
        assert!(verifier.verify("x.y.z").is_err());
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
