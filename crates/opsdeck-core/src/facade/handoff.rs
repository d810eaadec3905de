//! A desktop's sign-in through the server (RFC 8252, native apps, with PKCE): the desktop's
//! sign-in window opens [`Core::handoff_start`]'s answer (the provider's authorize page), the
//! provider sends the window back to the server ([`Core::handoff_callback`]), which completes
//! the sign-in and sends the window to the desktop's loopback redirect with a one-time code;
//! the desktop exchanges the code and its PKCE verifier for a staff session
//! ([`Core::handoff_exchange`]). The providers' client secrets stay on the server; the desktop
//! holds nothing but the session. What is kept between the steps: `accounts/handoff.rs`.

use chrono::Utc;
use opsdeck_api::SignInResult;
use opsdeck_api::accounts::ProviderKey;
use opsdeck_api::ops::{DesktopSignInStartArgs, SignInExchangeArgs};

use super::Core;
use crate::accounts::handoff::{CODE_LIFETIME, Granted, Handoffs, Pending, is_pkce_value, loopback_redirect, s256};
use crate::accounts::model::{Purpose, SignInOutcome, Staff};
use crate::accounts::store;
use crate::accounts::{Callback, random_token};
use crate::error::{ApiError, ErrorCode};

/// The longest desktop `state` kept.
const MAX_STATE: usize = 512;

fn code_invalid(why: &str) -> ApiError {
    ApiError::coded(ErrorCode::SignInCodeInvalid, format!("this sign-in code cannot be used ({why}); sign in again"))
        .field("code")
}

impl Core {
    fn handoffs(&self) -> Handoffs {
        Handoffs::new(self.redis().clone(), self.config().oauth_state_ttl)
    }

    /// Step 1: checks the desktop's redirect (loopback only), its state and PKCE challenge
    /// (S256 only), starts a console sign-in at `provider` and answers its authorize URL.
    pub(crate) async fn handoff_start(&self, args: DesktopSignInStartArgs) -> Result<String, ApiError> {
        loopback_redirect(&args.redirect_uri)
            .map_err(|why| ApiError::coded(ErrorCode::RedirectNotRegistered, why).field("redirect_uri"))?;
        if args.code_challenge_method != "S256" {
            return Err(ApiError::coded(ErrorCode::PkceInvalid, "code_challenge_method must be S256 (RFC 7636)")
                .field("code_challenge_method"));
        }
        if !is_pkce_value(&args.code_challenge) {
            return Err(ApiError::coded(
                ErrorCode::PkceInvalid,
                "code_challenge must be BASE64URL(SHA-256(code_verifier)): 43 to 128 unreserved characters",
            )
            .field("code_challenge"));
        }
        let length = args.state.chars().count();
        if length == 0 || length > MAX_STATE || args.state.chars().any(char::is_control) {
            return Err(ApiError::coded(
                ErrorCode::LengthOutOfRange,
                format!("state must be 1 to {MAX_STATE} printable characters"),
            )
            .field("state")
            .param("min", 1)
            .param("max", MAX_STATE));
        }
        // The provider attempt's binding: only the server knows it, so only this flow (which
        // finds it under the attempt's state) completes that attempt.
        let binding = random_token();
        let authorization = self.oauth_authorize(args.provider, Purpose::Console, &binding).await?;
        let pending =
            Pending { binding, redirect_uri: args.redirect_uri, state: args.state, challenge: args.code_challenge };
        self.handoffs().put_pending(&authorization.state, &pending).await?;
        Ok(authorization.url)
    }

    /// Step 2: the provider's redirect to the server (`callback_url`, the whole URL). Answers
    /// where the sign-in window goes next: the desktop's redirect with a one-time `code` and the
    /// desktop's `state` when the sign-in opened the console, else with `error` (an
    /// [`ErrorCode`]: `not_staff`, `link_pending`, `sign_in_refused`, …), `error_description`
    /// and `state`. Refused outright (no redirect) when the state is no desktop sign-in's.
    pub(crate) async fn handoff_callback(&self, provider: ProviderKey, callback_url: &str) -> Result<String, ApiError> {
        let url = url::Url::parse(callback_url).map_err(|_| {
            ApiError::coded(ErrorCode::RedirectUrlInvalid, "the provider came back with something that is not a URL")
                .field("callback_url")
        })?;
        let callback = Callback::from_url(&url);
        let unknown = || {
            ApiError::coded(
                ErrorCode::SignInStateInvalid,
                "this sign-in is unknown, expired or already used (the state does not match); start again from the \
                 console",
            )
            .field("state")
        };
        let provider_state = callback.state.clone().ok_or_else(unknown)?;
        let pending = self.handoffs().take_pending(&provider_state).await?.ok_or_else(unknown)?;
        let mut back = loopback_redirect(&pending.redirect_uri).expect("checked when the sign-in started");
        let refused = |code: ErrorCode, description: String| (code, description);
        let outcome = match self.oauth_callback(provider, callback, &pending.binding).await {
            Ok(SignInOutcome::SignedIn { staff: Some(staff), .. }) => Ok(staff),
            Ok(SignInOutcome::SignedIn { .. }) => Err(refused(
                ErrorCode::NotStaff,
                "you signed in, but hold no console role; ask an admin for one".into(),
            )),
            Ok(SignInOutcome::Linked { .. } | SignInOutcome::PendingLink { .. }) => Err(refused(
                ErrorCode::LinkPending,
                "this sign-in matches an existing user; staff must confirm the link first".into(),
            )),
            Err(error) => {
                // As the JSON API would answer it (an internal failure logged, its cause not
                // handed to the window).
                let body = opsdeck_api::ErrorBody::from(error);
                Err(refused(body.code, body.message))
            }
        };
        match outcome {
            Ok(staff) => {
                let code = random_token();
                let granted = Granted {
                    staff,
                    redirect_uri: pending.redirect_uri.clone(),
                    challenge: pending.challenge,
                    expires_at: Utc::now() + CODE_LIFETIME,
                };
                self.handoffs().put_code(&code, &granted).await?;
                back.query_pairs_mut().append_pair("code", &code).append_pair("state", &pending.state);
            }
            Err((code, description)) => {
                let code: &'static str = code.into();
                tracing::info!(error = code, "a desktop sign-in through the server did not open the console");
                back.query_pairs_mut()
                    .append_pair("error", code)
                    .append_pair("error_description", &description)
                    .append_pair("state", &pending.state);
            }
        }
        Ok(back.to_string())
    }

    /// Step 3: the one-time code and the PKCE verifier for a new staff session.
    pub(crate) async fn handoff_exchange(&self, args: SignInExchangeArgs) -> Result<SignInResult, ApiError> {
        self.handoff_exchange_at(args, Utc::now()).await
    }

    /// [`Core::handoff_exchange`] at `now` (the tests move the clock past the code's lifetime).
    pub(crate) async fn handoff_exchange_at(
        &self,
        args: SignInExchangeArgs,
        now: chrono::DateTime<Utc>,
    ) -> Result<SignInResult, ApiError> {
        if !is_pkce_value(&args.code_verifier) {
            return Err(ApiError::coded(
                ErrorCode::PkceInvalid,
                "code_verifier must be 43 to 128 unreserved characters (RFC 7636)",
            )
            .field("code_verifier"));
        }
        if args.code.is_empty() || args.code.len() > 512 {
            return Err(code_invalid("no such code"));
        }
        // Taken whatever comes next: a code works once, even a refused attempt burns it.
        let granted =
            self.handoffs().take_code(&args.code).await?.ok_or_else(|| code_invalid("unknown or already used"))?;
        if now >= granted.expires_at {
            return Err(code_invalid("older than 60 seconds"));
        }
        if granted.redirect_uri != args.redirect_uri {
            return Err(code_invalid("issued for another redirect_uri"));
        }
        if s256(&args.code_verifier) != granted.challenge {
            return Err(code_invalid("the code_verifier does not match the challenge"));
        }
        // The role as it is now: one removed since the callback opens nothing.
        let mut conn = self.database().pool().acquire().await?;
        let user = store::user_alone(&mut conn, granted.staff.user_id).await?;
        drop(conn);
        let Some((user, role)) = user.and_then(|user| user.role.map(|role| (user, role))) else {
            return Err(ApiError::coded(
                ErrorCode::NotStaff,
                "you signed in, but no longer hold a console role; ask an admin for one",
            ));
        };
        let staff = Staff {
            role,
            name: user.nickname.unwrap_or(user.username),
            avatar: user.avatar,
            // As the session's own record will say (`session_staff`).
            signed_in_at: Utc::now(),
            ..granted.staff
        };
        let token = self.open_session(&staff).await?;
        Ok(SignInResult::SignedIn { staff, token })
    }
}

#[cfg(feature = "internals")]
impl Core {
    /// [`Core::handoff_exchange`] as if at `now`: for the tests of the code's lifetime.
    pub async fn sign_in_exchange_at(
        &self,
        args: SignInExchangeArgs,
        now: chrono::DateTime<Utc>,
    ) -> Result<SignInResult, ApiError> {
        self.handoff_exchange_at(args, now).await
    }
}
