//! A message this instance holds while its handler works on it: the lease renewed, a take-over
//! noticed, and database steps retried until they succeed.

use std::time::Duration;

use crate::Core;
use crate::ocr::queue::Delivery;

/// The first wait before a failed database step is tried again (doubling up to the next).
const DB_RETRY_FIRST: Duration = Duration::from_millis(100);
const DB_RETRY_MAX: Duration = Duration::from_secs(2);

/// A message this instance holds: its lease is renewed while the handler works on it, and it
/// learns when another instance took it over.
pub(super) struct Held<'a> {
    pub(super) core: &'a Core,
    pub(super) delivery: &'a Delivery,
    renew_every: Duration,
    last_renew: tokio::time::Instant,
    lost: bool,
}

impl<'a> Held<'a> {
    pub(super) fn new(core: &'a Core, delivery: &'a Delivery) -> Held<'a> {
        Held {
            core,
            delivery,
            renew_every: core.config().ocr_lease / 3,
            last_renew: tokio::time::Instant::now(),
            lost: false,
        }
    }

    fn message(&self) -> Option<&'a str> {
        Some(self.delivery.message_id.as_str())
    }

    /// Renews the lease when a third of it has passed; false once the message was taken over.
    pub(super) async fn keep(&mut self) -> bool {
        if !self.lost && self.last_renew.elapsed() >= self.renew_every {
            self.last_renew = tokio::time::Instant::now();
            let queue = &self.core.ocr().queue;
            match queue.renew(self.core.instance_id(), &self.delivery.message_id).await {
                Ok(held) => self.lost = !held,
                // Redis is away: the lease cannot lapse unseen by us any faster than by others.
                Err(e) => tracing::debug!(error = %e, "cannot renew an OCR message's lease"),
            }
            if self.lost {
                tracing::info!(request = self.delivery.request_id, "OCR message taken over by another instance");
            }
        }
        !self.lost
    }

    /// Runs `work` while renewing the lease.
    pub(super) async fn during<F: std::future::Future>(&mut self, work: F) -> F::Output {
        tokio::pin!(work);
        loop {
            let wait = self.renew_every.saturating_sub(self.last_renew.elapsed());
            tokio::select! {
                out = &mut work => return out,
                _ = tokio::time::sleep(wait) => { self.keep().await; }
            }
        }
    }

    /// Runs a database step until it succeeds, waiting longer after each failure and holding the
    /// message meanwhile. Before the call (`before_call`) it gives up when the core stops or
    /// the message was taken over (someone else carries it on); after the call it never gives
    /// up, since what it writes was paid for.
    pub(super) async fn persist<T, F, Fut>(&mut self, what: &str, before_call: bool, mut step: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = sqlx::Result<T>>,
    {
        let mut wait = DB_RETRY_FIRST;
        let mut failures = 0u32;
        loop {
            match step().await {
                Ok(value) => {
                    if failures > 0 {
                        tracing::info!(request = self.delivery.request_id, failures, "OCR database step done: {what}");
                    }
                    return Some(value);
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(request = self.delivery.request_id, error = %e, "cannot {what}; trying again");
                    } else {
                        tracing::debug!(request = self.delivery.request_id, error = %e, "cannot {what}; trying again");
                    }
                }
            }
            if before_call && self.core.stopping() {
                return None;
            }
            let core = self.core;
            self.during(async {
                tokio::select! {
                    _ = core.stop_signal(), if before_call => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            })
            .await;
            if before_call && (!self.keep().await || self.core.stopping()) {
                return None;
            }
            wait = (wait * 2).min(DB_RETRY_MAX);
        }
    }

    /// Settles the message (see [`Queue::settle`](crate::ocr::queue::Queue::settle)).
    pub(super) async fn settle(&self, due: Option<i64>) {
        let queue = &self.core.ocr().queue;
        let id = self.delivery.request_id;
        if let Err(e) = queue.settle(self.core.instance_id(), self.message(), id, due).await {
            // Left pending under this instance: taken over after the lease and settled then.
            tracing::debug!(request = id, error = %e, "cannot settle an OCR message");
        }
    }
}
