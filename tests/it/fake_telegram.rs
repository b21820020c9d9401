//! `FakeTelegram`: an in-process Telegram Bot API server on 127.0.0.1:0 that speaks the real
//! wire format (<https://core.telegram.org/bots/api>), so the coordinator's real Telegram client
//! (teloxide, or plain HTTP) can be tested end to end without the network.
//!
//! What it serves, like the real API:
//! - `POST|GET {url}/bot{token}/{method}` with a JSON, `multipart/form-data`,
//!   `application/x-www-form-urlencoded` or query-string body. Method names are matched
//!   case-insensitively, as Telegram does.
//! - Answers `{"ok":true,"result":...}`; errors `{"ok":false,"error_code":N,"description":...}`
//!   (with `"parameters":{"retry_after":N}` for flood control). A wrong token gets
//!   401 `Unauthorized`, an unknown method 404 `Not Found`.
//! - `getMe`, `getUpdates` (`offset` confirms, `limit`, `timeout` long-polls for at most one second),
//!   `sendMessage`, `sendPhoto`/`sendDocument`/`sendVoice` (multipart uploads recorded),
//!   `editMessageText`, `editMessageReplyMarkup`, `setMyCommands`/`getMyCommands`/`deleteMyCommands`,
//!   `answerCallbackQuery`, `sendChatAction`, `deleteMessage`, `getFile`, and file downloads at
//!   `GET {url}/file/bot{token}/{file_path}`.
//! - `setWebhook`/`deleteWebhook`/`getWebhookInfo` with the Bot API's checks and state, and
//!   `getUpdates` refused (409) while a webhook is set: see `fake_telegram_webhook.rs`
//!   ([`FakeTelegram::webhook`], [`FakeTelegram::set_webhook_outside`],
//!   [`FakeTelegram::set_webhook_error`]).
//!
//! Every request to a method (failed ones included) is recorded: see [`FakeTelegram::calls`],
//! [`FakeTelegram::call_times`], [`FakeTelegram::sent`] and [`FakeTelegram::uploads`]. Failures
//! are scripted per method with [`FakeTelegram::fail_next`]. Incoming traffic is queued with
//! [`FakeTelegram::push_update`] and the builders [`text_update`], [`group_text_update`],
//! [`callback_update`], [`callback_update_on`] and [`voice_update`], which produce updates shaped
//! exactly as Telegram sends them.
//!
//! ```ignore
//! let tg = FakeTelegram::start().await;
//! tg.push_update(text_update(1, 42, 42, "/start"));
//! // ... point the coordinator at tg.url with tg.token ...
//! let sent = tg.wait_for_sent(1, Duration::from_secs(5)).await;
//! assert_eq!(sent[0].chat_id, 42);
//! ```

// A shared helper: each test module uses only part of it.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

// The `multipart/form-data` parser of the fakes (`fake_openai` uses it from here). By `#[path]`
// so that it comes along where this file is compiled on its own (`benches/telegram.rs`).
#[path = "multipart.rs"]
pub mod multipart;

// The webhook methods; by `#[path]` for the same reason.
#[path = "fake_telegram_webhook.rs"]
pub mod webhook;

/// The token every fake server accepts.
pub const TOKEN: &str = "123456:TEST-token";
/// The bot's user id (the numeric part of [`TOKEN`]).
pub const BOT_ID: i64 = 123456;
/// The bot's username, as `getMe` reports it.
pub const BOT_USERNAME: &str = "coordinator_test_bot";
/// The bot's first name, as `getMe` reports it.
pub const BOT_FIRST_NAME: &str = "Coordinator";
/// The first `message_id` the fake assigns to a message the bot sends; later ones count up.
pub const FIRST_MESSAGE_ID: i64 = 1000;
/// The `file_path` that `getFile` answers unless [`FakeTelegram::set_file_path`] says otherwise.
pub const DEFAULT_FILE_PATH: &str = "voice/file_1.oga";

/// Supergroup (and channel) ids are below this; other negative ids are basic groups.
const SUPERGROUP_ID_BELOW: i64 = -1_000_000_000_000;
/// How long `getUpdates` long-polls at most, whatever `timeout` it was given.
const MAX_LONG_POLL: Duration = Duration::from_secs(1);

/// A successful `sendMessage` call.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub chat_id: i64,
    pub text: String,
    /// The `reply_markup` of the request as sent (inline keyboard, reply keyboard, removal...).
    pub reply_markup: Option<Value>,
    /// The id the fake assigned (from [`FIRST_MESSAGE_ID`] up).
    pub message_id: i64,
}

/// A file part of a `multipart/form-data` request.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// The Bot API method, as it appeared in the URL (teloxide sends `SendPhoto` for multipart
    /// requests; compare with `eq_ignore_ascii_case`).
    pub method: String,
    /// The multipart part's name (teloxide names it randomly and refers to it as `attach://NAME`).
    pub part: String,
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// A scripted failure for [`FakeTelegram::fail_next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Flood control: HTTP 429, `Too Many Requests: retry after N`, `parameters.retry_after = N`.
    RetryAfter(u64),
    /// HTTP 500 `Internal Server Error`. (teloxide itself sleeps 10 s before returning it.)
    ServerError,
    /// HTTP 400 `Bad Request: ...`; pass the part after the prefix, e.g. `"chat not found"`.
    BadRequest(String),
    /// HTTP 403 `Forbidden: ...`, e.g. `"bot was blocked by the user"`.
    Forbidden(String),
}

impl Failure {
    fn into_error(self) -> ApiError {
        match self {
            Failure::RetryAfter(secs) => ApiError {
                code: 429,
                description: format!("Too Many Requests: retry after {secs}"),
                retry_after: Some(secs),
            },
            Failure::ServerError => ApiError::new(500, "Internal Server Error"),
            Failure::BadRequest(text) => ApiError::new(400, prefixed("Bad Request: ", &text)),
            Failure::Forbidden(text) => ApiError::new(403, prefixed("Forbidden: ", &text)),
        }
    }
}

fn prefixed(prefix: &str, text: &str) -> String {
    if text.starts_with(prefix) {
        text.to_owned()
    } else {
        format!("{prefix}{text}")
    }
}

/// A fake Bot API server. It serves until dropped.
pub struct FakeTelegram {
    /// The API root to give the client, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub url: String,
    /// The bot token the server accepts ([`TOKEN`]).
    pub token: String,
    shared: Arc<Shared>,
}

struct Shared {
    token: String,
    state: Mutex<Inner>,
    /// Woken whenever an update is queued, for long-polling `getUpdates`.
    new_update: Notify,
    shutdown: CancellationToken,
    /// `sendMessage` to this chat waits, unanswered, until released ([`FakeTelegram::hold_sends_to`]).
    held_chat: tokio::sync::watch::Sender<Option<i64>>,
}

struct Call {
    method: String,
    body: Value,
    at: Instant,
}

struct Inner {
    calls: Vec<Call>,
    sent: Vec<Sent>,
    uploads: Vec<Upload>,
    updates: VecDeque<Value>,
    failures: HashMap<String, VecDeque<Failure>>,
    next_message_id: i64,
    next_file_no: u64,
    /// Bot messages as they now stand (after edits), by `(chat_id, message_id)`.
    messages: HashMap<(i64, i64), Value>,
    commands: Value,
    files: HashMap<String, Vec<u8>>,
    file_paths: HashMap<String, String>,
    webhook: webhook::WebhookState,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl FakeTelegram {
    /// Starts a server on `127.0.0.1:0` accepting [`TOKEN`].
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            token: TOKEN.to_owned(),
            state: Mutex::new(Inner {
                calls: Vec::new(),
                sent: Vec::new(),
                uploads: Vec::new(),
                updates: VecDeque::new(),
                failures: HashMap::new(),
                next_message_id: FIRST_MESSAGE_ID,
                next_file_no: 1,
                messages: HashMap::new(),
                commands: json!([]),
                files: HashMap::new(),
                file_paths: HashMap::new(),
                webhook: webhook::WebhookState::default(),
            }),
            new_update: Notify::new(),
            held_chat: tokio::sync::watch::Sender::new(None),
            shutdown: CancellationToken::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Telegram server");
        let addr = listener.local_addr().expect("fake Telegram address");
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::max(64 << 20))
            .with_state(shared.clone());
        let stop = shared.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        FakeTelegram {
            url: format!("http://{addr}"),
            token: TOKEN.to_owned(),
            shared,
        }
    }

    /// A teloxide bot pointed at this server.
    pub fn bot(&self) -> teloxide::Bot {
        teloxide::Bot::new(&self.token).set_api_url(reqwest::Url::parse(&self.url).expect("fake url"))
    }

    /// Successful `sendMessage` calls, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.shared.lock().sent.clone()
    }

    /// The bodies of every call of `method` (name matched case-insensitively), failed ones
    /// included, in arrival order. Form and multipart fields are turned into JSON: numbers for
    /// id-like fields, parsed JSON for objects/arrays (`reply_markup`, `commands`...), and file
    /// parts as `{"attach","filename","content_type","size"}` (bytes in [`Self::uploads`]).
    pub fn calls(&self, method: &str) -> Vec<Value> {
        let state = self.shared.lock();
        state
            .calls
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method))
            .map(|c| c.body.clone())
            .collect()
    }

    /// When each call of `method` arrived (same order as [`Self::calls`]).
    pub fn call_times(&self, method: &str) -> Vec<Instant> {
        let state = self.shared.lock();
        state
            .calls
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method))
            .map(|c| c.at)
            .collect()
    }

    /// The names of all methods called so far, in order (as they appeared in the URLs).
    pub fn methods_called(&self) -> Vec<String> {
        self.shared
            .lock()
            .calls
            .iter()
            .map(|c| c.method.clone())
            .collect()
    }

    /// Files received in multipart requests, in order.
    pub fn uploads(&self) -> Vec<Upload> {
        self.shared.lock().uploads.clone()
    }

    /// Queues an update for `getUpdates` (and wakes a long poll waiting for one).
    pub fn push_update(&self, update: Value) {
        self.shared.lock().updates.push_back(update);
        self.shared.new_update.notify_waiters();
    }

    /// Queues updates together, so that one `getUpdates` answer holds them all.
    pub fn push_updates(&self, updates: impl IntoIterator<Item = Value>) {
        self.shared.lock().updates.extend(updates);
        self.shared.new_update.notify_waiters();
    }

    /// How many queued updates have not been confirmed (by a later `offset`) yet.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }

    /// The next calls of `method` (case-insensitive) answer these failures in order, then the
    /// method succeeds again. Appends to failures already queued for it.
    /// `sendMessage` calls to `chat_id` get no answer until [`FakeTelegram::release_sends`]: a
    /// platform that is slow for one chat. They are recorded as calls when they arrive.
    pub fn hold_sends_to(&self, chat_id: i64) {
        self.shared.held_chat.send_replace(Some(chat_id));
    }

    /// Answers the held `sendMessage` calls.
    pub fn release_sends(&self) {
        self.shared.held_chat.send_replace(None);
    }

    pub fn fail_next(&self, method: &str, failures: Vec<Failure>) {
        self.shared
            .lock()
            .failures
            .entry(method.to_ascii_lowercase())
            .or_default()
            .extend(failures);
    }

    /// Polls until at least `n` messages were sent or `timeout` passed, then returns them all.
    pub async fn wait_for_sent(&self, n: usize, timeout: Duration) -> Vec<Sent> {
        let deadline = Instant::now() + timeout;
        loop {
            let sent = self.sent();
            if sent.len() >= n || Instant::now() >= deadline {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls until `method` was called at least `n` times or `timeout` passed; returns the bodies.
    pub async fn wait_for_calls(&self, method: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls(method);
            if calls.len() >= n || Instant::now() >= deadline {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A message the bot sent, as it now stands after any edits (the `Message` object).
    pub fn message(&self, chat_id: i64, message_id: i64) -> Option<Value> {
        self.shared.lock().messages.get(&(chat_id, message_id)).cloned()
    }

    /// The bytes served at `GET {url}/file/bot{token}/{file_path}` (and the size `getFile` reports).
    pub fn set_file(&self, file_path: &str, bytes: Vec<u8>) {
        self.shared
            .lock()
            .files
            .insert(file_path.trim_start_matches('/').to_owned(), bytes);
    }

    /// Makes `getFile` answer `file_path` for `file_id` (otherwise [`DEFAULT_FILE_PATH`]).
    pub fn set_file_path(&self, file_id: &str, file_path: &str) {
        self.shared
            .lock()
            .file_paths
            .insert(file_id.to_owned(), file_path.to_owned());
    }
}

// ---------------------------------------------------------------------------------------------
// Update builders: JSON shaped exactly as Telegram sends it.
// ---------------------------------------------------------------------------------------------

/// A human Telegram user as Telegram describes one: `first_name` "User {id}", `username`
/// "user{id}", `language_code` "en". Change fields on the built update to taste.
pub fn user_json(id: i64) -> Value {
    json!({
        "id": id,
        "is_bot": false,
        "first_name": format!("User {id}"),
        "username": format!("user{id}"),
        "language_code": "en",
    })
}

/// The bot's own `User` object (the `from` of its messages).
pub fn bot_user_json() -> Value {
    json!({ "id": BOT_ID, "is_bot": true, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME })
}

/// A `Chat`: private for positive ids, a supergroup below -10^12, a basic group otherwise.
pub fn chat_json(chat_id: i64) -> Value {
    if chat_id > 0 {
        json!({
            "id": chat_id,
            "first_name": format!("User {chat_id}"),
            "username": format!("user{chat_id}"),
            "type": "private",
        })
    } else if chat_id < SUPERGROUP_ID_BELOW {
        json!({ "id": chat_id, "title": "Test Supergroup", "type": "supergroup" })
    } else {
        json!({ "id": chat_id, "title": "Test Group", "type": "group" })
    }
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

fn unique_file_id(file_id: &str) -> String {
    format!("AgAD-{file_id}")
}

/// Entities Telegram's server detects in a plain text: `bot_command` (`/cmd` or `/cmd@bot`)
/// and `mention` (`@username`, 5-32 characters) at word starts. Offsets and lengths are in
/// UTF-16 code units, as in the real API.
pub fn detect_entities(text: &str) -> Vec<Value> {
    let chars: Vec<char> = text.chars().collect();
    let mut utf16 = Vec::with_capacity(chars.len() + 1);
    let mut at = 0;
    for c in &chars {
        utf16.push(at);
        at += c.len_utf16();
    }
    utf16.push(at);
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let word_end = |from: usize| {
        let mut end = from;
        while end < chars.len() && is_word(chars[end]) {
            end += 1;
        }
        end
    };
    let mut entities = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let at_word_start = i == 0 || chars[i - 1].is_whitespace();
        if at_word_start && chars[i] == '/' {
            let mut end = word_end(i + 1);
            if (1..=32).contains(&(end - i - 1)) {
                if end < chars.len() && chars[end] == '@' && word_end(end + 1) > end + 1 {
                    end = word_end(end + 1);
                }
                entities.push(
                    json!({"offset": utf16[i], "length": utf16[end] - utf16[i], "type": "bot_command"}),
                );
                i = end;
                continue;
            }
        }
        if at_word_start && chars[i] == '@' {
            let end = word_end(i + 1);
            if (5..=32).contains(&(end - i - 1)) {
                entities
                    .push(json!({"offset": utf16[i], "length": utf16[end] - utf16[i], "type": "mention"}));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    entities
}

/// Parses an update the way teloxide does off the wire (from text). Note that
/// `serde_json::from_value::<Update>` does *not* work: teloxide's `Update` deserializer then
/// silently yields `UpdateKind::Error`.
pub fn parse_update(update: &Value) -> teloxide::types::Update {
    serde_json::from_str(&update.to_string()).expect("an Update")
}

fn incoming_message(message_id: i64, chat_id: i64, from_id: i64) -> Map<String, Value> {
    let mut message = Map::new();
    message.insert("message_id".into(), json!(message_id));
    message.insert("from".into(), user_json(from_id));
    message.insert("chat".into(), chat_json(chat_id));
    message.insert("date".into(), json!(now_unix()));
    message
}

fn with_text(mut message: Map<String, Value>, text: &str) -> Map<String, Value> {
    message.insert("text".into(), json!(text));
    let entities = detect_entities(text);
    if !entities.is_empty() {
        message.insert("entities".into(), Value::Array(entities));
    }
    message
}

/// A text message from `from_id` in chat `chat_id` (a private chat when positive; usually
/// `chat_id == from_id`). The message id is the update id. `/commands` get `bot_command`
/// entities and `@usernames` `mention` entities, as Telegram adds them.
pub fn text_update(update_id: i64, chat_id: i64, from_id: i64, text: &str) -> Value {
    let message = with_text(incoming_message(update_id, chat_id, from_id), text);
    json!({ "update_id": update_id, "message": message })
}

/// A text message in a group (`chat_id` negative; below -10^12 it is a supergroup).
pub fn group_text_update(update_id: i64, chat_id: i64, from_id: i64, text: &str) -> Value {
    assert!(chat_id < 0, "group chat ids are negative, got {chat_id}");
    text_update(update_id, chat_id, from_id, text)
}

/// `from_id` pressed an inline button carrying `data` under the bot's message `message_id` in
/// `chat_id`. The attached message is a bot text message with a one-button keyboard; use
/// [`callback_update_on`] to attach a message the fake really sent.
pub fn callback_update(update_id: i64, chat_id: i64, from_id: i64, message_id: i64, data: &str) -> Value {
    let message = json!({
        "message_id": message_id,
        "from": bot_user_json(),
        "chat": chat_json(chat_id),
        "date": now_unix(),
        "text": "Choose:",
        "reply_markup": { "inline_keyboard": [[{ "text": data, "callback_data": data }]] },
    });
    callback_with_message(update_id, chat_id, from_id, message, data)
}

/// `from_id` pressed an inline button carrying `data` under a message the fake sent.
pub fn callback_update_on(update_id: i64, from_id: i64, sent: &Sent, data: &str) -> Value {
    let mut message = json!({
        "message_id": sent.message_id,
        "from": bot_user_json(),
        "chat": chat_json(sent.chat_id),
        "date": now_unix(),
        "text": sent.text,
    });
    if let Some(markup) = sent
        .reply_markup
        .as_ref()
        .filter(|m| m.get("inline_keyboard").is_some())
    {
        message["reply_markup"] = markup.clone();
    }
    callback_with_message(update_id, sent.chat_id, from_id, message, data)
}

fn callback_with_message(update_id: i64, chat_id: i64, from_id: i64, message: Value, data: &str) -> Value {
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("{}{:06}", from_id.unsigned_abs(), update_id.unsigned_abs()),
            "from": user_json(from_id),
            "message": message,
            "chat_instance": format!("{}", chat_id.wrapping_mul(7919).wrapping_sub(1)),
            "data": data,
        },
    })
}

/// A document (`file_name`, `mime_type`, `file_size` as declared) with an optional caption
/// (commands in it get `bot_command` caption entities); fetch it with `getFile(file_id)`. The
/// message id is the update id.
#[allow(clippy::too_many_arguments)]
pub fn document_update(
    update_id: i64,
    chat_id: i64,
    from_id: i64,
    file_id: &str,
    file_name: &str,
    mime_type: &str,
    file_size: u64,
    caption: Option<&str>,
) -> Value {
    let mut message = incoming_message(update_id, chat_id, from_id);
    message.insert(
        "document".into(),
        json!({
            "file_name": file_name,
            "mime_type": mime_type,
            "file_id": file_id,
            "file_unique_id": unique_file_id(file_id),
            "file_size": file_size,
        }),
    );
    if let Some(caption) = caption {
        message.insert("caption".into(), json!(caption));
        let entities = detect_entities(caption);
        if !entities.is_empty() {
            message.insert("caption_entities".into(), Value::Array(entities));
        }
    }
    json!({ "update_id": update_id, "message": message })
}

/// `text_update` sent as a reply to the message `replied_id` of the same chat (a message from
/// `from_id`).
pub fn reply_update(update_id: i64, chat_id: i64, from_id: i64, replied_id: i64, text: &str) -> Value {
    let mut update = text_update(update_id, chat_id, from_id, text);
    let mut replied = incoming_message(replied_id, chat_id, from_id);
    replied.insert("text".into(), json!("(the message replied to)"));
    update["message"]["reply_to_message"] = Value::Object(replied);
    update
}

/// A voice message (`audio/ogg`) of `duration` seconds; fetch it with `getFile(file_id)`.
pub fn voice_update(update_id: i64, chat_id: i64, from_id: i64, file_id: &str, duration: u32) -> Value {
    let mut message = incoming_message(update_id, chat_id, from_id);
    message.insert(
        "voice".into(),
        json!({
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_id": file_id,
            "file_unique_id": unique_file_id(file_id),
            "file_size": 4096,
        }),
    );
    json!({ "update_id": update_id, "message": message })
}

// ---------------------------------------------------------------------------------------------
// The server.
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct ApiError {
    code: u16,
    description: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(code: u16, description: impl Into<String>) -> Self {
        ApiError {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    fn bad_request(text: &str) -> Self {
        Self::new(400, prefixed("Bad Request: ", text))
    }

    fn not_found() -> Self {
        Self::new(404, "Not Found")
    }

    fn unauthorized() -> Self {
        Self::new(401, "Unauthorized")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "ok": false, "error_code": self.code, "description": self.description });
        if let Some(secs) = self.retry_after {
            body["parameters"] = json!({ "retry_after": secs });
        }
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(body)).into_response()
    }
}

fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(result) => Json(json!({ "ok": true, "result": result })).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let segments: Vec<String> = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();

    if segments.len() >= 3 && segments[0] == "file" {
        if segments[1].strip_prefix("bot") != Some(shared.token.as_str()) {
            return ApiError::unauthorized().into_response();
        }
        let file_path = segments[2..].join("/");
        let bytes = shared.lock().files.get(&file_path).cloned();
        return match bytes {
            Some(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
            None => ApiError::not_found().into_response(),
        };
    }

    let [bot, method] = segments.as_slice() else {
        return ApiError::not_found().into_response();
    };
    let Some(token) = bot.strip_prefix("bot") else {
        return ApiError::not_found().into_response();
    };
    if token != shared.token {
        return ApiError::unauthorized().into_response();
    }

    let (params, files) = match parse_params(&headers, uri.query(), &body) {
        Ok(parsed) => parsed,
        Err(error) => return error.into_response(),
    };
    let lower = method.to_ascii_lowercase();
    let failure = {
        let mut state = shared.lock();
        state.calls.push(Call {
            method: method.clone(),
            body: params.clone(),
            at: Instant::now(),
        });
        state.uploads.extend(files.into_iter().map(|f| Upload {
            method: method.clone(),
            ..f
        }));
        state.failures.get_mut(&lower).and_then(VecDeque::pop_front)
    };
    if let Some(failure) = failure {
        return failure.into_error().into_response();
    }
    if lower == "sendmessage" {
        let chat = params["chat_id"].as_i64();
        let mut held = shared.held_chat.subscribe();
        let _ = held.wait_for(|h| h.is_none() || *h != chat).await;
    }

    // (Its own statement: the lock is released before the long poll.)
    let conflict = webhook::refuse_polling(&shared.lock());
    let result = match (lower.as_str(), conflict) {
        ("getupdates", Some(conflict)) => Err(conflict),
        ("getupdates", None) => Ok(get_updates(&shared, &params).await),
        _ => dispatch(&mut shared.lock(), &lower, &params),
    };
    answer(result)
}

fn dispatch(state: &mut Inner, method: &str, params: &Value) -> Result<Value, ApiError> {
    match method {
        "getme" => Ok(json!({
            "id": BOT_ID,
            "is_bot": true,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
            "can_join_groups": true,
            "can_read_all_group_messages": false,
            "supports_inline_queries": false,
            "can_connect_to_business": false,
            "has_main_web_app": false,
        })),
        "sendmessage" => send_message(state, params),
        "sendphoto" => send_media(state, params, "photo"),
        "senddocument" => send_media(state, params, "document"),
        "sendvoice" => send_media(state, params, "voice"),
        "editmessagetext" => edit_message(state, params, true),
        "editmessagereplymarkup" => edit_message(state, params, false),
        "setmycommands" => {
            state.commands = params.get("commands").cloned().unwrap_or_else(|| json!([]));
            Ok(json!(true))
        }
        "getmycommands" => Ok(state.commands.clone()),
        "deletemycommands" => {
            state.commands = json!([]);
            Ok(json!(true))
        }
        "setwebhook" => webhook::set_webhook(state, params),
        "deletewebhook" => webhook::delete_webhook(state, params),
        "getwebhookinfo" => Ok(webhook::get_webhook_info(state)),
        "answercallbackquery" | "sendchataction" | "deletemessage" => Ok(json!(true)),
        "getfile" => get_file(state, params),
        _ => Err(ApiError::not_found()),
    }
}

/// Confirms updates below `offset` (or keeps only the last `-offset`), then returns up to
/// `limit`, long-polling up to `min(timeout, 1s)` when there are none.
async fn get_updates(shared: &Shared, params: &Value) -> Value {
    let offset = param_i64(params, "offset");
    let limit = param_i64(params, "limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(param_i64(params, "timeout").unwrap_or(0).max(0) as u64);
    let deadline = tokio::time::Instant::now() + timeout.min(MAX_LONG_POLL);
    loop {
        let notified = shared.new_update.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut state = shared.lock();
            match offset {
                Some(offset) if offset < 0 => {
                    let keep = offset.unsigned_abs() as usize;
                    let drop = state.updates.len().saturating_sub(keep);
                    state.updates.drain(..drop);
                }
                Some(offset) => {
                    state
                        .updates
                        .retain(|u| u["update_id"].as_i64().is_none_or(|id| id >= offset));
                }
                None => {}
            }
            let batch: Vec<Value> = state.updates.iter().take(limit).cloned().collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return Value::Array(batch);
            }
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shared.shutdown.cancelled() => return json!([]),
        }
    }
}

fn chat_id_param(params: &Value) -> Result<i64, ApiError> {
    match params.get("chat_id") {
        None | Some(Value::Null) => Err(ApiError::bad_request("chat_id is empty")),
        Some(_) => param_i64(params, "chat_id").ok_or_else(|| ApiError::bad_request("chat not found")),
    }
}

fn inline_markup(params: &Value) -> Option<Value> {
    params
        .get("reply_markup")
        .filter(|m| m.get("inline_keyboard").is_some())
        .cloned()
}

fn next_message(state: &mut Inner, chat_id: i64) -> Map<String, Value> {
    let message_id = state.next_message_id;
    state.next_message_id += 1;
    let mut message = Map::new();
    message.insert("message_id".into(), json!(message_id));
    message.insert("from".into(), bot_user_json());
    message.insert("chat".into(), chat_json(chat_id));
    message.insert("date".into(), json!(now_unix()));
    message
}

fn store_message(state: &mut Inner, chat_id: i64, mut message: Map<String, Value>, params: &Value) -> Value {
    if let Some(thread) = param_i64(params, "message_thread_id") {
        message.insert("message_thread_id".into(), json!(thread));
    }
    if let Some(markup) = inline_markup(params) {
        message.insert("reply_markup".into(), markup);
    }
    let message = Value::Object(message);
    let message_id = message["message_id"].as_i64().unwrap_or_default();
    state.messages.insert((chat_id, message_id), message.clone());
    message
}

fn send_message(state: &mut Inner, params: &Value) -> Result<Value, ApiError> {
    let chat_id = chat_id_param(params)?;
    let text = params
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    let mut message = next_message(state, chat_id);
    let message_id = message["message_id"].as_i64().unwrap_or_default();
    message.insert("text".into(), json!(text));
    if let Some(entities) = params.get("entities").filter(|e| e.is_array()) {
        message.insert("entities".into(), entities.clone());
    }
    let message = store_message(state, chat_id, message, params);
    state.sent.push(Sent {
        chat_id,
        text,
        reply_markup: params.get("reply_markup").cloned(),
        message_id,
    });
    Ok(message)
}

fn send_media(state: &mut Inner, params: &Value, field: &str) -> Result<Value, ApiError> {
    let chat_id = chat_id_param(params)?;
    let file = params
        .get(field)
        .ok_or_else(|| ApiError::bad_request(&format!("there is no {field} in the request")))?;
    let (file_id, size) = match file {
        Value::String(id) => (id.clone(), 0),
        upload => {
            let file_id = format!("fake-file-{}", state.next_file_no);
            state.next_file_no += 1;
            (file_id, upload["size"].as_u64().unwrap_or_default())
        }
    };
    let meta = json!({ "file_id": file_id, "file_unique_id": unique_file_id(&file_id), "file_size": size });
    let media = match field {
        "photo" => json!([merge(meta, json!({ "width": 320, "height": 320 }))]),
        "voice" => merge(
            meta,
            json!({ "duration": param_i64(params, "duration").unwrap_or(1), "mime_type": "audio/ogg" }),
        ),
        _ => {
            let mut document = meta;
            if let Some(name) = file.get("filename") {
                document["file_name"] = name.clone();
            }
            if let Some(mime) = file.get("content_type").filter(|m| !m.is_null()) {
                document["mime_type"] = mime.clone();
            }
            document
        }
    };
    let mut message = next_message(state, chat_id);
    message.insert(field.into(), media);
    if let Some(caption) = params.get("caption").and_then(Value::as_str) {
        message.insert("caption".into(), json!(caption));
    }
    Ok(store_message(state, chat_id, message, params))
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

fn edit_message(state: &mut Inner, params: &Value, text: bool) -> Result<Value, ApiError> {
    if params.get("inline_message_id").is_some() {
        return Ok(json!(true));
    }
    let (Some(chat_id), Some(message_id)) = (param_i64(params, "chat_id"), param_i64(params, "message_id"))
    else {
        return Err(ApiError::bad_request("message to edit not found"));
    };
    let known = state.messages.get(&(chat_id, message_id)).cloned();
    let mut message = known.clone().unwrap_or_else(|| {
        json!({
            "message_id": message_id,
            "from": bot_user_json(),
            "chat": chat_json(chat_id),
            "date": now_unix(),
            "text": "",
        })
    });
    let edited = message.as_object_mut().expect("messages are objects");
    if text {
        let new_text = params.get("text").and_then(Value::as_str).unwrap_or_default();
        if new_text.trim().is_empty() {
            return Err(ApiError::bad_request("message text is empty"));
        }
        edited.insert("text".into(), json!(new_text));
        match params.get("entities").filter(|e| e.is_array()) {
            Some(entities) => edited.insert("entities".into(), entities.clone()),
            None => edited.remove("entities"),
        };
    }
    match inline_markup(params) {
        Some(markup) => edited.insert("reply_markup".into(), markup),
        None => edited.remove("reply_markup"),
    };
    if let Some(old) = &known {
        let same = |key: &str| old.get(key) == edited.get(key);
        if same("text") && same("entities") && same("reply_markup") {
            return Err(ApiError::bad_request(
                "message is not modified: specified new message content and reply markup are exactly the \
                 same as a current content and reply markup of the message",
            ));
        }
    }
    edited.insert("edit_date".into(), json!(now_unix()));
    state.messages.insert((chat_id, message_id), message.clone());
    Ok(message)
}

fn get_file(state: &mut Inner, params: &Value) -> Result<Value, ApiError> {
    let file_id = params
        .get("file_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
    let path = state
        .file_paths
        .get(file_id)
        .cloned()
        .unwrap_or_else(|| DEFAULT_FILE_PATH.to_owned());
    let size = state.files.get(&path).map_or(0, Vec::len);
    Ok(json!({
        "file_id": file_id,
        "file_unique_id": unique_file_id(file_id),
        "file_size": size,
        "file_path": path,
    }))
}

// ---------------------------------------------------------------------------------------------
// Request parsing: JSON, urlencoded forms, query strings and multipart, like the real API.
// ---------------------------------------------------------------------------------------------

fn param_i64(params: &Value, key: &str) -> Option<i64> {
    match params.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Fields whose form value is an integer in the Bot API.
const INTEGER_FIELDS: &[&str] = &[
    "chat_id",
    "from_chat_id",
    "message_id",
    "message_thread_id",
    "reply_to_message_id",
    "user_id",
    "offset",
    "limit",
    "timeout",
    "duration",
    "width",
    "height",
    "cache_time",
    "max_connections",
];

/// Free-text fields that stay strings whatever they look like.
const TEXT_FIELDS: &[&str] = &[
    "text",
    "caption",
    "callback_query_id",
    "file_id",
    "inline_message_id",
    "url",
    "secret_token",
];

/// A form/multipart string value as the JSON value a JSON request would have carried.
fn form_value(key: &str, raw: &str) -> Value {
    if TEXT_FIELDS.contains(&key) {
        return json!(raw);
    }
    let trimmed = raw.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(value) = serde_json::from_str(trimmed) {
            return value;
        }
    }
    if INTEGER_FIELDS.contains(&key) {
        if let Ok(n) = trimmed.parse::<i64>() {
            return json!(n);
        }
    }
    match trimmed {
        "true" => json!(true),
        "false" => json!(false),
        _ => json!(raw),
    }
}

fn parse_params(
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<(Value, Vec<Upload>), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut params = Map::new();
    let mut uploads = Vec::new();
    if let Some(query) = query {
        for (key, value) in form_pairs(query) {
            let value = form_value(&key, &value);
            params.insert(key, value);
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        // No body: query-string parameters only.
    } else if mime == "multipart/form-data" {
        let boundary = multipart::boundary(&content_type)
            .ok_or_else(|| ApiError::bad_request("can't parse multipart/form-data: no boundary"))?;
        let parts = multipart::parse(body, &boundary)
            .ok_or_else(|| ApiError::bad_request("can't parse multipart/form-data"))?;
        for part in parts {
            match part.filename {
                Some(filename) => uploads.push(Upload {
                    method: String::new(),
                    part: part.name,
                    filename,
                    content_type: part.content_type,
                    bytes: part.data,
                }),
                None => {
                    let value = form_value(&part.name, &String::from_utf8_lossy(&part.data));
                    params.insert(part.name, value);
                }
            }
        }
        // `photo: "attach://x"` (or a file part named like the field itself) becomes a descriptor.
        let describe = |upload: &Upload| {
            json!({
                "attach": upload.part,
                "filename": upload.filename,
                "content_type": upload.content_type,
                "size": upload.bytes.len(),
            })
        };
        for value in params.values_mut() {
            let attached = value.as_str().and_then(|s| s.strip_prefix("attach://"));
            if let Some(upload) = attached.and_then(|name| uploads.iter().find(|u| u.part == name)) {
                *value = describe(upload);
            }
        }
        for upload in &uploads {
            let referenced = params.values().any(|v| v["attach"] == json!(upload.part));
            if !referenced {
                params.insert(upload.part.clone(), describe(upload));
            }
        }
    } else if mime == "application/x-www-form-urlencoded" {
        for (key, value) in form_pairs(&String::from_utf8_lossy(body)) {
            let value = form_value(&key, &value);
            params.insert(key, value);
        }
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => params.extend(fields),
            _ => return Err(ApiError::bad_request("can't parse JSON object")),
        }
    }
    Ok((Value::Object(params), uploads))
}

fn form_pairs(encoded: &str) -> Vec<(String, String)> {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("static url");
    url.set_query(Some(encoded));
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// The fake's own tests: the wire format, checked against teloxide's parser and client.
// ---------------------------------------------------------------------------------------------

mod wire_format {
    use super::*;
    use teloxide::net::Download;
    use teloxide::payloads::{
        AnswerCallbackQuerySetters, EditMessageReplyMarkupSetters, GetUpdatesSetters, SendMessageSetters,
        SendPhotoSetters,
    };
    use teloxide::prelude::Requester;
    use teloxide::types::{
        BotCommand, CallbackQueryId, ChatId, FileId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile,
        MessageEntityKind, MessageId, Update, UpdateKind,
    };
    use teloxide::{ApiError as TgApiError, RequestError};

    fn parse(update: Value) -> Update {
        parse_update(&update)
    }

    #[test]
    fn text_update_is_a_private_text_message_with_command_entity() {
        let update = parse(text_update(
            7,
            42,
            42,
            "/start@coordinator_test_bot hello @someone",
        ));
        assert_eq!(update.id.0, 7);
        let UpdateKind::Message(message) = update.kind else {
            panic!("not a message: {:?}", update.kind)
        };
        assert!(message.chat.is_private());
        assert_eq!(message.chat.id, ChatId(42));
        let from = message.from.as_ref().expect("from");
        assert_eq!(from.id.0, 42);
        assert!(!from.is_bot);
        assert_eq!(from.username.as_deref(), Some("user42"));
        assert_eq!(message.text(), Some("/start@coordinator_test_bot hello @someone"));
        let entities = message.entities().expect("entities");
        assert_eq!(entities.len(), 2);
        assert_eq!(entities[0].kind, MessageEntityKind::BotCommand);
        assert_eq!((entities[0].offset, entities[0].length), (0, 27));
        assert_eq!(entities[1].kind, MessageEntityKind::Mention);
        assert_eq!((entities[1].offset, entities[1].length), (34, 8));
    }

    #[test]
    fn plain_text_has_no_entities_and_offsets_count_utf16() {
        let update = text_update(1, 5, 5, "just words");
        assert!(update["message"].get("entities").is_none());
        // "😀" is two UTF-16 units.
        let entities = detect_entities("😀 /help");
        assert_eq!(
            entities,
            vec![json!({"offset": 3, "length": 5, "type": "bot_command"})]
        );
        assert!(detect_entities("a/b @abc").is_empty());
    }

    #[test]
    fn group_updates_are_group_and_supergroup_messages() {
        let UpdateKind::Message(message) = parse(group_text_update(8, -4242, 42, "hi all")).kind else {
            panic!("not a message")
        };
        assert!(message.chat.is_group());
        assert_eq!(message.chat.title(), Some("Test Group"));
        assert_eq!(message.text(), Some("hi all"));

        let UpdateKind::Message(message) = parse(group_text_update(9, -1001234567890, 42, "/status")).kind
        else {
            panic!("not a message")
        };
        assert!(message.chat.is_supergroup());
        assert_eq!(message.entities().map(<[_]>::len), Some(1));
    }

    #[test]
    fn callback_update_is_a_callback_query() {
        let update = parse(callback_update(10, 42, 42, 1000, "approve:7"));
        let UpdateKind::CallbackQuery(query) = update.kind else {
            panic!("not a callback: {:?}", update.kind)
        };
        assert_eq!(query.data.as_deref(), Some("approve:7"));
        assert_eq!(query.from.id.0, 42);
        assert!(!query.id.0.is_empty());
        let message = query.regular_message().expect("the message the button was under");
        assert_eq!(message.id, MessageId(1000));
        assert_eq!(message.chat.id, ChatId(42));
        assert!(message.reply_markup().is_some());

        let sent = Sent {
            chat_id: -77,
            text: "Pick one".into(),
            reply_markup: Some(json!({"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})),
            message_id: 1003,
        };
        let UpdateKind::CallbackQuery(query) = parse(callback_update_on(11, 5, &sent, "a")).kind else {
            panic!("not a callback")
        };
        let message = query.regular_message().expect("message");
        assert_eq!(
            (message.chat.id, message.id, message.text()),
            (ChatId(-77), MessageId(1003), Some("Pick one"))
        );
    }

    #[test]
    fn voice_update_is_a_voice_message() {
        let UpdateKind::Message(message) = parse(voice_update(12, 42, 42, "VOICE-1", 7)).kind else {
            panic!("not a message")
        };
        let voice = message.voice().expect("voice");
        assert_eq!(voice.file.id.0, "VOICE-1");
        assert_eq!(voice.duration.seconds(), 7);
        assert_eq!(
            voice.mime_type.as_ref().map(|m| m.essence_str().to_owned()),
            Some("audio/ogg".into())
        );
    }

    #[tokio::test]
    async fn get_me_names_the_test_bot() {
        let tg = FakeTelegram::start().await;
        assert!(tg.url.starts_with("http://127.0.0.1:") && !tg.url.ends_with('/'));
        let me = tg.bot().get_me().await.unwrap();
        assert_eq!(me.username(), BOT_USERNAME);
        assert_eq!(me.id.0 as i64, BOT_ID);
        assert_eq!(tg.calls("getme").len(), 1);
    }

    #[tokio::test]
    async fn send_message_is_answered_with_a_message_and_recorded() {
        let tg = FakeTelegram::start().await;
        let bot = tg.bot();
        let message = bot.send_message(ChatId(42), "hi").await.unwrap();
        assert_eq!(message.id, MessageId(FIRST_MESSAGE_ID as i32));
        assert_eq!(message.text(), Some("hi"));
        assert!(message.chat.is_private());
        assert_eq!(message.from.as_ref().map(|u| u.is_bot), Some(true));

        let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("Yes", "yes")]]);
        let message = bot
            .send_message(ChatId(-1001234567890), "sure?")
            .reply_markup(keyboard)
            .await
            .unwrap();
        assert_eq!(message.id, MessageId(FIRST_MESSAGE_ID as i32 + 1));
        assert!(message.chat.is_supergroup());
        assert_eq!(message.reply_markup().unwrap().inline_keyboard[0][0].text, "Yes");

        let sent = tg.sent();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            sent[0],
            Sent {
                chat_id: 42,
                text: "hi".into(),
                reply_markup: None,
                message_id: FIRST_MESSAGE_ID
            }
        );
        assert_eq!(sent[1].chat_id, -1001234567890);
        assert_eq!(
            sent[1].reply_markup.as_ref().unwrap()["inline_keyboard"][0][0]["callback_data"],
            "yes"
        );
        assert_eq!(tg.calls("SENDMESSAGE")[0], json!({"chat_id": 42, "text": "hi"}));
        let times = tg.call_times("sendMessage");
        assert!(times.len() == 2 && times[0] <= times[1]);
        assert_eq!(tg.message(42, FIRST_MESSAGE_ID).unwrap()["text"], "hi");
    }

    #[tokio::test]
    async fn get_updates_honours_offset_and_limit() {
        let tg = FakeTelegram::start().await;
        let bot = tg.bot();
        assert!(bot.get_updates().await.unwrap().is_empty());
        tg.push_update(text_update(1, 42, 42, "/start"));
        tg.push_update(text_update(2, 42, 42, "hello"));
        tg.push_update(callback_update(3, 42, 42, 1000, "x"));

        let all = bot.get_updates().await.unwrap();
        assert_eq!(all.iter().map(|u| u.id.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(all.iter().all(|u| !matches!(u.kind, UpdateKind::Error(_))));
        let first = bot.get_updates().limit(1).await.unwrap();
        assert_eq!(first.iter().map(|u| u.id.0).collect::<Vec<_>>(), vec![1]);

        let rest = bot.get_updates().offset(3).await.unwrap();
        assert_eq!(rest.iter().map(|u| u.id.0).collect::<Vec<_>>(), vec![3]);
        assert_eq!(tg.pending_updates(), 1);
        assert!(bot.get_updates().offset(4).await.unwrap().is_empty());
        assert_eq!(tg.pending_updates(), 0);
        assert!(
            bot.get_updates().await.unwrap().is_empty(),
            "confirmed updates are gone"
        );
        assert_eq!(tg.calls("getUpdates")[2], json!({"limit": 1}));
    }

    #[tokio::test]
    async fn get_updates_long_polls_for_at_most_a_second() {
        let tg = FakeTelegram::start().await;
        let bot = tg.bot();
        let started = Instant::now();
        assert!(bot.get_updates().timeout(30).await.unwrap().is_empty());
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
            "{waited:?}"
        );

        let started = Instant::now();
        let (updates, ()) = tokio::join!(bot.get_updates().timeout(30), async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            tg.push_update(text_update(5, 42, 42, "late"));
        });
        assert_eq!(updates.unwrap().len(), 1);
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "woken by the push"
        );
    }

    #[tokio::test]
    async fn scripted_failures_come_first_then_success() {
        let tg = FakeTelegram::start().await;
        let bot = tg.bot();
        tg.fail_next(
            "sendMessage",
            vec![
                Failure::RetryAfter(2),
                Failure::BadRequest("chat not found".into()),
            ],
        );
        tg.fail_next(
            "sendmessage",
            vec![Failure::Forbidden("bot was blocked by the user".into())],
        );

        match bot.send_message(ChatId(42), "one").await {
            Err(RequestError::RetryAfter(secs)) => assert_eq!(secs.seconds(), 2),
            other => panic!("expected RetryAfter, got {other:?}"),
        }
        match bot.send_message(ChatId(42), "two").await {
            Err(RequestError::Api(TgApiError::ChatNotFound)) => {}
            other => panic!("expected ChatNotFound, got {other:?}"),
        }
        match bot.send_message(ChatId(42), "three").await {
            Err(RequestError::Api(TgApiError::BotBlocked)) => {}
            other => panic!("expected BotBlocked, got {other:?}"),
        }
        bot.send_message(ChatId(42), "four").await.unwrap();

        assert_eq!(tg.calls("sendMessage").len(), 4, "failed calls are recorded too");
        let sent = tg.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            (sent[0].text.as_str(), sent[0].message_id),
            ("four", FIRST_MESSAGE_ID)
        );
    }

    #[tokio::test]
    async fn error_bodies_have_the_real_shape() {
        let tg = FakeTelegram::start().await;
        let http = reqwest::Client::new();
        let post = |path: String, body: Value| http.post(format!("{}{path}", tg.url)).json(&body).send();

        tg.fail_next("sendMessage", vec![Failure::RetryAfter(3), Failure::ServerError]);
        let res = post(
            format!("/bot{TOKEN}/sendMessage"),
            json!({"chat_id": 1, "text": "x"}),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 429);
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 3",
                   "parameters": {"retry_after": 3}})
        );
        let res = post(
            format!("/bot{TOKEN}/sendMessage"),
            json!({"chat_id": 1, "text": "x"}),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 500);
        assert_eq!(res.json::<Value>().await.unwrap()["error_code"], 500);

        let res = post(format!("/bot{TOKEN}/noSuchMethod"), json!({}))
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"ok": false, "error_code": 404, "description": "Not Found"})
        );
        let res = post("/bot1:wrong/getMe".into(), json!({})).await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
        );
        let res = post(
            format!("/bot{TOKEN}/sendMessage"),
            json!({"chat_id": 1, "text": " "}),
        )
        .await
        .unwrap();
        assert_eq!(
            res.json::<Value>().await.unwrap()["description"],
            "Bad Request: message text is empty"
        );

        let wrong = teloxide::Bot::new("1:wrong").set_api_url(reqwest::Url::parse(&tg.url).unwrap());
        assert!(matches!(
            wrong.get_me().await,
            Err(RequestError::Api(TgApiError::InvalidToken))
        ));
        assert!(
            tg.calls("getMe").is_empty(),
            "unauthorized calls are not recorded"
        );
    }

    #[tokio::test]
    async fn form_and_query_parameters_are_read_like_json() {
        let tg = FakeTelegram::start().await;
        let http = reqwest::Client::new();
        let res = http
            .get(format!(
                "{}/bot{TOKEN}/sendMessage?chat_id=-5&text=hello%20there",
                tg.url
            ))
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["ok"], true);
        assert_eq!(body["result"]["chat"]["type"], "group");
        let res = http
            .post(format!("{}/bot{TOKEN}/sendMessage", tg.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("chat_id=7&text=123&reply_markup=%7B%22remove_keyboard%22%3Atrue%7D")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let sent = tg.sent();
        assert_eq!((sent[0].chat_id, sent[0].text.as_str()), (-5, "hello there"));
        assert_eq!((sent[1].chat_id, sent[1].text.as_str()), (7, "123"));
        assert_eq!(sent[1].reply_markup, Some(json!({"remove_keyboard": true})));
    }

    #[tokio::test]
    async fn multipart_uploads_are_recorded() {
        let tg = FakeTelegram::start().await;
        let bot = tg.bot();
        let photo = InputFile::memory(vec![1u8, 2, 3]).file_name("p.png");
        let message = bot.send_photo(ChatId(42), photo).caption("look").await.unwrap();
        assert_eq!(message.caption(), Some("look"));
        assert!(message.photo().is_some_and(|sizes| !sizes.is_empty()));

        let call = &tg.calls("sendPhoto")[0];
        assert_eq!(call["chat_id"], 42);
        assert_eq!(call["caption"], "look");
        assert_eq!(call["photo"]["filename"], "p.png");
        assert_eq!(call["photo"]["size"], 3);
        let uploads = tg.uploads();
        assert_eq!(uploads.len(), 1);
        // teloxide names multipart methods in PascalCase ("SendPhoto"); Telegram ignores case.
        assert!(uploads[0].method.eq_ignore_ascii_case("sendPhoto"));
        assert_eq!(uploads[0].bytes, [1u8, 2, 3]);

        let document = InputFile::memory("a,b\n1,2\n").file_name("report.csv");
        let message = bot.send_document(ChatId(42), document).await.unwrap();
        assert_eq!(
            message.document().and_then(|d| d.file_name.as_deref()),
            Some("report.csv")
        );
        assert!(tg.sent().is_empty(), "sent() is sendMessage only");
    }

    #[tokio::test]
    async fn commands_callbacks_edits_and_files() {
        let tg = FakeTelegram::start().await;
        let bot = tg.bot();
        bot.set_my_commands([BotCommand::new("status", "Show the status")])
            .await
            .unwrap();
        assert_eq!(
            tg.calls("setMyCommands")[0]["commands"],
            json!([{"command": "status", "description": "Show the status"}])
        );
        assert_eq!(bot.get_my_commands().await.unwrap()[0].command, "status");
        bot.delete_my_commands().await.unwrap();
        assert!(bot.get_my_commands().await.unwrap().is_empty());

        bot.delete_webhook().await.unwrap();
        bot.send_chat_action(ChatId(42), teloxide::types::ChatAction::Typing)
            .await
            .unwrap();
        bot.answer_callback_query(CallbackQueryId::from("123"))
            .text("Done")
            .await
            .unwrap();
        assert_eq!(
            tg.calls("answerCallbackQuery")[0],
            json!({"callback_query_id": "123", "text": "Done"})
        );

        let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("Go", "go")]]);
        let sent = bot
            .send_message(ChatId(42), "Ready?")
            .reply_markup(keyboard)
            .await
            .unwrap();
        let edited = bot.edit_message_text(ChatId(42), sent.id, "Done.").await.unwrap();
        assert_eq!(edited.text(), Some("Done."));
        assert!(
            edited.reply_markup().is_none(),
            "no reply_markup in the edit removes the keyboard"
        );
        assert!(edited.edit_date().is_some());
        match bot.edit_message_text(ChatId(42), sent.id, "Done.").await {
            Err(RequestError::Api(TgApiError::MessageNotModified)) => {}
            other => panic!("expected MessageNotModified, got {other:?}"),
        }
        let markup = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("Undo", "undo")]]);
        let edited = bot
            .edit_message_reply_markup(ChatId(42), sent.id)
            .reply_markup(markup)
            .await
            .unwrap();
        assert_eq!(edited.reply_markup().unwrap().inline_keyboard[0][0].text, "Undo");
        assert_eq!(tg.message(42, sent.id.0 as i64).unwrap()["text"], "Done.");
        // A message the fake never sent (e.g. from `callback_update`) can be edited too.
        bot.edit_message_reply_markup(ChatId(42), MessageId(77))
            .await
            .unwrap();

        tg.set_file(DEFAULT_FILE_PATH, b"OggS-bytes".to_vec());
        let file = bot.get_file(FileId("VOICE-1".into())).await.unwrap();
        assert_eq!(file.path, DEFAULT_FILE_PATH);
        assert_eq!(file.size, 10);
        let mut downloaded = Vec::new();
        bot.download_file(&file.path, &mut downloaded).await.unwrap();
        assert_eq!(downloaded, b"OggS-bytes");
        let plain = reqwest::get(format!("{}/file/bot{TOKEN}/{DEFAULT_FILE_PATH}", tg.url))
            .await
            .unwrap();
        assert_eq!(plain.bytes().await.unwrap().as_ref(), b"OggS-bytes");
        tg.set_file_path("DOC-9", "documents/file_9.pdf");
        assert_eq!(
            bot.get_file(FileId("DOC-9".into())).await.unwrap().path,
            "documents/file_9.pdf"
        );
        let missing = reqwest::get(format!("{}/file/bot{TOKEN}/documents/file_9.pdf", tg.url))
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
    }

    #[tokio::test]
    async fn wait_for_sent_returns_early_or_at_the_timeout() {
        let tg = FakeTelegram::start().await;
        let bot = tg.bot();
        let started = Instant::now();
        assert!(tg.wait_for_sent(1, Duration::from_millis(100)).await.is_empty());
        assert!(started.elapsed() >= Duration::from_millis(100));
        let (sent, _) = tokio::join!(
            tg.wait_for_sent(1, Duration::from_secs(5)),
            bot.send_message(ChatId(1), "x")
        );
        assert_eq!(sent.len(), 1);
        assert_eq!(
            tg.wait_for_calls("sendmessage", 1, Duration::from_secs(1))
                .await
                .len(),
            1
        );
    }
}
