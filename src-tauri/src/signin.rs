//! Staff sign-in on the desktop: the signed-in staff member of this window (the session), the
//! sign-in window, and the accounts commands.
//!
//! The sign-in window opens the provider's authorize page (a remote page with no capabilities:
//! only `main` has any). Every navigation passes `on_navigation`; the one to the provider's
//! registered redirect URI is stopped there (the page is never requested), its `code` and
//! `state` handed to the core, the outcome sent to the console as `signin-result`, and the
//! window closed from a spawned task. Closing the window first cancels the attempt (its state
//! can no longer be used) and sends `{status: "cancelled"}`.
//!
//! Each attempt is bound to its window: the core keeps it under a random binding that only this
//! process knows, and the redirect's `state` must be the one this window started. A redirect
//! carrying another attempt's state (login CSRF: someone else's sign-in planted in this window)
//! is refused without touching that attempt.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use opsdeck_core::accounts::model::{
    Authorization, LinkRequest, ProviderInfo, ProviderKey, Purpose, Role, SignInOutcome, Staff, UserPage, UserQuery,
    UserView,
};
use opsdeck_core::accounts::{Callback, random_token};
use opsdeck_core::{ApiError, Core, ErrorBody};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State, WebviewUrl, WebviewWindowBuilder, WindowEvent};

/// The event the console listens to for a sign-in's outcome.
pub const SIGNIN_EVENT: &str = "signin-result";
const WINDOW: &str = "oauth";

/// This window's signed-in staff member, and the sign-in attempt in progress.
#[derive(Default)]
pub struct Session {
    staff: Mutex<Option<Staff>>,
    attempt: Mutex<Option<WindowAttempt>>,
}

/// The attempt a sign-in window started: its state, and the secret binding the core keeps it
/// under (never leaves this process).
#[derive(Clone)]
struct WindowAttempt {
    state: String,
    binding: String,
}

/// Refuses a redirect whose state is not the one this window's attempt started (or has none).
fn own_state(expected: &str, callback: &Callback) -> Result<(), ApiError> {
    if callback.state.as_deref() == Some(expected) {
        Ok(())
    } else {
        Err(ApiError::InvalidField {
            field: "state".into(),
            message: "the provider came back with another sign-in's state (not the one this window started); \
                      refused: start again"
                .into(),
        })
    }
}

impl Session {
    pub fn staff(&self) -> Option<Staff> {
        self.staff.lock().expect("session lock").clone()
    }

    fn set_staff(&self, staff: Option<Staff>) {
        *self.staff.lock().expect("session lock") = staff;
    }
}

/// A sign-in's outcome, as the console receives it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignInResult {
    SignedIn { staff: Staff },
    Linked { user: UserView },
    PendingLink { request: LinkRequest },
    NotStaff { user_id: i64, message: String },
    Cancelled,
    Error { error: ErrorBody },
}

impl SignInResult {
    fn from_outcome(outcome: Result<SignInOutcome, ApiError>) -> SignInResult {
        match outcome {
            Ok(SignInOutcome::SignedIn { staff: Some(staff), .. }) => SignInResult::SignedIn { staff },
            Ok(SignInOutcome::SignedIn { user, staff: None, .. }) => SignInResult::NotStaff {
                user_id: user.id,
                message: format!(
                    "Signed in as {} (user #{}) but you have no console role yet; an admin must grant one \
                     (on a new installation the first admin is made with `opsdeckd staff grant-admin --user-id {}`)",
                    user.nickname.unwrap_or(user.username),
                    user.id,
                    user.id
                ),
            },
            Ok(SignInOutcome::Linked { user }) => SignInResult::Linked { user },
            Ok(SignInOutcome::PendingLink { request }) => SignInResult::PendingLink { request },
            Err(e) => SignInResult::Error { error: e.into() },
        }
    }
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
    let core = app.state::<Core>().inner().clone();
    let session = app.state::<Arc<Session>>().inner().clone();
    let own = WindowAttempt { state: auth.state.clone(), binding };
    *session.attempt.lock().expect("session lock") = Some(own.clone());
    let url: tauri::Url = auth.url.parse().map_err(|_| {
        ErrorBody::from(ApiError::Internal(anyhow::anyhow!("the provider gave an invalid authorize URL")))
    })?;
    let done = Arc::new(AtomicBool::new(false));
    let navigation = {
        let (app, core, session, done, own) = (app.clone(), core.clone(), session.clone(), done.clone(), own.clone());
        move |target: &tauri::Url| {
            if !core.oauth_is_redirect(provider, target) {
                return true;
            }
            if !done.swap(true, Ordering::SeqCst) {
                let callback = Callback::from_url(target);
                let (app, core, session, own) = (app.clone(), core.clone(), session.clone(), own.clone());
                tauri::async_runtime::spawn(async move {
                    let outcome = match own_state(&own.state, &callback) {
                        Ok(()) => core.oauth_callback(provider, callback, &own.binding).await,
                        Err(e) => {
                            // The other attempt is left alone; this window's own is dropped.
                            if let Err(e) = core.oauth_cancel(&own.state, &own.binding).await {
                                tracing::warn!(error = %e, "cannot drop a refused sign-in attempt");
                            }
                            Err(e)
                        }
                    };
                    let result = SignInResult::from_outcome(outcome);
                    finish(&app, &session, result);
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
        .map_err(|e| ErrorBody::from(ApiError::Internal(anyhow::anyhow!("cannot open the sign-in window: {e}"))))?;
    // Cancelled once, whichever comes first: the window destroyed (a user's close, Cancel) or the
    // page closing itself.
    let cancel: Arc<dyn Fn() + Send + Sync> = {
        let app = app.clone();
        Arc::new(move || {
            if done.swap(true, Ordering::SeqCst) {
                return;
            }
            let (app, core, session, own) = (app.clone(), core.clone(), session.clone(), own.clone());
            tauri::async_runtime::spawn(async move {
                if let Err(e) = core.oauth_cancel(&own.state, &own.binding).await {
                    tracing::warn!(error = %e, "cannot drop a cancelled sign-in attempt");
                }
                finish(&app, &session, SignInResult::Cancelled);
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

/// Records the outcome in the session and tells the console.
fn finish<R: Runtime>(app: &AppHandle<R>, session: &Session, result: SignInResult) {
    *session.attempt.lock().expect("session lock") = None;
    if let SignInResult::SignedIn { staff } = &result {
        session.set_staff(Some(staff.clone()));
        emit_session(app, Some(staff.clone()));
    }
    if let Err(e) = app.emit_to("main", SIGNIN_EVENT, &result) {
        tracing::warn!(error = %e, "cannot send the sign-in outcome to the console");
    }
}

fn emit_session<R: Runtime>(app: &AppHandle<R>, staff: Option<Staff>) {
    let event = serde_json::json!({ "kind": "session_changed", "staff": staff });
    let _ = app.emit_to("main", crate::CORE_EVENT, event);
}

/// The signed-in staff member as the actor of an action (the role as it is now); refused when
/// nobody is signed in.
pub(crate) async fn actor(core: &Core, session: &Session) -> Result<opsdeck_core::Actor, ErrorBody> {
    let staff = session.staff().ok_or_else(|| ErrorBody::from(ApiError::Unauthenticated("sign in first".into())))?;
    Ok(core.staff_actor(&staff).await?)
}

#[tauri::command]
pub fn auth_providers(core: State<'_, Core>) -> Vec<ProviderInfo> {
    core.auth_providers()
}

#[tauri::command]
pub async fn auth_session(core: State<'_, Core>, session: State<'_, Arc<Session>>) -> Result<Option<Staff>, ErrorBody> {
    let Some(staff) = session.staff() else { return Ok(None) };
    // The role as it is now; a removed role or user ends the session.
    match core.staff_actor(&staff).await {
        Ok(actor) => Ok(Some(Staff { role: actor.role(), ..staff })),
        Err(ApiError::Forbidden(_) | ApiError::Unauthenticated(_)) => {
            session.set_staff(None);
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

#[tauri::command]
pub async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, Core>,
    provider: ProviderKey,
) -> Result<(), ErrorBody> {
    let binding = random_token();
    let auth = core.oauth_authorize(provider, Purpose::Console, &binding).await?;
    open_window(&app, provider, auth, binding)
}

#[tauri::command]
pub fn sign_in_cancel<R: Runtime>(app: AppHandle<R>) {
    if let Some(window) = app.get_webview_window(WINDOW) {
        let _ = window.close();
    }
}

#[tauri::command]
pub async fn sign_out<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
) -> Result<(), ErrorBody> {
    if let Some(staff) = session.staff() {
        core.staff_signed_out(&staff).await;
    }
    session.set_staff(None);
    emit_session(&app, None);
    Ok(())
}

#[tauri::command]
pub async fn users_list(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    query: UserQuery,
) -> Result<UserPage, ErrorBody> {
    Ok(core.users_list(query, &actor(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn link_start<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    user_id: i64,
    provider: ProviderKey,
) -> Result<(), ErrorBody> {
    let binding = random_token();
    let auth = core.link_start(user_id, provider, &actor(&core, &session).await?, &binding).await?;
    open_window(&app, provider, auth, binding)
}

#[tauri::command]
pub async fn unlink(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    link_id: i64,
) -> Result<UserView, ErrorBody> {
    Ok(core.unlink(link_id, &actor(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn staff_set_role(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    user_id: i64,
    role: Option<Role>,
) -> Result<UserView, ErrorBody> {
    Ok(core.staff_set_role(user_id, role, &actor(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn link_requests_list(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
) -> Result<Vec<LinkRequest>, ErrorBody> {
    Ok(core.link_requests_list(&actor(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn link_request_resolve(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    id: i64,
    accept: bool,
) -> Result<Option<UserView>, ErrorBody> {
    Ok(core.link_request_resolve(id, accept, &actor(&core, &session).await?).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_with_another_attempts_state_is_refused() {
        let url = |s: &str| tauri::Url::parse(s).unwrap();
        let own = Callback::from_url(&url("https://opsdeck.invalid/oauth/callback/weibo?code=C&state=MINE"));
        assert!(own_state("MINE", &own).is_ok());
        let planted = Callback::from_url(&url("https://opsdeck.invalid/oauth/callback/weibo?code=C&state=THEIRS"));
        let e = own_state("MINE", &planted).unwrap_err();
        assert_eq!(ErrorBody::from(e).field.as_deref(), Some("state"));
        let without = Callback::from_url(&url("https://opsdeck.invalid/oauth/callback/weibo?code=C"));
        assert!(own_state("MINE", &without).is_err());
    }
}
