//! The durable outbox: every reply and proactive message is stored before it is sent. The
//! worker sends each chat's messages in order, within the platform's per-chat and global rate
//! limits, waits as long as a 429 asks, retries 5xx and timeouts with backoff, gives up on
//! permanent errors (dead letters), and records the platform's message id on delivery. A claim
//! is renewed while its send is in flight, so a platform slower than the lease does not get the
//! message twice; every attempt of one message carries the same idempotency key for platforms
//! that deduplicate on one (Discord's nonce). Errors are stored without URLs or credentials.

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
use crate::message::{redact, Channels, OutboundMessage, SendError};
use crate::queue::{backoff, claim_lost, keeping_claim, to_outbound, Outcome};
use crate::store::{Claimed, NewOutbound, Queue, QueuedMessage, Store, StoreError};

/// After this many failed attempts a message becomes a dead letter.
pub const MAX_ATTEMPTS: i32 = 10;
const IDLE_POLL: Duration = Duration::from_millis(250);
/// Sends in flight at once, each to a different chat (a chat's messages go one at a time, in
/// order). A slow answer, or a client that waits after a 5xx (teloxide waits 10 s), then holds
/// up one chat, not all of them.
const IN_FLIGHT: usize = 16;
/// How often the per-chat rate limits forget chats that are idle.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(600);
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

/// The key a platform that deduplicates sends (Discord's `nonce`) gets for outbox row `id`:
/// the same for every attempt of one message, different across messages.
pub fn idempotency_key(id: i64) -> String {
    format!("ob{id}")
}

/// The outbox worker.
pub struct Outbox {
    store: Store,
    channels: Channels,
    limits: HashMap<domain::Channel, Limits>,
    wake: Arc<Notify>,
    /// How long a claim lasts unrenewed (`COORDINATOR_OUTBOX_LEASE`); renewed every third of
    /// it while a send is in flight.
    lease: Duration,
}

impl Outbox {
    pub fn new(store: Store, channels: Channels, wake: Arc<Notify>, lease: Duration) -> Self {
        Self::with_send_rates(store, channels, wake, lease, |_| None)
    }

    /// An outbox whose overall send rate per channel is `rate(channel)` where that is set
    /// (the settings' `…_SENDS_PER_SECOND`), else the channel's own.
    pub fn with_send_rates(
        store: Store,
        channels: Channels,
        wake: Arc<Notify>,
        lease: Duration,
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
            lease,
        }
    }

    /// Drops the per-chat rate-limit state of chats that could send at full rate again (every
    /// Discord interaction is a chat of its own, so the keys would otherwise only grow).
    fn forget_idle_chats(&self) {
        for limits in self.limits.values() {
            limits.per_chat.retain_recent();
            limits.per_chat.shrink_to_fit();
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
        let lease_until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
        let mine: Vec<domain::Channel> = self.channels.all().map(|c| c.kind()).collect();
        self.store
            .claim(Queue::Outbox, Some(&mine), now, lease_until)
            .await
    }

    /// Sends a claimed message and records the outcome. The claim is renewed while the send is
    /// in flight, so a platform slower than the lease does not get the message twice.
    async fn deliver(&self, claimed: Claimed, now: DateTime<Utc>) -> Result<Outcome, StoreError> {
        tracing::debug!(
            id = claimed.id,
            attempt = claimed.attempts,
            "claimed outbound message"
        );
        let message: OutboundMessage = match serde_json::from_str(&claimed.payload) {
            Ok(m) => m,
            Err(e) => return self.dead(&claimed, &format!("unreadable payload: {e}")).await,
        };
        let Some(channel) = self.channels.get(message.channel) else {
            return self
                .dead(
                    &claimed,
                    &format!("the {} channel is not configured", message.channel),
                )
                .await;
        };
        if let Some(wait) = self.rate_wait(&message) {
            let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
            return self.retry(&claimed, at, None, false).await;
        }
        let started = std::time::Instant::now();
        let key = idempotency_key(claimed.id);
        let send = channel.send_once(&message, &key);
        let result = keeping_claim(&self.store, Queue::Outbox, &claimed, self.lease, send).await;
        metrics::histogram!("outbox_send_seconds", "channel" => message.channel.as_str())
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(platform_id) => {
                if !self.store.mark_sent(&claimed, platform_id.as_deref()).await? {
                    return Ok(claim_lost("outbox", claimed.id));
                }
                metrics::counter!("outbox_sent_total", "channel" => message.channel.as_str()).increment(1);
                Ok(Outcome::Done)
            }
            Err(SendError::Permanent(e)) => self.dead(&claimed, &e).await,
            Err(e) if claimed.attempts >= MAX_ATTEMPTS => self.dead(&claimed, &e.to_string()).await,
            Err(SendError::RetryAfter(wait)) => {
                tracing::info!(id = claimed.id, ?wait, "platform asked to wait");
                metrics::counter!("outbox_rate_limited_total", "channel" => message.channel.as_str())
                    .increment(1);
                let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                self.retry(&claimed, at, Some("rate limited (429)"), true).await
            }
            Err(SendError::Transient(e)) => {
                let e = redact(&e);
                tracing::warn!(id = claimed.id, attempt = claimed.attempts, error = %e, "send failed, will retry");
                let at = now + chrono::Duration::from_std(backoff(claimed.attempts)).unwrap_or_default();
                self.retry(&claimed, at, Some(&e), true).await
            }
        }
    }

    /// Puts the message back to be sent at `at`, with the reason (redacted).
    async fn retry(
        &self,
        claimed: &Claimed,
        at: DateTime<Utc>,
        error: Option<&str>,
        count_attempt: bool,
    ) -> Result<Outcome, StoreError> {
        let error = error.map(redact);
        if !self
            .store
            .retry_at(Queue::Outbox, claimed, at, error.as_deref(), count_attempt)
            .await?
        {
            return Ok(claim_lost("outbox", claimed.id));
        }
        Ok(Outcome::Retried)
    }

    async fn dead(&self, claimed: &Claimed, error: &str) -> Result<Outcome, StoreError> {
        let error = redact(error);
        tracing::error!(id = claimed.id, error = %error, "outbound message given up");
        if !self.store.mark_dead(Queue::Outbox, claimed, &error).await? {
            return Ok(claim_lost("outbox", claimed.id));
        }
        metrics::counter!("outbox_dead_letters_total").increment(1);
        Ok(Outcome::Dead)
    }

    /// Sends until `shutdown`, up to [`IN_FLIGHT`] messages at once; wakes early when a
    /// message is queued or a send ends.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut sending = JoinSet::new();
        let mut forgot = std::time::Instant::now();
        loop {
            while sending.try_join_next().is_some() {}
            if forgot.elapsed() >= FORGET_IDLE_EVERY {
                this.forget_idle_chats();
                forgot = std::time::Instant::now();
            }
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
