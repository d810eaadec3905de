//! The run history sorted by a column (issue 19): each sort orders as it says, ties by id in the
//! same direction, pages by offset without a run twice or missing; unsorted stays newest first,
//! paged by `before_id`. SQLite and MariaDB (whose migration also admits `stopped`).

use chrono::{Duration, Utc};
use opsdeck_api::jobs::{RunQuery, RunSort};
use opsdeck_core::Core;
use opsdeck_core::scheduler::RunOutcome;
use opsdeck_core::scheduler::store::{NewRun, RunEnd, record_final};

use crate::helpers::{config_with, fresh_mysql_url, redis_url, sqlite_config, toml_string, unique};

use super::who;

/// The runs' job id: no job of the core's own (they may run during the test).
const JOB: i64 = 424_242;

/// (job name, outcome, duration in ms, instance); inserted in this order (ids ascending).
const ROWS: &[(&str, RunOutcome, i64, &str)] = &[
    ("beta", RunOutcome::Ok, 300, "i-2"),
    ("alpha", RunOutcome::Failed, 100, "i-1"),
    ("gamma", RunOutcome::Stopped, 300, "i-3"),
    ("alpha", RunOutcome::Ok, 200, "i-2"),
    ("beta", RunOutcome::TimedOut, 50, "i-1"),
];

async fn seed(core: &Core) -> Vec<i64> {
    let base = Utc::now() - Duration::hours(1);
    let mut ids = Vec::new();
    for (n, (job, outcome, duration, instance)) in ROWS.iter().enumerate() {
        // Scheduled times go backwards as ids go up: a sort by time is not a sort by id.
        let scheduled = base - Duration::minutes(n as i64);
        let key = format!("s:{job}:{n}");
        let run = NewRun {
            run_key: &key,
            job_id: JOB,
            job_name: job,
            scheduled_at: scheduled,
            instance,
            manual: false,
            started_by: None,
        };
        let end = RunEnd {
            outcome: *outcome,
            started: Some(scheduled),
            finished: scheduled + Duration::milliseconds(*duration),
            summary: None,
            error: None,
        };
        ids.push(record_final(core.database(), &run, &end).await.unwrap().unwrap());
    }
    ids
}

/// Every page of `sort` (2 a page), as ids, checking the paging on the way.
async fn sorted(core: &Core, sort: RunSort, desc: bool) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut offset = 0;
    loop {
        let query = RunQuery { job_id: Some(JOB), sort: Some(sort), desc, offset, limit: 2, ..RunQuery::default() };
        let page = core.runs_list(query, &who()).await.unwrap();
        assert_eq!(page.next_before_id, None, "a sorted page is paged by offset");
        ids.extend(page.runs.iter().map(|r| r.id));
        match page.next_offset {
            Some(next) => {
                assert_eq!(next, offset + 2);
                offset = next;
            }
            None => return ids,
        }
    }
}

async fn sorts_and_pages(core: &Core) {
    let id = seed(core).await;
    let by = |order: &[usize]| order.iter().map(|&n| id[n]).collect::<Vec<_>>();
    assert_eq!(sorted(core, RunSort::ScheduledAt, false).await, by(&[4, 3, 2, 1, 0]));
    assert_eq!(sorted(core, RunSort::ScheduledAt, true).await, by(&[0, 1, 2, 3, 4]));
    // Ties (two alphas, two betas) by id, in the sort's direction.
    assert_eq!(sorted(core, RunSort::JobName, false).await, by(&[1, 3, 0, 4, 2]));
    assert_eq!(sorted(core, RunSort::JobName, true).await, by(&[2, 4, 0, 3, 1]));
    assert_eq!(sorted(core, RunSort::DurationMs, false).await, by(&[4, 1, 3, 0, 2]));
    assert_eq!(sorted(core, RunSort::DurationMs, true).await, by(&[2, 0, 3, 1, 4]));
    assert_eq!(sorted(core, RunSort::Instance, false).await, by(&[1, 4, 0, 3, 2]));
    // failed < ok < stopped < timed_out, as the stored words sort.
    assert_eq!(sorted(core, RunSort::Outcome, false).await, by(&[1, 0, 3, 2, 4]));

    // Unsorted: newest first by id, paged by before_id, as before.
    let first = core.runs_list(RunQuery { job_id: Some(JOB), limit: 3, ..RunQuery::default() }, &who()).await.unwrap();
    assert_eq!(first.runs.iter().map(|r| r.id).collect::<Vec<_>>(), by(&[4, 3, 2]));
    assert_eq!(first.next_offset, None);
    let before = first.next_before_id.expect("more follow");
    let rest = RunQuery { job_id: Some(JOB), limit: 3, before_id: Some(before), ..RunQuery::default() };
    let second = core.runs_list(rest, &who()).await.unwrap();
    assert_eq!(second.runs.iter().map(|r| r.id).collect::<Vec<_>>(), by(&[1, 0]));
    assert_eq!(second.next_before_id, None);

    // A filter applies to a sorted list too.
    let stopped = RunQuery {
        job_id: Some(JOB),
        outcome: Some(RunOutcome::Stopped),
        sort: Some(RunSort::JobName),
        limit: 10,
        ..RunQuery::default()
    };
    let page = core.runs_list(stopped, &who()).await.unwrap();
    assert_eq!(page.runs.iter().map(|r| (r.id, r.outcome)).collect::<Vec<_>>(), vec![(id[2], RunOutcome::Stopped)]);
    assert_eq!(page.next_offset, None);
}

#[tokio::test]
async fn the_run_history_sorts_by_each_column_and_pages_by_offset_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    sorts_and_pages(&core).await;
    core.shutdown().await;
}

#[tokio::test]
async fn the_run_history_sorts_by_each_column_and_pages_by_offset_on_mariadb() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        &[
            ("data_dir", toml_string(&dir.path().display().to_string())),
            ("database_url", toml_string(&fresh_mysql_url().await)),
            ("redis_url", toml_string(&redis_url())),
            ("redis_prefix", toml_string(&unique("sort"))),
        ],
    );
    let core = Core::start(config).await.unwrap();
    sorts_and_pages(&core).await;
    core.shutdown().await;
}
