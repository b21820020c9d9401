//! `FakeDiscord`: an in-process Discord server on 127.0.0.1 speaking the real wire format
//! (<https://discord.com/developers/docs>): the REST API under `/api/v10` (`rest`) and a gateway
//! WebSocket (`gateway`), so the coordinator's real Discord code runs end to end without the
//! network.
//!
//! REST, as Discord answers it: `GET /gateway`, `GET /gateway/bot`, `POST /channels/{id}/messages`,
//! `POST /users/@me/channels`, `GET /applications/@me`, `GET|PUT /applications/{app}/commands`
//! and the guild variant, `POST /interactions/{id}/{token}/callback` (the interaction response:
//! 204, or 400 code 40060 when already acknowledged, 404 code 10062 for an unknown
//! interaction), `POST /webhooks/{app}/{token}` (interaction follow-ups) and `GET|PATCH
//! /webhooks/{app}/{token}/messages/@original`. Bot routes need `Authorization: Bot TOKEN`
//! (401 otherwise); interaction callbacks and webhooks need no bot token but a token that
//! Discord issued (401, code 50027, otherwise). Errors are `{"message", "code"}`; a 429 is
//! `{"message", "retry_after", "global"}` with `Retry-After` and `X-RateLimit-*` headers. Every
//! answer carries `X-RateLimit-*` headers.
//!
//! Interactions over HTTP: a test signs and POSTs an interaction to the app, then hands the
//! app's answer to [`FakeDiscord::interaction_answered`], as Discord would act on it (a deferred
//! answer creates the "thinking" message that `@original` then refers to). Over the gateway:
//! [`FakeDiscord::dispatch_interaction`] sends `INTERACTION_CREATE`, and the app's callback
//! does the same.
//!
//! Gateway: Hello (op 10), Identify (op 2) → READY, heartbeats (op 1) acknowledged (op 11), and
//! [`FakeDiscord::dispatch`] sends events (op 0, with the next sequence number) to every
//! identified session.

// A shared helper: each test module uses only part of it.
#![allow(dead_code)]

mod gateway;
mod rest;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "MTEwMDAwMDAwMDAwMDAwMDAwMA.fake.bot-token";
pub const APP_ID: &str = "1100000000000000000";
/// The bot user's id (the application's id, as for every modern Discord app).
pub const BOT_ID: &str = APP_ID;
pub const BOT_NAME: &str = "coordinator";
pub const GUILD_ID: &str = "1000000000000000001";
/// Message flags.
pub const EPHEMERAL: u64 = 1 << 6;
pub const LOADING: u64 = 1 << 7;

/// A message as the fake holds it (after edits).
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub id: String,
    pub channel_id: String,
    pub content: String,
    pub components: Value,
    pub flags: u64,
    /// The interaction token it was sent through, or `None` when the bot sent it by REST.
    pub via_interaction: Option<String>,
    pub message_reference: Option<Value>,
    pub allowed_mentions: Option<Value>,
    /// The `nonce` it was created with, if any.
    pub nonce: Option<String>,
}

impl Msg {
    /// The `custom_id`s of its buttons, in order.
    pub fn custom_ids(&self) -> Vec<String> {
        self.components
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
            .filter_map(|b| b["custom_id"].as_str().map(str::to_owned))
            .collect()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "channel_id": self.channel_id, "type": if self.via_interaction.is_some() { 20 } else { 0 },
            "content": self.content, "components": self.components, "flags": self.flags,
            "author": {"id": BOT_ID, "username": BOT_NAME, "discriminator": "0", "avatar": null, "bot": true, "global_name": null},
            "timestamp": "2025-11-25T10:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
            "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": false, "application_id": APP_ID, "message_reference": self.message_reference,
            "nonce": self.nonce,
        })
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The path after `/api/v10`, e.g. `/channels/5/messages`.
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
    pub at: Instant,
}

/// A file the app sent with a message (multipart `files[n]`).
#[derive(Debug, Clone)]
pub struct Upload {
    /// The path it was sent to, e.g. `/channels/5/messages`.
    pub path: String,
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A scripted failure for [`FakeDiscord::fail_next`].
#[derive(Debug, Clone)]
pub enum Failure {
    RateLimited {
        retry_after: f64,
        global: bool,
    },
    ServerError,
    /// The request takes effect (a message is created), but its answer is lost: a 500 comes
    /// back instead, as when Discord's edge times out behind a write that went through.
    AnswerLost,
    /// A Discord error answer, e.g. 404 code 10015 "Unknown Webhook".
    Refused {
        status: u16,
        code: i64,
        message: &'static str,
    },
}

struct Interaction {
    id: String,
    channel_id: String,
    /// The message a pressed button is on.
    button_message: Option<String>,
    original: Option<String>,
    /// Discord has sent the interaction but not yet taken in the app's answer.
    pending: bool,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    messages: Vec<Msg>,
    interactions: HashMap<String, Interaction>,
    /// Registered commands by scope: `None` global, `Some(guild)`.
    commands: HashMap<Option<String>, Vec<Value>>,
    users: HashSet<String>,
    dm_channels: HashMap<String, String>,
    failures: HashMap<String, VecDeque<Failure>>,
    /// `METHOD path` → reset-after seconds: the next success there reports an empty bucket.
    empty_buckets: HashMap<String, f64>,
    next_id: u64,
    identifies: Vec<Value>,
    sessions: Vec<mpsc::UnboundedSender<Value>>,
    seq: u64,
    /// Path → (content type, bytes) of the attachments the fake CDN serves.
    cdn: HashMap<String, (String, Vec<u8>)>,
    uploads: Vec<Upload>,
}

struct Shared {
    state: Mutex<Inner>,
    gateway_url: String,
    shutdown: CancellationToken,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct FakeDiscord {
    /// `DISCORD_API_URL` for the app: `http://127.0.0.1:PORT/api/v10`.
    pub api_url: String,
    pub gateway_url: String,
    shared: Arc<Shared>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

/// A snowflake made now (so that Discord's 15-minute token lifetime holds), unique per call.
pub fn snowflake() -> String {
    snowflake_at(chrono::Utc::now())
}

pub fn snowflake_at(at: chrono::DateTime<chrono::Utc>) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let ms = (at.timestamp_millis() - 1_420_070_400_000) as u64;
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) & 0x3f_ffff;
    ((ms << 22) | n).to_string()
}

/// A Discord error answer: status and `{"message", "code"}`.
fn error(status: u16, code: i64, message: &str) -> (StatusCode, Value) {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, json!({"message": message, "code": code}))
}

impl FakeDiscord {
    pub async fn start() -> Self {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_url = format!("ws://{}", ws.local_addr().unwrap());
        let shared = Arc::new(Shared {
            state: Mutex::new(Inner {
                next_id: 1,
                ..Inner::default()
            }),
            gateway_url: gateway_url.clone(),
            shutdown: CancellationToken::new(),
        });
        let api_url = format!("http://{}/api/v10", api.local_addr().unwrap());
        let app = Router::new().fallback(rest::handle).with_state(shared.clone());
        let stop = shared.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(api, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        tokio::spawn(gateway::serve(ws, shared.clone()));
        FakeDiscord {
            api_url,
            gateway_url,
            shared,
        }
    }

    /// `id` is a user (so `POST /channels/{id}/messages` answers Unknown Channel).
    pub fn add_user(&self, id: &str) {
        self.shared.lock().users.insert(id.to_owned());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// Calls whose `METHOD path` starts with `prefix`, e.g. `"PUT /applications"`.
    pub fn calls_to(&self, prefix: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| format!("{} {}", c.method, c.path).starts_with(prefix))
            .collect()
    }

    pub fn messages(&self) -> Vec<Msg> {
        self.shared.lock().messages.clone()
    }

    pub fn commands(&self, guild: Option<&str>) -> Vec<Value> {
        self.shared
            .lock()
            .commands
            .get(&guild.map(str::to_owned))
            .cloned()
            .unwrap_or_default()
    }

    /// Deletes a registered command, as someone might in Discord's developer portal.
    pub fn delete_command(&self, guild: Option<&str>, name: &str) {
        if let Some(list) = self.shared.lock().commands.get_mut(&guild.map(str::to_owned)) {
            list.retain(|c| c["name"] != name);
        }
    }

    /// The next calls of `METHOD path` answer these failures, then succeed again.
    pub fn fail_next(&self, method: &str, path: &str, failures: Vec<Failure>) {
        self.shared
            .lock()
            .failures
            .entry(format!("{method} {path}"))
            .or_default()
            .extend(failures);
    }

    /// The next success of `METHOD path` reports its bucket empty for `reset_after` seconds.
    pub fn empty_bucket_next(&self, method: &str, path: &str, reset_after: f64) {
        self.shared
            .lock()
            .empty_buckets
            .insert(format!("{method} {path}"), reset_after);
    }

    /// Discord sends `interaction`: its webhook exists from now on, and calls to it wait (up to
    /// five seconds) until [`Self::interaction_answered`], as Discord takes in the first answer
    /// before anything else.
    pub fn interaction_sent(&self, interaction: &Value) {
        let token = interaction["token"].as_str().unwrap_or_default().to_owned();
        self.shared
            .lock()
            .interactions
            .entry(token)
            .or_insert(Interaction {
                id: interaction["id"].as_str().unwrap_or_default().to_owned(),
                channel_id: interaction["channel_id"].as_str().unwrap_or_default().to_owned(),
                button_message: interaction["message"]["id"].as_str().map(str::to_owned),
                original: None,
                pending: true,
            });
    }

    /// Acts on the app's answer to `interaction`, as Discord does.
    pub fn interaction_answered(&self, interaction: &Value, answer: &Value) {
        self.interaction_sent(interaction);
        let token = interaction["token"].as_str().unwrap_or_default();
        answered(&mut self.shared.lock(), token, answer);
    }

    /// Discord sends `interaction` over the gateway (`INTERACTION_CREATE`), where no HTTP
    /// answer exists: the app answers through the callback route.
    pub fn dispatch_interaction(&self, interaction: &Value) {
        self.interaction_sent(interaction);
        self.dispatch("INTERACTION_CREATE", interaction.clone());
    }

    /// The interaction responses the app sent through the callback route, per interaction id.
    pub fn callbacks(&self, interaction: &Value) -> Vec<Call> {
        let id = interaction["id"].as_str().unwrap_or_default();
        self.calls_to(&format!("POST /interactions/{id}/"))
    }

    /// Polls until `pred` holds for the messages or `timeout` passes; returns the messages.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&[Msg]) -> bool) -> Vec<Msg> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if pred(&messages) || Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Serves `bytes` as an attachment and returns its object as Discord puts it in a
    /// message's `attachments[]` (a CDN URL on the fake's host).
    pub fn add_attachment(&self, filename: &str, content_type: &str, bytes: Vec<u8>) -> Value {
        let id = snowflake();
        let path = format!("/attachments/1000000000000000002/{id}/{filename}");
        let base = self.api_url.trim_end_matches("/api/v10");
        let url = format!("{base}{path}?ex=6935d2f0&is=6934817&hm=0f3a9b");
        let size = bytes.len();
        self.shared
            .lock()
            .cdn
            .insert(path, (content_type.to_owned(), bytes));
        json!({"id": id, "filename": filename, "size": size, "url": url, "proxy_url": url,
               "content_type": content_type})
    }

    /// Files the app sent with its messages.
    pub fn uploads(&self) -> Vec<Upload> {
        self.shared.lock().uploads.clone()
    }

    /// Identify payloads received on the gateway.
    pub fn identifies(&self) -> Vec<Value> {
        self.shared.lock().identifies.clone()
    }

    pub async fn wait_for_identify(&self, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        while self.identifies().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.identifies()
    }

    /// Sends a dispatch event (`t`, `d`) to every identified gateway session.
    pub fn dispatch(&self, event: &str, data: Value) {
        let mut state = self.shared.lock();
        state.seq += 1;
        let payload = json!({"op": 0, "s": state.seq, "t": event, "d": data});
        state.sessions.retain(|s| s.send(payload.clone()).is_ok());
    }
}

fn next_id(state: &mut Inner) -> String {
    state.next_id += 1;
    // Message ids are snowflakes too.
    let ms = (chrono::Utc::now().timestamp_millis() - 1_420_070_400_000) as u64;
    ((ms << 22) | (state.next_id & 0x3f_ffff)).to_string()
}

/// What Discord does with an interaction response: type 4 or 5 create the message that
/// `@original` names, 6 and 7 refer to the button's message.
fn answered(state: &mut Inner, token: &str, answer: &Value) {
    let Some(known) = state.interactions.get(token) else {
        return;
    };
    let (id, channel_id, button_message) = (
        known.id.clone(),
        known.channel_id.clone(),
        known.button_message.clone(),
    );
    let original = match answer["type"].as_u64() {
        Some(4) | Some(5) => {
            let message_id = next_id(state);
            let flags = answer["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL;
            let loading = if answer["type"] == 5 { LOADING } else { 0 };
            state.messages.push(Msg {
                id: message_id.clone(),
                channel_id: channel_id.clone(),
                content: answer["data"]["content"].as_str().unwrap_or_default().to_owned(),
                components: json!([]),
                flags: flags | loading,
                via_interaction: Some(token.to_owned()),
                message_reference: None,
                allowed_mentions: None,
                nonce: None,
            });
            Some(message_id)
        }
        Some(6) | Some(7) => button_message.clone(),
        _ => return,
    };
    state.interactions.insert(
        token.to_owned(),
        Interaction {
            id,
            channel_id,
            button_message,
            original,
            pending: false,
        },
    );
}

fn user_json(id: &str) -> Value {
    json!({"id": id, "username": format!("user{id}"), "discriminator": "0", "global_name": null, "avatar": null})
}
