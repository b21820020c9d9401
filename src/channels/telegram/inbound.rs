//! Telegram in: `to_event` turns a Bot API `Update` into our `InboundEvent` (a pure function,
//! tested from recorded JSON), and the webhook handler checks the secret-token header in
//! constant time, stores the event and only then answers 200.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use subtle::ConstantTimeEq;
use teloxide::types::{AllowedUpdate, Message, Update, UpdateKind};

use crate::config::Secret;
use crate::domain::Channel;
use crate::http::webhook::{early, ignored, Early, SignedWebhook, WebhookError};
use crate::inbox::InboxWriter;
use crate::message::{Attachment, ButtonPress, ChatKind, InboundEvent, Sender};

fn sender(user: &teloxide::types::User) -> Sender {
    let display_name = match &user.last_name {
        Some(last) => format!("{} {last}", user.first_name),
        None => user.first_name.clone(),
    };
    Sender {
        external_id: user.id.0.to_string(),
        display_name,
        username: user.username.clone(),
    }
}

fn attachments(message: &Message) -> Vec<Attachment> {
    let mut found = Vec::new();
    if let Some(voice) = message.voice() {
        found.push(Attachment {
            kind: "voice".into(),
            platform_id: voice.file.id.0.clone(),
            mime_type: voice.mime_type.as_ref().map(|m| m.to_string()),
            size: Some(voice.file.size.into()),
            duration_secs: Some(voice.duration.seconds()),
            file_name: None,
        });
    }
    if let Some(audio) = message.audio() {
        found.push(Attachment {
            kind: "audio".into(),
            platform_id: audio.file.id.0.clone(),
            mime_type: audio.mime_type.as_ref().map(|m| m.to_string()),
            size: Some(audio.file.size.into()),
            duration_secs: Some(audio.duration.seconds()),
            file_name: audio.file_name.clone(),
        });
    }
    if let Some(document) = message.document() {
        found.push(Attachment {
            kind: "document".into(),
            platform_id: document.file.id.0.clone(),
            mime_type: document.mime_type.as_ref().map(|m| m.to_string()),
            size: Some(document.file.size.into()),
            duration_secs: None,
            file_name: document.file_name.clone(),
        });
    }
    found
}

/// The update types [`to_event`] acts on: what `setWebhook` and `getUpdates` ask Telegram for,
/// so that it does not send what would only be dropped. Keep it in step with `to_event`.
pub const ALLOWED_UPDATES: [AllowedUpdate; 2] = [AllowedUpdate::Message, AllowedUpdate::CallbackQuery];

/// Normalizes an update. `None` for updates we do not act on (edits, joins, channel posts…).
/// `bot_username` lets us see mentions of the bot in groups.
pub fn to_event(update: &Update, bot_username: Option<&str>) -> Option<InboundEvent> {
    let event_id = update.id.0.to_string();
    match &update.kind {
        UpdateKind::Message(message) => {
            let from = message.from.as_ref()?;
            if from.is_bot {
                return None;
            }
            let text = message
                .text()
                .or(message.caption())
                .unwrap_or_default()
                .to_owned();
            let attachments = attachments(message);
            if text.trim().is_empty() && attachments.is_empty() {
                return None;
            }
            let chat_kind = if message.chat.is_private() {
                ChatKind::Private
            } else {
                ChatKind::Group
            };
            let mentioned = bot_username
                .is_some_and(|name| text.to_lowercase().contains(&format!("@{}", name.to_lowercase())));
            let replied_to_bot = message
                .reply_to_message()
                .and_then(|m| m.from.as_ref())
                .is_some_and(|u| u.is_bot && bot_username.is_some_and(|n| u.username.as_deref() == Some(n)));
            Some(InboundEvent {
                channel: Channel::Telegram,
                event_id,
                chat_id: message.chat.id.0.to_string(),
                chat_kind,
                sender: sender(from),
                text: text.replace('\0', ""),
                mentions_bot: mentioned || replied_to_bot,
                message_id: Some(message.id.0.to_string()),
                reply_to: message.reply_to_message().map(|m| m.id.0.to_string()),
                attachments,
                button: None,
                received_at: Utc::now(),
            })
        }
        UpdateKind::CallbackQuery(query) => {
            let message = query.message.as_ref()?;
            let chat = message.chat();
            Some(InboundEvent {
                channel: Channel::Telegram,
                event_id,
                chat_id: chat.id.0.to_string(),
                chat_kind: if chat.is_private() {
                    ChatKind::Private
                } else {
                    ChatKind::Group
                },
                sender: sender(&query.from),
                text: String::new(),
                mentions_bot: true,
                message_id: Some(message.id().0.to_string()),
                reply_to: None,
                attachments: Vec::new(),
                button: Some(ButtonPress {
                    id: query.id.0.clone(),
                    data: query.data.clone().unwrap_or_default(),
                }),
                received_at: Utc::now(),
            })
        }
        _ => None,
    }
}

/// A webhook body as the handler reads it: the `Update` JSON, then `to_event`. `Err` when the
/// body is not an update at all; `Ok(None)` for an update we do not act on.
pub fn read_webhook_body(
    body: &[u8],
    bot_username: Option<&str>,
) -> Result<Option<InboundEvent>, serde_json::Error> {
    let update: Update = serde_json::from_slice(body)?;
    Ok(to_event(&update, bot_username))
}

/// What the webhook handler needs.
#[derive(Clone)]
pub struct WebhookState {
    pub secret: Secret,
    pub inbox: InboxWriter,
    pub bot_username: std::sync::Arc<std::sync::RwLock<Option<String>>>,
}

#[async_trait::async_trait]
impl SignedWebhook for WebhookState {
    type Parsed = InboundEvent;
    type Stored = bool;
    const WHAT: &'static str = "Telegram update";

    /// `X-Telegram-Bot-Api-Secret-Token` must be our secret (compared in constant time).
    async fn verify(&self, headers: &HeaderMap, _body: &Bytes) -> Result<(), WebhookError> {
        let given = headers
            .get("x-telegram-bot-api-secret-token")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if bool::from(given.ct_eq(self.secret.expose().as_bytes())) {
            Ok(())
        } else {
            Err(WebhookError::Unauthorized("bad secret token".into()))
        }
    }

    fn parse(&self, _headers: &HeaderMap, body: &Bytes) -> Result<InboundEvent, Early> {
        let username = self.bot_username.read().ok().and_then(|u| u.clone());
        match read_webhook_body(body, username.as_deref()) {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(early(StatusCode::OK)),
            Err(e) => Err(ignored(Self::WHAT, e)),
        }
    }

    async fn store(&self, event: InboundEvent) -> Result<bool, String> {
        self.inbox.accept(&event).await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From text, as the webhook reads it (teloxide's `Update` does not deserialize from a
    /// `serde_json::Value`).
    fn update(json: serde_json::Value) -> Update {
        serde_json::from_str(&json.to_string()).unwrap()
    }

    fn private_text(text: &str) -> serde_json::Value {
        serde_json::json!({
            "update_id": 10001,
            "message": {
                "message_id": 7, "date": 1764000000,
                "from": {"id": 4242, "is_bot": false, "first_name": "Anna", "last_name": "K", "username": "anna_k"},
                "chat": {"id": 4242, "type": "private", "first_name": "Anna"},
                "text": text,
            }
        })
    }

    #[test]
    fn private_text_becomes_an_event() {
        let event = to_event(&update(private_text("/tasks mine")), Some("coord_bot")).unwrap();
        assert_eq!(event.event_id, "10001");
        assert_eq!(event.chat_id, "4242");
        assert_eq!(event.chat_kind, ChatKind::Private);
        assert_eq!(event.sender.external_id, "4242");
        assert_eq!(event.sender.display_name, "Anna K");
        assert_eq!(event.text, "/tasks mine");
        assert_eq!(event.message_id.as_deref(), Some("7"));
    }

    #[test]
    fn group_mentions_are_seen() {
        let json = serde_json::json!({
            "update_id": 10002,
            "message": {
                "message_id": 8, "date": 1764000000,
                "from": {"id": 4242, "is_bot": false, "first_name": "Anna"},
                "chat": {"id": -100123, "type": "supergroup", "title": "Team"},
                "text": "hey @Coord_Bot what is due?",
            }
        });
        let event = to_event(&update(json.clone()), Some("coord_bot")).unwrap();
        assert_eq!(event.chat_kind, ChatKind::Group);
        assert!(event.mentions_bot);
        assert!(!to_event(&update(json), Some("other_bot")).unwrap().mentions_bot);
    }

    #[test]
    fn callback_queries_are_button_presses() {
        let json = serde_json::json!({
            "update_id": 10003,
            "callback_query": {
                "id": "cbq-1", "chat_instance": "ci",
                "from": {"id": 4242, "is_bot": false, "first_name": "Anna"},
                "data": "done:12",
                "message": {
                    "message_id": 99, "date": 1764000000,
                    "from": {"id": 1, "is_bot": true, "first_name": "Bot", "username": "coord_bot"},
                    "chat": {"id": 4242, "type": "private", "first_name": "Anna"},
                    "text": "Created #12"
                }
            }
        });
        let event = to_event(&update(json), None).unwrap();
        let press = event.button.unwrap();
        assert_eq!(press.id, "cbq-1");
        assert_eq!(press.data, "done:12");
        assert_eq!(event.chat_id, "4242");
    }

    #[test]
    fn bots_and_empty_messages_are_ignored() {
        let mut json = private_text("hi");
        json["message"]["from"]["is_bot"] = serde_json::json!(true);
        assert!(to_event(&update(json), None).is_none());
        let edited = serde_json::json!({
            "update_id": 10004,
            "edited_message": {
                "message_id": 7, "date": 1764000000, "edit_date": 1764000100,
                "from": {"id": 4242, "is_bot": false, "first_name": "Anna"},
                "chat": {"id": 4242, "type": "private", "first_name": "Anna"},
                "text": "changed"
            }
        });
        assert!(to_event(&update(edited), None).is_none());
    }
}
