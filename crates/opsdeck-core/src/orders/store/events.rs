//! The order timeline: a line within a transition's transaction, many at once (a sweep's
//! queries), one outside a transition, and an order's timeline read back.

use chrono::{DateTime, Utc};
use sqlx::{Any, AnyPool, QueryBuilder, Row, Transaction};

use crate::db::{Database, instant, ms};
use crate::orders::model::OrderEvent;

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
