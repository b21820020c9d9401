//! `FakeSlack`: an in-process Slack on 127.0.0.1 speaking the real wire format
//! (<https://api.slack.com/web>, <https://api.slack.com/apis/socket-mode>): the Web API under
//! `/api` (`web`), response URLs, private file downloads, and a Socket Mode websocket
//! (`socket`), so the coordinator's real Slack code runs end to end without the network.
//!
//! Web API, as Slack answers it: `POST /api/{method}` with `Authorization: Bearer`, JSON in, and
//! always HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error": "..."}` (`not_authed`,
//! `invalid_auth`, `channel_not_found`, `message_not_found`), except a rate-limited call: HTTP
//! 429 with `Retry-After` (seconds) and `{"ok": false, "error": "ratelimited"}`. Methods:
//! `chat.postMessage` (answers `channel`, `ts`, `message`), `chat.update`, `files.info` (GET,
//! `?file=`), `apps.connections.open` (the app-level `xapp-` token; answers the websocket
//! `url`). Response URLs (`POST /response/{n}`) answer `ok`, and `used_url` (404) after five
//! uses, as Slack's do. `GET /files/{id}` serves a file's bytes with the bot token.
//!
//! Socket Mode: on connection `hello`; [`FakeSlack::envelope`] sends an envelope (`events_api`,
//! `slash_commands`, `interactive`) with a fresh `envelope_id`, and the acknowledgements the app
//! sends back are kept ([`FakeSlack::acks`]).

// A shared helper: each test module uses only part of it.
#![allow(dead_code)]

mod socket;
mod web;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const BOT_TOKEN: &str = "xoxb-1000000001-2000000002-fakebottoken";
pub const APP_TOKEN: &str = "xapp-1-A0APP0001-3000000003-fakeapptoken";
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const BOT_USER: &str = "U0BOT0001";
pub const TEAM: &str = "T0TEAM001";
pub const APP_ID: &str = "A0APP0001";

/// A message as the fake holds it (after updates).
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub channel: String,
    pub ts: String,
    pub text: String,
    pub blocks: Value,
    pub thread_ts: Option<String>,
    /// How many times `chat.update` changed it.
    pub updates: u32,
}

impl Msg {
    /// The values of its buttons, in order.
    pub fn button_values(&self) -> Vec<String> {
        self.blocks
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["value"].as_str().map(str::to_owned))
            .collect()
    }

    /// Its blocks' text, joined.
    pub fn block_text(&self) -> String {
        self.blocks
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|b| {
                let mut texts = vec![b["text"]["text"].as_str().unwrap_or_default().to_owned()];
                for e in b["elements"].as_array().into_iter().flatten() {
                    texts.push(e["text"].as_str().unwrap_or_default().to_owned());
                }
                texts
            })
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// `chat.postMessage`, `response:3`, `files.info`…
    pub method: String,
    pub authorization: Option<String>,
    pub body: Value,
    pub at: Instant,
}

/// A body posted to a response URL.
#[derive(Debug, Clone)]
pub struct Response {
    pub url: String,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    messages: Vec<Msg>,
    responses: Vec<Response>,
    response_uses: HashMap<String, u32>,
    /// Method → Retry-After seconds of the next calls' 429s.
    rate_limits: HashMap<String, VecDeque<u64>>,
    files: HashMap<String, (String, Vec<u8>)>,
    next_ts: u64,
    next_url: u64,
    next_envelope: u64,
    sockets: Vec<mpsc::UnboundedSender<Value>>,
    acks: Vec<Value>,
    connections: usize,
}

struct Shared {
    state: Mutex<Inner>,
    base: String,
    socket_url: String,
    shutdown: CancellationToken,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct FakeSlack {
    /// `SLACK_API_URL` for the app: `http://127.0.0.1:PORT/api`.
    pub api_url: String,
    shared: Arc<Shared>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl FakeSlack {
    pub async fn start() -> Self {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", api.local_addr().unwrap());
        let shared = Arc::new(Shared {
            state: Mutex::new(Inner {
                next_ts: 1,
                ..Inner::default()
            }),
            base: base.clone(),
            socket_url: format!("ws://{}/link/", ws.local_addr().unwrap()),
            shutdown: CancellationToken::new(),
        });
        let app = Router::new().fallback(web::handle).with_state(shared.clone());
        let stop = shared.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(api, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        tokio::spawn(socket::serve(ws, shared.clone()));
        FakeSlack {
            api_url: format!("{base}/api"),
            shared,
        }
    }

    /// A fresh response URL, as Slack puts in a slash command or an interaction.
    pub fn response_url(&self) -> String {
        let mut state = self.shared.lock();
        state.next_url += 1;
        format!("{}/response/{}", self.shared.base, state.next_url)
    }

    /// A file the bot may download (`files.info`, then its private URL).
    pub fn add_file(&self, id: &str, mimetype: &str, bytes: Vec<u8>) {
        self.shared
            .lock()
            .files
            .insert(id.to_owned(), (mimetype.to_owned(), bytes));
    }

    /// The next calls of `method` answer 429 with these `Retry-After` seconds, then succeed.
    pub fn rate_limit_next(&self, method: &str, retry_after: Vec<u64>) {
        self.shared
            .lock()
            .rate_limits
            .entry(method.to_owned())
            .or_default()
            .extend(retry_after);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.method == method).collect()
    }

    pub fn messages(&self) -> Vec<Msg> {
        self.shared.lock().messages.clone()
    }

    pub fn responses(&self) -> Vec<Response> {
        self.shared.lock().responses.clone()
    }

    /// Polls until `pred` holds or `timeout` passes; returns what `read` gives then.
    pub async fn wait<T>(
        &self,
        timeout: Duration,
        read: impl Fn(&Self) -> T,
        pred: impl Fn(&T) -> bool,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let value = read(self);
            if pred(&value) || Instant::now() >= deadline {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until a message in `channel` satisfies `pred`.
    pub async fn wait_message(&self, timeout: Duration, channel: &str, pred: impl Fn(&Msg) -> bool) -> Msg {
        let found = self
            .wait(
                timeout,
                |f| f.messages(),
                |m| m.iter().any(|m| m.channel == channel && pred(m)),
            )
            .await;
        found
            .into_iter()
            .find(|m| m.channel == channel && pred(m))
            .unwrap_or_else(|| panic!("no such message in {channel}: {:?}", self.messages()))
    }

    /// Waits until `n` bodies were posted to response URLs.
    pub async fn wait_responses(&self, timeout: Duration, n: usize) -> Vec<Response> {
        let got = self.wait(timeout, |f| f.responses(), |r| r.len() >= n).await;
        assert!(got.len() >= n, "expected {n} responses, got {got:?}");
        got
    }

    /// Socket Mode connections opened so far.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    pub async fn wait_connected(&self, timeout: Duration) {
        let got = self
            .wait(timeout, |f| f.shared.lock().sockets.len(), |n| *n > 0)
            .await;
        assert!(got > 0, "the app never opened Socket Mode");
    }

    /// Sends a Socket Mode envelope of `kind` carrying `payload`; its `envelope_id`.
    pub fn envelope(&self, kind: &str, payload: Value) -> String {
        let mut state = self.shared.lock();
        state.next_envelope += 1;
        let id = format!("{:08x}-fake-envelope", state.next_envelope);
        let envelope = serde_json::json!({
            "envelope_id": id, "type": kind, "payload": payload,
            "accepts_response_payload": kind != "events_api", "retry_attempt": 0, "retry_reason": ""
        });
        state.sockets.retain(|s| s.send(envelope.clone()).is_ok());
        id
    }

    /// Sends `{"type": "disconnect"}`, as Slack does before refreshing a connection.
    pub fn disconnect(&self) {
        let message = serde_json::json!({"type": "disconnect", "reason": "refresh_requested",
                                          "debug_info": {"host": "applink-fake"}});
        self.shared
            .lock()
            .sockets
            .retain(|s| s.send(message.clone()).is_ok());
    }

    /// The acknowledgements received over Socket Mode.
    pub fn acks(&self) -> Vec<Value> {
        self.shared.lock().acks.clone()
    }

    pub async fn wait_ack(&self, timeout: Duration, envelope_id: &str) -> Value {
        let acks = self
            .wait(
                timeout,
                |f| f.acks(),
                |a| a.iter().any(|a| a["envelope_id"] == envelope_id),
            )
            .await;
        acks.into_iter()
            .find(|a| a["envelope_id"] == envelope_id)
            .unwrap_or_else(|| panic!("envelope {envelope_id} was never acknowledged"))
    }
}
