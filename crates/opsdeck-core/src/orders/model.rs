//! The order types front ends see.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Goods,
    TopUp,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Goods => "goods",
            OrderKind::TopUp => "top_up",
        }
    }

    pub fn parse(text: &str) -> OrderKind {
        if text == "top_up" { OrderKind::TopUp } else { OrderKind::Goods }
    }
}

/// An order in `orders` (cancelled ones live in `cancelled_orders`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Goods {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_fen: i64,
    pub stock_available: i64,
    pub stock_locked: i64,
    pub stock_sold: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NewGoods {
    pub sku: String,
    pub name: String,
    pub price_fen: i64,
    pub stock: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderItem {
    pub goods_id: i64,
    pub quantity: i64,
    /// Filled in by the core (the goods' price when ordered).
    #[serde(default)]
    pub price_fen: i64,
}

/// What the shop (or a test) orders.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderDraft {
    pub user_id: i64,
    pub kind: OrderKind,
    /// Goods orders: what is bought (the amount follows from the prices).
    #[serde(default)]
    pub items: Vec<OrderItem>,
    /// Top-up orders: the amount to credit.
    #[serde(default)]
    pub amount_fen: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub id: i64,
    pub order_no: String,
    pub user_id: i64,
    pub kind: OrderKind,
    pub amount_fen: i64,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub trade_no: Option<String>,
    pub items: Vec<OrderItem>,
    /// What the shop passes to Alipay as `time_expire` when it creates this order's trade
    /// (`yyyy-MM-dd HH:mm:ss`, GMT+8): see [`alipay_time_expire`].
    pub alipay_time_expire: String,
}

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

#[derive(Debug, Clone, Serialize)]
pub struct CancelledOrder {
    pub order_id: i64,
    pub order_no: String,
    pub user_id: i64,
    pub kind: OrderKind,
    pub amount_fen: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub cancelled_at: DateTime<Utc>,
    pub reason: String,
    /// `sweep` or the staff member.
    pub cancelled_by: String,
}

/// One line of an order's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct OrderEvent {
    pub at: DateTime<Utc>,
    /// placed, queried, closed, cancelled, stock_restored, paid, conflict
    pub event: String,
    pub detail: Option<serde_json::Value>,
    pub who: String,
    /// The job run that acted (links the timeline to the history).
    pub run_key: Option<String>,
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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderQuery {
    /// An order number or a user id.
    pub search: Option<String>,
    pub status: Option<OrderStatus>,
    pub offset: u32,
    pub limit: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub total: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CancelledPage {
    pub orders: Vec<CancelledOrder>,
    pub total: i64,
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
