//! A lean fake Telegram Bot API for load runs: the real wire format
//! (<https://core.telegram.org/bots/api>: `POST /bot{token}/{method}` with a JSON body, answers
//! `{"ok":true,"result":…}` or `{"ok":false,"error_code":N,"description":…,"parameters":…}`) for
//! the methods the service calls: `getMe`, `setMyCommands`, `sendMessage`, `sendChatAction`,
//! `answerCallbackQuery`, `deleteWebhook`, `getWebhookInfo`, and `getUpdates` for long polling
//! (`offset` confirms, `limit` up to 100, `timeout` waits for a queued update).
//!
//! Unlike the fake of the integration tests it keeps no request bodies: it only counts, per
//! load token (`load-<n>` in a message's text), when each copy of a reply was accepted, which is
//! what loss, duplication and latency are computed from. Failures and late answers are injected
//! by seeded random sources ([`Flaky`], [`Slow`]), so a fault run is repeatable.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};

pub const TOKEN: &str = "424242:LOAD-token";
const BOT_ID: i64 = 424242;

/// The number in the first `load-<n>` of `text`.
pub fn token(text: &str) -> Option<u64> {
    let at = text.find("load-")? + "load-".len();
    let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Failures for a share of the `sendMessage` calls: half flood control (429 with a
/// `retry_after` of 1–3 s), half server errors (a JSON 500, or nginx's HTML 502).
pub struct Flaky {
    rng: StdRng,
    ratio: f64,
}

impl Flaky {
    pub fn new(seed: u64, ratio: f64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            ratio,
        }
    }
}

/// A share of the `sendMessage` calls answered late: the message is accepted (and counted)
/// when the call arrives, as a real platform would show it, but the answer comes `delay` later.
pub struct Slow {
    rng: StdRng,
    ratio: f64,
    delay: std::time::Duration,
}

impl Slow {
    pub fn new(seed: u64, ratio: f64, delay: std::time::Duration) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed ^ 0x5105),
            ratio,
            delay,
        }
    }
}

/// What the fake has seen.
#[derive(Default)]
pub struct Tally {
    /// When each accepted `sendMessage` carrying a token arrived, by token.
    pub delivered: HashMap<u64, Vec<Instant>>,
    /// Accepted messages without a token.
    pub untagged: u64,
    /// `sendMessage` answered with 429 / with a 5xx.
    pub refused_429: u64,
    pub refused_5xx: u64,
    pub typing: u64,
    /// `sendMessage` calls answered late ([`Slow`]).
    pub slow: u64,
    next_message_id: i64,
}

struct Shared {
    tally: Mutex<Tally>,
    flaky: Mutex<Option<Flaky>>,
    slow: Mutex<Option<Slow>>,
    /// Counts accepted messages, for waiters.
    accepted: watch::Sender<u64>,
    /// Updates for `getUpdates`, not yet confirmed, in order.
    updates: Mutex<VecDeque<Value>>,
    /// Woken when updates are queued, for a long poll waiting for them.
    queued: Notify,
}

impl Shared {
    fn tally(&self) -> MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Clone)]
pub struct FakeTelegram {
    /// The API root for `TELEGRAM_API_URL`.
    pub url: String,
    shared: Arc<Shared>,
}

impl FakeTelegram {
    pub async fn start() -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            tally: Mutex::new(Tally {
                next_message_id: 1,
                ..Tally::default()
            }),
            flaky: Mutex::new(None),
            slow: Mutex::new(None),
            accepted: watch::channel(0).0,
            updates: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = Router::new().fallback(handle).with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, shared })
    }

    /// Queues updates for `getUpdates` (long polling) and wakes a poll waiting for them.
    pub fn push_updates(&self, updates: impl IntoIterator<Item = Value>) {
        self.shared
            .updates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(updates);
        self.shared.queued.notify_waiters();
    }

    pub fn set_flaky(&self, flaky: Option<Flaky>) {
        *self.shared.flaky.lock().unwrap_or_else(|p| p.into_inner()) = flaky;
    }

    pub fn set_slow(&self, slow: Option<Slow>) {
        *self.shared.slow.lock().unwrap_or_else(|p| p.into_inner()) = slow;
    }

    /// A view of the tally under its lock.
    pub fn with_tally<T>(&self, f: impl FnOnce(&Tally) -> T) -> T {
        f(&self.shared.tally())
    }

    /// When the first reply carrying `token` arrived, if one did.
    pub fn first_reply(&self, token: u64) -> Option<Instant> {
        self.shared
            .tally()
            .delivered
            .get(&token)
            .and_then(|t| t.first().copied())
    }

    /// Waits until a reply carrying `token` arrived; `None` after `limit`.
    pub async fn wait_reply(&self, token: u64, limit: std::time::Duration) -> Option<Instant> {
        let mut changes = self.shared.accepted.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(at) = self.first_reply(token) {
                return Some(at);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.first_reply(token),
            }
        }
    }
}

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

fn error(code: u16, description: &str, retry_after: Option<u64>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(secs) = retry_after {
        body["parameters"] = json!({"retry_after": secs});
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(body)).into_response()
}

/// How late to answer this `sendMessage`, if it is one of the slow ones.
fn late_answer(shared: &Shared) -> Option<std::time::Duration> {
    let mut slow = shared.slow.lock().unwrap_or_else(|p| p.into_inner());
    let slow = slow.as_mut()?;
    if !slow.rng.random_bool(slow.ratio) {
        return None;
    }
    shared.tally().slow += 1;
    Some(slow.delay)
}

/// The failure to answer this `sendMessage` with, if any.
fn injected(shared: &Shared) -> Option<Response> {
    let mut flaky = shared.flaky.lock().unwrap_or_else(|p| p.into_inner());
    let flaky = flaky.as_mut()?;
    if !flaky.rng.random_bool(flaky.ratio) {
        return None;
    }
    if flaky.rng.random_bool(0.5) {
        let secs = flaky.rng.random_range(1..=3);
        shared.tally().refused_429 += 1;
        return Some(error(
            429,
            &format!("Too Many Requests: retry after {secs}"),
            Some(secs),
        ));
    }
    shared.tally().refused_5xx += 1;
    if flaky.rng.random_bool(0.5) {
        Some(error(500, "Internal Server Error", None))
    } else {
        let html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
                    <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n\
                    </body>\r\n</html>\r\n";
        Some((StatusCode::BAD_GATEWAY, [("content-type", "text/html")], html).into_response())
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().trim_start_matches('/');
    let Some((bot, method)) = path.split_once('/') else {
        return error(404, "Not Found", None);
    };
    if bot.strip_prefix("bot") != Some(TOKEN) {
        return error(401, "Unauthorized", None);
    }
    let params: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return error(400, "Bad Request: can't parse JSON", None),
        }
    };
    match method.to_ascii_lowercase().as_str() {
        "getme" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Coordinator", "username": "load_bot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false, "has_main_web_app": false,
        })),
        "sendmessage" => {
            let late = late_answer(&shared);
            let answer = send_message(&shared, &params);
            if let Some(delay) = late {
                tokio::time::sleep(delay).await;
            }
            answer
        }
        "sendchataction" => {
            shared.tally().typing += 1;
            ok(json!(true))
        }
        "getupdates" => get_updates(&shared, &params).await,
        "getwebhookinfo" => ok(json!({
            "url": "", "has_custom_certificate": false,
            "pending_update_count": shared.updates.lock().unwrap_or_else(|p| p.into_inner()).len(),
        })),
        "setmycommands" | "deletewebhook" | "answercallbackquery" | "setwebhook" => ok(json!(true)),
        _ => error(404, "Not Found", None),
    }
}

/// Drops the updates below `offset` (confirmed), then answers up to `limit` of the rest, waiting
/// up to `timeout` seconds for one when none is queued.
async fn get_updates(shared: &Shared, params: &Value) -> Response {
    let limit = params["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    let wait = std::time::Duration::from_secs(params["timeout"].as_u64().unwrap_or(0));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Registered before looking, so that updates queued in between wake it.
        let queued = shared.queued.notified();
        {
            let mut updates = shared.updates.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(offset) = params["offset"].as_i64() {
                while updates
                    .front()
                    .is_some_and(|u| u["update_id"].as_i64().is_some_and(|id| id < offset))
                {
                    updates.pop_front();
                }
            }
            if !updates.is_empty() {
                return ok(Value::Array(updates.iter().take(limit).cloned().collect()));
            }
        }
        if tokio::time::timeout_at(deadline, queued).await.is_err() {
            return ok(json!([]));
        }
    }
}

fn send_message(shared: &Shared, params: &Value) -> Response {
    let Some(chat_id) = params["chat_id"].as_i64() else {
        return error(400, "Bad Request: chat not found", None);
    };
    let text = params["text"].as_str().unwrap_or_default();
    if text.trim().is_empty() {
        return error(400, "Bad Request: message text is empty", None);
    }
    if let Some(refusal) = injected(shared) {
        return refusal;
    }
    let at = Instant::now();
    let message_id = {
        let mut tally = shared.tally();
        match token(text) {
            Some(t) => tally.delivered.entry(t).or_default().push(at),
            None => tally.untagged += 1,
        }
        tally.next_message_id += 1;
        tally.next_message_id
    };
    shared.accepted.send_modify(|n| *n += 1);
    ok(json!({
        "message_id": message_id,
        "from": {"id": BOT_ID, "is_bot": true, "first_name": "Coordinator", "username": "load_bot"},
        "chat": {"id": chat_id, "first_name": format!("User {chat_id}"), "type": "private"},
        "date": chrono::Utc::now().timestamp(),
        "text": text,
    }))
}

/// A private-chat text message from user `chat` as Telegram sends it, with the `bot_command`
/// entity Telegram adds to a leading `/command`.
pub fn text_update(update_id: u64, chat: i64, text: &str) -> Value {
    let user = json!({"id": chat, "is_bot": false, "first_name": format!("User {chat}"),
                      "username": format!("user{chat}"), "language_code": "en"});
    let mut message = json!({
        "message_id": update_id,
        "from": user,
        "chat": {"id": chat, "first_name": format!("User {chat}"), "username": format!("user{chat}"),
                 "type": "private"},
        "date": chrono::Utc::now().timestamp(),
        "text": text,
    });
    if text.starts_with('/') {
        let length = text.find(' ').unwrap_or(text.len());
        message["entities"] = json!([{"offset": 0, "length": length, "type": "bot_command"}]);
    }
    json!({"update_id": update_id, "message": message})
}
