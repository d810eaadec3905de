//! What a run holds in Redis while it goes on (its claim and its running slot), renewed on time;
//! a run that loses either is stopped. The slot's renewal also brings a stop asked from another
//! instance; a run asked to stop that has not ended within its grace is abandoned.

use opsdeck_api::{ErrorCode, ErrorReason};
use serde_json::json;

use super::stop::StopSignal;
use crate::Core;
use crate::scheduler::claims::{LEASE, SLOT_RENEW};
use crate::scheduler::store::RunOutcome;

/// What a run holds in Redis while it goes on.
pub(super) struct Leases<'a> {
    pub(super) job_id: i64,
    pub(super) max_instances: u32,
    pub(super) claim: Option<&'a str>,
    pub(super) slot: &'a str,
    /// When they were asked for: renewals are timed from here, not from the run's start (a run
    /// that waited for its instant must not let its slot lapse before its first renewal).
    pub(super) leased_from: tokio::time::Instant,
}

/// What a run lost while it went on: its claim (another instance holds it, and may run the
/// instant too) or its running slot (it lapsed and another run took it); or, asked to stop, the
/// grace it was given to end by itself (`abandoned`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Lost {
    claim: bool,
    slot: bool,
    pub(super) abandoned: bool,
}

impl Lost {
    /// Why a run was stopped midway.
    pub(super) fn why_stopped(self) -> String {
        // Stored as a code: RunClaimLost ("stopped: another instance took over this instant's
        // claim; this one could not renew it in time"), RunSlotLost ("stopped: its running slot
        // lapsed and another run took it; max_instances holds").
        let code = if self.claim { ErrorCode::RunClaimLost } else { ErrorCode::RunSlotLost };
        ErrorReason::new(code).to_stored()
    }

    /// The run's result with the losses noted in its summary (`claim_lost`, `slot_lost`), so that
    /// the history shows a run that may have overlapped another.
    pub(super) fn noted_in(
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
/// nobody else can take the lease then either. A stop asked (here, or found with a slot renewal)
/// gives the work `grace` to end; after it, the work is dropped (`None`, `abandoned`).
pub(super) async fn keep_leases<T>(
    core: &Core,
    leases: Leases<'_>,
    stop: &StopSignal,
    grace: std::time::Duration,
    work: impl Future<Output = T>,
) -> (Option<T>, Lost) {
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
    let stopping = stop.token();
    let mut abandon_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            // The work first, so that a run ending at its first poll arms neither timer.
            biased;
            result = &mut work => return (Some(result), lost),
            _ = stopping.cancelled(), if abandon_at.is_none() => {
                tracing::info!(run = leases.slot, who = stop.who(), "a run was asked to stop");
                abandon_at = Some(tokio::time::Instant::now() + grace);
            }
            _ = tokio::time::sleep_until(abandon_at.unwrap_or_else(tokio::time::Instant::now)), if abandon_at.is_some() => {
                tracing::warn!(run = leases.slot, grace_s = grace.as_secs(), "a run asked to stop did not end in time: abandoned");
                lost.abandoned = true;
                return (None, lost);
            }
            _ = slot_ticks.tick(), if !lost.slot => {
                match shared.claims.renew_slot(leases.job_id, leases.slot, leases.max_instances).await {
                    Ok((true, None)) => {}
                    Ok((true, Some(who))) => stop.request(&who),
                    Ok((false, _)) => {
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
