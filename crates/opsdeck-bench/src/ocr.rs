//! `ocr`: the OCR queue against the fake Baidu, side by side with the original design.
//!
//! - Backlog: 300 requests waiting, three dispatcher instances, cap 10. From the fake's arrival
//!   log: the most calls in any one-second window, the calls the fake refused with 18, and
//!   `cap_use` (achieved calls per second ÷ cap while the backlog lasts).
//! - Below the cap: 5 submissions per second; p99 from submission to the call's arrival.
//! - `seed_baseline`: the original design in the same process: once per second, take `cap` URLs
//!   from a Redis list and call them all at once. Same two phases, same fake settings.
//! - Submissions: 50 concurrent submitters on the default SQLite (each submission writes its
//!   durable row) against `redis-benchmark -c 50 -P 1` XADD on the same Redis server.

use opsdeck_core::Actor;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use opsdeck_core::Core;
use opsdeck_core::ocr::baidu::{BaiduOcr, Image, Side};
use opsdeck_sandbox::baidu::{BaiduConfig, FakeBaidu};
use serde_json::{Value, json};

use crate::services::{Redis, config_with};
use crate::stats::{percentile, round};

const CAP: u32 = 10;
const INSTANCES: usize = 3;
const ITEMS: usize = 300;
const SUBMITTERS: usize = 50;
/// The fake answers this long after a call arrives (the real service takes longer; what matters
/// here is that calls overlap).
const LATENCY: Duration = Duration::from_millis(100);

fn fake_config() -> BaiduConfig {
    BaiduConfig { qps: CAP, daily_quota: 1_000_000, latency: LATENCY, ..BaiduConfig::default() }
}

pub async fn run() -> anyhow::Result<Option<Value>> {
    let dir = tempfile::tempdir()?;
    let redis = Redis::start(dir.path()).await?;

    let (submit_per_s, xadd_per_s) = submissions(dir.path(), &redis).await?;
    let opsdeck = opsdeck(dir.path(), &redis).await?;
    let baseline = seed_baseline(&redis).await?;

    Ok(Some(json!({
        "bench": "ocr",
        "cap": CAP,
        "instances": INSTANCES,
        "items": ITEMS,
        "max_in_any_1s_window": opsdeck.max_window,
        "cap_use": round(opsdeck.cap_use),
        "p99_enqueue_to_call_ms": round(opsdeck.p99_ms),
        "provider_qps_rejections": opsdeck.rejections,
        "seed_baseline": {
            "max_in_any_1s_window": baseline.max_window,
            "cap_use": round(baseline.cap_use),
            "p99_enqueue_to_call_ms": round(baseline.p99_ms),
            "provider_qps_rejections": baseline.rejections,
        },
        "submit_per_s": submit_per_s.round(),
        "redis_benchmark_xadd_per_s": xadd_per_s.round(),
        "submit_ratio": round(submit_per_s / xadd_per_s),
    })))
}

struct Figures {
    max_window: usize,
    cap_use: f64,
    p99_ms: f64,
    rejections: usize,
}

fn ocr_settings(baidu: &FakeBaidu) -> String {
    format!(
        "baidu_url = {:?}\nbaidu_api_key = \"sandbox-api-key\"\nbaidu_secret_key = \"sandbox-secret-key\"\nocr_qps = {CAP}\n",
        baidu.base_url
    )
}

async fn start_core(dir: &Path, redis: &Redis, prefix: &str, baidu: &FakeBaidu) -> anyhow::Result<Core> {
    let db = format!("sqlite://{}?mode=rwc", dir.join("ocr.db").display());
    let core = Core::start(config_with(dir, &db, &redis.url, prefix, &ocr_settings(baidu))?).await?;
    core.wait_for_health(|r| r.all_ok()).await;
    Ok(core)
}

/// 50 submitters for a few seconds against one core (its queue paused: only submission is
/// measured), then redis-benchmark's XADD on the same server.
async fn submissions(dir: &Path, redis: &Redis) -> anyhow::Result<(f64, f64)> {
    let baidu = FakeBaidu::start(([127, 0, 0, 1], 0).into(), fake_config()).await?;
    let sub = dir.join("submit");
    std::fs::create_dir_all(&sub)?;
    let core = start_core(&sub, redis, &format!("bench-submit-{}", std::process::id()), &baidu).await?;
    core.ocr_pause(&Actor::system("bench")).await?;
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let stop = started + Duration::from_secs(5);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..SUBMITTERS {
        let core = core.clone();
        let done = done.clone();
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < stop {
                let url = format!("https://img.example.com/submit/{worker}/{n}.jpg");
                core.ocr_submit(&url, Side::Front).await.expect("a submission");
                n += 1;
            }
            done.fetch_add(n, Ordering::Relaxed);
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined?;
    }
    let per_s = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    core.shutdown().await;
    Ok((per_s, redis_benchmark_xadd(&redis.url)?))
}

fn redis_benchmark_xadd(url: &str) -> anyhow::Result<f64> {
    let port = url::Url::parse(url)?.port().unwrap_or(6379).to_string();
    let output = std::process::Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port, "-c", "50", "-P", "1", "-n", "200000", "-q"])
        .args(["XADD", "bench:xadd", "MAXLEN", "~", "100000", "*", "id", "1"])
        .output()
        .context("running redis-benchmark (apt-get install redis-tools)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "XADD …: 123456.78 requests per second, p50=…" (the last report line).
    let rate = text
        .split(['\r', '\n'])
        .rev()
        .filter_map(|line| line.split_once(": ").map(|(_, rest)| rest))
        .find_map(|rest| rest.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()))
        .with_context(|| format!("no rate in redis-benchmark's output: {text}"))?;
    Ok(rate)
}

/// OpsDeck as shipped: three instances, cap 10.
async fn opsdeck(dir: &Path, redis: &Redis) -> anyhow::Result<Figures> {
    let baidu = FakeBaidu::start(([127, 0, 0, 1], 0).into(), fake_config()).await?;
    let prefix = format!("bench-ocr-{}", std::process::id());
    let mut cores = Vec::new();
    for i in 0..INSTANCES {
        let own = dir.join(format!("instance-{i}"));
        std::fs::create_dir_all(&own)?;
        // One database for all: the first instance's file.
        let db = format!("sqlite://{}?mode=rwc", dir.join("instance-0").join("ocr.db").display());
        let config = config_with(&own, &db, &redis.url, &prefix, &ocr_settings(&baidu))?;
        let core = Core::start(config).await?;
        core.wait_for_health(|r| r.all_ok()).await;
        cores.push(core);
    }

    // Backlog: every request submitted at once.
    for i in 0..ITEMS {
        cores[i % INSTANCES].ocr_submit(&format!("https://img.example.com/backlog/{i}.jpg"), Side::Front).await?;
    }
    wait_done(&cores[0], ITEMS as i64).await?;
    let backlog = baidu.arrivals();

    // Below the cap: five submissions a second, the time from each to its call.
    let submitted = below_cap(|url| {
        let core = cores[url.len() % INSTANCES].clone();
        async move { core.ocr_submit(&url, Side::Front).await.map(|_| ()).map_err(|e| anyhow::anyhow!("{e}")) }
    })
    .await?;
    wait_done(&cores[0], (ITEMS + submitted.len()) as i64).await?;
    let arrivals = baidu.arrivals();
    for core in cores {
        core.shutdown().await;
    }
    Ok(figures(&backlog, &arrivals, &submitted))
}

async fn wait_done(core: &Core, want: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let counts = core.ocr_stats(&Actor::system("bench")).await?.counts;
        if counts.done + counts.dead >= want {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "requests not finished within 180 s: {counts:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Submits 50 URLs at 5 per second; returns each URL's submission time.
async fn below_cap<F, Fut>(submit: F) -> anyhow::Result<HashMap<String, SystemTime>>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut submitted = HashMap::new();
    let mut ticks = tokio::time::interval(Duration::from_millis(200));
    for i in 0..50 {
        ticks.tick().await;
        let url = format!("https://img.example.com/steady/{i}.jpg");
        submitted.insert(url.clone(), SystemTime::now());
        submit(url).await?;
    }
    Ok(submitted)
}

fn figures(
    backlog: &[opsdeck_sandbox::baidu::Arrival],
    all: &[opsdeck_sandbox::baidu::Arrival],
    submitted: &HashMap<String, SystemTime>,
) -> Figures {
    let times: Vec<SystemTime> = backlog.iter().map(|a| a.at).collect();
    let accepted: Vec<SystemTime> = backlog.iter().filter(|a| a.error_code.is_none()).map(|a| a.at).collect();
    let cap_use = match (accepted.iter().min(), accepted.iter().max()) {
        (Some(first), Some(last)) if accepted.len() > 1 => {
            let span = last.duration_since(*first).unwrap_or_default().as_secs_f64();
            (accepted.len() - 1) as f64 / span / f64::from(CAP)
        }
        _ => 0.0,
    };
    // The first arrival of each steady URL.
    let mut first_call: HashMap<&str, SystemTime> = HashMap::new();
    for arrival in all {
        if let Some(url) = arrival.url.as_deref() {
            first_call.entry(url).or_insert(arrival.at);
        }
    }
    let mut waits: Vec<f64> = submitted
        .iter()
        .filter_map(|(url, at)| first_call.get(url.as_str()).map(|c| c.duration_since(*at).unwrap_or_default()))
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    waits.sort_by(f64::total_cmp);
    Figures {
        max_window: max_in_any_second(&times),
        cap_use,
        p99_ms: percentile(&waits, 99.0),
        rejections: all.iter().filter(|a| a.error_code == Some(18)).count(),
    }
}

/// Calls in the busiest one-second window.
fn max_in_any_second(arrivals: &[SystemTime]) -> usize {
    let mut times = arrivals.to_vec();
    times.sort();
    let (mut best, mut start) = (0, 0);
    for end in 0..times.len() {
        while times[end].duration_since(times[start]).unwrap_or_default() >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// The original design: a list in Redis, and once a second `cap` URLs taken and called at once.
async fn seed_baseline(redis: &Redis) -> anyhow::Result<Figures> {
    let baidu = FakeBaidu::start(([127, 0, 0, 1], 0).into(), fake_config()).await?;
    let client = Arc::new(BaiduOcr::new(
        reqwest::Client::new(),
        &baidu.base_url,
        "sandbox-api-key".to_string().into(),
        "sandbox-secret-key".to_string().into(),
    ));
    let list = format!("bench-seed-{}", std::process::id());
    let mut conn = redis::Client::open(redis.url.as_str())?.get_multiplexed_async_connection().await?;
    let stop = stop_flag();
    let worker = {
        let (client, list, stop) = (client.clone(), list.clone(), stop.clone());
        let mut conn = conn.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            while !stop.load(Ordering::Relaxed) {
                ticks.tick().await;
                let urls: Vec<String> =
                    redis::cmd("LPOP").arg(&list).arg(CAP).query_async(&mut conn).await.unwrap_or_default();
                for url in urls {
                    let client = client.clone();
                    tokio::spawn(async move {
                        let _ = client.recognise(Image::Url(&url), Side::Front).await;
                    });
                }
            }
        })
    };
    for i in 0..ITEMS {
        let _: () = redis::cmd("RPUSH")
            .arg(&list)
            .arg(format!("https://img.example.com/backlog/{i}.jpg"))
            .query_async(&mut conn)
            .await?;
    }
    wait_arrivals(&baidu, ITEMS).await?;
    let backlog = baidu.arrivals();
    let submitted = below_cap(|url| {
        let mut conn = conn.clone();
        let list = list.clone();
        async move {
            let _: () = redis::cmd("RPUSH").arg(&list).arg(url).query_async(&mut conn).await?;
            Ok(())
        }
    })
    .await?;
    wait_arrivals(&baidu, ITEMS + submitted.len()).await?;
    stop.store(true, Ordering::Relaxed);
    worker.await?;
    Ok(figures(&backlog, &baidu.arrivals(), &submitted))
}

fn stop_flag() -> Arc<std::sync::atomic::AtomicBool> {
    Arc::new(std::sync::atomic::AtomicBool::new(false))
}

async fn wait_arrivals(baidu: &FakeBaidu, want: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(180);
    while baidu.arrivals().len() < want {
        anyhow::ensure!(Instant::now() < deadline, "the baseline made only {} calls", baidu.arrivals().len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The last calls' answers.
    tokio::time::sleep(LATENCY * 2).await;
    Ok(())
}
