//! The open routes and the transport's limits: `/metrics` behind a token and read once per
//! cache window however many scrapes arrive; `/healthz` telling only up/down without a token;
//! a half-sent request head dropped after the header-read timeout; per-IP limits.

use std::time::Duration;

use opsdeck_api::health::ComponentStatus;
use reqwest::Method;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{TOKEN, World, expect_error, json, toml_string};

#[tokio::test]
async fn two_hundred_parallel_scrapes_read_the_figures_once_per_window() {
    // A window far longer than the test: every scrape falls in the first one.
    let world = World::start_with_api(&[], |api| api.metrics_max_age = Duration::from_secs(3600)).await;
    let mut scrapes = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let request = world.http.get(world.url("/metrics")).bearer_auth(TOKEN).send();
        scrapes.spawn(async move {
            let response = request.await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            response.text().await.unwrap()
        });
    }
    let texts = scrapes.join_all().await;
    assert_eq!(world.metrics_reads(), 1, "200 concurrent scrapes, one set of queries");
    assert!(texts.iter().all(|t| t == &texts[0] && t.contains("opsdeck_orders_pending 0")), "{}", texts[0]);

    // No token, or a wrong one: 401, and nothing read.
    expect_error(world.http.get(world.url("/metrics")).send().await.unwrap(), 401, "unauthenticated").await;
    let wrong = world.http.get(world.url("/metrics")).bearer_auth("not-the-token-0123456789").send().await.unwrap();
    expect_error(wrong, 401, "unauthenticated").await;
    assert_eq!(world.metrics_reads(), 1);
    world.stop().await;
}

#[tokio::test]
async fn a_zero_window_reads_again_and_a_metrics_token_replaces_the_api_token() {
    let metrics_token = "metrics-token-0123456789";
    let world = World::start_with_api(&[], |api| {
        api.metrics_max_age = Duration::ZERO;
        api.metrics_token = Some(SecretString::from(metrics_token));
    })
    .await;
    for _ in 0..3 {
        let response = world.http.get(world.url("/metrics")).bearer_auth(metrics_token).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    assert_eq!(world.metrics_reads(), 3, "sequential scrapes past the window each read");
    // With a metrics token configured, the API token does not open /metrics.
    let api = world.http.get(world.url("/metrics")).bearer_auth(TOKEN).send().await.unwrap();
    expect_error(api, 401, "unauthenticated").await;
    world.stop().await;
}

#[tokio::test]
async fn a_client_that_sends_half_a_request_head_is_dropped_after_the_timeout() {
    let world = World::start_with_api(&[], |api| api.limits.header_read_timeout = Duration::from_millis(300)).await;
    let addr = world.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: opsdeck\r\nX-Slow: ").await.unwrap();
    // The server closes the connection (at most a 408 first); a bounded wait for EOF.
    let mut seen = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return true,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(_) => return true, // reset by the server
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true), "the connection was not closed within 15 s");
    let text = String::from_utf8_lossy(&seen);
    assert!(!text.contains("200 OK"), "the half request was served: {text}");

    // A whole request on a fresh connection is served.
    let (status, _) = json(world.http.get(world.url("/healthz")).send().await.unwrap()).await;
    assert!(status == 200 || status == 503);
    world.stop().await;
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_refused_after_the_body_timeout() {
    let world = World::start_with_api(&[], |api| api.limits.body_timeout = Duration::from_millis(300)).await;
    let addr = world.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = "POST /api/payments/alipay/notify HTTP/1.1\r\nHost: opsdeck\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"out_trade_no=OD1&").await.unwrap();
    // The answer comes (and the connection ends) without the rest of the body: bounded wait.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer within 15 s to a body that stopped arriving");
    let text = String::from_utf8_lossy(&answer);
    let status = text.split_whitespace().nth(1).unwrap_or_default();
    assert!(status.starts_with('4'), "a 4xx for the unfinished body: {text}");
    world.stop().await;
}

/// A body trickled a byte at a time, each within the body timeout of the last, still ends: the
/// whole request is answered or dropped within twice the body timeout.
#[tokio::test]
async fn a_body_trickled_a_byte_at_a_time_is_cut_off() {
    let world = World::start_with_api(&[], |api| api.limits.body_timeout = Duration::from_millis(400)).await;
    let addr = world.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = "POST /api/payments/alipay/notify HTTP/1.1\r\nHost: opsdeck\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // The fault: one byte every 100 ms, never a gap as long as the body timeout.
    let trickle = tokio::spawn(async move {
        for _ in 0..600 {
            if writer.write_all(b"a").await.is_err() {
                return;
            }
            // The trickle's pace (the fault itself), not a wait.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), reader.read_to_end(&mut answer)).await;
    trickle.abort();
    assert!(read.is_ok(), "a trickled body held its connection for 15 s (the trickle lasts 60 s)");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "a 408 for the request that took too long: {text}");
    assert!(text.contains("request_timeout"), "{text}");
    world.stop().await;
}

/// One peer holds at most a quarter of the connections: its next one is closed at once, unserved,
/// and one it gives back is usable again.
#[tokio::test]
async fn one_peer_cannot_hold_every_connection() {
    let world = World::start_with_api(&[], |api| api.limits.max_connections = 8).await;
    let addr = world.base.trim_start_matches("http://").to_string();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        // A request head in progress: the connection is the server's to hold.
        stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        held.push(stream);
    }
    // The server has counted both once it closes the third (a bounded wait for that).
    let refused = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let mut third = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nHost: opsdeck\r\nConnection: close\r\n\r\n").await;
            let mut answer = Vec::new();
            let _ = third.read_to_end(&mut answer).await;
            if answer.is_empty() {
                return;
            }
        }
    })
    .await;
    assert!(refused.is_ok(), "a third connection of the same peer was served for 15 s");
    drop(held);
    // Given back: served again (bounded polling until the server has seen the two close).
    let served = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if world.http.get(world.url("/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            // Bounded polling: look again in 25 ms.
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "the peer's connections, given back, were not usable again within 15 s");
    world.stop().await;
}

#[tokio::test]
async fn the_open_routes_are_limited_per_address_and_the_intake_is_not() {
    let world = World::start_with_api(&[], |api| {
        api.limits.open_per_second = 1;
        api.limits.open_burst = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(world.http.get(world.url("/openapi.json")).send().await.unwrap().status().as_u16());
    }
    assert_eq!(&statuses[..3], [200, 200, 200], "the burst is served: {statuses:?}");
    assert!(statuses[3..].contains(&429), "the rest are limited: {statuses:?}");
    let limited = world.http.get(world.url("/healthz")).send().await.unwrap();
    assert!(limited.headers().get("retry-after").is_some(), "Retry-After is sent");
    expect_error(limited, 429, "rate_limited").await;
    // The notify shares the open routes' limit; the token's routes have none.
    let notify = world.http.post(world.url("/api/payments/alipay/notify")).form(&[("a", "b")]).send().await.unwrap();
    assert_eq!(notify.status().as_u16(), 429);
    for _ in 0..10 {
        let lookup = world.authed(Method::GET, "/api/ocr?url=https%3A%2F%2Fimg.example.com%2Fnone.jpg").send().await;
        assert_eq!(lookup.unwrap().status().as_u16(), 404);
    }
    world.stop().await;
}

#[tokio::test]
async fn healthz_without_a_token_says_only_up_or_down_when_the_database_refuses_us() {
    // MariaDB answering "Access denied for user 'opsdeck'@'…'" (a wrong password).
    let mysql = std::env::var("OPSDECK_TEST_MYSQL_URL").expect("OPSDECK_TEST_MYSQL_URL (scripts/test.sh sets it)");
    let mut url = url::Url::parse(&mysql).unwrap();
    url.set_password(Some("wrong-password-hunter2")).unwrap();
    url.set_path("/opsdeck_shop");
    let world = World::start_with(&[("database_url", toml_string(url.as_str()))]).await;
    let core = world.core.clone();
    let down = core.wait_for_health(|r| r.database.status == ComponentStatus::Unreachable && r.redis.is_ok());
    let report = tokio::time::timeout(Duration::from_secs(30), down).await.expect("the database reported down");
    let reason = report.database.reason.clone().unwrap_or_default();
    assert!(reason.contains("denied"), "the driver's text is in the core's report: {reason}");

    let response = world.http.get(world.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let text = response.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body, serde_json::json!({ "status": "down", "database": "down", "redis": "up" }));
    for secret in ["denied", "Access", "opsdeck", "hunter2", "127.0.0.1", url.host_str().unwrap(), "mysql", "redis:"] {
        assert!(!text.contains(secret), "{secret:?} in the open /healthz: {text}");
    }

    // With the API token: the report, reason and masked target included (no password).
    let (status, detailed) = json(world.authed(Method::GET, "/healthz").send().await.unwrap()).await;
    assert_eq!(status, 503);
    assert_eq!(detailed["database"]["status"], "unreachable");
    assert!(detailed["database"]["reason"].as_str().is_some_and(|r| r.contains("denied")), "{detailed}");
    assert!(!detailed.to_string().contains("hunter2"), "{detailed}");
    assert!(detailed["providers"].as_array().is_some_and(|p| p.len() == 7), "{detailed}");
    world.stop().await;
}
