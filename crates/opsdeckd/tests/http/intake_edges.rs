//! The intake's edges: an image URL with its own query string (looked up through a JSON body, or
//! told why a GET missed it), bodies of the wrong shape refused in plain words naming the field.

use reqwest::Method;
use serde_json::json;

use crate::{World, expect_error, json};

/// A signed CDN link: its own query string, with `&` and `=`.
const SIGNED: &str = "https://cdn.example.com/id/0001-front.jpg?sign=a1b2&expires=1767225600";

#[tokio::test]
async fn an_image_url_with_its_own_query_string_is_looked_up_through_a_json_body() {
    let world = World::start().await;
    let submitted = world.authed(Method::POST, "/api/ocr").json(&json!({ "url": SIGNED, "side": "front" }));
    let (status, submitted) = json(submitted.send().await.unwrap()).await;
    assert_eq!(status, 202, "{submitted}");

    let by_body = world.authed(Method::POST, "/api/ocr/lookup").json(&json!({ "url": SIGNED }));
    let (status, by_body) = json(by_body.send().await.unwrap()).await;
    assert_eq!(status, 200, "{by_body}");
    assert_eq!(by_body["request_id"], submitted["request_id"]);
    assert_eq!(by_body["url"], SIGNED);

    // The same answer as the GET with the URL percent-encoded.
    let encoded = world.authed(Method::GET, "/api/ocr").query(&[("url", SIGNED)]).send().await.unwrap();
    let (status, by_query) = json(encoded).await;
    assert_eq!(status, 200, "{by_query}");
    assert_eq!(by_query["request_id"], by_body["request_id"]);
    assert_eq!(by_query["url"], by_body["url"]);

    let unknown =
        world.authed(Method::POST, "/api/ocr/lookup").json(&json!({ "url": "https://cdn.example.com/x.jpg" }));
    let body = expect_error(unknown.send().await.unwrap(), 404, "not_found").await;
    assert!(!body["message"].as_str().unwrap().contains("encoded"), "nothing looked unencoded: {body}");

    let anonymous = world.http.post(world.url("/api/ocr/lookup")).json(&json!({ "url": SIGNED }));
    expect_error(anonymous.send().await.unwrap(), 401, "unauthenticated").await;
    world.stop().await;
}

#[tokio::test]
async fn a_get_that_misses_because_its_url_looks_unencoded_says_so() {
    let world = World::start().await;
    let submitted = world.authed(Method::POST, "/api/ocr").json(&json!({ "url": SIGNED, "side": "front" }));
    assert_eq!(submitted.send().await.unwrap().status(), 202);

    // The signed URL pasted as it is: the parser reads `url` up to the first `&`.
    let raw = format!("/api/ocr?url={SIGNED}");
    let body = expect_error(world.authed(Method::GET, &raw).send().await.unwrap(), 404, "not_found").await;
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("percent-encoded") && message.contains("POST /api/ocr/lookup"), "{message}");
    // A second `?` alone is enough to say so.
    let question = "/api/ocr?url=https://cdn.example.com/never.jpg?v=2";
    let body = expect_error(world.authed(Method::GET, question).send().await.unwrap(), 404, "not_found").await;
    assert!(body["message"].as_str().unwrap().contains("POST /api/ocr/lookup"), "{body}");

    // A properly encoded URL that was never submitted: the plain 404.
    let never = world.authed(Method::GET, "/api/ocr").query(&[("url", "https://cdn.example.com/never.jpg?v=2")]);
    let body = expect_error(never.send().await.unwrap(), 404, "not_found").await;
    assert_eq!(body["message"], "no OCR request for this URL");
    world.stop().await;
}

/// POSTs `body` (raw JSON) to `path` and expects 400 `invalid_input`: the error's body.
async fn refused(world: &World, path: &str, body: &'static str) -> serde_json::Value {
    let response =
        world.authed(Method::POST, path).header("content-type", "application/json").body(body).send().await.unwrap();
    let error = expect_error(response, 400, "invalid_input").await;
    let message = error["message"].as_str().unwrap();
    for serde_words in ["Failed to deserialize", "line 1 column", "invalid type", "unknown variant"] {
        assert!(!message.contains(serde_words), "serde's wording for {body}: {message}");
    }
    error
}

#[tokio::test]
async fn type_errors_name_the_field_and_the_expected_values_in_plain_words() {
    let world = World::start().await;
    let side = refused(&world, "/api/ocr", r#"{"url": "https://x.test/a.jpg", "side": "left"}"#).await;
    assert_eq!(side["field"], "side");
    assert_eq!(side["message"], "`side` must be one of: front, back (got `left`)");

    let url = refused(&world, "/api/ocr", r#"{"url": 5, "side": "front"}"#).await;
    assert_eq!(url["field"], "url");
    assert_eq!(url["message"], "`url` must be a string, got the number `5`");

    let missing = refused(&world, "/api/ocr", r#"{"url": "https://x.test/a.jpg"}"#).await;
    assert_eq!(missing["field"], "side");
    assert_eq!(missing["message"], "`side` is required");

    let nested =
        refused(&world, "/api/orders", r#"{"user_id": 1, "kind": "goods", "items": [{"goods_id": "x"}]}"#).await;
    assert_eq!(nested["field"], "items[0].goods_id", "{nested}");

    let text = refused(&world, "/api/ocr", r#""a.jpg""#).await;
    assert_eq!(text["message"], r#"the body must be an object, got the text "a.jpg""#);

    let broken = refused(&world, "/api/ocr", r#"{"url": "#).await;
    assert!(broken["message"].as_str().unwrap().starts_with("the body is not valid JSON"), "{broken}");
    world.stop().await;
}

#[tokio::test]
async fn unknown_fields_are_refused_naming_the_field() {
    let world = World::start().await;
    let ocr = refused(&world, "/api/ocr", r#"{"url": "https://x.test/a.jpg", "side": "front", "sid": "x"}"#).await;
    assert_eq!(ocr["field"], "sid");
    assert_eq!(ocr["message"], "unknown field `sid`; the fields are: url, side");

    let lookup = refused(&world, "/api/ocr/lookup", r#"{"url": "https://x.test/a.jpg", "side": "front"}"#).await;
    assert_eq!(lookup["field"], "side");

    let callback = refused(&world, "/api/oauth/weibo/callback", r#"{"code": "c", "state": "s", "next": "/"}"#).await;
    assert_eq!(callback["field"], "next");
    world.stop().await;
}

#[tokio::test]
async fn an_order_or_an_item_with_an_unknown_field_is_refused_naming_it() {
    let world = World::start().await;
    let top_up = r#"{"user_id": 1, "kind": "top_up", "amount_fen": 100, "coupon": "X"}"#;
    let order = refused(&world, "/api/orders", top_up).await;
    assert_eq!(order["field"], "coupon");
    let item = r#"{"user_id": 1, "kind": "goods", "items": [{"goods_id": 1, "quantity": 1, "qty": 2}]}"#;
    let item = refused(&world, "/api/orders", item).await;
    assert_eq!(item["field"], "items[0].qty");
    assert_eq!(item["message"], "unknown field `items[0].qty`; the fields are: goods_id, quantity, price_fen");
    world.stop().await;
}

#[tokio::test]
async fn the_console_operations_refuse_unknown_fields_and_name_mistyped_ones() {
    let world = World::start().await;
    let name = crate::unique("edges");
    let issued = opsdeck_core::staff_token(world.core.config(), &name, opsdeck_core::Role::Admin).await.unwrap();
    let send = |method: Method, path: &str, body: serde_json::Value| {
        world.http.request(method, world.url(path)).bearer_auth(issued.token.expose()).json(&body).send()
    };
    let cap = send(Method::PUT, "/api/v1/ocr/cap", json!({ "cap": 2, "caps": 3 })).await.unwrap();
    let body = expect_error(cap, 400, "invalid_input").await;
    assert_eq!(body["field"], "caps", "{body}");
    let retry = send(Method::POST, "/api/v1/ocr/retry", json!({ "ids": ["one"] })).await.unwrap();
    let body = expect_error(retry, 400, "invalid_input").await;
    assert_eq!(body["field"], "ids[0]", "{body}");
    assert_eq!(body["message"], "`ids[0]` must be a whole number, got the text \"one\"", "{body}");
    let role = send(Method::PUT, &format!("/api/v1/users/{}/role", issued.user_id), json!({ "role": "owner" }));
    let body = expect_error(role.await.unwrap(), 400, "invalid_input").await;
    assert_eq!(body["message"], "`role` must be one of: viewer, operator, admin (got `owner`)", "{body}");
    world.stop().await;
}
