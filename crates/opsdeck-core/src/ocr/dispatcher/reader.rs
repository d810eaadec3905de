//! The reader of one instance: reads as many messages as it has call permits for, takes over
//! messages whose lease lapsed, and hands each to a handler holding one permit.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::OcrShared;
use super::handler::handle;
use crate::Core;
use crate::ocr::queue::{Delivery, RECLAIM_START};

/// How long one blocking read waits for new messages (an idle instance costs one Redis call per
/// block), and how often a paused reader looks whether the pause was lifted elsewhere.
const READ_BLOCK: Duration = Duration::from_secs(5);

pub(super) async fn read_loop(core: &Core, calls: Arc<Semaphore>, cancel: &CancellationToken) {
    let shared = core.ocr();
    let me = core.instance_id().to_string();
    let lease = core.config().ocr_lease;
    let mut conn = None;
    // Take-overs: scanned every half lease (at once on start: a dead instance may have left
    // messages), resuming from XAUTOCLAIM's cursor until the whole pending list was seen.
    let mut cursor = RECLAIM_START.to_string();
    let mut next_reclaim = tokio::time::Instant::now();
    loop {
        // Room for at least one call before reading: a message read is a message held.
        let first = tokio::select! {
            _ = cancel.cancelled() => return,
            permit = calls.clone().acquire_owned() => permit.expect("never closed"),
        };
        let mut permits = vec![first];
        while let Ok(more) = calls.clone().try_acquire_owned() {
            permits.push(more);
        }
        match shared.queue.pause().await {
            Ok(Some(pause)) => {
                drop(permits);
                let wait = pause.until.and_then(|u| (u - Utc::now()).to_std().ok()).unwrap_or(READ_BLOCK);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = shared.resumed.notified() => continue,
                    _ = tokio::time::sleep(wait.min(READ_BLOCK)) => continue,
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the OCR pause state");
                drop(permits);
                pause_a_moment(cancel).await;
                continue;
            }
        }
        // Messages held past their lease first (they have waited longest), with the same permits
        // as new ones: the reader, not a loop that needs a free permit, so that an idle instance,
        // whose permits all wait in its blocking read, takes them over too.
        if tokio::time::Instant::now() >= next_reclaim {
            let now = tokio::time::Instant::now();
            next_reclaim = now + lease / 2;
            match shared.queue.reclaim(&me, lease, permits.len(), &cursor).await {
                Ok((next, deliveries)) => {
                    if next != RECLAIM_START {
                        // More of the pending list to scan: go on at the next turn.
                        next_reclaim = now;
                    }
                    cursor = next;
                    if !deliveries.is_empty() {
                        tracing::info!(messages = deliveries.len(), "taking over OCR messages whose lease lapsed");
                    }
                    dispatch(core, deliveries, &mut permits);
                }
                Err(e) if e.code() == Some("NOGROUP") => recreate_group(shared).await,
                Err(e) => tracing::debug!(error = %e, "cannot take over OCR messages"),
            }
            if permits.is_empty() {
                continue;
            }
        }
        if conn.is_none() {
            match core.redis().dedicated(READ_BLOCK + Duration::from_secs(5)).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::debug!(error = %e, "cannot open the OCR reader's connection");
                    drop(permits);
                    pause_a_moment(cancel).await;
                    continue;
                }
            }
        }
        // Never past the next take-over scan (and never 0, which would block for ever).
        let block = next_reclaim
            .saturating_duration_since(tokio::time::Instant::now())
            .clamp(Duration::from_millis(1), READ_BLOCK);
        let read = tokio::select! {
            _ = cancel.cancelled() => return,
            read = shared.queue.read(conn.as_mut().expect("opened above"), &me, permits.len(), block) => read,
        };
        match read {
            Ok(deliveries) => dispatch(core, deliveries, &mut permits),
            Err(e) if e.code() == Some("NOGROUP") => recreate_group(shared).await,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the OCR stream");
                conn = None;
                drop(permits);
                pause_a_moment(cancel).await;
            }
        }
    }
}

/// A handler for each delivery, each holding one of the permits it was read with.
fn dispatch(core: &Core, deliveries: Vec<Delivery>, permits: &mut Vec<tokio::sync::OwnedSemaphorePermit>) {
    for delivery in deliveries {
        let Some(permit) = permits.pop() else { break };
        let core = core.clone();
        tokio::spawn(async move {
            handle(&core, delivery).await;
            drop(permit);
        });
    }
}

/// The stream went away (a flush): recreate it; reconcile refills it from SQL.
async fn recreate_group(shared: &OcrShared) {
    if let Err(e) = shared.queue.ensure_group().await {
        tracing::debug!(error = %e, "cannot recreate the OCR consumer group");
    }
}

async fn pause_a_moment(cancel: &CancellationToken) {
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}
