//! The expiry sweep (the `order_expiry_sweep` job) and reconcile of the due index from SQL.

use crate::error::ApiError;
use crate::facade::Core;
use crate::orders::expiry;
use crate::orders::model::SweepSummary;
use crate::orders::store;

use super::OrdersReconcileReport;

impl Core {
    /// One expiry sweep (what the `order_expiry_sweep` job runs).
    pub async fn orders_sweep(&self, run_key: Option<&str>) -> Result<SweepSummary, ApiError> {
        expiry::sweep(self, run_key).await
    }

    /// Repairs the due index from SQL: pending orders it lost are added; entries whose order is
    /// no longer pending are removed.
    pub async fn orders_reconcile(&self) -> Result<OrdersReconcileReport, ApiError> {
        let due = &self.orders().due;
        let pool = self.database().pool();
        let mut report = OrdersReconcileReport::default();
        let mut after = 0;
        loop {
            let page = store::pending_page(pool, after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.0;
            let nos: Vec<String> = page.iter().map(|p| p.1.clone()).collect();
            let known = due.known(&nos).await?;
            let lost: Vec<(String, i64)> =
                page.iter().zip(known).filter(|(_, k)| !k).map(|(p, _)| (p.1.clone(), p.2)).collect();
            report.added += lost.len() as u64;
            due.add(&lost).await?;
        }
        let mut offset = 0;
        loop {
            let page = due.due_page(offset, 500).await?;
            if page.is_empty() {
                break;
            }
            let pending = store::still_pending(pool, &page).await?;
            let gone: Vec<String> = page.iter().filter(|no| !pending.contains(no)).cloned().collect();
            report.removed += gone.len() as u64;
            due.remove(&gone).await?;
            offset += page.len() - gone.len();
        }
        Ok(report)
    }
}
