//! Any standard OpenID Connect provider, by the `openidconnect` crate: discovery (cached for ten
//! minutes, so rotated signing keys are picked up), the authorization-code flow with PKCE (S256)
//! and a nonce, ID-token validation (signature, issuer, audience, expiry, nonce, access-token
//! hash), then the user-info endpoint when the provider has one. The crate's HTTP goes through
//! reqwest without following redirects. A phone number counts only with
//! `phone_number_verified: true` (else it is dropped); the tokens are used for the user-info
//! call and then forgotten.

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

/// A claim's value only when its `…_verified` companion is true: an unverified phone number
/// or email is worth nothing for matching a user.
fn verified<T>(value: Option<T>, verified: Option<bool>) -> Option<T> {
    value.filter(|_| verified == Some(true))
}
use secrecy::ExposeSecret;
use tokio::sync::Mutex;

use super::{Attempt, OAuthProvider, ProviderError};
use crate::accounts::model::{Gender, Identity, ProviderKey};
use crate::config::OidcSettings;

const NAME: &str = "OpenID Connect";
const METADATA_TTL: Duration = Duration::from_secs(600);

pub struct Oidc {
    http: reqwest::Client,
    settings: OidcSettings,
    metadata: Mutex<Option<(CoreProviderMetadata, Instant)>>,
}

/// A transport failure, as the crate wants it (an `Error` type).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

fn unavailable(message: impl std::fmt::Display) -> ProviderError {
    ProviderError::Unavailable { provider: NAME, message: message.to_string() }
}

fn refused(code: &str, message: impl std::fmt::Display) -> ProviderError {
    ProviderError::Refused { provider: NAME, code: code.to_string(), message: message.to_string() }
}

impl Oidc {
    pub fn new(http: reqwest::Client, settings: OidcSettings) -> Oidc {
        Oidc { http, settings, metadata: Mutex::new(None) }
    }

    /// Sends one of the crate's requests with reqwest.
    async fn send(
        http: reqwest::Client,
        request: openidconnect::HttpRequest,
    ) -> Result<openidconnect::HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request).map_err(|e| HttpError(e.without_url().to_string()))?;
        let response = http.execute(request).await.map_err(|e| HttpError(e.without_url().to_string()))?;
        let mut builder = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let body = response.bytes().await.map_err(|e| HttpError(e.without_url().to_string()))?;
        builder.body(body.to_vec()).map_err(|e| HttpError(e.to_string()))
    }

    /// The provider's metadata, discovered at most every ten minutes.
    async fn metadata(&self) -> Result<CoreProviderMetadata, ProviderError> {
        let mut cached = self.metadata.lock().await;
        if let Some((metadata, at)) = cached.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer_url.clone()).map_err(unavailable)?;
        let http = self.http.clone();
        let client = move |request| Oidc::send(http.clone(), request);
        let metadata = CoreProviderMetadata::discover_async(issuer, &client)
            .await
            .map_err(|e| unavailable(format!("discovery failed: {e}")))?;
        *cached = Some((metadata.clone(), Instant::now()));
        Ok(metadata)
    }

    async fn client(
        &self,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        ProviderError,
    > {
        let metadata = self.metadata().await?;
        let client = &self.settings.client;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client.client_id.clone()),
            client.client_secret.as_ref().map(|s| ClientSecret::new(s.expose_secret().to_string())),
        )
        .set_redirect_uri(RedirectUrl::new(client.redirect_uri.clone()).map_err(unavailable)?))
    }
}

impl OAuthProvider for Oidc {
    fn key(&self) -> ProviderKey {
        ProviderKey::Oidc
    }
    fn name(&self) -> &str {
        &self.settings.name
    }
    fn sandbox(&self) -> bool {
        false
    }
    fn uses_pkce(&self) -> bool {
        true
    }
    fn redirect_uri(&self) -> &str {
        &self.settings.client.redirect_uri
    }

    fn authorize_url<'a>(&'a self, attempt: &'a Attempt) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let verifier =
                attempt.pkce_verifier.clone().ok_or_else(|| unavailable("the attempt has no PKCE verifier"))?;
            let nonce = attempt.nonce.clone().ok_or_else(|| unavailable("the attempt has no nonce"))?;
            let state = attempt.state.clone();
            let (url, _, _) = client
                .authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    move || CsrfToken::new(state),
                    move || Nonce::new(nonce),
                )
                .add_scope(Scope::new("profile".into()))
                .add_scope(Scope::new("email".into()))
                .add_scope(Scope::new("phone".into()))
                .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier)))
                .url();
            Ok(url.to_string())
        })
    }

    fn exchange<'a>(&'a self, code: &'a str, attempt: &'a Attempt) -> BoxFuture<'a, Result<Identity, ProviderError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let verifier =
                attempt.pkce_verifier.clone().ok_or_else(|| unavailable("the attempt has no PKCE verifier"))?;
            let nonce = Nonce::new(attempt.nonce.clone().ok_or_else(|| unavailable("the attempt has no nonce"))?);
            let http = self.http.clone();
            let send = move |request| Oidc::send(http.clone(), request);
            let token = client
                .exchange_code(AuthorizationCode::new(code.to_string()))
                .map_err(unavailable)?
                .set_pkce_verifier(PkceCodeVerifier::new(verifier))
                .request_async(&send)
                .await
                .map_err(|e| match e {
                    openidconnect::RequestTokenError::ServerResponse(r) => {
                        refused(r.error().as_ref(), r.error_description().cloned().unwrap_or_default())
                    }
                    other => unavailable(format!("token request failed: {other}")),
                })?;
            let id_token =
                token.id_token().ok_or_else(|| refused("no_id_token", "the token answer has no ID token"))?;
            let verifier = client.id_token_verifier();
            let claims = id_token
                .claims(&verifier, &nonce)
                .map_err(|e| refused("invalid_id_token", format!("the ID token is invalid: {e}")))?;
            if let Some(expected) = claims.access_token_hash() {
                let alg = id_token.signing_alg().map_err(|e| refused("invalid_id_token", e))?;
                let key = id_token.signing_key(&verifier).map_err(|e| refused("invalid_id_token", e))?;
                let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                    .map_err(|e| refused("invalid_id_token", e))?;
                if actual != *expected {
                    return Err(refused("invalid_id_token", "the access token does not match the ID token (at_hash)"));
                }
            }
            let subject = claims.subject().clone();
            let mut nickname = claims.nickname().and_then(|n| n.get(None)).map(|n| n.to_string());
            let mut name = claims.name().and_then(|n| n.get(None)).map(|n| n.to_string());
            let mut avatar = claims.picture().and_then(|p| p.get(None)).map(|p| p.to_string());
            let mut email = claims.email().map(|e| e.to_string());
            let mut email_verified = claims.email_verified();
            let mut mobile = verified(claims.phone_number().map(|p| p.to_string()), claims.phone_number_verified());
            let mut gender = claims.gender().cloned();
            if let Ok(request) = client.user_info(token.access_token().clone(), Some(subject.clone())) {
                let info: CoreUserInfoClaims =
                    request.request_async(&send).await.map_err(|e| unavailable(format!("user info failed: {e}")))?;
                nickname = info.nickname().and_then(|n| n.get(None)).map(|n| n.to_string()).or(nickname);
                name = info.name().and_then(|n| n.get(None)).map(|n| n.to_string()).or(name);
                avatar = info.picture().and_then(|p| p.get(None)).map(|p| p.to_string()).or(avatar);
                if let Some(e) = info.email() {
                    email = Some(e.to_string());
                    email_verified = info.email_verified();
                }
                // The user-info answer is the newer word on the phone: a number it gives
                // unverified (or without saying) is not used, whatever the ID token said.
                if info.phone_number().is_some() {
                    mobile = verified(info.phone_number().map(|p| p.to_string()), info.phone_number_verified());
                }
                gender = info.gender().cloned().or(gender);
            }
            Ok(Identity {
                provider: ProviderKey::Oidc,
                uid: subject.to_string(),
                unionid: None,
                nickname: nickname.or(name),
                avatar,
                email_verified: email.is_some() && email_verified == Some(true),
                email,
                mobile,
                gender: match gender.as_ref().map(|g: &CoreGenderClaim| g.as_str()) {
                    Some("male") => Gender::Male,
                    Some("female") => Gender::Female,
                    _ => Gender::Unknown,
                },
            })
        })
    }
}
