//! The sign-in flow's doors: a fresh attempt and the provider's authorize URL, its callback
//! (the state taken once, checked against its binding and purpose, the code exchanged), and
//! its cancellation.

use chrono::Utc;

use super::check_right_over;
use crate::accounts::model::{Authorization, ProviderInfo, ProviderKey, Purpose, SignInOutcome};
use crate::accounts::providers::Attempt;
use crate::accounts::store;
use crate::accounts::{Actor, Callback, Taken, binding_hash, random_token};
use crate::db::begin_write;
use crate::error::{ApiError, ErrorCode};
use crate::events::Event;
use crate::facade::Core;

fn state_error() -> ApiError {
    ApiError::coded(
        ErrorCode::SignInStateInvalid,
        "this sign-in is unknown, expired or already used (the state does not match); start again",
    )
    .field("state")
}

/// A callback bringing the state of an attempt started elsewhere (another window, another
/// customer's browser): refused, and that attempt is left for its own callback.
fn bound_elsewhere() -> ApiError {
    ApiError::coded(
        ErrorCode::SignInElsewhere,
        "this sign-in was started elsewhere (another window or browser session); start again here",
    )
    .field("state")
}

/// The longest `binding` accepted, and the shortest (a guessable binding would bind nothing).
const MAX_BINDING: usize = 512;
const MIN_BINDING: usize = 16;

fn check_binding(binding: &str) -> Result<(), ApiError> {
    let n = binding.chars().count();
    if (MIN_BINDING..=MAX_BINDING).contains(&n) && !binding.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ApiError::coded(
            ErrorCode::BindingInvalid,
            format!(
                "the binding must be {MIN_BINDING}–{MAX_BINDING} printable characters, secret to the customer's \
                 browser session (e.g. a hash of its session id)"
            ),
        )
        .field("binding")
        .param("min", MIN_BINDING)
        .param("max", MAX_BINDING))
    }
}

impl Core {
    /// The configured sign-in providers.
    pub fn auth_providers(&self) -> Vec<ProviderInfo> {
        self.accounts().providers.infos()
    }

    /// True when `url` is `provider`'s registered redirect URI (the sign-in window stops there).
    pub fn oauth_is_redirect(&self, provider: ProviderKey, url: &url::Url) -> bool {
        self.accounts().providers.get(provider).is_ok_and(|p| crate::accounts::is_redirect(url, p.redirect_uri()))
    }

    /// Starts a sign-in: a fresh state (and PKCE verifier and nonce where supported), kept in
    /// Redis for `oauth_state_ttl`, and the provider's authorize URL. The attempt is bound to
    /// `binding`, an opaque value only its rightful caller knows (the desktop: a secret of the
    /// window that started it; the shop: one derived from the customer's browser session): the
    /// callback must bring it again, so a state from someone else's attempt signs nobody in
    /// here (login CSRF).
    pub async fn oauth_authorize(
        &self,
        provider: ProviderKey,
        purpose: Purpose,
        binding: &str,
    ) -> Result<Authorization, ApiError> {
        check_binding(binding)?;
        let adapter = self.accounts().providers.get(provider)?;
        let pkce = adapter.uses_pkce();
        let attempt = Attempt {
            provider,
            purpose,
            state: random_token(),
            pkce_verifier: pkce.then(random_token),
            nonce: pkce.then(random_token),
            binding: Some(binding_hash(binding)),
            created_at: Utc::now(),
        };
        let url = adapter.authorize_url(&attempt).await?;
        self.accounts().attempts.put(&attempt).await?;
        Ok(Authorization { url, state: attempt.state, redirect_uri: adapter.redirect_uri().to_string() })
    }

    /// Starts a shop customer's sign-in (the shop's login page, through the daemon's HTTP API):
    /// [`Core::oauth_authorize`] for the shop, bound to `binding` (derived from the customer's
    /// browser session); only [`Core::shop_oauth_callback`] completes it.
    pub async fn shop_sign_in_start(&self, provider: ProviderKey, binding: &str) -> Result<Authorization, ApiError> {
        self.oauth_authorize(provider, Purpose::Shop, binding).await
    }

    /// Staff start linking another provider to a user: an operator may for themselves and for
    /// users below their role; a user at or above it needs an admin (checked again when the
    /// link is made).
    pub async fn link_start(
        &self,
        user_id: i64,
        provider: ProviderKey,
        actor: &Actor,
        binding: &str,
    ) -> Result<Authorization, ApiError> {
        actor.require_operator("link sign-ins")?;
        let mut tx = begin_write(self.database()).await?;
        store::lock_staff(&mut tx).await?;
        check_right_over(&mut tx, actor, user_id, "link sign-ins").await?;
        tx.commit().await?;
        self.oauth_authorize(provider, Purpose::Link { user_id, by: actor.user_id }, binding).await
    }

    /// Drops a sign-in attempt (the window was closed); its state can no longer be used. Only
    /// with the attempt's binding: nobody else's attempt can be cancelled. True when it was there.
    pub async fn oauth_cancel(&self, state: &str, binding: &str) -> Result<bool, ApiError> {
        Ok(matches!(self.accounts().attempts.take(state, binding).await?, Taken::Attempt(_)))
    }

    /// Completes a console sign-in or a staff link from the provider's redirect (the desktop's
    /// sign-in window): the state must be one this core issued for this provider, for the
    /// console or a link, and not used before; the code is exchanged, the identity found or
    /// linked or a user created, and (for the console) the staff role settled.
    /// `binding` must be the one the attempt was started with (else refused, and the attempt
    /// stays good for its own window).
    pub async fn oauth_callback(
        &self,
        provider: ProviderKey,
        callback: Callback,
        binding: &str,
    ) -> Result<SignInOutcome, ApiError> {
        self.complete_sign_in(provider, callback, binding, |p| !matches!(p, Purpose::Shop)).await
    }

    /// Completes a shop customer's sign-in (the shop's login page, through the daemon's HTTP
    /// API): only a state issued for the shop is accepted, so a console or link attempt can
    /// never be finished through the shop's endpoint; `binding` must be the one the shop gave
    /// at authorize for this customer's browser session.
    pub async fn shop_oauth_callback(
        &self,
        provider: ProviderKey,
        callback: Callback,
        binding: &str,
    ) -> Result<SignInOutcome, ApiError> {
        self.complete_sign_in(provider, callback, binding, |p| matches!(p, Purpose::Shop)).await
    }

    async fn complete_sign_in(
        &self,
        provider: ProviderKey,
        callback: Callback,
        binding: &str,
        allowed: impl Fn(&Purpose) -> bool,
    ) -> Result<SignInOutcome, ApiError> {
        check_binding(binding)?;
        let state = callback.state.as_deref().filter(|s| !s.is_empty()).ok_or_else(state_error)?;
        // Bound elsewhere: refused and left alone. Bound here, it is taken whatever its
        // purpose: a state offered at the wrong door is spent, not left for a second try.
        let attempt = match self.accounts().attempts.take(state, binding).await? {
            Taken::Attempt(attempt) => attempt,
            Taken::Unknown => return Err(state_error()),
            Taken::OtherBinding => return Err(bound_elsewhere()),
        };
        if attempt.provider != provider || !allowed(&attempt.purpose) {
            return Err(state_error());
        }
        let adapter = self.accounts().providers.get(provider)?;
        let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
            let why = callback.error_description.or(callback.error).unwrap_or_else(|| "no code came back".into());
            return Err(ApiError::coded(
                ErrorCode::SignInRefused,
                format!("the sign-in was refused at {}: {why}", adapter.name()),
            )
            .param("provider", provider.as_str()));
        };
        let identity = adapter.exchange(code, &attempt).await?;
        tracing::info!(provider = %provider, purpose = ?attempt.purpose, "sign-in: identity received");
        let outcome = self.settle(adapter.as_ref(), &identity, attempt.purpose).await?;
        self.publish(Event::AccountsChanged);
        Ok(outcome)
    }
}
