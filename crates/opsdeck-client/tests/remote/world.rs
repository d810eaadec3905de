//! A real daemon for the client to talk to: the core on SQLite in a temp dir and the test Redis
//! under a fresh key prefix, the daemon's router on a real loopback port (HTTPS when asked), the
//! sandbox's fake Weibo auto-approving; stopped and started again on the same port and data.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use opsdeck_api::SessionToken;
use opsdeck_api::accounts::Role;
use opsdeck_client::{ClientConfig, RemoteOps};
use opsdeck_core::{Config, Core};
use opsdeck_sandbox::oauth::{FakeOAuth, FakeOAuthConfig, Provider};
use opsdeckd::http::{ApiSettings, Server, Tls};
use secrecy::SecretString;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test (in this or a parallel process) uses.
pub fn unique(stem: &str) -> String {
    format!("{stem}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The Redis server the test command started.
fn redis_url() -> String {
    std::env::var("OPSDECK_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh), which starts Redis and sets it"
        )
    })
}

fn toml_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A configuration file in `dir` holding `lines`, loaded through the real layers.
fn config_with(dir: &Path, lines: &[(&str, String)]) -> Config {
    let file = dir.join("config.toml");
    let body: String = lines.iter().map(|(key, value)| format!("{key} = {value}\n")).collect();
    std::fs::write(&file, body).unwrap();
    Config::from_layers(dir.to_path_buf(), Some(&file)).expect("valid test configuration")
}

/// A loopback port free now (the daemon binds it next; the fake provider's registered callback
/// must name it before the daemon starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// The daemon's API token (the machine intake's; the console uses staff sessions).
const API_TOKEN: &str = "client-test-token-0123456789";

/// A daemon and what it runs on.
pub struct World {
    pub core: Core,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` over TLS.
    pub url: String,
    pub weibo: FakeOAuth,
    config: Config,
    tls: Option<Tls>,
    server: Option<Server>,
    _dir: tempfile::TempDir,
}

impl World {
    /// Plain HTTP on 127.0.0.1 (a loopback address: the client allows it).
    pub async fn start() -> World {
        World::start_with(None).await
    }

    /// HTTPS with `tls` (a certificate for 127.0.0.1 and localhost), at `https://localhost:PORT`.
    pub async fn start_tls(tls: Tls) -> World {
        World::start_with(Some(tls)).await
    }

    async fn start_with(tls: Option<Tls>) -> World {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let scheme_host = if tls.is_some() { "https://localhost" } else { "http://127.0.0.1" };
        let url = format!("{scheme_host}:{port}");
        let mut weibo_config = FakeOAuthConfig::sandbox(Provider::Weibo);
        weibo_config.auto_approve = true;
        // The server's own callback: the desktop sign-in goes back through the server.
        weibo_config.redirect_uri = format!("{url}/api/v1/auth/callback/weibo");
        let weibo = FakeOAuth::start(([127, 0, 0, 1], 0).into(), weibo_config).await.unwrap();
        let w = weibo.config();
        let lines: Vec<(&str, String)> = vec![
            ("data_dir", toml_string(&dir.path().display().to_string())),
            ("redis_url", toml_string(&redis_url())),
            ("redis_prefix", toml_string(&unique("client"))),
            ("health_interval_ms", "200".into()),
            ("scheduler_enabled", "false".into()),
            // A revoked session's stream ends within one check.
            ("events_heartbeat_ms", "500".into()),
            ("weibo_url", toml_string(&weibo.base_url)),
            ("weibo_client_id", toml_string(&w.client_id)),
            ("weibo_client_secret", toml_string(&w.client_secret)),
            ("weibo_redirect_uri", toml_string(&w.redirect_uri)),
        ];
        let config = config_with(dir.path(), &lines);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let core = Core::start(config.clone()).await.unwrap();
        let server = Server::start(addr, core.clone(), settings(&tls)).await.unwrap();
        World { core, addr, url, weibo, config, tls, server: Some(server), _dir: dir }
    }

    /// A client of this daemon trusting the system's roots and `server_ca`.
    pub fn client_trusting(&self, server_ca: Option<&Path>) -> RemoteOps {
        RemoteOps::new(&ClientConfig { server_url: self.url.clone(), server_ca: server_ca.map(Path::to_path_buf) })
            .expect("a valid client configuration")
    }

    pub fn client(&self) -> RemoteOps {
        self.client_trusting(None)
    }

    /// A new staff member with `role` and a session of theirs (as `opsdeckd staff token` makes).
    pub async fn staff(&self, role: Role) -> SessionToken {
        let name = unique(role.as_str());
        opsdeck_core::staff_token(&self.config, &name, role).await.expect("a staff token").token
    }

    /// Stops the daemon: the server (its connections closed, its streams ended) and the core.
    pub async fn stop_daemon(&mut self) {
        let server = self.server.take().expect("the daemon is running");
        let (stopped, ()) = tokio::join!(server.stop(), self.core.shutdown());
        stopped.unwrap();
    }

    /// Starts the daemon again on the same port, data and Redis prefix: a new core (a new boot,
    /// so event ids from before are not its own).
    pub async fn start_daemon_again(&mut self) {
        assert!(self.server.is_none(), "stop the daemon first");
        self.core = Core::start(self.config.clone()).await.unwrap();
        // The old listener is closed (`Server::stop` waited for it); tokio binds with
        // SO_REUSEADDR, so the old connections in TIME_WAIT do not hold the port.
        let server = Server::start(self.addr, self.core.clone(), settings(&self.tls))
            .await
            .unwrap_or_else(|e| panic!("cannot listen on {} again: {e}", self.addr));
        self.server = Some(server);
    }

    pub async fn stop(mut self) {
        if self.server.is_some() {
            self.stop_daemon().await;
        }
    }
}

fn settings(tls: &Option<Tls>) -> ApiSettings {
    let mut settings = ApiSettings::new(SecretString::from(API_TOKEN));
    settings.tls = tls.clone();
    settings
}
