//! The pure part of firing: which scheduled instants are due, and what to do with each given
//! the job's policy. No clock, no I/O: `now` is a parameter, so every rule is tested exactly.

use chrono::{DateTime, Duration, Utc};

use super::policy::JobPolicy;
use super::trigger::Schedule;

/// The most instants looked at in one go; beyond this (a 1-second job after a long downtime)
/// the rest are counted and coalesced or recorded as one missed entry.
pub const MAX_DUE: usize = 1000;

/// What to do with one scheduled instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run it. `coalesced` earlier instants were folded into this run.
    Run { scheduled: DateTime<Utc>, coalesced: u64 },
    /// Too late (beyond the misfire grace): record it as missed.
    Missed { scheduled: DateTime<Utc>, coalesced: u64 },
}

impl Decision {
    pub fn scheduled(&self) -> DateTime<Utc> {
        match self {
            Decision::Run { scheduled, .. } | Decision::Missed { scheduled, .. } => *scheduled,
        }
    }
}

/// The instants in `(cursor, now]`, oldest first, and how many more there were beyond
/// [`MAX_DUE`] (those are skipped over: the last element is then the newest due instant).
pub fn due_fires(schedule: &Schedule, cursor: DateTime<Utc>, now: DateTime<Utc>) -> (Vec<DateTime<Utc>>, u64) {
    let mut due = Vec::new();
    let mut at = cursor;
    while let Some(fire) = schedule.next_after(at) {
        if fire.at > now {
            return (due, 0);
        }
        if due.len() == MAX_DUE {
            // Count the rest and keep only the newest; a long outage must not flood the history.
            let mut extra = 0u64;
            let mut newest = fire.at;
            let mut probe = fire.at;
            while let Some(next) = schedule.next_after(probe) {
                if next.at > now {
                    break;
                }
                extra += 1;
                newest = next.at;
                probe = next.at;
            }
            due.push(newest);
            return (due, extra);
        }
        due.push(fire.at);
        at = fire.at;
    }
    (due, 0)
}

/// Applies misfire grace and coalescing to the due instants.
pub fn decide(due: &[DateTime<Utc>], skipped_over: u64, now: DateTime<Utc>, policy: &JobPolicy) -> Vec<Decision> {
    let grace = Duration::seconds(policy.misfire_grace_seconds as i64);
    let decision = |scheduled: DateTime<Utc>, coalesced: u64| {
        if now - scheduled <= grace {
            Decision::Run { scheduled, coalesced }
        } else {
            Decision::Missed { scheduled, coalesced }
        }
    };
    let Some(&newest) = due.last() else {
        return Vec::new();
    };
    if policy.coalesce {
        return vec![decision(newest, due.len() as u64 - 1 + skipped_over)];
    }
    // Without coalescing each instant stands alone; beyond MAX_DUE the skipped ones (all far
    // past any grace) are counted in the newest entry.
    let last = due.len() - 1;
    due.iter()
        .enumerate()
        .map(|(i, &scheduled)| decision(scheduled, if i == last { skipped_over } else { 0 }))
        .collect()
}
