//! The fake's REST API: routing, authentication, scripted failures and rate-limit headers.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{answered, error, next_id, user_json, Call, Failure, Inner, Msg, Shared, Upload};
use super::{APP_ID, BOT_ID, BOT_NAME, EPHEMERAL, LOADING, TOKEN};

fn rate_headers(remaining: u32, reset_after: f64) -> [(&'static str, String); 5] {
    [
        ("x-ratelimit-limit", "5".into()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset-after", format!("{reset_after:.3}")),
        ("x-ratelimit-bucket", "fakebucket".into()),
        ("x-ratelimit-reset", "1764000000.000".into()),
    ]
}

pub(super) async fn handle(
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
    if method == Method::GET && path.starts_with("/attachments/") {
        return cdn(&shared, &path);
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (body, files) = if content_type.starts_with("multipart/form-data") {
        match multipart(&content_type, body).await {
            Ok(parsed) => parsed,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"message": e, "code": 50035})),
                )
                    .into_response()
            }
        }
    } else {
        (serde_json::from_slice(&body).unwrap_or(Value::Null), Vec::new())
    };
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
            Failure::AnswerLost => {
                let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
                let bot_ok = authorization.as_deref() == Some(&format!("Bot {TOKEN}"));
                let _ = route(&mut state, &shared, &method, &segments, bot_ok, &body);
                let (status, body) = error(500, 0, "500: Internal Server Error");
                (status, axum::Json(body)).into_response()
            }
            Failure::Refused {
                status,
                code,
                message,
            } => {
                let (status, body) = error(status, code, message);
                (status, axum::Json(body)).into_response()
            }
        };
    }
    for (n, (filename, content_type, bytes)) in files.into_iter().enumerate() {
        // Discord takes files only when `attachments` names each by its `files[n]` index.
        let named = body["attachments"].as_array().is_some_and(|a| {
            a.iter()
                .any(|x| x["id"] == json!(n) && x["filename"] == json!(filename))
        });
        if !named {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"message": "Invalid Form Body", "code": 50035})),
            )
                .into_response();
        }
        state.uploads.push(Upload {
            path: path.clone(),
            filename,
            content_type,
            bytes,
        });
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let bot_ok = authorization.as_deref() == Some(&format!("Bot {TOKEN}"));
    let result = route(&mut state, &shared, &method, &segments, bot_ok, &body);
    let mut response = match result {
        // Discord's interaction callback answers 204 with no body.
        Ok((StatusCode::NO_CONTENT, _)) => StatusCode::NO_CONTENT.into_response(),
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

/// A file served from the fake CDN (`FakeDiscord::add_attachment`), as Discord's CDN serves
/// attachments: no authentication, the URL is the credential.
fn cdn(shared: &Shared, path: &str) -> Response {
    let mut state = shared.lock();
    state.calls.push(Call {
        method: "GET".into(),
        path: path.to_owned(),
        authorization: None,
        body: Value::Null,
        at: Instant::now(),
    });
    match state.cdn.get(path) {
        Some((content_type, bytes)) => (
            StatusCode::OK,
            [("content-type", content_type.clone())],
            bytes.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "404: Not Found").into_response(),
    }
}

/// Uploaded files: (file name, content type, bytes).
type Files = Vec<(String, String, Vec<u8>)>;

/// A multipart message body: `payload_json` and the `files[n]` parts.
async fn multipart(content_type: &str, body: Bytes) -> Result<(Value, Files), String> {
    use axum::extract::FromRequest;
    let request = axum::http::Request::builder()
        .header("content-type", content_type)
        .body(axum::body::Body::from(body))
        .map_err(|e| e.to_string())?;
    let mut form = axum::extract::Multipart::from_request(request, &())
        .await
        .map_err(|e| e.to_string())?;
    let (mut payload, mut files) = (Value::Null, Vec::new());
    while let Some(field) = form.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().unwrap_or_default().to_owned();
        let kind = field.content_type().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| e.to_string())?;
        if name == "payload_json" {
            payload = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        } else if name.starts_with("files[") {
            files.push((filename, kind, bytes.to_vec()));
        }
    }
    Ok((payload, files))
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
            let nonce = match &body["nonce"] {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            if nonce.as_ref().is_some_and(|n| n.len() > 25) {
                return Err(error(400, 50035, "Invalid Form Body"));
            }
            // `enforce_nonce`: a nonce seen in the last few minutes answers the message it
            // created, and nothing new is posted.
            if body["enforce_nonce"] == json!(true) {
                if let Some(earlier) = state
                    .messages
                    .iter()
                    .find(|m| m.channel_id == *channel && m.nonce.is_some() && m.nonce == nonce)
                {
                    return Ok((StatusCode::OK, earlier.to_json()));
                }
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
                nonce,
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
        ("GET", ["applications", "@me"]) if bot_ok => Ok((
            StatusCode::OK,
            json!({"id": APP_ID, "name": BOT_NAME, "description": "", "bot_public": true,
                   "bot_require_code_grant": false, "verify_key": "00", "flags": 0,
                   "bot": {"id": BOT_ID, "username": BOT_NAME, "discriminator": "0", "avatar": null, "bot": true}}),
        )),
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
        ("POST", ["interactions", id, token, "callback"]) => callback(state, id, token, body),
        (_, ["webhooks", app, token, rest @ ..]) => webhook(state, method, app, token, rest, body),
        (_, ["gateway", ..] | ["channels", ..] | ["users", ..] | ["applications", ..]) => unauthorized(),
        _ => Err(error(404, 0, "404: Not Found")),
    }
}

/// The interaction response: once per interaction, within its lifetime.
fn callback(state: &mut Inner, id: &str, token: &str, body: &Value) -> Routed {
    let Some(interaction) = state.interactions.get(token).filter(|i| i.id == id) else {
        return Err(error(404, 10062, "Unknown interaction"));
    };
    if !interaction.pending {
        return Err(error(400, 40060, "Interaction has already been acknowledged."));
    }
    if !matches!(body["type"].as_u64(), Some(1 | 4 | 5 | 6 | 7 | 8 | 9)) {
        return Err(error(400, 50035, "Invalid Form Body"));
    }
    answered(state, token, body);
    if let Some(interaction) = state.interactions.get_mut(token) {
        interaction.pending = false;
    }
    Ok((StatusCode::NO_CONTENT, Value::Null))
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
                nonce: None,
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
