//! `Ops::events`: every event with an increasing id, resumable after an id without a gap (an
//! `Event::Resync` first when the id is unknown or what followed it is gone, or when the
//! subscriber fell behind), for any console role; the stream ends when its session ends or the
//! core stops.

use std::time::Duration;

use futures_util::StreamExt;
use opsdeck_api::accounts::{ProviderKey, Role};
use opsdeck_api::jobs::{JobDraft, JobPolicy, TriggerSpec};
use opsdeck_api::{Event, EventEnvelope, EventStream, Ops, SessionToken};
use opsdeck_core::Core;
use opsdeck_core::events::RING_EVENTS;

use crate::helpers::{config_with, redis_url, toml_string, unique};
use crate::session::user;

/// A core whose event streams check their session every 100 ms.
async fn started(dir: &std::path::Path) -> Core {
    let config = config_with(
        dir,
        &[
            ("data_dir", toml_string(&dir.display().to_string())),
            ("redis_url", toml_string(&redis_url())),
            ("redis_prefix", toml_string(&unique("live"))),
            ("health_interval_ms", "100".into()),
            ("events_heartbeat_ms", "100".into()),
        ],
    );
    Core::start(config).await.unwrap()
}

async fn session(core: &Core, role: Role) -> (i64, SessionToken) {
    let id = user(core, &unique(role.as_str()), Some(role)).await;
    (id, core.open_session_for(id, ProviderKey::Weibo).await.unwrap())
}

/// Creates a job through `Ops`: one `jobs_changed` event.
async fn create_job(core: &Core, s: &SessionToken) {
    let draft = JobDraft {
        name: unique("job"),
        kind: "noop".into(),
        trigger: TriggerSpec::Interval { every_seconds: 3600, start: None, end: None },
        timezone: "Asia/Shanghai".into(),
        args: serde_json::json!({}),
        policy: JobPolicy::default(),
    };
    Ops::job_create(core, s, draft).await.unwrap();
}

/// The next envelope, within 10 s; None when the stream ended.
async fn next(stream: &mut EventStream) -> Option<EventEnvelope> {
    tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("an event (or the end) within 10 s")
}

/// Envelopes until (and with) the `n`-th `jobs_changed`.
async fn through_jobs_changed(stream: &mut EventStream, n: usize) -> Vec<EventEnvelope> {
    let mut got = Vec::new();
    let mut seen = 0;
    while seen < n {
        let envelope = next(stream).await.expect("the stream goes on");
        seen += usize::from(matches!(envelope.event, Event::JobsChanged));
        got.push(envelope);
    }
    got
}

/// An id's number (`<boot>-<seq>`).
fn seq(envelope: &EventEnvelope) -> u64 {
    let (_, seq) = envelope.id.rsplit_once('-').unwrap_or_else(|| panic!("an id <boot>-<seq>: {}", envelope.id));
    seq.parse().unwrap_or_else(|_| panic!("an id <boot>-<seq>: {}", envelope.id))
}

fn kind(envelope: &EventEnvelope) -> String {
    serde_json::to_value(&envelope.event).unwrap()["kind"].as_str().unwrap().to_string()
}

/// Waits (bounded) for the stream to end, skipping what it still delivers.
async fn ends(stream: &mut EventStream, what: &str) {
    let ended = tokio::time::timeout(Duration::from_secs(10), async { while stream.next().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the stream did not end within 10 s after {what}");
}

#[tokio::test]
async fn ids_increase_and_resuming_after_an_id_replays_exactly_the_missed_events_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let core = started(dir.path()).await;
    let (_, operator) = session(&core, Role::Operator).await;
    let mut watching = Ops::events(&core, &operator, None).await.unwrap();

    create_job(&core, &operator).await;
    let before = through_jobs_changed(&mut watching, 1).await;
    let last_seen = before.last().unwrap().clone();
    // Meanwhile, a console that lost its connection misses these.
    for _ in 0..3 {
        create_job(&core, &operator).await;
    }
    let missed = through_jobs_changed(&mut watching, 3).await;
    let all: Vec<_> = before.iter().chain(&missed).collect();
    for pair in all.windows(2) {
        assert_eq!(
            seq(pair[1]),
            seq(pair[0]) + 1,
            "ids increase by one event at a time: {} then {}",
            pair[0].id,
            pair[1].id
        );
        assert_eq!(pair[0].id.rsplit_once('-').unwrap().0, pair[1].id.rsplit_once('-').unwrap().0, "one boot");
    }
    assert!(all.iter().all(|e| e.at_us > 0), "publish times are stamped");

    let mut resumed = Ops::events(&core, &operator, Some(last_seen.id.clone())).await.unwrap();
    let mut replayed = Vec::new();
    for _ in 0..missed.len() {
        replayed.push(next(&mut resumed).await.expect("the replay"));
    }
    let ids = |list: &[EventEnvelope]| list.iter().map(|e| (e.id.clone(), kind(e))).collect::<Vec<_>>();
    assert_eq!(ids(&replayed), ids(&missed), "exactly the missed events, in order, no resync");
    // Then live ones, with the next ids.
    create_job(&core, &operator).await;
    let live = through_jobs_changed(&mut resumed, 1).await;
    assert!(seq(&live[0]) > seq(replayed.last().unwrap()));
    // Resuming after the newest id replays nothing.
    let newest = live.last().unwrap().id.clone();
    let mut current = Ops::events(&core, &operator, Some(newest.clone())).await.unwrap();
    create_job(&core, &operator).await;
    let after = through_jobs_changed(&mut current, 1).await;
    assert!(after.iter().all(|e| seq(e) > seq(live.last().unwrap())), "nothing again after {newest}");
    core.shutdown().await;
}

#[tokio::test]
async fn an_unknown_or_another_cores_id_starts_with_a_resync_then_live_events() {
    let (dir, other_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let core = started(dir.path()).await;
    let other = started(other_dir.path()).await;
    let (_, operator) = session(&core, Role::Operator).await;
    let (_, elsewhere) = session(&other, Role::Operator).await;
    create_job(&other, &elsewhere).await;
    let mut theirs = Ops::events(&other, &elsewhere, None).await.unwrap();
    create_job(&other, &elsewhere).await;
    let foreign = through_jobs_changed(&mut theirs, 1).await.pop().unwrap().id;
    let mut ours = Ops::events(&core, &operator, None).await.unwrap();
    create_job(&core, &operator).await;
    let newest = through_jobs_changed(&mut ours, 1).await.pop().unwrap();
    let (boot, _) = newest.id.rsplit_once('-').unwrap();
    let future = format!("{boot}-{}", seq(&newest) + 1000);

    for id in [foreign, future, "not-an-id".into(), String::new()] {
        let mut stream = Ops::events(&core, &operator, Some(id.clone())).await.unwrap();
        let first = next(&mut stream).await.unwrap();
        assert!(matches!(first.event, Event::Resync), "{id:?}: a resync first, got {}", kind(&first));
        create_job(&core, &operator).await;
        let live = through_jobs_changed(&mut stream, 1).await;
        assert!(live.iter().all(|e| !matches!(e.event, Event::Resync)), "{id:?}: one resync");
        assert!(seq(&live[0]) > seq(&first), "{id:?}: ids go on increasing after the resync");
    }
    other.shutdown().await;
    core.shutdown().await;
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_gets_a_resync_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let core = started(dir.path()).await;
    let (_, viewer) = session(&core, Role::Viewer).await;
    let mut stream = Ops::events(&core, &viewer, None).await.unwrap();
    // Not read meanwhile: more than the core keeps for one subscriber.
    for _ in 0..RING_EVENTS + 10 {
        core.publish_event(Event::OrdersChanged);
    }
    let first = next(&mut stream).await.unwrap();
    assert!(matches!(first.event, Event::Resync), "got {}", kind(&first));
    let following = next(&mut stream).await.unwrap();
    assert_eq!(seq(&following), seq(&first) + 1, "the resync is numbered right before what follows it");
    assert!(!matches!(following.event, Event::Resync));
    core.shutdown().await;
}

#[tokio::test]
async fn a_viewer_subscribes_and_the_stream_ends_when_the_session_is_revoked_or_the_role_removed() {
    let dir = tempfile::tempdir().unwrap();
    let core = started(dir.path()).await;
    let (_, admin) = session(&core, Role::Admin).await;
    let (viewer_id, viewer) = session(&core, Role::Viewer).await;
    let (other_id, other) = session(&core, Role::Viewer).await;

    let mut stream = Ops::events(&core, &viewer, None).await.unwrap();
    create_job(&core, &admin).await;
    through_jobs_changed(&mut stream, 1).await;
    let mut other_stream = Ops::events(&core, &other, None).await.unwrap();

    core.sessions_revoke_user(viewer_id, "tester").await.unwrap();
    ends(&mut stream, "the session was revoked").await;
    let refused = Ops::events(&core, &viewer, None).await.err().expect("a revoked session is refused");
    assert_eq!(refused.code, "unauthenticated");

    Ops::staff_set_role(&core, &admin, other_id, None).await.unwrap();
    ends(&mut other_stream, "the role was removed").await;
    core.shutdown().await;
}

#[tokio::test]
async fn streams_end_when_the_core_stops() {
    let dir = tempfile::tempdir().unwrap();
    let core = started(dir.path()).await;
    let (_, viewer) = session(&core, Role::Viewer).await;
    let mut stream = Ops::events(&core, &viewer, None).await.unwrap();
    core.shutdown().await;
    ends(&mut stream, "the core stopped").await;
}
