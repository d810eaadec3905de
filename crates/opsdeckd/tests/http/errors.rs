//! The transport's refusals: the token, the body limit, malformed or mistyped bodies, unknown
//! routes and methods; every one a JSON `{code, message}`.

use reqwest::Method;
use serde_json::json;

use crate::{World, expect_error};

/// Every intake endpoint, with a body it would accept.
fn intake() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    vec![
        (Method::POST, "/api/ocr", Some(json!({ "url": "https://img.example.com/a.jpg", "side": "front" }))),
        (Method::GET, "/api/ocr?url=https%3A%2F%2Fimg.example.com%2Fa.jpg", None),
        (Method::POST, "/api/orders", Some(json!({ "user_id": 1, "kind": "top_up", "amount_fen": 100 }))),
        (Method::GET, "/api/oauth/weibo/authorize", None),
        (Method::POST, "/api/oauth/weibo/callback", Some(json!({ "code": "c", "state": "s" }))),
    ]
}

#[tokio::test]
async fn intake_endpoints_refuse_a_missing_or_wrong_token_before_anything_happens() {
    let world = World::start().await;
    for (method, path, body) in intake() {
        let send = |auth: Option<&str>| {
            let mut request = world.http.request(method.clone(), world.url(path));
            if let Some(value) = auth {
                request = request.header("authorization", value);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            request.send()
        };
        for auth in [None, Some("Bearer wrong-token-0123456789abcdef"), Some("Basic dGVzdDp0ZXN0"), Some("Bearer")] {
            let response = send(auth).await.unwrap();
            assert_eq!(
                response.headers().get("www-authenticate").map(|v| v.to_str().unwrap()),
                Some("Bearer"),
                "{method} {path} with {auth:?}"
            );
            expect_error(response, 401, "unauthenticated").await;
        }
        // The scheme is case-insensitive.
        let response = send(Some(&format!("bearer {}", crate::TOKEN))).await.unwrap();
        assert_ne!(response.status().as_u16(), 401, "{method} {path} with a lowercase scheme");
    }
    // Nothing was placed or queued by the refused requests.
    assert_eq!(world.core.metrics().await.unwrap().orders_pending, 1, "only the accepted top-up");
    world.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_413_and_checked_after_the_token() {
    let world = World::start().await;
    let big = json!({ "url": format!("https://img.example.com/{}.jpg", "a".repeat(70 * 1024)), "side": "front" });
    let response = world.authed(Method::POST, "/api/ocr").json(&big).send().await.unwrap();
    let body = expect_error(response, 413, "payload_too_large").await;
    assert!(body["message"].as_str().unwrap().contains("64 KiB"), "{body}");
    // Without the token the size does not matter: 401.
    let response = world.http.post(world.url("/api/ocr")).json(&big).send().await.unwrap();
    expect_error(response, 401, "unauthenticated").await;
    // The notify (a form) has the same limit.
    let form = vec![("sign".to_string(), "x".repeat(70 * 1024))];
    let response = world.http.post(world.url("/api/payments/alipay/notify")).form(&form).send().await.unwrap();
    expect_error(response, 413, "payload_too_large").await;
    // Just under the limit is read (and refused for what it says, not for its size).
    let under = json!({ "url": format!("https://img.example.com/{}.jpg", "a".repeat(60 * 1024)), "side": "front" });
    let response = world.authed(Method::POST, "/api/ocr").json(&under).send().await.unwrap();
    let body = expect_error(response, 400, "image_url_invalid").await;
    assert_eq!(body["field"], "url", "{body}");
    world.stop().await;
}

#[tokio::test]
async fn malformed_and_mistyped_bodies_are_400_and_wrong_content_types_415() {
    let world = World::start().await;
    let raw = |path: &str, content_type: &str, body: &'static str| {
        world.authed(Method::POST, path).header("content-type", content_type).body(body).send()
    };
    for path in ["/api/ocr", "/api/orders", "/api/oauth/weibo/callback"] {
        expect_error(raw(path, "application/json", "{\"url\": ").await.unwrap(), 400, "invalid_input").await;
        expect_error(raw(path, "application/json", "[1, 2]").await.unwrap(), 400, "invalid_input").await;
        expect_error(raw(path, "text/plain", "{}").await.unwrap(), 415, "unsupported_media_type").await;
        let none = world.authed(Method::POST, path).body("{}").send().await.unwrap();
        expect_error(none, 415, "unsupported_media_type").await;
    }
    let wrong_type = raw("/api/ocr", "application/json", r#"{"url": 5, "side": "front"}"#).await.unwrap();
    let body = expect_error(wrong_type, 400, "invalid_input").await;
    assert!(body["message"].as_str().unwrap().contains("url"), "names the field: {body}");
    let bad_side = raw("/api/ocr", "application/json", r#"{"url": "https://x.test/a.jpg", "side": "left"}"#);
    expect_error(bad_side.await.unwrap(), 400, "invalid_input").await;
    let notify_json =
        world.http.post(world.url("/api/payments/alipay/notify")).json(&json!({ "a": "b" })).send().await.unwrap();
    expect_error(notify_json, 415, "unsupported_media_type").await;
    world.stop().await;
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_json() {
    let world = World::start().await;
    for path in ["/", "/api", "/api/nope", "/healthz/x", "/api/oauth/weibo"] {
        let response = world.authed(Method::GET, path).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
    }
    for (method, path, allow) in [
        (Method::DELETE, "/healthz", "GET,HEAD"),
        (Method::POST, "/metrics", "GET,HEAD"),
        (Method::PUT, "/api/ocr", "POST,GET,HEAD"),
        (Method::GET, "/api/orders", "POST"),
        (Method::GET, "/api/payments/alipay/notify", "POST"),
        (Method::POST, "/api/oauth/weibo/authorize", "GET,HEAD"),
    ] {
        let response = world.authed(method.clone(), path).send().await.unwrap();
        let allowed = response.headers().get("allow").map(|v| v.to_str().unwrap().to_string());
        expect_error(response, 405, "method_not_allowed").await;
        let mut got: Vec<String> = allowed.unwrap_or_default().split(',').map(str::to_string).collect();
        let mut want: Vec<String> = allow.split(',').map(str::to_string).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "Allow of {method} {path}");
    }
    world.stop().await;
}
