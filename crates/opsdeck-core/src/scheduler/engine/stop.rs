//! Stopping a run from the console, cooperatively. Staff ask by run id (`Core::run_stop`); the
//! request goes to Redis under the run's key, where the instance carrying the run reads it with
//! its slot renewal (every `SLOT_RENEW`), and, when that instance is this one, straight to the
//! run's [`StopSignal`] as well. The task sees the signal (`TaskContext::stop`) and should end;
//! one that has not ended `job_stop_grace_seconds` later is abandoned (its future dropped at its
//! next await, as a run that lost its lease is). Either way the run is recorded `stopped`, with
//! who stopped it in its error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use opsdeck_api::{ErrorCode, ErrorReason};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::scheduler::store::RunOutcome;

/// One run's stop: the signal its task listens to, and who gave it (the first who asked).
#[derive(Clone, Default)]
pub(crate) struct StopSignal {
    token: CancellationToken,
    who: Arc<OnceLock<String>>,
}

impl StopSignal {
    /// Tells the run to stop; the first caller is the one recorded.
    pub(crate) fn request(&self, who: &str) {
        let _ = self.who.set(who.to_string());
        self.token.cancel();
    }

    /// Who asked the run to stop, once someone did.
    pub(crate) fn who(&self) -> Option<&str> {
        self.who.get().map(String::as_str)
    }

    /// What the task is given: cancelled when the run is asked to stop.
    pub(crate) fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The run's result as recorded: once a stop was asked, `stopped` whatever the task answered
    /// (its summary, if any, is kept, marked `abandoned` when it had to be dropped).
    pub(crate) fn applied_to(
        &self,
        (outcome, summary, error): (RunOutcome, Option<serde_json::Value>, Option<String>),
        abandoned_after: Option<u64>,
    ) -> (RunOutcome, Option<serde_json::Value>, Option<String>) {
        let Some(who) = self.who() else {
            return (outcome, summary, error);
        };
        let reason = match abandoned_after {
            Some(seconds) => ErrorReason::new(ErrorCode::RunAbandoned).param("who", who).param("seconds", seconds),
            None => ErrorReason::new(ErrorCode::RunStopped).param("who", who),
        };
        let summary = match (summary, abandoned_after) {
            (Some(mut summary), Some(_)) => {
                if let Some(map) = summary.as_object_mut() {
                    map.insert("abandoned".into(), json!(true));
                }
                Some(summary)
            }
            (None, Some(_)) => Some(json!({ "abandoned": true })),
            (summary, None) => summary,
        };
        (RunOutcome::Stopped, summary, Some(reason.to_stored()))
    }
}

/// The runs this instance carries, by run key, so that a stop asked here reaches its run at once
/// (a stop asked on another instance arrives with the next slot renewal).
#[derive(Default)]
pub(crate) struct Stoppable {
    runs: Mutex<HashMap<String, StopSignal>>,
}

impl Stoppable {
    /// Registers a run for as long as the guard lives.
    pub(crate) fn register<'a>(&'a self, run_key: &str) -> (StopSignal, Registered<'a>) {
        let signal = StopSignal::default();
        self.lock().insert(run_key.to_string(), signal.clone());
        (signal, Registered { stoppable: self, run_key: run_key.to_string() })
    }

    /// Stops the run `run_key` if this instance carries it; false when it does not.
    pub(crate) fn stop(&self, run_key: &str, who: &str) -> bool {
        match self.lock().get(run_key) {
            Some(signal) => {
                signal.request(who);
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StopSignal>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A run registered in [`Stoppable`]; removed when dropped (the run ended, or was dropped).
pub(crate) struct Registered<'a> {
    stoppable: &'a Stoppable,
    run_key: String,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.stoppable.lock().remove(&self.run_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_asked_to_stop_is_recorded_stopped_by_the_first_who_asked() {
        let stoppable = Stoppable::default();
        let (signal, registered) = stoppable.register("m:1:2:ab");
        assert!(!signal.token().is_cancelled());
        assert!(stoppable.stop("m:1:2:ab", "alice"));
        assert!(stoppable.stop("m:1:2:ab", "bob"));
        assert!(signal.token().is_cancelled());
        assert_eq!(signal.who(), Some("alice"));
        let (outcome, summary, error) = signal.applied_to((RunOutcome::Ok, Some(json!({ "slept_ms": 5 })), None), None);
        assert_eq!(outcome, RunOutcome::Stopped);
        assert_eq!(summary, Some(json!({ "slept_ms": 5 })));
        let reason = ErrorReason::from_stored(&error.unwrap());
        assert_eq!(reason.code, ErrorCode::RunStopped);
        assert_eq!(reason.params.get("who").map(String::as_str), Some("alice"));
        drop(registered);
        assert!(!stoppable.stop("m:1:2:ab", "carol"), "an ended run is no longer registered");
    }

    #[test]
    fn an_abandoned_run_says_so_and_a_run_nobody_stopped_is_unchanged() {
        let signal = StopSignal::default();
        let untouched = signal.applied_to((RunOutcome::Failed, None, Some("x".into())), None);
        assert_eq!(untouched, (RunOutcome::Failed, None, Some("x".into())));
        signal.request("alice");
        let (outcome, summary, error) = signal.applied_to((RunOutcome::Failed, None, None), Some(10));
        assert_eq!(outcome, RunOutcome::Stopped);
        assert_eq!(summary, Some(json!({ "abandoned": true })));
        let reason = ErrorReason::from_stored(&error.unwrap());
        assert_eq!(reason.code, ErrorCode::RunAbandoned);
        assert_eq!(reason.params.get("seconds").map(String::as_str), Some("10"));
    }
}
