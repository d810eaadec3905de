//! What runs leave behind: overlap skipped, timeouts stopped and failures kept with their error;
//! a deleted job's history kept; old runs pruned by the retention.

use chrono::{DateTime, Utc};
use opsdeck_api::jobs::JobPolicy;
use opsdeck_core::Actor;
use opsdeck_core::scheduler::{RunOutcome, RunQuery};
use serde_json::json;

use super::{cron, draft, every, finished_runs, runs_of, started, wait_for_job, who};

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
            started_by: None,
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
