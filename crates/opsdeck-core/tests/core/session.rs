//! The one door: every console operation goes through `opsdeck_api::Ops` with the caller's
//! session, and the core alone judges it. Without a session (or with an expired, revoked or
//! unknown one) every operation but health and the sign-in steps is `unauthenticated`; a
//! viewer's session reads but is `forbidden` every operation that changes state, and such an
//! attempt changes nothing (not even the audit log). Sessions live in SQL: they outlive a
//! restart of the core.

use opsdeck_api::accounts::{ProviderKey, Role, Staff, UserQuery};
use opsdeck_api::audit::AuditQuery;
use opsdeck_api::jobs::{JobDraft, JobEdit, JobPolicy, RunQuery, TriggerSpec};
use opsdeck_api::ocr::{OcrQuery, Side};
use opsdeck_api::orders::{NewGoods, OrderDraft, OrderKind, OrderQuery};
use opsdeck_api::{Access, ErrorBody, Operation, Ops, SessionToken};
use opsdeck_core::Core;

use crate::helpers::{redis_url, sqlite_config};

pub(crate) fn staff(user_id: i64, role: Role) -> Staff {
    Staff {
        user_id,
        name: format!("staff {user_id}"),
        role,
        provider: ProviderKey::Weibo,
        avatar: None,
        signed_in_at: chrono::Utc::now(),
    }
}

/// A user with `role` (none: staff no more), written as the sign-in would leave it.
pub(crate) async fn user(core: &Core, name: &str, role: Option<Role>) -> i64 {
    sqlx::query("INSERT INTO users (username, created_at, role) VALUES (?, 0, ?)")
        .bind(name)
        .bind(role.map(|r| r.as_str()))
        .execute(core.database().pool())
        .await
        .unwrap();
    sqlx::query_scalar("SELECT id FROM users WHERE username = ?")
        .bind(name)
        .fetch_one(core.database().pool())
        .await
        .unwrap()
}

/// Calls `op` through `Ops` with arguments that would do something, for the session `s`;
/// the error, if any. The match is exhaustive: a new operation does not compile here until it
/// is added.
use opsdeck_api::ops::{DesktopSignInStartArgs, SignInExchangeArgs};

async fn call(ops: &dyn Ops, op: Operation, s: &SessionToken) -> Result<(), ErrorBody> {
    let every_minute = TriggerSpec::Interval { every_seconds: 60, start: None, end: None };
    let draft = JobDraft {
        name: "viewer job".into(),
        kind: "noop".into(),
        trigger: every_minute.clone(),
        timezone: "Asia/Shanghai".into(),
        args: serde_json::json!({}),
        policy: JobPolicy::default(),
    };
    let edit = JobEdit {
        trigger: every_minute.clone(),
        timezone: "Asia/Shanghai".into(),
        policy: JobPolicy::default(),
        args: serde_json::json!({}),
    };
    let order = OrderDraft { user_id: 1, kind: OrderKind::TopUp, items: vec![], amount_fen: Some(100) };
    let goods = NewGoods { sku: "sku-1".into(), name: "Fan".into(), price_fen: 100, stock: 5 };
    match op {
        Operation::Health => ops.health().await.map(drop),
        Operation::AuthProviders => ops.auth_providers().await.map(drop),
        Operation::SignInStart => ops.sign_in_start(ProviderKey::Weibo, "b".repeat(43)).await.map(drop),
        Operation::SignInComplete => ops
            .sign_in_complete(ProviderKey::Weibo, "http://127.0.0.1/cb?code=c&state=s".into(), "b".repeat(43))
            .await
            .map(drop),
        Operation::SignInCancel => ops.sign_in_cancel("s".into(), "b".repeat(43)).await.map(drop),
        Operation::DesktopSignInStart => ops
            .desktop_sign_in_start(DesktopSignInStartArgs {
                provider: ProviderKey::Weibo,
                redirect_uri: "http://127.0.0.1:1/cb".into(),
                state: "s".into(),
                code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
                code_challenge_method: "S256".into(),
            })
            .await
            .map(drop),
        Operation::DesktopSignInCallback => ops
            .desktop_sign_in_callback(ProviderKey::Weibo, "http://127.0.0.1/cb?code=c&state=s".into())
            .await
            .map(drop),
        Operation::SignInExchange => ops
            .sign_in_exchange(SignInExchangeArgs {
                code: "c".into(),
                code_verifier: "v".repeat(43),
                redirect_uri: "http://127.0.0.1:1/cb".into(),
            })
            .await
            .map(drop),
        Operation::Events => ops.events(s, None).await.map(drop),
        Operation::SessionStaff => ops.session_staff(s).await.map(drop),
        Operation::SignOut => ops.sign_out(s).await.map(drop),
        Operation::SessionsList => ops.sessions_list(s).await.map(drop),
        Operation::SessionRevoke => ops.session_revoke(s, 1).await.map(drop),
        Operation::AppInfo => ops.app_info(s).await.map(drop),
        Operation::Overview => ops.overview(s).await.map(drop),
        Operation::AuditList => ops.audit_list(s, AuditQuery { limit: 10, ..Default::default() }).await.map(drop),
        Operation::JobsList => ops.jobs_list(s).await.map(drop),
        Operation::JobGet => ops.job_get(s, 1).await.map(drop),
        Operation::JobKinds => ops.job_kinds(s).await.map(drop),
        Operation::JobPreview => ops.job_preview(s, every_minute, "Asia/Shanghai".into(), 3).await.map(drop),
        Operation::JobCreate => ops.job_create(s, draft).await.map(drop),
        Operation::JobUpdate => ops.job_update(s, 1, edit).await.map(drop),
        Operation::JobPause => ops.job_pause(s, 1).await.map(drop),
        Operation::JobResume => ops.job_resume(s, 1).await.map(drop),
        Operation::JobRunNow => ops.job_run_now(s, 1).await.map(drop),
        Operation::JobDelete => ops.job_delete(s, 1).await.map(drop),
        Operation::RunStop => ops.run_stop(s, 1).await.map(drop),
        Operation::RunsList => ops.runs_list(s, RunQuery { limit: 10, ..RunQuery::default() }).await.map(drop),
        Operation::SchedulerInstances => ops.scheduler_instances(s).await.map(drop),
        Operation::OcrList => ops.ocr_list(s, OcrQuery { limit: 10, ..OcrQuery::default() }).await.map(drop),
        Operation::OcrGet => ops.ocr_get(s, 1).await.map(drop),
        Operation::OcrReveal => ops.ocr_reveal(s, 1).await.map(drop),
        Operation::OcrSubmit => ops.ocr_submit(s, "https://img.test/a.jpg".into(), Side::Front).await.map(drop),
        Operation::OcrRetry => ops.ocr_retry(s, vec![1]).await.map(drop),
        Operation::OcrPurgeDead => ops.ocr_purge_dead(s).await.map(drop),
        Operation::OcrCancel => ops.ocr_cancel(s, vec![1]).await.map(drop),
        Operation::OcrAttempts => ops.ocr_attempts(s, 1).await.map(drop),
        Operation::OcrSetCap => ops.ocr_set_cap(s, 3.0).await.map(drop),
        Operation::OcrPause => ops.ocr_pause(s).await.map(drop),
        Operation::OcrResume => ops.ocr_resume(s).await.map(drop),
        Operation::OcrStats => ops.ocr_stats(s).await.map(drop),
        Operation::OrdersList => ops.orders_list(s, OrderQuery { limit: 10, ..OrderQuery::default() }).await.map(drop),
        Operation::OrderGet => ops.order_get(s, "O1".into()).await.map(drop),
        Operation::OrderTimeline => ops.order_timeline(s, "O1".into()).await.map(drop),
        Operation::OrdersSummary => ops.orders_summary(s).await.map(drop),
        Operation::OrdersActivity => ops.orders_activity(s, 10).await.map(drop),
        Operation::CancelledList => {
            ops.cancelled_list(s, OrderQuery { limit: 10, ..OrderQuery::default() }).await.map(drop)
        }
        Operation::OrderPlace => ops.order_place(s, order).await.map(drop),
        Operation::OrderCheckPayment => ops.order_check_payment(s, "O1".into()).await.map(drop),
        Operation::OrderCancel => ops.order_cancel(s, "O1".into(), "by hand".into()).await.map(drop),
        Operation::GoodsList => ops.goods_list(s).await.map(drop),
        Operation::GoodsCreate => ops.goods_create(s, goods).await.map(drop),
        Operation::UsersList => ops.users_list(s, UserQuery { limit: 10, ..UserQuery::default() }).await.map(drop),
        Operation::UserGet => ops.user_get(s, 1).await.map(drop),
        Operation::LinkStart => ops.link_start(s, 1, ProviderKey::Weibo, "b".repeat(43)).await.map(drop),
        Operation::Unlink => ops.unlink(s, 1).await.map(drop),
        Operation::StaffSetRole => ops.staff_set_role(s, 1, Some(Role::Admin)).await.map(drop),
        Operation::LinkRequestsList => ops.link_requests_list(s).await.map(drop),
        Operation::LinkRequestResolve => ops.link_request_resolve(s, 1, true).await.map(drop),
    }
}

async fn audit_rows(core: &Core) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(core.database().pool()).await.unwrap()
}

/// Operations that read, but only for admins.
const ADMIN_READS: [Operation; 1] = [Operation::SessionsList];

#[tokio::test]
async fn every_operation_needs_a_session_and_a_viewer_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    let ops: &dyn Ops = &core;
    let viewer_id = user(&core, "vera", Some(Role::Viewer)).await;
    let viewer = core.open_session_for(viewer_id, ProviderKey::Weibo).await.unwrap();
    let unknown = SessionToken::new("not-a-session-the-core-issued");

    for &op in Operation::ALL {
        if op.access() == Access::Open {
            continue;
        }
        for s in [&SessionToken::none(), &unknown] {
            let refused = call(ops, op, s).await.expect_err(op.name());
            assert_eq!(refused.code, "unauthenticated", "{} without a valid session", op.name());
        }
    }

    let before = audit_rows(&core).await;
    for &op in Operation::ALL {
        if op == Operation::SignOut {
            continue; // ends the session the rest of the loop uses; checked below
        }
        let answer = call(ops, op, &viewer).await;
        match op.access() {
            Access::Write => {
                let refused = answer.expect_err(op.name());
                assert_eq!(refused.code, "forbidden", "{} by a viewer", op.name());
                // The same words the server's early refusal uses (`ApiError::viewer_refused`).
                let early: ErrorBody = opsdeck_core::ApiError::viewer_refused(op).into();
                assert_eq!(refused.params, early.params, "{}: the refusal names the action", op.name());
            }
            Access::Read if ADMIN_READS.contains(&op) => {
                assert_eq!(answer.expect_err(op.name()).code, "forbidden", "{} by a viewer", op.name())
            }
            // The sign-in steps and health take no session: nothing to judge here.
            Access::Open => {}
            Access::Read => {
                if let Err(e) = answer {
                    // Reads of something that does not exist answer a not-found code (404:
                    // `job_not_found`, `order_not_found`, …); nothing else.
                    assert_eq!(e.code.http_status(), 404, "{} by a viewer: {e:?}", op.name());
                }
            }
        }
    }
    assert_eq!(audit_rows(&core).await, before, "a viewer's refused actions left no trace of a change");
    let jobs = ops.jobs_list(&viewer).await.unwrap();
    assert!(jobs.iter().all(|j| j.name != "viewer job"), "no job was created");

    // Signing out ends the session: it opens nothing afterwards.
    ops.sign_out(&viewer).await.unwrap();
    assert_eq!(ops.jobs_list(&viewer).await.unwrap_err().code, "unauthenticated");
    core.shutdown().await;
}

#[tokio::test]
async fn a_session_outlives_a_restart_and_ends_when_revoked_expired_or_its_role_goes() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(dir.path(), &redis_url());
    let core = Core::start(config.clone()).await.unwrap();
    let admin_id = user(&core, "ada", Some(Role::Admin)).await;
    let viewer_id = user(&core, "vera", Some(Role::Viewer)).await;
    let admin = core.open_session_for(admin_id, ProviderKey::Oidc).await.unwrap();
    let viewer = core.open_session_for(viewer_id, ProviderKey::Weibo).await.unwrap();
    // Only the token's hash is kept.
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM staff_sessions").fetch_all(core.database().pool()).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|h| h.len() == 64 && h != admin.expose() && h != viewer.expose()));
    core.shutdown().await;

    // A new core over the same database: both sessions still open the console.
    let core = Core::start(config).await.unwrap();
    let ops: &dyn Ops = &core;
    assert_eq!(ops.session_staff(&admin).await.unwrap().role, Role::Admin);
    assert_eq!(ops.session_staff(&viewer).await.unwrap().name, "vera");

    // An admin lists the sessions and ends the viewer's; the viewer is out at once.
    let sessions = ops.sessions_list(&admin).await.unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().any(|s| s.current && s.user_id == admin_id));
    let theirs = sessions.iter().find(|s| s.user_id == viewer_id).unwrap().id;
    ops.session_revoke(&admin, theirs).await.unwrap();
    assert_eq!(ops.jobs_list(&viewer).await.unwrap_err().code, "unauthenticated");
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'staff.session_revoke'")
        .fetch_one(core.database().pool())
        .await
        .unwrap();
    assert_eq!(audited, 1);

    // Idle past the limit (its last use moved back 13 hours): ended.
    let idle = core.open_session_for(viewer_id, ProviderKey::Weibo).await.unwrap();
    assert!(ops.jobs_list(&idle).await.is_ok());
    sqlx::query("UPDATE staff_sessions SET last_seen_at = last_seen_at - ? WHERE revoked_at IS NULL AND user_id = ?")
        .bind(13 * 3600 * 1000_i64)
        .bind(viewer_id)
        .execute(core.database().pool())
        .await
        .unwrap();
    assert_eq!(ops.jobs_list(&idle).await.unwrap_err().code, "unauthenticated");

    // Past the absolute limit though used a moment ago: ended.
    let old = core.open_session_for(viewer_id, ProviderKey::Weibo).await.unwrap();
    sqlx::query("UPDATE staff_sessions SET expires_at = ? WHERE token_hash IS NOT NULL AND revoked_at IS NULL AND user_id = ? AND last_seen_at > ?")
        .bind(chrono::Utc::now().timestamp_millis() - 1)
        .bind(viewer_id)
        .bind(chrono::Utc::now().timestamp_millis() - 60_000)
        .execute(core.database().pool())
        .await
        .unwrap();
    assert_eq!(ops.jobs_list(&old).await.unwrap_err().code, "unauthenticated");

    // The role removed: the session reads nothing more (forbidden); the user gone:
    // unauthenticated.
    let former = core.open_session_for(viewer_id, ProviderKey::Weibo).await.unwrap();
    ops.staff_set_role(&admin, viewer_id, None).await.unwrap();
    assert_eq!(ops.jobs_list(&former).await.unwrap_err().code, "forbidden");
    sqlx::query("DELETE FROM users WHERE id = ?").bind(viewer_id).execute(core.database().pool()).await.unwrap();
    assert_eq!(ops.jobs_list(&former).await.unwrap_err().code, "unauthenticated");
    core.shutdown().await;
}

/// `session_idle_minutes` and `session_max_age_hours` decide, not built-in constants: with a
/// 5-minute idle limit, a session unused for 6 minutes has ended while one unused for 4 has
/// not; a new session ends an hour after it opened with a 1-hour age limit; and a live
/// stream's check (`used` false) does not count as use.
#[tokio::test]
async fn the_configured_session_limits_decide() {
    use opsdeck_core::accounts::sessions::{self, Limits};
    let dir = tempfile::tempdir().unwrap();
    let mut config = sqlite_config(dir.path(), &redis_url());
    config.session_idle = std::time::Duration::from_secs(5 * 60);
    config.session_max_age = std::time::Duration::from_secs(3600);
    let limits = Limits::of(&config);
    let core = Core::start(config).await.unwrap();
    let ops: &dyn Ops = &core;
    let id = user(&core, "ida", Some(Role::Operator)).await;
    let session = core.open_session_for(id, ProviderKey::Weibo).await.unwrap();
    let pool = core.database().pool();
    let now = chrono::Utc::now();

    let row = sessions::resolve(pool, session.expose(), now, limits, false).await.unwrap().expect("live");
    let age = row.expires_at - row.created_at;
    assert_eq!(age, chrono::Duration::hours(1), "the configured age limit");
    let minutes = |m: i64| now + chrono::Duration::minutes(m);
    assert!(sessions::resolve(pool, session.expose(), minutes(4), limits, false).await.unwrap().is_some());
    assert!(sessions::resolve(pool, session.expose(), minutes(6), limits, false).await.unwrap().is_none());
    // The checks above did not count as use: 6 minutes on it has still ended...
    assert!(sessions::resolve(pool, session.expose(), minutes(6), limits, true).await.unwrap().is_none());
    // ...while a use 4 minutes on carries it 4 minutes further.
    assert!(sessions::resolve(pool, session.expose(), minutes(4), limits, true).await.unwrap().is_some());
    assert!(sessions::resolve(pool, session.expose(), minutes(8), limits, false).await.unwrap().is_some());
    assert!(sessions::resolve(pool, session.expose(), minutes(61), limits, true).await.unwrap().is_none());
    // The console's list shows when it ends by the same limits.
    let listed = ops
        .sessions_list(
            &core.open_session_for(user(&core, "adam", Some(Role::Admin)).await, ProviderKey::Weibo).await.unwrap(),
        )
        .await
        .unwrap();
    let mine = listed.iter().find(|s| s.user_id == id).expect("listed");
    assert!(mine.expires_at <= now + chrono::Duration::minutes(10), "ends by the idle limit: {:?}", mine.expires_at);
}
