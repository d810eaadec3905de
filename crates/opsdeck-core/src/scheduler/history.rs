//! The history writer: final run rows are written in batches, one statement for every run that
//! ended together with another (the 20 jobs of one second, say), instead of
//! one statement each. A batch that hits a duplicate key falls back to row-by-row inserts, so
//! each run still learns whether it was recorded. The runs' claims are settled in Redis before
//! their rows are written, by a task of their own, so that a slow database never lets a
//! finished run's claim lapse; a write that fails for a transient reason is tried again.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Connection, QueryBuilder, Row};
use tokio::sync::{mpsc, oneshot};

use super::claims::{Claims, Settle};
use super::store::{self, NewRun, RunEnd, is_unique_violation};
use crate::config::DatabaseBackend;
use crate::db::Database;

const MAX_BATCH: usize = 200;

/// A final row, owned, on its way to the writer.
#[derive(Debug, Clone)]
pub struct FinalRow {
    pub run_key: String,
    pub job_id: i64,
    pub job_name: String,
    pub scheduled_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: i64,
    pub outcome: &'static str,
    pub instance: String,
    pub manual: bool,
    pub started_by: Option<String>,
    pub summary: Option<String>,
    pub error: Option<String>,
}

impl FinalRow {
    pub fn new(run: &NewRun<'_>, end: &RunEnd<'_>) -> FinalRow {
        FinalRow {
            run_key: run.run_key.to_string(),
            job_id: run.job_id,
            job_name: run.job_name.to_string(),
            scheduled_at: run.scheduled_at.timestamp_millis(),
            started_at: end.started.map(|s| s.timestamp_millis()),
            finished_at: end.finished.timestamp_millis(),
            outcome: end.outcome.as_str(),
            instance: run.instance.to_string(),
            manual: run.manual,
            started_by: run.started_by.map(str::to_string),
            summary: end.summary.map(|s| s.to_string()),
            error: end.error.map(str::to_string),
        }
    }
}

/// The new row's id, or None when the key was recorded already (by another instance).
pub type Recorded = sqlx::Result<Option<i64>>;

struct Pending {
    row: FinalRow,
    settle: Settle,
    done: oneshot::Sender<Recorded>,
}

/// The sending side, held by the scheduler.
#[derive(Clone)]
pub struct HistoryWriter {
    tx: mpsc::UnboundedSender<Pending>,
}

impl HistoryWriter {
    /// Starts the writer: one task settles each batch's claims and running slots in Redis (one
    /// round trip) as soon as the runs end, and hands the rows to a second task that writes them
    /// to the database. The claims are settled first and apart from the database: a slow or
    /// unavailable database must not let a finished run's claim lapse (another instance would
    /// run the instant again). Ends when every `HistoryWriter` clone is dropped and the rows
    /// already sent are written (or, with the database down, given up after [`GIVE_UP_AT_STOP`]).
    pub fn start(db: Database, claims: Claims, instance: String) -> (HistoryWriter, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (rows_tx, rows_rx) = mpsc::unbounded_channel();
        tokio::spawn(settle_loop(claims, instance, rx, rows_tx));
        (HistoryWriter { tx }, tokio::spawn(write_loop(db, rows_rx)))
    }

    /// Records a final row (its claim is settled before the row is written); answers once the
    /// row is written.
    pub async fn record(&self, row: FinalRow, settle: Settle) -> Recorded {
        let (done, answer) = oneshot::channel();
        if self.tx.send(Pending { row, settle, done }).is_err() {
            return Err(sqlx::Error::PoolClosed);
        }
        answer.await.unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

/// How long a row is retried after the scheduler stopped, with the database failing.
pub const GIVE_UP_AT_STOP: Duration = Duration::from_secs(10);
/// The first pause between attempts at a failed write; it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Adds to `batch` the rows that arrive while the runs that ended together are still being
/// driven: the writer steps aside (`yield_now`) and takes what came meanwhile, until a step brings
/// nothing. No timer: the runs of one instant end within the same few polls, and a timer here
/// would cost a wake-up of its own every second.
async fn gather(rx: &mut mpsc::UnboundedReceiver<Pending>, batch: &mut Vec<Pending>) {
    loop {
        let before = batch.len();
        tokio::task::yield_now().await;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        if batch.len() == before || batch.len() >= MAX_BATCH {
            return;
        }
    }
}

/// The writer's own connection, kept from one batch to the next. The same connection each time
/// keeps its SQLite page cache warm (pooled connections taken in turn each find their cache stale
/// after the others' writes and read the pages again), and a batch costs no acquire and release.
/// A connection that failed is let go; the next insert (the caller's row-by-row fallback, say)
/// takes a fresh one.
struct WriterConn {
    db: Database,
    held: Option<PoolConnection<Any>>,
}

impl WriterConn {
    async fn insert(&mut self, rows: &[FinalRow]) -> sqlx::Result<Vec<Option<i64>>> {
        let conn = match &mut self.held {
            Some(conn) => conn,
            None => self.held.insert(self.db.pool().acquire().await?),
        };
        let result = insert_batch(self.db.backend(), conn, rows).await;
        if matches!(&result, Err(e) if !is_unique_violation(e)) {
            self.held = None;
        }
        result
    }
}

/// Settles the claims and slots of the runs that ended together, then passes their rows on.
async fn settle_loop(
    claims: Claims,
    instance: String,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    rows: mpsc::UnboundedSender<Vec<Pending>>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        gather(&mut rx, &mut batch).await;
        // Settled whatever the database will say: a run that happened must not run again.
        let settles: Vec<Settle> = batch.iter().map(|p| p.settle.clone()).collect();
        if let Err(e) = claims.finish_many(&settles, &instance).await {
            // The leases lapse; an instance that takes one over finds the run's row first.
            tracing::warn!(error = %e, runs = settles.len(), "cannot settle claims (their leases will lapse)");
        }
        if rows.send(batch).is_err() {
            return;
        }
    }
}

/// Whether a failed write may succeed when tried again (the connection, the pool, a deadlock),
/// as opposed to the database refusing the row itself.
fn transient(error: &sqlx::Error) -> bool {
    error.as_database_error().is_none() || crate::db::is_retryable(error)
}

async fn write_loop(db: Database, mut rx: mpsc::UnboundedReceiver<Vec<Pending>>) {
    let mut conn = WriterConn { db, held: None };
    while let Some(mut batch) = rx.recv().await {
        // Batches that queued up behind a slow write go out together.
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        let rows: Vec<FinalRow> = batch.iter().map(|p| p.row.clone()).collect();
        match insert_retrying(&mut conn, &rows, &rx).await {
            Ok(ids) => {
                for (pending, id) in batch.into_iter().zip(ids) {
                    let _ = pending.done.send(Ok(id));
                }
            }
            Err(e) if !transient(&e) && (is_unique_violation(&e) || rows.len() > 1) => {
                // Somebody recorded one of these already (or the database refused one row of
                // the batch): row by row, each run learns its own answer.
                for pending in batch {
                    let one = insert_retrying(&mut conn, std::slice::from_ref(&pending.row), &rx).await;
                    let answer = match one {
                        Ok(mut ids) => Ok(ids.pop().flatten()),
                        Err(e) if is_unique_violation(&e) => Ok(None),
                        Err(e) => Err(e),
                    };
                    let _ = pending.done.send(answer);
                }
            }
            Err(e) => {
                let message = e.to_string();
                tracing::error!(error = %message, runs = batch.len(), "cannot record runs");
                for pending in batch {
                    let _ = pending.done.send(Err(sqlx::Error::Protocol(message.clone())));
                }
            }
        }
    }
}

/// Inserts `rows`, trying again after a transient failure (a run that happened keeps its row
/// through a database outage) until it goes through; after the scheduler stopped (`rx` closed),
/// for at most [`GIVE_UP_AT_STOP`].
async fn insert_retrying(
    conn: &mut WriterConn,
    rows: &[FinalRow],
    rx: &mpsc::UnboundedReceiver<Vec<Pending>>,
) -> sqlx::Result<Vec<Option<i64>>> {
    let mut pause = RETRY_FIRST;
    let mut stopped_at: Option<tokio::time::Instant> = None;
    loop {
        match conn.insert(rows).await {
            Err(e) if transient(&e) => {
                if rx.is_closed() {
                    let since = *stopped_at.get_or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() >= GIVE_UP_AT_STOP {
                        return Err(e);
                    }
                }
                tracing::warn!(error = %e, runs = rows.len(), "cannot record runs yet; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RETRY_MAX);
            }
            result => return result,
        }
    }
}

/// One multi-row `INSERT`; the ids come back in the rows' order.
async fn insert_batch(
    backend: DatabaseBackend,
    conn: &mut AnyConnection,
    rows: &[FinalRow],
) -> sqlx::Result<Vec<Option<i64>>> {
    let mut insert: QueryBuilder<Any> = QueryBuilder::new(
        "INSERT INTO job_runs (run_key, job_id, job_name, scheduled_at, started_at, finished_at, duration_ms, \
         outcome, instance, manual, started_by, attempts, summary, error) ",
    );
    insert.push_values(rows, |mut b, row| {
        b.push_bind(row.run_key.clone())
            .push_bind(row.job_id)
            .push_bind(row.job_name.clone())
            .push_bind(row.scheduled_at)
            .push_bind(row.started_at)
            .push_bind(row.finished_at)
            .push_bind(row.started_at.map(|s| row.finished_at - s))
            .push_bind(row.outcome)
            .push_bind(row.instance.clone())
            .push_bind(i64::from(row.manual))
            .push_bind(row.started_by.clone())
            .push_bind(i64::from(row.started_at.is_some()))
            .push_bind(row.summary.clone())
            .push_bind(row.error.clone());
    });
    let returned = match backend {
        DatabaseBackend::Sqlite => {
            // One statement is atomic on its own: no BEGIN/COMMIT round trips to the worker.
            insert.push(" RETURNING id, run_key");
            insert.build().fetch_all(&mut *conn).await?
        }
        DatabaseBackend::Mysql => {
            // No RETURNING in MySQL: read the ids back by key, in the same transaction.
            let mut tx = conn.begin().await?;
            insert.build().execute(&mut *tx).await?;
            let mut select: QueryBuilder<Any> =
                QueryBuilder::new("SELECT id, run_key FROM job_runs WHERE run_key IN (");
            let mut keys = select.separated(", ");
            for row in rows {
                keys.push_bind(row.run_key.clone());
            }
            select.push(")");
            let rows = select.build().fetch_all(&mut *tx).await?;
            tx.commit().await?;
            rows
        }
    };
    let pairs = returned
        .iter()
        .map(|r| Ok((r.try_get::<String, _>("run_key")?, r.try_get::<i64, _>("id")?)))
        .collect::<sqlx::Result<Vec<_>>>()?;
    let ids: std::collections::HashMap<String, i64> = pairs.into_iter().collect();
    Ok(rows.iter().map(|row| ids.get(&row.run_key).copied()).collect())
}

/// Writes one final row directly (when no writer runs).
pub async fn record_now(db: &Database, run: &NewRun<'_>, end: &RunEnd<'_>) -> Recorded {
    store::record_final(db, run, end).await
}
