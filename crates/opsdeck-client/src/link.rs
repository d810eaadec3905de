//! The link to the server as the status bar shows it, and the reconnect backoff. One count of
//! consecutive failures is shared by the calls and the live events: any answer from the server
//! resets it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use opsdeck_api::LinkState;
use tokio::sync::watch;

/// The first wait before reconnecting; doubled after each failure, up to [`BACKOFF_MAX`].
pub(crate) const BACKOFF_FIRST: Duration = Duration::from_millis(250);
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(15);

pub(crate) struct Link {
    state: watch::Sender<LinkState>,
    failures: AtomicU32,
}

impl Link {
    pub(crate) fn new() -> Link {
        Link { state: watch::Sender::new(LinkState::Connected), failures: AtomicU32::new(0) }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<LinkState> {
        self.state.subscribe()
    }

    /// The server answered: `Connected` (subscribers are told only of a change).
    pub(crate) fn up(&self) {
        self.failures.store(0, Ordering::Relaxed);
        self.state.send_if_modified(|state| {
            let changed = *state != LinkState::Connected;
            *state = LinkState::Connected;
            changed
        });
    }

    /// The server could not be reached (`reason`, plain words, no token): `Reconnecting`, and
    /// how long to wait before the next attempt.
    pub(crate) fn down(&self, reason: String) -> Duration {
        let attempt = self.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let wait = backoff(attempt, random_unit());
        tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, %reason, "the server is unreachable");
        self.state.send_replace(LinkState::Reconnecting { attempt, retry_in_ms: wait.as_millis() as u64, reason });
        wait
    }
}

/// The wait before attempt `attempt + 1`: [`BACKOFF_FIRST`] doubled per failure up to
/// [`BACKOFF_MAX`], spread ±20 % by `unit` (in `[0, 1)`) so that consoles cut off together do not
/// all come back in the same instant.
pub(crate) fn backoff(attempt: u32, unit: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    let nominal = BACKOFF_FIRST.saturating_mul(1 << doublings).min(BACKOFF_MAX);
    nominal.mul_f64(0.8 + 0.4 * unit.clamp(0.0, 1.0)).min(BACKOFF_MAX)
}

/// A random number in `[0, 1)` (the jitter's; 0.5 if the system's generator fails).
fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_250_ms_to_15_s_within_its_jitter() {
        let ms = |attempt, unit| backoff(attempt, unit).as_millis() as u64;
        assert_eq!((ms(1, 0.0), ms(1, 0.5), ms(1, 0.999_999)), (200, 250, 299));
        assert_eq!((ms(2, 0.0), ms(2, 0.5)), (400, 500));
        assert_eq!(ms(3, 0.5), 1000);
        assert_eq!(ms(7, 0.5), 15_000, "250 ms × 2⁶ is over 15 s");
        assert_eq!((ms(7, 0.0), ms(7, 0.999_999)), (12_000, 15_000), "never over the maximum");
        assert_eq!(ms(u32::MAX, 0.5), 15_000);
        for _ in 0..100 {
            let unit = random_unit();
            assert!((0.0..1.0).contains(&unit), "{unit}");
        }
    }

    #[test]
    fn failures_count_up_until_the_server_answers() {
        let link = Link::new();
        let seen = link.subscribe();
        assert_eq!(*seen.borrow(), LinkState::Connected);
        link.down("refused".into());
        let wait = link.down("refused again".into());
        match &*seen.borrow() {
            LinkState::Reconnecting { attempt, retry_in_ms, reason } => {
                assert_eq!((*attempt, *retry_in_ms, reason.as_str()), (2, wait.as_millis() as u64, "refused again"));
            }
            other => panic!("{other:?}"),
        }
        link.up();
        assert_eq!(*seen.borrow(), LinkState::Connected);
        link.down("once more".into());
        assert!(matches!(*seen.borrow(), LinkState::Reconnecting { attempt: 1, .. }), "counted from 1 again");
    }
}
