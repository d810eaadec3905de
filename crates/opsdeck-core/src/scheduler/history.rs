//! The history writer: final run rows are written in batches, one statement for every run that
//! ended together with another (the 20 jobs of one second, say), instead of
//! one statement each. A batch that hits a duplicate key falls back to row-by-row inserts, so
//! each run still learns whether it was recorded.

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
    /// Starts the writer task; it ends when every `HistoryWriter` clone is dropped and the
    /// rows already sent are written. After each batch is written it settles the batch's claims
    /// and running slots in Redis (one round trip).
    pub fn start(db: Database, claims: Claims, instance: String) -> (HistoryWriter, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (HistoryWriter { tx }, tokio::spawn(write_loop(db, claims, instance, rx)))
    }

    /// Records a final row, then settles its claim; answers once both are done.
    pub async fn record(&self, row: FinalRow, settle: Settle) -> Recorded {
        let (done, answer) = oneshot::channel();
        if self.tx.send(Pending { row, settle, done }).is_err() {
            return Err(sqlx::Error::PoolClosed);
        }
        answer.await.unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

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

async fn write_loop(db: Database, claims: Claims, instance: String, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut conn = WriterConn { db, held: None };
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        gather(&mut rx, &mut batch).await;
        let rows: Vec<FinalRow> = batch.iter().map(|p| p.row.clone()).collect();
        let outcome = conn.insert(&rows).await;
        // Settled whatever the database said: a run that happened must not run again.
        let settles: Vec<Settle> = batch.iter().map(|p| p.settle.clone()).collect();
        if let Err(e) = claims.finish_many(&settles, &instance).await {
            tracing::warn!(error = %e, runs = settles.len(), "cannot settle claims (their leases will lapse)");
        }
        match outcome {
            Ok(ids) => {
                for (pending, id) in batch.into_iter().zip(ids) {
                    let _ = pending.done.send(Ok(id));
                }
            }
            Err(e) if is_unique_violation(&e) || rows.len() > 1 => {
                // Somebody recorded one of these already (or the batch failed as a whole):
                // row by row, each run learns its own answer.
                for pending in batch {
                    let one = conn.insert(std::slice::from_ref(&pending.row)).await;
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
                for pending in batch {
                    let _ = pending.done.send(Err(sqlx::Error::Protocol(message.clone())));
                }
            }
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
         outcome, instance, manual, attempts, summary, error) ",
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
