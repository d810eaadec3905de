//! SQL for the scheduler's tables: `jobs` (definitions, pause state, the handled-up-to cursor)
//! and `job_runs` (one row per scheduled instant or manual run).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, QueryBuilder, Row};

use super::policy::JobPolicy;
use super::trigger::TriggerSpec;
use crate::db::{Database, instant, ms};

pub use opsdeck_api::jobs::{JobDraft, JobOrigin, JobRun, RunOutcome, RunPage, RunQuery};

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub trigger: TriggerSpec,
    pub timezone: String,
    pub args: serde_json::Value,
    pub policy: JobPolicy,
    pub paused: bool,
    pub origin: JobOrigin,
    /// When the trigger was last set; an interval without a start counts from here.
    pub trigger_since: DateTime<Utc>,
    /// Every scheduled instant at or before this one has been handled.
    pub cursor_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn json_column<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> sqlx::Result<T> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text)
        .map_err(|e| sqlx::Error::ColumnDecode { index: column.to_string(), source: Box::new(e) })
}

const JOB_COLUMNS: &str = "id, name, kind, trigger_spec, timezone, args, policy, paused, origin, trigger_since, cursor_at, created_at, updated_at";

fn job_from_row(row: &AnyRow) -> sqlx::Result<JobRecord> {
    let origin: String = row.try_get("origin")?;
    let paused: i64 = row.try_get("paused")?;
    Ok(JobRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        trigger: json_column(row, "trigger_spec")?,
        timezone: row.try_get("timezone")?,
        args: json_column(row, "args")?,
        policy: json_column(row, "policy")?,
        paused: paused != 0,
        origin: if origin == "staff" { JobOrigin::Staff } else { JobOrigin::Default },
        trigger_since: instant(row.try_get("trigger_since")?),
        cursor_at: row.try_get::<Option<i64>, _>("cursor_at")?.map(instant),
        created_at: instant(row.try_get("created_at")?),
        updated_at: instant(row.try_get("updated_at")?),
    })
}

pub async fn load_jobs(pool: &AnyPool) -> sqlx::Result<Vec<JobRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY name"));
    sqlx::query(sql).fetch_all(pool).await?.iter().map(job_from_row).collect()
}

pub async fn get_job(pool: &AnyPool, id: i64) -> sqlx::Result<Option<JobRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"));
    sqlx::query(sql).bind(id).fetch_optional(pool).await?.as_ref().map(job_from_row).transpose()
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("scheduler types serialize")
}

pub use crate::db::is_unique_violation;

/// Inserts a job; a taken name is a unique violation.
pub async fn insert_job(db: &Database, draft: &JobDraft, origin: JobOrigin, now: DateTime<Utc>) -> sqlx::Result<i64> {
    db.insert_returning_id(
        "INSERT INTO jobs (name, kind, trigger_spec, timezone, args, policy, paused, origin, trigger_since, cursor_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
        |q| {
            q.bind(draft.name.clone())
                .bind(draft.kind.clone())
                .bind(to_json(&draft.trigger))
                .bind(draft.timezone.clone())
                .bind(to_json(&draft.args))
                .bind(to_json(&draft.policy))
                .bind(origin.as_str())
                .bind(ms(now))
                .bind(ms(now))
                .bind(ms(now))
                .bind(ms(now))
        },
    )
    .await
}

/// Inserts each default job whose name is not taken; never touches an existing row, so staff
/// edits survive restarts. Returns the names inserted.
pub async fn ensure_defaults(db: &Database, defaults: &[JobDraft], now: DateTime<Utc>) -> sqlx::Result<Vec<String>> {
    let mut inserted = Vec::new();
    for draft in defaults {
        let exists = sqlx::query("SELECT id FROM jobs WHERE name = ?")
            .bind(draft.name.clone())
            .fetch_optional(db.pool())
            .await?
            .is_some();
        if exists {
            continue;
        }
        match insert_job(db, draft, JobOrigin::Default, now).await {
            Ok(_) => inserted.push(draft.name.clone()),
            // Another instance inserted it first: fine.
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(inserted)
}

/// Replaces a job's trigger, zone, args and policy. The cursor moves to `now` so that the new
/// trigger does not reach back into the past.
pub async fn update_job(
    pool: &AnyPool,
    id: i64,
    trigger: &TriggerSpec,
    timezone: &str,
    args: &serde_json::Value,
    policy: &JobPolicy,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET trigger_spec = ?, timezone = ?, args = ?, policy = ?, trigger_since = ?, cursor_at = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(to_json(trigger))
    .bind(timezone.to_string())
    .bind(to_json(args))
    .bind(to_json(policy))
    .bind(ms(now))
    .bind(ms(now))
    .bind(ms(now))
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pauses or resumes; conditional, so a repeat changes nothing and reports `false`. Resuming
/// moves the cursor to `now`: the paused period is not replayed.
pub async fn set_paused(pool: &AnyPool, id: i64, paused: bool, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET paused = ?, cursor_at = CASE WHEN ? = 0 THEN ? ELSE cursor_at END, updated_at = ?
         WHERE id = ? AND paused = ?",
    )
    .bind(i64::from(paused))
    .bind(i64::from(paused))
    .bind(ms(now))
    .bind(ms(now))
    .bind(id)
    .bind(i64::from(!paused))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a staff-added job (default jobs cannot be deleted). Its history stays.
pub async fn delete_staff_job(pool: &AnyPool, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM jobs WHERE id = ? AND origin = 'staff'").bind(id).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

/// Moves each job's cursor forward to its instant (never back), all in one statement: one round
/// trip to the database however many jobs ran.
pub async fn advance_cursors(pool: &AnyPool, cursors: &[(i64, DateTime<Utc>)]) -> sqlx::Result<()> {
    if cursors.is_empty() {
        return Ok(());
    }
    let mut update: QueryBuilder<Any> = QueryBuilder::new("UPDATE jobs SET cursor_at = CASE");
    for (id, to) in cursors {
        update.push(" WHEN id = ").push_bind(*id);
        update.push(" AND (cursor_at IS NULL OR cursor_at < ").push_bind(ms(*to));
        update.push(") THEN ").push_bind(ms(*to));
    }
    update.push(" ELSE cursor_at END WHERE id IN (");
    let mut ids = update.separated(", ");
    for (id, _) in cursors {
        ids.push_bind(*id);
    }
    update.push(")");
    update.build().execute(pool).await?;
    Ok(())
}

/// A run about to be recorded.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub run_key: &'a str,
    pub job_id: i64,
    pub job_name: &'a str,
    pub scheduled_at: DateTime<Utc>,
    pub instance: &'a str,
    pub manual: bool,
    /// Who started a manual run.
    pub started_by: Option<&'a str>,
}

/// What `begin_run` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begun {
    Started(i64),
    /// The row existed as `running` under an instance that died; this instance took it over.
    TookOver(i64),
    /// The row is already final: another instance did it.
    AlreadyFinal,
}

pub async fn begin_run(db: &Database, run: &NewRun<'_>, now: DateTime<Utc>) -> sqlx::Result<Begun> {
    let inserted = db
        .insert_returning_id(
            "INSERT INTO job_runs (run_key, job_id, job_name, scheduled_at, started_at, outcome, instance, manual,
                                   started_by, attempts)
             VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, 1)",
            |q| {
                q.bind(run.run_key.to_string())
                    .bind(run.job_id)
                    .bind(run.job_name.to_string())
                    .bind(ms(run.scheduled_at))
                    .bind(ms(now))
                    .bind(run.instance.to_string())
                    .bind(i64::from(run.manual))
                    .bind(run.started_by.map(str::to_string))
            },
        )
        .await;
    match inserted {
        Ok(id) => Ok(Begun::Started(id)),
        Err(e) if is_unique_violation(&e) => {
            let taken = sqlx::query(
                "UPDATE job_runs SET instance = ?, started_at = ?, attempts = attempts + 1
                 WHERE run_key = ? AND outcome = 'running' AND instance <> ?",
            )
            .bind(run.instance.to_string())
            .bind(ms(now))
            .bind(run.run_key.to_string())
            .bind(run.instance.to_string())
            .execute(db.pool())
            .await?;
            if taken.rows_affected() == 0 {
                return Ok(Begun::AlreadyFinal);
            }
            let id: i64 = sqlx::query("SELECT id FROM job_runs WHERE run_key = ?")
                .bind(run.run_key.to_string())
                .fetch_one(db.pool())
                .await?
                .try_get("id")?;
            Ok(Begun::TookOver(id))
        }
        Err(e) => Err(e),
    }
}

/// Whether a run is recorded under `run_key` (running or final).
pub async fn run_recorded(pool: &AnyPool, run_key: &str) -> sqlx::Result<bool> {
    let row =
        sqlx::query("SELECT id FROM job_runs WHERE run_key = ?").bind(run_key.to_string()).fetch_optional(pool).await?;
    Ok(row.is_some())
}

/// The instants after `after` at which a job's scheduled runs are recorded (running or final):
/// SQL's word on what was handled, for when the cursor is older than the runs.
pub async fn recorded_after(pool: &AnyPool, job_id: i64, after: DateTime<Utc>) -> sqlx::Result<Vec<DateTime<Utc>>> {
    let rows = sqlx::query("SELECT scheduled_at FROM job_runs WHERE job_id = ? AND scheduled_at > ? AND manual = 0")
        .bind(job_id)
        .bind(ms(after))
        .fetch_all(pool)
        .await?;
    rows.iter().map(|r| Ok(instant(r.try_get::<i64, _>("scheduled_at")?))).collect()
}

/// Closes a running row; conditional on it still running under this instance.
pub async fn finish_run(
    pool: &AnyPool,
    id: i64,
    instance: &str,
    outcome: RunOutcome,
    finished: DateTime<Utc>,
    summary: Option<&serde_json::Value>,
    error: Option<&str>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE job_runs SET outcome = ?, finished_at = ?, duration_ms = ? - started_at, summary = ?, error = ?
         WHERE id = ? AND outcome = 'running' AND instance = ?",
    )
    .bind(outcome.as_str())
    .bind(ms(finished))
    .bind(ms(finished))
    .bind(summary.map(to_json))
    .bind(error.map(str::to_string))
    .bind(id)
    .bind(instance.to_string())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How a run ended, for [`record_final`].
#[derive(Debug, Clone)]
pub struct RunEnd<'a> {
    pub outcome: RunOutcome,
    /// None for a run that never started (missed, skipped).
    pub started: Option<DateTime<Utc>>,
    pub finished: DateTime<Utc>,
    pub summary: Option<&'a serde_json::Value>,
    pub error: Option<&'a str>,
}

/// Records a run in its final state in one statement (a short run, or one that did not run);
/// a repeat of the same key is ignored and reported as None.
pub async fn record_final(db: &Database, run: &NewRun<'_>, end: &RunEnd<'_>) -> sqlx::Result<Option<i64>> {
    let inserted = db
        .insert_returning_id(
            "INSERT INTO job_runs (run_key, job_id, job_name, scheduled_at, started_at, finished_at, duration_ms,
                                   outcome, instance, manual, started_by, attempts, summary, error)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            |q| {
                q.bind(run.run_key.to_string())
                    .bind(run.job_id)
                    .bind(run.job_name.to_string())
                    .bind(ms(run.scheduled_at))
                    .bind(end.started.map(ms))
                    .bind(ms(end.finished))
                    .bind(end.started.map(|s| ms(end.finished) - ms(s)))
                    .bind(end.outcome.as_str())
                    .bind(run.instance.to_string())
                    .bind(i64::from(run.manual))
                    .bind(run.started_by.map(str::to_string))
                    .bind(i64::from(end.started.is_some()))
                    .bind(end.summary.map(to_json))
                    .bind(end.error.map(str::to_string))
            },
        )
        .await;
    match inserted {
        Ok(id) => Ok(Some(id)),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) const RUN_COLUMNS: &str = "id, job_id, job_name, scheduled_at, started_at, finished_at, duration_ms, outcome, instance, manual, started_by, attempts, summary, error";

pub(super) fn run_from_row(row: &AnyRow) -> sqlx::Result<JobRun> {
    let outcome: String = row.try_get("outcome")?;
    let summary: Option<String> = row.try_get("summary")?;
    let manual: i64 = row.try_get("manual")?;
    Ok(JobRun {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        job_name: row.try_get("job_name")?,
        scheduled_at: instant(row.try_get("scheduled_at")?),
        started_at: row.try_get::<Option<i64>, _>("started_at")?.map(instant),
        finished_at: row.try_get::<Option<i64>, _>("finished_at")?.map(instant),
        duration_ms: row.try_get("duration_ms")?,
        outcome: RunOutcome::parse(&outcome).unwrap_or(RunOutcome::Failed),
        instance: row.try_get("instance")?,
        manual: manual != 0,
        started_by: row.try_get("started_by")?,
        attempts: row.try_get("attempts")?,
        summary: summary.and_then(|s| serde_json::from_str(&s).ok()),
        error: row.try_get::<Option<String>, _>("error")?.as_deref().map(opsdeck_api::ErrorReason::from_stored),
    })
}

pub use super::run_list::{get_run, list_runs};

/// The newest run of each job.
pub async fn last_runs(pool: &AnyPool) -> sqlx::Result<Vec<JobRun>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM job_runs WHERE id IN (SELECT MAX(id) FROM job_runs GROUP BY job_id)"
    ));
    sqlx::query(sql).fetch_all(pool).await?.iter().map(run_from_row).collect()
}

/// Deletes finished runs scheduled before `before`; returns how many.
pub async fn prune_runs(pool: &AnyPool, before: DateTime<Utc>) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM job_runs WHERE scheduled_at < ? AND outcome <> 'running'")
        .bind(ms(before))
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// Runs in the history (what pruning has kept) by outcome, every outcome present (0 when none),
/// for `/metrics`.
pub async fn outcome_counts(pool: &AnyPool) -> sqlx::Result<Vec<(RunOutcome, i64)>> {
    let rows = sqlx::query("SELECT outcome, COUNT(*) AS n FROM job_runs GROUP BY outcome").fetch_all(pool).await?;
    let every = [
        RunOutcome::Running,
        RunOutcome::Ok,
        RunOutcome::Failed,
        RunOutcome::TimedOut,
        RunOutcome::Missed,
        RunOutcome::SkippedOverlap,
        RunOutcome::Stopped,
    ];
    let mut counts: Vec<(RunOutcome, i64)> = every.iter().map(|o| (*o, 0)).collect();
    for row in rows {
        let Some(outcome) = RunOutcome::parse(&row.try_get::<String, _>("outcome")?) else { continue };
        if let Some(slot) = counts.iter_mut().find(|(o, _)| *o == outcome) {
            slot.1 = row.try_get("n")?;
        }
    }
    Ok(counts)
}
