//! The firing loop of one instance. It sleeps until the next deadline of any active job (or
//! until woken because jobs changed), decides what is due (see `plan`), and hands the decisions
//! to a task that claims them in Redis, so that across all instances each scheduled instant is
//! handled exactly once, and carries out those it won.
//!
//! - [`firing`]: the loop itself, with its chores (the heartbeat, the cursor flush) and shutdown.
//! - [`active`]: the jobs this instance fires, loaded from the database, and their cursors.
//! - [`claim`]: a batch of due instants claimed in one round trip, and the watch on those lost.
//! - [`carry`]: carrying out a decision: the task run, its rows and the claim settled.
//! - [`leases`]: a run's claim and running slot renewed while it goes on.
//! - [`stop`]: a run stopped from the console, on this instance or another.

mod active;
mod carry;
mod claim;
mod firing;
mod leases;
mod stop;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

pub(crate) use carry::spawn_manual;
pub use firing::run;
pub(crate) use stop::Stoppable;

use super::claims::{Beat, Claims};
use super::history::HistoryWriter;
use super::tasks::Registry;

/// The scheduler's parts that live as long as the core.
pub struct SchedulerShared {
    pub registry: Registry,
    pub claims: Claims,
    pub wake: Notify,
    pub running: AtomicUsize,
    pub started: DateTime<Utc>,
    /// The runs this instance carries, which staff may stop.
    pub(crate) stoppable: Stoppable,
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

/// The parts shared by the core and the loop.
pub fn shared(core_redis: crate::redis_conn::RedisConn, registry: Registry) -> Arc<SchedulerShared> {
    Arc::new(SchedulerShared {
        registry,
        claims: Claims::new(core_redis),
        wake: Notify::new(),
        running: AtomicUsize::new(0),
        started: Utc::now(),
        stoppable: Stoppable::default(),
        handled: std::sync::Mutex::new(HashMap::new()),
        history: std::sync::Mutex::new(None),
        jobs_version: AtomicI64::new(i64::MIN),
    })
}
