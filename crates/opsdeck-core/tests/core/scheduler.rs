//! The scheduler against real SQLite/MariaDB and Redis: firing, history, controls, and several
//! instances sharing one Redis.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_core::scheduler::{JobDraft, JobRun, RunOutcome, RunQuery, TriggerSpec};
use opsdeck_api::jobs::JobPolicy;
use opsdeck_core::{Actor, Config, Core};
use opsdeck_api::Event;
use serde_json::json;
use tokio::sync::broadcast::Receiver;

use crate::helpers::{
    OwnRedis, config_with, fresh_mysql_url, redis_url, sqlite_config, toml_string, unique, until_within,
};

const WHO: &str = "test@console";

fn who() -> Actor {
    Actor::system(WHO)
}

/// A core on a fresh SQLite file and Redis prefix, and its event stream.
async fn started() -> (tempfile::TempDir, Core, Receiver<Event>) {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    let events = core.subscribe();
    (dir, core, events)
}

fn cron(expr: &str) -> TriggerSpec {
    TriggerSpec::Cron { expr: expr.into() }
}

fn every(seconds: i64) -> TriggerSpec {
    TriggerSpec::Interval { every_seconds: seconds, start: None, end: None }
}

fn draft(name: &str, trigger: TriggerSpec, args: serde_json::Value, policy: JobPolicy) -> JobDraft {
    JobDraft { name: name.into(), kind: "noop".into(), trigger, timezone: "Asia/Shanghai".into(), args, policy }
}

/// Waits (bounded) for `n` finished runs matching `want`, returning them.
async fn finished_runs(events: &mut Receiver<Event>, n: usize, want: impl Fn(&JobRun) -> bool) -> Vec<JobRun> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < n {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::RunFinished { run })) if want(&run) => got.push(run),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("event stream failed: {e}"),
            Err(_) => panic!("only {} of {n} runs finished within 30 s: {got:?}", got.len()),
        }
    }
    got
}

async fn runs_of(core: &Core, job_id: i64) -> Vec<JobRun> {
    core.runs_list(RunQuery { job_id: Some(job_id), limit: 500, ..RunQuery::default() }, &Actor::system("tester"))
        .await
        .unwrap()
        .runs
}

#[tokio::test]
async fn a_staff_job_fires_on_time_and_is_recorded() {
    let (_dir, core, mut events) = started().await;
    let job = core.job_create(draft("tick", every(1), json!({}), JobPolicy::default()), &who()).await.unwrap();
    assert_eq!(job.trigger_text.split(" from ").next(), Some("every 1 second"));
    assert_eq!(job.next_fires.len(), 5);

    let runs = finished_runs(&mut events, 2, |r| r.job_id == job.id).await;
    for run in &runs {
        assert_eq!(run.outcome, RunOutcome::Ok);
        assert_eq!(run.instance, core.info().instance_id);
        let late = run.started_at.unwrap() - run.scheduled_at;
        assert!(late >= chrono::Duration::zero(), "never early: {run:?}");
    }
    assert_eq!(runs[1].scheduled_at - runs[0].scheduled_at, chrono::Duration::seconds(1));
    let history = runs_of(&core, job.id).await;
    assert!(history.len() >= 2);
    assert!(history.windows(2).all(|w| w[0].id > w[1].id), "newest first");

    let audit = core.audit_list(10, None, &Actor::system("tester")).await.unwrap();
    assert!(audit.entries.iter().any(|e| e.action == "job.create" && e.target == "job:tick" && e.who == WHO));
    let listed = core.jobs_list(&Actor::system("tester")).await.unwrap();
    let tick = listed.iter().find(|j| j.name == "tick").unwrap();
    assert!(tick.last_run.is_some());
    core.shutdown().await;
}

/// Two cores on one MariaDB database and one Redis prefix.
async fn two_instances() -> (tempfile::TempDir, Core, Core) {
    two_instances_on(&fresh_mysql_url().await, &redis_url()).await
}

/// Two cores on the database at `db` and one prefix of the Redis at `redis`.
async fn two_instances_on(db: &str, redis: &str) -> (tempfile::TempDir, Core, Core) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("pair");
    let config = |sub: &str| -> Config {
        let path = dir.path().join(sub);
        std::fs::create_dir_all(&path).unwrap();
        config_with(
            &path,
            &[
                ("data_dir", toml_string(&path.display().to_string())),
                ("database_url", toml_string(db)),
                ("redis_url", toml_string(redis)),
                ("redis_prefix", toml_string(&prefix)),
            ],
        )
    };
    let a = Core::start(config("a")).await.unwrap();
    let b = Core::start(config("b")).await.unwrap();
    (dir, a, b)
}

#[tokio::test]
async fn instances_sharing_redis_run_each_instant_exactly_once() {
    let (_dir, a, b) = two_instances().await;
    let mut events_a = a.subscribe();
    let mut events_b = b.subscribe();
    let job = a.job_create(draft("shared-tick", every(1), json!({}), JobPolicy::default()), &who()).await.unwrap();

    // Both instances pick the job up (b through the jobs version) and race for every instant.
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < 6 {
        let event = tokio::select! {
            e = events_a.recv() => e,
            e = events_b.recv() => e,
            _ = tokio::time::sleep_until(deadline) => panic!("only {} runs within 30 s", seen.len()),
        };
        if let Ok(Event::RunFinished { run }) = event
            && run.job_id == job.id
        {
            seen.push(run);
        }
    }
    let history = runs_of(&a, job.id).await;
    let mut instants: Vec<DateTime<Utc>> = history.iter().map(|r| r.scheduled_at).collect();
    instants.sort();
    let before = instants.len();
    instants.dedup();
    assert_eq!(before, instants.len(), "no instant recorded twice");
    assert!(instants.windows(2).all(|w| w[1] - w[0] == chrono::Duration::seconds(1)), "none lost: {instants:?}");
    assert!(history.iter().all(|r| matches!(r.outcome, RunOutcome::Ok | RunOutcome::Running)), "{history:?}");
    let instances = a.scheduler_instances(&Actor::system("tester")).await.unwrap();
    assert!(instances.len() >= 2, "both instances beat: {instances:?}");
    assert!(instances.iter().any(|i| i.is_self));
    b.shutdown().await;
    a.shutdown().await;
}

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

#[tokio::test]
async fn pause_stops_runs_and_resume_restarts_them() {
    let (_dir, core, mut events) = started().await;
    let job = core.job_create(draft("pausable", every(1), json!({}), JobPolicy::default()), &who()).await.unwrap();
    let sentinel = core.job_create(draft("sentinel", every(1), json!({}), JobPolicy::default()), &who()).await.unwrap();
    finished_runs(&mut events, 1, |r| r.job_id == job.id).await;

    let paused = core.job_set_paused(job.id, true, &who()).await.unwrap();
    assert!(paused.paused);
    assert!(paused.next_fires.is_empty(), "a paused job shows no upcoming fires");
    let paused_at = Utc::now();
    // Three more sentinel runs prove time went on while the job stayed silent.
    finished_runs(&mut events, 3, |r| r.job_id == sentinel.id && r.scheduled_at > paused_at).await;
    let during = runs_of(&core, job.id).await;
    assert!(
        during.iter().all(|r| r.scheduled_at <= paused_at + chrono::Duration::milliseconds(100)),
        "no run of the paused job after the pause: {during:?}"
    );
    let again = core.job_set_paused(job.id, true, &who()).await.unwrap();
    assert!(again.paused, "pausing twice is harmless");

    core.job_set_paused(job.id, false, &who()).await.unwrap();
    let resumed_at = Utc::now();
    let after = finished_runs(&mut events, 1, |r| r.job_id == job.id).await;
    assert!(after[0].scheduled_at >= resumed_at - chrono::Duration::seconds(1), "the paused period is not replayed");
    let actions: Vec<String> = core
        .audit_list(20, None, &Actor::system("tester"))
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "job.pause").count(), 1, "a repeated pause is not audited twice");
    assert!(actions.contains(&"job.resume".to_string()));
    core.shutdown().await;
}

#[tokio::test]
async fn overlap_is_skipped_timeouts_stop_and_failures_keep_their_error() {
    let (_dir, core, mut events) = started().await;
    let slow = core
        .job_create(draft("slow", every(1), json!({ "sleep_ms": 2500 }), JobPolicy::default()), &who())
        .await
        .unwrap();
    let stuck = core
        .job_create(
            draft(
                "stuck",
                every(3),
                json!({ "sleep_ms": 60_000 }),
                JobPolicy { timeout_seconds: Some(1), ..JobPolicy::default() },
            ),
            &who(),
        )
        .await
        .unwrap();
    let broken = core
        .job_create(draft("broken", every(2), json!({ "fail": true }), JobPolicy::default()), &who())
        .await
        .unwrap();
    let panicky = core
        .job_create(draft("panicky", every(2), json!({ "panic": true }), JobPolicy::default()), &who())
        .await
        .unwrap();

    let skipped =
        finished_runs(&mut events, 1, |r| r.job_id == slow.id && r.outcome == RunOutcome::SkippedOverlap).await;
    assert_eq!(skipped[0].summary, Some(json!({ "max_instances": 1 })));
    let timed_out = finished_runs(&mut events, 1, |r| r.job_id == stuck.id).await;
    assert_eq!(timed_out[0].outcome, RunOutcome::TimedOut);
    let error = timed_out[0].error.clone().unwrap();
    assert_eq!(error.code, "task_timed_out");
    assert!(error.params.contains_key("seconds"), "{error:?}");
    let failed = finished_runs(&mut events, 1, |r| r.job_id == broken.id).await;
    assert_eq!(failed[0].outcome, RunOutcome::Failed);
    assert_eq!(failed[0].error.as_ref().map(|e| e.code.as_str()), Some("task_failed_on_purpose"));
    // A panicking task is recorded as a failed run, and the scheduler carries on.
    let panicked = finished_runs(&mut events, 2, |r| r.job_id == panicky.id).await;
    assert!(panicked.iter().all(|r| r.outcome == RunOutcome::Failed));
    assert_eq!(panicked[0].error.as_ref().map(|e| e.code.as_str()), Some("task_panicked"));
    let only_failed = core
        .runs_list(
            RunQuery { outcome: Some(RunOutcome::Failed), limit: 50, ..RunQuery::default() },
            &Actor::system("tester"),
        )
        .await
        .unwrap();
    assert!(!only_failed.runs.is_empty() && only_failed.runs.iter().all(|r| r.outcome == RunOutcome::Failed));
    core.shutdown().await;
}

#[tokio::test]
async fn run_now_starts_a_manual_run_and_is_audited() {
    let (_dir, core, mut events) = started().await;
    let job =
        core.job_create(draft("nightly", cron("0 3 * * *"), json!({}), JobPolicy::default()), &who()).await.unwrap();
    core.job_run_now(job.id, &who()).await.unwrap();
    let run = finished_runs(&mut events, 1, |r| r.job_id == job.id).await.remove(0);
    assert!(run.manual);
    assert_eq!(run.outcome, RunOutcome::Ok);
    let audit = core.audit_list(5, None, &Actor::system("tester")).await.unwrap();
    assert_eq!(audit.entries[0].action, "job.run_now");
    core.shutdown().await;
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    let refuse = |e: opsdeck_core::ApiError| -> (String, String) {
        let body: opsdeck_api::ErrorBody = e.into();
        assert_eq!(body.code.http_status(), 400, "{body:?}");
        (body.field.unwrap_or_default(), body.message)
    };
    let bad_cron = refuse(
        core.job_create(draft("x", cron("0 25 * * *"), json!({}), JobPolicy::default()), &who()).await.unwrap_err(),
    );
    assert_eq!(bad_cron.0, "trigger");
    assert!(bad_cron.1.contains("hour"));
    let past = refuse(
        core.job_create(
            draft("x", TriggerSpec::Date { at: "2023-12-05 08:00".into() }, json!({}), JobPolicy::default()),
            &who(),
        )
        .await
        .unwrap_err(),
    );
    assert!(past.1.contains("in the past"), "{}", past.1);
    let zero =
        refuse(core.job_create(draft("x", every(0), json!({}), JobPolicy::default()), &who()).await.unwrap_err());
    assert_eq!(zero.0, "trigger");
    let mut zone = draft("x", every(5), json!({}), JobPolicy::default());
    zone.timezone = "Nowhere/Land".into();
    assert_eq!(refuse(core.job_create(zone, &who()).await.unwrap_err()).0, "timezone");
    let args = refuse(
        core.job_create(draft("x", every(5), json!({ "sleep_ms": "soon" }), JobPolicy::default()), &who())
            .await
            .unwrap_err(),
    );
    assert_eq!(args.0, "args");
    let mut kind = draft("x", every(5), json!({}), JobPolicy::default());
    kind.kind = "rm_rf".into();
    assert_eq!(refuse(core.job_create(kind, &who()).await.unwrap_err()).0, "kind");
    assert!(core.jobs_list(&Actor::system("tester")).await.unwrap().iter().all(|j| j.name != "x"), "nothing was saved");
    assert!(
        core.audit_list(10, None, &Actor::system("tester")).await.unwrap().entries.is_empty(),
        "nothing was audited"
    );

    let job = core.job_create(draft("editable", every(60), json!({}), JobPolicy::default()), &who()).await.unwrap();
    let edit = opsdeck_api::jobs::JobEdit {
        trigger: cron("0 8 * * FUNDAY"),
        timezone: "Europe/London".into(),
        policy: JobPolicy::default(),
        args: json!({}),
    };
    assert_eq!(refuse(core.job_update(job.id, edit, &who()).await.unwrap_err()).0, "trigger");
    let unchanged = core.job_get(job.id).await.unwrap();
    assert_eq!(unchanged.timezone, "Asia/Shanghai", "a refused edit changes nothing");
    assert_eq!(unchanged.trigger, every(60));
    let dup = refuse(
        core.job_create(draft("editable", every(5), json!({}), JobPolicy::default()), &who()).await.unwrap_err(),
    );
    assert_eq!(dup.0, "name");
    core.shutdown().await;
}

#[tokio::test]
async fn default_jobs_are_provided_once_and_staff_edits_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(dir.path(), &redis_url());
    let core = Core::start(config.clone()).await.unwrap();
    let prune = wait_for_job(&core, "prune-run-history").await;
    assert_eq!(prune.kind, "prune_history");
    let delete = core.job_delete(prune.id, &who()).await.unwrap_err();
    assert_eq!(delete.code(), "job_built_in", "a default job cannot be deleted");
    let edit = opsdeck_api::jobs::JobEdit {
        trigger: cron("5 4 * * *"),
        timezone: "Europe/London".into(),
        policy: prune.policy.clone(),
        args: json!({}),
    };
    core.job_update(prune.id, edit, &who()).await.unwrap();
    core.job_set_paused(prune.id, true, &who()).await.unwrap();
    core.shutdown().await;

    let restarted = Core::start(config).await.unwrap();
    let after = wait_for_job(&restarted, "prune-run-history").await;
    assert_eq!(after.trigger, cron("5 4 * * *"));
    assert_eq!(after.timezone, "Europe/London");
    assert!(after.paused, "the pause survived the restart");
    assert_eq!(
        restarted
            .jobs_list(&Actor::system("tester"))
            .await
            .unwrap()
            .iter()
            .filter(|j| j.name == "prune-run-history")
            .count(),
        1
    );
    restarted.shutdown().await;
}

async fn wait_for_job(core: &Core, name: &str) -> opsdeck_api::jobs::JobView {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut events = core.subscribe();
    loop {
        if let Some(job) = core.jobs_list(&Actor::system("tester")).await.unwrap().into_iter().find(|j| j.name == name)
        {
            return job;
        }
        tokio::select! {
            _ = events.recv() => {}
            _ = tokio::time::sleep_until(deadline) => panic!("job {name} never appeared"),
        }
    }
}

#[tokio::test]
async fn staff_jobs_can_be_deleted_and_their_history_stays() {
    let (_dir, core, mut events) = started().await;
    let job = core.job_create(draft("temporary", every(1), json!({}), JobPolicy::default()), &who()).await.unwrap();
    finished_runs(&mut events, 1, |r| r.job_id == job.id).await;
    core.job_delete(job.id, &who()).await.unwrap();
    assert!(core.jobs_list(&Actor::system("tester")).await.unwrap().iter().all(|j| j.id != job.id));
    assert!(!runs_of(&core, job.id).await.is_empty(), "the history stays");
    assert_eq!(core.job_get(job.id).await.unwrap_err().code(), "job_not_found");
    core.shutdown().await;
}

/// A one-route HTTP server on loopback answering every request with `status`.
async fn http_server(status: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let body = "ok";
                let answer =
                    format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn http_get_records_the_status_and_fails_on_errors() {
    let (_dir, core, mut events) = started().await;
    let healthy = http_server(200).await;
    let broken = http_server(503).await;
    let mut good = draft("ping-good", cron("0 3 * * *"), json!({ "url": healthy }), JobPolicy::default());
    good.kind = "http_get".into();
    let mut bad = draft("ping-bad", cron("0 3 * * *"), json!({ "url": broken }), JobPolicy::default());
    bad.kind = "http_get".into();
    let good = core.job_create(good, &who()).await.unwrap();
    let bad = core.job_create(bad, &who()).await.unwrap();
    core.job_run_now(good.id, &who()).await.unwrap();
    core.job_run_now(bad.id, &who()).await.unwrap();
    // Both at once: they may finish in either order.
    let both = finished_runs(&mut events, 2, |r| r.job_id == good.id || r.job_id == bad.id).await;
    let ok = both.iter().find(|r| r.job_id == good.id).expect("the good run").clone();
    assert_eq!(ok.outcome, RunOutcome::Ok);
    let summary = ok.summary.unwrap();
    assert_eq!(summary["status"], 200);
    assert_eq!(summary["bytes"], 2);
    let failed = both.into_iter().find(|r| r.job_id == bad.id).expect("the bad run");
    assert_eq!(failed.outcome, RunOutcome::Failed);
    let error = failed.error.unwrap();
    assert_eq!((error.code.as_str(), error.params.get("status").map(String::as_str)), ("http_get_status", Some("503")));

    let mut ftp = draft("ping-ftp", cron("0 3 * * *"), json!({ "url": "ftp://example.com/" }), JobPolicy::default());
    ftp.kind = "http_get".into();
    let refused: opsdeck_api::ErrorBody = core.job_create(ftp, &who()).await.unwrap_err().into();
    assert_eq!(refused.field.as_deref(), Some("args"));
    assert!(refused.message.contains("http"), "{}", refused.message);
    core.shutdown().await;
}

#[tokio::test]
async fn the_prune_job_deletes_runs_older_than_the_retention() {
    let (_dir, core, mut events) = started().await;
    let job =
        core.job_create(draft("old-work", cron("0 3 * * *"), json!({}), JobPolicy::default()), &who()).await.unwrap();
    // Two runs from two days ago and one from an hour ago (retention: 24 h by default).
    for (key, hours) in [("s:old:1", 49), ("s:old:2", 48), ("s:recent", 1)] {
        let at = Utc::now() - chrono::Duration::hours(hours);
        let run = opsdeck_core::scheduler::store::NewRun {
            run_key: key,
            job_id: job.id,
            job_name: "old-work",
            scheduled_at: at,
            instance: "test",
            manual: false,
        };
        let end = opsdeck_core::scheduler::store::RunEnd {
            outcome: RunOutcome::Ok,
            started: Some(at),
            finished: at,
            summary: None,
            error: None,
        };
        opsdeck_core::scheduler::store::record_final(core.database(), &run, &end).await.unwrap().unwrap();
    }
    let prune = wait_for_job(&core, "prune-run-history").await;
    core.job_run_now(prune.id, &who()).await.unwrap();
    let run = finished_runs(&mut events, 1, |r| r.job_id == prune.id).await.remove(0);
    assert_eq!(run.outcome, RunOutcome::Ok, "{run:?}");
    assert_eq!(run.summary.unwrap()["deleted"], 2);
    let left: Vec<DateTime<Utc>> = runs_of(&core, job.id).await.into_iter().map(|r| r.scheduled_at).collect();
    assert_eq!(left.len(), 1, "the recent run stays: {left:?}");
    core.shutdown().await;
}

#[tokio::test]
async fn jitter_delays_each_start_by_up_to_its_bound() {
    let (_dir, core, mut events) = started().await;
    let policy = JobPolicy { jitter_seconds: 1, ..JobPolicy::default() };
    let job = core.job_create(draft("jittery", every(1), json!({}), policy), &who()).await.unwrap();
    // (A long jitter may overlap the next second's run, which is then skipped: count runs only.)
    let runs = finished_runs(&mut events, 4, |r| r.job_id == job.id && r.outcome == RunOutcome::Ok).await;
    let delays: Vec<i64> = runs.iter().map(|r| (r.started_at.unwrap() - r.scheduled_at).num_milliseconds()).collect();
    // The run row's start is when the run was admitted; the task itself starts after the
    // jitter, so the run lasts about as long as its delay.
    let durations: Vec<i64> = runs.iter().map(|r| r.duration_ms.unwrap()).collect();
    assert!(delays.iter().all(|d| (0..500).contains(d)), "admitted on time: {delays:?}");
    assert!(durations.iter().all(|d| (0..=1200).contains(d)), "jitter at most 1 s: {durations:?}");
    assert!(
        durations.iter().any(|d| *d > 20),
        "jitter applied (4 draws all under 20 ms is a 1-in-6-million event): {durations:?}"
    );
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
