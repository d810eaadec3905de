//! The OCR queue's types, as the facade hands them to front ends.

use super::baidu::{IdCard, IdCardFields, IdCardFront, mask_id_number};

pub use opsdeck_api::ocr::{
    AttemptOutcome, CallSample, CancelOutcome, OcrAttempt, OcrCounts, OcrLookup, OcrPage, OcrPause, OcrQuery,
    OcrRequest, OcrSort, OcrStats, OcrStatus, OcrSubmitted, PauseKind, RetryOutcome,
};

/// What leaves the core for the console.
pub trait Masked {
    fn masked(self) -> Self;
}

impl Masked for OcrRequest {
    /// The same request with the portrait side's personal data masked as a whole (what leaves the
    /// core for the console): the ID number keeps its first and last four characters (digits
    /// 5-14, the county and the birth date, are hidden), the birth date is hidden entirely, the
    /// address keeps at most its province and city, the name its first character.
    fn masked(mut self) -> OcrRequest {
        if let Some(IdCard { fields: IdCardFields::Front(front), .. }) = &mut self.result {
            *front = masked_front(front);
        }
        self
    }
}

/// The portrait side with its personal data masked (see [`OcrRequest::masked`]).
pub fn masked_front(front: &IdCardFront) -> IdCardFront {
    IdCardFront {
        name: mask_name(&front.name),
        id_number: mask_id_number(&front.id_number),
        gender: front.gender.clone(),
        nation: front.nation.clone(),
        birth_date: "*".repeat(front.birth_date.chars().count().clamp(1, 8)),
        address: mask_address(&front.address),
    }
}

/// `张三丰` → `张**`: the first character only.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// Provinces that end in one of these (the longest first where one contains another).
const PROVINCE_ENDS: [&str; 3] = ["特别行政区", "自治区", "省"];
/// The municipalities: province and city at once.
const MUNICIPALITIES: [&str; 4] = ["北京市", "天津市", "上海市", "重庆市"];
/// Prefecture-level divisions end in one of these.
const CITY_ENDS: [&str; 5] = ["自治州", "地区", "市", "州", "盟"];
/// The longest province or city name kept (in characters); longer means the address does not
/// start with one, and nothing is kept.
const MAX_DIVISION_CHARS: usize = 12;

/// `江苏省南京市玄武区中山路1号` → `江苏省南京市****`: the province and the city at most; an
/// address that does not start with a recognisable province is masked entirely. No digit is
/// ever kept.
pub fn mask_address(address: &str) -> String {
    let kept = region_prefix(address.trim());
    if kept.is_empty() || kept.chars().any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c)) {
        "****".to_string()
    } else {
        format!("{kept}****")
    }
}

/// The province-and-city prefix of a Chinese address ("" when none is recognised).
fn region_prefix(address: &str) -> &str {
    if let Some(city) = MUNICIPALITIES.iter().find(|m| address.starts_with(*m)) {
        return &address[..city.len()];
    }
    let end_of = |text: &str, ends: &[&str]| ends.iter().filter_map(|e| text.find(e).map(|at| at + e.len())).min();
    let short = |text: &str| text.chars().count() <= MAX_DIVISION_CHARS;
    let Some(province) = end_of(address, &PROVINCE_ENDS).filter(|at| short(&address[..*at])) else {
        return "";
    };
    match end_of(&address[province..], &CITY_ENDS) {
        Some(city) if short(&address[province..province + city]) => &address[..province + city],
        _ => &address[..province],
    }
}

/// The result as kept in Redis under the image URL and returned to the shop: the original
/// design's `{"name": …, "code": …}` plus every other field.
pub fn result_json(request_id: i64, card: &IdCard) -> serde_json::Value {
    let mut value = match &card.fields {
        IdCardFields::Front(f) => serde_json::json!({
            "side": "front",
            "name": f.name,
            "code": f.id_number,
            "gender": f.gender,
            "nation": f.nation,
            "birth_date": f.birth_date,
            "address": f.address,
        }),
        IdCardFields::Back(b) => serde_json::json!({
            "side": "back",
            "name": null,
            "code": null,
            "issuing_authority": b.issuing_authority,
            "issue_date": b.issue_date,
            "expiry_date": b.expiry_date,
        }),
    };
    let map = value.as_object_mut().expect("an object");
    map.insert("request_id".into(), request_id.into());
    map.insert("image_status".into(), card.image_status.clone().into());
    map.insert("risk_type".into(), card.risk_type.clone().into());
    map.insert("idcard_number_type".into(), card.idcard_number_type.into());
    map.insert("log_id".into(), card.log_id.map(|id| id.to_string()).into());
    value
}

/// [`result_json`] with the portrait side's personal data masked as [`OcrRequest::masked`]
/// does (what a staff member's submission gets back; the shop's lookup by URL gets it whole).
pub fn masked_result_json(mut value: serde_json::Value) -> serde_json::Value {
    let Some(map) = value.as_object_mut().filter(|m| m.get("side").and_then(|s| s.as_str()) == Some("front")) else {
        return value;
    };
    let text = |map: &serde_json::Map<String, serde_json::Value>, key: &str| {
        map.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string()
    };
    let masked = masked_front(&IdCardFront {
        name: text(map, "name"),
        id_number: text(map, "code"),
        gender: text(map, "gender"),
        nation: text(map, "nation"),
        birth_date: text(map, "birth_date"),
        address: text(map, "address"),
    });
    map.insert("name".into(), masked.name.into());
    map.insert("code".into(), masked.id_number.into());
    map.insert("birth_date".into(), masked.birth_date.into());
    map.insert("address".into(), masked.address.into());
    value
}
