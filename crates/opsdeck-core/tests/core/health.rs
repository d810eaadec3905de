//! Health probes against real services, published live on the event stream.

use opsdeck_api::Event;
use opsdeck_api::health::ComponentStatus;
use opsdeck_core::Core;

use crate::helpers::{OwnRedis, free_port, health_until, redis_url, sqlite_config};

/// The next health report published on `events`, waiting at most `within_s` seconds.
async fn next_health_event(
    events: &mut opsdeck_core::EventReceiver,
    within_s: u64,
) -> opsdeck_api::health::HealthReport {
    let next = async {
        loop {
            if let Event::Health { report } = events.recv().await.unwrap() {
                return report;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(within_s), next)
        .await
        .unwrap_or_else(|_| panic!("no health event within {within_s} s"))
}

#[tokio::test]
async fn healthy_services_are_reported_and_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    let mut events = core.subscribe();
    let report = health_until(&core, "with both ok", |r| r.all_ok()).await;
    assert!(report.database.latency_ms.is_some());
    assert_eq!(report.redis.reason, None);

    let report = next_health_event(&mut events, 10).await;
    assert_eq!(report.database.status, ComponentStatus::Ok);
    let json = serde_json::to_value(Event::Health { report }).unwrap();
    assert_eq!(json["kind"], "health", "the wire shape the UI expects");
    assert_eq!(json["report"]["redis"]["status"], "ok");
    core.shutdown().await;
}

#[tokio::test]
async fn unreachable_redis_is_reported_with_a_reason_and_the_core_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let nobody = format!("redis://127.0.0.1:{}/0", free_port());
    let core = Core::start(sqlite_config(dir.path(), &nobody)).await.unwrap();
    let report =
        health_until(&core, "with Redis unreachable", |r| r.redis.status == ComponentStatus::Unreachable).await;
    let reason = report.redis.reason.expect("a reason");
    assert!(!reason.is_empty());
    assert_eq!(report.redis.target, nobody);
    assert_eq!(report.database.status, ComponentStatus::Ok, "the database does not depend on Redis");
    core.shutdown().await;
}

#[tokio::test]
async fn redis_going_away_and_coming_back_is_seen_live() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = OwnRedis::start(dir.path());
    let core = Core::start(sqlite_config(dir.path(), &redis.url())).await.unwrap();
    health_until(&core, "with Redis ok", |r| r.redis.status == ComponentStatus::Ok).await;

    redis.stop();
    let down = health_until(&core, "with Redis unreachable", |r| r.redis.status == ComponentStatus::Unreachable).await;
    assert!(down.redis.reason.is_some());

    redis.restart();
    health_until(&core, "with Redis ok again", |r| r.redis.status == ComponentStatus::Ok).await;
    core.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_database_is_reported_and_migrated_once_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = crate::helpers::config_with(
        dir.path(),
        &[
            ("data_dir", crate::helpers::toml_string(&dir.path().display().to_string())),
            ("database_url", crate::helpers::toml_string(&format!("mysql://nobody:pw@127.0.0.1:{port}/none"))),
            ("redis_url", crate::helpers::toml_string(&redis_url())),
            ("health_interval_ms", "100".into()),
            ("health_timeout_ms", "300".into()),
        ],
    );
    let core = Core::start(config).await.expect("a database that is down does not stop start-up");
    let report =
        health_until(&core, "with the database unreachable", |r| r.database.status == ComponentStatus::Unreachable)
            .await;
    assert!(report.database.reason.is_some());
    assert!(!report.database.target.contains(":pw@"), "the password is masked: {}", report.database.target);
    assert!(!core.database().is_migrated());
    core.shutdown().await;
}

#[tokio::test]
async fn unwatched_the_probe_slows_down_and_a_console_opening_gets_a_fresh_report_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    // While waiting, this test is a watcher: reports come every 100 ms (the configured pace).
    health_until(&core, "with both ok", |r| r.all_ok()).await;
    // Now nobody watches. The probe may run once more at the fast pace (it looked for watchers
    // while the wait above was still counted); after that the pace is UNWATCHED_PERIOD (5 s).
    // Follow the reports without watching, for a bounded while: a handful at most, not ~20.
    let mut seen = std::collections::BTreeSet::new();
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(20));
    for _ in 0..100 {
        ticks.tick().await;
        seen.insert(core.health().checked_at);
    }
    assert!(seen.len() <= 3, "unwatched, the probe kept the 100 ms pace: {} reports in 2 s", seen.len());

    // A console opens: it hears a fresh report at once, not at the next slow tick.
    let opened = chrono::Utc::now();
    let mut events = core.subscribe();
    // Within 2 s of subscribing, though the unwatched pace is 5 s.
    let report = next_health_event(&mut events, 2).await;
    assert!(report.checked_at >= opened, "a fresh probe, not a replay");
    assert!(report.all_ok());
    core.shutdown().await;
}
