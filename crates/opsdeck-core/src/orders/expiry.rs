//! The expiry sweep: due orders are claimed from Redis under a lease, Alipay is asked about each
//! (bounded concurrency), and the database work is batched: found-paid orders are marked paid,
//! unpaid ones are closed at Alipay and cancelled locally, many per transaction. Provider
//! trouble leaves an order due, to be tried again.
//!
//! For one order (docs/providers.md §3): query → paid: mark paid (the notification was
//! lost); waiting, closed or unknown to Alipay: close, then cancel; close says the status
//! changed: query again; system error: later.

use opsdeck_api::orders::{CancelCode, CancelReason};
use opsdeck_api::{ErrorCode, ErrorReason};
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;

use super::alipay::{AlipayClient, AlipayError, CloseOutcome, TradeStatus, amount_in_fen};
use super::due::{Claim, DueIndex};
use super::model::{PaidOutcome, Payment, SweepSummary};
use super::store::{self, NewEvent};
use crate::Core;
use crate::events::Event;

/// How long an order waits after provider trouble.
pub const RETRY_DELAY: Duration = Duration::from_secs(30);
/// Orders claimed per round, and rounds per sweep (a sweep is bounded).
const CLAIM_BATCH: usize = 500;
const MAX_ROUNDS: usize = 40;
/// Cancellations per transaction.
const CANCEL_BATCH: usize = 100;
/// Order numbers kept in a run's summary per list.
const SUMMARY_LIMIT: usize = 100;

/// The Redis and Alipay parts, as long as the core lives.
pub struct OrdersShared {
    pub due: DueIndex,
    pub alipay: Option<AlipayClient>,
}

/// What Alipay's answers mean for one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Paid at Alipay: the trade number (may be empty) and the amount paid, in fen.
    Paid {
        trade_no: String,
        amount_fen: i64,
    },
    Cancel,
    /// Keep it due; the reason.
    Later(String),
    /// Alipay refused the call itself (40001 missing, 40002 invalid parameters such as an
    /// unknown app id or a key that does not match, 40006 no permission), or it is not
    /// configured: asking again will not help until someone changes the configuration. The
    /// order stays due, and the sweep's run fails so that staff see it.
    Refused(String),
}

/// Asks Alipay about one order and closes it there when unpaid; the answers are written to the
/// order's timeline.
pub async fn verdict(core: &Core, order_no: &str, who: &str, run_key: Option<&str>) -> Verdict {
    let (verdict, events) = ask(core, order_no).await;
    if let Err(e) = store::insert_events(core.database(), &events, who, run_key).await {
        tracing::warn!(order = %order_no, error = %e, "cannot record an order's timeline");
    }
    verdict
}

/// [`verdict`] without writing: the answers come back as timeline lines, for a sweep to write
/// many at once.
pub async fn ask(core: &Core, order_no: &str) -> (Verdict, Vec<NewEvent>) {
    let mut events = Vec::new();
    let Some(alipay) = &core.orders().alipay else {
        return (Verdict::Refused("Alipay is not configured: no order can be checked".into()), events);
    };
    let line = |event: &'static str, detail: Option<serde_json::Value>| NewEvent {
        order_no: order_no.to_string(),
        at: Utc::now(),
        event,
        detail,
    };
    for _ in 0..2 {
        let status = match alipay.query(order_no).await {
            Ok(answer) => {
                events.push(line("queried", Some(serde_json::json!({ "trade_status": answer.status.as_str() }))));
                if answer.status.is_paid() {
                    // Applied only with the amount paid (compared with the order's when marked).
                    let verdict = match answer.total_amount.as_deref().and_then(amount_in_fen) {
                        Some(amount_fen) => Verdict::Paid { trade_no: answer.trade_no.unwrap_or_default(), amount_fen },
                        None => Verdict::Later("trade.query: paid, without a readable total_amount".into()),
                    };
                    return (verdict, events);
                }
                answer.status
            }
            Err(e) => return (failed("trade.query", &e), events),
        };
        if status == TradeStatus::Closed {
            return (Verdict::Cancel, events);
        }
        match close(alipay, order_no).await {
            Ok(CloseOutcome::Closed | CloseOutcome::NotExist) => {
                events.push(line("closed", None));
                return (Verdict::Cancel, events);
            }
            // The buyer may just have paid: ask again (once).
            Ok(CloseOutcome::StatusError) => continue,
            Err(e) => return (failed("trade.close", &e), events),
        }
    }
    (Verdict::Later("the trade's status kept changing".into()), events)
}

/// A failed call's verdict: later when it may succeed then, refused when it cannot.
fn failed(call: &str, error: &AlipayError) -> Verdict {
    match error.is_retryable() {
        true => Verdict::Later(format!("{call}: {error}")),
        false => Verdict::Refused(format!("{call}: {error}")),
    }
}

async fn close(alipay: &AlipayClient, order_no: &str) -> Result<CloseOutcome, AlipayError> {
    alipay.close(order_no).await
}

/// One sweep; its summary goes into the job history.
pub async fn sweep(core: &Core, run_key: Option<&str>) -> Result<SweepSummary, crate::ApiError> {
    let shared = core.orders();
    let mut summary = SweepSummary::default();
    shared.due.reap().await?;
    let lease = core.config().expiry_lease;
    for _ in 0..MAX_ROUNDS {
        let claim = shared.due.claim(CLAIM_BATCH, lease).await?;
        if claim.orders.is_empty() {
            break;
        }
        // The leases are renewed while the round works: a round slower than the lease (a slow
        // Alipay, a slow database) keeps its orders, and no other instance asks about them too.
        tokio::select! {
            done = round(core, &claim, run_key, &mut summary) => done?,
            _ = shared.due.keep_leased(&claim, lease) => {}
        }
    }
    if !(summary.cancelled.is_empty() && summary.found_paid.is_empty()) {
        core.publish(Event::OrdersChanged);
    }
    Ok(summary)
}

/// One round: the claimed orders asked about, and settled or put back.
async fn round(
    core: &Core,
    claim: &Claim,
    run_key: Option<&str>,
    summary: &mut SweepSummary,
) -> Result<(), crate::ApiError> {
    let shared = core.orders();
    let concurrency = core.config().expiry_concurrency as usize;
    // Redis's clock decides what is due; SQL's `expires_at` is the deadline. An order
    // claimed before its SQL deadline (an index entry scored early, by hand or by an older
    // instance's clock) goes back at its deadline, and Alipay is not asked (nor its trade
    // closed).
    let clock = shared.due.now().await?;
    let early = store::not_due(core.database().pool(), &claim.orders, clock).await?;
    if !early.is_empty() {
        tracing::warn!(orders = early.len(), "claimed before their deadline; back in the index");
        shared.due.back_at(&early).await?;
    }
    let claimed: Vec<String> = claim.orders.iter().filter(|&no| !early.iter().any(|(e, _)| e == no)).cloned().collect();
    let answers: Vec<(String, (Verdict, Vec<NewEvent>))> = futures_util::stream::iter(claimed)
        .map(|no| async move {
            let answer = ask(core, &no).await;
            (no, answer)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    // The answers' timeline lines, in few statements (before the transitions they explain).
    let lines: Vec<NewEvent> = answers.iter().flat_map(|(_, (_, lines))| lines.iter().cloned()).collect();
    if let Err(e) = store::insert_events(core.database(), &lines, "sweep", run_key).await {
        tracing::warn!(error = %e, "cannot record the sweep's Alipay answers in the timelines");
    }
    let verdicts = answers.into_iter().map(|(no, (verdict, _))| (no, verdict));
    let mut done = Vec::new();
    let mut later = Vec::new();
    let mut cancel = Vec::new();
    let now = Utc::now();
    for (no, v) in verdicts {
        match v {
            Verdict::Paid { trade_no, amount_fen } => {
                let payment = Payment { trade_no: &trade_no, amount_fen: Some(amount_fen) };
                let paid = store::retrying(|| store::mark_paid(core.database(), &no, payment, "sweep", run_key, now));
                match paid.await {
                    Ok(Some(PaidOutcome::AmountMismatch)) => {
                        // Recorded for staff; no longer due (neither paid nor cancelled).
                        summary.conflicts.push(no.clone());
                        done.push(no);
                    }
                    Ok(_) => {
                        summary.found_paid.push(no.clone());
                        done.push(no);
                    }
                    Err(e) => {
                        tracing::warn!(order = %no, error = %e, "cannot mark an order paid; it stays due");
                        summary.failed.push(no.clone());
                        later.push(no);
                    }
                }
            }
            Verdict::Cancel => cancel.push(no),
            Verdict::Later(reason) => {
                tracing::info!(order = %no, %reason, "order stays due");
                summary.retried.push(no.clone());
                later.push(no);
            }
            Verdict::Refused(reason) => {
                tracing::error!(order = %no, %reason, "Alipay refused the call: the order stays due");
                summary.refusal.get_or_insert(reason);
                summary.refused.push(no.clone());
                later.push(no);
            }
        }
    }
    for chunk in cancel.chunks(CANCEL_BATCH) {
        let batch: Vec<(String, String)> = chunk.iter().map(|no| (no.clone(), expired_reason(core))).collect();
        let cancelled =
            store::retrying(|| store::cancel_batch(core.database(), &batch, "sweep", run_key, Utc::now(), Some(clock)))
                .await;
        match cancelled {
            Ok(cancelled) => {
                summary.cancelled.extend(cancelled);
                // Cancelled now, or paid/cancelled meanwhile by someone else: done either way.
                done.extend(chunk.iter().cloned());
            }
            Err(e) if batch.len() > 1 => {
                // Nothing of the batch was applied. One bad order must not hold the others
                // back forever: each on its own, in its own transaction.
                tracing::warn!(orders = chunk.len(), error = %e, "cannot cancel a batch; one order at a time");
                for one in batch.chunks(1) {
                    let no = one[0].0.clone();
                    let cancelled = store::retrying(|| {
                        store::cancel_batch(core.database(), one, "sweep", run_key, Utc::now(), Some(clock))
                    });
                    match cancelled.await {
                        Ok(cancelled) => {
                            summary.cancelled.extend(cancelled);
                            done.push(no);
                        }
                        Err(e) => {
                            tracing::warn!(order = %no, error = %e, "cannot cancel an order; it stays due");
                            summary.failed.push(no.clone());
                            later.push(no);
                        }
                    }
                }
            }
            Err(e) => {
                // Nothing was applied; it stays due.
                tracing::warn!(orders = chunk.len(), error = %e, "cannot cancel orders; they stay due");
                summary.failed.extend(chunk.iter().cloned());
                later.extend(chunk.iter().cloned());
            }
        }
    }
    if let Err(e) = shared.due.remove(&done).await {
        tracing::warn!(error = %e, "cannot remove settled orders from the due index; reconcile will");
    }
    if let Err(e) = shared.due.later(claim, &later, RETRY_DELAY).await {
        tracing::warn!(error = %e, "cannot reschedule orders; their lease returns them");
    }
    Ok(())
}

/// The run's outcome: failed when Alipay refused calls (`sweep_refused` with the count; the
/// orders stay pending, Alipay's own text goes to the log), otherwise the summary.
pub fn outcome(summary: &SweepSummary) -> Result<serde_json::Value, ErrorReason> {
    match &summary.refusal {
        Some(refusal) => {
            tracing::error!(
                refused = summary.refused.len(),
                %refusal,
                summary = %summary_json(summary),
                "Alipay refused the sweep's calls; those orders stay pending until the Alipay configuration \
                 (app id, keys, permissions) is fixed"
            );
            Err(ErrorReason::new(ErrorCode::SweepRefused).param("count", summary.refused.len()))
        }
        None => Ok(summary_json(summary)),
    }
}

/// Why the sweep cancels an order, as stored: unpaid N minutes (or seconds) after it was placed.
fn expired_reason(core: &Core) -> String {
    let secs = core.config().order_expiry.as_secs();
    let reason = if secs.is_multiple_of(60) {
        CancelReason::new(CancelCode::UnpaidMinutes).param("minutes", secs / 60)
    } else {
        CancelReason::new(CancelCode::UnpaidSeconds).param("seconds", secs)
    };
    reason.to_stored()
}

/// A sweep's summary for the job history: counts, and the order numbers (at most
/// [`SUMMARY_LIMIT`] per list).
pub fn summary_json(summary: &SweepSummary) -> serde_json::Value {
    let list = |orders: &Vec<String>| orders.iter().take(SUMMARY_LIMIT).cloned().collect::<Vec<_>>();
    serde_json::json!({
        "cancelled": summary.cancelled.len(),
        "found_paid": summary.found_paid.len(),
        "retried": summary.retried.len(),
        "failed": summary.failed.len(),
        "conflicts": summary.conflicts.len(),
        "refused": summary.refused.len(),
        "refusal": summary.refusal,
        "orders": {
            "cancelled": list(&summary.cancelled),
            "found_paid": list(&summary.found_paid),
            "retried": list(&summary.retried),
            "failed": list(&summary.failed),
            "conflicts": list(&summary.conflicts),
            "refused": list(&summary.refused),
        },
    })
}
