//! Firing: a job runs on time and is recorded, each instant once across instances sharing one
//! Redis, starts delayed by its jitter; `http_get` runs record the status they got.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_api::Event;
use opsdeck_api::jobs::JobPolicy;
use opsdeck_core::Actor;
use opsdeck_core::scheduler::RunOutcome;
use serde_json::json;

use super::{WHO, cron, draft, every, finished_runs, runs_of, started, two_instances, who};

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
