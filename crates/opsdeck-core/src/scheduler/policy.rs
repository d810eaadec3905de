//! Per-job run policy: what happens when a run is late, when runs pile up, or overlap.

use std::time::Duration;

pub use opsdeck_api::jobs::JobPolicy;

use crate::error::{ApiError, ErrorCode};

/// The scheduler's reading of a [`JobPolicy`].
pub trait PolicyExt {
    fn validate(&self) -> Result<(), (&'static str, ApiError)>;
    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    fn misfire_grace(&self) -> Duration;
    fn timeout(&self) -> Option<Duration>;
}

impl PolicyExt for JobPolicy {
    /// Refuses values that make no sense, naming the field (the error names it too).
    fn validate(&self) -> Result<(), (&'static str, ApiError)> {
        let refuse = |field: &'static str, code: ErrorCode, (min, max): (u64, u64), message: &str| {
            Err((field, ApiError::coded(code, message).field(field).param("min", min).param("max", max)))
        };
        if self.misfire_grace_seconds == 0 || self.misfire_grace_seconds > 7 * 24 * 3600 {
            return refuse(
                "policy.misfire_grace_seconds",
                ErrorCode::SecondsOutOfRange,
                (1, 7 * 24 * 3600),
                "misfire grace must be between 1 second and 7 days",
            );
        }
        if self.max_instances == 0 || self.max_instances > 64 {
            return refuse(
                "policy.max_instances",
                ErrorCode::ValueOutOfRange,
                (1, 64),
                "max instances must be between 1 and 64",
            );
        }
        if self.jitter_seconds > 3600 {
            return refuse(
                "policy.jitter_seconds",
                ErrorCode::SecondsOutOfRange,
                (0, 3600),
                "jitter must be at most 3600 seconds",
            );
        }
        if let Some(timeout) = self.timeout_seconds
            && (timeout == 0 || timeout > 24 * 3600)
        {
            return refuse(
                "policy.timeout_seconds",
                ErrorCode::SecondsOutOfRange,
                (1, 24 * 3600),
                "timeout must be between 1 second and 24 hours",
            );
        }
        Ok(())
    }

    fn misfire_grace(&self) -> Duration {
        Duration::from_secs(self.misfire_grace_seconds)
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout_seconds.map(Duration::from_secs)
    }
}
