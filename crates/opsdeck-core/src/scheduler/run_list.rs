//! Reading the run history: a page of runs (newest first by id, or sorted by a column and paged
//! by offset) and one run by id.

use sqlx::{AnyPool, Row};

use super::store::{RUN_COLUMNS, run_from_row};
use crate::db::ms;

pub use opsdeck_api::jobs::{JobRun, RunPage, RunQuery, RunSort};

/// The column a sort orders by: a fixed list, never text from the caller.
fn column(sort: RunSort) -> &'static str {
    match sort {
        RunSort::ScheduledAt => "scheduled_at",
        RunSort::JobName => "job_name",
        RunSort::Outcome => "outcome",
        RunSort::DurationMs => "duration_ms",
        RunSort::Instance => "instance",
    }
}

/// A page of runs, filtered. Without a sort: newest first, paged by `before_id` (a page stays put
/// while new runs arrive). With one: by that column, ties by id in the same direction, paged by
/// `offset` (`next_offset` while more follow).
pub async fn list_runs(pool: &AnyPool, query: &RunQuery) -> sqlx::Result<RunPage> {
    let (order, before_id, offset) = match query.sort {
        None => ("id DESC".to_string(), query.before_id.unwrap_or(i64::MAX), 0),
        Some(sort) => {
            let direction = if query.desc { "DESC" } else { "ASC" };
            (format!("{} {direction}, id {direction}", column(sort)), i64::MAX, query.offset)
        }
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM job_runs
         WHERE id < ? AND (? IS NULL OR job_id = ?) AND (? IS NULL OR outcome = ?)
           AND scheduled_at >= ? AND scheduled_at <= ?
         ORDER BY {order} LIMIT ? OFFSET ?"
    ));
    let outcome = query.outcome.map(|o| o.as_str().to_string());
    let rows = sqlx::query(sql)
        .bind(before_id)
        .bind(query.job_id)
        .bind(query.job_id)
        .bind(outcome.clone())
        .bind(outcome)
        .bind(query.from.map(ms).unwrap_or(i64::MIN))
        .bind(query.to.map(ms).unwrap_or(i64::MAX))
        .bind(i64::from(query.limit) + 1)
        .bind(i64::from(offset))
        .fetch_all(pool)
        .await?;
    let mut runs = rows.iter().map(run_from_row).collect::<sqlx::Result<Vec<_>>>()?;
    let more = runs.len() > query.limit as usize;
    runs.truncate(query.limit as usize);
    Ok(match query.sort {
        None => RunPage { next_before_id: more.then(|| runs.last().map(|r| r.id)).flatten(), runs, next_offset: None },
        Some(_) => RunPage { runs, next_before_id: None, next_offset: more.then(|| offset + query.limit) },
    })
}

/// One run by id, with its key (what its stop request and running slot are kept under).
pub async fn get_run(pool: &AnyPool, id: i64) -> sqlx::Result<Option<(JobRun, String)>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS}, run_key FROM job_runs WHERE id = ?"));
    let Some(row) = sqlx::query(sql).bind(id).fetch_optional(pool).await? else {
        return Ok(None);
    };
    Ok(Some((run_from_row(&row)?, row.try_get("run_key")?)))
}
