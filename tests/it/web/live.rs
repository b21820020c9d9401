//! The live alerts stream is woken by what is recorded, not by its timer: with the fallback
//! poll (`COORDINATOR_WEB_FEED_POLL`) set to an hour, a proposal recorded while the stream is
//! open still arrives on it, and signing out everywhere still ends it.

use std::time::Duration;

use coordinator::domain::Role;
use coordinator::workspace::{Actor, Proposal};
use futures_util::{Stream, StreamExt};
use serde_json::json;

use super::client::WebClient;
use crate::helpers::{both_dbs, Db, TestApp};

/// Far longer than any test: whatever arrives did not come from the poll.
const POLL: &str = "1h";
/// How long a test waits for an event that should come at once.
const WAIT: Duration = Duration::from_secs(20);

both_dbs!(the_alerts_stream_wakes_when_something_is_recorded);

/// Reads the stream into `seen` until it holds `wanted`; `false` if the stream ended or
/// `WAIT` passed first.
async fn read_until<S, B, E>(stream: &mut S, seen: &mut String, wanted: &str) -> bool
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Debug,
{
    let found = tokio::time::timeout(WAIT, async {
        while let Some(chunk) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(chunk.unwrap().as_ref()));
            if seen.contains(wanted) {
                return true;
            }
        }
        false
    })
    .await;
    found == Ok(true)
}

async fn the_alerts_stream_wakes_when_something_is_recorded(db: Db) {
    let app = TestApp::builder(db)
        .with("COORDINATOR_WEB_FEED_POLL", POLL)
        .with("COORDINATOR_SCHEDULER_TICK", "1h")
        .spawn()
        .await;
    let r = app
        .post("/api/tasks", json!({"title": "Old duplicate of the notes"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let task_id = r.body["id"].as_i64().unwrap();
    let mut lead = WebClient::new(&app.base);
    lead.sign_in_with_token(&app.token("lead", Role::Member).await)
        .await;
    let cookie = format!("coordinator_session={}", lead.cookies["coordinator_session"]);
    let response = reqwest::Client::new()
        .get(format!("{}/web/alerts/stream", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut seen = String::new();

    // The feed as it is comes at once, without the proposal.
    assert!(read_until(&mut stream, &mut seen, "event: feed").await, "{seen}");
    assert!(!seen.contains("Proposal #"), "{seen}");

    // A proposal recorded now arrives, though the stream's poll is an hour away.
    let proposal = app
        .workspace
        .propose_action(
            &Actor::system("agent"),
            Proposal::DeleteTask { task_id },
            "a duplicate",
            None,
        )
        .await
        .unwrap();
    let marker = format!("Proposal #{} ", proposal.id);
    assert!(read_until(&mut stream, &mut seen, &marker).await, "{seen}");
    assert_eq!(seen.matches("event: feed").count(), 2, "{seen}");

    // Signing out everywhere ends the open stream at once, too.
    let csrf = lead.get("/web").await.csrf();
    let out = lead
        .post("/web/sign-out", &[("csrf", &csrf), ("everywhere", "1")])
        .await;
    assert_eq!(out.status, 303, "{}", out.body);
    let ended = tokio::time::timeout(WAIT, async {
        while let Some(chunk) = stream.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream stayed open after signing out");
}
