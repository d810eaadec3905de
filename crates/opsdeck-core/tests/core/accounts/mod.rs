//! Accounts: each adapter against its fake (real HTTP on loopback), every error mode; the flow's
//! state checks (mismatch, replay, cancellation); linking, unlinking, link requests by mobile;
//! console roles; tokens encrypted at rest; the full authorization-code + PKCE flow against a real
//! OpenID Connect provider (oidc-provider, started by the test command); SQLite and MariaDB.
//!
//! - [`sign_in`]: each adapter against its fake and its error modes, the flow's state checks, and
//!   the authorization-code + PKCE flow against a real OpenID Connect provider.
//! - [`links`]: linking, unlinking and console roles, link requests by mobile, MariaDB.
//! - [`sorting`]: the users list sorted by a column.
//!
//! Here: the world the tests (and `accounts_roles`) sign in against, and their helpers.

mod links;
mod sign_in;
mod sorting;

use opsdeck_api::ErrorBody;
use opsdeck_core::accounts::Callback;
use opsdeck_core::accounts::model::{ProviderKey, Purpose, SignInOutcome, Staff};
use opsdeck_core::{ApiError, Config, Core};
use opsdeck_sandbox::oauth::{FakeOAuth, FakeOAuthConfig, Provider};

use crate::helpers::{config_with, redis_url, toml_string, unique};

/// The configuration lines that point `provider` at `fake`.
fn provider_lines(fake: &FakeOAuth) -> Vec<(&'static str, String)> {
    let c = fake.config();
    let base = toml_string(&fake.base_url);
    let client = |id: &'static str, secret: &'static str, redirect: &'static str| {
        vec![
            (id, toml_string(&c.client_id)),
            (secret, toml_string(&c.client_secret)),
            (redirect, toml_string(&c.redirect_uri)),
        ]
    };
    let mut lines = match fake.provider() {
        Provider::Weibo => client("weibo_client_id", "weibo_client_secret", "weibo_redirect_uri"),
        Provider::Qq => client("qq_client_id", "qq_client_secret", "qq_redirect_uri"),
        Provider::Wechat => client("wechat_app_id", "wechat_app_secret", "wechat_redirect_uri"),
        Provider::Dingtalk => client("dingtalk_client_id", "dingtalk_client_secret", "dingtalk_redirect_uri"),
    };
    match fake.provider() {
        Provider::Weibo => lines.push(("weibo_url", base)),
        Provider::Qq => lines.push(("qq_url", base)),
        Provider::Wechat => {
            lines.push(("wechat_open_url", base.clone()));
            lines.push(("wechat_api_url", base));
        }
        Provider::Dingtalk => {
            lines.push(("dingtalk_login_url", base.clone()));
            lines.push(("dingtalk_api_url", base));
        }
    }
    lines
}

/// The binding of the tests' attempts (the desktop's window secret, the shop's session hash).
pub const BINDING: &str = "test-window-binding-0001";

pub fn key_of(provider: Provider) -> ProviderKey {
    provider.key().parse().unwrap()
}

pub struct World {
    pub core: Core,
    pub fakes: Vec<FakeOAuth>,
    _dir: tempfile::TempDir,
}

impl World {
    /// A core with all four fakes (auto-approving) and, when the test command started one, the
    /// real OpenID Connect provider.
    pub async fn start(database_url: Option<String>, extra: &[(&'static str, String)]) -> World {
        World::start_with(database_url, extra, None).await
    }

    /// Like [`World::start`]; `token_ttl` overrides the fakes' token lifetime.
    pub async fn start_with(
        database_url: Option<String>,
        extra: &[(&'static str, String)],
        token_ttl: Option<std::time::Duration>,
    ) -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut fakes = Vec::new();
        let mut lines = vec![
            ("data_dir", toml_string(&dir.path().display().to_string())),
            ("redis_url", toml_string(&redis_url())),
            ("redis_prefix", toml_string(&unique("acct"))),
            ("scheduler_enabled", "false".into()),
        ];
        if let Some(url) = database_url {
            lines.push(("database_url", toml_string(&url)));
        }
        for provider in Provider::ALL {
            let mut config = FakeOAuthConfig::sandbox(provider);
            config.auto_approve = true;
            if let Some(ttl) = token_ttl {
                config.token_ttl = ttl;
            }
            let fake = FakeOAuth::start(([127, 0, 0, 1], 0).into(), config).await.unwrap();
            lines.extend(provider_lines(&fake));
            fakes.push(fake);
        }
        if let Ok(issuer) = std::env::var("OPSDECK_TEST_OIDC_ISSUER") {
            lines.push(("oidc_issuer_url", toml_string(&issuer)));
            lines.push(("oidc_client_id", toml_string("opsdeck-test")));
            lines.push(("oidc_client_secret", toml_string("opsdeck-test-secret")));
            lines.push(("oidc_redirect_uri", toml_string("https://opsdeck.invalid/oauth/callback/oidc")));
            lines.push(("oidc_name", toml_string("Test SSO")));
        }
        lines.extend(extra.iter().cloned());
        let config: Config = config_with(dir.path(), &lines);
        let core = Core::start(config).await.unwrap();
        World { core, fakes, _dir: dir }
    }

    pub fn fake(&self, provider: Provider) -> &FakeOAuth {
        self.fakes.iter().find(|f| f.provider() == provider).unwrap()
    }

    /// A sign-in as far as the provider's redirect (the fake approves at once).
    pub async fn redirect(&self, provider: Provider, purpose: Purpose) -> url::Url {
        let auth = self.core.oauth_authorize(key_of(provider), purpose, BINDING).await.unwrap();
        follow_to_redirect(&auth.url, &self.fake(provider).config().redirect_uri).await
    }

    pub async fn sign_in(&self, provider: Provider) -> Result<SignInOutcome, ApiError> {
        let redirect = self.redirect(provider, Purpose::Console).await;
        self.core.oauth_callback(key_of(provider), Callback::from_url(&redirect), BINDING).await
    }
}

/// Follows the provider's redirects (without a cookie jar) until one goes to `redirect_uri`.
pub async fn follow_to_redirect(start: &str, redirect_uri: &str) -> url::Url {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut url = url::Url::parse(start).unwrap();
    for _ in 0..5 {
        if url.as_str().starts_with(redirect_uri) {
            return url;
        }
        let answer = http.get(url.clone()).send().await.unwrap();
        let location =
            answer.headers().get("location").unwrap_or_else(|| panic!("no redirect from {url}")).to_str().unwrap();
        url = url.join(location).unwrap();
    }
    panic!("no redirect to {redirect_uri}")
}

/// No provider token is kept (nothing uses one): the accounts tables have no column for tokens
/// or raw profiles, and no stored value is a token the fakes issued (as the adapters sent them
/// back in their later calls). SQLite.
pub async fn assert_no_provider_token_stored(world: &World) {
    let pool = world.core.database().pool();
    let tokens: Vec<String> = world
        .fakes
        .iter()
        .flat_map(|f| f.calls())
        .flat_map(|c| url::form_urlencoded::parse(c.query.as_bytes()).into_owned().collect::<Vec<_>>())
        .filter(|(k, _)| k == "access_token")
        .map(|(_, v)| v)
        .collect();
    assert!(!tokens.is_empty(), "the adapters used the tokens the fakes issued");
    for table in ["oauth_accounts", "link_requests", "users"] {
        let columns: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT name FROM pragma_table_info('{table}')")))
                .fetch_all(pool)
                .await
                .unwrap();
        assert!(!columns.is_empty(), "{table} exists");
        for column in &columns {
            assert!(!column.contains("token") && !column.contains("raw"), "{table}.{column} is kept");
            let values: Vec<Option<String>> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT CAST({column} AS TEXT) FROM {table}")))
                    .fetch_all(pool)
                    .await
                    .unwrap();
            for value in values.into_iter().flatten() {
                assert!(!tokens.iter().any(|t| value.contains(t.as_str())), "{table}.{column} holds a provider token");
            }
        }
    }
}

pub fn signed_in(outcome: SignInOutcome) -> (i64, bool, Option<Staff>) {
    match outcome {
        SignInOutcome::SignedIn { user, new_user, staff, .. } => (user.id, new_user, staff),
        other => panic!("expected a sign-in, got {other:?}"),
    }
}

pub fn code_of(e: ApiError) -> String {
    ErrorBody::from(e).code.to_string()
}

/// The test command's OpenID Connect provider; this test needs it.
pub fn oidc_issuer() -> String {
    std::env::var("OPSDECK_TEST_OIDC_ISSUER")
        .expect("OPSDECK_TEST_OIDC_ISSUER is not set: run the README's test command, which starts oidc-provider")
}

/// A browser's part against oidc-provider: the authorize URL, the login form, the redirects, with
/// cookies, up to the redirect to OpsDeck's callback.
pub async fn oidc_login(authorize_url: &str, login: &str) -> url::Url {
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
    let mut url = url::Url::parse(authorize_url).unwrap();
    for _ in 0..10 {
        if url.as_str().starts_with("https://opsdeck.invalid/") {
            return url;
        }
        let answer = http.get(url.clone()).send().await.unwrap();
        if let Some(location) = answer.headers().get("location") {
            url = url.join(location.to_str().unwrap()).unwrap();
            continue;
        }
        // The login page: post the form to its own path + /login.
        assert!(answer.status().is_success(), "{url}: {}", answer.status());
        let page = answer.text().await.unwrap();
        assert!(page.contains("id=\"login\""), "{page}");
        let post = url.join(&format!("{}/login", url.path())).unwrap();
        let answer = http.post(post).form(&[("login", login)]).send().await.unwrap();
        let location = answer.headers().get("location").expect("a redirect after the login").to_str().unwrap();
        url = url.join(location).unwrap();
    }
    panic!("no redirect to OpsDeck's callback")
}
