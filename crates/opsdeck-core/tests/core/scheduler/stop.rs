//! Stopping a run from the console (issue 19): on the instance that carries it or on another one
//! sharing the Redis, cooperatively, with a grace after which a task that ignores the signal is
//! abandoned; recorded `stopped` with who stopped it, audited once, refused for a viewer, for a
//! run that is not running and for an unknown one. Also: who started a manual run.

use std::time::Duration;

use opsdeck_api::jobs::{JobPolicy, JobRun, RunQuery};
use opsdeck_api::{ErrorBody, ErrorCode, Event};
use opsdeck_core::accounts::model::Role;
use opsdeck_core::scheduler::{JobDraft, RunOutcome};
use opsdeck_core::{Actor, Core, EventReceiver};
use serde_json::json;

use crate::helpers::{config_with, redis_url, toml_string, unique};

use super::{cron, draft, every, finished_runs, two_instances, who};

fn sleeper(name: &str, seconds: u64) -> JobDraft {
    JobDraft {
        kind: "sleep".into(),
        ..draft(name, cron("0 3 * * *"), json!({ "seconds": seconds }), JobPolicy::default())
    }
}

/// A core on a fresh SQLite file with a stop grace of `grace` seconds.
async fn started_with_grace(grace: u64) -> (tempfile::TempDir, Core, EventReceiver) {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        &[
            ("data_dir", toml_string(&dir.path().display().to_string())),
            ("redis_url", toml_string(&redis_url())),
            ("redis_prefix", toml_string(&unique("stop"))),
            ("job_stop_grace_seconds", grace.to_string()),
        ],
    );
    let core = Core::start(config).await.unwrap();
    let events = core.subscribe();
    (dir, core, events)
}

/// Waits (bounded) for a run of `job_id` to be announced as running (a run gets its `running`
/// row, and an id to stop it by, once it has gone on for a second).
async fn running_run(events: &mut EventReceiver, job_id: i64) -> JobRun {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::RunStarted { run })) if run.job_id == job_id => return run,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("event stream failed: {e}"),
            Err(_) => panic!("no run of job {job_id} was announced running within 30 s"),
        }
    }
}

fn code_of(error: opsdeck_core::ApiError) -> (ErrorCode, ErrorBody) {
    let body: ErrorBody = error.into();
    (body.code, body)
}

async fn stop_entries(core: &Core) -> Vec<opsdeck_api::audit::AuditEntry> {
    let page = core.audit_list(100, None, &Actor::system("tester")).await.unwrap();
    page.entries.into_iter().filter(|e| e.action == "job.stop").collect()
}

#[tokio::test]
async fn a_run_stopped_on_its_own_instance_ends_at_once_recorded_stopped_and_audited_once() {
    let (_dir, core, mut events) = started_with_grace(10).await;
    let job = core.job_create(sleeper("long-report", 300), &who()).await.unwrap();
    core.job_run_now(job.id, &Actor::system("alice")).await.unwrap();
    let running = running_run(&mut events, job.id).await;
    assert_eq!(running.outcome, RunOutcome::Running);
    assert!(running.manual);
    assert_eq!(running.started_by.as_deref(), Some("alice"), "a manual run says who started it");

    let viewer = Actor::staff(&crate::session::staff(41, Role::Viewer));
    let (code, body) = code_of(core.run_stop(running.id, &viewer).await.unwrap_err());
    assert_eq!(code, ErrorCode::Forbidden, "a viewer cannot stop runs: {body:?}");
    assert!(stop_entries(&core).await.is_empty(), "a refused stop is not audited");

    let stopped = core.run_stop(running.id, &Actor::system("bob")).await.unwrap();
    assert_eq!(stopped.id, running.id);
    assert_eq!(stopped.outcome, RunOutcome::Stopped, "{stopped:?}");
    let reason = stopped.error.clone().expect("a stopped run says who stopped it");
    assert_eq!(reason.code, ErrorCode::RunStopped);
    assert_eq!(reason.params.get("who").map(String::as_str), Some("bob"));
    let summary = stopped.summary.clone().expect("the task's own answer is kept");
    assert_eq!(summary["stopped_early"], true, "the sleep task heard the signal and ended: {summary}");
    assert_eq!(stopped.started_by.as_deref(), Some("alice"));
    let announced = finished_runs(&mut events, 1, |r| r.id == running.id).await.remove(0);
    assert_eq!(announced.outcome, RunOutcome::Stopped, "the console hears of the stop");

    let entries = stop_entries(&core).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].who, "bob");
    assert_eq!(entries[0].target, "job:long-report");
    assert_eq!(entries[0].detail.as_ref().unwrap()["run_id"], running.id);

    let again = core.run_stop(running.id, &Actor::system("carol")).await.unwrap();
    assert_eq!(again, stopped, "stopping a stopped run answers it as it is");
    assert_eq!(stop_entries(&core).await.len(), 1, "and is not audited again");
    core.shutdown().await;
}

#[tokio::test]
async fn a_run_that_is_not_running_or_unknown_is_refused_clearly() {
    let (_dir, core, mut events) = started_with_grace(10).await;
    let job =
        core.job_create(draft("quick", cron("0 3 * * *"), json!({}), JobPolicy::default()), &who()).await.unwrap();
    core.job_run_now(job.id, &who()).await.unwrap();
    let done = finished_runs(&mut events, 1, |r| r.job_id == job.id).await.remove(0);
    assert_eq!(done.outcome, RunOutcome::Ok);
    let (code, body) = code_of(core.run_stop(done.id, &who()).await.unwrap_err());
    assert_eq!(code, ErrorCode::RunNotRunning, "{body:?}");
    assert_eq!(code.http_status(), 409);
    assert_eq!(body.params.get("outcome").map(String::as_str), Some("ok"));
    assert_eq!(body.params.get("job").map(String::as_str), Some("quick"));
    let (code, body) = code_of(core.run_stop(done.id + 1000, &who()).await.unwrap_err());
    assert_eq!(code, ErrorCode::RunNotFound, "{body:?}");
    assert_eq!(code.http_status(), 404);
    assert!(stop_entries(&core).await.is_empty(), "nothing was stopped, nothing audited");
    core.shutdown().await;
}

#[tokio::test]
async fn a_task_that_ignores_the_signal_is_abandoned_after_the_grace() {
    let (_dir, core, mut events) = started_with_grace(1).await;
    // `noop` sleeps without listening for a stop.
    let stubborn = draft("stubborn", cron("0 3 * * *"), json!({ "sleep_ms": 600_000 }), JobPolicy::default());
    let job = core.job_create(stubborn, &who()).await.unwrap();
    core.job_run_now(job.id, &who()).await.unwrap();
    let running = running_run(&mut events, job.id).await;
    let stopped = core.run_stop(running.id, &Actor::system("bob")).await.unwrap();
    assert_eq!(stopped.outcome, RunOutcome::Stopped, "{stopped:?}");
    let reason = stopped.error.clone().unwrap();
    assert_eq!(reason.code, ErrorCode::RunAbandoned, "{reason:?}");
    assert_eq!(reason.params.get("who").map(String::as_str), Some("bob"));
    assert_eq!(reason.params.get("seconds").map(String::as_str), Some("1"));
    assert_eq!(stopped.summary, Some(json!({ "abandoned": true })));
    // Its running slot is free again (max_instances 1): the next run is admitted, not skipped.
    core.job_run_now(job.id, &who()).await.unwrap();
    let next = running_run(&mut events, job.id).await;
    assert_ne!(next.id, running.id);
    assert_eq!(core.run_stop(next.id, &who()).await.unwrap().outcome, RunOutcome::Stopped);
    core.shutdown().await;
}

#[tokio::test]
async fn a_run_on_another_instance_is_stopped_through_redis() {
    let (_dir, a, b) = two_instances().await;
    let mut a_events = a.subscribe();
    let mut b_events = b.subscribe();
    let job = a.job_create(sleeper("elsewhere", 300), &who()).await.unwrap();
    // Run on b, stopped from a: a carries nothing of it, only the shared Redis and database.
    b.job_run_now(job.id, &Actor::system("alice")).await.unwrap();
    let running = running_run(&mut b_events, job.id).await;
    assert_eq!(running.instance, b.instance_id());

    let stopped = a.run_stop(running.id, &Actor::system("bob")).await.unwrap();
    assert_eq!(stopped.outcome, RunOutcome::Stopped, "{stopped:?}");
    assert_eq!(stopped.instance, b.instance_id(), "b ran it and recorded its end");
    let reason = stopped.error.clone().unwrap();
    assert_eq!((reason.code, reason.params.get("who").map(String::as_str)), (ErrorCode::RunStopped, Some("bob")));
    assert_eq!(stopped.summary.as_ref().unwrap()["stopped_early"], true, "told, not abandoned");
    assert_eq!(stopped.started_by.as_deref(), Some("alice"));
    let on_a = finished_runs(&mut a_events, 1, |r| r.id == running.id).await.remove(0);
    assert_eq!(on_a.outcome, RunOutcome::Stopped, "a's windows hear of it");
    let on_b = finished_runs(&mut b_events, 1, |r| r.id == running.id).await.remove(0);
    assert_eq!(on_b.outcome, RunOutcome::Stopped, "and b's");
    assert_eq!(stop_entries(&a).await.len(), 1);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_running_row_whose_instance_is_gone_is_closed_as_stopped() {
    let (_dir, core, _events) = started_with_grace(10).await;
    let job = core.job_create(sleeper("orphaned", 300), &who()).await.unwrap();
    // The row a dead instance left: `running`, and no running slot renewed for it.
    let run = opsdeck_core::scheduler::store::NewRun {
        run_key: "m:orphan:1",
        job_id: job.id,
        job_name: "orphaned",
        scheduled_at: chrono::Utc::now(),
        instance: "an-instance-that-died",
        manual: true,
        started_by: Some("alice"),
    };
    let begun = opsdeck_core::scheduler::store::begin_run(core.database(), &run, chrono::Utc::now()).await.unwrap();
    let opsdeck_core::scheduler::store::Begun::Started(id) = begun else { panic!("{begun:?}") };
    let stopped = core.run_stop(id, &Actor::system("bob")).await.unwrap();
    assert_eq!(stopped.outcome, RunOutcome::Stopped, "{stopped:?}");
    assert_eq!(stopped.summary, Some(json!({ "instance_gone": true })));
    assert_eq!(stopped.error.unwrap().params.get("who").map(String::as_str), Some("bob"));
    assert_eq!(stopped.started_by.as_deref(), Some("alice"));
    core.shutdown().await;
}

#[tokio::test]
async fn a_manual_run_records_who_started_it_and_a_scheduled_one_nobody() {
    let (_dir, core, mut events) = started_with_grace(10).await;
    let job = core.job_create(draft("ticker", every(1), json!({}), JobPolicy::default()), &who()).await.unwrap();
    let scheduled = finished_runs(&mut events, 1, |r| r.job_id == job.id && !r.manual).await.remove(0);
    assert_eq!(scheduled.started_by, None);
    core.job_run_now(job.id, &Actor::system("alice")).await.unwrap();
    let manual = finished_runs(&mut events, 1, |r| r.job_id == job.id && r.manual).await.remove(0);
    assert_eq!(manual.started_by.as_deref(), Some("alice"), "announced with who");
    let query = RunQuery { job_id: Some(job.id), limit: 100, ..RunQuery::default() };
    let stored = core.runs_list(query, &who()).await.unwrap().runs;
    let kept = stored.iter().find(|r| r.id == manual.id).expect("the manual run is in the history");
    assert_eq!(kept.started_by.as_deref(), Some("alice"), "and kept with who");
    assert!(stored.iter().filter(|r| !r.manual).all(|r| r.started_by.is_none()));
    core.shutdown().await;
}
