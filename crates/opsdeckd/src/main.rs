//! `opsdeckd`: the OpsDeck core without a window, for servers.
//!
//! - `opsdeckd run` starts the core and runs until Ctrl-C or SIGTERM, then stops cleanly; with
//!   `--listen ADDR` it also serves the HTTP API (`opsdeckd::http`).
//! - `opsdeckd check-config` validates the configuration and prints the effective values, with
//!   secrets masked and where each value came from; `opsdeckd config-docs` prints every key's
//!   documentation (`docs/configuration.md`). Both come from the core's declaration of the keys.
//! - `opsdeckd staff grant-admin` names the first admin of a shared database; `staff token`,
//!   `staff list` and `staff revoke` manage staff members and their sessions (`staff.rs`).
//! - `opsdeckd openapi` prints the HTTP API's OpenAPI document (JSON), as `/openapi.json` serves it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use opsdeck_core::{Config, ConfigSource};
use opsdeck_sandbox::Sandbox;

#[derive(Parser)]
#[command(name = "opsdeckd", version, about = "OpsDeck without a window, for servers")]
struct Cli {
    /// Configuration file (TOML); default: the platform config dir's config.toml, if present.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the core and run until Ctrl-C or SIGTERM.
    Run {
        /// Also serve the HTTP API (described at /openapi.json) on this address, e.g. 127.0.0.1:8080.
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Sandbox mode even with credentials configured: every provider (Baidu, Alipay, the
        /// sign-in providers) is a built-in fake and a simulated shop places orders and sends ID
        /// cards. The default when no provider credentials are configured.
        #[arg(long)]
        sandbox: bool,
    },
    /// Validate the configuration and print the effective values (secrets masked).
    CheckConfig {
        /// Print one JSON object instead of `key = value  # origin` lines.
        #[arg(long)]
        json: bool,
    },
    /// Print the documentation of every configuration key (Markdown: `docs/configuration.md`).
    ConfigDocs,
    /// Scheduler tools.
    Schedule {
        #[command(subcommand)]
        command: ScheduleCommand,
    },
    /// Console staff: the first admin of a shared database (`staff grant-admin`), a member's
    /// session token (`staff token`), the staff (`staff list`), ending sessions (`staff revoke`).
    Staff {
        #[command(subcommand)]
        command: staff::StaffCommand,
    },
    /// Print the HTTP API's OpenAPI document (JSON), as `run --listen` serves it at /openapi.json.
    Openapi,
}

#[derive(Subcommand)]
enum ScheduleCommand {
    /// Print the next fire times of a trigger, one per line (ISO-8601 with the UTC offset),
    /// computed by exactly the code the scheduler fires with.
    Preview(preview::PreviewArgs),
}

mod api;
mod preview;
mod staff;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = &cli.command {
        // Needs no configuration: the document is the code's.
        println!("{}", opsdeckd::http::openapi::json());
        return ExitCode::SUCCESS;
    }
    if let Command::Schedule { command: ScheduleCommand::Preview(args) } = &cli.command {
        // A pure computation: it needs no configuration (the zone defaults to the configured
        // one only when the configuration loads).
        return preview::run(args, cli.config.clone());
    }
    if let Command::ConfigDocs = cli.command {
        // The declarations alone: no configuration is loaded.
        print!("{}", Config::docs_markdown());
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(&ConfigSource { file: cli.config }) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("opsdeckd: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::CheckConfig { json } => {
            print_config(&config, json);
            ExitCode::SUCCESS
        }
        Command::Run { listen, sandbox } => {
            // The certificate and key are read before anything starts: a bad file is a
            // configuration error, named with its key and path.
            let tls = match (&config.tls, listen) {
                (Some(files), Some(_)) => match opsdeckd::http::Tls::load(files) {
                    Ok(tls) => Some(tls),
                    Err(e) => {
                        eprintln!("opsdeckd: {e}");
                        return ExitCode::from(2);
                    }
                },
                _ => None,
            };
            run(config, listen, tls, sandbox)
        }
        Command::Staff { command } => staff::run(&command, &config),
        Command::Schedule { .. } | Command::ConfigDocs | Command::Openapi => {
            unreachable!("handled before loading the configuration")
        }
    }
}

fn print_config(config: &Config, json: bool) {
    let effective = config.effective();
    // What `run` would do with the providers: all fakes in sandbox mode, else the absent ones.
    let sandbox = Sandbox::wanted(config, false);
    let absent = if sandbox { Vec::new() } else { Sandbox::absent(config) };
    if json {
        let values: serde_json::Map<String, serde_json::Value> =
            effective.iter().map(|(key, value, _)| (key.to_string(), value.clone().into())).collect();
        let origins: serde_json::Map<String, serde_json::Value> =
            effective.iter().map(|(key, _, origin)| (key.to_string(), origin.clone().into())).collect();
        let absent: Vec<&str> = absent.iter().map(|p| p.name).collect();
        println!(
            "{}",
            serde_json::json!({ "values": values, "origins": origins, "sandbox": sandbox, "absent": absent })
        );
    } else {
        println!("configuration is valid");
        for (key, value, origin) in effective {
            println!("{key} = {value:?}  # {origin}");
        }
        if sandbox {
            println!("# sandbox mode: no provider credentials, every provider is a built-in fake");
        }
        for provider in absent {
            println!("# {} is absent: {}", provider.name, provider.how_to_configure());
        }
    }
}

fn run(mut config: Config, listen: Option<SocketAddr>, tls: Option<opsdeckd::http::Tls>, sandbox: bool) -> ExitCode {
    init_logging(&config.log);
    config.sandbox_callback_base = listen.filter(|addr| addr.port() != 0).map(|addr| {
        // The fakes run on this machine: an address that listens everywhere is reached at the
        // loopback one.
        let host = match addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
            ip if ip.is_unspecified() => "[::1]".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{host}:{}", addr.port())
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("opsdeckd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        // Listen for the signals before anything starts: a signal that arrives during start-up (or
        // right after the "running" line, which is what a supervisor waits for) must stop the
        // daemon cleanly, not kill it by the default action.
        let mut signals = ShutdownSignals::listen();
        // The desktop's start-up too: in sandbox mode proper (`--sandbox`, or no provider
        // credentials at all) every provider is a built-in fake and the simulated shop runs;
        // otherwise the providers left without credentials are absent (logged).
        let running = match opsdeck_sandbox::launch(config, sandbox).await {
            Ok(running) => running,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "start-up failed");
                if let Some(config_error) = e.downcast_ref::<opsdeck_core::ConfigError>() {
                    // A value found unusable only when used (an SQLite path that cannot be
                    // opened): a configuration error like the others, exit 2.
                    eprintln!("opsdeckd: {config_error}");
                    return ExitCode::from(2);
                }
                return ExitCode::FAILURE;
            }
        };
        let core = running.core().clone();
        let api = match listen {
            Some(addr) => match api::start(addr, &core, tls).await {
                Ok(server) => Some(server),
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "cannot start the HTTP API");
                    running.shutdown().await;
                    return ExitCode::FAILURE;
                }
            },
            None => None,
        };
        let sandbox = core.config().sandbox_mode;
        tracing::info!(instance = %core.info().instance_id, sandbox, "opsdeckd running; Ctrl-C or SIGTERM stops it");
        // A signal, or the core halting by itself (the database proved to be marked for the
        // other mode once it answered): then the daemon stops too, and fails.
        let (signal, halted) = tokio::select! {
            signal = signals.recv() => (signal, None),
            why = core.halted() => ("none", why),
        };
        if let Some(why) = &halted {
            tracing::error!(reason = %why, "the core halted");
        }
        tracing::info!(signal, "stopping");
        if let Some(server) = api {
            api::stop(server).await;
        }
        running.shutdown().await;
        if halted.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
    })
}

/// Ctrl-C (SIGINT) and SIGTERM, listened for from the moment this is made.
struct ShutdownSignals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    fn listen() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        let open = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for {name}; it will not stop opsdeckd cleanly");
                None
            }
        };
        Self { int: open(SignalKind::interrupt(), "SIGINT"), term: open(SignalKind::terminate(), "SIGTERM") }
    }

    /// Resolves on the first of the two, naming it.
    async fn recv(&mut self) -> &'static str {
        async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = next(&mut self.int) => "SIGINT",
            _ = next(&mut self.term) => "SIGTERM",
        }
    }
}

fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
