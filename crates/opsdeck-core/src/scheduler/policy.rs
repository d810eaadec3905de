//! Per-job run policy: what happens when a run is late, when runs pile up, or overlap.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a job's runs are admitted and bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobPolicy {
    /// A run found later than this after its scheduled instant is recorded as missed, not run.
    pub misfire_grace_seconds: u64,
    /// After downtime, run once for all the missed instants instead of once per instant.
    pub coalesce: bool,
    /// Runs of this job allowed at the same time, across every instance; one more is recorded as
    /// skipped (overlap).
    pub max_instances: u32,
    /// Each run starts after a random delay of up to this many seconds (0: none).
    pub jitter_seconds: u64,
    /// A run still going after this long is stopped and recorded as timed out (None: no limit).
    pub timeout_seconds: Option<u64>,
}

impl Default for JobPolicy {
    fn default() -> JobPolicy {
        JobPolicy {
            misfire_grace_seconds: 60,
            coalesce: true,
            max_instances: 1,
            jitter_seconds: 0,
            timeout_seconds: None,
        }
    }
}

impl JobPolicy {
    /// Refuses values that make no sense, naming the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
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

    pub fn misfire_grace(&self) -> Duration {
        Duration::from_secs(self.misfire_grace_seconds)
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_seconds.map(Duration::from_secs)
    }
}
