//! The scheduler: jobs with interval, date and cron triggers that fire on time, once across
//! every instance sharing a Redis, with a recorded history.
//!
//! - [`trigger`]: trigger specs, validation, fire times, DST rules (pure).
//! - [`policy`]: misfire grace, coalescing, max instances, jitter, timeout.
//! - [`plan`]: what is due and what to do with it (pure, `now` injected).
//! - [`store`]: the `jobs` and `job_runs` tables.
//! - [`run_list`]: the run history read: pages (sorted or not) and one run.
//! - [`claims`]: claims, running slots, heartbeats and the jobs version in Redis.
//! - [`tasks`]: the task kinds registered in code.
//! - [`engine`]: the firing loop and the run lifecycle.
//! - [`history`]: the batched writer of final run rows.
//! - [`defaults`]: the jobs code provides on first start.
//! - [`wall_timer`]: the loop's timer, to the microsecond on a wall-clock instant.

pub mod claims;
pub mod defaults;
pub mod engine;
pub mod history;
pub mod plan;
pub mod policy;
pub mod run_list;
pub mod store;
pub mod tasks;
pub mod trigger;
pub mod wall_timer;

pub use store::{JobDraft, JobOrigin, JobRun, RunOutcome, RunPage, RunQuery};
pub use trigger::{Schedule, TriggerSpec};
