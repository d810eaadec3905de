//! Health of the database and Redis, as the status bar and `/healthz` show it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    Ok,
    Unreachable,
    /// Not probed yet.
    Unknown,
}

/// One component's state as last probed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct ComponentHealth {
    pub status: ComponentStatus,
    /// Why it is not ok, in words (never a secret: URLs in errors are the masked ones).
    pub reason: Option<String>,
    pub latency_ms: Option<f64>,
    /// What was probed (masked URL).
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct HealthReport {
    pub database: ComponentHealth,
    pub redis: ComponentHealth,
    pub checked_at: DateTime<Utc>,
}

/// Up (the last probe answered) or down (it failed, timed out, or has not run yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpDown {
    Up,
    Down,
}

/// [`HealthReport::summary`]: `{"status", "database", "redis"}`, each `up` or `down`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct HealthSummary {
    /// Up when every component is.
    pub status: UpDown,
    pub database: UpDown,
    pub redis: UpDown,
}

impl ComponentHealth {
    /// Not probed yet.
    pub fn unknown(target: String) -> ComponentHealth {
        ComponentHealth { status: ComponentStatus::Unknown, reason: None, latency_ms: None, target }
    }

    pub fn is_ok(&self) -> bool {
        self.status == ComponentStatus::Ok
    }
}

impl HealthReport {
    pub fn all_ok(&self) -> bool {
        self.database.is_ok() && self.redis.is_ok()
    }

    /// The report's open form (the daemon's unauthenticated `/healthz`): up or down per
    /// component, nothing else (no target, user, URL or driver text).
    pub fn summary(&self) -> HealthSummary {
        let up = |ok: bool| if ok { UpDown::Up } else { UpDown::Down };
        HealthSummary { status: up(self.all_ok()), database: up(self.database.is_ok()), redis: up(self.redis.is_ok()) }
    }
}
