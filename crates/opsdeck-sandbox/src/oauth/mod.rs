//! Fake Weibo, QQ (QQ互联), WeChat (open platform, website login) and DingTalk (new style) web
//! logins, faithful to `docs/providers.md` §2: one server per provider, on the real paths
//! (a provider's two hosts share the server), with each provider's own parameter names, answer
//! formats, content types and error codes.
//!
//! The authorize page is a small HTML form: a `<select id="user">` of the configured users and
//! two buttons, `#authorize` and `#deny`, posting to the fake's own `/__sandbox/decide`, which
//! answers `302` to the redirect URI as the provider would. With `auto_approve` the authorize GET
//! answers that `302` at once, as the selected user (a provider that remembers consent).
//!
//! Codes are random, single-use and expire after `code_ttl` (`Duration::ZERO`: at once); each
//! remembers its user and redirect URI. Tokens are random and expire after `token_ttl` or when
//! [`FakeOAuth::expire_tokens`] is called. Time is `tokio::time::Instant`, so a test with a paused
//! clock can `advance()` past a TTL. The fake prints nothing; every request goes to
//! [`FakeOAuth::calls`].
//!
//! What each provider answers, and where the fake chose because the real one is not documented:
//!
//! - **Weibo** (`api.weibo.com`): `GET /oauth2/authorize`; `POST /oauth2/access_token` (parameters
//!   from the form body or the query string, both as the real one) → JSON with `uid` and
//!   `remind_in` as strings; `GET /2/users/show.json`. Errors are
//!   `{"error","error_code","request",…}` from Weibo's OAuth table: 21322 redirect_uri_mismatch,
//!   21323 invalid_request (a missing parameter), 21324 invalid_client, 21325 invalid_grant (code
//!   unknown, expired or used), 21327 expired_token, 21328 unsupported_grant_type, 21329
//!   unsupported_response_type, 21330 access_denied (the Deny redirect), 21332
//!   invalid_access_token; `users/show` also answers 10006 (no token), 10016 (no uid) and 20003
//!   (unknown uid). HTTP 400 for all of them (the real status of the API errors is
//!   unconfirmed: branch on `error_code`).
//! - **QQ** (`graph.qq.com`): `GET /oauth2.0/authorize`, `/oauth2.0/token`, `/oauth2.0/me`,
//!   `/user/get_user_info`. The token answer is form-encoded, or JSON with `fmt=json` (with
//!   `expires_in` as a string, as QQ sends it); `me` answers JSONP `callback( {…} );\n`, or JSON
//!   with `fmt=json`; errors of both are HTTP 200, JSONP or JSON the same way, all with
//!   `Content-Type: text/html`. Codes from QQ's table: 100001/100002/100005 missing client_id,
//!   client_secret, code; 100004 bad grant_type; 100008 unknown client_id; 100009 wrong
//!   client_secret; 100010 redirect URI; 100019 code unknown or expired; 100020 code reused;
//!   100007 missing token; 100013 unknown token; 100014 expired token. `get_user_info` answers
//!   `ret` ≠ 0 with `msg` (−1 for a wrong `oauth_consumer_key` or `openid`). Deny redirects with
//!   `usercancel=1&state=…` (the fake's choice: QQ documents nothing for a refusal).
//! - **WeChat** (`open.weixin.qq.com`, `api.weixin.qq.com`): `GET /connect/qrconnect` (a scan page
//!   stands in for the QR code), `GET /sns/oauth2/access_token`, `GET /sns/userinfo`; errors HTTP
//!   200 `{"errcode","errmsg"}` (without the `, rid: …` suffix the real `errmsg` carries): 40013
//!   invalid appid, 40125 invalid appsecret, 40029 invalid code (unknown or expired), 40163 code
//!   been used, 40002 invalid grant_type, 41002/41004/41008 missing appid/secret/code, 40001
//!   invalid credential (unknown token), 42001 access_token expired, 40003 invalid openid. The real
//!   one checks only the redirect URI's domain; the fake wants the registered URI exactly. Since
//!   2021 WeChat answers empty `province`/`city`/`country`; the fake does too. Deny redirects with
//!   only `state`, as WeChat documents.
//! - **DingTalk** (`login.dingtalk.com`, `api.dingtalk.com`): `GET /oauth2/auth` (approval sends
//!   both `authCode` and `code`); `POST /v1.0/oauth2/userAccessToken` (JSON, camelCase);
//!   `GET /v1.0/contact/users/me` with `x-acs-dingtalk-access-token`. Errors
//!   `{"code","message","requestid"}`: 400 `MissingParameter` (body not JSON or a field missing),
//!   400 `InvalidParameter` (grantType), 400 `InvalidAuthentication` for a bad client or code (the
//!   message says which), 401 `InvalidAuthentication` "不合法的access_token" for a missing, unknown
//!   or expired token. Deny redirects with `error=access_denied&state=…` (the fake's choice).
//!
//! Not served: refresh-token grants, token introspection, revocation.

mod consent;
mod dingtalk;
mod http;
mod qq;
mod state;
mod wechat;
mod weibo;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::sync::oneshot;

use state::{Inner, Shared};

/// The internal path the authorize page's form posts to.
const DECIDE_PATH: &str = "/__sandbox/decide";
/// The most of a request body the call log keeps (and the fake reads).
const BODY_LIMIT: usize = 1 << 20;

/// One of the four Chinese web logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Weibo,
    Qq,
    Wechat,
    Dingtalk,
}

impl Provider {
    pub const ALL: [Provider; 4] = [Provider::Weibo, Provider::Qq, Provider::Wechat, Provider::Dingtalk];

    /// `"weibo"`, `"qq"`, `"wechat"` or `"dingtalk"`.
    pub fn key(self) -> &'static str {
        match self {
            Provider::Weibo => "weibo",
            Provider::Qq => "qq",
            Provider::Wechat => "wechat",
            Provider::Dingtalk => "dingtalk",
        }
    }

    /// `"Weibo"`, `"QQ"`, `"WeChat"` or `"DingTalk"`.
    pub fn display_name(self) -> &'static str {
        match self {
            Provider::Weibo => "Weibo",
            Provider::Qq => "QQ",
            Provider::Wechat => "WeChat",
            Provider::Dingtalk => "DingTalk",
        }
    }

    /// The authorize path on the provider's login host.
    fn authorize_path(self) -> &'static str {
        match self {
            Provider::Weibo => "/oauth2/authorize",
            Provider::Qq => "/oauth2.0/authorize",
            Provider::Wechat => "/connect/qrconnect",
            Provider::Dingtalk => "/oauth2/auth",
        }
    }

    /// The name of the client id parameter at authorize.
    fn client_id_param(self) -> &'static str {
        if self == Provider::Wechat { "appid" } else { "client_id" }
    }
}

/// A user the fake can sign in as.
#[derive(Debug, Clone)]
pub struct FakeUser {
    /// Weibo uid (digits), QQ openid, WeChat openid or DingTalk openId.
    pub uid: String,
    /// QQ unionid (answered by `me` when `unionid=1` is asked), WeChat unionid, DingTalk unionId.
    /// Left out of answers when `None`.
    pub unionid: Option<String>,
    pub nickname: String,
    /// An https URL.
    pub avatar: String,
    /// `"m"` or `"f"`; each provider's own encoding is derived from it (`None`: Weibo `"n"`,
    /// QQ `""`, WeChat `0`).
    pub gender: Option<String>,
    /// Answered by DingTalk only.
    pub mobile: Option<String>,
    /// Answered by DingTalk only.
    pub email: Option<String>,
}

/// How one fake behaves.
#[derive(Clone)]
pub struct FakeOAuthConfig {
    pub provider: Provider,
    /// WeChat: `appid`.
    pub client_id: String,
    /// WeChat: `secret`.
    pub client_secret: String,
    /// The registered callback: authorize (and, for Weibo and QQ, the token exchange) must send
    /// exactly this.
    pub redirect_uri: String,
    /// At least one; the authorize page offers them all, the first is selected at start.
    pub users: Vec<FakeUser>,
    /// The authorize GET redirects at once, as the selected user.
    pub auto_approve: bool,
    /// How long a code stays good (10 minutes by default; zero: it is expired when issued).
    pub code_ttl: Duration,
    /// How long a token stays good; also the `expires_in` answered.
    pub token_ttl: Duration,
}

impl std::fmt::Debug for FakeOAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOAuthConfig")
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .field("users", &self.users)
            .field("auto_approve", &self.auto_approve)
            .field("code_ttl", &self.code_ttl)
            .field("token_ttl", &self.token_ttl)
            .finish()
    }
}

impl FakeOAuthConfig {
    /// Fixed sandbox credentials: client id `sandbox-<key>-client`, secret `sandbox-<key>-secret`,
    /// redirect URI `https://opsdeck.invalid/oauth/callback/<key>`, two users per provider
    /// (distinct across providers), no auto-approve, codes good for 10 minutes and tokens for the
    /// provider's usual lifetime (Weibo 157679999 s, QQ 7776000 s, WeChat and DingTalk 7200 s).
    pub fn sandbox(provider: Provider) -> FakeOAuthConfig {
        let key = provider.key();
        let avatar = |n: u32| format!("https://sandbox.opsdeck.invalid/avatars/{key}-{n}.png");
        let user = |uid: &str, unionid: Option<&str>, nickname: &str, n: u32, gender: &str| FakeUser {
            uid: uid.into(),
            unionid: unionid.map(Into::into),
            nickname: nickname.into(),
            avatar: avatar(n),
            gender: Some(gender.into()),
            mobile: None,
            email: None,
        };
        let (users, token_secs) = match provider {
            Provider::Weibo => (
                vec![user("5678001", None, "沙盒微博用户", 1, "m"), user("5678002", None, "Sandbox Weibo Two", 2, "f")],
                157_679_999,
            ),
            Provider::Qq => (
                vec![
                    user(
                        "5A1C0E0D3B9F4C2A8E6D7F1B2C3D4E01",
                        Some("UID_8F2E4A6C1B3D5E7F9A0B1C2D3E4F5A01"),
                        "沙盒QQ用户",
                        1,
                        "m",
                    ),
                    user(
                        "5A1C0E0D3B9F4C2A8E6D7F1B2C3D4E02",
                        Some("UID_8F2E4A6C1B3D5E7F9A0B1C2D3E4F5A02"),
                        "Sandbox QQ Two",
                        2,
                        "f",
                    ),
                ],
                7_776_000,
            ),
            Provider::Wechat => (
                vec![
                    user("oSbx1wXfPq3Lm8Zr2Tn6Yk4Hj001", Some("oUnx7cVb2Nq9Wd4Ks1Fg5Lr8Mt001"), "沙盒微信用户", 1, "m"),
                    user(
                        "oSbx1wXfPq3Lm8Zr2Tn6Yk4Hj002",
                        Some("oUnx7cVb2Nq9Wd4Ks1Fg5Lr8Mt002"),
                        "Sandbox WeChat Two",
                        2,
                        "f",
                    ),
                ],
                7_200,
            ),
            Provider::Dingtalk => {
                let mut one =
                    user("sbxDt0penId7kQ2mX9vL4pR1", Some("sbxDtUni0nId3hT8wZ5nC6yA1"), "沙盒钉钉用户", 1, "m");
                one.mobile = Some("13800000001".into());
                one.email = Some("dingtalk.one@sandbox.opsdeck.invalid".into());
                let mut two =
                    user("sbxDt0penId7kQ2mX9vL4pR2", Some("sbxDtUni0nId3hT8wZ5nC6yA2"), "Sandbox DingTalk Two", 2, "f");
                two.mobile = Some("13800000002".into());
                two.email = Some("dingtalk.two@sandbox.opsdeck.invalid".into());
                (vec![one, two], 7_200)
            }
        };
        FakeOAuthConfig {
            provider,
            client_id: format!("sandbox-{key}-client"),
            client_secret: format!("sandbox-{key}-secret"),
            redirect_uri: format!("https://opsdeck.invalid/oauth/callback/{key}"),
            users,
            auto_approve: false,
            code_ttl: Duration::from_secs(600),
            token_ttl: Duration::from_secs(token_secs),
        }
    }
}

/// One request as it arrived.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OAuthCall {
    pub method: String,
    pub path: String,
    /// The raw query string (empty when none).
    pub query: String,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

/// A running fake of one provider; dropping it stops the server.
pub struct FakeOAuth {
    /// `http://127.0.0.1:PORT`, no trailing slash: it stands for every host of the provider.
    pub base_url: String,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeOAuth {
    /// Serves `config.provider` on `addr` (port 0 for any free port). Refuses a config without
    /// users.
    pub async fn start(addr: SocketAddr, config: FakeOAuthConfig) -> std::io::Result<FakeOAuth> {
        if config.users.is_empty() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "a fake OAuth provider needs a user"));
        }
        let inner = Inner {
            selected: 0,
            auto_approve: config.auto_approve,
            me_client_id: None,
            codes: HashMap::new(),
            tokens: HashMap::new(),
            calls: Vec::new(),
        };
        let shared = Shared { config: Arc::new(config), inner: Arc::new(Mutex::new(inner)) };
        let router = routes(shared.config.provider)
            .route(shared.config.provider.authorize_path(), get(consent::authorize))
            .route(DECIDE_PATH, post(consent::decide))
            .layer(middleware::from_fn_with_state(shared.clone(), record))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(FakeOAuth { base_url, shared, stop: Some(stop) })
    }

    pub fn provider(&self) -> Provider {
        self.shared.config.provider
    }

    /// The configuration it was started with (`select_user` and `set_auto_approve` change the
    /// running fake, not this).
    pub fn config(&self) -> &FakeOAuthConfig {
        &self.shared.config
    }

    /// Which user auto-approve signs in as (and the page preselects), by uid.
    ///
    /// # Panics
    /// On a uid that is not among the configured users.
    pub fn select_user(&self, uid: &str) {
        let index = self.shared.user_by_uid(uid).unwrap_or_else(|| panic!("no configured user has uid {uid:?}"));
        self.shared.lock().selected = index;
    }

    pub fn set_auto_approve(&self, on: bool) {
        self.shared.lock().auto_approve = on;
    }

    /// QQ: `me` answers that the token belongs to the app `client_id` (as it would for a token
    /// issued to another app); `None` restores the configured one.
    pub fn answer_me_client_id(&self, client_id: Option<&str>) {
        self.shared.lock().me_client_id = client_id.map(str::to_string);
    }

    /// Every access token issued so far is expired from now on (tokens issued later are not).
    pub fn expire_tokens(&self) {
        for issued in self.shared.lock().tokens.values_mut() {
            issued.expired = true;
        }
    }

    /// Every request received, in arrival order.
    pub fn calls(&self) -> Vec<OAuthCall> {
        self.shared.lock().calls.clone()
    }
}

impl Drop for FakeOAuth {
    /// Stops accepting connections and lets the open ones finish.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn routes(provider: Provider) -> Router<Shared> {
    match provider {
        Provider::Weibo => weibo::routes(),
        Provider::Qq => qq::routes(),
        Provider::Wechat => wechat::routes(),
        Provider::Dingtalk => dingtalk::routes(),
    }
}

/// Logs the request (method, path, raw query, body) and hands it on unchanged.
async fn record(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.unwrap_or_default();
    shared.lock().calls.push(OAuthCall {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    });
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}
