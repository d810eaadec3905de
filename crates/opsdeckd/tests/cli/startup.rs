//! A headless start on a machine that lacks what the daemon needs: an SQLite database that cannot
//! be opened stops the start (exit 2, naming `database_url`); a Redis that does not answer is
//! named, with how to start one, in the start-up log and in `/healthz`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use super::poll::until_within;
use super::{Daemon, opsdeckd};

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `opsdeckd run` with `database_url`, which must exit by itself within 20 s (before this change
/// it retried forever): its exit code and stderr.
fn run_with_database(dir: &std::path::Path, database_url: &str) -> (Option<i32>, String) {
    let mut daemon = Daemon(
        opsdeckd(dir)
            .env("OPSDECK_DATABASE_URL", database_url)
            .env("NO_COLOR", "1")
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = daemon.0.stderr.take().unwrap();
    let (done_tx, done) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        let _ = done_tx.send(text);
    });
    // The pipe closes when the process exits; the Daemon guard kills it if it does not.
    let stderr = done.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| {
        panic!("opsdeckd run with database_url = {database_url} did not stop by itself within 20 s")
    });
    let status = daemon.0.wait().unwrap();
    (status.code(), stderr)
}

#[test]
fn an_sqlite_database_that_cannot_be_opened_stops_the_start_naming_database_url() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("x.db");
    let (code, stderr) = run_with_database(dir.path(), &format!("sqlite://{}?mode=rwc", missing.display()));
    assert_eq!(code, Some(2), "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.starts_with("opsdeckd: "))
        .unwrap_or_else(|| panic!("no plain error line: {stderr}"));
    assert!(line.contains("`database_url`") && line.contains("OPSDECK_DATABASE_URL"), "{line}");
    assert!(line.contains("cannot open or create the SQLite database"), "{line}");
    assert!(!stderr.contains("opsdeckd running"), "{stderr}");
}

#[test]
fn an_sqlite_path_under_a_file_stops_the_start() {
    // A path that cannot be created whoever runs the daemon (root ignores a read-only directory).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let (code, stderr) = run_with_database(dir.path(), &format!("sqlite://{}/x.db?mode=rwc", file.display()));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("opsdeckd: invalid configuration: `database_url`"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_does_not_answer_is_named_with_how_to_start_one() {
    const TOKEN: &str = "startup-test-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let redis_port = closed_port();
    let http_port = closed_port();
    let mut daemon = Daemon(
        opsdeckd(dir.path())
            .env("OPSDECK_REDIS_URL", format!("redis://:hunter2@127.0.0.1:{redis_port}/0"))
            .env("OPSDECK_API_TOKEN", TOKEN)
            .env("OPSDECK_LOG", "info")
            .env("NO_COLOR", "1")
            .args(["run", "--listen", &format!("127.0.0.1:{http_port}")])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = daemon.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let masked = format!("redis://:****@127.0.0.1:{redis_port}/0");
    let says_what_to_do = |text: &str| text.contains("apt install redis-server") && text.contains("OPSDECK_REDIS_URL");

    // The start-up log: the first probe names the URL (password masked) and the way out.
    let warning = loop {
        match lines.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.contains("unreachable") && line.contains("component=\"redis\"") => break line,
            Ok(line) => assert!(!line.contains("hunter2"), "the password leaked: {line}"),
            Err(e) => panic!("no log line saying Redis is unreachable within 20 s ({e})"),
        }
    };
    assert!(warning.contains(&masked) && says_what_to_do(&warning), "{warning}");
    assert!(warning.contains(&format!("redis-server --port {redis_port}")), "{warning}");
    assert!(!warning.contains("hunter2"), "{warning}");

    // `/healthz` with the token: the same, in the report.
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{http_port}/healthz");
    let report: serde_json::Value = until_within("/healthz reports Redis unreachable", Duration::from_secs(20), || {
        let request = http.get(&url).bearer_auth(TOKEN);
        async move {
            let report: serde_json::Value = request.send().await.ok()?.json().await.ok()?;
            (report["redis"]["status"] == "unreachable").then_some(report)
        }
    })
    .await;
    assert_eq!(report["redis"]["target"], masked.as_str());
    let reason = report["redis"]["reason"].as_str().unwrap();
    assert!(reason.contains(&masked) && says_what_to_do(reason), "{reason}");
    assert!(!report.to_string().contains("hunter2"));
}
