//! Fake Weibo, QQ (QQ互联), WeChat (open platform, website login) and DingTalk (new style) web
//! logins, faithful to `shared/specs/providers.md` §2: one server per provider, on the real paths
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
//!   only `state`, as the spec says.
//! - **DingTalk** (`login.dingtalk.com`, `api.dingtalk.com`): `GET /oauth2/auth` (approval sends
//!   both `authCode` and `code`); `POST /v1.0/oauth2/userAccessToken` (JSON, camelCase);
//!   `GET /v1.0/contact/users/me` with `x-acs-dingtalk-access-token`. Errors
//!   `{"code","message","requestid"}`: 400 `MissingParameter` (body not JSON or a field missing),
//!   400 `InvalidParameter` (grantType), 400 `InvalidAuthentication` for a bad client or code (the
//!   message says which), 401 `InvalidAuthentication` "不合法的access_token" for a missing, unknown
//!   or expired token. Deny redirects with `error=access_denied&state=…` (the fake's choice).
//!
//! Not served: refresh-token grants, token introspection, revocation.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::time::Instant;

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

struct Grant {
    user: usize,
    redirect_uri: String,
    expires_at: Instant,
    used: bool,
}

struct Issued {
    user: usize,
    expires_at: Instant,
    expired: bool,
}

struct Inner {
    selected: usize,
    auto_approve: bool,
    /// QQ: the `client_id` the `me` answer names instead of the configured one (a token issued
    /// to another app).
    me_client_id: Option<String>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Issued>,
    calls: Vec<OAuthCall>,
}

#[derive(Clone)]
struct Shared {
    config: Arc<FakeOAuthConfig>,
    inner: Arc<Mutex<Inner>>,
}

/// Why a code does not buy a token.
#[derive(Debug, PartialEq, Eq)]
enum CodeProblem {
    Unknown,
    Expired,
    Used,
    RedirectMismatch,
}

/// Why a token is refused.
#[derive(Debug, PartialEq, Eq)]
enum TokenProblem {
    Missing,
    Unknown,
    Expired,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn user(&self, index: usize) -> &FakeUser {
        &self.config.users[index]
    }

    fn issue_code(&self, user: usize, redirect_uri: &str) -> String {
        let code = match self.config.provider {
            Provider::Qq => random_hex(16).to_uppercase(),
            _ => random_hex(16),
        };
        let grant = Grant {
            user,
            redirect_uri: redirect_uri.to_string(),
            expires_at: deadline(self.config.code_ttl),
            used: false,
        };
        self.lock().codes.insert(code.clone(), grant);
        code
    }

    /// Spends `code`; with `redirect_uri`, it must be the one the code was issued for (a
    /// mismatch leaves the code unspent).
    fn redeem(&self, code: &str, redirect_uri: Option<&str>) -> Result<usize, CodeProblem> {
        let mut inner = self.lock();
        let grant = inner.codes.get_mut(code).ok_or(CodeProblem::Unknown)?;
        if grant.used {
            return Err(CodeProblem::Used);
        }
        if Instant::now() >= grant.expires_at {
            return Err(CodeProblem::Expired);
        }
        if redirect_uri.is_some_and(|r| r != grant.redirect_uri) {
            return Err(CodeProblem::RedirectMismatch);
        }
        grant.used = true;
        Ok(grant.user)
    }

    fn issue_token(&self, user: usize) -> String {
        let token = match self.config.provider {
            Provider::Weibo => format!("2.00{}", random_hex(14)),
            Provider::Qq => random_hex(16).to_uppercase(),
            Provider::Wechat => random_hex(40),
            Provider::Dingtalk => random_hex(16),
        };
        let issued = Issued { user, expires_at: deadline(self.config.token_ttl), expired: false };
        self.lock().tokens.insert(token.clone(), issued);
        token
    }

    fn holder(&self, token: Option<&str>) -> Result<usize, TokenProblem> {
        let token = token.filter(|t| !t.is_empty()).ok_or(TokenProblem::Missing)?;
        let inner = self.lock();
        let issued = inner.tokens.get(token).ok_or(TokenProblem::Unknown)?;
        if issued.expired || Instant::now() >= issued.expires_at {
            return Err(TokenProblem::Expired);
        }
        Ok(issued.user)
    }

    fn user_by_uid(&self, uid: &str) -> Option<usize> {
        self.config.users.iter().position(|u| u.uid == uid)
    }

    fn token_secs(&self) -> u64 {
        self.config.token_ttl.as_secs()
    }
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
            .route(shared.config.provider.authorize_path(), get(authorize))
            .route(DECIDE_PATH, post(decide))
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
        Provider::Weibo => {
            Router::new().route("/oauth2/access_token", post(weibo_token)).route("/2/users/show.json", get(weibo_user))
        }
        Provider::Qq => Router::new()
            .route("/oauth2.0/token", get(qq_token))
            .route("/oauth2.0/me", get(qq_me))
            .route("/user/get_user_info", get(qq_user)),
        Provider::Wechat => {
            Router::new().route("/sns/oauth2/access_token", get(wechat_token)).route("/sns/userinfo", get(wechat_user))
        }
        Provider::Dingtalk => Router::new()
            .route("/v1.0/oauth2/userAccessToken", post(dingtalk_token))
            .route("/v1.0/contact/users/me", get(dingtalk_user)),
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

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// Form-encoded parameters in arrival order; the first of a name wins.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(text: &[u8]) -> Params {
        Params(url::form_urlencoded::parse(text).into_owned().collect())
    }

    fn query(query: Option<String>) -> Params {
        Params::parse(query.unwrap_or_default().as_bytes())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Present and not empty.
    fn given(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf).expect("OpenSSL's random generator works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// `now + ttl`, capped at a century so that a huge TTL cannot overflow.
fn deadline(ttl: Duration) -> Instant {
    Instant::now() + ttl.min(Duration::from_secs(100 * 365 * 86_400))
}

fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `302` to `redirect_uri` with `params` appended to its query (an existing query is kept).
fn redirect(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return page(StatusCode::BAD_REQUEST, "Sign-in error", &["The registered redirect URI is not a URL."]);
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei',sans-serif;background:#f4f5f7;color:#1f2328}\
.banner{background:#fff4ce;border-bottom:1px solid #e8d48a;padding:8px 16px;font-size:13px}\
main{max-width:420px;margin:48px auto;background:#fff;border:1px solid #d8dce1;border-radius:8px;padding:24px 28px}\
h1{font-size:20px;margin:0 0 12px}label{display:block;margin:16px 0 6px;font-weight:600}\
select{width:100%;padding:8px;font:inherit}.actions{display:flex;gap:12px;margin-top:24px}\
button{flex:1;padding:10px;font:inherit;border-radius:6px;border:1px solid #c4c9d0;background:#fff;cursor:pointer}\
#authorize{background:#1f6feb;border-color:#1f6feb;color:#fff}.error{color:#b42318}code{font-size:13px}";

/// A page of the fake; `paragraphs` are escaped here.
fn page(status: StatusCode, title: &str, paragraphs: &[&str]) -> Response {
    let body: String =
        paragraphs.iter().map(|p| format!("<p class=\"error\" id=\"error\">{}</p>", escape(p))).collect();
    html(status, title, &format!("<h1>{}</h1>{body}", escape(title)))
}

fn html(status: StatusCode, title: &str, main: &str) -> Response {
    let text = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} — OpsDeck sandbox</title><style>{STYLE}</style></head><body>\
<div class=\"banner\" role=\"note\">OpsDeck sandbox: a local stand-in for the real provider. \
No real account is used and nothing leaves this machine.</div><main>{main}</main></body></html>\n",
        escape(title)
    );
    let mut response = answer(status, "text/html; charset=utf-8", text);
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

// ---------------------------------------------------------------------------------------------
// The authorize page and the decision

/// What is wrong with an authorize request, in the provider's words.
fn authorize_problem(config: &FakeOAuthConfig, params: &Params) -> Option<&'static str> {
    let provider = config.provider;
    let client_ok = params.get(provider.client_id_param()) == Some(config.client_id.as_str());
    let redirect_ok = params.get("redirect_uri") == Some(config.redirect_uri.as_str());
    let response_type_ok = params.get("response_type") == Some("code");
    let scope = params.get("scope").unwrap_or_default();
    let has_scope = |wanted: &str| scope.split([' ', ',']).any(|s| s == wanted);
    match provider {
        Provider::Weibo if !client_ok => Some("invalid_client (21324): client_id is unknown."),
        Provider::Weibo if !redirect_ok => {
            Some("redirect_uri_mismatch (21322): redirect_uri does not match the application's registered callback.")
        }
        Provider::Weibo if !response_type_ok => Some("unsupported_response_type (21329): response_type must be code."),
        Provider::Qq if params.given("client_id").is_none() => Some("client_id is missing (100001)."),
        Provider::Qq if !client_ok => Some("client id is illegal (100008)."),
        Provider::Qq if !redirect_ok => Some("redirect uri is illegal(100010)"),
        Provider::Qq if !response_type_ok => Some("response_type is illegal (100000)."),
        Provider::Wechat if !client_ok => Some("AppID 参数错误 (the appid is unknown)."),
        Provider::Wechat if !redirect_ok => {
            Some("redirect_uri 参数错误 (the redirect_uri is not the registered callback).")
        }
        Provider::Wechat if !response_type_ok => Some("response_type 参数错误 (it must be code)."),
        Provider::Wechat if !has_scope("snsapi_login") => {
            Some("Scope 参数错误或没有 Scope 权限 (website login needs snsapi_login).")
        }
        Provider::Dingtalk if !client_ok => Some("client_id is invalid: no such application."),
        Provider::Dingtalk if !redirect_ok => {
            Some("redirect_uri is invalid: it is not the application's registered callback.")
        }
        Provider::Dingtalk if !response_type_ok => Some("response_type is invalid: it must be code."),
        Provider::Dingtalk if !has_scope("openid") => Some("scope is invalid: it must include openid."),
        _ => None,
    }
}

async fn authorize(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let config = &shared.config;
    let name = config.provider.display_name();
    if let Some(problem) = authorize_problem(config, &params) {
        return page(StatusCode::BAD_REQUEST, &format!("{name} sign-in error"), &[problem]);
    }
    let state = params.get("state");
    let (auto_approve, selected) = {
        let inner = shared.lock();
        (inner.auto_approve, inner.selected)
    };
    if auto_approve {
        return approve(&shared, selected, state);
    }
    consent_page(&shared, selected, state)
}

fn consent_page(shared: &Shared, selected: usize, state: Option<&str>) -> Response {
    let config = &shared.config;
    let name = config.provider.display_name();
    let options: String = config
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            format!(
                "<option value=\"{}\"{}>{} ({})</option>",
                escape(&u.uid),
                if i == selected { " selected" } else { "" },
                escape(&u.nickname),
                escape(&u.uid)
            )
        })
        .collect();
    let state_field =
        state.map(|s| format!("<input type=\"hidden\" name=\"state\" value=\"{}\">", escape(s))).unwrap_or_default();
    let (heading, lead) = if config.provider == Provider::Wechat {
        (
            "Scan to sign in with WeChat".to_string(),
            "The real WeChat shows a QR code here, to scan with the phone app. In the sandbox, pick \
             the account that “scanned” and confirm."
                .to_string(),
        )
    } else {
        (format!("Sign in to {name}"), format!("Choose the {name} account to sign in with."))
    };
    let main = format!(
        "<h1>{heading}</h1><p>{lead}</p><p>The application <code>{client}</code> asks to know who you are.</p>\
<form method=\"post\" action=\"{DECIDE_PATH}\">\
<label for=\"user\">Account</label><select id=\"user\" name=\"user\">{options}</select>\
<input type=\"hidden\" name=\"redirect_uri\" value=\"{redirect}\">{state_field}\
<div class=\"actions\"><button id=\"authorize\" type=\"submit\" name=\"decision\" value=\"authorize\">Authorize</button>\
<button id=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></div></form>",
        heading = escape(&heading),
        lead = escape(&lead),
        client = escape(&config.client_id),
        redirect = escape(&config.redirect_uri),
    );
    html(StatusCode::OK, &format!("Sign in to {name}"), &main)
}

/// The redirect of an approval: a fresh code for `user`, in the provider's parameters.
fn approve(shared: &Shared, user: usize, state: Option<&str>) -> Response {
    let redirect_uri = &shared.config.redirect_uri;
    let code = shared.issue_code(user, redirect_uri);
    let mut params: Vec<(&str, &str)> = match shared.config.provider {
        Provider::Dingtalk => vec![("authCode", code.as_str()), ("code", code.as_str())],
        _ => vec![("code", code.as_str())],
    };
    params.extend(state.map(|s| ("state", s)));
    redirect(redirect_uri, &params)
}

/// The redirect of a refusal, in the provider's parameters.
fn deny(shared: &Shared, state: Option<&str>) -> Response {
    let mut params: Vec<(&str, &str)> = match shared.config.provider {
        Provider::Weibo => vec![
            ("error", "access_denied"),
            ("error_code", "21330"),
            ("error_description", "user denied your request."),
        ],
        Provider::Qq => vec![("usercancel", "1")],
        Provider::Wechat => vec![],
        Provider::Dingtalk => vec![("error", "access_denied")],
    };
    params.extend(state.map(|s| ("state", s)));
    redirect(&shared.config.redirect_uri, &params)
}

/// `POST /__sandbox/decide`: the authorize page's form (`decision`, `user`, `redirect_uri`,
/// `state`).
async fn decide(State(shared): State<Shared>, body: Bytes) -> Response {
    let form = Params::parse(&body);
    let config = &shared.config;
    let title = format!("{} sign-in error", config.provider.display_name());
    if form.get("redirect_uri") != Some(config.redirect_uri.as_str()) {
        return page(StatusCode::BAD_REQUEST, &title, &["redirect_uri is not the registered callback."]);
    }
    let state = form.get("state");
    match form.get("decision") {
        Some("authorize") => match form.get("user").and_then(|uid| shared.user_by_uid(uid)) {
            Some(user) => approve(&shared, user, state),
            None => page(StatusCode::BAD_REQUEST, &title, &["No such account."]),
        },
        Some("deny") => deny(&shared, state),
        _ => page(StatusCode::BAD_REQUEST, &title, &["decision must be authorize or deny."]),
    }
}

// ---------------------------------------------------------------------------------------------
// Weibo

const WEIBO_JSON: &str = "application/json;charset=UTF-8";

fn weibo_error(request: &str, error: &str, code: u32, description: Option<&str>) -> Response {
    let mut body = json!({ "error": error, "error_code": code, "request": request });
    if let Some(description) = description {
        body["error_uri"] = json!(request);
        body["error_description"] = json!(description);
    }
    answer(StatusCode::BAD_REQUEST, WEIBO_JSON, body.to_string())
}

/// `POST /oauth2/access_token`, parameters from the query string and the form body alike.
async fn weibo_token(State(shared): State<Shared>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let mut params = Params::query(query);
    params.0.extend(Params::parse(&body).0);
    let config = &shared.config;
    let path = "/oauth2/access_token";
    let fail = |error, code, description| weibo_error(path, error, code, Some(description));
    if params.get("client_id") != Some(config.client_id.as_str()) {
        return fail("invalid_client", 21324, "invalid client_id");
    }
    if params.get("client_secret") != Some(config.client_secret.as_str()) {
        return fail("invalid_client", 21324, "invalid client_secret");
    }
    match params.get("grant_type") {
        Some("authorization_code") => {}
        None => return fail("invalid_request", 21323, "miss grant_type"),
        Some(_) => return fail("unsupported_grant_type", 21328, "unsupported grant_type"),
    }
    let Some(code) = params.given("code") else {
        return fail("invalid_request", 21323, "miss code");
    };
    let Some(redirect_uri) = params.get("redirect_uri").filter(|r| *r == config.redirect_uri) else {
        return fail("redirect_uri_mismatch", 21322, "redirect_uri_mismatch");
    };
    let user = match shared.redeem(code, Some(redirect_uri)) {
        Ok(user) => user,
        Err(CodeProblem::RedirectMismatch) => return fail("redirect_uri_mismatch", 21322, "redirect_uri_mismatch"),
        Err(CodeProblem::Used) => return fail("invalid_grant", 21325, &format!("authorization code used:{code}")),
        Err(_) => return fail("invalid_grant", 21325, &format!("invalid authorization code:{code}")),
    };
    let token = shared.issue_token(user);
    let secs = shared.token_secs();
    let body = json!({
        "access_token": token,
        "remind_in": secs.to_string(),
        "expires_in": secs,
        "uid": shared.user(user).uid,
        "isRealName": "true",
    });
    answer(StatusCode::OK, WEIBO_JSON, body.to_string())
}

/// `GET /2/users/show.json?access_token&uid`.
async fn weibo_user(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let path = "/2/users/show.json";
    match shared.holder(params.get("access_token")) {
        Ok(_) => {}
        Err(TokenProblem::Missing) => {
            return weibo_error(path, "source paramter(appkey) is missing", 10006, None);
        }
        Err(TokenProblem::Unknown) => return weibo_error(path, "invalid_access_token", 21332, None),
        Err(TokenProblem::Expired) => return weibo_error(path, "expired_token", 21327, None),
    }
    let Some(uid) = params.given("uid") else {
        return weibo_error(path, "miss required parameter (uid or screen_name), see doc for more info.", 10016, None);
    };
    let Some(user) = shared.user_by_uid(uid) else {
        return weibo_error(path, "User does not exists!", 20003, None);
    };
    let user = shared.user(user);
    let id = user.uid.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(user.uid.as_str()));
    let gender = match user.gender.as_deref() {
        Some("m") => "m",
        Some("f") => "f",
        _ => "n",
    };
    let body = json!({
        "id": id,
        "idstr": user.uid,
        "screen_name": user.nickname,
        "name": user.nickname,
        "location": "",
        "description": "",
        "profile_image_url": user.avatar,
        "avatar_large": user.avatar,
        "avatar_hd": user.avatar,
        "gender": gender,
        "verified": false,
    });
    answer(StatusCode::OK, WEIBO_JSON, body.to_string())
}

// ---------------------------------------------------------------------------------------------
// QQ

const QQ_TEXT: &str = "text/html;charset=utf-8";

/// QQ's `oauth2.0` answers: JSON with `fmt=json`, else JSONP `callback( … );\n`; HTTP 200.
fn qq_reply(json_format: bool, body: &Value) -> Response {
    let text = if json_format { body.to_string() } else { format!("callback( {body} );\n") };
    answer(StatusCode::OK, QQ_TEXT, text)
}

fn qq_error(json_format: bool, code: u32, description: &str) -> Response {
    qq_reply(json_format, &json!({ "error": code, "error_description": description }))
}

/// `GET /oauth2.0/token?grant_type=authorization_code&client_id&client_secret&code&redirect_uri[&fmt=json]`.
async fn qq_token(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let config = &shared.config;
    let json_format = params.get("fmt") == Some("json");
    let fail = |code, description| qq_error(json_format, code, description);
    if params.get("grant_type") != Some("authorization_code") {
        return fail(100004, "grant_type is illegal");
    }
    match params.given("client_id") {
        None => return fail(100001, "client_id is missing"),
        Some(id) if id != config.client_id => return fail(100008, "client id is illegal"),
        Some(_) => {}
    }
    match params.given("client_secret") {
        None => return fail(100002, "client_secret is missing"),
        Some(secret) if secret != config.client_secret => return fail(100009, "client secret is illegal"),
        Some(_) => {}
    }
    let Some(code) = params.given("code") else {
        return fail(100005, "code is missing");
    };
    let Some(redirect_uri) = params.get("redirect_uri").filter(|r| *r == config.redirect_uri) else {
        return fail(100010, "redirect uri is illegal");
    };
    let user = match shared.redeem(code, Some(redirect_uri)) {
        Ok(user) => user,
        Err(CodeProblem::RedirectMismatch) => return fail(100010, "redirect uri is illegal"),
        Err(CodeProblem::Used) => return fail(100020, "code is reused error"),
        Err(_) => return fail(100019, "code to access token error"),
    };
    let token = shared.issue_token(user);
    let refresh = random_hex(16).to_uppercase();
    let secs = shared.token_secs().to_string();
    if json_format {
        return qq_reply(true, &json!({ "access_token": token, "expires_in": secs, "refresh_token": refresh }));
    }
    answer(StatusCode::OK, QQ_TEXT, format!("access_token={token}&expires_in={secs}&refresh_token={refresh}"))
}

/// `GET /oauth2.0/me?access_token[&unionid=1][&fmt=json]`.
async fn qq_me(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let json_format = params.get("fmt") == Some("json");
    let user = match shared.holder(params.get("access_token")) {
        Ok(user) => shared.user(user),
        Err(TokenProblem::Missing) => return qq_error(json_format, 100007, "access token is missing"),
        Err(TokenProblem::Unknown) => return qq_error(json_format, 100013, "access token is illegal"),
        Err(TokenProblem::Expired) => return qq_error(json_format, 100014, "access token expired"),
    };
    let client_id = shared.lock().me_client_id.clone().unwrap_or_else(|| shared.config.client_id.clone());
    let mut body = json!({ "client_id": client_id, "openid": user.uid });
    if let (Some("1"), Some(unionid)) = (params.get("unionid"), &user.unionid) {
        body["unionid"] = json!(unionid);
    }
    qq_reply(json_format, &body)
}

/// `GET /user/get_user_info?access_token&oauth_consumer_key&openid`.
async fn qq_user(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let fail = |ret: i64, msg: &str| {
        answer(StatusCode::OK, "application/json;charset=utf-8", json!({ "ret": ret, "msg": msg }).to_string())
    };
    let user = match shared.holder(params.get("access_token")) {
        Ok(user) => shared.user(user),
        Err(TokenProblem::Missing) => return fail(100007, "access token is missing"),
        Err(TokenProblem::Unknown) => return fail(100013, "access token is illegal"),
        Err(TokenProblem::Expired) => return fail(100014, "access token expired"),
    };
    if params.get("oauth_consumer_key") != Some(shared.config.client_id.as_str()) {
        return fail(-1, "client request's parameters are invalid, invalid oauth_consumer_key");
    }
    if params.get("openid") != Some(user.uid.as_str()) {
        return fail(-1, "client request's parameters are invalid, invalid openid");
    }
    let (gender, gender_type) = match user.gender.as_deref() {
        Some("m") => ("男", 1),
        Some("f") => ("女", 2),
        _ => ("", 0),
    };
    let body = json!({
        "ret": 0,
        "msg": "",
        "is_lost": 0,
        "nickname": user.nickname,
        "gender": gender,
        "gender_type": gender_type,
        "province": "",
        "city": "",
        "year": "",
        "figureurl": user.avatar,
        "figureurl_1": user.avatar,
        "figureurl_2": user.avatar,
        "figureurl_qq_1": user.avatar,
        "figureurl_qq_2": user.avatar,
        "figureurl_qq": user.avatar,
        "is_yellow_vip": "0",
        "vip": "0",
        "yellow_vip_level": "0",
        "level": "0",
        "is_yellow_year_vip": "0",
    });
    answer(StatusCode::OK, "application/json;charset=utf-8", body.to_string())
}

// ---------------------------------------------------------------------------------------------
// WeChat

const WECHAT_JSON: &str = "application/json; encoding=utf-8";

fn wechat_reply(body: &Value) -> Response {
    answer(StatusCode::OK, WECHAT_JSON, body.to_string())
}

fn wechat_error(code: u32, message: &str) -> Response {
    wechat_reply(&json!({ "errcode": code, "errmsg": message }))
}

/// `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`.
async fn wechat_token(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let config = &shared.config;
    match params.given("appid") {
        None => return wechat_error(41002, "appid missing"),
        Some(appid) if appid != config.client_id => return wechat_error(40013, "invalid appid"),
        Some(_) => {}
    }
    match params.given("secret") {
        None => return wechat_error(41004, "appsecret missing"),
        Some(secret) if secret != config.client_secret => return wechat_error(40125, "invalid appsecret"),
        Some(_) => {}
    }
    if params.get("grant_type") != Some("authorization_code") {
        return wechat_error(40002, "invalid grant_type");
    }
    let Some(code) = params.given("code") else {
        return wechat_error(41008, "missing code");
    };
    let user = match shared.redeem(code, None) {
        Ok(user) => user,
        Err(CodeProblem::Used) => return wechat_error(40163, "code been used"),
        Err(_) => return wechat_error(40029, "invalid code"),
    };
    let token = shared.issue_token(user);
    let user = shared.user(user);
    let mut body = json!({
        "access_token": token,
        "expires_in": shared.token_secs(),
        "refresh_token": random_hex(40),
        "openid": user.uid,
        "scope": "snsapi_login",
    });
    if let Some(unionid) = &user.unionid {
        body["unionid"] = json!(unionid);
    }
    wechat_reply(&body)
}

/// `GET /sns/userinfo?access_token&openid[&lang]`.
async fn wechat_user(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let user = match shared.holder(params.get("access_token")) {
        Ok(user) => shared.user(user),
        Err(TokenProblem::Missing) => return wechat_error(41001, "access_token missing"),
        Err(TokenProblem::Unknown) => return wechat_error(40001, "invalid credential"),
        Err(TokenProblem::Expired) => return wechat_error(42001, "access_token expired"),
    };
    match params.given("openid") {
        None => return wechat_error(41009, "missing openid"),
        Some(openid) if openid != user.uid => return wechat_error(40003, "invalid openid"),
        Some(_) => {}
    }
    let sex = match user.gender.as_deref() {
        Some("m") => 1,
        Some("f") => 2,
        _ => 0,
    };
    let mut body = json!({
        "openid": user.uid,
        "nickname": user.nickname,
        "sex": sex,
        "language": "",
        "province": "",
        "city": "",
        "country": "",
        "headimgurl": user.avatar,
        "privilege": [],
    });
    if let Some(unionid) = &user.unionid {
        body["unionid"] = json!(unionid);
    }
    wechat_reply(&body)
}

// ---------------------------------------------------------------------------------------------
// DingTalk

const DINGTALK_JSON: &str = "application/json;charset=utf-8";

fn dingtalk_error(status: StatusCode, code: &str, message: &str) -> Response {
    let id = random_hex(16).to_uppercase();
    let requestid = format!("{}-{}-{}-{}-{}", &id[..8], &id[8..12], &id[12..16], &id[16..20], &id[20..]);
    let body = json!({ "code": code, "message": message, "requestid": requestid });
    answer(status, DINGTALK_JSON, body.to_string())
}

/// `POST /v1.0/oauth2/userAccessToken`, JSON `{"clientId","clientSecret","code","grantType"}`.
async fn dingtalk_token(State(shared): State<Shared>, body: Bytes) -> Response {
    let config = &shared.config;
    let bad = |code, message: &str| dingtalk_error(StatusCode::BAD_REQUEST, code, message);
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return bad("MissingParameter", "the request body is not a JSON object.");
    };
    let field = |name: &str| body.get(name).and_then(Value::as_str).filter(|v| !v.is_empty());
    let mut values = Vec::new();
    for name in ["clientId", "clientSecret", "code", "grantType"] {
        match field(name) {
            Some(value) => values.push(value),
            None => return bad("MissingParameter", &format!("{name} is mandatory for this action.")),
        }
    }
    let [client_id, client_secret, code, grant_type] = values[..] else { unreachable!("four fields were read") };
    if grant_type != "authorization_code" {
        return bad("InvalidParameter", "grantType is invalid: the sandbox supports authorization_code.");
    }
    if client_id != config.client_id {
        return bad("InvalidAuthentication", "clientId is invalid: no such application.");
    }
    if client_secret != config.client_secret {
        return bad("InvalidAuthentication", "clientSecret is invalid.");
    }
    let user = match shared.redeem(code, None) {
        Ok(user) => user,
        Err(CodeProblem::Used) => return bad("InvalidAuthentication", "code has been used."),
        Err(CodeProblem::Expired) => return bad("InvalidAuthentication", "code has expired."),
        Err(_) => return bad("InvalidAuthentication", "code is invalid."),
    };
    let token = shared.issue_token(user);
    let body = json!({
        "accessToken": token,
        "refreshToken": random_hex(16),
        "expireIn": shared.token_secs(),
        "corpId": "dingsandbox0psdeck00000000000001",
    });
    answer(StatusCode::OK, DINGTALK_JSON, body.to_string())
}

/// `GET /v1.0/contact/users/me`, the token in `x-acs-dingtalk-access-token`.
async fn dingtalk_user(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers.get("x-acs-dingtalk-access-token").and_then(|v| v.to_str().ok());
    let Ok(user) = shared.holder(token) else {
        return dingtalk_error(StatusCode::UNAUTHORIZED, "InvalidAuthentication", "不合法的access_token");
    };
    let user = shared.user(user);
    let mut body = json!({
        "nick": user.nickname,
        "avatarUrl": user.avatar,
        "openId": user.uid,
        "stateCode": "86",
    });
    let extra = [("unionId", &user.unionid), ("mobile", &user.mobile), ("email", &user.email)];
    for (name, value) in extra {
        if let Some(value) = value {
            body[name] = json!(value);
        }
    }
    answer(StatusCode::OK, DINGTALK_JSON, body.to_string())
}
