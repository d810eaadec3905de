//! The scheduler: jobs, their triggers and policies, runs and the run history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// A trigger as staff write it and as it is stored (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerSpec {
    /// Every `every_seconds`, from `start` (local, inclusive) or else from the job's creation.
    Interval {
        every_seconds: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end: Option<String>,
    },
    /// Once, at a local date-time (`2023-12-05T08:00` or `2023-12-05 08:00[:ss]`).
    Date { at: String },
    /// A cron expression.
    Cron { expr: String },
}

/// A fire time flagged when a daylight-saving change touches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DstNote {
    /// The scheduled local time does not exist that day; it runs at the first instant after.
    GapShifted,
    /// The scheduled local time happens twice that day; it runs at the first.
    OverlapFirst,
    /// The zone's UTC offset differs from the previous fire's.
    OffsetChanged,
}

/// A fire time in the schedule's zone (with its UTC offset), as shown to staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct FireTime {
    pub at: DateTime<chrono::FixedOffset>,
    pub dst: Option<DstNote>,
}

/// How a job's runs are admitted and bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct JobPolicy {
    /// A run found later than this after its scheduled instant is recorded as missed, not run.
    pub misfire_grace_seconds: u64,
    /// After downtime, run once for all the missed instants instead of once per instant.
    pub coalesce: bool,
    /// Runs of this job allowed at the same time, across every instance; one more is recorded as
    /// skipped (overlap).
    pub max_instances: u32,
    /// Each run starts after a random delay of up to this many seconds (0: none).
    pub jitter_seconds: u64,
    /// A run still going after this long is stopped and recorded as timed out (None: no limit).
    pub timeout_seconds: Option<u64>,
}

impl Default for JobPolicy {
    fn default() -> JobPolicy {
        JobPolicy {
            misfire_grace_seconds: 60,
            coalesce: true,
            max_instances: 1,
            jitter_seconds: 0,
            timeout_seconds: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobOrigin {
    /// Provided by code on first start; staff may edit or pause it but not delete it.
    Default,
    /// Added by staff.
    Staff,
}

impl JobOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            JobOrigin::Default => "default",
            JobOrigin::Staff => "staff",
        }
    }
}

/// The definition of a job, as code or staff give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobDraft {
    pub name: String,
    pub kind: String,
    pub trigger: TriggerSpec,
    pub timezone: String,
    #[serde(default)]
    pub args: serde_json::Value,
    #[serde(default)]
    pub policy: JobPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Running,
    Ok,
    Failed,
    TimedOut,
    Missed,
    SkippedOverlap,
    /// Staff stopped it while it ran.
    Stopped,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Ok => "ok",
            RunOutcome::Failed => "failed",
            RunOutcome::TimedOut => "timed_out",
            RunOutcome::Missed => "missed",
            RunOutcome::SkippedOverlap => "skipped_overlap",
            RunOutcome::Stopped => "stopped",
        }
    }

    pub fn parse(text: &str) -> Option<RunOutcome> {
        [
            RunOutcome::Running,
            RunOutcome::Ok,
            RunOutcome::Failed,
            RunOutcome::TimedOut,
            RunOutcome::Missed,
            RunOutcome::SkippedOverlap,
            RunOutcome::Stopped,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

/// One run (or non-run: missed, skipped) of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct JobRun {
    pub id: i64,
    pub job_id: i64,
    pub job_name: String,
    pub scheduled_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub outcome: RunOutcome,
    pub instance: String,
    pub manual: bool,
    /// Who started a manual run (a staff member's name, or `system:…`); who stopped a stopped
    /// one is in `error`.
    pub started_by: Option<String>,
    pub attempts: i64,
    pub summary: Option<serde_json::Value>,
    /// Why it failed, timed out or was stopped.
    pub error: Option<crate::error::ErrorReason>,
}

/// A filter over the run history.
#[derive(Debug, Clone, Default, Deserialize, Serialize, TS, ToSchema)]
#[serde(default)]
#[ts(optional_fields = nullable)]
pub struct RunQuery {
    pub job_id: Option<i64>,
    pub outcome: Option<RunOutcome>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The column to sort by (None: newest first, paged by `before_id`; with a sort, paged by
    /// `offset`).
    pub sort: Option<RunSort>,
    /// Descending (with `sort`).
    #[ts(as = "Option<bool>", optional)]
    pub desc: bool,
    #[ts(as = "Option<u32>", optional)]
    pub offset: u32,
    pub limit: u32,
    pub before_id: Option<i64>,
}

/// The columns the run history sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunSort {
    ScheduledAt,
    JobName,
    Outcome,
    DurationMs,
    Instance,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct RunPage {
    pub runs: Vec<JobRun>,
    pub next_before_id: Option<i64>,
    /// With a sort: the offset of the next page (None at the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub next_offset: Option<u32>,
}

/// What the console shows about a kind.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct TaskKindInfo {
    pub name: String,
    pub description: String,
    pub args_example: serde_json::Value,
}

/// A job as the console shows it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct JobView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub trigger: TriggerSpec,
    pub trigger_text: String,
    pub timezone: String,
    pub args: serde_json::Value,
    pub policy: JobPolicy,
    pub paused: bool,
    pub origin: JobOrigin,
    pub next_fires: Vec<FireTime>,
    pub last_run: Option<JobRun>,
}

/// What staff may change on a job.
#[derive(Debug, Clone, Deserialize, Serialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobEdit {
    pub trigger: TriggerSpec,
    pub timezone: String,
    pub policy: JobPolicy,
    #[serde(default)]
    pub args: serde_json::Value,
}

/// A scheduler instance seen recently.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct SchedulerInstance {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub is_self: bool,
    pub runs_in_progress: i64,
}
