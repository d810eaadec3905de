//! Layered, typed configuration: built-in defaults → a TOML file → `OPSDECK_…` environment
//! variables, validated once at start-up.
//!
//! Every key is declared once, in [`table`] (its name, default, whether it is secret, what a value
//! must be, its description): the loader, the validation, `opsdeckd check-config` and the generated
//! `docs/configuration.md` all come from that declaration. Every key can be set in the file
//! (`database_url = "…"`) and overridden by the environment (`OPSDECK_DATABASE_URL`). A bad value
//! stops start-up with a [`ConfigError`] that names the key, its environment variable, where the
//! value came from, and what a good value looks like. Connection URLs may carry passwords, so they
//! are kept as [`SecretUrl`]s whose `Debug`/`Display` mask the password.
//!
//! - `keys.rs`: what a key is made of; what is made from the declarations (defaults, docs).
//! - `table.rs`, `table_sign_in.rs`: the declarations.
//! - `validate.rs`: each value parsed and checked by its declaration, the checks between keys.
//! - `providers.rs`: the sign-in providers' settings, each provider's status, the sandbox switch.
//! - `status.rs`: [`ProviderStatus`] and [`DatabaseBackend`], as the front ends show them.
//! - `secret_url.rs`: [`SecretUrl`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::Dict;
use secrecy::SecretString;

pub mod keys;
mod providers;
mod secret_url;
mod status;
mod table;
mod table_sign_in;
mod validate;

// The module's surface (public with the core's `internals` feature; the crate uses a part).
#[allow(unused_imports)]
pub use keys::{Key, env_var};
#[allow(unused_imports)]
pub use providers::{OAuthClient, OAuthSettings, OidcSettings, ProviderSettings};
#[allow(unused_imports)]
pub use secret_url::{SecretUrl, is_secret_parameter};
#[allow(unused_imports)]
pub use status::{DatabaseBackend, ProviderState, ProviderStatus};

/// The shortest `api_token` (and `metrics_token`) accepted (a guessable token would open the
/// shop's intake API).
pub const MIN_API_TOKEN_CHARS: usize = 16;

/// Alipay's real gateway.
pub const ALIPAY_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";

/// Baidu's real endpoint.
pub const BAIDU_URL: &str = "https://aip.baidubce.com";

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
    /// How long a run stopped from the console may take to end by itself before it is abandoned.
    pub job_stop_grace: Duration,
    /// Every provider is a built-in fake (sandbox mode; set by the sandbox's start-up,
    /// `opsdeck_sandbox::launch`): the console says so, and the simulated shop may run.
    pub sandbox_mode: bool,
    /// Where this process serves its HTTP API (`https://127.0.0.1:8443`), set by `opsdeckd run
    /// --listen`, never configured: in sandbox mode the fake providers send sign-ins back to
    /// its `/api/v1/auth/callback/{provider}` (a desktop signing in through this server), not to
    /// the address a desktop's own sign-in window stops at.
    pub sandbox_callback_base: Option<String>,
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
    /// `tls_cert` and `tls_key`: the daemon serves HTTPS (None: plain HTTP).
    pub tls: Option<TlsFiles>,
    /// A staff session unused this long ends.
    pub session_idle: Duration,
    /// A staff session ends this long after its sign-in.
    pub session_max_age: Duration,
    /// The desktop only: the server to work against (remote mode); None: the embedded core.
    pub server_url: Option<String>,
    /// The desktop only: a CA certificate (PEM file) trusted for `server_url` besides the system roots.
    pub server_ca: Option<PathBuf>,
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
    /// `/api/v1/events` sends a heartbeat this often while nothing else is sent (≤ 15 s).
    pub events_heartbeat: Duration,
}

/// The daemon's certificate chain and key (PEM files): it serves HTTPS when they are set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `key`'s value (from `origin`: `default`, the file's path or the environment variable) was
    /// refused for `reason`.
    #[error("invalid configuration: `{key}` ({}): {reason}", from_where(key, origin))]
    Invalid { key: String, origin: String, reason: String },
    #[error("invalid configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// Where a refused value came from, and the key's environment variable when it did not come from
/// there: `from OPSDECK_OCR_QPS`, `from /etc/opsdeck.toml; environment variable OPSDECK_OCR_QPS`.
fn from_where(key: &str, origin: &str) -> String {
    let var = env_var(key);
    if key.is_empty() || origin == var {
        format!("from {origin}")
    } else {
        format!("from {origin}; environment variable {var}")
    }
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

    /// Merges the declared defaults, the optional file and the `OPSDECK_` environment, then
    /// parses and checks every key by its declaration.
    pub fn from_layers(default_data_dir: PathBuf, file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(keys::defaults(&default_data_dir)));
        if let Some(path) = file {
            check_file_keys(path)?;
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment
            .merge(Env::prefixed(keys::ENV_PREFIX).filter(|k| keys::find(&k.as_str().to_ascii_lowercase()).is_some()));
        let raw: Dict = figment.extract().map_err(|e| from_figment(&figment, e))?;
        let sources = keys::all().map(|key| (key.name, origin_of(&figment, key.name))).collect::<BTreeMap<_, _>>();
        validate::validate(&validate::Values::new(raw, &sources), sources.clone())
    }

    /// The command that writes `docs/configuration.md` ([`Config::docs_markdown`]).
    pub const DOCS_COMMAND: &str = keys::DOCS_COMMAND;

    /// `docs/configuration.md`: every key, its environment variable, default, whether it is
    /// secret and what it does, made from the declarations (`opsdeckd config-docs` prints it).
    pub fn docs_markdown() -> String {
        keys::docs_markdown()
    }

    pub fn database_backend(&self) -> DatabaseBackend {
        if self.database_url.scheme() == "sqlite" { DatabaseBackend::Sqlite } else { DatabaseBackend::Mysql }
    }

    /// The effective values, one `(key, value, origin)` per declared key in the declarations'
    /// order: what `opsdeckd check-config` prints. A secret shows only whether it is set
    /// (`****`, `(not set)`, or `(sandbox)` for a built-in fake's), never its value.
    pub fn effective(&self) -> Vec<(&'static str, String, String)> {
        keys::all()
            .map(|key| {
                let origin = self.sources.get(key.name).cloned().unwrap_or_default();
                let value = (key.show)(self);
                let shown = match (key.secret, value) {
                    (true, _) if origin == "sandbox" => "(sandbox)".to_string(),
                    (true, Some(_)) => "****".to_string(),
                    (false, Some(value)) => value,
                    (_, None) => "(not set)".to_string(),
                };
                (key.name, shown, origin)
            })
            .collect()
    }
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
    ConfigError::Invalid { key, origin, reason: error.kind.to_string() }
}

/// Rejects misspelt keys in the file: a typo must not silently fall back to a default.
fn check_file_keys(path: &Path) -> Result<(), ConfigError> {
    let file_error = |reason: String| ConfigError::File { path: path.to_path_buf(), reason };
    let table: BTreeMap<String, figment::value::Value> =
        Figment::from(Toml::file_exact(path)).extract().map_err(|e| file_error(e.to_string()))?;
    if let Some(unknown) = table.keys().find(|k| keys::find(k).is_none()) {
        let known: Vec<&str> = keys::all().map(|k| k.name).collect();
        return Err(file_error(format!("unknown key `{unknown}` (known keys: {})", known.join(", "))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_declared_once_with_its_help() {
        let mut names: Vec<&str> = keys::all().map(|k| k.name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a key is declared twice");
        for key in keys::all() {
            assert!(!key.help.is_empty() && !key.expect.is_empty(), "`{}` needs help and expect", key.name);
            assert!(key.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{}", key.name);
        }
    }

    #[test]
    fn the_provider_keys_are_declared() {
        let config = Config::from_layers(PathBuf::from("/tmp/opsdeck-unit"), None).unwrap();
        for provider in config.providers() {
            for key in provider.keys {
                assert!(keys::find(key).is_some(), "{}: `{key}` is not declared", provider.name);
            }
        }
    }
}
