//! Order expiry against the real Redis, SQLite, MariaDB and the fake Alipay.

use std::path::Path;

use opsdeck_core::orders::model::{Goods, NewGoods, OrderDraft, OrderItem, OrderKind, OrderQuery, PaidOutcome};
use opsdeck_core::{Actor, Config, Core, ErrorBody};
use opsdeck_sandbox::alipay::{
    FakeAlipay, FakeAlipayConfig, Outcome, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY,
};

use crate::helpers::{config_with, redis_url, toml_string, unique, until};

async fn fake() -> FakeAlipay {
    FakeAlipay::start("127.0.0.1:0".parse().unwrap(), FakeAlipayConfig::default()).await.unwrap()
}

fn orders_config(dir: &Path, redis: &str, prefix: &str, alipay: &FakeAlipay, extra: &[(&str, String)]) -> Config {
    let mut lines = vec![
        ("data_dir", toml_string(&dir.display().to_string())),
        ("redis_url", toml_string(redis)),
        ("redis_prefix", toml_string(prefix)),
        ("health_interval_ms", "200".into()),
        ("alipay_gateway_url", toml_string(&alipay.gateway_url)),
        ("alipay_app_id", toml_string(&FakeAlipayConfig::default().app_id)),
        // PEM keys span lines: TOML's multi-line literal strings keep them as they are.
        ("alipay_private_key", format!("'''{SANDBOX_APP_PRIVATE_KEY}'''")),
        ("alipay_public_key", format!("'''{SANDBOX_ALIPAY_PUBLIC_KEY}'''")),
        ("order_expiry_seconds", "1".into()),
        ("expiry_lease_seconds", "2".into()),
        // The tests sweep when they choose (the property test turns the scheduled sweep back on).
        ("scheduler_enabled", "false".into()),
    ];
    lines.retain(|(key, _)| !extra.iter().any(|(k, _)| k == key));
    lines.extend(extra.iter().cloned());
    config_with(dir, &lines)
}

async fn start(dir: &Path, prefix: &str, alipay: &FakeAlipay, extra: &[(&str, String)]) -> Core {
    Core::start(orders_config(dir, &redis_url(), prefix, alipay, extra)).await.unwrap()
}

async fn goods(core: &Core, stock: i64) -> Goods {
    let sku = unique("sku");
    core.goods_create(NewGoods { sku, name: "Tea".into(), price_fen: 1250, stock }, &Actor::system("tester"))
        .await
        .unwrap()
}

async fn stock(core: &Core, id: i64) -> (i64, i64, i64) {
    let g = core.goods_list().await.unwrap().into_iter().find(|g| g.id == id).unwrap();
    (g.stock_available, g.stock_locked, g.stock_sold)
}

fn buy(user: i64, goods_id: i64, quantity: i64) -> OrderDraft {
    OrderDraft {
        user_id: user,
        kind: OrderKind::Goods,
        items: vec![OrderItem { goods_id, quantity, price_fen: 0 }],
        amount_fen: None,
    }
}

/// Sweeps until `order_no` is no longer pending (paid, or moved to the cancelled orders); its
/// deadline has to pass first.
async fn sweep_until_gone(core: &Core, order_no: &str) {
    until(&format!("{order_no} is swept"), || async {
        core.orders_sweep(None).await.unwrap();
        let pending = core.order_get(order_no).await.is_ok_and(|o| o.paid_at.is_none());
        (!pending).then_some(())
    })
    .await;
}

async fn cancelled_by(core: &Core, order_no: &str) -> Option<(String, String)> {
    let page = core
        .cancelled_list(OrderQuery { search: Some(order_no.into()), limit: 10, ..OrderQuery::default() })
        .await
        .unwrap();
    page.orders.first().map(|o| (o.cancelled_by.clone(), o.reason.clone()))
}

async fn placing_locks_stock_and_short_stock_changes_nothing(core: &Core) {
    let tea = goods(core, 5).await;
    let order = core.order_place(buy(7, tea.id, 3)).await.unwrap();
    assert_eq!(order.amount_fen, 3 * 1250);
    assert_eq!(stock(core, tea.id).await, (2, 3, 0));
    let short: ErrorBody = core.order_place(buy(7, tea.id, 3)).await.unwrap_err().into();
    assert_eq!(short.field.as_deref(), Some("items"));
    assert!(short.message.contains("3 wanted, 2 available"), "{}", short.message);
    assert_eq!(stock(core, tea.id).await, (2, 3, 0), "a refused order changes nothing");
    for (draft, field) in [
        (buy(0, tea.id, 1), "user_id"),
        (buy(7, tea.id, 0), "items"),
        (buy(7, 999_999, 1), "items"),
        (OrderDraft { user_id: 7, kind: OrderKind::TopUp, items: vec![], amount_fen: Some(0) }, "amount_fen"),
    ] {
        let body: ErrorBody = core.order_place(draft).await.unwrap_err().into();
        assert_eq!(body.field.as_deref(), Some(field), "{body:?}");
    }
    // Paid once, whatever the repeats: locked stock becomes sold.
    assert_eq!(core.order_mark_paid(&order.order_no, "T1", "notify").await.unwrap(), PaidOutcome::Applied);
    assert_eq!(core.order_mark_paid(&order.order_no, "T1", "notify").await.unwrap(), PaidOutcome::AlreadyPaid);
    assert_eq!(stock(core, tea.id).await, (2, 0, 3));
}

#[tokio::test]
async fn orders_lock_stock_and_are_paid_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[("order_expiry_seconds", "600".into())]).await;
    placing_locks_stock_and_short_stock_changes_nothing(&core).await;
    core.shutdown().await;
}

#[tokio::test]
async fn orders_lock_stock_and_are_paid_once_on_mariadb() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let mysql = crate::helpers::fresh_mysql_url().await;
    let extra = [("database_url", toml_string(&mysql)), ("order_expiry_seconds", "600".into())];
    let core = start(dir.path(), &unique("t"), &alipay, &extra).await;
    placing_locks_stock_and_short_stock_changes_nothing(&core).await;
    core.shutdown().await;
}

#[tokio::test]
async fn the_sweep_asks_alipay_then_cancels_or_marks_paid() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[]).await;
    let tea = goods(&core, 100).await;
    let waiting = core.order_place(buy(1, tea.id, 2)).await.unwrap();
    let never_opened = core.order_place(buy(2, tea.id, 3)).await.unwrap();
    let paid_late = core.order_place(buy(3, tea.id, 4)).await.unwrap();
    let flaky = core.order_place(buy(4, tea.id, 5)).await.unwrap();
    let top_up = core
        .order_place(OrderDraft { user_id: 5, kind: OrderKind::TopUp, items: vec![], amount_fen: Some(5000) })
        .await
        .unwrap();
    alipay.set(&waiting.order_no, Outcome::Waiting);
    alipay.pay(&paid_late.order_no, "50.00");
    alipay.set(&flaky.order_no, Outcome::SystemError { times: 1000 });
    alipay.pay(&top_up.order_no, "50.00");
    assert_eq!(stock(&core, tea.id).await, (86, 14, 0));

    sweep_until_gone(&core, &waiting.order_no).await;
    for order in [&never_opened, &paid_late, &top_up] {
        sweep_until_gone(&core, &order.order_no).await;
    }
    // Waiting and never opened: closed at Alipay, cancelled, stock back.
    assert_eq!(cancelled_by(&core, &waiting.order_no).await.unwrap().0, "sweep");
    assert_eq!(cancelled_by(&core, &never_opened.order_no).await.unwrap().0, "sweep");
    // Paid after all (the notification was lost): marked paid, not cancelled.
    assert!(cancelled_by(&core, &paid_late.order_no).await.is_none());
    let paid =
        core.orders_list(OrderQuery { search: Some(paid_late.order_no.clone()), limit: 5, ..OrderQuery::default() });
    assert!(paid.await.unwrap().orders[0].paid_at.is_some());
    // Provider trouble: still pending and due.
    assert!(core.order_get(&flaky.order_no).await.is_ok());
    assert_eq!(stock(&core, tea.id).await, (100 - 4 - 5, 5, 4));
    // The timeline tells the story, linked to nothing here (a direct sweep has no run).
    let events: Vec<String> =
        core.order_timeline(&waiting.order_no).await.unwrap().into_iter().map(|e| e.event).collect();
    assert_eq!(events, ["placed", "queried", "closed", "cancelled", "stock_restored"]);
    let methods: Vec<String> =
        alipay.calls().into_iter().filter(|c| c.out_trade_no == waiting.order_no).map(|c| c.method).collect();
    assert_eq!(methods, ["alipay.trade.query", "alipay.trade.close"]);

    // A payment reported for a cancelled order is a conflict for staff, recorded once.
    let conflict = core.order_mark_paid(&waiting.order_no, "T9", "notify").await.unwrap();
    assert_eq!(conflict, PaidOutcome::Conflict);
    assert_eq!(core.order_mark_paid(&waiting.order_no, "T9", "notify").await.unwrap(), PaidOutcome::Conflict);
    let conflicts = core.order_timeline(&waiting.order_no).await.unwrap();
    assert_eq!(conflicts.iter().filter(|e| e.event == "conflict").count(), 1);
    assert_eq!(stock(&core, tea.id).await, (91, 5, 4), "a conflict moves no stock");
    core.shutdown().await;
}

#[tokio::test]
async fn staff_cancel_asks_alipay_first_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[("order_expiry_seconds", "600".into())]).await;
    let tea = goods(&core, 10).await;
    let order = core.order_place(buy(1, tea.id, 2)).await.unwrap();
    let blank: ErrorBody = core.order_cancel(&order.order_no, " ", &Actor::system("alice")).await.unwrap_err().into();
    assert_eq!(blank.field.as_deref(), Some("reason"));
    alipay.set(&order.order_no, Outcome::Waiting);
    core.order_cancel(&order.order_no, "customer asked", &Actor::system("alice")).await.unwrap();
    assert_eq!(cancelled_by(&core, &order.order_no).await.unwrap(), ("alice".into(), "customer asked".into()));
    assert_eq!(stock(&core, tea.id).await, (10, 0, 0));
    assert_eq!(core.audit_list(1, None).await.unwrap().entries[0].action, "order.cancel");
    // Again: it is no longer pending.
    assert!(core.order_cancel(&order.order_no, "again", &Actor::system("alice")).await.is_err());

    let paid = core.order_place(buy(2, tea.id, 1)).await.unwrap();
    alipay.pay(&paid.order_no, "12.50");
    let refused: ErrorBody =
        core.order_cancel(&paid.order_no, "mistake", &Actor::system("alice")).await.unwrap_err().into();
    assert!(refused.message.contains("paid"), "{}", refused.message);
    assert!(core.order_get(&paid.order_no).await.unwrap().paid_at.is_some());
    assert_eq!(stock(&core, tea.id).await, (9, 0, 1));
    // A paid order is refused before Alipay is asked anything.
    let calls = alipay.calls().len();
    let refused: ErrorBody =
        core.order_cancel(&paid.order_no, "again", &Actor::system("alice")).await.unwrap_err().into();
    assert_eq!(refused.code, "forbidden");
    assert_eq!(alipay.calls().len(), calls);

    // Placed from the console: audited, and the timeline names the staff member.
    let by_staff = core.order_place_by(buy(3, tea.id, 1), &Actor::system("alice")).await.unwrap();
    assert_eq!(core.audit_list(1, None).await.unwrap().entries[0].action, "order.place");
    assert_eq!(core.order_timeline(&by_staff.order_no).await.unwrap()[0].who, "alice");
    let summary = core.orders_summary().await.unwrap();
    assert_eq!((summary.pending, summary.expiring_soon), (1, 0), "expiring in 10 minutes is not soon");
    core.shutdown().await;
}

#[tokio::test]
async fn reconcile_repairs_the_due_index_from_sql() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let prefix = unique("t");
    let core = start(dir.path(), &prefix, &alipay, &[("order_expiry_seconds", "600".into())]).await;
    let tea = goods(&core, 10).await;
    let a = core.order_place(buy(1, tea.id, 1)).await.unwrap();
    let b = core.order_place(buy(1, tea.id, 1)).await.unwrap();
    let mut redis = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let due = format!("{prefix}:orders:due");
    // Redis loses one order and keeps a stale entry for one that is gone.
    let _: () = redis::cmd("ZREM").arg(&due).arg(&a.order_no).query_async(&mut redis).await.unwrap();
    let _: () = redis::cmd("ZADD").arg(&due).arg(1).arg("OD-GONE").query_async(&mut redis).await.unwrap();
    let report = core.orders_reconcile().await.unwrap();
    assert_eq!((report.added, report.removed), (1, 1));
    let score: Option<i64> = redis::cmd("ZSCORE").arg(&due).arg(&a.order_no).query_async(&mut redis).await.unwrap();
    assert_eq!(score, Some(a.expires_at.timestamp_millis()));
    let score: Option<i64> = redis::cmd("ZSCORE").arg(&due).arg(&b.order_no).query_async(&mut redis).await.unwrap();
    assert!(score.is_some());
    assert_eq!(core.orders_reconcile().await.unwrap(), Default::default());
    core.shutdown().await;
}

/// What the property test did to one order.
#[derive(Debug, Default, Clone)]
struct Fate {
    /// A payment notification was applied (Applied or AlreadyPaid): it must end paid.
    paid_by_notify: bool,
    /// A payment notification came back as a conflict: it must end cancelled, with a record.
    conflict: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_interleavings_across_two_instances_keep_every_invariant() {
    const OPS: usize = 10_000;
    const ROUND: usize = 16;
    const STOCK: i64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let prefix = unique("t");
    // The scheduled sweeps run too, interleaving with the test's own.
    let scheduled = [("scheduler_enabled", "true".to_string())];
    let a = start(dir.path(), &prefix, &alipay, &scheduled).await;
    let b = start(dir.path(), &prefix, &alipay, &scheduled).await;
    let instances = [a.clone(), b.clone()];
    let mut all_goods = Vec::new();
    for _ in 0..4 {
        all_goods.push(goods(&a, STOCK).await.id);
    }
    let seed =
        std::env::var("OPSDECK_PROPTEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("property test seed: {seed} (OPSDECK_PROPTEST_SEED to replay)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let fates = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<String, Fate>::new()));
    let mut placed: Vec<String> = Vec::new();
    let mut done = 0;
    while done < OPS {
        let mut round = tokio::task::JoinSet::new();
        for _ in 0..ROUND {
            done += 1;
            let core = instances[rng.usize(..2)].clone();
            let roll = rng.u32(..100);
            let fates = fates.clone();
            let alipay = alipay.clone();
            let target = (!placed.is_empty()).then(|| placed[rng.usize(..placed.len())].clone());
            let goods_id = all_goods[rng.usize(..all_goods.len())];
            let quantity = rng.i64(1..=3);
            match (roll, target) {
                (0..30, _) | (_, None) => {
                    round.spawn(async move {
                        let order = core.order_place(buy(9, goods_id, quantity)).await.unwrap();
                        fates.lock().unwrap().insert(order.order_no.clone(), Fate::default());
                        Some(order.order_no)
                    });
                }
                (30..55, Some(no)) => {
                    round.spawn(async move {
                        alipay.pay(&no, "1.00");
                        let outcome = core.order_mark_paid(&no, &format!("T{no}"), "notify").await.unwrap();
                        let mut fates = fates.lock().unwrap();
                        let fate = fates.get_mut(&no).unwrap();
                        match outcome {
                            PaidOutcome::Applied | PaidOutcome::AlreadyPaid => fate.paid_by_notify = true,
                            PaidOutcome::Conflict => fate.conflict = true,
                        }
                        None
                    });
                }
                // Paid at Alipay, the notification lost: only a query finds it.
                (55..70, Some(no)) => {
                    alipay.pay(&no, "1.00");
                }
                (70..85, _) => {
                    round.spawn(async move {
                        core.orders_sweep(None).await.unwrap();
                        None
                    });
                }
                (_, Some(no)) => {
                    round.spawn(async move {
                        // Refused when paid or gone: fine, the invariants say what must hold.
                        let _ = core.order_cancel(&no, "property test", &Actor::system("staff")).await;
                        None
                    });
                }
            }
        }
        while let Some(result) = round.join_next().await {
            if let Some(no) = result.unwrap() {
                placed.push(no);
            }
        }
    }

    // The scheduled sweep may still be running on both instances: every check below reads one
    // consistent snapshot (a single statement) rather than rows at different moments.
    let fates = fates.lock().unwrap().clone();
    let pool = a.database().pool();
    for (no, fate) in &fates {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM orders WHERE order_no = ?) AS live, \
             (SELECT COUNT(*) FROM orders WHERE order_no = ? AND status = 'paid') AS paid, \
             (SELECT COUNT(*) FROM cancelled_orders WHERE order_no = ?) AS cancelled, \
             (SELECT COUNT(*) FROM order_events WHERE order_no = ? AND event = 'conflict') AS conflicts",
        )
        .bind(no.clone())
        .bind(no.clone())
        .bind(no.clone())
        .bind(no.clone())
        .fetch_one(pool)
        .await
        .unwrap();
        let count = |name: &str| sqlx::Row::try_get::<i64, _>(&row, name).unwrap();
        assert_eq!(count("live") + count("cancelled"), 1, "{no} must be in orders or cancelled, exactly once");
        if fate.paid_by_notify {
            assert_eq!(
                count("paid"),
                1,
                "{no} was paid by a notification but is not paid (cancelled: {})",
                count("cancelled")
            );
        }
        if fate.conflict {
            assert_eq!(count("cancelled"), 1, "{no}: a conflict is only for a cancelled order");
            assert_eq!(count("conflicts"), 1, "{no}: the conflict was recorded once");
        }
    }
    // Stock is conserved exactly, and locked and sold stock match the pending and paid orders.
    for id in &all_goods {
        let row = sqlx::query(
            "SELECT g.stock_available AS available, g.stock_locked AS locked, g.stock_sold AS sold, \
             (SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id \
              WHERE i.goods_id = g.id AND o.status = 'pending') AS pending_qty, \
             (SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id \
              WHERE i.goods_id = g.id AND o.status = 'paid') AS paid_qty \
             FROM goods g WHERE g.id = ?",
        )
        .bind(*id)
        .fetch_one(pool)
        .await
        .unwrap();
        let n = |name: &str| sqlx::Row::try_get::<i64, _>(&row, name).unwrap();
        assert_eq!(n("available") + n("locked") + n("sold"), STOCK, "goods {id}: stock not conserved");
        assert_eq!(n("locked"), n("pending_qty"), "goods {id}: locked ≠ pending orders");
        assert_eq!(n("sold"), n("paid_qty"), "goods {id}: sold ≠ paid orders");
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_database_failure_mid_sweep_applies_nothing_and_the_orders_stay_due() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let prefix = unique("t");
    let core = start(dir.path(), &prefix, &alipay, &[]).await;
    let tea = goods(&core, 50).await;
    let mut orders = Vec::new();
    let mut last_deadline = chrono::Utc::now();
    for user in 1..=5 {
        let order = core.order_place(buy(user, tea.id, 2)).await.unwrap();
        last_deadline = last_deadline.max(order.expires_at);
        orders.push(order.order_no);
    }
    // All five due, so one sweep takes them as one batch.
    until("every deadline has passed", || std::future::ready((chrono::Utc::now() > last_deadline).then_some(()))).await;
    // The database refuses the third cancellation of the batch, as a server that goes away
    // mid-transaction would: the whole batch must roll back.
    sqlx::query(
        "CREATE TRIGGER fail_third BEFORE INSERT ON cancelled_orders \
         WHEN (SELECT COUNT(*) FROM cancelled_orders) >= 2 \
         BEGIN SELECT RAISE(ABORT, 'database went away'); END",
    )
    .execute(core.database().pool())
    .await
    .unwrap();
    let summary = core.orders_sweep(None).await.unwrap();
    assert_eq!(summary.failed.len(), 5, "{summary:?}");
    assert!(summary.cancelled.is_empty());
    assert_eq!(stock(&core, tea.id).await, (40, 10, 0), "nothing half-applied");
    assert_eq!(core.orders_summary().await.unwrap().pending, 5);
    let mut redis = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    for no in &orders {
        let due: Option<f64> =
            redis::cmd("ZSCORE").arg(format!("{prefix}:orders:due")).arg(no).query_async(&mut redis).await.unwrap();
        assert!(due.is_some(), "{no} is still due");
    }
    // The database is back: the next sweep (once the retry is due) cancels them all, once.
    sqlx::query("DROP TRIGGER fail_third").execute(core.database().pool()).await.unwrap();
    let mut redis_due = redis.clone();
    let key = format!("{prefix}:orders:due");
    for no in &orders {
        let _: () = redis::cmd("ZADD").arg(&key).arg(0).arg(no).query_async(&mut redis_due).await.unwrap();
    }
    let summary = core.orders_sweep(None).await.unwrap();
    assert_eq!(summary.cancelled.len(), 5, "{summary:?}");
    assert_eq!(stock(&core, tea.id).await, (50, 0, 0));
    core.shutdown().await;
}
