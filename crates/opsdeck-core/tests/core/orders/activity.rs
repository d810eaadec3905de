//! Orders per minute: placed, paid, expired (the sweep) and cancelled (staff), a point for every
//! minute of the window, oldest first; SQLite and MariaDB.

use chrono::{DateTime, Duration, TimeZone, Utc};
use opsdeck_api::ErrorBody;
use opsdeck_api::orders::OrderActivity;
use opsdeck_core::{Actor, Core};
use opsdeck_sandbox::alipay::Outcome;

use crate::helpers::{fresh_mysql_url, toml_string, unique};

use super::{buy, fake, goods, start, sweep_until_gone};

fn at(hour: u32, minute: u32, second: u32, ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, hour, minute, second).unwrap() + Duration::milliseconds(ms)
}

/// An order row as the store keeps it (set up directly, to place each move at a chosen time).
async fn order_row(core: &Core, no: &str, created: DateTime<Utc>, paid: Option<DateTime<Utc>>) {
    sqlx::query(
        "INSERT INTO orders (order_no, user_id, kind, amount_fen, status, created_at, expires_at, paid_at, trade_no) \
         VALUES (?, 1, 'top_up', 100, ?, ?, ?, ?, ?)",
    )
    .bind(no)
    .bind(if paid.is_some() { "paid" } else { "pending" })
    .bind(created.timestamp_millis())
    .bind((created + Duration::minutes(15)).timestamp_millis())
    .bind(paid.map(|p| p.timestamp_millis()))
    .bind(paid.map(|_| format!("T-{no}")))
    .execute(core.database().pool())
    .await
    .unwrap();
}

async fn cancelled_row(core: &Core, no: &str, created: DateTime<Utc>, cancelled: DateTime<Utc>, by: &str) {
    sqlx::query(
        "INSERT INTO cancelled_orders (order_id, order_no, user_id, kind, amount_fen, created_at, expires_at, \
         cancelled_at, reason, cancelled_by) VALUES (0, ?, 1, 'top_up', 100, ?, ?, ?, '{\"code\":\"staff\"}', ?)",
    )
    .bind(no)
    .bind(created.timestamp_millis())
    .bind((created + Duration::minutes(15)).timestamp_millis())
    .bind(cancelled.timestamp_millis())
    .bind(by)
    .execute(core.database().pool())
    .await
    .unwrap();
}

fn counts(point: &OrderActivity) -> (i64, i64, i64, i64) {
    (point.placed, point.paid, point.expired, point.cancelled)
}

/// Each move in the minute it happened (boundaries included in the minute they start), quiet
/// minutes as zeros, moves before the window left out.
async fn buckets_with_zeros(core: &Core) {
    order_row(core, "A1", at(10, 1, 10, 0), None).await;
    order_row(core, "A2", at(10, 1, 59, 999), None).await;
    order_row(core, "A3", at(10, 3, 0, 0), Some(at(10, 3, 59, 999))).await;
    // Placed before the window, paid in it.
    order_row(core, "A4", at(9, 50, 0, 0), Some(at(10, 1, 0, 0))).await;
    cancelled_row(core, "C1", at(9, 58, 0, 0), at(10, 4, 0, 0), "sweep").await;
    cancelled_row(core, "C2", at(10, 5, 0, 0), at(10, 5, 29, 0), "alice").await;
    cancelled_row(core, "C3", at(9, 40, 0, 0), at(9, 59, 59, 999), "sweep").await;

    let points = core.orders_activity_at(5, at(10, 5, 30, 0)).await.unwrap();
    let minutes: Vec<_> = points.iter().map(|p| p.at).collect();
    assert_eq!(minutes, (1..=5).map(|m| at(10, m, 0, 0)).collect::<Vec<_>>(), "every minute, oldest first");
    let got: Vec<_> = points.iter().map(counts).collect();
    assert_eq!(
        got,
        [
            (2, 1, 0, 0), // A1, A2 placed; A4 paid
            (0, 0, 0, 0),
            (1, 1, 0, 0), // A3 placed and paid
            (0, 0, 1, 0), // C1 expired
            (1, 0, 0, 1), // C2 placed and cancelled by staff
        ]
    );
    let one = core.orders_activity_at(1, at(10, 3, 0, 0)).await.unwrap();
    assert_eq!((one.len(), one[0].at, counts(&one[0])), (1, at(10, 3, 0, 0), (1, 1, 0, 0)), "the current minute");
    let quiet = core.orders_activity_at(60, at(12, 0, 0, 0)).await.unwrap();
    assert_eq!(quiet.len(), 60);
    assert!(quiet.iter().all(|p| counts(p) == (0, 0, 0, 0)), "an hour without orders is sixty zeros");
}

#[tokio::test]
async fn activity_counts_each_minute_with_zeros_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[]).await;
    buckets_with_zeros(&core).await;
    core.shutdown().await;
}

#[tokio::test]
async fn activity_counts_each_minute_with_zeros_on_mariadb() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let extra = [("database_url", toml_string(&fresh_mysql_url().await))];
    let core = start(dir.path(), &unique("t"), &alipay, &extra).await;
    buckets_with_zeros(&core).await;
    core.shutdown().await;
}

/// Through the real moves: placed from the shop, paid, expired by the sweep, cancelled by staff;
/// the window's sums say so wherever the minutes fell.
#[tokio::test]
async fn activity_follows_the_real_moves_and_refuses_a_bad_window() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[]).await;
    let tea = goods(&core, 10).await;
    let paid = core.order_place(buy(1, tea.id, 1)).await.unwrap();
    let expiring = core.order_place(buy(2, tea.id, 1)).await.unwrap();
    let cancelled = core.order_place(buy(3, tea.id, 1)).await.unwrap();
    core.order_mark_paid(&paid.order_no, "T1", "notify").await.unwrap();
    alipay.set(&cancelled.order_no, Outcome::Waiting);
    core.order_cancel(&cancelled.order_no, "customer asked", &Actor::system("alice")).await.unwrap();
    sweep_until_gone(&core, &expiring.order_no).await;

    let points = core.orders_activity(10, &Actor::system("tester")).await.unwrap();
    assert_eq!(points.len(), 10);
    assert!(points.windows(2).all(|w| w[1].at - w[0].at == Duration::minutes(1)), "consecutive minutes");
    let sum =
        points.iter().fold((0, 0, 0, 0), |s, p| (s.0 + p.placed, s.1 + p.paid, s.2 + p.expired, s.3 + p.cancelled));
    assert_eq!(sum, (3, 1, 1, 1), "placed, paid, expired, cancelled");
    assert!(points.iter().filter(|p| counts(p) == (0, 0, 0, 0)).count() >= 8, "the quiet minutes are there, as zeros");

    for minutes in [0, 1441] {
        let refused: ErrorBody = core.orders_activity(minutes, &Actor::system("tester")).await.unwrap_err().into();
        assert_eq!((refused.code.as_str(), refused.field.as_deref()), ("value_out_of_range", Some("minutes")));
        assert_eq!((refused.params["min"].as_str(), refused.params["max"].as_str()), ("1", "1440"));
    }
    core.shutdown().await;
}
