//! The database's sandbox/live mark (`db_mode`): the first start marks it, the other mode is
//! refused at start-up, or, when the database was down then, as soon as it answers; two
//! instances of different modes marking a fresh database at once: one mark wins.

use opsdeck_api::health::ComponentStatus;
use opsdeck_core::db_mode::{self, DatabaseMode, ModeError};
use opsdeck_core::{Config, Core};

use crate::helpers::{fresh_mysql_url, health_until, redis_url, toml_string, unique};
use crate::proxy::{FaultProxy, server_of};

fn config_on(dir: &std::path::Path, database_url: &str, sandbox: bool) -> Config {
    let mut config = crate::helpers::config_with(
        dir,
        &[
            ("data_dir", toml_string(&dir.display().to_string())),
            ("database_url", toml_string(database_url)),
            ("redis_url", toml_string(&redis_url())),
            ("redis_prefix", toml_string(&unique("mode"))),
            ("scheduler_enabled", "false".into()),
            ("health_interval_ms", "100".into()),
            ("health_timeout_ms", "500".into()),
        ],
    );
    // What the sandbox's start-up (`opsdeck_sandbox::launch`) sets in sandbox mode proper.
    config.sandbox_mode = sandbox;
    config
}

#[tokio::test]
async fn a_live_core_refuses_a_sandbox_database_at_start_and_once_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mysql = fresh_mysql_url().await;
    let sandbox = Core::start(config_on(dir.path(), &mysql, true)).await.expect("a fresh database is marked");
    sandbox.shutdown().await;

    // Up at start-up: the start is refused, saying why and what to do.
    let refused = Core::start(config_on(dir.path(), &mysql, false)).await.err().expect("a live start is refused");
    let message = format!("{refused:#}");
    assert!(message.contains("used in sandbox mode") && message.contains("database_url"), "{message}");

    // Down at start-up: the core starts; once the database answers, the mark is found and the
    // database is reported down with the reason (the core's background work stops).
    let proxy = FaultProxy::start(server_of(&mysql)).await;
    proxy.cut();
    let live = Core::start(config_on(dir.path(), &proxy.url_through(&mysql), false))
        .await
        .expect("a database that is down does not stop start-up");
    health_until(&live, "with the database down", |r| r.database.status == ComponentStatus::Unreachable).await;
    proxy.restore();
    let report = health_until(&live, "naming the other mode's mark", |r| {
        r.database.reason.as_deref().is_some_and(|reason| reason.contains("used in sandbox mode"))
    })
    .await;
    assert_eq!(report.database.status, ComponentStatus::Unreachable);
    let halted = tokio::time::timeout(std::time::Duration::from_secs(15), live.halted())
        .await
        .expect("the core halts its background work");
    assert!(halted.is_some_and(|why| why.contains("used in sandbox mode")), "halted, saying why");
    live.shutdown().await;

    // The same mode starts on it again.
    let again = Core::start(config_on(dir.path(), &mysql, true)).await.expect("sandbox again");
    again.shutdown().await;
}

#[tokio::test]
async fn a_sandbox_core_refuses_a_live_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
    Core::start(config_on(dir.path(), &url, false)).await.expect("marked live").shutdown().await;
    let refused = Core::start(config_on(dir.path(), &url, true)).await.err().expect("sandbox refused");
    assert!(format!("{refused:#}").contains("is a live one"), "{refused:#}");
}

#[tokio::test]
async fn two_instances_of_different_modes_marking_one_fresh_database_at_once_agree_on_one_mark() {
    let dir = tempfile::tempdir().unwrap();
    let mysql = fresh_mysql_url().await;
    // The schema without a mark: a core migrates the database (and marks it); its mark is
    // removed, and two instances mark it at once through the module.
    let core = Core::start(config_on(dir.path(), &mysql, true)).await.unwrap();
    let db = core.database().clone();
    sqlx::query("DELETE FROM database_mode").execute(db.pool()).await.unwrap();
    let (a, b) = tokio::join!(
        db_mode::check_or_mark(&db, DatabaseMode::Sandbox, "a", 1),
        db_mode::check_or_mark(&db, DatabaseMode::Live, "b", 2),
    );
    let refused = [&a, &b].iter().filter(|r| matches!(r, Err(ModeError::Mismatch { .. }))).count();
    assert_eq!(refused, 1, "exactly one of the two is refused: {a:?} {b:?}");
    assert!(a.is_ok() != b.is_ok());
    core.shutdown().await;
}
