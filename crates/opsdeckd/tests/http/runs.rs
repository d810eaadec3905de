//! Stopping a run over `/api/v1/runs/{id}/stop` (issue 19): the stopped run answered, a repeat
//! answered the same, a run that has ended refused 409 `run_not_running`, as the document says.

use chrono::Utc;
use opsdeck_api::accounts::{ProviderKey, Role};
use opsdeck_api::jobs::{JobDraft, JobPolicy, RunQuery, TriggerSpec};
use opsdeck_core::Actor;
use opsdeck_core::accounts::model::{Gender, Identity};
use opsdeck_core::accounts::store;
use serde_json::{Value, json};

use crate::{World, expect_error, json, unique, until};

/// An operator's session token.
async fn operator(world: &World) -> String {
    let db = world.core.database();
    let mut conn = db.pool().acquire().await.unwrap();
    let name = unique("operator");
    let identity = Identity {
        provider: ProviderKey::Weibo,
        uid: name.clone(),
        unionid: None,
        nickname: Some(name),
        avatar: None,
        email: None,
        email_verified: false,
        mobile: None,
        gender: Gender::Unknown,
    };
    let id = store::insert_user(db, &mut conn, &identity, Utc::now()).await.unwrap();
    world.core.staff_set_role(id, Some(Role::Operator), &Actor::system("tester")).await.unwrap();
    world.core.open_session_for(id, ProviderKey::Weibo).await.unwrap().expose().to_string()
}

#[tokio::test]
async fn a_run_is_stopped_over_http_and_one_that_ended_is_409_as_documented() {
    let world = World::start().await;
    let session = operator(&world).await;
    let post = |path: String| world.http.post(world.url(&path)).bearer_auth(&session).send();
    let draft = JobDraft {
        name: "long over http".into(),
        kind: "sleep".into(),
        trigger: TriggerSpec::Cron { expr: "0 3 * * *".into() },
        timezone: "Asia/Shanghai".into(),
        args: json!({ "seconds": 300 }),
        policy: JobPolicy::default(),
    };
    let job = world.core.job_create(draft.clone(), &Actor::system("tester")).await.unwrap();
    let (status, _) = json(post(format!("/api/v1/jobs/{}/run", job.id)).await.unwrap()).await;
    assert_eq!(status, 200);
    let running = until("the run to be recorded as running", || async {
        let query = RunQuery { job_id: Some(job.id), limit: 5, ..RunQuery::default() };
        let page = world.core.runs_list(query, &Actor::system("tester")).await.unwrap();
        page.runs.into_iter().find(|r| r.outcome == opsdeck_api::jobs::RunOutcome::Running)
    })
    .await;
    assert!(running.started_by.as_deref().is_some_and(|who| who.starts_with("operator")), "{running:?}");

    let (status, stopped) = json(post(format!("/api/v1/runs/{}/stop", running.id)).await.unwrap()).await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["outcome"], "stopped");
    assert_eq!(stopped["error"]["code"], "run_stopped");
    let (status, again) = json(post(format!("/api/v1/runs/{}/stop", running.id)).await.unwrap()).await;
    assert_eq!((status, &again), (200, &stopped), "a repeat answers the stopped run");

    let quick = JobDraft { name: "quick over http".into(), kind: "noop".into(), args: json!({}), ..draft };
    let ended = world.core.job_create(quick, &Actor::system("tester")).await.unwrap();
    world.core.job_run_now(ended.id, &Actor::system("tester")).await.unwrap();
    let done = until("the quick run to end", || async {
        let query = RunQuery { job_id: Some(ended.id), limit: 5, ..RunQuery::default() };
        world.core.runs_list(query, &Actor::system("tester")).await.unwrap().runs.pop()
    })
    .await;
    let refused =
        expect_error(post(format!("/api/v1/runs/{}/stop", done.id)).await.unwrap(), 409, "run_not_running").await;
    assert_eq!(refused["params"]["outcome"], "ok", "{refused}");
    expect_error(post("/api/v1/runs/987654/stop".into()).await.unwrap(), 404, "run_not_found").await;

    let spec: Value = world.http.get(world.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let responses = &spec["paths"]["/api/v1/runs/{id}/stop"]["post"]["responses"];
    assert_eq!(responses["409"]["$ref"], "#/components/responses/Conflict", "{responses}");
    world.stop().await;
}
