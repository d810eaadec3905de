//! `/api/v1/`: every console operation over HTTP with a staff session (`Authorization: Bearer
//! <session token>`), on the route `Operation::http` gives it. The role matrix: without a session
//! (or with the API token, or a revoked one) 401; a viewer is refused 403 `forbidden` every
//! operation that changes state, whatever its body (checked before the body is read); an operator
//! is refused nothing but the admins' operations.

use chrono::Utc;
use opsdeck_api::accounts::{ProviderKey, Role};
use opsdeck_api::{Access, HttpMethod, Operation, SessionToken};
use opsdeck_core::Actor;
use opsdeck_core::accounts::model::{Gender, Identity};
use opsdeck_core::accounts::store;
use serde_json::{Value, json};

use crate::{World, expect_error, json, unique};

/// Operations only admins may call (reads included).
const ADMIN_ONLY: [Operation; 3] = [Operation::SessionsList, Operation::SessionRevoke, Operation::StaffSetRole];

/// A user with a console `role`; their id.
async fn staff_member(world: &World, role: Role) -> i64 {
    let db = world.core.database();
    let mut conn = db.pool().acquire().await.unwrap();
    let name = unique(role.as_str());
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
    world.core.staff_set_role(id, Some(role), &Actor::system("tester")).await.unwrap();
    id
}

async fn session(world: &World, user_id: i64) -> SessionToken {
    world.core.open_session_for(user_id, ProviderKey::Weibo).await.unwrap()
}

/// What a call of `op` sends: the path with its ids, the query, the body; arguments that would
/// do something. `user` is the user the account operations act on. Exhaustive: a new operation
/// does not compile here until it is added.
fn sample(op: Operation, user: i64) -> (String, Option<&'static str>, Option<Value>) {
    let every_minute = json!({ "type": "interval", "every_seconds": 60 });
    let (query, body) = match op {
        Operation::Health
        | Operation::AuthProviders
        | Operation::SessionStaff
        | Operation::SignOut
        | Operation::SessionsList
        | Operation::SessionRevoke
        | Operation::AppInfo
        | Operation::Overview
        | Operation::JobsList
        | Operation::JobGet
        | Operation::JobKinds
        | Operation::JobPause
        | Operation::JobResume
        | Operation::JobRunNow
        | Operation::JobDelete
        | Operation::SchedulerInstances
        | Operation::OcrGet
        | Operation::OcrReveal
        | Operation::OcrPurgeDead
        | Operation::OcrPause
        | Operation::OcrResume
        | Operation::OcrStats
        | Operation::OrderGet
        | Operation::OrderTimeline
        | Operation::OrdersSummary
        | Operation::OrderCheckPayment
        | Operation::GoodsList
        | Operation::UserGet
        | Operation::Unlink
        | Operation::LinkRequestsList => (None, None),
        Operation::SignInStart => (None, Some(json!({ "provider": "weibo", "binding": "b".repeat(43) }))),
        Operation::SignInComplete => (
            None,
            Some(json!({
                "provider": "weibo",
                "redirect_url": "http://127.0.0.1/cb?code=c&state=s",
                "binding": "b".repeat(43),
            })),
        ),
        Operation::SignInCancel => (None, Some(json!({ "state": "s", "binding": "b".repeat(43) }))),
        Operation::DesktopSignInStart => (
            Some(
                "provider=weibo&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&state=s&code_challenge=\
                 E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
            ),
            None,
        ),
        Operation::DesktopSignInCallback => (Some("code=c&state=s"), None),
        Operation::SignInExchange => (
            None,
            Some(json!({ "code": "c", "code_verifier": "v".repeat(43), "redirect_uri": "http://127.0.0.1:1/cb" })),
        ),
        Operation::Events => (None, None),
        Operation::AuditList => (Some("limit=10"), None),
        Operation::JobPreview => {
            (None, Some(json!({ "trigger": every_minute, "timezone": "Asia/Shanghai", "count": 3 })))
        }
        Operation::JobCreate => (
            None,
            Some(json!({
                "name": unique("http job"),
                "kind": "noop",
                "trigger": every_minute,
                "timezone": "Asia/Shanghai",
                "args": {},
            })),
        ),
        Operation::JobUpdate => {
            (None, Some(json!({ "trigger": every_minute, "timezone": "Asia/Shanghai", "policy": {}, "args": {} })))
        }
        Operation::RunsList | Operation::OcrList | Operation::OrdersList | Operation::CancelledList => {
            (Some("limit=10"), None)
        }
        Operation::UsersList => (Some("limit=10&offset=0"), None),
        Operation::OcrSubmit => (None, Some(json!({ "url": "https://img.test/a.jpg", "side": "front" }))),
        Operation::OcrRetry => (None, Some(json!({ "ids": [1] }))),
        Operation::OcrSetCap => (None, Some(json!({ "cap": 3.0 }))),
        Operation::OrderPlace => (None, Some(json!({ "user_id": user, "kind": "top_up", "amount_fen": 100 }))),
        Operation::OrderCancel => (None, Some(json!({ "reason": "by hand" }))),
        Operation::GoodsCreate => {
            (None, Some(json!({ "sku": unique("sku"), "name": "Fan", "price_fen": 100, "stock": 5 })))
        }
        Operation::LinkStart => (None, Some(json!({ "provider": "weibo", "binding": "b".repeat(43) }))),
        Operation::StaffSetRole => (None, Some(json!({ "role": "operator" }))),
        Operation::LinkRequestResolve => (None, Some(json!({ "accept": false }))),
    };
    let (_, path) = op.http();
    let path = path.replace("{id}", &user.to_string()).replace("{order_no}", "O1");
    (path, query, body)
}

fn method(op: Operation) -> reqwest::Method {
    match op.http().0 {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Delete => reqwest::Method::DELETE,
    }
}

/// `op` called with `session` (none: no Authorization header) and `body` (None: the sample's).
async fn call(world: &World, op: Operation, user: i64, session: Option<&SessionToken>) -> (u16, Value) {
    let (path, query, body) = sample(op, user);
    let url = match query {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut request = world.http.request(method(op), world.url(&url));
    if let Some(session) = session {
        request = request.bearer_auth(session.expose());
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    json(request.send().await.unwrap()).await
}

#[tokio::test]
async fn the_role_matrix_over_every_operation() {
    let world = World::start().await;
    let target = staff_member(&world, Role::Viewer).await;
    let viewer = session(&world, staff_member(&world, Role::Viewer).await).await;
    let operator = session(&world, staff_member(&world, Role::Operator).await).await;
    let admin = session(&world, staff_member(&world, Role::Admin).await).await;
    let stranger = SessionToken::new("not-a-session-the-core-issued");
    let jobs_before = world.core.jobs_list(&Actor::system("tester")).await.unwrap().len();

    for &op in Operation::ALL {
        let name = op.name();
        if op.access() == Access::Open {
            let (status, body) = call(&world, op, target, None).await;
            assert!(status != 401 && status != 403, "{name} is open: {status} {body}");
            continue;
        }
        // No session, an unknown one, the API token: 401, with a challenge.
        let (status, body) = call(&world, op, target, None).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{name} without a session");
        let (status, body) = call(&world, op, target, Some(&stranger)).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{name} unknown session");
        let (path, _, _) = sample(op, target);
        let with_api_token = world.authed(method(op), &path).send().await.unwrap();
        assert_eq!(with_api_token.headers().get("www-authenticate").unwrap(), "Bearer", "{name}");
        expect_error(with_api_token, 401, "unauthenticated").await;
    }

    // A viewer: every change refused, whatever is sent; reads answered (admins' reads refused).
    for &op in Operation::ALL {
        if op.access() == Access::Open || op == Operation::SignOut {
            continue;
        }
        let (status, body) = call(&world, op, target, Some(&viewer)).await;
        let name = op.name();
        if op.access() == Access::Write || ADMIN_ONLY.contains(&op) {
            assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{name} by a viewer: {body}");
        } else {
            assert!(status == 200 || status == 404, "{name} by a viewer: {status} {body}");
        }
    }
    assert_eq!(
        world.core.jobs_list(&Actor::system("tester")).await.unwrap().len(),
        jobs_before,
        "the viewer created no job"
    );

    // An operator: refused only the admins' operations; an admin: nothing (as a role).
    for (role, session) in [("operator", &operator), ("admin", &admin)] {
        for &op in Operation::ALL {
            if op.access() == Access::Open || op == Operation::SignOut {
                continue;
            }
            let (status, body) = call(&world, op, target, Some(session)).await;
            let name = op.name();
            assert_ne!(status, 401, "{name} by an {role}: {body}");
            if role == "operator" && ADMIN_ONLY.contains(&op) {
                assert_eq!(body["code"], "forbidden", "{name} by an operator: {body}");
            } else {
                // Done, or a not-found of the sample's id: the arguments were read as sent.
                assert!(status == 200 || status == 404, "{name} by an {role}: {status} {body}");
            }
        }
    }
    assert!(
        world.core.jobs_list(&Actor::system("tester")).await.unwrap().len() > jobs_before,
        "the operator's job was created"
    );
    world.stop().await;
}

#[tokio::test]
async fn a_viewer_is_refused_before_the_body_is_read_an_operator_is_told_what_is_wrong() {
    let world = World::start().await;
    let user = staff_member(&world, Role::Viewer).await;
    let viewer = session(&world, user).await;
    let operator = session(&world, staff_member(&world, Role::Operator).await).await;
    let with_body = Operation::ALL.iter().filter(|op| sample(**op, user).2.is_some() && op.access() == Access::Write);
    let mut checked = 0;
    for &op in with_body {
        let (path, _, _) = sample(op, user);
        let malformed = |session: &SessionToken| {
            world
                .http
                .request(method(op), world.url(&path))
                .bearer_auth(session.expose())
                .header("content-type", "application/json")
                .body("{\"not\": json")
        };
        let body = expect_error(malformed(&viewer).send().await.unwrap(), 403, "forbidden").await;
        assert!(body.get("field").is_none(), "{}: nothing about the body: {body}", op.name());
        expect_error(malformed(&operator).send().await.unwrap(), 400, "invalid_input").await;
        // Not JSON at all, by its content type: the viewer is still refused first.
        let plain = world.http.request(method(op), world.url(&path)).bearer_auth(viewer.expose()).body("x");
        expect_error(plain.send().await.unwrap(), 403, "forbidden").await;
        checked += 1;
    }
    assert!(checked >= 10, "{checked} operations with a body");
    world.stop().await;
}

#[tokio::test]
async fn a_revoked_or_signed_out_session_is_refused_at_once() {
    let world = World::start().await;
    let admin = session(&world, staff_member(&world, Role::Admin).await).await;
    let operator_id = staff_member(&world, Role::Operator).await;
    let operator = session(&world, operator_id).await;
    let (status, me) = call(&world, Operation::SessionStaff, 0, Some(&operator)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!((me["user_id"].as_i64(), me["role"].as_str()), (Some(operator_id), Some("operator")));

    // The admin lists the sessions and ends the operator's.
    let (status, sessions) = call(&world, Operation::SessionsList, 0, Some(&admin)).await;
    assert_eq!(status, 200, "{sessions}");
    let theirs = sessions.as_array().unwrap().iter().find(|s| s["user_id"] == operator_id).unwrap()["id"].as_i64();
    let (status, answer) = call(&world, Operation::SessionRevoke, theirs.unwrap(), Some(&admin)).await;
    assert_eq!((status, &answer), (200, &Value::Null));
    for op in [Operation::JobsList, Operation::OcrPause] {
        let (status, body) = call(&world, op, 0, Some(&operator)).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{} revoked: {body}", op.name());
    }
    assert!(world.core.ocr_stats(&Actor::system("tester")).await.unwrap().pause.is_none(), "nothing was paused");

    // Signing out ends the session that signs out.
    let (status, answer) = call(&world, Operation::SignOut, 0, Some(&admin)).await;
    assert_eq!((status, &answer), (200, &Value::Null));
    let (status, _) = call(&world, Operation::Overview, 0, Some(&admin)).await;
    assert_eq!(status, 401);
    world.stop().await;
}
