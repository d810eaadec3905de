//! Orders: goods, placed orders, cancelled orders, an order's timeline.

use std::collections::BTreeMap;

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
#[serde(deny_unknown_fields)]
pub struct NewGoods {
    pub sku: String,
    pub name: String,
    pub price_fen: i64,
    pub stock: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderItem {
    pub goods_id: i64,
    pub quantity: i64,
    /// Filled in by the core (the goods' price when ordered).
    #[serde(default)]
    pub price_fen: i64,
}

/// What the shop (or a test) orders.
#[derive(Debug, Clone, Deserialize, Serialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
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
    pub reason: CancelReason,
    /// `sweep` or the staff member.
    pub cancelled_by: String,
}

/// Why an order was cancelled. Each value has an entry in the console's en and zh-CN
/// catalogues (`ui/src/i18n/*.ts`; the test command checks).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema, strum::EnumIter, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CancelCode {
    /// Unpaid `{minutes}` minutes after it was placed (the expiry sweep).
    UnpaidMinutes,
    /// Unpaid `{seconds}` seconds after it was placed (an expiry that is not whole minutes).
    UnpaidSeconds,
    /// Cancelled by staff, who said why: `{text}` (their own words).
    Staff,
    /// A reason stored before reasons had codes: `{text}`, as it was written (English).
    LegacyText,
}

impl CancelCode {
    /// Every value, in declaration order.
    pub fn all() -> impl Iterator<Item = CancelCode> {
        <CancelCode as strum::IntoEnumIterator>::iter()
    }

    /// The wire name (`unpaid_minutes`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Why an order was cancelled, rendered from the catalogues in the viewer's language. Stored as
/// this JSON in `cancelled_orders.reason`; a plain text stored before reasons had codes reads as
/// `legacy_text` with the text as `{text}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct CancelReason {
    pub code: CancelCode,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[ts(as = "Option<BTreeMap<String, String>>", optional)]
    pub params: BTreeMap<String, String>,
}

impl CancelReason {
    pub fn new(code: CancelCode) -> CancelReason {
        CancelReason { code, params: BTreeMap::new() }
    }

    /// Adds a value the message names.
    pub fn param(mut self, key: &str, value: impl ToString) -> CancelReason {
        self.params.insert(key.to_string(), value.to_string());
        self
    }

    /// Staff's cancel, in their own words.
    pub fn staff(text: &str) -> CancelReason {
        CancelReason::new(CancelCode::Staff).param("text", text)
    }

    /// The stored text: this as JSON.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored text: JSON `{code, params}`, or plain text from before (`legacy_text`).
    pub fn from_stored(text: &str) -> CancelReason {
        serde_json::from_str(text).unwrap_or_else(|_| CancelReason::new(CancelCode::LegacyText).param("text", text))
    }
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
    /// The column to sort by (None: newest first).
    pub sort: Option<OrderSort>,
    /// Descending (with `sort`).
    #[ts(as = "Option<bool>", optional)]
    pub desc: bool,
    pub offset: u32,
    pub limit: u32,
}

/// The columns the order lists sort by (`cancelled_at` only the cancelled orders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderSort {
    OrderNo,
    UserId,
    Amount,
    Status,
    CreatedAt,
    ExpiresAt,
    CancelledAt,
}

/// Orders placed, paid, expired (cancelled by the sweep) and cancelled by staff in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct OrderActivity {
    /// The minute's start.
    pub at: DateTime<Utc>,
    pub placed: i64,
    pub paid: i64,
    pub expired: i64,
    pub cancelled: i64,
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
