//! `FakeGraph`: an in-process WhatsApp Cloud API (Graph API) server on 127.0.0.1:0 speaking the
//! real wire format, and builders for webhook notifications shaped as Meta sends them.
//!
//! What it serves, like the real API:
//! - `POST {url}/{phone_number_id}/messages` with `Authorization: Bearer TOKEN`: text,
//!   interactive (reply buttons, lists) and template messages, checked against WhatsApp's limits
//!   (3 buttons, 20-character titles, 1024-character interactive bodies, 4096-character texts,
//!   one-line template parameters, known templates and their parameter counts); answers
//!   `{"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],"messages":[{"id":"wamid…"}]}`.
//!   Mark-as-read calls (`"status":"read"`) answer `{"success":true}`.
//! - `GET {url}/{media_id}` (the media URL, valid five minutes in reality) and `GET` of that
//!   URL with the bearer token (the bytes), for voice notes and documents; `GET
//!   {url}/{phone_number_id}` answers the business number (`display_phone_number`).
//! - Errors as the Graph API gives them: `{"error":{"message","type","code","error_data":
//!   {"messaging_product","details"},"fbtrace_id"}}`; a wrong token gets 401 code 190, a wrong
//!   phone number id 400 code 100. Failures can be scripted with [`FakeGraph::fail_next`].
//!
//! Notifications: [`notification`] wraps a `value` (`contacts`, `messages`, `statuses`) in
//! `object/entry/changes`; [`text_message`], [`button_reply`], [`audio_message`],
//! [`document_message`], [`status`] and [`failed_status`] build the items; [`sign`] gives the
//! `X-Hub-Signature-256` header value.

// A shared helper: each test module uses only part of it.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

mod notifications;
mod rules;

// Builders for tests; not every test module uses each one.
#[allow(unused_imports)]
pub use notifications::{
    audio_message, button_reply, document_message, failed_status, messages_from, notification, sign, status,
    statuses, text_message,
};

/// The access token the fake accepts.
pub const TOKEN: &str = "EAAG-test-access-token";
/// The business phone number id the fake serves.
pub const PHONE_NUMBER_ID: &str = "106540352242922";
/// The business's display number.
pub const DISPLAY_PHONE_NUMBER: &str = "15550783881";
/// The API version in the URL.
pub const VERSION: &str = "v21.0";

/// A message the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub to: String,
    /// `text`, `interactive` or `template`.
    pub kind: String,
    /// The text the person sees: the text body, the interactive body, or the template's
    /// first body parameter.
    pub text: String,
    pub wamid: String,
    /// The request as sent.
    pub body: Value,
}

/// A scripted failure for [`FakeGraph::fail_next`].
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A Graph error: HTTP status, error code, message (title) and details.
    Graph(u16, i64, &'static str, &'static str),
    /// HTTP 500, code 131000 "Something went wrong".
    ServerError,
}

struct Inner {
    requests: Vec<(Value, Instant)>,
    sent: Vec<Sent>,
    failures: VecDeque<Failure>,
    next_id: u64,
    /// Known templates: (name, language) → number of body parameters.
    templates: HashMap<(String, String), usize>,
    media: HashMap<String, (String, Vec<u8>)>,
}

struct Shared {
    base: String,
    state: Mutex<Inner>,
    shutdown: CancellationToken,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A fake Graph API. It serves until dropped.
pub struct FakeGraph {
    /// The API base to configure as `WHATSAPP_API_URL`, e.g. `http://127.0.0.1:40123/v21.0`.
    pub url: String,
    shared: Arc<Shared>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl FakeGraph {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Graph");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            base: base.clone(),
            state: Mutex::new(Inner {
                requests: Vec::new(),
                sent: Vec::new(),
                failures: VecDeque::new(),
                next_id: 1,
                templates: HashMap::new(),
                media: HashMap::new(),
            }),
            shutdown: CancellationToken::new(),
        });
        let app = Router::new()
            .route("/{version}/{phone}/messages", post(messages))
            .route("/{version}/{media_id}", get(media_url))
            .route("/media/{media_id}", get(media_bytes))
            .with_state(shared.clone());
        let stop = shared.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        FakeGraph {
            url: format!("{base}/{VERSION}"),
            shared,
        }
    }

    /// Registers an approved template with `params` body variables.
    pub fn add_template(&self, name: &str, language: &str, params: usize) {
        self.shared
            .lock()
            .templates
            .insert((name.to_owned(), language.to_owned()), params);
    }

    /// Media the person sent: served at `GET {url}/{media_id}` and its download URL.
    pub fn add_media(&self, media_id: &str, mime_type: &str, bytes: Vec<u8>) {
        self.shared
            .lock()
            .media
            .insert(media_id.to_owned(), (mime_type.to_owned(), bytes));
    }

    /// The next sends answer these failures in order.
    pub fn fail_next(&self, failures: Vec<Failure>) {
        self.shared.lock().failures.extend(failures);
    }

    /// Accepted messages, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.shared.lock().sent.clone()
    }

    /// Every request body to `/messages`, refused ones included.
    pub fn requests(&self) -> Vec<Value> {
        self.shared
            .lock()
            .requests
            .iter()
            .map(|(b, _)| b.clone())
            .collect()
    }

    /// Polls until at least `n` messages were accepted or `timeout` passed.
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

    /// Polls until at least `n` requests arrived or `timeout` passed.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if requests.len() >= n || Instant::now() >= deadline {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn graph_error(status: u16, code: i64, message: &str, details: &str) -> Response {
    let body = json!({"error": {
        "message": format!("(#{code}) {message}"),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": "AazzUXq7Pb0Pdjfg2vRzQ8K",
    }});
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(body),
    )
        .into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

fn unauthorized() -> Response {
    let body = json!({"error": {"message": "Invalid OAuth access token - Cannot parse access token",
        "type": "OAuthException", "code": 190, "fbtrace_id": "A7i2Y3Xh0kF2N7dqs1Wn1Zq"}});
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

async fn messages(
    State(shared): State<Arc<Shared>>,
    Path((_version, phone)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = shared.lock();
    state.requests.push((body.clone(), Instant::now()));
    if !authorized(&headers) {
        return unauthorized();
    }
    if phone != PHONE_NUMBER_ID {
        return graph_error(
            400,
            100,
            "Unsupported post request",
            &format!("Object with ID '{phone}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"),
        );
    }
    if body["status"] == "read" {
        return Json(json!({"success": true})).into_response();
    }
    if let Some(failure) = state.failures.pop_front() {
        return match failure {
            Failure::Graph(status, code, message, details) => graph_error(status, code, message, details),
            Failure::ServerError => graph_error(500, 131000, "Something went wrong", "Something went wrong"),
        };
    }
    let (kind, text) = match rules::check(&body, &state.templates) {
        Ok(found) => found,
        Err(rules::Refusal(status, code, title, details)) => {
            return graph_error(status, code, title, &details)
        }
    };
    let to = body["to"].as_str().unwrap_or_default().to_owned();
    let wamid = format!(
        "wamid.HBgL{:012}FQIAERgS{:06}A=",
        to.parse::<u64>().unwrap_or(0),
        state.next_id
    );
    state.next_id += 1;
    state.sent.push(Sent {
        to: to.clone(),
        kind: kind.clone(),
        text,
        wamid: wamid.clone(),
        body,
    });
    let mut message = json!({"id": wamid});
    if kind == "template" {
        message["message_status"] = json!("accepted");
    }
    Json(json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [message]}))
        .into_response()
}

async fn media_url(
    State(shared): State<Arc<Shared>>,
    Path((_v, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    if id == PHONE_NUMBER_ID {
        // The business phone number object (`?fields=display_phone_number`).
        return Json(
            json!({"display_phone_number": "+1 555-078-3881", "verified_name": "Coordinator", "id": id}),
        )
        .into_response();
    }
    let state = shared.lock();
    match state.media.get(&id) {
        Some((mime, bytes)) => Json(json!({
            "messaging_product": "whatsapp", "url": format!("{}/media/{id}", shared.base),
            "mime_type": mime, "sha256": hex::encode(<Sha256 as sha2::Digest>::digest(bytes)),
            "file_size": bytes.len(), "id": id,
        }))
        .into_response(),
        None => graph_error(
            400,
            100,
            "Invalid parameter",
            &format!("Unsupported get request. Object with ID '{id}' does not exist"),
        ),
    }
}

async fn media_bytes(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match shared.lock().media.get(&id) {
        Some((mime, bytes)) => {
            ([(axum::http::header::CONTENT_TYPE, mime.clone())], bytes.clone()).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
