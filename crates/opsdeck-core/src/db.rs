//! The SQL database: one `sqlx::AnyPool` over SQLite (embedded default) or MySQL/MariaDB, picked
//! by the URL scheme, and the forward-only migrations of each backend.
//!
//! Queries are written once in the dialect both backends share (`?` placeholders, integer
//! timestamps in Unix milliseconds, integer money in fen); where the dialects differ (DDL) each
//! backend has its own migration folder.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::{Any, AnyPool, AssertSqlSafe, Executor, Row};
use tokio::sync::Mutex;

use crate::config::{Config, DatabaseBackend};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static MYSQL_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/mysql");

/// The SQL database, the source of truth for everything OpsDeck keeps. Cheap to clone: every
/// clone shares the pool.
#[derive(Clone)]
pub struct Database {
    pool: AnyPool,
    backend: DatabaseBackend,
    migrated: Arc<AtomicBool>,
    migrating: Arc<Mutex<()>>,
}

impl Database {
    /// Prepares the pool without connecting: a database that is down at start-up shows up in the
    /// health report (and is retried) instead of stopping the console.
    pub fn open(config: &Config) -> anyhow::Result<Database> {
        install_default_drivers();
        let backend = config.database_backend();
        let url = sqlx_url(config.database_url.expose(), backend);
        if backend == DatabaseBackend::Sqlite {
            std::fs::create_dir_all(&config.data_dir)?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                DatabaseBackend::Sqlite => 4,
                DatabaseBackend::Mysql => 10,
            })
            .acquire_timeout(config.health_timeout)
            // An embedded SQLite connection cannot drop like a network one; pinging it before
            // each use would only add a round trip to its worker thread.
            .test_before_acquire(backend == DatabaseBackend::Mysql)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == DatabaseBackend::Sqlite {
                        // WAL lets readers run beside the one writer; the busy timeout makes a
                        // writer wait for the lock instead of failing at once.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        // In WAL mode NORMAL never corrupts the database; a power cut may lose
                        // the last commits, not consistency. FULL would fsync every commit.
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_lazy(&url)?;
        Ok(Database { pool, backend, migrated: Arc::new(AtomicBool::new(false)), migrating: Arc::new(Mutex::new(())) })
    }

    /// Opens (creating it if the URL allows) the embedded SQLite database once, with the
    /// reason in words when it cannot be.
    pub async fn open_embedded(&self) -> Result<(), String> {
        match self.pool.acquire().await {
            Ok(_) => Ok(()),
            Err(e) => Err(format!(
                "cannot open or create the SQLite database ({}); check that its directory exists and is \
                 writable, or point `database_url` elsewhere",
                crate::health::describe_error(&e)
            )),
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.backend
    }

    /// Applies the pending migrations once; later calls return at once. Safe to call from
    /// several instances at the same time (sqlx takes a database lock while migrating).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        if self.migrated.load(Ordering::Acquire) {
            return Ok(());
        }
        let _guard = self.migrating.lock().await;
        if self.migrated.load(Ordering::Acquire) {
            return Ok(());
        }
        let migrator = match self.backend {
            DatabaseBackend::Sqlite => &SQLITE_MIGRATIONS,
            DatabaseBackend::Mysql => &MYSQL_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }

    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }

    /// Runs an `INSERT` and returns the new row's `id`, on either backend (SQLite reports it
    /// through `RETURNING`; MySQL, which lacks `RETURNING`, through the last insert id).
    pub async fn insert_returning_id<'a>(
        &self,
        insert: &'static str,
        bind: impl FnOnce(Query<'a, Any, AnyArguments>) -> Query<'a, Any, AnyArguments>,
    ) -> sqlx::Result<i64> {
        match self.backend {
            DatabaseBackend::Sqlite => {
                // The statement is a literal of ours plus a literal suffix: nothing dynamic.
                let query = sqlx::query(AssertSqlSafe(format!("{insert} RETURNING id")));
                bind(query).fetch_one(&self.pool).await?.try_get(0)
            }
            DatabaseBackend::Mysql => {
                let done = bind(sqlx::query(insert)).execute(&self.pool).await?;
                done.last_insert_id().ok_or_else(|| sqlx::Error::Protocol("MySQL reported no insert id".into()))
            }
        }
    }

    /// Like [`Database::insert_returning_id`], inside a transaction (or on any one connection).
    pub async fn insert_returning_id_on<'a>(
        &self,
        conn: &mut sqlx::AnyConnection,
        insert: &'static str,
        bind: impl FnOnce(Query<'a, Any, AnyArguments>) -> Query<'a, Any, AnyArguments>,
    ) -> sqlx::Result<i64> {
        match self.backend {
            DatabaseBackend::Sqlite => {
                let query = sqlx::query(AssertSqlSafe(format!("{insert} RETURNING id")));
                bind(query).fetch_one(&mut *conn).await?.try_get(0)
            }
            DatabaseBackend::Mysql => {
                let done = bind(sqlx::query(insert)).execute(&mut *conn).await?;
                done.last_insert_id().ok_or_else(|| sqlx::Error::Protocol("MySQL reported no insert id".into()))
            }
        }
    }

    /// One round trip, bounded by `timeout`.
    pub async fn ping(&self, timeout: Duration) -> anyhow::Result<()> {
        tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(&self.pool))
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {} ms", timeout.as_millis()))??;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// sqlx knows MariaDB as `mysql:`; OpsDeck accepts both spellings.
fn sqlx_url(url: &str, backend: DatabaseBackend) -> String {
    match (backend, url.strip_prefix("mariadb:")) {
        (DatabaseBackend::Mysql, Some(rest)) => format!("mysql:{rest}"),
        _ => url.to_string(),
    }
}

/// An instant as stored: Unix milliseconds (`BIGINT` on both backends).
pub(crate) fn ms(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_millis()
}

/// A stored instant back (out-of-range values read as the epoch).
pub(crate) fn instant(ms: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Escapes LIKE's wildcards in a search term, for a pattern used with `ESCAPE '!'` (an escape
/// character that SQLite and MySQL read the same way inside a string literal).
pub(crate) fn like_escaped(search: &str) -> String {
    search.replace('!', "!!").replace('%', "!%").replace('_', "!_")
}

/// True when the error is a unique-key violation (another writer inserted the same key first).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    error.as_database_error().is_some_and(|e| e.is_unique_violation())
}

/// True for an error that says "run the transaction again" (a deadlock or a serialization
/// failure: MySQL 1213 / SQLSTATE 40001, SQLite busy).
pub fn is_retryable(error: &sqlx::Error) -> bool {
    error.as_database_error().is_some_and(|e| {
        matches!(e.code().as_deref(), Some("40001") | Some("1213") | Some("5") | Some("517"))
            || e.message().contains("Deadlock found")
            || e.message().contains("database is locked")
    })
}

/// Runs a transaction again (up to 5 times, after a short random pause) when the database asks
/// for it; any other outcome is returned as it is.
pub async fn retrying<T, Fut>(mut attempt: impl FnMut() -> Fut) -> sqlx::Result<T>
where
    Fut: std::future::Future<Output = sqlx::Result<T>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(e) if tries < 5 && is_retryable(&e) => {
                tokio::time::sleep(std::time::Duration::from_millis(fastrand::u64(1..=20) * tries)).await;
            }
            other => return other,
        }
    }
}

/// A write transaction. On SQLite it begins `IMMEDIATE` (the write lock first): a deferred
/// transaction that reads and then writes fails at once with SQLITE_BUSY when another writer
/// came between.
pub async fn begin_write(db: &Database) -> sqlx::Result<sqlx::Transaction<'static, Any>> {
    match db.backend() {
        DatabaseBackend::Sqlite => db.pool().begin_with("BEGIN IMMEDIATE").await,
        DatabaseBackend::Mysql => db.pool().begin().await,
    }
}
