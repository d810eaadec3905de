//! A desktop's sign-in through the server (RFC 8252 with PKCE), step by step as its sign-in
//! window and its client make them: `GET /api/v1/auth/desktop/start` → the provider (the
//! sandbox's fake Weibo, approving at once) → `GET /api/v1/auth/callback/weibo` → the desktop's
//! loopback redirect with a one-time code → `POST /api/v1/auth/token`.

use serde_json::json;

use crate::{World, expect_error, json};

/// RFC 7636's own example pair (appendix B).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1:53111/opsdeck/signin";

fn start_path(redirect: &str, challenge: &str, method: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("provider", "weibo")
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "desktop-state-1")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", method)
        .finish();
    format!("/api/v1/auth/desktop/start?{query}")
}

/// The window's walk from the start URL to the desktop's redirect (returned as a URL).
async fn walk(world: &World) -> url::Url {
    let answer = world.http.get(world.url(&start_path(REDIRECT, CHALLENGE, "S256"))).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let mut url = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    assert!(url.as_str().starts_with(&world.weibo.base_url), "to the provider: {url}");
    // The fake approves at once and redirects to Weibo's registered redirect URI, which a real
    // deployment points at this server's callback: hand its query to the callback.
    let registered = world.weibo.config().redirect_uri.clone();
    for _ in 0..5 {
        if url.as_str().starts_with(&registered) {
            break;
        }
        let answer = world.http.get(url.clone()).send().await.unwrap();
        url = url.join(answer.headers()["location"].to_str().unwrap()).unwrap();
    }
    assert!(url.as_str().starts_with(&registered), "back from the provider: {url}");
    let callback = format!("/api/v1/auth/callback/weibo?{}", url.query().unwrap());
    let answer = world.http.get(world.url(&callback)).send().await.unwrap();
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    let back = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    assert!(back.as_str().starts_with(REDIRECT), "to the desktop: {back}");
    back
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn exchange(world: &World, code: &str, verifier: &str, redirect: &str) -> reqwest::Response {
    let body = json!({ "code": code, "code_verifier": verifier, "redirect_uri": redirect });
    world.http.post(world.url("/api/v1/auth/token")).json(&body).send().await.unwrap()
}

/// A daemon on a database of its own (not the embedded default, whose first console sign-in
/// becomes admin) where a newcomer's first sign-in gets `role`.
async fn world_where_newcomers_are(role: &str, dir: &tempfile::TempDir) -> World {
    let database = format!("\"sqlite://{}/shared.db?mode=rwc\"", dir.path().display());
    World::start_with(&[("staff_default_role", format!("\"{role}\"")), ("database_url", database)]).await
}

#[tokio::test]
async fn a_desktop_signs_in_through_the_server_and_its_code_works_once() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_where_newcomers_are("operator", &dir).await;
    let back = walk(&world).await;
    assert_eq!(param(&back, "state").as_deref(), Some("desktop-state-1"));
    let code = param(&back, "code").expect("a one-time code");

    let (status, signed_in) = json(exchange(&world, &code, VERIFIER, REDIRECT).await).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(signed_in["status"], "signed_in");
    assert_eq!(signed_in["staff"]["role"], "operator");
    let token = signed_in["token"].as_str().unwrap().to_string();
    let me = world.http.get(world.url("/api/v1/session")).bearer_auth(&token).send().await.unwrap();
    let (status, staff) = json(me).await;
    assert_eq!((status, staff["role"].as_str()), (200, Some("operator")), "{staff}");

    // Used twice: refused, and nothing else is opened.
    expect_error(exchange(&world, &code, VERIFIER, REDIRECT).await, 400, "sign_in_code_invalid").await;
}

#[tokio::test]
async fn a_code_needs_its_verifier_and_its_redirect_and_burns_on_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_where_newcomers_are("operator", &dir).await;
    let code = param(&walk(&world).await, "code").unwrap();
    let other_verifier = "x".repeat(43);
    expect_error(exchange(&world, &code, &other_verifier, REDIRECT).await, 400, "sign_in_code_invalid").await;
    // The wrong attempt used it up: the right verifier comes too late.
    expect_error(exchange(&world, &code, VERIFIER, REDIRECT).await, 400, "sign_in_code_invalid").await;

    let code = param(&walk(&world).await, "code").unwrap();
    expect_error(exchange(&world, &code, VERIFIER, "http://127.0.0.1:1/other").await, 400, "sign_in_code_invalid")
        .await;
    expect_error(exchange(&world, "never-issued", VERIFIER, REDIRECT).await, 400, "sign_in_code_invalid").await;
    expect_error(exchange(&world, "never-issued", "short", REDIRECT).await, 400, "pkce_invalid").await;
}

#[tokio::test]
async fn a_sign_in_without_a_console_role_goes_back_with_an_error_and_no_code() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_where_newcomers_are("none", &dir).await;
    let back = walk(&world).await;
    assert_eq!(param(&back, "code"), None);
    assert_eq!(param(&back, "error").as_deref(), Some("not_staff"));
    assert_eq!(param(&back, "state").as_deref(), Some("desktop-state-1"));
}

#[tokio::test]
async fn only_a_loopback_redirect_with_s256_pkce_starts_a_sign_in() {
    let world = World::start().await;
    let refused = [
        (start_path("https://evil.example/cb", CHALLENGE, "S256"), "redirect_not_registered"),
        (start_path("http://localhost:5000/cb", CHALLENGE, "S256"), "redirect_not_registered"),
        (start_path("http://192.168.1.5:5000/cb", CHALLENGE, "S256"), "redirect_not_registered"),
        (start_path(REDIRECT, CHALLENGE, "plain"), "pkce_invalid"),
        (start_path(REDIRECT, "too-short", "S256"), "pkce_invalid"),
    ];
    for (path, code) in refused {
        let body = expect_error(world.http.get(world.url(&path)).send().await.unwrap(), 400, code).await;
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    // No attempt of ours: no redirect to anywhere.
    let forged = world.http.get(world.url("/api/v1/auth/callback/weibo?code=c&state=forged")).send().await.unwrap();
    expect_error(forged, 400, "sign_in_state_invalid").await;
}

#[tokio::test]
async fn a_code_older_than_60_seconds_is_refused_and_burnt() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_where_newcomers_are("operator", &dir).await;
    let code = param(&walk(&world).await, "code").unwrap();
    let args = |code: &str| opsdeck_api::ops::SignInExchangeArgs {
        code: code.into(),
        code_verifier: VERIFIER.into(),
        redirect_uri: REDIRECT.into(),
    };
    let later = chrono::Utc::now() + chrono::Duration::seconds(61);
    let refused = world.core.sign_in_exchange_at(args(&code), later).await.unwrap_err();
    assert_eq!(refused.code(), opsdeck_api::ErrorCode::SignInCodeInvalid);
    assert!(refused.to_string().contains("60 seconds"), "{refused}");
    // Refused for its age, it is gone for good.
    expect_error(exchange(&world, &code, VERIFIER, REDIRECT).await, 400, "sign_in_code_invalid").await;
    let code = param(&walk(&world).await, "code").unwrap();
    let just_in_time = chrono::Utc::now() + chrono::Duration::seconds(55);
    assert!(world.core.sign_in_exchange_at(args(&code), just_in_time).await.is_ok());
}
