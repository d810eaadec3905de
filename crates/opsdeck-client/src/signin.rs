//! The desktop's sign-in through the server (RFC 8252, native apps, with PKCE, RFC 7636), shaped
//! like the embedded core's sign-in so the shell's sign-in window works unchanged:
//!
//! 1. [`Ops::sign_in_start`](opsdeck_api::Ops::sign_in_start) makes the attempt: a `state`, the
//!    PKCE verifier (the window's `binding` itself when it is a valid verifier, else derived from
//!    it), and a loopback redirect `http://127.0.0.1:PORT/opsdeck/signin` (RFC 8252 §7.3; nothing
//!    listens there). It asks the server's `/api/v1/auth/desktop/start` itself (this client
//!    trusts `server_ca`; the window's web view trusts only the system's roots) and answers the
//!    provider's authorize URL the server sends it to, with the provider attempt's `state` and
//!    the server's callback (the `redirect_uri` the authorize URL names) as the redirect the
//!    window stops at. So the window shows only the provider's pages.
//! 2. [`Ops::sign_in_complete`](opsdeck_api::Ops::sign_in_complete) takes the provider's
//!    redirect, checks it is this attempt's, hands its query to the server's callback route
//!    (`desktop_sign_in_callback`, again from here), reads the loopback redirect the server
//!    answers (a one-time `code` and this attempt's own state, or an `error`) and exchanges the
//!    code with the verifier (`POST /api/v1/auth/token`) for a session.
//!
//! A redirect whose state is no attempt of this client's is a link started on the server
//! (`link_start`): it goes to the server's `sign_in_complete`, as a cancel does to its
//! `sign_in_cancel`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use opsdeck_api::accounts::{Authorization, ProviderKey};
use opsdeck_api::ops::{DesktopSignInStartArgs, SignInExchangeArgs};
use opsdeck_api::{ErrorBody, ErrorCode, OpResult, Operation};
use reqwest::Url;
use sha2::{Digest, Sha256};

use crate::Inner;

/// The loopback redirect's path.
pub(crate) const REDIRECT_PATH: &str = "/opsdeck/signin";

/// How long an attempt is kept (the server's own attempt expires sooner).
const ATTEMPT_TTL: Duration = Duration::from_secs(30 * 60);

/// The binding's bounds, as the core's (`sign_in_start` refuses the same bindings embedded).
const MIN_BINDING: usize = 16;
const MAX_BINDING: usize = 512;

/// This client's sign-in attempts, by state.
#[derive(Default)]
pub(crate) struct Attempts {
    open: Mutex<HashMap<String, Attempt>>,
}

#[derive(Clone)]
pub(crate) struct Attempt {
    provider: ProviderKey,
    binding: String,
    verifier: String,
    /// The loopback redirect the server sends the code to.
    loopback: String,
    /// This client's own state, which the server hands back with the code.
    state: String,
    /// The server's callback the provider sends the window to (where the window stops).
    callback: String,
    started: Instant,
}

impl Attempts {
    fn insert(&self, state: String, attempt: Attempt) {
        let mut open = self.open.lock().expect("the attempts' lock");
        open.retain(|_, a| a.started.elapsed() < ATTEMPT_TTL);
        open.insert(state, attempt);
    }

    fn get(&self, state: &str) -> Option<Attempt> {
        self.open.lock().expect("the attempts' lock").get(state).filter(|a| a.started.elapsed() < ATTEMPT_TTL).cloned()
    }

    fn remove(&self, state: &str) -> Option<Attempt> {
        self.open.lock().expect("the attempts' lock").remove(state)
    }
}

/// Step 1, before the server is asked: the attempt and the start's arguments.
pub(crate) fn prepare(provider: ProviderKey, binding: String) -> OpResult<(DesktopSignInStartArgs, Attempt)> {
    check_binding(&binding)?;
    let verifier = verifier_for(&binding);
    let state = random_token()?;
    let loopback = loopback_redirect()?;
    let args = DesktopSignInStartArgs {
        provider,
        redirect_uri: loopback.clone(),
        state: state.clone(),
        code_challenge: challenge(&verifier),
        code_challenge_method: "S256".into(),
    };
    let attempt =
        Attempt { provider, binding, verifier, loopback, state, callback: String::new(), started: Instant::now() };
    Ok((args, attempt))
}

/// Step 1, the server's answer: the provider's authorize URL. The attempt is kept under the
/// provider attempt's state (what the provider's redirect carries), and the window stops at the
/// server's callback the URL names.
pub(crate) fn started(inner: &Inner, mut attempt: Attempt, provider_url: String) -> OpResult<Authorization> {
    let url = Url::parse(&provider_url)
        .map_err(|_| ErrorBody::new(ErrorCode::ProviderError, "the server sent the sign-in to something not a URL"))?;
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let state = param("state")
        .ok_or_else(|| ErrorBody::new(ErrorCode::ProviderError, "the provider's sign-in page names no state"))?;
    // Every provider's authorize URL names the redirect (OAuth 2.0 §4.1.1); the server's own
    // route otherwise.
    let callback = match param("redirect_uri").and_then(|r| Url::parse(&r).ok()) {
        Some(mut registered) => {
            registered.set_query(None);
            registered.set_fragment(None);
            registered.to_string()
        }
        None => inner.route_url(Operation::DesktopSignInCallback.http().1, Some(attempt.provider.as_str())).to_string(),
    };
    attempt.callback = callback.clone();
    inner.attempts.insert(state.clone(), attempt);
    Ok(Authorization { url: provider_url, state, redirect_uri: callback })
}

/// What a redirect to the sign-in window carries, when it is one of this client's attempts.
pub(crate) enum Redirect {
    /// Not this client's: a link attempt the server started (or nothing), for the server to judge.
    Server,
    /// This client's attempt (taken: it works once), or why the redirect is refused.
    Own(OpResult<Attempt>),
}

/// Step 2's first half: whose the provider's redirect `redirect_url` is.
pub(crate) fn read_redirect(inner: &Inner, provider: ProviderKey, redirect_url: &str, binding: &str) -> Redirect {
    let Ok(url) = Url::parse(redirect_url) else { return Redirect::Server };
    let Some(state) = url.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()) else {
        return Redirect::Server;
    };
    let Some(attempt) = inner.attempts.get(&state) else { return Redirect::Server };
    if attempt.binding != binding {
        // Another window's attempt: refused, and left for that window.
        return Redirect::Own(Err(refusal(
            ErrorCode::SignInElsewhere,
            "this sign-in was started in another window; start again here",
        )));
    }
    inner.attempts.remove(&state);
    let mut target = url.clone();
    target.set_query(None);
    target.set_fragment(None);
    if attempt.provider != provider || target.as_str() != attempt.callback {
        return Redirect::Own(Err(elsewhere()));
    }
    Redirect::Own(Ok(attempt))
}

fn elsewhere() -> ErrorBody {
    ErrorBody {
        field: Some("redirect_url".into()),
        ..ErrorBody::new(ErrorCode::RedirectUrlInvalid, "the sign-in window came back somewhere else; start again")
    }
}

/// Step 2's second half: the server's answer to the callback, the loopback redirect with this
/// attempt's state and a code (or an error).
pub(crate) fn read_loopback(attempt: Attempt, loopback_url: &str) -> OpResult<SignInExchangeArgs> {
    let url = Url::parse(loopback_url).map_err(|_| elsewhere())?;
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let mut target = url.clone();
    target.set_query(None);
    target.set_fragment(None);
    if target.as_str() != attempt.loopback || param("state").as_deref() != Some(attempt.state.as_str()) {
        return Err(elsewhere());
    }
    if let Some(code) = param("error") {
        return Err(redirected_error(&code, param("error_description"), attempt.provider));
    }
    match param("code") {
        Some(code) => Ok(SignInExchangeArgs { code, code_verifier: attempt.verifier, redirect_uri: attempt.loopback }),
        None => Err(ErrorBody {
            field: Some("redirect_url".into()),
            ..ErrorBody::new(ErrorCode::RedirectUrlInvalid, "the server's redirect holds neither a code nor an error")
        }),
    }
}

/// Forgets this client's attempt `state`; false when there was none (the server's, then).
pub(crate) fn cancel(inner: &Inner, state: &str, binding: &str) -> bool {
    match inner.attempts.get(state) {
        Some(attempt) if attempt.binding == binding => inner.attempts.remove(state).is_some(),
        _ => false,
    }
}

/// The error the server's redirect names: its `error` as a code of ours (`not_staff`,
/// `link_pending`, `sign_in_refused`, …), else OAuth's own words (`access_denied`) as a refused
/// sign-in; the provider named for the catalogues' text (`{provider}`).
fn redirected_error(code: &str, description: Option<String>, provider: ProviderKey) -> ErrorBody {
    let known = serde_json::from_value::<ErrorCode>(serde_json::Value::String(code.to_string())).ok();
    let code = known.unwrap_or(ErrorCode::SignInRefused);
    let message = description.unwrap_or_else(|| format!("the sign-in did not open the console ({code})"));
    let mut error = ErrorBody::new(code, message);
    error.params.insert("provider".into(), provider.as_str().into());
    error
}

fn refusal(code: ErrorCode, message: &str) -> ErrorBody {
    ErrorBody { field: Some("state".into()), ..ErrorBody::new(code, message) }
}

fn check_binding(binding: &str) -> OpResult<()> {
    let n = binding.chars().count();
    if (MIN_BINDING..=MAX_BINDING).contains(&n) && !binding.chars().any(char::is_control) {
        return Ok(());
    }
    let mut error = ErrorBody::new(
        ErrorCode::BindingInvalid,
        format!("the binding must be {MIN_BINDING}–{MAX_BINDING} printable characters, secret to the sign-in window"),
    );
    error.field = Some("binding".into());
    error.params.insert("min".into(), MIN_BINDING.to_string());
    error.params.insert("max".into(), MAX_BINDING.to_string());
    Err(error)
}

/// The PKCE verifier: `binding` itself when it is one (43–128 unreserved characters, RFC 7636
/// §4.1: what the shell's `random_token` makes, 32 random bytes in base64url), else
/// `BASE64URL(SHA-256(binding))` (43 characters).
pub(crate) fn verifier_for(binding: &str) -> String {
    let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
    if (43..=128).contains(&binding.len()) && binding.chars().all(unreserved) {
        binding.to_string()
    } else {
        URL_SAFE_NO_PAD.encode(Sha256::digest(binding.as_bytes()))
    }
}

/// `BASE64URL(SHA-256(verifier))` (S256).
pub(crate) fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// 32 random bytes in base64url (the attempt's state).
fn random_token() -> OpResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ErrorBody::new(ErrorCode::Internal, format!("the system's random generator failed: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// `http://127.0.0.1:PORT/opsdeck/signin` on a port free now (RFC 8252 §7.3: the client picks
/// an ephemeral port; the window stops at the redirect, so nothing needs to listen on it).
fn loopback_redirect() -> OpResult<String> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| ErrorBody::new(ErrorCode::Internal, format!("no free loopback port for the sign-in: {e}")))?;
    Ok(format!("http://127.0.0.1:{}{REDIRECT_PATH}", listener.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_is_the_binding_when_valid_else_its_hash() {
        let token = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_eq!(token.len(), 43, "the shell's random_token: 32 bytes in base64url");
        assert_eq!(verifier_for(&token), token);
        let short = "a-binding-of-30-characters-xyz";
        let derived = verifier_for(short);
        assert_eq!(derived.len(), 43);
        assert_ne!(derived, short);
        assert_eq!(
            verifier_for("with spaces and more than forty-three characters in it"),
            verifier_for("with spaces and more than forty-three characters in it")
        );
        // RFC 7636 appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn an_error_redirect_is_our_code_or_a_refused_sign_in() {
        let not_staff = redirected_error("not_staff", None, ProviderKey::Weibo);
        assert_eq!(not_staff.code, ErrorCode::NotStaff);
        let denied = redirected_error("access_denied", Some("the user said no".into()), ProviderKey::Qq);
        assert_eq!((denied.code, denied.message.as_str()), (ErrorCode::SignInRefused, "the user said no"));
        assert_eq!(denied.params.get("provider").map(String::as_str), Some("qq"), "for the catalogue's {{provider}}");
    }
}
