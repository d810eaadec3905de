//! Order expiry against the real Redis, SQLite, MariaDB and the fake Alipay.

use std::path::Path;

use opsdeck_api::ErrorBody;
use opsdeck_api::orders::{CancelCode, CancelReason};
use opsdeck_core::orders::model::{Goods, NewGoods, OrderDraft, OrderItem, OrderKind, OrderQuery, PaidOutcome};
use opsdeck_core::{Actor, Config, Core};
use opsdeck_sandbox::alipay::{
    FakeAlipay, FakeAlipayConfig, Outcome, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY, SANDBOX_SELLER_ID,
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
    let g = core.goods_list(&Actor::system("tester")).await.unwrap().into_iter().find(|g| g.id == id).unwrap();
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

async fn cancelled_by(core: &Core, order_no: &str) -> Option<(String, CancelReason)> {
    let page = core
        .cancelled_list(
            OrderQuery { search: Some(order_no.into()), limit: 10, ..OrderQuery::default() },
            &Actor::system("tester"),
        )
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
    assert_eq!(
        (short.code.as_str(), short.params["wanted"].as_str(), short.params["available"].as_str()),
        ("stock_short", "3", "2")
    );
    assert_eq!(short.params["name"], tea.name, "the catalogue names the goods");
    assert_eq!(stock(core, tea.id).await, (2, 3, 0), "a refused order changes nothing");
    for (draft, field, code) in [
        (buy(0, tea.id, 1), "user_id", "user_id_invalid"),
        (buy(7, tea.id, 0), "items", "quantity_out_of_range"),
        (buy(7, 999_999, 1), "items", "goods_unknown"),
        (
            OrderDraft { user_id: 7, kind: OrderKind::TopUp, items: vec![], amount_fen: Some(0) },
            "amount_fen",
            "amount_out_of_range",
        ),
    ] {
        let body: ErrorBody = core.order_place(draft).await.unwrap_err().into();
        assert_eq!((body.field.as_deref(), body.code.as_str()), (Some(field), code), "{body:?}");
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
    // Waiting and never opened: closed at Alipay, cancelled, stock back. The reason is kept as a
    // code and its params (rendered in the viewer's language), not as English text.
    let (by, reason) = cancelled_by(&core, &waiting.order_no).await.unwrap();
    assert_eq!(by, "sweep");
    assert_eq!(reason, CancelReason::new(CancelCode::UnpaidSeconds).param("seconds", 1));
    assert_eq!(
        serde_json::to_value(&reason).unwrap(),
        serde_json::json!({ "code": "unpaid_seconds", "params": { "seconds": "1" } })
    );
    assert_eq!(cancelled_by(&core, &never_opened.order_no).await.unwrap().0, "sweep");
    // Paid after all (the notification was lost): marked paid, not cancelled.
    assert!(cancelled_by(&core, &paid_late.order_no).await.is_none());
    let tester = Actor::system("tester");
    let paid = core.orders_list(
        OrderQuery { search: Some(paid_late.order_no.clone()), limit: 5, ..OrderQuery::default() },
        &tester,
    );
    assert!(paid.await.unwrap().orders[0].paid_at.is_some());
    // Provider trouble: still pending and due.
    assert!(core.order_get(&flaky.order_no).await.is_ok());
    assert_eq!(stock(&core, tea.id).await, (100 - 4 - 5, 5, 4));
    // The timeline tells the story, linked to nothing here (a direct sweep has no run).
    let events: Vec<String> = core
        .order_timeline(&waiting.order_no, &Actor::system("tester"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, ["placed", "queried", "closed", "cancelled", "stock_restored"]);
    let methods: Vec<String> =
        alipay.calls().into_iter().filter(|c| c.out_trade_no == waiting.order_no).map(|c| c.method).collect();
    assert_eq!(methods, ["alipay.trade.query", "alipay.trade.close"]);

    // A payment reported for a cancelled order is a conflict for staff, recorded once.
    let conflict = core.order_mark_paid(&waiting.order_no, "T9", "notify").await.unwrap();
    assert_eq!(conflict, PaidOutcome::Conflict);
    assert_eq!(core.order_mark_paid(&waiting.order_no, "T9", "notify").await.unwrap(), PaidOutcome::Conflict);
    let conflicts = core.order_timeline(&waiting.order_no, &Actor::system("tester")).await.unwrap();
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
    assert_eq!(
        cancelled_by(&core, &order.order_no).await.unwrap(),
        ("alice".into(), CancelReason::staff("customer asked"))
    );
    assert_eq!(stock(&core, tea.id).await, (10, 0, 0));
    assert_eq!(core.audit_list(1, None, &Actor::system("tester")).await.unwrap().entries[0].action, "order.cancel");
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
    assert_eq!(refused.code, "order_paid");
    assert_eq!(alipay.calls().len(), calls);

    // Placed from the console: audited, and the timeline names the staff member.
    let by_staff = core.order_place_by(buy(3, tea.id, 1), &Actor::system("alice")).await.unwrap();
    assert_eq!(core.audit_list(1, None, &Actor::system("tester")).await.unwrap().entries[0].action, "order.place");
    assert_eq!(core.order_timeline(&by_staff.order_no, &Actor::system("tester")).await.unwrap()[0].who, "alice");
    let summary = core.orders_summary(&Actor::system("tester")).await.unwrap();
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

#[tokio::test]
async fn one_order_the_database_refuses_holds_back_no_other_cancellation() {
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
    // The database refuses the third order's cancellation (a poison row): the batch's
    // transaction rolls back as a whole, then each order is cancelled on its own.
    let poison = orders[2].clone();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TRIGGER fail_third BEFORE INSERT ON cancelled_orders \
         WHEN NEW.order_no = '{poison}' \
         BEGIN SELECT RAISE(ABORT, 'database went away'); END"
    )))
    .execute(core.database().pool())
    .await
    .unwrap();
    let summary = core.orders_sweep(None).await.unwrap();
    assert_eq!(summary.failed, vec![poison.clone()], "{summary:?}");
    assert_eq!(summary.cancelled.len(), 4, "{summary:?}");
    assert_eq!(stock(&core, tea.id).await, (48, 2, 0), "only the poison order's stock still locked");
    assert_eq!(core.orders_summary(&Actor::system("tester")).await.unwrap().pending, 1);
    let mut redis = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}:orders:due");
    let due: Option<f64> = redis::cmd("ZSCORE").arg(&key).arg(&poison).query_async(&mut redis).await.unwrap();
    assert!(due.is_some(), "{poison} is still due");
    // The database is back: the next sweep (once the retry is due) cancels it, once.
    sqlx::query("DROP TRIGGER fail_third").execute(core.database().pool()).await.unwrap();
    let _: () = redis::cmd("ZADD").arg(&key).arg(0).arg(&poison).query_async(&mut redis).await.unwrap();
    let summary = core.orders_sweep(None).await.unwrap();
    assert_eq!(summary.cancelled, vec![poison], "{summary:?}");
    assert_eq!(stock(&core, tea.id).await, (50, 0, 0));
    core.shutdown().await;
}

/// A top-up paid at Alipay with another amount than the order's, its notify lost: the sweep's
/// query finds it paid, and it must still never count as paid: no balance, a conflict on the
/// timeline (and in `payment_conflicts`), the order out of the sweep, and staff told why when
/// they check the payment or try to cancel. A notify of that payment arriving late changes
/// nothing either.
async fn a_payment_of_another_amount_is_never_applied(database: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let extra: Vec<(&str, String)> = database.iter().map(|url| ("database_url", toml_string(url))).collect();
    let core = start(dir.path(), &unique("t"), &alipay, &extra).await;
    let top_up = OrderDraft { user_id: 42, kind: OrderKind::TopUp, items: vec![], amount_fen: Some(5000) };
    let order = core.order_place(top_up).await.unwrap();
    alipay.pay(&order.order_no, "0.01");
    until("the deadline has passed", || std::future::ready((chrono::Utc::now() > order.expires_at).then_some(())))
        .await;
    let summary = core.orders_sweep(None).await.unwrap();
    assert_eq!(summary.conflicts, vec![order.order_no.clone()], "{summary:?}");
    assert!(summary.found_paid.is_empty() && summary.cancelled.is_empty());
    let still = core.order_get(&order.order_no).await.unwrap();
    assert!(still.paid_at.is_none(), "not paid");
    let pool = core.database().pool();
    let balance: Option<i64> = sqlx::query_scalar("SELECT balance_fen FROM user_balances WHERE user_id = 42")
        .fetch_optional(pool)
        .await
        .unwrap();
    assert_eq!(balance.unwrap_or(0), 0, "nothing credited");
    let timeline = core.order_timeline(&order.order_no, &Actor::system("tester")).await.unwrap();
    let conflicts: Vec<_> = timeline.iter().filter(|e| e.event == "conflict").collect();
    assert_eq!(conflicts.len(), 1, "{timeline:?}");
    let detail = conflicts[0].detail.as_ref().unwrap();
    assert_eq!((detail["paid_fen"].as_i64(), detail["amount_fen"].as_i64()), (Some(1), Some(5000)));
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payment_conflicts WHERE order_no = ?")
        .bind(order.order_no.clone())
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(recorded, 1);
    // No longer due: another sweep and a reconcile leave it alone.
    assert_eq!(core.orders_sweep(None).await.unwrap().conflicts.len(), 0);
    assert_eq!(core.orders_reconcile().await.unwrap().added, 0);
    // Staff are told, and nothing changes.
    let staff = Actor::system("alice");
    let checked: ErrorBody = core.order_check_payment(&order.order_no, &staff).await.unwrap_err().into();
    assert!(checked.message.contains("another amount"), "{}", checked.message);
    assert_eq!(
        (checked.code.as_str(), checked.params["order_no"].as_str()),
        ("order_amount_conflict", order.order_no.as_str())
    );
    let refused: ErrorBody = core.order_cancel(&order.order_no, "stale", &staff).await.unwrap_err().into();
    assert!(refused.message.contains("another amount"), "{}", refused.message);
    assert_eq!(refused.code, "order_amount_conflict");
    // The lost notify arrives after all: refused (field total_amount), the same conflict, not
    // applied, and not recorded twice.
    let form = alipay.signed_notify(&order.order_no, "0.01", "TRADE_SUCCESS");
    let refused: ErrorBody = core.alipay_notify(&form).await.unwrap_err().into();
    assert_eq!(refused.field.as_deref(), Some("total_amount"), "{}", refused.message);
    assert!(core.order_get(&order.order_no).await.unwrap().paid_at.is_none());
    let conflicts = crate::helpers::timeline_events(&core, &order.order_no, "conflict").await;
    assert_eq!(conflicts, 1, "one conflict per trade");
    core.shutdown().await;
}

#[tokio::test]
async fn a_payment_of_another_amount_is_never_applied_on_sqlite() {
    a_payment_of_another_amount_is_never_applied(None).await;
}

#[tokio::test]
async fn a_payment_of_another_amount_is_never_applied_on_mariadb() {
    a_payment_of_another_amount_is_never_applied(Some(crate::helpers::fresh_mysql_url().await)).await;
}

/// Redis says an order is due (its entry scored early: another instance's clock ahead, a hand
/// edit), but its deadline in SQL is 10 minutes away: the sweep neither asks Alipay (nor closes
/// the trade) nor cancels it, and puts it back at its deadline; `cancel_batch` given the clock
/// refuses it too.
#[tokio::test]
async fn an_order_before_its_deadline_is_not_cancelled_though_redis_says_it_is_due() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let prefix = unique("t");
    let core = start(dir.path(), &prefix, &alipay, &[("order_expiry_seconds", "600".into())]).await;
    let tea = goods(&core, 10).await;
    let order = core.order_place(buy(1, tea.id, 2)).await.unwrap();
    let mut redis = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let due = format!("{prefix}:orders:due");
    let _: () = redis::cmd("ZADD").arg(&due).arg(1).arg(&order.order_no).query_async(&mut redis).await.unwrap();

    let summary = core.orders_sweep(None).await.unwrap();
    assert!(summary.cancelled.is_empty() && summary.found_paid.is_empty(), "{summary:?}");
    assert_eq!(core.order_get(&order.order_no).await.unwrap().order_no, order.order_no, "still pending");
    assert_eq!(stock(&core, tea.id).await, (8, 2, 0), "stock still locked");
    let timeline = core.order_timeline(&order.order_no, &Actor::system("tester")).await.unwrap();
    assert_eq!(timeline.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(), ["placed"], "Alipay not asked");
    let score: Option<i64> = redis::cmd("ZSCORE").arg(&due).arg(&order.order_no).query_async(&mut redis).await.unwrap();
    assert_eq!(score, Some(order.expires_at.timestamp_millis()), "back at its deadline");

    // The store's own guard: a cancellation for the sweep, given the clock, leaves it alone.
    let batch = [(order.order_no.clone(), "expired".to_string())];
    let now = chrono::Utc::now();
    let cancelled = opsdeck_core::orders::store::cancel_batch(core.database(), &batch, "sweep", None, now, Some(now))
        .await
        .unwrap();
    assert!(cancelled.is_empty());
    assert_eq!(stock(&core, tea.id).await, (8, 2, 0));
    core.shutdown().await;
}

/// A paid top-up refunded in full at Alipay: its notify says `TRADE_CLOSED`. Acknowledged (so
/// Alipay stops repeating it), the order stays paid, and the refund is on its timeline once.
#[tokio::test]
async fn a_refund_of_a_paid_order_is_recorded_not_passed_silently() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[("order_expiry_seconds", "600".into())]).await;
    let top_up = OrderDraft { user_id: 43, kind: OrderKind::TopUp, items: vec![], amount_fen: Some(800) };
    let order = core.order_place(top_up).await.unwrap();
    let paid = alipay.signed_notify(&order.order_no, "8.00", "TRADE_SUCCESS");
    core.alipay_notify(&paid).await.unwrap();
    let closed = alipay.signed_notify(&order.order_no, "8.00", "TRADE_CLOSED");
    for _ in 0..2 {
        core.alipay_notify(&closed).await.unwrap();
    }
    assert!(core.order_get(&order.order_no).await.unwrap().paid_at.is_some(), "still paid");
    let timeline = core.order_timeline(&order.order_no, &Actor::system("tester")).await.unwrap();
    let refunds: Vec<_> = timeline.iter().filter(|e| e.event == "refunded").collect();
    assert_eq!(refunds.len(), 1, "{timeline:?}");
    assert_eq!(refunds[0].who, "notify");
    // A closed notify for an unpaid order is no refund.
    let waiting = core.order_place(OrderDraft { amount_fen: Some(900), ..top_up_draft(44) }).await.unwrap();
    core.alipay_notify(&alipay.signed_notify(&waiting.order_no, "9.00", "TRADE_CLOSED")).await.unwrap();
    let timeline = core.order_timeline(&waiting.order_no, &Actor::system("tester")).await.unwrap();
    assert!(timeline.iter().all(|e| e.event != "refunded"), "{timeline:?}");
    core.shutdown().await;
}

fn top_up_draft(user_id: i64) -> OrderDraft {
    OrderDraft { user_id, kind: OrderKind::TopUp, items: vec![], amount_fen: Some(100) }
}

/// Two requests with one idempotency key at once: one order, stock locked once, both answered
/// with it; on MariaDB the second's key insert waits for the first's transaction.
async fn one_idempotency_key_places_one_order(database: Option<String>) {
    use opsdeck_core::orders::idempotency::Keyed;
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let extra: Vec<(&str, String)> = database.iter().map(|url| ("database_url", toml_string(url))).collect();
    let core = start(dir.path(), &unique("t"), &alipay, &extra).await;
    let tea = goods(&core, 10).await;
    let (a, b) = tokio::join!(
        core.order_place_keyed(buy(1, tea.id, 2), "key-1"),
        core.order_place_keyed(buy(1, tea.id, 2), "key-1")
    );
    let order_no = |k: Keyed| match k {
        Keyed::Placed(o) | Keyed::Replayed(o) => o.order_no,
        Keyed::Reused { order_no } => panic!("the same request is no reuse ({order_no})"),
    };
    assert_eq!(order_no(a.unwrap()), order_no(b.unwrap()), "one order");
    assert_eq!(stock(&core, tea.id).await, (8, 2, 0), "stock locked once");
    assert!(matches!(core.order_place_keyed(buy(1, tea.id, 3), "key-1").await.unwrap(), Keyed::Reused { .. }));
    assert_eq!(stock(&core, tea.id).await, (8, 2, 0));
    core.shutdown().await;
}

#[tokio::test]
async fn one_idempotency_key_places_one_order_on_sqlite() {
    one_idempotency_key_places_one_order(None).await;
}

#[tokio::test]
async fn one_idempotency_key_places_one_order_on_mariadb() {
    one_idempotency_key_places_one_order(Some(crate::helpers::fresh_mysql_url().await)).await;
}

/// A notify Alipay signed for one of our orders but with an amount that cannot be read: refused
/// (Alipay repeats it), and the refusal is on the order's timeline, once per notify.
#[tokio::test]
async fn a_refused_notify_leaves_its_trace_on_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[("order_expiry_seconds", "600".into())]).await;
    let order = core.order_place(top_up_draft(45)).await.unwrap();
    let unreadable = alipay.signed_notify(&order.order_no, "1.000", "TRADE_SUCCESS");
    for _ in 0..2 {
        let refused: ErrorBody = core.alipay_notify(&unreadable).await.unwrap_err().into();
        assert_eq!(refused.field.as_deref(), Some("total_amount"), "{}", refused.message);
    }
    let timeline = core.order_timeline(&order.order_no, &Actor::system("tester")).await.unwrap();
    let refusals: Vec<_> = timeline.iter().filter(|e| e.event == "notify_refused").collect();
    assert_eq!(refusals.len(), 1, "{timeline:?}");
    let reason = refusals[0].detail.as_ref().unwrap()["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("not an amount"), "{reason}");
    assert!(core.order_get(&order.order_no).await.unwrap().paid_at.is_none());
    core.shutdown().await;
}

/// Every notify Alipay signed but we refuse leaves its trace on the order it names: for another
/// app, for another seller (when `alipay_seller_id` is set), with a status we do not know.
#[tokio::test]
async fn notifies_for_another_app_or_seller_or_status_are_refused_with_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let extra = [("order_expiry_seconds", "600".into()), ("alipay_seller_id", toml_string(SANDBOX_SELLER_ID))];
    let core = start(dir.path(), &unique("t"), &alipay, &extra).await;
    let order = core.order_place(top_up_draft(47)).await.unwrap();
    let amount = format!("{}.{:02}", order.amount_fen / 100, order.amount_fen % 100);
    let signing_as = |config: FakeAlipayConfig| async move {
        FakeAlipay::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
    };
    let other_seller = signing_as(FakeAlipayConfig { seller_id: "2088000000000001".into(), ..Default::default() })
        .await
        .signed_notify(&order.order_no, &amount, "TRADE_SUCCESS");
    let other_app = signing_as(FakeAlipayConfig { app_id: "2021000000009999".into(), ..Default::default() })
        .await
        .signed_notify(&order.order_no, &amount, "TRADE_SUCCESS");
    let odd_status = alipay.signed_notify(&order.order_no, &amount, "TRADE_PENDING");
    for (form, name) in [(&other_seller, "seller_id"), (&other_app, "app_id"), (&odd_status, "trade_status")] {
        for _ in 0..2 {
            let refused: ErrorBody = core.alipay_notify(form).await.unwrap_err().into();
            assert_eq!(refused.field.as_deref(), Some(name), "{}", refused.message);
        }
    }
    let timeline = core.order_timeline(&order.order_no, &Actor::system("tester")).await.unwrap();
    let fields: Vec<&str> = timeline
        .iter()
        .filter(|e| e.event == "notify_refused")
        .map(|e| e.detail.as_ref().unwrap()["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["seller_id", "app_id", "trade_status"], "one trace per notify: {timeline:?}");
    assert!(core.order_get(&order.order_no).await.unwrap().paid_at.is_none(), "nothing applied");
    core.shutdown().await;
}

/// A payment reported without Alipay's trade number (a query's answer may lack it) is stored
/// with none, not with an empty one.
#[tokio::test]
async fn a_payment_without_a_trade_number_stores_none_not_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[("order_expiry_seconds", "600".into())]).await;
    let order = core.order_place(top_up_draft(46)).await.unwrap();
    assert_eq!(core.order_mark_paid(&order.order_no, "", "tester").await.unwrap(), PaidOutcome::Applied);
    let paid = core.order_get(&order.order_no).await.unwrap();
    assert!(paid.paid_at.is_some());
    assert_eq!(paid.trade_no, None);
    core.shutdown().await;
}

/// Alipay refusing the calls themselves (here 40002 `isv.invalid-app-id`: the configured app id
/// is not the one Alipay knows) is no passing trouble: the orders stay pending (never cancelled
/// without an answer), and the sweep's run fails with the refusal, so staff see it at once;
/// staff cancel says to check the configuration.
#[tokio::test]
async fn a_permanent_alipay_refusal_fails_the_sweep_run_and_cancels_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[("alipay_app_id", toml_string("2021000000009999"))]).await;
    let order = core.order_place(top_up_draft(48)).await.unwrap();
    alipay.set(&order.order_no, Outcome::Waiting);
    let summary = until("the sweep reaches the due order", || async {
        let summary = core.orders_sweep(None).await.unwrap();
        (!summary.refused.is_empty()).then_some(summary)
    })
    .await;
    assert_eq!(summary.refused, std::slice::from_ref(&order.order_no));
    assert!(summary.cancelled.is_empty() && summary.retried.is_empty(), "{summary:?}");
    // The run's failure is a code with the count (Alipay's own text goes to the log).
    let failure = opsdeck_core::orders::expiry::outcome(&summary).unwrap_err();
    assert_eq!(failure.code, "sweep_refused", "{failure:?}");
    assert_eq!(failure.params.get("count").map(String::as_str), Some("1"), "{failure:?}");
    assert!(core.order_get(&order.order_no).await.unwrap().paid_at.is_none(), "still pending");
    assert!(cancelled_by(&core, &order.order_no).await.is_none(), "never cancelled without an answer");

    let refused: ErrorBody =
        core.order_cancel(&order.order_no, "customer asked", &Actor::system("alice")).await.unwrap_err().into();
    assert_eq!(refused.code, "alipay_refused", "{}", refused.message);
    assert!(refused.message.contains("check the Alipay configuration"), "{}", refused.message);
    assert!(cancelled_by(&core, &order.order_no).await.is_none());
    core.shutdown().await;
}

/// A sweep round slower than the due-order lease (Alipay 1.2 s away per call, lease 1 s) keeps
/// its orders: it renews their leases while it works, so another instance sweeping all the
/// while never takes them over, and Alipay is asked about each order once (one query, one
/// close), not once per instance.
#[tokio::test]
async fn a_round_slower_than_the_lease_keeps_its_orders() {
    let dir = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    let database = format!("sqlite://{}/orders.db?mode=rwc", dir.path().display());
    let alipay = fake().await;
    let slow = crate::proxy::FaultProxy::start(crate::proxy::server_of(&alipay.gateway_url)).await;
    let delay = std::time::Duration::from_millis(1200);
    slow.set_latency(delay, delay);
    let prefix = unique("t");
    let shared = [("database_url", toml_string(&database)), ("expiry_lease_seconds", "1".into())];
    let mut through_slow = shared.to_vec();
    through_slow.push(("alipay_gateway_url", toml_string(&slow.url_through(&alipay.gateway_url))));
    let a = start(&dir_a, &prefix, &alipay, &through_slow).await;
    let b = start(&dir_b, &prefix, &alipay, &shared).await;
    let mut orders = Vec::new();
    for user in 0..4 {
        let order = a.order_place(top_up_draft(60 + user)).await.unwrap();
        alipay.set(&order.order_no, Outcome::Waiting);
        orders.push(order.order_no);
    }
    let redis = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let (due, inflight) = (format!("{prefix}:orders:due"), format!("{prefix}:orders:inflight"));
    until("every order is due by Redis's clock", || {
        let (mut redis, due) = (redis.clone(), due.clone());
        async move {
            let (secs, _): (i64, i64) = redis::cmd("TIME").query_async(&mut redis).await.unwrap();
            let due_now: usize =
                redis::cmd("ZCOUNT").arg(&due).arg("-inf").arg(secs * 1000).query_async(&mut redis).await.unwrap();
            (due_now == 4).then_some(())
        }
    })
    .await;
    // A claims them all, then works through the slow link for about 2.4 s.
    let sweep_a = tokio::spawn({
        let a = a.clone();
        async move { a.orders_sweep(None).await.unwrap() }
    });
    until("A claims the four orders", || {
        let (mut redis, inflight) = (redis.clone(), inflight.clone());
        async move {
            let claimed: usize = redis::cmd("ZCARD").arg(&inflight).query_async(&mut redis).await.unwrap();
            (claimed == 4).then_some(())
        }
    })
    .await;
    // B sweeps all the while A works: it must find nothing to take.
    let mut b_found = Vec::new();
    while !sweep_a.is_finished() {
        let summary = b.orders_sweep(None).await.unwrap();
        b_found.extend(summary.cancelled.into_iter().chain(summary.retried).chain(summary.found_paid));
    }
    let summary_a = sweep_a.await.unwrap();
    assert!(b_found.is_empty(), "B took over orders A was still working on: {b_found:?}");
    let mut cancelled = summary_a.cancelled.clone();
    cancelled.sort();
    orders.sort();
    assert_eq!(cancelled, orders, "A settled all four: {summary_a:?}");
    for order_no in &orders {
        let methods: Vec<String> =
            alipay.calls().into_iter().filter(|c| &c.out_trade_no == order_no).map(|c| c.method).collect();
        assert_eq!(methods, ["alipay.trade.query", "alipay.trade.close"], "{order_no}: asked once");
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// An order tells the shop the absolute `time_expire` to create its Alipay trade with: before
/// the local deadline, so that Alipay has closed the trade when the sweep cancels the order. The
/// fake Alipay closes a trade at its `time_expire` as Alipay does: a buyer past it cannot pay.
#[tokio::test]
async fn the_trade_expires_at_alipay_before_the_order_expires_here() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[("order_expiry_seconds", "1800".into())]).await;
    let order = core.order_place(top_up_draft(49)).await.unwrap();
    let gmt8 = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let time_expire = chrono::NaiveDateTime::parse_from_str(&order.alipay_time_expire, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_local_timezone(gmt8)
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert!(time_expire < order.expires_at, "{time_expire} is before {}", order.expires_at);
    let before = order.expires_at - time_expire;
    assert!(before >= chrono::Duration::seconds(59) && before <= chrono::Duration::seconds(61), "{before}");
    // The same value whenever the order is read.
    assert_eq!(core.order_get(&order.order_no).await.unwrap().alipay_time_expire, order.alipay_time_expire);
    // A short-lived order: half its life before the deadline.
    let half = opsdeck_core::orders::model::alipay_time_expire(
        order.created_at,
        order.created_at + chrono::Duration::seconds(10),
    );
    let expected = (order.created_at + chrono::Duration::seconds(5)).with_timezone(&gmt8).format("%Y-%m-%d %H:%M:%S");
    assert_eq!(half, expected.to_string());

    // At the fake: a trade opened with a time_expire already past cannot be paid, and is closed.
    let past = (chrono::Utc::now() - chrono::Duration::seconds(1)).with_timezone(&gmt8).format("%Y-%m-%d %H:%M:%S");
    alipay.open_trade(&order.order_no, &past.to_string()).unwrap();
    assert!(!alipay.pay(&order.order_no, "50.00"), "paid after time_expire");
    let paid = core.order_check_payment(&order.order_no, &Actor::system("alice")).await.unwrap();
    assert!(!paid, "Alipay closed the trade: not paid");
    let timeline = core.order_timeline(&order.order_no, &Actor::system("tester")).await.unwrap();
    let queried = timeline.iter().find(|e| e.event == "queried").expect("the check is on the timeline");
    assert_eq!(queried.detail.as_ref().unwrap()["trade_status"], "TRADE_CLOSED");
    let later = (chrono::Utc::now() + chrono::Duration::seconds(600)).with_timezone(&gmt8).format("%Y-%m-%d %H:%M:%S");
    let other = core.order_place(top_up_draft(50)).await.unwrap();
    alipay.open_trade(&other.order_no, &later.to_string()).unwrap();
    assert!(alipay.pay(&other.order_no, "50.00"), "paid before time_expire");
    assert!(alipay.open_trade(&other.order_no, "tomorrow").is_err());
    core.shutdown().await;
}
