//! `scheduler-cluster`: four instance processes share one Redis and one database; one is
//! killed with SIGKILL midway and restarted. Every execution is logged by the process that ran
//! it, so duplicates and missed instants are counted from what actually ran.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, SubsecRound, Utc};
use opsdeck_core::Core;
use opsdeck_core::db::Database;
use opsdeck_core::scheduler::claims::LEASE;
use opsdeck_core::scheduler::store::{JobOrigin, insert_job};
use opsdeck_core::scheduler::tasks::{Registry, TaskKind};
use serde_json::{Value, json};

use crate::scheduler::{JOBS, bench_job, job_index};
use crate::services::{Redis, config};

const INSTANCES: usize = 4;

fn database_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("cluster.db").display())
}

fn spawn_worker(dir: &Path, redis: &str, prefix: &str, id: usize, generation: usize) -> anyhow::Result<Child> {
    let own = dir.join(format!("worker-{id}-{generation}"));
    std::fs::create_dir_all(&own)?;
    Ok(Command::new(std::env::current_exe()?)
        .arg("cluster-worker")
        .args(["--dir", &own.display().to_string()])
        .args(["--database", &database_url(dir)])
        .args(["--redis", redis])
        .args(["--prefix", prefix])
        .args(["--log", &dir.join(format!("runs-{id}-{generation}.log")).display().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?)
}

fn stop(child: &mut Child, signal: &str) {
    let _ = Command::new("kill").args([signal, &child.id().to_string()]).status();
    let _ = child.wait();
}

async fn sleep_until_utc(at: DateTime<Utc>) {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

pub async fn run(seconds: u64) -> anyhow::Result<Option<Value>> {
    anyhow::ensure!(seconds >= 10, "--seconds must be at least 10");
    let dir = tempfile::tempdir()?;
    let redis = Redis::start(dir.path()).await?;
    let prefix = format!("cluster-{}", std::process::id());

    // The jobs go straight into the database: no scheduler runs in this process.
    let first = (Utc::now() + ChronoDuration::seconds(6)).trunc_subsecs(0);
    {
        let setup = config(dir.path(), &database_url(dir.path()), &redis.url, &prefix)?;
        let db = Database::open(&setup)?;
        db.migrate().await?;
        for index in 0..JOBS {
            insert_job(&db, &bench_job(index, first, seconds), JobOrigin::Staff, Utc::now()).await?;
        }
        db.close().await;
    }

    let mut workers: Vec<Child> =
        (0..INSTANCES).map(|id| spawn_worker(dir.path(), &redis.url, &prefix, id, 0)).collect::<anyhow::Result<_>>()?;
    sleep_until_utc(first + ChronoDuration::seconds(seconds as i64 / 2)).await;
    eprintln!("opsdeck-bench: SIGKILL of instance 0");
    stop(&mut workers[0], "-KILL");
    tokio::time::sleep(Duration::from_secs(3)).await;
    eprintln!("opsdeck-bench: restarting instance 0");
    workers[0] = spawn_worker(dir.path(), &redis.url, &prefix, 0, 1)?;
    // Past the last instant, plus a lease for take-overs to finish.
    sleep_until_utc(
        first + ChronoDuration::seconds(seconds as i64) + ChronoDuration::from_std(LEASE)? + ChronoDuration::seconds(3),
    )
    .await;
    for worker in &mut workers {
        stop(worker, "-TERM");
    }

    let mut executions: HashMap<(usize, i64), u32> = HashMap::new();
    for entry in std::fs::read_dir(dir.path())? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "log") {
            for line in std::fs::read_to_string(&path)?.lines() {
                let mut parts = line.split(' ');
                if let (Some(job), Some(due)) = (parts.next(), parts.next()) {
                    *executions.entry((job_index(job), due.parse().unwrap_or(0))).or_default() += 1;
                }
            }
        }
    }
    let ticks = JOBS as u64 * seconds;
    let mut missed = 0u64;
    for job in 0..JOBS {
        for k in 0..seconds as i64 {
            let due = (first + ChronoDuration::seconds(k)).timestamp_millis();
            if !executions.contains_key(&(job, due)) {
                missed += 1;
            }
        }
    }
    let runs: u32 = executions.values().sum();
    let duplicates: u32 = executions.values().map(|n| n.saturating_sub(1)).sum();
    Ok(Some(json!({
        "bench": "scheduler_cluster",
        "instances": INSTANCES,
        "ticks": ticks,
        "runs": runs,
        "duplicates": duplicates,
        "missed": missed,
        "killed": "instance 0 (SIGKILL at the midpoint, restarted 3 s later)",
    })))
}

fn value(args: &[String], name: &str) -> anyhow::Result<String> {
    crate::arg_value(args, name).ok_or_else(|| anyhow::anyhow!("cluster-worker needs {name}"))
}

/// One instance: a core whose `bench_probe` task appends `job due_ms` to its log.
pub async fn worker(args: &[String]) -> anyhow::Result<Option<Value>> {
    let dir = PathBuf::from(value(args, "--dir")?);
    let log = Arc::new(Mutex::new(std::fs::OpenOptions::new().create(true).append(true).open(value(args, "--log")?)?));
    let mut registry = Registry::builtin();
    registry.register(TaskKind::new(
        "bench_probe",
        "Logs each execution (benchmarks only).",
        json!({}),
        |_| Ok(()),
        move |ctx, _| {
            let line = format!("{} {}\n", ctx.job_name, ctx.scheduled_at.timestamp_millis());
            // A failure is an internal error (the bench reads the log, not the run's reason).
            let internal =
                || opsdeck_core::scheduler::tasks::ErrorReason::new(opsdeck_core::error::ErrorCode::Internal);
            let written = match log.lock() {
                Ok(mut file) => file.write_all(line.as_bytes()).and_then(|_| file.flush()).map_err(|_| internal()),
                Err(_) => Err(internal()),
            };
            Box::pin(async move { written.map(|_| json!({})) })
        },
    ));
    let config = config(&dir, &value(args, "--database")?, &value(args, "--redis")?, &value(args, "--prefix")?)?;
    let core = Core::start_with(config, registry).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    term.recv().await;
    core.shutdown().await;
    Ok(None)
}
