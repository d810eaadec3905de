//! The OCR queue: ID-card requests by image URL, their results (masked when they leave the core), the queue's live figures.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The portrait side.
    Front,
    /// The emblem side.
    Back,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Front => "front",
            Side::Back => "back",
        }
    }
}

/// The portrait side's fields.
#[derive(Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct IdCardFront {
    pub name: String,
    pub id_number: String,
    pub gender: String,
    pub nation: String,
    /// yyyyMMdd
    pub birth_date: String,
    pub address: String,
}

/// Redacted: a card's fields are personal data, and a `Debug` print ends up in logs.
impl fmt::Debug for IdCardFront {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdCardFront").finish_non_exhaustive()
    }
}

/// The emblem side's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct IdCardBack {
    pub issuing_authority: String,
    /// yyyyMMdd
    pub issue_date: String,
    /// yyyyMMdd, or 长期 for a long-term card.
    pub expiry_date: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "side", rename_all = "snake_case")]
pub enum IdCardFields {
    Front(IdCardFront),
    Back(IdCardBack),
}

/// A recognised card with Baidu's verdicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct IdCard {
    pub fields: IdCardFields,
    pub image_status: String,
    pub risk_type: Option<String>,
    pub idcard_number_type: Option<i64>,
    /// Baidu's id of the call (for its support). A string on the wire: it is larger than a
    /// JavaScript number holds exactly.
    #[serde(default, with = "log_id_text")]
    #[ts(type = "string | null")]
    #[schema(value_type = Option<String>)]
    pub log_id: Option<u64>,
}

/// Where a request is in its life (diagram in ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OcrStatus {
    /// Waiting in the Redis stream (or for its retry time).
    Pending,
    /// An instance holds it: waiting for its slot of the cap, or calling Baidu.
    InFlight,
    /// Recognised; the result is kept.
    Done,
    /// Given up: Baidu refused the image, or retries/deliveries ran out. Staff may retry it.
    Dead,
    /// Staff cancelled it while it was pending: it is never called. Submitting the URL again
    /// starts it afresh.
    Cancelled,
}

impl OcrStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OcrStatus::Pending => "pending",
            OcrStatus::InFlight => "in_flight",
            OcrStatus::Done => "done",
            OcrStatus::Dead => "dead",
            OcrStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<OcrStatus> {
        Some(match text {
            "pending" => OcrStatus::Pending,
            "in_flight" => OcrStatus::InFlight,
            "done" => OcrStatus::Done,
            "dead" => OcrStatus::Dead,
            "cancelled" => OcrStatus::Cancelled,
            _ => return None,
        })
    }
}

/// One request as the console shows it. What leaves the core is [`OcrRequest::masked`]: the
/// card's name, ID number, birth date and address masked; an operator reveals them with
/// `ocr_reveal` (audited).
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct OcrRequest {
    pub id: i64,
    pub url: String,
    pub side: Side,
    pub status: OcrStatus,
    /// Calls made to Baidu for it (a call refused by Baidu's QPS cap does not count).
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When a retry is due (after a transient failure).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// Baidu's error code, when the failure was Baidu's answer.
    pub error_code: Option<i64>,
    pub result: Option<IdCard>,
    /// The instance that made the last call.
    pub instance: Option<String>,
}

/// What a submission got. `Debug` leaves the result out (card data).
#[derive(Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct OcrSubmitted {
    pub request_id: i64,
    pub status: OcrStatus,
    /// True when the URL was known already (no second call is made).
    pub existing: bool,
    /// The kept result when the URL was recognised already (the shop's JSON, see [`result_json`]).
    pub result: Option<serde_json::Value>,
}

/// What the shop's poll by URL gets: status and, once done, the result JSON. `Debug` leaves the
/// result out (card data).
#[derive(Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct OcrLookup {
    pub request_id: i64,
    pub url: String,
    pub status: OcrStatus,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
}

impl fmt::Debug for OcrSubmitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OcrSubmitted")
            .field("request_id", &self.request_id)
            .field("status", &self.status)
            .field("existing", &self.existing)
            .field("result", &self.result.as_ref().map(|_| ".."))
            .finish()
    }
}

impl fmt::Debug for OcrLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OcrLookup")
            .field("request_id", &self.request_id)
            .field("url", &self.url)
            .field("status", &self.status)
            .field("result", &self.result.as_ref().map(|_| ".."))
            .field("error", &self.error)
            .finish()
    }
}

/// A page of the list.
#[derive(Debug, Clone, Default, Deserialize, Serialize, TS, ToSchema)]
#[serde(default)]
#[ts(optional_fields = nullable)]
pub struct OcrQuery {
    pub status: Option<OcrStatus>,
    /// A part of the URL.
    pub search: Option<String>,
    /// A part of the last error's text (or Baidu's error code, as digits).
    pub error: Option<String>,
    /// Submitted at or after.
    pub from: Option<DateTime<Utc>>,
    /// Submitted before.
    pub to: Option<DateTime<Utc>>,
    /// The column to sort by (None: newest first).
    pub sort: Option<OcrSort>,
    /// Descending (with `sort`).
    #[ts(as = "Option<bool>", optional)]
    pub desc: bool,
    pub offset: u32,
    pub limit: u32,
}

/// The columns the OCR request list sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OcrSort {
    Id,
    Url,
    Status,
    Attempts,
    CreatedAt,
    UpdatedAt,
}

/// How one call to Baidu for a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// Recognised.
    Ok,
    /// Failed; retried later.
    Retry,
    /// Failed; given up (the request went dead).
    Dead,
}

/// One call to Baidu for a request (its attempt history, oldest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct OcrAttempt {
    /// 1 for the first call.
    pub attempt: i64,
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    /// Baidu's error code, when Baidu answered with one.
    pub error_code: Option<i64>,
    /// What went wrong, in words (None when it went well).
    pub message: Option<String>,
    /// How long the call took.
    pub duration_ms: Option<i64>,
    /// The instance that made the call.
    pub instance: Option<String>,
}

/// What a cancel of pending requests did.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS, ToSchema)]
pub struct CancelOutcome {
    pub cancelled: u64,
    /// Not pending (any more): left as they are.
    pub skipped: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct OcrPage {
    pub requests: Vec<OcrRequest>,
    /// How many match the query in all.
    pub total: i64,
}

/// Requests by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct OcrCounts {
    pub pending: i64,
    pub in_flight: i64,
    pub done: i64,
    pub dead: i64,
    #[serde(default)]
    pub cancelled: i64,
}

/// Why the queue is not calling Baidu.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PauseKind {
    /// Baidu's daily quota is used up (error 17): resumes at midnight, Asia/Shanghai.
    Quota,
    /// Credentials, permission or billing (6, 14, 19, bad keys): resumes when staff say so.
    Misconfigured,
    /// Staff paused it.
    Manual,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct OcrPause {
    pub kind: PauseKind,
    pub reason: String,
    pub since: DateTime<Utc>,
    /// When it resumes by itself (None: only by hand).
    pub until: Option<DateTime<Utc>>,
}

/// Calls that reached Baidu in one second (all instances).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct CallSample {
    pub at: DateTime<Utc>,
    pub calls: u32,
}

/// The live figures of the OCR view.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct OcrStats {
    pub counts: OcrCounts,
    /// Calls per second allowed across all instances.
    pub cap: f64,
    /// `config` (ocr_qps) or `console` (changed at run time).
    pub cap_source: String,
    /// The last 60 seconds, oldest first.
    pub calls: Vec<CallSample>,
    /// Seconds to work off the pending requests at the cap (None when nothing waits).
    pub drain_seconds: Option<f64>,
    pub pause: Option<OcrPause>,
    /// True when OpsDeck talks to its built-in fake Baidu (no credentials configured).
    pub sandbox: bool,
}

/// What a retry of dead requests did.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS, ToSchema)]
pub struct RetryOutcome {
    pub retried: u64,
    /// Not dead (any more): left as they are.
    pub skipped: u64,
}

/// `log_id` written as a string, read from a string or a number (rows stored before).
mod log_id_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(id) => s.serialize_str(&id.to_string()),
            None => s.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<Either>::deserialize(d)? {
            None => Ok(None),
            Some(Either::Number(n)) => Ok(Some(n)),
            Some(Either::Text(t)) => t.parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}
