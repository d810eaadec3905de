//! Per-job run policy: what happens when a run is late, when runs pile up, or overlap.

use std::time::Duration;

pub use opsdeck_api::jobs::JobPolicy;

/// The scheduler's reading of a [`JobPolicy`].
pub trait PolicyExt {
    fn validate(&self) -> Result<(), (&'static str, String)>;
    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    fn misfire_grace(&self) -> Duration;
    fn timeout(&self) -> Option<Duration>;
}

impl PolicyExt for JobPolicy {
    /// Refuses values that make no sense, naming the field.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.misfire_grace_seconds == 0 || self.misfire_grace_seconds > 7 * 24 * 3600 {
            return Err(("policy.misfire_grace_seconds", "misfire grace must be between 1 second and 7 days".into()));
        }
        if self.max_instances == 0 || self.max_instances > 64 {
            return Err(("policy.max_instances", "max instances must be between 1 and 64".into()));
        }
        if self.jitter_seconds > 3600 {
            return Err(("policy.jitter_seconds", "jitter must be at most 3600 seconds".into()));
        }
        if let Some(timeout) = self.timeout_seconds
            && (timeout == 0 || timeout > 24 * 3600)
        {
            return Err(("policy.timeout_seconds", "timeout must be between 1 second and 24 hours".into()));
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
