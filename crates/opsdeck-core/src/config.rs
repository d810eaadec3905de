//! Layered, typed configuration: built-in defaults → a TOML file → `OPSDECK_…` environment
//! variables, validated once at start-up.
//!
//! Every key can be set in the file (`database_url = "…"`) and overridden by the environment
//! (`OPSDECK_DATABASE_URL`). A bad value stops start-up with a [`ConfigError`] that names the key,
//! where the value came from, and why it was refused. Connection URLs may carry passwords, so they
//! are kept as [`SecretUrl`]s whose `Debug`/`Display` mask the password.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The port of the Redis server that the README's run command starts when no Redis URL is
/// configured (Debian's redis-server, files under the data dir).
pub const LOCAL_REDIS_PORT: u16 = 6391;

const ENV_PREFIX: &str = "OPSDECK_";

/// The shortest `api_token` accepted (a guessable token would open the shop's intake API).
pub const MIN_API_TOKEN_CHARS: usize = 16;

/// The validated configuration the core runs on.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where OpsDeck keeps its own files (the embedded SQLite database, the local Redis).
    pub data_dir: PathBuf,
    /// `sqlite:…` (embedded, the default) or `mysql://…` / `mariadb://…`.
    pub database_url: SecretUrl,
    /// The Redis server shared by every OpsDeck instance of one environment.
    pub redis_url: SecretUrl,
    /// Prefix of every Redis key, so several environments (and tests) can share one server.
    pub redis_prefix: String,
    /// The zone schedules and displayed times use unless a job says otherwise.
    pub timezone: Tz,
    /// How often the health monitor probes the database and Redis.
    pub health_interval: Duration,
    /// Give up on one probe after this long and report the component unreachable.
    pub health_timeout: Duration,
    /// Log filter in `tracing_subscriber::EnvFilter` syntax.
    pub log: String,
    /// How long job runs are kept in the history.
    pub run_retention: Duration,
    /// Baidu AI Cloud's base URL (the token and OCR endpoints live under it).
    pub baidu_url: String,
    /// Baidu's API key and secret key; None for both until configured (the front ends then use
    /// their built-in fake Baidu, see [`Config::use_sandbox_baidu`]).
    pub baidu_api_key: Option<SecretString>,
    pub baidu_secret_key: Option<SecretString>,
    /// True when `baidu_url` is OpsDeck's own fake (sandbox mode).
    pub baidu_sandbox: bool,
    /// Baidu OCR calls per second across all instances (2 personal, 10 enterprise); staff may
    /// change it at run time from the console.
    pub ocr_qps: f64,
    /// Calls in flight at once, per instance.
    pub ocr_concurrency: u32,
    /// Calls for one request before a transient failure sends it to the dead letters.
    pub ocr_max_attempts: u32,
    /// Deliveries of one request (an instance took it and never finished) before it is dead.
    pub ocr_max_deliveries: u32,
    /// How long a request may sit with an instance that does not finish it before another
    /// instance takes it over.
    pub ocr_lease: Duration,
    /// The first retry's delay; each further retry doubles it (with jitter).
    pub ocr_backoff: Duration,
    /// How long a result stays in Redis under its image URL.
    pub ocr_result_ttl: Duration,
    /// Alipay's gateway, the app id, the app's private key (PEM, or Alipay's bare base64) and
    /// Alipay's public key. Unset: the front ends use their built-in fake Alipay.
    pub alipay_gateway_url: String,
    pub alipay_app_id: Option<String>,
    pub alipay_private_key: Option<SecretString>,
    pub alipay_public_key: Option<String>,
    /// The shop's Alipay account (`2088…`): a notify for another seller is refused. Unset: not
    /// compared (Alipay's guide asks merchants to compare it).
    pub alipay_seller_id: Option<String>,
    /// True when the gateway is OpsDeck's own fake (sandbox mode).
    pub alipay_sandbox: bool,
    /// An order unpaid this long after it was placed is cancelled.
    pub order_expiry: Duration,
    /// How long a sweeper holds the orders it claimed before another instance may take them.
    pub expiry_lease: Duration,
    /// Alipay queries in flight at once during a sweep.
    pub expiry_concurrency: u32,
    /// Whether this instance fires scheduled jobs (false: a console that only watches and acts
    /// by hand; the daemons do the scheduled work).
    pub scheduler_enabled: bool,
    /// Every provider is a built-in fake (sandbox mode; set by the front end that started them,
    /// see `opsdeck_core::sandbox`): the console says so, and the simulated shop may run.
    pub sandbox_mode: bool,
    /// The simulated shop of sandbox mode.
    pub shop: ShopSettings,
    /// The sign-in providers: Weibo, QQ, WeChat, DingTalk (each `None` until configured; the
    /// desktop then uses its built-in fake) and one OpenID Connect provider.
    pub oauth: OAuthSettings,
    /// The key (32 bytes, base64) that encrypts provider tokens at rest. Unset: the desktop takes
    /// one from the OS keychain; a headless host keeps one in `<data_dir>/token.key`.
    pub token_key: Option<SecretString>,
    /// The bearer token the daemon's HTTP API (`opsdeckd run --listen`) requires of the shop's
    /// backend. Unset: the daemon generates one and keeps it in `<data_dir>/api-token`.
    pub api_token: Option<SecretString>,
    /// The bearer token of the daemon's `/metrics` (a Prometheus scraper's). Unset: `/metrics`
    /// takes the API token.
    pub metrics_token: Option<SecretString>,
    /// The daemon's HTTP transport: timeouts, the connection cap, the open routes' per-IP rate.
    pub http: HttpLimits,
    /// The console role a user gets on their first console sign-in, when there already is an
    /// admin (the very first user to sign in becomes admin). `None`: an admin must grant one.
    pub staff_default_role: Option<crate::accounts::Role>,
    /// The staff allow-list (`staff_allow = "weibo:5678001, oidc:alice"`): when not empty, only
    /// these sign-ins (provider and the provider's uid) open the console or may hold a role.
    pub staff_allow: Vec<(crate::accounts::model::ProviderKey, String)>,
    /// The first admin of a shared database named in the configuration
    /// (`bootstrap_admin = "weibo:5678001"`): that sign-in becomes admin while there is none.
    pub bootstrap_admin: Option<(crate::accounts::model::ProviderKey, String)>,
    /// How long a sign-in attempt (its `state`) stays valid.
    pub oauth_state_ttl: Duration,
    /// Which layer each key's value came from (`default`, the file path, or the variable).
    pub sources: BTreeMap<&'static str, String>,
}

/// The simulated shop of sandbox mode: it places orders (most paid, some left to expire) and
/// submits ID-card images, so a newcomer sees the background work happen.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopSettings {
    /// Runs in sandbox mode unless turned off (`sandbox_shop = false`).
    pub enabled: bool,
    pub orders_per_minute: f64,
    pub ocr_per_minute: f64,
    /// The share of orders the simulated buyers pay.
    pub pay_ratio: f64,
    /// The order deadline in sandbox mode (unless `order_expiry_seconds` is set), so orders
    /// expire within minutes.
    pub order_expiry: Duration,
}

/// The daemon's HTTP transport limits (`opsdeckd run --listen`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request head (line and headers) must arrive within this.
    pub header_timeout: Duration,
    /// A request body must arrive within this once its handler reads it.
    pub body_timeout: Duration,
    /// Connections served at once (more wait in the listen backlog).
    pub max_connections: u32,
    /// Requests per second per client address on the routes without a token (`/healthz`,
    /// `/openapi.yaml`, Alipay's notify); bursts of five times as many.
    pub open_per_ip_per_second: u32,
}

/// How one provider is set up (see [`Config::providers`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderStatus {
    /// `baidu`, `alipay`, `weibo`, `qq`, `wechat`, `dingtalk`, `oidc`.
    pub name: &'static str,
    pub state: ProviderState,
    /// The keys that configure it (each also `OPSDECK_<KEY>`).
    pub keys: &'static [&'static str],
}

impl ProviderStatus {
    /// How to configure it, in words: `set alipay_app_id, … (or OPSDECK_ALIPAY_APP_ID, …)`.
    pub fn how_to_configure(&self) -> String {
        let vars: Vec<String> = self.keys.iter().map(|k| env_var(k)).collect();
        format!("set {} in the configuration file (or {})", self.keys.join(", "), vars.join(", "))
    }
}

/// Whether a provider is there, and which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderState {
    /// Real credentials configured.
    Configured,
    /// The built-in fake (sandbox mode proper only).
    Sandbox,
    /// Not configured: what needs it is refused or idle.
    Absent,
}

/// The backend a database URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseBackend {
    Sqlite,
    Mysql,
}

/// The raw, unvalidated shape of the configuration, as the layers are merged.
#[derive(Debug, Serialize, Deserialize)]
struct RawConfig {
    data_dir: PathBuf,
    database_url: Option<String>,
    redis_url: String,
    redis_prefix: String,
    timezone: String,
    health_interval_ms: u64,
    health_timeout_ms: u64,
    log: String,
    run_retention_hours: u64,
    baidu_url: String,
    baidu_api_key: Option<String>,
    baidu_secret_key: Option<String>,
    ocr_qps: f64,
    ocr_concurrency: u32,
    ocr_max_attempts: u32,
    ocr_max_deliveries: u32,
    ocr_lease_ms: u64,
    ocr_backoff_ms: u64,
    ocr_result_ttl_seconds: u64,
    alipay_gateway_url: String,
    #[serde(default, deserialize_with = "text_or_number")]
    alipay_app_id: Option<String>,
    alipay_private_key: Option<String>,
    alipay_public_key: Option<String>,
    #[serde(default, deserialize_with = "text_or_number")]
    alipay_seller_id: Option<String>,
    order_expiry_seconds: u64,
    expiry_lease_seconds: u64,
    expiry_concurrency: u32,
    scheduler_enabled: bool,
    sandbox_shop: bool,
    sandbox_orders_per_minute: f64,
    sandbox_ocr_per_minute: f64,
    sandbox_pay_ratio: f64,
    sandbox_order_expiry_seconds: u64,
    weibo_client_id: Option<String>,
    weibo_client_secret: Option<String>,
    weibo_redirect_uri: Option<String>,
    weibo_url: String,
    qq_client_id: Option<String>,
    qq_client_secret: Option<String>,
    qq_redirect_uri: Option<String>,
    qq_url: String,
    wechat_app_id: Option<String>,
    wechat_app_secret: Option<String>,
    wechat_redirect_uri: Option<String>,
    wechat_open_url: String,
    wechat_api_url: String,
    dingtalk_client_id: Option<String>,
    dingtalk_client_secret: Option<String>,
    dingtalk_redirect_uri: Option<String>,
    dingtalk_login_url: String,
    dingtalk_api_url: String,
    oidc_name: String,
    oidc_issuer_url: Option<String>,
    oidc_client_id: Option<String>,
    oidc_client_secret: Option<String>,
    oidc_redirect_uri: Option<String>,
    token_key: Option<String>,
    // A token of digits only would reach us from the environment as a number.
    #[serde(default, deserialize_with = "text_or_number")]
    api_token: Option<String>,
    #[serde(default, deserialize_with = "text_or_number")]
    metrics_token: Option<String>,
    http_header_timeout_ms: u64,
    http_body_timeout_ms: u64,
    http_max_connections: u32,
    http_open_per_ip_per_second: u32,
    staff_default_role: String,
    #[serde(default, deserialize_with = "text_or_number")]
    staff_allow: Option<String>,
    #[serde(default, deserialize_with = "text_or_number")]
    bootstrap_admin: Option<String>,
    oauth_state_ttl_seconds: u64,
}

/// Alipay's app ids are all digits, so the environment layer reads them as numbers: take either.
fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Either>::deserialize(d)?.map(|v| match v {
        Either::Text(t) => t,
        Either::Number(n) => n.to_string(),
    }))
}

/// Every key the configuration knows, in the order `check-config` prints them.
pub const KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "redis_url",
    "redis_prefix",
    "timezone",
    "health_interval_ms",
    "health_timeout_ms",
    "log",
    "run_retention_hours",
    "baidu_url",
    "baidu_api_key",
    "baidu_secret_key",
    "ocr_qps",
    "ocr_concurrency",
    "ocr_max_attempts",
    "ocr_max_deliveries",
    "ocr_lease_ms",
    "ocr_backoff_ms",
    "ocr_result_ttl_seconds",
    "alipay_gateway_url",
    "alipay_app_id",
    "alipay_private_key",
    "alipay_public_key",
    "alipay_seller_id",
    "order_expiry_seconds",
    "expiry_lease_seconds",
    "expiry_concurrency",
    "scheduler_enabled",
    "sandbox_shop",
    "sandbox_orders_per_minute",
    "sandbox_ocr_per_minute",
    "sandbox_pay_ratio",
    "sandbox_order_expiry_seconds",
    "weibo_client_id",
    "weibo_client_secret",
    "weibo_redirect_uri",
    "weibo_url",
    "qq_client_id",
    "qq_client_secret",
    "qq_redirect_uri",
    "qq_url",
    "wechat_app_id",
    "wechat_app_secret",
    "wechat_redirect_uri",
    "wechat_open_url",
    "wechat_api_url",
    "dingtalk_client_id",
    "dingtalk_client_secret",
    "dingtalk_redirect_uri",
    "dingtalk_login_url",
    "dingtalk_api_url",
    "oidc_name",
    "oidc_issuer_url",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_redirect_uri",
    "token_key",
    "api_token",
    "metrics_token",
    "http_header_timeout_ms",
    "http_body_timeout_ms",
    "http_max_connections",
    "http_open_per_ip_per_second",
    "staff_default_role",
    "staff_allow",
    "bootstrap_admin",
    "oauth_state_ttl_seconds",
];

/// One sign-in provider's settings: where it lives and, once configured, OpsDeck's client.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The host of the authorize page (Weibo and QQ: the same as `api_url`).
    pub authorize_url: String,
    /// The host of the token and user-info calls.
    pub api_url: String,
    pub client: Option<OAuthClient>,
    /// True when the URLs point at OpsDeck's own fake (sandbox mode).
    pub sandbox: bool,
}

/// OpsDeck's registration with a provider.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// `client_id` (WeChat: `appid`).
    pub client_id: String,
    /// WeChat: `secret`. For OpenID Connect it may be absent (a public client, PKCE only).
    pub client_secret: Option<SecretString>,
    /// The registered callback; the sign-in window stops at it.
    pub redirect_uri: String,
}

/// The OpenID Connect provider's settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// Shown on the sign-in button.
    pub name: String,
    /// The issuer (discovery: `<issuer>/.well-known/openid-configuration`).
    pub issuer_url: String,
    pub client: OAuthClient,
}

/// Every sign-in provider.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    pub weibo: ProviderSettings,
    pub qq: ProviderSettings,
    pub wechat: ProviderSettings,
    pub dingtalk: ProviderSettings,
    pub oidc: Option<OidcSettings>,
}

impl OAuthSettings {
    /// The four Chinese providers' settings by key (`weibo`, `qq`, `wechat`, `dingtalk`).
    pub fn provider_mut(&mut self, key: &str) -> Option<&mut ProviderSettings> {
        match key {
            "weibo" => Some(&mut self.weibo),
            "qq" => Some(&mut self.qq),
            "wechat" => Some(&mut self.wechat),
            "dingtalk" => Some(&mut self.dingtalk),
            _ => None,
        }
    }
}

/// Alipay's real gateway.
pub const ALIPAY_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";

/// Baidu's real endpoint.
pub const BAIDU_URL: &str = "https://aip.baidubce.com";

impl RawConfig {
    fn defaults(data_dir: PathBuf) -> Self {
        RawConfig {
            data_dir,
            database_url: None,
            redis_url: format!("redis://127.0.0.1:{LOCAL_REDIS_PORT}/0"),
            redis_prefix: "opsdeck".into(),
            timezone: "Asia/Shanghai".into(),
            health_interval_ms: 1000,
            health_timeout_ms: 1500,
            log: "info".into(),
            // The original Celery set-up expired results after a day.
            run_retention_hours: 24,
            baidu_url: BAIDU_URL.into(),
            baidu_api_key: None,
            baidu_secret_key: None,
            // A personal account's cap; enterprise accounts raise it to 10.
            ocr_qps: 2.0,
            ocr_concurrency: 4,
            ocr_max_attempts: 5,
            ocr_max_deliveries: 5,
            ocr_lease_ms: 30_000,
            ocr_backoff_ms: 1_000,
            // The original design kept results for a day.
            ocr_result_ttl_seconds: 86_400,
            alipay_gateway_url: ALIPAY_GATEWAY.into(),
            alipay_app_id: None,
            alipay_private_key: None,
            alipay_public_key: None,
            alipay_seller_id: None,
            order_expiry_seconds: 1800,
            expiry_lease_seconds: 60,
            expiry_concurrency: 64,
            scheduler_enabled: true,
            sandbox_shop: true,
            sandbox_orders_per_minute: 6.0,
            sandbox_ocr_per_minute: 12.0,
            sandbox_pay_ratio: 0.7,
            sandbox_order_expiry_seconds: 120,
            weibo_client_id: None,
            weibo_client_secret: None,
            weibo_redirect_uri: None,
            weibo_url: "https://api.weibo.com".into(),
            qq_client_id: None,
            qq_client_secret: None,
            qq_redirect_uri: None,
            qq_url: "https://graph.qq.com".into(),
            wechat_app_id: None,
            wechat_app_secret: None,
            wechat_redirect_uri: None,
            wechat_open_url: "https://open.weixin.qq.com".into(),
            wechat_api_url: "https://api.weixin.qq.com".into(),
            dingtalk_client_id: None,
            dingtalk_client_secret: None,
            dingtalk_redirect_uri: None,
            dingtalk_login_url: "https://login.dingtalk.com".into(),
            dingtalk_api_url: "https://api.dingtalk.com".into(),
            oidc_name: "OpenID Connect".into(),
            oidc_issuer_url: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_redirect_uri: None,
            token_key: None,
            api_token: None,
            metrics_token: None,
            http_header_timeout_ms: 10_000,
            http_body_timeout_ms: 30_000,
            http_max_connections: 1024,
            http_open_per_ip_per_second: 20,
            staff_default_role: "none".into(),
            staff_allow: None,
            bootstrap_admin: None,
            oauth_state_ttl_seconds: 600,
        }
    }
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: `{key}` (from {origin}): {reason}")]
    Invalid { key: String, origin: String, reason: String },
    #[error("invalid configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// Where to read the configuration from.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// `--config PATH`; without it the platform config dir's `config.toml`, when it exists.
    pub file: Option<PathBuf>,
}

/// The platform directories OpsDeck uses by default (`~/.config/opsdeck`,
/// `~/.local/share/opsdeck` on Linux).
pub fn platform_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "opsdeck")
}

impl Config {
    /// Loads the layers from the real file system and process environment.
    pub fn load(source: &ConfigSource) -> Result<Config, ConfigError> {
        let dirs = platform_dirs();
        let default_data_dir =
            dirs.as_ref().map(|d| d.data_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from(".opsdeck"));
        let file = match &source.file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::File { path: path.clone(), reason: "no such file".into() });
                }
                Some(path.clone())
            }
            None => dirs.map(|d| d.config_dir().join("config.toml")).filter(|p| p.is_file()),
        };
        Self::from_layers(default_data_dir, file.as_deref())
    }

    /// Merges defaults, the optional file and the `OPSDECK_` environment, then validates.
    pub fn from_layers(default_data_dir: PathBuf, file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::defaults(default_data_dir)));
        if let Some(path) = file {
            check_file_keys(path)?;
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).filter(|k| KEYS.iter().any(|key| k == *key)));
        let raw: RawConfig = figment.extract().map_err(|e| from_figment(&figment, e))?;
        let sources = KEYS.iter().map(|key| (*key, origin_of(&figment, key))).collect::<BTreeMap<_, _>>();
        validate(raw, sources)
    }

    /// True when both Baidu keys are configured.
    pub fn baidu_configured(&self) -> bool {
        self.baidu_api_key.is_some() && self.baidu_secret_key.is_some()
    }

    /// Points the OCR queue at a local fake Baidu (the sandbox crate's), with its keys: what the
    /// front ends do when no credentials are configured.
    pub fn use_sandbox_baidu(&mut self, base_url: &str, api_key: &str, secret_key: &str) {
        self.baidu_url = base_url.trim_end_matches('/').to_string();
        self.baidu_api_key = Some(SecretString::from(api_key.to_string()));
        self.baidu_secret_key = Some(SecretString::from(secret_key.to_string()));
        self.baidu_sandbox = true;
        for key in ["baidu_url", "baidu_api_key", "baidu_secret_key"] {
            self.sources.insert(key, "sandbox".into());
        }
    }

    /// True when the app id and both keys are configured.
    pub fn alipay_configured(&self) -> bool {
        self.alipay_app_id.is_some() && self.alipay_private_key.is_some() && self.alipay_public_key.is_some()
    }

    /// Points order expiry at a local fake Alipay (the sandbox crate's) with its keys.
    pub fn use_sandbox_alipay(
        &mut self,
        gateway_url: &str,
        app_id: &str,
        app_private_key: &str,
        alipay_public_key: &str,
    ) {
        self.alipay_gateway_url = gateway_url.to_string();
        self.alipay_app_id = Some(app_id.to_string());
        self.alipay_private_key = Some(SecretString::from(app_private_key.to_string()));
        self.alipay_public_key = Some(alipay_public_key.to_string());
        self.alipay_sandbox = true;
        for key in ["alipay_gateway_url", "alipay_app_id", "alipay_private_key", "alipay_public_key"] {
            self.sources.insert(key, "sandbox".into());
        }
    }

    /// Points one of the four Chinese providers (`weibo`, `qq`, `wechat`, `dingtalk`) at a local
    /// fake (the sandbox crate's) with its client registration.
    pub fn use_sandbox_oauth(&mut self, key: &str, base_url: &str, client: OAuthClient) {
        if let Some(settings) = self.oauth.provider_mut(key) {
            let base = base_url.trim_end_matches('/').to_string();
            *settings =
                ProviderSettings { authorize_url: base.clone(), api_url: base, client: Some(client), sandbox: true };
            for source_key in KEYS.iter().filter(|k| k.starts_with(&format!("{key}_"))) {
                self.sources.insert(source_key, "sandbox".into());
            }
        }
    }

    /// Every provider and how it is set up: configured with real credentials, the built-in fake
    /// (sandbox mode), or absent (with the keys that would configure it). What the start-up log,
    /// the daemon's `/healthz` (with a token) and `check-config` say.
    pub fn providers(&self) -> Vec<ProviderStatus> {
        let state = |configured: bool, sandbox: bool| match (configured, sandbox) {
            (true, true) => ProviderState::Sandbox,
            (true, false) => ProviderState::Configured,
            (false, _) => ProviderState::Absent,
        };
        let oauth = |name: &'static str, settings: &ProviderSettings, keys: &'static [&'static str]| ProviderStatus {
            name,
            state: state(settings.client.is_some(), settings.sandbox),
            keys,
        };
        vec![
            ProviderStatus {
                name: "baidu",
                state: state(self.baidu_configured(), self.baidu_sandbox),
                keys: &["baidu_api_key", "baidu_secret_key"],
            },
            ProviderStatus {
                name: "alipay",
                state: state(self.alipay_configured(), self.alipay_sandbox),
                keys: &["alipay_app_id", "alipay_private_key", "alipay_public_key"],
            },
            oauth("weibo", &self.oauth.weibo, &["weibo_client_id", "weibo_client_secret", "weibo_redirect_uri"]),
            oauth("qq", &self.oauth.qq, &["qq_client_id", "qq_client_secret", "qq_redirect_uri"]),
            oauth("wechat", &self.oauth.wechat, &["wechat_app_id", "wechat_app_secret", "wechat_redirect_uri"]),
            oauth(
                "dingtalk",
                &self.oauth.dingtalk,
                &["dingtalk_client_id", "dingtalk_client_secret", "dingtalk_redirect_uri"],
            ),
            ProviderStatus {
                name: "oidc",
                state: state(self.oauth.oidc.is_some(), false),
                keys: &["oidc_issuer_url", "oidc_client_id", "oidc_redirect_uri"],
            },
        ]
    }

    pub fn database_backend(&self) -> DatabaseBackend {
        if self.database_url.scheme() == "sqlite" { DatabaseBackend::Sqlite } else { DatabaseBackend::Mysql }
    }

    /// The effective values, secrets masked, one `(key, value, origin)` per key: what
    /// `opsdeckd check-config` prints.
    pub fn effective(&self) -> Vec<(&'static str, String, String)> {
        let value = |key: &str| -> String {
            match key {
                "data_dir" => self.data_dir.display().to_string(),
                "database_url" => self.database_url.to_string(),
                "redis_url" => self.redis_url.to_string(),
                "redis_prefix" => self.redis_prefix.clone(),
                "timezone" => self.timezone.name().to_string(),
                "health_interval_ms" => self.health_interval.as_millis().to_string(),
                "health_timeout_ms" => self.health_timeout.as_millis().to_string(),
                "log" => self.log.clone(),
                "run_retention_hours" => (self.run_retention.as_secs() / 3600).to_string(),
                "baidu_url" => self.baidu_url.clone(),
                "baidu_api_key" | "baidu_secret_key" => {
                    let set = if key == "baidu_api_key" { &self.baidu_api_key } else { &self.baidu_secret_key };
                    match (set, self.baidu_sandbox) {
                        (_, true) => "(sandbox)".into(),
                        (Some(_), false) => "****".into(),
                        (None, false) => "(not set)".into(),
                    }
                }
                "ocr_qps" => self.ocr_qps.to_string(),
                "ocr_concurrency" => self.ocr_concurrency.to_string(),
                "ocr_max_attempts" => self.ocr_max_attempts.to_string(),
                "ocr_max_deliveries" => self.ocr_max_deliveries.to_string(),
                "ocr_lease_ms" => self.ocr_lease.as_millis().to_string(),
                "ocr_backoff_ms" => self.ocr_backoff.as_millis().to_string(),
                "ocr_result_ttl_seconds" => self.ocr_result_ttl.as_secs().to_string(),
                "alipay_gateway_url" => self.alipay_gateway_url.clone(),
                "alipay_app_id" => self.alipay_app_id.clone().unwrap_or_else(|| "(not set)".into()),
                "alipay_private_key" => match (&self.alipay_private_key, self.alipay_sandbox) {
                    (_, true) => "(sandbox)".into(),
                    (Some(_), false) => "****".into(),
                    (None, false) => "(not set)".into(),
                },
                "alipay_public_key" => match (&self.alipay_public_key, self.alipay_sandbox) {
                    (_, true) => "(sandbox)".into(),
                    (Some(key), false) => format!("({} characters)", key.len()),
                    (None, false) => "(not set)".into(),
                },
                "alipay_seller_id" => self.alipay_seller_id.clone().unwrap_or_else(|| "(not set)".into()),
                "order_expiry_seconds" => self.order_expiry.as_secs().to_string(),
                "expiry_lease_seconds" => self.expiry_lease.as_secs().to_string(),
                "expiry_concurrency" => self.expiry_concurrency.to_string(),
                "scheduler_enabled" => self.scheduler_enabled.to_string(),
                "sandbox_shop" => self.shop.enabled.to_string(),
                "sandbox_orders_per_minute" => self.shop.orders_per_minute.to_string(),
                "sandbox_ocr_per_minute" => self.shop.ocr_per_minute.to_string(),
                "sandbox_pay_ratio" => self.shop.pay_ratio.to_string(),
                "sandbox_order_expiry_seconds" => self.shop.order_expiry.as_secs().to_string(),
                "oidc_name" => self.oauth.oidc.as_ref().map(|o| o.name.clone()).unwrap_or_else(|| "(not set)".into()),
                "oidc_issuer_url" => {
                    self.oauth.oidc.as_ref().map(|o| o.issuer_url.clone()).unwrap_or_else(|| "(not set)".into())
                }
                "oidc_client_id" => {
                    self.oauth.oidc.as_ref().map(|o| o.client.client_id.clone()).unwrap_or_else(|| "(not set)".into())
                }
                "oidc_redirect_uri" => self
                    .oauth
                    .oidc
                    .as_ref()
                    .map(|o| o.client.redirect_uri.clone())
                    .unwrap_or_else(|| "(not set)".into()),
                "oidc_client_secret" => {
                    masked(self.oauth.oidc.as_ref().and_then(|o| o.client.client_secret.as_ref()).is_some(), false)
                }
                "token_key" => masked(self.token_key.is_some(), false),
                "api_token" => masked(self.api_token.is_some(), false),
                "metrics_token" => masked(self.metrics_token.is_some(), false),
                "http_header_timeout_ms" => self.http.header_timeout.as_millis().to_string(),
                "http_body_timeout_ms" => self.http.body_timeout.as_millis().to_string(),
                "http_max_connections" => self.http.max_connections.to_string(),
                "http_open_per_ip_per_second" => self.http.open_per_ip_per_second.to_string(),
                "staff_default_role" => self.staff_default_role.map(|r| r.as_str()).unwrap_or("none").to_string(),
                "staff_allow" => {
                    self.staff_allow.iter().map(|(p, uid)| format!("{p}:{uid}")).collect::<Vec<_>>().join(", ")
                }
                "bootstrap_admin" => {
                    self.bootstrap_admin.as_ref().map(|(p, uid)| format!("{p}:{uid}")).unwrap_or_default()
                }
                "oauth_state_ttl_seconds" => self.oauth_state_ttl.as_secs().to_string(),
                other => self.provider_value(other).unwrap_or_default(),
            }
        };
        KEYS.iter()
            .map(|key| {
                let origin = self.sources.get(key).cloned().unwrap_or_default();
                (*key, value(key), origin)
            })
            .collect()
    }
}

impl Config {
    /// A Chinese provider's key as `check-config` prints it (secrets masked).
    fn provider_value(&self, key: &str) -> Option<String> {
        let (name, field) = key.split_once('_')?;
        let settings = match name {
            "weibo" => &self.oauth.weibo,
            "qq" => &self.oauth.qq,
            "wechat" => &self.oauth.wechat,
            "dingtalk" => &self.oauth.dingtalk,
            _ => return None,
        };
        let not_set = || "(not set)".to_string();
        Some(match field {
            "url" | "open_url" | "login_url" => settings.authorize_url.clone(),
            "api_url" => settings.api_url.clone(),
            "client_id" | "app_id" => settings.client.as_ref().map(|c| c.client_id.clone()).unwrap_or_else(not_set),
            "redirect_uri" => settings.client.as_ref().map(|c| c.redirect_uri.clone()).unwrap_or_else(not_set),
            "client_secret" | "app_secret" => masked(settings.client.is_some(), settings.sandbox),
            _ => return None,
        })
    }
}

/// How a secret is shown: whether it is set, never its value.
fn masked(set: bool, sandbox: bool) -> String {
    match (set, sandbox) {
        (_, true) => "(sandbox)".into(),
        (true, false) => "****".into(),
        (false, false) => "(not set)".into(),
    }
}

fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// Names the layer a key's value came from, in words a user recognises.
fn origin_of(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(meta) if meta.name.contains("environment") => env_var(key),
        Some(meta) => match meta.source.as_ref().and_then(|s| s.file_path()) {
            Some(path) => path.display().to_string(),
            None => "default".into(),
        },
        None => "default".into(),
    }
}

fn from_figment(figment: &Figment, error: figment::Error) -> ConfigError {
    let key = error.path.join(".");
    let origin = if key.is_empty() { "configuration".to_string() } else { origin_of(figment, &key) };
    let reason = match &error.kind {
        figment::error::Kind::InvalidType(actual, expected) => {
            format!("expected {expected}, found {actual}")
        }
        kind => kind.to_string(),
    };
    ConfigError::Invalid { key, origin, reason }
}

/// Rejects misspelt keys in the file: a typo must not silently fall back to a default.
fn check_file_keys(path: &Path) -> Result<(), ConfigError> {
    let file_error = |reason: String| ConfigError::File { path: path.to_path_buf(), reason };
    let table: BTreeMap<String, figment::value::Value> =
        Figment::from(Toml::file_exact(path)).extract().map_err(|e| file_error(e.to_string()))?;
    if let Some(unknown) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(file_error(format!("unknown key `{unknown}` (known keys: {})", KEYS.join(", "))));
    }
    Ok(())
}

fn validate(raw: RawConfig, sources: BTreeMap<&'static str, String>) -> Result<Config, ConfigError> {
    let invalid = |key: &str, reason: String| ConfigError::Invalid {
        key: key.to_string(),
        origin: sources.get(key).cloned().unwrap_or_else(|| "default".into()),
        reason,
    };

    if raw.data_dir.as_os_str().is_empty() {
        return Err(invalid("data_dir", "must not be empty".into()));
    }
    let database_url = match raw.database_url.clone() {
        Some(url) => url,
        None => format!("sqlite://{}?mode=rwc", raw.data_dir.join("opsdeck.db").display()),
    };
    let database_url = SecretUrl::parse(&database_url).map_err(|r| invalid("database_url", r))?;
    match database_url.scheme() {
        "sqlite" | "mysql" | "mariadb" => {}
        other => {
            return Err(invalid(
                "database_url",
                format!("unsupported scheme `{other}:` (use sqlite:, mysql: or mariadb:)"),
            ));
        }
    }
    let redis_url = SecretUrl::parse(&raw.redis_url).map_err(|r| invalid("redis_url", r))?;
    match redis_url.scheme() {
        "redis" | "rediss" | "unix" | "redis+unix" => {}
        other => {
            return Err(invalid(
                "redis_url",
                format!("unsupported scheme `{other}:` (use redis://, rediss:// or unix://)"),
            ));
        }
    }
    if let Err(e) = redis::Client::open(redis_url.expose()) {
        return Err(invalid("redis_url", e.to_string()));
    }
    let prefix_ok = !raw.redis_prefix.is_empty()
        && raw.redis_prefix.len() <= 64
        && raw.redis_prefix.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
    if !prefix_ok {
        return Err(invalid(
            "redis_prefix",
            format!(
                "{:?} is not a key prefix: use 1–64 characters from A–Z, a–z, 0–9, `_`, `-`, `.`, `:`",
                raw.redis_prefix
            ),
        ));
    }
    let timezone: Tz = raw.timezone.parse().map_err(|_| {
        invalid("timezone", format!("unknown time zone {:?} (use an IANA name such as Asia/Shanghai)", raw.timezone))
    })?;
    if !(100..=60_000).contains(&raw.health_interval_ms) {
        return Err(invalid("health_interval_ms", format!("{} is out of range (100–60000)", raw.health_interval_ms)));
    }
    if !(100..=60_000).contains(&raw.health_timeout_ms) {
        return Err(invalid("health_timeout_ms", format!("{} is out of range (100–60000)", raw.health_timeout_ms)));
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&raw.log) {
        return Err(invalid("log", format!("{:?} is not a log filter: {e}", raw.log)));
    }
    if !(1..=24 * 366).contains(&raw.run_retention_hours) {
        return Err(invalid("run_retention_hours", format!("{} is out of range (1–8784)", raw.run_retention_hours)));
    }
    let baidu_url = url::Url::parse(&raw.baidu_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| invalid("baidu_url", format!("{:?} is not an http(s) URL", raw.baidu_url)))?;
    let secret = |key: &str, value: Option<String>| -> Result<Option<SecretString>, ConfigError> {
        match value.map(|v| v.trim().to_string()) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) if v.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                Err(invalid(key, "must not contain spaces or control characters".into()))
            }
            Some(v) => Ok(Some(SecretString::from(v))),
        }
    };
    let oauth = validate_oauth(&raw, &invalid, &secret)?;
    let baidu_api_key = secret("baidu_api_key", raw.baidu_api_key)?;
    let baidu_secret_key = secret("baidu_secret_key", raw.baidu_secret_key)?;
    if baidu_api_key.is_some() != baidu_secret_key.is_some() {
        let (set, missing) = if baidu_api_key.is_some() {
            ("baidu_api_key", "baidu_secret_key")
        } else {
            ("baidu_secret_key", "baidu_api_key")
        };
        return Err(invalid(
            set,
            format!("{missing} is not set: set both baidu_api_key and baidu_secret_key, or neither"),
        ));
    }
    if !(raw.ocr_qps.is_finite() && (0.1..=1000.0).contains(&raw.ocr_qps)) {
        return Err(invalid("ocr_qps", format!("{} is out of range (0.1–1000 calls per second)", raw.ocr_qps)));
    }
    let ranges: [(&str, u64, std::ops::RangeInclusive<u64>); 6] = [
        ("ocr_concurrency", raw.ocr_concurrency.into(), 1..=256),
        ("ocr_max_attempts", raw.ocr_max_attempts.into(), 1..=100),
        ("ocr_max_deliveries", raw.ocr_max_deliveries.into(), 1..=100),
        ("ocr_lease_ms", raw.ocr_lease_ms, 1_000..=3_600_000),
        ("ocr_backoff_ms", raw.ocr_backoff_ms, 10..=3_600_000),
        ("ocr_result_ttl_seconds", raw.ocr_result_ttl_seconds, 60..=366 * 86_400),
    ];
    for (key, value, range) in ranges {
        if !range.contains(&value) {
            return Err(invalid(key, format!("{value} is out of range ({}–{})", range.start(), range.end())));
        }
    }
    let alipay_gateway_url = url::Url::parse(&raw.alipay_gateway_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| invalid("alipay_gateway_url", format!("{:?} is not an http(s) URL", raw.alipay_gateway_url)))?;
    let present = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let alipay_app_id = present(raw.alipay_app_id);
    if alipay_app_id.as_ref().is_some_and(|id| !id.chars().all(|c| c.is_ascii_digit())) {
        return Err(invalid("alipay_app_id", "must be Alipay's numeric app id".into()));
    }
    let alipay_seller_id = present(raw.alipay_seller_id);
    if alipay_seller_id
        .as_ref()
        .is_some_and(|id| !(id.len() == 16 && id.starts_with("2088") && id.chars().all(|c| c.is_ascii_digit())))
    {
        return Err(invalid("alipay_seller_id", "must be Alipay's 16-digit account id (2088…)".into()));
    }
    let alipay_private_key = present(raw.alipay_private_key);
    let alipay_public_key = present(raw.alipay_public_key);
    let alipay_set = [alipay_app_id.is_some(), alipay_private_key.is_some(), alipay_public_key.is_some()];
    if alipay_set.iter().any(|s| *s) && !alipay_set.iter().all(|s| *s) {
        let names = ["alipay_app_id", "alipay_private_key", "alipay_public_key"];
        let set = names.iter().zip(alipay_set).find(|(_, s)| *s).map(|(n, _)| *n).unwrap_or("alipay_app_id");
        let missing: Vec<&str> = names.iter().zip(alipay_set).filter(|(_, s)| !s).map(|(n, _)| *n).collect();
        return Err(invalid(set, format!("{} not set: set the app id and both keys, or none", missing.join(" and "))));
    }
    if !(1..=7 * 86_400).contains(&raw.order_expiry_seconds) {
        return Err(invalid(
            "order_expiry_seconds",
            format!("{} is out of range (1–604800)", raw.order_expiry_seconds),
        ));
    }
    for (key, rate) in [
        ("sandbox_orders_per_minute", raw.sandbox_orders_per_minute),
        ("sandbox_ocr_per_minute", raw.sandbox_ocr_per_minute),
    ] {
        if !(0.0..=600.0).contains(&rate) {
            return Err(invalid(key, format!("{rate} is out of range (0–600 per minute; 0 turns it off)")));
        }
    }
    if !(0.0..=1.0).contains(&raw.sandbox_pay_ratio) {
        return Err(invalid("sandbox_pay_ratio", format!("{} is out of range (0–1)", raw.sandbox_pay_ratio)));
    }
    if !(10..=86_400).contains(&raw.sandbox_order_expiry_seconds) {
        return Err(invalid(
            "sandbox_order_expiry_seconds",
            format!("{} is out of range (10–86400)", raw.sandbox_order_expiry_seconds),
        ));
    }
    if !(1..=3600).contains(&raw.expiry_lease_seconds) {
        return Err(invalid("expiry_lease_seconds", format!("{} is out of range (1–3600)", raw.expiry_lease_seconds)));
    }
    if !(1..=512).contains(&raw.expiry_concurrency) {
        return Err(invalid("expiry_concurrency", format!("{} is out of range (1–512)", raw.expiry_concurrency)));
    }
    let token_key = secret("token_key", raw.token_key.clone())?;
    if let Some(key) = &token_key {
        crate::accounts::crypto::TokenCipher::from_base64(key.expose_secret())
            .map_err(|reason| invalid("token_key", reason))?;
    }
    let api_token = secret("api_token", raw.api_token.clone())?;
    let metrics_token = secret("metrics_token", raw.metrics_token.clone())?;
    let http_ranges: [(&str, u64, std::ops::RangeInclusive<u64>); 4] = [
        ("http_header_timeout_ms", raw.http_header_timeout_ms, 100..=600_000),
        ("http_body_timeout_ms", raw.http_body_timeout_ms, 100..=600_000),
        ("http_max_connections", raw.http_max_connections.into(), 1..=100_000),
        ("http_open_per_ip_per_second", raw.http_open_per_ip_per_second.into(), 1..=100_000),
    ];
    for (key, value, range) in http_ranges {
        if !range.contains(&value) {
            return Err(invalid(key, format!("{value} is out of range ({}–{})", range.start(), range.end())));
        }
    }
    let http = HttpLimits {
        header_timeout: Duration::from_millis(raw.http_header_timeout_ms),
        body_timeout: Duration::from_millis(raw.http_body_timeout_ms),
        max_connections: raw.http_max_connections,
        open_per_ip_per_second: raw.http_open_per_ip_per_second,
    };
    for (key, token) in [("api_token", &api_token), ("metrics_token", &metrics_token)] {
        if token.as_ref().is_some_and(|token| token.expose_secret().chars().count() < MIN_API_TOKEN_CHARS) {
            return Err(invalid(
                key,
                format!("is too short: use at least {MIN_API_TOKEN_CHARS} characters (`openssl rand -base64 32`)"),
            ));
        }
    }
    let staff_default_role = match raw.staff_default_role.trim() {
        "" | "none" => None,
        role => Some(role.parse::<crate::accounts::Role>().map_err(|reason| invalid("staff_default_role", reason))?),
    };
    let staff_allow = crate::accounts::model::parse_staff_allow(raw.staff_allow.as_deref().unwrap_or_default())
        .map_err(|reason| invalid("staff_allow", reason))?;
    let bootstrap_admin =
        match crate::accounts::model::parse_staff_allow(raw.bootstrap_admin.as_deref().unwrap_or_default())
            .map_err(|reason| invalid("bootstrap_admin", reason))?
            .as_slice()
        {
            [] => None,
            [one] => Some(one.clone()),
            _ => return Err(invalid("bootstrap_admin", "names one sign-in (`provider:uid`), not several".into())),
        };
    if !(30..=3600).contains(&raw.oauth_state_ttl_seconds) {
        return Err(invalid(
            "oauth_state_ttl_seconds",
            format!("{} is out of range (30–3600)", raw.oauth_state_ttl_seconds),
        ));
    }
    Ok(Config {
        oauth,
        token_key,
        api_token,
        metrics_token,
        http,
        staff_default_role,
        staff_allow,
        bootstrap_admin,
        oauth_state_ttl: Duration::from_secs(raw.oauth_state_ttl_seconds),
        alipay_gateway_url: alipay_gateway_url.to_string(),
        alipay_app_id,
        alipay_private_key: alipay_private_key.map(SecretString::from),
        alipay_public_key,
        alipay_seller_id,
        alipay_sandbox: false,
        order_expiry: Duration::from_secs(raw.order_expiry_seconds),
        expiry_lease: Duration::from_secs(raw.expiry_lease_seconds),
        expiry_concurrency: raw.expiry_concurrency,
        scheduler_enabled: raw.scheduler_enabled,
        sandbox_mode: false,
        shop: ShopSettings {
            enabled: raw.sandbox_shop,
            orders_per_minute: raw.sandbox_orders_per_minute,
            ocr_per_minute: raw.sandbox_ocr_per_minute,
            pay_ratio: raw.sandbox_pay_ratio,
            order_expiry: Duration::from_secs(raw.sandbox_order_expiry_seconds),
        },
        baidu_url: baidu_url.as_str().trim_end_matches('/').to_string(),
        baidu_api_key,
        baidu_secret_key,
        baidu_sandbox: false,
        ocr_qps: raw.ocr_qps,
        ocr_concurrency: raw.ocr_concurrency,
        ocr_max_attempts: raw.ocr_max_attempts,
        ocr_max_deliveries: raw.ocr_max_deliveries,
        ocr_lease: Duration::from_millis(raw.ocr_lease_ms),
        ocr_backoff: Duration::from_millis(raw.ocr_backoff_ms),
        ocr_result_ttl: Duration::from_secs(raw.ocr_result_ttl_seconds),
        data_dir: raw.data_dir,
        database_url,
        redis_url,
        redis_prefix: raw.redis_prefix,
        timezone,
        health_interval: Duration::from_millis(raw.health_interval_ms),
        health_timeout: Duration::from_millis(raw.health_timeout_ms),
        log: raw.log,
        run_retention: Duration::from_secs(raw.run_retention_hours * 3600),
        sources,
    })
}

type Invalid<'a> = dyn Fn(&str, String) -> ConfigError + 'a;
type Secret<'a> = dyn Fn(&str, Option<String>) -> Result<Option<SecretString>, ConfigError> + 'a;

/// The sign-in providers: each one's URLs must be http(s); a client is all of id, secret and
/// redirect URI, or none of them.
fn validate_oauth(raw: &RawConfig, invalid: &Invalid<'_>, secret: &Secret<'_>) -> Result<OAuthSettings, ConfigError> {
    let http_url = |key: &str, value: &str| -> Result<String, ConfigError> {
        url::Url::parse(value)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .map(|u| u.as_str().trim_end_matches('/').to_string())
            .ok_or_else(|| invalid(key, format!("{value:?} is not an http(s) URL")))
    };
    let present = |v: &Option<String>| v.as_ref().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    // (id key, id, secret key, secret, redirect key, redirect): all or nothing.
    let client = |keys: [&str; 3],
                  id: &Option<String>,
                  secret_value: &Option<String>,
                  redirect: &Option<String>,
                  secret_required: bool|
     -> Result<Option<OAuthClient>, ConfigError> {
        let id = present(id);
        let client_secret = secret(keys[1], secret_value.clone())?;
        let redirect = present(redirect);
        let set = [id.is_some(), client_secret.is_some() || !secret_required, redirect.is_some()];
        let any = id.is_some() || client_secret.is_some() || redirect.is_some();
        if !any {
            return Ok(None);
        }
        if !set.iter().all(|s| *s) {
            let missing: Vec<&str> = keys.iter().zip(set).filter(|(_, s)| !s).map(|(k, _)| *k).collect();
            let first_set = keys.iter().zip(set).find(|(_, s)| *s).map(|(k, _)| *k).unwrap_or(keys[0]);
            return Err(invalid(
                first_set,
                format!("{} not set: set {}, or none of them", missing.join(" and "), keys.join(", ")),
            ));
        }
        let redirect = redirect.unwrap_or_default();
        let redirect = url::Url::parse(&redirect)
            .ok()
            .filter(|u| u.host().is_some() || u.scheme() != "http" && u.scheme() != "https")
            .ok_or_else(|| invalid(keys[2], format!("{redirect:?} is not an absolute URL")))?;
        Ok(Some(OAuthClient { client_id: id.unwrap_or_default(), client_secret, redirect_uri: redirect.to_string() }))
    };
    let provider = |keys: [&str; 3],
                    id: &Option<String>,
                    sec: &Option<String>,
                    redirect: &Option<String>,
                    urls: [(&str, &str); 2]|
     -> Result<ProviderSettings, ConfigError> {
        Ok(ProviderSettings {
            authorize_url: http_url(urls[0].0, urls[0].1)?,
            api_url: http_url(urls[1].0, urls[1].1)?,
            client: client(keys, id, sec, redirect, true)?,
            sandbox: false,
        })
    };
    let weibo = provider(
        ["weibo_client_id", "weibo_client_secret", "weibo_redirect_uri"],
        &raw.weibo_client_id,
        &raw.weibo_client_secret,
        &raw.weibo_redirect_uri,
        [("weibo_url", &raw.weibo_url), ("weibo_url", &raw.weibo_url)],
    )?;
    let qq = provider(
        ["qq_client_id", "qq_client_secret", "qq_redirect_uri"],
        &raw.qq_client_id,
        &raw.qq_client_secret,
        &raw.qq_redirect_uri,
        [("qq_url", &raw.qq_url), ("qq_url", &raw.qq_url)],
    )?;
    let wechat = provider(
        ["wechat_app_id", "wechat_app_secret", "wechat_redirect_uri"],
        &raw.wechat_app_id,
        &raw.wechat_app_secret,
        &raw.wechat_redirect_uri,
        [("wechat_open_url", &raw.wechat_open_url), ("wechat_api_url", &raw.wechat_api_url)],
    )?;
    let dingtalk = provider(
        ["dingtalk_client_id", "dingtalk_client_secret", "dingtalk_redirect_uri"],
        &raw.dingtalk_client_id,
        &raw.dingtalk_client_secret,
        &raw.dingtalk_redirect_uri,
        [("dingtalk_login_url", &raw.dingtalk_login_url), ("dingtalk_api_url", &raw.dingtalk_api_url)],
    )?;
    let oidc_client = client(
        ["oidc_client_id", "oidc_client_secret", "oidc_redirect_uri"],
        &raw.oidc_client_id,
        &raw.oidc_client_secret,
        &raw.oidc_redirect_uri,
        false,
    )?;
    let oidc = match (present(&raw.oidc_issuer_url), oidc_client) {
        (None, None) => None,
        (Some(issuer), Some(client)) => Some(OidcSettings {
            name: if raw.oidc_name.trim().is_empty() {
                "OpenID Connect".into()
            } else {
                raw.oidc_name.trim().to_string()
            },
            // Kept exactly as given: the discovery document must name the same issuer.
            issuer_url: http_url("oidc_issuer_url", &issuer).map(|_| issuer.clone())?,
            client,
        }),
        (Some(_), None) => {
            return Err(invalid(
                "oidc_issuer_url",
                "oidc_client_id and oidc_redirect_uri not set: set them too, or no OpenID Connect key".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "oidc_client_id",
                "oidc_issuer_url not set: set it too, or no OpenID Connect key".into(),
            ));
        }
    };
    Ok(OAuthSettings { weibo, qq, wechat, dingtalk, oidc })
}

/// A connection URL that may hold a password: printing it (Debug or Display) masks the password
/// of the userinfo and the value of every query parameter whose name says it is a secret
/// ([`is_secret_parameter`]: `password`, `pass`, `token`, `secret`, `key`, …).
#[derive(Clone)]
pub struct SecretUrl {
    secret: SecretString,
    masked: String,
    scheme: String,
}

impl SecretUrl {
    pub fn parse(raw: &str) -> Result<SecretUrl, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        let mut shown = url.clone();
        if url.password().is_some() {
            // Only fails for cannot-be-a-base URLs, which have no password to mask.
            let _ = shown.set_password(Some("****"));
        }
        if url.query_pairs().any(|(name, _)| is_secret_parameter(&name)) {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(name, value)| {
                    let value = if is_secret_parameter(&name) { "****".to_string() } else { value.into_owned() };
                    (name.into_owned(), value)
                })
                .collect();
            shown.query_pairs_mut().clear().extend_pairs(pairs);
        }
        Ok(SecretUrl {
            secret: SecretString::from(raw.to_string()),
            masked: shown.to_string(),
            scheme: url.scheme().to_string(),
        })
    }

    /// The real URL, for the one place that connects with it.
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }
}

/// Whether a URL's query parameter of this name holds a secret (case and `-`/`_` ignored): any
/// name containing `pass` (`password`, `passwd`, `redis_pass`), `pwd`, `token`, `secret`, `key`
/// (`api_key`, `sslkey`: a path, masked all the same), `auth`, `credential` or `signature`.
pub fn is_secret_parameter(name: &str) -> bool {
    let name: String = name.chars().filter(|c| !matches!(c, '-' | '_' | '.')).collect::<String>().to_ascii_lowercase();
    ["pass", "pwd", "token", "secret", "key", "auth", "credential", "signature"].iter().any(|word| name.contains(word))
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.masked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_string_secrets_are_masked() {
        let url = SecretUrl::parse(
            "mysql://opsdeck:hunter2@db.example:3306/shop?ssl-mode=REQUIRED&password=s3cr3t&Pass=p1&auth_token=t0k&api-key=k3y&client_secret=c5",
        )
        .unwrap();
        let shown = url.to_string();
        for secret in ["hunter2", "s3cr3t", "p1", "t0k", "k3y", "c5"] {
            assert!(!shown.contains(secret), "{secret} printed in {shown}");
            assert!(!format!("{url:?}").contains(secret), "{secret} printed by Debug");
        }
        assert!(shown.contains("ssl-mode=REQUIRED"), "other parameters stay: {shown}");
        assert!(shown.contains("password=****") && shown.contains("api-key=****"), "{shown}");
        assert!(url.expose().contains("password=s3cr3t"), "the connection still gets the real URL");
    }

    #[test]
    fn a_url_without_secrets_prints_as_given() {
        let url = SecretUrl::parse("redis://127.0.0.1:6379/0?protocol=resp3").unwrap();
        assert_eq!(url.to_string(), "redis://127.0.0.1:6379/0?protocol=resp3");
        let url = SecretUrl::parse("redis://127.0.0.1:6379/0?pass=x%20y").unwrap();
        assert_eq!(url.to_string(), "redis://127.0.0.1:6379/0?pass=****");
    }

    #[test]
    fn secret_parameter_names() {
        for name in
            ["password", "PASSWORD", "pass", "passwd", "pwd", "token", "access_token", "secret", "key", "sslkey"]
        {
            assert!(is_secret_parameter(name), "{name}");
        }
        for name in ["mode", "ssl-mode", "timeout", "charset", "protocol", "db"] {
            assert!(!is_secret_parameter(name), "{name}");
        }
    }
}
