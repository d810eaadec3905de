//! The OpsDeck core: everything the console and the daemon do. Front ends reach it through
//! [`opsdeck_api::Ops`], which [`Core`] implements (every console operation, each checked
//! against the caller's session here), plus a small start-up surface: [`Core::start`] from a
//! [`Config`], [`Core::subscribe`] to the events, [`Core::shutdown`]; and, for the daemon, the
//! machine intake (the shop's OCR submissions and orders, Alipay's notify, the shop's sign-in)
//! and the operator's command line (granting the first admin; a staff member's token, the staff
//! list, ending a member's sessions).
//!
//! The domain modules are private to the crate. The feature `internals` opens them for the
//! core's own integration tests and the benchmarks only (a conventions test fails when the
//! desktop shell or the daemon enables it):
//! - `config`: layered configuration (defaults → TOML file → `OPSDECK_…` env), validated once.
//! - `db`: the SQL pool over SQLite or MySQL/MariaDB and the per-backend migrations.
//! - `db_mode`: the database's sandbox/live mark; an instance of the other mode refuses it.
//! - `redis_conn`: the reconnecting Redis connection and key prefixing.
//! - `ratelimit`: a global GCRA rate limit in Redis (Redis `TIME` as the clock).
//! - `events`: the event stream front ends subscribe to.
//! - `health`: probes of the database and Redis, published live.
//! - `accounts`: users, linked third-party sign-ins (five providers), staff roles and sessions.
//! - `audit`: the audit log of manual actions.
//! - `ocr`: the OCR queue (Baidu's ID-card OCR under a global cap).
//! - `orders`: order expiry against Alipay.
//! - `scheduler`: interval/date/cron jobs, fired once across instances, with history.
//! - `overview`: the Overview page's figures.
//! - `facade`: [`Core`] and its implementation of `Ops`.
//! - `error`: [`ApiError`], turned into the API's `ErrorBody` at the door.

/// Declares the domain modules: crate-private, or public with the `internals` feature.
macro_rules! domain_modules {
    ($($name:ident),* $(,)?) => {
        $(
            #[cfg(feature = "internals")]
            pub mod $name;
            #[cfg(not(feature = "internals"))]
            pub(crate) mod $name;
        )*
    };
}

domain_modules!(
    accounts, audit, config, db, db_mode, error, events, facade, health, ocr, orders, overview, ratelimit, redis_conn,
    scheduler,
);

pub use accounts::bootstrap::{
    GrantTarget, Granted, IssuedToken, RevokedSessions, StaffMember, grant_admin, staff_list, staff_revoke, staff_token,
};
pub use accounts::{Callback, random_token};
pub use config::{Config, ConfigError, ConfigSource};
// What the sandbox's start-up (the `opsdeck-sandbox` crate) reads and sets: the providers'
// status, the fake sign-ins' client registrations, the simulated shop's settings.
pub use config::{OAuthClient, ProviderState, ProviderStatus, ShopSettings, TlsFiles};
pub use error::ApiError;
pub use events::EventReceiver;
pub use facade::{Core, Metrics, OcrReconcileReport, OrdersReconcileReport};
pub use orders::idempotency::Keyed;
pub use scheduler::trigger::preview as schedule_preview;

#[cfg(feature = "internals")]
pub use accounts::{Actor, Role};
