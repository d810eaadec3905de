//! What the daemon's HTTP API calls in the core: `alipay_notify` (verified, checked against the
//! order, applied once), `metrics`, and the `api_token` setting.

use std::path::Path;

use figment::Jail;
use opsdeck_api::intake::NotifyOutcome;
use opsdeck_core::orders::model::{NewGoods, OrderDraft, OrderItem, OrderKind};
use opsdeck_core::{Actor, Config, Core};
use opsdeck_sandbox::alipay::{FakeAlipay, FakeAlipayConfig, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY};
use secrecy::ExposeSecret;

use crate::helpers::{config_with, fresh_mysql_url, redis_url, toml_string, unique, until};

async fn fake(app_id: &str) -> FakeAlipay {
    let config =
        FakeAlipayConfig { app_id: app_id.into(), latency: std::time::Duration::ZERO, ..FakeAlipayConfig::default() };
    FakeAlipay::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

fn app_id() -> String {
    FakeAlipayConfig::default().app_id
}

fn config(dir: &Path, alipay: Option<&FakeAlipay>) -> Config {
    config_on(dir, alipay, None)
}

/// Like [`config`], on `database_url` (MariaDB) when given.
fn config_on(dir: &Path, alipay: Option<&FakeAlipay>, database_url: Option<String>) -> Config {
    let mut lines = vec![
        ("data_dir", toml_string(&dir.display().to_string())),
        ("redis_url", toml_string(&redis_url())),
        ("redis_prefix", toml_string(&unique("api"))),
        ("scheduler_enabled", "false".into()),
        ("order_expiry_seconds", "1".into()),
    ];
    if let Some(url) = database_url {
        lines.push(("database_url", toml_string(&url)));
    }
    if let Some(alipay) = alipay {
        lines.extend([
            ("alipay_gateway_url", toml_string(&alipay.gateway_url)),
            ("alipay_app_id", toml_string(&app_id())),
            ("alipay_private_key", format!("'''{SANDBOX_APP_PRIVATE_KEY}'''")),
            ("alipay_public_key", format!("'''{SANDBOX_ALIPAY_PUBLIC_KEY}'''")),
        ]);
    }
    config_with(dir, &lines)
}

fn top_up(amount_fen: i64) -> OrderDraft {
    OrderDraft { user_id: 3, kind: OrderKind::TopUp, items: vec![], amount_fen: Some(amount_fen) }
}

fn set(form: &mut [(String, String)], name: &str, value: &str) {
    form.iter_mut().find(|(k, _)| k == name).unwrap().1 = value.into();
}

async fn paid_events(core: &Core, order_no: &str) -> usize {
    crate::helpers::timeline_events(core, order_no, "paid").await
}

#[tokio::test]
async fn a_verified_notify_pays_the_order_once_however_often_it_comes() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake(&app_id()).await;
    let core = Core::start(config(dir.path(), Some(&alipay))).await.unwrap();
    let tester = Actor::system("tester");
    let goods = core
        .goods_create(NewGoods { sku: unique("sku"), name: "Tea".into(), price_fen: 1250, stock: 2 }, &tester)
        .await
        .unwrap();
    let draft = OrderDraft {
        user_id: 3,
        kind: OrderKind::Goods,
        items: vec![OrderItem { goods_id: goods.id, quantity: 1, price_fen: 0 }],
        amount_fen: None,
    };
    let order = core.order_place(draft).await.unwrap();
    let form = alipay.signed_notify(&order.order_no, "12.50", "TRADE_SUCCESS");

    assert_eq!(core.alipay_notify(&form).await.unwrap(), NotifyOutcome::Paid);
    for _ in 0..3 {
        assert_eq!(core.alipay_notify(&form).await.unwrap(), NotifyOutcome::AlreadyPaid, "a repeat changes nothing");
    }
    let finished = alipay.signed_notify(&order.order_no, "12.5", "TRADE_FINISHED");
    assert_eq!(core.alipay_notify(&finished).await.unwrap(), NotifyOutcome::AlreadyPaid);
    let paid = core.order_get(&order.order_no).await.unwrap();
    assert!(paid.paid_at.is_some());
    assert_eq!(paid.trade_no.as_deref(), form.iter().find(|(k, _)| k == "trade_no").map(|(_, v)| v.as_str()));
    assert_eq!(paid_events(&core, &order.order_no).await, 1);
    let g = core.goods_list(&Actor::system("tester")).await.unwrap().into_iter().find(|g| g.id == goods.id).unwrap();
    assert_eq!((g.stock_available, g.stock_locked, g.stock_sold), (1, 0, 1), "sold once");
    let timeline = core.order_timeline(&order.order_no, &Actor::system("tester")).await.unwrap();
    assert_eq!(timeline.iter().find(|e| e.event == "paid").unwrap().who, "notify", "the source is recorded");
    core.shutdown().await;
}

#[tokio::test]
async fn a_notify_is_applied_once_on_mariadb() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake(&app_id()).await;
    let core = Core::start(config_on(dir.path(), Some(&alipay), Some(fresh_mysql_url().await))).await.unwrap();
    let order = core.order_place(top_up(4321)).await.unwrap();
    // Another amount: refused, and recorded once as a conflict for staff however often it comes.
    let wrong = alipay.signed_notify(&order.order_no, "43.20", "TRADE_SUCCESS");
    assert_eq!(core.alipay_notify(&wrong).await.unwrap_err().code(), "notify_field_refused");
    assert_eq!(core.alipay_notify(&wrong).await.unwrap_err().code(), "notify_field_refused");
    let conflicts = crate::helpers::timeline_events(&core, &order.order_no, "conflict").await;
    assert_eq!(conflicts, 1, "recorded once per trade");
    let form = alipay.signed_notify(&order.order_no, "43.21", "TRADE_SUCCESS");
    assert_eq!(core.alipay_notify(&form).await.unwrap(), NotifyOutcome::Paid);
    assert_eq!(core.alipay_notify(&form).await.unwrap(), NotifyOutcome::AlreadyPaid);
    assert_eq!(paid_events(&core, &order.order_no).await, 1);
    let cancelled = core.order_place(top_up(100)).await.unwrap();
    core.order_cancel(&cancelled.order_no, "test", &Actor::system("tester")).await.unwrap();
    let late = alipay.signed_notify(&cancelled.order_no, "1.00", "TRADE_SUCCESS");
    assert_eq!(core.alipay_notify(&late).await.unwrap(), NotifyOutcome::Conflict);
    let unknown = alipay.signed_notify("OD-unknown", "1.00", "TRADE_SUCCESS");
    assert_eq!(core.alipay_notify(&unknown).await.unwrap_err().code(), "order_not_found");
    core.shutdown().await;
}

#[tokio::test]
async fn refused_notifies_apply_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake(&app_id()).await;
    let other_app = fake("2021000000000999").await;
    let core = Core::start(config(dir.path(), Some(&alipay))).await.unwrap();
    let order = core.order_place(top_up(1250)).await.unwrap();
    let no = order.order_no.as_str();

    let good = alipay.signed_notify(no, "12.50", "TRADE_SUCCESS");
    let mut tampered = good.clone();
    set(&mut tampered, "total_amount", "0.01");
    let mut unsigned = good.clone();
    unsigned.retain(|(k, _)| k != "sign");
    let mut twice = good.clone();
    twice.push(("out_trade_no".into(), no.into()));
    type Form = Vec<(String, String)>;
    let cases: Vec<(&str, Form, &str, Option<&str>)> = vec![
        ("forged amount", tampered, "unauthenticated", None),
        ("no signature", unsigned, "notify_field_refused", Some("sign")),
        ("a parameter twice", twice, "notify_malformed", None),
        ("another app", other_app.signed_notify(no, "12.50", "TRADE_SUCCESS"), "notify_field_refused", Some("app_id")),
        (
            "another amount",
            alipay.signed_notify(no, "12.51", "TRADE_SUCCESS"),
            "notify_field_refused",
            Some("total_amount"),
        ),
        (
            "more than fen",
            alipay.signed_notify(no, "12.500", "TRADE_SUCCESS"),
            "notify_field_refused",
            Some("total_amount"),
        ),
        (
            "not an amount",
            alipay.signed_notify(no, "12,50", "TRADE_SUCCESS"),
            "notify_field_refused",
            Some("total_amount"),
        ),
        (
            "a float's idea",
            alipay.signed_notify(no, "1.25e1", "TRADE_SUCCESS"),
            "notify_field_refused",
            Some("total_amount"),
        ),
        ("unknown status", alipay.signed_notify(no, "12.50", "TRADE_PAID"), "notify_field_refused", None),
        ("unknown order", alipay.signed_notify("OD-unknown", "12.50", "TRADE_SUCCESS"), "order_not_found", None),
    ];
    for (what, form, code, field) in cases {
        let e = core.alipay_notify(&form).await.expect_err(what);
        assert_eq!(e.code(), code, "{what}: {e}");
        if let Some(field) = field {
            assert_eq!(e.field_name(), Some(field), "{what}: {e:?}");
            assert_eq!(e.params()["field"], field, "{what}: the catalogue names the field");
        }
    }
    assert!(core.order_get(no).await.unwrap().paid_at.is_none(), "nothing was applied");
    assert_eq!(paid_events(&core, no).await, 0);
    // The genuine notify of another amount left its trace on the order.
    let conflict = core
        .order_timeline(no, &Actor::system("tester"))
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event == "conflict")
        .unwrap();
    assert_eq!(conflict.detail.unwrap()["paid_fen"], 1251);
    // Still payable by the genuine notify.
    assert_eq!(core.alipay_notify(&good).await.unwrap(), NotifyOutcome::Paid);
    core.shutdown().await;
}

#[tokio::test]
async fn waiting_closed_and_cancelled_orders() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake(&app_id()).await;
    let core = Core::start(config(dir.path(), Some(&alipay))).await.unwrap();
    let waiting = core.order_place(top_up(800)).await.unwrap();
    for status in ["WAIT_BUYER_PAY", "TRADE_CLOSED"] {
        let form = alipay.signed_notify(&waiting.order_no, "8.00", status);
        assert_eq!(core.alipay_notify(&form).await.unwrap(), NotifyOutcome::Acknowledged, "{status}");
    }
    assert!(core.order_get(&waiting.order_no).await.unwrap().paid_at.is_none());

    let cancelled = core.order_place(top_up(800)).await.unwrap();
    core.order_cancel(&cancelled.order_no, "changed their mind", &Actor::system("tester")).await.unwrap();
    let form = alipay.signed_notify(&cancelled.order_no, "8.00", "TRADE_SUCCESS");
    assert_eq!(core.alipay_notify(&form).await.unwrap(), NotifyOutcome::Conflict);
    assert_eq!(core.alipay_notify(&form).await.unwrap(), NotifyOutcome::Conflict, "acknowledged again");
    let timeline = core.order_timeline(&cancelled.order_no, &Actor::system("tester")).await.unwrap();
    assert_eq!(timeline.iter().filter(|e| e.event == "conflict").count(), 1, "recorded once");
    assert_eq!(core.metrics().await.unwrap().payment_conflicts, 1);
    core.shutdown().await;
}

#[tokio::test]
async fn without_alipay_configured_a_notify_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake(&app_id()).await;
    let core = Core::start(config(dir.path(), None)).await.unwrap();
    let form = alipay.signed_notify("OD1", "1.00", "TRADE_SUCCESS");
    assert_eq!(core.alipay_notify(&form).await.unwrap_err().code(), "alipay_not_configured");
    core.shutdown().await;
}

#[tokio::test]
async fn metrics_count_what_happened_on_sqlite() {
    metrics_count_what_happened(None).await;
}

#[tokio::test]
async fn metrics_count_what_happened_on_mariadb() {
    metrics_count_what_happened(Some(fresh_mysql_url().await)).await;
}

async fn metrics_count_what_happened(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake(&app_id()).await;
    let core = Core::start(config_on(dir.path(), Some(&alipay), database_url)).await.unwrap();
    let empty = core.metrics().await.unwrap();
    assert_eq!(empty.ocr.pending + empty.ocr.in_flight + empty.ocr.done + empty.ocr.dead, 0);
    assert_eq!(empty.ocr_cap, 2.0, "the configured ocr_qps");
    assert_eq!(empty.ocr_calls_per_second, 0.0);
    assert!(!empty.ocr_paused);
    assert_eq!(empty.job_runs.len(), 7, "every outcome listed (stopped too)");
    assert!(empty.job_runs.iter().all(|(_, n)| *n == 0));
    assert_eq!(
        (empty.orders_pending, empty.orders_cancelled, empty.orders_paid_late, empty.payment_conflicts),
        (0, 0, 0, 0)
    );

    core.ocr_pause(&Actor::system("tester")).await.unwrap();
    let late = core.order_place(top_up(100)).await.unwrap();
    let lapsed = core.order_place(top_up(200)).await.unwrap();
    let notified = core.order_place(top_up(300)).await.unwrap();
    alipay.pay(&late.order_no, "1.00");
    assert_eq!(
        core.alipay_notify(&alipay.signed_notify(&notified.order_no, "3.00", "TRADE_SUCCESS")).await.unwrap(),
        NotifyOutcome::Paid
    );
    assert_eq!(core.metrics().await.unwrap().orders_pending, 2);
    until("the sweep handles both", || async {
        core.orders_sweep(None).await.unwrap();
        (core.metrics().await.unwrap().orders_pending == 0).then_some(())
    })
    .await;
    let m = core.metrics().await.unwrap();
    assert!(m.ocr_paused);
    assert_eq!(m.orders_cancelled, 1, "{} lapsed", lapsed.order_no);
    assert_eq!(m.orders_paid_late, 1, "found by the sweep; a notify's payment is not late");
    assert_eq!(m.payment_conflicts, 0);
    core.shutdown().await;
}

#[test]
// `figment::Jail` closures return `figment::Error`, which is large; that is its API, not ours.
#[allow(clippy::result_large_err)]
fn the_api_token_is_a_secret_with_a_minimum_length() {
    Jail::expect_with(|jail| {
        let dir = jail.directory().to_path_buf();
        let load = || Config::from_layers(dir.join("data"), None);
        let unset = load().unwrap();
        assert!(unset.api_token.is_none());
        let effective = unset.effective();
        assert!(effective.iter().any(|(k, v, o)| *k == "api_token" && v == "(not set)" && o == "default"));

        jail.set_env("OPSDECK_API_TOKEN", "s3cret-token-0123456789");
        let set = load().unwrap();
        assert_eq!(set.api_token.as_ref().unwrap().expose_secret(), "s3cret-token-0123456789");
        let (_, value, origin) = set.effective().into_iter().find(|(k, _, _)| *k == "api_token").unwrap();
        assert_eq!((value.as_str(), origin.as_str()), ("****", "OPSDECK_API_TOKEN"));
        assert!(!format!("{set:?}").contains("s3cret"), "Debug masks it");

        // Digits only still reads as text.
        jail.set_env("OPSDECK_API_TOKEN", "12345678901234567");
        assert_eq!(load().unwrap().api_token.unwrap().expose_secret(), "12345678901234567");

        jail.set_env("OPSDECK_API_TOKEN", "short");
        let refused = load().unwrap_err().to_string();
        assert!(refused.contains("`api_token`") && refused.contains("OPSDECK_API_TOKEN"), "{refused}");
        assert!(!refused.contains("short\""), "the value is not shown: {refused}");
        Ok(())
    });
}
