//! The due index in Redis: `orders:due` scores each pending order by its deadline; a sweep claims
//! due orders atomically by moving them into `orders:inflight`, scored by lease expiry;
//! acknowledging removes them; a reaper returns lapsed leases. Claiming with a plain ZREM would
//! lose an order whose sweeper dies after it. Each claim has an owner (`orders:owner`, order → the
//! claiming round's token): the owner renews its lease while it works ([`DueIndex::renew`]), so a
//! round slower than the lease keeps its orders, and only the owner puts them back
//! ([`DueIndex::later`]); a round whose lease lapsed anyway (a stalled instance, a lost link) finds
//! its renewal refused and touches nothing of the new owner's. Redis `TIME` is the clock. The SQL
//! database stays the truth: reconcile repairs this index.

use std::time::Duration;

use redis::Script;

use crate::redis_conn::RedisConn;

const DUE: &str = "orders:due";
const INFLIGHT: &str = "orders:inflight";
const OWNER: &str = "orders:owner";

/// KEYS: due, inflight, owner. ARGV: max, lease ms, token. Moves up to max orders due now into
/// inflight, owned by `token`.
const CLAIM: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, no in ipairs(due) do
  redis.call('ZREM', KEYS[1], no)
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), no)
  redis.call('HSET', KEYS[3], no, ARGV[3])
end
return due
"#;

/// KEYS: due, inflight, owner. Returns orders whose lease lapsed to the due set (due at once).
const REAP: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, no in ipairs(lapsed) do
  redis.call('ZREM', KEYS[2], no)
  redis.call('HDEL', KEYS[3], no)
  redis.call('ZADD', KEYS[1], now, no)
end
return #lapsed
"#;

/// KEYS: inflight, owner. ARGV: lease ms, token, order numbers… Extends the leases `token`
/// still holds (in flight, owned, not lapsed); returns how many it extended.
const RENEW: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = 0
for i = 3, #ARGV do
  local until_ms = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if until_ms and tonumber(until_ms) > now and redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[2] then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
    held = held + 1
  end
end
return held
"#;

/// KEYS: due, inflight, owner. ARGV: delay ms, token, order numbers… Back to due after `delay`
/// (a retry), those `token` still owns.
const LATER: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[3], ARGV[i]) == ARGV[2] and redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
  end
end
return 1
"#;

static CLAIM_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(CLAIM));
static REAP_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(REAP));
static RENEW_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(RENEW));
static LATER_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(LATER));

#[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
/// The renewal script's SHA1 (as sent with EVALSHA), for tests that delay renewals on the wire.
pub fn renew_script_hash() -> &'static str {
    RENEW_SCRIPT.get_hash()
}

/// One claiming round's orders and token.
#[derive(Debug, Clone)]
pub struct Claim {
    pub token: String,
    pub orders: Vec<String>,
}

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

    /// Takes up to `max` due orders under a lease, owned by a new token.
    pub async fn claim(&self, max: usize, lease: Duration) -> redis::RedisResult<Claim> {
        let token = format!("{:016x}", fastrand::u64(..));
        let orders = CLAIM_SCRIPT
            .key(self.redis.key(DUE))
            .key(self.redis.key(INFLIGHT))
            .key(self.redis.key(OWNER))
            .arg(max)
            .arg(lease.as_millis() as u64)
            .arg(&token)
            .invoke_async(&mut self.redis.manager())
            .await?;
        Ok(Claim { token, orders })
    }

    /// Extends the leases `claim` still holds; how many those are.
    pub async fn renew(&self, claim: &Claim, lease: Duration) -> redis::RedisResult<usize> {
        if claim.orders.is_empty() {
            return Ok(0);
        }
        let mut invocation = RENEW_SCRIPT.prepare_invoke();
        invocation.key(self.redis.key(INFLIGHT)).key(self.redis.key(OWNER)).arg(lease.as_millis() as u64);
        invocation.arg(&claim.token).arg(&claim.orders);
        invocation.invoke_async(&mut self.redis.manager()).await
    }

    /// Renews `claim`'s leases every third of `lease`, for as long as it is polled (the round's
    /// work runs beside it); it never ends by itself. A renewal that fails or finds leases gone
    /// is logged: their orders are someone else's now, and the SQL transitions stay conditional.
    pub async fn keep_leased(&self, claim: &Claim, lease: Duration) {
        let mut held = claim.orders.len();
        loop {
            tokio::time::sleep(lease / 3).await;
            match self.renew(claim, lease).await {
                Ok(now_held) if now_held < held => {
                    tracing::warn!(lost = held - now_held, "due-order leases lapsed mid-round: taken over");
                    held = now_held;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot renew due-order leases"),
            }
        }
    }

    pub async fn reap(&self) -> redis::RedisResult<u64> {
        REAP_SCRIPT
            .key(self.redis.key(DUE))
            .key(self.redis.key(INFLIGHT))
            .key(self.redis.key(OWNER))
            .invoke_async(&mut self.redis.manager())
            .await
    }

    /// Done with these (paid or cancelled): out of both sets.
    pub async fn remove(&self, orders: &[String]) -> redis::RedisResult<()> {
        if orders.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("ZREM").arg(self.redis.key(DUE)).arg(orders).ignore();
        pipe.cmd("ZREM").arg(self.redis.key(INFLIGHT)).arg(orders).ignore();
        pipe.cmd("HDEL").arg(self.redis.key(OWNER)).arg(orders).ignore();
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
        pipe.cmd("ZREM").arg(self.redis.key(INFLIGHT)).arg(&names).ignore();
        pipe.cmd("HDEL").arg(self.redis.key(OWNER)).arg(&names).ignore();
        pipe.query_async(&mut self.redis.manager()).await
    }

    /// Orders of `claim` to be tried again after `delay` (those it still owns).
    pub async fn later(&self, claim: &Claim, orders: &[String], delay: Duration) -> redis::RedisResult<()> {
        if orders.is_empty() {
            return Ok(());
        }
        let mut invocation = LATER_SCRIPT.prepare_invoke();
        invocation.key(self.redis.key(DUE)).key(self.redis.key(INFLIGHT)).key(self.redis.key(OWNER));
        invocation.arg(delay.as_millis() as u64).arg(&claim.token);
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

    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
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
