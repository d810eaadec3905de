//! The daemon's HTTP API (`opsdeckd run --listen ADDR`), for the shop's backend; described by
//! `crates/opsdeckd/openapi.yaml`, served at `/openapi.yaml`.
//!
//! - Intake, behind `Authorization: Bearer <api_token>`: `POST /api/ocr`, `GET /api/ocr?url=`,
//!   `POST /api/orders`, `GET /api/oauth/{provider}/authorize`,
//!   `POST /api/oauth/{provider}/callback`.
//! - Alipay's async notify, `POST /api/payments/alipay/notify`: authenticated by its signature.
//! - Open: `GET /healthz`, `GET /metrics` (Prometheus), `GET /openapi.yaml`.
//!
//! Bodies are limited to [`BODY_LIMIT`]; every error is JSON `{code, message, field?}`
//! ([`error`]). Handlers only map: the facade ([`Core`]) validates and decides.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, get, post};
use opsdeck_core::Core;
use secrecy::SecretString;

pub mod auth;
pub mod error;
mod extract;
mod handlers;
pub mod metrics;

/// The OpenAPI 3 description of this API.
pub const OPENAPI: &str = include_str!("../../openapi.yaml");

/// The largest request body accepted (larger: 413).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Every route the router serves: (method, path, bearer token required). The router is built
/// from this list (see [`router`]), and the tests check it against `openapi.yaml`.
pub const ROUTES: &[(&str, &str, bool)] = &[
    ("GET", "/healthz", false),
    ("GET", "/metrics", false),
    ("GET", "/openapi.yaml", false),
    ("POST", "/api/ocr", true),
    ("GET", "/api/ocr", true),
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
    /// The largest request body, in bytes.
    pub body_limit: usize,
}

impl ApiSettings {
    pub fn new(token: SecretString) -> ApiSettings {
        ApiSettings { token, body_limit: BODY_LIMIT }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub settings: Arc<ApiSettings>,
}

/// The handler of one entry of [`ROUTES`]. (The token requirement is the handler's own: those
/// that need it take [`auth::Authorized`], checked before the body is read.)
fn handler(method: &str, path: &str) -> MethodRouter<AppState> {
    match (method, path) {
        ("GET", "/healthz") => get(handlers::healthz),
        ("GET", "/metrics") => get(handlers::metrics),
        ("GET", "/openapi.yaml") => get(handlers::openapi),
        ("POST", "/api/ocr") => post(handlers::ocr_submit),
        ("GET", "/api/ocr") => get(handlers::ocr_lookup),
        ("POST", "/api/orders") => post(handlers::order_place),
        ("POST", "/api/payments/alipay/notify") => post(handlers::alipay_notify),
        ("GET", "/api/oauth/{provider}/authorize") => get(handlers::oauth_authorize),
        ("POST", "/api/oauth/{provider}/callback") => post(handlers::oauth_callback),
        _ => unreachable!("a route in ROUTES without a handler: {method} {path}"),
    }
}

/// The API over `core`.
pub fn router(core: Core, api: ApiSettings) -> Router {
    let limit = api.body_limit;
    let state = AppState { core, settings: Arc::new(api) };
    let mut router = Router::new();
    for (method, path, _) in ROUTES {
        router = router.route(path, handler(method, path));
    }
    router
        // After the routes: it applies to those present.
        .method_not_allowed_fallback(error::wrong_method)
        .fallback(error::no_route)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and lets the
/// requests in progress finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

/// A running API server (what `opsdeckd run --listen` starts).
pub struct Server {
    pub local_addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Binds `addr` (port 0: any free port) and serves the API in the background.
    pub async fn start(addr: SocketAddr, core: Core, api: ApiSettings) -> std::io::Result<Server> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, router(core, api), async {
            let _ = stopped.await;
        }));
        Ok(Server { local_addr, stop, task })
    }

    /// Stops accepting connections and waits for the requests in progress.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.map_err(std::io::Error::other)?
    }
}
