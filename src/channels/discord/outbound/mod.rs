//! Discord out: messages to channels (`POST /channels/{id}/messages` as the bot, buttons as an
//! action row), direct messages (the DM channel opened with `POST /users/@me/channels`), and
//! answers to interactions through their webhook (`webhook`): the first answer to a deferred
//! slash command replaces the "thinking" message (`PATCH …/messages/@original`), later ones are
//! follow-ups (`POST /webhooks/{application_id}/{token}`), and a button press is acknowledged
//! with an ephemeral follow-up. Interaction answers need no bot token (the interaction's token,
//! looked up in the store, authenticates them), so an interactions-only application answers its
//! slash commands; everything else is sent as the bot. Errors map to what the outbox should do.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{json, Value};

mod webhook;

use super::address::Address;
use super::rest::{Auth, Rest, RestError};
use crate::domain;
use crate::message::{Button, OutboundMessage, RateLimits, SendError, Transport};
use crate::store::Store;

/// Discord error codes we act on.
const UNKNOWN_CHANNEL: i64 = 10003;
const MAX_CONTENT: usize = 2000;
const MAX_CUSTOM_ID: usize = 100;

/// Sends to Discord at `DISCORD_API_URL`.
pub struct DiscordOut {
    pub(super) rest: Arc<Rest>,
    /// The application whose webhooks answer interactions addressed the older way (token inline).
    pub(super) application_id: Option<String>,
    /// Where interaction tokens are kept (`Intake` puts them there).
    pub(super) store: Store,
    /// User id → their DM channel, once opened.
    pub(super) dm_channels: Mutex<HashMap<String, String>>,
}

/// What a Discord failure means for the outbox.
fn classify(error: RestError) -> SendError {
    match error {
        RestError::RateLimited(wait) => SendError::RetryAfter(wait),
        RestError::Network(e) => SendError::Transient(e),
        RestError::Status { status, .. } if status >= 500 || status == 408 => {
            SendError::Transient(error.to_string())
        }
        RestError::Status { status: 401, .. } => {
            SendError::Permanent(format!("DISCORD_TOKEN refused: {error}"))
        }
        other => SendError::Permanent(other.to_string()),
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars - 1).collect();
    cut.push('…');
    cut
}

/// Action rows of up to five buttons each (Discord allows five rows).
fn components(buttons: &[Button]) -> Result<Value, SendError> {
    if buttons.len() > 25 {
        return Err(SendError::Permanent("Discord shows at most 25 buttons".into()));
    }
    let mut rows = Vec::new();
    for row in buttons.chunks(5) {
        let mut items = Vec::new();
        for b in row {
            if b.data.is_empty() || b.data.chars().count() > MAX_CUSTOM_ID {
                return Err(SendError::Permanent(format!(
                    "button data must be 1-{MAX_CUSTOM_ID} characters: '{}'",
                    b.data
                )));
            }
            items.push(json!({"type": 2, "style": 1, "label": truncate(&b.label, 80), "custom_id": b.data}));
        }
        rows.push(json!({"type": 1, "components": items}));
    }
    Ok(Value::Array(rows))
}

/// The message body: content, buttons, and no pings from echoed text (a task title may say
/// "@everyone").
fn body(message: &OutboundMessage) -> Result<Value, SendError> {
    let text = if message.text.trim().is_empty() {
        "…"
    } else {
        &message.text
    };
    Ok(json!({
        "content": truncate(text, MAX_CONTENT),
        "components": components(&message.buttons)?,
        "allowed_mentions": {"parse": []},
    }))
}

/// The files of `message` (`/task 42 files`), decoded: (name, type, bytes).
fn files(message: &OutboundMessage) -> Result<Vec<(String, String, Vec<u8>)>, RestError> {
    message
        .attachments
        .iter()
        .map(|file| {
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &file.bytes_base64)
                .map(|bytes| (file.name.clone(), file.mime_type.clone(), bytes))
                .map_err(|e| RestError::Status {
                    status: 400,
                    code: None,
                    message: format!("file {} is not base64: {e}", file.name),
                })
        })
        .collect()
}

fn message_id(answer: &Value) -> Option<String> {
    answer.get("id").and_then(Value::as_str).map(str::to_owned)
}

impl DiscordOut {
    /// Sends `payload`, the body of `message`, with `message`'s files when it has any (a
    /// multipart form whose `attachments` name them).
    pub(super) async fn send_payload(
        &self,
        method: Method,
        segments: &[&str],
        route: &str,
        auth: Auth,
        mut payload: Value,
        message: &OutboundMessage,
    ) -> Result<Value, RestError> {
        if message.attachments.is_empty() {
            return self
                .rest
                .call(method, segments, route, auth, Some(&payload))
                .await;
        }
        let files = files(message)?;
        let named: Vec<Value> = files
            .iter()
            .enumerate()
            .map(|(n, (name, _, _))| json!({"id": n, "filename": name}))
            .collect();
        payload["attachments"] = Value::Array(named);
        self.rest
            .call_with_files(method, segments, route, auth, &payload, files)
            .await
    }

    /// Posts `message` in a channel as the bot. With a `nonce`, Discord answers a repeat of it
    /// (within a few minutes, same author) with the message already created instead of a new
    /// one (`enforce_nonce`), so a send retried after its answer was lost is shown once.
    async fn to_channel(
        &self,
        channel_id: &str,
        message: &OutboundMessage,
        nonce: Option<&str>,
    ) -> Result<Option<String>, RestError> {
        let mut payload = body(message).map_err(|e| RestError::Status {
            status: 400,
            code: None,
            message: e.to_string(),
        })?;
        if let Some(nonce) = nonce {
            payload["nonce"] = json!(nonce);
            payload["enforce_nonce"] = json!(true);
        }
        if let Some(reply_to) = message.reply_to.as_deref() {
            payload["message_reference"] = json!({"message_id": reply_to, "fail_if_not_exists": false});
        }
        let route = format!("channels/{channel_id}/messages");
        let answer = self
            .send_payload(
                Method::POST,
                &["channels", channel_id, "messages"],
                &route,
                Auth::Bot,
                payload,
                message,
            )
            .await?;
        Ok(message_id(&answer))
    }

    /// The DM channel with `user_id`, opened once and remembered.
    async fn dm_channel(&self, user_id: &str) -> Result<String, RestError> {
        if let Some(id) = self
            .dm_channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user_id)
        {
            return Ok(id.clone());
        }
        let answer = self
            .rest
            .call(
                Method::POST,
                &["users", "@me", "channels"],
                "users/@me/channels",
                Auth::Bot,
                Some(&json!({"recipient_id": user_id})),
            )
            .await?;
        let id =
            message_id(&answer).ok_or_else(|| RestError::Network("no channel id in the answer".into()))?;
        self.dm_channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user_id.to_owned(), id.clone());
        Ok(id)
    }

    async fn to_user(
        &self,
        user_id: &str,
        message: &OutboundMessage,
        nonce: Option<&str>,
    ) -> Result<Option<String>, RestError> {
        let channel = self.dm_channel(user_id).await?;
        self.to_channel(&channel, message, nonce).await
    }

    /// A plain id: a channel, or else (Unknown Channel) a person's user id.
    async fn to_channel_or_user(
        &self,
        id: &str,
        message: &OutboundMessage,
        nonce: Option<&str>,
    ) -> Result<Option<String>, RestError> {
        let known_user = self
            .dm_channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id);
        if known_user {
            return self.to_user(id, message, nonce).await;
        }
        match self.to_channel(id, message, nonce).await {
            Err(e) if e.code() == Some(UNKNOWN_CHANNEL) => self.to_user(id, message, nonce).await,
            other => other,
        }
    }
}

#[async_trait::async_trait]
impl Transport for DiscordOut {
    fn kind(&self) -> domain::Channel {
        domain::Channel::Discord
    }

    /// Discord allows about five messages per five seconds in a channel and fifty requests a
    /// second overall; each interaction answer may take two requests.
    fn rate_limits(&self) -> RateLimits {
        RateLimits {
            per_chat_per_second: NonZeroU32::MIN,
            global_per_second: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
        }
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Option<String>, SendError> {
        self.send_with(message, None).await
    }

    /// Messages posted as the bot carry `key` as their nonce. Interaction answers go through
    /// the interaction's webhook, which takes no nonce: a repeat of one of those can show twice.
    async fn send_once(&self, message: &OutboundMessage, key: &str) -> Result<Option<String>, SendError> {
        self.send_with(message, Some(key)).await
    }
}

impl DiscordOut {
    #[tracing::instrument(skip_all, fields(channel = "discord"))]
    async fn send_with(
        &self,
        message: &OutboundMessage,
        nonce: Option<&str>,
    ) -> Result<Option<String>, SendError> {
        let address: Address = message.chat_id.parse().map_err(SendError::Permanent)?;
        let result = match address {
            Address::Channel(id) => self.to_channel_or_user(&id, message, nonce).await,
            Address::User(id) => self.to_user(&id, message, nonce).await,
            Address::Interaction {
                channel_id,
                interaction_id,
                token,
            } => {
                self.answer_interaction(&channel_id, &interaction_id, token, message)
                    .await
            }
        };
        result.map_err(classify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_become_action_rows() {
        let buttons: Vec<Button> = (0..7)
            .map(|n| Button {
                label: format!("B{n}"),
                data: format!("done:{n}"),
            })
            .collect();
        let rows = components(&buttons).unwrap();
        assert_eq!(rows.as_array().unwrap().len(), 2);
        assert_eq!(rows[0]["components"].as_array().unwrap().len(), 5);
        assert_eq!(rows[1]["components"][1]["custom_id"], "done:6");
        let long = Button {
            label: "x".into(),
            data: "x".repeat(101),
        };
        assert!(matches!(components(&[long]), Err(SendError::Permanent(_))));
    }

    #[test]
    fn errors_map_to_outbox_decisions() {
        let status = |status, code| RestError::Status {
            status,
            code,
            message: "m".into(),
        };
        assert!(matches!(classify(status(502, None)), SendError::Transient(_)));
        assert!(matches!(
            classify(status(403, Some(50013))),
            SendError::Permanent(_)
        ));
        assert!(matches!(
            classify(RestError::RateLimited(std::time::Duration::from_secs(2))),
            SendError::RetryAfter(_)
        ));
    }
    #[test]
    fn long_texts_are_cut_and_pings_disabled() {
        let mut message = OutboundMessage::text(domain::Channel::Discord, "1", "é".repeat(2500));
        message.text.push_str(" @everyone");
        let payload = body(&message).unwrap();
        assert_eq!(payload["content"].as_str().unwrap().chars().count(), MAX_CONTENT);
        assert_eq!(payload["allowed_mentions"], json!({"parse": []}));
    }
}
