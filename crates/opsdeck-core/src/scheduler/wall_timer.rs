//! A timer that sleeps until a wall-clock instant, to the microsecond, in one wake-up.
//!
//! Why not `tokio::time::sleep`: tokio's timer wheel has 1 ms slots and rounds a deadline up to
//! the next one (so a run would start up to a millisecond late, plus the wake-up), and a
//! deadline more than 64 ms away waits in a coarser level of the wheel that the runtime wakes up
//! for once, early, to move it down: two wake-ups for each sleep of the firing loop, which sleeps
//! about a second between instants. No maintained crate offers a high-resolution timer on
//! tokio's reactor, and it is a few lines over `timerfd`, so it is written here.
//!
//! On Linux it is a `timerfd` on `CLOCK_REALTIME`, armed with an absolute deadline and watched
//! by tokio's reactor: the kernel wakes the process once, at the instant. Because the instants
//! are wall-clock instants, it also follows the system clock when it is set, and such a step
//! ends the sleep early (`TFD_TIMER_CANCEL_ON_SET`) so the caller plans again. Elsewhere, or if
//! the timerfd cannot be made, it falls back to tokio's timer.

use chrono::{DateTime, Utc};

pub struct WallTimer {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
}

impl Default for WallTimer {
    fn default() -> Self {
        Self::new()
    }
}

impl WallTimer {
    /// Needs a tokio runtime (the timerfd is registered with its reactor).
    pub fn new() -> WallTimer {
        #[cfg(target_os = "linux")]
        {
            use rustix::time::{TimerfdClockId, TimerfdFlags, timerfd_create};
            use tokio::io::Interest;
            use tokio::io::unix::AsyncFd;
            let made = timerfd_create(TimerfdClockId::Realtime, TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC)
                .map_err(std::io::Error::from)
                .and_then(|fd| {
                    // SAFETY: the AsyncFd owns the OwnedFd, which stays open and whose
                    // `as_raw_fd` is the same descriptor until both are dropped together.
                    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| e.into_parts().1)
                });
            match made {
                Ok(fd) => WallTimer { fd: Some(fd) },
                Err(e) => {
                    tracing::debug!(error = %e, "no timerfd; the scheduler uses tokio's millisecond timer");
                    WallTimer { fd: None }
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        WallTimer {}
    }

    /// Returns at `at` (at once if it has passed), or early if the system clock was set.
    pub async fn sleep_until(&mut self, at: DateTime<Utc>) {
        if at <= Utc::now() {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            match timerfd_sleep(fd, at).await {
                Ok(()) => return,
                Err(e) => tracing::debug!(error = %e, "timerfd failed; falling back to tokio's timer"),
            }
        }
        if let Ok(wait) = (at - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Returns once the wall clock reads `at` or later: a run's wait for its instant. Unlike
/// [`WallTimer::sleep_until`] it does not end early on a clock step (it sleeps again); a timer is
/// made only if there is a wait at all.
pub async fn not_before(at: DateTime<Utc>) {
    let mut timer = None;
    while at > Utc::now() {
        timer.get_or_insert_with(WallTimer::new).sleep_until(at).await;
    }
}

#[cfg(target_os = "linux")]
async fn timerfd_sleep(fd: &tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>, at: DateTime<Utc>) -> std::io::Result<()> {
    use rustix::time::{Itimerspec, TimerfdTimerFlags, Timespec, timerfd_settime};
    let spec = Itimerspec {
        it_interval: Timespec { tv_sec: 0, tv_nsec: 0 },
        // `at` is after now, so never the all-zero value that would disarm the timer.
        it_value: Timespec { tv_sec: at.timestamp(), tv_nsec: at.timestamp_subsec_nanos().into() },
    };
    // Re-arming resets the expiry count, so an earlier sleep that was dropped armed leaves no
    // stale expiry behind (only, perhaps, a stale readiness, which the read below clears).
    match timerfd_settime(fd.get_ref(), TimerfdTimerFlags::ABSTIME | TimerfdTimerFlags::CANCEL_ON_SET, &spec) {
        Ok(_) => {}
        // The clock was set since the last read: end the sleep so the caller plans again.
        Err(rustix::io::Errno::CANCELED) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    loop {
        let mut ready = fd.readable().await?;
        let mut expirations = [0u8; 8];
        match ready.try_io(|fd| rustix::io::read(fd.get_ref(), &mut expirations).map_err(std::io::Error::from)) {
            Ok(Ok(_)) => return Ok(()),
            // The clock was set: the deadline means something else now; the caller plans again.
            Ok(Err(e)) if e.raw_os_error() == Some(rustix::io::Errno::CANCELED.raw_os_error()) => return Ok(()),
            Ok(Err(e)) => return Err(e),
            // Not yet (a stale readiness): wait again.
            Err(_would_block) => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_wakes_at_the_instant_and_never_before() {
        let mut timer = WallTimer::new();
        for wait_ms in [3, 20, 1] {
            let at = Utc::now() + chrono::Duration::milliseconds(wait_ms);
            timer.sleep_until(at).await;
            let woke = Utc::now();
            assert!(woke >= at, "woke {} µs early", (at - woke).num_microseconds().unwrap_or(0));
        }
    }

    #[tokio::test]
    async fn a_sleep_dropped_while_armed_does_not_end_the_next_one_early() {
        let mut timer = WallTimer::new();
        let soon = Utc::now() + chrono::Duration::milliseconds(5);
        // Dropped before its deadline: the timer stays armed and fires unobserved.
        let dropped = tokio::time::timeout(std::time::Duration::from_millis(1), timer.sleep_until(soon)).await;
        assert!(dropped.is_err(), "the first sleep was cut short by the timeout");
        // Past the dropped deadline (on another timer), so that its expiry has happened.
        WallTimer::new().sleep_until(soon + chrono::Duration::milliseconds(5)).await;
        let at = Utc::now() + chrono::Duration::milliseconds(30);
        timer.sleep_until(at).await;
        assert!(Utc::now() >= at, "the old expiry did not wake the new sleep");
    }

    #[tokio::test]
    async fn a_passed_instant_returns_at_once() {
        let mut timer = WallTimer::new();
        // A timer armed for the past by mistake (or disarmed) would wait for ever here.
        let returned = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            timer.sleep_until(Utc::now() - chrono::Duration::seconds(5)),
        )
        .await;
        assert!(returned.is_ok(), "a sleep until a passed instant did not return");
    }
}
