//! The jobs this instance fires, as loaded from the database, each with its own cursor; and the
//! cursors written back.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::Core;
use crate::scheduler::store::{self, JobRecord};
use crate::scheduler::trigger::{Schedule, parse_timezone};

/// Writes the handled instants to the jobs' cursors.
pub(super) async fn flush_cursors(core: &Core) {
    let cursors: Vec<(i64, DateTime<Utc>)> = core.scheduler().take_handled().into_iter().collect();
    if let Err(e) = store::advance_cursors(core.database().pool(), &cursors).await {
        tracing::warn!(jobs = cursors.len(), error = %e, "cannot advance the jobs' cursors");
        for (job_id, at) in cursors {
            core.scheduler().handled(job_id, at);
        }
    }
}

/// A job this instance fires, with its own cursor: every instant at or before it is handed off.
pub(super) struct Active {
    pub(super) record: JobRecord,
    pub(super) schedule: Schedule,
    pub(super) cursor: DateTime<Utc>,
    /// Instants after the cursor that already have a run row (read when the cursor came from
    /// the database, which is up to a flush period behind): never planned again, even when
    /// Redis has lost their `done` claims.
    pub(super) recorded: BTreeSet<DateTime<Utc>>,
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

pub(super) async fn reload(core: &Core, active: &mut HashMap<i64, Active>) -> sqlx::Result<()> {
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
