//! The window's live events, through the one door in both modes: `Ops::events` with the window's
//! session (the embedded core, or the server over server-sent events).
//!
//! While the window holds a session its events are forwarded as `core-event` (each envelope's
//! `event`), the last id remembered and named again when the stream is opened anew, so the core
//! sends what was missed (or `resync`: every page reloads). When a stream ends, the session is
//! asked for: one the core no longer honours (revoked, expired) is forgotten and the window told
//! (`session_changed` with no staff: the sign-in screen); otherwise the link broke (a restarted
//! server, a lost connection) and the stream is opened again with backoff.
//!
//! Before a sign-in the window gets only health (the sign-in screen shows it), polled every few
//! seconds.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use opsdeck_api::{Event, Ops, SessionToken};
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::watch;

use crate::CORE_EVENT;
use crate::session::{SessionStore, refused};

/// How often the sign-in screen's health is asked for.
const HEALTH_EVERY: Duration = Duration::from_secs(2);
/// The first wait before a broken stream is opened again; doubled each time, up to the last.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Forwards the live events to the window for as long as the app runs.
pub(crate) async fn forward_events<R: Runtime>(app: AppHandle<R>, ops: Arc<dyn Ops>, session: Arc<SessionStore>) {
    let mut changes = session.changes();
    // The last event's id, and the session it came to: a new session starts afresh.
    let mut resume: Option<(SessionToken, String)> = None;
    let mut retry = RETRY_FIRST;
    loop {
        changes.borrow_and_update();
        let Some(token) = session.held() else {
            resume = None;
            match ops.health().await {
                Ok(report) => emit(&app, &Event::Health { report }),
                Err(e) => tracing::debug!(error = %e, "no health report for the sign-in screen"),
            }
            wait(&mut changes, HEALTH_EVERY).await;
            continue;
        };
        let last_id = resume.as_ref().filter(|(of, _)| *of == token).map(|(_, id)| id.clone());
        let mut session_changed = false;
        match ops.events(&token, last_id).await {
            Ok(mut events) => loop {
                tokio::select! {
                    next = events.next() => match next {
                        Some(envelope) => {
                            retry = RETRY_FIRST;
                            emit(&app, &envelope.event);
                            resume = Some((token.clone(), envelope.id));
                        }
                        None => break,
                    },
                    // Signed out, or in again: the stream is opened anew for what is held now.
                    _ = changes.changed() => {
                        session_changed = true;
                        break;
                    }
                }
            },
            Err(e) if refused(&e) => {}
            Err(e) => tracing::debug!(error = %e, "cannot open the live events"),
        }
        if session_changed || session.held().as_ref() != Some(&token) {
            continue;
        }
        // The stream ended (or never opened) under the window's session: was it the session?
        match ops.session_staff(&token).await {
            Err(e) if refused(&e) => {
                if session.forget_if(&token) {
                    tracing::info!("the session ended at the core; the window signs in again");
                    crate::signin::emit_session(&app, None);
                }
                continue;
            }
            Ok(_) => tracing::debug!("the live events ended; opening them again"),
            Err(e) => tracing::debug!(error = %e, "the core is unreachable; opening the live events again"),
        }
        wait(&mut changes, retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

/// Waits `period`, or less if the session changes meanwhile.
async fn wait(changes: &mut watch::Receiver<u64>, period: Duration) {
    tokio::select! {
        _ = changes.changed() => {}
        _ = tokio::time::sleep(period) => {}
    }
}

fn emit<R: Runtime>(app: &AppHandle<R>, event: &Event) {
    if let Err(e) = app.emit(CORE_EVENT, event) {
        tracing::warn!(error = %e, "cannot emit a core event to the window");
    }
}
