//! The configuration keys, each declared once: name, default, whether it is secret, what a value
//! must be, a good value in plain words, what it does, and how `check-config` shows it. The
//! environment variable of a key is `OPSDECK_` and its name in capitals ([`Key::env_var`]).
//!
//! After an edit here, regenerate the documentation: `cargo run -p opsdeckd -- config-docs >
//! docs/configuration.md` (a test fails until it matches).

use super::keys::{Builtin, Key, Kind, Section};
use super::validate as check;
use super::{ALIPAY_GATEWAY, BAIDU_URL};

/// Every key, by section, in the order `check-config` prints them.
pub static SECTIONS: &[Section] = &[
    Section { title: "Storage and the core", keys: CORE },
    Section { title: "OCR (Baidu)", keys: OCR },
    Section { title: "Payments (Alipay) and order expiry", keys: ORDERS },
    Section { title: "Sandbox mode", keys: SANDBOX },
    Section { title: "Sign-in providers", keys: super::table_sign_in::SIGN_IN },
    Section { title: "Console staff", keys: STAFF },
    Section { title: "The daemon's HTTP API (`opsdeckd run --listen`)", keys: HTTP },
    Section { title: "The desktop against a server (remote mode)", keys: REMOTE },
];

/// Any text.
pub(super) const ANY: Kind = Kind::Text(|_| Ok(()));

/// Only whether a secret is set (the text is never shown).
pub(super) fn set<T>(value: Option<&T>) -> Option<String> {
    value.map(|_| String::new())
}

const CORE: &[Key] = &[
    Key {
        name: "data_dir",
        default: Builtin::Derived("`~/.local/share/opsdeck` (the platform's data directory)"),
        secret: false,
        kind: Kind::Text(check::not_empty),
        expect: "give a directory, e.g. /var/lib/opsdeck",
        help: "Where OpsDeck keeps its own files: the embedded SQLite database, the local Redis's files, the \
               generated API token.",
        show: |c| Some(c.data_dir.display().to_string()),
    },
    Key {
        name: "database_url",
        default: Builtin::Derived("`sqlite://<data_dir>/opsdeck.db?mode=rwc`"),
        secret: false,
        kind: Kind::Text(check::database_url),
        expect: "give sqlite://PATH?mode=rwc or mysql://user:pass@host/db (MariaDB too)",
        help: "The database: embedded SQLite, or a shared MySQL/MariaDB (`mysql://user:pass@host/db`). A password \
               in it is masked whenever it is printed.",
        show: |c| Some(c.database_url.to_string()),
    },
    Key {
        name: "redis_url",
        // The port of the Redis that `scripts/run.sh` starts when this is not configured (Debian's
        // redis-server, files under the data dir).
        default: Builtin::Text("redis://127.0.0.1:6391/0"),
        secret: false,
        kind: Kind::Text(check::redis_url),
        expect: "give redis://host:port/db, rediss://… or unix://PATH, e.g. redis://127.0.0.1:6379/0",
        help: "The Redis server every OpsDeck instance of one environment shares. The default is the local Redis \
               the run command starts. A password in it is masked whenever it is printed.",
        show: |c| Some(c.redis_url.to_string()),
    },
    Key {
        name: "redis_prefix",
        default: Builtin::Text("opsdeck"),
        secret: false,
        kind: Kind::Text(check::redis_prefix),
        expect: "give a short name, e.g. opsdeck or staging",
        help: "Every Redis key is `<prefix>:…`, so several environments (and tests) can share one server.",
        show: |c| Some(c.redis_prefix.clone()),
    },
    Key {
        name: "timezone",
        default: Builtin::Text("Asia/Shanghai"),
        secret: false,
        kind: Kind::Text(check::timezone),
        expect: "give an IANA zone name, e.g. Asia/Shanghai or Europe/London",
        help: "The zone schedules and displayed times use unless a job says otherwise.",
        show: |c| Some(c.timezone.name().to_string()),
    },
    Key {
        name: "health_interval_ms",
        default: Builtin::Int(1000),
        secret: false,
        kind: Kind::Int { min: 100, max: 60_000 },
        expect: "give milliseconds, e.g. 1000",
        help: "How often the health monitor probes the database and Redis.",
        show: |c| Some(c.health_interval.as_millis().to_string()),
    },
    Key {
        name: "health_timeout_ms",
        default: Builtin::Int(1500),
        secret: false,
        kind: Kind::Int { min: 100, max: 60_000 },
        expect: "give milliseconds, e.g. 1500",
        help: "A probe that takes longer reports the component unreachable.",
        show: |c| Some(c.health_timeout.as_millis().to_string()),
    },
    Key {
        name: "log",
        default: Builtin::Text("info"),
        secret: false,
        kind: Kind::Text(check::log_filter),
        expect: "give a tracing filter, e.g. info or opsdeck_core=debug,info",
        help: "The log filter (`tracing`'s `EnvFilter` syntax).",
        show: |c| Some(c.log.clone()),
    },
    Key {
        name: "run_retention_hours",
        // The original Celery set-up expired results after a day.
        default: Builtin::Int(24),
        secret: false,
        kind: Kind::Int { min: 1, max: 24 * 366 },
        expect: "give hours, e.g. 24",
        help: "Job runs older than this are pruned from the history (hourly).",
        show: |c| Some((c.run_retention.as_secs() / 3600).to_string()),
    },
    Key {
        name: "scheduler_enabled",
        default: Builtin::Bool(true),
        secret: false,
        kind: Kind::Bool,
        expect: "give true or false",
        help: "`false`: this instance fires no scheduled jobs (a console that only watches and acts by hand); \
               the other instances do.",
        show: |c| Some(c.scheduler_enabled.to_string()),
    },
    Key {
        name: "job_stop_grace_seconds",
        default: Builtin::Int(10),
        secret: false,
        kind: Kind::Int { min: 1, max: 3600 },
        expect: "give seconds, e.g. 10",
        help: "A run stopped from the console is told to stop and given this long to end by itself; after it, \
               the run is abandoned (recorded as stopped either way).",
        show: |c| Some(c.job_stop_grace.as_secs().to_string()),
    },
];

const OCR: &[Key] = &[
    Key {
        name: "baidu_url",
        default: Builtin::Text(BAIDU_URL),
        secret: false,
        kind: Kind::Text(check::http_url),
        expect: "give an http(s) URL, e.g. https://aip.baidubce.com",
        help: "Baidu AI Cloud's base URL (the token and OCR endpoints live under it).",
        show: |c| Some(c.baidu_url.clone()),
    },
    Key {
        name: "baidu_api_key",
        default: Builtin::Unset,
        secret: true,
        kind: Kind::Text(check::no_spaces),
        expect: "give the API key of your Baidu AI Cloud application",
        help: "Baidu's API key; set it together with `baidu_secret_key`. Unset: the built-in fake Baidu in \
               sandbox mode (no provider credentials at all, or `--sandbox`); otherwise OCR is absent (requests \
               wait) and start-up says so.",
        show: |c| set(c.baidu_api_key.as_ref()),
    },
    Key {
        name: "baidu_secret_key",
        default: Builtin::Unset,
        secret: true,
        kind: Kind::Text(check::no_spaces),
        expect: "give the secret key of your Baidu AI Cloud application",
        help: "Baidu's secret key; set it together with `baidu_api_key`.",
        show: |c| set(c.baidu_secret_key.as_ref()),
    },
    Key {
        name: "ocr_qps",
        // A personal account's cap; enterprise accounts raise it to 10.
        default: Builtin::Float(2.0),
        secret: false,
        kind: Kind::Float { min: 0.1, max: 1000.0 },
        expect: "give calls per second, e.g. 2 or 10",
        help: "Baidu OCR calls per second across all instances (2 on a personal account, 10 on an enterprise \
               one); staff may change it at run time from the console.",
        show: |c| Some(c.ocr_qps.to_string()),
    },
    Key {
        name: "ocr_concurrency",
        default: Builtin::Int(4),
        secret: false,
        kind: Kind::Int { min: 1, max: 256 },
        expect: "give a number of calls, e.g. 4",
        help: "Calls in flight at once, per instance.",
        show: |c| Some(c.ocr_concurrency.to_string()),
    },
    Key {
        name: "ocr_max_attempts",
        default: Builtin::Int(5),
        secret: false,
        kind: Kind::Int { min: 1, max: 100 },
        expect: "give a number of calls, e.g. 5",
        help: "Calls that failed transiently before a request is dead.",
        show: |c| Some(c.ocr_max_attempts.to_string()),
    },
    Key {
        name: "ocr_max_deliveries",
        default: Builtin::Int(5),
        secret: false,
        kind: Kind::Int { min: 1, max: 100 },
        expect: "give a number of take-overs, e.g. 5",
        help: "A request taken over more often than this, with as many calls that never came back, kills its \
               instances and is dead; take-overs without a call (e.g. through a database outage) never count.",
        show: |c| Some(c.ocr_max_deliveries.to_string()),
    },
    Key {
        name: "ocr_lease_ms",
        default: Builtin::Int(30_000),
        secret: false,
        kind: Kind::Int { min: 1_000, max: 3_600_000 },
        expect: "give milliseconds, e.g. 30000",
        help: "How long a request held by an instance that stopped renewing it (it died or hangs) waits before \
               another takes it over. Renewed every third of it while the holder waits for its slot, calls Baidu \
               or retries the database, so it may be shorter than a call.",
        show: |c| Some(c.ocr_lease.as_millis().to_string()),
    },
    Key {
        name: "ocr_backoff_ms",
        default: Builtin::Int(1_000),
        secret: false,
        kind: Kind::Int { min: 10, max: 3_600_000 },
        expect: "give milliseconds, e.g. 1000",
        help: "The first retry's delay; it doubles each time, with jitter, to at most 10 min.",
        show: |c| Some(c.ocr_backoff.as_millis().to_string()),
    },
    Key {
        name: "ocr_result_ttl_seconds",
        // The original design kept results for a day.
        default: Builtin::Int(86_400),
        secret: false,
        kind: Kind::Int { min: 60, max: 366 * 86_400 },
        expect: "give seconds, e.g. 86400 (a day)",
        help: "How long a result stays in Redis under its image URL.",
        show: |c| Some(c.ocr_result_ttl.as_secs().to_string()),
    },
];

const ORDERS: &[Key] = &[
    Key {
        name: "alipay_gateway_url",
        default: Builtin::Text(ALIPAY_GATEWAY),
        secret: false,
        kind: Kind::Text(check::http_url),
        expect: "give an http(s) URL, e.g. https://openapi.alipay.com/gateway.do",
        help: "Alipay's gateway.",
        show: |c| Some(c.alipay_gateway_url.clone()),
    },
    Key {
        name: "alipay_app_id",
        default: Builtin::Unset,
        secret: false,
        kind: Kind::Text(check::digits),
        expect: "give Alipay's numeric app id, e.g. 2021000000000001",
        help: "The app id; set it with `alipay_private_key` and `alipay_public_key`. Unset: the built-in fake \
               Alipay in sandbox mode only; otherwise Alipay is absent: payments are not checked and every \
               notify is refused (403), and start-up says so.",
        show: |c| c.alipay_app_id.clone(),
    },
    Key {
        name: "alipay_private_key",
        default: Builtin::Unset,
        secret: true,
        kind: ANY,
        expect: "give the app's private key, PKCS#8 or PKCS#1, PEM or Alipay's bare base64",
        help: "The app's private key: PKCS#8 or PKCS#1, PEM or Alipay's bare base64.",
        show: |c| set(c.alipay_private_key.as_ref()),
    },
    Key {
        name: "alipay_public_key",
        default: Builtin::Unset,
        secret: false,
        kind: ANY,
        expect: "give Alipay's public key, PEM or bare base64",
        help: "Alipay's public key (PEM or bare base64), which signs its notifies and answers.",
        show: |c| match (&c.alipay_public_key, c.alipay_sandbox) {
            (_, true) => Some("(sandbox)".into()),
            (key, false) => key.as_ref().map(|key| format!("({} characters)", key.len())),
        },
    },
    Key {
        name: "alipay_seller_id",
        default: Builtin::Unset,
        secret: false,
        kind: Kind::Text(check::seller_id),
        expect: "give your Alipay account id, 16 digits starting 2088",
        help: "Your Alipay account (`2088…`, 16 digits): a payment notify naming another seller is refused (and \
               noted on the order's timeline). Unset: not compared.",
        show: |c| c.alipay_seller_id.clone(),
    },
    Key {
        name: "order_expiry_seconds",
        default: Builtin::Int(1800),
        secret: false,
        kind: Kind::Int { min: 1, max: 7 * 86_400 },
        expect: "give seconds, e.g. 1800 (half an hour)",
        help: "An order unpaid this long after it was placed is cancelled.",
        show: |c| Some(c.order_expiry.as_secs().to_string()),
    },
    Key {
        name: "expiry_lease_seconds",
        default: Builtin::Int(60),
        secret: false,
        kind: Kind::Int { min: 1, max: 3600 },
        expect: "give seconds, e.g. 60",
        help: "How long a sweeper holds the orders it claimed before another instance may take them.",
        show: |c| Some(c.expiry_lease.as_secs().to_string()),
    },
    Key {
        name: "expiry_concurrency",
        default: Builtin::Int(64),
        secret: false,
        kind: Kind::Int { min: 1, max: 512 },
        expect: "give a number of queries, e.g. 64",
        help: "Alipay queries in flight at once during a sweep.",
        show: |c| Some(c.expiry_concurrency.to_string()),
    },
];

const SANDBOX: &[Key] = &[
    Key {
        name: "sandbox_shop",
        default: Builtin::Bool(true),
        secret: false,
        kind: Kind::Bool,
        expect: "give true or false",
        help: "In sandbox mode a simulated shop places orders and sends ID cards; `false` turns it off.",
        show: |c| Some(c.shop.enabled.to_string()),
    },
    Key {
        name: "sandbox_orders_per_minute",
        default: Builtin::Float(6.0),
        secret: false,
        kind: Kind::Float { min: 0.0, max: 600.0 },
        expect: "give orders per minute, e.g. 6; 0 turns the stream off",
        help: "Orders the simulated shop places per minute (0 turns that stream off).",
        show: |c| Some(c.shop.orders_per_minute.to_string()),
    },
    Key {
        name: "sandbox_ocr_per_minute",
        default: Builtin::Float(12.0),
        secret: false,
        kind: Kind::Float { min: 0.0, max: 600.0 },
        expect: "give ID cards per minute, e.g. 12; 0 turns the stream off",
        help: "ID-card images the simulated shop sends per minute (0 turns that stream off).",
        show: |c| Some(c.shop.ocr_per_minute.to_string()),
    },
    Key {
        name: "sandbox_pay_ratio",
        default: Builtin::Float(0.7),
        secret: false,
        kind: Kind::Float { min: 0.0, max: 1.0 },
        expect: "give a share between 0 and 1, e.g. 0.7",
        help: "The share of simulated orders paid (one notify in eight is \"lost\", so the sweep finds those \
               payments late).",
        show: |c| Some(c.shop.pay_ratio.to_string()),
    },
    Key {
        name: "sandbox_order_expiry_seconds",
        default: Builtin::Int(120),
        secret: false,
        kind: Kind::Int { min: 10, max: 86_400 },
        expect: "give seconds, e.g. 120",
        help: "The order deadline in sandbox mode with the shop on, unless `order_expiry_seconds` is set.",
        show: |c| Some(c.shop.order_expiry.as_secs().to_string()),
    },
];

const STAFF: &[Key] = &[
    Key {
        name: "staff_default_role",
        default: Builtin::Text("none"),
        secret: false,
        kind: Kind::Text(check::role),
        expect: "give none, viewer, operator or admin",
        help: "The role a newcomer's first console sign-in gets: `none` (no role until an admin grants one), \
               `viewer`, `operator` or `admin`. The very first console sign-in becomes admin only in sandbox \
               mode and on the embedded default database (one person's own); on a shared database the first \
               admin is named with `opsdeckd staff grant-admin` or `bootstrap_admin`.",
        show: |c| Some(c.staff_default_role.map(|r| r.as_str()).unwrap_or("none").to_string()),
    },
    Key {
        name: "staff_allow",
        default: Builtin::Unset,
        secret: false,
        kind: Kind::Text(check::staff_allow),
        expect: "give provider:uid entries separated by commas, e.g. weibo:5678001, oidc:alice",
        help: "Unset: anyone may become staff. `\"weibo:5678001, oidc:alice\"` (`provider:uid`, the provider's id \
               of the person): only these sign-ins open the console or may be given a role (by an admin or \
               `staff grant-admin`).",
        show: |c| Some(c.staff_allow.iter().map(|(p, uid)| format!("{p}:{uid}")).collect::<Vec<_>>().join(", ")),
    },
    Key {
        name: "bootstrap_admin",
        default: Builtin::Unset,
        secret: false,
        kind: Kind::Text(check::bootstrap_admin),
        expect: "give one provider:uid, e.g. weibo:5678001",
        help: "`\"weibo:5678001\"`: on a shared database, this sign-in becomes admin at its console sign-in while \
               there is no admin (the alternative to `opsdeckd staff grant-admin`).",
        show: |c| Some(c.bootstrap_admin.as_ref().map(|(p, uid)| format!("{p}:{uid}")).unwrap_or_default()),
    },
    Key {
        name: "oauth_state_ttl_seconds",
        default: Builtin::Int(600),
        secret: false,
        kind: Kind::Int { min: 30, max: 3600 },
        expect: "give seconds, e.g. 600",
        help: "How long a sign-in attempt (its `state`) may take.",
        show: |c| Some(c.oauth_state_ttl.as_secs().to_string()),
    },
    Key {
        name: "session_idle_minutes",
        default: Builtin::Int(720),
        secret: false,
        kind: Kind::Int { min: 5, max: 43_200 },
        expect: "give minutes, e.g. 720 (12 hours)",
        help: "A staff session unused this long ends (the console asks to sign in again).",
        show: |c| Some((c.session_idle.as_secs() / 60).to_string()),
    },
    Key {
        name: "session_max_age_hours",
        default: Builtin::Int(168),
        secret: false,
        kind: Kind::Int { min: 1, max: 8_760 },
        expect: "give hours, e.g. 168 (a week)",
        help: "A staff session ends this long after its sign-in, however much it is used.",
        show: |c| Some((c.session_max_age.as_secs() / 3600).to_string()),
    },
    Key {
        name: "token_key",
        default: Builtin::Unset,
        secret: true,
        kind: Kind::Text(check::token_key),
        expect: "give 32 random bytes in base64, e.g. from `openssl rand -base64 32`",
        help: "Reserved, read by nothing today: OpsDeck stores no provider token (nothing uses one). When a \
               feature needs to keep one sealed, this is its key: 32 bytes, base64.",
        show: |c| set(c.token_key.as_ref()),
    },
];

const HTTP: &[Key] = &[
    Key {
        name: "api_token",
        default: Builtin::Unset,
        secret: true,
        kind: Kind::Text(check::token),
        expect: "give at least 16 characters without spaces, e.g. from `openssl rand -base64 32`",
        help: "The bearer token of the daemon's HTTP API, which the shop's backend sends. Unset: `opsdeckd run \
               --listen` generates one and keeps it in `<data_dir>/api-token` (mode 0600, reused; only the path \
               is logged).",
        show: |c| set(c.api_token.as_ref()),
    },
    Key {
        name: "metrics_token",
        default: Builtin::Unset,
        secret: true,
        kind: Kind::Text(check::token),
        expect: "give at least 16 characters without spaces, e.g. from `openssl rand -base64 32`",
        help: "The bearer token of the daemon's `/metrics`, for a Prometheus scraper; with it set, the API token \
               no longer opens `/metrics`. Unset: `/metrics` takes the API token.",
        show: |c| set(c.metrics_token.as_ref()),
    },
    Key {
        name: "http_header_timeout_ms",
        default: Builtin::Int(10_000),
        secret: false,
        kind: Kind::Int { min: 100, max: 600_000 },
        expect: "give milliseconds, e.g. 10000",
        help: "A request head (line and headers) must arrive within this, else the daemon closes the connection.",
        show: |c| Some(c.http.header_timeout.as_millis().to_string()),
    },
    Key {
        name: "http_body_timeout_ms",
        default: Builtin::Int(30_000),
        secret: false,
        kind: Kind::Int { min: 100, max: 600_000 },
        expect: "give milliseconds, e.g. 30000",
        help: "A request body must arrive within this once its handler reads it, else the daemon answers 4xx and \
               closes the connection.",
        show: |c| Some(c.http.body_timeout.as_millis().to_string()),
    },
    Key {
        name: "http_max_connections",
        default: Builtin::Int(1024),
        secret: false,
        kind: Kind::Int { min: 1, max: 100_000 },
        expect: "give a number of connections, e.g. 1024",
        help: "Connections the daemon serves at once (more wait in the listen backlog).",
        show: |c| Some(c.http.max_connections.to_string()),
    },
    Key {
        name: "http_open_per_ip_per_second",
        default: Builtin::Int(20),
        secret: false,
        kind: Kind::Int { min: 1, max: 100_000 },
        expect: "give requests per second, e.g. 20",
        help: "Requests per second per client address (bursts of 5×) to the routes without a token (`/healthz`, \
               `/openapi.yaml`, Alipay's notify; Alipay's servers count as their own addresses).",
        show: |c| Some(c.http.open_per_ip_per_second.to_string()),
    },
    Key {
        name: "tls_cert",
        default: Builtin::Unset,
        secret: false,
        kind: Kind::Text(check::not_empty),
        expect: "give the path of a PEM certificate chain, e.g. /etc/opsdeck/tls/fullchain.pem",
        help: "With `tls_key`: the daemon serves HTTPS (rustls) with this certificate chain (PEM, the server's \
               certificate first). Unset: plain HTTP, for a loopback listener or behind a TLS-terminating proxy.",
        show: |c| c.tls.as_ref().map(|t| t.cert.display().to_string()),
    },
    Key {
        name: "tls_key",
        default: Builtin::Unset,
        secret: false,
        kind: Kind::Text(check::not_empty),
        expect: "give the path of the certificate's PEM private key, e.g. /etc/opsdeck/tls/privkey.pem",
        help: "The private key (PEM: PKCS#8, PKCS#1 or SEC1) of `tls_cert`; set both or neither. Only the path \
               is ever printed.",
        show: |c| c.tls.as_ref().map(|t| t.key.display().to_string()),
    },
    Key {
        name: "events_heartbeat_ms",
        default: Builtin::Int(15_000),
        secret: false,
        kind: Kind::Int { min: 100, max: 15_000 },
        expect: "give milliseconds, at most 15000, e.g. 15000",
        help: "`/api/v1/events` and `/api/ocr/stream` send a heartbeat comment this often while nothing else is \
               sent, so proxies keep the stream open and the client notices a dead connection; an open \
               `/api/v1/events` stream also checks its session this often (it ends when the session does).",
        show: |c| Some(c.http.events_heartbeat.as_millis().to_string()),
    },
];

const REMOTE: &[Key] = &[
    Key {
        name: "server_url",
        default: Builtin::Unset,
        secret: false,
        kind: Kind::Text(check::server_url),
        expect: "give the server's https:// address, e.g. https://ops.example.com:8443 (http:// only to a loopback address)",
        help: "The desktop console only: the shop's `opsdeckd` to work against. Set, the desktop starts no core \
               and holds nothing but a staff session; the server decides who may do what. Unset: the embedded \
               core (the default). Also chosen on the sign-in screen (remembered).",
        show: |c| c.server_url.clone(),
    },
    Key {
        name: "server_ca",
        default: Builtin::Unset,
        secret: false,
        kind: Kind::Text(check::not_empty),
        expect: "give the path of a PEM CA certificate, e.g. /etc/opsdeck/shop-ca.pem",
        help: "The desktop console only: a CA certificate (PEM) trusted for `server_url` besides the system's \
               roots, for a server whose certificate a private CA signed.",
        show: |c| c.server_ca.as_ref().map(|p| p.display().to_string()),
    },
];
