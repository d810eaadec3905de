//! The scheduler's part of the facade: list, preview, create, edit, pause, resume, run now,
//! delete, history and instances. Every change is validated first, audited, and announced to
//! every instance (jobs version) and every window (`JobsChanged`).

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::{Core, MAX_PAGE};
use crate::accounts::Actor;
use crate::audit::NewAuditEntry;
use crate::error::{ApiError, ErrorCode};
use crate::events::Event;
use crate::scheduler::claims::SLOT_RENEW;
use crate::scheduler::engine;
use crate::scheduler::policy::PolicyExt;
use crate::scheduler::store::{self, JobRecord};
use crate::scheduler::tasks::TaskKindInfo;
use crate::scheduler::trigger::{self, FireTime, TriggerError, parse_timezone};
use crate::scheduler::{JobDraft, JobOrigin, JobRun, RunOutcome, RunPage, RunQuery, Schedule, TriggerSpec};

pub use opsdeck_api::jobs::{JobEdit, JobView, SchedulerInstance};

/// How many upcoming fire times the list shows.
const PREVIEW_COUNT: usize = 5;
/// The most fire times a preview computes.
const MAX_PREVIEW: usize = 100;

impl From<TriggerError> for ApiError {
    fn from(e: TriggerError) -> ApiError {
        let field = e.field;
        e.params
            .into_iter()
            .fold(ApiError::coded(e.code, e.message).field(field), |error, (key, value)| error.param(&key, value))
    }
}

impl Core {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Validates a trigger in a zone, refusing a one-shot date that is already past.
    fn check_trigger(&self, trigger: &TriggerSpec, timezone: &str) -> Result<(), ApiError> {
        trigger::preview(trigger, timezone, self.now(), 1)?;
        Ok(())
    }

    fn check_args(&self, kind: &str, args: &serde_json::Value) -> Result<(), ApiError> {
        let task = self.scheduler().registry.get(kind).ok_or_else(|| {
            ApiError::coded(ErrorCode::TaskKindUnknown, format!("unknown task kind {kind:?}"))
                .field("kind")
                .param("kind", kind)
        })?;
        task.validate(args).map_err(|e| e.field("args"))
    }

    /// The next `count` fire times of a trigger, exactly as the scheduler would fire them (any
    /// staff member).
    pub async fn job_preview(
        &self,
        trigger: &TriggerSpec,
        timezone: &str,
        count: usize,
        actor: &Actor,
    ) -> Result<Vec<FireTime>, ApiError> {
        self.require_reader(actor).await?;
        if count == 0 || count > MAX_PREVIEW {
            return Err(ApiError::out_of_range("count", 1, MAX_PREVIEW));
        }
        Ok(trigger::preview(trigger, timezone, self.now(), count)?)
    }

    /// The task kinds a job may run (any staff member).
    pub async fn job_kinds(&self, actor: &Actor) -> Result<Vec<TaskKindInfo>, ApiError> {
        self.require_reader(actor).await?;
        Ok(self.scheduler().registry.infos())
    }

    fn view(&self, record: JobRecord, last: Option<JobRun>) -> JobView {
        let now = self.now();
        let schedule = parse_timezone(&record.timezone)
            .ok()
            .and_then(|tz| Schedule::compile(&record.trigger, tz, record.trigger_since).ok());
        let (trigger_text, next_fires) = match &schedule {
            Some(s) if record.paused => (s.describe(), Vec::new()),
            Some(s) => (s.describe(), s.local_fires(now.max(record.cursor_at.unwrap_or(now)), PREVIEW_COUNT)),
            None => ("invalid trigger".into(), Vec::new()),
        };
        JobView {
            id: record.id,
            name: record.name,
            kind: record.kind,
            trigger: record.trigger,
            trigger_text,
            timezone: record.timezone,
            args: record.args,
            policy: record.policy,
            paused: record.paused,
            origin: record.origin,
            next_fires,
            last_run: last,
        }
    }

    /// Every job with its next fire times and last run (any staff member).
    pub async fn jobs_list(&self, actor: &Actor) -> Result<Vec<JobView>, ApiError> {
        self.require_reader(actor).await?;
        let pool = self.database().pool();
        let records = store::load_jobs(pool).await?;
        let mut last: HashMap<i64, JobRun> = store::last_runs(pool).await?.into_iter().map(|r| (r.job_id, r)).collect();
        Ok(records
            .into_iter()
            .map(|r| {
                let run = last.remove(&r.id);
                self.view(r, run)
            })
            .collect())
    }

    pub async fn job_get(&self, id: i64) -> Result<JobView, ApiError> {
        let record = self.job_record(id).await?;
        let last =
            store::list_runs(self.database().pool(), &RunQuery { job_id: Some(id), limit: 1, ..RunQuery::default() })
                .await?
                .runs
                .pop();
        Ok(self.view(record, last))
    }

    async fn job_record(&self, id: i64) -> Result<JobRecord, ApiError> {
        store::get_job(self.database().pool(), id)
            .await?
            .ok_or_else(|| ApiError::coded(ErrorCode::JobNotFound, format!("no job with id {id}")).param("id", id))
    }

    /// Tells every instance and every window that jobs changed.
    async fn jobs_changed(&self) {
        if let Err(e) = self.scheduler().claims.bump_jobs_version().await {
            tracing::warn!(error = %e, "cannot announce a job change to other instances (they reload within seconds of Redis returning)");
        }
        self.scheduler().wake.notify_one();
        self.publish(Event::JobsChanged);
    }

    /// Audits a change to a job, then announces it to every instance and window.
    async fn job_changed(&self, who: &str, action: &str, job: &str, detail: serde_json::Value) -> Result<(), ApiError> {
        self.audit_job(who, action, job, detail).await?;
        self.jobs_changed().await;
        Ok(())
    }

    async fn audit_job(&self, who: &str, action: &str, job: &str, detail: serde_json::Value) -> Result<(), ApiError> {
        self.record_audit(NewAuditEntry { who, action, target: &format!("job:{job}"), detail: Some(detail) })
            .await
            .map(|_| ())
    }

    /// Adds a staff job (a one-shot job of any kind, or any other trigger).
    pub async fn job_create(&self, draft: JobDraft, actor: &Actor) -> Result<JobView, ApiError> {
        actor.require_operator("add jobs")?;
        let who = actor.name.as_str();
        let name = draft.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ApiError::coded(ErrorCode::LengthOutOfRange, "name must be 1 to 100 characters")
                .field("name")
                .param("min", 1)
                .param("max", 100));
        }
        self.check_args(&draft.kind, &draft.args)?;
        self.check_trigger(&draft.trigger, &draft.timezone)?;
        draft.policy.validate().map_err(|(_, e)| e)?;
        let draft = JobDraft { name, timezone: draft.timezone.trim().to_string(), ..draft };
        let id = match store::insert_job(self.database(), &draft, JobOrigin::Staff, self.now()).await {
            Ok(id) => id,
            Err(e) if store::is_unique_violation(&e) => {
                return Err(ApiError::coded(
                    ErrorCode::JobNameTaken,
                    format!("a job named {:?} exists already", draft.name),
                )
                .field("name")
                .param("name", &draft.name));
            }
            Err(e) => return Err(e.into()),
        };
        self.job_changed(
            who,
            "job.create",
            &draft.name,
            json!({ "id": id, "kind": draft.kind, "trigger": draft.trigger }),
        )
        .await?;
        self.job_get(id).await
    }

    /// Replaces a job's trigger, zone, policy and args. Nothing is saved unless all are valid.
    pub async fn job_update(&self, id: i64, edit: JobEdit, actor: &Actor) -> Result<JobView, ApiError> {
        actor.require_operator("edit jobs")?;
        let who = actor.name.as_str();
        let record = self.job_record(id).await?;
        self.check_trigger(&edit.trigger, &edit.timezone)?;
        edit.policy.validate().map_err(|(_, e)| e)?;
        self.check_args(&record.kind, &edit.args)?;
        let timezone = edit.timezone.trim();
        store::update_job(self.database().pool(), id, &edit.trigger, timezone, &edit.args, &edit.policy, self.now())
            .await?;
        let detail = json!({
            "before": { "trigger": record.trigger, "timezone": record.timezone, "policy": record.policy, "args": record.args },
            "after": { "trigger": edit.trigger, "timezone": timezone, "policy": edit.policy, "args": edit.args },
        });
        self.job_changed(who, "job.update", &record.name, detail).await?;
        self.job_get(id).await
    }

    /// Pauses (or resumes) a job; a repeat is a no-op and is not audited again.
    pub async fn job_set_paused(&self, id: i64, paused: bool, actor: &Actor) -> Result<JobView, ApiError> {
        actor.require_operator("pause or resume jobs")?;
        let who = actor.name.as_str();
        let record = self.job_record(id).await?;
        if store::set_paused(self.database().pool(), id, paused, self.now()).await? {
            let action = if paused { "job.pause" } else { "job.resume" };
            self.job_changed(who, action, &record.name, json!({ "id": id })).await?;
        }
        self.job_get(id).await
    }

    /// Starts a run of the job now, on this instance, whatever its trigger (paused jobs too).
    pub async fn job_run_now(&self, id: i64, actor: &Actor) -> Result<JobView, ApiError> {
        actor.require_operator("run jobs")?;
        let who = actor.name.as_str();
        let record = self.job_record(id).await?;
        self.audit_job(who, "job.run_now", &record.name, json!({ "id": id })).await?;
        engine::spawn_manual(self, record, who.to_string());
        self.job_get(id).await
    }

    /// Deletes a staff-added job; its history stays.
    pub async fn job_delete(&self, id: i64, actor: &Actor) -> Result<(), ApiError> {
        actor.require_operator("delete jobs")?;
        let who = actor.name.as_str();
        let record = self.job_record(id).await?;
        if record.origin != JobOrigin::Staff {
            return Err(ApiError::coded(
                ErrorCode::JobBuiltIn,
                format!("{:?} is provided by OpsDeck and cannot be deleted (pause it instead)", record.name),
            )
            .param("name", &record.name));
        }
        if store::delete_staff_job(self.database().pool(), id).await? {
            self.job_changed(
                who,
                "job.delete",
                &record.name,
                json!({ "id": id, "kind": record.kind, "trigger": record.trigger }),
            )
            .await?;
        }
        Ok(())
    }

    /// A page of the run history, newest first (any staff member).
    pub async fn runs_list(&self, query: RunQuery, actor: &Actor) -> Result<RunPage, ApiError> {
        self.require_reader(actor).await?;
        if query.limit == 0 || query.limit > MAX_PAGE {
            return Err(ApiError::out_of_range("limit", 1, MAX_PAGE));
        }
        if let (Some(from), Some(to)) = (query.from, query.to)
            && from > to
        {
            return Err(ApiError::coded(ErrorCode::RangeReversed, "from must not be after to").field("from"));
        }
        Ok(store::list_runs(self.database().pool(), &query).await?)
    }

    /// The scheduler instances that beat recently (any staff member).
    pub async fn scheduler_instances(&self, actor: &Actor) -> Result<Vec<SchedulerInstance>, ApiError> {
        self.require_reader(actor).await?;
        self.instances_seen().await
    }

    /// [`Core::scheduler_instances`] for the core's own use (the Overview).
    pub(crate) async fn instances_seen(&self) -> Result<Vec<SchedulerInstance>, ApiError> {
        let me = self.instance_id().to_string();
        let instant = |ms: i64| Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
        let seen = self.scheduler().claims.instances().await?;
        Ok(seen
            .into_iter()
            .map(|(id, last, started, running)| SchedulerInstance {
                is_self: id == me,
                id,
                started_at: instant(started),
                last_seen: instant(last),
                runs_in_progress: running,
            })
            .collect())
    }
}

impl Core {
    /// Stops a running run, on whichever instance carries it: its task is told to stop and given
    /// `job_stop_grace_seconds` to end, then abandoned; the run is recorded `stopped` with who
    /// stopped it. Answers the run once it has stopped (or, if it takes longer than the wait
    /// here, as it is; it stops all the same). A run already stopped is answered as it is, not
    /// audited again; one that ended otherwise is `run_not_running`. A `running` row whose slot
    /// nobody holds (its instance died) is closed as stopped at once.
    pub async fn run_stop(&self, run_id: i64, actor: &Actor) -> Result<JobRun, ApiError> {
        actor.require_operator(opsdeck_api::Operation::RunStop.action())?;
        let who = actor.name.as_str();
        let pool = self.database().pool();
        let (run, run_key) = store::get_run(pool, run_id).await?.ok_or_else(|| {
            ApiError::coded(ErrorCode::RunNotFound, format!("no run with id {run_id}")).param("id", run_id)
        })?;
        match run.outcome {
            RunOutcome::Running => {}
            RunOutcome::Stopped => return Ok(run),
            other => {
                return Err(ApiError::coded(
                    ErrorCode::RunNotRunning,
                    format!("run {run_id} of {:?} is not running (it ended {})", run.job_name, other.as_str()),
                )
                .param("id", run_id)
                .param("job", &run.job_name)
                .param("outcome", other.as_str()));
            }
        }
        let claims = &self.scheduler().claims;
        // Audited once, by whoever asked first; a repeat waits for the same stop.
        if claims.stop_requested(&run_key).await?.is_none() {
            let detail = json!({ "run_id": run_id, "id": run.job_id, "instance": run.instance });
            self.audit_job(who, "job.stop", &run.job_name, detail).await?;
            claims.request_stop(&run_key, who).await?;
        }
        let asked_by = claims.stop_requested(&run_key).await?.unwrap_or_else(|| who.to_string());
        self.scheduler().stoppable.stop(&run_key, &asked_by);
        if !claims.slot_held(run.job_id, &run_key).await? {
            return self.close_orphan(run, &asked_by).await;
        }
        self.await_stopped(run).await
    }

    /// Waits (bounded) for a run asked to stop to be recorded as ended; tells this instance's
    /// windows when another instance recorded it (that instance tells its own).
    async fn await_stopped(&self, run: JobRun) -> Result<JobRun, ApiError> {
        // The request reaches another instance with its next slot renewal; the row follows the end.
        let wait = (self.config().job_stop_grace + SLOT_RENEW * 2 + STOP_WAIT_MARGIN).min(STOP_WAIT_MAX);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some((now, _)) = store::get_run(self.database().pool(), run.id).await?
                && now.outcome != RunOutcome::Running
            {
                if now.instance != self.instance_id() {
                    self.publish(Event::RunFinished { run: now.clone() });
                }
                return Ok(now);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(run);
            }
            // Bounded polling of the row: the run may end on another instance, whose events do
            // not reach this one.
            tokio::time::sleep(STOP_POLL).await;
        }
    }

    /// Closes, as stopped, a `running` row whose running slot nobody holds: the instance that
    /// carried it is gone (it would have renewed the slot every second), and nothing else would
    /// ever close it.
    async fn close_orphan(&self, run: JobRun, who: &str) -> Result<JobRun, ApiError> {
        let finished = self.now();
        let error = opsdeck_api::ErrorReason::new(ErrorCode::RunStopped).param("who", who).to_stored();
        let summary = json!({ "instance_gone": true });
        let pool = self.database().pool();
        store::finish_run(pool, run.id, &run.instance, RunOutcome::Stopped, finished, Some(&summary), Some(&error))
            .await?;
        let (now, _) = store::get_run(pool, run.id).await?.unwrap_or((run, String::new()));
        if now.outcome != RunOutcome::Running {
            self.publish(Event::RunFinished { run: now.clone() });
        }
        Ok(now)
    }
}

/// The longest `run_stop` waits for the run to end, within a remote console's 30 s request
/// timeout (a longer grace still applies; the answer is the run as it is then, still running).
const STOP_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(20);
/// Beyond the grace and two slot renewals: time for the run's row to be written.
const STOP_WAIT_MARGIN: std::time::Duration = std::time::Duration::from_secs(3);
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(100);
