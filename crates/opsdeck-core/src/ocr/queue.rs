//! The Redis side of the OCR queue: a stream with one consumer group as the dispatch queue, a set
//! of the request ids Redis knows about (so enqueueing is idempotent and reconcile can tell what
//! Redis lost), a sorted set of retries waiting for their time, the pause gate, the run-time cap,
//! per-second call counters and the kept results.
//!
//! Every multi-step change is one Lua script, so a crash between steps cannot half-apply it.

use std::time::Duration;

use redis::{AsyncCommands, Script, Value};

use super::model::{CallSample, OcrPause};
use crate::redis_conn::RedisConn;

pub const GROUP: &str = "dispatchers";
pub const STREAM: &str = "ocr:stream";
pub const KNOWN: &str = "ocr:known";
pub const DELAYED: &str = "ocr:delayed";
pub const PAUSE: &str = "ocr:pause";
pub const CAP: &str = "ocr:cap";
pub const CALLS: &str = "ocr:calls:";
/// A hash: request id → calls granted for it so far (written by the limiter's grant itself, so
/// the count is durable before the call leaves, with no round trip between grant and call).
pub const STARTED: &str = "ocr:started";
pub const RATE_LIMIT: &str = "baidu-ocr";

/// KEYS: known, stream, delayed. ARGV: pairs of (request id, due ms; 0 = now). Adds each id
/// Redis does not know yet: to the stream, or to the delayed set when due later. Returns how
/// many were added.
const ENQUEUE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local added = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local due = tonumber(ARGV[i + 1])
  if redis.call('SADD', KEYS[1], id) == 1 then
    if due > now then
      redis.call('ZADD', KEYS[3], due, id)
    else
      redis.call('XADD', KEYS[2], '*', 'id', id)
    end
    added = added + 1
  end
end
return added
"#;

/// KEYS: stream, delayed, known, started. ARGV: group, message id, request id, due ms (0 =
/// now), forget (1: the request is finished), consumer. Settles a delivered message: acknowledged
/// and deleted, then either forgotten (done or dead) or scheduled again (a retry or a requeue).
/// A delivered message is settled only by the consumer that holds it: one that lost it to a
/// take-over changes nothing (returns -1), so a late holder can neither acknowledge the new
/// holder's message nor add a second copy of it.
const SETTLE: &str = r#"
if ARGV[2] ~= '' then
  local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[6])
  if #held == 0 then return -1 end
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[1], ARGV[2])
end
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('SREM', KEYS[3], ARGV[3])
  redis.call('HDEL', KEYS[4], ARGV[3])
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = tonumber(ARGV[4])
redis.call('SADD', KEYS[3], ARGV[3])
if due > now then
  redis.call('ZADD', KEYS[2], due, ARGV[3])
else
  redis.call('XADD', KEYS[1], '*', 'id', ARGV[3])
end
return 1
"#;

/// KEYS: stream. ARGV: group, consumer, message id. Resets the message's idle time if this
/// consumer still holds it (1), else changes nothing (0): after a take-over the old holder must
/// not claim it back (`XCLAIM` with min-idle 0 would).
const RENEW: &str = r#"
local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #held == 0 then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"#;

/// KEYS: delayed, stream, pause. ARGV: max to move. Moves retries whose time has come into
/// the stream (not while paused). Returns {moved, ms until the next one or -1}.
const PROMOTE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local moved = 0
if redis.call('EXISTS', KEYS[3]) == 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
  for _, id in ipairs(due) do
    redis.call('ZREM', KEYS[1], id)
    redis.call('XADD', KEYS[2], '*', 'id', id)
    moved = moved + 1
  end
end
local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if next[2] then
  return {moved, math.max(0, tonumber(next[2]) - now)}
end
return {moved, -1}
"#;

/// KEYS: stream. ARGV: group, consumer, min idle ms, count, cursor. Takes over messages
/// another consumer has held longer than the lease (XAUTOCLAIM from the cursor) and reports how
/// often each has been delivered. Returns {next cursor, {{message id, request id, deliveries}, …}}.
const RECLAIM: &str = r#"
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[5], 'COUNT', ARGV[4])
local out = {}
for _, entry in ipairs(claimed[2]) do
  local id = entry[1]
  local fields = entry[2]
  if type(fields) == 'table' and fields[2] then
    local info = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    local deliveries = 1
    if info[1] then deliveries = info[1][4] end
    out[#out + 1] = {id, fields[2], deliveries}
  else
    redis.call('XACK', KEYS[1], ARGV[1], id)
  end
end
if claimed[3] then
  for _, id in ipairs(claimed[3]) do redis.call('XACK', KEYS[1], ARGV[1], id) end
end
return {claimed[1], out}
"#;

/// KEYS: delayed, known, started. ARGV: request ids. Withdraws cancelled requests from the retry
/// schedule: one still waiting for its retry time is removed and forgotten. One in the stream
/// stays there (its message id is not known here): the instance that reads it finds the row
/// cancelled, makes no call and forgets it. Returns how many were withdrawn.
const WITHDRAW: &str = r#"
local withdrawn = 0
for _, id in ipairs(ARGV) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    redis.call('SREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    withdrawn = withdrawn + 1
  end
end
return withdrawn
"#;

static ENQUEUE_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(ENQUEUE));
static SETTLE_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(SETTLE));
static PROMOTE_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(PROMOTE));
static RECLAIM_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(RECLAIM));
static RENEW_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(RENEW));
static WITHDRAW_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(WITHDRAW));

/// Where the next take-over scan starts (`XAUTOCLAIM`'s cursor; `0-0` is the start).
pub const RECLAIM_START: &str = "0-0";

/// A message delivered to this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message_id: String,
    pub request_id: i64,
    pub deliveries: u64,
}

/// The queue's Redis keys and scripts.
#[derive(Clone)]
pub struct Queue {
    redis: RedisConn,
}

impl Queue {
    pub fn new(redis: RedisConn) -> Queue {
        Queue { redis }
    }

    fn key(&self, name: &str) -> String {
        self.redis.key(name)
    }

    /// Creates the consumer group (and the stream) if missing; reading from the start, so that
    /// a stream recreated after a flush is read whole.
    pub async fn ensure_group(&self) -> redis::RedisResult<()> {
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.key(STREAM))
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.redis.manager())
            .await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Adds requests Redis does not know yet: (id, due ms or 0). Returns how many were added.
    pub async fn enqueue(&self, items: &[(i64, i64)]) -> redis::RedisResult<u64> {
        if items.is_empty() {
            return Ok(0);
        }
        let mut invocation = ENQUEUE_SCRIPT.prepare_invoke();
        invocation.key(self.key(KNOWN)).key(self.key(STREAM)).key(self.key(DELAYED));
        for (id, due) in items {
            invocation.arg(*id).arg(*due);
        }
        invocation.invoke_async(&mut self.redis.manager()).await
    }

    /// Settles a message held by `consumer`: the request is finished (`due` None) or goes back
    /// to wait until `due` (ms; 0 = at once). `message_id` None: the request was not delivered
    /// (a staff retry). Returns false when `consumer` no longer holds the message (another
    /// instance took it over): nothing was changed.
    pub async fn settle(
        &self,
        consumer: &str,
        message_id: Option<&str>,
        request_id: i64,
        due: Option<i64>,
    ) -> redis::RedisResult<bool> {
        let settled: i64 = SETTLE_SCRIPT
            .key(self.key(STREAM))
            .key(self.key(DELAYED))
            .key(self.key(KNOWN))
            .key(self.key(STARTED))
            .arg(GROUP)
            .arg(message_id.unwrap_or(""))
            .arg(request_id)
            .arg(due.unwrap_or(0))
            .arg(if due.is_none() { "1" } else { "0" })
            .arg(consumer)
            .invoke_async(&mut self.redis.manager())
            .await?;
        Ok(settled >= 0)
    }

    /// Withdraws cancelled requests from the retry schedule (see [`WITHDRAW`]); how many were there.
    pub async fn withdraw(&self, request_ids: &[i64]) -> redis::RedisResult<u64> {
        if request_ids.is_empty() {
            return Ok(0);
        }
        let mut invocation = WITHDRAW_SCRIPT.prepare_invoke();
        invocation.key(self.key(DELAYED)).key(self.key(KNOWN)).key(self.key(STARTED));
        for id in request_ids {
            invocation.arg(*id);
        }
        invocation.invoke_async(&mut self.redis.manager()).await
    }

    /// Calls granted so far for a request (see [`STARTED`]); 0 when Redis has none.
    pub async fn started(&self, request_id: i64) -> redis::RedisResult<i64> {
        let n: Option<i64> = self.redis.manager().hget(self.key(STARTED), request_id).await?;
        Ok(n.unwrap_or(0))
    }

    /// Gives back a granted call that did not count (Baidu's own QPS cap, quota or
    /// configuration refused it: not the request's fault).
    pub async fn unstart(&self, request_id: i64) -> redis::RedisResult<()> {
        let _: i64 = self.redis.manager().hincr(self.key(STARTED), request_id, -1).await?;
        Ok(())
    }

    /// Forgets the calls counted for requests that start afresh (a staff retry of dead ones).
    pub async fn forget_started(&self, request_ids: &[i64]) -> redis::RedisResult<()> {
        if request_ids.is_empty() {
            return Ok(());
        }
        let _: i64 = self.redis.manager().hdel(self.key(STARTED), request_ids).await?;
        Ok(())
    }

    /// Moves due retries into the stream; returns how long until the next one is due.
    pub async fn promote(&self) -> redis::RedisResult<(u64, Option<Duration>)> {
        let (moved, next): (u64, i64) = PROMOTE_SCRIPT
            .key(self.key(DELAYED))
            .key(self.key(STREAM))
            .key(self.key(PAUSE))
            .arg(500)
            .invoke_async(&mut self.redis.manager())
            .await?;
        Ok((moved, (next >= 0).then(|| Duration::from_millis(next as u64))))
    }

    /// Takes over up to `count` messages idle longer than `lease` (their instance died or hangs),
    /// scanning from `cursor`; returns them and where the next scan starts ([`RECLAIM_START`]
    /// once the whole list was scanned).
    pub async fn reclaim(
        &self,
        consumer: &str,
        lease: Duration,
        count: usize,
        cursor: &str,
    ) -> redis::RedisResult<(String, Vec<Delivery>)> {
        let (next, raw): (String, Vec<(String, String, u64)>) = RECLAIM_SCRIPT
            .key(self.key(STREAM))
            .arg(GROUP)
            .arg(consumer)
            .arg(lease.as_millis() as u64)
            .arg(count.max(1))
            .arg(cursor)
            .invoke_async(&mut self.redis.manager())
            .await?;
        let deliveries = raw
            .into_iter()
            .filter_map(|(message_id, id, deliveries)| {
                id.parse().ok().map(|request_id| Delivery { message_id, request_id, deliveries })
            })
            .collect();
        Ok((next, deliveries))
    }

    /// Resets a held message's idle time, so no other instance takes it over while this one
    /// still works on it (`XCLAIM … JUSTID` does not count a delivery). False when this consumer
    /// no longer holds it (it was taken over): the caller must not go on as its holder.
    pub async fn renew(&self, consumer: &str, message_id: &str) -> redis::RedisResult<bool> {
        let held: i64 = RENEW_SCRIPT
            .key(self.key(STREAM))
            .arg(GROUP)
            .arg(consumer)
            .arg(message_id)
            .invoke_async(&mut self.redis.manager())
            .await?;
        Ok(held == 1)
    }

    /// Reads up to `count` new messages, blocking up to `block` (on a dedicated connection).
    pub async fn read(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> redis::RedisResult<Vec<Delivery>> {
        let reply: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(self.key(STREAM))
            .arg(">")
            .query_async(conn)
            .await?;
        Ok(parse_read(reply))
    }

    /// Request ids Redis knows (queued, in flight or waiting for a retry), of those given.
    pub async fn known(&self, ids: &[i64]) -> redis::RedisResult<Vec<bool>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let flags: Vec<i64> =
            redis::cmd("SMISMEMBER").arg(self.key(KNOWN)).arg(ids).query_async(&mut self.redis.manager()).await?;
        Ok(flags.into_iter().map(|f| f == 1).collect())
    }

    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    /// Messages in the stream (waiting or held by an instance).
    pub async fn depth(&self) -> redis::RedisResult<u64> {
        redis::cmd("XLEN").arg(self.key(STREAM)).query_async(&mut self.redis.manager()).await
    }

    pub async fn pause(&self) -> redis::RedisResult<Option<OcrPause>> {
        let raw: Option<String> = self.redis.manager().get(self.key(PAUSE)).await?;
        Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
    }

    /// Closes the gate; with `until`, it opens by itself then (the key expires).
    pub async fn set_pause(&self, pause: &OcrPause) -> redis::RedisResult<()> {
        let value = serde_json::to_string(pause).expect("a pause serialises");
        let mut set = redis::cmd("SET");
        set.arg(self.key(PAUSE)).arg(value);
        if let Some(until) = pause.until {
            let left = (until - chrono::Utc::now()).num_milliseconds().max(1);
            set.arg("PX").arg(left);
        }
        set.query_async(&mut self.redis.manager()).await
    }

    pub async fn clear_pause(&self) -> redis::RedisResult<bool> {
        let removed: i64 = self.redis.manager().del(self.key(PAUSE)).await?;
        Ok(removed > 0)
    }

    /// The cap set at run time, if any.
    pub async fn cap(&self) -> redis::RedisResult<Option<f64>> {
        let raw: Option<String> = self.redis.manager().get(self.key(CAP)).await?;
        Ok(raw.and_then(|r| r.parse().ok()))
    }

    pub async fn set_cap(&self, cap: f64) -> redis::RedisResult<()> {
        self.redis.manager().set(self.key(CAP), cap.to_string()).await
    }

    pub async fn clear_cap(&self) -> redis::RedisResult<()> {
        self.redis.manager().del(self.key(CAP)).await
    }

    /// Calls per second over the last `seconds` whole seconds (Redis clock), oldest first.
    pub async fn calls(&self, seconds: i64) -> redis::RedisResult<Vec<CallSample>> {
        let (now, _): (i64, i64) = redis::cmd("TIME").query_async(&mut self.redis.manager()).await?;
        let secs: Vec<i64> = (now - seconds..now).collect();
        let keys: Vec<String> = secs.iter().map(|s| self.key(&format!("{CALLS}{s}"))).collect();
        let counts: Vec<Option<u32>> = redis::cmd("MGET").arg(&keys).query_async(&mut self.redis.manager()).await?;
        Ok(secs
            .iter()
            .zip(counts)
            .map(|(s, n)| CallSample {
                at: chrono::DateTime::from_timestamp(*s, 0).unwrap_or_default(),
                calls: n.unwrap_or(0),
            })
            .collect())
    }

    fn result_key(&self, url: &str) -> String {
        self.key(&format!("ocr:result:{url}"))
    }

    pub async fn put_result(&self, url: &str, result: &serde_json::Value, ttl: Duration) -> redis::RedisResult<()> {
        self.redis.manager().set_ex(self.result_key(url), result.to_string(), ttl.as_secs().max(1)).await
    }

    pub async fn result(&self, url: &str) -> redis::RedisResult<Option<serde_json::Value>> {
        let raw: Option<String> = self.redis.manager().get(self.result_key(url)).await?;
        Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
    }

    /// Which of `urls` have a kept result, in one round trip.
    pub async fn have_results(&self, urls: &[&str]) -> redis::RedisResult<Vec<bool>> {
        if urls.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for url in urls {
            pipe.exists(self.result_key(url));
        }
        pipe.query_async(&mut self.redis.manager()).await
    }
}

/// `[[stream, [[id, [field, value, …]], …]]]` (or nil) → deliveries (first delivery each).
fn parse_read(reply: Value) -> Vec<Delivery> {
    let mut out = Vec::new();
    let Value::Array(streams) = reply else { return out };
    for stream in streams {
        let Value::Array(parts) = stream else { continue };
        let Some(Value::Array(entries)) = parts.into_iter().nth(1) else { continue };
        for entry in entries {
            let Value::Array(entry) = entry else { continue };
            let mut entry = entry.into_iter();
            let (Some(id), Some(Value::Array(fields))) = (entry.next(), entry.next()) else { continue };
            let Some(message_id) = text(&id) else { continue };
            let request_id = fields.chunks(2).find_map(|kv| match kv {
                [k, v] if text(k).as_deref() == Some("id") => text(v).and_then(|v| v.parse().ok()),
                _ => None,
            });
            if let Some(request_id) = request_id {
                out.push(Delivery { message_id, request_id, deliveries: 1 });
            }
        }
    }
    out
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}
