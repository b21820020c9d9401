//! `FakeZendesk`: an in-process Zendesk Support API (v2) on 127.0.0.1:0 that speaks Zendesk's
//! JSON, for the coordinator's real Zendesk client (`ZENDESK_API_URL`).
//!
//! What it serves, like the real API, behind basic auth `{EMAIL}/token:{TOKEN}` (else 401
//! `{"error": "Couldn't authenticate you"}`):
//! - `GET /api/v2/tickets.json` with cursor pagination (`page[size]`, `page[after]`):
//!   `{"tickets", "meta": {"has_more", "after_cursor", "before_cursor"}, "links"}`.
//! - `GET /api/v2/tickets/{id}.json` → `{"ticket"}`, 404 `{"error": "RecordNotFound"}`.
//! - `PUT /api/v2/tickets/{id}.json` with `{"ticket": {"status", "comment": {"body", "public"}}}`
//!   → `{"ticket", "audit": {"events": [...]}}`; the comment joins the ticket.
//! - `GET /api/v2/tickets/{id}/comments.json` → `{"comments", "meta", "links"}`.
//! - `GET /api/v2/incremental/tickets/cursor.json?start_time=…|cursor=…` → `{"tickets",
//!   "after_cursor", "after_url", "before_cursor", "before_url", "end_of_stream"}`: every
//!   change gets a sequence number, and a cursor returns only the tickets changed after it.
//!
//! Every request is recorded ([`FakeZendesk::requests`]); [`FakeZendesk::fail_next_updates`]
//! makes the next ticket updates answer 500.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

pub const EMAIL: &str = "agent@example.com";
pub const TOKEN: &str = "zd-api-token-123";

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub body: Value,
}

#[derive(Default)]
struct State_ {
    /// Ticket id → (ticket JSON, sequence number of its last change).
    tickets: BTreeMap<i64, (Value, u64)>,
    comments: BTreeMap<i64, Vec<Value>>,
    seq: u64,
    next_comment_id: i64,
    fail_updates: usize,
    requests: Vec<Request>,
}

#[derive(Clone)]
pub struct FakeZendesk {
    pub url: String,
    state: Arc<Mutex<State_>>,
}

fn stamp(seq: u64) -> String {
    format!("2030-01-01T00:{:02}:{:02}Z", (seq / 60) % 60, seq % 60)
}

impl FakeZendesk {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            url: format!("http://{}", listener.local_addr().unwrap()),
            state: Arc::new(Mutex::new(State_ {
                next_comment_id: 9000,
                ..State_::default()
            })),
        };
        let app = Router::new()
            .route("/api/v2/tickets.json", get(list))
            .route("/api/v2/incremental/tickets/cursor.json", get(export))
            .route("/api/v2/tickets/{file}", get(show).put(update))
            .route("/api/v2/tickets/{id}/comments.json", get(comments))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    /// The settings that point the coordinator here.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ZENDESK_API_URL", self.url.clone()),
            ("ZENDESK_EMAIL", EMAIL.into()),
            ("ZENDESK_API_TOKEN", TOKEN.into()),
        ]
    }

    /// Adds (or replaces) a ticket; its description is also its first comment, as in Zendesk.
    pub fn add_ticket(&self, id: i64, subject: &str, tags: &[&str], priority: Option<&str>) {
        let mut s = self.state.lock().unwrap();
        s.seq += 1;
        let seq = s.seq;
        let description = format!("{subject}: the customer's first message");
        let ticket = json!({
            "id": id,
            "url": format!("{}/api/v2/tickets/{id}.json", self.url),
            "type": "question",
            "subject": subject,
            "raw_subject": subject,
            "description": description,
            "status": "open",
            "priority": priority,
            "tags": tags,
            "requester_id": 501,
            "submitter_id": 501,
            "assignee_id": null,
            "created_at": stamp(seq),
            "updated_at": stamp(seq),
        });
        s.tickets.insert(id, (ticket, seq));
        s.next_comment_id += 1;
        let first = comment_json(s.next_comment_id, &description, true, seq);
        s.comments.insert(id, vec![first]);
    }

    /// A new comment on a ticket (a change, so the export returns the ticket again).
    pub fn add_comment(&self, ticket: i64, body: &str) -> i64 {
        let mut s = self.state.lock().unwrap();
        s.seq += 1;
        s.next_comment_id += 1;
        let (seq, id) = (s.seq, s.next_comment_id);
        s.comments
            .entry(ticket)
            .or_default()
            .push(comment_json(id, body, true, seq));
        if let Some((t, at)) = s.tickets.get_mut(&ticket) {
            t["updated_at"] = json!(stamp(seq));
            *at = seq;
        }
        id
    }

    pub fn ticket(&self, id: i64) -> Option<Value> {
        self.state
            .lock()
            .unwrap()
            .tickets
            .get(&id)
            .map(|(t, _)| t.clone())
    }

    pub fn comment_bodies(&self, ticket: i64) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.comments
            .get(&ticket)
            .map(|c| {
                c.iter()
                    .map(|c| c["body"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The next `n` ticket updates answer 500.
    pub fn fail_next_updates(&self, n: usize) {
        self.state.lock().unwrap().fail_updates = n;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The recorded requests whose path starts with `prefix`.
    pub fn requests_to(&self, method: &str, prefix: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.uri.starts_with(prefix))
            .collect()
    }

    /// Waits (at most 30 s) until `check` holds for the fake's state.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&FakeZendesk) -> bool) {
        eventually(what, || async { check(self) }).await
    }

    fn record(&self, method: &Method, uri: &Uri, body: &[u8]) {
        let body = serde_json::from_slice(body).unwrap_or(Value::Null);
        self.state.lock().unwrap().requests.push(Request {
            method: method.to_string(),
            uri: uri.to_string(),
            body,
        });
    }
}

/// Waits (at most 30 s) until `check` is true.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn comment_json(id: i64, body: &str, public: bool, seq: u64) -> Value {
    json!({
        "id": id,
        "type": "Comment",
        "author_id": 501,
        "body": body,
        "html_body": format!("<div class=\"zd-comment\"><p>{body}</p></div>"),
        "plain_body": body,
        "public": public,
        "attachments": [],
        "audit_id": id + 100_000,
        "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": null}},
        "created_at": stamp(seq),
        "metadata": {"system": {}, "custom": {}},
    })
}

fn authorized(headers: &HeaderMap) -> bool {
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}/token:{TOKEN}"));
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Basic {expected}"))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "Couldn't authenticate you"})),
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "RecordNotFound", "description": "Not found"})),
    )
        .into_response()
}

fn page_meta() -> Value {
    json!({"meta": {"has_more": false, "after_cursor": null, "before_cursor": null},
        "links": {"prev": null, "next": null}})
}

async fn list(State(f): State<FakeZendesk>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    f.record(&method, &uri, b"");
    if !authorized(&headers) {
        return unauthorized();
    }
    let s = f.state.lock().unwrap();
    let mut answer = page_meta();
    answer["tickets"] = s.tickets.values().map(|(t, _)| t.clone()).collect();
    Json(answer).into_response()
}

fn ticket_id(file: &str) -> Option<i64> {
    file.strip_suffix(".json")?.parse().ok()
}

async fn show(
    State(f): State<FakeZendesk>,
    Path(file): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    f.record(&method, &uri, b"");
    if !authorized(&headers) {
        return unauthorized();
    }
    match ticket_id(&file).and_then(|id| f.ticket(id)) {
        Some(ticket) => Json(json!({ "ticket": ticket })).into_response(),
        None => not_found(),
    }
}

async fn update(
    State(f): State<FakeZendesk>,
    Path(file): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    f.record(&method, &uri, &body);
    if !authorized(&headers) {
        return unauthorized();
    }
    let mut s = f.state.lock().unwrap();
    if s.fail_updates > 0 {
        s.fail_updates -= 1;
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "InternalError"})),
        )
            .into_response();
    }
    let Some(id) = ticket_id(&file).filter(|id| s.tickets.contains_key(id)) else {
        return not_found();
    };
    let change: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let change = &change["ticket"];
    s.seq += 1;
    let seq = s.seq;
    let mut events = Vec::new();
    if let Some(text) = change["comment"]["body"].as_str() {
        s.next_comment_id += 1;
        let cid = s.next_comment_id;
        let public = change["comment"]["public"].as_bool().unwrap_or(true);
        s.comments
            .entry(id)
            .or_default()
            .push(comment_json(cid, text, public, seq));
        events.push(json!({"id": cid, "type": "Comment", "author_id": 501, "body": text, "public": public}));
    }
    let (ticket, at) = s.tickets.get_mut(&id).unwrap();
    if let Some(status) = change["status"].as_str() {
        let previous = ticket["status"].clone();
        ticket["status"] = json!(status);
        events.push(json!({"id": seq + 50_000, "type": "Change", "field_name": "status", "value": status, "previous_value": previous}));
    }
    ticket["updated_at"] = json!(stamp(seq));
    *at = seq;
    let answer = json!({
        "ticket": ticket.clone(),
        "audit": {"id": seq + 70_000, "ticket_id": id, "created_at": stamp(seq), "author_id": 501, "events": events},
    });
    Json(answer).into_response()
}

async fn comments(
    State(f): State<FakeZendesk>,
    Path(id): Path<i64>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    f.record(&method, &uri, b"");
    if !authorized(&headers) {
        return unauthorized();
    }
    let s = f.state.lock().unwrap();
    let Some(list) = s.comments.get(&id) else {
        return not_found();
    };
    let mut answer = page_meta();
    answer["comments"] = Value::Array(list.clone());
    Json(answer).into_response()
}

async fn export(
    State(f): State<FakeZendesk>,
    Query(q): Query<BTreeMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    f.record(&method, &uri, b"");
    if !authorized(&headers) {
        return unauthorized();
    }
    let after: u64 = match (q.get("cursor"), q.get("start_time")) {
        (Some(c), _) => match c.strip_prefix("seq").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({"error": "InvalidPaginationParameter"})),
                )
                    .into_response()
            }
        },
        (None, Some(_)) => 0,
        (None, None) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "InvalidValue", "description": "start_time or cursor is required"})),
            )
                .into_response()
        }
    };
    let s = f.state.lock().unwrap();
    let mut changed: Vec<&(Value, u64)> = s.tickets.values().filter(|(_, at)| *at > after).collect();
    changed.sort_by_key(|(_, at)| *at);
    let last = changed.last().map(|(_, at)| *at).unwrap_or(after);
    let cursor = format!("seq{last}");
    Json(json!({
        "tickets": changed.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>(),
        "after_url": format!("{}/api/v2/incremental/tickets/cursor.json?cursor={cursor}", f.url),
        "after_cursor": cursor,
        "before_url": null,
        "before_cursor": null,
        "end_of_stream": true,
    }))
    .into_response()
}
