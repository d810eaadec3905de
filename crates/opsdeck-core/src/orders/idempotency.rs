//! Idempotency keys of order placement (`POST /api/orders`'s `Idempotency-Key`): a shop that
//! retries after a timeout gets the order its first request placed, never a second order.
//!
//! The key is stored in SQL (`order_idempotency`, the truth) with a hash of the request and the
//! order number, inserted in the order's own transaction ([`super::store::place`]) before any
//! stock is locked: of two concurrent requests with one key, the second's insert fails on the
//! primary key (MariaDB: it waits for the first to commit or roll back), so one order is placed.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Row, Transaction};

use super::model::OrderDraft;
use crate::db::ms;

/// The longest key accepted (the column's width).
pub const MAX_KEY_LEN: usize = 255;

/// Why a key is refused, or None: 1–255 printable ASCII characters (no spaces at the ends).
pub fn key_problem(key: &str) -> Option<String> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Some(format!("an Idempotency-Key is 1–{MAX_KEY_LEN} characters, this one is {}", key.len()));
    }
    if !key.bytes().all(|b| (0x21..=0x7e).contains(&b) || b == b' ') || key.trim() != key {
        return Some("an Idempotency-Key is printable ASCII (no control characters, no spaces at its ends)".into());
    }
    None
}

/// SHA-256 (hex) of what the request orders: the same order, however its JSON was spelled
/// (key order, spacing, the items' order), has the same hash.
pub fn request_hash(draft: &OrderDraft) -> String {
    let mut items: Vec<(i64, i64)> = draft.items.iter().map(|i| (i.goods_id, i.quantity)).collect();
    items.sort_unstable();
    let canonical = serde_json::json!({
        "user_id": draft.user_id,
        "kind": draft.kind.as_str(),
        "items": items,
        "amount_fen": draft.amount_fen,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Records the key for `order_no` in the placing transaction; a unique violation means the key
/// was used already (committed, or committed meanwhile by a concurrent request).
pub async fn insert(
    tx: &mut Transaction<'static, Any>,
    key: &str,
    request_hash: &str,
    order_no: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO order_idempotency (idem_key, request_hash, order_no, created_at) VALUES (?, ?, ?, ?)")
        .bind(key.to_string())
        .bind(request_hash.to_string())
        .bind(order_no.to_string())
        .bind(ms(now))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The request hash and order number stored for a key.
pub async fn lookup(pool: &AnyPool, key: &str) -> sqlx::Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT request_hash, order_no FROM order_idempotency WHERE idem_key = ?")
        .bind(key.to_string())
        .fetch_optional(pool)
        .await?;
    row.map(|r| Ok((r.try_get("request_hash")?, r.try_get("order_no")?))).transpose()
}

/// What a placement with an idempotency key did.
#[derive(Debug, Clone)]
pub enum Keyed {
    /// Placed now.
    Placed(super::model::Order),
    /// The key placed this order before, for the same request: nothing was placed now.
    Replayed(super::model::Order),
    /// The key placed `order_no` for another request: nothing was placed.
    Reused { order_no: String },
}
