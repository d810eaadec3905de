//! `POST /gateway.do`: the parameters read from the query string and the form body alike, the
//! gateway's checks (each an `error_response`), and the answer's shape (`<method>_response` in
//! Alipay's key order, signed over its exact text).

use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use super::keys::request_signature_verifies;
use super::trades::{business, gmt8};
use super::{AlipayCall, Shared};

/// How far a request's `timestamp` may be from the fake's clock.
const TIMESTAMP_WINDOW: Duration = Duration::from_secs(15 * 60);
const QUERY: &str = "alipay.trade.query";
pub(super) const CLOSE: &str = "alipay.trade.close";

/// A JSON object with its keys in the given order (Alipay's order, not sorted: a client that
/// re-serializes what it received instead of verifying the text as sent fails).
fn object(fields: &[(&str, Option<&str>)]) -> String {
    let members: Vec<String> = fields
        .iter()
        .filter_map(|(key, value)| value.map(|v| format!("{}:{}", Value::from(*key), Value::from(v))))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// An answer: the key it goes under (`<method>_response` or `error_response`), its text,
/// whether it is signed, and its code and sub_code for the call log.
pub(super) struct Reply {
    key: String,
    text: String,
    signed: bool,
    code: String,
    sub_code: Option<String>,
}

impl Reply {
    fn gateway_error(code: &str, msg: &str, sub_code: &str, sub_msg: &str, signed: bool) -> Reply {
        let fields =
            [("code", Some(code)), ("msg", Some(msg)), ("sub_code", Some(sub_code)), ("sub_msg", Some(sub_msg))];
        Reply {
            key: "error_response".into(),
            text: object(&fields),
            signed,
            code: code.into(),
            sub_code: Some(sub_code.into()),
        }
    }

    fn missing(sub_code: &str, sub_msg: &str) -> Reply {
        Reply::gateway_error("40001", "Missing Required Arguments", sub_code, sub_msg, true)
    }

    fn invalid(sub_code: &str, sub_msg: &str) -> Reply {
        Reply::gateway_error("40002", "Invalid Arguments", sub_code, sub_msg, true)
    }

    pub(super) fn business(method: &str, fields: &[(&str, Option<&str>)]) -> Reply {
        let get = |name: &str| fields.iter().find(|(k, _)| *k == name).and_then(|(_, v)| *v);
        Reply {
            key: format!("{}_response", method.replace('.', "_")),
            text: object(fields),
            signed: true,
            code: get("code").unwrap_or_default().to_string(),
            sub_code: get("sub_code").map(str::to_string),
        }
    }

    pub(super) fn failed(method: &str, out_trade_no: &str, sub_code: &str, sub_msg: &str) -> Reply {
        Reply::business(
            method,
            &[
                ("code", Some("40004")),
                ("msg", Some("Business Failed")),
                ("sub_code", Some(sub_code)),
                ("sub_msg", Some(sub_msg)),
                ("out_trade_no", Some(out_trade_no).filter(|o| !o.is_empty())),
            ],
        )
    }

    fn into_response(self, shared: &Shared) -> Response {
        let body = if self.signed {
            let sign = shared.sign(&self.text);
            format!("{{{}:{},\"sign\":{}}}", Value::from(self.key), self.text, Value::from(sign))
        } else {
            format!("{{{}:{}}}", Value::from(self.key), self.text)
        };
        ([(header::CONTENT_TYPE, "application/json;charset=utf-8")], body).into_response()
    }
}

pub(super) async fn gateway(State(shared): State<Shared>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let at = SystemTime::now();
    let mut params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    params.extend(url::form_urlencoded::parse(&body).into_owned());
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let biz: Value = serde_json::from_str(&param("biz_content")).unwrap_or(Value::Null);
    let out_trade_no = biz.get("out_trade_no").and_then(Value::as_str).unwrap_or_default().to_string();
    let reply = answer(&shared, &params, &biz);
    shared.lock().calls.push(AlipayCall {
        at,
        method: param("method"),
        out_trade_no,
        code: reply.code.clone(),
        sub_code: reply.sub_code.clone(),
    });
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    reply.into_response(&shared)
}

/// The gateway's checks, then the method's answer.
fn answer(shared: &Shared, params: &[(String, String)], biz: &Value) -> Reply {
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let Some(app_id) = param("app_id") else {
        return Reply::gateway_error(
            "40001",
            "Missing Required Arguments",
            "isv.missing-app-id",
            "缺少AppID参数",
            false,
        );
    };
    if app_id != shared.config.app_id {
        return Reply::gateway_error("40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数", false);
    }
    let Some(method) = param("method") else {
        return Reply::missing("isv.missing-method", "缺少方法名参数");
    };
    if method != QUERY && method != CLOSE {
        return Reply::invalid("isv.invalid-method", "不存在的方法名");
    }
    match param("sign_type") {
        None => return Reply::missing("isv.missing-signature-type", "缺少签名类型参数"),
        Some("RSA2") => {}
        Some(_) => return Reply::invalid("isv.invalid-signature-type", "无效的签名类型参数"),
    }
    let Some(sign) = param("sign") else {
        return Reply::missing("isv.missing-signature", "缺少签名参数");
    };
    if !request_signature_verifies(shared, params, sign) {
        return Reply::invalid("isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配");
    }
    match param("charset") {
        Some(charset) if charset.eq_ignore_ascii_case("utf-8") => {}
        _ => return Reply::invalid("isv.invalid-charset", "字符集错误"),
    }
    if param("version") != Some("1.0") {
        return Reply::invalid("isv.invalid-version", "无效的版本号参数");
    }
    if param("format").is_some_and(|f| !f.eq_ignore_ascii_case("JSON")) {
        return Reply::invalid("isv.invalid-format", "无效的数据格式参数");
    }
    let Some(timestamp) = param("timestamp") else {
        return Reply::missing("isv.missing-timestamp", "缺少时间戳参数");
    };
    if !timestamp_is_fresh(timestamp) {
        return Reply::invalid("isv.invalid-timestamp", "非法的时间戳参数");
    }
    if !biz.is_object() {
        return Reply::invalid("isv.invalid-parameter", "biz_content不是JSON对象");
    }
    business(shared, method, biz)
}

fn timestamp_is_fresh(timestamp: &str) -> bool {
    let Ok(local) = NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%S") else { return false };
    let Some(at) = gmt8().from_local_datetime(&local).single() else { return false };
    let skew = (Utc::now() - at.with_timezone(&Utc)).abs();
    skew.to_std().is_ok_and(|skew| skew <= TIMESTAMP_WINDOW)
}
