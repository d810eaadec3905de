//! The scheduler against real SQLite/MariaDB and Redis: firing, history, controls, and several
//! instances sharing one Redis.
//!
//! - [`firing`]: jobs fire on time, once per instant across instances, with jitter; `http_get` runs.
//! - [`faults`]: claims and faults: a dead instance's claim, lost claims and answers, lapsed slots,
//!   Redis stalls and database outages; each instant still runs once.
//! - [`history`]: what runs leave behind: outcomes (overlap, timeout, failure), history kept
//!   after a delete, and pruned by retention.
//! - [`controls`]: pause and resume, run now, refused input, the default jobs.
//! - [`stop`]: a run stopped from the console, here or on another instance; who started a run.
//! - [`sort`]: the run history sorted by a column and paged by offset.
//!
//! Here: the helpers they share.

mod controls;
mod faults;
mod firing;
mod history;
mod sort;
mod stop;

use std::time::Duration;

use opsdeck_api::Event;
use opsdeck_api::jobs::JobPolicy;
use opsdeck_core::scheduler::{JobDraft, JobRun, RunQuery, TriggerSpec};
use opsdeck_core::{Actor, Config, Core, EventReceiver};

use crate::helpers::{config_with, fresh_mysql_url, redis_url, sqlite_config, toml_string, unique};

pub(super) const WHO: &str = "test@console";

pub(super) fn who() -> Actor {
    Actor::system(WHO)
}

/// A core on a fresh SQLite file and Redis prefix, and its event stream.
pub(super) async fn started() -> (tempfile::TempDir, Core, EventReceiver) {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    let events = core.subscribe();
    (dir, core, events)
}

pub(super) fn cron(expr: &str) -> TriggerSpec {
    TriggerSpec::Cron { expr: expr.into() }
}

pub(super) fn every(seconds: i64) -> TriggerSpec {
    TriggerSpec::Interval { every_seconds: seconds, start: None, end: None }
}

pub(super) fn draft(name: &str, trigger: TriggerSpec, args: serde_json::Value, policy: JobPolicy) -> JobDraft {
    JobDraft { name: name.into(), kind: "noop".into(), trigger, timezone: "Asia/Shanghai".into(), args, policy }
}

/// Waits (bounded) for `n` finished runs matching `want`, returning them.
pub(super) async fn finished_runs(events: &mut EventReceiver, n: usize, want: impl Fn(&JobRun) -> bool) -> Vec<JobRun> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < n {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::RunFinished { run })) if want(&run) => got.push(run),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("event stream failed: {e}"),
            Err(_) => panic!("only {} of {n} runs finished within 30 s: {got:?}", got.len()),
        }
    }
    got
}

pub(super) async fn runs_of(core: &Core, job_id: i64) -> Vec<JobRun> {
    core.runs_list(RunQuery { job_id: Some(job_id), limit: 500, ..RunQuery::default() }, &Actor::system("tester"))
        .await
        .unwrap()
        .runs
}

/// Two cores on one MariaDB database and one Redis prefix.
pub(super) async fn two_instances() -> (tempfile::TempDir, Core, Core) {
    two_instances_on(&fresh_mysql_url().await, &redis_url()).await
}

/// Two cores on the database at `db` and one prefix of the Redis at `redis`.
pub(super) async fn two_instances_on(db: &str, redis: &str) -> (tempfile::TempDir, Core, Core) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("pair");
    let config = |sub: &str| -> Config {
        let path = dir.path().join(sub);
        std::fs::create_dir_all(&path).unwrap();
        config_with(
            &path,
            &[
                ("data_dir", toml_string(&path.display().to_string())),
                ("database_url", toml_string(db)),
                ("redis_url", toml_string(redis)),
                ("redis_prefix", toml_string(&prefix)),
            ],
        )
    };
    let a = Core::start(config("a")).await.unwrap();
    let b = Core::start(config("b")).await.unwrap();
    (dir, a, b)
}

pub(super) async fn wait_for_job(core: &Core, name: &str) -> opsdeck_api::jobs::JobView {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut events = core.subscribe();
    loop {
        if let Some(job) = core.jobs_list(&Actor::system("tester")).await.unwrap().into_iter().find(|j| j.name == name)
        {
            return job;
        }
        tokio::select! {
            _ = events.recv() => {}
            _ = tokio::time::sleep_until(deadline) => panic!("job {name} never appeared"),
        }
    }
}
