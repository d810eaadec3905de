//! The audit log of manual actions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// One recorded action.
#[derive(Debug, Clone, Serialize, PartialEq, Deserialize, TS, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub who: String,
    pub action: String,
    pub target: String,
    pub detail: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
}

/// A page of entries, newest first; `next_before_id` continues with older ones.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_before_id: Option<i64>,
}
