//! Orders placed, paid, expired and cancelled per minute, counted by the database.
//!
//! An order placed stays in `orders` until it is cancelled, when it moves to `cancelled_orders`
//! with its `created_at`: "placed" counts both tables. "Paid" is `orders.paid_at`. A cancelled
//! order is "expired" when the expiry sweep cancelled it (`cancelled_by = 'sweep'`, whatever
//! reason code it wrote) and "cancelled" otherwise (staff). Times are Unix milliseconds on both
//! backends, so a minute's start is `t - t % 60000` in SQLite and MariaDB alike.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row};

use crate::db::ms;

/// One minute's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MinuteCounts {
    pub placed: i64,
    pub paid: i64,
    pub expired: i64,
    pub cancelled: i64,
}

/// The minutes from `from` (inclusive) to `to` (exclusive) that saw anything, by their start
/// (Unix ms); one grouped query, each part of it within its table's time index.
pub async fn activity(
    pool: &AnyPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<BTreeMap<i64, MinuteCounts>> {
    let rows = sqlx::query(
        "SELECT minute, kind, COUNT(*) AS n FROM ( \
           SELECT created_at - created_at % 60000 AS minute, 'placed' AS kind FROM orders \
             WHERE created_at >= ? AND created_at < ? \
           UNION ALL SELECT created_at - created_at % 60000, 'placed' FROM cancelled_orders \
             WHERE created_at >= ? AND created_at < ? \
           UNION ALL SELECT paid_at - paid_at % 60000, 'paid' FROM orders \
             WHERE paid_at >= ? AND paid_at < ? \
           UNION ALL SELECT cancelled_at - cancelled_at % 60000, \
             CASE WHEN cancelled_by = 'sweep' THEN 'expired' ELSE 'cancelled' END FROM cancelled_orders \
             WHERE cancelled_at >= ? AND cancelled_at < ? \
         ) moves GROUP BY minute, kind",
    )
    .bind(ms(from))
    .bind(ms(to))
    .bind(ms(from))
    .bind(ms(to))
    .bind(ms(from))
    .bind(ms(to))
    .bind(ms(from))
    .bind(ms(to))
    .fetch_all(pool)
    .await?;
    let mut minutes: BTreeMap<i64, MinuteCounts> = BTreeMap::new();
    for row in &rows {
        let (minute, kind, n): (i64, String, i64) = (row.try_get("minute")?, row.try_get("kind")?, row.try_get("n")?);
        let counts = minutes.entry(minute).or_default();
        match kind.as_str() {
            "placed" => counts.placed += n,
            "paid" => counts.paid += n,
            "expired" => counts.expired += n,
            _ => counts.cancelled += n,
        }
    }
    Ok(minutes)
}
