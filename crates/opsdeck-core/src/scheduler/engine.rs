//! The firing loop of one instance. It sleeps until the next deadline of any active job (or
//! until woken because jobs changed), decides what is due (see `plan`), and hands the decisions
//! to a task that claims them in Redis, so that across all instances each scheduled instant is
//! handled exactly once, and carries out those it won.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::json;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::claims::{Admission, Beat, ClaimRequest, ClaimState, Claims, LEASE, SLOT_RENEW, Settle};
use super::history::{self, FinalRow, HistoryWriter};
use super::plan::{Decision, decide, due_fires};
use super::store::{self, Begun, JobRecord, JobRun, NewRun, RunEnd, RunOutcome};
use super::tasks::{Registry, TaskContext};
use super::trigger::{Schedule, parse_timezone};
use super::wall_timer::{WallTimer, not_before};
use crate::Core;
use crate::events::Event;

/// How often an instance beats; each beat (and each claim) also reads the shared jobs version, so
/// that another instance's edit is picked up within this long even when nothing is due.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// How often handled instants are written to the jobs' cursors.
const CURSOR_FLUSH: Duration = Duration::from_secs(10);
/// The heartbeat and the cursor flush are chores with a period. Whenever the loop is awake (for
/// runs due, or for the other chore), a chore due within this fraction of its period goes
/// along, so that the chores share the wake-ups that happen anyway instead of each having its
/// own (with a job every second, neither ever wakes the loop).
const CHORE_EARLY: i32 = 4;
/// How long shutdown waits for runs in progress before abandoning them to another instance.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The scheduler's parts that live as long as the core.
pub struct SchedulerShared {
    pub registry: Registry,
    pub claims: Claims,
    pub wake: Notify,
    pub running: AtomicUsize,
    pub started: DateTime<Utc>,
    /// The newest shared jobs version seen (read with every claim and heartbeat).
    jobs_version: AtomicI64,
    /// The batched writer of final run rows, while the firing loop runs.
    history: std::sync::Mutex<Option<HistoryWriter>>,
    /// Per job, the newest scheduled instant this instance finished and has not yet written to
    /// the job's cursor (flushed every few seconds: a stale cursor only costs a look at claims
    /// already marked done).
    handled: std::sync::Mutex<HashMap<i64, DateTime<Utc>>>,
}

impl SchedulerShared {
    fn handled(&self, job_id: i64, scheduled: DateTime<Utc>) {
        let mut handled = self.handled.lock().unwrap_or_else(|e| e.into_inner());
        let entry = handled.entry(job_id).or_insert(scheduled);
        *entry = (*entry).max(scheduled);
    }

    fn take_handled(&self) -> HashMap<i64, DateTime<Utc>> {
        std::mem::take(&mut *self.handled.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Notes the shared jobs version; when it moved (another instance edited a job), the loop
    /// is woken to reload.
    fn saw_jobs_version(&self, version: i64) {
        if self.jobs_version.swap(version, Ordering::Relaxed) != version {
            self.wake.notify_one();
        }
    }

    fn beat(&self) -> Beat {
        Beat { started_ms: self.started.timestamp_millis(), running: self.running.load(Ordering::Relaxed) }
    }
}

/// A chore with a period (the heartbeat, the cursor flush): due at `next`, and allowed to go up
/// to a [`CHORE_EARLY`]th of its period early.
struct Chore {
    period: chrono::Duration,
    next: DateTime<Utc>,
}

impl Chore {
    fn new(period: Duration, first: DateTime<Utc>) -> Chore {
        Chore { period: chrono::Duration::from_std(period).expect("small"), next: first }
    }

    /// Whether the chore goes now; if so, the next one is a period from now.
    fn take(&mut self, now: DateTime<Utc>) -> bool {
        // Never more than a period away: after the wall clock steps back, the chore would
        // otherwise wait out the step too (an instance that stops beating looks gone).
        self.next = self.next.min(now + self.period);
        let go = now >= self.next - self.period / CHORE_EARLY;
        if go {
            self.next = now + self.period;
        }
        go
    }
}

/// Writes the handled instants to the jobs' cursors.
async fn flush_cursors(core: &Core) {
    let cursors: Vec<(i64, DateTime<Utc>)> = core.scheduler().take_handled().into_iter().collect();
    if let Err(e) = store::advance_cursors(core.database().pool(), &cursors).await {
        tracing::warn!(jobs = cursors.len(), error = %e, "cannot advance the jobs' cursors");
        for (job_id, at) in cursors {
            core.scheduler().handled(job_id, at);
        }
    }
}

/// A job this instance fires, with its own cursor: every instant at or before it is handed off.
struct Active {
    record: JobRecord,
    schedule: Schedule,
    cursor: DateTime<Utc>,
    /// Instants after the cursor that already have a run row (read when the cursor came from
    /// the database, which is up to a flush period behind): never planned again, even when
    /// Redis has lost their `done` claims.
    recorded: BTreeSet<DateTime<Utc>>,
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
        let (cursor, recorded) = match active.remove(&record.id) {
            Some(old) if old.record.updated_at == record.updated_at && old.cursor >= stored => {
                (old.cursor, old.recorded)
            }
            _ => {
                // The stored cursor lags the runs by up to a flush period (more if an instance
                // died): SQL says which instants after it were handled, whatever Redis still
                // remembers. One query per job whose cursor comes from the database.
                let recorded = store::recorded_after(core.database().pool(), record.id, stored).await?;
                (stored, recorded.into_iter().collect())
            }
        };
        next.insert(record.id, Active { record, schedule, cursor, recorded });
    }
    *active = next;
    Ok(())
}

/// The loop wakes this long before an instant and claims it then, so that the claim's round trip
/// (from a wake-up, the Redis server's own wake-up included: about 0.5–1 ms here) is mostly over
/// when the instant comes; a run whose claim comes back early waits for its instant. One
/// wake-up per instant, not two (an early one to claim, then one to start): wake-ups are most of
/// what a mostly idle process pays for. The loop's timer is precise (see `wall_timer`), so the
/// lead is what it says.
const CLAIM_LEAD: Duration = Duration::from_millis(1);

/// Runs until `cancel`: the firing loop, the heartbeat and the cursor flush.
pub async fn run(core: Core, cancel: CancellationToken) {
    let shared = core.scheduler();
    let (writer, writer_done) =
        HistoryWriter::start(core.database().clone(), shared.claims.clone(), core.instance_id().to_string());
    *shared.history.lock().unwrap_or_else(|e| e.into_inner()) = Some(writer);
    let mut active: HashMap<i64, Active> = HashMap::new();
    let mut work: JoinSet<()> = JoinSet::new();
    let mut reload_needed = true;
    let mut beat = Chore::new(HEARTBEAT, Utc::now());
    let mut flush = Chore::new(CURSOR_FLUSH, Utc::now() + CURSOR_FLUSH);
    let mut defaults_done = false;
    let lead = chrono::Duration::from_std(CLAIM_LEAD).expect("small");
    let mut timer = WallTimer::new();

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
        if reload_needed {
            match reload(&core, &mut active).await {
                Ok(()) => reload_needed = false,
                Err(e) => tracing::warn!(error = %e, "cannot load jobs; retrying"),
            }
        }

        // Hand off every instant due by the lead, in one task: it claims them (with the heartbeat, when
        // one is due or nearly: see `Chore`) and carries out those it won.
        let now = Utc::now();
        let mut batch = Vec::new();
        for job in active.values_mut() {
            let (mut due, skipped) = due_fires(&job.schedule, job.cursor, now + lead);
            let Some(&newest) = due.last() else { continue };
            job.cursor = newest;
            if !job.recorded.is_empty() {
                due.retain(|at| !job.recorded.contains(at));
                job.recorded.retain(|at| *at > newest);
            }
            for decision in decide(&due, skipped, now.max(newest), &job.record.policy) {
                batch.push((job.record.clone(), decision));
            }
        }
        let beating = beat.take(now).then(|| shared.beat());
        if !batch.is_empty() || beating.is_some() {
            work.spawn(handle(core.clone(), batch, beating, cancel.clone()));
        }
        if flush.take(now) {
            let core = core.clone();
            work.spawn(async move { flush_cursors(&core).await });
        }
        // Reap finished work so the set does not grow.
        while work.try_join_next().is_some() {}

        let now = Utc::now();
        let next_fire = active.values().filter_map(|j| j.schedule.next_after(j.cursor)).map(|f| f.at).min();
        let mut wake_at = beat.next.min(flush.next);
        if reload_needed || !defaults_done {
            wake_at = wake_at.min(now + chrono::Duration::seconds(1));
        }
        if let Some(fire) = next_fire {
            wake_at = wake_at.min(fire - lead);
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = shared.wake.notified() => reload_needed = true,
            _ = timer.sleep_until(wake_at) => {}
        }
    }

    // Let runs in progress finish for a moment; what is left is abandoned to another instance
    // (its claim lease expires and the run is taken over).
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async { while work.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            abandoned = work.len(),
            "runs still in progress at shutdown; another instance will take them over"
        );
        work.abort_all();
    }
    // The last rows go out, then the writer stops.
    shared.history.lock().unwrap_or_else(|e| e.into_inner()).take();
    let _ = writer_done.await;
    flush_cursors(&core).await;
    if let Err(e) = shared.claims.leave(core.instance_id()).await {
        tracing::debug!(error = %e, "cannot deregister the instance");
    }
}

/// Claims a batch of decisions in one round trip (recording `beat` with it, if any); carries
/// out each one won at once, and watches each one lost in case the winner dies.
async fn handle(core: Core, batch: Vec<(JobRecord, Decision)>, beat: Option<Beat>, cancel: CancellationToken) {
    let shared = core.scheduler();
    let requests: Vec<ClaimRequest> = batch
        .iter()
        .map(|(job, decision)| ClaimRequest {
            key: shared.claims.claim_key(job.id, decision.scheduled().timestamp_millis()),
            job_id: job.id,
            token: run_key(job.id, decision.scheduled()),
            max_instances: matches!(decision, Decision::Run { .. }).then_some(job.policy.max_instances),
        })
        .collect();
    // The leases (claim and slot) run from here at the latest.
    let leased_from = tokio::time::Instant::now();
    let admissions = match shared.claims.claim_many(&requests, beat, core.instance_id()).await {
        Ok(claimed) => {
            shared.saw_jobs_version(claimed.jobs_version);
            claimed.admissions
        }
        Err(e) if batch.is_empty() => {
            tracing::debug!(error = %e, "heartbeat failed");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, runs = batch.len(), "cannot claim runs; watching for Redis");
            vec![Admission::Lost; batch.len()]
        }
    };
    let mut watches = JoinSet::new();
    let mut won = Vec::new();
    for (((job, decision), request), admission) in batch.into_iter().zip(requests).zip(admissions) {
        if admission == Admission::Lost {
            watches.spawn(watch(core.clone(), job, decision, request.key, cancel.clone()));
        } else {
            won.push((job, decision, request, admission));
        }
    }
    // Claimed up to the claim lead early: start on the instant, never before.
    if let Some(latest) = won.iter().map(|(_, decision, _, _)| decision.scheduled()).max() {
        not_before(latest).await;
    }
    // The runs won are driven together inside this one task rather than spawned one task each:
    // spawning or waking N tasks from one worker makes tokio unpark the other worker N times (it
    // finds nothing to steal and parks again), and the history writer answers the whole batch at
    // once, which here is a single wake-up.
    let runs: FuturesUnordered<_> = won
        .iter()
        .map(|(job, decision, request, admission)| {
            carry_out(&core, job, *decision, Some(&request.key), request.token.clone(), *admission, leased_from)
        })
        .collect();
    tokio::join!(runs.collect::<()>(), async { while watches.join_next().await.is_some() {} });
}

/// Waits for the claim's holder to finish; takes the claim over when its lease lapses without
/// the run being done (the holder died).
async fn watch(core: Core, job: JobRecord, decision: Decision, key: String, cancel: CancellationToken) {
    let claims = core.scheduler().claims.clone();
    let instance = core.instance_id().to_string();
    loop {
        let pause = match claims.state(&key).await {
            Ok((ClaimState::Done(_), _)) => return,
            Ok((ClaimState::Running(holder), ttl)) if holder != instance => {
                ttl.unwrap_or(LEASE) + Duration::from_millis(50)
            }
            // Free (its holder died, or Redis lost it), or ours: a claim this instance watches
            // is one whose claim call failed, so ours means the call set it and its answer was
            // lost on the way back. Nobody else runs it (and with one instance nobody would
            // ever take it over): it is carried out here, with the slot taken now.
            Ok((state, _)) => {
                let ours = state != ClaimState::Free;
                let scheduled = decision.scheduled();
                let grace = chrono::Duration::seconds(job.policy.misfire_grace_seconds as i64);
                let late = Utc::now() - scheduled > grace;
                let token = run_key(job.id, scheduled);
                let leased_from = tokio::time::Instant::now();
                let claimed = if ours && late {
                    Ok(Admission::Admitted)
                } else if ours {
                    claims
                        .acquire_slot(job.id, &token, job.policy.max_instances)
                        .await
                        .map(|got| if got { Admission::Admitted } else { Admission::NoSlot })
                } else if late {
                    claims.claim(&key, &instance).await.map(
                        |won| {
                            if won { Admission::Admitted } else { Admission::Lost }
                        },
                    )
                } else {
                    claims.claim_with_slot(&key, &instance, job.id, &token, job.policy.max_instances).await
                };
                match claimed {
                    Ok(Admission::Lost) => Duration::from_millis(50),
                    // Free because Redis lost the claim (a flush, a restart without
                    // persistence), not because its holder died: the run's row says it was
                    // handled. The claim is marked done again.
                    Ok(_) if matches!(store::run_recorded(core.database().pool(), &token).await, Ok(true)) => {
                        let settle = Settle { claim: Some(key.clone()), job_id: job.id, token };
                        settle_now(&core, settle).await;
                        return;
                    }
                    Ok(admission) => {
                        let decision = if late { Decision::Missed { scheduled, coalesced: 0 } } else { decision };
                        if ours {
                            tracing::warn!(job = %job.name, %scheduled, "running a claim whose answer was lost");
                        } else {
                            tracing::info!(job = %job.name, %scheduled, "taking over a run whose instance stopped");
                        }
                        // A claim that failed on the way out is free at once: never before the instant.
                        not_before(scheduled).await;
                        carry_out(&core, &job, decision, Some(&key), token, admission, leased_from).await;
                        return;
                    }
                    Err(_) => Duration::from_secs(1),
                }
            }
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

/// The result of carrying out a decision: None when the database refused it; Some(None) when
/// there is nothing new to announce (another instance recorded it).
type Carried = Option<Option<JobRun>>;

/// Carries out a decision this instance owns (`claim` is None for a manual run). `key` is the
/// run's key, which is also its running-slot token. Whoever writes the final row settles the
/// claim and the slot. `leased_from`: when the claim and slot were asked for, the latest their
/// leases can have started (a run may start well after it: it waits for its instant).
pub(crate) async fn carry_out(
    core: &Core,
    job: &JobRecord,
    decision: Decision,
    claim: Option<&str>,
    key: String,
    admission: Admission,
    leased_from: tokio::time::Instant,
) {
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
        attempts,
        summary: end.summary.cloned(),
        error: end.error.map(str::to_string),
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

async fn settle_now(core: &Core, settle: Settle) {
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
    let work = async {
        let leases =
            Leases { job_id: job.id, max_instances: job.policy.max_instances, claim, slot: run.run_key, leased_from };
        let (result, lost) = keep_leases(core, leases, execute(core, job, run, coalesced)).await;
        lost.noted_in(result.unwrap_or_else(|| (RunOutcome::Failed, None, Some(lost.why_stopped()))))
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
) -> (RunOutcome, Option<serde_json::Value>, Option<String>) {
    let shared = core.scheduler();
    if job.policy.jitter_seconds > 0 {
        let jitter = fastrand::u64(..=job.policy.jitter_seconds * 1000);
        tokio::time::sleep(Duration::from_millis(jitter)).await;
    }
    let Some(kind) = shared.registry.get(&job.kind) else {
        return (RunOutcome::Failed, None, Some(format!("unknown task kind {:?} in this build", job.kind)));
    };
    let ctx = TaskContext {
        core: core.clone(),
        job_name: job.name.clone(),
        run_key: run.run_key.to_string(),
        scheduled_at: run.scheduled_at,
    };
    // A panicking task is a failed run, not a lost one (and not the end of the runs beside it).
    let task = std::panic::AssertUnwindSafe(kind.run(ctx, job.args.clone())).catch_unwind().map(|caught| {
        caught.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|m| m.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(format!("the task panicked: {message}"))
        })
    });
    let result = match job.policy.timeout() {
        Some(limit) => match tokio::time::timeout(limit, task).await {
            Ok(result) => result,
            Err(_) => {
                return (RunOutcome::TimedOut, None, Some(format!("stopped after the {} s timeout", limit.as_secs())));
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
}

/// What a run holds in Redis while it goes on.
struct Leases<'a> {
    job_id: i64,
    max_instances: u32,
    claim: Option<&'a str>,
    slot: &'a str,
    /// When they were asked for: renewals are timed from here, not from the run's start (a run
    /// that waited for its instant must not let its slot lapse before its first renewal).
    leased_from: tokio::time::Instant,
}

/// What a run lost while it went on: its claim (another instance holds it, and may run the
/// instant too) or its running slot (it lapsed and another run took it).
#[derive(Debug, Clone, Copy, Default)]
struct Lost {
    claim: bool,
    slot: bool,
}

impl Lost {
    /// Why a run was stopped midway.
    fn why_stopped(self) -> String {
        match self.claim {
            true => {
                "stopped: another instance took over this instant's claim (this one could not renew it in time)".into()
            }
            false => "stopped: its running slot lapsed and another run took it; max_instances holds".into(),
        }
    }

    /// The run's result with the losses noted in its summary (`claim_lost`, `slot_lost`), so that
    /// the history shows a run that may have overlapped another.
    fn noted_in(
        self,
        (outcome, summary, error): (RunOutcome, Option<serde_json::Value>, Option<String>),
    ) -> (RunOutcome, Option<serde_json::Value>, Option<String>) {
        if !self.claim && !self.slot {
            return (outcome, summary, error);
        }
        let mut summary = summary.unwrap_or_else(|| json!({}));
        if let Some(map) = summary.as_object_mut() {
            if self.claim {
                map.insert("claim_lost".into(), json!(true));
            }
            if self.slot {
                map.insert("slot_lost".into(), json!(true));
            }
        }
        (outcome, Some(summary), error)
    }
}

/// Drives `work` while renewing the running slot every [`SLOT_RENEW`] and the claim every third
/// of a lease. A run that ends sooner touches Redis for neither. A renewal that finds the claim
/// held by another instance, or the slot lapsed and taken by another run, stops the work there
/// (`None`: the future is dropped at its next await, as River and Temporal cancel a job whose
/// lease was lost): the other holder runs it now, and two at once is what the lease and
/// `max_instances` exist to prevent. A renewal that fails (Redis unreachable) stops nothing:
/// nobody else can take the lease then either.
async fn keep_leases<T>(core: &Core, leases: Leases<'_>, work: impl Future<Output = T>) -> (Option<T>, Lost) {
    let shared = core.scheduler();
    let mut work = std::pin::pin!(work);
    let start = leases.leased_from;
    let mut slot_ticks = tokio::time::interval_at(start + SLOT_RENEW, SLOT_RENEW);
    let mut claim_ticks = tokio::time::interval_at(start + LEASE / 3, LEASE / 3);
    // Missed ticks (a renewal slow to answer, or a run that waited for its instant) come at once,
    // one after the other (tokio's default, `Burst`): renewals then follow each other as closely
    // as Redis answers. Spacing them a period after a late one (`Delay`) left a slot whose every
    // renewal took 1.5 s lapsing under a live run.
    let mut lost = Lost::default();
    loop {
        tokio::select! {
            // The work first, so that a run ending at its first poll arms neither timer.
            biased;
            result = &mut work => return (Some(result), lost),
            _ = slot_ticks.tick(), if !lost.slot => {
                match shared.claims.renew_slot(leases.job_id, leases.slot, leases.max_instances).await {
                    Ok(true) => {}
                    Ok(false) => {
                        lost.slot = true;
                        tracing::warn!(run = leases.slot, "a run's slot lapsed and was taken: the run stops");
                        return (None, lost);
                    }
                    Err(e) => tracing::warn!(run = leases.slot, error = %e, "cannot renew a run's slot"),
                }
            }
            _ = claim_ticks.tick(), if leases.claim.is_some() && !lost.claim => {
                let claim = leases.claim.unwrap_or_default();
                match shared.claims.renew(claim, core.instance_id()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        lost.claim = true;
                        tracing::warn!(claim, "a run's claim is held by another instance: the run stops");
                        return (None, lost);
                    }
                    Err(e) => tracing::warn!(claim, error = %e, "cannot renew a run's claim"),
                }
            }
        }
    }
}

/// Starts a manual run now; returns at once (the run goes on in the background).
pub(crate) fn spawn_manual(core: &Core, job: JobRecord) {
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
        carry_out(&core, &job, Decision::Run { scheduled, coalesced: 0 }, None, token, admission, leased_from).await;
    });
}

/// The parts shared by the core and the loop.
pub fn shared(core_redis: crate::redis_conn::RedisConn, registry: Registry) -> Arc<SchedulerShared> {
    Arc::new(SchedulerShared {
        registry,
        claims: Claims::new(core_redis),
        wake: Notify::new(),
        running: AtomicUsize::new(0),
        started: Utc::now(),
        handled: std::sync::Mutex::new(HashMap::new()),
        history: std::sync::Mutex::new(None),
        jobs_version: AtomicI64::new(i64::MIN),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn a_chore_goes_when_due_or_along_with_a_wake_up_a_quarter_period_early() {
        let mut beat = Chore::new(Duration::from_secs(2), at(0));
        assert!(beat.take(at(0)), "due at once");
        assert_eq!(beat.next, at(2_000));
        assert!(!beat.take(at(1_000)), "a wake-up half a period early does not take it");
        assert!(beat.take(at(1_500)), "a wake-up a quarter period early does");
        assert_eq!(beat.next, at(3_500), "and the next is a period after it went");
        assert!(!beat.take(at(2_900)), "not yet within a quarter period of the next");
        assert!(beat.take(at(9_000)), "late goes too");
        assert_eq!(beat.next, at(11_000));
    }

    #[test]
    fn after_the_clock_steps_back_a_chore_is_never_more_than_a_period_away() {
        let mut beat = Chore::new(Duration::from_secs(2), at(0));
        assert!(beat.take(at(60_000)));
        // The clock is set back a minute: the next beat is due within a period of the new now.
        assert!(!beat.take(at(1_000)));
        assert_eq!(beat.next, at(3_000));
        assert!(beat.take(at(3_000)));
    }

    #[test]
    fn with_runs_every_second_the_heartbeat_goes_every_two_seconds_riding_on_them() {
        // The loop wakes on each whole second (plus timer slack) for the runs; the beat never
        // needs a wake-up of its own and still goes at its period.
        let mut beat = Chore::new(HEARTBEAT, at(0));
        let went: Vec<i64> = (0..10).map(|s| s * 1_000 + 2).filter(|&ms| beat.take(at(ms))).collect();
        assert_eq!(went, vec![2, 2_002, 4_002, 6_002, 8_002]);
    }
}
