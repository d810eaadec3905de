//! `kill -9` of a dispatcher process in the middle of its calls: every request still ends done
//! (or dead), none is lost, and each has one result.

use std::process::Stdio;
use std::time::Duration;

use opsdeck_core::ocr::baidu::Side;
use opsdeck_core::ocr::model::{OcrQuery, OcrStatus};
use opsdeck_core::{Actor, Config, Core};
use opsdeck_sandbox::baidu::{BaiduConfig, FakeBaidu};

use super::poll::until_within;
use super::{Daemon, opsdeckd};

/// `opsdeckd run` with `settings` (`OPSDECK_…` variables) and, with `listen`, its HTTP API.
fn spawn(dir: &std::path::Path, settings: &[(&str, String)], listen: Option<u16>) -> Daemon {
    let mut cmd = opsdeckd(dir);
    for (key, value) in settings {
        cmd.env(key, value);
    }
    cmd.env("OPSDECK_LOG", "warn").arg("run");
    if let Some(port) = listen {
        cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
    }
    Daemon(cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
}

/// An in-process core with the same settings, as a configuration file (the environment of this
/// process stays as it is).
async fn core_like(dir: &std::path::Path, name: &str, settings: &[(&str, String)]) -> Core {
    let file = dir.join(format!("{name}.toml"));
    let body: String = settings
        .iter()
        .map(|(key, value)| {
            let key = key.trim_start_matches("OPSDECK_").to_ascii_lowercase();
            let bare = value == "true" || value == "false" || value.parse::<f64>().is_ok();
            if bare { format!("{key} = {value}\n") } else { format!("{key} = {value:?}\n") }
        })
        .collect();
    std::fs::write(&file, body).unwrap();
    Core::start(Config::from_layers(dir.to_path_buf(), Some(&file)).unwrap()).await.unwrap()
}

/// The settings of an instance on the test Redis (a fresh prefix), `dir`'s SQLite file and
/// `baidu`, with `extra` added.
fn instance_settings(
    dir: &std::path::Path,
    stem: &str,
    baidu: &FakeBaidu,
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let redis = std::env::var("OPSDECK_TEST_REDIS_URL")
        .expect("OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh)");
    let mut settings: Vec<(&'static str, String)> = vec![
        ("OPSDECK_DATA_DIR", dir.display().to_string()),
        ("OPSDECK_REDIS_URL", redis),
        ("OPSDECK_REDIS_PREFIX", format!("{stem}-{}", std::process::id())),
        ("OPSDECK_BAIDU_URL", baidu.base_url.clone()),
        ("OPSDECK_BAIDU_API_KEY", "sandbox-api-key".into()),
        ("OPSDECK_BAIDU_SECRET_KEY", "sandbox-secret-key".into()),
        ("OPSDECK_API_TOKEN", TOKEN.into()),
    ];
    for (key, value) in extra {
        settings.retain(|(k, _)| k != key);
        settings.push((key, value.to_string()));
    }
    settings
}

const TOKEN: &str = "ocr-kill-test-token-0123456789";

/// A free loopback port (bound, then released for the daemon).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Submits `urls` through an instance's HTTP intake once it answers.
async fn submit_over_http(port: u16, urls: &[String]) {
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    until_within("the instance's API answers", Duration::from_secs(30), || async {
        http.get(format!("{base}/healthz")).send().await.ok().map(|_| ())
    })
    .await;
    for url in urls {
        let answer = http
            .post(format!("{base}/api/ocr"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "url": url, "side": "front" }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::ACCEPTED);
    }
}

async fn slow_baidu(latency: Duration) -> FakeBaidu {
    let config = BaiduConfig { qps: 1000, latency, ..BaiduConfig::default() };
    FakeBaidu::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_killed_mid_call_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Slow answers, so calls are in flight when the process dies.
    let baidu = slow_baidu(Duration::from_millis(400)).await;
    let settings = instance_settings(
        dir.path(),
        "kill",
        &baidu,
        &[
            ("OPSDECK_OCR_QPS", "40"),
            ("OPSDECK_OCR_CONCURRENCY", "4"),
            ("OPSDECK_OCR_LEASE_MS", "2000"),
            ("OPSDECK_OCR_BACKOFF_MS", "50"),
        ],
    );
    let mut victim = spawn(dir.path(), &settings, None);
    let _survivor = spawn(dir.path(), &settings, None);
    // This process submits (and dispatches too, like any instance).
    let core = core_like(dir.path(), "submitter", &settings).await;

    let total = 40;
    for i in 0..total {
        let url = format!("https://img.example.com/kill-{}-{i}.jpg", std::process::id());
        core.ocr_submit(&url, Side::Front).await.unwrap();
    }
    // Wait (bounded) until the victim holds calls in flight, then kill it without warning.
    let marker = format!("-{}-", victim.0.id());
    let held: Vec<i64> = until_within("the victim took a request", Duration::from_secs(30), || async {
        let page = core
            .ocr_list(
                OcrQuery { status: Some(OcrStatus::InFlight), limit: 100, ..OcrQuery::default() },
                &Actor::system("tester"),
            )
            .await
            .unwrap();
        let held: Vec<i64> = page
            .requests
            .iter()
            .filter(|r| r.instance.as_deref().is_some_and(|i| i.contains(&marker)))
            .map(|r| r.id)
            .collect();
        (!held.is_empty()).then_some(held)
    })
    .await;
    let _ = victim.0.kill();
    let _ = victim.0.wait();

    let counts = until_within("every request done or dead", Duration::from_secs(60), || async {
        let counts = core.ocr_stats(&Actor::system("tester")).await.unwrap().counts;
        (counts.done + counts.dead == total).then_some(counts)
    })
    .await;
    assert_eq!(counts.dead, 0, "nothing needed the dead letters");
    // The requests the victim held were finished by another instance, each with one result.
    for id in held {
        let request = core.ocr_get(id, &Actor::system("tester")).await.unwrap();
        assert_eq!(request.status, OcrStatus::Done);
        assert!(!request.instance.unwrap().contains(&marker), "finished by a survivor");
    }
    let page = core.ocr_list(OcrQuery { limit: 100, ..OcrQuery::default() }, &Actor::system("tester")).await.unwrap();
    assert_eq!(page.total, total);
    for request in &page.requests {
        let lookup = core.ocr_lookup(&request.url).await.unwrap().unwrap();
        assert_eq!(lookup.result.expect("a kept result")["request_id"], request.id);
    }
    core.shutdown().await;
}

/// The issue-15 case: instance A holds every message (cap 2, four requests, slow answers) and
/// is SIGKILLed; instance B starts afterwards on the same Redis and database and has nothing new
/// to read. B must still take A's messages over once their lease lapses (an idle reader waits
/// in a blocking read holding all its permits), and each request's attempts in SQL must equal
/// the calls Baidu saw for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_instance_takes_over_what_a_killed_one_held() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = slow_baidu(Duration::from_secs(3)).await;
    let lease_ms = 2000;
    let settings = instance_settings(
        dir.path(),
        "idle",
        &baidu,
        &[
            ("OPSDECK_OCR_QPS", "2"),
            ("OPSDECK_OCR_CONCURRENCY", "4"),
            ("OPSDECK_OCR_LEASE_MS", &lease_ms.to_string()),
            ("OPSDECK_SCHEDULER_ENABLED", "false"),
        ],
    );
    let port = free_port();
    let mut a = spawn(dir.path(), &settings, Some(port));
    let urls: Vec<String> =
        (0..4).map(|i| format!("https://img.example.com/idle-{}-{i}.jpg", std::process::id())).collect();
    submit_over_http(port, &urls).await;
    // A holds all four (two calls at Baidu, two waiting for their slot under cap 2): kill it.
    until_within("instance A's calls reach Baidu", Duration::from_secs(30), || async {
        (baidu.arrivals().len() >= 2).then_some(())
    })
    .await;
    let _ = a.0.kill();
    let _ = a.0.wait();
    let calls_by_a = baidu.arrivals().len();

    // B: the same settings, started after the kill, with nothing new to read.
    let b = core_like(dir.path(), "b", &settings).await;
    // Within the lease, a take-over scan and one slow call (3 s), with room to spare.
    let bound = Duration::from_millis(lease_ms) + Duration::from_secs(12);
    let counts = until_within("every request done after the kill", bound, || async {
        let counts = b.ocr_stats(&Actor::system("tester")).await.ok()?.counts;
        (counts.done + counts.dead == 4).then_some(counts)
    })
    .await;
    assert_eq!((counts.done, counts.dead), (4, 0));
    let arrivals = baidu.arrivals();
    assert!(arrivals.len() > calls_by_a, "B called Baidu for what A held");
    for url in &urls {
        let calls = arrivals.iter().filter(|a| a.url.as_deref() == Some(url.as_str())).count() as i64;
        let lookup = b.ocr_lookup(url).await.unwrap().unwrap();
        let request = b.ocr_get(lookup.request_id, &Actor::system("tester")).await.unwrap();
        assert_eq!(request.attempts, calls, "attempts in SQL equal the calls Baidu saw for {url}");
        assert!(lookup.result.is_some(), "a kept result for {url}");
    }
    b.shutdown().await;
}

/// A request whose calls kill their instance (here: each holder is SIGKILLed while its call is
/// out) is dead once it was delivered more than `ocr_max_deliveries` times with as many calls,
/// instead of killing instances for ever; the reason says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_kills_its_instances_is_dead_after_max_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = slow_baidu(Duration::from_secs(30)).await;
    let settings = instance_settings(
        dir.path(),
        "poison",
        &baidu,
        &[
            ("OPSDECK_OCR_LEASE_MS", "1000"),
            ("OPSDECK_OCR_MAX_DELIVERIES", "2"),
            ("OPSDECK_SCHEDULER_ENABLED", "false"),
        ],
    );
    let url = format!("https://img.example.com/poison-{}.jpg", std::process::id());
    for round in 0..2 {
        let port = free_port();
        let mut holder = spawn(dir.path(), &settings, Some(port));
        if round == 0 {
            submit_over_http(port, std::slice::from_ref(&url)).await;
        }
        until_within("the holder's call reaches Baidu", Duration::from_secs(30), || async {
            (baidu.arrivals().len() > round).then_some(())
        })
        .await;
        let _ = holder.0.kill();
        let _ = holder.0.wait();
    }
    let survivor = core_like(dir.path(), "survivor", &settings).await;
    let lookup = until_within("the request is dead", Duration::from_secs(20), || async {
        let lookup = survivor.ocr_lookup(&url).await.ok()??;
        (lookup.status == OcrStatus::Dead).then_some(lookup)
    })
    .await;
    assert_eq!(baidu.arrivals().len(), 2, "no third call");
    let reason = lookup.error.unwrap();
    assert!(reason.contains("delivered 3 times") && reason.contains("called 2 times"), "{reason}");
    survivor.shutdown().await;
}
