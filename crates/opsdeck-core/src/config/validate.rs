//! From the merged layers to a [`Config`]: each value parsed and checked as its declaration says
//! ([`Values`]), then the checks between keys (pairs that are set together) and the assembly.
//!
//! The checks of one text value are the `fn`s below, named by the declarations in
//! [`table`](super::table).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use figment::value::{Dict, Num, Value};
use secrecy::SecretString;

use super::keys::{self, Kind};
use super::{Config, ConfigError, HttpLimits, MIN_API_TOKEN_CHARS, SecretUrl, ShopSettings, TlsFiles};

/// The merged values, read by key: each parsed and checked by its declaration, and a refusal that
/// names the key, where the value came from and what a good one looks like.
pub(super) struct Values<'a> {
    raw: Dict,
    sources: &'a BTreeMap<&'static str, String>,
    /// The keys read so far: every declared key must be (a key nobody reads would be ignored).
    read: RefCell<BTreeSet<&'static str>>,
}

impl<'a> Values<'a> {
    pub(super) fn new(raw: Dict, sources: &'a BTreeMap<&'static str, String>) -> Self {
        Values { raw, sources, read: RefCell::default() }
    }

    /// A refusal of `key`'s value for `reason`.
    pub(super) fn invalid(&self, key: &str, reason: String) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_string(),
            origin: self.sources.get(key).cloned().unwrap_or_else(|| "default".into()),
            reason,
        }
    }

    /// A refusal of a bad value, ending with what a good one looks like.
    fn refuse(&self, key: &keys::Key, reason: String) -> ConfigError {
        self.invalid(key.name, format!("{reason}; {}", key.expect))
    }

    fn get(&self, name: &str, kind: fn(&Kind) -> bool) -> (&'static keys::Key, Option<&Value>) {
        let key = keys::declared(name);
        assert!(kind(&key.kind), "configuration key `{name}` is read as another kind than its declaration's");
        self.read.borrow_mut().insert(key.name);
        (key, self.raw.get(name))
    }

    /// A whole number within the declared range.
    pub(super) fn int(&self, name: &str) -> Result<u64, ConfigError> {
        let (key, value) = self.get(name, |k| matches!(k, Kind::Int { .. }));
        let Kind::Int { min, max } = key.kind else { unreachable!() };
        let n: i128 = match value {
            Some(Value::Num(_, n)) if n.to_u128_lossy().is_some() || n.to_i128().is_some() => {
                n.to_u128_lossy().map(|n| n.min(i128::MAX as u128) as i128).or(n.to_i128()).unwrap_or_default()
            }
            Some(Value::String(_, s)) if s.trim().parse::<i128>().is_ok() => s.trim().parse().unwrap_or_default(),
            other => return Err(self.refuse(key, format!("{} is not a whole number", shown(key, other)))),
        };
        if n < i128::from(min) || n > i128::from(max) {
            return Err(self.refuse(key, format!("{n} is out of range ({min}–{max})")));
        }
        Ok(n as u64)
    }

    /// A number within the declared range.
    pub(super) fn float(&self, name: &str) -> Result<f64, ConfigError> {
        let (key, value) = self.get(name, |k| matches!(k, Kind::Float { .. }));
        let Kind::Float { min, max } = key.kind else { unreachable!() };
        let x = match value {
            Some(Value::Num(_, n)) => number(*n),
            Some(Value::String(_, s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let Some(x) = x else {
            return Err(self.refuse(key, format!("{} is not a number", shown(key, value))));
        };
        if !(x.is_finite() && (min..=max).contains(&x)) {
            return Err(self.refuse(key, format!("{x} is out of range ({min}–{max})")));
        }
        Ok(x)
    }

    /// `true` or `false`.
    pub(super) fn bool(&self, name: &str) -> Result<bool, ConfigError> {
        let (key, value) = self.get(name, |k| matches!(k, Kind::Bool));
        match value {
            Some(Value::Bool(_, b)) => Ok(*b),
            Some(Value::String(_, s)) if matches!(s.trim(), "true" | "false") => Ok(s.trim() == "true"),
            other => Err(self.refuse(key, format!("{} is not true or false", shown(key, other)))),
        }
    }

    /// A key with a default: its text as given, checked.
    pub(super) fn text(&self, name: &str) -> Result<String, ConfigError> {
        let (key, value) = self.get(name, |k| matches!(k, Kind::Text(_)));
        let text = self.as_text(key, value)?.ok_or_else(|| self.refuse(key, "is not set".into()))?;
        self.check(key, &text)?;
        Ok(text)
    }

    /// A key that may be unset: its text trimmed (empty: unset), checked.
    pub(super) fn optional(&self, name: &str) -> Result<Option<String>, ConfigError> {
        let (key, value) = self.get(name, |k| matches!(k, Kind::Text(_)));
        let Some(text) = self.as_text(key, value)?.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        self.check(key, &text)?;
        Ok(Some(text))
    }

    /// A secret that may be unset.
    pub(super) fn secret(&self, name: &str) -> Result<Option<SecretString>, ConfigError> {
        debug_assert!(keys::declared(name).secret, "`{name}` is not declared secret");
        Ok(self.optional(name)?.map(SecretString::from))
    }

    /// A text key's value parsed into its type (its check has passed, so this does too).
    pub(super) fn parsed<T>(
        &self,
        name: &str,
        text: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        parse(text).map_err(|reason| self.refuse(keys::declared(name), reason))
    }

    fn check(&self, key: &keys::Key, text: &str) -> Result<(), ConfigError> {
        let Kind::Text(check) = key.kind else { unreachable!() };
        check(text).map_err(|reason| self.refuse(key, reason))
    }

    /// Text, or a number or `true`/`false` as text (the environment layer reads all-digit ids and
    /// tokens as numbers).
    fn as_text(&self, key: &keys::Key, value: Option<&Value>) -> Result<Option<String>, ConfigError> {
        Ok(match value {
            None | Some(Value::Empty(..)) => None,
            Some(Value::String(_, s)) => Some(s.clone()),
            Some(Value::Char(_, c)) => Some(c.to_string()),
            Some(Value::Bool(_, b)) => Some(b.to_string()),
            Some(Value::Num(_, n)) => Some(number_text(*n)),
            Some(other) => return Err(self.refuse(key, format!("{} is not text", shown(key, Some(other))))),
        })
    }

    /// The declared keys no code read.
    pub(super) fn unread(&self) -> Vec<&'static str> {
        let read = self.read.borrow();
        keys::all().map(|k| k.name).filter(|name| !read.contains(name)).collect()
    }
}

/// A value as a refusal shows it: never a secret's.
fn shown(key: &keys::Key, value: Option<&Value>) -> String {
    match value {
        _ if key.secret => "the value".into(),
        None | Some(Value::Empty(..)) => "nothing".into(),
        Some(Value::String(_, s)) => format!("{s:?}"),
        Some(Value::Char(_, c)) => format!("{:?}", c.to_string()),
        Some(Value::Bool(_, b)) => b.to_string(),
        Some(Value::Num(_, n)) => number_text(*n),
        Some(Value::Dict(..)) => "a table".into(),
        Some(Value::Array(..)) => "a list".into(),
    }
}

fn number(n: Num) -> Option<f64> {
    n.to_f64().or(n.to_u128_lossy().map(|n| n as f64)).or(n.to_i128().map(|n| n as f64))
}

fn number_text(n: Num) -> String {
    match (n.to_u128_lossy(), n.to_i128(), n.to_f64()) {
        (Some(u), _, _) => u.to_string(),
        (None, Some(i), _) => i.to_string(),
        (None, None, Some(x)) => x.to_string(),
        (None, None, None) => String::new(),
    }
}

// The checks of one text value (named by the declarations). A reason never holds a secret.

/// `https://…`, or `http://` to a loopback address (nothing else crosses a network unencrypted).
pub(super) fn server_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err("plain http:// is allowed only to a loopback address; use https://".into()),
        other => return Err(format!("unsupported scheme `{other}:` (use https://)")),
    }
    if url.host().is_none() {
        return Err("names no host".into());
    }
    Ok(())
}

/// True when `url`'s host is a loopback address (`127.0.0.0/8`, `::1`) or `localhost`.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

pub(super) fn not_empty(text: &str) -> Result<(), String> {
    if text.is_empty() { Err("must not be empty".into()) } else { Ok(()) }
}

pub(super) fn database_url(text: &str) -> Result<(), String> {
    match SecretUrl::parse(text)?.scheme() {
        "sqlite" | "mysql" | "mariadb" => Ok(()),
        other => Err(format!("unsupported scheme `{other}:` (use sqlite:, mysql: or mariadb:)")),
    }
}

pub(super) fn redis_url(text: &str) -> Result<(), String> {
    let url = SecretUrl::parse(text)?;
    match url.scheme() {
        "redis" | "rediss" | "unix" | "redis+unix" => {}
        other => return Err(format!("unsupported scheme `{other}:` (use redis://, rediss:// or unix://)")),
    }
    redis::Client::open(url.expose()).map(|_| ()).map_err(|e| e.to_string())
}

pub(super) fn redis_prefix(text: &str) -> Result<(), String> {
    let ok =
        !text.is_empty() && text.len() <= 64 && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
    if ok {
        return Ok(());
    }
    Err(format!("{text:?} is not a key prefix: use 1–64 characters from A–Z, a–z, 0–9, `_`, `-`, `.`, `:`"))
}

fn parse_timezone(text: &str) -> Result<Tz, String> {
    text.parse().map_err(|_| format!("unknown time zone {text:?}"))
}

pub(super) fn timezone(text: &str) -> Result<(), String> {
    parse_timezone(text).map(|_| ())
}

pub(super) fn log_filter(text: &str) -> Result<(), String> {
    match tracing_subscriber::EnvFilter::try_new(text) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{text:?} is not a log filter: {e}")),
    }
}

/// An http(s) URL with a host; kept without a trailing `/`.
pub(super) fn http_url(text: &str) -> Result<(), String> {
    normal_http_url(text).map(|_| ())
}

pub(super) fn normal_http_url(text: &str) -> Result<String, String> {
    url::Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .map(|u| u.as_str().trim_end_matches('/').to_string())
        .ok_or_else(|| format!("{text:?} is not an http(s) URL"))
}

/// An absolute URL (an app's own scheme too, for a redirect URI).
pub(super) fn absolute_url(text: &str) -> Result<(), String> {
    normal_absolute_url(text).map(|_| ())
}

pub(super) fn normal_absolute_url(text: &str) -> Result<String, String> {
    url::Url::parse(text)
        .ok()
        .filter(|u| u.host().is_some() || u.scheme() != "http" && u.scheme() != "https")
        .map(|u| u.to_string())
        .ok_or_else(|| format!("{text:?} is not an absolute URL"))
}

pub(super) fn no_spaces(text: &str) -> Result<(), String> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    Ok(())
}

pub(super) fn token(text: &str) -> Result<(), String> {
    no_spaces(text)?;
    if text.chars().count() < MIN_API_TOKEN_CHARS {
        return Err(format!("is too short: use at least {MIN_API_TOKEN_CHARS} characters"));
    }
    Ok(())
}

pub(super) fn token_key(text: &str) -> Result<(), String> {
    no_spaces(text)?;
    crate::accounts::crypto::TokenCipher::from_base64(text).map(|_| ())
}

pub(super) fn digits(text: &str) -> Result<(), String> {
    if text.chars().all(|c| c.is_ascii_digit()) { Ok(()) } else { Err("must be Alipay's numeric app id".into()) }
}

pub(super) fn seller_id(text: &str) -> Result<(), String> {
    if text.len() == 16 && text.starts_with("2088") && text.chars().all(|c| c.is_ascii_digit()) {
        return Ok(());
    }
    Err("must be Alipay's 16-digit account id (2088…)".into())
}

fn parse_role(text: &str) -> Result<Option<crate::accounts::Role>, String> {
    match text.trim() {
        "" | "none" => Ok(None),
        role => role.parse::<crate::accounts::Role>().map(Some).map_err(|reason| reason.to_string()),
    }
}

pub(super) fn role(text: &str) -> Result<(), String> {
    parse_role(text).map(|_| ())
}

type SignIn = (crate::accounts::model::ProviderKey, String);

fn parse_staff_allow(text: &str) -> Result<Vec<SignIn>, String> {
    crate::accounts::model::parse_staff_allow(text)
}

pub(super) fn staff_allow(text: &str) -> Result<(), String> {
    parse_staff_allow(text).map(|_| ())
}

fn parse_bootstrap_admin(text: &str) -> Result<Option<SignIn>, String> {
    match parse_staff_allow(text)?.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err("names one sign-in (`provider:uid`), not several".into()),
    }
}

pub(super) fn bootstrap_admin(text: &str) -> Result<(), String> {
    parse_bootstrap_admin(text).map(|_| ())
}

/// Every value parsed and checked, then the checks between keys, then the [`Config`].
pub(super) fn validate(values: &Values<'_>, sources: BTreeMap<&'static str, String>) -> Result<Config, ConfigError> {
    let data_dir = PathBuf::from(values.text("data_dir")?);
    let database_url = values
        .optional("database_url")?
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("opsdeck.db").display()));
    // The derived default passes the same check as a configured URL.
    let database_url = values.parsed("database_url", &database_url, |url| {
        self::database_url(url)?;
        SecretUrl::parse(url)
    })?;
    let redis_url = values.text("redis_url")?;
    let redis_url = SecretUrl::parse(&redis_url).map_err(|reason| values.invalid("redis_url", reason))?;
    let timezone = values.parsed("timezone", &values.text("timezone")?, parse_timezone)?;

    let baidu_url = values.parsed("baidu_url", &values.text("baidu_url")?, normal_http_url)?;
    let baidu_api_key = values.secret("baidu_api_key")?;
    let baidu_secret_key = values.secret("baidu_secret_key")?;
    if baidu_api_key.is_some() != baidu_secret_key.is_some() {
        let (set, missing) = if baidu_api_key.is_some() {
            ("baidu_api_key", "baidu_secret_key")
        } else {
            ("baidu_secret_key", "baidu_api_key")
        };
        return Err(values
            .invalid(set, format!("{missing} is not set: set both baidu_api_key and baidu_secret_key, or neither")));
    }

    let alipay_gateway_url = values.parsed("alipay_gateway_url", &values.text("alipay_gateway_url")?, |url| {
        url::Url::parse(url).map(|u| u.to_string()).map_err(|e| e.to_string())
    })?;
    let alipay_app_id = values.optional("alipay_app_id")?;
    let alipay_private_key = values.optional("alipay_private_key")?;
    let alipay_public_key = values.optional("alipay_public_key")?;
    super::providers::all_or_none(
        values,
        ["alipay_app_id", "alipay_private_key", "alipay_public_key"],
        [alipay_app_id.is_some(), alipay_private_key.is_some(), alipay_public_key.is_some()],
        "set the app id and both keys, or none",
    )?;

    let oauth = super::providers::validate_oauth(values)?;
    let staff_default_role = values.parsed("staff_default_role", &values.text("staff_default_role")?, parse_role)?;
    let staff_allow = values.optional("staff_allow")?.unwrap_or_default();
    let bootstrap_admin = values.optional("bootstrap_admin")?.unwrap_or_default();
    let ms = |name: &str| values.int(name).map(Duration::from_millis);
    let secs = |name: &str| values.int(name).map(Duration::from_secs);
    let tls = match (values.optional("tls_cert")?, values.optional("tls_key")?) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert: PathBuf::from(cert), key: PathBuf::from(key) }),
        (None, None) => None,
        (Some(_), None) => return Err(values.invalid("tls_cert", "tls_key is not set: set both, or neither".into())),
        (None, Some(_)) => return Err(values.invalid("tls_key", "tls_cert is not set: set both, or neither".into())),
    };
    let config = Config {
        data_dir,
        database_url,
        redis_url,
        redis_prefix: values.text("redis_prefix")?,
        timezone,
        health_interval: ms("health_interval_ms")?,
        health_timeout: ms("health_timeout_ms")?,
        log: values.text("log")?,
        run_retention: Duration::from_secs(values.int("run_retention_hours")? * 3600),
        baidu_url,
        baidu_api_key,
        baidu_secret_key,
        baidu_sandbox: false,
        ocr_qps: values.float("ocr_qps")?,
        ocr_concurrency: values.int("ocr_concurrency")? as u32,
        ocr_max_attempts: values.int("ocr_max_attempts")? as u32,
        ocr_max_deliveries: values.int("ocr_max_deliveries")? as u32,
        ocr_lease: ms("ocr_lease_ms")?,
        ocr_backoff: ms("ocr_backoff_ms")?,
        ocr_result_ttl: secs("ocr_result_ttl_seconds")?,
        alipay_gateway_url,
        alipay_app_id,
        alipay_private_key: alipay_private_key.map(SecretString::from),
        alipay_public_key,
        alipay_seller_id: values.optional("alipay_seller_id")?,
        alipay_sandbox: false,
        order_expiry: secs("order_expiry_seconds")?,
        expiry_lease: secs("expiry_lease_seconds")?,
        expiry_concurrency: values.int("expiry_concurrency")? as u32,
        scheduler_enabled: values.bool("scheduler_enabled")?,
        job_stop_grace: secs("job_stop_grace_seconds")?,
        sandbox_mode: false,
        sandbox_callback_base: None,
        shop: ShopSettings {
            enabled: values.bool("sandbox_shop")?,
            orders_per_minute: values.float("sandbox_orders_per_minute")?,
            ocr_per_minute: values.float("sandbox_ocr_per_minute")?,
            pay_ratio: values.float("sandbox_pay_ratio")?,
            order_expiry: secs("sandbox_order_expiry_seconds")?,
        },
        oauth,
        token_key: values.secret("token_key")?,
        api_token: values.secret("api_token")?,
        metrics_token: values.secret("metrics_token")?,
        http: HttpLimits {
            header_timeout: ms("http_header_timeout_ms")?,
            body_timeout: ms("http_body_timeout_ms")?,
            max_connections: values.int("http_max_connections")? as u32,
            open_per_ip_per_second: values.int("http_open_per_ip_per_second")? as u32,
            events_heartbeat: ms("events_heartbeat_ms")?,
        },
        tls,
        session_idle: Duration::from_secs(values.int("session_idle_minutes")? * 60),
        session_max_age: Duration::from_secs(values.int("session_max_age_hours")? * 3600),
        server_url: values.optional("server_url")?,
        server_ca: values.optional("server_ca")?.map(PathBuf::from),
        staff_default_role,
        staff_allow: values.parsed("staff_allow", &staff_allow, parse_staff_allow)?,
        bootstrap_admin: values.parsed("bootstrap_admin", &bootstrap_admin, parse_bootstrap_admin)?,
        oauth_state_ttl: secs("oauth_state_ttl_seconds")?,
        sources,
    };
    debug_assert!(values.unread().is_empty(), "declared but never read: {:?}", values.unread());
    Ok(config)
}
