//! Payments and notifies: a payment of another amount never applied, a refund recorded, refused
//! notifies leaving their trace on the order, and a payment without a trade number.

use opsdeck_api::ErrorBody;
use opsdeck_core::Actor;
use opsdeck_core::orders::model::{OrderDraft, OrderKind, PaidOutcome};
use opsdeck_sandbox::alipay::{FakeAlipay, FakeAlipayConfig, SANDBOX_SELLER_ID};

use crate::helpers::{toml_string, unique, until};

use super::{fake, start, top_up_draft};

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
