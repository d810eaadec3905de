//! The figures the daemon's `/metrics` exports (Prometheus), gathered in one call: the OCR
//! queue by state, its achieved rate and cap, job runs by outcome, and the orders' counts.

use serde::Serialize;

use super::Core;
use crate::error::ApiError;
use crate::ocr::model::OcrCounts;
use crate::orders::store as orders_store;
use crate::scheduler::RunOutcome;
use crate::scheduler::store as scheduler_store;

/// How far back the achieved OCR rate looks.
pub const CALLS_WINDOW_SECONDS: i64 = 60;

/// A snapshot of the figures, shared by every instance (SQL and Redis, not process memory), so
/// any instance's `/metrics` tells the same story.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    /// OCR requests by state (pending + in flight is the queue's depth).
    pub ocr: OcrCounts,
    /// Calls that reached Baidu per second, averaged over the last [`CALLS_WINDOW_SECONDS`]
    /// whole seconds (Redis clock; the current second counts once it is over), across all
    /// instances.
    pub ocr_calls_per_second: f64,
    /// The calls-per-second cap in force (the configured one, or the console's).
    pub ocr_cap: f64,
    /// True while the queue is paused (quota, configuration or staff).
    pub ocr_paused: bool,
    /// Job runs in the history (what `run_retention_hours` keeps) by outcome, every outcome
    /// listed.
    pub job_runs: Vec<(RunOutcome, i64)>,
    /// Orders waiting for payment.
    pub orders_pending: i64,
    /// Orders cancelled (all time).
    pub orders_cancelled: i64,
    /// Orders paid late: payments the expiry sweep found at Alipay (the notify never came).
    pub orders_paid_late: i64,
    /// Payments reported for orders cancelled already (recorded for staff).
    pub payment_conflicts: i64,
}

impl Core {
    /// Everything `/metrics` exports, read now.
    pub async fn metrics(&self) -> Result<Metrics, ApiError> {
        let pool = self.database().pool();
        let queue = &self.ocr().queue;
        let (counts, job_runs, orders, (cap, calls, pause)) = tokio::try_join!(
            async { Ok::<_, ApiError>(crate::ocr::store::counts(pool).await?) },
            async { Ok::<_, ApiError>(scheduler_store::outcome_counts(pool).await?) },
            async { Ok::<_, ApiError>(orders_store::metric_counts(pool).await?) },
            async {
                Ok::<_, ApiError>(tokio::try_join!(queue.cap(), queue.calls(CALLS_WINDOW_SECONDS), queue.pause())?)
            },
        )?;
        let total: u64 = calls.iter().map(|s| u64::from(s.calls)).sum();
        Ok(Metrics {
            ocr: counts,
            ocr_calls_per_second: total as f64 / calls.len().max(1) as f64,
            ocr_cap: cap.unwrap_or(self.config().ocr_qps),
            ocr_paused: pause.is_some(),
            job_runs,
            orders_pending: orders.pending,
            orders_cancelled: orders.cancelled,
            orders_paid_late: orders.paid_late,
            payment_conflicts: orders.conflicts,
        })
    }
}
