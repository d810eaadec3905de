//! `scheduler`: 20 jobs every second; lateness against the ideal instants, side by side.

use opsdeck_core::Actor;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, SubsecRound, Utc};
use opsdeck_api::jobs::{JobDraft, JobPolicy, TriggerSpec};
use opsdeck_core::Core;
use opsdeck_core::scheduler::tasks::{Registry, TaskKind};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::services::{Redis, config};
use crate::stats::{Firing, cpu_seconds, summarize};

pub const JOBS: usize = 20;

/// The task kind the benchmark jobs run: it reports (job, due instant, start instant).
pub fn probe_kind(report: mpsc::UnboundedSender<(String, DateTime<Utc>, DateTime<Utc>)>) -> TaskKind {
    let report = Arc::new(report);
    TaskKind::new(
        "bench_probe",
        "Reports when it started (benchmarks only).",
        json!({}),
        |_| Ok(()),
        move |ctx, _| {
            let started = Utc::now();
            let _ = report.send((ctx.job_name.clone(), ctx.scheduled_at, started));
            Box::pin(async { Ok(json!({})) })
        },
    )
}

/// Whole seconds from `first`, `count` of them, in ms.
fn instants(first: DateTime<Utc>, count: u64) -> Vec<i64> {
    (0..count as i64).map(|k| (first + ChronoDuration::seconds(k)).timestamp_millis()).collect()
}

/// The next whole second at least `lead` from now.
fn whole_second_after(lead: Duration) -> DateTime<Utc> {
    (Utc::now() + ChronoDuration::from_std(lead).unwrap()).trunc_subsecs(0) + ChronoDuration::seconds(1)
}

async fn sleep_until_utc(at: DateTime<Utc>) {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

pub fn bench_job(index: usize, first: DateTime<Utc>, seconds: u64) -> JobDraft {
    let local = |at: DateTime<Utc>| at.with_timezone(&chrono_tz_shanghai()).format("%Y-%m-%d %H:%M:%S").to_string();
    JobDraft {
        name: format!("bench-{index}"),
        kind: "bench_probe".into(),
        trigger: TriggerSpec::Interval {
            every_seconds: 1,
            start: Some(local(first)),
            end: Some(local(first + ChronoDuration::seconds(seconds as i64 - 1))),
        },
        timezone: "Asia/Shanghai".into(),
        args: json!({}),
        policy: JobPolicy::default(),
    }
}

fn chrono_tz_shanghai() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).unwrap()
}

pub fn job_index(name: &str) -> usize {
    name.trim_start_matches("bench-").parse().unwrap_or(usize::MAX)
}

async fn opsdeck(seconds: u64, redis: &Redis, dir: &std::path::Path) -> anyhow::Result<Value> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut registry = Registry::builtin();
    registry.register(probe_kind(tx));
    let db = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let prefix = format!("bench-{}", std::process::id());
    let core = Core::start_with(config(dir, &db, &redis.url, &prefix)?, registry).await?;
    core.wait_for_health(|r| r.all_ok()).await;
    let first = whole_second_after(Duration::from_secs(2));
    // OPSDECK_BENCH_JOBS (profiling only) changes the job count of the OpsDeck phase.
    let jobs: usize = std::env::var("OPSDECK_BENCH_JOBS").ok().and_then(|j| j.parse().ok()).unwrap_or(JOBS);
    for index in 0..jobs {
        core.job_create(bench_job(index, first, seconds), &Actor::system("bench")).await?;
    }
    sleep_until_utc(first - ChronoDuration::milliseconds(200)).await;
    let cpu_before = cpu_seconds();
    sleep_until_utc(first + ChronoDuration::seconds(seconds as i64)).await;
    let cpu = cpu_seconds() - cpu_before;
    core.shutdown().await;
    let mut firings = Vec::new();
    while let Ok((job, due, started)) = rx.try_recv() {
        firings.push(Firing {
            job: job_index(&job),
            due_ms: due.timestamp_millis(),
            late_ms: (started - due).num_microseconds().unwrap_or(0) as f64 / 1000.0,
        });
    }
    Ok(summarize(&firings, jobs, &instants(first, seconds), cpu))
}

/// tokio-cron-scheduler started `phase_ms` after a whole second.
async fn tokio_cron_scheduler(seconds: u64, phase_ms: i64) -> anyhow::Result<Value> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, DateTime<Utc>)>();
    let scheduler = JobScheduler::new().await?;
    for index in 0..JOBS {
        let tx = tx.clone();
        scheduler
            .add(Job::new_async("* * * * * *", move |_, _| {
                let now = Utc::now();
                let _ = tx.send((index, now));
                Box::pin(async {})
            })?)
            .await?;
    }
    let start = whole_second_after(Duration::from_millis(500)) + ChronoDuration::milliseconds(phase_ms);
    sleep_until_utc(start).await;
    scheduler.start().await?;
    // Measure whole seconds from the second one after the start.
    let first = start.trunc_subsecs(0) + ChronoDuration::seconds(2);
    sleep_until_utc(first - ChronoDuration::milliseconds(200)).await;
    let cpu_before = cpu_seconds();
    sleep_until_utc(first + ChronoDuration::seconds(seconds as i64) + ChronoDuration::milliseconds(999)).await;
    let cpu = cpu_seconds() - cpu_before;
    let mut scheduler = scheduler;
    scheduler.shutdown().await?;
    let expected = instants(first, seconds);
    let (lo, hi) = (expected[0], *expected.last().unwrap());
    let mut firings = Vec::new();
    while let Ok((job, at)) = rx.try_recv() {
        // A firing belongs to the whole second it was due at (it is never early).
        let due = at.trunc_subsecs(0);
        let due_ms = due.timestamp_millis();
        if (lo..=hi).contains(&due_ms) {
            firings.push(Firing { job, due_ms, late_ms: (at - due).num_microseconds().unwrap_or(0) as f64 / 1000.0 });
        }
    }
    let mut summary = summarize(&firings, JOBS, &expected, cpu);
    summary["phase_ms"] = json!(phase_ms);
    Ok(summary)
}

/// The floor: plain tokio tasks sleeping until absolute deadlines.
async fn limit(seconds: u64) -> anyhow::Result<Value> {
    let first = whole_second_after(Duration::from_millis(500));
    let (tx, mut rx) = mpsc::unbounded_channel::<Firing>();
    // Map the wall-clock deadline onto the monotonic clock once, then sleep on absolute instants.
    let base = tokio::time::Instant::now() + (first - Utc::now()).to_std()?;
    let cpu_before = cpu_seconds();
    let mut tasks = Vec::new();
    for job in 0..JOBS {
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..seconds {
                let deadline = base + Duration::from_secs(k);
                tokio::time::sleep_until(deadline).await;
                let late = tokio::time::Instant::now() - deadline;
                let due_ms = (first + ChronoDuration::seconds(k as i64)).timestamp_millis();
                let _ = tx.send(Firing { job, due_ms, late_ms: late.as_secs_f64() * 1000.0 });
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let cpu = cpu_seconds() - cpu_before;
    let mut firings = Vec::new();
    while let Ok(f) = rx.try_recv() {
        firings.push(f);
    }
    Ok(summarize(&firings, JOBS, &instants(first, seconds), cpu))
}

pub async fn run(seconds: u64, only_opsdeck: bool) -> anyhow::Result<Option<Value>> {
    anyhow::ensure!(seconds >= 5, "--seconds must be at least 5");
    let dir = tempfile::tempdir()?;
    let redis = Redis::start(dir.path()).await?;
    eprintln!("opsdeck-bench: OpsDeck, {seconds} s");
    let ours = opsdeck(seconds, &redis, dir.path()).await?;
    if only_opsdeck {
        // For profiling OpsDeck alone.
        return Ok(Some(json!({ "bench": "scheduler", "jobs": JOBS, "seconds": seconds, "opsdeck": ours })));
    }
    let mut phases = Vec::new();
    for phase in [0, 240, 480] {
        eprintln!("opsdeck-bench: tokio-cron-scheduler at phase {phase} ms, {seconds} s");
        phases.push(tokio_cron_scheduler(seconds, phase).await?);
    }
    phases
        .sort_by(|a, b| a["p99_ms"].as_f64().unwrap_or(f64::MAX).total_cmp(&b["p99_ms"].as_f64().unwrap_or(f64::MAX)));
    let mut baseline = phases[1].clone();
    baseline["phases"] =
        json!(phases.iter().map(|p| json!({ "phase_ms": p["phase_ms"], "p99_ms": p["p99_ms"] })).collect::<Vec<_>>());
    eprintln!("opsdeck-bench: limit (plain tokio), {seconds} s");
    let floor = limit(seconds).await?;
    let ratio = baseline["p99_ms"].as_f64().unwrap_or(f64::NAN) / ours["p99_ms"].as_f64().unwrap_or(f64::NAN);
    Ok(Some(json!({
        "bench": "scheduler",
        "jobs": JOBS,
        "seconds": seconds,
        "opsdeck": ours,
        "tokio_cron_scheduler": baseline,
        "limit": floor,
        "p99_ratio": (ratio * 10.0).round() / 10.0,
    })))
}
