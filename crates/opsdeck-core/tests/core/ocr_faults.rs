//! The OCR queue under faults injected for real: MariaDB made unreachable mid-run, and every SQL
//! statement delayed 0–50 ms while Baidu revokes the access token (a TCP proxy between the core
//! and MariaDB, `proxy.rs`).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use opsdeck_core::ocr::baidu::Side;
use opsdeck_core::ocr::model::{OcrQuery, OcrRequest};
use opsdeck_core::{Actor, Core};
use opsdeck_sandbox::baidu::{BaiduConfig, FakeBaidu};

use crate::helpers::{fresh_mysql_url, redis_url, toml_string, unique, until_within};
use crate::ocr::{counts, fake, max_in_any_second, start, url};
use crate::proxy::{FaultProxy, server_of};

/// Every request of the core (at most 500).
async fn all_requests(core: &Core) -> Vec<OcrRequest> {
    core.ocr_list(OcrQuery { limit: 500, ..OcrQuery::default() }, &Actor::system("tester")).await.unwrap().requests
}

/// Calls the fake saw per image URL.
fn calls_by_url(baidu: &FakeBaidu) -> HashMap<String, i64> {
    let mut calls = HashMap::new();
    for arrival in baidu.arrivals() {
        *calls.entry(arrival.url.unwrap_or_default()).or_insert(0) += 1;
    }
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_second_database_outage_under_fifty_requests_loses_none_and_calls_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let mysql = fresh_mysql_url().await;
    let proxy = FaultProxy::start(server_of(&mysql)).await;
    let baidu = fake(BaiduConfig { qps: 1000, latency: Duration::from_millis(40), ..BaiduConfig::default() }).await;
    let extra = [
        ("database_url", toml_string(&proxy.url_through(&mysql))),
        ("scheduler_enabled", "false".into()),
        ("ocr_qps", "10".into()),
        ("ocr_concurrency", "4".into()),
        ("ocr_lease_ms", "2000".into()),
        ("health_timeout_ms", "500".into()),
    ];
    let core = start(dir.path(), &redis_url(), &unique("t"), &baidu, &extra).await;
    let total = 50;
    for i in 0..total {
        core.ocr_submit(&url(&format!("outage{i}")), Side::Front).await.unwrap();
    }
    // Mid-run (some done, calls in progress), the database goes away for five seconds.
    until_within("the first requests are done", Duration::from_secs(30), || async {
        (counts(&core).await.done >= 5).then_some(())
    })
    .await;
    proxy.cut();
    let calls_at_cut = baidu.arrivals().len();
    // The outage's length is the fault itself, not a wait for something to happen.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let calls_during = baidu.arrivals().len() - calls_at_cut;
    proxy.restore();

    let counts = until_within("all 50 requests done after the outage", Duration::from_secs(60), || async {
        let counts = core.ocr_stats(&Actor::system("tester")).await.ok()?.counts;
        (counts.done + counts.dead == total).then_some(counts)
    })
    .await;
    assert_eq!((counts.done, counts.dead), (total, 0), "an outage delays requests, it never dead-letters them");
    assert!(calls_during <= 4, "no new call starts while the database is away ({calls_during} did)");
    let calls = calls_by_url(&baidu);
    for request in all_requests(&core).await {
        assert_eq!(calls.get(&request.url), Some(&1), "{} was called once", request.url);
        assert_eq!(request.attempts, 1, "attempts equal the calls Baidu saw: {}", request.url);
        let lookup = core.ocr_lookup(&request.url).await.unwrap().unwrap();
        assert_eq!(lookup.result.expect("a kept result")["request_id"], request.id);
    }
    core.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_sql_and_a_revoked_token_never_put_cap_plus_one_calls_into_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let mysql = fresh_mysql_url().await;
    let proxy = FaultProxy::start(server_of(&mysql)).await;
    proxy.set_latency(Duration::ZERO, Duration::from_millis(50));
    // The fake enforces the same cap: an excess would also show as error 18.
    let cap = 3;
    let baidu = fake(BaiduConfig { qps: cap, latency: Duration::from_millis(30), ..BaiduConfig::default() }).await;
    let prefix = unique("t");
    let extra = [
        ("database_url", toml_string(&proxy.url_through(&mysql))),
        ("scheduler_enabled", "false".into()),
        ("ocr_qps", cap.to_string()),
        ("ocr_concurrency", "4".into()),
    ];
    let mut cores = Vec::new();
    for _ in 0..3 {
        cores.push(start(dir.path(), &redis_url(), &prefix, &baidu, &extra).await);
    }
    let total = 24;
    for i in 0..total {
        cores[0].ocr_submit(&url(&format!("slow{i}")), Side::Front).await.unwrap();
    }
    until_within("a third done", Duration::from_secs(60), || async {
        (counts(&cores[0]).await.done >= total / 3).then_some(())
    })
    .await;
    baidu.revoke_tokens();
    until_within("all done", Duration::from_secs(90), || async {
        (counts(&cores[0]).await.done == total).then_some(())
    })
    .await;
    assert!(baidu.token_calls() >= 2, "the revoked token was replaced");
    let arrivals = baidu.arrivals();
    let times: Vec<SystemTime> = arrivals.iter().map(|a| a.at).collect();
    let busiest = max_in_any_second(&times);
    assert!(busiest <= cap as usize, "{busiest} calls in one second against a cap of {cap}");
    assert!(arrivals.iter().all(|a| a.error_code != Some(18)), "Baidu never had to refuse a call for the cap");
    let calls = calls_by_url(&baidu);
    for request in all_requests(&cores[0]).await {
        assert_eq!(Some(&request.attempts), calls.get(&request.url), "attempts equal calls: {}", request.url);
    }
    for core in cores {
        core.shutdown().await;
    }
}

/// A lease shorter than a call: the holder renews it while its call is out, so the other
/// instance never takes the message over mid-call, and a take-over could never be undone by
/// the old holder's renewal either. Two instances, lease 1 s, calls of 2.5 s: each image is
/// called exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_longer_than_the_lease_is_held_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(BaiduConfig { qps: 1000, latency: Duration::from_millis(2500), ..BaiduConfig::default() }).await;
    let prefix = unique("t");
    let extra =
        [("scheduler_enabled", "false".into()), ("ocr_lease_ms", "1000".into()), ("ocr_concurrency", "2".into())];
    let a = start(dir.path(), &redis_url(), &prefix, &baidu, &extra).await;
    let b = start(dir.path(), &redis_url(), &prefix, &baidu, &extra).await;
    let total = 6;
    for i in 0..total {
        a.ocr_submit(&url(&format!("long{i}")), Side::Front).await.unwrap();
    }
    until_within("all done", Duration::from_secs(60), || async { (counts(&a).await.done == total).then_some(()) })
        .await;
    let calls = calls_by_url(&baidu);
    for request in all_requests(&a).await {
        assert_eq!(calls.get(&request.url), Some(&1), "{} was called once", request.url);
        assert_eq!(request.attempts, 1);
    }
    a.shutdown().await;
    b.shutdown().await;
}
