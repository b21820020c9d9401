//! The platforms. Our own message types, `InboundEvent` and `OutboundMessage`, independent of
//! any platform crate; `trait Channel` sends an `OutboundMessage`; each platform has a folder
//! with `inbound` (verify, parse, normalize) and `outbound` (send). Channels never decide what
//! to answer: events go to the inbox, answers come from the outbox.

pub mod cli;
pub mod discord;
pub mod email;
pub mod telegram;
pub mod whatsapp;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{self, Identity};

/// Private chats get an answer to everything; groups only to commands and mentions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    Private,
    Group,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    /// The platform's id of the person (Telegram `from.id`, …).
    pub external_id: String,
    pub display_name: String,
    pub username: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// `voice`, `audio`, `document`, `photo`…
    pub kind: String,
    /// The platform's handle to fetch it (Telegram `file_id`, WhatsApp media id, …).
    pub platform_id: String,
    pub mime_type: Option<String>,
    pub size: Option<u64>,
    pub duration_secs: Option<u32>,
}

/// A button press (Telegram callback query, Discord component, WhatsApp button reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonPress {
    /// The platform's id of the press, to acknowledge it.
    pub id: String,
    /// What the button carries, e.g. `done:42`.
    pub data: String,
}

/// A message or button press that reached us, normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    pub channel: domain::Channel,
    /// Unique per platform event (Telegram `update_id`, WhatsApp `wamid`, …): redeliveries of
    /// the same event carry the same id and are stored once.
    pub event_id: String,
    /// Where answers go.
    pub chat_id: String,
    pub chat_kind: ChatKind,
    pub sender: Sender,
    pub text: String,
    /// The bot was mentioned (or replied to) in a group.
    pub mentions_bot: bool,
    pub message_id: Option<String>,
    pub reply_to: Option<String>,
    pub attachments: Vec<Attachment>,
    pub button: Option<ButtonPress>,
    pub received_at: DateTime<Utc>,
}

impl InboundEvent {
    pub fn identity(&self) -> Identity {
        Identity {
            channel: self.channel,
            external_id: self.sender.external_id.clone(),
        }
    }
}

/// A button under a message: a label and the data its press sends back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub data: String,
}

/// What the bot says: a message to a chat, or the acknowledgement of a button press.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub channel: domain::Channel,
    pub chat_id: String,
    pub text: String,
    #[serde(default)]
    pub buttons: Vec<Button>,
    /// The platform message this answers, when the platform threads replies.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// When set, this acknowledges that button press (with `text` as a short notice).
    #[serde(default)]
    pub answers_button: Option<String>,
    /// Files sent with the message (a report's chart); channels that cannot send files ignore them.
    #[serde(default)]
    pub attachments: Vec<OutboundFile>,
}

/// A file to send, carried in the outbox payload as base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundFile {
    pub name: String,
    pub mime_type: String,
    pub bytes_base64: String,
}

impl OutboundMessage {
    pub fn text(channel: domain::Channel, chat_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            channel,
            chat_id: chat_id.into(),
            text: text.into(),
            buttons: Vec::new(),
            reply_to: None,
            answers_button: None,
            attachments: Vec::new(),
        }
    }
}

/// Why a send failed, and so what the outbox does next.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The platform asked us to wait (HTTP 429 with `retry_after`).
    #[error("rate limited, retry after {0:?}")]
    RetryAfter(Duration),
    /// Worth retrying with backoff: 5xx, timeouts, connection errors.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Retrying cannot help: unknown chat, blocked bot, malformed message.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// How fast a platform lets us send.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub per_chat_per_second: NonZeroU32,
    pub global_per_second: NonZeroU32,
}

/// Sends messages on one platform.
#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    fn kind(&self) -> domain::Channel;

    fn rate_limits(&self) -> RateLimits;

    /// Sends `message`; returns the platform's id of what was sent, if it has one.
    async fn send(&self, message: &OutboundMessage) -> Result<Option<String>, SendError>;

    /// Shows that the bot is working on an answer, where the platform can (best effort).
    async fn typing(&self, chat_id: &str) {
        let _ = chat_id;
    }
}

/// The configured channels, by kind.
#[derive(Clone, Default)]
pub struct Channels {
    by_kind: HashMap<domain::Channel, Arc<dyn Channel>>,
}

impl Channels {
    pub fn add(&mut self, channel: Arc<dyn Channel>) {
        self.by_kind.insert(channel.kind(), channel);
    }

    pub fn get(&self, kind: domain::Channel) -> Option<&Arc<dyn Channel>> {
        self.by_kind.get(&kind)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Channel>> {
        self.by_kind.values()
    }
}
