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

/// Which entries to list. Without `sort`: newest first, paged by `before_id`; with a sort, paged
/// by `offset`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, TS, ToSchema)]
#[serde(default)]
#[ts(optional_fields = nullable)]
pub struct AuditQuery {
    /// Who acted (exact).
    pub actor: Option<String>,
    /// The action (`job.pause`), or its family with a trailing dot (`job.`).
    pub action: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// A part of the target or the details.
    pub search: Option<String>,
    pub sort: Option<AuditSort>,
    /// Descending (with `sort`).
    #[ts(as = "Option<bool>", optional)]
    pub desc: bool,
    #[ts(as = "Option<u32>", optional)]
    pub offset: u32,
    pub limit: u32,
    pub before_id: Option<i64>,
}

/// The columns the audit log sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditSort {
    At,
    Who,
    Action,
    Target,
}

/// A page of entries, newest first; `next_before_id` continues with older ones.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_before_id: Option<i64>,
    /// With a sort: the offset of the next page (None at the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub next_offset: Option<u32>,
}
