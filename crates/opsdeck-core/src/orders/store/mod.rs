//! SQL for goods, orders and their history. Every transition is conditional on the order still
//! being `pending` (`UPDATE … WHERE status = 'pending'`, `DELETE … WHERE status = 'pending'`), so
//! a race can never apply two transitions; stock moves in the same transaction as the order.
//!
//! Write transactions on SQLite begin `IMMEDIATE` (the write lock first): a deferred transaction
//! that reads and then writes fails at once with SQLITE_BUSY when another writer came between.
//!
//! - [`goods`]: the goods on sale.
//! - [`place`]: an order placed (stock locked, all or nothing).
//! - [`settle`]: the transitions out of `pending`: paid, or cancelled in batches.
//! - [`events`]: the order timeline.
//! - [`queries`]: reads: an order, the lists, what the sweep and reconcile look for, the figures.
//! - [`activity`]: orders placed, paid, expired and cancelled per minute.

mod activity;
mod events;
mod goods;
mod place;
mod queries;
mod settle;

pub use crate::db::{begin_write, is_retryable, retrying};
pub use activity::activity;
pub use events::{NewEvent, add_event, insert_events, record_event, timeline};
pub use goods::{insert_goods, list_goods};
pub use place::{NewOrder, PlaceError, place};
pub use queries::{
    OrderList, amount_of, get_order, list_cancelled, list_orders, metric_counts, not_due, pending_counts, pending_page,
    sort_column, sorts_of, still_pending,
};
pub use settle::{cancel_batch, mark_paid};

/// See [`metric_counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderMetricCounts {
    pub pending: i64,
    pub cancelled: i64,
    pub paid_late: i64,
    pub conflicts: i64,
}
