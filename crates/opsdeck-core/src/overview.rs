//! The Overview page's figures in one answer, and the OCR depth history behind its chart.
//!
//! The history is shared by every instance: each keeps sampling, but a bucket is written once
//! (`HSETNX` on the bucket's start), so a chart shows the same line on every console, and it
//! survives a restart of any one instance. Samples older than [`HISTORY`] are dropped as new ones
//! are written.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::Script;
use sqlx::{AnyPool, Row};

use crate::db::{instant, ms};
use crate::redis_conn::RedisConn;
use crate::scheduler::RunOutcome;

pub use opsdeck_api::overview::{
    DepthSample, HeldClaim, InstanceOverview, JobFailure, OcrOverview, OrdersOverview, Overview, RecentCancel,
    RecentOcr,
};

/// One point of the depth chart per bucket.
pub const BUCKET: Duration = Duration::from_secs(30);
/// How far back the chart reaches.
pub const HISTORY: Duration = Duration::from_secs(3600);
/// How often a listening console gets a fresh overview.
pub const PUSH_EVERY: Duration = Duration::from_secs(5);
#[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
/// "Expiring soon" on the Overview: within this many minutes.
pub const SOON_MINUTES: i64 = 5;
/// How many recent items the lists show.
const RECENT: i64 = 6;

/// The start of the bucket `at` falls in, in Unix seconds.
pub fn bucket_of(at: DateTime<Utc>) -> i64 {
    let size = BUCKET.as_secs() as i64;
    at.timestamp().div_euclid(size) * size
}

/// The depth history in Redis.
#[derive(Clone)]
pub struct DepthHistory {
    redis: RedisConn,
}

const RECORD: &str = r"
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
local cutoff = tonumber(ARGV[3])
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(field) < cutoff then redis.call('HDEL', KEYS[1], field) end
end
return 1
";

impl DepthHistory {
    pub fn new(redis: RedisConn) -> DepthHistory {
        DepthHistory { redis }
    }

    fn key(&self) -> String {
        self.redis.key("overview:ocr_depth")
    }

    /// Records the sample of `at`'s bucket unless another instance did already.
    pub async fn record(&self, at: DateTime<Utc>, depth: i64, calls_per_second: f64) -> redis::RedisResult<()> {
        let bucket = bucket_of(at);
        let _: i64 = Script::new(RECORD)
            .key(self.key())
            .arg(bucket)
            .arg(format!("{depth}:{calls_per_second:.3}"))
            .arg(bucket - HISTORY.as_secs() as i64)
            .invoke_async(&mut self.redis.manager())
            .await?;
        Ok(())
    }

    /// The samples of the last hour before `now`, oldest first.
    pub async fn read(&self, now: DateTime<Utc>) -> redis::RedisResult<Vec<DepthSample>> {
        let fields: Vec<(String, String)> =
            redis::cmd("HGETALL").arg(self.key()).query_async(&mut self.redis.manager()).await?;
        let cutoff = bucket_of(now) - HISTORY.as_secs() as i64;
        let mut samples: Vec<DepthSample> = fields
            .into_iter()
            .filter_map(|(field, value)| {
                let bucket: i64 = field.parse().ok()?;
                let (depth, rate) = value.split_once(':')?;
                (bucket >= cutoff).then_some(DepthSample {
                    at: DateTime::from_timestamp(bucket, 0)?,
                    depth: depth.parse().ok()?,
                    calls_per_second: rate.parse().ok()?,
                })
            })
            .collect();
        samples.sort_by_key(|s| s.at);
        Ok(samples)
    }
}

/// Done and dead requests finished since `since`.
pub async fn ocr_finished_since(pool: &AnyPool, since: DateTime<Utc>) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT COUNT(CASE WHEN status = 'done' THEN 1 END) AS done, \
         COUNT(CASE WHEN status = 'dead' THEN 1 END) AS dead \
         FROM ocr_requests WHERE finished_at >= ?",
    )
    .bind(ms(since))
    .fetch_one(pool)
    .await?;
    Ok((row.try_get("done")?, row.try_get("dead")?))
}

pub async fn ocr_recent(pool: &AnyPool) -> sqlx::Result<Vec<RecentOcr>> {
    let rows = sqlx::query(
        "SELECT id, side, status, finished_at FROM ocr_requests WHERE finished_at IS NOT NULL \
         ORDER BY finished_at DESC, id DESC LIMIT ?",
    )
    .bind(RECENT)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(RecentOcr {
                id: row.try_get("id")?,
                side: row.try_get("side")?,
                status: row.try_get("status")?,
                finished_at: instant(row.try_get("finished_at")?),
            })
        })
        .collect()
}

/// (cancelled, paid, paid by the sweep) since `since`.
pub async fn orders_since(pool: &AnyPool, since: DateTime<Utc>) -> sqlx::Result<(i64, i64, i64)> {
    let cancelled: i64 = sqlx::query("SELECT COUNT(*) AS n FROM cancelled_orders WHERE cancelled_at >= ?")
        .bind(ms(since))
        .fetch_one(pool)
        .await?
        .try_get("n")?;
    let row = sqlx::query(
        "SELECT COUNT(*) AS paid, COUNT(CASE WHEN who = 'sweep' THEN 1 END) AS late \
         FROM order_events WHERE event = 'paid' AND at >= ?",
    )
    .bind(ms(since))
    .fetch_one(pool)
    .await?;
    Ok((cancelled, row.try_get("paid")?, row.try_get("late")?))
}

pub async fn recent_cancelled(pool: &AnyPool) -> sqlx::Result<Vec<RecentCancel>> {
    let rows = sqlx::query(
        "SELECT order_no, amount_fen, cancelled_at, reason, cancelled_by FROM cancelled_orders \
         ORDER BY cancelled_at DESC, id DESC LIMIT ?",
    )
    .bind(RECENT)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(RecentCancel {
                order_no: row.try_get("order_no")?,
                amount_fen: row.try_get("amount_fen")?,
                cancelled_at: instant(row.try_get("cancelled_at")?),
                reason: opsdeck_api::orders::CancelReason::from_stored(&row.try_get::<String, _>("reason")?),
                cancelled_by: row.try_get("cancelled_by")?,
            })
        })
        .collect()
}

/// The latest failure of each existing job, newest first.
pub async fn last_failures(pool: &AnyPool) -> sqlx::Result<Vec<JobFailure>> {
    let rows = sqlx::query(
        "SELECT r.id, r.job_id, j.name, r.outcome, r.scheduled_at, r.error FROM job_runs r \
         JOIN jobs j ON j.id = r.job_id \
         WHERE r.id IN (SELECT MAX(id) FROM job_runs WHERE outcome IN ('failed', 'timed_out', 'missed') \
         GROUP BY job_id) \
         ORDER BY r.scheduled_at DESC, r.id DESC",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .filter_map(|row| {
            let outcome = RunOutcome::parse(&row.try_get::<String, _>("outcome").ok()?)?;
            Some(Ok(JobFailure {
                run_id: row.try_get("id").ok()?,
                job_id: row.try_get("job_id").ok()?,
                job_name: row.try_get("name").ok()?,
                outcome,
                scheduled_at: instant(row.try_get("scheduled_at").ok()?),
                error: row
                    .try_get::<Option<String>, _>("error")
                    .ok()?
                    .as_deref()
                    .map(opsdeck_api::ErrorReason::from_stored),
            }))
        })
        .collect()
}

/// Runs in progress, with the instance holding each one's claim.
pub async fn running(pool: &AnyPool) -> sqlx::Result<Vec<(String, HeldClaim)>> {
    let rows = sqlx::query(
        "SELECT job_id, job_name, scheduled_at, instance FROM job_runs WHERE outcome = 'running' \
         ORDER BY scheduled_at",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("instance")?,
                HeldClaim {
                    job_id: row.try_get("job_id")?,
                    job_name: row.try_get("job_name")?,
                    scheduled_at: instant(row.try_get("scheduled_at")?),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_on_multiples_of_the_bucket_size() {
        let at = DateTime::from_timestamp(1_700_000_045, 0).unwrap();
        assert_eq!(bucket_of(at), 1_700_000_040);
        assert!(bucket_of(at) <= at.timestamp() && at.timestamp() < bucket_of(at) + 30);
    }
}
