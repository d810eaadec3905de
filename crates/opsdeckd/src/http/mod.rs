//! The daemon's HTTP API (`opsdeckd run --listen ADDR`), for the shop's backend; described by
//! an OpenAPI document generated from the handlers and the `opsdeck-api` types ([`openapi`]),
//! served at `/openapi.json` (and `/openapi.yaml`).
//!
//! - Intake, behind `Authorization: Bearer <api_token>`: `POST /api/ocr`, `GET /api/ocr?url=`,
//!   `POST /api/ocr/lookup` (the same, the URL in a JSON body), `GET /api/ocr/stream?url=`
//!   (the result pushed, server-sent events),
//!   `POST /api/orders`, `GET /api/oauth/{provider}/authorize`,
//!   `POST /api/oauth/{provider}/callback`.
//! - Alipay's async notify, `POST /api/payments/alipay/notify`: authenticated by its signature.
//! - `GET /metrics` (Prometheus), behind `Authorization: Bearer <metrics_token>` (the API token
//!   when no `metrics_token` is configured), read at most once per [`metrics::MAX_AGE`].
//! - The console's operations, `/api/v1/…` (one route per operation of `opsdeck_api::Ops`, see
//!   [`v1`]), behind `Authorization: Bearer <session token>` (a staff session, not the API
//!   token); health and the sign-in steps take none (and are limited per peer address).
//! - Open: `GET /healthz` (up/down per component; the full report with a token),
//!   `GET /openapi.json`, `GET /openapi.yaml`; these and the notify are limited per peer address
//!   ([`per_ip`]).
//!
//! Served over HTTPS (rustls) when `tls_cert` and `tls_key` are set ([`tls`]), else plain HTTP.
//! Bodies are limited to [`BODY_LIMIT`]; a body may not pause longer than
//! [`Limits::body_timeout`], and a request is answered (or 408) within twice that; a request head
//! must arrive within [`Limits::header_read_timeout`]; at most [`Limits::max_connections`]
//! connections are served at once, a quarter of them per peer, each for at most 10 minutes
//! ([`serve`]). Every error is JSON `{code, message, field?, params?}`, its status the code's
//! ([`error`]). Handlers only map: the facade ([`Core`]) validates and decides.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, get, post};
use opsdeck_api::{Access, Operation, Ops};
use opsdeck_core::Core;
use secrecy::SecretString;
use tower_http::timeout::RequestBodyTimeoutLayer;

pub mod auth;
pub mod error;
mod events;
mod extract;
mod handlers;
mod handoff;
mod json_errors;
pub mod metrics;
mod ocr_lookup;
mod ocr_stream;
pub mod openapi;
pub mod per_ip;
mod serve;
pub mod tls;
pub mod v1;

pub use serve::Limits;
pub use tls::{Tls, TlsError};

/// The largest request body accepted (larger: 413).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Every route the router serves: (method, path, bearer token required). The router is built
/// from this list (see [`router`]), and the tests check it against the OpenAPI document. The routes
/// without a token are limited per peer address. (`/metrics` takes the metrics token, or the
/// API token when none is configured.)
pub const ROUTES: &[(&str, &str, bool)] = &[
    ("GET", "/healthz", false),
    ("GET", "/metrics", true),
    ("GET", "/openapi.json", false),
    ("GET", "/openapi.yaml", false),
    ("POST", "/api/ocr", true),
    ("GET", "/api/ocr", true),
    ("POST", "/api/ocr/lookup", true),
    ("GET", "/api/ocr/stream", true),
    ("POST", "/api/orders", true),
    ("POST", "/api/payments/alipay/notify", false),
    ("GET", "/api/oauth/{provider}/authorize", true),
    ("POST", "/api/oauth/{provider}/callback", true),
];

/// What the API needs besides the core.
#[derive(Clone)]
pub struct ApiSettings {
    /// The bearer token of the intake endpoints.
    pub token: SecretString,
    /// The bearer token of `/metrics`; `None`: the API token.
    pub metrics_token: Option<SecretString>,
    /// How long one read of the figures serves `/metrics`.
    pub metrics_max_age: std::time::Duration,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// Timeouts, the connection cap and the per-IP limits.
    pub limits: Limits,
    /// HTTPS (`tls_cert`/`tls_key`); `None`: plain HTTP.
    pub tls: Option<Tls>,
}

impl ApiSettings {
    pub fn new(token: SecretString) -> ApiSettings {
        ApiSettings {
            token,
            metrics_token: None,
            metrics_max_age: metrics::MAX_AGE,
            body_limit: BODY_LIMIT,
            limits: Limits::default(),
            tls: None,
        }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    /// The same core, as the console's operations (`/api/v1/`, [`v1`]).
    pub ops: Arc<dyn Ops>,
    pub settings: Arc<ApiSettings>,
    pub metrics: Arc<metrics::MetricsCache>,
}

/// The handler of one entry of [`ROUTES`]. (The token requirement is the handler's own: those
/// that need it take [`auth::Authorized`], checked before the body is read.)
fn handler(method: &str, path: &str) -> MethodRouter<AppState> {
    match (method, path) {
        ("GET", "/healthz") => get(handlers::healthz),
        ("GET", "/metrics") => get(handlers::metrics),
        ("GET", "/openapi.json") => get(handlers::openapi_json),
        ("GET", "/openapi.yaml") => get(handlers::openapi_yaml),
        ("POST", "/api/ocr") => post(handlers::ocr_submit),
        ("GET", "/api/ocr") => get(ocr_lookup::ocr_lookup),
        ("POST", "/api/ocr/lookup") => post(ocr_lookup::ocr_lookup_post),
        ("GET", "/api/ocr/stream") => get(ocr_stream::ocr_stream),
        ("POST", "/api/orders") => post(handlers::order_place),
        ("POST", "/api/payments/alipay/notify") => post(handlers::alipay_notify),
        ("GET", "/api/oauth/{provider}/authorize") => get(handlers::oauth_authorize),
        ("POST", "/api/oauth/{provider}/callback") => post(handlers::oauth_callback),
        _ => unreachable!("a route in ROUTES without a handler: {method} {path}"),
    }
}

/// The API over `core`.
pub fn router(core: Core, api: ApiSettings) -> Router {
    router_with(AppState {
        ops: Arc::new(core.clone()),
        core,
        metrics: Arc::new(metrics::MetricsCache::new(api.metrics_max_age)),
        settings: Arc::new(api),
    })
}

fn router_with(state: AppState) -> Router {
    let settings = state.settings.clone();
    let per_ip = Arc::new(per_ip::PerIp::new(settings.limits.open_per_second, settings.limits.open_burst));
    let mut router = Router::new();
    for (method, path, token) in ROUTES {
        let route = handler(method, path);
        let route = if *token {
            route
        } else {
            route.layer(axum::middleware::from_fn_with_state(per_ip.clone(), per_ip::limit))
        };
        router = router.route(path, route);
    }
    // The console's operations: one route each, from the table in opsdeck-api.
    for &op in Operation::ALL {
        let (method, path) = op.http();
        let route = axum::routing::on(v1::method_filter(method), move |state, request| v1::handle(op, state, request));
        let route = if op.access() == Access::Open {
            route.layer(axum::middleware::from_fn_with_state(per_ip.clone(), per_ip::limit))
        } else {
            route
        };
        router = router.route(path, route);
    }
    router
        // After the routes: it applies to those present.
        .method_not_allowed_fallback(error::wrong_method)
        .fallback(error::no_route)
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(RequestBodyTimeoutLayer::new(settings.limits.body_timeout))
        .with_state(state)
}

/// Serves `router` on `listener` (HTTPS with `tls`) until `shutdown` completes, then stops
/// accepting and lets the requests in progress finish; with `limits`' timeouts and connection cap.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: &Limits,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve::serve(listener, router, limits, tls, shutdown).await
}

/// A running API server (what `opsdeckd run --listen` starts).
pub struct Server {
    pub local_addr: SocketAddr,
    metrics: Arc<metrics::MetricsCache>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Binds `addr` (port 0: any free port) and serves the API in the background.
    pub async fn start(addr: SocketAddr, core: Core, api: ApiSettings) -> std::io::Result<Server> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = api.limits.clone();
        let tls = api.tls.clone();
        let metrics = Arc::new(metrics::MetricsCache::new(api.metrics_max_age));
        let router = router_with(AppState {
            ops: Arc::new(core.clone()),
            core,
            metrics: metrics.clone(),
            settings: Arc::new(api),
        });
        let task = tokio::spawn(async move {
            serve(listener, router, &limits, tls, async {
                let _ = stopped.await;
            })
            .await
        });
        Ok(Server { local_addr, metrics, stop, task })
    }

    /// How many times `/metrics` read the figures (one set of database queries each).
    pub fn metrics_reads(&self) -> u64 {
        self.metrics.reads()
    }

    /// Stops accepting connections and waits for the requests in progress.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.map_err(std::io::Error::other)?
    }
}
