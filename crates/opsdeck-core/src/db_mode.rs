//! The database's mode mark: a database written in sandbox mode (the built-in fakes, whose keys
//! are published in this repository, and the simulated shop) is marked `sandbox`; one written by
//! real providers is marked `live`. The first instance that starts on a database marks it (table
//! `database_mode`, one row); an instance of the other kind refuses to start on it, so fake
//! payments and sign-ins never mix with real ones.
//!
//! The check runs at start-up once the schema is current ([`Core::start`](crate::Core::start)
//! refuses); when the database was down at start-up, the health monitor runs it as soon as the
//! database answers and, on a mismatch, reports the database as refused and stops the core's
//! background work.

use std::sync::Mutex;

use serde::Serialize;
use sqlx::Row;

use crate::config::Config;
use crate::db::{Database, is_unique_violation};

/// What a database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseMode {
    /// Sandbox mode proper: every provider a built-in fake.
    Sandbox,
    /// Real providers (or none): not sandbox mode.
    Live,
}

impl DatabaseMode {
    /// The mode an instance with this configuration runs in.
    pub fn of(config: &Config) -> DatabaseMode {
        if config.sandbox_mode { DatabaseMode::Sandbox } else { DatabaseMode::Live }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseMode::Sandbox => "sandbox",
            DatabaseMode::Live => "live",
        }
    }

    fn parse(text: &str) -> Option<DatabaseMode> {
        match text {
            "sandbox" => Some(DatabaseMode::Sandbox),
            "live" => Some(DatabaseMode::Live),
            _ => None,
        }
    }
}

/// Why the mark was not checked, or refuses this instance.
#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    /// The database is marked for the other mode: this instance must not use it.
    #[error("{}", mismatch_message(*.found, *.wanted, .marked_by))]
    Mismatch { found: DatabaseMode, wanted: DatabaseMode, marked_by: String },
    /// The database did not answer (checked again later).
    #[error("cannot read the database's mode mark: {0}")]
    Database(#[from] sqlx::Error),
}

fn mismatch_message(found: DatabaseMode, wanted: DatabaseMode, marked_by: &str) -> String {
    match (found, wanted) {
        (DatabaseMode::Sandbox, _) => format!(
            "this database was used in sandbox mode (marked by {marked_by}): its orders, payments and sign-ins \
             came from the built-in fakes, so an instance with real providers refuses to start on it. Point \
             database_url (or data_dir) at another database, or start in sandbox mode (--sandbox)"
        ),
        (DatabaseMode::Live, _) => format!(
            "this database is a live one (marked by {marked_by}): sandbox mode (the built-in fakes, the simulated \
             shop) refuses to write to it. Start sandbox mode on another database (database_url, or \
             OPSDECK_DATA_DIR for the embedded one), or configure the providers"
        ),
    }
}

impl ModeError {
    pub fn is_mismatch(&self) -> bool {
        matches!(self, ModeError::Mismatch { .. })
    }
}

/// Reads the mark, or sets it to `wanted` when there is none; refuses a mark of the other
/// mode. `marked_by` names this instance; `now_ms` is the time written with a new mark.
pub async fn check_or_mark(db: &Database, wanted: DatabaseMode, marked_by: &str, now_ms: i64) -> Result<(), ModeError> {
    let pool = db.pool();
    let read = || async {
        let row = sqlx::query("SELECT mode, marked_by FROM database_mode WHERE id = 1").fetch_optional(pool).await?;
        row.map(|row| Ok::<_, sqlx::Error>((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?))).transpose()
    };
    let mark = match read().await? {
        Some(mark) => mark,
        None => {
            let insert = sqlx::query("INSERT INTO database_mode (id, mode, marked_at, marked_by) VALUES (1, ?, ?, ?)")
                .bind(wanted.as_str())
                .bind(now_ms)
                .bind(marked_by)
                .execute(pool)
                .await;
            match insert {
                Ok(_) => {
                    tracing::info!(mode = wanted.as_str(), "database marked for this mode");
                    return Ok(());
                }
                // Another instance marked it first: its mark decides.
                Err(e) if is_unique_violation(&e) => read().await?.ok_or(ModeError::Database(e))?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    let (mode, by) = mark;
    match DatabaseMode::parse(&mode) {
        Some(found) if found == wanted => Ok(()),
        // The CHECK constraint admits no other value; an unknown one is treated as live.
        found => Err(ModeError::Mismatch { found: found.unwrap_or(DatabaseMode::Live), wanted, marked_by: by }),
    }
}

/// The mark's check as the core runs it: once, at start-up or as soon as the database answers.
pub(crate) struct ModeGuard {
    wanted: DatabaseMode,
    instance: String,
    state: Mutex<GuardState>,
}

#[derive(Clone)]
enum GuardState {
    Unchecked,
    Checked,
    Refused(String),
}

impl ModeGuard {
    pub fn new(wanted: DatabaseMode, instance: &str) -> ModeGuard {
        ModeGuard { wanted, instance: instance.to_string(), state: Mutex::new(GuardState::Unchecked) }
    }

    /// Checks the mark unless that was done: `Ok` once it matches; a refusal is kept (and
    /// returned again on every later call).
    pub async fn ensure(&self, db: &Database) -> Result<(), String> {
        match self.state.lock().expect("not poisoned").clone() {
            GuardState::Checked => return Ok(()),
            GuardState::Refused(why) => return Err(why),
            GuardState::Unchecked => {}
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        match check_or_mark(db, self.wanted, &self.instance, now_ms).await {
            Ok(()) => {
                *self.state.lock().expect("not poisoned") = GuardState::Checked;
                Ok(())
            }
            Err(e) if e.is_mismatch() => {
                let why = e.to_string();
                *self.state.lock().expect("not poisoned") = GuardState::Refused(why.clone());
                Err(why)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Whether the mark was checked and matches.
    pub fn checked(&self) -> bool {
        matches!(&*self.state.lock().expect("not poisoned"), GuardState::Checked)
    }

    /// The refusal, once the mark was found to be the other mode's.
    pub fn refused(&self) -> Option<String> {
        match &*self.state.lock().expect("not poisoned") {
            GuardState::Refused(why) => Some(why.clone()),
            _ => None,
        }
    }
}
