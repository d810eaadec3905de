//! Staff sessions in SQL: a random bearer token given to the front end at sign-in, its SHA-256
//! kept here (a stolen database opens no console), with an idle and an absolute limit, and
//! revocable. Resolving one touches `last_seen_at` at most once a minute, so reads stay reads.

use chrono::{DateTime, Duration, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::model::ProviderKey;
use super::random_token;
use crate::db::{instant, ms};

/// How long a session lives: configured (`session_idle_minutes`, `session_max_age_hours`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A session ends after this long without use.
    pub idle: Duration,
    /// And after this long in any case.
    pub max_age: Duration,
}

impl Limits {
    pub fn of(config: &crate::Config) -> Limits {
        let chrono = |d: std::time::Duration| Duration::from_std(d).unwrap_or(Duration::MAX);
        Limits { idle: chrono(config.session_idle), max_age: chrono(config.session_max_age) }
    }
}
/// `last_seen_at` is written again once it is older than this.
const TOUCH_AFTER: Duration = Duration::seconds(60);

/// A live session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub provider: ProviderKey,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl SessionRow {
    /// When it ends unless used or revoked first.
    pub fn ends_at(&self, limits: Limits) -> DateTime<Utc> {
        self.expires_at.min(self.last_seen_at + limits.idle)
    }
}

/// The SHA-256 of a token, hex: what is stored and looked up.
pub fn token_hash(token: &str) -> String {
    openssl::sha::sha256(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens a session for `user_id`; the token (returned once, never stored) and its row id.
pub async fn create(
    conn: &mut AnyConnection,
    user_id: i64,
    provider: ProviderKey,
    now: DateTime<Utc>,
    limits: Limits,
) -> sqlx::Result<String> {
    let token = random_token();
    sqlx::query(
        "INSERT INTO staff_sessions (token_hash, user_id, provider, created_at, last_seen_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(provider.as_str())
    .bind(ms(now))
    .bind(ms(now))
    .bind(ms(now + limits.max_age))
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

const COLUMNS: &str = "id, user_id, provider, created_at, last_seen_at, expires_at";

fn row_of(row: &AnyRow) -> sqlx::Result<SessionRow> {
    let provider: String = row.try_get("provider")?;
    Ok(SessionRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        provider: provider.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))?,
        created_at: instant(row.try_get("created_at")?),
        last_seen_at: instant(row.try_get("last_seen_at")?),
        expires_at: instant(row.try_get("expires_at")?),
    })
}

/// The live session a token opens (not revoked, within both limits), its use recorded when
/// `used` (a person's call; not a live stream's periodic check, which must not keep an
/// unattended console's session from idling out).
pub async fn resolve(
    pool: &AnyPool,
    token: &str,
    now: DateTime<Utc>,
    limits: Limits,
    used: bool,
) -> sqlx::Result<Option<SessionRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM staff_sessions
         WHERE token_hash = ? AND revoked_at IS NULL AND expires_at > ? AND last_seen_at > ?"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(token_hash(token))
        .bind(ms(now))
        .bind(ms(now - limits.idle))
        .fetch_optional(pool)
        .await?;
    let Some(mut session) = row.as_ref().map(row_of).transpose()? else {
        return Ok(None);
    };
    if used && now - session.last_seen_at >= TOUCH_AFTER {
        sqlx::query("UPDATE staff_sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?")
            .bind(ms(now))
            .bind(session.id)
            .bind(ms(now))
            .execute(pool)
            .await?;
        session.last_seen_at = now;
    }
    Ok(Some(session))
}

/// Every live session, newest first.
pub async fn live(pool: &AnyPool, now: DateTime<Utc>, limits: Limits) -> sqlx::Result<Vec<SessionRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM staff_sessions
         WHERE revoked_at IS NULL AND expires_at > ? AND last_seen_at > ? ORDER BY id DESC"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ms(now)).bind(ms(now - limits.idle)).fetch_all(pool).await?;
    rows.iter().map(row_of).collect()
}

/// Ends one session; true when it was live.
pub async fn revoke(conn: &mut AnyConnection, id: i64, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE staff_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
        .bind(ms(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends every session of a user; how many were live.
pub async fn revoke_user(conn: &mut AnyConnection, user_id: i64, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let done = sqlx::query("UPDATE staff_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
        .bind(ms(now))
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}
