//! Our own message types, independent of any platform crate: what reaches us
//! ([`InboundEvent`]), what we say ([`OutboundMessage`]), the buttons under a message
//! ([`ButtonAction`]: one encoding, one parser), the sending side of a platform
//! ([`Transport`], gathered in [`Channels`]) and the download side ([`MediaSource`]).
//!
//! This module sits under everything that moves messages: channel adapters, the inbox and
//! outbox, the conversation and the scheduler all speak these types, and it imports nothing
//! of ours but `domain`.

mod button;
mod media;
mod redact;
mod transport;

pub use button::{ButtonAction, SnoozeFor};
pub use media::{collect_capped, Capped, Media, MediaError, MediaSource};
pub use redact::redact;
pub use transport::{Channels, RateLimits, SendError, Transport};

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
    /// The sender's name for the file, when the platform gives one (`brief.pdf`).
    #[serde(default)]
    pub file_name: Option<String>,
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
