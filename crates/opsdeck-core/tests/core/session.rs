//! Every console read names its caller and the facade checks it: nobody signed in, a staff
//! member whose role was removed, or a user that is gone reads nothing; any role reads.

use opsdeck_core::accounts::model::{ProviderKey, Role, Staff, UserQuery};
use opsdeck_core::ocr::model::OcrQuery;
use opsdeck_core::orders::model::OrderQuery;
use opsdeck_core::scheduler::{RunQuery, TriggerSpec};
use opsdeck_core::{Actor, ApiError, Core, ErrorBody};

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

/// Every read the console offers, by `actor`: each one's name and error code (None: answered).
async fn every_read(core: &Core, actor: &Actor) -> Vec<(&'static str, Option<String>)> {
    fn code<T>(result: Result<T, ApiError>) -> Option<String> {
        result.err().map(|e| ErrorBody::from(e).code)
    }
    let every = TriggerSpec::Interval { every_seconds: 60, start: None, end: None };
    vec![
        ("audit_list", code(core.audit_list(10, None, actor).await)),
        ("jobs_list", code(core.jobs_list(actor).await)),
        ("job_kinds", code(core.job_kinds(actor).await)),
        ("job_preview", code(core.job_preview(&every, "Asia/Shanghai", 3, actor).await)),
        ("runs_list", code(core.runs_list(RunQuery { limit: 10, ..RunQuery::default() }, actor).await)),
        ("scheduler_instances", code(core.scheduler_instances(actor).await)),
        ("ocr_list", code(core.ocr_list(OcrQuery { limit: 10, ..OcrQuery::default() }, actor).await)),
        ("ocr_get", code(core.ocr_get(1, actor).await)),
        ("ocr_stats", code(core.ocr_stats(actor).await)),
        ("orders_list", code(core.orders_list(OrderQuery { limit: 10, ..OrderQuery::default() }, actor).await)),
        ("cancelled_list", code(core.cancelled_list(OrderQuery { limit: 10, ..OrderQuery::default() }, actor).await)),
        ("order_timeline", code(core.order_timeline("O1", actor).await)),
        ("orders_summary", code(core.orders_summary(actor).await)),
        ("goods_list", code(core.goods_list(actor).await)),
        ("overview", code(core.overview(actor).await)),
        ("users_list", code(core.users_list(UserQuery { limit: 10, ..UserQuery::default() }, actor).await)),
        ("link_requests_list", code(core.link_requests_list(actor).await)),
        ("ocr_reveal", code(core.ocr_reveal(1, actor).await)),
    ]
}

#[tokio::test]
async fn every_read_refuses_a_caller_without_a_session_or_a_role() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();

    // Nobody signed in: no caller at all.
    let nobody = core.session_actor(None).await.unwrap_err();
    assert_eq!(ErrorBody::from(nobody).code, "unauthenticated");

    let viewer = user(&core, "viewer", Some(Role::Viewer)).await;
    let former = user(&core, "former", None).await;
    // A session of a staff member whose role was removed since, or whose user is gone: the
    // session yields no caller, and a caller kept from before reads nothing.
    for (user_id, refused) in [(former, "forbidden"), (viewer + 1000, "unauthenticated")] {
        let stale = staff(user_id, Role::Admin);
        let refusal = core.session_actor(Some(&stale)).await.unwrap_err();
        assert_eq!(ErrorBody::from(refusal).code, refused, "user {user_id}");
        let kept = Actor::staff(&stale);
        for (read, code) in every_read(&core, &kept).await {
            assert_eq!(code.as_deref(), Some(refused), "{read} by user {user_id}");
        }
    }

    // A viewer reads everything (the reveal is an operator's).
    let viewer = core.session_actor(Some(&staff(viewer, Role::Viewer))).await.unwrap();
    for (read, code) in every_read(&core, &viewer).await {
        match read {
            "ocr_get" => assert_eq!(code.as_deref(), Some("not_found"), "{read}"),
            "ocr_reveal" => assert_eq!(code.as_deref(), Some("forbidden"), "{read}"),
            _ => assert_eq!(code, None, "{read} by a viewer"),
        }
    }
    core.shutdown().await;
}
