//! Expiry: the sweep and staff cancel ask Alipay first, reconcile repairs the due index, one
//! refused order holds back no other, an order before its deadline is not cancelled, a permanent
//! Alipay refusal fails the run, a slow round keeps its orders, and the trade expires at Alipay first.

use opsdeck_api::ErrorBody;
use opsdeck_api::orders::{CancelCode, CancelReason};
use opsdeck_core::Actor;
use opsdeck_core::orders::model::{OrderDraft, OrderKind, OrderQuery, PaidOutcome};
use opsdeck_sandbox::alipay::Outcome;

use crate::helpers::{redis_url, toml_string, unique, until};

use super::{buy, cancelled_by, fake, goods, start, stock, sweep_until_gone, top_up_draft};

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
