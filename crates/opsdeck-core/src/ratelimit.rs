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

/// KEYS[1]: the limiter's theoretical arrival time (µs, Redis clock); KEYS[2]: an optional
/// shared override of the rate (a number, set at run time; empty key name: none); KEYS[3]: an
/// optional gate (while it exists nothing is granted; empty: none); KEYS[4]: an optional hash
/// in which a grant counts one for ARGV[5] (empty: none), so the grant and the record that a
/// call was granted are one step.
/// ARGV[1]: the period the rate is counted over, µs (1 s, plus a guard, see [`Limit`]);
/// ARGV[2]: the default rate; ARGV[3]: burst; ARGV[4]: a key prefix for per-second counters of
/// granted slots (empty: none).
/// Returns {1, count (or 0)} when granted, {0, wait µs} when not yet, {-1, gate ms left or -1}
/// when gated.
const GCRA: &str = r#"
if KEYS[3] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then
  return {-1, redis.call('PTTL', KEYS[3])}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[2])
if KEYS[2] ~= '' then
  local override = tonumber(redis.call('GET', KEYS[2]) or '')
  if override and override > 0 then rate = override end
end
local interval = math.floor(tonumber(ARGV[1]) / rate)
local tolerance = interval * (tonumber(ARGV[3]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local earliest = tat - tolerance
if now < earliest then
  return {0, earliest - now}
end
local ttl = math.ceil((tat + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', tat + interval), 'PX', ttl)
if ARGV[4] ~= '' then
  local counter = ARGV[4] .. t[1]
  redis.call('INCR', counter)
  redis.call('EXPIRE', counter, 3700)
end
if KEYS[4] ~= '' then
  return {1, redis.call('HINCRBY', KEYS[4], ARGV[5], 1)}
end
return {1, 0}
"#;

static SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(GCRA));

/// KEYS[1]: the limiter. ARGV[1]: µs. Grants nothing for that long (never shortens a wait).
const HOLD: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ = now + tonumber(ARGV[1])
if until_ > tat then
  redis.call('SET', KEYS[1], string.format('%.0f', until_), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return 1
"#;

static HOLD_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(HOLD));

/// One named limit (e.g. Baidu's OCR calls), shared through Redis.
#[derive(Clone)]
pub struct RateLimit {
    redis: RedisConn,
    key: String,
}

/// The answer to one request for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Granted now (with [`RateLimit::try_take_counted`]: the member's count after this grant).
    Granted(i64),
    /// Not yet: ask again after this long.
    RetryAfter(Duration),
    /// The gate is closed (for this long, or until opened when None).
    Gated(Option<Duration>),
}

/// How a limit is counted.
#[derive(Debug, Clone)]
pub struct Limit<'a> {
    /// Granted slots per `period`.
    pub rate: f64,
    /// The period the rate is counted over. One second counts "per second"; a little more
    /// keeps a margin for calls that travel unequal times to the provider after their grant,
    /// so that no one-second window *at the provider* sees more than `rate` of them.
    pub period: Duration,
    pub burst: u32,
    /// A key (unprefixed) whose number, when set, replaces `rate` (changed at run time).
    pub rate_override: Option<&'a str>,
    /// A key (unprefixed) that closes the gate while it exists.
    pub gate: Option<&'a str>,
    /// A key prefix (unprefixed) for per-second counters of granted slots (`<prefix><unix s>`).
    pub counters: Option<&'a str>,
}

impl Limit<'_> {
    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    /// A plain `per_second` limit.
    pub fn per_second(rate: f64, burst: u32) -> Limit<'static> {
        Limit { rate, period: Duration::from_secs(1), burst, rate_override: None, gate: None, counters: None }
    }
}

impl RateLimit {
    pub fn new(redis: RedisConn, name: &str) -> RateLimit {
        let key = redis.key(&format!("ratelimit:{name}"));
        RateLimit { redis, key }
    }

    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    /// Takes a slot of a limit of `per_second` calls (burst `burst`, at least 1) if one is free.
    pub async fn try_acquire(&self, per_second: f64, burst: u32) -> redis::RedisResult<Slot> {
        self.try_take(&Limit::per_second(per_second, burst)).await
    }

    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    /// Takes a slot of `limit` if one is free.
    pub async fn try_take(&self, limit: &Limit<'_>) -> redis::RedisResult<Slot> {
        self.take(limit, None).await
    }

    /// [`RateLimit::try_take`] that, in the same step, counts the grant for `member` in the hash
    /// `hash` (unprefixed) and returns the member's new count with the grant.
    pub async fn try_take_counted(&self, limit: &Limit<'_>, hash: &str, member: i64) -> redis::RedisResult<Slot> {
        self.take(limit, Some((hash, member))).await
    }

    async fn take(&self, limit: &Limit<'_>, counted: Option<(&str, i64)>) -> redis::RedisResult<Slot> {
        let optional = |name: Option<&str>| name.map(|n| self.redis.key(n)).unwrap_or_default();
        let (granted, wait): (i64, i64) = SCRIPT
            .key(&self.key)
            .key(optional(limit.rate_override))
            .key(optional(limit.gate))
            .key(optional(counted.map(|(hash, _)| hash)))
            .arg(limit.period.as_micros() as i64)
            .arg(limit.rate.max(0.001))
            .arg(limit.burst.max(1))
            .arg(optional(limit.counters))
            .arg(counted.map_or(0, |(_, member)| member))
            .invoke_async(&mut self.redis.manager())
            .await?;
        Ok(match granted {
            1 => Slot::Granted(wait),
            0 => Slot::RetryAfter(Duration::from_micros(wait.max(1) as u64)),
            _ => Slot::Gated((wait > 0).then(|| Duration::from_millis(wait as u64))),
        })
    }

    /// Grants no slot for `pause` from now (a provider said to slow down).
    pub async fn hold(&self, pause: Duration) -> redis::RedisResult<()> {
        let _: i64 =
            HOLD_SCRIPT.key(&self.key).arg(pause.as_micros() as i64).invoke_async(&mut self.redis.manager()).await?;
        Ok(())
    }

    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    /// Waits until a slot is granted: each refusal says exactly how long to sleep.
    pub async fn acquire(&self, per_second: f64, burst: u32) -> redis::RedisResult<()> {
        loop {
            match self.try_acquire(per_second, burst).await? {
                Slot::Granted(_) => return Ok(()),
                Slot::RetryAfter(wait) => tokio::time::sleep(wait).await,
                // A plain limit has no gate; were one closed, wait as it says.
                Slot::Gated(wait) => tokio::time::sleep(wait.unwrap_or(Duration::from_millis(100))).await,
            }
        }
    }
}
