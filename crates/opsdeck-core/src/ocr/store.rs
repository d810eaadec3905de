//! SQL for `ocr_requests`, the queue's truth. Every change of status is a conditional UPDATE
//! (`WHERE status IN (…)`), so a late or repeated actor can never undo a later state: a result
//! written twice is written once, a retried request cannot be retried again while pending, a
//! request an instance took (in flight) cannot be cancelled under it. The list's query is in
//! [`super::listing`], the calls' history in [`super::attempts`].

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, QueryBuilder, Row};

use super::baidu::{IdCard, Side};
use super::model::{OcrCounts, OcrPause, OcrRequest, OcrStatus};
use crate::config::DatabaseBackend;
use crate::db::{Database, instant, ms};

/// The dedupe key of a URL: SHA-256, hex.
pub fn url_key(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) const COLUMNS: &str = "id, url, side, status, attempts, created_at, updated_at, next_attempt_at, finished_at, error, \
                       error_code, result, instance, batch";

/// A row, with the batch that inserted it.
pub struct Stored {
    pub request: OcrRequest,
    pub batch: String,
}

pub(super) fn from_row(row: &AnyRow) -> sqlx::Result<Stored> {
    let side: String = row.try_get("side")?;
    let status: String = row.try_get("status")?;
    let result: Option<String> = row.try_get("result")?;
    let request = OcrRequest {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        side: if side == "back" { Side::Back } else { Side::Front },
        status: OcrStatus::parse(&status).ok_or_else(|| sqlx::Error::Decode(format!("status {status:?}").into()))?,
        attempts: row.try_get("attempts")?,
        created_at: instant(row.try_get("created_at")?),
        updated_at: instant(row.try_get("updated_at")?),
        next_attempt_at: row.try_get::<Option<i64>, _>("next_attempt_at")?.map(instant),
        finished_at: row.try_get::<Option<i64>, _>("finished_at")?.map(instant),
        error: row.try_get("error")?,
        error_code: row.try_get("error_code")?,
        result: result.as_deref().and_then(|r| serde_json::from_str(r).ok()),
        instance: row.try_get("instance")?,
    };
    Ok(Stored { request, batch: row.try_get("batch")? })
}

/// A validated submission on its way into the table.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub url: String,
    pub side: Side,
}

/// Inserts the requests whose URL is new (tagged with `batch`) and returns the row of every
/// URL, new or old, keyed by URL. Two statements, each atomic; no transaction needed.
pub async fn insert_batch(
    db: &Database,
    requests: &[NewRequest],
    batch: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Stored>> {
    let mut insert: QueryBuilder<Any> =
        QueryBuilder::new("INSERT INTO ocr_requests (url_key, url, side, status, created_at, updated_at, batch) ");
    insert.push_values(requests, |mut b, r| {
        b.push_bind(url_key(&r.url))
            .push_bind(r.url.clone())
            .push_bind(side_str(r.side))
            .push_bind("pending")
            .push_bind(ms(now))
            .push_bind(ms(now))
            .push_bind(batch.to_string());
    });
    insert.push(match db.backend() {
        DatabaseBackend::Sqlite => " ON CONFLICT (url_key) DO NOTHING",
        // Not INSERT IGNORE: that would also turn real errors (a value too long) into warnings.
        DatabaseBackend::Mysql => " ON DUPLICATE KEY UPDATE id = id",
    });
    insert.build().execute(db.pool()).await?;
    let mut select: QueryBuilder<Any> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM ocr_requests WHERE url_key IN ("));
    let mut keys = select.separated(", ");
    for r in requests {
        keys.push_bind(url_key(&r.url));
    }
    select.push(")");
    select.build().fetch_all(db.pool()).await?.iter().map(from_row).collect()
}

fn side_str(side: Side) -> &'static str {
    match side {
        Side::Front => "front",
        Side::Back => "back",
    }
}

pub async fn get(pool: &AnyPool, id: i64) -> sqlx::Result<Option<OcrRequest>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM ocr_requests WHERE id = ?")))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(|r| from_row(&r).map(|s| s.request)).transpose()
}

pub async fn get_by_url(pool: &AnyPool, url: &str) -> sqlx::Result<Option<OcrRequest>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM ocr_requests WHERE url_key = ?")))
        .bind(url_key(url))
        .fetch_optional(pool)
        .await?;
    row.map(|r| from_row(&r).map(|s| s.request)).transpose()
}

pub async fn counts(pool: &AnyPool) -> sqlx::Result<OcrCounts> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM ocr_requests GROUP BY status").fetch_all(pool).await?;
    let mut counts = OcrCounts::default();
    for row in rows {
        let n: i64 = row.try_get("n")?;
        match OcrStatus::parse(&row.try_get::<String, _>("status")?) {
            Some(OcrStatus::Pending) => counts.pending = n,
            Some(OcrStatus::InFlight) => counts.in_flight = n,
            Some(OcrStatus::Done) => counts.done = n,
            Some(OcrStatus::Dead) => counts.dead = n,
            Some(OcrStatus::Cancelled) => counts.cancelled = n,
            None => {}
        }
    }
    Ok(counts)
}

/// The instance holding a request's message, and the calls granted for the request so far
/// (Redis counts them as each slot is granted, see `queue::STARTED`). Transitions made by a
/// holder apply only while it still is the holder: after a take-over, the old holder's late
/// writes change nothing.
#[derive(Debug, Clone, Copy)]
pub struct Holder<'a> {
    pub instance: &'a str,
    pub calls: i64,
}

/// pending/in_flight → in_flight, held by `holder` (before waiting for a slot). The attempts
/// are raised to the calls Redis counted (a dead holder's calls that never came back). None
/// when the request is no longer waiting (done or dead already: no call must be made).
pub async fn start_call(
    pool: &AnyPool,
    id: i64,
    holder: Holder<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<OcrRequest>> {
    let changed = sqlx::query(
        "UPDATE ocr_requests SET status = 'in_flight', instance = ?, updated_at = ?, next_attempt_at = NULL, \
         attempts = CASE WHEN attempts < ? THEN ? ELSE attempts END WHERE id = ? AND status IN ('pending', 'in_flight')",
    )
    .bind(holder.instance)
    .bind(ms(now))
    .bind(holder.calls)
    .bind(holder.calls)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(None);
    }
    get(pool, id).await
}

/// → done with the result and the calls made, unless it is done already (then false: the
/// first result stands). Any holder's result is taken, even a late one: it was paid for.
pub async fn finish_done(pool: &AnyPool, id: i64, card: &IdCard, calls: i64, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let result = serde_json::to_string(card).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let changed = sqlx::query(
        "UPDATE ocr_requests SET status = 'done', result = ?, error = NULL, error_code = NULL, finished_at = ?, \
         updated_at = ?, next_attempt_at = NULL, attempts = CASE WHEN attempts < ? THEN ? ELSE attempts END \
         WHERE id = ? AND status IN ('pending', 'in_flight')",
    )
    .bind(result)
    .bind(ms(now))
    .bind(ms(now))
    .bind(calls)
    .bind(calls)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// in_flight → dead with the reason, while `holder` holds it. Applying it again (its answer
/// was lost with the connection) is harmless.
pub async fn finish_dead(
    pool: &AnyPool,
    id: i64,
    holder: Holder<'_>,
    error: &str,
    code: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let changed = sqlx::query(
        "UPDATE ocr_requests SET status = 'dead', error = ?, error_code = ?, finished_at = ?, updated_at = ?, \
         next_attempt_at = NULL, attempts = ? WHERE id = ? AND status IN ('in_flight', 'dead') AND instance = ?",
    )
    .bind(error)
    .bind(code)
    .bind(ms(now))
    .bind(ms(now))
    .bind(holder.calls)
    .bind(id)
    .bind(holder.instance)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// in_flight → pending again while `holder` holds it, to be called at `at` (a retry after a
/// transient failure, or a requeue), with the calls that count. Applying it again (its answer
/// was lost with the connection) is harmless.
pub async fn back_to_pending(
    pool: &AnyPool,
    id: i64,
    holder: Holder<'_>,
    at: Option<DateTime<Utc>>,
    error: Option<(&str, Option<i64>)>,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let (error, code) = error.map_or((None, None), |(e, c)| (Some(e.to_string()), c));
    let changed = sqlx::query(
        "UPDATE ocr_requests SET status = 'pending', next_attempt_at = ?, error = COALESCE(?, error), \
         error_code = COALESCE(?, error_code), updated_at = ?, attempts = ? \
         WHERE id = ? AND status IN ('in_flight', 'pending') AND instance = ?",
    )
    .bind(at.map(ms))
    .bind(error)
    .bind(code)
    .bind(ms(now))
    .bind(holder.calls)
    .bind(id)
    .bind(holder.instance)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// dead (or, with `cancelled`, cancelled too) → pending with a fresh count of attempts; returns
/// the ids that changed.
pub async fn revive(pool: &AnyPool, ids: &[i64], cancelled: bool, now: DateTime<Utc>) -> sqlx::Result<Vec<i64>> {
    let from = if cancelled { "('dead', 'cancelled')" } else { "('dead')" };
    let mut revived = Vec::new();
    // One conditional UPDATE each: the id list is staff-sized, and each learns its own answer.
    for &id in ids {
        let changed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE ocr_requests SET status = 'pending', attempts = 0, error = NULL, error_code = NULL, \
             finished_at = NULL, next_attempt_at = NULL, updated_at = ? WHERE id = ? AND status IN {from}"
        )))
        .bind(ms(now))
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
        if changed == 1 {
            revived.push(id);
        }
    }
    Ok(revived)
}

/// pending → cancelled (staff); returns the ids that changed. Only `pending`: one an instance
/// took meanwhile (in flight) is calling Baidu already and is left to finish, and a finished one
/// stays as it is. The dispatcher never calls for a cancelled request (`start_call` needs
/// pending or in flight), whatever Redis still holds for it.
pub async fn cancel(pool: &AnyPool, ids: &[i64], now: DateTime<Utc>) -> sqlx::Result<Vec<i64>> {
    let mut cancelled = Vec::new();
    for &id in ids {
        let changed = sqlx::query(
            "UPDATE ocr_requests SET status = 'cancelled', finished_at = ?, updated_at = ?, next_attempt_at = NULL \
             WHERE id = ? AND status = 'pending'",
        )
        .bind(ms(now))
        .bind(ms(now))
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
        if changed == 1 {
            cancelled.push(id);
        }
    }
    Ok(cancelled)
}

/// Deletes every dead request and then the attempts of those gone; returns how many requests.
/// A request revived between the two steps keeps its row and its history.
pub async fn purge_dead(pool: &AnyPool) -> sqlx::Result<u64> {
    let dead: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM ocr_requests WHERE status = 'dead'").fetch_all(pool).await?;
    let mut purged = 0;
    for chunk in dead.chunks(500) {
        let mut delete: QueryBuilder<Any> =
            QueryBuilder::new("DELETE FROM ocr_requests WHERE status = 'dead' AND id IN (");
        push_ids(&mut delete, chunk);
        purged += delete.build().execute(pool).await?.rows_affected();
        let mut attempts: QueryBuilder<Any> = QueryBuilder::new("DELETE FROM ocr_attempts WHERE request_id IN (");
        push_ids(&mut attempts, chunk);
        attempts.push(" AND request_id NOT IN (SELECT id FROM ocr_requests WHERE id IN (");
        push_ids(&mut attempts, chunk);
        attempts.push(")");
        attempts.build().execute(pool).await?;
    }
    Ok(purged)
}

/// `id, id, …)`.
fn push_ids(q: &mut QueryBuilder<Any>, ids: &[i64]) {
    {
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
    }
    q.push(")");
}

/// Requests still to do (pending or in flight) not touched since `before`: what reconcile
/// checks against Redis. (id, url, side, next_attempt_at).
pub async fn unfinished(
    pool: &AnyPool,
    before: DateTime<Utc>,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, String, Side, Option<DateTime<Utc>>)>> {
    let rows = sqlx::query(
        "SELECT id, url, side, next_attempt_at FROM ocr_requests WHERE status IN ('pending', 'in_flight') \
         AND updated_at < ? AND id > ? ORDER BY id LIMIT ?",
    )
    .bind(ms(before))
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let side: String = r.try_get("side")?;
            Ok((
                r.try_get("id")?,
                r.try_get("url")?,
                if side == "back" { Side::Back } else { Side::Front },
                r.try_get::<Option<i64>, _>("next_attempt_at")?.map(instant),
            ))
        })
        .collect()
}

/// Done requests finished after `since`, for putting lost results back into Redis.
pub async fn done_since(
    pool: &AnyPool,
    since: DateTime<Utc>,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<OcrRequest>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ocr_requests WHERE status = 'done' AND finished_at >= ? AND id > ? ORDER BY id LIMIT ?"
    )))
    .bind(ms(since))
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| from_row(r).map(|s| s.request)).collect()
}

/// The run-time controls (`ocr_controls`): the cap staff set, and the pause.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Controls {
    pub cap: Option<f64>,
    pub pause: Option<OcrPause>,
}

pub async fn controls(pool: &AnyPool) -> sqlx::Result<Controls> {
    let rows = sqlx::query("SELECT name, value FROM ocr_controls").fetch_all(pool).await?;
    let mut controls = Controls::default();
    for row in rows {
        let value: String = row.try_get("value")?;
        match row.try_get::<String, _>("name")?.as_str() {
            "cap" => controls.cap = value.parse().ok(),
            "pause" => controls.pause = serde_json::from_str(&value).ok(),
            _ => {}
        }
    }
    Ok(controls)
}

/// Sets the cap (`Some`) or goes back to the configured one (`None`).
pub async fn set_cap(db: &Database, cap: Option<f64>, now: DateTime<Utc>) -> sqlx::Result<()> {
    put_control(db, "cap", cap.map(|c| c.to_string()), now).await
}

/// Records the pause (`Some`) or its end (`None`).
pub async fn set_pause(db: &Database, pause: Option<&OcrPause>, now: DateTime<Utc>) -> sqlx::Result<()> {
    let value = pause.map(|p| serde_json::to_string(p).expect("a pause serialises"));
    put_control(db, "pause", value, now).await
}

async fn put_control(db: &Database, name: &str, value: Option<String>, now: DateTime<Utc>) -> sqlx::Result<()> {
    let Some(value) = value else {
        sqlx::query("DELETE FROM ocr_controls WHERE name = ?").bind(name).execute(db.pool()).await?;
        return Ok(());
    };
    let upsert = match db.backend() {
        DatabaseBackend::Sqlite => {
            "INSERT INTO ocr_controls (name, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
        }
        DatabaseBackend::Mysql => {
            "INSERT INTO ocr_controls (name, value, updated_at) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)"
        }
    };
    sqlx::query(upsert).bind(name).bind(value).bind(ms(now)).execute(db.pool()).await?;
    Ok(())
}
