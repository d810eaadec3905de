//! The `opsdeckd` binary from the outside: `check-config` and a clean `run`/SIGTERM cycle.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_opsdeckd");

/// `opsdeckd` with a clean `OPSDECK_` environment and its data in `dir`.
fn opsdeckd(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("OPSDECK_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("OPSDECK_DATA_DIR", dir).env("HOME", dir);
    cmd
}

#[test]
fn check_config_prints_effective_values_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let out = opsdeckd(dir.path())
        .env(
            "OPSDECK_DATABASE_URL",
            "mysql://shop:hunter2@db.internal:3306/shop",
        )
        .env("OPSDECK_TIMEZONE", "Europe/London")
        .arg("check-config")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("configuration is valid"));
    assert!(!stdout.contains("hunter2"), "the password leaked: {stdout}");
    assert!(
        stdout.contains(
            r#"database_url = "mysql://shop:****@db.internal:3306/shop"  # OPSDECK_DATABASE_URL"#
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"timezone = "Europe/London"  # OPSDECK_TIMEZONE"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"redis_prefix = "opsdeck"  # default"#),
        "{stdout}"
    );
}

#[test]
fn check_config_json_reports_values_and_origins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opsdeck.toml");
    std::fs::write(&file, "redis_prefix = \"staging\"\n").unwrap();
    let out = opsdeckd(dir.path())
        .arg("--config")
        .arg(&file)
        .args(["check-config", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["values"]["redis_prefix"], "staging");
    assert_eq!(json["origins"]["redis_prefix"], file.display().to_string());
    assert_eq!(json["origins"]["redis_url"], "default");
    assert_eq!(json["values"]["timezone"], "Asia/Shanghai");
}

#[test]
fn a_bad_value_exits_non_zero_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = opsdeckd(dir.path())
        .env("OPSDECK_TIMEZONE", "Mars/Base")
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("`timezone`") && stderr.contains("OPSDECK_TIMEZONE"),
        "{stderr}"
    );
    assert!(stderr.contains("Mars/Base"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing is printed as valid");
}

#[test]
fn run_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let redis = std::env::var("OPSDECK_TEST_REDIS_URL").expect(
        "OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh)",
    );
    let mut child = opsdeckd(dir.path())
        .env("OPSDECK_REDIS_URL", redis)
        .env(
            "OPSDECK_REDIS_PREFIX",
            format!("cli-{}", std::process::id()),
        )
        .env("OPSDECK_LOG", "info")
        .env("NO_COLOR", "1")
        .arg("run")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Read the log on a thread; lines arrive on a channel so every wait below is bounded.
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for_line = |needle: &str| -> String {
        loop {
            match lines.recv_timeout(Duration::from_secs(20)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(e) => panic!("no log line containing {needle:?} within 20 s ({e})"),
            }
        }
    };
    wait_for_line("opsdeckd running");
    wait_for_line("reachable");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopping = wait_for_line("stopping");
    assert!(stopping.contains("SIGTERM"), "{stopping}");
    wait_for_line("core stopped");
    let status = child.wait().unwrap();
    assert!(status.success(), "opsdeckd exited with {status}");
    assert!(
        dir.path().join("opsdeck.db").is_file(),
        "the embedded database was created in the data dir"
    );
}
