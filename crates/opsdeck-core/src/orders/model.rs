//! The order types front ends see.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use opsdeck_api::orders::{
    CancelledOrder, CancelledPage, Goods, NewGoods, Order, OrderDraft, OrderEvent, OrderItem, OrderKind, OrderPage, OrderQuery,
    OrderStatus,
};

/// The absolute `time_expire` for an order's Alipay trade (`yyyy-MM-dd HH:mm:ss`, GMT+8, to the
/// second, rounded down): a minute before the local deadline (half the order's life when that
/// is shorter). Alipay closes the trade by then, so the buyer cannot pay after the sweep has
/// found the order unpaid and cancelled it, even when no trade existed yet at that moment (a
/// relative `timeout_express` would count from the trade's creation, which may come late).
pub fn alipay_time_expire(created_at: DateTime<Utc>, expires_at: DateTime<Utc>) -> String {
    let margin = chrono::Duration::seconds(60).min((expires_at - created_at) / 2);
    let gmt8 = chrono::FixedOffset::east_opt(8 * 3600).expect("GMT+8 is a valid offset");
    (expires_at - margin).with_timezone(&gmt8).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// What a payment report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaidOutcome {
    /// pending → paid, now.
    Applied,
    /// Paid before (a repeated notification): nothing changed.
    AlreadyPaid,
    /// The order was cancelled already: recorded for staff, not applied.
    Conflict,
    /// Paid with another amount than the order's: recorded as a conflict for staff, not applied
    /// (the order stays pending and leaves the expiry sweep: neither paid nor cancelled until
    /// staff settle it at Alipay). For an order cancelled already it is recorded like any late
    /// payment, and reported as this so that a notify of it is refused for its amount.
    AmountMismatch,
}

/// A payment as reported: Alipay's trade number (may be missing from a query's answer) and
/// the amount paid, in fen (None: the report carries none, e.g. staff or the simulated shop,
/// and the order's own amount is meant).
#[derive(Debug, Clone, Copy)]
pub struct Payment<'a> {
    pub trade_no: &'a str,
    pub amount_fen: Option<i64>,
}

/// What one sweep did (the job run's summary).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SweepSummary {
    pub cancelled: Vec<String>,
    pub found_paid: Vec<String>,
    pub retried: Vec<String>,
    pub failed: Vec<String>,
    /// Found paid with another amount than the order's: left to staff.
    pub conflicts: Vec<String>,
    /// Alipay refused the calls about these (or is not configured): they stay pending.
    pub refused: Vec<String>,
    /// The first refusal's message.
    pub refusal: Option<String>,
}
