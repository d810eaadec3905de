//! The Overview page's figures in one answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::jobs::RunOutcome;
use crate::ocr::{CallSample, OcrCounts, OcrPause};

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct Overview {
    pub at: DateTime<Utc>,
    /// Every provider is a built-in fake (sandbox mode).
    pub sandbox: bool,
    pub ocr: OcrOverview,
    pub orders: OrdersOverview,
    /// The latest failed, timed-out or missed run of each job that has one, newest first.
    pub failures: Vec<JobFailure>,
    /// The scheduler instances online, with the runs they hold claims for.
    pub instances: Vec<InstanceOverview>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct OcrOverview {
    pub counts: OcrCounts,
    pub cap: f64,
    /// Achieved calls per second over the last minute, across all instances.
    pub calls_per_second: f64,
    /// The last 60 seconds, oldest first.
    pub calls: Vec<CallSample>,
    /// The last hour, oldest first, one sample per [`BUCKET`].
    pub history: Vec<DepthSample>,
    pub pause: Option<OcrPause>,
    pub done_last_hour: i64,
    pub dead_last_hour: i64,
    /// The latest finished requests, newest first.
    pub recent: Vec<RecentOcr>,
    pub sandbox: bool,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Deserialize, TS, ToSchema)]
pub struct DepthSample {
    pub at: DateTime<Utc>,
    /// Pending and in-flight requests.
    pub depth: i64,
    /// Calls per second achieved over the bucket.
    pub calls_per_second: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct RecentOcr {
    pub id: i64,
    pub side: String,
    pub status: String,
    pub finished_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct OrdersOverview {
    pub pending: i64,
    /// Pending orders whose deadline falls within the next [`SOON_MINUTES`].
    pub expiring_soon: i64,
    pub cancelled_last_hour: i64,
    pub paid_last_hour: i64,
    /// Payments found by the expiry sweep's query (the notify never came) in the last hour.
    pub paid_late_last_hour: i64,
    /// The latest cancelled orders, newest first.
    pub recent_cancelled: Vec<RecentCancel>,
    pub sandbox: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct RecentCancel {
    pub order_no: String,
    pub amount_fen: i64,
    pub cancelled_at: DateTime<Utc>,
    pub reason: crate::orders::CancelReason,
    pub cancelled_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct JobFailure {
    pub job_id: i64,
    pub job_name: String,
    pub run_id: i64,
    pub outcome: RunOutcome,
    pub scheduled_at: DateTime<Utc>,
    pub error: Option<crate::error::ErrorReason>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct InstanceOverview {
    pub id: String,
    pub is_self: bool,
    pub started_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Runs in progress under this instance's claims.
    pub claims: Vec<HeldClaim>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct HeldClaim {
    pub job_id: i64,
    pub job_name: String,
    pub scheduled_at: DateTime<Utc>,
}
