//! `/integrations`: sending a message on a channel through the outbox
//! (`POST /integrations/{channel}/send`), the record of what was sent and received
//! (`GET /integrations/history`), and voice transcription of an upload
//! (`POST /integrations/voice/transcribe`, in [`transcribe`]). Sends never go to a platform from
//! here: they are queued, and the outbox worker delivers them within the platform's limits.

mod transcribe;

pub use transcribe::upload_router;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ErrorBody, Json, Path, Query};
use super::{page_response, ApiError, ApiResult, AppState, Auth};
use crate::config::Settings;
use crate::domain::{Channel, Person};
use crate::integrations::voice::Voice;
use crate::message::OutboundMessage;
use crate::outbox::OutboxWriter;
use crate::store::{HistoryFilter, HistoryRecord};
use crate::workspace::{Actor, Page, Paging, WorkspaceError};

/// Longest text sent through the API.
const MAX_TEXT_CHARS: usize = 4000;
/// Longest `Idempotency-Key`.
const MAX_KEY_CHARS: usize = 255;

/// What the `/integrations` routes need.
#[derive(Clone)]
pub struct IntegrationsState {
    pub voice: Arc<Voice>,
    pub outbox: OutboxWriter,
    /// The channels that can send on this server.
    pub senders: Vec<Channel>,
}

impl IntegrationsState {
    pub fn new(settings: &Settings, voice: Arc<Voice>, outbox: OutboxWriter) -> Self {
        let mut senders = Vec::new();
        if settings.telegram.is_some() {
            senders.push(Channel::Telegram);
        }
        if settings.whatsapp_token.is_some() && settings.whatsapp_phone_number_id.is_some() {
            senders.push(Channel::Whatsapp);
        }
        if settings.discord_token.is_some() {
            senders.push(Channel::Discord);
        }
        if settings.smtp_url.is_some() && settings.email_from.is_some() {
            senders.push(Channel::Email);
        }
        if settings.slack.enabled() {
            senders.push(Channel::Slack);
        }
        Self {
            voice,
            outbox,
            senders,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// A person's handle (`anna` or `@anna`: sent to their identity on this channel), or the
    /// platform's own address: a Telegram chat id, a WhatsApp number (wa_id), a Discord channel
    /// id or `user:USER_ID`, an email address.
    pub to: String,
    /// 1–4000 characters.
    pub text: String,
    /// The task the message is about, for the history.
    pub task_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    /// The outbox message's id.
    pub id: i64,
    /// `pending` until the outbox worker sends it (`done`), or gives up (`dead`).
    pub status: String,
    pub channel: Channel,
    pub chat_id: String,
    pub person: Option<String>,
    pub task_id: Option<i64>,
}

/// Only members and admins send and read messages.
fn require_member(actor: &Actor, what: &str) -> ApiResult<()> {
    Ok(actor.require_member(what)?)
}

/// The channels one can send on.
fn channel(name: &str) -> ApiResult<Channel> {
    match name.parse::<Channel>() {
        Ok(channel) if channel != Channel::Cli => Ok(channel),
        _ => Err(ApiError::not_found(format!(
            "no channel '{name}': telegram, whatsapp, discord, slack or email"
        ))),
    }
}

/// `to` as a platform address of `channel`, when it reads as one.
fn platform_address(channel: Channel, to: &str) -> Option<String> {
    let digits =
        |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
    match channel {
        Channel::Telegram => to.parse::<i64>().ok().map(|id| id.to_string()),
        Channel::Whatsapp => {
            let number = to.strip_prefix('+').unwrap_or(to);
            (digits(number, 20) && number.len() >= 6).then(|| number.to_owned())
        }
        Channel::Discord => match to.strip_prefix("user:") {
            Some(user) => digits(user, 20).then(|| to.to_owned()),
            None => digits(to, 20).then(|| to.to_owned()),
        },
        Channel::Email => {
            let address = to.to_lowercase();
            let valid = address.len() <= 254
                && !address.contains(char::is_whitespace)
                && address
                    .split_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
            valid.then_some(address)
        }
        Channel::Slack => crate::channels::slack::address::is_slack_id(to).then(|| to.to_owned()),
        Channel::Cli => None,
    }
}

/// Where a person is reached on `channel`.
fn person_address(person: &Person, channel: Channel) -> Option<String> {
    let identity = person
        .identities
        .iter()
        .find(|i| i.channel == channel)
        .map(|i| i.external_id.clone());
    match channel {
        Channel::Discord => identity.map(|id| format!("user:{id}")),
        Channel::Email => identity.or_else(|| person.email.clone()),
        _ => identity,
    }
}

/// The chat `to` means on `channel`, and the person it reaches when known.
async fn resolve(
    s: &AppState,
    actor: &Actor,
    channel: Channel,
    to: &str,
) -> ApiResult<(String, Option<Person>)> {
    let to = to.trim();
    if to.is_empty() || to.chars().count() > 320 {
        return Err(ApiError::invalid("to", "must be 1-320 characters"));
    }
    let handle = to.strip_prefix('@').unwrap_or(to);
    match s.workspace.person(actor, handle).await {
        Ok(person) => {
            let Some(address) = person_address(&person, channel) else {
                return Err(ApiError::invalid(
                    "to",
                    &format!("@{} has no {channel} identity", person.handle),
                ));
            };
            return Ok((address, Some(person)));
        }
        Err(WorkspaceError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let address = (!to.starts_with('@'))
        .then(|| platform_address(channel, to))
        .flatten()
        .ok_or_else(|| {
            ApiError::invalid(
                "to",
                &format!("'{to}' is neither a known person's handle nor a {channel} address"),
            )
        })?;
    let external_id = address.strip_prefix("user:").unwrap_or(&address);
    let identity = crate::domain::Identity {
        channel,
        external_id: external_id.to_owned(),
    };
    let person = s.workspace.person_by_identity(&identity).await?;
    Ok((address, person))
}

/// The `Idempotency-Key` header, when given.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().map(str::trim).unwrap_or("");
    if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "must be 1-255 printable characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

#[utoipa::path(post, operation_id = "integrations_send", tag = "integrations", path = "/integrations/{channel}/send",
    params(("channel" = String, Path, description = "telegram, whatsapp, discord, slack or email"),
        ("Idempotency-Key" = Option<String>, Header, description = "the same key (per token) queues the message once")),
    request_body = SendRequest, security(("bearer" = [])),
    responses((status = 202, body = Queued), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn send(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(request): Json<SendRequest>,
) -> ApiResult<Response> {
    require_member(&actor, "send messages")?;
    let channel = channel(&name)?;
    let key = idempotency_key(&headers)?;
    let text = request.text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::invalid("text", "must be 1-4000 characters"));
    }
    if !s.integrations.senders.contains(&channel) {
        return Err(ApiError::invalid(
            "channel",
            &format!("{channel} is not configured on this server"),
        ));
    }
    if let Some(id) = request.task_id {
        match s.workspace.task(&actor, id).await {
            Ok(_) => {}
            Err(WorkspaceError::NotFound(m)) => return Err(ApiError::invalid("task_id", &m)),
            Err(e) => return Err(e.into()),
        }
    }
    let (chat_id, person) = resolve(&s, &actor, channel, &request.to).await?;
    let message = OutboundMessage::text(channel, chat_id, text);
    let mut row = crate::queue::to_outbound(&message, key.map(|k| format!("api:{}:{k}", actor.name)))
        .map_err(WorkspaceError::from)?;
    row.person_id = person.as_ref().map(|p| p.id);
    row.task_id = request.task_id.or(row.task_id);
    let (queued, fresh) = s
        .integrations
        .outbox
        .enqueue_one(&row)
        .await
        .map_err(WorkspaceError::from)?;
    if !fresh
        && (queued.channel != row.channel || queued.chat_id != row.chat_id || queued.payload != row.payload)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "Idempotency-Key was used before for a different message",
        ));
    }
    let body = Queued {
        id: queued.id,
        status: queued.status,
        channel,
        chat_id: queued.chat_id,
        person: person.map(|p| p.handle),
        task_id: row.task_id,
    };
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if !fresh {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// telegram, whatsapp, discord, slack, email or cli
    pub channel: Option<String>,
    /// A person's handle: what they sent and what was sent to them.
    pub person: Option<String>,
    pub task_id: Option<i64>,
    /// `in` (received) or `out` (sent); both by default.
    pub direction: Option<String>,
    /// 1–500 (50)
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A message received or sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    /// `in` (received, from the inbox) or `out` (sent, from the outbox).
    pub direction: String,
    /// The inbox event's or the outbox message's id.
    pub id: i64,
    pub channel: String,
    /// The chat or address: a Telegram chat id, a WhatsApp number, a Discord channel, an email address.
    pub chat_id: String,
    /// The person who sent it or to whom it went, when known.
    pub person: Option<String>,
    pub task_id: Option<i64>,
    /// The text; for a voice note, its transcript.
    pub text: String,
    /// `pending`, `processing`, `done` (processed or sent) or `dead` (given up).
    pub status: String,
    /// Why it failed, for retried and dead messages.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<HistoryRecord> for HistoryItem {
    fn from(r: HistoryRecord) -> Self {
        let payload: serde_json::Value = serde_json::from_str(&r.payload).unwrap_or_default();
        let mut text = r
            .text
            .unwrap_or_else(|| payload["text"].as_str().unwrap_or_default().to_owned());
        let audio = payload["attachments"].as_array().is_some_and(|a| {
            a.iter()
                .any(|a| matches!(a["kind"].as_str(), Some("voice" | "audio")))
        });
        if text.trim().is_empty() && audio {
            text = "(a voice note)".into();
        }
        Self {
            direction: r.direction,
            id: r.id,
            channel: r.channel,
            chat_id: r.chat_id,
            person: r.person,
            task_id: r.task_id,
            text,
            status: r.status,
            error: r.last_error,
            created_at: r.created_at,
            finished_at: r.finished_at,
        }
    }
}

#[utoipa::path(get, operation_id = "integrations_history", tag = "integrations", path = "/integrations/history",
    params(HistoryQuery), security(("bearer" = [])),
    responses((status = 200, body = [HistoryItem], headers(("x-total-count" = i64))),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn history(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Response> {
    require_member(&actor, "read the message history")?;
    let paging = Paging::new(q.limit, q.offset).map_err(WorkspaceError::from)?;
    let channel = match q.channel.as_deref() {
        Some(name) => Some(
            Channel::parse_field(name, "channel")
                .map_err(WorkspaceError::from)?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let direction = match q.direction.as_deref().map(str::trim) {
        None => None,
        Some(d @ ("in" | "out")) => Some(d.to_owned()),
        Some(other) => {
            return Err(ApiError::invalid(
                "direction",
                &format!("'{other}' is not in or out"),
            ))
        }
    };
    let filter = HistoryFilter {
        channel,
        person: q.person.map(|p| p.trim().trim_start_matches('@').to_owned()),
        task_id: q.task_id,
        direction,
        limit: paging.limit,
        offset: paging.offset,
    };
    let (records, total) = s.workspace.history(&actor, &filter).await?;
    Ok(page_response(Page {
        items: records.into_iter().map(HistoryItem::from).collect::<Vec<_>>(),
        total,
    }))
}
