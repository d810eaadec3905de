//! The audit log: every manual action, naming who did what to which target. Append-only.
//!
//! Listed newest first (paged by `before_id`) or sorted by a column (paged by offset), filtered
//! by who acted, the action or its family (`job.`), a time range and a part of the target or the
//! details. The filters and the sort are written once for both backends: LIKE with `ESCAPE '!'`,
//! a whitelisted `ORDER BY` with the id as the tie-break.

use chrono::{DateTime, TimeZone, Utc};
use sqlx::{Any, AnyPool, QueryBuilder, Row};

use crate::db::{Database, like_escaped, ms};

pub use opsdeck_api::audit::{AuditEntry, AuditPage, AuditQuery, AuditSort};

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

/// The column of each sort: a fixed list, never the caller's text.
fn sort_column(sort: AuditSort) -> &'static str {
    match sort {
        AuditSort::At => "at",
        AuditSort::Who => "who",
        AuditSort::Action => "action",
        AuditSort::Target => "target",
    }
}

/// The text filters with blanks read as absent (the facade has checked their lengths).
fn present(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn push_filters(q: &mut QueryBuilder<Any>, query: &AuditQuery) {
    q.push(" WHERE 1 = 1");
    if let Some(actor) = present(&query.actor) {
        q.push(" AND who = ").push_bind(actor.to_string());
    }
    match present(&query.action) {
        // A family: every action under it (`job.` matches `job.pause`, not `jobs.x`).
        Some(family) if family.ends_with('.') => {
            q.push(" AND action LIKE ").push_bind(format!("{}%", like_escaped(family))).push(" ESCAPE '!'");
        }
        Some(action) => {
            q.push(" AND action = ").push_bind(action.to_string());
        }
        None => {}
    }
    if let Some(from) = query.from {
        q.push(" AND at >= ").push_bind(ms(from));
    }
    if let Some(to) = query.to {
        q.push(" AND at < ").push_bind(ms(to));
    }
    if let Some(search) = present(&query.search) {
        // The details are stored as JSON text: a word of them (a reason, a job's name) matches.
        let pattern = format!("%{}%", like_escaped(search));
        q.push(" AND (target LIKE ").push_bind(pattern.clone()).push(" ESCAPE '!' OR detail LIKE ");
        q.push_bind(pattern).push(" ESCAPE '!')");
    }
}

/// A page of the log as `query` asks: newest first from `before_id` without a sort, else
/// sorted (id as the tie-break, in the same direction) from `offset`.
pub async fn list(pool: &AnyPool, query: &AuditQuery) -> sqlx::Result<AuditPage> {
    let limit = query.limit;
    let mut select: QueryBuilder<Any> = QueryBuilder::new("SELECT id, who, action, target, detail, at FROM audit_log");
    push_filters(&mut select, query);
    match query.sort {
        None => {
            select.push(" AND id < ").push_bind(query.before_id.unwrap_or(i64::MAX));
            select.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit) + 1);
        }
        Some(sort) => {
            let direction = if query.desc { "DESC" } else { "ASC" };
            select.push(format!(" ORDER BY {} {direction}, id {direction} LIMIT ", sort_column(sort)));
            select.push_bind(i64::from(limit) + 1).push(" OFFSET ").push_bind(i64::from(query.offset));
        }
    }
    let rows = select.build().fetch_all(pool).await?;
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
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let (next_before_id, next_offset) = match (more, query.sort) {
        (false, _) => (None, None),
        (true, None) => (entries.last().map(|e| e.id), None),
        (true, Some(_)) => (None, Some(query.offset + limit)),
    };
    Ok(AuditPage { entries, next_before_id, next_offset })
}
