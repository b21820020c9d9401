//! The sending side of a platform: [`Transport`] sends an [`OutboundMessage`], [`Channels`]
//! holds the configured ones by kind (the outbox sends through it, the conversation shows
//! "typing…" through it).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use super::OutboundMessage;
use crate::domain;

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
pub trait Transport: Send + Sync {
    fn kind(&self) -> domain::Channel;

    fn rate_limits(&self) -> RateLimits;

    /// Sends `message`; returns the platform's id of what was sent, if it has one.
    async fn send(&self, message: &OutboundMessage) -> Result<Option<String>, SendError>;

    /// Sends `message` under `key`, the same for every attempt of one outbox message. A
    /// platform that deduplicates on such a key (Discord's `nonce` with `enforce_nonce`) uses
    /// it, so that a send retried after its answer was lost is not shown twice; the others
    /// send as [`Transport::send`] does (docs/QUEUES.md names the window that remains).
    async fn send_once(&self, message: &OutboundMessage, key: &str) -> Result<Option<String>, SendError> {
        let _ = key;
        self.send(message).await
    }

    /// Shows that the bot is working on an answer, where the platform can (best effort).
    async fn typing(&self, chat_id: &str) {
        let _ = chat_id;
    }
}

/// The configured channels, by kind.
#[derive(Clone, Default)]
pub struct Channels {
    by_kind: HashMap<domain::Channel, Arc<dyn Transport>>,
}

impl Channels {
    pub fn add(&mut self, channel: Arc<dyn Transport>) {
        self.by_kind.insert(channel.kind(), channel);
    }

    pub fn get(&self, kind: domain::Channel) -> Option<&Arc<dyn Transport>> {
        self.by_kind.get(&kind)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Transport>> {
        self.by_kind.values()
    }
}
