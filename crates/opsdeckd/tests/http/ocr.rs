//! `POST /api/ocr` and `GET /api/ocr?url=`: submit, poll until done, the kept result, refusals.

use reqwest::Method;
use serde_json::json;

use crate::{World, expect_error, json, unique, until};

async fn lookup(world: &World, url: &str) -> reqwest::Response {
    world.authed(Method::GET, "/api/ocr").query(&[("url", url)]).send().await.unwrap()
}

#[tokio::test]
async fn a_submitted_image_is_recognised_once_and_its_result_kept() {
    let world = World::start().await;
    let image = format!("https://img.example.com/{}.jpg", unique("front"));
    let submit = || world.authed(Method::POST, "/api/ocr").json(&json!({ "url": image, "side": "front" })).send();

    let (status, first) = json(submit().await.unwrap()).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["existing"], false);
    assert!(first["result"].is_null(), "{first}");
    let id = first["request_id"].as_i64().expect("a request id");

    let done = until("the request is recognised", || async {
        let (status, body) = json(lookup(&world, &image).await).await;
        assert_eq!(status, 200, "{body}");
        (body["status"] == "done").then_some(body)
    })
    .await;
    assert_eq!(done["request_id"], id);
    assert_eq!(done["url"], image);
    assert!(done["error"].is_null(), "{done}");
    let result = &done["result"];
    assert_eq!(result["side"], "front", "{result}");
    assert!(result["name"].as_str().is_some_and(|n| !n.is_empty()), "{result}");
    let code = result["code"].as_str().expect("the ID number");
    assert_eq!(code.len(), 18, "the shop's lookup carries the full number: {code}");
    assert!(!code.contains('*'), "not masked: {code}");

    // Again: the kept result at once, no second request.
    let (status, again) = json(submit().await.unwrap()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["existing"], true);
    assert_eq!(again["request_id"], id);
    assert_eq!(again["status"], "done");
    assert_eq!(again["result"], *result);
    let counts = world.core.metrics().await.unwrap().ocr;
    assert_eq!(counts.pending + counts.in_flight + counts.done + counts.dead, 1);
    world.stop().await;
}

#[tokio::test]
async fn unknown_urls_are_404_and_bad_ones_400() {
    let world = World::start().await;
    let unknown = lookup(&world, &format!("https://img.example.com/{}.jpg", unique("never"))).await;
    expect_error(unknown, 404, "not_found").await;
    for bad in ["ftp://img.example.com/a.jpg", "not a url", "", "https://img.example.com/a b.jpg"] {
        let body = expect_error(lookup(&world, bad).await, 400, "image_url_invalid").await;
        assert_eq!(body["field"], "url", "{bad:?}: {body}");
        let submitted = world.authed(Method::POST, "/api/ocr").json(&json!({ "url": bad, "side": "back" })).send();
        let body = expect_error(submitted.await.unwrap(), 400, "image_url_invalid").await;
        assert_eq!(body["field"], "url", "{bad:?}: {body}");
    }
    let missing = world.authed(Method::GET, "/api/ocr").send().await.unwrap();
    expect_error(missing, 400, "invalid_input").await;
    let no_side = world.authed(Method::POST, "/api/ocr").json(&json!({ "url": "https://x.test/a.jpg" })).send();
    expect_error(no_side.await.unwrap(), 400, "invalid_input").await;
    let counts = world.core.metrics().await.unwrap().ocr;
    assert_eq!(counts.pending + counts.in_flight + counts.done + counts.dead, 0, "nothing was queued");
    world.stop().await;
}
