//! Sandbox mode's start-up (`launch`, the desktop's and the daemon's) and the simulated shop,
//! seen from outside the core as a front end sees it: the configuration the core runs on, and
//! what a staff session finds through `opsdeck_api::Ops`. Against the test Redis and SQLite.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use opsdeck_api::orders::OrderQuery;
use opsdeck_api::{ErrorCode, Ops};
use opsdeck_core::{ApiError, Config};
use opsdeck_sandbox::{Sandbox, launch};

fn redis_url() -> String {
    std::env::var("OPSDECK_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh), which starts the \
             services and sets it"
        )
    })
}

fn unique(stem: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{stem}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn toml_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A configuration file in `dir` (a fresh SQLite database there, the test Redis under a fresh
/// prefix) with `extra` lines (values as TOML literals), loaded through the real layers.
fn test_config(dir: &Path, extra: &[(&str, &str)]) -> Config {
    let mut lines = vec![
        ("data_dir".to_string(), toml_string(&dir.display().to_string())),
        ("redis_url".to_string(), toml_string(&redis_url())),
        ("redis_prefix".to_string(), toml_string(&unique("sbx"))),
        ("scheduler_enabled".to_string(), "false".to_string()),
    ];
    lines.extend(extra.iter().map(|(key, value)| (key.to_string(), value.to_string())));
    let file = dir.join("config.toml");
    std::fs::write(&file, lines.iter().map(|(key, value)| format!("{key} = {value}\n")).collect::<String>()).unwrap();
    Config::from_layers(dir.to_path_buf(), Some(&file)).expect("valid test configuration")
}

/// Polls `check` every 25 ms until it answers Some, for at most 30 s; fails naming `what`.
async fn until<T, F: Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "not within 30 s: {what}");
        // Bounded polling: look again in 25 ms (the deadline above fails the test).
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

const BAIDU_KEYS: &[(&str, &str)] = &[("baidu_api_key", "\"key\""), ("baidu_secret_key", "\"secret\"")];

#[tokio::test]
async fn sandbox_mode_is_the_default_without_credentials_and_shortens_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), &[]);
    assert!(Sandbox::wanted(&config, false), "nothing configured: sandbox mode");
    let running = launch(config, false).await.unwrap();
    let config = running.core().config();
    assert!(config.sandbox_mode && config.baidu_sandbox && config.alipay_sandbox);
    assert!(config.oauth.weibo.sandbox && config.oauth.dingtalk.sandbox);
    assert_eq!(running.sandbox().oauth.len(), 4);
    assert!(running.sandbox().baidu.is_some() && running.sandbox().alipay.is_some());
    assert_eq!(config.order_expiry, Duration::from_secs(120), "orders expire within minutes in sandbox mode");
    assert!(running.shop_runs(), "the simulated shop runs in sandbox mode");
    running.shutdown().await;
}

#[tokio::test]
async fn with_some_credentials_no_fake_starts_unless_asked_and_a_configured_deadline_stands() {
    // With Baidu keys configured, sandbox mode is only on when asked for; the missing providers
    // are absent (no fake).
    let dir = tempfile::tempdir().unwrap();
    let partial = test_config(dir.path(), &[BAIDU_KEYS, &[("order_expiry_seconds", "900")]].concat());
    assert!(!Sandbox::wanted(&partial, false));
    assert!(Sandbox::wanted(&partial, true), "--sandbox asks for it");
    let absent: Vec<&str> = Sandbox::absent(&partial).iter().map(|p| p.name).collect();
    assert_eq!(absent, ["alipay", "weibo", "qq", "wechat", "dingtalk", "oidc"]);
    let running = launch(partial, false).await.unwrap();
    let (config, fakes) = (running.core().config(), running.sandbox());
    assert!(fakes.baidu.is_none() && !config.baidu_sandbox, "configured Baidu is kept");
    assert!(fakes.alipay.is_none() && fakes.oauth.is_empty(), "no fake outside sandbox mode");
    assert!(!config.alipay_sandbox && !config.alipay_configured() && !config.sandbox_mode);
    assert!(!running.shop_runs(), "no simulated shop outside sandbox mode");
    running.shutdown().await;

    // Asked for: every provider a fake, but the configured deadline stands. (Its own database:
    // the one above is marked live.)
    let dir = tempfile::tempdir().unwrap();
    let forced = test_config(dir.path(), &[BAIDU_KEYS, &[("order_expiry_seconds", "900")]].concat());
    let running = launch(forced, true).await.unwrap();
    let config = running.core().config();
    assert!(config.baidu_sandbox && config.sandbox_mode);
    assert_eq!(config.order_expiry, Duration::from_secs(900), "a configured deadline stands");
    running.shutdown().await;
}

#[tokio::test]
async fn the_shops_session_and_in_process_notify_are_refused_outside_sandbox_mode() {
    let dir = tempfile::tempdir().unwrap();
    let running = launch(test_config(dir.path(), BAIDU_KEYS), false).await.unwrap();
    let core = running.core();
    assert!(!core.config().sandbox_mode);
    let e = core.sandbox_shop_session().await.unwrap_err();
    assert_eq!((e.code(), e.params()["what"].as_str()), (ErrorCode::SandboxOnly, "shop_session"), "{e}");
    let e = core.sandbox_notify(&[("out_trade_no".into(), "X".into())]).await.unwrap_err();
    assert_eq!((e.code(), e.params()["what"].as_str()), (ErrorCode::SandboxOnly, "shop_notify"), "{e}");
    running.shutdown().await;
}

#[tokio::test]
async fn the_shops_goods_and_orders_show_up_for_a_staff_session_paid_and_expired() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(
        dir.path(),
        &[
            ("sandbox_orders_per_minute", "600"),
            ("sandbox_ocr_per_minute", "300"),
            ("sandbox_pay_ratio", "0.5"),
            ("order_expiry_seconds", "2"),
            ("ocr_qps", "50"),
        ],
    );
    let running = launch(config, true).await.unwrap();
    assert!(running.shop_runs(), "the shop runs in sandbox mode");
    let core = running.core();
    // A staff session (the shop's staff member's: an operator; the core refuses it until the
    // database's sandbox mark is confirmed).
    let session = until("a session of the shop's staff member", || async {
        match core.sandbox_shop_session().await {
            Ok(session) => Some(session),
            Err(ApiError::DatabaseUnavailable(_)) => None,
            Err(e) => panic!("the shop's session is refused in sandbox mode: {e}"),
        }
    })
    .await;
    let staff = Ops::session_staff(core, &session).await.unwrap();
    assert_eq!(staff.name, "sandbox shop");

    // Orders arrive, some are paid through a verified notify, the rest expire and are
    // cancelled; ID cards are read: all of it on the Overview a staff session sees.
    let figures = until("orders paid and cancelled, and ID cards read", || async {
        core.orders_sweep(None).await.unwrap();
        let o = Ops::overview(core, &session).await.unwrap();
        (o.orders.paid_last_hour > 0 && o.orders.cancelled_last_hour > 0 && o.ocr.counts.done > 0).then_some(o)
    })
    .await;
    assert!(figures.sandbox);
    assert!(figures.orders.recent_cancelled.iter().all(|c| c.cancelled_by == "sweep"), "{:?}", figures.orders);

    // The catalogue, created by the shop's staff member through the API (audited as them).
    let goods = Ops::goods_list(core, &session).await.unwrap();
    let mut skus: Vec<&str> = goods.iter().map(|g| g.sku.as_str()).collect();
    skus.sort();
    assert_eq!(skus, ["SBX-FAN-01", "SBX-INK-01", "SBX-MUG-01", "SBX-TEA-01"], "the catalogue");
    let audit = Ops::audit_list(core, &session, opsdeck_api::audit::AuditQuery { limit: 200, ..Default::default() })
        .await
        .unwrap();
    assert!(
        audit.entries.iter().any(|e| e.who.starts_with("sandbox shop") && e.action.contains("goods")),
        "the shop's catalogue is created by the sandbox shop, audited: {:?}",
        audit.entries.iter().map(|e| (&e.who, &e.action)).collect::<Vec<_>>()
    );

    // The buyers' orders, as the Orders page lists them.
    let page = Ops::orders_list(core, &session, OrderQuery { limit: 100, ..Default::default() }).await.unwrap();
    assert!(page.total > 0 && !page.orders.is_empty());
    assert!(page.orders.iter().all(|o| (1001..=1040).contains(&o.user_id)), "the simulated buyers' orders");

    // Outside the shop: Alipay's notify door refuses the fake's (published) signatures.
    let e = core.alipay_notify(&[("out_trade_no".into(), page.orders[0].order_no.clone())]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotifySandbox, "{e}");
    running.shutdown().await;
}

/// The sandbox is started around the core, never from inside it: the core's manifest has no
/// normal dependency on this crate and no feature for it (its tests may use the fakes).
#[test]
fn the_core_does_not_depend_on_the_sandbox() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../opsdeck-core/Cargo.toml");
    let text = std::fs::read_to_string(manifest).unwrap();
    let normal = text.split("[dev-dependencies]").next().unwrap();
    let dependencies: Vec<&str> = normal
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(key, _)| key.trim()))
        .collect();
    assert!(!dependencies.contains(&"opsdeck-sandbox"), "opsdeck-core depends on opsdeck-sandbox");
    assert!(!dependencies.contains(&"sandbox"), "opsdeck-core has a `sandbox` feature");
}
