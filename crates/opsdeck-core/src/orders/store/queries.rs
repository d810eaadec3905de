//! Reads: an order with its items, the orders and cancelled lists (filter, search and sort), what
//! the sweep and reconcile look for (not due, pending pages, still pending), the console's counts,
//! an order's amount, and the figures `/metrics` exports.

use chrono::{DateTime, Utc};
use opsdeck_api::orders::CancelReason;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, QueryBuilder, Row};

use super::OrderMetricCounts;
use crate::db::{instant, ms};
use crate::orders::model::{CancelledOrder, Order, OrderItem, OrderKind, OrderQuery, OrderStatus};
use opsdeck_api::orders::OrderSort;

const ORDER_COLUMNS: &str =
    "id, order_no, user_id, kind, amount_fen, status, created_at, expires_at, paid_at, trade_no";

fn order_from(row: &AnyRow) -> sqlx::Result<Order> {
    let status: String = row.try_get("status")?;
    let (created_at, expires_at) = (instant(row.try_get("created_at")?), instant(row.try_get("expires_at")?));
    Ok(Order {
        id: row.try_get("id")?,
        order_no: row.try_get("order_no")?,
        user_id: row.try_get("user_id")?,
        kind: OrderKind::parse(&row.try_get::<String, _>("kind")?),
        amount_fen: row.try_get("amount_fen")?,
        status: if status == "paid" { OrderStatus::Paid } else { OrderStatus::Pending },
        created_at,
        expires_at,
        paid_at: row.try_get::<Option<i64>, _>("paid_at")?.map(instant),
        trade_no: row.try_get("trade_no")?,
        items: Vec::new(),
        alipay_time_expire: crate::orders::model::alipay_time_expire(created_at, expires_at),
    })
}

pub(super) async fn items_of<'e, E>(executor: E, order_id: i64) -> sqlx::Result<Vec<OrderItem>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let rows = sqlx::query("SELECT goods_id, quantity, price_fen FROM order_items WHERE order_id = ? ORDER BY id")
        .bind(order_id)
        .fetch_all(executor)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OrderItem {
                goods_id: r.try_get("goods_id")?,
                quantity: r.try_get("quantity")?,
                price_fen: r.try_get("price_fen")?,
            })
        })
        .collect()
}

pub async fn get_order(pool: &AnyPool, order_no: &str) -> sqlx::Result<Option<Order>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ORDER_COLUMNS} FROM orders WHERE order_no = ?")))
        .bind(order_no.to_string())
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut order = order_from(&row)?;
    order.items = items_of(pool, order.id).await?;
    Ok(Some(order))
}

/// The two order lists, whose columns differ: the orders (pending and paid) have a status,
/// only the cancelled orders a cancel time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderList {
    Orders,
    Cancelled,
}

/// The column `sort` orders `list` by: a fixed list, never the caller's text; None where the
/// list has no such column.
pub fn sort_column(list: OrderList, sort: OrderSort) -> Option<&'static str> {
    match (sort, list) {
        (OrderSort::OrderNo, _) => Some("order_no"),
        (OrderSort::UserId, _) => Some("user_id"),
        (OrderSort::Amount, _) => Some("amount_fen"),
        (OrderSort::CreatedAt, _) => Some("created_at"),
        (OrderSort::ExpiresAt, _) => Some("expires_at"),
        (OrderSort::Status, OrderList::Orders) => Some("status"),
        (OrderSort::CancelledAt, OrderList::Cancelled) => Some("cancelled_at"),
        (OrderSort::Status, OrderList::Cancelled) | (OrderSort::CancelledAt, OrderList::Orders) => None,
    }
}

/// The sorts `list` has, by their wire names (what a refused sort lists).
pub fn sorts_of(list: OrderList) -> Vec<String> {
    use OrderSort::*;
    [OrderNo, UserId, Amount, Status, CreatedAt, ExpiresAt, CancelledAt]
        .into_iter()
        .filter(|s| sort_column(list, *s).is_some())
        .map(|s| serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
        .collect()
}

/// `query`'s sort as an ORDER BY (the id breaks ties, in the same direction), or None for the
/// list's own order.
fn sorted_by(list: OrderList, query: &OrderQuery) -> Option<String> {
    let column = sort_column(list, query.sort?)?;
    let direction = if query.desc { "DESC" } else { "ASC" };
    Some(format!(" ORDER BY {column} {direction}, id {direction} LIMIT "))
}

fn push_filter(q: &mut QueryBuilder<Any>, query: &OrderQuery) {
    q.push(" WHERE 1 = 1");
    if let Some(status) = query.status {
        q.push(" AND status = ").push_bind(if status == OrderStatus::Paid { "paid" } else { "pending" });
    }
    push_search(q, query);
}

/// The search of both lists: an order number, or a user id when it is a number.
fn push_search(q: &mut QueryBuilder<Any>, query: &OrderQuery) {
    if let Some(search) = query.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        q.push(" AND (order_no = ").push_bind(search.to_string());
        match search.parse::<i64>() {
            Ok(user) => q.push(" OR user_id = ").push_bind(user).push(")"),
            Err(_) => q.push(")"),
        };
    }
}

pub async fn list_orders(pool: &AnyPool, query: &OrderQuery) -> sqlx::Result<(Vec<Order>, i64)> {
    let mut count: QueryBuilder<Any> = QueryBuilder::new("SELECT COUNT(*) AS n FROM orders");
    push_filter(&mut count, query);
    let total: i64 = count.build().fetch_one(pool).await?.try_get("n")?;
    let mut select: QueryBuilder<Any> = QueryBuilder::new(format!("SELECT {ORDER_COLUMNS} FROM orders"));
    push_filter(&mut select, query);
    // Unsorted: pending, soonest to expire first; paid (or both), newest first.
    select.push(match sorted_by(OrderList::Orders, query) {
        Some(order_by) => order_by,
        None if query.status == Some(OrderStatus::Pending) => " ORDER BY expires_at, id LIMIT ".into(),
        None => " ORDER BY id DESC LIMIT ".into(),
    });
    select.push_bind(i64::from(query.limit));
    select.push(" OFFSET ").push_bind(i64::from(query.offset));
    let rows = select.build().fetch_all(pool).await?;
    let mut orders = rows.iter().map(order_from).collect::<sqlx::Result<Vec<_>>>()?;
    for order in &mut orders {
        order.items = items_of(pool, order.id).await?;
    }
    Ok((orders, total))
}

pub async fn list_cancelled(pool: &AnyPool, query: &OrderQuery) -> sqlx::Result<(Vec<CancelledOrder>, i64)> {
    let filter = |q: &mut QueryBuilder<Any>| {
        q.push(" WHERE 1 = 1");
        push_search(q, query);
    };
    let mut count: QueryBuilder<Any> = QueryBuilder::new("SELECT COUNT(*) AS n FROM cancelled_orders");
    filter(&mut count);
    let total: i64 = count.build().fetch_one(pool).await?.try_get("n")?;
    let mut select: QueryBuilder<Any> = QueryBuilder::new(
        "SELECT order_id, order_no, user_id, kind, amount_fen, created_at, expires_at, cancelled_at, reason, \
         cancelled_by FROM cancelled_orders",
    );
    filter(&mut select);
    let order_by = sorted_by(OrderList::Cancelled, query);
    select.push(order_by.as_deref().unwrap_or(" ORDER BY cancelled_at DESC, id DESC LIMIT "));
    select.push_bind(i64::from(query.limit));
    select.push(" OFFSET ").push_bind(i64::from(query.offset));
    let rows = select.build().fetch_all(pool).await?;
    let orders = rows
        .iter()
        .map(|r| {
            Ok(CancelledOrder {
                order_id: r.try_get("order_id")?,
                order_no: r.try_get("order_no")?,
                user_id: r.try_get("user_id")?,
                kind: OrderKind::parse(&r.try_get::<String, _>("kind")?),
                amount_fen: r.try_get("amount_fen")?,
                created_at: instant(r.try_get("created_at")?),
                expires_at: instant(r.try_get("expires_at")?),
                cancelled_at: instant(r.try_get("cancelled_at")?),
                reason: CancelReason::from_stored(&r.try_get::<String, _>("reason")?),
                cancelled_by: r.try_get("cancelled_by")?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    Ok((orders, total))
}

/// Of `orders`, the pending ones whose deadline is after `now`: (order_no, expires_at ms).
pub async fn not_due(pool: &AnyPool, orders: &[String], now: DateTime<Utc>) -> sqlx::Result<Vec<(String, i64)>> {
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    let mut query =
        QueryBuilder::<Any>::new("SELECT order_no, expires_at FROM orders WHERE status = 'pending' AND expires_at > ");
    query.push_bind(ms(now)).push(" AND order_no IN (");
    let mut list = query.separated(", ");
    for no in orders {
        list.push_bind(no.clone());
    }
    query.push(")");
    query
        .build()
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("order_no")?, r.try_get("expires_at")?)))
        .collect()
}

/// Pending orders after `after_id`, for reconcile: (id, order_no, expires_at). Orders held for
/// staff by a payment conflict (paid another amount) are left out: they are no longer due.
pub async fn pending_page(pool: &AnyPool, after_id: i64, limit: i64) -> sqlx::Result<Vec<(i64, String, i64)>> {
    let rows = sqlx::query(
        "SELECT id, order_no, expires_at FROM orders o WHERE status = 'pending' AND id > ? \
         AND NOT EXISTS (SELECT 1 FROM payment_conflicts c WHERE c.order_no = o.order_no) ORDER BY id LIMIT ?",
    )
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("order_no")?, r.try_get("expires_at")?))).collect()
}

/// Of `order_nos`, those still pending.
pub async fn still_pending(pool: &AnyPool, order_nos: &[String]) -> sqlx::Result<Vec<String>> {
    if order_nos.is_empty() {
        return Ok(Vec::new());
    }
    let mut q: QueryBuilder<Any> =
        QueryBuilder::new("SELECT order_no FROM orders WHERE status = 'pending' AND order_no IN (");
    let mut list = q.separated(", ");
    for no in order_nos {
        list.push_bind(no.clone());
    }
    q.push(")");
    q.build().fetch_all(pool).await?.iter().map(|r| r.try_get("order_no")).collect()
}

/// Counts for the console: pending, and pending expiring between `now` and `soon` (those past
/// their deadline already wait for the sweep and are not "expiring").
pub async fn pending_counts(pool: &AnyPool, now: DateTime<Utc>, soon: DateTime<Utc>) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, COUNT(CASE WHEN expires_at > ? AND expires_at <= ? THEN 1 END) AS soon \
         FROM orders WHERE status = 'pending'",
    )
    .bind(ms(now))
    .bind(ms(soon))
    .fetch_one(pool)
    .await?;
    Ok((row.try_get("n")?, row.try_get("soon")?))
}

/// An order's amount, whether it is pending, paid or cancelled (what a payment notification is
/// checked against); None when there is no such order.
pub async fn amount_of(pool: &AnyPool, order_no: &str) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query(
        "SELECT amount_fen FROM orders WHERE order_no = ? \
         UNION ALL SELECT amount_fen FROM cancelled_orders WHERE order_no = ?",
    )
    .bind(order_no.to_string())
    .bind(order_no.to_string())
    .fetch_optional(pool)
    .await?;
    row.map(|r| r.try_get("amount_fen")).transpose()
}

/// The order figures `/metrics` exports: (pending orders, cancelled orders, orders paid late
/// (the payment found by the expiry sweep's query: the `paid` timeline line written by `sweep`),
/// payment conflicts), all time.
pub async fn metric_counts(pool: &AnyPool) -> sqlx::Result<OrderMetricCounts> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM orders WHERE status = 'pending') AS pending, \
         (SELECT COUNT(*) FROM cancelled_orders) AS cancelled, \
         (SELECT COUNT(*) FROM order_events WHERE event = 'paid' AND who = 'sweep') AS paid_late, \
         (SELECT COUNT(*) FROM payment_conflicts) AS conflicts",
    )
    .fetch_one(pool)
    .await?;
    Ok(OrderMetricCounts {
        pending: row.try_get("pending")?,
        cancelled: row.try_get("cancelled")?,
        paid_late: row.try_get("paid_late")?,
        conflicts: row.try_get("conflicts")?,
    })
}
