//! [`Core`]: the one API every front end uses — the desktop shell's commands, the daemon, and the
//! tests. It owns the configuration, the SQL database, the Redis connection, the event stream and
//! the background tasks, and stops them all on [`Core::shutdown`].

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::accounts::providers::Providers;
use crate::accounts::{AccountsShared, Actor};
use crate::audit::{self, AuditPage, AuditQuery, NewAuditEntry};
use crate::config::{Config, DatabaseBackend};
use crate::db::Database;
use crate::db_mode::{DatabaseMode, ModeGuard};
use crate::error::{ApiError, ErrorCode};
use crate::events::{Event, EventBus, EventReceiver};
use crate::health::{self, ComponentHealth, HealthReport, Probe};
use crate::ocr::baidu::BaiduOcr;
use crate::ocr::dispatcher::{self, OcrShared};
use crate::orders::alipay::{AlipayClient, AlipayConfig};
use crate::orders::due::DueIndex;
use crate::orders::expiry::OrdersShared;
use crate::redis_conn::RedisConn;
use crate::scheduler::engine::{self, SchedulerShared};
use crate::scheduler::tasks::Registry;

mod accounts;
mod handoff;
mod jobs;
mod live;
mod metrics;
mod ocr;
mod ops;
mod orders;
mod overview;
mod sandbox;
mod session;

pub use metrics::Metrics;
pub use ocr::ReconcileReport as OcrReconcileReport;
pub use orders::OrdersReconcileReport;

pub use opsdeck_api::app::AppInfo;

/// The largest page a list call returns.
pub const MAX_PAGE: u32 = 500;

/// A running OpsDeck core. Cheap to clone; every clone is the same core.
#[derive(Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    instance_id: String,
    db: Database,
    /// The database's sandbox/live mark, checked once (see `db_mode`).
    mode: ModeGuard,
    redis: RedisConn,
    events: EventBus,
    health: watch::Receiver<HealthReport>,
    /// Asks the health monitor for a report now (somebody started waiting for one).
    health_wake: tokio::sync::Notify,
    scheduler: Arc<SchedulerShared>,
    ocr: Arc<OcrShared>,
    orders: OrdersShared,
    accounts: AccountsShared,
    http: reqwest::Client,
    cancel: CancellationToken,
    tasks: tokio::sync::Mutex<JoinSet<()>>,
}

impl Core {
    /// Opens the database and Redis (lazily: either may be down, and is then reported, not
    /// fatal), applies pending migrations if the database answers, and starts the background
    /// tasks. Must be called inside a Tokio runtime.
    pub async fn start(config: Config) -> anyhow::Result<Core> {
        Core::start_with(config, Registry::builtin()).await
    }

    /// Like [`Core::start`], with the task kinds given (tests and benchmarks add their own).
    pub async fn start_with(config: Config, registry: Registry) -> anyhow::Result<Core> {
        let db = Database::open(&config)?;
        if db.backend() == DatabaseBackend::Sqlite {
            // An embedded database that cannot be opened or created now never will be by
            // retrying (a missing directory, no write permission): the start fails, naming the
            // key. A MySQL/MariaDB server that is down is another matter: it may come up, so
            // it is retried and reported by the health monitor.
            db.open_embedded().await.map_err(|reason| crate::config::ConfigError::Invalid {
                key: "database_url".into(),
                origin: config.sources.get("database_url").cloned().unwrap_or_default(),
                reason,
            })?;
        }
        let instance_id = new_instance_id();
        // A database marked for the other mode (sandbox / live) refuses the start; one that is
        // down is checked by the health monitor once it answers.
        let mode = ModeGuard::new(DatabaseMode::of(&config), &instance_id);
        match db.migrate().await {
            Ok(()) => {
                if let Err(why) = mode.ensure(&db).await {
                    if mode.refused().is_some() {
                        anyhow::bail!("{why}");
                    }
                    tracing::warn!(error = %why, "database mode not checked at start-up; will retry");
                }
            }
            Err(e) => tracing::warn!(error = %e, "database not ready at start-up; will retry"),
        }
        let redis = RedisConn::open(&config)?;
        let events = EventBus::new();
        let initial = HealthReport {
            database: ComponentHealth::unknown(config.database_url.to_string()),
            redis: ComponentHealth::unknown(config.redis_url.to_string()),
            checked_at: chrono::Utc::now(),
        };
        let (health_tx, health_rx) = watch::channel(initial);
        let scheduler = engine::shared(redis.clone(), registry);
        let http = reqwest::Client::builder()
            .user_agent(concat!("OpsDeck/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()?;
        let baidu = match (&config.baidu_api_key, &config.baidu_secret_key) {
            (Some(key), Some(secret)) => {
                Some(BaiduOcr::new(http.clone(), &config.baidu_url, key.clone(), secret.clone()))
            }
            _ => None,
        };
        let alipay = match (&config.alipay_app_id, &config.alipay_private_key, &config.alipay_public_key) {
            (Some(app_id), Some(private), Some(public)) => Some(
                AlipayClient::new(
                    http.clone(),
                    AlipayConfig {
                        gateway_url: config.alipay_gateway_url.clone(),
                        app_id: app_id.clone(),
                        app_private_key: private.clone(),
                        alipay_public_key: public.clone(),
                        seller_id: config.alipay_seller_id.clone(),
                    },
                )
                .map_err(|e| anyhow::anyhow!("invalid Alipay configuration: {e}"))?,
            ),
            _ => None,
        };
        let orders = OrdersShared { due: DueIndex::new(redis.clone()), alipay };
        let ocr = OcrShared::new(redis.clone(), db.clone(), &instance_id, baidu);
        let accounts = AccountsShared {
            providers: Providers::from_config(&config)?,
            attempts: crate::accounts::Attempts::new(redis.clone(), config.oauth_state_ttl),
        };
        let core = Core {
            inner: Arc::new(Inner {
                ocr,
                orders,
                accounts,
                instance_id,
                config,
                db,
                mode,
                redis,
                events,
                health: health_rx,
                health_wake: tokio::sync::Notify::new(),
                scheduler,
                http,
                cancel: CancellationToken::new(),
                tasks: tokio::sync::Mutex::new(JoinSet::new()),
            }),
        };
        core.spawn_health_monitor(health_tx).await;
        if core.inner.config.scheduler_enabled {
            core.spawn_scheduler().await;
        } else {
            tracing::info!("scheduler disabled (scheduler_enabled = false): other instances fire the jobs");
        }
        core.spawn_ocr().await;
        core.spawn_overview().await;
        tracing::info!(instance = %core.inner.instance_id, "core started");
        Ok(core)
    }

    async fn spawn_health_monitor(&self, latest: watch::Sender<HealthReport>) {
        let core = self.clone();
        self.inner.tasks.lock().await.spawn(async move {
            let inner = &core.inner;
            let db_target = inner.config.database_url.to_string();
            let redis_target = inner.config.redis_url.to_string();
            let probe = Probe {
                db: &inner.db,
                mode: &inner.mode,
                db_target: &db_target,
                redis: &inner.redis,
                redis_target: &redis_target,
                timeout: inner.config.health_timeout,
            };
            let (period, events, cancel) = (inner.config.health_interval, inner.events.clone(), inner.cancel.clone());
            health::monitor(probe, period, latest, events, &inner.health_wake, cancel).await;
            tracing::debug!("health monitor stopped");
        });
    }

    async fn spawn_scheduler(&self) {
        let core = self.clone();
        let cancel = self.inner.cancel.clone();
        self.inner.tasks.lock().await.spawn(async move {
            engine::run(core, cancel).await;
            tracing::debug!("scheduler stopped");
        });
    }

    async fn spawn_ocr(&self) {
        let core = self.clone();
        let cancel = self.inner.cancel.clone();
        self.inner.tasks.lock().await.spawn(async move {
            dispatcher::run(core, cancel).await;
            tracing::debug!("OCR dispatcher stopped");
        });
    }

    async fn spawn_overview(&self) {
        let core = self.clone();
        let cancel = self.inner.cancel.clone();
        self.inner.tasks.lock().await.spawn(async move {
            core.run_overview(cancel).await;
            tracing::debug!("overview sampler stopped");
        });
    }

    pub(crate) fn orders(&self) -> &OrdersShared {
        &self.inner.orders
    }

    pub(crate) fn accounts(&self) -> &AccountsShared {
        &self.inner.accounts
    }

    pub(crate) fn ocr(&self) -> &OcrShared {
        &self.inner.ocr
    }

    /// True once shutdown began.
    pub(crate) fn stopping(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Completes when shutdown begins.
    pub(crate) async fn stop_signal(&self) {
        self.inner.cancel.cancelled().await
    }

    /// Completes when the core stops its background work: at shutdown (`None`), or by itself
    /// because the database, down at start-up, turned out to be marked for the other mode
    /// (`Some(why)`; see `db_mode`). A front end then stops too.
    pub async fn halted(&self) -> Option<String> {
        self.inner.cancel.cancelled().await;
        self.inner.mode.refused()
    }

    /// Whether the database's mode mark was checked and matches this instance's mode (the
    /// simulated shop writes nothing before).
    pub(crate) fn mode_checked(&self) -> bool {
        self.inner.mode.checked()
    }

    /// True when somebody listens to the events (a console is open).
    pub(crate) fn has_listeners(&self) -> bool {
        self.inner.events.has_subscribers()
    }

    /// Resolves when somebody subscribes to the events after this is enabled (or first polled).
    pub(crate) fn someone_listens(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.events.someone_joined()
    }

    pub(crate) fn scheduler(&self) -> &SchedulerShared {
        &self.inner.scheduler
    }

    /// The HTTP client tasks use (one pool for the process).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) fn publish(&self, event: Event) {
        self.inner.events.publish(event);
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// This instance's name in claims, heartbeats and run records.
    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    pub fn info(&self) -> AppInfo {
        let config = &self.inner.config;
        AppInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            instance_id: self.inner.instance_id.clone(),
            timezone: config.timezone.name().to_string(),
            redis_prefix: config.redis_prefix.clone(),
            database_backend: match config.database_backend() {
                DatabaseBackend::Sqlite => opsdeck_api::app::DatabaseBackend::Sqlite,
                DatabaseBackend::Mysql => opsdeck_api::app::DatabaseBackend::Mysql,
            },
            data_dir: config.data_dir.display().to_string(),
            sandbox: config.sandbox_mode,
            providers: config
                .providers()
                .into_iter()
                .map(|p| opsdeck_api::app::ProviderStatus {
                    name: p.name.to_string(),
                    state: match p.state {
                        crate::config::ProviderState::Configured => opsdeck_api::app::ProviderState::Configured,
                        crate::config::ProviderState::Sandbox => opsdeck_api::app::ProviderState::Sandbox,
                        crate::config::ProviderState::Absent => opsdeck_api::app::ProviderState::Absent,
                    },
                    keys: p.keys.iter().map(|k| k.to_string()).collect(),
                })
                .collect(),
        }
    }

    /// The latest health report (probed every `health_interval` while a console listens or
    /// somebody waits for a report, else every few seconds: see `health::UNWATCHED_PERIOD`).
    pub fn health(&self) -> HealthReport {
        self.inner.health.borrow().clone()
    }

    /// Waits until a report satisfies `ready` (e.g. the first probe has run).
    pub async fn wait_for_health(&self, ready: impl Fn(&HealthReport) -> bool) -> HealthReport {
        let mut rx = self.inner.health.clone();
        // Now a watcher: the monitor probes at once and then at the full pace.
        self.inner.health_wake.notify_one();
        let report = rx.wait_for(|r| ready(r)).await.map(|r| r.clone());
        report.unwrap_or_else(|_| self.health())
    }

    /// Every event the core publishes from now on (their content; `Ops::events` gives them
    /// with their ids, resumable).
    pub fn subscribe(&self) -> EventReceiver {
        EventReceiver::new(self.inner.events.subscribe())
    }

    pub(crate) fn event_bus(&self) -> &EventBus {
        &self.inner.events
    }

    pub fn database(&self) -> &Database {
        &self.inner.db
    }

    pub fn redis(&self) -> &RedisConn {
        &self.inner.redis
    }

    /// Records a manual action.
    pub async fn record_audit(&self, entry: NewAuditEntry<'_>) -> Result<i64, ApiError> {
        if entry.who.trim().is_empty() || entry.action.trim().is_empty() {
            return Err(ApiError::coded(ErrorCode::AuditEntryIncomplete, "an audit entry needs who and what was done"));
        }
        Ok(audit::record(&self.inner.db, &entry, chrono::Utc::now()).await?)
    }

    /// A page of the audit log, newest first (any staff member).
    pub async fn audit_list(&self, limit: u32, before_id: Option<i64>, actor: &Actor) -> Result<AuditPage, ApiError> {
        self.audit_query(AuditQuery { limit, before_id, ..AuditQuery::default() }, actor).await
    }

    /// A page of the audit log as `query` asks (any staff member): filtered by who acted, the
    /// action or its family (`job.`), a time range and a part of the target or the details;
    /// newest first by `before_id`, or sorted by a column and paged by `offset`.
    pub async fn audit_query(&self, query: AuditQuery, actor: &Actor) -> Result<AuditPage, ApiError> {
        self.require_reader(actor).await?;
        if query.limit == 0 || query.limit > MAX_PAGE {
            return Err(ApiError::out_of_range("limit", 1, MAX_PAGE));
        }
        // The columns' widths (who 191, action 64 characters); a search of more than 100 is
        // no search anybody types.
        for (field, text, max) in
            [("actor", &query.actor, 191), ("action", &query.action, 64), ("search", &query.search, 100)]
        {
            if text.as_ref().is_some_and(|t| t.chars().count() > max) {
                return Err(ApiError::coded(
                    ErrorCode::TextTooLong,
                    format!("{field} is longer than {max} characters"),
                )
                .field(field)
                .param("max", max));
            }
        }
        if let (Some(from), Some(to)) = (query.from, query.to)
            && from > to
        {
            return Err(ApiError::coded(ErrorCode::RangeReversed, "from must not be after to").field("from"));
        }
        Ok(audit::list(self.inner.db.pool(), &query).await?)
    }

    /// Stops the background tasks, waits for them, and closes the database pool.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        let mut tasks = self.inner.tasks.lock().await;
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                tracing::error!(error = %e, "a background task failed");
            }
        }
        self.inner.db.close().await;
        tracing::info!("core stopped");
    }
}

/// Names this instance in claims, heartbeats and logs: host, process and start time.
fn new_instance_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let started = chrono::Utc::now().timestamp_millis();
    format!("{host}-{}-{:x}", std::process::id(), started % 0x1_0000_0000)
}
