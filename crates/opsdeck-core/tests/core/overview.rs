//! The Overview's figures, its shared depth history and its push to a listening console, against
//! the real Redis and SQLite. (Sandbox mode, its start-up and simulated shop, is the
//! opsdeck-sandbox crate's and is tested there.)

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use opsdeck_api::Event;
use opsdeck_core::orders::model::{NewGoods, OrderDraft, OrderItem, OrderKind};
use opsdeck_core::overview::{BUCKET, DepthHistory, HISTORY};
use opsdeck_core::scheduler::{JobDraft, RunOutcome, TriggerSpec};
use opsdeck_core::{Actor, Config, Core};
use opsdeck_sandbox::alipay::{
    FakeAlipay, FakeAlipayConfig, Outcome, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY,
};

use crate::helpers::{config_with, redis_url, sqlite_config, toml_string, unique, until};

fn config(dir: &Path, alipay: &FakeAlipay, extra: &[(&str, String)]) -> Config {
    let mut lines = vec![
        ("data_dir", toml_string(&dir.display().to_string())),
        ("redis_url", toml_string(&redis_url())),
        ("redis_prefix", toml_string(&unique("ov"))),
        ("alipay_gateway_url", toml_string(&alipay.gateway_url)),
        ("alipay_app_id", toml_string(&FakeAlipayConfig::default().app_id)),
        ("alipay_private_key", format!("'''{SANDBOX_APP_PRIVATE_KEY}'''")),
        ("alipay_public_key", format!("'''{SANDBOX_ALIPAY_PUBLIC_KEY}'''")),
        ("order_expiry_seconds", "1".into()),
        ("scheduler_enabled", "false".into()),
    ];
    lines.extend(extra.iter().cloned());
    config_with(dir, &lines)
}

fn one_item(user_id: i64, goods_id: i64) -> OrderDraft {
    OrderDraft {
        user_id,
        kind: OrderKind::Goods,
        items: vec![OrderItem { goods_id, quantity: 1, price_fen: 0 }],
        amount_fen: None,
    }
}

#[tokio::test]
async fn the_overview_counts_payments_cancellations_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = FakeAlipay::start("127.0.0.1:0".parse().unwrap(), FakeAlipayConfig::default()).await.unwrap();
    let core = Core::start(config(dir.path(), &alipay, &[])).await.unwrap();
    let tester = Actor::system("tester");
    let goods = core
        .goods_create(NewGoods { sku: unique("sku"), name: "Tea".into(), price_fen: 1250, stock: 10 }, &tester)
        .await
        .unwrap();

    let before = core.overview(&Actor::system("tester")).await.unwrap();
    assert_eq!(
        (before.orders.pending, before.orders.cancelled_last_hour, before.orders.paid_last_hour),
        (0, 0, 0),
        "a fresh database has nothing to count"
    );

    // One paid by its notify, one paid at Alipay whose notify never came (found by the sweep),
    // one never paid (cancelled by the sweep).
    let notified = core.order_place(one_item(1, goods.id)).await.unwrap();
    let late = core.order_place(one_item(2, goods.id)).await.unwrap();
    let unpaid = core.order_place(one_item(3, goods.id)).await.unwrap();
    let soon = core.overview(&Actor::system("tester")).await.unwrap();
    assert_eq!(soon.orders.pending, 3);
    assert_eq!(soon.orders.expiring_soon, 3, "a 1-second deadline falls within the next 5 minutes");

    core.order_mark_paid(&notified.order_no, "T-1", "notify").await.unwrap();
    alipay.set(&late.order_no, Outcome::Paid { total_amount: "12.50".into() });
    until("both remaining orders are swept", || async {
        core.orders_sweep(None).await.unwrap();
        let o = core.overview(&Actor::system("tester")).await.unwrap();
        (o.orders.pending == 0).then_some(())
    })
    .await;

    let after = core.overview(&Actor::system("tester")).await.unwrap();
    assert_eq!(after.orders.cancelled_last_hour, 1);
    assert_eq!(after.orders.paid_last_hour, 2);
    assert_eq!(after.orders.paid_late_last_hour, 1, "the sweep found one payment whose notify was lost");
    assert_eq!(after.orders.recent_cancelled.len(), 1);
    assert_eq!(after.orders.recent_cancelled[0].order_no, unpaid.order_no);
    assert_eq!(after.orders.recent_cancelled[0].amount_fen, 1250);

    // A job that fails shows with its error; a later run of another kind does not hide it.
    let failing = core
        .job_create(
            JobDraft {
                name: "ping-nowhere".into(),
                kind: "http_get".into(),
                trigger: TriggerSpec::Interval { every_seconds: 3600, start: None, end: None },
                timezone: "Asia/Shanghai".into(),
                args: serde_json::json!({ "url": "http://127.0.0.1:9/ping" }),
                policy: Default::default(),
            },
            &tester,
        )
        .await
        .unwrap();
    core.job_run_now(failing.id, &tester).await.unwrap();
    let failure = until("the failing run is in the overview", || async {
        core.overview(&Actor::system("tester")).await.unwrap().failures.into_iter().find(|f| f.job_id == failing.id)
    })
    .await;
    assert_eq!(failure.job_name, "ping-nowhere");
    assert_eq!(failure.outcome, RunOutcome::Failed);
    assert!(failure.error.as_ref().is_some_and(|e| e.code == "http_get_failed"), "the error is shown: {failure:?}");
    core.shutdown().await;
}

#[tokio::test]
async fn the_depth_history_keeps_one_sample_per_bucket_for_an_hour() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    let history = DepthHistory::new(core.redis().clone());
    let now = Utc::now();
    let bucket = chrono::Duration::from_std(BUCKET).unwrap();

    // Two instances sample the same bucket: the first one's sample stands.
    history.record(now, 5, 1.5).await.unwrap();
    history.record(now, 9, 2.0).await.unwrap();
    history.record(now - bucket, 7, 0.5).await.unwrap();
    let samples = history.read(now).await.unwrap();
    let ours: Vec<(i64, f64)> =
        samples.iter().filter(|s| s.at >= now - bucket * 2).map(|s| (s.depth, s.calls_per_second)).collect();
    assert_eq!(ours, vec![(7, 0.5), (5, 1.5)], "oldest first, one per bucket");

    // Older than an hour: not shown, and dropped at the next write.
    let old = now - chrono::Duration::from_std(HISTORY).unwrap() - bucket * 3;
    history.record(old, 42, 0.0).await.unwrap();
    assert!(history.read(now).await.unwrap().iter().all(|s| s.depth != 42));
    history.record(now + bucket, 1, 0.0).await.unwrap();
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg(core.redis().key("overview:ocr_depth"))
        .query_async(&mut core.redis().manager())
        .await
        .unwrap();
    assert!(
        !fields.contains(&opsdeck_core::overview::bucket_of(old).to_string()),
        "an old sample is dropped: {fields:?}"
    );

    // The core's own sampler writes the current bucket.
    core.overview_sample().await.unwrap();
    let samples = core.overview(&Actor::system("tester")).await.unwrap().ocr.history;
    assert!(samples.iter().any(|s| s.at.timestamp() == opsdeck_core::overview::bucket_of(Utc::now())
        || s.at.timestamp() == opsdeck_core::overview::bucket_of(now)));
    core.shutdown().await;
}

#[tokio::test]
async fn a_listening_console_gets_the_overview_pushed_with_the_instances_online() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    let mut events = core.subscribe();
    let pushed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.recv().await {
                Ok(Event::Overview { overview }) if !overview.instances.is_empty() => return overview,
                Ok(_) => continue,
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    })
    .await
    .expect("an overview with this instance online is pushed within 20 s");
    let me = pushed.instances.iter().find(|i| i.is_self).expect("this instance is listed");
    assert_eq!(me.id, core.instance_id());
    core.shutdown().await;
}
