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
//!
//! - [`client`]: `alipay.trade.query` and `alipay.trade.close`: the call and its answer opened.
//! - [`signing`]: what is signed, the request's signature, and the check of Alipay's.
//! - [`keys`]: the keys read in every form Alipay hands out, and the published sandbox key.
//! - [`notify`]: the verification of the async notify.

mod client;
mod keys;
mod notify;
mod signing;

use std::fmt;

use openssl::pkey::{PKey, Private, Public};
use secrecy::{ExposeSecret, SecretString};

use keys::{is_published_sandbox_key, on_this_machine, private_key, public_key};

pub use signing::signing_content;

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
