//! The shop's sign-in: `GET /api/oauth/{provider}/authorize?binding=…` then
//! `POST /api/oauth/{provider}/callback` with the same binding, against the sandbox's fake Weibo
//! and DingTalk (auto-approving).

use opsdeck_core::Actor;
use reqwest::Method;
use serde_json::json;

use crate::{World, expect_error, json};

/// The binding a shop derives from its customer's browser session.
const BINDING: &str = "customer-session-hash-0001";

async fn authorize(world: &World, provider: &str) -> (String, String) {
    authorize_bound(world, provider, BINDING).await
}

async fn authorize_bound(world: &World, provider: &str, binding: &str) -> (String, String) {
    let path = format!("/api/oauth/{provider}/authorize?binding={binding}");
    let (status, body) = json(world.authed(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    (body["url"].as_str().unwrap().to_string(), body["state"].as_str().unwrap().to_string())
}

/// Follows the provider's redirects until one goes to `redirect_uri`; returns (code, state).
async fn approve(world: &World, start: &str, redirect_uri: &str) -> (String, String) {
    let mut url = url::Url::parse(start).unwrap();
    for _ in 0..5 {
        if url.as_str().starts_with(redirect_uri) {
            let get = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap();
            return (get("code"), get("state"));
        }
        let answer = world.http.get(url.clone()).send().await.unwrap();
        let location = answer.headers().get("location").unwrap_or_else(|| panic!("no redirect from {url}"));
        url = url.join(location.to_str().unwrap()).unwrap();
    }
    panic!("no redirect to {redirect_uri}")
}

/// The callback with `body`, given [`BINDING`] unless it names one.
async fn callback(world: &World, provider: &str, mut body: serde_json::Value) -> reqwest::Response {
    if body.get("binding").is_none() {
        body["binding"] = json!(BINDING);
    }
    world.authed(Method::POST, &format!("/api/oauth/{provider}/callback")).json(&body).send().await.unwrap()
}

async fn sign_in(world: &World, provider: &str, redirect_uri: &str) -> (u16, serde_json::Value) {
    let (url, state) = authorize(world, provider).await;
    let (code, came_back) = approve(world, &url, redirect_uri).await;
    assert_eq!(came_back, state);
    json(callback(world, provider, json!({ "code": code, "state": state })).await).await
}

#[tokio::test]
async fn a_customer_signs_in_with_weibo_and_a_state_works_once() {
    let world = World::start().await;
    let redirect = world.weibo.config().redirect_uri.clone();
    let (url, state) = authorize(&world, "weibo").await;
    assert!(url.starts_with(&world.weibo.base_url), "{url}");
    let (code, _) = approve(&world, &url, &redirect).await;
    let (status, first) = json(callback(&world, "weibo", json!({ "code": code, "state": state })).await).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "signed_in");
    assert_eq!((first["new_user"].as_bool(), first["linked"].as_bool()), (Some(true), Some(true)));
    let user_id = first["user_id"].as_i64().unwrap();
    let user = world.core.user_get(user_id).await.unwrap();
    assert_eq!(user.role, None, "a shop customer gets no console role");
    assert_eq!(user.links.len(), 1);

    // The same state again: refused (it was used).
    let replay = callback(&world, "weibo", json!({ "code": code, "state": state })).await;
    let body = expect_error(replay, 400, "sign_in_state_invalid").await;
    assert_eq!(body["field"], "state");

    // The same customer again: the same user, nothing new.
    let (status, again) = sign_in(&world, "weibo", &redirect).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["user_id"], user_id);
    assert_eq!((again["new_user"].as_bool(), again["linked"].as_bool()), (Some(false), Some(false)));
    world.stop().await;
}

#[tokio::test]
async fn a_matching_mobile_waits_for_staff_with_202() {
    let world = World::start().await;
    let redirect = world.dingtalk.config().redirect_uri.clone();
    let users = world.dingtalk.config().users.clone();
    world.dingtalk.select_user(&users[0].uid);
    let (status, first) = sign_in(&world, "dingtalk", &redirect).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["new_user"], true);

    world.dingtalk.select_user(&users[1].uid);
    let (status, pending) = sign_in(&world, "dingtalk", &redirect).await;
    assert_eq!(status, 202, "{pending}");
    assert_eq!(pending["status"], "pending_link");
    assert!(pending.get("user_id").is_none(), "nobody is signed in: {pending}");
    let id = pending["link_request_id"].as_i64().unwrap();
    let requests = world.core.link_requests_list(&Actor::system("tester")).await.unwrap();
    let request = requests.iter().find(|r| r.id == id).expect("the link request waits for staff");
    assert_eq!(request.user_id, first["user_id"].as_i64().unwrap());
    world.stop().await;
}

#[tokio::test]
async fn unknown_unconfigured_mismatched_and_refused_sign_ins_are_errors() {
    let world = World::start().await;
    for provider in ["github", "qq", "WEIBO"] {
        let path = format!("/api/oauth/{provider}/authorize?binding={BINDING}");
        let response = world.authed(Method::GET, &path).send().await.unwrap();
        // An unconfigured provider is named as such; an unknown name is not a provider at all.
        let code = if provider == "qq" { "provider_not_configured" } else { "invalid_input" };
        let body = expect_error(response, 400, code).await;
        assert_eq!(body["field"], "provider", "{provider}: {body}");
        // At the callback an unknown name is refused as such; for a known one the state decides
        // (no attempt can exist for an unconfigured provider).
        let code = if provider == "qq" { "sign_in_state_invalid" } else { "invalid_input" };
        let body =
            expect_error(callback(&world, provider, json!({ "code": "c", "state": "s" })).await, 400, code).await;
        let field = if provider == "qq" { "state" } else { "provider" };
        assert_eq!(body["field"], field, "{provider}: {body}");
    }
    // A state issued for Weibo is refused at DingTalk's callback (and is used up).
    let (url, state) = authorize(&world, "weibo").await;
    let (code, _) = approve(&world, &url, &world.weibo.config().redirect_uri.clone()).await;
    let body = expect_error(
        callback(&world, "dingtalk", json!({ "code": code, "state": state })).await,
        400,
        "sign_in_state_invalid",
    )
    .await;
    assert_eq!(body["field"], "state");
    // No state, an unknown one.
    for body in [json!({ "code": "c" }), json!({ "code": "c", "state": "nope" }), json!({ "code": "c", "state": null })]
    {
        let answer = expect_error(callback(&world, "weibo", body.clone()).await, 400, "sign_in_state_invalid").await;
        assert_eq!(answer["field"], "state", "{body}");
    }
    // The customer refused at the provider: no code, the provider's error.
    let (_, state) = authorize(&world, "weibo").await;
    let refused = callback(&world, "weibo", json!({ "state": state, "error": "access_denied" })).await;
    let body = expect_error(refused, 400, "sign_in_refused").await;
    assert!(body["message"].as_str().unwrap().contains("access_denied"), "{body}");
    world.stop().await;
}

#[tokio::test]
async fn a_state_from_another_customers_session_is_refused_and_stays_theirs() {
    let world = World::start().await;
    let redirect = world.weibo.config().redirect_uri.clone();
    // No binding, or one too short to be secret: refused at authorize.
    for path in ["/api/oauth/weibo/authorize", "/api/oauth/weibo/authorize?binding=short"] {
        let body = expect_error(world.authed(Method::GET, path).send().await.unwrap(), 400, "binding_invalid").await;
        assert_eq!(body["field"], "binding", "{path}: {body}");
    }
    // The attacker's own attempt, planted in the victim's browser: the victim's session has
    // another binding, so the callback is refused...
    let attacker = "attacker-session-hash-0002";
    let (url, state) = authorize_bound(&world, "weibo", attacker).await;
    let (code, _) = approve(&world, &url, &redirect).await;
    let planted = callback(&world, "weibo", json!({ "code": code, "state": state })).await;
    let body = expect_error(planted, 400, "sign_in_elsewhere").await;
    assert_eq!(body["field"], "state", "{body}");
    assert!(body["message"].as_str().unwrap().contains("started elsewhere"), "{body}");
    // ... without a binding too...
    let unbound = callback(&world, "weibo", json!({ "code": code, "state": state, "binding": null })).await;
    assert_eq!(expect_error(unbound, 400, "binding_invalid").await["field"], "binding");
    // ... and the attempt stays good for the session it belongs to.
    let (status, own) =
        json(callback(&world, "weibo", json!({ "code": code, "state": state, "binding": attacker })).await).await;
    assert_eq!((status, own["status"].as_str()), (200, Some("signed_in")), "{own}");
    world.stop().await;
}
