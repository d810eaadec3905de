//! Shared test set-up: each test gets its own SQLite file or MariaDB database and its own Redis
//! key prefix, so tests never share state and can run in parallel.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use opsdeck_api::health::HealthReport;
use opsdeck_core::{Config, Core};
use sqlx::Connection;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test (in this or a parallel process) uses.
pub fn unique(stem: &str) -> String {
    format!("{stem}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the README's test command (scripts/test.sh), which starts the services and sets it"
        )
    })
}

/// The Redis server the test command started.
pub fn redis_url() -> String {
    required_env("OPSDECK_TEST_REDIS_URL")
}

/// A fresh, empty MariaDB database for one test.
pub async fn fresh_mysql_url() -> String {
    let admin = required_env("OPSDECK_TEST_MYSQL_URL");
    let name = unique("opsdeck_t");
    let mut conn = sqlx::MySqlConnection::connect(&admin).await.expect("connect to the test MariaDB");
    // `name` is ours (letters, digits, underscores), not input.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4")))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    format!("{}{}", admin.trim_end_matches('/'), format_args!("/{name}"))
}

/// A configuration file in `dir` holding `lines` (values as TOML literals), loaded through the
/// real layers.
pub fn config_with(dir: &Path, lines: &[(&str, String)]) -> Config {
    let file = dir.join("config.toml");
    let body: String = lines.iter().map(|(key, value)| format!("{key} = {value}\n")).collect();
    std::fs::write(&file, body).unwrap();
    Config::from_layers(dir.to_path_buf(), Some(&file)).expect("valid test configuration")
}

pub fn toml_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A configuration on a fresh SQLite file in `dir` and the test Redis under a fresh prefix.
pub fn sqlite_config(dir: &Path, redis_url: &str) -> Config {
    config_with(
        dir,
        &[
            ("data_dir", toml_string(&dir.display().to_string())),
            ("redis_url", toml_string(redis_url)),
            ("redis_prefix", toml_string(&unique("t"))),
            ("health_interval_ms", "100".into()),
            ("health_timeout_ms", "500".into()),
        ],
    )
}

/// Waits (bounded) for a health report that satisfies `ready`, failing with the last report.
pub async fn health_until(core: &Core, what: &str, ready: impl Fn(&HealthReport) -> bool) -> HealthReport {
    match tokio::time::timeout(Duration::from_secs(15), core.wait_for_health(ready)).await {
        Ok(report) => report,
        Err(_) => panic!("no health report {what} within 15 s; last: {:?}", core.health()),
    }
}

/// A Redis server of this test's own (so the test may stop and restart it), on a free port.
pub struct OwnRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start(dir: &Path) -> OwnRedis {
        let port = free_port();
        let mut redis = OwnRedis { port, dir: dir.to_path_buf(), child: None };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (installed by the test command)");
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `check` every 25 ms until it answers Some, for at most 30 s; fails naming `what`.
pub async fn until<T, F: std::future::Future<Output = Option<T>>>(what: &str, check: impl FnMut() -> F) -> T {
    until_within(what, Duration::from_secs(30), check).await
}

/// Polls `check` every 25 ms until it answers Some, for at most `within`; fails naming `what`.
pub async fn until_within<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "not within {} s: {what}", within.as_secs());
        // Bounded polling: look again in 25 ms (the deadline above fails the test).
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// How many lines named `event` an order's timeline has.
pub async fn timeline_events(core: &Core, order_no: &str, event: &str) -> usize {
    let timeline = core.order_timeline(order_no, &opsdeck_core::Actor::system("tester")).await.unwrap();
    timeline.iter().filter(|e| e.event == event).count()
}
