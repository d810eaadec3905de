//! The machine intake's answers (the shop's servers and Alipay, through the daemon; not the console).

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// What an accepted Alipay async notify did. Every outcome is acknowledged to Alipay with
/// `success` (so it stops retrying); a refused notify is an [`ApiError`] instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOutcome {
    /// `TRADE_SUCCESS`/`TRADE_FINISHED` for a pending order: it is paid now.
    Paid,
    /// The order was paid before (a repeated notify, or the sweep found the payment first):
    /// nothing changed.
    AlreadyPaid,
    /// A payment for an order cancelled already: recorded as a conflict for staff, not applied.
    Conflict,
    /// `WAIT_BUYER_PAY` or `TRADE_CLOSED`: nothing to do.
    Acknowledged,
}
