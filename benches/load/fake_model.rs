//! A scripted OpenAI-compatible model for load runs: `POST /v1/chat/completions` answered in
//! the real wire format (<https://platform.openai.com/docs/api-reference/chat/object>), with no
//! state, so any number of chats can talk to it at once.
//!
//! The script, read from the request itself: when the last message is the user's and names a
//! load token (`load-<n>`), the model calls the `create_task` tool with that token as the
//! title; once the tool's result is back, it answers `Noted load-<n> (…)`; anything else gets a
//! short text. A free-text turn therefore costs two model calls and one tool call, and its
//! reply carries the token.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::fake_telegram::token;

pub struct FakeModel {
    /// The API base for `OPENAI_BASE_URL` (ends in `/v1`).
    pub base_url: String,
    calls: Arc<AtomicU64>,
}

impl FakeModel {
    pub async fn start() -> anyhow::Result<Self> {
        let calls = Arc::new(AtomicU64::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}/v1", listener.local_addr()?);
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(calls.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { base_url, calls })
    }

    /// Chat completions answered so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

fn text_of(message: &Value) -> String {
    match &message["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

async fn completions(State(calls): State<Arc<AtomicU64>>, headers: HeaderMap, body: Json<Value>) -> Response {
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    if !authorized {
        let error = json!({"error": {"message": "You didn't provide an API key.",
            "type": "invalid_request_error", "param": null, "code": null}});
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let asked = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(text_of)
        .unwrap_or_default();
    let tools_offered = body["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["function"]["name"] == "create_task"));
    let (message, finish) = match (last["role"].as_str(), token(&asked)) {
        (Some("user"), Some(t)) if tools_offered => {
            let arguments = json!({"title": format!("load-{t}")}).to_string();
            let call = json!({"id": format!("call_{n}"), "type": "function",
                              "function": {"name": "create_task", "arguments": arguments}});
            (
                json!({"role": "assistant", "content": null, "tool_calls": [call], "refusal": null}),
                "tool_calls",
            )
        }
        (Some("tool"), Some(t)) => {
            let result: Value = serde_json::from_str(&text_of(&last)).unwrap_or(Value::Null);
            let id = result["created"]["id"]
                .as_i64()
                .map_or_else(String::new, |id| format!(" as task #{id}"));
            let text = format!("Noted load-{t}{id}.");
            (
                json!({"role": "assistant", "content": text, "refusal": null}),
                "stop",
            )
        }
        _ => (
            json!({"role": "assistant", "content": "Understood.", "refusal": null}),
            "stop",
        ),
    };
    let prompt_tokens = serde_json::to_string(&messages).map_or(0, |s| s.len() / 4) as u64;
    Json(json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": body["model"].as_str().unwrap_or("gpt-4o-mini"),
        "system_fingerprint": "fp_load",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 12,
                  "total_tokens": prompt_tokens + 12},
    }))
    .into_response()
}
