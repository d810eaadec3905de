//! The OCR queue against the real Redis, SQLite and the fake Baidu from the sandbox crate.

use std::path::Path;
use std::time::{Duration, SystemTime};

use opsdeck_api::ErrorBody;
use opsdeck_core::OcrReconcileReport;
use opsdeck_core::ocr::baidu::Side;
use opsdeck_core::ocr::model::{OcrCounts, OcrQuery, OcrStatus, PauseKind};
use opsdeck_core::{Actor, Config, Core};
use opsdeck_sandbox::baidu::{BaiduConfig, FakeBaidu};

use crate::helpers::{OwnRedis, config_with, redis_url, toml_string, unique, until};

pub(crate) async fn fake(config: BaiduConfig) -> FakeBaidu {
    FakeBaidu::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

fn fast_fake() -> BaiduConfig {
    BaiduConfig { qps: 1000, latency: Duration::from_millis(5), ..BaiduConfig::default() }
}

/// A core on `dir`'s SQLite file (shared by every core given the same dir), calling `baidu`.
fn ocr_config(dir: &Path, redis: &str, prefix: &str, baidu: &FakeBaidu, extra: &[(&str, String)]) -> Config {
    let mut lines = vec![
        ("data_dir", toml_string(&dir.display().to_string())),
        ("redis_url", toml_string(redis)),
        ("redis_prefix", toml_string(prefix)),
        ("health_interval_ms", "200".into()),
        ("baidu_url", toml_string(&baidu.base_url)),
        ("baidu_api_key", toml_string("sandbox-api-key")),
        ("baidu_secret_key", toml_string("sandbox-secret-key")),
        ("ocr_qps", "100".into()),
        ("ocr_backoff_ms", "20".into()),
    ];
    lines.retain(|(key, _)| !extra.iter().any(|(k, _)| k == key));
    lines.extend(extra.iter().cloned());
    config_with(dir, &lines)
}

pub(crate) async fn start(dir: &Path, redis: &str, prefix: &str, baidu: &FakeBaidu, extra: &[(&str, String)]) -> Core {
    Core::start(ocr_config(dir, redis, prefix, baidu, extra)).await.unwrap()
}

pub(crate) async fn counts(core: &Core) -> OcrCounts {
    core.ocr_stats(&Actor::system("tester")).await.unwrap().counts
}

async fn status_of(core: &Core, id: i64) -> OcrStatus {
    core.ocr_get(id, &Actor::system("tester")).await.unwrap().status
}

async fn until_status(core: &Core, id: i64, want: OcrStatus) -> opsdeck_core::ocr::model::OcrRequest {
    until(&format!("request {id} becomes {want:?}"), || async {
        let request = core.ocr_get(id, &Actor::system("tester")).await.unwrap();
        (request.status == want).then_some(request)
    })
    .await
}

pub(crate) fn url(stem: &str) -> String {
    format!("https://img.example.com/{}.jpg", unique(stem))
}

#[tokio::test]
async fn bad_urls_are_refused_and_the_same_url_is_one_request() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(fast_fake()).await;
    // Paused, so nothing is called while the dedupe is checked.
    let core = start(dir.path(), &redis_url(), &unique("t"), &baidu, &[]).await;
    core.ocr_pause(&Actor::system("tester")).await.unwrap();
    for bad in ["", "ftp://img.example.com/a.jpg", "not a url", "https://", "javascript:alert(1)"] {
        let body: ErrorBody = core.ocr_submit(bad, Side::Front).await.unwrap_err().into();
        assert_eq!(
            (body.code.as_str(), body.field.as_deref()),
            ("image_url_invalid", Some("url")),
            "{bad:?}: {body:?}"
        );
        // The reason is a word the catalogues translate, never the URL library's text.
        let reason = body.params["reason"].as_str();
        assert!(["empty", "not_url", "scheme", "no_host", "spaces"].contains(&reason), "{bad:?}: {body:?}");
    }
    let long = format!("https://img.example.com/{}", "a".repeat(2100));
    assert!(core.ocr_submit(&long, Side::Front).await.is_err());
    assert_eq!(counts(&core).await, OcrCounts::default(), "nothing stored for bad input");

    let image = url("dedupe");
    let first = core.ocr_submit(&image, Side::Front).await.unwrap();
    assert!(!first.existing);
    let again = core.ocr_submit(&image, Side::Front).await.unwrap();
    assert_eq!((again.request_id, again.existing, again.status), (first.request_id, true, OcrStatus::Pending));
    let other_side: ErrorBody = core.ocr_submit(&image, Side::Back).await.unwrap_err().into();
    assert_eq!(other_side.field.as_deref(), Some("side"));
    assert_eq!(other_side.code, "ocr_side_taken");
    assert_eq!(other_side.params["side"], "front", "the side it was submitted as, a word the catalogues name");
    assert_eq!(other_side.params["id"], first.request_id.to_string());
    // Many at once (one batch): one row.
    let same = submit_concurrently(&core, &image, 20).await;
    assert!(same.iter().all(|id| *id == first.request_id));
    assert_eq!(counts(&core).await.pending, 1);
    assert!(baidu.arrivals().is_empty(), "paused: no call made");
    core.shutdown().await;
}

async fn submit_concurrently(core: &Core, image: &str, n: usize) -> Vec<i64> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let core = core.clone();
        let image = image.to_string();
        set.spawn(async move { core.ocr_submit(&image, Side::Front).await.unwrap().request_id });
    }
    let mut ids = Vec::new();
    while let Some(id) = set.join_next().await {
        ids.push(id.unwrap());
    }
    ids
}

#[tokio::test]
async fn requests_are_recognised_and_results_kept_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(fast_fake()).await;
    let prefix = unique("t");
    let core = start(dir.path(), &redis_url(), &prefix, &baidu, &[("ocr_result_ttl_seconds", "3600".into())]).await;
    let mut events = core.subscribe();
    let images: Vec<String> = (0..5).map(|i| url(&format!("card{i}"))).collect();
    let mut ids = Vec::new();
    for image in &images {
        ids.push(core.ocr_submit(image, Side::Front).await.unwrap().request_id);
    }
    for id in &ids {
        until_status(&core, *id, OcrStatus::Done).await;
    }
    // A result landing is pushed, with the number masked.
    let landed = until("an ocr_updated event for a done request", || {
        let got = match events.try_recv() {
            Ok(opsdeck_api::Event::OcrUpdated { request }) if request.status == OcrStatus::Done => Some(request),
            _ => None,
        };
        std::future::ready(got)
    })
    .await;
    let masked = serde_json::to_value(&landed.result).unwrap();
    assert!(masked["fields"]["id_number"].as_str().unwrap().contains("**********"), "{masked}");
    // Baidu's log id travels as text: it is larger than a JavaScript number holds exactly.
    assert!(masked["log_id"].as_str().is_some_and(|id| id.parse::<u64>().is_ok()), "{masked}");

    let mut redis = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    for image in &images {
        let lookup = core.ocr_lookup(image).await.unwrap().expect("known URL");
        let result = lookup.result.expect("a result");
        assert!(result["name"].as_str().is_some_and(|n| !n.is_empty()), "{result}");
        assert_eq!(result["code"].as_str().map(str::len), Some(18), "{result}");
        let key = format!("{prefix}:ocr:result:{image}");
        let kept: String = redis::cmd("GET").arg(&key).query_async(&mut redis).await.unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&kept).unwrap(), result);
        let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut redis).await.unwrap();
        assert!((1..=3600).contains(&ttl), "ttl {ttl}");
    }
    // The same URL again answers with the kept result and makes no call.
    let calls = baidu.arrivals().len();
    let again = core.ocr_submit(&images[0], Side::Front).await.unwrap();
    assert!(again.existing && again.status == OcrStatus::Done && again.result.is_some());
    assert_eq!(baidu.arrivals().len(), calls);
    assert_eq!(calls, images.len(), "one call per image");
    // The full number only by revealing (audited).
    let card = core.ocr_reveal(ids[0], &Actor::system("tester")).await.unwrap();
    assert_eq!(card.id_number.len(), 18);
    assert_eq!(core.audit_list(1, None, &Actor::system("tester")).await.unwrap().entries[0].action, "ocr.reveal");
    core.shutdown().await;
}

#[tokio::test]
async fn each_baidu_error_takes_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(fast_fake()).await;
    let core = start(dir.path(), &redis_url(), &unique("t"), &baidu, &[("ocr_max_attempts", "3".into())]).await;
    let submit = |stem: &str, query: &str| {
        let core = core.clone();
        let image = format!("{}?{query}", url(stem));
        async move { core.ocr_submit(&image, Side::Front).await.unwrap().request_id }
    };
    // Bad image: dead at once with Baidu's message.
    let bad = submit("bad", "fail=216201&times=1").await;
    let dead = until_status(&core, bad, OcrStatus::Dead).await;
    assert_eq!((dead.error_code, dead.attempts), (Some(216201), 1));
    assert!(dead.error.unwrap().contains("image format error"));
    // Transient twice, then fine: retried with backoff.
    let flaky = submit("flaky", "fail=282000&times=2").await;
    assert_eq!(until_status(&core, flaky, OcrStatus::Done).await.attempts, 3);
    // Transient for ever: dead after the configured attempts.
    let broken = submit("broken", "fail=1").await;
    let dead = until_status(&core, broken, OcrStatus::Dead).await;
    assert_eq!(dead.attempts, 3);
    assert!(dead.error.unwrap().starts_with("gave up after 3 attempts"));
    // Baidu's own QPS cap: not an attempt, requeued.
    let slowed = submit("slowed", "fail=18&times=1").await;
    assert_eq!(until_status(&core, slowed, OcrStatus::Done).await.attempts, 1);

    // The daily quota: the whole queue pauses until midnight in Shanghai.
    let quota = submit("quota", "fail=17&times=1").await;
    let pause =
        until("the quota pause", || async { core.ocr_stats(&Actor::system("tester")).await.unwrap().pause }).await;
    assert_eq!(pause.kind, PauseKind::Quota);
    let until_at = pause.until.expect("resumes by itself");
    let local = until_at.with_timezone(&chrono_tz::Asia::Shanghai);
    assert_eq!(local.format("%H:%M:%S").to_string(), "00:00:00");
    assert!(until_at > chrono::Utc::now() && until_at - chrono::Utc::now() <= chrono::Duration::hours(24));
    let waiting = until_status(&core, quota, OcrStatus::Pending).await;
    assert_eq!(waiting.attempts, 0, "a refused call is not an attempt");
    let queued = submit("queued-while-paused", "x=1").await;
    let calls = baidu.arrivals().len();
    core.ocr_resume(&Actor::system("tester")).await.unwrap();
    until_status(&core, quota, OcrStatus::Done).await;
    until_status(&core, queued, OcrStatus::Done).await;
    assert!(baidu.arrivals().len() >= calls + 2);

    // A configuration error: paused until staff resume.
    let denied = submit("denied", "fail=6&times=1").await;
    let pause =
        until("the configuration pause", || async { core.ocr_stats(&Actor::system("tester")).await.unwrap().pause })
            .await;
    assert_eq!((pause.kind, pause.until), (PauseKind::Misconfigured, None));
    assert!(pause.reason.contains("No permission"), "{}", pause.reason);
    until_status(&core, denied, OcrStatus::Pending).await;
    core.ocr_resume(&Actor::system("tester")).await.unwrap();
    until_status(&core, denied, OcrStatus::Done).await;

    // Dead requests retried by staff (a double retry retries once), then purged.
    let none: ErrorBody = core.ocr_retry(&[], &Actor::system("tester")).await.unwrap_err().into();
    assert_eq!((none.code.as_str(), none.field.as_deref()), ("ocr_retry_count", Some("ids")));
    let outcome = core.ocr_retry(&[bad, bad, broken, flaky], &Actor::system("tester")).await.unwrap();
    assert_eq!((outcome.retried, outcome.skipped), (2, 1));
    let retried = until_status(&core, bad, OcrStatus::Done).await;
    assert_eq!(retried.attempts, 1, "attempts count afresh");
    until_status(&core, broken, OcrStatus::Dead).await;
    assert_eq!(core.ocr_purge_dead(&Actor::system("tester")).await.unwrap(), 1);
    assert_eq!(counts(&core).await.dead, 0);
    core.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_call_retried() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(fast_fake()).await;
    let core = start(dir.path(), &redis_url(), &unique("t"), &baidu, &[]).await;
    let first = core.ocr_submit(&url("t1"), Side::Back).await.unwrap().request_id;
    until_status(&core, first, OcrStatus::Done).await;
    assert_eq!(baidu.token_calls(), 1);
    baidu.expire_tokens();
    let second = core.ocr_submit(&url("t2"), Side::Back).await.unwrap().request_id;
    let done = until_status(&core, second, OcrStatus::Done).await;
    // The refused call and the one after the refresh each took a slot and each counts.
    let calls = baidu.arrivals().iter().filter(|a| a.url.as_deref() == Some(done.url.as_str())).count();
    assert_eq!(calls, 2);
    assert_eq!(done.attempts, 2, "attempts are the calls Baidu saw");
    assert_eq!(baidu.token_calls(), 2);
    core.shutdown().await;
}

/// Calls in the busiest one-second window of the fake's arrival log.
pub(crate) fn max_in_any_second(arrivals: &[SystemTime]) -> usize {
    let mut times: Vec<SystemTime> = arrivals.to_vec();
    times.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]).unwrap_or_default() >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

#[tokio::test]
async fn three_instances_never_exceed_the_cap_and_a_cap_change_applies_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // The fake enforces the same cap: any excess would show as error 18.
    let baidu = fake(BaiduConfig { qps: 5, latency: Duration::from_millis(30), ..BaiduConfig::default() }).await;
    let prefix = unique("t");
    let extra = [("ocr_qps", "5".into()), ("ocr_concurrency", "4".into())];
    let mut cores = Vec::new();
    for _ in 0..3 {
        cores.push(start(dir.path(), &redis_url(), &prefix, &baidu, &extra).await);
    }
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(cores[i % 3].ocr_submit(&url("capped"), Side::Front).await.unwrap().request_id);
    }
    until("all 20 done", || async { (counts(&cores[0]).await.done == 20).then_some(()) }).await;
    let arrivals = baidu.arrivals();
    assert_eq!(
        arrivals.len(),
        20,
        "one call each, no refusals: {:?}",
        arrivals.iter().map(|a| a.error_code).collect::<Vec<_>>()
    );
    assert!(arrivals.iter().all(|a| a.error_code.is_none()));
    let times: Vec<SystemTime> = arrivals.iter().map(|a| a.at).collect();
    assert!(max_in_any_second(&times) <= 5, "cap 5 exceeded: {}", max_in_any_second(&times));
    let instances: std::collections::HashSet<String> = {
        let mut seen = std::collections::HashSet::new();
        for id in &ids {
            seen.insert(cores[0].ocr_get(*id, &Actor::system("tester")).await.unwrap().instance.unwrap());
        }
        seen
    };
    assert!(instances.len() >= 2, "the work is shared: {instances:?}");

    // Lower the cap from one console: every instance obeys.
    let stats = cores[1].ocr_set_cap(2.0, &Actor::system("tester")).await.unwrap();
    assert_eq!((stats.cap, stats.cap_source.as_str()), (2.0, "console"));
    let body: ErrorBody = cores[1].ocr_set_cap(0.0, &Actor::system("tester")).await.unwrap_err().into();
    assert_eq!(body.field.as_deref(), Some("cap"));
    assert_eq!(
        (body.code.as_str(), body.params["min"].as_str(), body.params["max"].as_str()),
        ("ocr_cap_out_of_range", "0.1", "1000")
    );
    let before = baidu.arrivals().len();
    for i in 0..8 {
        cores[i % 3].ocr_submit(&url("slower"), Side::Front).await.unwrap();
    }
    until("all 28 done", || async { (counts(&cores[0]).await.done == 28).then_some(()) }).await;
    let later: Vec<SystemTime> = baidu.arrivals()[before..].iter().map(|a| a.at).collect();
    assert!(max_in_any_second(&later) <= 2, "cap 2 exceeded: {}", max_in_any_second(&later));
    for core in cores {
        core.shutdown().await;
    }
}

#[tokio::test]
async fn after_redis_loses_everything_reconcile_restores_the_queue_the_pause_and_the_cap_from_sql() {
    let dir = tempfile::tempdir().unwrap();
    let own = OwnRedis::start(dir.path());
    let baidu = fake(fast_fake()).await;
    // No scheduler: the default reconcile job must not race the passes this test counts.
    let core = start(dir.path(), &own.url(), &unique("t"), &baidu, &[("scheduler_enabled", "false".into())]).await;
    let done = core.ocr_submit(&url("kept"), Side::Front).await.unwrap().request_id;
    until_status(&core, done, OcrStatus::Done).await;
    let staff = Actor::system("tester");
    core.ocr_set_cap(7.0, &staff).await.unwrap();
    core.ocr_pause(&staff).await.unwrap();
    let mut waiting = Vec::new();
    for i in 0..5 {
        waiting.push(core.ocr_submit(&url(&format!("lost{i}")), Side::Front).await.unwrap().request_id);
    }
    let mut redis = redis::Client::open(own.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("FLUSHALL").query_async(&mut redis).await.unwrap();
    // With the stream gone nothing is called.
    for id in &waiting {
        assert_eq!(status_of(&core, *id).await, OcrStatus::Pending);
    }
    let kept = core.ocr_get(done, &Actor::system("tester")).await.unwrap();
    // Requests touched in the last seconds are left alone (their submission may be on its way),
    // so each becomes visible to reconcile at its own moment: passes repeat, and their repairs
    // add up to exactly what Redis lost.
    let totals = std::sync::Arc::new(std::sync::Mutex::new(OcrReconcileReport::default()));
    until("reconcile finds all five lost requests", || {
        let core = core.clone();
        let totals = totals.clone();
        async move {
            let report = core.ocr_reconcile().await.unwrap();
            let mut totals = totals.lock().unwrap();
            totals.requeued += report.requeued;
            totals.results_restored += report.results_restored;
            totals.controls_restored += report.controls_restored;
            (totals.requeued >= 5).then_some(())
        }
    })
    .await;
    let totals = *totals.lock().unwrap();
    assert_eq!(
        totals,
        OcrReconcileReport { requeued: 5, results_restored: 1, controls_restored: 2 },
        "the lost requests, the kept result, and the cap and the pause"
    );
    // The queue is still paused (a flush must not resume it) and the cap is the staff's.
    let stats = core.ocr_stats(&Actor::system("tester")).await.unwrap();
    assert_eq!(stats.pause.map(|p| p.kind), Some(PauseKind::Manual));
    assert_eq!((stats.cap, stats.cap_source.as_str()), (7.0, "console"));
    let raw_pause: Option<String> = redis::cmd("GET")
        .arg(format!("{}:ocr:pause", core.config().redis_prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(raw_pause.is_some(), "the gate every instance reads is back in Redis");
    assert_eq!(baidu.arrivals().len(), 1, "nothing was called while paused");
    core.ocr_resume(&staff).await.unwrap();
    for id in &waiting {
        until_status(&core, *id, OcrStatus::Done).await;
    }
    let lookup = core.ocr_lookup(&kept.url).await.unwrap().unwrap();
    assert!(lookup.result.is_some());
    // A second pass finds nothing to repair, and each image was called once.
    assert_eq!(core.ocr_reconcile().await.unwrap(), OcrReconcileReport::default());
    assert_eq!(baidu.arrivals().len(), 6);
    core.shutdown().await;
}

#[tokio::test]
async fn the_ocr_tables_work_on_mariadb_too() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(fast_fake()).await;
    let mysql = crate::helpers::fresh_mysql_url().await;
    let core = start(dir.path(), &redis_url(), &unique("t"), &baidu, &[("database_url", toml_string(&mysql))]).await;
    let image = url("maria");
    let mut ids = submit_concurrently(&core, &image, 10).await;
    ids.dedup();
    assert_eq!(ids.len(), 1, "one row for one URL");
    let done = until_status(&core, ids[0], OcrStatus::Done).await;
    assert!(done.result.is_some());
    let page = core
        .ocr_list(OcrQuery { search: Some("maria".into()), limit: 10, ..OcrQuery::default() }, &Actor::system("tester"))
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    let none = core
        .ocr_list(OcrQuery { search: Some("100%_".into()), limit: 10, ..OcrQuery::default() }, &Actor::system("tester"))
        .await
        .unwrap();
    assert_eq!(none.total, 0, "LIKE wildcards in a search are literal");
    core.shutdown().await;
}
