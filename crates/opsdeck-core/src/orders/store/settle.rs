//! The transitions out of `pending`, each conditional on the order still being pending: paid
//! (amount checked, stock sold or balance topped up, conflicts kept for staff), and cancelled in
//! batches (moved to `cancelled_orders`, stock restored).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::add_event;
use super::begin_write;
use super::queries::items_of;
use crate::config::DatabaseBackend;
use crate::db::{Database, ms};
use crate::orders::model::{OrderKind, PaidOutcome, Payment};

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
