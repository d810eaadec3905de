//! Redis coordination between instances: one claim per (job, scheduled instant) with a lease,
//! cluster-wide running slots per job, instance heartbeats, and a jobs version counter that
//! tells every instance to reload after an edit.
//!
//! Claim key `<prefix>:sched:claim:<job>:<ms>` holds `run:<instance>` while its lease lives
//! (renewed during the run), then `done:<instance>` for [`DONE_KEEP`]. A claim whose lease
//! expired without `done` belongs to an instance that died: any instance may take it over.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use crate::redis_conn::RedisConn;

/// How long a claim lives without renewal.
pub const LEASE: Duration = Duration::from_secs(10);
/// How long a finished claim is remembered (longer than any outage we replay after).
pub const DONE_KEEP: Duration = Duration::from_secs(3 * 24 * 3600);
/// An instance that has not beaten for this long is considered gone.
pub const INSTANCE_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimState {
    Free,
    Running(String),
    Done(String),
}

/// The scheduler's view of Redis.
#[derive(Clone)]
pub struct Claims {
    redis: RedisConn,
}

const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

const COMPLETE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"#;

/// KEYS[1] running zset; ARGV: token, max, lease-expiry ms, now ms.
const ACQUIRE_SLOT: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], 86400000)
  return 1
end
return 0
"#;

impl Claims {
    pub fn new(redis: RedisConn) -> Claims {
        Claims { redis }
    }

    fn conn(&self) -> ConnectionManager {
        self.redis.manager()
    }

    pub fn claim_key(&self, job_id: i64, scheduled_ms: i64) -> String {
        self.redis
            .key(&format!("sched:claim:{job_id}:{scheduled_ms}"))
    }

    fn slots_key(&self, job_id: i64) -> String {
        self.redis.key(&format!("sched:running:{job_id}"))
    }

    /// Tries to take the claim; true when this instance won it.
    pub async fn claim(&self, key: &str, instance: &str) -> redis::RedisResult<bool> {
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(format!("run:{instance}"))
            .arg("NX")
            .arg("PX")
            .arg(LEASE.as_millis() as u64)
            .query_async(&mut self.conn())
            .await?;
        Ok(set.is_some())
    }

    pub async fn renew(&self, key: &str, instance: &str) -> redis::RedisResult<bool> {
        let renewed: i64 = Script::new(RENEW)
            .key(key)
            .arg(format!("run:{instance}"))
            .arg(LEASE.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(renewed == 1)
    }

    /// Marks the claim done (only if this instance still holds it).
    pub async fn complete(&self, key: &str, instance: &str) -> redis::RedisResult<bool> {
        let done: i64 = Script::new(COMPLETE)
            .key(key)
            .arg(format!("run:{instance}"))
            .arg(format!("done:{instance}"))
            .arg(DONE_KEEP.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(done == 1)
    }

    pub async fn state(&self, key: &str) -> redis::RedisResult<(ClaimState, Option<Duration>)> {
        let mut conn = self.conn();
        let (value, pttl): (Option<String>, i64) = redis::pipe()
            .get(key)
            .pttl(key)
            .query_async(&mut conn)
            .await?;
        let ttl = (pttl > 0).then(|| Duration::from_millis(pttl as u64));
        let state = match value {
            None => ClaimState::Free,
            Some(v) => match v.split_once(':') {
                Some(("done", who)) => ClaimState::Done(who.to_string()),
                Some((_, who)) => ClaimState::Running(who.to_string()),
                None => ClaimState::Running(v),
            },
        };
        Ok((state, ttl))
    }

    /// Takes one of the job's `max` running slots for `token`; false when all are in use.
    pub async fn acquire_slot(
        &self,
        job_id: i64,
        token: &str,
        max: u32,
        now_ms: i64,
    ) -> redis::RedisResult<bool> {
        let got: i64 = Script::new(ACQUIRE_SLOT)
            .key(self.slots_key(job_id))
            .arg(token)
            .arg(max)
            .arg(now_ms + LEASE.as_millis() as i64)
            .arg(now_ms)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(got == 1)
    }

    /// Extends a held slot's lease (the same script re-scores an existing token).
    pub async fn renew_slot(
        &self,
        job_id: i64,
        token: &str,
        now_ms: i64,
    ) -> redis::RedisResult<bool> {
        self.acquire_slot(job_id, token, u32::MAX, now_ms).await
    }

    pub async fn release_slot(&self, job_id: i64, token: &str) -> redis::RedisResult<()> {
        let _: i64 = self.conn().zrem(self.slots_key(job_id), token).await?;
        Ok(())
    }

    /// Records that `instance` is alive (score: last beat, ms) with when it started.
    pub async fn heartbeat(
        &self,
        instance: &str,
        started_ms: i64,
        now_ms: i64,
        running: usize,
    ) -> redis::RedisResult<()> {
        let info = self.redis.key(&format!("sched:instance:{instance}"));
        redis::pipe()
            .zadd(self.redis.key("sched:instances"), instance, now_ms)
            .hset_multiple(
                &info,
                &[("started_at", started_ms), ("running", running as i64)],
            )
            .pexpire(&info, (INSTANCE_TIMEOUT.as_millis() * 4) as i64)
            .query_async::<()>(&mut self.conn())
            .await
    }

    /// Instances seen within [`INSTANCE_TIMEOUT`]: (id, last beat ms, started ms, running).
    pub async fn instances(&self, now_ms: i64) -> redis::RedisResult<Vec<(String, i64, i64, i64)>> {
        let mut conn = self.conn();
        let key = self.redis.key("sched:instances");
        let cutoff = now_ms - INSTANCE_TIMEOUT.as_millis() as i64;
        let _: i64 = conn.zrembyscore(&key, "-inf", cutoff).await?;
        let seen: Vec<(String, i64)> = conn.zrangebyscore_withscores(&key, cutoff, "+inf").await?;
        let mut out = Vec::with_capacity(seen.len());
        for (id, last) in seen {
            let info: Vec<Option<i64>> = redis::cmd("HMGET")
                .arg(self.redis.key(&format!("sched:instance:{id}")))
                .arg("started_at")
                .arg("running")
                .query_async(&mut conn)
                .await?;
            let started = info.first().copied().flatten().unwrap_or(last);
            let running = info.get(1).copied().flatten().unwrap_or(0);
            out.push((id, last, started, running));
        }
        Ok(out)
    }

    pub async fn leave(&self, instance: &str) -> redis::RedisResult<()> {
        let _: i64 = self
            .conn()
            .zrem(self.redis.key("sched:instances"), instance)
            .await?;
        Ok(())
    }

    /// Bumps the jobs version so every instance reloads its jobs.
    pub async fn bump_jobs_version(&self) -> redis::RedisResult<i64> {
        self.conn()
            .incr(self.redis.key("sched:jobs_version"), 1)
            .await
    }

    pub async fn jobs_version(&self) -> redis::RedisResult<i64> {
        let v: Option<i64> = self
            .conn()
            .get(self.redis.key("sched:jobs_version"))
            .await?;
        Ok(v.unwrap_or(0))
    }
}
