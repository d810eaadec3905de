//! The desktop shell in remote mode, through Tauri's mock runtime, against a real `opsdeckd`
//! served in-process (its HTTP API bound to 127.0.0.1:0 over a real core: SQLite in a temp dir,
//! the test Redis under a fresh prefix, a fake Weibo that approves at once): the commands go
//! through `opsdeck_client::RemoteOps`, the session is kept 0600 and survives a restart of the
//! shell, `server_choose` judges the server, live events reach the window and stop when the
//! session is revoked, and remote mode starts no core. The embedded mode's own live events and
//! connection status are here too.
//!
//! The README's test command starts Redis and sets `OPSDECK_TEST_REDIS_URL`; without it these
//! tests fail (they skip nothing).

mod choose;
mod commands;
mod events;
mod kept;
mod startup;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use opsdeck::{RemoteTarget, Shell, run_app};
use opsdeck_api::SessionToken;
use opsdeck_api::accounts::Role;
use opsdeck_core::{Config, Core};
use opsdeck_sandbox::oauth::{FakeOAuth, FakeOAuthConfig, Provider};
use opsdeckd::http::{ApiSettings, Server};
use secrecy::SecretString;
use serde_json::{Value, json};
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A name no other test (in this or a parallel process) uses.
pub fn unique(stem: &str) -> String {
    format!("{stem}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A configuration file in `dir` holding `lines` (TOML), loaded through the real layers.
pub fn config_in(dir: &Path, lines: &str) -> Config {
    let file = dir.join("config.toml");
    std::fs::write(&file, format!("data_dir = {}\n{lines}", quoted(&dir.display().to_string()))).unwrap();
    Config::from_layers(dir.to_path_buf(), Some(&file)).expect("a valid test configuration")
}

/// A core on a fresh SQLite file in `dir` and the test Redis under a fresh prefix, its Weibo the
/// fake `weibo` (its first user the bootstrap admin).
fn core_config(dir: &Path, weibo: &FakeOAuth) -> Config {
    let redis = std::env::var("OPSDECK_TEST_REDIS_URL")
        .expect("OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh)");
    let w = weibo.config();
    config_in(
        dir,
        &format!(
            "redis_url = {}\nredis_prefix = {}\nhealth_interval_ms = 100\nscheduler_enabled = false\n\
             events_heartbeat_ms = 200\nbaidu_url = \"http://127.0.0.1:9\"\n\
             weibo_client_id = {}\nweibo_client_secret = {}\nweibo_redirect_uri = {}\nweibo_url = {}\n\
             bootstrap_admin = \"weibo:{}\"\n",
            quoted(&redis),
            quoted(&unique("desk_remote")),
            quoted(&w.client_id),
            quoted(&w.client_secret),
            quoted(&w.redirect_uri),
            quoted(&weibo.base_url),
            w.users[0].uid
        ),
    )
}

/// `opsdeckd` in-process: a core and its HTTP API on a free loopback port.
pub struct Daemon {
    pub core: Core,
    /// `http://127.0.0.1:PORT` (plain HTTP to loopback: allowed).
    pub url: String,
    pub weibo: FakeOAuth,
    server: Option<Server>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    pub fn start() -> Daemon {
        tauri::async_runtime::block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let mut weibo_config = FakeOAuthConfig::sandbox(Provider::Weibo);
            weibo_config.auto_approve = true;
            let weibo = FakeOAuth::start(([127, 0, 0, 1], 0).into(), weibo_config).await.expect("the fake Weibo");
            let core = Core::start(core_config(dir.path(), &weibo)).await.expect("the core starts");
            let api = ApiSettings::new(SecretString::from(unique("api-token-0123456789abcdef")));
            let server = Server::start(([127, 0, 0, 1], 0).into(), core.clone(), api).await.expect("the API serves");
            let url = format!("http://{}", server.local_addr);
            Daemon { core, url, weibo, server: Some(server), _dir: dir }
        })
    }

    /// A staff member named `name` with `role` and a new session of theirs, as `opsdeckd staff
    /// token` makes them: the user's id and the token.
    pub fn staff_token(&self, name: &str, role: Role) -> (i64, SessionToken) {
        let issued = tauri::async_runtime::block_on(opsdeck_core::staff_token(self.core.config(), name, role))
            .expect("a staff token");
        (issued.user_id, issued.token)
    }

    /// Ends every session of `user_id`, as `opsdeckd staff revoke` does.
    pub fn revoke(&self, user_id: i64) {
        tauri::async_runtime::block_on(self.core.sessions_revoke_user(user_id, "test")).expect("revoked");
    }

    pub fn stop(mut self) {
        tauri::async_runtime::block_on(async {
            if let Some(server) = self.server.take() {
                server.stop().await.unwrap();
            }
            self.core.shutdown().await;
        });
    }
}

/// The desktop's remote shell against `server_url`, its files in `data_dir`, no keychain (the
/// session in `server-session.json`, as under Xvfb in CI).
pub fn remote_shell(server_url: &str, data_dir: &Path) -> Shell {
    let target = RemoteTarget { server_url: server_url.to_string(), fixed_by_config: false };
    // The client's link task runs on the app's runtime.
    tauri::async_runtime::block_on(async { Shell::remote(target, data_dir.to_path_buf(), None, None) })
        .expect("the remote shell")
}

/// Writes `<data_dir>/server-session.json` as the end-to-end tests do (a token from `opsdeckd
/// staff token`), mode 0600.
pub fn write_server_session(data_dir: &Path, server_url: &str, token: &SessionToken) {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(data_dir.join(opsdeck::SERVER_SESSION_FILE)).unwrap();
    file.write_all(json!({ "server_url": server_url, "token": token.expose() }).to_string().as_bytes()).unwrap();
}

pub fn app(shell: Shell) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = run_app(mock_builder(), shell).build(mock_context(noop_assets())).expect("the app builds");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("the main window");
    (app, window)
}

/// Runs the app's setup (which starts the event bridges): one turn of the event loop.
pub fn set_up(app: &mut App<MockRuntime>) {
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
}

pub fn invoke(window: &WebviewWindow<MockRuntime>, command: &str) -> Result<Value, Value> {
    invoke_with(window, command, json!({}))
}

pub fn invoke_with(window: &WebviewWindow<MockRuntime>, command: &str, args: Value) -> Result<Value, Value> {
    tauri::test::get_ipc_response(
        window,
        InvokeRequest {
            cmd: command.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap_or(Value::Null))
}

/// Receives from `events` until `wanted` accepts one, for at most `within`; fails naming `what`
/// and what came meanwhile.
pub fn receive_until(
    events: &std::sync::mpsc::Receiver<Value>,
    within: Duration,
    what: &str,
    mut wanted: impl FnMut(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) if wanted(&event) => return event,
            Ok(event) => seen.push(event["kind"].clone()),
            Err(_) => panic!("not within {} s: {what}; came meanwhile: {seen:?}", within.as_secs()),
        }
    }
}
