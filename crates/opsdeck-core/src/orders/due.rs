//! The due index in Redis (shared/specs/providers.md §4): `orders:due` scores each pending
//! order by its deadline; a sweep claims due orders atomically by moving them into
//! `orders:inflight`, scored by lease expiry; acknowledging removes them; a reaper returns
//! lapsed leases. Claiming with a plain ZREM would lose an order whose sweeper dies after it.
//! Redis `TIME` is the clock. The SQL database stays the truth: reconcile repairs this index.

use std::time::Duration;

use redis::Script;

use crate::redis_conn::RedisConn;

const DUE: &str = "orders:due";
const INFLIGHT: &str = "orders:inflight";

/// KEYS: due, inflight. ARGV: max, lease ms. Moves up to max orders due now into inflight.
const CLAIM: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, no in ipairs(due) do
  redis.call('ZREM', KEYS[1], no)
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), no)
end
return due
"#;

/// KEYS: due, inflight. Returns orders whose lease lapsed to the due set (due at once).
const REAP: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, no in ipairs(lapsed) do
  redis.call('ZREM', KEYS[2], no)
  redis.call('ZADD', KEYS[1], now, no)
end
return #lapsed
"#;

/// KEYS: due, inflight. ARGV: delay ms, order numbers… Back to due after `delay` (a retry).
const LATER: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
  end
end
return 1
"#;

static CLAIM_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(CLAIM));
static REAP_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(REAP));
static LATER_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(LATER));

#[derive(Clone)]
pub struct DueIndex {
    redis: RedisConn,
}

impl DueIndex {
    pub fn new(redis: RedisConn) -> DueIndex {
        DueIndex { redis }
    }

    /// Adds (or moves) orders with their deadlines (ms).
    pub async fn add(&self, orders: &[(String, i64)]) -> redis::RedisResult<()> {
        if orders.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(self.redis.key(DUE));
        for (no, at) in orders {
            cmd.arg(*at).arg(no);
        }
        cmd.query_async(&mut self.redis.manager()).await
    }

    /// Takes up to `max` due orders under a lease.
    pub async fn claim(&self, max: usize, lease: Duration) -> redis::RedisResult<Vec<String>> {
        CLAIM_SCRIPT
            .key(self.redis.key(DUE))
            .key(self.redis.key(INFLIGHT))
            .arg(max)
            .arg(lease.as_millis() as u64)
            .invoke_async(&mut self.redis.manager())
            .await
    }

    pub async fn reap(&self) -> redis::RedisResult<u64> {
        REAP_SCRIPT.key(self.redis.key(DUE)).key(self.redis.key(INFLIGHT)).invoke_async(&mut self.redis.manager()).await
    }

    /// Done with these (paid or cancelled): out of both sets.
    pub async fn remove(&self, orders: &[String]) -> redis::RedisResult<()> {
        if orders.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("ZREM").arg(self.redis.key(DUE)).arg(orders).ignore();
        pipe.cmd("ZREM").arg(self.redis.key(INFLIGHT)).arg(orders).ignore();
        pipe.query_async(&mut self.redis.manager()).await
    }

    /// Redis's clock (`TIME`): the one clock of order deadlines (placing sets them by it, the
    /// claim script and the sweep's cancellations compare with it).
    pub async fn now(&self) -> redis::RedisResult<chrono::DateTime<chrono::Utc>> {
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut self.redis.manager()).await?;
        Ok(chrono::DateTime::from_timestamp_millis(secs * 1000 + micros / 1000).unwrap_or_default())
    }

    /// Claimed orders that are not due yet, back in the index at their deadlines (ms), atomically.
    pub async fn back_at(&self, orders: &[(String, i64)]) -> redis::RedisResult<()> {
        if orders.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        let due = pipe.atomic().cmd("ZADD").arg(self.redis.key(DUE));
        for (no, at) in orders {
            due.arg(*at).arg(no);
        }
        due.ignore();
        let names: Vec<&String> = orders.iter().map(|(no, _)| no).collect();
        pipe.cmd("ZREM").arg(self.redis.key(INFLIGHT)).arg(names).ignore();
        pipe.query_async(&mut self.redis.manager()).await
    }

    /// Claimed orders to be tried again after `delay`.
    pub async fn later(&self, orders: &[String], delay: Duration) -> redis::RedisResult<()> {
        if orders.is_empty() {
            return Ok(());
        }
        let mut invocation = LATER_SCRIPT.prepare_invoke();
        invocation.key(self.redis.key(DUE)).key(self.redis.key(INFLIGHT)).arg(delay.as_millis() as u64);
        for no in orders {
            invocation.arg(no);
        }
        let _: i64 = invocation.invoke_async(&mut self.redis.manager()).await?;
        Ok(())
    }

    /// Which of `orders` the index holds (due or in flight).
    pub async fn known(&self, orders: &[String]) -> redis::RedisResult<Vec<bool>> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        let (due, inflight): (Vec<Option<f64>>, Vec<Option<f64>>) = redis::pipe()
            .cmd("ZMSCORE")
            .arg(self.redis.key(DUE))
            .arg(orders)
            .cmd("ZMSCORE")
            .arg(self.redis.key(INFLIGHT))
            .arg(orders)
            .query_async(&mut self.redis.manager())
            .await?;
        Ok(due.iter().zip(inflight).map(|(d, i)| d.is_some() || i.is_some()).collect())
    }

    /// A page of the due set (members after `offset`), for reconcile.
    pub async fn due_page(&self, offset: usize, count: usize) -> redis::RedisResult<Vec<String>> {
        redis::cmd("ZRANGE")
            .arg(self.redis.key(DUE))
            .arg(offset)
            .arg(offset + count - 1)
            .query_async(&mut self.redis.manager())
            .await
    }

    /// How many are due now or later, and in flight.
    pub async fn sizes(&self) -> redis::RedisResult<(u64, u64)> {
        redis::pipe()
            .cmd("ZCARD")
            .arg(self.redis.key(DUE))
            .cmd("ZCARD")
            .arg(self.redis.key(INFLIGHT))
            .query_async(&mut self.redis.manager())
            .await
    }
}
