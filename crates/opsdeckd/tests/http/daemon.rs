//! `opsdeckd run --listen` from the outside: the generated token file (0600, reused, never
//! logged), the configured token, and a clean stop on SIGTERM with the API up.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::{redis_url, until};

const BIN: &str = env!("CARGO_BIN_EXE_opsdeckd");

/// A daemon the test owns (killed and reaped however the test ends) and its log lines.
pub(crate) struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

/// `opsdeckd` with a clean `OPSDECK_` environment and its data in `dir`.
pub(crate) fn bare(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("OPSDECK_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("OPSDECK_DATA_DIR", dir).env("HOME", dir);
    cmd
}

impl Daemon {
    fn start(dir: &Path, prefix: &str, token: Option<&str>) -> Daemon {
        Daemon::start_with(dir, prefix, token, &[])
    }

    /// Like [`Daemon::start`], with `env` on top.
    pub(crate) fn start_with(dir: &Path, prefix: &str, token: Option<&str>, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = bare(dir);
        cmd.env("OPSDECK_REDIS_URL", redis_url())
            .env("OPSDECK_REDIS_PREFIX", prefix)
            .env("OPSDECK_SCHEDULER_ENABLED", "false")
            .env("OPSDECK_LOG", "debug,sqlx=warn,hyper=warn,reqwest=warn")
            .env("NO_COLOR", "1")
            .args(["run", "--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped());
        if let Some(token) = token {
            cmd.env("OPSDECK_API_TOKEN", token);
        }
        cmd.envs(env.iter().copied());
        Daemon::spawn(cmd)
    }

    /// Runs `cmd` (its stderr read here, line by line) as a daemon the test owns.
    pub(crate) fn spawn(mut cmd: Command) -> Daemon {
        let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
        let (tx, lines) = mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Daemon { child, lines, seen: Vec::new() }
    }

    /// The next log line containing `needle` (bounded wait).
    pub(crate) fn wait_for(&mut self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(e) => panic!("no log line containing {needle:?} within 30 s ({e}); log so far: {:#?}", self.seen),
            }
        }
    }

    /// The API's address, from its start-up line.
    fn api_base(&mut self) -> String {
        let line = self.wait_for("HTTP API listening");
        let addr = line.split_whitespace().find_map(|w| w.strip_prefix("addr=")).expect("addr= in the line");
        format!("http://{addr}")
    }

    /// Waits (bounded) for the process to exit by itself; its status and every log line.
    pub(crate) fn exits(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread ends at EOF: the channel then disconnects.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
                    self.seen.push(line);
                }
                return (status, std::mem::take(&mut self.seen));
            }
            match self.lines.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => self.seen.push(line),
                // Its stderr is closed: the exit is a moment away (poll it, bounded).
                Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_millis(20)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
        panic!("opsdeckd did not exit within 30 s; log so far: {:#?}", self.seen);
    }

    /// SIGTERM, then the rest of the log until it exits; asserts a clean stop.
    pub(crate) fn terminate(mut self) -> Vec<String> {
        let killed = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        self.wait_for("HTTP API stopped");
        self.wait_for("core stopped");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "opsdeckd exited with {status}");
        self.seen.extend(self.lines.try_iter());
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn status(http: &reqwest::Client, url: &str, token: Option<&str>) -> u16 {
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn run_listen_generates_a_private_token_reuses_it_and_never_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = crate::unique("daemon");
    let http = reqwest::Client::new();
    let mut daemon = Daemon::start(dir.path(), &prefix, None);
    let file = dir.path().join("api-token");
    // Logged before the API listens.
    let logged = daemon.wait_for("no api_token configured");
    assert!(logged.contains(&file.display().to_string()), "the file's path is logged: {logged}");
    let base = daemon.api_base();
    let token = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(token.len() >= 43, "32 random bytes: {token:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    until("the API answers /healthz with 200", || async {
        (status(&http, &format!("{base}/healthz"), None).await == 200).then_some(())
    })
    .await;
    let lookup = format!("{base}/api/ocr?url=https%3A%2F%2Fimg.example.com%2Fnone.jpg");
    assert_eq!(status(&http, &lookup, None).await, 401);
    assert_eq!(status(&http, &lookup, Some(&token)).await, 404, "the token opens the intake API");
    let log = daemon.terminate();
    assert!(log.iter().all(|line| !line.contains(&token)), "the token never reaches the log");

    // The next start reuses the file.
    let mut again = Daemon::start(dir.path(), &prefix, None);
    let base = again.api_base();
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    until("the API answers again", || async {
        (status(&http, &format!("{base}/healthz"), None).await == 200).then_some(())
    })
    .await;
    assert_eq!(status(&http, &format!("{base}/api/ocr?url=https%3A%2F%2Fx.test%2Fa.jpg"), Some(&token)).await, 404);
    let log = again.terminate();
    assert!(log.iter().all(|line| !line.contains(&token)), "the token never reaches the log");
}

#[tokio::test]
async fn a_configured_token_is_used_and_no_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let token = "configured-token-0123456789";
    let http = reqwest::Client::new();
    let mut daemon = Daemon::start(dir.path(), &crate::unique("daemon"), Some(token));
    let base = daemon.api_base();
    let lookup = format!("{base}/api/ocr?url=https%3A%2F%2Fimg.example.com%2Fnone.jpg");
    until("the configured token is accepted", || async {
        (status(&http, &lookup, Some(token)).await == 404).then_some(())
    })
    .await;
    assert_eq!(status(&http, &lookup, Some("configured-token-0123456780")).await, 401);
    assert!(!dir.path().join("api-token").exists());
    let log = daemon.terminate();
    assert!(log.iter().all(|line| !line.contains(token)), "the token never reaches the log");

    // check-config shows it set, masked.
    let out = bare(dir.path()).env("OPSDECK_API_TOKEN", token).args(["check-config", "--json"]).output().unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["values"]["api_token"], "****");
    assert_eq!(json["origins"]["api_token"], "OPSDECK_API_TOKEN");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(token));
    // Too short a token is refused at start-up, naming the key.
    let out = bare(dir.path()).env("OPSDECK_API_TOKEN", "short").arg("check-config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("`api_token`") && stderr.contains("OPSDECK_API_TOKEN"), "{stderr}");
    assert!(!stderr.contains("short\""), "{stderr}");
}

/// The value of the Prometheus sample `name` (with its labels, as printed), if present.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn with_nothing_configured_the_daemon_runs_the_sandbox_shop_and_the_fake_sign_ins() {
    let dir = tempfile::tempdir().unwrap();
    let token = "sandbox-token-0123456789";
    let http = reqwest::Client::new();
    let mut daemon = Daemon::start_with(
        dir.path(),
        &crate::unique("sandbox"),
        Some(token),
        &[("OPSDECK_SANDBOX_ORDERS_PER_MINUTE", "600"), ("OPSDECK_SANDBOX_OCR_PER_MINUTE", "600")],
    );
    daemon.wait_for("sandbox mode: every provider is a built-in fake");
    let base = daemon.api_base();
    // The shop's login page can use the fake sign-in providers.
    let authorize = until("the fake Weibo's authorize URL", || async {
        let answer = http
            .get(format!("{base}/api/oauth/weibo/authorize?binding=customer-session-hash"))
            .bearer_auth(token)
            .send()
            .await
            .ok()?;
        (answer.status() == 200).then_some(())?;
        answer.json::<serde_json::Value>().await.ok()
    })
    .await;
    let url = authorize["url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:") && url.contains("/oauth2/authorize"), "{url}");
    // The simulated shop places orders and sends ID cards, read by the fake Baidu.
    until("orders placed and ID cards read by the simulated shop", || async {
        let text = http.get(format!("{base}/metrics")).bearer_auth(token).send().await.ok()?.text().await.ok()?;
        let pending = metric(&text, "opsdeck_orders_pending")?;
        let done = metric(&text, "opsdeck_ocr_requests{state=\"done\"}")?;
        (pending > 0.0 && done > 0.0).then_some(())
    })
    .await;
    daemon.terminate();
}

/// A notify signed with the sandbox's published Alipay key pair, for `order_no` (the fake only
/// signs here: it is no provider of the daemon).
async fn sandbox_signed_notify(order_no: &str, amount: &str) -> Vec<(String, String)> {
    let config = opsdeck_sandbox::alipay::FakeAlipayConfig::default();
    let fake = opsdeck_sandbox::alipay::FakeAlipay::start(([127, 0, 0, 1], 0).into(), config).await.unwrap();
    fake.signed_notify(order_no, amount, "TRADE_SUCCESS")
}

#[tokio::test]
async fn with_baidu_keys_only_no_fake_starts_and_a_notify_signed_with_the_sandbox_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let token = "partial-token-0123456789";
    let http = reqwest::Client::new();
    let mut daemon = Daemon::start_with(
        dir.path(),
        &crate::unique("partial"),
        Some(token),
        &[("OPSDECK_BAIDU_API_KEY", "real-looking-key"), ("OPSDECK_BAIDU_SECRET_KEY", "real-looking-secret")],
    );
    // Each provider without credentials is named at start, with how to configure it.
    let alipay = daemon.wait_for("Alipay is not configured");
    assert!(alipay.contains("alipay_private_key") && alipay.contains("OPSDECK_ALIPAY_APP_ID"), "{alipay}");
    let base = daemon.api_base();
    daemon.wait_for("opsdeckd running");
    let started: Vec<String> = daemon.seen.clone();
    assert!(started.iter().any(|l| l.contains("sign-in with weibo is not configured")), "{started:#?}");
    for line in &started {
        assert!(!line.contains("built-in fake"), "a fake started: {line}");
    }
    assert!(started.iter().any(|l| l.contains("opsdeckd running") && l.contains("sandbox=false")), "{started:#?}");

    // No fake sign-in page: the providers are absent.
    let authorize = http.get(format!("{base}/api/oauth/weibo/authorize")).bearer_auth(token).send().await.unwrap();
    let status = authorize.status().as_u16();
    assert!((400..500).contains(&status), "Weibo is not configured: {status} {}", authorize.text().await.unwrap());

    // A pending 50.00 top-up, and a notify signed with the key pair published in the sandbox
    // crate: refused, and the order stays pending.
    let placed = http
        .post(format!("{base}/api/orders"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "user_id": 7, "kind": "top_up", "amount_fen": 5000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status().as_u16(), 201);
    let order: serde_json::Value = placed.json().await.unwrap();
    let order_no = order["order_no"].as_str().unwrap();
    let form = sandbox_signed_notify(order_no, "50.00").await;
    let answer = http.post(format!("{base}/api/payments/alipay/notify")).form(&form).send().await.unwrap();
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap();
    assert!((400..500).contains(&status) && text != "success", "the notify was not refused: {status} {text}");
    let text = http.get(format!("{base}/metrics")).bearer_auth(token).send().await.unwrap().text().await.unwrap();
    assert_eq!(metric(&text, "opsdeck_orders_pending"), Some(1.0), "the order stays pending: {text}");
    daemon.terminate();
}

#[tokio::test]
async fn in_sandbox_mode_a_notify_from_outside_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let token = "sandbox-token-0123456789";
    let http = reqwest::Client::new();
    let mut daemon = Daemon::start_with(
        dir.path(),
        &crate::unique("sandbox-notify"),
        Some(token),
        &[("OPSDECK_SANDBOX_SHOP", "false")],
    );
    daemon.wait_for("sandbox mode: every provider is a built-in fake");
    let base = daemon.api_base();
    let placed = http
        .post(format!("{base}/api/orders"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "user_id": 7, "kind": "top_up", "amount_fen": 5000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status().as_u16(), 201);
    let order: serde_json::Value = placed.json().await.unwrap();
    let form = sandbox_signed_notify(order["order_no"].as_str().unwrap(), "50.00").await;
    let answer = http.post(format!("{base}/api/payments/alipay/notify")).form(&form).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 403, "the fake's key is published: {}", answer.text().await.unwrap());
    let text = http.get(format!("{base}/metrics")).bearer_auth(token).send().await.unwrap().text().await.unwrap();
    assert_eq!(metric(&text, "opsdeck_orders_pending"), Some(1.0), "the order stays pending: {text}");
    daemon.terminate();
}

#[tokio::test]
async fn a_sandbox_database_refuses_a_live_start_and_a_live_one_a_sandbox_start() {
    let baidu = [("OPSDECK_BAIDU_API_KEY", "real-looking-key"), ("OPSDECK_BAIDU_SECRET_KEY", "real-looking-secret")];
    // Sandbox first (nothing configured), then a start with real credentials on its data.
    let dir = tempfile::tempdir().unwrap();
    let prefix = crate::unique("mode");
    let mut sandbox =
        Daemon::start_with(dir.path(), &prefix, Some("mode-token-0123456789"), &[("OPSDECK_SANDBOX_SHOP", "false")]);
    sandbox.wait_for("opsdeckd running");
    sandbox.terminate();
    let (status, log) = Daemon::start_with(dir.path(), &prefix, Some("mode-token-0123456789"), &baidu).exits();
    assert!(!status.success(), "a live start on a sandbox database must fail: {log:#?}");
    let refusal = log.iter().find(|l| l.contains("start-up failed")).unwrap_or_else(|| panic!("{log:#?}"));
    assert!(refusal.contains("used in sandbox mode") && refusal.contains("--sandbox"), "{refusal}");
    assert!(log.iter().all(|l| !l.contains("opsdeckd running")), "{log:#?}");

    // Live first, then sandbox mode on its data.
    let dir = tempfile::tempdir().unwrap();
    let prefix = crate::unique("mode");
    let mut live = Daemon::start_with(dir.path(), &prefix, Some("mode-token-0123456789"), &baidu);
    live.wait_for("opsdeckd running");
    live.terminate();
    let (status, log) = Daemon::start_with(dir.path(), &prefix, Some("mode-token-0123456789"), &[]).exits();
    assert!(!status.success(), "a sandbox start on a live database must fail: {log:#?}");
    let refusal = log.iter().find(|l| l.contains("start-up failed")).unwrap_or_else(|| panic!("{log:#?}"));
    assert!(refusal.contains("a live one") && refusal.contains("sandbox mode"), "{refusal}");

    // The same mode starts again on its own database.
    let mut again = Daemon::start_with(dir.path(), &prefix, Some("mode-token-0123456789"), &baidu);
    again.wait_for("opsdeckd running");
    again.terminate();
}
