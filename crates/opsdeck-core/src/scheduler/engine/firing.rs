//! The firing loop: it sleeps until the next deadline of any active job (or until woken because
//! jobs changed), hands what is due to a task that claims it, and runs its chores (the
//! heartbeat, the cursor flush) on the wake-ups that happen anyway.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::active::{Active, flush_cursors, reload};
use super::claim::handle;
use crate::Core;
use crate::events::Event;
use crate::scheduler::history::HistoryWriter;
use crate::scheduler::plan::{decide, due_fires};
use crate::scheduler::store;
use crate::scheduler::wall_timer::WallTimer;

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
            let defaults = crate::scheduler::defaults::default_jobs(core.config().timezone.name());
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
