//! `kill -9` of a dispatcher process in the middle of its calls: every request still ends done
//! (or dead), none is lost, and each has one result.

use std::process::Stdio;
use std::time::Duration;

use opsdeck_core::ocr::baidu::Side;
use opsdeck_core::ocr::model::{OcrQuery, OcrStatus};
use opsdeck_core::{Config, Core};
use opsdeck_sandbox::baidu::{BaiduConfig, FakeBaidu};

use super::poll::until_within;
use super::{Daemon, opsdeckd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_killed_mid_call_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let redis = std::env::var("OPSDECK_TEST_REDIS_URL")
        .expect("OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh)");
    // Slow answers, so calls are in flight when the process dies.
    let baidu = FakeBaidu::start(
        "127.0.0.1:0".parse().unwrap(),
        BaiduConfig { qps: 1000, latency: Duration::from_millis(400), ..BaiduConfig::default() },
    )
    .await
    .unwrap();
    let prefix = format!("kill-{}", std::process::id());
    let settings = [
        ("OPSDECK_DATA_DIR", dir.path().display().to_string()),
        ("OPSDECK_REDIS_URL", redis.clone()),
        ("OPSDECK_REDIS_PREFIX", prefix.clone()),
        ("OPSDECK_BAIDU_URL", baidu.base_url.clone()),
        ("OPSDECK_BAIDU_API_KEY", "sandbox-api-key".into()),
        ("OPSDECK_BAIDU_SECRET_KEY", "sandbox-secret-key".into()),
        ("OPSDECK_OCR_QPS", "40".into()),
        ("OPSDECK_OCR_CONCURRENCY", "4".into()),
        ("OPSDECK_OCR_LEASE_MS", "2000".into()),
        ("OPSDECK_OCR_BACKOFF_MS", "50".into()),
    ];
    let spawn = || {
        let mut cmd = opsdeckd(dir.path());
        for (key, value) in &settings {
            cmd.env(key, value);
        }
        Daemon(cmd.env("OPSDECK_LOG", "warn").arg("run").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
    };
    let mut victim = spawn();
    let _survivor = spawn();
    // This process submits (and dispatches too, like any instance).
    // The same settings as a configuration file (the environment of this process stays as is).
    let file = dir.path().join("submitter.toml");
    let body: String = settings
        .iter()
        .map(|(key, value)| {
            let key = key.trim_start_matches("OPSDECK_").to_ascii_lowercase();
            let quoted = value.parse::<f64>().is_err();
            if quoted { format!("{key} = {value:?}\n") } else { format!("{key} = {value}\n") }
        })
        .collect();
    std::fs::write(&file, body).unwrap();
    let config = Config::from_layers(dir.path().to_path_buf(), Some(&file)).unwrap();
    let core = Core::start(config).await.unwrap();

    let total = 40;
    for i in 0..total {
        let url = format!("https://img.example.com/kill-{}-{i}.jpg", std::process::id());
        core.ocr_submit(&url, Side::Front).await.unwrap();
    }
    // Wait (bounded) until the victim holds calls in flight, then kill it without warning.
    let marker = format!("-{}-", victim.0.id());
    let held: Vec<i64> = until_within("the victim took a request", Duration::from_secs(30), || async {
        let page = core
            .ocr_list(OcrQuery { status: Some(OcrStatus::InFlight), limit: 100, ..OcrQuery::default() })
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
        let counts = core.ocr_stats().await.unwrap().counts;
        (counts.done + counts.dead == total).then_some(counts)
    })
    .await;
    assert_eq!(counts.dead, 0, "nothing needed the dead letters");
    // The requests the victim held were finished by another instance, each with one result.
    for id in held {
        let request = core.ocr_get(id).await.unwrap();
        assert_eq!(request.status, OcrStatus::Done);
        assert!(!request.instance.unwrap().contains(&marker), "finished by a survivor");
    }
    let page = core.ocr_list(OcrQuery { limit: 100, ..OcrQuery::default() }).await.unwrap();
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
    let redis = std::env::var("OPSDECK_TEST_REDIS_URL")
        .expect("OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh)");
    let baidu = FakeBaidu::start(
        "127.0.0.1:0".parse().unwrap(),
        BaiduConfig { qps: 1000, latency: Duration::from_secs(3), ..BaiduConfig::default() },
    )
    .await
    .unwrap();
    let prefix = format!("idle-{}", std::process::id());
    let token = "ocr-kill-test-token-0123456789";
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let lease_ms = 2000;
    let settings = [
        ("OPSDECK_DATA_DIR", dir.path().display().to_string()),
        ("OPSDECK_REDIS_URL", redis.clone()),
        ("OPSDECK_REDIS_PREFIX", prefix.clone()),
        ("OPSDECK_BAIDU_URL", baidu.base_url.clone()),
        ("OPSDECK_BAIDU_API_KEY", "sandbox-api-key".into()),
        ("OPSDECK_BAIDU_SECRET_KEY", "sandbox-secret-key".into()),
        ("OPSDECK_OCR_QPS", "2".into()),
        ("OPSDECK_OCR_CONCURRENCY", "4".into()),
        ("OPSDECK_OCR_LEASE_MS", lease_ms.to_string()),
        ("OPSDECK_SCHEDULER_ENABLED", "false".into()),
        ("OPSDECK_API_TOKEN", token.into()),
    ];
    let mut cmd = opsdeckd(dir.path());
    for (key, value) in &settings {
        cmd.env(key, value);
    }
    let mut a = Daemon(
        cmd.env("OPSDECK_LOG", "warn")
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    until_within("instance A answers", Duration::from_secs(30), || async {
        http.get(format!("{base}/healthz")).send().await.ok().map(|_| ())
    })
    .await;
    let urls: Vec<String> =
        (0..4).map(|i| format!("https://img.example.com/idle-{}-{i}.jpg", std::process::id())).collect();
    for url in &urls {
        let answer = http
            .post(format!("{base}/api/ocr"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "url": url, "side": "front" }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::ACCEPTED);
    }
    // A holds all four (two calls at Baidu, two waiting for their slot under cap 2): kill it.
    until_within("instance A's calls reach Baidu", Duration::from_secs(30), || async {
        (baidu.arrivals().len() >= 2).then_some(())
    })
    .await;
    let _ = a.0.kill();
    let _ = a.0.wait();
    let calls_by_a = baidu.arrivals().len();

    // B: the same settings, started after the kill, with nothing new to read.
    let file = dir.path().join("b.toml");
    let body: String = settings
        .iter()
        .map(|(key, value)| {
            let key = key.trim_start_matches("OPSDECK_").to_ascii_lowercase();
            match value.as_str() {
                "false" | "true" => format!("{key} = {value}\n"),
                _ if value.parse::<f64>().is_ok() => format!("{key} = {value}\n"),
                _ => format!("{key} = {value:?}\n"),
            }
        })
        .collect();
    std::fs::write(&file, body).unwrap();
    let b = Core::start(Config::from_layers(dir.path().to_path_buf(), Some(&file)).unwrap()).await.unwrap();
    // Within the lease, a take-over scan and one slow call (3 s), with room to spare.
    let bound = Duration::from_millis(lease_ms) + Duration::from_secs(12);
    let counts = until_within("every request done after the kill", bound, || async {
        let counts = b.ocr_stats().await.ok()?.counts;
        (counts.done + counts.dead == 4).then_some(counts)
    })
    .await;
    assert_eq!((counts.done, counts.dead), (4, 0));
    let arrivals = baidu.arrivals();
    assert!(arrivals.len() > calls_by_a, "B called Baidu for what A held");
    for url in &urls {
        let calls = arrivals.iter().filter(|a| a.url.as_deref() == Some(url.as_str())).count() as i64;
        let lookup = b.ocr_lookup(url).await.unwrap().unwrap();
        let request = b.ocr_get(lookup.request_id).await.unwrap();
        assert_eq!(request.attempts, calls, "attempts in SQL equal the calls Baidu saw for {url}");
        assert!(lookup.result.is_some(), "a kept result for {url}");
    }
    b.shutdown().await;
}
