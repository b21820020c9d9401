//! `FakeOpenAi`: an in-process OpenAI-compatible server on 127.0.0.1:0 that speaks the real wire
//! format (<https://platform.openai.com/docs/api-reference>), so the coordinator's LLM agent, its
//! embedder and its voice transcription can be tested end to end without the network.
//!
//! What it serves under `{base_url}` (which ends in `/v1`), like the real API:
//! - `POST /chat/completions`: answers a `chat.completion` object with one choice. Replies are
//!   scripted with [`FakeOpenAi::script`] ([`Scripted`]): text (`finish_reason: "stop"`) or tool
//!   calls (`finish_reason: "tool_calls"`, ids `call_1`, `call_2`, … unique per server, arguments as
//!   a JSON *string*). The request is checked as OpenAI checks it (400 `invalid_request_error`
//!   otherwise): `model` and a non-empty `messages`, known roles, assistant `tool_calls` with
//!   string `arguments`, every assistant tool call answered by a `tool` message before the next
//!   other message and every `tool` message answering one, `tools` of type `function` with a
//!   valid name, and `tool_choice` only with `tools`. Streaming (`"stream": true`) is refused with
//!   a 400: the fake answers whole completions only.
//! - `POST /embeddings`: `input` as a string, strings, or token arrays; a deterministic vector per
//!   input ([`fake_embedding`]: a hashed bag of lowercase words, L2-normalised, 64 dimensions
//!   unless `dimensions` says otherwise), as floats or `encoding_format: "base64"`.
//! - `POST /audio/transcriptions`: `multipart/form-data` with a `file` (an audio extension OpenAI
//!   accepts) and a `model`; answers `{"text": ..., "usage": ...}` with the text set by
//!   [`FakeOpenAi::set_transcript`] (or the bare text for `response_format=text`).
//! - Errors as `{"error":{"message","type","param","code"}}`: 401 without an `Authorization:
//!   Bearer` key (any key is accepted), 404/405 for unknown routes, scripted statuses, and every
//!   request failing under [`FakeOpenAi::always_fail`]. 429 and 5xx answers carry `retry-after: 0`
//!   and `retry-after-ms: 10`, so clients that retry them (async-openai retries 429/5xx three times)
//!   do so at once. A scripted error is consumed per attempt: script four to fail one
//!   async-openai call.
//!
//! ```ignore
//! let ai = FakeOpenAi::start().await;
//! ai.script(vec![Scripted::ToolCalls(vec![("create_task".into(), json!({"title": "Ship"}))])]);
//! // ... point the coordinator at ai.base_url (OPENAI_BASE_URL) with any API key ...
//! assert_eq!(ai.requests()[0]["tools"][0]["function"]["name"], "create_task");
//! ```

// A shared helper: each test module uses only part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::fake_telegram::multipart;

/// Vector length of [`fake_embedding`] unless a request asks for `dimensions`.
pub const DEFAULT_DIMENSIONS: usize = 64;
/// The reply when the script is empty.
pub const NO_SCRIPT: &str = "(no script)";
/// The transcript served until [`FakeOpenAi::set_transcript`] is called.
pub const DEFAULT_TRANSCRIPT: &str = "Hello from a voice message.";
/// File extensions `/audio/transcriptions` accepts, as OpenAI lists them.
const AUDIO_EXTENSIONS: [&str; 10] = [
    "flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm",
];
const ROUTES: [&str; 3] = [
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/audio/transcriptions",
];

/// One scripted answer to a chat completion request.
#[derive(Debug, Clone, PartialEq)]
pub enum Scripted {
    /// An assistant message with this content, `finish_reason: "stop"`.
    Text(String),
    /// Tool calls `(function name, arguments)`; the arguments are sent as their JSON text.
    ToolCalls(Vec<(String, Value)>),
    /// An error answer: HTTP status and `error.message`.
    Error(u16, String),
    /// Tool calls whose `arguments` strings are sent verbatim (e.g. invalid JSON).
    RawArguments(Vec<(String, String)>),
}

/// A request to `/audio/transcriptions`, as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    pub model: String,
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    /// The other text fields (`language`, `prompt`, `response_format`...).
    pub fields: BTreeMap<String, String>,
}

/// A fake OpenAI server. It serves until dropped.
pub struct FakeOpenAi {
    /// The API base to configure, e.g. `http://127.0.0.1:40123/v1` (no trailing slash).
    pub base_url: String,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<Inner>,
    shutdown: CancellationToken,
    /// `true` while chat completions are held back ([`FakeOpenAi::hold`]).
    held: tokio::sync::watch::Sender<bool>,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Scripted>,
    requests: Vec<Value>,
    transcript: String,
    transcriptions: Vec<Transcription>,
    transcription_requests: usize,
    embedding_requests: usize,
    fail_with: Option<u16>,
    /// Chat completion requests received, held ones included.
    chat_arrivals: usize,
    /// Counters behind `call_N`, `chatcmpl-N` and `req_N`.
    calls: u64,
    completions: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl FakeOpenAi {
    /// Starts a server on `127.0.0.1:0` accepting any bearer key.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(Inner {
                transcript: DEFAULT_TRANSCRIPT.to_owned(),
                ..Inner::default()
            }),
            shutdown: CancellationToken::new(),
            held: tokio::sync::watch::Sender::new(false),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake OpenAI server");
        let addr = listener.local_addr().expect("fake OpenAI address");
        let app = Router::new()
            .route(ROUTES[0], post(chat_completions))
            .route(ROUTES[1], post(embeddings))
            .route(ROUTES[2], post(transcriptions))
            .fallback(unknown_route)
            .method_not_allowed_fallback(unknown_route)
            .layer(DefaultBodyLimit::max(32 << 20))
            .with_state(shared.clone());
        let stop = shared.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        FakeOpenAi {
            base_url: format!("http://{addr}/v1"),
            shared,
        }
    }

    /// Queues replies, consumed in order, one per valid chat request (appended to any left).
    /// When the queue is empty the reply is `Text("(no script)")`.
    pub fn script(&self, replies: Vec<Scripted>) {
        self.shared.lock().script.extend(replies);
    }

    /// Every authenticated chat/completions request body (invalid and failed ones included), in order.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.lock().requests.clone()
    }

    /// The text later transcriptions answer.
    pub fn set_transcript(&self, text: &str) {
        text.clone_into(&mut self.shared.lock().transcript);
    }

    /// How many authenticated `/audio/transcriptions` requests arrived (failed ones included).
    pub fn transcription_requests(&self) -> usize {
        self.shared.lock().transcription_requests
    }

    /// The transcription requests that were answered, with their audio.
    pub fn transcriptions(&self) -> Vec<Transcription> {
        self.shared.lock().transcriptions.clone()
    }

    /// How many authenticated `/embeddings` requests arrived (failed ones included).
    pub fn embedding_requests(&self) -> usize {
        self.shared.lock().embedding_requests
    }

    /// Holds every chat completion request, unanswered, until [`FakeOpenAi::release`]: a model
    /// that takes its time.
    pub fn hold(&self) {
        self.shared.held.send_replace(true);
    }

    /// Answers the held chat completion requests and the ones after.
    pub fn release(&self) {
        self.shared.held.send_replace(false);
    }

    /// How many chat completion requests have arrived, answered or held.
    pub fn chat_arrivals(&self) -> usize {
        self.shared.lock().chat_arrivals
    }

    /// `Some(status)` (500, 429...): every request on every route fails with it, without using
    /// the script. `None`: back to normal.
    pub fn always_fail(&self, status: Option<u16>) {
        self.shared.lock().fail_with = status;
    }
}

/// The vector the fake returns for `text`: each lowercase alphanumeric word adds 1 to a slot
/// chosen by its FNV-1a hash, then the vector is L2-normalised. Texts sharing words are close;
/// a text without words is hashed whole.
pub fn fake_embedding(text: &str, dimensions: usize) -> Vec<f32> {
    let lower = text.to_lowercase();
    let mut words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        words.push(&lower);
    }
    let slots = dimensions.max(1);
    let mut vector = vec![0f32; slots];
    for word in words {
        let hash = word.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        vector[(hash % slots as u64) as usize] += 1.0;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    vector.iter_mut().for_each(|x| *x /= norm);
    vector
}

/// An OpenAI error answer.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    param: Option<String>,
}

impl ApiError {
    fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: message.into(),
            param: None,
        }
    }

    fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            param: Some(param.into()),
            ..ApiError::new(400, message)
        }
    }

    fn failing(status: u16) -> Self {
        let message = match status {
            429 => "Rate limit reached for requests. Please try again in 10ms.",
            500..=599 => "The server had an error while processing your request. Sorry about that!",
            _ => "The request failed.",
        };
        ApiError::new(status, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (kind, code) = match self.status.as_u16() {
            401 => ("invalid_request_error", Value::Null),
            404 => ("invalid_request_error", json!("unknown_url")),
            429 => ("rate_limit_error", json!("rate_limit_exceeded")),
            500..=599 => ("server_error", Value::Null),
            _ => ("invalid_request_error", Value::Null),
        };
        let body =
            json!({"error": {"message": self.message, "type": kind, "param": self.param, "code": code}});
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS || self.status.is_server_error() {
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
            headers.insert("retry-after-ms", HeaderValue::from_static("10"));
        }
        response
    }
}

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

fn authorize(headers: &HeaderMap) -> Result<(), ApiError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() {
        return Err(ApiError::new(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization \
             header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        ));
    }
    Ok(())
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(ApiError::new(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't \
             using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
        )),
    }
}

/// A rough token count: one token per four characters.
fn tokens(chars: usize) -> usize {
    chars.div_ceil(4).max(1)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

async fn unknown_route(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if ROUTES.contains(&path) {
        ApiError::new(405, format!("Invalid method for URL ({method} {path})")).into_response()
    } else {
        ApiError::new(404, format!("Invalid URL ({method} {path})")).into_response()
    }
}

async fn chat_completions(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.lock().chat_arrivals += 1;
    let mut held = shared.held.subscribe();
    let _ = held.wait_for(|held| !*held).await;
    respond(chat_completion(&shared, &headers, &body))
}

fn chat_completion(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    authorize(headers)?;
    let request = parse_json(body)?;
    let mut state = shared.lock();
    state.requests.push(request.clone());
    if let Some(status) = state.fail_with {
        return Err(ApiError::failing(status));
    }
    validate_chat(&request)?;
    let reply = state
        .script
        .pop_front()
        .unwrap_or_else(|| Scripted::Text(NO_SCRIPT.to_owned()));
    let calls: Vec<(String, String)> = match reply {
        Scripted::Error(status, message) => return Err(ApiError::new(status, message)),
        Scripted::Text(text) => return Ok(completion(&mut state, &request, json!(text), Vec::new())),
        Scripted::ToolCalls(calls) => calls
            .into_iter()
            .map(|(name, args)| (name, args.to_string()))
            .collect(),
        Scripted::RawArguments(calls) => calls,
    };
    Ok(completion(&mut state, &request, Value::Null, calls))
}

/// A `chat.completion` object with one choice: `content` (a string or null) and tool calls.
fn completion(state: &mut Inner, request: &Value, content: Value, calls: Vec<(String, String)>) -> Value {
    let mut produced = content.as_str().map_or(0, str::len);
    let tool_calls: Vec<Value> = calls
        .into_iter()
        .map(|(name, arguments)| {
            state.calls += 1;
            produced += name.len() + arguments.len();
            json!({"id": format!("call_{}", state.calls), "type": "function",
                   "function": {"name": name, "arguments": arguments}})
        })
        .collect();
    state.completions += 1;
    let mut message = json!({"role": "assistant", "content": content, "refusal": null, "annotations": []});
    let finish_reason = if tool_calls.is_empty() {
        "stop"
    } else {
        message["tool_calls"] = Value::Array(tool_calls);
        "tool_calls"
    };
    let (prompt_tokens, completion_tokens) = (tokens(prompt_chars(request)), tokens(produced));
    json!({
        "id": format!("chatcmpl-fake{}", state.completions),
        "object": "chat.completion",
        "created": unix_now(),
        "model": request["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": null}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    })
}

/// Characters of the messages' text and tool call arguments.
fn prompt_chars(request: &Value) -> usize {
    let messages = request["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    messages
        .iter()
        .map(|m| text_len(&m["content"]) + text_len(&m["tool_calls"]))
        .sum()
}

fn text_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(text_len).sum(),
        Value::Object(map) => ["text", "arguments", "function"]
            .iter()
            .map(|k| map.get(*k).map_or(0, text_len))
            .sum(),
        _ => 0,
    }
}

/// The checks OpenAI applies to a chat request that an agent can get wrong.
fn validate_chat(request: &Value) -> Result<(), ApiError> {
    if request["model"].as_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid("model", "you must provide a model parameter"));
    }
    if request["stream"] == json!(true) {
        return Err(ApiError::invalid(
            "stream",
            "streaming is not supported by this fake server",
        ));
    }
    let Some(messages) = request["messages"].as_array().filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid("messages", "[] is too short - 'messages'"));
    };
    validate_messages(messages)?;
    let tools = match &request["tools"] {
        Value::Null => None,
        Value::Array(tools) => Some(tools),
        _ => {
            return Err(ApiError::invalid(
                "tools",
                "Invalid type for 'tools': expected an array.",
            ))
        }
    };
    let mut names = HashSet::new();
    for (i, tool) in tools.into_iter().flatten().enumerate() {
        let name = tool["function"]["name"].as_str().unwrap_or_default();
        let name_ok = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if tool["type"] != "function" || !name_ok {
            let message = format!(
                "Invalid 'tools[{i}]': expected type 'function' and a name matching ^[a-zA-Z0-9_-]{{1,64}}$."
            );
            return Err(ApiError::invalid(format!("tools[{i}]"), message));
        }
        if !matches!(tool["function"]["parameters"], Value::Null | Value::Object(_)) {
            let message = format!("Invalid 'tools[{i}].function.parameters': expected an object.");
            return Err(ApiError::invalid(
                format!("tools[{i}].function.parameters"),
                message,
            ));
        }
        names.insert(name);
    }
    let choice = &request["tool_choice"];
    if choice.is_null() {
        return Ok(());
    }
    if tools.is_none_or(|t| t.is_empty()) {
        let message =
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.";
        return Err(ApiError::invalid("tool_choice", message));
    }
    let named = choice["function"]["name"].as_str();
    let valid = matches!(choice.as_str(), Some("none" | "auto" | "required"))
        || (choice["type"] == "function" && named.is_some_and(|n| names.contains(n)));
    if !valid {
        return Err(ApiError::invalid(
            "tool_choice",
            format!("Invalid value for 'tool_choice': {choice}."),
        ));
    }
    Ok(())
}

/// Roles and contents, and the pairing of assistant tool calls with `tool` answers.
fn validate_messages(messages: &[Value]) -> Result<(), ApiError> {
    let mut pending: Vec<String> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or_default();
        let param = format!("messages.[{i}]");
        if role != "tool" && !pending.is_empty() {
            let message = format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to \
                 each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                pending.join(", ")
            );
            return Err(ApiError::invalid(format!("{param}.role"), message));
        }
        let content = &message["content"];
        let has_content = content.is_string() || content.is_array();
        match role {
            "system" | "developer" | "user" if !has_content => {
                return Err(ApiError::invalid(
                    format!("{param}.content"),
                    "Missing required parameter: 'content'.",
                ));
            }
            "system" | "developer" | "user" => {}
            "assistant" => {
                let calls = message["tool_calls"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if !has_content && calls.is_empty() {
                    let text = "Invalid value for 'content': expected a string, got null.";
                    return Err(ApiError::invalid(format!("{param}.content"), text));
                }
                for (j, call) in calls.iter().enumerate() {
                    let well_formed = call["id"].is_string()
                        && call["type"] == "function"
                        && call["function"]["name"].is_string()
                        && call["function"]["arguments"].is_string();
                    if !well_formed {
                        let text = "Invalid tool call: expected {id, type: 'function', function: {name, arguments: string}}.";
                        return Err(ApiError::invalid(format!("{param}.tool_calls.[{j}]"), text));
                    }
                    pending.push(call["id"].as_str().unwrap_or_default().to_owned());
                }
            }
            "tool" => {
                let id = message["tool_call_id"].as_str().unwrap_or_default();
                let Some(at) = pending.iter().position(|p| p == id) else {
                    let text = "Invalid parameter: messages with role 'tool' must be a response to a \
                                preceeding message with 'tool_calls'.";
                    return Err(ApiError::invalid(format!("{param}.role"), text));
                };
                if !has_content {
                    return Err(ApiError::invalid(
                        format!("{param}.content"),
                        "Missing required parameter: 'content'.",
                    ));
                }
                pending.remove(at);
            }
            other => {
                let text = format!(
                    "Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'."
                );
                return Err(ApiError::invalid(format!("{param}.role"), text));
            }
        }
    }
    if !pending.is_empty() {
        let text = format!("Tool calls without response messages: {}", pending.join(", "));
        return Err(ApiError::invalid("messages", text));
    }
    Ok(())
}

async fn embeddings(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    respond(embed(&shared, &headers, &body))
}

fn embed(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    authorize(headers)?;
    let request = parse_json(body)?;
    {
        let mut state = shared.lock();
        state.embedding_requests += 1;
        if let Some(status) = state.fail_with {
            return Err(ApiError::failing(status));
        }
    }
    let Some(model) = request["model"].as_str().filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid("model", "you must provide a model parameter"));
    };
    let invalid_input = || {
        ApiError::invalid(
            "input",
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        )
    };
    let token_text = |tokens: &[Value]| -> Option<String> {
        let ids: Option<Vec<String>> = tokens
            .iter()
            .map(|t| t.as_u64().map(|n| format!("t{n}")))
            .collect();
        ids.filter(|ids| !ids.is_empty()).map(|ids| ids.join(" "))
    };
    let inputs: Vec<String> = match &request["input"] {
        Value::String(text) if !text.is_empty() => vec![text.clone()],
        Value::Array(items) if items.iter().all(Value::is_u64) => {
            vec![token_text(items).ok_or_else(invalid_input)?]
        }
        Value::Array(items) if !items.is_empty() && items.len() <= 2048 => items
            .iter()
            .map(|item| match item {
                Value::String(text) if !text.is_empty() => Some(text.clone()),
                Value::Array(ids) => token_text(ids),
                _ => None,
            })
            .collect::<Option<_>>()
            .ok_or_else(invalid_input)?,
        _ => return Err(invalid_input()),
    };
    let dimensions = match &request["dimensions"] {
        Value::Null => DEFAULT_DIMENSIONS,
        value => match value.as_u64().filter(|d| (1..=4096).contains(d)) {
            Some(d) => d as usize,
            None => return Err(ApiError::invalid("dimensions", "Invalid value for 'dimensions'.")),
        },
    };
    let base64 = match request["encoding_format"].as_str() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            let text = format!("Invalid value: '{other}'. Supported values are: 'float' and 'base64'.");
            return Err(ApiError::invalid("encoding_format", text));
        }
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = fake_embedding(text, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let prompt_tokens: usize = inputs.iter().map(|t| tokens(t.len())).sum();
    Ok(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }))
}

async fn transcriptions(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    match transcribe(&shared, &headers, &body) {
        Ok(Ok(json)) => Json(json).into_response(),
        Ok(Err(text)) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `Ok(Ok(json))`, or `Ok(Err(text))` for `response_format=text`.
fn transcribe(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Result<Value, String>, ApiError> {
    authorize(headers)?;
    {
        let mut state = shared.lock();
        state.transcription_requests += 1;
        if let Some(status) = state.fail_with {
            return Err(ApiError::failing(status));
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let parts = multipart::boundary(content_type)
        .and_then(|boundary| multipart::parse(body, &boundary))
        .ok_or_else(|| ApiError::new(400, "Invalid Content-Type header (expected multipart/form-data)."))?;
    let mut fields = BTreeMap::new();
    let mut file = None;
    for part in parts {
        if part.name == "file" {
            file = Some(part);
        } else {
            fields.insert(part.name, String::from_utf8_lossy(&part.data).into_owned());
        }
    }
    let Some(file) = file else {
        return Err(ApiError::invalid("file", "Missing required parameter: 'file'."));
    };
    let Some(model) = fields.remove("model").filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid("model", "you must provide a model parameter"));
    };
    let filename = file.filename.unwrap_or_default();
    let extension = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if !AUDIO_EXTENSIONS.contains(&extension.as_str()) {
        let text = format!("Invalid file format. Supported formats: {AUDIO_EXTENSIONS:?}");
        return Err(ApiError::invalid("file", text));
    }
    let format = fields
        .get("response_format")
        .cloned()
        .unwrap_or_else(|| "json".to_owned());
    if format != "json" && format != "text" {
        let text = format!("response_format '{format}' is not supported by this fake server (json, text)");
        return Err(ApiError::invalid("response_format", text));
    }
    let mut state = shared.lock();
    let text = state.transcript.clone();
    let size = file.data.len();
    state.transcriptions.push(Transcription {
        model: model.clone(),
        filename,
        content_type: file.content_type,
        bytes: file.data,
        fields,
    });
    if format == "text" {
        return Ok(Err(text));
    }
    let usage = if model.starts_with("whisper") {
        json!({"type": "duration", "seconds": (size / 4000).max(1)})
    } else {
        let (input, output) = (tokens(size / 8), tokens(text.len()));
        json!({"type": "tokens", "input_tokens": input, "output_tokens": output, "total_tokens": input + output,
               "input_token_details": {"audio_tokens": input, "text_tokens": 0}})
    };
    Ok(Ok(json!({"text": text, "usage": usage})))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const KEY: &str = "sk-test";

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("reqwest client")
    }

    async fn post(ai: &FakeOpenAi, path: &str, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = client()
            .post(format!("{}{path}", ai.base_url))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.json().await.expect("JSON body"))
    }

    fn user(text: &str) -> Value {
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]})
    }

    fn tool(name: &str) -> Value {
        json!({"type": "function", "function": {"name": name, "description": "d",
               "parameters": {"type": "object", "properties": {}}}})
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[tokio::test]
    async fn scripted_text_comes_back_as_a_chat_completion() {
        let ai = FakeOpenAi::start().await;
        assert!(ai.base_url.starts_with("http://127.0.0.1:") && ai.base_url.ends_with("/v1"));
        ai.script(vec![Scripted::Text("Hi there".into())]);
        let (status, _, body) = post(&ai, "/chat/completions", user("hello, who are you?")).await;
        assert_eq!(status, 200);
        assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!(body["object"], "chat.completion");
        assert!(body["created"].as_u64().unwrap() > 1_600_000_000);
        assert_eq!(body["model"], "gpt-4o-mini");
        let choice = &body["choices"][0];
        assert_eq!(choice["index"], 0);
        assert_eq!(choice["finish_reason"], "stop");
        assert_eq!(choice["logprobs"], Value::Null);
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(choice["message"]["content"], "Hi there");
        assert_eq!(choice["message"]["refusal"], Value::Null);
        assert!(choice["message"].get("tool_calls").is_none());
        let usage = &body["usage"];
        assert_eq!(usage["prompt_tokens"], 5); // 19 characters / 4, rounded up
        assert_eq!(usage["completion_tokens"], 2);
        assert_eq!(usage["total_tokens"], 7);

        let (_, _, body) = post(&ai, "/chat/completions", user("again")).await;
        assert_eq!(body["choices"][0]["message"]["content"], NO_SCRIPT);
        let requests = ai.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0]["messages"][0]["content"], "hello, who are you?");
    }

    #[tokio::test]
    async fn tool_calls_carry_unique_ids_and_arguments_as_a_json_string() {
        let ai = FakeOpenAi::start().await;
        let args = json!({"title": "Ship it", "due": "2030-01-01"});
        ai.script(vec![
            Scripted::ToolCalls(vec![
                ("create_task".into(), args.clone()),
                ("list_tasks".into(), json!({})),
            ]),
            Scripted::RawArguments(vec![("create_task".into(), "{\"title\": ".into())]),
        ]);
        let mut request = user("make a task");
        request["tools"] = json!([tool("create_task"), tool("list_tasks")]);
        request["tool_choice"] = json!("auto");
        let (status, _, body) = post(&ai, "/chat/completions", request.clone()).await;
        assert_eq!(status, 200);
        let choice = &body["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        let calls = choice["message"]["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0]["id"], "call_1");
        assert_eq!(calls[1]["id"], "call_2");
        assert_eq!(calls[0]["type"], "function");
        assert_eq!(calls[0]["function"]["name"], "create_task");
        let arguments = calls[0]["function"]["arguments"]
            .as_str()
            .expect("arguments are a string");
        assert_eq!(serde_json::from_str::<Value>(arguments).unwrap(), args);

        let (_, _, body) = post(&ai, "/chat/completions", request).await;
        let call = &body["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["id"], "call_3");
        let raw = call["function"]["arguments"].as_str().unwrap();
        assert_eq!(raw, "{\"title\": ");
        assert!(serde_json::from_str::<Value>(raw).is_err());
    }

    #[tokio::test]
    async fn tool_results_must_answer_the_preceding_tool_calls() {
        let ai = FakeOpenAi::start().await;
        let call = json!({"id": "call_9", "type": "function",
                          "function": {"name": "list_tasks", "arguments": "{}"}});
        let history = |tail: Vec<Value>| {
            let mut messages = vec![
                json!({"role": "system", "content": "You coordinate."}),
                json!({"role": "user", "content": "what is open?"}),
                json!({"role": "assistant", "content": null, "tool_calls": [call.clone()]}),
            ];
            messages.extend(tail);
            json!({"model": "m", "messages": messages, "tools": [tool("list_tasks")]})
        };
        let answer = json!({"role": "tool", "tool_call_id": "call_9", "content": "[]"});
        let (status, _, _) = post(&ai, "/chat/completions", history(vec![answer])).await;
        assert_eq!(status, 200);

        let (status, _, body) = post(
            &ai,
            "/chat/completions",
            history(vec![json!({"role": "user", "content": "well?"})]),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].as_str().unwrap().contains("call_9"));

        let stray = json!({"role": "tool", "tool_call_id": "call_404", "content": "[]"});
        let (status, _, body) = post(&ai, "/chat/completions", history(vec![stray])).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["param"], "messages.[3].role");

        let mut object_args = history(vec![answer_for("call_9")]);
        object_args["messages"][2]["tool_calls"][0]["function"]["arguments"] = json!({});
        let (status, _, _) = post(&ai, "/chat/completions", object_args).await;
        assert_eq!(status, 400);

        let mut no_tools = user("hi");
        no_tools["tool_choice"] = json!("required");
        let (status, _, body) = post(&ai, "/chat/completions", no_tools).await;
        assert_eq!(
            (status, body["error"]["param"].as_str()),
            (400, Some("tool_choice"))
        );
        // Rejected requests are recorded but consume no script.
        assert_eq!(ai.requests().len(), 5);
    }

    fn answer_for(id: &str) -> Value {
        json!({"role": "tool", "tool_call_id": id, "content": "ok"})
    }

    #[tokio::test]
    async fn errors_have_openai_bodies_and_statuses() {
        let ai = FakeOpenAi::start().await;
        let response = client()
            .post(format!("{}/chat/completions", ai.base_url))
            .json(&user("hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(ai.requests().is_empty());

        ai.script(vec![
            Scripted::Error(429, "slow down".into()),
            Scripted::Error(500, "boom".into()),
            Scripted::Text("recovered".into()),
        ]);
        let (status, headers, body) = post(&ai, "/chat/completions", user("1")).await;
        assert_eq!(status, 429);
        assert_eq!(headers["retry-after-ms"], "10");
        assert_eq!(
            body,
            json!({"error": {"message": "slow down", "type": "rate_limit_error", "param": null,
                             "code": "rate_limit_exceeded"}})
        );
        let (status, _, body) = post(&ai, "/chat/completions", user("2")).await;
        assert_eq!(
            (status, body["error"]["type"].as_str()),
            (500, Some("server_error"))
        );
        let (status, _, _) = post(&ai, "/chat/completions", user("3")).await;
        assert_eq!(status, 200);

        ai.always_fail(Some(500));
        ai.script(vec![Scripted::Text("kept".into())]);
        assert_eq!(post(&ai, "/chat/completions", user("4")).await.0, 500);
        assert_eq!(
            post(&ai, "/embeddings", json!({"model": "e", "input": "x"}))
                .await
                .0,
            500
        );
        ai.always_fail(Some(429));
        assert_eq!(post(&ai, "/chat/completions", user("5")).await.0, 429);
        ai.always_fail(None);
        let (_, _, body) = post(&ai, "/chat/completions", user("6")).await;
        assert_eq!(body["choices"][0]["message"]["content"], "kept");
        assert_eq!(ai.requests().len(), 6);
        assert_eq!(ai.embedding_requests(), 1);

        let response = client()
            .post(format!("{}/chat/completions", ai.base_url))
            .bearer_auth(KEY)
            .header(header::CONTENT_TYPE, "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(post(&ai, "/nope", json!({})).await.0, 404);
        let stream = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]});
        assert_eq!(post(&ai, "/chat/completions", stream).await.0, 400);
    }

    #[tokio::test]
    async fn embeddings_are_normalised_deterministic_and_similar_for_similar_texts() {
        let ai = FakeOpenAi::start().await;
        let texts = [
            "Deploy the release on Friday",
            "deploy the RELEASE, on friday!",
            "Lunch menu: soup and bread",
        ];
        let (status, _, body) = post(
            &ai,
            "/embeddings",
            json!({"model": "text-embedding-3-small", "input": texts}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["object"], "list");
        assert_eq!(body["model"], "text-embedding-3-small");
        assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
        assert_eq!(body["usage"]["total_tokens"], body["usage"]["prompt_tokens"]);
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 3);
        let vectors: Vec<Vec<f32>> = data
            .iter()
            .enumerate()
            .map(|(i, item)| {
                assert_eq!(
                    (item["object"].as_str(), item["index"].as_u64()),
                    (Some("embedding"), Some(i as u64))
                );
                serde_json::from_value(item["embedding"].clone()).unwrap()
            })
            .collect();
        for v in &vectors {
            assert_eq!(v.len(), DEFAULT_DIMENSIONS);
            assert!((cosine(v, v) - 1.0).abs() < 1e-5);
        }
        assert!((cosine(&vectors[0], &vectors[1]) - 1.0).abs() < 1e-5);
        assert!(cosine(&vectors[0], &vectors[2]) < 0.5);
        assert_eq!(vectors[0], fake_embedding(texts[0], DEFAULT_DIMENSIONS));

        let (_, _, again) = post(&ai, "/embeddings", json!({"model": "m", "input": texts[0]})).await;
        assert_eq!(again["data"][0]["embedding"], data[0]["embedding"]);
        let request =
            json!({"model": "m", "input": [texts[2]], "dimensions": 8, "encoding_format": "base64"});
        let (_, _, packed) = post(&ai, "/embeddings", request).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(packed["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
        let floats: Vec<f32> = bytes
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(floats, fake_embedding(texts[2], 8));
        assert_eq!(
            post(&ai, "/embeddings", json!({"model": "m", "input": ""}))
                .await
                .0,
            400
        );
        assert_eq!(ai.embedding_requests(), 4);
    }

    fn multipart(boundary: &str, filename: &str, audio: &[u8], fields: &[(&str, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .bytes(),
            );
        }
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                 Content-Type: audio/ogg\r\n\r\n"
            )
            .bytes(),
        );
        body.extend(audio);
        body.extend(format!("\r\n--{boundary}--\r\n").bytes());
        body
    }

    async fn upload(ai: &FakeOpenAi, body: Vec<u8>) -> reqwest::Response {
        client()
            .post(format!("{}/audio/transcriptions", ai.base_url))
            .bearer_auth(KEY)
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn transcriptions_take_multipart_audio_and_answer_the_set_text() {
        let ai = FakeOpenAi::start().await;
        ai.set_transcript("remind me to call Ana tomorrow");
        let audio = b"OggS\0fake-opus\r\n--other".to_vec();
        let response = upload(
            &ai,
            multipart(
                "XyZ",
                "voice.oga",
                &audio,
                &[("model", "whisper-1"), ("language", "en")],
            ),
        )
        .await;
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["text"], "remind me to call Ana tomorrow");
        assert_eq!(body["usage"]["type"], "duration");
        let received = &ai.transcriptions()[0];
        assert_eq!(
            (received.model.as_str(), received.filename.as_str()),
            ("whisper-1", "voice.oga")
        );
        assert_eq!(received.bytes, audio);
        assert_eq!(received.content_type.as_deref(), Some("audio/ogg"));
        assert_eq!(received.fields["language"], "en");

        let fields = [("model", "gpt-4o-transcribe"), ("response_format", "text")];
        let response = upload(&ai, multipart("XyZ", "v.ogg", &audio, &fields)).await;
        assert_eq!(response.text().await.unwrap(), "remind me to call Ana tomorrow");

        let response = upload(
            &ai,
            multipart("XyZ", "notes.txt", &audio, &[("model", "whisper-1")]),
        )
        .await;
        assert_eq!(response.status().as_u16(), 400);
        let response = upload(&ai, multipart("XyZ", "v.oga", &audio, &[])).await;
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["param"], "model");
        assert_eq!(ai.transcription_requests(), 4);
        assert_eq!(ai.transcriptions().len(), 2);
    }

    #[tokio::test]
    async fn async_openai_parses_replies_and_retries_failures() {
        use async_openai::config::OpenAIConfig;
        use async_openai::types::chat::{
            ChatCompletionMessageToolCalls, ChatCompletionRequestUserMessageArgs, ChatCompletionTool,
            ChatCompletionTools, CreateChatCompletionRequestArgs, FinishReason, FunctionObject,
        };

        let ai = FakeOpenAi::start().await;
        coordinator::llm::ensure_tls_provider();
        let openai = async_openai::Client::with_config(
            OpenAIConfig::new().with_api_base(&ai.base_url).with_api_key(KEY),
        );
        let request = CreateChatCompletionRequestArgs::default()
            .model("gpt-4o-mini")
            .messages(vec![ChatCompletionRequestUserMessageArgs::default()
                .content("add a task")
                .build()
                .unwrap()
                .into()])
            .tools(vec![ChatCompletionTools::Function(ChatCompletionTool {
                function: FunctionObject {
                    name: "create_task".into(),
                    description: Some("Create a task".into()),
                    parameters: Some(json!({"type": "object", "properties": {"title": {"type": "string"}}})),
                    strict: None,
                },
            })])
            .build()
            .unwrap();
        ai.script(vec![Scripted::ToolCalls(vec![(
            "create_task".into(),
            json!({"title": "Ship"}),
        )])]);
        let chat = openai.chat();
        let call = tokio::time::timeout(Duration::from_secs(30), chat.create(request.clone()));
        let reply = call.await.expect("in time").expect("parsed");
        assert_eq!(reply.choices[0].finish_reason, Some(FinishReason::ToolCalls));
        let calls = reply.choices[0].message.tool_calls.clone().unwrap();
        let ChatCompletionMessageToolCalls::Function(call) = &calls[0] else {
            panic!("not a function call")
        };
        assert_eq!(
            (call.id.as_str(), call.function.name.as_str()),
            ("call_1", "create_task")
        );
        assert_eq!(call.function.arguments, r#"{"title":"Ship"}"#);
        assert!(reply.usage.is_some());
        assert_eq!(ai.requests()[0]["tools"][0]["function"]["name"], "create_task");

        ai.always_fail(Some(429));
        let call = tokio::time::timeout(Duration::from_secs(30), chat.create(request));
        let error = call.await.expect("in time").expect_err("rate limited");
        assert!(error.to_string().contains("Rate limit"), "{error}");
        // The first attempt and async-openai's three retries.
        assert_eq!(ai.requests().len(), 5);
    }
}
