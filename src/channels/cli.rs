//! The terminal as a channel (`coordinator chat`): each line typed becomes an `InboundEvent`
//! through the same inbox, conversation and outbox as every other channel; replies are printed.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;

use crate::domain;
use crate::message::{ChatKind, InboundEvent, OutboundMessage, RateLimits, SendError, Sender, Transport};

/// The one chat of the terminal.
pub const CHAT_ID: &str = "terminal";

/// Makes events from typed lines; event ids are unique per session and line.
pub struct Terminal {
    handle: String,
    session: String,
    next: AtomicU64,
}

impl Terminal {
    /// `handle`: the person the operator speaks as.
    pub fn new(handle: &str) -> Self {
        Self {
            handle: handle.to_owned(),
            session: format!("{}-{}", std::process::id(), chrono::Utc::now().timestamp_millis()),
            next: AtomicU64::new(0),
        }
    }

    pub fn event(&self, line: &str) -> InboundEvent {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        InboundEvent {
            channel: domain::Channel::Cli,
            event_id: format!("{}-{n}", self.session),
            chat_id: CHAT_ID.into(),
            chat_kind: ChatKind::Private,
            sender: Sender {
                external_id: self.handle.clone(),
                display_name: self.handle.clone(),
                username: Some(self.handle.clone()),
            },
            text: line.replace('\0', ""),
            mentions_bot: true,
            message_id: Some(n.to_string()),
            reply_to: None,
            attachments: Vec::new(),
            button: None,
            received_at: chrono::Utc::now(),
        }
    }
}

/// Prints replies to standard output.
pub struct TerminalOut;

#[async_trait::async_trait]
impl Transport for TerminalOut {
    fn kind(&self) -> domain::Channel {
        domain::Channel::Cli
    }

    fn rate_limits(&self) -> RateLimits {
        let fast = NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN);
        RateLimits {
            per_chat_per_second: fast,
            global_per_second: fast,
        }
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Option<String>, SendError> {
        if message.answers_button.is_some() {
            return Ok(None);
        }
        let mut text = format!("{}\n", message.text);
        for button in &message.buttons {
            text.push_str(&format!("  [{}] ({})\n", button.label, button.data));
        }
        text.push('\n');
        let mut out = tokio::io::stdout();
        out.write_all(text.as_bytes())
            .await
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        out.flush()
            .await
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        Ok(None)
    }
}
