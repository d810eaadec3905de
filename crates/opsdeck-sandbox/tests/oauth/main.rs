//! The fake Weibo, QQ, WeChat and DingTalk against their spec (shared/specs/providers.md §2),
//! through real HTTP on loopback, redirects never followed.

use std::collections::HashMap;
use std::time::Duration;

use opsdeck_sandbox::oauth::{FakeOAuth, FakeOAuthConfig, FakeUser, Provider};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn fake(provider: Provider) -> FakeOAuth {
    start(FakeOAuthConfig::sandbox(provider)).await
}

async fn start(config: FakeOAuthConfig) -> FakeOAuth {
    FakeOAuth::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

/// Parameters to replace (`None`: leave out) in a request's defaults.
type Overrides<'a> = &'a [(&'a str, Option<&'a str>)];

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// `defaults` with each of `overrides` replacing the value of its name (`None`: left out).
fn params(defaults: &[(&str, &str)], overrides: Overrides<'_>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = defaults
        .iter()
        .filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.extend(overrides.iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string()))));
    out
}

/// The provider's own authorize URL parameters, as a client sends them.
fn authorize_params(fake: &FakeOAuth, state: &str, overrides: Overrides<'_>) -> Vec<(String, String)> {
    let c = fake.config();
    let defaults: Vec<(&str, &str)> = match fake.provider() {
        Provider::Weibo => vec![
            ("client_id", &c.client_id),
            ("redirect_uri", &c.redirect_uri),
            ("response_type", "code"),
            ("state", state),
        ],
        Provider::Qq => vec![
            ("response_type", "code"),
            ("client_id", &c.client_id),
            ("redirect_uri", &c.redirect_uri),
            ("state", state),
            ("scope", "get_user_info"),
        ],
        Provider::Wechat => vec![
            ("appid", &c.client_id),
            ("redirect_uri", &c.redirect_uri),
            ("response_type", "code"),
            ("scope", "snsapi_login"),
            ("state", state),
        ],
        Provider::Dingtalk => vec![
            ("redirect_uri", &c.redirect_uri),
            ("response_type", "code"),
            ("client_id", &c.client_id),
            ("scope", "openid"),
            ("state", state),
            ("prompt", "consent"),
        ],
    };
    params(&defaults, overrides)
}

fn authorize_path(provider: Provider) -> &'static str {
    match provider {
        Provider::Weibo => "/oauth2/authorize",
        Provider::Qq => "/oauth2.0/authorize",
        Provider::Wechat => "/connect/qrconnect",
        Provider::Dingtalk => "/oauth2/auth",
    }
}

async fn get_authorize(fake: &FakeOAuth, query: &[(String, String)]) -> reqwest::Response {
    http().get(format!("{}{}", fake.base_url, authorize_path(fake.provider()))).query(query).send().await.unwrap()
}

async fn decide(fake: &FakeOAuth, form: &[(&str, &str)]) -> reqwest::Response {
    http().post(format!("{}/__sandbox/decide", fake.base_url)).form(form).send().await.unwrap()
}

fn content_type(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_string()
}

/// The `302`'s Location, checked to go to `redirect_uri`, and its query.
fn redirected(response: &reqwest::Response, redirect_uri: &str) -> Vec<(String, String)> {
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()[reqwest::header::LOCATION].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    let base = format!("{}://{}{}", url.scheme(), url.host_str().unwrap(), url.path());
    assert!(redirect_uri.starts_with(&base), "{location} goes to {redirect_uri}");
    url.query_pairs().into_owned().collect()
}

fn pairs(query: &[(String, String)]) -> HashMap<String, String> {
    query.iter().cloned().collect()
}

/// Through the page: GET authorize, then Authorize as `uid`; the code from the redirect.
async fn code_by_page(fake: &FakeOAuth, uid: &str, state: &str) -> String {
    let page = get_authorize(fake, &authorize_params(fake, state, &[])).await;
    assert_eq!(page.status(), StatusCode::OK);
    let c = fake.config();
    let answer =
        decide(fake, &[("decision", "authorize"), ("user", uid), ("redirect_uri", &c.redirect_uri), ("state", state)])
            .await;
    let query = pairs(&redirected(&answer, &c.redirect_uri));
    assert_eq!(query["state"], state);
    if fake.provider() == Provider::Dingtalk {
        assert_eq!(query["authCode"], query["code"], "DingTalk sends both");
    }
    query["code"].clone()
}

/// Through auto-approve: the authorize GET redirects at once.
async fn code_at_once(fake: &FakeOAuth) -> String {
    fake.set_auto_approve(true);
    let answer = get_authorize(fake, &authorize_params(fake, "s", &[])).await;
    pairs(&redirected(&answer, &fake.config().redirect_uri))["code"].clone()
}

// ---------------------------------------------------------------------------------------------
// Token exchanges, each in its provider's own format

async fn weibo_token(fake: &FakeOAuth, code: &str, overrides: Overrides<'_>) -> reqwest::Response {
    let c = fake.config();
    let form = params(
        &[
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &c.redirect_uri),
        ],
        overrides,
    );
    http().post(format!("{}/oauth2/access_token", fake.base_url)).form(&form).send().await.unwrap()
}

async fn qq_token(fake: &FakeOAuth, code: &str, overrides: Overrides<'_>) -> reqwest::Response {
    let c = fake.config();
    let query = params(
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
            ("code", code),
            ("redirect_uri", &c.redirect_uri),
        ],
        overrides,
    );
    http().get(format!("{}/oauth2.0/token", fake.base_url)).query(&query).send().await.unwrap()
}

async fn wechat_token(fake: &FakeOAuth, code: &str, overrides: Overrides<'_>) -> Value {
    let c = fake.config();
    let query = params(
        &[("appid", &c.client_id), ("secret", &c.client_secret), ("code", code), ("grant_type", "authorization_code")],
        overrides,
    );
    let answer = http().get(format!("{}/sns/oauth2/access_token", fake.base_url)).query(&query).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK, "WeChat answers errors with 200 too");
    answer.json().await.unwrap()
}

async fn dingtalk_token(fake: &FakeOAuth, body: &Value) -> reqwest::Response {
    http().post(format!("{}/v1.0/oauth2/userAccessToken", fake.base_url)).json(body).send().await.unwrap()
}

fn dingtalk_body(fake: &FakeOAuth, code: &str) -> Value {
    let c = fake.config();
    json!({ "clientId": c.client_id, "clientSecret": c.client_secret, "code": code, "grantType": "authorization_code" })
}

/// QQ's JSONP `callback( {…} );\n`, opened.
fn jsonp(text: &str) -> Value {
    let inner = text.strip_prefix("callback( ").and_then(|t| t.strip_suffix(" );\n"));
    serde_json::from_str(inner.unwrap_or_else(|| panic!("not QQ's JSONP: {text:?}"))).unwrap()
}

fn form_answer(text: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes()).into_owned().collect()
}

/// Code → token → identity → user info, in the provider's own calls; the user's uid and nickname.
async fn who_signed_in(fake: &FakeOAuth, code: &str) -> (String, String) {
    let base = &fake.base_url;
    match fake.provider() {
        Provider::Weibo => {
            let token: Value = weibo_token(fake, code, &[]).await.json().await.unwrap();
            let uid = token["uid"].as_str().unwrap().to_string();
            let access = token["access_token"].as_str().unwrap();
            let url = format!("{base}/2/users/show.json");
            let user: Value = http()
                .get(url)
                .query(&[("access_token", access), ("uid", &uid)])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(user["idstr"], uid);
            (uid, user["screen_name"].as_str().unwrap().to_string())
        }
        Provider::Qq => {
            let token = form_answer(&qq_token(fake, code, &[]).await.text().await.unwrap());
            let access = token["access_token"].as_str();
            let me = http().get(format!("{base}/oauth2.0/me")).query(&[("access_token", access)]).send().await.unwrap();
            let me = jsonp(&me.text().await.unwrap());
            let openid = me["openid"].as_str().unwrap().to_string();
            let user: Value = http()
                .get(format!("{base}/user/get_user_info"))
                .query(&[
                    ("access_token", access),
                    ("oauth_consumer_key", &fake.config().client_id),
                    ("openid", &openid),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(user["ret"], 0);
            (openid, user["nickname"].as_str().unwrap().to_string())
        }
        Provider::Wechat => {
            let token = wechat_token(fake, code, &[]).await;
            let openid = token["openid"].as_str().unwrap().to_string();
            let user: Value = http()
                .get(format!("{base}/sns/userinfo"))
                .query(&[
                    ("access_token", token["access_token"].as_str().unwrap()),
                    ("openid", &openid),
                    ("lang", "zh_CN"),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(user["openid"], openid);
            (openid, user["nickname"].as_str().unwrap().to_string())
        }
        Provider::Dingtalk => {
            let token: Value = dingtalk_token(fake, &dingtalk_body(fake, code)).await.json().await.unwrap();
            let user: Value = http()
                .get(format!("{base}/v1.0/contact/users/me"))
                .header("x-acs-dingtalk-access-token", token["accessToken"].as_str().unwrap())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (user["openId"].as_str().unwrap().to_string(), user["nick"].as_str().unwrap().to_string())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Common to the four

#[test]
fn the_sandbox_configs_are_distinct_and_complete() {
    let mut uids = Vec::new();
    for provider in Provider::ALL {
        let c = FakeOAuthConfig::sandbox(provider);
        let key = provider.key();
        assert_eq!(c.provider, provider);
        assert_eq!(c.client_id, format!("sandbox-{key}-client"));
        assert_eq!(c.client_secret, format!("sandbox-{key}-secret"));
        assert_eq!(c.redirect_uri, format!("https://opsdeck.invalid/oauth/callback/{key}"));
        assert_eq!(c.users.len(), 2);
        assert!(!c.auto_approve);
        assert_eq!(c.code_ttl, Duration::from_secs(600));
        for user in &c.users {
            assert!(user.avatar.starts_with("https://"), "{key}");
            uids.push(user.uid.clone());
        }
        assert!(!format!("{c:?}").contains(&c.client_secret), "the secret never prints");
    }
    let secs = |p| FakeOAuthConfig::sandbox(p).token_ttl.as_secs();
    assert_eq!(
        [secs(Provider::Weibo), secs(Provider::Qq), secs(Provider::Wechat), secs(Provider::Dingtalk)],
        [157_679_999, 7_776_000, 7_200, 7_200]
    );
    let weibo = FakeOAuthConfig::sandbox(Provider::Weibo);
    assert_eq!((weibo.users[0].uid.as_str(), weibo.users[0].nickname.as_str()), ("5678001", "沙盒微博用户"));
    assert_eq!((weibo.users[1].uid.as_str(), weibo.users[1].nickname.as_str()), ("5678002", "Sandbox Weibo Two"));
    let dingtalk = FakeOAuthConfig::sandbox(Provider::Dingtalk);
    assert_eq!(dingtalk.users[0].mobile.as_deref(), Some("13800000001"));
    assert_eq!(dingtalk.users[1].mobile.as_deref(), Some("13800000002"));
    assert!(dingtalk.users.iter().all(|u| u.unionid.is_some() && u.email.is_some()));
    let mut unique = uids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), uids.len(), "users are distinct across providers");
    let keys: Vec<_> = Provider::ALL.iter().map(|p| (p.key(), p.display_name())).collect();
    assert_eq!(keys, [("weibo", "Weibo"), ("qq", "QQ"), ("wechat", "WeChat"), ("dingtalk", "DingTalk")]);
}

#[tokio::test]
async fn the_page_offers_the_users_and_both_buttons() {
    for provider in Provider::ALL {
        let fake = fake(provider).await;
        let name = provider.display_name();
        let users = &fake.config().users;
        let page = get_authorize(&fake, &authorize_params(&fake, "st<\"&>", &[])).await;
        assert_eq!(page.status(), StatusCode::OK, "{name}");
        assert_eq!(content_type(&page), "text/html; charset=utf-8");
        let html = page.text().await.unwrap();
        assert!(html.contains(&format!("<title>Sign in to {name} — OpsDeck sandbox</title>")), "{html}");
        assert!(html.contains("OpsDeck sandbox"));
        assert!(html.contains(r#"<select id="user" name="user">"#));
        assert!(html.contains(&format!(
            r#"<option value="{}" selected>{} ({})</option>"#,
            users[0].uid, users[0].nickname, users[0].uid
        )));
        assert!(html.contains(&format!(
            r#"<option value="{}">{} ({})</option>"#,
            users[1].uid, users[1].nickname, users[1].uid
        )));
        assert!(
            html.contains(
                r#"<button id="authorize" type="submit" name="decision" value="authorize">Authorize</button>"#
            )
        );
        assert!(html.contains(r#"<button id="deny" type="submit" name="decision" value="deny">Deny</button>"#));
        assert!(html.contains(r#"<form method="post" action="/__sandbox/decide">"#));
        assert!(html.contains(r#"<input type="hidden" name="state" value="st&lt;&quot;&amp;&gt;">"#), "state escaped");
        assert!(
            html.contains(&format!(
                r#"<input type="hidden" name="redirect_uri" value="{}">"#,
                fake.config().redirect_uri
            ))
        );

        fake.select_user(&users[1].uid);
        let html = get_authorize(&fake, &authorize_params(&fake, "s", &[])).await.text().await.unwrap();
        assert!(html.contains(&format!(r#"<option value="{}" selected>"#, users[1].uid)), "{name}: preselected");
        assert!(html.contains(&format!(r#"<option value="{}">"#, users[0].uid)));
    }
}

#[tokio::test]
#[should_panic(expected = "no configured user")]
async fn selecting_an_unknown_user_panics() {
    fake(Provider::Weibo).await.select_user("nobody");
}

#[tokio::test]
async fn the_full_sign_in_through_the_page_returns_the_chosen_user() {
    for provider in Provider::ALL {
        let fake = fake(provider).await;
        let second = fake.config().users[1].clone();
        let code = code_by_page(&fake, &second.uid, "state-1").await;
        assert_eq!(who_signed_in(&fake, &code).await, (second.uid.clone(), second.nickname.clone()), "{provider:?}");
    }
}

#[tokio::test]
async fn auto_approve_redirects_at_once_as_the_selected_user() {
    for provider in Provider::ALL {
        let mut config = FakeOAuthConfig::sandbox(provider);
        config.auto_approve = true;
        let fake = start(config).await;
        let users = fake.config().users.clone();
        let answer = get_authorize(&fake, &authorize_params(&fake, "auto", &[])).await;
        let query = pairs(&redirected(&answer, &fake.config().redirect_uri));
        assert_eq!(query["state"], "auto");
        assert_eq!(who_signed_in(&fake, &query["code"]).await.0, users[0].uid, "{provider:?}");

        fake.select_user(&users[1].uid);
        let code = code_at_once(&fake).await;
        assert_eq!(who_signed_in(&fake, &code).await.0, users[1].uid, "{provider:?}");

        fake.set_auto_approve(false);
        let page = get_authorize(&fake, &authorize_params(&fake, "s", &[])).await;
        assert_eq!(page.status(), StatusCode::OK, "{provider:?}: the page again");
    }
}

#[tokio::test]
async fn deny_redirects_with_each_providers_parameters() {
    for provider in Provider::ALL {
        let fake = fake(provider).await;
        let c = fake.config();
        let answer = decide(
            &fake,
            &[("decision", "deny"), ("user", &c.users[0].uid), ("redirect_uri", &c.redirect_uri), ("state", "S1")],
        )
        .await;
        let query = redirected(&answer, &c.redirect_uri);
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let expected: Vec<(&str, &str)> = match provider {
            Provider::Weibo => vec![
                ("error", "access_denied"),
                ("error_code", "21330"),
                ("error_description", "user denied your request."),
                ("state", "S1"),
            ],
            Provider::Qq => vec![("usercancel", "1"), ("state", "S1")],
            Provider::Wechat => vec![("state", "S1")],
            Provider::Dingtalk => vec![("error", "access_denied"), ("state", "S1")],
        };
        assert_eq!(query, expected, "{provider:?}");
    }
}

#[tokio::test]
async fn state_comes_back_unchanged_and_the_callbacks_own_query_is_kept() {
    let state = "a b&c=d/é+%?#";
    for provider in Provider::ALL {
        let mut config = FakeOAuthConfig::sandbox(provider);
        config.redirect_uri = "https://app.opsdeck.invalid/cb?from=sandbox&x=1".into();
        let fake = start(config).await;
        let uid = fake.config().users[0].uid.clone();
        let answer = decide(
            &fake,
            &[
                ("decision", "authorize"),
                ("user", &uid),
                ("redirect_uri", &fake.config().redirect_uri),
                ("state", state),
            ],
        )
        .await;
        let query = redirected(&answer, &fake.config().redirect_uri);
        assert_eq!(query[0], ("from".into(), "sandbox".into()), "{provider:?}");
        assert_eq!(query[1], ("x".into(), "1".into()));
        assert_eq!(pairs(&query)["state"], state);

        // Without a state, none comes back.
        let answer =
            decide(&fake, &[("decision", "authorize"), ("user", &uid), ("redirect_uri", &fake.config().redirect_uri)])
                .await;
        assert!(!pairs(&redirected(&answer, &fake.config().redirect_uri)).contains_key("state"));
    }
}

#[tokio::test]
async fn authorize_refuses_a_foreign_redirect_uri_or_client_with_a_page_never_a_redirect() {
    for provider in Provider::ALL {
        let fake = fake(provider).await;
        let client_param = if provider == Provider::Wechat { "appid" } else { "client_id" };
        let cases: [(Overrides<'_>, &str); 3] = [
            (
                &[("redirect_uri", Some("https://evil.invalid/cb"))],
                match provider {
                    Provider::Weibo => "redirect_uri_mismatch (21322)",
                    Provider::Qq => "redirect uri is illegal(100010)",
                    Provider::Wechat => "redirect_uri 参数错误",
                    Provider::Dingtalk => "redirect_uri is invalid",
                },
            ),
            (
                // A prefix of the registered URI is not it.
                &[("redirect_uri", Some("https://opsdeck.invalid/oauth/callback/"))],
                "redirect",
            ),
            (
                &[(client_param, Some("someone-else"))],
                match provider {
                    Provider::Weibo => "invalid_client (21324)",
                    Provider::Qq => "client id is illegal (100008)",
                    Provider::Wechat => "AppID 参数错误",
                    Provider::Dingtalk => "client_id is invalid",
                },
            ),
        ];
        for (overrides, words) in cases {
            let answer = get_authorize(&fake, &authorize_params(&fake, "s", overrides)).await;
            assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{provider:?} {overrides:?}");
            assert!(answer.headers().get(reqwest::header::LOCATION).is_none());
            assert_eq!(content_type(&answer), "text/html; charset=utf-8");
            let html = answer.text().await.unwrap();
            assert!(html.contains(words), "{provider:?}: {html}");
            assert!(html.contains("OpsDeck sandbox"));
        }
        // Auto-approve does not skip the checks.
        fake.set_auto_approve(true);
        let answer =
            get_authorize(&fake, &authorize_params(&fake, "s", &[("redirect_uri", Some("https://evil.invalid/cb"))]))
                .await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        // Nor does the decision form.
        let uid = fake.config().users[0].uid.clone();
        let answer =
            decide(&fake, &[("decision", "authorize"), ("user", &uid), ("redirect_uri", "https://evil.invalid/cb")])
                .await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        assert!(answer.headers().get(reqwest::header::LOCATION).is_none());
    }
}

#[tokio::test]
async fn wechat_and_dingtalk_want_their_scope_and_everyone_response_type_code() {
    for provider in [Provider::Wechat, Provider::Dingtalk] {
        let fake = fake(provider).await;
        let answer = get_authorize(&fake, &authorize_params(&fake, "s", &[("scope", Some("snsapi_userinfo"))])).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{provider:?}");
    }
    for provider in Provider::ALL {
        let fake = fake(provider).await;
        let answer = get_authorize(&fake, &authorize_params(&fake, "s", &[("response_type", Some("token"))])).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{provider:?}");
    }
}

#[tokio::test]
async fn the_decision_form_refuses_an_unknown_user_or_decision() {
    let fake = fake(Provider::Qq).await;
    let redirect_uri = fake.config().redirect_uri.clone();
    let answer = decide(&fake, &[("decision", "authorize"), ("user", "nobody"), ("redirect_uri", &redirect_uri)]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let answer = decide(&fake, &[("user", &fake.config().users[0].uid), ("redirect_uri", &redirect_uri)]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn every_request_is_logged_in_order() {
    let fake = fake(Provider::Weibo).await;
    let code = code_by_page(&fake, "5678001", "logged").await;
    let _ = weibo_token(&fake, &code, &[]).await;
    let calls = fake.calls();
    let seen: Vec<(&str, &str)> = calls.iter().map(|c| (c.method.as_str(), c.path.as_str())).collect();
    assert_eq!(seen, [("GET", "/oauth2/authorize"), ("POST", "/__sandbox/decide"), ("POST", "/oauth2/access_token")]);
    assert!(calls[0].query.contains("state=logged") && calls[0].query.contains("response_type=code"));
    assert!(calls[1].body.contains("decision=authorize"));
    assert!(calls[2].body.contains(&format!("code={code}")) && calls[2].body.contains("grant_type=authorization_code"));
    assert_eq!(calls[2].query, "");
}

#[tokio::test]
async fn a_code_is_expired_once_its_ttl_is_over() {
    for provider in Provider::ALL {
        let mut config = FakeOAuthConfig::sandbox(provider);
        config.code_ttl = Duration::ZERO;
        let fake = start(config).await;
        let code = code_at_once(&fake).await;
        match provider {
            Provider::Weibo => {
                let answer = weibo_token(&fake, &code, &[]).await;
                assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
                let body: Value = answer.json().await.unwrap();
                assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("invalid_grant"), Some(21325)));
            }
            Provider::Qq => {
                let body = jsonp(&qq_token(&fake, &code, &[]).await.text().await.unwrap());
                assert_eq!(body["error"], 100019);
            }
            Provider::Wechat => assert_eq!(wechat_token(&fake, &code, &[]).await["errcode"], 40029),
            Provider::Dingtalk => {
                let answer = dingtalk_token(&fake, &dingtalk_body(&fake, &code)).await;
                assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
                let body: Value = answer.json().await.unwrap();
                assert_eq!(body["code"], "InvalidAuthentication");
                assert!(body["message"].as_str().unwrap().contains("expired"));
            }
        }
    }
}

#[tokio::test]
async fn dropping_the_fake_stops_its_server() {
    let fake = fake(Provider::Wechat).await;
    let addr = fake.base_url.trim_start_matches("http://").to_string();
    assert!(tokio::net::TcpStream::connect(&addr).await.is_ok());
    drop(fake);
    let mut refused = false;
    for _ in 0..1000 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused, "the listener closes once the fake is dropped");
}

#[tokio::test]
async fn a_config_without_users_is_refused() {
    let mut config = FakeOAuthConfig::sandbox(Provider::Qq);
    config.users.clear();
    let error = FakeOAuth::start("127.0.0.1:0".parse().unwrap(), config).await.err().unwrap();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

// ---------------------------------------------------------------------------------------------
// Weibo

async fn weibo_error(answer: reqwest::Response) -> Value {
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(content_type(&answer).starts_with("application/json"));
    answer.json().await.unwrap()
}

#[tokio::test]
async fn weibo_token_answer_and_user_show() {
    let fake = fake(Provider::Weibo).await;
    let code = code_by_page(&fake, "5678001", "w").await;
    let answer = weibo_token(&fake, &code, &[]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(content_type(&answer).starts_with("application/json"));
    let token: Value = answer.json().await.unwrap();
    assert_eq!(token["uid"], "5678001", "uid is a string in the token answer");
    assert_eq!(token["expires_in"], 157_679_999);
    assert_eq!(token["remind_in"], "157679999");
    let access = token["access_token"].as_str().unwrap();
    assert!(access.starts_with("2.00"));

    let user: Value = http()
        .get(format!("{}/2/users/show.json", fake.base_url))
        .query(&[("access_token", access), ("uid", "5678001")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["id"], 5_678_001, "id is a number");
    assert_eq!(user["idstr"], "5678001");
    assert_eq!(user["screen_name"], "沙盒微博用户");
    assert_eq!(user["name"], "沙盒微博用户");
    assert_eq!(user["gender"], "m");
    assert_eq!(user["profile_image_url"], fake.config().users[0].avatar);
    assert_eq!(user["avatar_large"], fake.config().users[0].avatar);
}

#[tokio::test]
async fn weibo_takes_the_token_parameters_from_the_query_string_too() {
    let fake = fake(Provider::Weibo).await;
    let code = code_at_once(&fake).await;
    let c = fake.config();
    let answer = http()
        .post(format!("{}/oauth2/access_token", fake.base_url))
        .query(&[
            ("client_id", c.client_id.as_str()),
            ("client_secret", &c.client_secret),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &c.redirect_uri),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let token: Value = answer.json().await.unwrap();
    assert_eq!(token["uid"], "5678001");
}

#[tokio::test]
async fn weibo_token_errors() {
    let fake = fake(Provider::Weibo).await;
    let code = code_at_once(&fake).await;

    let body = weibo_error(weibo_token(&fake, &code, &[("redirect_uri", Some("https://evil.invalid/cb"))]).await).await;
    assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("redirect_uri_mismatch"), Some(21322)));
    assert_eq!(body["request"], "/oauth2/access_token");
    assert_eq!(body["error_uri"], "/oauth2/access_token");
    assert!(body["error_description"].is_string());

    let body = weibo_error(weibo_token(&fake, &code, &[("client_secret", Some("wrong"))]).await).await;
    assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("invalid_client"), Some(21324)));
    let body = weibo_error(weibo_token(&fake, &code, &[("client_id", Some("wrong"))]).await).await;
    assert_eq!(body["error_code"], 21324);
    let body = weibo_error(weibo_token(&fake, &code, &[("grant_type", Some("password"))]).await).await;
    assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("unsupported_grant_type"), Some(21328)));
    let body = weibo_error(weibo_token(&fake, "not-a-code", &[]).await).await;
    assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("invalid_grant"), Some(21325)));

    // The failures above did not spend the code; the first good exchange does.
    assert_eq!(weibo_token(&fake, &code, &[]).await.status(), StatusCode::OK);
    let body = weibo_error(weibo_token(&fake, &code, &[]).await).await;
    assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("invalid_grant"), Some(21325)));
}

#[tokio::test]
async fn weibo_user_show_refuses_expired_and_unknown_tokens() {
    let fake = fake(Provider::Weibo).await;
    let code = code_at_once(&fake).await;
    let token: Value = weibo_token(&fake, &code, &[]).await.json().await.unwrap();
    let show = |token: String| {
        let url = format!("{}/2/users/show.json", fake.base_url);
        async move { http().get(url).query(&[("access_token", token.as_str()), ("uid", "5678001")]).send().await.unwrap() }
    };
    fake.expire_tokens();
    let body = weibo_error(show(token["access_token"].as_str().unwrap().to_string()).await).await;
    assert_eq!(body, json!({ "error": "expired_token", "error_code": 21327, "request": "/2/users/show.json" }));
    let body = weibo_error(show("2.00unknown".into()).await).await;
    assert_eq!(body, json!({ "error": "invalid_access_token", "error_code": 21332, "request": "/2/users/show.json" }));

    // A token issued after expire_tokens works.
    let code = code_at_once(&fake).await;
    let token: Value = weibo_token(&fake, &code, &[]).await.json().await.unwrap();
    assert_eq!(show(token["access_token"].as_str().unwrap().to_string()).await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// QQ

#[tokio::test]
async fn qq_token_answers_form_encoded_by_default_and_json_with_fmt_json() {
    let fake = fake(Provider::Qq).await;
    let code = code_at_once(&fake).await;
    let answer = qq_token(&fake, &code, &[]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(content_type(&answer).starts_with("text/html"));
    let text = answer.text().await.unwrap();
    let form = form_answer(&text);
    assert!(text.starts_with("access_token="), "{text}");
    assert_eq!(form["expires_in"], "7776000");
    assert!(!form["refresh_token"].is_empty() && !form["access_token"].is_empty());

    let code = code_at_once(&fake).await;
    let answer = qq_token(&fake, &code, &[("fmt", Some("json"))]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(content_type(&answer).starts_with("text/html"), "JSON, still labelled text/html");
    let token: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(token["expires_in"], "7776000", "a string, as QQ sends it");
    assert!(token["access_token"].is_string() && token["refresh_token"].is_string());
}

#[tokio::test]
async fn qq_me_answers_jsonp_or_json_with_the_unionid_when_asked() {
    let fake = fake(Provider::Qq).await;
    let user = fake.config().users[0].clone();
    let code = code_at_once(&fake).await;
    let token = form_answer(&qq_token(&fake, &code, &[]).await.text().await.unwrap())["access_token"].clone();
    let me = |query: Vec<(&'static str, String)>| {
        let url = format!("{}/oauth2.0/me", fake.base_url);
        async move { http().get(url).query(&query).send().await.unwrap() }
    };

    let answer = me(vec![("access_token", token.clone())]).await;
    assert!(content_type(&answer).starts_with("text/html"));
    let text = answer.text().await.unwrap();
    assert!(text.starts_with("callback( {") && text.ends_with("} );\n"), "{text:?}");
    assert_eq!(jsonp(&text), json!({ "client_id": fake.config().client_id, "openid": user.uid }));

    let text = me(vec![("access_token", token.clone()), ("unionid", "1".into())]).await.text().await.unwrap();
    assert_eq!(jsonp(&text)["unionid"], user.unionid.clone().unwrap());

    let text = me(vec![("access_token", token.clone()), ("unionid", "1".into()), ("fmt", "json".into())])
        .await
        .text()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body, json!({ "client_id": fake.config().client_id, "openid": user.uid, "unionid": user.unionid }));

    fake.expire_tokens();
    let answer = me(vec![("access_token", token.clone())]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        jsonp(&answer.text().await.unwrap()),
        json!({ "error": 100014, "error_description": "access token expired" })
    );
    let text = me(vec![("access_token", token), ("fmt", "json".into())]).await.text().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["error"], 100014);
    let text = me(vec![("access_token", "UNKNOWN".into())]).await.text().await.unwrap();
    assert_eq!(jsonp(&text)["error"], 100013);
}

#[tokio::test]
async fn qq_get_user_info_answers_ret_and_msg() {
    let fake = fake(Provider::Qq).await;
    fake.select_user(&fake.config().users[1].uid.clone());
    let user = fake.config().users[1].clone();
    let code = code_at_once(&fake).await;
    let token = form_answer(&qq_token(&fake, &code, &[]).await.text().await.unwrap())["access_token"].clone();
    let info = |key: String, openid: String| {
        let url = format!("{}/user/get_user_info", fake.base_url);
        let token = token.clone();
        async move {
            let answer = http()
                .get(url)
                .query(&[("access_token", token), ("oauth_consumer_key", key), ("openid", openid)])
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
            answer.json::<Value>().await.unwrap()
        }
    };
    let client_id = fake.config().client_id.clone();
    let body = info(client_id.clone(), user.uid.clone()).await;
    assert_eq!(body["ret"], 0);
    assert_eq!(body["msg"], "");
    assert_eq!(body["nickname"], "Sandbox QQ Two");
    assert_eq!(body["gender"], "女");
    assert_eq!(body["figureurl_qq_1"], user.avatar);
    assert_eq!(body["figureurl_qq_2"], user.avatar);

    let body = info("999".into(), user.uid.clone()).await;
    assert_ne!(body["ret"], 0);
    assert!(body["msg"].as_str().unwrap().contains("oauth_consumer_key"));
    let body = info(client_id.clone(), "SOMEONE".into()).await;
    assert_ne!(body["ret"], 0);

    fake.expire_tokens();
    let body = info(client_id, user.uid).await;
    assert_eq!(body, json!({ "ret": 100014, "msg": "access token expired" }));
}

#[tokio::test]
async fn qq_token_errors_are_jsonp_or_json_with_http_200() {
    let fake = fake(Provider::Qq).await;
    let code = code_at_once(&fake).await;
    let cases: [(Overrides<'_>, i64); 4] = [
        (&[("redirect_uri", Some("https://evil.invalid/cb"))], 100010),
        (&[("client_secret", Some("wrong"))], 100009),
        (&[("client_id", Some("wrong"))], 100008),
        (&[("code", Some("NOTACODE"))], 100019),
    ];
    for (overrides, expected) in cases {
        let answer = qq_token(&fake, &code, overrides).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(content_type(&answer).starts_with("text/html"));
        let body = jsonp(&answer.text().await.unwrap());
        assert_eq!(body["error"], expected, "{overrides:?}");
        assert!(body["error_description"].is_string());

        let mut with_json = overrides.to_vec();
        with_json.push(("fmt", Some("json")));
        let text = qq_token(&fake, &code, &with_json).await.text().await.unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["error"], expected, "{text}");
    }
    let text = qq_token(&fake, &code, &[]).await.text().await.unwrap();
    assert!(text.starts_with("access_token="), "the failures did not spend the code: {text}");
    let text = qq_token(&fake, &code, &[]).await.text().await.unwrap();
    assert_eq!(text, "callback( {\"error\":100020,\"error_description\":\"code is reused error\"} );\n");
    let text = qq_token(&fake, &code, &[("fmt", Some("json"))]).await.text().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({ "error": 100020, "error_description": "code is reused error" })
    );
}

// ---------------------------------------------------------------------------------------------
// WeChat

#[tokio::test]
async fn wechat_token_and_userinfo() {
    let fake = fake(Provider::Wechat).await;
    let user = fake.config().users[0].clone();
    let code = code_by_page(&fake, &user.uid, "wx").await;
    let token = wechat_token(&fake, &code, &[]).await;
    assert_eq!(token["expires_in"], 7200);
    assert_eq!(token["openid"], user.uid);
    assert_eq!(token["scope"], "snsapi_login");
    assert_eq!(token["unionid"], user.unionid.clone().unwrap());
    assert!(token["refresh_token"].is_string());
    let access = token["access_token"].as_str().unwrap().to_string();

    let userinfo = |access: String, openid: String| {
        let url = format!("{}/sns/userinfo", fake.base_url);
        async move {
            let answer = http()
                .get(url)
                .query(&[("access_token", access), ("openid", openid), ("lang", "zh_CN".into())])
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
            answer.json::<Value>().await.unwrap()
        }
    };
    let body = userinfo(access.clone(), user.uid.clone()).await;
    assert_eq!(body["openid"], user.uid);
    assert_eq!(body["nickname"], "沙盒微信用户");
    assert_eq!(body["sex"], 1);
    assert_eq!(body["headimgurl"], user.avatar);
    assert_eq!(body["privilege"], json!([]));
    assert_eq!(body["unionid"], user.unionid.clone().unwrap());
    for field in ["province", "city", "country"] {
        assert!(body[field].is_string(), "{field}");
    }

    assert_eq!(userinfo(access.clone(), "oSomeoneElse".into()).await["errcode"], 40003);
    assert_eq!(
        userinfo("unknown".into(), user.uid.clone()).await,
        json!({ "errcode": 40001, "errmsg": "invalid credential" })
    );
    fake.expire_tokens();
    assert_eq!(userinfo(access, user.uid).await, json!({ "errcode": 42001, "errmsg": "access_token expired" }));
}

#[tokio::test]
async fn wechat_token_errors() {
    let fake = fake(Provider::Wechat).await;
    let code = code_at_once(&fake).await;
    assert_eq!(
        wechat_token(&fake, &code, &[("appid", Some("wx0000"))]).await,
        json!({ "errcode": 40013, "errmsg": "invalid appid" })
    );
    assert_eq!(
        wechat_token(&fake, &code, &[("secret", Some("wrong"))]).await,
        json!({ "errcode": 40125, "errmsg": "invalid appsecret" })
    );
    assert_eq!(wechat_token(&fake, "nope", &[]).await, json!({ "errcode": 40029, "errmsg": "invalid code" }));
    assert!(wechat_token(&fake, &code, &[]).await["access_token"].is_string());
    assert_eq!(wechat_token(&fake, &code, &[]).await, json!({ "errcode": 40163, "errmsg": "code been used" }));
}

// ---------------------------------------------------------------------------------------------
// DingTalk

async fn dingtalk_error(answer: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(answer.status(), status);
    assert!(content_type(&answer).starts_with("application/json"));
    let body: Value = answer.json().await.unwrap();
    assert!(body["requestid"].as_str().is_some_and(|r| !r.is_empty()), "{body}");
    assert!(body["message"].is_string());
    body
}

#[tokio::test]
async fn dingtalk_token_and_users_me() {
    let fake = fake(Provider::Dingtalk).await;
    let user = fake.config().users[1].clone();
    let code = code_by_page(&fake, &user.uid, "dt").await;
    let answer = dingtalk_token(&fake, &dingtalk_body(&fake, &code)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let token: Value = answer.json().await.unwrap();
    assert_eq!(token["expireIn"], 7200);
    assert!(token["refreshToken"].is_string() && token["corpId"].is_string());
    let access = token["accessToken"].as_str().unwrap().to_string();

    let me = |access: Option<String>| {
        let url = format!("{}/v1.0/contact/users/me", fake.base_url);
        async move {
            let mut request = http().get(url);
            if let Some(access) = access {
                request = request.header("x-acs-dingtalk-access-token", access);
            }
            request.send().await.unwrap()
        }
    };
    let answer = me(Some(access.clone())).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "nick": "Sandbox DingTalk Two",
            "avatarUrl": user.avatar,
            "mobile": "13800000002",
            "openId": user.uid,
            "unionId": user.unionid,
            "email": user.email,
            "stateCode": "86",
        })
    );

    let body = dingtalk_error(me(None).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    let body = dingtalk_error(me(Some("unknown".into())).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    fake.expire_tokens();
    let body = dingtalk_error(me(Some(access)).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    assert_eq!(body["message"], "不合法的access_token");
}

#[tokio::test]
async fn dingtalk_token_errors() {
    let fake = fake(Provider::Dingtalk).await;
    let code = code_at_once(&fake).await;
    let mut bad_secret = dingtalk_body(&fake, &code);
    bad_secret["clientSecret"] = json!("wrong");
    let body = dingtalk_error(dingtalk_token(&fake, &bad_secret).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    assert!(body["message"].as_str().unwrap().contains("clientSecret"));
    let mut bad_client = dingtalk_body(&fake, &code);
    bad_client["clientId"] = json!("ding-nobody");
    let body = dingtalk_error(dingtalk_token(&fake, &bad_client).await, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().unwrap().contains("clientId"));

    let body =
        dingtalk_error(dingtalk_token(&fake, &dingtalk_body(&fake, "nope")).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    assert!(body["message"].as_str().unwrap().contains("invalid"));

    let mut missing = dingtalk_body(&fake, &code);
    missing.as_object_mut().unwrap().remove("code");
    let body = dingtalk_error(dingtalk_token(&fake, &missing).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "MissingParameter");
    let answer = http()
        .post(format!("{}/v1.0/oauth2/userAccessToken", fake.base_url))
        .header("content-type", "application/json")
        .body("clientId=x")
        .send()
        .await
        .unwrap();
    assert_eq!(dingtalk_error(answer, StatusCode::BAD_REQUEST).await["code"], "MissingParameter");

    assert_eq!(dingtalk_token(&fake, &dingtalk_body(&fake, &code)).await.status(), StatusCode::OK);
    let body = dingtalk_error(dingtalk_token(&fake, &dingtalk_body(&fake, &code)).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    assert!(body["message"].as_str().unwrap().contains("used"));
}

#[tokio::test]
async fn a_user_without_optional_fields_gets_each_providers_blank() {
    let user = FakeUser {
        uid: "9000001".into(),
        unionid: None,
        nickname: "Plain".into(),
        avatar: "https://sandbox.opsdeck.invalid/a.png".into(),
        gender: None,
        mobile: None,
        email: None,
    };
    let mut config = FakeOAuthConfig::sandbox(Provider::Weibo);
    config.users = vec![user.clone()];
    let weibo = start(config).await;
    let code = code_at_once(&weibo).await;
    let token: Value = weibo_token(&weibo, &code, &[]).await.json().await.unwrap();
    let body: Value = http()
        .get(format!("{}/2/users/show.json", weibo.base_url))
        .query(&[("access_token", token["access_token"].as_str().unwrap()), ("uid", "9000001")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["gender"], "n");

    let mut config = FakeOAuthConfig::sandbox(Provider::Wechat);
    config.users = vec![user];
    let wechat = start(config).await;
    let code = code_at_once(&wechat).await;
    let token = wechat_token(&wechat, &code, &[]).await;
    assert!(token.get("unionid").is_none());
    let body: Value = http()
        .get(format!("{}/sns/userinfo", wechat.base_url))
        .query(&[("access_token", token["access_token"].as_str().unwrap()), ("openid", "9000001")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["sex"], 0);
    assert!(body.get("unionid").is_none());
}
