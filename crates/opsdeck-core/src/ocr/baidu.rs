//! Baidu AI Cloud's ID-card OCR (docs/providers.md §1): the access token (fetched,
//! kept, refreshed a day before its 30-day expiry, and again on error 110/111 with one retry),
//! the `idcard` call by `url` or base64 `image`, and its answer parsed into typed fields.
//!
//! What a failure means for the caller is [`BaiduError::action`], following the table of errors
//! in docs/providers.md §1.
//! Card data never prints: [`IdCardFront`]'s `Debug` shows none of its fields.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

pub use opsdeck_api::ocr::{IdCard, IdCardBack, IdCardFields, IdCardFront, Side};

/// Refresh a token this long before it expires.
const REFRESH_BEFORE: Duration = Duration::from_secs(24 * 3600);

/// Where the image is.
#[derive(Debug, Clone, Copy)]
pub enum Image<'a> {
    Url(&'a str),
    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    /// Base64 without a `data:` prefix.
    Base64(&'a str),
}

/// `320102199001011234` → `3201**********1234`.
pub fn mask_id_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

/// What the caller should do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorAction {
    /// Transient: retry with exponential backoff and jitter, then dead-letter.
    Retry,
    /// Baidu's per-second cap (18): the call did not count against the item; requeue, slow down.
    SlowDown,
    /// The daily quota is used up (17): pause the queue until midnight, Asia/Shanghai.
    PauseUntilQuotaReset,
    /// The item itself is bad: dead-letter it at once with Baidu's message.
    DeadLetter,
    /// Credentials, permissions or billing (6, 14, 19, bad keys): pause the queue and alert.
    PauseMisconfigured,
}

#[derive(Debug, thiserror::Error)]
pub enum BaiduError {
    #[error("Baidu error {code}: {message}")]
    Api { code: i64, message: String, log_id: Option<u64> },
    #[error("Baidu refused the API key or secret: {0}")]
    Credentials(String),
    #[error("Baidu answered HTTP {0}")]
    Http(u16),
    #[error("cannot reach Baidu: {0}")]
    Transport(String),
    #[error("unexpected answer from Baidu: {0}")]
    Malformed(String),
}

impl BaiduError {
    pub fn action(&self) -> ErrorAction {
        match self {
            BaiduError::Api { code, .. } => match *code {
                18 => ErrorAction::SlowDown,
                17 => ErrorAction::PauseUntilQuotaReset,
                6 | 14 | 19 => ErrorAction::PauseMisconfigured,
                100 | 216_000..=216_999 | 282_110..=282_114 => ErrorAction::DeadLetter,
                // 1, 2, 4, 282000, 110/111 after the one retry, and anything unknown.
                _ => ErrorAction::Retry,
            },
            BaiduError::Credentials(_) => ErrorAction::PauseMisconfigured,
            BaiduError::Http(status) if *status >= 500 || *status == 429 => ErrorAction::Retry,
            BaiduError::Http(_) => ErrorAction::Retry,
            BaiduError::Transport(_) | BaiduError::Malformed(_) => ErrorAction::Retry,
        }
    }

    /// Baidu refused the access token (110 invalid, 111 expired): fetch a new one and call again.
    pub fn token_expired(&self) -> bool {
        matches!(self, BaiduError::Api { code: 110 | 111, .. })
    }
}

struct AccessToken {
    value: SecretString,
    refresh_at: Instant,
}

/// The client; one per process is enough (it keeps the token).
pub struct BaiduOcr {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    secret_key: SecretString,
    token: Mutex<Option<AccessToken>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
    error: Option<String>,
    error_description: Option<String>,
}

impl BaiduOcr {
    /// `base_url` is `https://aip.baidubce.com` for the real service, or a fake's address.
    pub fn new(http: reqwest::Client, base_url: &str, api_key: SecretString, secret_key: SecretString) -> BaiduOcr {
        BaiduOcr {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            secret_key,
            token: Mutex::new(None),
        }
    }

    async fn fetch_token(&self) -> Result<AccessToken, BaiduError> {
        let response = self
            .http
            .post(format!("{}/oauth/2.0/token", self.base_url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.api_key.expose_secret()),
                ("client_secret", self.secret_key.expose_secret()),
            ])
            .send()
            .await
            .map_err(|e| BaiduError::Transport(crate::health::describe_error(&e.without_url())))?;
        let status = response.status();
        let answer: TokenAnswer =
            response.json().await.map_err(|e| BaiduError::Malformed(format!("token answer: {}", e.without_url())))?;
        match (answer.access_token, answer.error) {
            (Some(token), None) => {
                let ttl = Duration::from_secs(answer.expires_in.unwrap_or(2_592_000));
                Ok(AccessToken {
                    value: SecretString::from(token),
                    refresh_at: Instant::now() + ttl.saturating_sub(REFRESH_BEFORE.min(ttl / 2)),
                })
            }
            (_, Some(error)) => {
                Err(BaiduError::Credentials(format!("{error}: {}", answer.error_description.unwrap_or_default())))
            }
            _ if status.is_server_error() => Err(BaiduError::Http(status.as_u16())),
            _ => Err(BaiduError::Malformed("token answer without a token".into())),
        }
    }

    /// The kept token, fetched or refreshed when needed (or when `stale` is the one that was
    /// just refused with 110/111). Fetch it before taking a limiter slot, so that nothing but
    /// the call itself follows the grant.
    pub async fn token(&self, stale: Option<&str>) -> Result<SecretString, BaiduError> {
        let mut kept = self.token.lock().await;
        let usable = kept
            .as_ref()
            .filter(|t| t.refresh_at > Instant::now() && stale.is_none_or(|s| s != t.value.expose_secret()));
        if let Some(token) = usable {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *kept = Some(fresh);
        Ok(value)
    }

    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    /// Recognises one side of an ID card; on 110/111 fetches a new token and retries once.
    /// (The dispatcher does not use this: it takes a limiter slot for each call, see
    /// [`BaiduOcr::token`] and [`BaiduOcr::call`].)
    pub async fn recognise(&self, image: Image<'_>, side: Side) -> Result<IdCard, BaiduError> {
        let token = self.token(None).await?;
        match self.call(&token, image, side).await {
            Err(e) if e.token_expired() => {
                let fresh = self.token(Some(token.expose_secret())).await?;
                self.call(&fresh, image, side).await
            }
            other => other,
        }
    }

    /// Errors carry no URL (`without_url`): the idcard URL holds the access token, which must
    /// never reach a log, the database or the console.
    pub async fn call(&self, token: &SecretString, image: Image<'_>, side: Side) -> Result<IdCard, BaiduError> {
        let mut form = vec![("id_card_side", side.as_str()), ("detect_risk", "true")];
        match image {
            Image::Url(url) => form.push(("url", url)),
            Image::Base64(data) => form.push(("image", data)),
        }
        let response = self
            .http
            .post(format!("{}/rest/2.0/ocr/v1/idcard", self.base_url))
            .query(&[("access_token", token.expose_secret())])
            .form(&form)
            .send()
            .await
            .map_err(|e| BaiduError::Transport(crate::health::describe_error(&e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(BaiduError::Http(status.as_u16()));
        }
        let answer: Value =
            response.json().await.map_err(|e| BaiduError::Malformed(format!("idcard answer: {}", e.without_url())))?;
        parse_idcard(&answer, side)
    }
}

/// Parses an idcard answer (success or `{error_code, error_msg}`).
pub fn parse_idcard(answer: &Value, side: Side) -> Result<IdCard, BaiduError> {
    let log_id = answer.get("log_id").and_then(Value::as_u64);
    if let Some(code) = answer.get("error_code").and_then(Value::as_i64) {
        let message = answer.get("error_msg").and_then(Value::as_str).unwrap_or_default().to_string();
        return Err(BaiduError::Api { code, message, log_id });
    }
    let words = answer.get("words_result").ok_or_else(|| BaiduError::Malformed("no words_result".into()))?;
    let word = |key: &str| -> String {
        words.get(key).and_then(|w| w.get("words")).and_then(Value::as_str).unwrap_or_default().to_string()
    };
    let fields = match side {
        Side::Front => IdCardFields::Front(IdCardFront {
            name: word("姓名"),
            id_number: word("公民身份号码"),
            gender: word("性别"),
            nation: word("民族"),
            birth_date: word("出生"),
            address: word("住址"),
        }),
        Side::Back => IdCardFields::Back(IdCardBack {
            issuing_authority: word("签发机关"),
            issue_date: word("签发日期"),
            expiry_date: word("失效日期"),
        }),
    };
    Ok(IdCard {
        fields,
        image_status: answer.get("image_status").and_then(Value::as_str).unwrap_or("unknown").to_string(),
        risk_type: answer.get("risk_type").and_then(Value::as_str).map(str::to_string),
        idcard_number_type: answer.get("idcard_number_type").and_then(Value::as_i64),
        log_id,
    })
}
