//! The outside providers in the configuration: the sign-in providers' settings and their checks
//! (a client registration is all of its keys or none), each provider's status, and the switch of
//! an unconfigured provider to its built-in fake (sandbox mode).

use secrecy::SecretString;

use super::keys;
use super::status::{ProviderState, ProviderStatus};
use super::validate::{Values, normal_absolute_url, normal_http_url};
use super::{Config, ConfigError};

/// One sign-in provider's settings: where it lives and, once configured, OpsDeck's client.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The host of the authorize page (Weibo and QQ: the same as `api_url`).
    pub authorize_url: String,
    /// The host of the token and user-info calls.
    pub api_url: String,
    pub client: Option<OAuthClient>,
    /// True when the URLs point at OpsDeck's own fake (sandbox mode).
    pub sandbox: bool,
}

/// OpsDeck's registration with a provider.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// `client_id` (WeChat: `appid`).
    pub client_id: String,
    /// WeChat: `secret`. For OpenID Connect it may be absent (a public client, PKCE only).
    pub client_secret: Option<SecretString>,
    /// The registered callback; the sign-in window stops at it.
    pub redirect_uri: String,
}

/// The OpenID Connect provider's settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// Shown on the sign-in button.
    pub name: String,
    /// The issuer (discovery: `<issuer>/.well-known/openid-configuration`).
    pub issuer_url: String,
    pub client: OAuthClient,
}

/// Every sign-in provider.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    pub weibo: ProviderSettings,
    pub qq: ProviderSettings,
    pub wechat: ProviderSettings,
    pub dingtalk: ProviderSettings,
    pub oidc: Option<OidcSettings>,
}

impl OAuthSettings {
    /// The four Chinese providers' settings by key (`weibo`, `qq`, `wechat`, `dingtalk`).
    pub fn provider_mut(&mut self, key: &str) -> Option<&mut ProviderSettings> {
        match key {
            "weibo" => Some(&mut self.weibo),
            "qq" => Some(&mut self.qq),
            "wechat" => Some(&mut self.wechat),
            "dingtalk" => Some(&mut self.dingtalk),
            _ => None,
        }
    }
}

/// Keys that configure one thing together: all of them set, or none (`set` says which are).
pub(super) fn all_or_none<const N: usize>(
    values: &Values<'_>,
    keys: [&str; N],
    set: [bool; N],
    advice: &str,
) -> Result<(), ConfigError> {
    if !set.iter().any(|s| *s) || set.iter().all(|s| *s) {
        return Ok(());
    }
    let first_set = keys.iter().zip(set).find(|(_, s)| *s).map(|(k, _)| *k).unwrap_or(keys[0]);
    let missing: Vec<&str> = keys.iter().zip(set).filter(|(_, s)| !s).map(|(k, _)| *k).collect();
    Err(values.invalid(first_set, format!("{} not set: {advice}", missing.join(" and "))))
}

/// The sign-in providers: each one's URLs, and its client (all of id, secret and redirect URI, or
/// none of them; OpenID Connect's secret is optional).
pub(super) fn validate_oauth(values: &Values<'_>) -> Result<OAuthSettings, ConfigError> {
    let client = |keys: [&str; 3], secret_required: bool| -> Result<Option<OAuthClient>, ConfigError> {
        let id = values.optional(keys[0])?;
        let client_secret = values.secret(keys[1])?;
        let redirect = values.optional(keys[2])?;
        if id.is_none() && client_secret.is_none() && redirect.is_none() {
            return Ok(None);
        }
        let set = [id.is_some(), client_secret.is_some() || !secret_required, redirect.is_some()];
        all_or_none(values, keys, set, &format!("set {}, or none of them", keys.join(", ")))?;
        let redirect_uri = values.parsed(keys[2], &redirect.unwrap_or_default(), normal_absolute_url)?;
        Ok(Some(OAuthClient { client_id: id.unwrap_or_default(), client_secret, redirect_uri }))
    };
    let url = |key: &str| values.parsed(key, &values.text(key)?, normal_http_url);
    let provider = |name: &str, [id, secret, redirect]: [&str; 3], [authorize, api]: [&str; 2]| {
        debug_assert!([id, secret, redirect, authorize, api].iter().all(|k| k.starts_with(name)));
        Ok::<_, ConfigError>(ProviderSettings {
            authorize_url: url(authorize)?,
            api_url: url(api)?,
            client: client([id, secret, redirect], true)?,
            sandbox: false,
        })
    };
    let weibo = provider(
        "weibo",
        ["weibo_client_id", "weibo_client_secret", "weibo_redirect_uri"],
        ["weibo_url", "weibo_url"],
    )?;
    let qq = provider("qq", ["qq_client_id", "qq_client_secret", "qq_redirect_uri"], ["qq_url", "qq_url"])?;
    let wechat = provider(
        "wechat",
        ["wechat_app_id", "wechat_app_secret", "wechat_redirect_uri"],
        ["wechat_open_url", "wechat_api_url"],
    )?;
    let dingtalk = provider(
        "dingtalk",
        ["dingtalk_client_id", "dingtalk_client_secret", "dingtalk_redirect_uri"],
        ["dingtalk_login_url", "dingtalk_api_url"],
    )?;
    let oidc_name = values.text("oidc_name")?;
    let issuer = values.optional("oidc_issuer_url")?;
    let oidc_client = client(["oidc_client_id", "oidc_client_secret", "oidc_redirect_uri"], false)?;
    let oidc = match (issuer, oidc_client) {
        (None, None) => None,
        (Some(issuer_url), Some(client)) => Some(OidcSettings {
            name: if oidc_name.trim().is_empty() { "OpenID Connect".into() } else { oidc_name.trim().to_string() },
            // Kept exactly as given: the discovery document must name the same issuer.
            issuer_url,
            client,
        }),
        (Some(_), None) => {
            return Err(values.invalid(
                "oidc_issuer_url",
                "oidc_client_id and oidc_redirect_uri not set: set them too, or no OpenID Connect key".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(values
                .invalid("oidc_client_id", "oidc_issuer_url not set: set it too, or no OpenID Connect key".into()));
        }
    };
    Ok(OAuthSettings { weibo, qq, wechat, dingtalk, oidc })
}

impl Config {
    /// True when both Baidu keys are configured.
    pub fn baidu_configured(&self) -> bool {
        self.baidu_api_key.is_some() && self.baidu_secret_key.is_some()
    }

    /// Points the OCR queue at a local fake Baidu (the sandbox crate's), with its keys: what the
    /// front ends do when no credentials are configured.
    pub fn use_sandbox_baidu(&mut self, base_url: &str, api_key: &str, secret_key: &str) {
        self.baidu_url = base_url.trim_end_matches('/').to_string();
        self.baidu_api_key = Some(SecretString::from(api_key.to_string()));
        self.baidu_secret_key = Some(SecretString::from(secret_key.to_string()));
        self.baidu_sandbox = true;
        for key in ["baidu_url", "baidu_api_key", "baidu_secret_key"] {
            self.sources.insert(key, "sandbox".into());
        }
    }

    /// True when the app id and both keys are configured.
    pub fn alipay_configured(&self) -> bool {
        self.alipay_app_id.is_some() && self.alipay_private_key.is_some() && self.alipay_public_key.is_some()
    }

    /// Points order expiry at a local fake Alipay (the sandbox crate's) with its keys.
    pub fn use_sandbox_alipay(
        &mut self,
        gateway_url: &str,
        app_id: &str,
        app_private_key: &str,
        alipay_public_key: &str,
    ) {
        self.alipay_gateway_url = gateway_url.to_string();
        self.alipay_app_id = Some(app_id.to_string());
        self.alipay_private_key = Some(SecretString::from(app_private_key.to_string()));
        self.alipay_public_key = Some(alipay_public_key.to_string());
        self.alipay_sandbox = true;
        for key in ["alipay_gateway_url", "alipay_app_id", "alipay_private_key", "alipay_public_key"] {
            self.sources.insert(key, "sandbox".into());
        }
    }

    /// Points one of the four Chinese providers (`weibo`, `qq`, `wechat`, `dingtalk`) at a local
    /// fake (the sandbox crate's) with its client registration.
    pub fn use_sandbox_oauth(&mut self, key: &str, base_url: &str, client: OAuthClient) {
        if let Some(settings) = self.oauth.provider_mut(key) {
            let base = base_url.trim_end_matches('/').to_string();
            *settings =
                ProviderSettings { authorize_url: base.clone(), api_url: base, client: Some(client), sandbox: true };
            let prefix = format!("{key}_");
            for source_key in keys::all().map(|k| k.name).filter(|name| name.starts_with(&prefix)) {
                self.sources.insert(source_key, "sandbox".into());
            }
        }
    }

    /// Every provider and how it is set up: configured with real credentials, the built-in fake
    /// (sandbox mode), or absent (with the keys that would configure it). What the start-up log,
    /// the daemon's `/healthz` (with a token) and `check-config` say.
    pub fn providers(&self) -> Vec<ProviderStatus> {
        let state = |configured: bool, sandbox: bool| match (configured, sandbox) {
            (true, true) => ProviderState::Sandbox,
            (true, false) => ProviderState::Configured,
            (false, _) => ProviderState::Absent,
        };
        let oauth = |name: &'static str, settings: &ProviderSettings, keys: &'static [&'static str]| ProviderStatus {
            name,
            state: state(settings.client.is_some(), settings.sandbox),
            keys,
        };
        vec![
            ProviderStatus {
                name: "baidu",
                state: state(self.baidu_configured(), self.baidu_sandbox),
                keys: &["baidu_api_key", "baidu_secret_key"],
            },
            ProviderStatus {
                name: "alipay",
                state: state(self.alipay_configured(), self.alipay_sandbox),
                keys: &["alipay_app_id", "alipay_private_key", "alipay_public_key"],
            },
            oauth("weibo", &self.oauth.weibo, &["weibo_client_id", "weibo_client_secret", "weibo_redirect_uri"]),
            oauth("qq", &self.oauth.qq, &["qq_client_id", "qq_client_secret", "qq_redirect_uri"]),
            oauth("wechat", &self.oauth.wechat, &["wechat_app_id", "wechat_app_secret", "wechat_redirect_uri"]),
            oauth(
                "dingtalk",
                &self.oauth.dingtalk,
                &["dingtalk_client_id", "dingtalk_client_secret", "dingtalk_redirect_uri"],
            ),
            ProviderStatus {
                name: "oidc",
                state: state(self.oauth.oidc.is_some(), false),
                keys: &["oidc_issuer_url", "oidc_client_id", "oidc_redirect_uri"],
            },
        ]
    }
}
