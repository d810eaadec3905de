//! SQL for `ocr_attempts`: one row per call to Baidu for a request (when, how it ended, Baidu's
//! code, the error's text, how long it took, which instance), the history the console shows in
//! a request's detail. Written by the dispatcher right after each call, before the request's
//! own transition, so a window told of the transition finds the call in the history. Never card
//! data: a successful call has no message, a failed one only the error's text.

use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row};

use super::model::{AttemptOutcome, OcrAttempt};
use crate::config::DatabaseBackend;
use crate::db::{Database, instant, ms};

/// One call, as the dispatcher records it.
#[derive(Debug, Clone)]
pub struct NewAttempt<'a> {
    pub request_id: i64,
    /// Random per call (see [`call_key`]): recording the same call twice (a write repeated after
    /// its answer was lost) keeps one row.
    pub call_key: &'a str,
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    pub error_code: Option<i64>,
    pub message: Option<&'a str>,
    pub duration_ms: i64,
    pub instance: &'a str,
}

/// A fresh key for one call: 32 hex characters.
pub fn call_key() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

fn outcome_str(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Ok => "ok",
        AttemptOutcome::Retry => "retry",
        AttemptOutcome::Dead => "dead",
    }
}

fn parse_outcome(text: &str) -> Option<AttemptOutcome> {
    Some(match text {
        "ok" => AttemptOutcome::Ok,
        "retry" => AttemptOutcome::Retry,
        "dead" => AttemptOutcome::Dead,
        _ => return None,
    })
}

/// Records one call (once, however often it is applied).
pub async fn record(db: &Database, attempt: &NewAttempt<'_>) -> sqlx::Result<()> {
    let ignore = match db.backend() {
        DatabaseBackend::Sqlite => " ON CONFLICT (call_key) DO NOTHING",
        DatabaseBackend::Mysql => " ON DUPLICATE KEY UPDATE id = id",
    };
    let sql = format!(
        "INSERT INTO ocr_attempts (request_id, call_key, at, outcome, error_code, message, duration_ms, instance) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?){ignore}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(attempt.request_id)
        .bind(attempt.call_key)
        .bind(ms(attempt.at))
        .bind(outcome_str(attempt.outcome))
        .bind(attempt.error_code)
        .bind(attempt.message)
        .bind(attempt.duration_ms)
        .bind(attempt.instance)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A request's calls, oldest first, numbered from 1 (across staff retries: the history is kept
/// when a request starts afresh, while its `attempts` count again from 0).
pub async fn of_request(pool: &AnyPool, request_id: i64) -> sqlx::Result<Vec<OcrAttempt>> {
    let rows = sqlx::query(
        "SELECT at, outcome, error_code, message, duration_ms, instance FROM ocr_attempts \
         WHERE request_id = ? ORDER BY at, id",
    )
    .bind(request_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .enumerate()
        .map(|(n, row)| {
            let outcome: String = row.try_get("outcome")?;
            Ok(OcrAttempt {
                attempt: n as i64 + 1,
                at: instant(row.try_get("at")?),
                outcome: parse_outcome(&outcome)
                    .ok_or_else(|| sqlx::Error::Decode(format!("attempt outcome {outcome:?}").into()))?,
                error_code: row.try_get("error_code")?,
                message: row.try_get("message")?,
                duration_ms: row.try_get("duration_ms")?,
                instance: row.try_get("instance")?,
            })
        })
        .collect()
}
