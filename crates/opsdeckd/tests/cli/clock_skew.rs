//! Two daemons whose clocks disagree by 2 s (libfaketime on one of them, for real): a job with
//! `max_instances = 1` never runs twice at once, because every lease and slot is scored by
//! Redis's clock, not by the instances'.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opsdeck_api::jobs::{JobDraft, JobPolicy, RunOutcome, RunQuery, TriggerSpec};
use opsdeck_core::{Actor, Config, Core};
use serde_json::json;

use super::poll::until_within;
use super::{Daemon, opsdeckd};

/// libfaketime's preload library (Debian's `faketime` package, in the test command's packages).
fn libfaketime() -> String {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
        "/usr/local/lib/faketime/libfaketime.so.1",
    ];
    candidates.iter().find(|p| std::path::Path::new(p).exists()).map(|p| p.to_string()).unwrap_or_else(|| {
        panic!("libfaketime is not installed (the faketime package; scripts/lib.sh TEST_PACKAGES): {candidates:?}")
    })
}

/// An HTTP server on loopback that holds each request for `hold` before answering 200, and
/// counts the requests in flight at once (the most it saw) and in all. A request whose client
/// goes away (a run aborted because its instance lost the claim) stops counting at once: the
/// run it belonged to is over, even if a server that did not notice would still be working.
struct SlowServer {
    url: String,
    most_at_once: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
    /// Requests whose client hung up before the answer.
    abandoned: Arc<AtomicUsize>,
}

impl SlowServer {
    async fn start(hold: Duration) -> SlowServer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/work", listener.local_addr().unwrap());
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most_at_once = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let abandoned = Arc::new(AtomicUsize::new(0));
        let (most, done, gone) = (most_at_once.clone(), served.clone(), abandoned.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (in_flight, most, done, abandoned) = (in_flight.clone(), most.clone(), done.clone(), gone.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut chunk = [0u8; 2048];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // The run's work: it lasts `hold`, so that the next instant comes while it runs,
                    // unless the client hangs up first (its run was aborted).
                    let finished = tokio::select! {
                        _ = tokio::time::sleep(hold) => true,
                        _ = socket.read(&mut chunk) => false,
                    };
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    if finished {
                        done.fetch_add(1, Ordering::SeqCst);
                        let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                        let _ = socket.write_all(answer.as_bytes()).await;
                    } else {
                        abandoned.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        SlowServer { url, most_at_once, served, abandoned }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_clock_2_s_ahead_max_instances_1_never_overlaps() {
    let library = libfaketime();
    let dir = tempfile::tempdir().unwrap();
    let redis = std::env::var("OPSDECK_TEST_REDIS_URL")
        .expect("OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh)");
    let settings = [
        ("data_dir", dir.path().display().to_string()),
        ("redis_url", redis),
        ("redis_prefix", format!("skew-{}", std::process::id())),
    ];
    // This process creates the job and watches; only the daemons fire it.
    let file = dir.path().join("watcher.toml");
    let body: String = settings.iter().map(|(k, v)| format!("{k} = '''{v}'''\n")).collect();
    std::fs::write(&file, format!("{body}scheduler_enabled = false\n")).unwrap();
    let mut watcher_config = Config::from_layers(dir.path().to_path_buf(), Some(&file)).unwrap();
    // The daemons have no provider configured: sandbox mode, and the database marked so. The
    // watcher shares their database, so it runs in the same mode (it starts no fake).
    watcher_config.sandbox_mode = true;
    let watcher = Core::start(watcher_config).await.unwrap();
    let server = SlowServer::start(Duration::from_millis(1500)).await;
    let draft = JobDraft {
        name: "skewed".into(),
        kind: "http_get".into(),
        trigger: TriggerSpec::Interval { every_seconds: 1, start: None, end: None },
        timezone: "Asia/Shanghai".into(),
        args: json!({ "url": server.url }),
        policy: JobPolicy { max_instances: 1, ..JobPolicy::default() },
    };
    let job = watcher.job_create(draft, &Actor::system("test")).await.unwrap();

    let spawn = |skew: Option<&str>| {
        let mut cmd = opsdeckd(dir.path());
        for (key, value) in &settings {
            cmd.env(format!("OPSDECK_{}", key.to_ascii_uppercase()), value);
        }
        if let Some(offset) = skew {
            // The wall clock moves 2 s ahead; the monotonic clock (tokio's timers) does not, nor
            // does the kernel's: a wall-clock timer (timerfd, a raw syscall libfaketime cannot
            // see) fires by the real clock, so this instance's runs wait 2 s for their instants
            // after claiming them.
            cmd.env("LD_PRELOAD", &library).env("FAKETIME", offset).env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        Daemon(cmd.env("OPSDECK_LOG", "warn").arg("run").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
    };
    let _honest = spawn(None);
    let _ahead = spawn(Some("+2s"));

    // The fault is real: the skewed daemon records runs that end in this process's future.
    let query = || RunQuery { job_id: Some(job.id), limit: 500, ..RunQuery::default() };
    until_within("the daemon with the clock 2 s ahead records runs", Duration::from_secs(40), || async {
        let runs = watcher.runs_list(query(), &Actor::system("tester")).await.unwrap().runs;
        let now = chrono::Utc::now();
        runs.iter().any(|r| r.finished_at.is_some_and(|f| f - now > chrono::Duration::milliseconds(1000))).then_some(())
    })
    .await;
    until_within("12 runs of the job done", Duration::from_secs(60), || async {
        (server.served.load(Ordering::SeqCst) >= 12).then_some(())
    })
    .await;

    let runs = watcher.runs_list(query(), &Actor::system("tester")).await.unwrap().runs;
    let instances: std::collections::HashSet<&str> = runs.iter().map(|r| r.instance.as_str()).collect();
    assert!(instances.len() >= 2, "both daemons handled instants: {instances:?}");
    assert!(runs.iter().any(|r| r.outcome == RunOutcome::SkippedOverlap), "the slot refused some: {runs:?}");
    // A slot lapses only when its holder fails to renew it for 3 s: never here. (It did when the
    // renewals were timed from the run's start rather than from the claim: the instance whose
    // timers fire by the real clock waited 2 s for its instant with the slot already taken.)
    let lost: Vec<_> = runs.iter().filter(|r| r.summary.as_ref().is_some_and(|s| s["slot_lost"] == true)).collect();
    assert!(lost.is_empty(), "runs lost their running slot: {lost:#?}");
    assert_eq!(
        server.most_at_once.load(Ordering::SeqCst),
        1,
        "two runs of a max_instances = 1 job were in progress at once ({} requests abandoned by their client); runs: {runs:#?}",
        server.abandoned.load(Ordering::SeqCst)
    );
    watcher.shutdown().await;
}
