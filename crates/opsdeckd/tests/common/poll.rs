//! Bounded polling, shared by the daemon's test crates (`#[path]`-included): every wait ends,
//! and a failure names what did not happen.

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 25 ms until it answers Some, for at most `within`; fails naming `what`.
pub async fn until_within<T, F: Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "not within {} s: {what}", within.as_secs());
        // Bounded polling: look again in 25 ms (the deadline above fails the test).
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
