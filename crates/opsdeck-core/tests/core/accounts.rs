//! Accounts: each adapter against its fake (real HTTP on loopback), every error mode; the flow's
//! state checks (mismatch, replay, cancellation); linking, unlinking, link requests by mobile;
//! console roles; tokens encrypted at rest; the full authorization-code + PKCE flow against a real
//! OpenID Connect provider (oidc-provider, started by the test command); SQLite and MariaDB.

use opsdeck_api::ErrorBody;
use opsdeck_core::accounts::bootstrap::{GrantTarget, grant_admin_on};
use opsdeck_core::accounts::model::{ProviderKey, Purpose, Role, SignInOutcome, Staff, UserQuery};
use opsdeck_core::accounts::{Actor, Callback};
use opsdeck_core::{ApiError, Config, Core};
use opsdeck_sandbox::oauth::{FakeOAuth, FakeOAuthConfig, Provider};

use crate::helpers::{config_with, fresh_mysql_url, redis_url, toml_string, unique};

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

#[tokio::test]
async fn every_chinese_provider_signs_in_and_returns_the_same_user() {
    let world = World::start(None, &[]).await;
    for (n, provider) in Provider::ALL.into_iter().enumerate() {
        let (user_id, new_user, staff) = signed_in(world.sign_in(provider).await.unwrap());
        assert!(new_user, "{provider:?}: a first sign-in creates a user");
        // The very first console sign-in becomes admin; later ones get no role (the default).
        assert_eq!(staff.map(|s| s.role), if n == 0 { Some(Role::Admin) } else { None }, "{provider:?}");
        let again = signed_in(world.sign_in(provider).await.unwrap());
        assert_eq!((again.0, again.1), (user_id, false), "{provider:?}: the same identity is the same user");
        let user = world.core.user_get(user_id).await.unwrap();
        assert_eq!(user.links.len(), 1);
        assert_eq!(user.links[0].provider, key_of(provider));
        let fake_user = &world.fake(provider).config().users[0];
        assert_eq!(user.nickname.as_deref(), Some(fake_user.nickname.as_str()), "{provider:?}: nickname");
        assert!(!user.links[0].uid_masked.contains(&fake_user.uid) || fake_user.uid.len() <= 4, "uid masked");
        assert!(user.links[0].last_sign_in_at.is_some());
    }
    assert_no_provider_token_stored(&world).await;
    world.core.shutdown().await;
}

#[tokio::test]
async fn adapters_send_each_provider_its_own_parameters() {
    let world = World::start(None, &[]).await;
    for provider in Provider::ALL {
        world.sign_in(provider).await.unwrap();
    }
    let calls = |p: Provider| world.fake(p).calls();
    let weibo = calls(Provider::Weibo);
    let token = weibo.iter().find(|c| c.path == "/oauth2/access_token").unwrap();
    assert_eq!(token.method, "POST");
    assert!(
        token.body.contains("grant_type=authorization_code") && token.body.contains("redirect_uri="),
        "{}",
        token.body
    );
    assert!(weibo.iter().any(|c| c.path == "/2/users/show.json" && c.query.contains("uid=")));
    let qq = calls(Provider::Qq);
    assert!(qq.iter().any(|c| c.path == "/oauth2.0/token" && c.method == "GET" && !c.query.contains("fmt=json")));
    assert!(qq.iter().any(|c| c.path == "/oauth2.0/me"));
    assert!(qq.iter().any(|c| c.path == "/user/get_user_info" && c.query.contains("oauth_consumer_key=")));
    let wechat = calls(Provider::Wechat);
    assert!(
        wechat
            .iter()
            .any(|c| c.path == "/sns/oauth2/access_token" && c.query.contains("appid=") && c.query.contains("secret="))
    );
    assert!(wechat.iter().any(|c| c.path == "/sns/userinfo" && c.query.contains("lang=zh_CN")));
    let dingtalk = calls(Provider::Dingtalk);
    let token = dingtalk.iter().find(|c| c.path == "/v1.0/oauth2/userAccessToken").unwrap();
    let body: serde_json::Value = serde_json::from_str(&token.body).unwrap();
    assert_eq!(body["grantType"], "authorization_code");
    assert!(body["clientId"].is_string() && body["clientSecret"].is_string() && body["code"].is_string());
    // The authorize URLs: WeChat's ends in #wechat_redirect, DingTalk asks for consent.
    let wechat_url = world.core.oauth_authorize(ProviderKey::Wechat, Purpose::Console, BINDING).await.unwrap().url;
    assert!(wechat_url.ends_with("#wechat_redirect") && wechat_url.contains("scope=snsapi_login"), "{wechat_url}");
    let dingtalk_url = world.core.oauth_authorize(ProviderKey::Dingtalk, Purpose::Console, BINDING).await.unwrap().url;
    assert!(dingtalk_url.contains("prompt=consent") && dingtalk_url.contains("scope=openid"), "{dingtalk_url}");
    world.core.shutdown().await;
}

#[tokio::test]
async fn bad_and_reused_codes_are_refused_with_the_providers_code() {
    let world = World::start(None, &[]).await;
    let expected_bad = [
        (Provider::Weibo, "21325"),
        (Provider::Qq, "100019"),
        (Provider::Wechat, "40029"),
        (Provider::Dingtalk, "InvalidAuthentication"),
    ];
    for (provider, code) in expected_bad {
        let key = key_of(provider);
        let auth = world.core.oauth_authorize(key, Purpose::Console, BINDING).await.unwrap();
        let callback = Callback { code: Some("not-a-code".into()), state: Some(auth.state), ..Callback::default() };
        let e = world.core.oauth_callback(key, callback, BINDING).await.unwrap_err();
        assert!(e.code() == "sign_in_refused" && e.to_string().contains(code), "{provider:?}: {e}");
        assert_eq!(e.params()["provider"], key.as_str(), "the catalogues name the provider");
    }
    let expected_reused = [
        (Provider::Weibo, "21325"),
        (Provider::Qq, "100020"),
        (Provider::Wechat, "40163"),
        (Provider::Dingtalk, "InvalidAuthentication"),
    ];
    for (provider, code) in expected_reused {
        let key = key_of(provider);
        let first = Callback::from_url(&world.redirect(provider, Purpose::Console).await);
        let used_code = first.code.clone();
        world.core.oauth_callback(key, first, BINDING).await.unwrap();
        // A fresh attempt carrying the used code: the provider refuses it.
        let auth = world.core.oauth_authorize(key, Purpose::Console, BINDING).await.unwrap();
        let e = world
            .core
            .oauth_callback(key, Callback { code: used_code, state: Some(auth.state), ..Callback::default() }, BINDING)
            .await
            .unwrap_err();
        assert!(e.code() == "sign_in_refused" && e.to_string().contains(code), "{provider:?}: {e}");
    }
    world.core.shutdown().await;
}

#[tokio::test]
async fn expired_tokens_are_refused_with_the_providers_code() {
    // Tokens that expire the moment they are issued: the identity call after the exchange fails.
    let world = World::start_with(None, &[], Some(std::time::Duration::ZERO)).await;
    let expected = [
        (Provider::Weibo, "21327"),
        (Provider::Qq, "100014"),
        (Provider::Wechat, "42001"),
        (Provider::Dingtalk, "InvalidAuthentication"),
    ];
    for (provider, code) in expected {
        let e = world.sign_in(provider).await.unwrap_err();
        assert!(e.code() == "sign_in_refused" && e.to_string().contains(code), "{provider:?}: {e}");
    }
    let users =
        world.core.users_list(UserQuery { limit: 50, ..UserQuery::default() }, &Actor::system("tester")).await.unwrap();
    assert_eq!(users.total, 0, "a failed sign-in creates nobody");
    world.core.shutdown().await;
}

#[tokio::test]
async fn state_mismatch_replay_refusal_and_cancellation_are_rejected() {
    let world = World::start(None, &[]).await;
    // An unknown state.
    let forged = Callback { code: Some("x".into()), state: Some("forged".into()), ..Callback::default() };
    let e = world.core.oauth_callback(ProviderKey::Weibo, forged, BINDING).await.unwrap_err();
    assert_eq!(ErrorBody::from(e).field.as_deref(), Some("state"));
    // No state at all.
    let e = world
        .core
        .oauth_callback(ProviderKey::Weibo, Callback { code: Some("x".into()), ..Callback::default() }, BINDING)
        .await;
    assert_eq!(code_of(e.unwrap_err()), "sign_in_state_invalid");
    // A Weibo state used on the QQ callback, then (consumed) on its own.
    let redirect = Callback::from_url(&world.redirect(Provider::Weibo, Purpose::Console).await);
    assert!(world.core.oauth_callback(ProviderKey::Qq, redirect.clone(), BINDING).await.is_err());
    assert!(
        world.core.oauth_callback(ProviderKey::Weibo, redirect, BINDING).await.is_err(),
        "a state works once, even after a mismatch"
    );
    // Each door takes only its own attempts: a console state at the shop's callback, a shop
    // state at the console's; either is spent by the try.
    let console = Callback::from_url(&world.redirect(Provider::Weibo, Purpose::Console).await);
    let e = world.core.shop_oauth_callback(ProviderKey::Weibo, console.clone(), BINDING).await.unwrap_err();
    assert_eq!(ErrorBody::from(e).field.as_deref(), Some("state"));
    assert!(world.core.oauth_callback(ProviderKey::Weibo, console, BINDING).await.is_err(), "spent at the wrong door");
    let shop = Callback::from_url(&world.redirect(Provider::Weibo, Purpose::Shop).await);
    assert!(world.core.oauth_callback(ProviderKey::Weibo, shop, BINDING).await.is_err());
    let shop = Callback::from_url(&world.redirect(Provider::Qq, Purpose::Shop).await);
    let outcome = world.core.shop_oauth_callback(ProviderKey::Qq, shop, BINDING).await.unwrap();
    assert!(matches!(outcome, SignInOutcome::SignedIn { staff: None, .. }), "a shop customer is no staff: {outcome:?}");
    // Replay of a successful callback.
    let redirect = Callback::from_url(&world.redirect(Provider::Weibo, Purpose::Console).await);
    world.core.oauth_callback(ProviderKey::Weibo, redirect.clone(), BINDING).await.unwrap();
    let e = world.core.oauth_callback(ProviderKey::Weibo, redirect, BINDING).await.unwrap_err();
    assert_eq!(ErrorBody::from(e).field.as_deref(), Some("state"));
    // Cancelled (the window was closed): the state is dead.
    let redirect = Callback::from_url(&world.redirect(Provider::Qq, Purpose::Console).await);
    let state = redirect.state.as_deref().unwrap();
    assert!(!world.core.oauth_cancel(state, "another-window-binding").await.unwrap(), "not another's to cancel");
    assert!(world.core.oauth_cancel(state, BINDING).await.unwrap());
    assert!(world.core.oauth_callback(ProviderKey::Qq, redirect, BINDING).await.is_err());
    // The user refused at the provider (WeChat brings back only the state).
    let auth = world.core.oauth_authorize(ProviderKey::Wechat, Purpose::Console, BINDING).await.unwrap();
    let refused = Callback { state: Some(auth.state), ..Callback::default() };
    let e = world.core.oauth_callback(ProviderKey::Wechat, refused, BINDING).await.unwrap_err();
    assert!(e.code() == "sign_in_refused" && e.to_string().contains("refused"), "{e}");
    // Nothing was created by any of these: one user from the two successful Weibo sign-ins,
    // and the shop's QQ customer.
    let users =
        world.core.users_list(UserQuery { limit: 50, ..UserQuery::default() }, &Actor::system("tester")).await.unwrap();
    assert_eq!(users.total, 2);
    world.core.shutdown().await;
}

#[tokio::test]
async fn linking_unlinking_and_roles() {
    let world = World::start(None, &[("staff_default_role", toml_string("viewer"))]).await;
    let (admin_id, _, admin) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    let admin = Actor::staff(&admin.unwrap());
    assert_eq!(admin.role(), Role::Admin);
    // Link QQ to the admin's user: staff start it, the provider redirects, the core links.
    let auth = world.core.link_start(admin_id, ProviderKey::Qq, &admin, BINDING).await.unwrap();
    let redirect = follow_to_redirect(&auth.url, &world.fake(Provider::Qq).config().redirect_uri).await;
    match world.core.oauth_callback(ProviderKey::Qq, Callback::from_url(&redirect), BINDING).await.unwrap() {
        SignInOutcome::Linked { user } => assert_eq!(user.links.len(), 2),
        other => panic!("expected a link, got {other:?}"),
    }
    // Signing in with QQ now reaches the same user.
    assert_eq!(signed_in(world.sign_in(Provider::Qq).await.unwrap()).0, admin_id);
    // A second staff member: a viewer by the configured default.
    let (viewer_id, _, viewer) = signed_in(world.sign_in(Provider::Wechat).await.unwrap());
    let viewer = Actor::staff(&viewer.unwrap());
    assert_eq!(viewer.role(), Role::Viewer);
    // The WeChat identity cannot be linked to the admin as well: it belongs to the viewer.
    let auth = world.core.link_start(admin_id, ProviderKey::Wechat, &admin, BINDING).await.unwrap();
    let redirect = follow_to_redirect(&auth.url, &world.fake(Provider::Wechat).config().redirect_uri).await;
    let e = world.core.oauth_callback(ProviderKey::Wechat, Callback::from_url(&redirect), BINDING).await.unwrap_err();
    assert!(e.to_string().contains("already linked"), "{e}");
    // Viewers cannot unlink, change roles, or act anywhere else.
    let admin_user = world.core.user_get(admin_id).await.unwrap();
    let qq_link = admin_user.links.iter().find(|l| l.provider == ProviderKey::Qq).unwrap().id;
    assert_eq!(code_of(world.core.unlink(qq_link, &viewer).await.unwrap_err()), "forbidden");
    assert_eq!(
        code_of(world.core.staff_set_role(viewer_id, Some(Role::Admin), &viewer).await.unwrap_err()),
        "forbidden"
    );
    let e = world.core.order_cancel("NO-SUCH", "because", &viewer).await.unwrap_err();
    assert!(e.code() == "forbidden" && e.to_string().contains("viewer cannot cancel orders"), "{e}");
    assert_eq!(e.params().get("action").map(String::as_str), Some("cancel_orders"), "{e}");
    assert_eq!(code_of(world.core.ocr_purge_dead(&viewer).await.unwrap_err()), "forbidden");
    // Unlink QQ; the last link (Weibo) stays.
    let user = world.core.unlink(qq_link, &admin).await.unwrap();
    assert_eq!(user.links.len(), 1);
    let last = user.links[0].id;
    let e = world.core.unlink(last, &admin).await.unwrap_err();
    assert!(e.to_string().contains("last sign-in method"), "{e}");
    assert_eq!(e.code(), "link_last");
    // Roles: the last admin cannot step down; an operator made by the admin can act.
    assert_eq!(
        code_of(world.core.staff_set_role(admin_id, Some(Role::Viewer), &admin).await.unwrap_err()),
        "last_admin"
    );
    world.core.staff_set_role(viewer_id, Some(Role::Operator), &admin).await.unwrap();
    let viewer_staff = Staff {
        user_id: viewer_id,
        name: "x".into(),
        role: Role::Viewer,
        provider: ProviderKey::Wechat,
        avatar: None,
        signed_in_at: chrono::Utc::now(),
    };
    assert_eq!(world.core.staff_actor(&viewer_staff).await.unwrap().role(), Role::Operator, "roles apply at once");
    world.core.staff_set_role(viewer_id, None, &admin).await.unwrap();
    assert_eq!(code_of(world.core.staff_actor(&viewer_staff).await.unwrap_err()), "forbidden");
    // Every action named its actor in the audit log.
    let audit = world.core.audit_list(100, None, &Actor::system("tester")).await.unwrap();
    let actions: Vec<(&str, &str)> = audit.entries.iter().map(|e| (e.action.as_str(), e.who.as_str())).collect();
    assert!(actions.contains(&("account.unlink", admin.name())), "{actions:?}");
    assert!(actions.iter().filter(|(a, _)| *a == "staff.set_role").count() >= 2);
    assert!(actions.iter().any(|(a, _)| *a == "staff.sign_in"));
    world.core.shutdown().await;
}

#[tokio::test]
async fn a_matching_mobile_waits_for_staff_to_confirm_the_link() {
    let world = World::start(None, &[]).await;
    let (admin_id, _, admin) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    let admin = Actor::staff(&admin.unwrap());
    let mobile = world.fake(Provider::Dingtalk).config().users[0].mobile.clone().unwrap();
    sqlx::query("UPDATE users SET mobile = ? WHERE id = ?")
        .bind(mobile.clone())
        .bind(admin_id)
        .execute(world.core.database().pool())
        .await
        .unwrap();
    let request = match world.sign_in(Provider::Dingtalk).await.unwrap() {
        SignInOutcome::PendingLink { request } => request,
        other => panic!("expected a pending link, got {other:?}"),
    };
    assert_eq!(request.user_id, admin_id);
    assert_eq!(request.mobile_masked, format!("{}****{}", &mobile[..3], &mobile[7..]));
    assert_eq!(world.core.link_requests_list(&Actor::system("tester")).await.unwrap().len(), 1);
    let user = world.core.link_request_resolve(request.id, true, &admin).await.unwrap().unwrap();
    assert!(user.links.iter().any(|l| l.provider == ProviderKey::Dingtalk));
    assert!(world.core.link_requests_list(&Actor::system("tester")).await.unwrap().is_empty());
    assert_eq!(signed_in(world.sign_in(Provider::Dingtalk).await.unwrap()).0, admin_id);
    // Search by mobile: the whole number finds the user, a prefix of it nobody (a prefix search
    // would reveal a masked number digit by digit).
    let search = |text: &str| {
        let query = UserQuery { search: Some(text.to_string()), offset: 0, limit: 10 };
        let core = world.core.clone();
        async move { core.users_list(query, &Actor::system("tester")).await.unwrap() }
    };
    assert_eq!(search(&mobile).await.users.iter().map(|u| u.id).collect::<Vec<_>>(), vec![admin_id]);
    for prefix in [&mobile[..3], &mobile[..7], &mobile[..10]] {
        assert_eq!(search(prefix).await.total, 0, "a prefix of the mobile ({prefix}) finds nobody");
    }
    world.core.shutdown().await;
}

#[tokio::test]
async fn sign_in_and_links_on_mariadb() {
    let world = World::start(Some(fresh_mysql_url().await), &[]).await;
    // A shared database: the first sign-in gets no role until the first admin is granted.
    let (id, new_user, staff) = signed_in(world.sign_in(Provider::Qq).await.unwrap());
    assert!(new_user && staff.is_none());
    grant_admin_on(world.core.database(), &GrantTarget::User(id), &[]).await.unwrap();
    let (again, _, staff) = signed_in(world.sign_in(Provider::Qq).await.unwrap());
    assert_eq!((again, staff.map(|s| s.role)), (id, Some(Role::Admin)));
    let (other, ..) = signed_in(world.sign_in(Provider::Dingtalk).await.unwrap());
    assert_ne!(other, id);
    let page =
        world.core.users_list(UserQuery { limit: 1, ..UserQuery::default() }, &Actor::system("tester")).await.unwrap();
    assert_eq!((page.total, page.users.len()), (2, 1));
    world.core.shutdown().await;
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

#[tokio::test]
async fn openid_connect_code_flow_with_pkce_against_a_real_provider() {
    let _ = oidc_issuer();
    let world = World::start(None, &[]).await;
    let auth = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let url = url::Url::parse(&auth.url).unwrap();
    let params: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(params.get("code_challenge_method").map(String::as_str), Some("S256"));
    assert!(params.contains_key("code_challenge") && params.contains_key("nonce"));
    assert_eq!(params.get("state"), Some(&auth.state));
    let redirect = oidc_login(&auth.url, "alice").await;
    let callback = Callback::from_url(&redirect);
    let (user_id, new_user, staff) =
        signed_in(world.core.oauth_callback(ProviderKey::Oidc, callback.clone(), BINDING).await.unwrap());
    assert!(new_user);
    assert_eq!(staff.unwrap().provider, ProviderKey::Oidc);
    let user = world.core.user_get(user_id).await.unwrap();
    assert_eq!(user.links[0].provider, ProviderKey::Oidc);
    assert!(user.nickname.is_some());
    // The same code again, on a fresh attempt: the provider refuses it (single use).
    let again = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let replay = Callback { code: callback.code.clone(), state: Some(again.state), ..Callback::default() };
    let e = world.core.oauth_callback(ProviderKey::Oidc, replay, BINDING).await.unwrap_err();
    assert!(e.code() == "sign_in_refused" && e.to_string().contains("invalid_grant"), "{e}");
    // A code from one attempt with another attempt's state fails PKCE (the verifier differs).
    let first = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let second = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let code = Callback::from_url(&oidc_login(&first.url, "alice").await).code;
    let swapped = Callback { code, state: Some(second.state), ..Callback::default() };
    let e = world.core.oauth_callback(ProviderKey::Oidc, swapped, BINDING).await.unwrap_err();
    assert!(e.code() == "sign_in_refused", "{e}");
    // Signing in again is the same user.
    let again = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let redirect = oidc_login(&again.url, "alice").await;
    assert_eq!(
        signed_in(world.core.oauth_callback(ProviderKey::Oidc, Callback::from_url(&redirect), BINDING).await.unwrap())
            .0,
        user_id
    );
    world.core.shutdown().await;
}
