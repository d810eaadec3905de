//! The OpsDeck desktop shell: a window over the core, which is either the app's own (embedded,
//! the zero-configuration default: started as the daemon does, `opsdeck_sandbox::launch`) or a
//! server's (remote: `server_url` in the configuration, or chosen on the sign-in screen; no core,
//! no database, no Redis, no provider secret in the app). It loads the configuration, makes the
//! shell for its mode (`shell.rs`), registers the commands, and forwards the live events
//! (`live.rs`) and the link's state (`connection.rs`) to the window.
//!
//! The commands reach the core only as `opsdeck_api::Ops` (`Arc<dyn Ops>` in Tauri's state),
//! naming the window's session token (see `session/`); the core alone decides who is signed in
//! and what they may do.

mod commands;
mod connection;
mod live;
mod mode;
mod remote;
mod session;
mod shell;
mod signin;
mod webview;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use opsdeck_api::{ErrorBody, ErrorCode};
use opsdeck_core::{Config, ConfigSource};
use tauri::{Manager, Runtime};

/// The name of the event the window listens to.
pub const CORE_EVENT: &str = "core-event";

pub use connection::CONNECTION_EVENT;
pub use mode::{Mode, RemoteTarget, SERVER_FILE, check_server_url};
pub use session::{KEYCHAIN_SERVICE, Keychain, OsKeychain, SERVER_SESSION_FILE, SessionStore, TOKEN_FILE};
pub use shell::{Shell, start};
pub use signin::{SIGNIN_EVENT, WindowResult, is_redirect};

#[derive(Parser)]
#[command(name = "opsdeck", version, about = "The OpsDeck desktop console")]
struct Cli {
    /// Configuration file (TOML); default: the platform config dir's config.toml, if present.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Sandbox mode even with credentials configured: every provider is a built-in fake and the
    /// simulated shop runs (the default when no provider credentials are configured).
    #[arg(long)]
    sandbox: bool,
}

pub fn run() -> ExitCode {
    // SAFETY: the first thing the app does; no other thread has started yet.
    unsafe { webview::lean_engine() };
    webview::lean_malloc();
    let cli = Cli::parse();
    let config = match Config::load(&ConfigSource { file: cli.config }) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!(
            "opsdeck: no display (neither DISPLAY nor WAYLAND_DISPLAY is set).\n\
             Run it in a desktop session, or under a virtual display: `xvfb-run -a opsdeck`.\n\
             On a server, use the headless daemon instead: `opsdeckd run`."
        );
        return ExitCode::from(3);
    }
    init_logging(&config.log);
    webview::watch_memory();
    let keychain = OsKeychain::available();
    let sandbox = cli.sandbox;
    // Embedded, the daemon's start-up too: in sandbox mode (no provider credentials configured,
    // or `--sandbox`) every provider is a built-in fake and the simulated shop runs; otherwise the
    // providers left without credentials are absent (logged). The fakes serve until the app
    // exits. Remote: nothing starts but the client.
    let started =
        tauri::async_runtime::block_on(start(config, keychain, |config| opsdeck_sandbox::launch(config, sandbox)));
    let (shell, running) = match started {
        Ok(started) => started,
        Err(e) => {
            eprintln!("opsdeck: start-up failed: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if sandbox && running.is_none() {
        tracing::warn!("--sandbox is for the app's own core; in remote mode the server decides");
    }
    let halted = running.as_ref().map(|running| running.core().clone());
    let mut running = running;
    let app = match run_app(tauri::Builder::default(), shell).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("opsdeck: cannot open the window: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The embedded core halts by itself when its database, down at start-up, proves to be
    // marked for the other mode (sandbox / live): the console closes, saying why.
    if let Some(core) = halted {
        let handle = app.handle().clone();
        tauri::async_runtime::spawn(async move {
            if let Some(why) = core.halted().await {
                eprintln!("opsdeck: {why}");
                handle.exit(1);
            }
        });
    }
    app.run(move |_, event| {
        if let tauri::RunEvent::Exit = event
            && let Some(running) = running.take()
        {
            tauri::async_runtime::block_on(running.shutdown());
        }
    });
    ExitCode::SUCCESS
}

/// The app's commands, written once: the handler and [`COMMANDS`] (the names) both come from
/// this list, so a test can invoke every registered command.
macro_rules! commands {
    ($($module:ident::$name:ident),+ $(,)?) => {
        /// Every command's name, in the order registered.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),+];

        fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($module::$name),+]
        }
    };
}

commands![
    commands::health_report,
    connection::connection_status,
    connection::server_choose,
    commands::app_info,
    commands::audit_list,
    commands::sessions_list,
    commands::session_revoke,
    commands::jobs_list,
    commands::job_kinds,
    commands::job_preview,
    commands::job_create,
    commands::job_update,
    commands::job_pause,
    commands::job_resume,
    commands::job_run_now,
    commands::job_delete,
    commands::runs_list,
    commands::scheduler_instances,
    commands::ocr_submit,
    commands::ocr_list,
    commands::ocr_get,
    commands::ocr_reveal,
    commands::ocr_retry,
    commands::ocr_purge_dead,
    commands::ocr_cancel,
    commands::ocr_attempts,
    commands::run_stop,
    commands::orders_activity,
    commands::ocr_set_cap,
    commands::ocr_pause,
    commands::ocr_resume,
    commands::ocr_stats,
    commands::orders_list,
    commands::cancelled_list,
    commands::order_timeline,
    commands::orders_summary,
    commands::overview,
    commands::order_cancel,
    commands::order_check_payment,
    commands::goods_list,
    commands::goods_create,
    commands::order_place,
    signin::auth_providers,
    signin::auth_session,
    signin::sign_in,
    signin::sign_in_cancel,
    signin::sign_out,
    signin::users_list,
    signin::link_start,
    signin::unlink,
    signin::staff_set_role,
    signin::link_requests_list,
    signin::link_request_resolve,
];

/// The commands a window may call without a session: the core's health, and signing in (the
/// providers, the session, the sign-in window) or out. Every other command is refused
/// (`unauthenticated`) before its arguments are read while the window holds no session token, and
/// names the token to the core otherwise, which decides.
pub const OPEN_COMMANDS: &[&str] = &[
    "health_report",
    "connection_status",
    "server_choose",
    "auth_providers",
    "auth_session",
    "sign_in",
    "sign_in_cancel",
    "sign_out",
];

/// Wires the shell into a Tauri builder: the core as `Arc<dyn Ops>`, the window's session, the
/// mode and link, the commands, and the bridges of live events and link state. Generic over the
/// runtime so a test can pass a mock builder.
pub fn run_app<R: Runtime>(builder: tauri::Builder<R>, shell: Shell) -> tauri::Builder<R> {
    let Shell { ops, mode, data_dir, server_ca, link, session, restart } = shell;
    let connection = Arc::new(connection::Connection { mode, data_dir, server_ca, link, restart });
    let commands = handler::<R>();
    let gate = session.clone();
    builder
        .manage(ops.clone())
        .manage(session.clone())
        .manage(connection.clone())
        .invoke_handler(move |invoke| {
            if !OPEN_COMMANDS.contains(&invoke.message.command()) && !gate.holds() {
                invoke.resolver.reject(ErrorBody::new(ErrorCode::Unauthenticated, "sign in first"));
                return true;
            }
            commands(invoke)
        })
        .setup(move |app| {
            if let Some(window) = app.get_webview_window("main") {
                webview::tune(&window);
            }
            tauri::async_runtime::spawn(live::forward_events(app.handle().clone(), ops, session));
            tauri::async_runtime::spawn(connection::forward_link(app.handle().clone(), connection));
            Ok(())
        })
}

fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
