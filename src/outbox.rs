//! The durable outbox: every reply and proactive message is stored before it is sent. The
//! worker sends each chat's messages in order, within the platform's per-chat and global rate
//! limits, waits as long as a 429 asks, retries 5xx and timeouts with backoff, gives up on
//! permanent errors (dead letters), and records the platform's message id on delivery.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::domain;
use crate::message::{Channels, OutboundMessage, SendError};
use crate::queue::{backoff, to_outbound, Outcome};
use crate::store::{Claimed, NewOutbound, Queue, QueuedMessage, Store, StoreError};

/// After this many failed attempts a message becomes a dead letter.
pub const MAX_ATTEMPTS: i32 = 10;
const LEASE: Duration = Duration::from_secs(60);
const IDLE_POLL: Duration = Duration::from_millis(250);
/// Sends in flight at once, each to a different chat (a chat's messages go one at a time, in
/// order). A slow answer, or a client that waits after a 5xx (teloxide waits 10 s), then holds
/// up one chat, not all of them.
const IN_FLIGHT: usize = 16;
/// How long a stopping worker lets its sends in flight finish.
const STOP_GRACE: Duration = Duration::from_secs(5);

struct Limits {
    per_chat: DefaultKeyedRateLimiter<String>,
    global: DefaultDirectRateLimiter,
}

/// Queues messages and wakes the worker; used by the conversation, the scheduler and the API.
#[derive(Clone)]
pub struct OutboxWriter {
    store: Store,
    wake: Arc<Notify>,
}

impl OutboxWriter {
    pub fn new(store: Store, wake: Arc<Notify>) -> Self {
        Self { store, wake }
    }

    /// Stores `message` for sending; a `dedupe_key` already queued is not queued again.
    pub async fn enqueue(
        &self,
        message: &OutboundMessage,
        dedupe_key: Option<String>,
    ) -> Result<(), StoreError> {
        self.store
            .enqueue_outbox(&[to_outbound(message, dedupe_key)?])
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Stores one row and returns it as queued; `false` when its dedupe key was queued before
    /// (the row is then the earlier one).
    pub async fn enqueue_one(&self, row: &NewOutbound) -> Result<(QueuedMessage, bool), StoreError> {
        let queued = self.store.enqueue_one(row).await?;
        self.wake.notify_one();
        Ok(queued)
    }
}

/// The outbox worker.
pub struct Outbox {
    store: Store,
    channels: Channels,
    limits: HashMap<domain::Channel, Limits>,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(store: Store, channels: Channels, wake: Arc<Notify>) -> Self {
        Self::with_send_rates(store, channels, wake, |_| None)
    }

    /// An outbox whose overall send rate per channel is `rate(channel)` where that is set
    /// (the settings' `…_SENDS_PER_SECOND`), else the channel's own.
    pub fn with_send_rates(
        store: Store,
        channels: Channels,
        wake: Arc<Notify>,
        rate: impl Fn(domain::Channel) -> Option<std::num::NonZeroU32>,
    ) -> Self {
        let limits = channels
            .all()
            .map(|c| {
                let l = c.rate_limits();
                let global = rate(c.kind()).unwrap_or(l.global_per_second);
                let limits = Limits {
                    per_chat: governor::RateLimiter::keyed(Quota::per_second(l.per_chat_per_second)),
                    global: governor::RateLimiter::direct(Quota::per_second(global)),
                };
                (c.kind(), limits)
            })
            .collect();
        Self {
            store,
            channels,
            limits,
            wake,
        }
    }

    /// How long `message` must wait for the rate limits; `None` when it may go now.
    fn rate_wait(&self, message: &OutboundMessage) -> Option<Duration> {
        let limits = self.limits.get(&message.channel)?;
        let clock = DefaultClock::default();
        if let Err(not_until) = limits.per_chat.check_key(&message.chat_id) {
            return Some(not_until.wait_time_from(clock.now()));
        }
        if let Err(not_until) = limits.global.check() {
            return Some(not_until.wait_time_from(clock.now()));
        }
        None
    }

    /// Claims and sends one due message.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<Outcome, StoreError> {
        match self.claim(now).await? {
            Some(claimed) => self.deliver(claimed, now).await,
            None => Ok(Outcome::Idle),
        }
    }

    /// Claims the next due message of a configured channel, if any.
    async fn claim(&self, now: DateTime<Utc>) -> Result<Option<Claimed>, StoreError> {
        let lease_until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let mine: Vec<domain::Channel> = self.channels.all().map(|c| c.kind()).collect();
        self.store
            .claim(Queue::Outbox, Some(&mine), now, lease_until)
            .await
    }

    /// Sends a claimed message and records the outcome.
    async fn deliver(&self, claimed: Claimed, now: DateTime<Utc>) -> Result<Outcome, StoreError> {
        tracing::debug!(
            id = claimed.id,
            attempt = claimed.attempts,
            "claimed outbound message"
        );
        let message: OutboundMessage = match serde_json::from_str(&claimed.payload) {
            Ok(m) => m,
            Err(e) => return self.dead(claimed.id, &format!("unreadable payload: {e}")).await,
        };
        let Some(channel) = self.channels.get(message.channel) else {
            return self
                .dead(
                    claimed.id,
                    &format!("the {} channel is not configured", message.channel),
                )
                .await;
        };
        if let Some(wait) = self.rate_wait(&message) {
            let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
            self.store
                .retry_at(Queue::Outbox, claimed.id, at, None, false)
                .await?;
            return Ok(Outcome::Retried);
        }
        let started = std::time::Instant::now();
        let result = channel.send(&message).await;
        metrics::histogram!("outbox_send_seconds", "channel" => message.channel.as_str())
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(platform_id) => {
                self.store.mark_sent(claimed.id, platform_id.as_deref()).await?;
                metrics::counter!("outbox_sent_total", "channel" => message.channel.as_str()).increment(1);
                Ok(Outcome::Done)
            }
            Err(SendError::Permanent(e)) => self.dead(claimed.id, &e).await,
            Err(e) if claimed.attempts >= MAX_ATTEMPTS => self.dead(claimed.id, &e.to_string()).await,
            Err(SendError::RetryAfter(wait)) => {
                tracing::info!(id = claimed.id, ?wait, "platform asked to wait");
                metrics::counter!("outbox_rate_limited_total", "channel" => message.channel.as_str())
                    .increment(1);
                let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                self.store
                    .retry_at(Queue::Outbox, claimed.id, at, Some("rate limited (429)"), true)
                    .await?;
                Ok(Outcome::Retried)
            }
            Err(SendError::Transient(e)) => {
                tracing::warn!(id = claimed.id, attempt = claimed.attempts, error = %e, "send failed, will retry");
                let at = now + chrono::Duration::from_std(backoff(claimed.attempts)).unwrap_or_default();
                self.store
                    .retry_at(Queue::Outbox, claimed.id, at, Some(&e), true)
                    .await?;
                Ok(Outcome::Retried)
            }
        }
    }

    async fn dead(&self, id: i64, error: &str) -> Result<Outcome, StoreError> {
        tracing::error!(id, error, "outbound message given up");
        self.store.mark_dead(Queue::Outbox, id, error).await?;
        metrics::counter!("outbox_dead_letters_total").increment(1);
        Ok(Outcome::Dead)
    }

    /// Sends until `shutdown`, up to [`IN_FLIGHT`] messages at once; wakes early when a
    /// message is queued or a send ends.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut sending = JoinSet::new();
        loop {
            while sending.try_join_next().is_some() {}
            let slot = tokio::select! {
                _ = shutdown.cancelled() => break,
                slot = slots.clone().acquire_owned() => slot,
            };
            let Ok(slot) = slot else { break };
            let now = crate::store::now();
            match this.claim(now).await {
                Ok(Some(claimed)) => {
                    let worker = this.clone();
                    sending.spawn(async move {
                        let _slot = slot;
                        if let Err(e) = worker.deliver(claimed, now).await {
                            tracing::warn!(error = %e, "outbox worker could not record a send");
                        }
                    });
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "outbox worker could not reach the database"),
            }
            drop(slot);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = this.wake.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
                Some(_) = sending.join_next(), if !sending.is_empty() => {}
            }
        }
        // Sends under way finish and are recorded; one cut short is sent again later (its
        // claim's lease runs out, or, on SQLite, the next start releases it).
        let _ =
            tokio::time::timeout(STOP_GRACE, async { while sending.join_next().await.is_some() {} }).await;
    }
}
