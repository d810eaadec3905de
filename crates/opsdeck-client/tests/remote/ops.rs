//! The operations through the server: reads and writes round-trip (path ids, query strings,
//! JSON bodies), the server's `ErrorBody` comes through exactly as the core answers it, roles and
//! sessions are the server's to judge, and a server out of reach is `server_unreachable` with the
//! link `Reconnecting` until it answers again.

use opsdeck_api::accounts::Role;
use opsdeck_api::jobs::{JobDraft, JobPolicy, RunQuery, TriggerSpec};
use opsdeck_api::ocr::OcrQuery;
use opsdeck_api::orders::{OrderQuery, OrderSort, OrderStatus};
use opsdeck_api::{ErrorCode, LinkState, Ops, SessionToken};
use opsdeck_client::{ClientConfig, ClientError, RemoteOps};

use crate::link_becomes;
use crate::world::{World, unique};

fn draft(name: &str, trigger: TriggerSpec) -> JobDraft {
    JobDraft {
        name: name.to_string(),
        kind: "noop".into(),
        trigger,
        timezone: "Asia/Shanghai".into(),
        args: serde_json::json!({}),
        policy: JobPolicy::default(),
    }
}

fn every_minute() -> TriggerSpec {
    TriggerSpec::Interval { every_seconds: 60, start: None, end: None }
}

#[tokio::test]
async fn a_write_and_the_reads_after_it_round_trip_through_the_server() {
    let world = World::start().await;
    let client = world.client();
    let operator = world.staff(Role::Operator).await;

    let staff = client.session_staff(&operator).await.unwrap();
    assert_eq!(staff.role, Role::Operator);
    let name = unique("remote job");
    let created = client.job_create(&operator, draft(&name, every_minute())).await.unwrap();
    assert_eq!(created.name, name);
    // The list, the one by its id (a path parameter), and the audit (a query string) show it.
    let listed = client.jobs_list(&operator).await.unwrap();
    assert!(listed.iter().any(|job| job.id == created.id && job.name == name), "{listed:?}");
    assert_eq!(client.job_get(&operator, created.id).await.unwrap().name, name);
    let paused = client.job_pause(&operator, created.id).await.unwrap();
    assert!(paused.paused, "{paused:?}");
    let audit =
        client.audit_list(&operator, opsdeck_api::audit::AuditQuery { limit: 5, ..Default::default() }).await.unwrap();
    assert!(audit.entries.len() <= 5);
    assert!(audit.entries.iter().any(|entry| entry.target.contains(&created.id.to_string())), "{audit:?}");
    // The audit's filters and sort go as the query string too: who, a family, the range, a search.
    let who = audit.entries.iter().find(|entry| entry.action == "job.pause").map(|entry| entry.who.clone());
    let filtered = opsdeck_api::audit::AuditQuery {
        actor: who,
        action: Some("job.".into()),
        from: Some(chrono::Utc::now() - chrono::Duration::hours(1)),
        to: Some(chrono::Utc::now() + chrono::Duration::minutes(1)),
        search: Some(created.id.to_string()),
        sort: Some(opsdeck_api::audit::AuditSort::Action),
        desc: true,
        offset: 0,
        limit: 10,
        before_id: None,
    };
    let filtered = client.audit_list(&operator, filtered).await.unwrap();
    let actions: Vec<_> = filtered.entries.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(actions, ["job.pause", "job.create"], "{filtered:?}");
    assert_eq!((filtered.next_offset, filtered.next_before_id), (None, None));
    // A list's query with every field set goes as the query string the server reads.
    let query = RunQuery {
        job_id: Some(created.id),
        outcome: None,
        from: Some(chrono::Utc::now() - chrono::Duration::hours(1)),
        to: Some(chrono::Utc::now()),
        sort: None,
        desc: false,
        offset: 0,
        limit: 10,
        before_id: Some(i64::MAX),
    };
    assert!(client.runs_list(&operator, query).await.unwrap().runs.is_empty());
    let orders = OrderQuery {
        search: Some("no such order & more".into()),
        status: Some(OrderStatus::Pending),
        sort: Some(OrderSort::CreatedAt),
        desc: true,
        offset: 0,
        limit: 5,
    };
    assert_eq!(client.orders_list(&operator, orders).await.unwrap().total, 0);
    let ocr = OcrQuery { search: Some("https://x/?a=b#c".into()), limit: 5, ..OcrQuery::default() };
    assert_eq!(client.ocr_list(&operator, ocr).await.unwrap().total, 0);
    // A path segment that needs escaping reaches the server as one segment.
    let missing = client.order_get(&operator, "NO/SUCH ORDER?".into()).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::OrderNotFound, "{missing:?}");
    // An operation that answers nothing.
    client.job_delete(&operator, created.id).await.unwrap();
    assert!(!client.jobs_list(&operator).await.unwrap().iter().any(|job| job.id == created.id));
    assert_eq!(*client.link().borrow(), LinkState::Connected);
    world.stop().await;
}

#[tokio::test]
async fn the_servers_error_body_comes_through_exactly_as_the_core_answers_it() {
    let world = World::start().await;
    let client = world.client();
    let operator = world.staff(Role::Operator).await;
    let bad_cron = TriggerSpec::Cron { expr: "0 61 * * *".into() };
    let remote = client.job_create(&operator, draft(&unique("bad cron"), bad_cron.clone())).await.unwrap_err();
    assert_eq!(remote.code, ErrorCode::CronInvalid, "{remote:?}");
    assert_eq!(remote.field.as_deref(), Some("trigger"), "{remote:?}");
    assert_eq!(remote.params.get("field").map(String::as_str), Some("hour"), "{remote:?}");
    // The same call on the core in process: the same body, field for field.
    let local =
        Ops::job_create(&world.core, &operator, draft(&unique("bad cron"), bad_cron.clone())).await.unwrap_err();
    assert_eq!(remote, local);
    let remote = client.job_preview(&operator, bad_cron.clone(), "Asia/Shanghai".into(), 3).await.unwrap_err();
    let local = Ops::job_preview(&world.core, &operator, bad_cron, "Asia/Shanghai".into(), 3).await.unwrap_err();
    assert_eq!(remote, local);
    let remote = client.job_get(&operator, i64::MAX).await.unwrap_err();
    assert_eq!(remote, Ops::job_get(&world.core, &operator, i64::MAX).await.unwrap_err());
    assert_eq!(remote.code, ErrorCode::JobNotFound);
    // A refusal is an answer: the link stays up.
    assert_eq!(*client.link().borrow(), LinkState::Connected);
    world.stop().await;
}

#[tokio::test]
async fn the_server_judges_roles_and_sessions() {
    let world = World::start().await;
    let client = world.client();
    let viewer = world.staff(Role::Viewer).await;
    assert!(client.jobs_list(&viewer).await.is_ok(), "a viewer reads");
    let refused = client.job_create(&viewer, draft(&unique("viewer's"), every_minute())).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::Forbidden, "{refused:?}");
    assert_eq!(refused.params.get("role").map(String::as_str), Some("viewer"), "{refused:?}");
    assert!(client.jobs_list(&viewer).await.unwrap().iter().all(|job| !job.name.starts_with("viewer's")));
    // No session, a made-up one, and one signed out: unauthenticated.
    for session in [SessionToken::none(), SessionToken::new("not-a-session-token-of-this-server")] {
        let e = client.jobs_list(&session).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthenticated, "{e:?}");
    }
    client.sign_out(&viewer).await.unwrap();
    assert_eq!(client.session_staff(&viewer).await.unwrap_err().code, ErrorCode::Unauthenticated);
    // The open operations need none.
    assert!(client.health().await.is_ok());
    assert!(client.auth_providers().await.unwrap().iter().any(|p| p.key.as_str() == "weibo"));
    world.stop().await;
}

#[tokio::test]
async fn a_server_out_of_reach_is_server_unreachable_until_it_answers_again() {
    let mut world = World::start().await;
    let client = world.client();
    let operator = world.staff(Role::Operator).await;
    let mut link = client.link();
    assert!(client.jobs_list(&operator).await.is_ok());
    world.stop_daemon().await;

    let e = client.jobs_list(&operator).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerUnreachable, "{e:?}");
    assert_eq!(e.params.get("server"), Some(&world.url), "{e:?}");
    assert!(e.message.contains(&world.url), "names the server: {}", e.message);
    assert!(!e.message.contains(operator.expose()), "never the token: {}", e.message);
    let state = link_becomes(&mut link, "the link down", |s| matches!(s, LinkState::Reconnecting { .. })).await;
    let LinkState::Reconnecting { attempt, retry_in_ms, reason } = state else { unreachable!() };
    assert_eq!(attempt, 1);
    assert!((200..=300).contains(&retry_in_ms), "the first wait is 250 ms ± 20 %: {retry_in_ms}");
    assert!(!reason.is_empty() && !reason.contains(operator.expose()), "{reason}");
    let again = client.health().await.unwrap_err();
    assert_eq!(again.code, ErrorCode::ServerUnreachable);
    assert!(matches!(*link.borrow(), LinkState::Reconnecting { attempt: 2, .. }), "{:?}", *link.borrow());

    world.start_daemon_again().await;
    assert!(client.jobs_list(&operator).await.is_ok(), "the session outlives the restart");
    link_becomes(&mut link, "the link up", |s| *s == LinkState::Connected).await;
    world.stop().await;
}

#[test]
fn the_client_refuses_plain_http_but_to_a_loopback_address_and_a_bad_server_ca() {
    let config = |url: &str| ClientConfig { server_url: url.into(), server_ca: None };
    for refused in ["http://ops.example.com", "http://192.168.1.10:8080", "http://[fe80::1]:8080", "ftp://127.0.0.1"] {
        let e = RemoteOps::new(&config(refused)).unwrap_err();
        assert!(matches!(e, ClientError::ServerUrl { .. }), "{refused}: {e}");
        let body = opsdeck_api::ErrorBody::from(e);
        assert_eq!((body.code, body.field.as_deref()), (ErrorCode::InvalidInput, Some("server_url")), "{refused}");
    }
    let e = RemoteOps::new(&config("http://ops.example.com")).unwrap_err();
    assert!(e.to_string().contains("https://"), "says what to use: {e}");
    for accepted in
        ["http://127.0.0.1:1", "http://localhost:8080/", "http://[::1]:8080", "https://ops.example.com/deck/"]
    {
        let client = RemoteOps::new(&config(accepted)).unwrap_or_else(|e| panic!("{accepted}: {e}"));
        assert!(!client.server_url().ends_with('/'), "{}", client.server_url());
    }

    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "this is no certificate").unwrap();
    for path in [dir.path().join("missing.pem"), not_pem] {
        let e = RemoteOps::new(&ClientConfig {
            server_url: "https://ops.example.com".into(),
            server_ca: Some(path.clone()),
        })
        .unwrap_err();
        assert!(matches!(e, ClientError::ServerCa { .. }), "{}: {e}", path.display());
        assert!(e.to_string().contains(&path.display().to_string()), "names the file: {e}");
        assert_eq!(opsdeck_api::ErrorBody::from(e).field.as_deref(), Some("server_ca"));
    }
}
