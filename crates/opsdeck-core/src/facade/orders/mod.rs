//! The orders part of the facade: goods, place an order, a payment report, staff cancel and
//! check, lists, the timeline, the sweep and reconcile. Input is validated here; staff actions
//! are audited.
//!
//! - [`place`]: goods, and orders placed (by the shop, by staff, with an idempotency key).
//! - [`payment`]: a payment applied, and Alipay's notify verified and acted on.
//! - [`staff`]: what staff read (an order, the lists, the timeline, the summary), cancel and check.
//! - [`sweep`]: the expiry sweep and reconcile.
//!
//! Here: the limits and the refusals they share.

mod payment;
mod place;
mod staff;
mod sweep;

use chrono::Utc;
use serde::Serialize;

use super::MAX_PAGE;
use crate::error::{ApiError, ErrorCode};

pub use opsdeck_api::intake::NotifyOutcome;
pub use opsdeck_api::orders::OrdersSummary;

/// Items in one order at most, and of one good.
const MAX_ITEMS: usize = 100;
const MAX_QUANTITY: i64 = 10_000;
/// The largest top-up (1,000,000 yuan) and any order amount.
const MAX_AMOUNT_FEN: i64 = 100_000_000;

/// What one reconcile pass repaired.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct OrdersReconcileReport {
    /// Pending orders the due index had lost, added again.
    pub added: u64,
    /// Index entries whose order is no longer pending, removed.
    pub removed: u64,
}

fn amount_conflict(order_no: &str) -> ApiError {
    ApiError::coded(
        ErrorCode::OrderAmountConflict,
        format!(
            "Alipay reports {order_no} paid with another amount than the order's: recorded as a conflict on its \
             timeline, neither paid nor cancelled; settle it at Alipay (a refund) first"
        ),
    )
    .param("order_no", order_no)
}

fn no_key() -> ApiError {
    ApiError::Internal(anyhow::anyhow!("an order placed without an idempotency key reported its key taken"))
}

/// `code` for the form field `name`, with its English `message`.
fn field(code: ErrorCode, name: &str, message: impl Into<String>) -> ApiError {
    ApiError::coded(code, message).field(name)
}

/// An amount (in fen) outside 0.01–1,000,000 yuan in `name`: `amount_out_of_range`, in yuan.
fn amount_out_of_range(name: &str) -> ApiError {
    let max = MAX_AMOUNT_FEN / 100;
    field(ErrorCode::AmountOutOfRange, name, format!("the amount must be from 0.01 to {max} yuan"))
        .param("min", "0.01")
        .param("max", max)
}

/// A refused notify's answer: `notify_field_refused` naming the field, `message` the detail.
fn notify_refused(name: &str, message: impl Into<String>) -> ApiError {
    field(ErrorCode::NotifyFieldRefused, name, message).param("field", name)
}

/// `OD` + the time (UTC, to the second) + 8 random digits: unique in practice, and the unique
/// index catches the rest.
fn new_order_no() -> String {
    format!("OD{}{:08}", Utc::now().format("%Y%m%d%H%M%S"), fastrand::u32(..100_000_000))
}

fn check_page(limit: u32) -> Result<(), ApiError> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::out_of_range("limit", 1, MAX_PAGE));
    }
    Ok(())
}
