//! Carrying out a decision this instance owns: the task run (with jitter, timeout and its leases
//! kept), or a missed or skipped instant recorded; the run's rows written and its claim settled.

use opsdeck_api::{ErrorCode, ErrorReason};
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt;
use serde_json::json;

use super::leases::{Leases, keep_leases};
use crate::Core;
use crate::events::Event;
use crate::scheduler::claims::{Admission, Settle};
use crate::scheduler::history::{self, FinalRow};
use crate::scheduler::plan::Decision;
use crate::scheduler::policy::PolicyExt;
use crate::scheduler::store::{self, Begun, JobRecord, JobRun, NewRun, RunEnd, RunOutcome};
use crate::scheduler::tasks::TaskContext;

/// The result of carrying out a decision: None when the database refused it; Some(None) when
/// there is nothing new to announce (another instance recorded it).
type Carried = Option<Option<JobRun>>;

/// How a run came about: its scheduled instant's claim, or staff's "Run now".
#[derive(Debug, Clone, Copy)]
pub(super) enum Origin<'a> {
    Scheduled { claim: &'a str },
    Manual { by: &'a str },
}

impl<'a> Origin<'a> {
    fn claim(self) -> Option<&'a str> {
        match self {
            Origin::Scheduled { claim } => Some(claim),
            Origin::Manual { .. } => None,
        }
    }

    fn started_by(self) -> Option<&'a str> {
        match self {
            Origin::Manual { by } => Some(by),
            Origin::Scheduled { .. } => None,
        }
    }
}

/// Carries out a decision this instance owns. `key` is the run's key, which is also its
/// running-slot token. Whoever writes the final row settles the
/// claim and the slot. `leased_from`: when the claim and slot were asked for, the latest their
/// leases can have started (a run may start well after it: it waits for its instant).
pub(super) async fn carry_out(
    core: &Core,
    job: &JobRecord,
    decision: Decision,
    origin: Origin<'_>,
    key: String,
    admission: Admission,
    leased_from: tokio::time::Instant,
) {
    let claim = origin.claim();
    let shared = core.scheduler();
    let instance = core.instance_id();
    let scheduled = decision.scheduled();
    let settle = Settle { claim: claim.map(str::to_string), job_id: job.id, token: key.clone() };
    let new_run = NewRun {
        run_key: &key,
        job_id: job.id,
        job_name: &job.name,
        scheduled_at: scheduled,
        instance,
        manual: claim.is_none(),
        started_by: origin.started_by(),
    };
    let outcome = match (decision, admission) {
        (Decision::Missed { coalesced, .. }, _) => {
            let late_ms = (Utc::now() - scheduled).num_milliseconds();
            let summary = json!({ "late_ms": late_ms, "coalesced": coalesced });
            record_non_run(core, &new_run, RunOutcome::Missed, summary, settle).await
        }
        (Decision::Run { .. }, Admission::NoSlot) => {
            let summary = json!({ "max_instances": job.policy.max_instances });
            record_non_run(core, &new_run, RunOutcome::SkippedOverlap, summary, settle).await
        }
        (Decision::Run { coalesced, .. }, _) => run_admitted(core, job, &new_run, coalesced, settle, leased_from).await,
    };
    if claim.is_some() && outcome.is_some() {
        shared.handled(job.id, scheduled);
    }
    // Announced last: when a window hears of it, the claim is settled too.
    if let Some(Some(run)) = outcome {
        core.publish(Event::RunFinished { run });
    }
}

/// A run's row is written when it ends; one still going after this long gets a `running` row
/// first, so the history shows it (and a take-over can find it).
const RUNNING_ROW_AFTER: Duration = Duration::from_secs(1);

fn final_record(run: &NewRun<'_>, id: i64, end: RunEnd<'_>, attempts: i64) -> JobRun {
    JobRun {
        id,
        job_id: run.job_id,
        job_name: run.job_name.to_string(),
        scheduled_at: run.scheduled_at,
        started_at: end.started,
        finished_at: Some(end.finished),
        duration_ms: end.started.map(|s| (end.finished - s).num_milliseconds()),
        outcome: end.outcome,
        instance: run.instance.to_string(),
        manual: run.manual,
        started_by: run.started_by.map(str::to_string),
        attempts,
        summary: end.summary.cloned(),
        error: end.error.map(ErrorReason::from_stored),
    }
}

/// Records the final row and settles the claim (batched through the writer when it runs).
async fn record_final(core: &Core, run: &NewRun<'_>, end: RunEnd<'_>, settle: Settle) -> Carried {
    let writer = core.scheduler().history.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let recorded = match writer {
        Some(writer) => writer.record(FinalRow::new(run, &end), settle).await,
        None => {
            // Settled first: a finished run must not run again, whatever the database does.
            settle_now(core, settle).await;
            history::record_now(core.database(), run, &end).await
        }
    };
    match recorded {
        Ok(Some(id)) => {
            let attempts = i64::from(end.started.is_some());
            Some(Some(final_record(run, id, end, attempts)))
        }
        Ok(None) => Some(None),
        Err(e) => {
            tracing::error!(job = %run.job_name, error = %e, "cannot record a run");
            None
        }
    }
}

pub(super) async fn settle_now(core: &Core, settle: Settle) {
    if let Err(e) = core.scheduler().claims.finish_many(&[settle], core.instance_id()).await {
        tracing::warn!(error = %e, "cannot settle a claim (its lease will lapse)");
    }
}

async fn record_non_run(
    core: &Core,
    run: &NewRun<'_>,
    outcome: RunOutcome,
    summary: serde_json::Value,
    settle: Settle,
) -> Carried {
    let end = RunEnd { outcome, started: None, finished: Utc::now(), summary: Some(&summary), error: None };
    record_final(core, run, end, settle).await
}

/// Runs an admitted run. The task starts at once; a short run is recorded once, when it ends,
/// and a long one also gets a `running` row after [`RUNNING_ROW_AFTER`].
async fn run_admitted(
    core: &Core,
    job: &JobRecord,
    run: &NewRun<'_>,
    coalesced: u64,
    settle: Settle,
    leased_from: tokio::time::Instant,
) -> Carried {
    let shared = core.scheduler();
    let claim_key = settle.claim.clone();
    let claim = claim_key.as_deref();
    let started = Utc::now();
    shared.running.fetch_add(1, Ordering::Relaxed);
    // Stoppable from the console while it goes on (see `stop`).
    let (stop, _registered) = shared.stoppable.register(run.run_key);
    let grace = core.config().job_stop_grace;
    let work = async {
        let leases =
            Leases { job_id: job.id, max_instances: job.policy.max_instances, claim, slot: run.run_key, leased_from };
        let task = execute(core, job, run, coalesced, stop.token());
        let (result, lost) = keep_leases(core, leases, &stop, grace, task).await;
        let ended = lost.noted_in(result.unwrap_or_else(|| (RunOutcome::Failed, None, Some(lost.why_stopped()))));
        stop.applied_to(ended, lost.abandoned.then_some(grace.as_secs()))
    };
    let mut work = std::pin::pin!(work);
    // Biased, the work first: a run that ends at its first poll never arms the timer (an armed
    // timer wakes the runtime's timer driver even when it is dropped unfired).
    let quick = tokio::select! {
        biased;
        result = &mut work => Some(result),
        _ = tokio::time::sleep(RUNNING_ROW_AFTER) => None,
    };
    if let Some((outcome, summary, error)) = quick {
        shared.running.fetch_sub(1, Ordering::Relaxed);
        let end = RunEnd {
            outcome,
            started: Some(started),
            finished: Utc::now(),
            summary: summary.as_ref(),
            error: error.as_deref(),
        };
        return record_final(core, run, end, settle).await;
    }

    let record_start = async {
        let begun = store::begin_run(core.database(), run, started).await;
        if let Ok(Begun::Started(id) | Begun::TookOver(id)) = &begun {
            let mut running = final_record(
                run,
                *id,
                RunEnd {
                    outcome: RunOutcome::Running,
                    started: Some(started),
                    finished: started,
                    summary: None,
                    error: None,
                },
                1,
            );
            running.finished_at = None;
            running.duration_ms = None;
            core.publish(Event::RunStarted { run: running });
        }
        begun
    };
    // The claim is settled as soon as the task ends, not after the rows (the `running` row
    // may still be on its way to a slow database): the lease is no longer renewed.
    let work_then_settle = async {
        let result = (&mut work).await;
        settle_now(core, settle.clone()).await;
        result
    };
    let (begun, (outcome, summary, error)) = tokio::join!(record_start, work_then_settle);
    shared.running.fetch_sub(1, Ordering::Relaxed);
    let finished = Utc::now();
    let end = RunEnd { outcome, started: Some(started), finished, summary: summary.as_ref(), error: error.as_deref() };
    match begun {
        Ok(Begun::Started(id) | Begun::TookOver(id)) => {
            let closed = retry_transient(|| {
                store::finish_run(core.database().pool(), id, run.instance, outcome, finished, end.summary, end.error)
            })
            .await;
            if let Err(e) = closed {
                tracing::error!(job = %job.name, error = %e, "cannot record the end of a run");
                return None;
            }
            Some(Some(final_record(run, id, end, 1)))
        }
        Ok(Begun::AlreadyFinal) => Some(None),
        Err(e) => {
            tracing::error!(job = %job.name, error = %e, "cannot record the start of a run");
            // Try once more as a final row: the run happened and must be recorded.
            record_final(core, run, end, settle).await
        }
    }
}

/// How long the end of a long run is retried while the database cannot be reached.
const RECORD_RETRY_FOR: Duration = Duration::from_secs(60);

/// Runs `op` until it succeeds or fails for a reason other than the connection (a run's row
/// must not be lost to a database outage), for at most [`RECORD_RETRY_FOR`], doubling the pause
/// between attempts.
async fn retry_transient<T, F: Future<Output = sqlx::Result<T>>>(mut op: impl FnMut() -> F) -> sqlx::Result<T> {
    let mut pause = Duration::from_millis(100);
    let since = tokio::time::Instant::now();
    loop {
        match op().await {
            Err(e) if e.as_database_error().is_none() && since.elapsed() < RECORD_RETRY_FOR => {
                tracing::warn!(error = %e, "cannot record the end of a run yet; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            result => return result,
        }
    }
}

/// The task itself, with jitter and timeout applied: (outcome, summary, error).
async fn execute(
    core: &Core,
    job: &JobRecord,
    run: &NewRun<'_>,
    coalesced: u64,
    stop: tokio_util::sync::CancellationToken,
) -> (RunOutcome, Option<serde_json::Value>, Option<String>) {
    let shared = core.scheduler();
    if job.policy.jitter_seconds > 0 {
        let jitter = fastrand::u64(..=job.policy.jitter_seconds * 1000);
        tokio::time::sleep(Duration::from_millis(jitter)).await;
    }
    let Some(kind) = shared.registry.get(&job.kind) else {
        let reason = ErrorReason::new(ErrorCode::TaskKindUnknown).param("kind", &job.kind);
        return (RunOutcome::Failed, None, Some(reason.to_stored()));
    };
    let ctx = TaskContext {
        core: core.clone(),
        job_name: job.name.clone(),
        run_key: run.run_key.to_string(),
        scheduled_at: run.scheduled_at,
        stop,
    };
    // A panicking task is a failed run, not a lost one (and not the end of the runs beside it).
    let task = std::panic::AssertUnwindSafe(kind.run(ctx, job.args.clone())).catch_unwind().map(|caught| {
        caught.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|m| m.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            tracing::error!(job = %job.name, panic = %message, "the task panicked");
            Err(ErrorReason::new(ErrorCode::TaskPanicked))
        })
    });
    let result = match job.policy.timeout() {
        Some(limit) => match tokio::time::timeout(limit, task).await {
            Ok(result) => result,
            Err(_) => {
                let reason = ErrorReason::new(ErrorCode::TaskTimedOut).param("seconds", limit.as_secs());
                return (RunOutcome::TimedOut, None, Some(reason.to_stored()));
            }
        },
        None => task.await,
    };
    match result {
        Ok(mut summary) => {
            if coalesced > 0
                && let Some(map) = summary.as_object_mut()
            {
                map.insert("coalesced".into(), json!(coalesced));
            }
            (RunOutcome::Ok, Some(summary), None)
        }
        Err(reason) => (RunOutcome::Failed, None, Some(reason.to_stored())),
    }
}

/// Starts a manual run now, recorded as started by `who`; returns at once (the run goes on in
/// the background).
pub(crate) fn spawn_manual(core: &Core, job: JobRecord, who: String) {
    let core = core.clone();
    tokio::spawn(async move {
        let scheduled = Utc::now();
        let leased_from = tokio::time::Instant::now();
        let token = format!("m:{}:{}:{:08x}", job.id, scheduled.timestamp_millis(), fastrand::u32(..));
        let claims = &core.scheduler().claims;
        let admission = match claims.acquire_slot(job.id, &token, job.policy.max_instances).await {
            Ok(true) => Admission::Admitted,
            Ok(false) => Admission::NoSlot,
            Err(e) => {
                tracing::warn!(job = %job.name, error = %e, "cannot take a running slot; running anyway");
                Admission::Admitted
            }
        };
        let decision = Decision::Run { scheduled, coalesced: 0 };
        carry_out(&core, &job, decision, Origin::Manual { by: &who }, token, admission, leased_from).await;
    });
}
