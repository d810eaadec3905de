//! Accounts: users, their linked third-party sign-ins, staff roles.
//!
//! - [`model`]: providers, identities, users, roles, the [`Actor`](model::Actor) of manual actions.
//! - [`providers`]: one provider interface, five adapters (Weibo, QQ, WeChat, DingTalk, OIDC).
//! - [`crypto`]: sealing values at rest (no provider token is stored today).
//! - [`store`]: the SQL.
//! - [`bootstrap`]: the explicit first admin of a shared database (`opsdeckd staff grant-admin`).
//! - this module: sign-in attempts, kept in Redis under their `state` so that any instance can
//!   take the callback, each state used once (`GETDEL`) and only by the window or customer
//!   session it is bound to.
//!
//! The flow itself (authorize → callback → link or create → staff role) is in the facade
//! (`facade/accounts.rs`).

pub mod bootstrap;
pub mod crypto;
pub mod handoff;
pub mod model;
pub mod providers;
pub mod sessions;
pub mod store;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::AsyncCommands;

pub use model::{Actor, Role};
use providers::{Attempt, Providers};

use crate::redis_conn::RedisConn;

/// What the accounts core holds for the life of a [`Core`](crate::Core).
pub struct AccountsShared {
    pub(crate) providers: Providers,
    pub(crate) attempts: Attempts,
}

/// 32 random bytes, URL-safe base64: a `state`, a PKCE verifier (43 characters, as RFC 7636
/// asks), a nonce.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes).expect("the system random generator");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Sign-in attempts in Redis, each under its state with a TTL.
#[derive(Clone)]
pub struct Attempts {
    redis: RedisConn,
    ttl: Duration,
}

impl Attempts {
    pub fn new(redis: RedisConn, ttl: Duration) -> Attempts {
        Attempts { redis, ttl }
    }

    fn key(&self, state: &str) -> String {
        self.redis.key(&format!("oauth:state:{state}"))
    }

    pub async fn put(&self, attempt: &Attempt) -> redis::RedisResult<()> {
        let json = serde_json::to_string(attempt).expect("an attempt serialises");
        let mut conn = self.redis.manager();
        let ttl_ms = self.ttl.as_millis() as u64;
        redis::cmd("SET")
            .arg(self.key(&attempt.state))
            .arg(json)
            .arg("PX")
            .arg(ttl_ms)
            .arg("NX")
            .query_async(&mut conn)
            .await
    }

    /// The attempt, removed in the same step (`GETDEL`: a state works once), provided it was
    /// bound to `binding` (see [`binding_hash`]). An attempt bound to something else is left as
    /// it is, still good for its own callback: [`Taken::OtherBinding`].
    pub async fn take(&self, state: &str, binding: &str) -> redis::RedisResult<Taken> {
        let mut conn = self.redis.manager();
        let key = self.key(state);
        // An attempt never changes once written, so reading it before taking it is race-free:
        // whoever takes it takes this very value.
        let json: Option<String> = conn.get(&key).await?;
        let Some(attempt) = json.and_then(|j| serde_json::from_str::<Attempt>(&j).ok()) else {
            return Ok(Taken::Unknown);
        };
        if attempt.binding.as_deref() != Some(binding_hash(binding).as_str()) {
            return Ok(Taken::OtherBinding);
        }
        let taken: Option<String> = redis::cmd("GETDEL").arg(&key).query_async(&mut conn).await?;
        Ok(match taken.and_then(|j| serde_json::from_str(&j).ok()) {
            Some(attempt) => Taken::Attempt(attempt),
            None => Taken::Unknown,
        })
    }
}

/// What [`Attempts::take`] found.
#[derive(Debug)]
pub enum Taken {
    /// Bound as expected; removed, so it works once.
    Attempt(Attempt),
    /// No such attempt: unknown, expired, cancelled or already used.
    Unknown,
    /// Started by another window or customer session: refused, and left untouched.
    OtherBinding,
}

/// What an attempt keeps of the value it is bound to: its SHA-256, hex (the value itself, e.g.
/// a hash of the shop's session cookie, never reaches Redis).
pub fn binding_hash(binding: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(binding.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The parameters a provider's redirect carries back. Its `Debug` prints neither the code nor
/// the state.
#[derive(Clone, Default, serde::Deserialize)]
pub struct Callback {
    /// `code` (DingTalk: `authCode` and/or `code`).
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set when the user refused or the provider failed (`error`, Weibo's `error_code`, QQ's
    /// `usercancel`); WeChat sends only `state` then.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let given = |v: &Option<String>| if v.is_some() { "<redacted>" } else { "none" };
        f.debug_struct("Callback")
            .field("code", &given(&self.code))
            .field("state", &given(&self.state))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

impl Callback {
    /// Reads a redirect URL's query.
    pub fn from_url(url: &url::Url) -> Callback {
        let mut callback = Callback::default();
        let mut auth_code = None;
        for (name, value) in url.query_pairs() {
            let value = value.into_owned();
            match name.as_ref() {
                "code" if !value.is_empty() => callback.code = Some(value),
                "authCode" if !value.is_empty() => auth_code = Some(value),
                "state" => callback.state = Some(value),
                "error" | "error_code" if callback.error.is_none() => callback.error = Some(value),
                "usercancel" if value != "0" => callback.error = Some("usercancel".into()),
                "error_description" => callback.error_description = Some(value),
                _ => {}
            }
        }
        callback.code = callback.code.or(auth_code);
        callback
    }
}

/// True when `url` is the registered redirect URI `redirect` (same scheme, host, port and path;
/// the query is the callback's).
pub fn is_redirect(url: &url::Url, redirect: &str) -> bool {
    let Ok(redirect) = url::Url::parse(redirect) else { return false };
    url.scheme() == redirect.scheme()
        && url.host_str() == redirect.host_str()
        && url.port_or_known_default() == redirect.port_or_known_default()
        && url.path() == redirect.path()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_of_every_provider() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        let weibo = Callback::from_url(&url("https://x.test/cb?code=C1&state=S1"));
        assert_eq!((weibo.code.as_deref(), weibo.state.as_deref(), weibo.error), (Some("C1"), Some("S1"), None));
        let dingtalk = Callback::from_url(&url("https://x.test/cb?authCode=A1&state=S2"));
        assert_eq!(dingtalk.code.as_deref(), Some("A1"));
        let both = Callback::from_url(&url("https://x.test/cb?authCode=A1&code=A1&state=S2"));
        assert_eq!(both.code.as_deref(), Some("A1"));
        let wechat_refused = Callback::from_url(&url("https://x.test/cb?state=S3"));
        assert_eq!((wechat_refused.code, wechat_refused.error), (None, None));
        let weibo_refused = Callback::from_url(&url("https://x.test/cb?error=access_denied&error_code=21330&state=S"));
        assert_eq!(weibo_refused.error.as_deref(), Some("access_denied"));
        let qq_refused = Callback::from_url(&url("https://x.test/cb?usercancel=1&state=S"));
        assert_eq!(qq_refused.error.as_deref(), Some("usercancel"));
    }

    #[test]
    fn redirect_matching() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        let registered = "https://opsdeck.invalid/oauth/callback/weibo";
        assert!(is_redirect(&u("https://opsdeck.invalid/oauth/callback/weibo?code=1&state=2"), registered));
        assert!(is_redirect(&u("https://opsdeck.invalid:443/oauth/callback/weibo"), registered));
        assert!(!is_redirect(&u("https://opsdeck.invalid/oauth/callback/qq?code=1"), registered));
        assert!(!is_redirect(&u("http://opsdeck.invalid/oauth/callback/weibo"), registered));
        assert!(!is_redirect(&u("https://evil.test/oauth/callback/weibo"), registered));
    }

    #[test]
    fn debug_prints_no_code_state_verifier_or_personal_data() {
        let callback = Callback {
            code: Some("CODE-123".into()),
            state: Some("STATE-456".into()),
            error: None,
            error_description: None,
        };
        let printed = format!("{callback:?}");
        assert!(!printed.contains("CODE-123") && !printed.contains("STATE-456"), "{printed}");
        let attempt = Attempt {
            provider: model::ProviderKey::Oidc,
            purpose: model::Purpose::Console,
            state: "STATE-456".into(),
            pkce_verifier: Some("VERIFIER-789".into()),
            nonce: Some("NONCE-000".into()),
            binding: Some(binding_hash("window")),
            created_at: chrono::Utc::now(),
        };
        let printed = format!("{attempt:?}");
        for secret in ["STATE-456", "VERIFIER-789", "NONCE-000", &binding_hash("window")] {
            assert!(!printed.contains(secret), "{printed}");
        }
        let identity = model::Identity {
            provider: model::ProviderKey::Dingtalk,
            uid: "union-id-0123456789".into(),
            unionid: Some("union-id-0123456789".into()),
            nickname: Some("Zhang San".into()),
            avatar: Some("https://a.test/z.png".into()),
            email: Some("z@example.test".into()),
            email_verified: true,
            mobile: Some("13800000001".into()),
            gender: model::Gender::Male,
        };
        let printed = format!("{identity:?}");
        for personal in ["union-id-0123456789", "Zhang San", "z@example.test", "13800000001", "a.test"] {
            assert!(!printed.contains(personal), "{printed}");
        }
    }

    #[test]
    fn staff_allow_lists() {
        let list = model::parse_staff_allow("weibo:5678001, oidc:alice\nqq:5A1C").unwrap();
        assert_eq!(
            list,
            vec![
                (model::ProviderKey::Weibo, "5678001".to_string()),
                (model::ProviderKey::Oidc, "alice".to_string()),
                (model::ProviderKey::Qq, "5A1C".to_string()),
            ]
        );
        assert_eq!(model::parse_staff_allow("  ").unwrap(), vec![]);
        assert!(model::parse_staff_allow("weibo").unwrap_err().contains("provider:uid"));
        assert!(model::parse_staff_allow("github:1").unwrap_err().contains("unknown provider"));
        assert!(model::parse_staff_allow("weibo:").unwrap_err().contains("no uid"));
    }

    #[test]
    fn masks() {
        assert_eq!(model::mask_middle("13800000001"), "138****0001");
        assert_eq!(model::mask_middle("5678001"), "56***01");
        assert_eq!(model::mask_middle("abc"), "***");
        assert_eq!(model::mask_middle("5A1B2C3D4E5F6A7B8C9D0E1F2A3B4E01"), "5A1****4E01");
        let token = random_token();
        assert_eq!(token.len(), 43);
        assert_ne!(token, random_token());
    }
}
