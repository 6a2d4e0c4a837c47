//! Survey links that cannot be forged or altered: `/s/{token}`, where the token is the link's
//! claims (survey, response, invitation, customer, expiry, language, attributes) as JSON in
//! URL-safe base64, a dot, and their HMAC-SHA256 under the server's secret (kept in the store,
//! so links survive restarts). Changing one character of either part makes the signature
//! fail; the comparison is constant-time (`hmac`'s `verify_slice`).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a link says. Short field names keep links short.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    /// The survey.
    pub s: String,
    /// The response the answers go to (one per invitation: answering again revises it).
    pub r: String,
    /// The invitation (personal links).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub i: Option<String>,
    /// The customer (personal links).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub e: i64,
    /// The customer's language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l: Option<String>,
    /// Attributes of the answers (channel, store …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub a: BTreeMap<String, String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkError {
    /// Not a token of this server: malformed, altered or forged.
    Invalid,
    /// Genuine but past its expiry (its claims say in which survey and language).
    Expired(Box<Claims>),
}

/// Longest token read (a link's claims are a few hundred bytes).
const MAX_TOKEN: usize = 4096;

/// Signs and checks tokens with one secret.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl Signer {
    pub fn new(key: [u8; 32]) -> Signer {
        Signer { key }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// The claims of a genuine token that has not expired at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, LinkError> {
        if token.len() > MAX_TOKEN {
            return Err(LinkError::Invalid);
        }
        let (payload, tag) = token.split_once('.').ok_or(LinkError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| LinkError::Invalid)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&tag).map_err(|_| LinkError::Invalid)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| LinkError::Invalid)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| LinkError::Invalid)?;
        if claims.e <= now {
            return Err(LinkError::Expired(Box::new(claims)));
        }
        Ok(claims)
    }
}

/// A random id (hex of 16 bytes). The OS generator does not fail on the platforms cxray runs
/// on; a zero id would still be a valid (if colliding) id.
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    hex(&b)
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            s: "checkout".into(),
            r: "inv-1".into(),
            i: Some("1".into()),
            c: Some("C1".into()),
            e: 2_000_000_000,
            l: Some("nl".into()),
            a: [("channel".to_string(), "email".to_string())]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn a_token_is_read_back_only_unaltered_unexpired_and_under_its_secret() {
        let signer = Signer::new([7; 32]);
        let token = signer.sign(&claims());
        assert!(token.len() < 300, "{}", token.len());
        assert_eq!(signer.verify(&token, 1_900_000_000), Ok(claims()));
        // Expired: the claims come back to say which survey.
        match signer.verify(&token, 2_000_000_000) {
            Err(LinkError::Expired(c)) => assert_eq!(c.s, "checkout"),
            other => panic!("{other:?}"),
        }
        // Another secret, or any single character changed, is refused.
        assert_eq!(
            Signer::new([8; 32]).verify(&token, 0),
            Err(LinkError::Invalid)
        );
        for i in 0..token.len() {
            let mut b = token.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(b).unwrap();
            if altered != token {
                assert_eq!(signer.verify(&altered, 0), Err(LinkError::Invalid), "{i}");
            }
        }
        // Claims re-signed by someone else (a longer expiry) do not pass.
        let mut forged = claims();
        forged.e = i64::MAX;
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tag = token.split_once('.').unwrap().1;
        assert_eq!(
            signer.verify(&format!("{payload}.{tag}"), 0),
            Err(LinkError::Invalid)
        );
        for junk in ["", ".", "abc", "a.b.c", &"x".repeat(10_000), "é.é"] {
            assert_eq!(signer.verify(junk, 0), Err(LinkError::Invalid), "{junk}");
        }
    }
}
