//! The console's mode and link, for the status bar and the sign-in screen: `connection_status`,
//! the `connection-state` event whenever the link changes, and `server_choose` (the sign-in
//! screen's choice of a server, or of the embedded core).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opsdeck_api::{ConnectionStatus, ConsoleMode, ErrorBody, ErrorCode, LinkState};
use tauri::{AppHandle, Emitter, Runtime, State};
use tokio::sync::watch;

use crate::commands::{OpsState, Session};
use crate::mode::{self, Mode};
use crate::session::{SessionStore, server_file_names};

/// The event the window follows the link with.
pub const CONNECTION_EVENT: &str = "connection-state";

/// How long signing out of the server left behind may take before it is forgotten all the same.
const SIGN_OUT_WITHIN: Duration = Duration::from_secs(5);

/// What the connection commands need: the mode the app started in and its link.
pub(crate) struct Connection {
    pub(crate) mode: Mode,
    pub(crate) data_dir: PathBuf,
    pub(crate) server_ca: Option<PathBuf>,
    pub(crate) link: watch::Receiver<LinkState>,
    pub(crate) restart: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Connection {
    fn status(&self, link: LinkState) -> ConnectionStatus {
        match &self.mode {
            Mode::Embedded => ConnectionStatus {
                mode: ConsoleMode::Embedded,
                server_url: None,
                fixed_by_config: false,
                link: LinkState::Connected,
            },
            Mode::Remote(target) => ConnectionStatus {
                mode: ConsoleMode::Remote,
                server_url: Some(target.server_url.clone()),
                fixed_by_config: target.fixed_by_config,
                link,
            },
        }
    }
}

/// Sends the status to the window whenever the link changes, for as long as the app runs (the
/// embedded core's link never changes).
pub(crate) async fn forward_link<R: Runtime>(app: AppHandle<R>, connection: Arc<Connection>) {
    let mut link = connection.link.clone();
    loop {
        let status = connection.status(link.borrow_and_update().clone());
        if let Err(e) = app.emit(CONNECTION_EVENT, &status) {
            tracing::warn!(error = %e, "cannot send the connection state to the window");
        }
        if link.changed().await.is_err() {
            return;
        }
    }
}

type ConnectionState<'a> = State<'a, Arc<Connection>>;

#[tauri::command]
pub fn connection_status(connection: ConnectionState<'_>) -> ConnectionStatus {
    connection.status(connection.link.borrow().clone())
}

/// Chooses the server the console works against (`None`: the embedded core), then restarts the
/// app so the new mode starts clean. The server must answer `health` (trusting `server_ca` too);
/// a session kept for a server other than the chosen one is ended there (if it answers) and
/// forgotten. Refused when the configuration fixes the server. Choosing what is already in use
/// changes nothing.
#[tauri::command]
pub async fn server_choose<R: Runtime>(
    app: AppHandle<R>,
    connection: ConnectionState<'_>,
    ops: OpsState<'_>,
    session: Session<'_>,
    server_url: Option<String>,
) -> Result<(), ErrorBody> {
    if let Mode::Remote(target) = &connection.mode
        && target.fixed_by_config
    {
        return Err(ErrorBody {
            field: Some("server_url".into()),
            ..ErrorBody::new(
                ErrorCode::InvalidInput,
                format!(
                    "the server is fixed by the configuration (server_url = {}): change it there",
                    target.server_url
                ),
            )
        });
    }
    let chosen = server_url.as_deref().map(mode::check_server_url).transpose()?;
    if chosen.as_deref() == connection.mode.server_url() {
        return Ok(());
    }
    if let Some(url) = &chosen {
        crate::remote::probe(url, connection.server_ca.as_deref()).await?;
    }
    // The session of the server left behind ends there, and is forgotten here.
    if let Mode::Remote(_) = &connection.mode
        && let Some(token) = session.held()
    {
        match tokio::time::timeout(SIGN_OUT_WITHIN, ops.sign_out(&token)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::info!(error = %e, "the server left behind did not end the session"),
            Err(_) => tracing::info!("the server left behind did not answer the sign-out"),
        }
        session.forget();
    }
    if let Some(named) = server_file_names(&connection.data_dir)
        && chosen.as_deref() != mode::check_server_url(&named).ok().as_deref()
    {
        SessionStore::for_server(&connection.data_dir, &named, None).forget();
    }
    mode::save_choice(&connection.data_dir, chosen.as_deref()).map_err(|e| {
        ErrorBody::new(ErrorCode::Internal, format!("cannot remember the chosen server in the data dir: {e}"))
    })?;
    tracing::info!(server_url = chosen.as_deref().unwrap_or("(embedded)"), "server chosen; restarting");
    match &connection.restart {
        Some(restart) => restart(),
        None => app.request_restart(),
    }
    Ok(())
}
