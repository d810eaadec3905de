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
/// How long a running slot is held without renewal, from when it is taken or renewed (by
/// Redis's clock); a run renews its slot every [`SLOT_RENEW`]. Short, so that an instance that
/// dies holding slots blocks its jobs' next runs for a few seconds at most; long enough that a
/// Redis stall of up to two seconds on the holder's side does not let the slot lapse under a
/// live run (at 500 ms, a stall of 300 ms admitted a second run of a `max_instances = 1` job).
pub const SLOT_LEASE: Duration = Duration::from_secs(3);
pub const SLOT_RENEW: Duration = Duration::from_secs(1);
/// How long a finished claim is remembered (longer than any outage we replay after).
pub const DONE_KEEP: Duration = Duration::from_secs(3 * 24 * 3600);
/// How long a stop request is kept: longer than any run takes to notice it and stop.
pub const STOP_KEEP: Duration = Duration::from_secs(24 * 3600);
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

/// Renews a claim held by ARGV[1]; takes it again if it is gone (Redis lost it: a flush, a
/// restart), so that nobody takes over a run still going. 0 when another holder has it.
const RENEW: &str = r#"
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// Redis's own clock in ms, for every lease and slot score: instances' clocks may disagree (a
/// slot scored by one instance's clock and swept by another's 2 s ahead would lapse at once).
const REDIS_NOW: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"#;

/// KEYS[1] running zset; ARGV: token, max, slot lease ms.
const ACQUIRE_SLOT: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], 86400000)
  return 1
end
return 0
"#;

/// A run's slot renewed (as [`ACQUIRE_SLOT`]) with a look at whether staff asked it to stop, in
/// one round trip. KEYS[1] running zset, KEYS[2] the run's stop request; ARGV as ACQUIRE_SLOT.
/// Returns { held (1 or 0), who asked to stop ('' when nobody did) }.
const RENEW_SLOT: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = 0
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], 86400000)
  held = 1
end
return { held, redis.call('GET', KEYS[2]) or '' }
"#;

/// Whether a slot is held and not lapsed (by Redis's clock). KEYS[1] running zset; ARGV[1] token.
const SLOT_HELD: &str = r#"
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) > now then
  return 1
end
return 0
"#;

/// Claims several instants in one round trip, records the heartbeat if asked, and reads the
/// jobs version. KEYS: instances, this instance's info, jobs version, then claim1, slots1,
/// claim2, slots2, …; ARGV: holder, lease ms, slot lease ms, beat (1 or 0), instance, started
/// ms, running, info keep ms, then per item: token, max (0: no slot wanted). Times are Redis's.
/// Returns the jobs version, then per item 0 (lost), 1 (claimed, slot taken or not wanted),
/// 2 (claimed, no slot free).
const CLAIM_MANY: &str = r#"
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('HSET', KEYS[2], 'started_at', ARGV[6], 'running', ARGV[7])
  redis.call('PEXPIRE', KEYS[2], ARGV[8])
end
local out = { tonumber(redis.call('GET', KEYS[3]) or '0') }
local expiry = now + tonumber(ARGV[3])
for i = 1, (#KEYS - 3) / 2 do
  local claim, slots = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
  local token, max = ARGV[7 + 2 * i], tonumber(ARGV[8 + 2 * i])
  if not redis.call('SET', claim, ARGV[1], 'NX', 'PX', ARGV[2]) then
    out[i + 1] = 0
  elseif max == 0 then
    out[i + 1] = 1
  else
    redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
    if redis.call('ZCARD', slots) < max then
      redis.call('ZADD', slots, expiry, token)
      redis.call('PEXPIRE', slots, 86400000)
      out[i + 1] = 1
    else
      out[i + 1] = 2
    end
  end
end
return out
"#;

/// The instances seen within the timeout (by Redis's clock), dropping older ones. KEYS[1]
/// instances; ARGV[1] timeout ms. Returns id, last beat ms, id, last beat ms, …
const INSTANCES: &str = r#"
local cutoff = now - tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
return redis.call('ZRANGEBYSCORE', KEYS[1], cutoff, '+inf', 'WITHSCORES')
"#;

/// Settles several runs in one round trip: releases each slot and marks each claim (if any,
/// and still held by this instance) done. KEYS: claim1 (or ''), slots1, …; ARGV: holder, done
/// value, keep ms, then the slot tokens.
const FINISH_MANY: &str = r#"
for i = 1, #KEYS / 2 do
  local claim, slots = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('ZREM', slots, ARGV[3 + i])
  if claim ~= '' and redis.call('GET', claim) == ARGV[1] then
    redis.call('SET', claim, ARGV[2], 'PX', ARGV[3])
  end
end
return 1
"#;

/// One instant to claim: its claim key, the job, the slot token, and the job's max instances
/// (None: no slot wanted, as for a missed run). The slot lapses [`SLOT_LEASE`] after it is
/// taken (by Redis's clock) unless renewed.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub key: String,
    pub job_id: i64,
    pub token: String,
    pub max_instances: Option<u32>,
}

/// A heartbeat to record along with a claim: when this instance started and how many runs it
/// has going.
#[derive(Debug, Clone, Copy)]
pub struct Beat {
    pub started_ms: i64,
    pub running: usize,
}

/// What a [`Claims::claim_many`] call found.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Per request, in order.
    pub admissions: Vec<Admission>,
    /// The shared jobs version (bumped by every edit, on any instance).
    pub jobs_version: i64,
}

/// A run to settle: its claim (None for a manual run), the job and the slot token.
#[derive(Debug, Clone)]
pub struct Settle {
    pub claim: Option<String>,
    pub job_id: i64,
    pub token: String,
}

/// The scripts, hashed once (a `Script` computes its SHA-1 when created).
struct Scripts {
    renew: Script,
    acquire_slot: Script,
    claim_many: Script,
    finish_many: Script,
    instances: Script,
    renew_slot: Script,
    slot_held: Script,
}

static SCRIPTS: std::sync::LazyLock<Scripts> = std::sync::LazyLock::new(|| Scripts {
    renew: Script::new(RENEW),
    acquire_slot: Script::new(&format!("{REDIS_NOW}{ACQUIRE_SLOT}")),
    claim_many: Script::new(&format!("{REDIS_NOW}{CLAIM_MANY}")),
    finish_many: Script::new(FINISH_MANY),
    instances: Script::new(&format!("{REDIS_NOW}{INSTANCES}")),
    renew_slot: Script::new(&format!("{REDIS_NOW}{RENEW_SLOT}")),
    slot_held: Script::new(&format!("{REDIS_NOW}{SLOT_HELD}")),
});

fn script(s: &Script) -> redis::ScriptInvocation<'_> {
    s.prepare_invoke()
}

/// What claiming a run to execute found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Another instance holds the claim.
    Lost,
    /// Claimed, and one of the job's running slots taken.
    Admitted,
    /// Claimed, but the job already runs `max_instances` times.
    NoSlot,
}

impl Claims {
    /// Claims many instants (and their running slots) in one round trip; with `beat`, records
    /// this instance's heartbeat in the same call (a beat alone is a call with no requests).
    /// Either way it reads the jobs version.
    pub async fn claim_many(
        &self,
        requests: &[ClaimRequest],
        beat: Option<Beat>,
        instance: &str,
    ) -> redis::RedisResult<Claimed> {
        let mut call = script(&SCRIPTS.claim_many);
        call.key(self.instances_key()).key(self.instance_key(instance)).key(self.version_key());
        call.arg(format!("run:{instance}")).arg(LEASE.as_millis() as u64).arg(SLOT_LEASE.as_millis() as u64);
        let (started_ms, running) = beat.map_or((0, 0), |b| (b.started_ms, b.running));
        call.arg(u8::from(beat.is_some()))
            .arg(instance)
            .arg(started_ms)
            .arg(running)
            .arg((INSTANCE_TIMEOUT.as_millis() * 4) as u64);
        for request in requests {
            call.key(&request.key).key(self.slots_key(request.job_id));
            call.arg(&request.token).arg(request.max_instances.unwrap_or(0));
        }
        let got: Vec<i64> = call.invoke_async(&mut self.conn()).await?;
        let (&jobs_version, each) = got.split_first().ok_or_else(|| {
            redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, "claim script returned nothing"))
        })?;
        let admissions = each
            .iter()
            .map(|g| match g {
                1 => Admission::Admitted,
                2 => Admission::NoSlot,
                _ => Admission::Lost,
            })
            .collect();
        Ok(Claimed { admissions, jobs_version })
    }

    /// Settles many runs in one round trip.
    pub async fn finish_many(&self, runs: &[Settle], instance: &str) -> redis::RedisResult<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let mut call = script(&SCRIPTS.finish_many);
        call.arg(format!("run:{instance}")).arg(format!("done:{instance}")).arg(DONE_KEEP.as_millis() as u64);
        for run in runs {
            call.key(run.claim.as_deref().unwrap_or("")).key(self.slots_key(run.job_id));
        }
        for run in runs {
            call.arg(&run.token);
        }
        let _: i64 = call.invoke_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Claims one instant that runs now (a take-over) and takes a running slot.
    pub async fn claim_with_slot(
        &self,
        key: &str,
        instance: &str,
        job_id: i64,
        token: &str,
        max: u32,
    ) -> redis::RedisResult<Admission> {
        let request = ClaimRequest { key: key.to_string(), job_id, token: token.to_string(), max_instances: Some(max) };
        let claimed = self.claim_many(std::slice::from_ref(&request), None, instance).await?;
        Ok(claimed.admissions.first().copied().unwrap_or(Admission::Lost))
    }

    pub fn new(redis: RedisConn) -> Claims {
        Claims { redis }
    }

    fn conn(&self) -> ConnectionManager {
        self.redis.manager()
    }

    pub fn claim_key(&self, job_id: i64, scheduled_ms: i64) -> String {
        self.redis.key(&format!("sched:claim:{job_id}:{scheduled_ms}"))
    }

    fn version_key(&self) -> String {
        self.redis.key("sched:jobs_version")
    }

    fn instances_key(&self) -> String {
        self.redis.key("sched:instances")
    }

    fn instance_key(&self, instance: &str) -> String {
        self.redis.key(&format!("sched:instance:{instance}"))
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
        let renewed: i64 = script(&SCRIPTS.renew)
            .key(key)
            .arg(format!("run:{instance}"))
            .arg(LEASE.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(renewed == 1)
    }

    pub async fn state(&self, key: &str) -> redis::RedisResult<(ClaimState, Option<Duration>)> {
        let mut conn = self.conn();
        let (value, pttl): (Option<String>, i64) = redis::pipe().get(key).pttl(key).query_async(&mut conn).await?;
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
    pub async fn acquire_slot(&self, job_id: i64, token: &str, max: u32) -> redis::RedisResult<bool> {
        let got: i64 = script(&SCRIPTS.acquire_slot)
            .key(self.slots_key(job_id))
            .arg(token)
            .arg(max)
            .arg(SLOT_LEASE.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(got == 1)
    }

    /// Extends a held slot's lease; a slot that lapsed is taken again only if one of the job's
    /// `max` is free. Also reads the run's stop request (the slot's token is the run's key).
    /// Answers whether the slot is still held, and who asked the run to stop, if anyone did.
    pub async fn renew_slot(&self, job_id: i64, token: &str, max: u32) -> redis::RedisResult<(bool, Option<String>)> {
        let (held, stop): (i64, String) = script(&SCRIPTS.renew_slot)
            .key(self.slots_key(job_id))
            .key(self.stop_key(token))
            .arg(token)
            .arg(max)
            .arg(SLOT_LEASE.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok((held == 1, Some(stop).filter(|who| !who.is_empty())))
    }

    /// Whether a run's slot is held and not lapsed: whether some instance is carrying the run.
    pub async fn slot_held(&self, job_id: i64, token: &str) -> redis::RedisResult<bool> {
        let held: i64 =
            script(&SCRIPTS.slot_held).key(self.slots_key(job_id)).arg(token).invoke_async(&mut self.conn()).await?;
        Ok(held == 1)
    }

    /// Asks the run `run_key` to stop, on whichever instance carries it (it reads the request
    /// when it renews its slot, every [`SLOT_RENEW`]). The first request's `who` stays; false
    /// when the run had been asked already.
    pub async fn request_stop(&self, run_key: &str, who: &str) -> redis::RedisResult<bool> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.stop_key(run_key))
            .arg(who)
            .arg("NX")
            .arg("PX")
            .arg(STOP_KEEP.as_millis() as u64)
            .query_async(&mut self.conn())
            .await?;
        Ok(set.is_some())
    }

    /// Who asked the run `run_key` to stop, if anyone did.
    pub async fn stop_requested(&self, run_key: &str) -> redis::RedisResult<Option<String>> {
        self.conn().get(self.stop_key(run_key)).await
    }

    fn stop_key(&self, run_key: &str) -> String {
        self.redis.key(&format!("sched:stop:{run_key}"))
    }

    /// Instances seen within [`INSTANCE_TIMEOUT`] by Redis's clock: (id, last beat ms, started
    /// ms, running).
    pub async fn instances(&self) -> redis::RedisResult<Vec<(String, i64, i64, i64)>> {
        let mut conn = self.conn();
        let seen: Vec<(String, i64)> = script(&SCRIPTS.instances)
            .key(self.instances_key())
            .arg(INSTANCE_TIMEOUT.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        let mut out = Vec::with_capacity(seen.len());
        for (id, last) in seen {
            let info: Vec<Option<i64>> = redis::cmd("HMGET")
                .arg(self.instance_key(&id))
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
        let _: i64 = self.conn().zrem(self.instances_key(), instance).await?;
        Ok(())
    }

    /// Bumps the jobs version so every instance reloads its jobs.
    pub async fn bump_jobs_version(&self) -> redis::RedisResult<i64> {
        self.conn().incr(self.version_key(), 1).await
    }
}
