//! The `opsdeckd` binary from the outside: `check-config` and a clean `run`/SIGTERM cycle.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_opsdeckd");

/// A daemon process the test owns: killed and reaped however the test ends.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
        .env("OPSDECK_DATABASE_URL", "mysql://shop:hunter2@db.internal:3306/shop")
        .env("OPSDECK_TIMEZONE", "Europe/London")
        .arg("check-config")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("configuration is valid"));
    assert!(!stdout.contains("hunter2"), "the password leaked: {stdout}");
    assert!(
        stdout.contains(r#"database_url = "mysql://shop:****@db.internal:3306/shop"  # OPSDECK_DATABASE_URL"#),
        "{stdout}"
    );
    assert!(stdout.contains(r#"timezone = "Europe/London"  # OPSDECK_TIMEZONE"#), "{stdout}");
    assert!(stdout.contains(r#"redis_prefix = "opsdeck"  # default"#), "{stdout}");
}

#[test]
fn check_config_json_reports_values_and_origins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opsdeck.toml");
    std::fs::write(&file, "redis_prefix = \"staging\"\n").unwrap();
    let out = opsdeckd(dir.path()).arg("--config").arg(&file).args(["check-config", "--json"]).output().unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["values"]["redis_prefix"], "staging");
    assert_eq!(json["origins"]["redis_prefix"], file.display().to_string());
    assert_eq!(json["origins"]["redis_url"], "default");
    assert_eq!(json["values"]["timezone"], "Asia/Shanghai");
}

#[test]
fn check_config_names_the_absent_providers_and_how_to_configure_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = opsdeckd(dir.path())
        .env("OPSDECK_BAIDU_API_KEY", "key")
        .env("OPSDECK_BAIDU_SECRET_KEY", "secret")
        .arg("check-config")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("# alipay is absent: set alipay_app_id, alipay_private_key, alipay_public_key"),
        "{stdout}"
    );
    assert!(stdout.contains("OPSDECK_WEIBO_CLIENT_ID"), "{stdout}");
    assert!(!stdout.contains("baidu is absent") && !stdout.contains("sandbox mode"), "{stdout}");

    let json = opsdeckd(dir.path()).args(["check-config", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["sandbox"], true, "nothing configured: sandbox mode");
    assert_eq!(json["absent"], serde_json::json!([]));
}

#[test]
fn the_http_limits_are_configurable_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = opsdeckd(dir.path())
        .env("OPSDECK_HTTP_HEADER_TIMEOUT_MS", "2500")
        .env("OPSDECK_HTTP_OPEN_PER_IP_PER_SECOND", "200")
        .args(["check-config", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["values"]["http_header_timeout_ms"], "2500");
    assert_eq!(json["values"]["http_body_timeout_ms"], "30000");
    assert_eq!(json["values"]["http_max_connections"], "1024");
    assert_eq!(json["values"]["http_open_per_ip_per_second"], "200");
    let out = opsdeckd(dir.path()).env("OPSDECK_HTTP_MAX_CONNECTIONS", "0").arg("check-config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("`http_max_connections`") && stderr.contains("out of range"), "{stderr}");
}

#[test]
fn a_bad_value_exits_non_zero_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = opsdeckd(dir.path()).env("OPSDECK_TIMEZONE", "Mars/Base").arg("check-config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("`timezone`") && stderr.contains("OPSDECK_TIMEZONE"), "{stderr}");
    assert!(stderr.contains("Mars/Base"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing is printed as valid");
}

#[test]
fn check_config_shows_every_declared_key_and_secrets_only_as_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = opsdeckd(dir.path())
        .env("OPSDECK_METRICS_TOKEN", "metrics-token-0123456789")
        .args(["check-config", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("metrics-token-0123456789"), "a secret was printed: {stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in opsdeck_core::config::keys::all() {
        assert!(json["values"][key.name].is_string(), "{} is missing from check-config", key.name);
        assert!(json["origins"][key.name].is_string(), "{} has no origin", key.name);
        if key.secret {
            let shown = json["values"][key.name].as_str().unwrap();
            assert!(["****", "(not set)", "(sandbox)"].contains(&shown), "{}: {shown}", key.name);
        }
    }
    assert_eq!(json["values"]["metrics_token"], "****");
    assert_eq!(json["origins"]["metrics_token"], "OPSDECK_METRICS_TOKEN");
}

#[test]
fn config_docs_prints_the_committed_documentation_without_loading_a_configuration() {
    let dir = tempfile::tempdir().unwrap();
    // A bad configuration does not matter: the documentation comes from the declarations alone.
    let out = opsdeckd(dir.path()).env("OPSDECK_TIMEZONE", "Mars/Base").arg("config-docs").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let committed =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"))
            .unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == committed,
        "docs/configuration.md is out of date; regenerate it: {}",
        opsdeck_core::Config::DOCS_COMMAND
    );
}

#[test]
fn run_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let redis = std::env::var("OPSDECK_TEST_REDIS_URL")
        .expect("OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh)");
    let mut child = opsdeckd(dir.path())
        .env("OPSDECK_REDIS_URL", redis)
        .env("OPSDECK_REDIS_PREFIX", format!("cli-{}", std::process::id()))
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
    // The two lines come from different tasks, in either order.
    let mut pending = vec!["opsdeckd running", "reachable"];
    while !pending.is_empty() {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("still waiting for {pending:?} after 20 s ({e})"));
        pending.retain(|needle| !line.contains(needle));
    }

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let stopping = wait_for_line("stopping");
    assert!(stopping.contains("SIGTERM"), "{stopping}");
    wait_for_line("core stopped");
    let status = child.wait().unwrap();
    assert!(status.success(), "opsdeckd exited with {status}");
    assert!(dir.path().join("opsdeck.db").is_file(), "the embedded database was created in the data dir");
}

fn preview(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    opsdeckd(dir).args(["schedule", "preview"]).args(args).output().unwrap()
}

#[test]
fn schedule_preview_prints_iso_times_with_offsets_across_a_dst_change() {
    let dir = tempfile::tempdir().unwrap();
    let out = preview(
        dir.path(),
        &["--cron", "30 2 * * *", "--tz", "America/New_York", "--from", "2026-03-07T00:00:00-05:00", "--count", "3"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "2026-03-07T02:30:00-05:00\n2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n"
    );
}

#[test]
fn schedule_preview_handles_intervals_dates_and_the_configured_zone() {
    let dir = tempfile::tempdir().unwrap();
    let interval = preview(dir.path(), &["--interval", "90m", "--from", "2026-01-01T00:00:00Z", "--count", "2"]);
    assert_eq!(
        String::from_utf8(interval.stdout).unwrap(),
        "2026-01-01T09:30:00+08:00\n2026-01-01T11:00:00+08:00\n",
        "the default zone is Asia/Shanghai"
    );
    let date = preview(dir.path(), &["--date", "2026-12-05 08:00", "--from", "2026-01-01T00:00:00Z"]);
    assert_eq!(String::from_utf8(date.stdout).unwrap(), "2026-12-05T08:00:00+08:00\n");
    let london = opsdeckd(dir.path())
        .env("OPSDECK_TIMEZONE", "Europe/London")
        .args(["schedule", "preview", "--cron", "0 12 * * *", "--from", "2026-07-01T00:00:00Z", "--count", "1"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(london.stdout).unwrap(), "2026-07-01T12:00:00+01:00\n");
}

#[test]
fn schedule_preview_refuses_bad_input_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (args, reason) in [
        (vec!["--cron", "0 25 * * *"], "field 'hour'"),
        (vec!["--cron", "0 8 * * *", "--tz", "Mars/Base"], "unknown time zone"),
        (vec!["--interval", "0"], "greater than 0"),
        (vec!["--interval", "5 fortnights"], "unknown unit"),
        (vec!["--date", "2023-12-05 08:00"], "in the past"),
        (vec!["--cron", "* * * * *", "--from", "yesterday"], "--from"),
    ] {
        let out = preview(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let none = opsdeckd(dir.path()).args(["schedule", "preview"]).output().unwrap();
    assert!(!none.status.success(), "a trigger is required");
}

#[path = "../common/poll.rs"]
mod poll;

mod clock_skew;
mod ocr_kill;
mod staff;
mod startup;
mod sweep_kill;
