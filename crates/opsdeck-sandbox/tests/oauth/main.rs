//! The fake Weibo, QQ, WeChat and DingTalk against docs/providers.md §2,
//! through real HTTP on loopback, redirects never followed.

mod authorize;
mod dingtalk;
mod lifecycle;
mod qq;
mod wechat;
mod weibo;

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
