//! The live events through the server: what the core publishes arrives; when the daemon stops
//! and starts again on the same port, the stream reconnects by itself (the link `Reconnecting`,
//! then `Connected`), resumes after its last id and gets a `resync` (the new daemon does not
//! hold the old one's events), then new events; it ends when the session does.

use std::time::Duration;

use opsdeck_api::accounts::Role;
use opsdeck_api::jobs::{JobDraft, JobPolicy, TriggerSpec};
use opsdeck_api::{ErrorCode, Event, LinkState, Ops, SessionToken};
use opsdeck_client::RemoteOps;

use crate::world::{World, unique};
use crate::{Reader, link_becomes};

const WITHIN: Duration = Duration::from_secs(30);

/// Creates a job through `client` (the core publishes `jobs_changed`).
async fn change_jobs(client: &RemoteOps, session: &SessionToken) -> i64 {
    let draft = JobDraft {
        name: unique("evented job"),
        kind: "noop".into(),
        trigger: TriggerSpec::Interval { every_seconds: 60, start: None, end: None },
        timezone: "Asia/Shanghai".into(),
        args: serde_json::json!({}),
        policy: JobPolicy::default(),
    };
    client.job_create(session, draft).await.unwrap().id
}

/// An id's boot (`<boot>-<seq>`): which daemon process numbered it.
fn boot(id: &str) -> &str {
    id.rsplit_once('-').expect("an id <boot>-<seq>").0
}

#[tokio::test]
async fn the_stream_yields_published_events_and_reconnects_with_a_resync_after_a_daemon_restart() {
    let mut world = World::start().await;
    let client = world.client();
    let operator = world.staff(Role::Operator).await;
    let mut link = client.link();
    let mut events = Reader::new(client.events(&operator, None).await.unwrap());
    change_jobs(&client, &operator).await;
    let changed = events.next_wanted("jobs_changed", WITHIN, |e| matches!(e, Event::JobsChanged)).await;
    let old_boot = boot(&changed.id).to_string();

    world.stop_daemon().await;
    let down = link_becomes(&mut link, "the link down", |s| matches!(s, LinkState::Reconnecting { .. })).await;
    let LinkState::Reconnecting { reason, .. } = down else { unreachable!() };
    assert!(!reason.contains(operator.expose()), "never the token: {reason}");
    world.start_daemon_again().await;

    // What the old connection delivered before it closed, then the resync: nothing of the new
    // daemon's comes before it.
    let resync = loop {
        let envelope =
            events.next("an event after the restart", WITHIN).await.expect("the stream goes on across the restart");
        if matches!(envelope.event, Event::Resync) {
            break envelope;
        }
        assert_eq!(boot(&envelope.id), old_boot, "the old daemon's events only, before the resync: {envelope:?}");
    };
    assert_ne!(boot(&resync.id), old_boot, "the resync is the new daemon's");
    link_becomes(&mut link, "the link up again", |s| *s == LinkState::Connected).await;
    change_jobs(&client, &operator).await;
    let after = events.next_wanted("jobs_changed after the restart", WITHIN, |e| matches!(e, Event::JobsChanged)).await;
    assert_eq!(boot(&after.id), boot(&resync.id));
    world.stop().await;
}

#[tokio::test]
async fn a_stream_opened_while_the_server_is_down_connects_when_it_comes_back() {
    let mut world = World::start().await;
    let client = world.client();
    let viewer = world.staff(Role::Viewer).await;
    let mut link = client.link();
    world.stop_daemon().await;

    let mut events = Reader::new(client.events(&viewer, None).await.expect("a stream that keeps trying, not an error"));
    link_becomes(&mut link, "the link down", |s| matches!(s, LinkState::Reconnecting { .. })).await;
    world.start_daemon_again().await;
    let operator = world.staff(Role::Operator).await;
    link_becomes(&mut link, "the link up", |s| *s == LinkState::Connected).await;
    change_jobs(&client, &operator).await;
    events.next_wanted("jobs_changed", WITHIN, |e| matches!(e, Event::JobsChanged)).await;
    world.stop().await;
}

#[tokio::test]
async fn the_stream_ends_when_its_session_does_and_no_session_gets_none() {
    let world = World::start().await;
    let client = world.client();
    let viewer = world.staff(Role::Viewer).await;
    let mut events = Reader::new(client.events(&viewer, None).await.unwrap());
    client.sign_out(&viewer).await.unwrap();
    while events.next("the stream's end after its session's", WITHIN).await.is_some() {}
    assert_eq!(*client.link().borrow(), LinkState::Connected, "the server answered: the link is up");

    for session in [viewer, SessionToken::none(), SessionToken::new("no-such-session-token")] {
        let refused = client.events(&session, None).await.err().expect("no stream without a session");
        assert_eq!(refused.code, ErrorCode::Unauthenticated, "{refused:?}");
    }
    world.stop().await;
}
