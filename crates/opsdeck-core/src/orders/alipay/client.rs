//! `alipay.trade.query` and `alipay.trade.close`: one signed call, its answer found in the
//! envelope and verified over its raw text, and what each code means for the caller.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{AlipayClient, AlipayError, CloseOutcome, TradeQuery, TradeStatus};

/// Every call gives up after this long (a retry later is the caller's).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const QUERY: &str = "alipay.trade.query";
const CLOSE: &str = "alipay.trade.close";

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
