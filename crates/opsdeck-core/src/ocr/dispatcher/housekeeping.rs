//! The loops beside the reader: due retries moved back into the stream, and the live figures
//! published while a console listens.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::Core;

/// The longest the housekeeping loop sleeps (retries promoted).
const HOUSEKEEPING: Duration = Duration::from_secs(5);
/// The shortest time between two publications of the figures.
const STATS_SPACING: Duration = Duration::from_millis(250);

/// Moves due retries into the stream.
pub(super) async fn housekeeping(core: &Core, cancel: &CancellationToken) {
    let shared = core.ocr();
    loop {
        let mut sleep = HOUSEKEEPING;
        match shared.queue.promote().await {
            Ok((_, Some(next))) => sleep = sleep.min(next + Duration::from_millis(1)),
            Ok((_, None)) => {}
            Err(e) => tracing::debug!(error = %e, "cannot promote OCR retries"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

/// Publishes the OCR figures while anybody listens (a console is open): every second, and soon
/// after a change, at most every [`STATS_SPACING`] (a burst of changes is one publication).
pub(super) async fn stats_loop(core: &Core, cancel: &CancellationToken) {
    let shared = core.ocr();
    loop {
        // Nobody to tell: no timer at all until a console subscribes (listening for that before
        // looking, so that one subscribing in between is not missed).
        let joined = core.someone_listens();
        tokio::pin!(joined);
        joined.as_mut().enable();
        if !core.has_listeners() {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = joined => {}
            }
            continue;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = shared.changed.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if core.has_listeners() {
            core.publish_ocr_stats().await;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(STATS_SPACING) => {}
        }
    }
}
