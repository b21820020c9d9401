//! A lean fake Slack Web API for load runs: the real wire format (<https://api.slack.com/web>:
//! `POST /api/{method}` with a JSON body and `Authorization: Bearer`, answers `{"ok": true, …}`
//! or `{"ok": false, "error": …}`) for what the service calls: `chat.postMessage`,
//! `chat.update`. Like the Telegram one it keeps no bodies: it notes, per load token (`load-<n>`
//! in a message's text), when each reply arrived.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::fake_telegram::token;

pub const BOT_TOKEN: &str = "xoxb-load-0000000001";
pub const SIGNING_SECRET: &str = "load-signing-secret";

#[derive(Default)]
struct Tally {
    delivered: HashMap<u64, Vec<Instant>>,
    next_ts: u64,
}

struct Shared {
    tally: Mutex<Tally>,
    changed: watch::Sender<u64>,
}

pub struct FakeSlack {
    /// `SLACK_API_URL` for the service.
    pub api_url: String,
    shared: Arc<Shared>,
}

impl FakeSlack {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/api", listener.local_addr()?);
        let shared = Arc::new(Shared {
            tally: Mutex::new(Tally::default()),
            changed: watch::Sender::new(0),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { api_url: url, shared })
    }

    /// When the first reply carrying `load-<token>` arrived, waiting up to `limit`.
    pub async fn wait_reply(&self, token: u64, limit: std::time::Duration) -> Option<Instant> {
        let mut changed = self.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let first = self
                .shared
                .tally
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .delivered
                .get(&token)
                .and_then(|at| at.first().copied());
            if first.is_some() {
                return first;
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return None;
            }
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let at = Instant::now();
    let bearer = format!("Bearer {BOT_TOKEN}");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(bearer.as_str()) {
        return Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match uri.path() {
        "/api/chat.postMessage" | "/api/chat.update" => {
            let text = body["text"].as_str().unwrap_or_default();
            let ts = {
                let mut tally = shared.tally.lock().unwrap_or_else(|p| p.into_inner());
                tally.next_ts += 1;
                if let Some(t) = token(text) {
                    tally.delivered.entry(t).or_default().push(at);
                }
                tally.next_ts
            };
            shared.changed.send_modify(|n| *n += 1);
            Json(json!({"ok": true, "channel": body["channel"], "ts": format!("1764000000.{ts:06}")}))
                .into_response()
        }
        _ => Json(json!({"ok": false, "error": "unknown_method"})).into_response(),
    }
}
