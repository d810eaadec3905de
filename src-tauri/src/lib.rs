//! The OpsDeck desktop shell: a window over the core. It loads the configuration (sandbox mode:
//! the built-in fake Baidu when no Baidu credentials are configured, the built-in fake Alipay when
//! no Alipay keys are), starts the core, registers the commands, and forwards the core's events to
//! the window as `core-event`.

mod commands;
mod signin;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use opsdeck_core::config::OAuthClient;
use opsdeck_core::{Config, ConfigSource, Core, Event};
use opsdeck_sandbox::alipay::{FakeAlipay, FakeAlipayConfig};
use opsdeck_sandbox::baidu::{BaiduConfig, FakeBaidu};
use opsdeck_sandbox::oauth::{FakeOAuth, FakeOAuthConfig};
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::error::RecvError;

/// The name of the event the window listens to.
pub const CORE_EVENT: &str = "core-event";

#[derive(Parser)]
#[command(name = "opsdeck", version, about = "The OpsDeck desktop console")]
struct Cli {
    /// Configuration file (TOML); default: the platform config dir's config.toml, if present.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match Config::load(&ConfigSource { file: cli.config }) {
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
    // Without Baidu credentials the OCR queue talks to the built-in fake (sandbox mode). Should
    // that fail to start, the queue pauses as misconfigured and says so; the rest works.
    if !config.baidu_configured()
        && let Err(e) = tauri::async_runtime::block_on(use_sandbox_baidu(&mut config))
    {
        tracing::error!(error = %e, "cannot start the built-in fake Baidu; OCR stays unconfigured");
    }
    // Likewise, without Alipay keys order expiry talks to the built-in fake Alipay. Should that
    // fail to start, expiring orders stay due (the sweep retries them) and the log says why.
    if !config.alipay_configured()
        && let Err(e) = tauri::async_runtime::block_on(use_sandbox_alipay(&mut config))
    {
        tracing::error!(error = %e, "cannot start the built-in fake Alipay; order expiry stays unconfigured");
    }
    // Without a client for a Chinese sign-in provider, its built-in fake stands in (sandbox
    // mode); the fakes serve for as long as the app runs.
    let fakes = tauri::async_runtime::block_on(use_sandbox_oauth(&mut config));
    // Provider tokens are encrypted with a key from the OS keychain unless one is configured.
    if config.token_key.is_none() {
        match keychain_token_key() {
            Ok(key) => config.token_key = Some(key),
            Err(e) => {
                tracing::warn!(error = %e, "no OS keychain: provider tokens are encrypted with a key file in the data dir")
            }
        }
    }
    let core = match tauri::async_runtime::block_on(Core::start(config)) {
        Ok(core) => core,
        Err(e) => {
            eprintln!("opsdeck: start-up failed: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let app = match run_app(tauri::Builder::default(), core.clone()).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("opsdeck: cannot open the window: {e}");
            return ExitCode::FAILURE;
        }
    };
    app.run(move |_, event| {
        if let tauri::RunEvent::Exit = event {
            let _ = &fakes;
            tauri::async_runtime::block_on(core.shutdown());
        }
    });
    ExitCode::SUCCESS
}

/// Sandbox mode: with no Baidu credentials configured, the OCR queue talks to the built-in fake
/// Baidu, served on loopback from the app's async runtime for as long as the app runs.
async fn use_sandbox_baidu(config: &mut Config) -> std::io::Result<()> {
    let fake_config = BaiduConfig::default();
    let fake = FakeBaidu::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), fake_config.clone()).await?;
    config.use_sandbox_baidu(&fake.base_url, &fake_config.api_key, &fake_config.secret_key);
    tracing::warn!(
        baidu_url = %fake.base_url,
        "sandbox mode: no Baidu credentials configured, OCR requests go to the built-in fake Baidu"
    );
    Ok(())
}

/// Sandbox mode for payments: with no Alipay keys configured, order expiry asks the built-in fake
/// Alipay (on loopback, for as long as the app runs), signing with the sandbox key pairs.
async fn use_sandbox_alipay(config: &mut Config) -> std::io::Result<()> {
    let fake_config = FakeAlipayConfig::default();
    let fake = FakeAlipay::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), fake_config.clone()).await?;
    config.use_sandbox_alipay(
        &fake.gateway_url,
        &fake_config.app_id,
        opsdeck_sandbox::alipay::SANDBOX_APP_PRIVATE_KEY,
        opsdeck_sandbox::alipay::SANDBOX_ALIPAY_PUBLIC_KEY,
    );
    tracing::warn!(
        gateway_url = %fake.gateway_url,
        "sandbox mode: no Alipay keys configured, order expiry asks the built-in fake Alipay"
    );
    Ok(())
}

/// Sandbox mode for sign-in: each Chinese provider without a configured client gets its fake.
async fn use_sandbox_oauth(config: &mut Config) -> Vec<FakeOAuth> {
    let mut fakes = Vec::new();
    for provider in opsdeck_sandbox::oauth::Provider::ALL {
        let configured = config.oauth.provider_mut(provider.key()).is_some_and(|p| p.client.is_some());
        if configured {
            continue;
        }
        let fake_config = FakeOAuthConfig::sandbox(provider);
        match FakeOAuth::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), fake_config.clone()).await {
            Ok(fake) => {
                config.use_sandbox_oauth(
                    provider.key(),
                    &fake.base_url,
                    OAuthClient {
                        client_id: fake_config.client_id.clone(),
                        client_secret: Some(fake_config.client_secret.clone().into()),
                        redirect_uri: fake_config.redirect_uri.clone(),
                    },
                );
                tracing::warn!(provider = provider.key(), url = %fake.base_url, "sandbox mode: sign-in goes to the built-in fake");
                fakes.push(fake);
            }
            Err(e) => tracing::error!(provider = provider.key(), error = %e, "cannot start a fake sign-in provider"),
        }
    }
    fakes
}

/// The token key from the OS keychain (Secret Service), created there on first use.
fn keychain_token_key() -> anyhow::Result<secrecy::SecretString> {
    let entry = keyring::Entry::new("opsdeck", "provider-token-key")?;
    match entry.get_password() {
        Ok(key) => Ok(key.into()),
        Err(keyring::Error::NoEntry) => {
            let key = opsdeck_core::accounts::crypto::TokenCipher::generate_key();
            use secrecy::ExposeSecret;
            entry.set_password(key.expose_secret())?;
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}

/// Wires the core into a Tauri builder: state, commands, and the event bridge. Generic over the
/// runtime so a test can pass a mock builder.
pub fn run_app<R: Runtime>(builder: tauri::Builder<R>, core: Core) -> tauri::Builder<R> {
    builder
        .manage(core.clone())
        .manage(std::sync::Arc::new(signin::Session::default()))
        .invoke_handler(tauri::generate_handler![
            commands::health_report,
            commands::app_info,
            commands::audit_list,
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
            commands::ocr_set_cap,
            commands::ocr_pause,
            commands::ocr_resume,
            commands::ocr_stats,
            commands::orders_list,
            commands::cancelled_list,
            commands::order_timeline,
            commands::orders_summary,
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
            signin::link_request_resolve
        ])
        .setup(move |app| {
            tauri::async_runtime::spawn(forward_events(app.handle().clone(), core.clone()));
            Ok(())
        })
}

/// Emits every core event to the window until the core stops.
async fn forward_events<R: Runtime>(app: AppHandle<R>, core: Core) {
    let mut events = core.subscribe();
    loop {
        match events.recv().await {
            Ok(event) => emit(&app, &event),
            // Events are snapshots (a health report replaces the last): skipping is harmless.
            Err(RecvError::Lagged(skipped)) => tracing::debug!(skipped, "window lagged behind"),
            Err(RecvError::Closed) => break,
        }
    }
}

fn emit<R: Runtime>(app: &AppHandle<R>, event: &Event) {
    if let Err(e) = app.emit(CORE_EVENT, event) {
        tracing::warn!(error = %e, "cannot emit a core event to the window");
    }
}

fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
