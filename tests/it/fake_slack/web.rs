//! The fake's Web API, response URLs and file downloads.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::Json;
use serde_json::{json, Value};

use super::{Call, Inner, Msg, Response, Shared, APP_ID, APP_TOKEN, BOT_TOKEN, BOT_USER, TEAM};

fn ok(mut body: Value) -> HttpResponse {
    body["ok"] = json!(true);
    Json(body).into_response()
}

fn refused(error: &str) -> HttpResponse {
    Json(json!({"ok": false, "error": error})).into_response()
}

fn next_ts(state: &mut Inner) -> String {
    state.next_ts += 1;
    format!("1764000000.{:06}", state.next_ts)
}

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResponse {
    let path = uri.path().to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = if let Some(n) = path.strip_prefix("/response/") {
        format!("response:{n}")
    } else if let Some(id) = path.strip_prefix("/files/") {
        format!("file:{id}")
    } else {
        path.strip_prefix("/api/").unwrap_or(&path).to_owned()
    };
    let mut state = shared.lock();
    state.calls.push(Call {
        method: method.clone(),
        authorization: authorization.clone(),
        body: body.clone(),
        at: Instant::now(),
    });
    if let Some(wait) = state.rate_limits.get_mut(&method).and_then(VecDeque::pop_front) {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"ok": false, "error": "ratelimited"})),
        )
            .into_response();
        response
            .headers_mut()
            .insert("retry-after", wait.to_string().parse().unwrap());
        return response;
    }
    if let Some(url) = method.strip_prefix("response:") {
        let uses = state.response_uses.entry(url.to_owned()).or_insert(0);
        *uses += 1;
        if *uses > 5 {
            return (StatusCode::NOT_FOUND, "used_url").into_response();
        }
        state.responses.push(Response {
            url: format!("{}{path}", shared.base),
            body,
        });
        return (StatusCode::OK, "ok").into_response();
    }
    let bot = format!("Bearer {BOT_TOKEN}");
    if let Some(id) = method.strip_prefix("file:") {
        if authorization.as_deref() != Some(bot.as_str()) {
            return (StatusCode::FORBIDDEN, "forbidden").into_response();
        }
        return match state.files.get(id) {
            Some((mime, bytes)) => ([("content-type", mime.clone())], bytes.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    if method == "apps.connections.open" {
        return match authorization.as_deref() {
            Some(a) if a == format!("Bearer {APP_TOKEN}") => {
                ok(json!({"url": format!("{}?ticket=fake-ticket&app_id={APP_ID}", shared.socket_url)}))
            }
            Some(_) => refused("invalid_auth"),
            None => refused("not_authed"),
        };
    }
    match authorization.as_deref() {
        None => return refused("not_authed"),
        Some(a) if a != bot => return refused("invalid_auth"),
        _ => {}
    }
    match method.as_str() {
        "chat.postMessage" => {
            let Some(channel) = body["channel"].as_str().map(str::to_owned) else {
                return refused("channel_not_found");
            };
            if body["text"].as_str().is_none() && !body["blocks"].is_array() {
                return refused("no_text");
            }
            let ts = next_ts(&mut state);
            let msg = Msg {
                channel: channel.clone(),
                ts: ts.clone(),
                text: body["text"].as_str().unwrap_or_default().to_owned(),
                blocks: body["blocks"].clone(),
                thread_ts: body["thread_ts"].as_str().map(str::to_owned),
                updates: 0,
            };
            state.messages.push(msg);
            ok(json!({"channel": channel, "ts": ts, "message": {
                "type": "message", "user": BOT_USER, "bot_id": "B0BOT0001", "app_id": APP_ID,
                "text": body["text"], "blocks": body["blocks"], "ts": ts, "team": TEAM
            }}))
        }
        "chat.update" => {
            let (Some(channel), Some(ts)) = (body["channel"].as_str(), body["ts"].as_str()) else {
                return refused("invalid_arguments");
            };
            let Some(msg) = state
                .messages
                .iter_mut()
                .find(|m| m.channel == channel && m.ts == ts)
            else {
                return refused("message_not_found");
            };
            msg.text = body["text"].as_str().unwrap_or_default().to_owned();
            msg.blocks = body["blocks"].clone();
            msg.updates += 1;
            ok(json!({"channel": channel, "ts": ts, "text": body["text"]}))
        }
        "files.info" => {
            let id = uri
                .query()
                .unwrap_or_default()
                .split('&')
                .find_map(|p| p.strip_prefix("file="))
                .unwrap_or_default()
                .to_owned();
            match state.files.get(&id) {
                Some((mime, bytes)) => ok(json!({"file": {
                    "id": id, "name": "audio_message.webm", "mimetype": mime, "filetype": "webm",
                    "size": bytes.len(), "subtype": "slack_audio",
                    "url_private": format!("{}/files/{id}", shared.base),
                    "url_private_download": format!("{}/files/{id}", shared.base),
                }})),
                None => refused("file_not_found"),
            }
        }
        _ => refused("unknown_method"),
    }
}
