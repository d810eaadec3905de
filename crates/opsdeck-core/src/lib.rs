//! The OpsDeck core: everything the console and the daemon do, behind one facade.
//!
//! Layout:
//! - [`config`]: layered configuration (defaults → TOML file → `OPSDECK_…` env), validated once.
//! - [`db`]: the SQL pool over SQLite or MySQL/MariaDB and the per-backend migrations.
//! - [`db_mode`]: the database's sandbox/live mark; an instance of the other mode refuses it.
//! - [`redis_conn`]: the reconnecting Redis connection and key prefixing.
//! - [`ratelimit`]: a global GCRA rate limit in Redis (Redis `TIME` as the clock).
//! - [`events`]: the event stream front ends subscribe to.
//! - [`health`]: probes of the database and Redis, published live.
//! - [`accounts`]: users, linked third-party sign-ins (five providers), staff roles, actors.
//! - [`audit`]: the audit log of manual actions.
//! - [`ocr`]: the OCR queue's parts (so far the Baidu ID-card client).
//! - [`orders`]: order expiry (Alipay client so far).
//! - [`scheduler`]: interval/date/cron jobs, fired once across instances, with history.
//! - [`facade`]: [`Core`], the one API the desktop shell, the daemon and the tests use.
//! - [`error`]: [`ApiError`] and the `{code, message}` body front ends receive.

pub mod accounts;
pub mod audit;
pub mod config;
pub mod db;
pub mod db_mode;
pub mod error;
pub mod events;
pub mod facade;
pub mod health;
pub mod ocr;
pub mod orders;
pub mod overview;
pub mod ratelimit;
pub mod redis_conn;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod scheduler;

pub use accounts::{Actor, Role};
pub use config::{Config, ConfigError, ConfigSource};
pub use error::{ApiError, ErrorBody};
pub use events::Event;
pub use facade::{AppInfo, Core};
pub use health::{ComponentHealth, ComponentStatus, HealthReport};
