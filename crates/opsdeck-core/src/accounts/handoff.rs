//! A desktop's sign-in through the server (RFC 8252, native apps, with PKCE, RFC 7636): what the
//! server keeps between the steps. In Redis, like the sign-in attempts, so that any instance can
//! take any step; each value is taken once (`GETDEL`).
//!
//! - Under the provider attempt's `state`: the desktop's loopback redirect, the desktop's own
//!   state, its PKCE challenge, and the binding the server made up for the provider attempt (the
//!   sign-in window never sees it: the PKCE verifier, which only the desktop holds, is what binds
//!   the sign-in to the desktop that started it).
//! - Under the SHA-256 of a one-time code: the staff member the sign-in opened the console to,
//!   the challenge and redirect it was issued for, and when it expires ([`CODE_LIFETIME`]). The
//!   code itself never reaches Redis or a log.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::Staff;
use crate::redis_conn::RedisConn;

/// How long a one-time code may be exchanged.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// A desktop sign-in waiting for the provider's callback.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    /// The binding of the provider attempt (random, made by the server).
    pub binding: String,
    /// The desktop's loopback redirect.
    pub redirect_uri: String,
    /// The desktop's own state, handed back with the code.
    pub state: String,
    pub challenge: String,
}

/// A sign-in that opened the console, waiting for the desktop to exchange its code.
#[derive(Serialize, Deserialize)]
pub struct Granted {
    pub staff: Staff,
    pub redirect_uri: String,
    pub challenge: String,
    pub expires_at: DateTime<Utc>,
}

/// The two kinds of values, in Redis.
pub struct Handoffs {
    redis: RedisConn,
    /// How long a pending sign-in is kept (the provider attempt's own lifetime).
    pending_ttl: Duration,
}

impl Handoffs {
    pub fn new(redis: RedisConn, pending_ttl: Duration) -> Handoffs {
        Handoffs { redis, pending_ttl }
    }

    fn pending_key(&self, provider_state: &str) -> String {
        self.redis.key(&format!("handoff:pending:{}", sha256_hex(provider_state)))
    }

    fn code_key(&self, code: &str) -> String {
        self.redis.key(&format!("handoff:code:{}", sha256_hex(code)))
    }

    pub async fn put_pending(&self, provider_state: &str, pending: &Pending) -> redis::RedisResult<()> {
        let json = serde_json::to_string(pending).expect("a pending sign-in serialises");
        self.set(self.pending_key(provider_state), json, self.pending_ttl).await
    }

    pub async fn take_pending(&self, provider_state: &str) -> redis::RedisResult<Option<Pending>> {
        self.take(self.pending_key(provider_state)).await
    }

    pub async fn put_code(&self, code: &str, granted: &Granted) -> redis::RedisResult<()> {
        let json = serde_json::to_string(granted).expect("a granted sign-in serialises");
        // Kept a little longer than it is valid: `expires_at` decides, the TTL only tidies up.
        self.set(self.code_key(code), json, CODE_LIFETIME * 2).await
    }

    /// The code's grant, removed in the same step: a code works once, whatever comes of it.
    pub async fn take_code(&self, code: &str) -> redis::RedisResult<Option<Granted>> {
        self.take(self.code_key(code)).await
    }

    async fn set(&self, key: String, json: String, ttl: Duration) -> redis::RedisResult<()> {
        let mut conn = self.redis.manager();
        redis::cmd("SET")
            .arg(key)
            .arg(json)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .arg("NX")
            .query_async(&mut conn)
            .await
    }

    async fn take<T: serde::de::DeserializeOwned>(&self, key: String) -> redis::RedisResult<Option<T>> {
        let mut conn = self.redis.manager();
        let taken: Option<String> = redis::cmd("GETDEL").arg(key).query_async(&mut conn).await?;
        Ok(taken.and_then(|json| serde_json::from_str(&json).ok()))
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `BASE64URL(SHA-256(verifier))`: the S256 challenge of a verifier (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A PKCE verifier or S256 challenge: 43–128 unreserved characters (RFC 7636 §4.1).
pub fn is_pkce_value(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The desktop's redirect, if it is a loopback one (RFC 8252 §7.3): `http`, an IP literal of
/// the loopback interface (not the name `localhost`, which a hosts file may point elsewhere,
/// §8.3), any port, no credentials or fragment. Else why not.
pub fn loopback_redirect(text: &str) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(text).map_err(|_| "the redirect_uri is not a URL")?;
    if url.scheme() != "http" {
        return Err("the redirect_uri must be http:// to a loopback address (RFC 8252)");
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        _ => false,
    };
    if !loopback {
        return Err("the redirect_uri must be a loopback IP address: http://127.0.0.1:PORT/… or http://[::1]:PORT/…");
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("the redirect_uri must carry no credentials and no fragment");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_is_rfc_7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn only_loopback_ip_redirects_are_registered() {
        for ok in ["http://127.0.0.1:53111/opsdeck/signin", "http://[::1]:8080/cb", "http://127.0.0.1/cb?x=1"] {
            assert!(loopback_redirect(ok).is_ok(), "{ok}");
        }
        for refused in [
            "https://127.0.0.1:1/cb",
            "http://localhost:1/cb",
            "http://evil.example/cb",
            "http://10.0.0.1:1/cb",
            "http://user:pw@127.0.0.1:1/cb",
            "http://127.0.0.1:1/cb#frag",
            "opsdeck://cb",
            "not a url",
        ] {
            assert!(loopback_redirect(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn pkce_values_are_43_to_128_unreserved_characters() {
        assert!(is_pkce_value(&"a".repeat(43)));
        assert!(is_pkce_value(&"A-._~9".repeat(20)));
        assert!(!is_pkce_value(&"a".repeat(42)));
        assert!(!is_pkce_value(&"a".repeat(129)));
        assert!(!is_pkce_value(&format!("{}+", "a".repeat(43))));
    }
}
