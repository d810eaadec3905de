//! `GET /api/v1/events`: the console's live events as server-sent events. An action over
//! `/api/v1/` shows up on the stream with its id; a client that reconnects with `Last-Event-ID`
//! (or `?last_event_id=`) gets what it missed, in order; a heartbeat comment comes while nothing
//! else does; no session is 401 before anything streams; a revoked session's stream closes, and
//! open streams do not hold the server's stop.

use std::time::Duration;

use opsdeck_api::SessionToken;
use opsdeck_core::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{TOKEN, World, expect_error, json, unique};

/// One server-sent block: a message (`id`, `data` as JSON) or a comment (a heartbeat).
#[derive(Debug)]
pub enum Frame {
    Message { id: Option<String>, data: Value },
    Comment,
}

/// Reads a `text/event-stream` answer block by block.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Opens the stream; panics unless it is a 200 `text/event-stream`.
    pub async fn open(request: reqwest::RequestBuilder) -> SseReader {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(status == 200 && content_type.starts_with("text/event-stream"), "{status} {content_type:?}");
        SseReader { response, buffer: String::new() }
    }

    /// The next block within 10 s; None when the stream ended.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&block));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("a message, a heartbeat or the end within 10 s");
            match chunk {
                Ok(Some(bytes)) => self.buffer.push_str(std::str::from_utf8(&bytes).expect("UTF-8")),
                Ok(None) | Err(_) => {
                    assert!(self.buffer.trim().is_empty(), "the stream ended mid-message: {:?}", self.buffer);
                    return None;
                }
            }
        }
    }

    /// The next message (skipping heartbeats): its id and data; None when the stream ended.
    pub async fn message(&mut self) -> Option<(String, Value)> {
        loop {
            match self.next().await? {
                Frame::Message { id, data } => return Some((id.expect("every message has an id"), data)),
                Frame::Comment => {}
            }
        }
    }

    /// Messages until (and with) the `n`-th whose event is `kind`.
    pub async fn through(&mut self, kind: &str, n: usize) -> Vec<(String, Value)> {
        let mut got = Vec::new();
        let mut seen = 0;
        while seen < n {
            let message = self.message().await.unwrap_or_else(|| panic!("the stream ended before {kind}"));
            seen += usize::from(message.1["event"]["kind"] == kind);
            got.push(message);
        }
        got
    }
}

fn parse(block: &str) -> Frame {
    let (mut id, mut data, mut comment) = (None, Vec::new(), false);
    for line in block.lines() {
        if line.starts_with(':') {
            comment = true;
        } else if let Some(value) = line.strip_prefix("id:") {
            id = Some(value.trim_start().to_string());
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
        }
    }
    if data.is_empty() {
        assert!(comment, "a block that is neither a message nor a comment: {block:?}");
        return Frame::Comment;
    }
    let data = serde_json::from_str(&data.join("\n")).unwrap_or_else(|e| panic!("data is one JSON ({e}): {block:?}"));
    Frame::Message { id, data }
}

/// A staff member made as `opsdeckd staff token` makes them: their user id and session.
pub async fn staff(world: &World, role: Role) -> (String, i64, SessionToken) {
    let name = unique(role.as_str());
    let issued = opsdeck_core::staff_token(world.core.config(), &name, role).await.unwrap();
    (name, issued.user_id, issued.token)
}

fn events(world: &World, session: &SessionToken) -> reqwest::RequestBuilder {
    world.http.get(world.url("/api/v1/events")).bearer_auth(session.expose())
}

async fn create_job(world: &World, session: &SessionToken) {
    let draft = json!({
        "name": unique("sse job"),
        "kind": "noop",
        "trigger": { "type": "interval", "every_seconds": 3600 },
        "timezone": "Asia/Shanghai",
        "args": {},
    });
    let created = world.http.post(world.url("/api/v1/jobs")).bearer_auth(session.expose()).json(&draft).send();
    let (status, body) = json(created.await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
}

/// An id's number (`<boot>-<seq>`).
fn seq(id: &str) -> u64 {
    id.rsplit_once('-').and_then(|(_, seq)| seq.parse().ok()).unwrap_or_else(|| panic!("an id <boot>-<seq>: {id}"))
}

#[tokio::test]
async fn an_action_reaches_the_stream_with_its_id_and_a_reconnect_resumes_after_the_last_id() {
    let world = World::start().await;
    let (_, _, viewer) = staff(&world, Role::Viewer).await;
    let (_, _, operator) = staff(&world, Role::Operator).await;

    let mut stream = SseReader::open(events(&world, &viewer)).await;
    create_job(&world, &operator).await;
    let seen = stream.through("jobs_changed", 1).await;
    for (id, data) in &seen {
        assert_eq!(data["id"], id.as_str(), "the message's id is its envelope's: {data}");
        assert!(data["at_us"].as_i64().is_some_and(|at| at > 0), "{data}");
    }
    let last = seen.last().unwrap().0.clone();
    // The console loses its connection; meanwhile two jobs are created.
    drop(stream);
    create_job(&world, &operator).await;
    create_job(&world, &operator).await;

    for resume in [
        events(&world, &viewer).header("Last-Event-ID", &last),
        world.http.get(world.url("/api/v1/events")).query(&[("last_event_id", &last)]).bearer_auth(viewer.expose()),
    ] {
        let mut resumed = SseReader::open(resume).await;
        let missed = resumed.through("jobs_changed", 2).await;
        let mut previous = seq(&last);
        for (id, data) in &missed {
            assert_ne!(data["event"]["kind"], "resync", "nothing was lost: {data}");
            assert_eq!(seq(id), previous + 1, "every event after {previous}, in order");
            previous = seq(id);
        }
    }

    // An id this server never gave (another process's, or from before a restart): resync first.
    let mut unknown = SseReader::open(events(&world, &viewer).header("Last-Event-ID", "0123456789abcdef-7")).await;
    let (_, first) = unknown.message().await.unwrap();
    assert_eq!(first["event"]["kind"], "resync", "{first}");
    world.stop().await;
}

#[tokio::test]
async fn a_heartbeat_comment_comes_while_nothing_else_does() {
    // Health reports every 10 s: the stream is quiet between the OCR figures (every second).
    let world =
        World::start_with(&[("events_heartbeat_ms", "100".into()), ("health_interval_ms", "10000".into())]).await;
    let (_, _, viewer) = staff(&world, Role::Viewer).await;
    let mut stream = SseReader::open(events(&world, &viewer)).await;
    let mut heartbeats = 0;
    while heartbeats < 3 {
        match stream.next().await.expect("the stream goes on") {
            Frame::Comment => heartbeats += 1,
            Frame::Message { .. } => {}
        }
    }
    world.stop().await;
}

#[tokio::test]
async fn no_valid_session_is_401_before_anything_streams() {
    let world = World::start().await;
    let url = world.url("/api/v1/events");
    expect_error(world.http.get(&url).send().await.unwrap(), 401, "unauthenticated").await;
    // The API token is no staff session.
    expect_error(world.http.get(&url).bearer_auth(TOKEN).send().await.unwrap(), 401, "unauthenticated").await;
    let forged = world.http.get(&url).bearer_auth("not-a-session").header("Last-Event-ID", "x-1");
    expect_error(forged.send().await.unwrap(), 401, "unauthenticated").await;
    world.stop().await;
}

#[tokio::test]
async fn the_stream_closes_when_the_session_is_revoked() {
    let world = World::start_with(&[("events_heartbeat_ms", "100".into())]).await;
    let (name, _, viewer) = staff(&world, Role::Viewer).await;
    let (_, admin_id, admin) = staff(&world, Role::Admin).await;

    // `opsdeckd staff revoke --name`: the command line's own path, on the daemon's database.
    let mut stream = SseReader::open(events(&world, &viewer)).await;
    stream.message().await.expect("the stream is live");
    opsdeck_core::staff_revoke(world.core.config(), &name).await.unwrap();
    while stream.next().await.is_some() {}
    expect_error(events(&world, &viewer).send().await.unwrap(), 401, "unauthenticated").await;

    // An admin ends a session from the console (`DELETE /api/v1/sessions/{id}`): their own here.
    let mut stream = SseReader::open(events(&world, &admin)).await;
    let (status, sessions) =
        json(world.http.get(world.url("/api/v1/sessions")).bearer_auth(admin.expose()).send().await.unwrap()).await;
    assert_eq!(status, 200, "{sessions}");
    let own = sessions.as_array().unwrap().iter().find(|s| s["user_id"] == admin_id).expect("the admin's session");
    let path = format!("/api/v1/sessions/{}", own["id"]);
    let revoked = world.http.request(Method::DELETE, world.url(&path)).bearer_auth(admin.expose()).send();
    assert_eq!(revoked.await.unwrap().status().as_u16(), 200);
    while stream.next().await.is_some() {}
    world.stop().await;
}

#[tokio::test]
async fn open_streams_end_when_the_server_stops() {
    let world = World::start().await;
    let (_, _, viewer) = staff(&world, Role::Viewer).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = SseReader::open(events(&world, &viewer)).await;
        stream.message().await.expect("the stream is live");
        streams.push(stream);
    }
    // The server's stop lets requests in progress finish: the streams end rather than hold it.
    tokio::time::timeout(Duration::from_secs(5), world.stop()).await.expect("the server stops within 5 s");
    for mut stream in streams {
        while stream.next().await.is_some() {}
    }
}
