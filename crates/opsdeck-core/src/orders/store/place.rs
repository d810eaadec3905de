//! An order placed: the stock locked and the order (with its items, idempotency key and first
//! timeline line) inserted in one transaction, all or nothing.

use chrono::{DateTime, Utc};
use sqlx::{Any, Row};

use super::add_event;
use super::begin_write;
use crate::config::DatabaseBackend;
use crate::db::{Database, instant, ms};
use crate::orders::model::{Order, OrderItem, OrderKind, OrderStatus};

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
        match crate::orders::idempotency::insert(&mut tx, key, hash, order_no, now).await {
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
        alipay_time_expire: crate::orders::model::alipay_time_expire(instant(ms(now)), instant(ms(expires_at))),
    })
}
