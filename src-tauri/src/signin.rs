//! Staff sign-in on the desktop: the sign-in window, signing out, and the accounts commands.
//!
//! The sign-in window opens the provider's authorize page (a remote page with no capabilities:
//! only `main` has any). Every navigation passes `on_navigation`; the one to the attempt's
//! redirect URI (`Authorization::redirect_uri`) is stopped there (the page is never requested),
//! the whole URL handed to the core (`Ops::sign_in_complete`), the outcome sent to the console
//! as `signin-result`, and the window closed from a spawned task. Closing the window first
//! cancels the attempt (`Ops::sign_in_cancel`: its state can no longer be used) and sends
//! `{status: "cancelled"}`.
//!
//! Each attempt is bound to its window: the core keeps it under a random binding that only this
//! process knows, and the redirect's `state` must be the one this window started. A redirect
//! carrying another attempt's state (login CSRF: someone else's sign-in planted in this window)
//! is refused without touching that attempt, and this window's own attempt is dropped.
//!
//! A staff sign-in's session token is kept by [`SessionStore`]; the console never receives it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use opsdeck_api::accounts::{
    Authorization, LinkRequest, ProviderInfo, ProviderKey, Role, Staff, UserPage, UserQuery, UserView,
};
use opsdeck_api::{ErrorBody, ErrorCode, Ops, SignInResult};
use opsdeck_core::random_token;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder, WindowEvent};

use crate::commands::{OpsState, Session};
use crate::session::SessionStore;

/// The event the console listens to for a sign-in's outcome.
pub const SIGNIN_EVENT: &str = "signin-result";
const WINDOW: &str = "oauth";

/// A sign-in's outcome, as the console receives it: the core's [`SignInResult`] without the
/// session token (which stays in the shell).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WindowResult {
    SignedIn { staff: Staff },
    Linked { user: UserView },
    PendingLink { request: LinkRequest },
    NotStaff { user_id: i64, name: String },
    Cancelled,
    Error { error: ErrorBody },
}

/// The attempt a sign-in window started: its state, the secret binding the core keeps it under
/// (never leaves this process), and where the provider sends the browser back.
#[derive(Clone)]
struct WindowAttempt {
    provider: ProviderKey,
    state: String,
    binding: String,
    redirect: tauri::Url,
}

/// True when `target` is the redirect URI: same scheme, host, port and path (the query carries
/// the provider's answer).
pub fn is_redirect(redirect: &tauri::Url, target: &tauri::Url) -> bool {
    target.scheme() == redirect.scheme()
        && target.host_str() == redirect.host_str()
        && target.port_or_known_default() == redirect.port_or_known_default()
        && target.path() == redirect.path()
}

/// Refuses a redirect whose `state` is not the one this window's attempt started (or has none).
fn own_state(expected: &str, target: &tauri::Url) -> Result<(), ErrorBody> {
    let state = target.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned());
    if state.as_deref() == Some(expected) {
        return Ok(());
    }
    Err(ErrorBody {
        field: Some("state".into()),
        ..ErrorBody::new(
            ErrorCode::SignInElsewhere,
            "the provider came back with another sign-in's state (not the one this window started); refused: \
             start again",
        )
    })
}

fn internal(message: String) -> ErrorBody {
    ErrorBody::new(ErrorCode::Internal, message)
}

/// Opens the sign-in window on `auth.url` (an attempt bound to `binding`); the outcome arrives
/// as [`SIGNIN_EVENT`].
fn open_window<R: Runtime>(
    app: &AppHandle<R>,
    provider: ProviderKey,
    auth: Authorization,
    binding: String,
) -> Result<(), ErrorBody> {
    if let Some(old) = app.get_webview_window(WINDOW) {
        let _ = old.destroy();
    }
    let ops = app.state::<Arc<dyn Ops>>().inner().clone();
    let url: tauri::Url =
        auth.url.parse().map_err(|_| internal("the provider gave an invalid authorize URL".into()))?;
    let redirect: tauri::Url =
        auth.redirect_uri.parse().map_err(|_| internal("the provider gave an invalid redirect URI".into()))?;
    let own = WindowAttempt { provider, state: auth.state, binding, redirect };
    let done = Arc::new(AtomicBool::new(false));
    let navigation = {
        let (app, ops, done, own) = (app.clone(), ops.clone(), done.clone(), own.clone());
        move |target: &tauri::Url| {
            if !is_redirect(&own.redirect, target) {
                return true;
            }
            if !done.swap(true, Ordering::SeqCst) {
                let (app, ops, own, target) = (app.clone(), ops.clone(), own.clone(), target.clone());
                tauri::async_runtime::spawn(async move {
                    let result = complete(ops.as_ref(), &own, &target).await;
                    finish(&app, result);
                    if let Some(window) = app.get_webview_window(WINDOW) {
                        let _ = window.close();
                    }
                });
            }
            // The redirect URI itself is never requested.
            false
        }
    };
    let title = format!("Sign in with {}", provider.display_name());
    let window = WebviewWindowBuilder::new(app, WINDOW, WebviewUrl::External(url))
        .title(title)
        .inner_size(560.0, 680.0)
        .on_navigation(navigation)
        .build()
        .map_err(|e| internal(format!("cannot open the sign-in window: {e}")))?;
    // Cancelled once, whichever comes first: the window destroyed (a user's close, Cancel) or the
    // page closing itself.
    let cancel: Arc<dyn Fn() + Send + Sync> = {
        let app = app.clone();
        Arc::new(move || {
            if done.swap(true, Ordering::SeqCst) {
                return;
            }
            let (app, ops, own) = (app.clone(), ops.clone(), own.clone());
            tauri::async_runtime::spawn(async move {
                if let Err(e) = ops.sign_in_cancel(own.state, own.binding).await {
                    tracing::warn!(error = %e, "cannot drop a cancelled sign-in attempt");
                }
                finish(&app, SignInResult::Cancelled);
            });
        })
    };
    close_with_page(&window, cancel.clone());
    window.on_window_event(move |event| {
        if let WindowEvent::Destroyed = event {
            cancel();
        }
    });
    Ok(())
}

/// Completes this window's attempt from the redirect `target`, or refuses a redirect carrying
/// another attempt's state (that attempt is left alone; this window's own is dropped).
async fn complete(ops: &dyn Ops, own: &WindowAttempt, target: &tauri::Url) -> SignInResult {
    let outcome = match own_state(&own.state, target) {
        Ok(()) => ops.sign_in_complete(own.provider, target.to_string(), own.binding.clone()).await,
        Err(refused) => {
            if let Err(e) = ops.sign_in_cancel(own.state.clone(), own.binding.clone()).await {
                tracing::warn!(error = %e, "cannot drop a refused sign-in attempt");
            }
            Err(refused)
        }
    };
    outcome.unwrap_or_else(|error| SignInResult::Error { error })
}

/// When the page closes itself (`window.close()`, or WebDriver's close), wry destroys only the
/// web view and leaves an empty window behind that never reports `Destroyed`: cancel then, and
/// destroy the window too.
fn close_with_page<R: Runtime>(window: &tauri::WebviewWindow<R>, cancel: Arc<dyn Fn() + Send + Sync>) {
    #[cfg(target_os = "linux")]
    {
        let handle = window.clone();
        let hooked = window.with_webview(move |webview| {
            use gtk::prelude::WidgetExt;
            // wry's own `close` handler destroys the web view; ours may run after it, so the
            // web view's `destroy` is what is watched.
            webview.inner().connect_destroy(move |_| {
                tracing::debug!("the sign-in page closed");
                cancel();
                let _ = handle.destroy();
            });
        });
        if let Err(e) = hooked {
            tracing::warn!(error = %e, "cannot watch the sign-in page's own close");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (window, cancel);
}

/// Keeps a new session's token and tells the console the outcome (without the token).
fn finish<R: Runtime>(app: &AppHandle<R>, result: SignInResult) {
    let result = match result {
        SignInResult::SignedIn { staff, token } => {
            let session = app.state::<Arc<SessionStore>>();
            if let Err(e) = session.keep(token) {
                tracing::warn!(error = %e, path = %session.path().display(),
                    "cannot keep the session on disk: it ends with the app");
            }
            emit_session(app, Some(&staff));
            WindowResult::SignedIn { staff }
        }
        SignInResult::Linked { user } => WindowResult::Linked { user },
        SignInResult::PendingLink { request } => WindowResult::PendingLink { request },
        SignInResult::NotStaff { user_id, name } => WindowResult::NotStaff { user_id, name },
        SignInResult::Cancelled => WindowResult::Cancelled,
        SignInResult::Error { error } => WindowResult::Error { error },
    };
    if let Err(e) = app.emit_to("main", SIGNIN_EVENT, &result) {
        tracing::warn!(error = %e, "cannot send the sign-in outcome to the console");
    }
}

pub(crate) fn emit_session<R: Runtime>(app: &AppHandle<R>, staff: Option<&Staff>) {
    let event = serde_json::json!({ "kind": "session_changed", "staff": staff });
    let _ = app.emit_to("main", crate::CORE_EVENT, event);
}

#[tauri::command]
pub async fn auth_providers(ops: OpsState<'_>) -> Result<Vec<ProviderInfo>, ErrorBody> {
    ops.auth_providers().await
}

/// Who is signed in, as the core answers for the token held (none when it holds none, or no
/// longer honours it: the token is then forgotten).
#[tauri::command]
pub async fn auth_session(ops: OpsState<'_>, session: Session<'_>) -> Result<Option<Staff>, ErrorBody> {
    session.staff(ops.as_ref()).await
}

#[tauri::command]
pub async fn sign_in<R: Runtime>(app: AppHandle<R>, ops: OpsState<'_>, provider: ProviderKey) -> Result<(), ErrorBody> {
    let binding = random_token();
    let auth = ops.sign_in_start(provider, binding.clone()).await?;
    open_window(&app, provider, auth, binding)
}

#[tauri::command]
pub fn sign_in_cancel<R: Runtime>(app: AppHandle<R>) {
    if let Some(window) = app.get_webview_window(WINDOW) {
        let _ = window.close();
    }
}

#[tauri::command]
pub async fn sign_out<R: Runtime>(app: AppHandle<R>, ops: OpsState<'_>, session: Session<'_>) -> Result<(), ErrorBody> {
    session.sign_out(ops.as_ref()).await?;
    emit_session(&app, None);
    Ok(())
}

#[tauri::command]
pub async fn users_list(ops: OpsState<'_>, session: Session<'_>, query: UserQuery) -> Result<UserPage, ErrorBody> {
    ops.users_list(&session.token(), query).await
}

#[tauri::command]
pub async fn link_start<R: Runtime>(
    app: AppHandle<R>,
    ops: OpsState<'_>,
    session: Session<'_>,
    user_id: i64,
    provider: ProviderKey,
) -> Result<(), ErrorBody> {
    let binding = random_token();
    let auth = ops.link_start(&session.token(), user_id, provider, binding.clone()).await?;
    open_window(&app, provider, auth, binding)
}

#[tauri::command]
pub async fn unlink(ops: OpsState<'_>, session: Session<'_>, link_id: i64) -> Result<UserView, ErrorBody> {
    ops.unlink(&session.token(), link_id).await
}

#[tauri::command]
pub async fn staff_set_role(
    ops: OpsState<'_>,
    session: Session<'_>,
    user_id: i64,
    role: Option<Role>,
) -> Result<UserView, ErrorBody> {
    ops.staff_set_role(&session.token(), user_id, role).await
}

#[tauri::command]
pub async fn link_requests_list(ops: OpsState<'_>, session: Session<'_>) -> Result<Vec<LinkRequest>, ErrorBody> {
    ops.link_requests_list(&session.token()).await
}

#[tauri::command]
pub async fn link_request_resolve(
    ops: OpsState<'_>,
    session: Session<'_>,
    id: i64,
    accept: bool,
) -> Result<Option<UserView>, ErrorBody> {
    ops.link_request_resolve(&session.token(), id, accept).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> tauri::Url {
        tauri::Url::parse(s).unwrap()
    }

    #[test]
    fn a_redirect_with_another_attempts_state_is_refused() {
        assert!(own_state("MINE", &url("https://opsdeck.invalid/oauth/callback/weibo?code=C&state=MINE")).is_ok());
        let planted = own_state("MINE", &url("https://opsdeck.invalid/oauth/callback/weibo?code=C&state=THEIRS"));
        let e = planted.unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::SignInElsewhere, Some("state")));
        assert!(own_state("MINE", &url("https://opsdeck.invalid/oauth/callback/weibo?code=C")).is_err());
    }

    #[test]
    fn only_the_redirect_uri_itself_stops_the_window() {
        let redirect = url("https://opsdeck.invalid/oauth/callback/weibo");
        assert!(is_redirect(&redirect, &url("https://opsdeck.invalid/oauth/callback/weibo?code=C&state=S")));
        assert!(is_redirect(&redirect, &url("https://opsdeck.invalid:443/oauth/callback/weibo?code=C")));
        for other in [
            "http://opsdeck.invalid/oauth/callback/weibo?code=C",
            "https://opsdeck.invalid:8443/oauth/callback/weibo?code=C",
            "https://evil.invalid/oauth/callback/weibo?code=C",
            "https://opsdeck.invalid/oauth/callback/qq?code=C",
            "https://api.weibo.com/oauth2/authorize?redirect_uri=https://opsdeck.invalid/oauth/callback/weibo",
        ] {
            assert!(!is_redirect(&redirect, &url(other)), "{other}");
        }
    }
}
