//! Due instants claimed in Redis, in one round trip per batch, so that across all instances each
//! is handled exactly once; the instants won are carried out here, and those lost are watched in
//! case the winner dies.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::carry::{Origin, carry_out, settle_now};
use crate::Core;
use crate::scheduler::claims::{Admission, Beat, ClaimRequest, ClaimState, LEASE, Settle};
use crate::scheduler::plan::Decision;
use crate::scheduler::store::{self, JobRecord};
use crate::scheduler::wall_timer::not_before;

/// Claims a batch of decisions in one round trip (recording `beat` with it, if any); carries
/// out each one won at once, and watches each one lost in case the winner dies.
pub(super) async fn handle(
    core: Core,
    batch: Vec<(JobRecord, Decision)>,
    beat: Option<Beat>,
    cancel: CancellationToken,
) {
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
            carry_out(
                &core,
                job,
                *decision,
                Origin::Scheduled { claim: &request.key },
                request.token.clone(),
                *admission,
                leased_from,
            )
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
                        carry_out(
                            &core,
                            &job,
                            decision,
                            Origin::Scheduled { claim: &key },
                            token,
                            admission,
                            leased_from,
                        )
                        .await;
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
