//! The Overview page: one answer with the figures an on-call person looks at first, pushed to a
//! listening console every few seconds, and the sampler behind the OCR depth chart.

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::Core;
use crate::accounts::Actor;
use crate::error::ApiError;
use crate::events::Event;
use crate::ocr::store as ocr_store;
use crate::overview::{self, InstanceOverview, OcrOverview, OrdersOverview, Overview};

impl Core {
    /// Everything the Overview page shows (health comes with the health events); any staff
    /// member.
    pub async fn overview(&self, actor: &Actor) -> Result<Overview, ApiError> {
        self.require_reader(actor).await?;
        self.overview_now().await
    }

    /// [`Core::overview`] for the core's own use (the push every few seconds).
    async fn overview_now(&self) -> Result<Overview, ApiError> {
        let now = Utc::now();
        let hour_ago = now - chrono::Duration::hours(1);
        let pool = self.database().pool();
        let (stats, orders, instances) =
            tokio::try_join!(self.ocr_figures(), self.pending_summary(), self.instances_seen())?;
        let (history, (done, dead), recent, (cancelled, paid, paid_late), recent_cancelled, failures, running) = tokio::try_join!(
            async { self.overview_history().read(now).await.map_err(ApiError::from) },
            async { Ok::<_, ApiError>(overview::ocr_finished_since(pool, hour_ago).await?) },
            async { Ok::<_, ApiError>(overview::ocr_recent(pool).await?) },
            async { Ok::<_, ApiError>(overview::orders_since(pool, hour_ago).await?) },
            async { Ok::<_, ApiError>(overview::recent_cancelled(pool).await?) },
            async { Ok::<_, ApiError>(overview::last_failures(pool).await?) },
            async { Ok::<_, ApiError>(overview::running(pool).await?) },
        )?;
        let minute_calls: u32 = stats.calls.iter().map(|s| s.calls).sum();
        let instances = instances
            .into_iter()
            .map(|i| InstanceOverview {
                claims: running.iter().filter(|(holder, _)| *holder == i.id).map(|(_, claim)| claim.clone()).collect(),
                id: i.id,
                is_self: i.is_self,
                started_at: i.started_at,
                last_seen: i.last_seen,
            })
            .collect();
        Ok(Overview {
            at: now,
            sandbox: self.config().sandbox_mode,
            ocr: OcrOverview {
                counts: stats.counts,
                cap: stats.cap,
                calls_per_second: f64::from(minute_calls) / stats.calls.len().max(1) as f64,
                calls: stats.calls,
                history,
                pause: stats.pause,
                done_last_hour: done,
                dead_last_hour: dead,
                recent,
                sandbox: stats.sandbox,
            },
            orders: OrdersOverview {
                pending: orders.pending,
                expiring_soon: orders.expiring_soon,
                cancelled_last_hour: cancelled,
                paid_last_hour: paid,
                paid_late_last_hour: paid_late,
                recent_cancelled,
                sandbox: orders.sandbox,
            },
            failures,
            instances,
        })
    }

    fn overview_history(&self) -> overview::DepthHistory {
        overview::DepthHistory::new(self.redis().clone())
    }

    /// Takes one depth sample now (what the sampler does every bucket).
    pub async fn overview_sample(&self) -> Result<(), ApiError> {
        let counts = ocr_store::counts(self.database().pool()).await?;
        let seconds = overview::BUCKET.as_secs() as i64;
        let calls = self.ocr().queue.calls(seconds).await?;
        let total: u32 = calls.iter().map(|s| s.calls).sum();
        self.overview_history()
            .record(Utc::now(), counts.pending + counts.in_flight, f64::from(total) / seconds as f64)
            .await?;
        Ok(())
    }

    /// Samples the OCR depth every bucket, whether or not a console is open (the chart covers
    /// the last hour), and pushes a fresh overview every few seconds while one listens.
    pub(super) async fn run_overview(&self, cancel: CancellationToken) {
        let mut sample = tokio::time::interval(overview::BUCKET);
        let mut push = tokio::time::interval(overview::PUSH_EVERY);
        sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        push.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = sample.tick() => {
                    if let Err(e) = self.overview_sample().await {
                        tracing::debug!(error = %e, "cannot sample the OCR depth");
                    }
                }
                _ = push.tick() => {
                    if !self.has_listeners() {
                        continue;
                    }
                    match self.overview_now().await {
                        Ok(overview) => self.publish(Event::Overview { overview: Box::new(overview) }),
                        Err(e) => tracing::debug!(error = %e, "cannot gather the overview"),
                    }
                }
            }
        }
    }
}
