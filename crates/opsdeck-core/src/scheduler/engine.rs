//! The firing loop of one instance. It sleeps until the next deadline of any active job (or
//! until woken because jobs changed), decides what is due (see `plan`), and hands each decision
//! to a task that claims it in Redis, so that across all instances each scheduled instant is
//! handled exactly once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::claims::{ClaimState, Claims, LEASE};
use super::plan::{Decision, decide, due_fires};
use super::store::{self, Begun, JobRecord, JobRun, NewRun, RunOutcome};
use super::tasks::{Registry, TaskContext};
use super::trigger::{Schedule, parse_timezone};
use crate::Core;
use crate::events::Event;

/// How often the loop checks the shared jobs version even when nothing is due.
const VERSION_CHECK: Duration = Duration::from_secs(2);
/// How often an instance beats.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long shutdown waits for runs in progress before abandoning them to another instance.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The scheduler's parts that live as long as the core.
pub struct SchedulerShared {
    pub registry: Registry,
    pub claims: Claims,
    pub wake: Notify,
    pub running: AtomicUsize,
    pub started: DateTime<Utc>,
}

/// A job this instance fires, with its own cursor: every instant at or before it is handed off.
struct Active {
    record: JobRecord,
    schedule: Schedule,
    cursor: DateTime<Utc>,
}

fn compile(record: &JobRecord) -> Option<Schedule> {
    let tz = parse_timezone(&record.timezone).ok()?;
    match Schedule::compile(&record.trigger, tz, record.trigger_since) {
        Ok(schedule) => Some(schedule),
        Err(e) => {
            tracing::error!(job = %record.name, error = %e, "stored trigger is invalid; job not scheduled");
            None
        }
    }
}

async fn reload(core: &Core, active: &mut HashMap<i64, Active>) -> sqlx::Result<()> {
    let records = store::load_jobs(core.database().pool()).await?;
    let mut next = HashMap::with_capacity(records.len());
    for record in records.into_iter().filter(|r| !r.paused) {
        let Some(schedule) = compile(&record) else {
            continue;
        };
        let stored = record.cursor_at.unwrap_or(record.trigger_since);
        let cursor = match active.remove(&record.id) {
            Some(old) if old.record.updated_at == record.updated_at => old.cursor.max(stored),
            _ => stored,
        };
        next.insert(
            record.id,
            Active {
                record,
                schedule,
                cursor,
            },
        );
    }
    *active = next;
    Ok(())
}

/// Runs until `cancel`: the firing loop plus the heartbeat.
pub async fn run(core: Core, cancel: CancellationToken) {
    let shared = core.scheduler();
    let mut active: HashMap<i64, Active> = HashMap::new();
    let mut work: JoinSet<()> = JoinSet::new();
    let mut reload_needed = true;
    let mut version: Option<i64> = None;
    let mut next_version_check = Utc::now();
    let mut next_beat = Utc::now();
    let mut defaults_done = false;

    loop {
        if !defaults_done {
            let defaults = super::defaults::default_jobs(core.config().timezone.name());
            match store::ensure_defaults(core.database(), &defaults, Utc::now()).await {
                Ok(inserted) => {
                    defaults_done = true;
                    if !inserted.is_empty() {
                        tracing::info!(?inserted, "default jobs added");
                        reload_needed = true;
                        core.publish(Event::JobsChanged);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cannot add the default jobs yet"),
            }
        }
        let now = Utc::now();
        if now >= next_version_check {
            next_version_check = now + VERSION_CHECK;
            match shared.claims.jobs_version().await {
                Ok(v) if Some(v) != version => {
                    version = Some(v);
                    reload_needed = true;
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "cannot read the jobs version"),
            }
        }
        if now >= next_beat {
            next_beat = now + HEARTBEAT;
            let claims = shared.claims.clone();
            let (instance, started) = (core.info().instance_id, shared.started.timestamp_millis());
            let running = shared.running.load(Ordering::Relaxed);
            work.spawn(async move {
                if let Err(e) = claims
                    .heartbeat(&instance, started, Utc::now().timestamp_millis(), running)
                    .await
                {
                    tracing::debug!(error = %e, "heartbeat failed");
                }
            });
        }
        if reload_needed {
            match reload(&core, &mut active).await {
                Ok(()) => reload_needed = false,
                Err(e) => tracing::warn!(error = %e, "cannot load jobs; retrying"),
            }
        }

        let now = Utc::now();
        for job in active.values_mut() {
            let (due, skipped) = due_fires(&job.schedule, job.cursor, now);
            let Some(&newest) = due.last() else { continue };
            job.cursor = newest;
            for decision in decide(&due, skipped, now, &job.record.policy) {
                work.spawn(handle(
                    core.clone(),
                    job.record.clone(),
                    decision,
                    cancel.clone(),
                ));
            }
        }
        // Reap finished work so the set does not grow.
        while work.try_join_next().is_some() {}

        let now = Utc::now();
        let next_fire = active
            .values()
            .filter_map(|j| j.schedule.next_after(j.cursor))
            .map(|f| f.at)
            .min();
        let mut wake_at = next_version_check.min(next_beat);
        if reload_needed || !defaults_done {
            wake_at = wake_at.min(now + chrono::Duration::seconds(1));
        }
        if let Some(fire) = next_fire {
            wake_at = wake_at.min(fire);
        }
        let sleep = (wake_at - now).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = shared.wake.notified() => reload_needed = true,
            _ = tokio::time::sleep(sleep) => {}
        }
    }

    // Let runs in progress finish for a moment; what is left is abandoned to another instance
    // (its claim lease expires and the run is taken over).
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while work.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            abandoned = work.len(),
            "runs still in progress at shutdown; another instance will take them over"
        );
        work.abort_all();
    }
    if let Err(e) = shared.claims.leave(&core.info().instance_id).await {
        tracing::debug!(error = %e, "cannot deregister the instance");
    }
}

/// Claims one decision; the winner carries it out, a loser watches in case the winner dies.
async fn handle(core: Core, job: JobRecord, decision: Decision, cancel: CancellationToken) {
    let claims = core.scheduler().claims.clone();
    let instance = core.info().instance_id;
    let key = claims.claim_key(job.id, decision.scheduled().timestamp_millis());
    match claims.claim(&key, &instance).await {
        Ok(true) => carry_out(&core, &job, decision, Some(&key)).await,
        Ok(false) => watch(core, job, decision, key, cancel).await,
        Err(e) => {
            tracing::warn!(job = %job.name, error = %e, "cannot claim a run; watching for Redis");
            watch(core, job, decision, key, cancel).await
        }
    }
}

/// Waits for the claim's holder to finish; takes the claim over when its lease lapses without
/// the run being done (the holder died).
async fn watch(
    core: Core,
    job: JobRecord,
    decision: Decision,
    key: String,
    cancel: CancellationToken,
) {
    let claims = core.scheduler().claims.clone();
    let instance = core.info().instance_id;
    loop {
        let pause = match claims.state(&key).await {
            Ok((ClaimState::Done(_), _)) => return,
            Ok((ClaimState::Running(holder), ttl)) if holder == instance => {
                // Our own claim from before a restart of the loop: nothing to watch.
                let _ = ttl;
                return;
            }
            Ok((ClaimState::Running(_), ttl)) => ttl.unwrap_or(LEASE) + Duration::from_millis(50),
            Ok((ClaimState::Free, _)) => match claims.claim(&key, &instance).await {
                Ok(true) => {
                    let now = Utc::now();
                    let grace = chrono::Duration::seconds(job.policy.misfire_grace_seconds as i64);
                    let scheduled = decision.scheduled();
                    let late = if now - scheduled > grace {
                        Decision::Missed {
                            scheduled,
                            coalesced: 0,
                        }
                    } else {
                        decision
                    };
                    tracing::info!(job = %job.name, %scheduled, "taking over a run whose instance stopped");
                    carry_out(&core, &job, late, Some(&key)).await;
                    return;
                }
                Ok(false) => Duration::from_millis(50),
                Err(_) => Duration::from_secs(1),
            },
            Err(_) => Duration::from_secs(1),
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

fn run_key(job_id: i64, scheduled: DateTime<Utc>) -> String {
    format!("s:{job_id}:{}", scheduled.timestamp_millis())
}

/// Carries out a decision this instance owns (`claim` is None for a manual run).
pub(crate) async fn carry_out(
    core: &Core,
    job: &JobRecord,
    decision: Decision,
    claim: Option<&str>,
) {
    let shared = core.scheduler();
    let instance = core.info().instance_id;
    let scheduled = decision.scheduled();
    let key = match claim {
        Some(_) => run_key(job.id, scheduled),
        None => format!(
            "m:{}:{}:{:08x}",
            job.id,
            scheduled.timestamp_millis(),
            fastrand::u32(..)
        ),
    };
    let new_run = NewRun {
        run_key: &key,
        job_id: job.id,
        job_name: &job.name,
        scheduled_at: scheduled,
        instance: &instance,
        manual: claim.is_none(),
    };
    let outcome = match decision {
        Decision::Missed { coalesced, .. } => {
            let late_ms = (Utc::now() - scheduled).num_milliseconds();
            let summary = json!({ "late_ms": late_ms, "coalesced": coalesced });
            record_non_run(core, &new_run, RunOutcome::Missed, summary).await
        }
        Decision::Run { coalesced, .. } => run_once(core, job, &new_run, coalesced, claim).await,
    };
    if let Some(claim) = claim {
        if let Err(e) = shared.claims.complete(claim, &instance).await {
            tracing::warn!(job = %job.name, error = %e, "cannot mark the claim done");
        }
        if outcome.is_some()
            && let Err(e) = store::advance_cursor(core.database().pool(), job.id, scheduled).await
        {
            tracing::warn!(job = %job.name, error = %e, "cannot advance the job's cursor");
        }
    }
    // Announced last: when a window hears of it, the claim and cursor are settled too.
    if let Some(Some(run)) = outcome {
        core.publish(Event::RunFinished { run });
    }
}

/// The result of carrying out a decision: None when the database refused it; Some(None) when
/// there is nothing new to announce (another instance recorded it).
type Carried = Option<Option<JobRun>>;

async fn record_non_run(
    core: &Core,
    run: &NewRun<'_>,
    outcome: RunOutcome,
    summary: serde_json::Value,
) -> Carried {
    let now = Utc::now();
    match store::record_non_run(core.database(), run, outcome, now, Some(&summary)).await {
        Ok(Some(id)) => {
            let record = JobRun {
                id,
                job_id: run.job_id,
                job_name: run.job_name.to_string(),
                scheduled_at: run.scheduled_at,
                started_at: None,
                finished_at: Some(now),
                duration_ms: None,
                outcome,
                instance: run.instance.to_string(),
                manual: run.manual,
                attempts: 0,
                summary: Some(summary),
                error: None,
            };
            Some(Some(record))
        }
        Ok(None) => Some(None),
        Err(e) => {
            tracing::error!(job = %run.job_name, error = %e, "cannot record a run");
            None
        }
    }
}

/// Admits, records, runs and closes one run. None when the database refused it.
async fn run_once(
    core: &Core,
    job: &JobRecord,
    run: &NewRun<'_>,
    coalesced: u64,
    claim: Option<&str>,
) -> Carried {
    let shared = core.scheduler();
    let slot_token = run.run_key.to_string();
    match shared
        .claims
        .acquire_slot(
            job.id,
            &slot_token,
            job.policy.max_instances,
            Utc::now().timestamp_millis(),
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            let summary = json!({ "max_instances": job.policy.max_instances });
            return record_non_run(core, run, RunOutcome::SkippedOverlap, summary).await;
        }
        Err(e) => {
            tracing::warn!(job = %job.name, error = %e, "cannot take a running slot; running anyway");
        }
    }
    let result = run_admitted(core, job, run, coalesced, claim, &slot_token).await;
    if let Err(e) = shared.claims.release_slot(job.id, &slot_token).await {
        tracing::debug!(job = %job.name, error = %e, "cannot release the running slot (it expires)");
    }
    result
}

async fn run_admitted(
    core: &Core,
    job: &JobRecord,
    run: &NewRun<'_>,
    coalesced: u64,
    claim: Option<&str>,
    slot: &str,
) -> Carried {
    let shared = core.scheduler();
    let started = Utc::now();
    let id = match store::begin_run(core.database(), run, started).await {
        Ok(Begun::Started(id)) | Ok(Begun::TookOver(id)) => id,
        Ok(Begun::AlreadyFinal) => return Some(None),
        Err(e) => {
            tracing::error!(job = %job.name, error = %e, "cannot record the start of a run");
            return None;
        }
    };
    let mut record = JobRun {
        id,
        job_id: job.id,
        job_name: job.name.clone(),
        scheduled_at: run.scheduled_at,
        started_at: Some(started),
        finished_at: None,
        duration_ms: None,
        outcome: RunOutcome::Running,
        instance: run.instance.to_string(),
        manual: run.manual,
        attempts: 1,
        summary: None,
        error: None,
    };
    core.publish(Event::RunStarted {
        run: record.clone(),
    });
    shared.running.fetch_add(1, Ordering::Relaxed);

    let work = async {
        if job.policy.jitter_seconds > 0 {
            let jitter = fastrand::u64(..=job.policy.jitter_seconds * 1000);
            tokio::time::sleep(Duration::from_millis(jitter)).await;
        }
        let Some(kind) = shared.registry.get(&job.kind) else {
            return (
                RunOutcome::Failed,
                None,
                Some(format!("unknown task kind {:?} in this build", job.kind)),
            );
        };
        let ctx = TaskContext {
            core: core.clone(),
            job_name: job.name.clone(),
            run_id: id,
            scheduled_at: run.scheduled_at,
        };
        let task = kind.run(ctx, job.args.clone());
        let result = match job.policy.timeout() {
            Some(limit) => match tokio::time::timeout(limit, task).await {
                Ok(result) => result,
                Err(_) => {
                    return (
                        RunOutcome::TimedOut,
                        None,
                        Some(format!("stopped after the {} s timeout", limit.as_secs())),
                    );
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
            Err(error) => (RunOutcome::Failed, None, Some(error)),
        }
    };
    let (outcome, summary, error) = keep_leases(core, job.id, claim, slot, work).await;
    shared.running.fetch_sub(1, Ordering::Relaxed);

    let finished = Utc::now();
    if let Err(e) = store::finish_run(
        core.database().pool(),
        id,
        run.instance,
        outcome,
        finished,
        summary.as_ref(),
        error.as_deref(),
    )
    .await
    {
        tracing::error!(job = %job.name, error = %e, "cannot record the end of a run");
        return None;
    }
    record.outcome = outcome;
    record.finished_at = Some(finished);
    record.duration_ms = Some((finished - started).num_milliseconds());
    record.summary = summary;
    record.error = error;
    Some(Some(record))
}

/// Drives `work` while renewing the claim and the running slot every third of a lease.
async fn keep_leases<T>(
    core: &Core,
    job_id: i64,
    claim: Option<&str>,
    slot: &str,
    work: impl Future<Output = T>,
) -> T {
    let shared = core.scheduler();
    let instance = core.info().instance_id;
    let mut work = std::pin::pin!(work);
    let mut ticks = tokio::time::interval(LEASE / 3);
    ticks.tick().await;
    loop {
        tokio::select! {
            result = &mut work => return result,
            _ = ticks.tick() => {
                if let Some(claim) = claim {
                    let _ = shared.claims.renew(claim, &instance).await;
                }
                let _ = shared.claims.renew_slot(job_id, slot, Utc::now().timestamp_millis()).await;
            }
        }
    }
}

/// Starts a manual run now; returns at once (the run goes on in the background).
pub(crate) fn spawn_manual(core: &Core, job: JobRecord) {
    let core = core.clone();
    tokio::spawn(async move {
        let decision = Decision::Run {
            scheduled: Utc::now(),
            coalesced: 0,
        };
        carry_out(&core, &job, decision, None).await;
    });
}

/// The parts shared by the core and the loop.
pub fn shared(
    core_redis: crate::redis_conn::RedisConn,
    registry: Registry,
) -> Arc<SchedulerShared> {
    Arc::new(SchedulerShared {
        registry,
        claims: Claims::new(core_redis),
        wake: Notify::new(),
        running: AtomicUsize::new(0),
        started: Utc::now(),
    })
}
