//! The audit log: every manual action, naming who did what to which target. Append-only.

use chrono::{DateTime, TimeZone, Utc};
use sqlx::{AnyPool, Row};

use crate::db::Database;

pub use opsdeck_api::audit::{AuditEntry, AuditPage};

/// An action to record.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    pub who: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: Option<serde_json::Value>,
}

pub async fn record(db: &Database, entry: &NewAuditEntry<'_>, at: DateTime<Utc>) -> sqlx::Result<i64> {
    let detail = entry.detail.as_ref().map(|d| d.to_string());
    db.insert_returning_id("INSERT INTO audit_log (who, action, target, detail, at) VALUES (?, ?, ?, ?, ?)", |q| {
        q.bind(entry.who.to_string())
            .bind(entry.action.to_string())
            .bind(entry.target.to_string())
            .bind(detail)
            .bind(at.timestamp_millis())
    })
    .await
}

pub async fn list(pool: &AnyPool, limit: u32, before_id: Option<i64>) -> sqlx::Result<AuditPage> {
    let rows = sqlx::query(
        "SELECT id, who, action, target, detail, at FROM audit_log
         WHERE id < ? ORDER BY id DESC LIMIT ?",
    )
    .bind(before_id.unwrap_or(i64::MAX))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let mut entries = rows
        .iter()
        .map(|row| {
            let detail: Option<String> = row.try_get("detail")?;
            let at: i64 = row.try_get("at")?;
            Ok(AuditEntry {
                id: row.try_get("id")?,
                who: row.try_get("who")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                // A detail that is not JSON is still shown, as a string.
                detail: detail.map(|d| serde_json::from_str(&d).unwrap_or(serde_json::Value::String(d))),
                at: Utc.timestamp_millis_opt(at).single().unwrap_or_default(),
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    let next_before_id = if entries.len() > limit as usize {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(AuditPage { entries, next_before_id, next_offset: None })
}
