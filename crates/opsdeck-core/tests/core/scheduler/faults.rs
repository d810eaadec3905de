//! Claims and faults: a claim left by a dead instance, a history insert delayed past the lease,
//! Redis losing its claims, a lost claim answer, a run whose claim or slot another took, a Redis
//! stall and a database outage: each instant still runs exactly once, and a run that lost says so.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_api::Event;
use opsdeck_api::jobs::JobPolicy;
use opsdeck_core::scheduler::{JobDraft, RunOutcome};
use opsdeck_core::{Config, Core};
use serde_json::json;

use crate::helpers::{
    OwnRedis, config_with, fresh_mysql_url, redis_url, sqlite_config, toml_string, unique, until_within,
};

use super::{draft, every, finished_runs, runs_of, started, two_instances_on, who};

#[tokio::test]
async fn a_claim_left_by_a_dead_instance_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(dir.path(), &redis_url());
    let prefix = config.redis_prefix.clone();
    let core = Core::start(config).await.unwrap();
    let mut events = core.subscribe();
    let job = core.job_create(draft("takeover", every(2), json!({}), JobPolicy::default()), &who()).await.unwrap();

    // A "ghost" instance claims the next instant and dies: its lease lapses 1.5 s after that
    // instant, without `done`.
    let next = job.next_fires[0].at.with_timezone(&Utc);
    let lease_ms = (next - Utc::now()).num_milliseconds() + 1500;
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}:sched:claim:{}:{}", job.id, next.timestamp_millis());
    let claimed: Option<String> = redis::cmd("SET")
        .arg(&key)
        .arg("run:ghost")
        .arg("NX")
        .arg("PX")
        .arg(lease_ms)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(claimed.is_some(), "the ghost got the claim first");

    let run = finished_runs(&mut events, 1, |r| r.job_id == job.id && r.scheduled_at == next).await.remove(0);
    assert_eq!(run.outcome, RunOutcome::Ok, "taken over within the misfire grace: {run:?}");
    assert_eq!(run.instance, core.info().instance_id);
    assert!(run.started_at.unwrap() - next >= chrono::Duration::milliseconds(1400), "only after the lease lapsed");
    let state: String = redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
    assert_eq!(state, format!("done:{}", core.info().instance_id));
    core.shutdown().await;
}

/// An HTTP server on loopback that answers 200 and counts the requests per run key (the
/// `x-opsdeck-run` header an `http_get` run sends): each run's side effect, counted where it
/// happens.
struct RunCounter {
    url: String,
    hits: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
    /// The most requests it held at once.
    most_at_once: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl RunCounter {
    async fn start() -> RunCounter {
        RunCounter::holding(Duration::ZERO).await
    }

    /// A counter that holds each request for `hold` before answering (the run's work lasts that
    /// long), counting the requests in flight at once.
    async fn holding(hold: Duration) -> RunCounter {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/side-effect", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let most_at_once = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counting = hits.clone();
        let most = most_at_once.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (counting, most, in_flight) = (counting.clone(), most.clone(), in_flight.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut chunk = [0u8; 2048];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request);
                    let run = text
                        .lines()
                        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("x-opsdeck-run")))
                        .map(|(_, v)| v.trim().to_string())
                        .unwrap_or_default();
                    *counting.lock().unwrap().entry(run).or_insert(0) += 1;
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    if !hold.is_zero() {
                        // The run's work: it lasts `hold`.
                        tokio::time::sleep(hold).await;
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        RunCounter { url, hits, most_at_once }
    }

    fn hits(&self) -> std::collections::HashMap<String, u32> {
        self.hits.lock().unwrap().clone()
    }

    /// An `http_get` job every second calling this server.
    fn job(&self, name: &str) -> JobDraft {
        let mut job = draft(name, every(1), json!({ "url": self.url }), JobPolicy::default());
        job.kind = "http_get".into();
        job
    }
}

/// A claim's value in Redis (`run:<instance>`, `done:<instance>`), if any.
async fn claim_value(redis: &str, prefix: &str, job_id: i64, scheduled: DateTime<Utc>) -> Option<String> {
    let client = redis::Client::open(redis).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}:sched:claim:{job_id}:{}", scheduled.timestamp_millis());
    redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap()
}

/// Waits until every run the counter saw has its row, then checks that each ran once: one hit
/// per run key, one row per instant, every row `ok`, every claim marked done.
/// (`redis` None: the claims are not looked at, as after Redis lost them.)
async fn assert_each_run_once(core: &Core, counter: &RunCounter, job_id: i64, redis: Option<&str>, limit: Duration) {
    let rows = until_within("every run's row written", limit, || async {
        let rows = runs_of(core, job_id).await;
        let keys: std::collections::HashSet<String> =
            rows.iter().map(|r| format!("s:{job_id}:{}", r.scheduled_at.timestamp_millis())).collect();
        let all = counter.hits().keys().all(|k| keys.contains(k));
        (all && rows.iter().all(|r| r.outcome != RunOutcome::Running)).then_some(rows)
    })
    .await;
    let hits = counter.hits();
    let twice: Vec<(&String, &u32)> = hits.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "runs whose side effect happened more than once: {twice:?} (all: {hits:?})");
    assert_eq!(rows.len(), hits.len(), "one row per run that happened: {rows:?}");
    assert!(rows.iter().all(|r| r.outcome == RunOutcome::Ok), "{rows:?}");
    let Some(redis) = redis else { return };
    let prefix = core.config().redis_prefix.clone();
    for row in &rows {
        let claim = claim_value(redis, &prefix, job_id, row.scheduled_at).await;
        assert!(claim.as_deref().is_some_and(|c| c.starts_with("done:")), "claim of {row:?} settled: {claim:?}");
    }
}

#[tokio::test]
async fn a_history_insert_delayed_past_the_lease_never_runs_an_instant_twice() {
    let db = fresh_mysql_url().await;
    let proxy = crate::proxy::FaultProxy::start(crate::proxy::server_of(&db)).await;
    let (_dir, a, b) = two_instances_on(&proxy.url_through(&db), &redis_url()).await;
    let counter = RunCounter::start().await;
    let job = a.job_create(counter.job("slow-history"), &who()).await.unwrap();
    // Every statement carrying one of this job's run keys (the history insert, the read-back of
    // its ids) waits 6 s: a run's row is written at least 12 s after the run ended, past the
    // claim's 10 s lease (which is not renewed once the task has ended).
    proxy.delay_matching(format!("s:{}:", job.id).as_bytes(), Duration::from_secs(6));
    until_within("4 runs happened", Duration::from_secs(30), || async { (counter.hits().len() >= 4).then_some(()) })
        .await;
    a.job_set_paused(job.id, true, &who()).await.unwrap();
    // The instants still due when the pause reached both instances run too; every one that ran
    // gets its row (two delayed batches, about 24 s), which is after its claim's lease would
    // have lapsed: a second run of any of them has happened by then.
    assert_each_run_once(&a, &counter, job.id, Some(&redis_url()), Duration::from_secs(90)).await;
    proxy.clear_matching();
    b.shutdown().await;
    a.shutdown().await;
}

/// Waits until the counter has seen at least `n` distinct runs.
async fn runs_seen(counter: &RunCounter, n: usize) {
    until_within(&format!("{n} runs happened"), Duration::from_secs(40), || async {
        (counter.hits().len() >= n).then_some(())
    })
    .await;
}

#[tokio::test]
async fn after_redis_loses_its_claims_each_instant_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = OwnRedis::start(dir.path());
    let db = fresh_mysql_url().await;
    let prefix = unique("flush");
    let config = |sub: &str| -> Config {
        let path = dir.path().join(sub);
        std::fs::create_dir_all(&path).unwrap();
        config_with(
            &path,
            &[
                ("data_dir", toml_string(&path.display().to_string())),
                ("database_url", toml_string(&db)),
                ("redis_url", toml_string(&redis.url())),
                ("redis_prefix", toml_string(&prefix)),
            ],
        )
    };
    let a = Core::start(config("a")).await.unwrap();
    let b = Core::start(config("b")).await.unwrap();
    let counter = RunCounter::start().await;
    let job = a.job_create(counter.job("flushed"), &who()).await.unwrap();
    let flushall = || async {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
    };
    runs_seen(&counter, 4).await;

    // 1. FLUSHALL with both instances running: the claims of the last 10 s go, among them those
    // each instance lost and watches until their lease ends (to take over a dead holder's run).
    flushall().await;
    let n = counter.hits().len();
    runs_seen(&counter, n + 12).await;

    // 2. An instance restarts right after a flush: its cursor comes from the database, where it
    // is up to 10 s behind, and no claim says that the instants since were run.
    b.shutdown().await;
    let n = counter.hits().len();
    runs_seen(&counter, n + 1).await;
    flushall().await;
    let b = Core::start(config("b")).await.unwrap();
    let n = counter.hits().len();
    runs_seen(&counter, n + 4).await;

    // 3. Redis restarts without persistence, with both instances running.
    redis.stop();
    redis.restart();
    let n = counter.hits().len();
    runs_seen(&counter, n + 12).await;

    a.job_set_paused(job.id, true, &who()).await.unwrap();
    assert_each_run_once(&a, &counter, job.id, None, Duration::from_secs(30)).await;
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test]
async fn a_claim_whose_answer_was_lost_is_still_run_by_a_lone_instance() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = crate::proxy::FaultProxy::start(crate::proxy::server_of(&redis_url())).await;
    let core = Core::start(sqlite_config(dir.path(), &proxy.url_through(&redis_url()))).await.unwrap();
    let mut events = core.subscribe();
    let job = core.job_create(draft("lonely", every(1), json!({}), JobPolicy::default()), &who()).await.unwrap();
    finished_runs(&mut events, 1, |r| r.job_id == job.id).await;

    // The next claim call for this job reaches Redis (which sets the claim) and its connection
    // is cut before the answer comes back.
    let claim_prefix = format!("{}:sched:claim:{}:", core.config().redis_prefix, job.id);
    proxy.cut_after_matching(&[b"sched:jobs_version", claim_prefix.as_bytes()]);
    let chunk = until_within("a claim's answer was cut", Duration::from_secs(30), || async { proxy.cut_chunk() }).await;
    let text = String::from_utf8_lossy(&chunk);
    let after = &text[text.find(&claim_prefix).unwrap() + claim_prefix.len()..];
    let ms: i64 = after.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap();
    let cut = DateTime::from_timestamp_millis(ms).unwrap();

    // No other instance exists to take it over: this one runs it (late), once.
    let run = finished_runs(&mut events, 1, |r| r.job_id == job.id && r.scheduled_at == cut).await.remove(0);
    assert_eq!(run.outcome, RunOutcome::Ok, "{run:?}");
    assert_eq!(run.instance, core.info().instance_id);
    finished_runs(&mut events, 2, |r| r.job_id == job.id && r.scheduled_at > cut).await;
    let rows = runs_of(&core, job.id).await;
    assert_eq!(rows.iter().filter(|r| r.scheduled_at == cut).count(), 1, "{rows:?}");
    core.shutdown().await;
}

/// A run whose claim another instance took over, or whose running slot lapsed and another run
/// took, stops (its task is dropped, as River and Temporal cancel a job whose lease was lost)
/// and says why on its record: two at once is what the claim and `max_instances` prevent.
async fn a_run_that_loses(claim: bool, slot: bool) {
    let (_dir, core, mut events) = started().await;
    let job = core
        .job_create(draft("long-held", every(1), json!({ "sleep_ms": 60_000 }), JobPolicy::default()), &who())
        .await
        .unwrap();
    // The first run still going after 1 s (its `running` row is announced).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let running = loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::RunStarted { run })) if run.job_id == job.id => break run,
            Ok(Ok(_)) => {}
            other => panic!("no run of the job started within 30 s: {other:?}"),
        }
    };
    // Meanwhile another instance holds its claim, or its slot lapsed and was taken.
    let prefix = core.config().redis_prefix.clone();
    let at = running.scheduled_at.timestamp_millis();
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let claim_key = format!("{prefix}:sched:claim:{}:{at}", job.id);
    let slots = format!("{prefix}:sched:running:{}", job.id);
    let mut pipe = redis::pipe();
    if claim {
        pipe.cmd("SET").arg(&claim_key).arg("run:ghost").arg("XX").arg("PX").arg(60_000).ignore();
    }
    if slot {
        pipe.cmd("ZREM").arg(&slots).arg(format!("s:{}:{at}", job.id)).ignore();
        pipe.cmd("ZADD").arg(&slots).arg(i64::MAX / 2).arg("ghost").ignore();
    }
    let _: () = pipe.query_async(&mut conn).await.unwrap();

    // The task would sleep a minute: it ends within seconds only because it was stopped.
    let run =
        finished_runs(&mut events, 1, |r| r.job_id == job.id && r.scheduled_at == running.scheduled_at).await.remove(0);
    assert_eq!(run.outcome, RunOutcome::Failed, "{run:?}");
    assert!(run.error.as_ref().is_some_and(|e| e.code == "run_claim_lost" || e.code == "run_slot_lost"), "{run:?}");
    let summary = run.summary.clone().expect("a summary");
    let noted = (summary["claim_lost"] == true, summary["slot_lost"] == true);
    assert!(noted.0 || noted.1, "the loss is on the run's record: {run:?}");
    assert!(!noted.0 || claim, "a claim it did not lose noted as lost: {run:?}");
    assert!(!noted.1 || slot, "a slot it did not lose noted as lost: {run:?}");
    if slot {
        let held: Vec<String> = redis::cmd("ZRANGE").arg(&slots).arg(0).arg(-1).query_async(&mut conn).await.unwrap();
        assert!(held.contains(&"ghost".to_string()), "the other run keeps its slot: {held:?}");
        assert!(!held.contains(&format!("s:{}:{at}", job.id)), "the stopped run took no slot back: {held:?}");
    }
    core.shutdown().await;
}

#[tokio::test]
async fn a_run_whose_claim_another_instance_took_stops_and_says_so() {
    a_run_that_loses(true, false).await;
}

#[tokio::test]
async fn a_run_whose_slot_lapsed_and_was_taken_stops_and_says_so() {
    a_run_that_loses(false, true).await;
}

#[tokio::test]
async fn a_redis_stall_on_the_running_instance_does_not_admit_a_second_run() {
    let db = fresh_mysql_url().await;
    let proxy = crate::proxy::FaultProxy::start(crate::proxy::server_of(&redis_url())).await;
    // a reaches Redis through the proxy, b directly; one prefix.
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("stall");
    let config = |sub: &str, redis: &str| -> Config {
        let path = dir.path().join(sub);
        std::fs::create_dir_all(&path).unwrap();
        config_with(
            &path,
            &[
                ("data_dir", toml_string(&path.display().to_string())),
                ("database_url", toml_string(&db)),
                ("redis_url", toml_string(redis)),
                ("redis_prefix", toml_string(&prefix)),
            ],
        )
    };
    let a = Core::start(config("a", &proxy.url_through(&redis_url()))).await.unwrap();
    let mut events_a = a.subscribe();
    let counter = RunCounter::holding(Duration::from_secs(5)).await;
    let job = a.job_create(counter.job("stalled"), &who()).await.unwrap();
    // A run of a's still going after 1 s; then every Redis call of a's takes 1.5 s (its slot
    // renewals included), and b starts, claiming each next instant on time.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, events_a.recv()).await {
            Ok(Ok(Event::RunStarted { run })) if run.job_id == job.id => break,
            Ok(Ok(_)) => {}
            other => panic!("no run of a's started within 30 s: {other:?}"),
        }
    }
    proxy.set_latency(Duration::from_millis(1500), Duration::from_millis(1500));
    let b = Core::start(config("b", &redis_url())).await.unwrap();
    let mut events_b = b.subscribe();
    // b is refused a slot for the instants that come while a's run goes on.
    finished_runs(&mut events_b, 3, |r| r.job_id == job.id && r.outcome == RunOutcome::SkippedOverlap).await;
    proxy.set_latency(Duration::ZERO, Duration::ZERO);
    assert_eq!(
        counter.most_at_once.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "two runs of a max_instances = 1 job at once: {:?}",
        counter.hits()
    );
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test]
async fn a_database_outage_delays_run_rows_and_loses_none() {
    let db = fresh_mysql_url().await;
    let proxy = crate::proxy::FaultProxy::start(crate::proxy::server_of(&db)).await;
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(config_with(
        dir.path(),
        &[
            ("data_dir", toml_string(&dir.path().display().to_string())),
            ("database_url", toml_string(&proxy.url_through(&db))),
            ("redis_url", toml_string(&redis_url())),
            ("redis_prefix", toml_string(&unique("outage"))),
        ],
    ))
    .await
    .unwrap();
    let counter = RunCounter::start().await;
    let job = core.job_create(counter.job("through-an-outage"), &who()).await.unwrap();
    runs_seen(&counter, 2).await;
    // The database is unreachable while three more runs happen (claims live in Redis).
    proxy.cut();
    let n = counter.hits().len();
    runs_seen(&counter, n + 3).await;
    proxy.restore();
    let n = counter.hits().len();
    runs_seen(&counter, n + 2).await;
    core.job_set_paused(job.id, true, &who()).await.unwrap();
    // Every run that happened, the ones during the outage included, has its row once.
    assert_each_run_once(&core, &counter, job.id, Some(&redis_url()), Duration::from_secs(60)).await;
    core.shutdown().await;
}
