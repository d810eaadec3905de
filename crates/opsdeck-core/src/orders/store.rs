//! SQL for goods, orders and their history. Every transition is conditional on the order still
//! being `pending` (`UPDATE … WHERE status = 'pending'`, `DELETE … WHERE status = 'pending'`), so
//! a race can never apply two transitions; stock moves in the same transaction as the order.
//!
//! Write transactions on SQLite begin `IMMEDIATE` (the write lock first): a deferred transaction
//! that reads and then writes fails at once with SQLITE_BUSY when another writer came between.

use chrono::{DateTime, Utc};
use opsdeck_api::orders::CancelReason;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, QueryBuilder, Row, Transaction};

use super::model::{
    CancelledOrder, Goods, NewGoods, Order, OrderEvent, OrderItem, OrderKind, OrderQuery, OrderStatus, PaidOutcome,
    Payment,
};
use crate::config::DatabaseBackend;
use crate::db::{Database, instant, ms};

pub use crate::db::{begin_write, is_retryable, retrying};

pub async fn insert_goods(db: &Database, goods: &NewGoods, now: DateTime<Utc>) -> sqlx::Result<i64> {
    db.insert_returning_id(
        "INSERT INTO goods (sku, name, price_fen, stock_available, updated_at) VALUES (?, ?, ?, ?, ?)",
        |q| q.bind(goods.sku.clone()).bind(goods.name.clone()).bind(goods.price_fen).bind(goods.stock).bind(ms(now)),
    )
    .await
}

fn goods_from(row: &AnyRow) -> sqlx::Result<Goods> {
    Ok(Goods {
        id: row.try_get("id")?,
        sku: row.try_get("sku")?,
        name: row.try_get("name")?,
        price_fen: row.try_get("price_fen")?,
        stock_available: row.try_get("stock_available")?,
        stock_locked: row.try_get("stock_locked")?,
        stock_sold: row.try_get("stock_sold")?,
    })
}

pub async fn list_goods(pool: &AnyPool) -> sqlx::Result<Vec<Goods>> {
    let rows = sqlx::query(
        "SELECT id, sku, name, price_fen, stock_available, stock_locked, stock_sold FROM goods ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter().map(goods_from).collect()
}

/// Why an order could not be placed.
#[derive(Debug)]
pub enum PlaceError {
    /// Not enough stock of this good (what is available now).
    Short {
        goods_id: i64,
        name: String,
        available: i64,
        wanted: i64,
    },
    UnknownGoods(i64),
    /// The idempotency key is recorded already (by an earlier or a concurrent request): nothing
    /// was placed.
    KeyTaken,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for PlaceError {
    fn from(e: sqlx::Error) -> PlaceError {
        PlaceError::Db(e)
    }
}

/// An order about to be placed (validated by the facade).
pub struct NewOrder<'a> {
    pub order_no: &'a str,
    pub user_id: i64,
    pub kind: OrderKind,
    pub items: &'a [OrderItem],
    /// Top-up orders' amount; goods orders' follows from the prices.
    pub amount_fen: Option<i64>,
    /// `shop`, or the staff member who placed it from the console.
    pub placed_by: &'a str,
    /// The request's idempotency key and hash, recorded in the same transaction.
    pub idempotency: Option<(&'a str, &'a str)>,
}

/// Locks the stock and inserts the order, all or nothing.
pub async fn place(
    db: &Database,
    new: &NewOrder<'_>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Order, PlaceError> {
    let NewOrder { order_no, user_id, kind, items, amount_fen, .. } = *new;
    let mut tx = begin_write(db).await?;
    if let Some((key, hash)) = new.idempotency {
        // First, before any stock is locked: a key used already places nothing.
        match super::idempotency::insert(&mut tx, key, hash, order_no, now).await {
            Err(e) if crate::db::is_unique_violation(&e) => return Err(PlaceError::KeyTaken),
            other => other?,
        }
    }
    let mut priced = Vec::with_capacity(items.len());
    let mut amount = amount_fen.unwrap_or(0);
    // Goods rows are always locked in id order, so concurrent transactions cannot deadlock.
    let mut sorted: Vec<&OrderItem> = items.iter().collect();
    sorted.sort_by_key(|i| i.goods_id);
    for item in sorted {
        let locked = sqlx::query(
            "UPDATE goods SET stock_available = stock_available - ?, stock_locked = stock_locked + ?, updated_at = ? \
             WHERE id = ? AND stock_available >= ?",
        )
        .bind(item.quantity)
        .bind(item.quantity)
        .bind(ms(now))
        .bind(item.goods_id)
        .bind(item.quantity)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let row = sqlx::query("SELECT name, price_fen, stock_available FROM goods WHERE id = ?")
            .bind(item.goods_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(PlaceError::UnknownGoods(item.goods_id));
        };
        if locked == 0 {
            // Rolled back on drop: nothing was changed.
            return Err(PlaceError::Short {
                goods_id: item.goods_id,
                name: row.try_get("name")?,
                available: row.try_get("stock_available")?,
                wanted: item.quantity,
            });
        }
        let price: i64 = row.try_get("price_fen")?;
        amount += price * item.quantity;
        priced.push(OrderItem { goods_id: item.goods_id, quantity: item.quantity, price_fen: price });
    }
    let insert = "INSERT INTO orders (order_no, user_id, kind, amount_fen, status, created_at, expires_at) \
                  VALUES (?, ?, ?, ?, 'pending', ?, ?)";
    let bind = |q: sqlx::query::Query<'static, Any, sqlx::any::AnyArguments>| {
        q.bind(order_no.to_string()).bind(user_id).bind(kind.as_str()).bind(amount).bind(ms(now)).bind(ms(expires_at))
    };
    let id = match db.backend() {
        DatabaseBackend::Sqlite => {
            let row =
                bind(sqlx::query(sqlx::AssertSqlSafe(format!("{insert} RETURNING id")))).fetch_one(&mut *tx).await?;
            row.try_get::<i64, _>("id")?
        }
        DatabaseBackend::Mysql => {
            bind(sqlx::query(insert)).execute(&mut *tx).await?;
            sqlx::query("SELECT LAST_INSERT_ID() AS id").fetch_one(&mut *tx).await?.try_get::<i64, _>("id")?
        }
    };
    for item in &priced {
        sqlx::query("INSERT INTO order_items (order_id, goods_id, quantity, price_fen) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(item.goods_id)
            .bind(item.quantity)
            .bind(item.price_fen)
            .execute(&mut *tx)
            .await?;
    }
    add_event(&mut tx, order_no, now, "placed", Some(serde_json::json!({ "amount_fen": amount })), new.placed_by, None)
        .await?;
    tx.commit().await?;
    Ok(Order {
        id,
        order_no: order_no.to_string(),
        user_id,
        kind,
        amount_fen: amount,
        status: OrderStatus::Pending,
        created_at: instant(ms(now)),
        expires_at: instant(ms(expires_at)),
        paid_at: None,
        trade_no: None,
        items: priced,
        alipay_time_expire: super::model::alipay_time_expire(instant(ms(now)), instant(ms(expires_at))),
    })
}

pub async fn add_event(
    tx: &mut Transaction<'static, Any>,
    order_no: &str,
    at: DateTime<Utc>,
    event: &str,
    detail: Option<serde_json::Value>,
    who: &str,
    run_key: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO order_events (order_no, at, event, detail, who, run_key) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(order_no.to_string())
        .bind(ms(at))
        .bind(event.to_string())
        .bind(detail.map(|d| d.to_string()))
        .bind(who.to_string())
        .bind(run_key.map(str::to_string))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A timeline line on its way to the table.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub order_no: String,
    pub at: DateTime<Utc>,
    pub event: &'static str,
    pub detail: Option<serde_json::Value>,
}

/// Many timeline lines in one statement per 500 (what a sweep's queries produce).
pub async fn insert_events(db: &Database, events: &[NewEvent], who: &str, run_key: Option<&str>) -> sqlx::Result<()> {
    for chunk in events.chunks(500) {
        let mut insert: QueryBuilder<Any> =
            QueryBuilder::new("INSERT INTO order_events (order_no, at, event, detail, who, run_key) ");
        insert.push_values(chunk, |mut b, e| {
            b.push_bind(e.order_no.clone())
                .push_bind(ms(e.at))
                .push_bind(e.event)
                .push_bind(e.detail.as_ref().map(|d| d.to_string()))
                .push_bind(who.to_string())
                .push_bind(run_key.map(str::to_string));
        });
        insert.build().execute(db.pool()).await?;
    }
    Ok(())
}

/// An event outside a transition (a query's answer).
pub async fn record_event(
    db: &Database,
    order_no: &str,
    event: &str,
    detail: Option<serde_json::Value>,
    who: &str,
    run_key: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO order_events (order_no, at, event, detail, who, run_key) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(order_no.to_string())
        .bind(ms(Utc::now()))
        .bind(event.to_string())
        .bind(detail.map(|d| d.to_string()))
        .bind(who.to_string())
        .bind(run_key.map(str::to_string))
        .execute(db.pool())
        .await?;
    Ok(())
}

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
        alipay_time_expire: super::model::alipay_time_expire(created_at, expires_at),
    })
}

async fn items_of<'e, E>(executor: E, order_id: i64) -> sqlx::Result<Vec<OrderItem>>
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

/// pending → paid, once, if the amount paid is the order's (checked here, in the transaction,
/// for every path: notify, sweep, staff). Goods: locked stock becomes sold; top-up: the user's
/// balance grows by the order's amount. A payment of another amount, or one for an order
/// cancelled already, is recorded as a conflict for staff (`payment_conflicts` and the
/// timeline, once per trade) and not applied.
pub async fn mark_paid(
    db: &Database,
    order_no: &str,
    payment: Payment<'_>,
    source: &str,
    run_key: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<PaidOutcome>> {
    let mut tx = begin_write(db).await?;
    // An empty trade number (a query's answer without one) is stored as none.
    let trade_no = Some(payment.trade_no).filter(|t| !t.is_empty());
    let changed = sqlx::query(
        "UPDATE orders SET status = 'paid', paid_at = ?, trade_no = ? WHERE order_no = ? AND status = 'pending' \
         AND amount_fen = COALESCE(?, amount_fen)",
    )
    .bind(ms(now))
    .bind(trade_no.map(str::to_string))
    .bind(order_no.to_string())
    .bind(payment.amount_fen)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 1 {
        let row = sqlx::query("SELECT id, user_id, kind, amount_fen FROM orders WHERE order_no = ?")
            .bind(order_no.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let id: i64 = row.try_get("id")?;
        if OrderKind::parse(&row.try_get::<String, _>("kind")?) == OrderKind::TopUp {
            let user: i64 = row.try_get("user_id")?;
            let amount: i64 = row.try_get("amount_fen")?;
            let upsert = match db.backend() {
                DatabaseBackend::Sqlite => {
                    "INSERT INTO user_balances (user_id, balance_fen, updated_at) VALUES (?, ?, ?) \
                     ON CONFLICT (user_id) DO UPDATE SET balance_fen = balance_fen + excluded.balance_fen, \
                     updated_at = excluded.updated_at"
                }
                DatabaseBackend::Mysql => {
                    "INSERT INTO user_balances (user_id, balance_fen, updated_at) VALUES (?, ?, ?) \
                     ON DUPLICATE KEY UPDATE balance_fen = balance_fen + VALUES(balance_fen), \
                     updated_at = VALUES(updated_at)"
                }
            };
            sqlx::query(upsert).bind(user).bind(amount).bind(ms(now)).execute(&mut *tx).await?;
        } else {
            let mut items = items_of(&mut *tx, id).await?;
            items.sort_by_key(|i| i.goods_id);
            for item in items {
                sqlx::query(
                    "UPDATE goods SET stock_locked = stock_locked - ?, stock_sold = stock_sold + ?, updated_at = ? \
                     WHERE id = ?",
                )
                .bind(item.quantity)
                .bind(item.quantity)
                .bind(ms(now))
                .bind(item.goods_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        add_event(&mut tx, order_no, now, "paid", Some(serde_json::json!({ "trade_no": trade_no })), source, run_key)
            .await?;
        tx.commit().await?;
        return Ok(Some(PaidOutcome::Applied));
    }
    let live = sqlx::query("SELECT status, amount_fen FROM orders WHERE order_no = ?")
        .bind(order_no.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    let (outcome, amount, note) = match live {
        Some(row) if row.try_get::<String, _>("status")? == "paid" => return Ok(Some(PaidOutcome::AlreadyPaid)),
        // Pending, so the amount differs.
        Some(row) => {
            let amount: i64 = row.try_get("amount_fen")?;
            (PaidOutcome::AmountMismatch, amount, "paid another amount than the order's: not applied, for staff")
        }
        None => {
            let cancelled = sqlx::query("SELECT amount_fen FROM cancelled_orders WHERE order_no = ?")
                .bind(order_no.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            let Some(cancelled) = cancelled else { return Ok(None) };
            let amount: i64 = cancelled.try_get("amount_fen")?;
            // Cancelled and paid another amount: the amount is what a notify is refused for.
            let outcome = match payment.amount_fen {
                Some(paid) if paid != amount => PaidOutcome::AmountMismatch,
                _ => PaidOutcome::Conflict,
            };
            (outcome, amount, "paid after it was cancelled: for staff")
        }
    };
    let paid_fen = payment.amount_fen.unwrap_or(amount);
    // Once per (order, trade): looked up first (MySQL's `ON DUPLICATE KEY` counts a duplicate as
    // a changed row under sqlx's found-rows flag, so its answer cannot tell). The lookup locks
    // the key on MySQL; SQLite's write transaction is exclusive already. Two that race both
    // insert: one meets the unique key and its transaction is retried.
    let lookup = match db.backend() {
        DatabaseBackend::Sqlite => "SELECT COUNT(*) AS n FROM payment_conflicts WHERE order_no = ? AND trade_no = ?",
        DatabaseBackend::Mysql => {
            "SELECT COUNT(*) AS n FROM payment_conflicts WHERE order_no = ? AND trade_no = ? FOR UPDATE"
        }
    };
    let known: i64 = sqlx::query(lookup)
        .bind(order_no.to_string())
        .bind(payment.trade_no.to_string())
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
    let new = if known == 0 {
        sqlx::query("INSERT INTO payment_conflicts (order_no, trade_no, amount_fen, source, at) VALUES (?, ?, ?, ?, ?)")
            .bind(order_no.to_string())
            .bind(payment.trade_no.to_string())
            .bind(paid_fen)
            .bind(source.to_string())
            .bind(ms(now))
            .execute(&mut *tx)
            .await?
            .rows_affected()
    } else {
        0
    };
    if new == 1 {
        let detail = serde_json::json!({
            "trade_no": trade_no,
            "paid_fen": paid_fen,
            "amount_fen": amount,
            "note": note,
        });
        add_event(&mut tx, order_no, now, "conflict", Some(detail), source, run_key).await?;
    }
    tx.commit().await?;
    Ok(Some(outcome))
}

/// Moves pending orders to `cancelled_orders` and restores their locked stock, in one
/// transaction for the whole batch. Returns the order numbers that were still pending (and are
/// now cancelled); the others were paid or cancelled meanwhile and are left alone. With `due_by`
/// (the sweep: Redis's clock), only orders whose `expires_at` is at or before it are cancelled;
/// the others are left alone too. Staff cancel before the deadline on purpose (None).
pub async fn cancel_batch(
    db: &Database,
    orders: &[(String, String)],
    who: &str,
    run_key: Option<&str>,
    now: DateTime<Utc>,
    due_by: Option<DateTime<Utc>>,
) -> sqlx::Result<Vec<String>> {
    let mut tx = begin_write(db).await?;
    let mut cancelled = Vec::new();
    // Stock to give back per good, applied once at the end in id order (no deadlocks, and one
    // UPDATE per good however many orders the batch holds).
    let mut restore: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
    for (order_no, reason) in orders {
        // Lock the row first (MySQL: FOR UPDATE; SQLite: the write lock is held already).
        let lock = match db.backend() {
            DatabaseBackend::Sqlite => {
                "SELECT id FROM orders WHERE order_no = ? AND status = 'pending' AND expires_at <= COALESCE(?, expires_at)"
            }
            DatabaseBackend::Mysql => {
                "SELECT id FROM orders WHERE order_no = ? AND status = 'pending' AND expires_at <= COALESCE(?, expires_at) \
                 FOR UPDATE"
            }
        };
        let row = sqlx::query(lock).bind(order_no.clone()).bind(due_by.map(ms)).fetch_optional(&mut *tx).await?;
        let Some(row) = row else {
            continue;
        };
        let id: i64 = row.try_get("id")?;
        sqlx::query(
            "INSERT INTO cancelled_orders (order_id, order_no, user_id, kind, amount_fen, created_at, expires_at, \
             cancelled_at, reason, cancelled_by) \
             SELECT id, order_no, user_id, kind, amount_fen, created_at, expires_at, ?, ?, ? FROM orders WHERE id = ?",
        )
        .bind(ms(now))
        .bind(reason.clone())
        .bind(who.to_string())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM orders WHERE id = ? AND status = 'pending'")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted != 1 {
            // Cannot happen under the lock; refuse the whole batch rather than half-apply it.
            return Err(sqlx::Error::Protocol(format!("order {order_no} changed under its lock")));
        }
        let items = items_of(&mut *tx, id).await?;
        for item in &items {
            *restore.entry(item.goods_id).or_insert(0) += item.quantity;
        }
        // The reason as the JSON it is stored as (`{code, params}`), not as a string of it.
        let reason_json =
            serde_json::from_str::<serde_json::Value>(reason).unwrap_or_else(|_| serde_json::json!(reason));
        add_event(
            &mut tx,
            order_no,
            now,
            "cancelled",
            Some(serde_json::json!({ "reason": reason_json })),
            who,
            run_key,
        )
        .await?;
        if !items.is_empty() {
            let restored: Vec<_> =
                items.iter().map(|i| serde_json::json!({ "goods_id": i.goods_id, "quantity": i.quantity })).collect();
            add_event(&mut tx, order_no, now, "stock_restored", Some(serde_json::json!(restored)), who, run_key)
                .await?;
        }
        cancelled.push(order_no.clone());
    }
    for (goods_id, quantity) in restore {
        sqlx::query(
            "UPDATE goods SET stock_locked = stock_locked - ?, stock_available = stock_available + ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(quantity)
        .bind(quantity)
        .bind(ms(now))
        .bind(goods_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(cancelled)
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
    // Pending: soonest to expire first; paid (or both): newest first.
    select.push(if query.status == Some(OrderStatus::Pending) {
        " ORDER BY expires_at, id LIMIT "
    } else {
        " ORDER BY id DESC LIMIT "
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
    select.push(" ORDER BY cancelled_at DESC, id DESC LIMIT ").push_bind(i64::from(query.limit));
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

pub async fn timeline(pool: &AnyPool, order_no: &str) -> sqlx::Result<Vec<OrderEvent>> {
    let rows = sqlx::query("SELECT at, event, detail, who, run_key FROM order_events WHERE order_no = ? ORDER BY id")
        .bind(order_no.to_string())
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OrderEvent {
                at: instant(r.try_get("at")?),
                event: r.try_get("event")?,
                detail: r.try_get::<Option<String>, _>("detail")?.and_then(|d| serde_json::from_str(&d).ok()),
                who: r.try_get("who")?,
                run_key: r.try_get("run_key")?,
            })
        })
        .collect()
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

/// See [`metric_counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderMetricCounts {
    pub pending: i64,
    pub cancelled: i64,
    pub paid_late: i64,
    pub conflicts: i64,
}
