//! `GET /api/ocr/stream?url=`: the shop's push instead of polling. The final state (the same
//! JSON as `GET /api/ocr`) arrives on the stream as soon as the request is done or dead (at once
//! when it already is), then the stream closes; heartbeats meanwhile; 404 for a URL never
//! submitted, 401 without the API token.

use opsdeck_core::Actor;
use reqwest::Method;
use serde_json::{Value, json};

use crate::events::{Frame, SseReader, staff};
use crate::{World, expect_error, json, unique, until};

fn stream(world: &World, url: &str) -> reqwest::RequestBuilder {
    world.authed(Method::GET, "/api/ocr/stream").query(&[("url", url)])
}

async fn submit(world: &World, url: &str, side: &str) -> i64 {
    let submitted = world.authed(Method::POST, "/api/ocr").json(&json!({ "url": url, "side": side })).send();
    let (status, body) = json(submitted.await.unwrap()).await;
    assert_eq!(status, 202, "{body}");
    body["request_id"].as_i64().expect("a request id")
}

/// The stream's one message, then its end; fails on a second message.
async fn the_final_state(stream: &mut SseReader) -> Value {
    let data = loop {
        match stream.next().await.expect("a message before the end") {
            Frame::Message { data, .. } => break data,
            Frame::Comment => {}
        }
    };
    assert!(stream.next().await.is_none(), "the stream closes after the final state");
    data
}

#[tokio::test]
async fn the_result_is_pushed_once_it_exists_and_the_stream_closes() {
    let world = World::start_with(&[("events_heartbeat_ms", "100".into())]).await;
    let operator = Actor::system("tester");
    // Paused: both requests wait while their streams are opened.
    world.core.ocr_pause(&operator).await.unwrap();
    let good = format!("https://img.example.com/{}.jpg", unique("front"));
    let refused = format!("https://img.example.com/{}.jpg?fail=216633", unique("blurred"));
    let good_id = submit(&world, &good, "front").await;
    let refused_id = submit(&world, &refused, "front").await;

    let mut good_stream = SseReader::open(stream(&world, &good)).await;
    let mut refused_stream = SseReader::open(stream(&world, &refused)).await;
    // Waiting: heartbeats, no message yet.
    for waiting in [&mut good_stream, &mut refused_stream] {
        assert!(matches!(waiting.next().await, Some(Frame::Comment)), "a heartbeat while the request waits");
    }
    world.core.ocr_resume(&operator).await.unwrap();

    let done = the_final_state(&mut good_stream).await;
    assert_eq!(done["request_id"], good_id, "{done}");
    assert_eq!(done["url"], good);
    assert_eq!(done["status"], "done", "{done}");
    assert!(done["error"].is_null(), "{done}");
    let code = done["result"]["code"].as_str().expect("the ID number");
    assert!(code.len() == 18 && !code.contains('*'), "the shop's JSON, unmasked: {code}");
    // Exactly what polling answers.
    let (status, polled) =
        json(world.authed(Method::GET, "/api/ocr").query(&[("url", &good)]).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(polled, done);

    let dead = the_final_state(&mut refused_stream).await;
    assert_eq!(dead["request_id"], refused_id, "{dead}");
    assert_eq!(dead["status"], "dead", "{dead}");
    assert!(dead["result"].is_null() && dead["error"].as_str().is_some_and(|e| !e.is_empty()), "{dead}");
    world.stop().await;
}

#[tokio::test]
async fn a_request_already_done_is_sent_at_once() {
    let world = World::start_with(&[("events_heartbeat_ms", "100".into())]).await;
    let url = format!("https://img.example.com/{}.jpg", unique("back"));
    submit(&world, &url, "back").await;
    until("the request is recognised", || async {
        let (_, body) = json(world.authed(Method::GET, "/api/ocr").query(&[("url", &url)]).send().await.unwrap()).await;
        (body["status"] == "done").then_some(())
    })
    .await;
    let mut pushed = SseReader::open(stream(&world, &url)).await;
    match pushed.next().await {
        Some(Frame::Message { data, .. }) => assert_eq!(data["status"], "done", "{data}"),
        other => panic!("the final state first, no heartbeat before it: {other:?}"),
    }
    assert!(pushed.next().await.is_none(), "then the stream closes");
    world.stop().await;
}

#[tokio::test]
async fn unknown_urls_are_404_bad_ones_400_and_no_api_token_401() {
    let world = World::start().await;
    let never = format!("https://img.example.com/{}.jpg", unique("never"));
    expect_error(stream(&world, &never).send().await.unwrap(), 404, "not_found").await;
    let bad =
        expect_error(stream(&world, "ftp://img.example.com/a.jpg").send().await.unwrap(), 400, "image_url_invalid");
    assert_eq!(bad.await["field"], "url");
    expect_error(world.authed(Method::GET, "/api/ocr/stream").send().await.unwrap(), 400, "invalid_input").await;

    let url = world.url("/api/ocr/stream");
    let anonymous = world.http.get(&url).query(&[("url", &never)]).send();
    expect_error(anonymous.await.unwrap(), 401, "unauthenticated").await;
    // A staff session is no API token.
    let (_, _, session) = staff(&world, opsdeck_core::Role::Admin).await;
    let with_session = world.http.get(&url).query(&[("url", &never)]).bearer_auth(session.expose()).send();
    expect_error(with_session.await.unwrap(), 401, "unauthenticated").await;
    world.stop().await;
}
