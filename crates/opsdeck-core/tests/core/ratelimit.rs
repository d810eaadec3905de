//! The global rate limit against the real Redis: three "instances" competing for one cap.

use std::time::{Duration, Instant};

use opsdeck_core::ratelimit::{Limit, RateLimit, Slot};
use opsdeck_core::redis_conn::RedisConn;

use crate::helpers::{redis_url, sqlite_config, unique};

fn limiter(dir: &std::path::Path, prefix: &str) -> RateLimit {
    let mut config = sqlite_config(dir, &redis_url());
    config.redis_prefix = prefix.to_string();
    RateLimit::new(RedisConn::open(&config).unwrap(), "ocr")
}

#[tokio::test]
async fn three_competing_instances_never_exceed_the_cap_in_any_second() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("rl");
    let cap = 10.0;
    let run_for = Duration::from_millis(2500);
    let started = Instant::now();
    let mut instances = Vec::new();
    for _ in 0..3 {
        let limit = limiter(dir.path(), &prefix);
        instances.push(tokio::spawn(async move {
            let mut granted = Vec::new();
            // Each instance asks as fast as the limit lets it, for a bounded time.
            while started.elapsed() < run_for {
                limit.acquire(cap, 1).await.unwrap();
                granted.push(started.elapsed());
            }
            granted
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    for instance in instances {
        all.extend(instance.await.unwrap());
    }
    all.sort();
    // Any window of one second holds at most `cap` grants (the window starting at each grant
    // is the tightest one). The grants are timed here, a little after Redis granted them, so the
    // window is shortened by 50 ms of scheduling slack; a fixed-window limiter, which lets 2×
    // the cap through at its edges, still fails this.
    let most = all
        .iter()
        .enumerate()
        .map(|(i, start)| all[i..].iter().take_while(|t| **t < *start + Duration::from_millis(950)).count())
        .max()
        .unwrap();
    assert!(most <= cap as usize, "{most} grants in one second with a cap of {cap}: {all:?}");
    assert!(all.len() >= 20, "the limit lets calls through (got {})", all.len());
}

#[tokio::test]
async fn a_refusal_says_how_long_to_wait() {
    let dir = tempfile::tempdir().unwrap();
    let limit = limiter(dir.path(), &unique("rl"));
    assert_eq!(limit.try_acquire(2.0, 1).await.unwrap(), Slot::Granted(0));
    match limit.try_acquire(2.0, 1).await.unwrap() {
        Slot::RetryAfter(wait) => {
            assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}")
        }
        other => panic!("two calls within 500 ms at 2 per second: {other:?}"),
    }
    let burst = limiter(dir.path(), &unique("rl"));
    for _ in 0..3 {
        assert_eq!(burst.try_acquire(1.0, 3).await.unwrap(), Slot::Granted(0), "a burst of 3 passes at once");
    }
    assert!(matches!(burst.try_acquire(1.0, 3).await.unwrap(), Slot::RetryAfter(_)));
}

#[tokio::test]
async fn a_gate_an_override_a_hold_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("rl");
    let config = crate::helpers::sqlite_config(dir.path(), &redis_url());
    let redis = RedisConn::open(&config).unwrap();
    let limit = RateLimit::new(redis.clone(), &prefix);
    let rate_key = format!("{prefix}:rate");
    let gate_key = format!("{prefix}:gate");
    let counters = format!("{prefix}:calls:");
    let spec = Limit {
        rate: 1.0,
        period: Duration::from_secs(1),
        burst: 1,
        rate_override: Some(&rate_key),
        gate: Some(&gate_key),
        counters: Some(&counters),
    };
    let mut conn = redis.manager();
    // A closed gate grants nothing and says for how long.
    let _: () =
        redis::cmd("SET").arg(redis.key(&gate_key)).arg("1").arg("PX").arg(5000).query_async(&mut conn).await.unwrap();
    match limit.try_take(&spec).await.unwrap() {
        Slot::Gated(Some(left)) => assert!(left <= Duration::from_secs(5) && left > Duration::from_secs(4), "{left:?}"),
        other => panic!("expected a closed gate: {other:?}"),
    }
    let _: () = redis::cmd("DEL").arg(redis.key(&gate_key)).query_async(&mut conn).await.unwrap();
    // The override replaces the rate: at 1000/s the second call waits about 1 ms, not 1 s.
    let _: () = redis::cmd("SET").arg(redis.key(&rate_key)).arg("1000").query_async(&mut conn).await.unwrap();
    assert_eq!(limit.try_take(&spec).await.unwrap(), Slot::Granted(0));
    match limit.try_take(&spec).await.unwrap() {
        Slot::Granted(_) => {}
        Slot::RetryAfter(wait) => assert!(wait <= Duration::from_millis(1), "{wait:?}"),
        other => panic!("{other:?}"),
    }
    // A hold grants nothing for its length.
    limit.hold(Duration::from_secs(2)).await.unwrap();
    match limit.try_take(&spec).await.unwrap() {
        Slot::RetryAfter(wait) => assert!(wait > Duration::from_millis(1900), "{wait:?}"),
        other => panic!("a hold of 2 s: {other:?}"),
    }
    // Every grant was counted under its second.
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}*", redis.key(&counters))).query_async(&mut conn).await.unwrap();
    let mut total = 0;
    for key in keys {
        let n: i64 = redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
        total += n;
    }
    assert!((1..=2).contains(&total), "grants counted: {total}");
}
