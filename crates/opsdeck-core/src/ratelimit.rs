//! A global rate limit shared by every instance: GCRA (the generic cell rate algorithm) in one
//! Lua script, with Redis `TIME` as the one clock, so instances with skewed clocks still share
//! one exact cap. Each call either takes a slot now or learns exactly how long to wait.
//!
//! With the default burst of 1 the granted calls are spaced at least `1/rate` apart, so no
//! window of one second ever holds more than `rate` of them (a fixed INCR+EXPIRE window lets 2×
//! through at its edges). Written here because no maintained crate offers a Redis-side GCRA
//! that uses the server's clock.

use std::time::Duration;

use redis::Script;

use crate::redis_conn::RedisConn;

/// KEYS[1]: the limiter's theoretical arrival time (µs, Redis clock). ARGV[1]: emission
/// interval µs; ARGV[2]: burst tolerance µs. Returns {1, 0} when granted, {0, wait µs} when not.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local earliest = tat - tolerance
if now < earliest then
  return {0, earliest - now}
end
local ttl = math.ceil((tat + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', tat + interval), 'PX', ttl)
return {1, 0}
"#;

static SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(GCRA));

/// One named limit (e.g. Baidu's OCR calls), shared through Redis.
#[derive(Clone)]
pub struct RateLimit {
    redis: RedisConn,
    key: String,
}

/// The answer to one request for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Granted,
    /// Not yet: ask again after this long.
    RetryAfter(Duration),
}

impl RateLimit {
    pub fn new(redis: RedisConn, name: &str) -> RateLimit {
        let key = redis.key(&format!("ratelimit:{name}"));
        RateLimit { redis, key }
    }

    /// Takes a slot of a limit of `per_second` calls (burst `burst`, at least 1) if one is free.
    pub async fn try_acquire(&self, per_second: f64, burst: u32) -> redis::RedisResult<Slot> {
        let interval_us = (1_000_000.0 / per_second.max(0.001)).round() as i64;
        let tolerance_us = interval_us * i64::from(burst.max(1) - 1);
        let (granted, wait_us): (i64, i64) =
            SCRIPT.key(&self.key).arg(interval_us).arg(tolerance_us).invoke_async(&mut self.redis.manager()).await?;
        Ok(if granted == 1 { Slot::Granted } else { Slot::RetryAfter(Duration::from_micros(wait_us.max(1) as u64)) })
    }

    /// Waits until a slot is granted: each refusal says exactly how long to sleep.
    pub async fn acquire(&self, per_second: f64, burst: u32) -> redis::RedisResult<()> {
        loop {
            match self.try_acquire(per_second, burst).await? {
                Slot::Granted => return Ok(()),
                Slot::RetryAfter(wait) => tokio::time::sleep(wait).await,
            }
        }
    }
}
