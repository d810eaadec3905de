//! Alipay's open API (docs/providers.md §3), what order expiry needs of it:
//! `alipay.trade.query`, `alipay.trade.close` and the verification of the async notify.
//!
//! Requests are signed RSA2 (SHA256withRSA, PKCS#1 v1.5) with the app's private key over
//! [`signing_content`]; answers are verified with Alipay's public key over the exact text of
//! their `*_response` value as it arrived (never re-serialized). Business outcomes come only
//! from verified answers. What a failure means for the caller is [`AlipayError::is_retryable`].
//!
//! Keys never print: [`AlipayConfig`] keeps the private key in a [`SecretString`], and neither
//! it nor [`AlipayClient`] shows a key in `Debug`; no error carries key material.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use serde_json::value::RawValue;

/// SHA-256 of the DER form of the built-in fake's Alipay public key, which is published in this
/// repository (`opsdeck-sandbox`): anyone can sign an answer or a notify that verifies with it.
/// A client with this key is refused unless its gateway is on this machine (the fake's).
const PUBLISHED_SANDBOX_KEY_SHA256: &str = "933f3e17ad636bcf9b4ba988d11754a88eea8b63c585bb592379eec33dc02845";

/// Every call gives up after this long (a retry later is the caller's).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const QUERY: &str = "alipay.trade.query";
const CLOSE: &str = "alipay.trade.close";

/// Where Alipay is and who we are to it.
#[derive(Clone)]
pub struct AlipayConfig {
    /// `https://openapi.alipay.com/gateway.do`, or a fake's.
    pub gateway_url: String,
    pub app_id: String,
    /// RSA, PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`) or bare base64 as Alipay's
    /// key tool hands it out.
    pub app_private_key: SecretString,
    /// RSA, PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`) or bare base64 as Alipay's console shows it.
    pub alipay_public_key: String,
    /// The shop's Alipay account (`2088…`); when set, a notify for another seller is refused.
    pub seller_id: Option<String>,
}

impl fmt::Debug for AlipayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlipayConfig")
            .field("gateway_url", &self.gateway_url)
            .field("app_id", &self.app_id)
            .field("seller_id", &self.seller_id)
            .field("app_private_key", &"[REDACTED]")
            .field("alipay_public_key", &format_args!("<{} characters>", self.alipay_public_key.len()))
            .finish()
    }
}

/// A trade's state at Alipay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeStatus {
    /// `WAIT_BUYER_PAY`: the buyer opened the payment page and has not paid.
    WaitBuyerPay,
    /// `TRADE_CLOSED`: closed unpaid (or fully refunded).
    Closed,
    /// `TRADE_SUCCESS`: paid (refunds still possible).
    Success,
    /// `TRADE_FINISHED`: paid, and past the refund window.
    Finished,
    /// `ACQ.TRADE_NOT_EXIST`: the buyer never opened the payment page: unpaid.
    NotExist,
}

impl TradeStatus {
    /// Paid: `TRADE_SUCCESS` or `TRADE_FINISHED`.
    pub fn is_paid(self) -> bool {
        matches!(self, TradeStatus::Success | TradeStatus::Finished)
    }

    /// Alipay's name (`TRADE_NOT_EXIST` for [`TradeStatus::NotExist`], its sub_code's tail).
    pub fn as_str(self) -> &'static str {
        match self {
            TradeStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
            TradeStatus::Closed => "TRADE_CLOSED",
            TradeStatus::Success => "TRADE_SUCCESS",
            TradeStatus::Finished => "TRADE_FINISHED",
            TradeStatus::NotExist => "TRADE_NOT_EXIST",
        }
    }

    /// A `trade_status` value (not `TRADE_NOT_EXIST`, which is never one).
    fn from_trade_status(text: &str) -> Option<TradeStatus> {
        match text {
            "WAIT_BUYER_PAY" => Some(TradeStatus::WaitBuyerPay),
            "TRADE_CLOSED" => Some(TradeStatus::Closed),
            "TRADE_SUCCESS" => Some(TradeStatus::Success),
            "TRADE_FINISHED" => Some(TradeStatus::Finished),
            _ => None,
        }
    }
}

/// `alipay.trade.query`'s answer. Amounts are Alipay's strings (`"12.50"`, yuan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeQuery {
    pub status: TradeStatus,
    pub trade_no: Option<String>,
    pub total_amount: Option<String>,
    /// `yyyy-MM-dd HH:mm:ss`, GMT+8, once paid.
    pub send_pay_date: Option<String>,
}

/// `alipay.trade.close`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOutcome {
    /// Closed now: the buyer can no longer pay.
    Closed,
    /// `ACQ.TRADE_NOT_EXIST`: nothing to close.
    NotExist,
    /// `ACQ.TRADE_STATUS_ERROR`: not waiting for payment (the buyer may just have paid): query again.
    StatusError,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlipayError {
    /// 20000, `ACQ.SYSTEM_ERROR`, transport, HTTP errors, timeouts, unreadable answers.
    #[error("Alipay unavailable, retry later: {0}")]
    Retry(String),
    /// 4000x other than the sub_codes the call handles: retrying the same call will not help.
    #[error("Alipay refused the call: {code} {}: {message}", sub_code.as_deref().unwrap_or("-"))]
    Refused { code: String, sub_code: Option<String>, message: String },
    /// The answer's signature does not verify with Alipay's public key: retry later, and look.
    #[error("Alipay's answer failed signature verification: {0}")]
    BadSignature(String),
    /// A key that cannot be read (or used).
    #[error("Alipay configuration: {0}")]
    Config(String),
}

impl AlipayError {
    /// Whether the same call may succeed later ([`AlipayError::Retry`] and
    /// [`AlipayError::BadSignature`]).
    pub fn is_retryable(&self) -> bool {
        matches!(self, AlipayError::Retry(_) | AlipayError::BadSignature(_))
    }
}

/// A verified async notify. Amounts are Alipay's strings (`"12.50"`, yuan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub out_trade_no: String,
    pub trade_no: String,
    pub trade_status: TradeStatus,
    pub total_amount: String,
    pub app_id: String,
    /// The same for every retry of one notify: the key for idempotent handling.
    pub notify_id: String,
}

/// What a notify whose signature verified is about (each may be empty when it lacks the field).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Signed {
    pub out_trade_no: String,
    pub trade_no: String,
    pub notify_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("the notify's signature does not verify with Alipay's public key")]
    BadSignature,
    #[error("the notify has no {0}")]
    MissingField(&'static str),
    #[error("malformed notify: {0}")]
    Malformed(String),
    /// Signed by Alipay, yet not acceptable: for another app or seller, or a status we do not
    /// know. `about` says which order it concerns, so the refusal can leave a trace there.
    #[error("{reason}")]
    Refused { about: Signed, field: &'static str, reason: String },
}

/// The Alipay client: keys parsed once; cheap to share behind an `Arc`.
pub struct AlipayClient {
    http: reqwest::Client,
    gateway_url: String,
    app_id: String,
    /// RSA2 = SHA256withRSA, PKCS#1 v1.5, by OpenSSL (constant-time, blinded; a pure-Rust RSA
    /// was 85 % of a sweep's CPU).
    signing_key: PKey<Private>,
    verifying_key: PKey<Public>,
    seller_id: Option<String>,
}

impl fmt::Debug for AlipayClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlipayClient")
            .field("gateway_url", &self.gateway_url)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// One `*_response` or `error_response`, its signature checked.
struct Answer {
    code: String,
    msg: String,
    sub_code: Option<String>,
    sub_msg: Option<String>,
    fields: Value,
}

impl Answer {
    fn field(&self, name: &str) -> Option<String> {
        text_of(self.fields.get(name)?)
    }

    /// The answer as an error, for codes the call does not handle itself.
    fn into_error(self) -> AlipayError {
        let message = match &self.sub_msg {
            Some(sub_msg) => format!("{}: {sub_msg}", self.msg),
            None => self.msg.clone(),
        };
        let system_error = self.sub_code.as_deref().is_some_and(|s| s.ends_with("ACQ.SYSTEM_ERROR"));
        if self.code == "20000" || system_error || !self.code.starts_with('4') {
            let sub_code = self.sub_code.as_deref().unwrap_or("-");
            return AlipayError::Retry(format!("{} {sub_code}: {message}", self.code));
        }
        AlipayError::Refused { code: self.code, sub_code: self.sub_code, message }
    }
}

impl AlipayClient {
    /// Reads both keys; a key that cannot be read is [`AlipayError::Config`].
    pub fn new(http: reqwest::Client, config: AlipayConfig) -> Result<AlipayClient, AlipayError> {
        let private = private_key(config.app_private_key.expose_secret())
            .map_err(|e| AlipayError::Config(format!("app_private_key: {e}")))?;
        let public = public_key(&config.alipay_public_key)
            .map_err(|e| AlipayError::Config(format!("alipay_public_key: {e}")))?;
        if is_published_sandbox_key(&public) && !on_this_machine(&config.gateway_url) {
            return Err(AlipayError::Config(
                "alipay_public_key is the built-in fake's, whose private half is published with OpsDeck: anyone \
                 could sign a payment notify with it. Configure Alipay's public key from the Alipay console, or \
                 run in sandbox mode (--sandbox)"
                    .into(),
            ));
        }
        Ok(AlipayClient {
            http,
            gateway_url: config.gateway_url,
            app_id: config.app_id,
            signing_key: private,
            verifying_key: public,
            seller_id: config.seller_id,
        })
    }

    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    /// Whether answers and notifies are verified with the built-in fake's published key.
    pub fn trusts_published_sandbox_key(&self) -> bool {
        is_published_sandbox_key(&self.verifying_key)
    }

    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// `alipay.trade.query` by `out_trade_no`; `ACQ.TRADE_NOT_EXIST` is `Ok` ([`TradeStatus::NotExist`]).
    pub async fn query(&self, out_trade_no: &str) -> Result<TradeQuery, AlipayError> {
        let answer = self.call(QUERY, out_trade_no).await?;
        if answer.code == "10000" {
            let trade_status = answer.field("trade_status").unwrap_or_default();
            let Some(status) = TradeStatus::from_trade_status(&trade_status) else {
                return Err(AlipayError::Retry(format!("unexpected trade_status {trade_status:?}")));
            };
            return Ok(TradeQuery {
                status,
                trade_no: answer.field("trade_no"),
                total_amount: answer.field("total_amount"),
                send_pay_date: answer.field("send_pay_date"),
            });
        }
        match answer.sub_code.as_deref() {
            Some("ACQ.TRADE_NOT_EXIST") => Ok(TradeQuery {
                status: TradeStatus::NotExist,
                trade_no: None,
                total_amount: None,
                send_pay_date: None,
            }),
            _ => Err(answer.into_error()),
        }
    }

    /// `alipay.trade.close` by `out_trade_no`.
    pub async fn close(&self, out_trade_no: &str) -> Result<CloseOutcome, AlipayError> {
        let answer = self.call(CLOSE, out_trade_no).await?;
        if answer.code == "10000" {
            return Ok(CloseOutcome::Closed);
        }
        match answer.sub_code.as_deref() {
            Some("ACQ.TRADE_NOT_EXIST") => Ok(CloseOutcome::NotExist),
            Some("ACQ.TRADE_STATUS_ERROR") => Ok(CloseOutcome::StatusError),
            _ => Err(answer.into_error()),
        }
    }

    /// Verifies an async notify: `form` is the POSTed form, URL-decoded, as received. Checks the
    /// signature (over every non-empty parameter but `sign` and `sign_type`), that it is for
    /// this app (and this seller, when one is configured) and that its status is one we know;
    /// comparing `out_trade_no` and `total_amount` with the order is the caller's.
    pub fn verify_notify(&self, form: &[(String, String)]) -> Result<Notify, NotifyError> {
        for (i, (key, _)) in form.iter().enumerate() {
            if form[..i].iter().any(|(seen, _)| seen == key) {
                return Err(NotifyError::Malformed(format!("{key} appears twice")));
            }
        }
        let get = |name: &'static str| -> Result<&str, NotifyError> {
            form.iter()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.as_str())
                .ok_or(NotifyError::MissingField(name))
        };
        let sign = get("sign")?;
        if let Ok(sign_type) = get("sign_type")
            && sign_type != "RSA2"
        {
            return Err(NotifyError::Malformed(format!("sign_type {sign_type}, expected RSA2")));
        }
        // A `+` decoded once too often arrives as a space; base64 has no spaces.
        let sign = sign.replace(' ', "+");
        if !self.verifies(signing_content(form, true).as_bytes(), &sign) {
            return Err(NotifyError::BadSignature);
        }
        let about = Signed {
            out_trade_no: get("out_trade_no").unwrap_or_default().to_string(),
            trade_no: get("trade_no").unwrap_or_default().to_string(),
            notify_id: get("notify_id").unwrap_or_default().to_string(),
        };
        let refused =
            |field: &'static str, reason: String| NotifyError::Refused { about: about.clone(), field, reason };
        let app_id = get("app_id")?;
        if app_id != self.app_id {
            return Err(refused("app_id", format!("the notify is for another app: {app_id}")));
        }
        if let Some(ours) = &self.seller_id {
            let seller_id = get("seller_id").unwrap_or_default();
            if seller_id != ours {
                return Err(refused("seller_id", format!("the notify is for another seller: {seller_id:?}")));
            }
        }
        let status = get("trade_status")?;
        let trade_status = TradeStatus::from_trade_status(status)
            .ok_or_else(|| refused("trade_status", format!("unknown trade_status {status:?}")))?;
        Ok(Notify {
            out_trade_no: get("out_trade_no")?.to_string(),
            trade_no: get("trade_no")?.to_string(),
            trade_status,
            total_amount: get("total_amount")?.to_string(),
            app_id: app_id.to_string(),
            notify_id: get("notify_id")?.to_string(),
        })
    }

    /// One signed call; the answer's signature checked, and checked to be about `out_trade_no`.
    async fn call(&self, method: &str, out_trade_no: &str) -> Result<Answer, AlipayError> {
        let biz_content = serde_json::json!({ "out_trade_no": out_trade_no }).to_string();
        let params = self.signed_params(method, &biz_content, Utc::now())?;
        let response = self
            .http
            .post(&self.gateway_url)
            .timeout(CALL_TIMEOUT)
            .form(&params)
            .send()
            .await
            .map_err(|e| AlipayError::Retry(format!("cannot reach Alipay: {}", describe(e))))?;
        let status = response.status();
        if !status.is_success() {
            return Err(AlipayError::Retry(format!("Alipay answered HTTP {}", status.as_u16())));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| AlipayError::Retry(format!("cannot read Alipay's answer: {}", describe(e))))?;
        let answer = self.open(&body, method).inspect_err(|e| {
            if let AlipayError::BadSignature(reason) = e {
                tracing::error!(method, out_trade_no, reason, "Alipay's answer failed signature verification");
            }
        })?;
        if let Some(about) = answer.field("out_trade_no")
            && about != out_trade_no
        {
            tracing::error!(method, out_trade_no, about, "Alipay answered about another order");
            return Err(AlipayError::Retry(format!("the answer is about order {about}, not {out_trade_no}")));
        }
        Ok(answer)
    }

    /// The request's parameters, `sign` last.
    fn signed_params(
        &self,
        method: &str,
        biz_content: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, AlipayError> {
        let timestamp = now.with_timezone(&gmt8()).format("%Y-%m-%d %H:%M:%S").to_string();
        let mut params: Vec<(String, String)> = [
            ("app_id", self.app_id.as_str()),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", &timestamp),
            ("version", "1.0"),
            ("biz_content", biz_content),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let content = signing_content(&params, false);
        let signature = Signer::new(MessageDigest::sha256(), &self.signing_key)
            .and_then(|mut signer| {
                signer.update(content.as_bytes())?;
                signer.sign_to_vec()
            })
            .map_err(|e| AlipayError::Config(format!("cannot sign with app_private_key: {e}")))?;
        params.push(("sign".into(), STANDARD.encode(signature)));
        Ok(params)
    }

    /// Finds `<method>_response` (or `error_response`) in `body` and verifies its raw text.
    fn open(&self, body: &[u8], method: &str) -> Result<Answer, AlipayError> {
        let envelope: std::collections::HashMap<String, &RawValue> = serde_json::from_slice(body)
            .map_err(|e| AlipayError::Retry(format!("Alipay's answer is not a JSON object: {e}")))?;
        let sign = match envelope.get("sign") {
            Some(raw) => serde_json::from_str::<Option<String>>(raw.get())
                .map_err(|_| AlipayError::BadSignature("sign is not a string".into()))?,
            None => None,
        };
        let key = format!("{}_response", method.replace('.', "_"));
        if let Some(raw) = envelope.get(&key) {
            let Some(sign) = sign else {
                return Err(AlipayError::BadSignature(format!("{key} is not signed")));
            };
            if !self.verifies_answer(raw.get(), &sign) {
                return Err(AlipayError::BadSignature(format!("{key} does not match its sign")));
            }
            return parse_answer(raw);
        }
        let Some(raw) = envelope.get("error_response") else {
            return Err(AlipayError::Retry(format!("Alipay's answer has neither {key} nor error_response")));
        };
        // The gateway does not always sign its errors (it cannot when the app is unknown); an
        // error only ever stops the call, so an unsigned one is taken as such.
        if let Some(sign) = sign
            && !self.verifies_answer(raw.get(), &sign)
        {
            return Err(AlipayError::BadSignature("error_response does not match its sign".into()));
        }
        let answer = parse_answer(raw)?;
        if answer.code == "10000" {
            return Err(AlipayError::Retry("error_response with code 10000".into()));
        }
        Err(answer.into_error())
    }

    /// Alipay's own SDK tolerates answers whose text escapes `/` as `\/` while the signature
    /// covers the unescaped form; so does this.
    fn verifies_answer(&self, raw: &str, sign: &str) -> bool {
        self.verifies(raw.as_bytes(), sign)
            || (raw.contains("\\/") && self.verifies(raw.replace("\\/", "/").as_bytes(), sign))
    }

    fn verifies(&self, content: &[u8], sign: &str) -> bool {
        let Ok(signature) = STANDARD.decode(sign.trim()) else { return false };
        Verifier::new(MessageDigest::sha256(), &self.verifying_key)
            .and_then(|mut verifier| {
                verifier.update(content)?;
                verifier.verify(&signature)
            })
            .unwrap_or(false)
    }
}

fn parse_answer(raw: &RawValue) -> Result<Answer, AlipayError> {
    let fields: Value =
        serde_json::from_str(raw.get()).map_err(|e| AlipayError::Retry(format!("Alipay's answer is not JSON: {e}")))?;
    if !fields.is_object() {
        return Err(AlipayError::Retry("Alipay's answer is not a JSON object".into()));
    }
    let get = |name: &str| fields.get(name).and_then(text_of);
    let Some(code) = get("code") else {
        return Err(AlipayError::Retry("Alipay's answer has no code".into()));
    };
    Ok(Answer { code, msg: get("msg").unwrap_or_default(), sub_code: get("sub_code"), sub_msg: get("sub_msg"), fields })
}

/// A string field, or a number written as one (Alipay sends strings; tolerate numbers).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn describe(error: reqwest::Error) -> String {
    crate::health::describe_error(&error.without_url())
}

fn gmt8() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("GMT+8 is a valid offset")
}

/// The text Alipay signs: every parameter but `sign` (and `sign_type` when
/// `exclude_sign_type`: notifies exclude it, requests include it), empty values dropped, sorted
/// by key (ASCII), joined raw (not URL-encoded) as `k=v&k2=v2`.
pub fn signing_content(params: &[(String, String)], exclude_sign_type: bool) -> String {
    let mut kept: Vec<&(String, String)> = params
        .iter()
        .filter(|(key, value)| !value.is_empty() && key != "sign" && !(exclude_sign_type && key == "sign_type"))
        .collect();
    kept.sort();
    let pairs: Vec<String> = kept.iter().map(|(key, value)| format!("{key}={value}")).collect();
    pairs.join("&")
}

/// An amount as Alipay writes it (`"12.50"`, `"12.5"`, `"12"`, yuan) in fen (`1250`); `None`
/// for anything else (negative, more than two decimals, not a number, too large).
pub fn amount_in_fen(amount: &str) -> Option<i64> {
    let (yuan, fen) = amount.split_once('.').unwrap_or((amount, ""));
    let digits = |text: &str| text.bytes().all(|b| b.is_ascii_digit());
    if yuan.is_empty() || !digits(yuan) || !digits(fen) || fen.len() > 2 || (amount.contains('.') && fen.is_empty()) {
        return None;
    }
    let fen = match fen.len() {
        0 => 0,
        1 => fen.parse::<i64>().ok()? * 10,
        _ => fen.parse::<i64>().ok()?,
    };
    yuan.parse::<i64>().ok()?.checked_mul(100)?.checked_add(fen)
}

/// PEM lines as a config file may hold them (indented, CRLF): trimmed, blank lines dropped.
fn tidy_pem(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    lines.join("\n") + "\n"
}

/// Bare base64 (Alipay's form of a key), whitespace ignored.
fn bare_der(text: &str) -> Result<Vec<u8>, String> {
    let joined: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if joined.is_empty() {
        return Err("empty".into());
    }
    STANDARD.decode(joined).map_err(|_| "neither PEM nor base64".to_string())
}

const KEY_FORMS: &str = "PKCS#8 or PKCS#1, PEM or bare base64";

fn private_key(text: &str) -> Result<PKey<Private>, String> {
    let text = text.trim();
    let parsed =
        if text.starts_with("-----BEGIN RSA PRIVATE KEY-----") || text.starts_with("-----BEGIN PRIVATE KEY-----") {
            // OpenSSL reads both PKCS#1 and PKCS#8 PEM.
            PKey::private_key_from_pem(tidy_pem(text).as_bytes()).map_err(|e| e.to_string())
        } else if text.starts_with("-----") {
            Err("not a PEM private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)".into())
        } else {
            let der = bare_der(text)?;
            PKey::private_key_from_pkcs8(&der)
                .or_else(|e| Rsa::private_key_from_der(&der).and_then(PKey::from_rsa).map_err(|_| e))
                .map_err(|e| e.to_string())
        };
    let key = parsed.map_err(|e| format!("not an RSA private key ({KEY_FORMS}): {e}"))?;
    // A damaged key may still parse: OpenSSL's consistency check catches it before any signing.
    let consistent = key.rsa().map_err(|_| format!("not an RSA key ({KEY_FORMS})"))?.check_key().unwrap_or(false);
    if !consistent {
        return Err(format!("not a consistent RSA private key ({KEY_FORMS})"));
    }
    Ok(key)
}

fn public_key(text: &str) -> Result<PKey<Public>, String> {
    let text = text.trim();
    let parsed = if text.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
        Rsa::public_key_from_pem_pkcs1(tidy_pem(text).as_bytes()).and_then(PKey::from_rsa).map_err(|e| e.to_string())
    } else if text.starts_with("-----BEGIN PUBLIC KEY-----") {
        PKey::public_key_from_pem(tidy_pem(text).as_bytes()).map_err(|e| e.to_string())
    } else if text.starts_with("-----") {
        Err("not a PEM public key (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY)".into())
    } else {
        let der = bare_der(text)?;
        PKey::public_key_from_der(&der)
            .or_else(|e| Rsa::public_key_from_der_pkcs1(&der).and_then(PKey::from_rsa).map_err(|_| e))
            .map_err(|e| e.to_string())
    };
    let key = parsed.map_err(|e| format!("not an RSA public key (SPKI or PKCS#1, PEM or bare base64): {e}"))?;
    key.rsa().map_err(|_| "not an RSA key (SPKI or PKCS#1, PEM or bare base64)".to_string())?;
    Ok(key)
}

fn is_published_sandbox_key(key: &PKey<Public>) -> bool {
    key.public_key_to_der().is_ok_and(|der| {
        let digest = openssl::sha::sha256(&der);
        digest.iter().map(|b| format!("{b:02x}")).collect::<String>() == PUBLISHED_SANDBOX_KEY_SHA256
    })
}

/// A gateway on loopback (the built-in fake's, or a test's).
fn on_this_machine(gateway_url: &str) -> bool {
    match url::Url::parse(gateway_url).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}
