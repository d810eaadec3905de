//! One provider interface, five adapters. Each adapter builds its provider's authorize URL and
//! turns a callback's code into one normalised [`Identity`], handling its provider's quirks
//! (`docs/providers.md` §2):
//!
//! - [`weibo`]: the uid arrives in the token answer;
//! - [`qq`]: a form-encoded token answer, a JSONP `me` call for the openid, `ret` ≠ 0 errors;
//! - [`wechat`]: `appid`/`secret` instead of client id/secret, `#wechat_redirect`, `errcode`s;
//! - [`dingtalk`]: a JSON token request in camelCase, `authCode`, errors as HTTP 400/401;
//! - [`oidc`]: any standard OpenID Connect provider (discovery, PKCE, nonce, ID-token validation)
//!   by the `openidconnect` crate.
//!
//! The four Chinese providers are written by hand on reqwest: none of them speaks standard
//! OAuth 2.0 at the token endpoint (WeChat's parameter names, QQ's form/JSONP answers,
//! DingTalk's JSON body), so a generic OAuth client would need a workaround at every step.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::model::{Identity, ProviderInfo, ProviderKey, Purpose};
use crate::config::{Config, ProviderSettings};
use crate::error::{ApiError, ErrorCode};

pub mod dingtalk;
pub mod oidc;
pub mod qq;
pub mod wechat;
pub mod weibo;

/// One sign-in attempt, from the authorize URL to the callback (kept in Redis under its state).
/// Its `Debug` prints neither the state, the verifier, the nonce nor the binding.
#[derive(Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub provider: ProviderKey,
    pub purpose: Purpose,
    pub state: String,
    /// PKCE's verifier, for providers that support PKCE.
    pub pkce_verifier: Option<String>,
    /// OpenID Connect's nonce, checked in the ID token.
    pub nonce: Option<String>,
    /// SHA-256 (hex) of the opaque value the front end bound the attempt to (the desktop's
    /// window, the shop's customer session): the callback must bring the same value.
    #[serde(default)]
    pub binding: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("provider", &self.provider)
            .field("purpose", &self.purpose)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Why a provider step failed. The message never holds a token or secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The provider answered with an error (a bad, reused or expired code, an invalid token…).
    #[error("{provider} refused the sign-in: {message} (error {code})")]
    Refused { provider: &'static str, code: String, message: String },
    /// The provider could not be reached, or answered something unreadable.
    #[error("{provider} is unavailable: {message}")]
    Unavailable { provider: &'static str, message: String },
}

impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> ApiError {
        // The provider as its key (`weibo`), a word the catalogues name; its own text stays in
        // the English message (the log), never a param.
        let (code, provider) = match &e {
            ProviderError::Refused { provider, .. } => (ErrorCode::SignInRefused, *provider),
            ProviderError::Unavailable { provider, .. } => (ErrorCode::ProviderError, *provider),
        };
        ApiError::coded(code, e.to_string()).param("provider", provider_word(provider))
    }
}

/// The key (`weibo`) of the provider displayed as `name` (`Weibo`), for a param.
pub(crate) fn provider_word(name: &str) -> String {
    ProviderKey::ALL
        .into_iter()
        .find(|key| key.display_name() == name)
        .map_or_else(|| name.to_string(), |key| key.as_str().to_string())
}

/// A sign-in provider.
pub trait OAuthProvider: Send + Sync {
    fn key(&self) -> ProviderKey;
    /// The name on the sign-in button.
    fn name(&self) -> &str;
    /// True when it is OpsDeck's built-in fake.
    fn sandbox(&self) -> bool;
    /// Whether attempts carry PKCE (and a nonce): only providers that support it.
    fn uses_pkce(&self) -> bool {
        false
    }
    /// The registered callback the sign-in window stops at.
    fn redirect_uri(&self) -> &str;
    /// The page to send the user to.
    fn authorize_url<'a>(&'a self, attempt: &'a Attempt) -> BoxFuture<'a, Result<String, ProviderError>>;
    /// The code exchanged for tokens, and the identity behind them.
    fn exchange<'a>(&'a self, code: &'a str, attempt: &'a Attempt) -> BoxFuture<'a, Result<Identity, ProviderError>>;
}

/// The configured providers.
#[derive(Clone, Default)]
pub struct Providers {
    list: Vec<Arc<dyn OAuthProvider>>,
}

impl Providers {
    /// Every provider the configuration gives a client for.
    pub fn from_config(config: &Config) -> anyhow::Result<Providers> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("OpsDeck/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(20))
            // A token endpoint that redirects is a misconfiguration or an attack (SSRF): never follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let oauth = &config.oauth;
        let mut list: Vec<Arc<dyn OAuthProvider>> = Vec::new();
        let chinese: [(&ProviderSettings, ProviderKey); 4] = [
            (&oauth.weibo, ProviderKey::Weibo),
            (&oauth.qq, ProviderKey::Qq),
            (&oauth.wechat, ProviderKey::Wechat),
            (&oauth.dingtalk, ProviderKey::Dingtalk),
        ];
        for (settings, key) in chinese {
            let Some(client) = settings.client.clone() else { continue };
            let base = Base { http: http.clone(), settings: settings.clone(), client };
            list.push(match key {
                ProviderKey::Weibo => Arc::new(weibo::Weibo(base)),
                ProviderKey::Qq => Arc::new(qq::Qq(base)),
                ProviderKey::Wechat => Arc::new(wechat::Wechat(base)),
                _ => Arc::new(dingtalk::Dingtalk(base)),
            });
        }
        if let Some(settings) = &oauth.oidc {
            list.push(Arc::new(oidc::Oidc::new(http, settings.clone())));
        }
        Ok(Providers { list })
    }

    pub fn get(&self, key: ProviderKey) -> Result<&Arc<dyn OAuthProvider>, ApiError> {
        self.list.iter().find(|p| p.key() == key).ok_or_else(|| {
            ApiError::coded(
                ErrorCode::ProviderNotConfigured,
                format!("{} sign-in is not configured", key.display_name()),
            )
            .field("provider")
            .param("provider", key.as_str())
        })
    }

    pub fn infos(&self) -> Vec<ProviderInfo> {
        self.list
            .iter()
            .map(|p| ProviderInfo { key: p.key(), name: p.name().to_string(), sandbox: p.sandbox() })
            .collect()
    }
}

/// What the four hand-written adapters share: the HTTP client and the provider's settings.
pub struct Base {
    pub(crate) http: reqwest::Client,
    pub(crate) settings: ProviderSettings,
    pub(crate) client: crate::config::OAuthClient,
}

impl Base {
    pub(crate) fn secret(&self) -> &str {
        use secrecy::ExposeSecret;
        self.client.client_secret.as_ref().map(|s| s.expose_secret()).unwrap_or_default()
    }

    pub(crate) fn api(&self, path: &str) -> String {
        format!("{}{path}", self.settings.api_url)
    }

    /// `base + path + ?query` with the parameters in the given order (WeChat insists on it).
    pub(crate) fn page(&self, path: &str, params: &[(&str, &str)]) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        format!("{}{path}?{query}", self.settings.authorize_url)
    }
}

/// Reads an answer's body as text; a transport failure is "unavailable". The URL (which may
/// carry a token) is left out of the message.
pub(crate) async fn body_text(
    provider: &'static str,
    sent: reqwest::Result<reqwest::Response>,
) -> Result<(u16, String), ProviderError> {
    let unavailable = |e: reqwest::Error| ProviderError::Unavailable { provider, message: e.without_url().to_string() };
    let response = sent.map_err(unavailable)?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(unavailable)?;
    Ok((status, text))
}

/// Parses JSON, or says the provider answered something unreadable.
pub(crate) fn json(provider: &'static str, status: u16, text: &str) -> Result<serde_json::Value, ProviderError> {
    serde_json::from_str(text).map_err(|_| ProviderError::Unavailable {
        provider,
        message: format!("unreadable answer (HTTP {status}, {} bytes)", text.len()),
    })
}

/// A string field, when present and not empty (numbers are read as their text).
pub(crate) fn text(value: &serde_json::Value, field: &str) -> Option<String> {
    match value.get(field)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The code of an answer that must be there.
pub(crate) fn required(
    provider: &'static str,
    value: &serde_json::Value,
    field: &str,
) -> Result<String, ProviderError> {
    text(value, field)
        .ok_or_else(|| ProviderError::Unavailable { provider, message: format!("the answer has no `{field}`") })
}
