//! Orders: goods, placed orders, cancelled orders, an order's timeline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// The Orders page's header figures.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct OrdersSummary {
    pub pending: i64,
    /// Pending orders that expire within five minutes.
    pub expiring_soon: i64,
    pub sandbox: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS, ToSchema)]
pub struct Goods {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_fen: i64,
    pub stock_available: i64,
    pub stock_locked: i64,
    pub stock_sold: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS, ToSchema)]
pub struct NewGoods {
    pub sku: String,
    pub name: String,
    pub price_fen: i64,
    pub stock: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS, ToSchema)]
pub struct OrderItem {
    pub goods_id: i64,
    pub quantity: i64,
    /// Filled in by the core (the goods' price when ordered).
    #[serde(default)]
    pub price_fen: i64,
}

/// What the shop (or a test) orders.
#[derive(Debug, Clone, Deserialize, Serialize, TS, ToSchema)]
pub struct OrderDraft {
    pub user_id: i64,
    pub kind: OrderKind,
    /// Goods orders: what is bought (the amount follows from the prices).
    #[serde(default)]
    pub items: Vec<OrderItem>,
    /// Top-up orders: the amount to credit.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub amount_fen: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct OrderEvent {
    pub at: DateTime<Utc>,
    /// placed, queried, closed, cancelled, stock_restored, paid, conflict
    pub event: String,
    pub detail: Option<serde_json::Value>,
    pub who: String,
    /// The job run that acted (links the timeline to the history).
    pub run_key: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, TS, ToSchema)]
#[serde(default)]
#[ts(optional_fields = nullable)]
pub struct OrderQuery {
    /// An order number or a user id.
    pub search: Option<String>,
    pub status: Option<OrderStatus>,
    pub offset: u32,
    pub limit: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub total: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct CancelledPage {
    pub orders: Vec<CancelledOrder>,
    pub total: i64,
}
