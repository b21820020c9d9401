//! `FakeDiscord`: an in-process Discord server on 127.0.0.1 speaking the real wire format
//! (<https://discord.com/developers/docs>): the REST API under `/api/v10` and a gateway
//! WebSocket, so the coordinator's real Discord code runs end to end without the network.
//!
//! REST, as Discord answers it: `GET /gateway`, `GET /gateway/bot`, `POST /channels/{id}/messages`,
//! `POST /users/@me/channels`, `GET|PUT /applications/{app}/commands` and the guild variant,
//! `POST /webhooks/{app}/{token}` (interaction follow-ups) and `GET|PATCH
//! /webhooks/{app}/{token}/messages/@original`. Bot routes need `Authorization: Bot TOKEN`
//! (401 otherwise); interaction webhooks need a token that Discord issued (401, code 50027,
//! otherwise). Errors are `{"message", "code"}`; a 429 is `{"message", "retry_after", "global"}`
//! with `Retry-After` and `X-RateLimit-*` headers. Every answer carries `X-RateLimit-*`
//! headers.
//!
//! Interactions: a test signs and POSTs an interaction to the app, then hands the app's answer
//! to [`FakeDiscord::interaction_answered`], as Discord would act on it (a deferred answer
//! creates the "thinking" message that `@original` then refers to).
//!
//! Gateway: Hello, Identify → READY, heartbeats acknowledged, and [`FakeDiscord::dispatch`]
//! sends events to every identified session.

// A shared helper: each test module uses only part of it.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
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

/// A scripted failure for [`FakeDiscord::fail_next`].
#[derive(Debug, Clone)]
pub enum Failure {
    RateLimited { retry_after: f64, global: bool },
    ServerError,
}

struct Interaction {
    channel_id: String,
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
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let stop = shared.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(api, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        tokio::spawn(gateway_server(ws, shared.clone()));
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
        let channel_id = interaction["channel_id"].as_str().unwrap_or_default().to_owned();
        self.shared
            .lock()
            .interactions
            .entry(token)
            .or_insert(Interaction {
                channel_id,
                original: None,
                pending: true,
            });
    }

    /// Acts on the app's answer to `interaction`, as Discord does.
    pub fn interaction_answered(&self, interaction: &Value, answer: &Value) {
        let mut state = self.shared.lock();
        let token = interaction["token"].as_str().unwrap_or_default().to_owned();
        let channel_id = interaction["channel_id"].as_str().unwrap_or_default().to_owned();
        let original = match answer["type"].as_u64() {
            Some(4) | Some(5) => {
                let id = next_id(&mut state);
                let flags = answer["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL;
                let loading = if answer["type"] == 5 { LOADING } else { 0 };
                state.messages.push(Msg {
                    id: id.clone(),
                    channel_id: channel_id.clone(),
                    content: answer["data"]["content"].as_str().unwrap_or_default().to_owned(),
                    components: json!([]),
                    flags: flags | loading,
                    via_interaction: Some(token.clone()),
                    message_reference: None,
                    allowed_mentions: None,
                });
                Some(id)
            }
            Some(6) | Some(7) => interaction["message"]["id"].as_str().map(str::to_owned),
            _ => return,
        };
        state.interactions.insert(
            token,
            Interaction {
                channel_id,
                original,
                pending: false,
            },
        );
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

fn user_json(id: &str) -> Value {
    json!({"id": id, "username": format!("user{id}"), "discriminator": "0", "global_name": null, "avatar": null})
}

fn rate_headers(remaining: u32, reset_after: f64) -> [(&'static str, String); 5] {
    [
        ("x-ratelimit-limit", "5".into()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset-after", format!("{reset_after:.3}")),
        ("x-ratelimit-bucket", "fakebucket".into()),
        ("x-ratelimit-reset", "1764000000.000".into()),
    ]
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path()
        .strip_prefix("/api/v10")
        .unwrap_or(uri.path())
        .to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let key = format!("{method} {path}");
    if let Some(token) = path.strip_prefix("/webhooks/").and_then(|p| p.split('/').nth(1)) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let pending = || shared.lock().interactions.get(token).is_some_and(|i| i.pending);
        while pending() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let mut state = shared.lock();
    state.calls.push(Call {
        method: method.to_string(),
        path: path.clone(),
        authorization: authorization.clone(),
        body: body.clone(),
        at: Instant::now(),
    });
    if let Some(failure) = state.failures.get_mut(&key).and_then(VecDeque::pop_front) {
        return match failure {
            Failure::RateLimited { retry_after, global } => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global})),
                )
                    .into_response();
                let h = response.headers_mut();
                for (name, value) in rate_headers(0, retry_after) {
                    h.insert(name, value.parse().unwrap());
                }
                h.insert(
                    "retry-after",
                    (retry_after.ceil() as u64).to_string().parse().unwrap(),
                );
                h.insert(
                    "x-ratelimit-scope",
                    if global { "global" } else { "user" }.parse().unwrap(),
                );
                response
            }
            Failure::ServerError => {
                let (status, body) = error(500, 0, "500: Internal Server Error");
                (status, axum::Json(body)).into_response()
            }
        };
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let bot_ok = authorization.as_deref() == Some(&format!("Bot {TOKEN}"));
    let result = route(&mut state, &shared, &method, &segments, bot_ok, &body);
    let mut response = match result {
        Ok((status, value)) => (status, axum::Json(value)).into_response(),
        Err((status, value)) => return (status, axum::Json(value)).into_response(),
    };
    let reset_after = state.empty_buckets.remove(&key);
    let (remaining, reset) = reset_after.map_or((4, 1.0), |r| (0, r));
    for (name, value) in rate_headers(remaining, reset) {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

type Routed = Result<(StatusCode, Value), (StatusCode, Value)>;

fn route(
    state: &mut Inner,
    shared: &Shared,
    method: &Method,
    segments: &[&str],
    bot_ok: bool,
    body: &Value,
) -> Routed {
    let unauthorized = || Err(error(401, 0, "401: Unauthorized"));
    match (method.as_str(), segments) {
        ("GET", ["gateway"]) => Ok((StatusCode::OK, json!({"url": shared.gateway_url}))),
        ("GET", ["gateway", "bot"]) if bot_ok => Ok((
            StatusCode::OK,
            json!({"url": shared.gateway_url, "shards": 1,
                   "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}}),
        )),
        ("POST", ["channels", channel, "messages"]) if bot_ok => {
            if state.users.contains(*channel) {
                return Err(error(404, 10003, "Unknown Channel"));
            }
            let id = next_id(state);
            let msg = Msg {
                id,
                channel_id: (*channel).to_owned(),
                content: body["content"].as_str().unwrap_or_default().to_owned(),
                components: body.get("components").cloned().unwrap_or(json!([])),
                flags: 0,
                via_interaction: None,
                message_reference: body.get("message_reference").cloned(),
                allowed_mentions: body.get("allowed_mentions").cloned(),
            };
            state.messages.push(msg.clone());
            Ok((StatusCode::OK, msg.to_json()))
        }
        ("POST", ["users", "@me", "channels"]) if bot_ok => {
            let Some(user) = body["recipient_id"].as_str() else {
                return Err(error(400, 50035, "Invalid Form Body"));
            };
            let id = match state.dm_channels.get(user) {
                Some(id) => id.clone(),
                None => {
                    let id = next_id(state);
                    state.dm_channels.insert(user.to_owned(), id.clone());
                    id
                }
            };
            Ok((
                StatusCode::OK,
                json!({"id": id, "type": 1, "last_message_id": null, "flags": 0, "recipients": [user_json(user)]}),
            ))
        }
        (m, ["applications", app, rest @ ..]) if bot_ok => {
            if *app != APP_ID {
                return Err(error(403, 50001, "Missing Access"));
            }
            let scope = match rest {
                ["commands"] => None,
                ["guilds", guild, "commands"] => Some((*guild).to_owned()),
                _ => return Err(error(404, 0, "404: Not Found")),
            };
            match m {
                "GET" => Ok((
                    StatusCode::OK,
                    Value::Array(state.commands.get(&scope).cloned().unwrap_or_default()),
                )),
                "PUT" => {
                    let mut stored = Vec::new();
                    for command in body.as_array().cloned().unwrap_or_default() {
                        let mut c = command.clone();
                        c["id"] = json!(next_id(state));
                        c["application_id"] = json!(APP_ID);
                        c["version"] = json!(next_id(state));
                        c["default_member_permissions"] = Value::Null;
                        c["type"] = command.get("type").cloned().unwrap_or(json!(1));
                        c["nsfw"] = json!(false);
                        if let Some(guild) = &scope {
                            c["guild_id"] = json!(guild);
                        }
                        // Discord leaves `required: false` out of what it answers.
                        for o in c["options"].as_array_mut().into_iter().flatten() {
                            if o["required"] == json!(false) {
                                o.as_object_mut().map(|o| o.remove("required"));
                            }
                        }
                        stored.push(c);
                    }
                    state.commands.insert(scope, stored.clone());
                    Ok((StatusCode::OK, Value::Array(stored)))
                }
                _ => Err(error(405, 0, "405: Method Not Allowed")),
            }
        }
        (_, ["webhooks", app, token, rest @ ..]) => webhook(state, method, app, token, rest, body),
        (_, ["gateway", ..] | ["channels", ..] | ["users", ..] | ["applications", ..]) => unauthorized(),
        _ => Err(error(404, 0, "404: Not Found")),
    }
}

fn webhook(
    state: &mut Inner,
    method: &Method,
    app: &str,
    token: &str,
    rest: &[&str],
    body: &Value,
) -> Routed {
    let Some(interaction) = state
        .interactions
        .get(token)
        .filter(|i| app == APP_ID && !i.pending)
    else {
        return Err(error(401, 50027, "Invalid Webhook Token"));
    };
    let channel_id = interaction.channel_id.clone();
    let original = interaction.original.clone();
    match (method.as_str(), rest) {
        ("POST", []) => {
            let id = next_id(state);
            let msg = Msg {
                id,
                channel_id,
                content: body["content"].as_str().unwrap_or_default().to_owned(),
                components: body.get("components").cloned().unwrap_or(json!([])),
                flags: body["flags"].as_u64().unwrap_or(0) & EPHEMERAL,
                via_interaction: Some(token.to_owned()),
                message_reference: None,
                allowed_mentions: body.get("allowed_mentions").cloned(),
            };
            state.messages.push(msg.clone());
            Ok((StatusCode::OK, msg.to_json()))
        }
        (m @ ("GET" | "PATCH"), ["messages", "@original"]) => {
            let Some(msg) = original.and_then(|id| state.messages.iter_mut().find(|m| m.id == id)) else {
                return Err(error(404, 10008, "Unknown Message"));
            };
            if m == "PATCH" {
                if let Some(content) = body["content"].as_str() {
                    msg.content = content.to_owned();
                }
                if let Some(components) = body.get("components") {
                    msg.components = components.clone();
                }
                msg.allowed_mentions = body.get("allowed_mentions").cloned();
                msg.flags &= !LOADING;
            }
            Ok((StatusCode::OK, msg.to_json()))
        }
        _ => Err(error(404, 0, "404: Not Found")),
    }
}

async fn gateway_server(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let (mut sink, mut stream) = ws.split();
            let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
            let hello = json!({"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null});
            if sink.send(WsMessage::Text(hello.to_string())).await.is_err() {
                return;
            }
            loop {
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    out = rx.recv() => match out {
                        Some(payload) => if sink.send(WsMessage::Text(payload.to_string())).await.is_err() { return },
                        None => return,
                    },
                    incoming = stream.next() => {
                        let Some(Ok(WsMessage::Text(text))) = incoming else {
                            match incoming { Some(Ok(_)) => continue, _ => return }
                        };
                        let Ok(payload) = serde_json::from_str::<Value>(&text) else { continue };
                        match payload["op"].as_u64() {
                            Some(1) => { let _ = tx.send(json!({"op": 11, "d": null, "s": null, "t": null})); }
                            Some(2) => {
                                let mut state = shared.lock();
                                state.identifies.push(payload["d"].clone());
                                state.seq += 1;
                                let ready = json!({"op": 0, "s": state.seq, "t": "READY", "d": {
                                    "v": 10,
                                    "user": {"id": BOT_ID, "username": BOT_NAME, "discriminator": "0", "global_name": null,
                                             "avatar": null, "bot": true, "verified": true, "mfa_enabled": false, "flags": 0},
                                    "guilds": [{"id": GUILD_ID, "unavailable": true}],
                                    "session_id": "fake-session", "resume_gateway_url": shared.gateway_url,
                                    "shard": [0, 1], "application": {"id": APP_ID, "flags": 0}
                                }});
                                let _ = tx.send(ready);
                                state.sessions.push(tx.clone());
                            }
                            _ => {}
                        }
                    }
                }
            }
        });
    }
}
