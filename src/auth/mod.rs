//! Who is calling: bearer JWT verification and the principal it yields.
//! Members and organizations are created just in time from verified claims
//! (see `store::members`).

use crate::config::JwtKey;
use crate::domain::enums::Role;
use crate::error::{AppError, AppResult};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
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

impl Claims {
    /// Claims for `sub` in `org` with `role`, valid for `ttl` from `now`.
    pub fn new(
        (org, sub, role): (&str, &str, &str),
        now: chrono::DateTime<chrono::Utc>,
        ttl: std::time::Duration,
        name: Option<String>,
        email: Option<String>,
    ) -> Self {
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1));
        Self {
            sub: sub.to_owned(),
            org: org.to_owned(),
            role: role.to_owned(),
            exp: (now + ttl).timestamp(),
            name,
            email,
        }
    }
}

/// The caller of a request: always scoped to one organization.
#[derive(Clone, Debug)]
pub struct Principal {
    pub org_id: String,
    pub member_id: String,
    pub role: Role,
    /// When the token stops being valid (seconds since the epoch).
    pub expires_at: i64,
    /// The API key the caller signed in with, if not a token: revoking it
    /// ends the caller's subscriptions.
    pub api_key: Option<String>,
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

/// One key a token may be signed with.
struct Key {
    kid: Option<String>,
    key: DecodingKey,
    validation: Validation,
}

/// Verifies tokens with the configured key or keys, each with its one
/// algorithm (never `none`).
pub struct Verifier {
    keys: Vec<Key>,
}

/// The algorithm a JWK is for: its `alg`, else what its key type implies.
fn jwk_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    if let Some(alg) = jwk.common.key_algorithm {
        return Algorithm::try_from(alg).ok();
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        _ => None,
    }
}

impl Verifier {
    /// `key` is an HS256 secret, an RS256 or ES256 public key in PEM, or a
    /// JWKS (JSON) whose keys are chosen by the token's `kid`.
    pub fn new(
        key: &JwtKey,
        issuer: Option<&str>,
        audience: Option<&str>,
        leeway_secs: u64,
    ) -> Result<Self, String> {
        let validation = |algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.leeway = leeway_secs;
            // A token that is not valid yet is refused like an expired one.
            validation.validate_nbf = true;
            validation.set_required_spec_claims(&["exp", "sub"]);
            if let Some(issuer) = issuer {
                validation.set_issuer(&[issuer]);
            }
            match audience {
                Some(audience) => validation.set_audience(&[audience]),
                None => validation.validate_aud = false,
            }
            validation
        };
        let one = |key, algorithm| {
            Ok(Self {
                keys: vec![Key {
                    kid: None,
                    key,
                    validation: validation(algorithm),
                }],
            })
        };
        match key {
            JwtKey::Secret(secret) => one(
                DecodingKey::from_secret(secret.expose_secret().as_bytes()),
                Algorithm::HS256,
            ),
            JwtKey::PublicKeyPem(text) if text.trim_ascii_start().starts_with(b"{") => {
                let set: JwkSet = serde_json::from_slice(text)
                    .map_err(|e| format!("the JWKS does not parse: {e}"))?;
                let keys: Vec<Key> = set
                    .keys
                    .iter()
                    .filter_map(|jwk| {
                        let algorithm = jwk_algorithm(jwk)?;
                        let key = DecodingKey::try_from(jwk).ok()?;
                        Some(Key {
                            kid: jwk.common.key_id.clone(),
                            key,
                            validation: validation(algorithm),
                        })
                    })
                    .collect();
                if keys.is_empty() {
                    return Err("the JWKS holds no RSA or EC signing key".into());
                }
                Ok(Self { keys })
            }
            JwtKey::PublicKeyPem(pem) => match DecodingKey::from_ec_pem(pem) {
                Ok(key) => one(key, Algorithm::ES256),
                Err(_) => one(
                    DecodingKey::from_rsa_pem(pem)
                        .map_err(|e| format!("the public key is neither EC nor RSA PEM: {e}"))?,
                    Algorithm::RS256,
                ),
            },
        }
    }

    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        let rejected = |reason: &dyn std::fmt::Display| {
            tracing::debug!(%reason, "token rejected");
            AppError::Unauthenticated("invalid or expired token".into())
        };
        let header = decode_header(token).map_err(|e| rejected(&e))?;
        let key = self
            .keys
            .iter()
            .find(|k| header.kid.is_none() || k.kid.is_none() || k.kid == header.kid)
            .ok_or_else(|| rejected(&"no key has this kid"))?;
        let data = decode::<Claims>(token, &key.key, &key.validation).map_err(|e| rejected(&e))?;
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

/// A token for `claims` signed with `key`: only a shared secret can sign
/// here; tokens for a public key come from its identity provider.
pub fn token_for(key: &JwtKey, claims: &Claims) -> Result<String, String> {
    match key {
        JwtKey::Secret(secret) => Ok(mint(secret.expose_secret(), claims)),
        JwtKey::PublicKeyPem(_) => {
            Err("tokens for a public key are issued by its identity provider".into())
        }
    }
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

    fn es256_token(kid: Option<&str>) -> String {
        let pem = include_bytes!("../../tests/keys/es256-private.pem");
        let key = EncodingKey::from_ec_pem(pem).expect("test key");
        let mut header = Header::new(Algorithm::ES256);
        header.kid = kid.map(str::to_owned);
        encode(&header, &claims(4_000_000_000), &key).expect("signs")
    }

    #[test]
    fn public_keys_verify_as_pem_and_as_jwks() {
        let pem =
            JwtKey::PublicKeyPem(include_bytes!("../../tests/keys/es256-public.pem").to_vec());
        let by_pem = Verifier::new(&pem, None, None, 30).expect("pem");
        assert!(by_pem.verify(&es256_token(None)).is_ok());
        // An HS256 token signed with the public key's bytes must not pass.
        assert!(
            by_pem
                .verify(&mint("whatever", &claims(4_000_000_000)))
                .is_err()
        );

        let jwks = JwtKey::PublicKeyPem(include_bytes!("../../tests/keys/jwks.json").to_vec());
        let by_jwks = Verifier::new(&jwks, None, None, 30).expect("jwks");
        assert!(by_jwks.verify(&es256_token(Some("test-es256"))).is_ok());
        assert!(by_jwks.verify(&es256_token(Some("another-key"))).is_err());
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
