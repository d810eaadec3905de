//! `/api/v1/`: every console operation over HTTP with a staff session (`Authorization: Bearer
//! <session token>`), on the route `Operation::http` gives it. The role matrix, over the generated
//! OpenAPI document: every operation it lists × {no session, viewer, operator, admin}; without a
//! session (or with the API token, or a revoked one) 401 but for the open ones (health, the
//! providers, the sign-in steps, the token exchange); a viewer is refused 403 `forbidden` every
//! operation that changes state, whatever its body (checked before the body is read); an operator
//! is refused nothing but the admins' operations.

use chrono::Utc;
use opsdeck_api::accounts::{ProviderKey, Role};
use opsdeck_api::{Access, HttpMethod, Operation, Ops, SessionToken};
use opsdeck_core::Actor;
use opsdeck_core::accounts::model::{Gender, Identity};
use opsdeck_core::accounts::store;
use opsdeckd::http::v1;
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
        | Operation::RunStop
        | Operation::OcrAttempts
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
        Operation::OcrRetry | Operation::OcrCancel => (None, Some(json!({ "ids": [1] }))),
        Operation::OrdersActivity => (Some("minutes=10"), None),
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
    let path = path.replace("{id}", &user.to_string()).replace("{order_no}", "O1").replace("{provider}", "weibo");
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

/// The operations that take no session: health, the sign-in providers, the sign-in steps (the
/// console's and the desktop's browser steps) and the token exchange. Written out here, not read
/// from `Operation::access`, so the matrix checks the table too.
const OPEN: [&str; 8] = [
    "health",
    "auth_providers",
    "sign_in_start",
    "sign_in_complete",
    "sign_in_cancel",
    "desktop_sign_in_start",
    "desktop_sign_in_callback",
    "sign_in_exchange",
];

/// Operations sent with POST that change nothing (every other POST, PUT or DELETE does).
const READS_BY_POST: [&str; 2] = ["job_preview", "sign_out"];

/// Who calls in the matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Nobody,
    Viewer,
    Operator,
    Admin,
}

/// What one call answered: its status, and its JSON body when it has one to read. A live-event
/// stream's body is never read (it does not end while the session lives), nor a redirect's.
struct Answer {
    status: u16,
    content_type: String,
    body: Option<Value>,
}

impl Answer {
    fn code(&self) -> Option<&str> {
        self.body.as_ref().and_then(|b| b["code"].as_str())
    }
}

/// `method path` as the document gives it, with the sample's arguments for `op`.
async fn call_doc(
    world: &World,
    op: Operation,
    method: &str,
    template: &str,
    id: i64,
    session: Option<&SessionToken>,
) -> Answer {
    let (_, query, body) = sample(op, id);
    let mut url = template.replace("{id}", &id.to_string()).replace("{order_no}", "O1").replace("{provider}", "weibo");
    if let Some(query) = query {
        url = format!("{url}?{query}");
    }
    let mut request = world.http.request(method_of(method), world.url(&url));
    if let Some(session) = session {
        request = request.bearer_auth(session.expose());
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if content_type.starts_with("text/event-stream") || (300..400).contains(&status) {
        // The status is the answer; dropping the response closes the stream.
        return Answer { status, content_type, body: None };
    }
    let (status, body) = json(response).await;
    Answer { status, content_type, body: Some(body) }
}

/// The status classes allowed for a caller whose role may call the operation: done (2xx), a
/// redirect of the browser steps (3xx), or a refusal of the sample's arguments (an id that does
/// not exist, a state out of date) — never a refusal of the caller.
fn allowed(name: &str, caller: Caller, answer: &Answer) {
    let Answer { status, content_type, body } = answer;
    let input_refused =
        matches!(status, 400 | 404 | 409 | 422) && !matches!(answer.code(), Some("unauthenticated" | "forbidden"));
    assert!(
        (200..400).contains(status) || input_refused,
        "{name} by {caller:?}: {status} ({content_type}) {}",
        body.clone().unwrap_or_default()
    );
}

fn refused(name: &str, caller: Caller, answer: &Answer, status: u16, code: &str) {
    assert_eq!(
        (answer.status, answer.code()),
        (status, Some(code)),
        "{name} by {caller:?}: {}",
        answer.body.clone().unwrap_or_default()
    );
}

/// Every operation the generated OpenAPI document lists under `/api/v1/`, called by nobody, a
/// viewer, an operator and an admin: the open ones answer everyone; the others 401 without a
/// session; a viewer is refused every write, an operator the admins' operations; otherwise the
/// call is done or its arguments judged. The document lists every operation of `Ops`, and says
/// which take a session.
#[tokio::test]
async fn the_role_matrix_over_the_generated_openapi_document() {
    let world = World::start().await;
    let target = staff_member(&world, Role::Viewer).await;
    session(&world, target).await;
    let (viewer_id, operator_id, admin_id) = (
        staff_member(&world, Role::Viewer).await,
        staff_member(&world, Role::Operator).await,
        staff_member(&world, Role::Admin).await,
    );
    let viewer = session(&world, viewer_id).await;
    let operator = session(&world, operator_id).await;
    let admin = session(&world, admin_id).await;
    let sessions = Ops::sessions_list(&world.core, &admin).await.unwrap();
    let revoked = sessions.iter().find(|s| s.user_id == target).expect("the target's session").id;
    let stranger = SessionToken::new("not-a-session-the-core-issued");
    let jobs_before = world.core.jobs_list(&Actor::system("tester")).await.unwrap().len();

    let (status, doc) = json(world.http.get(world.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let mut covered = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        if !template.starts_with("/api/v1/") {
            continue;
        }
        for (method, described) in item.as_object().unwrap() {
            let id = described["operationId"].as_str().unwrap_or_default();
            let name = id.strip_prefix("v1_").unwrap_or(id);
            let op = *Operation::ALL
                .iter()
                .find(|op| op.name() == name)
                .unwrap_or_else(|| panic!("{method} {template}: {id} is no operation of Ops"));
            assert_eq!(op.http().1, template, "{name}'s route");
            covered.push(name);

            let open = OPEN.contains(&name);
            let write = method != "get" && !READS_BY_POST.contains(&name);
            let admin_only = ADMIN_ONLY.contains(&op);
            let expected_access = match (open, write) {
                (true, _) => Access::Open,
                (false, true) => Access::Write,
                (false, false) => Access::Read,
            };
            assert_eq!(op.access(), expected_access, "{name}'s access");
            let security = described["security"].as_array().map(|s| s.iter().any(|r| r.get(v1::SESSION).is_some()));
            assert_eq!(security.unwrap_or(false), !open, "{name}: the document says whether it takes a session");

            let id = if op == Operation::SessionRevoke { revoked } else { target };
            for caller in [Caller::Nobody, Caller::Viewer, Caller::Operator, Caller::Admin] {
                let (user, held) = match caller {
                    Caller::Nobody => (None, None),
                    Caller::Viewer => (Some(viewer_id), Some(&viewer)),
                    Caller::Operator => (Some(operator_id), Some(&operator)),
                    Caller::Admin => (Some(admin_id), Some(&admin)),
                };
                // Signing out ends the session it is sent with: a session of its own.
                let own;
                let held = match (op, user) {
                    (Operation::SignOut, Some(user)) => {
                        own = session(&world, user).await;
                        Some(&own)
                    }
                    _ => held,
                };
                let answer = call_doc(&world, op, method, template, id, held).await;
                match caller {
                    _ if open => allowed(name, caller, &answer),
                    Caller::Nobody => refused(name, caller, &answer, 401, "unauthenticated"),
                    Caller::Viewer if write || admin_only => refused(name, caller, &answer, 403, "forbidden"),
                    Caller::Operator if admin_only => refused(name, caller, &answer, 403, "forbidden"),
                    _ => allowed(name, caller, &answer),
                }
                if op == Operation::JobCreate && caller == Caller::Viewer {
                    let jobs = world.core.jobs_list(&Actor::system("tester")).await.unwrap().len();
                    assert_eq!(jobs, jobs_before, "the viewer created no job");
                }
                if op == Operation::Events && answer.status == 200 {
                    assert!(answer.content_type.starts_with("text/event-stream"), "{name}: {}", answer.content_type);
                }
            }
            if !open {
                // An unknown session and the API token are no sessions either.
                let answer = call_doc(&world, op, method, template, id, Some(&stranger)).await;
                refused(name, Caller::Nobody, &answer, 401, "unauthenticated");
                let url = template.replace("{id}", &id.to_string()).replace("{order_no}", "O1");
                let with_api_token = world.authed(method_of(method), &url).send().await.unwrap();
                assert_eq!(with_api_token.headers().get("www-authenticate").unwrap(), "Bearer", "{name}");
                expect_error(with_api_token, 401, "unauthenticated").await;
            }
        }
    }
    covered.sort_unstable();
    let mut every: Vec<&str> = Operation::ALL.iter().map(|op| op.name()).collect();
    every.sort_unstable();
    assert_eq!(covered, every, "the document lists every operation of Ops, once");
    assert!(
        world.core.jobs_list(&Actor::system("tester")).await.unwrap().len() > jobs_before,
        "the operator's and the admin's jobs were created"
    );
    world.stop().await;
}

fn method_of(method: &str) -> reqwest::Method {
    reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap()
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
