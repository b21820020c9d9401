//! The durable inbox: every inbound event is stored (deduplicated on channel + platform event
//! id) before its webhook is acknowledged; a worker claims events one at a time and hands them
//! to the conversation. The replies are queued in the outbox in the same transaction that marks
//! the event done, with keys derived from the event, so an event processed twice (after a
//! crash) neither acts twice nor answers twice. Failures retry with backoff and end as dead
//! letters, counted in `/metrics` and listed by `/api/monitoring/status`. Voice notes are
//! transcribed here, before the conversation sees them (`integrations::voice`), and each event
//! is tagged with its sender and task for the history.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::channels::{ChatKind, InboundEvent, OutboundMessage};
use crate::conversation::Conversation;
use crate::integrations::voice::{self, Prepared, Voice};
use crate::store::{Claimed, NewOutbound, Queue, Store, StoreError};

/// After this many failed attempts an event becomes a dead letter.
pub const MAX_ATTEMPTS: i32 = 6;
/// How long a claim lasts before another worker may take the event over. The worker renews it
/// every [`RENEW`] while it works (an agent turn can take minutes), so after a crash the event
/// waits at most this long for another worker (on SQLite the next start releases it at once).
const LEASE: Duration = Duration::from_secs(30);
const RENEW: Duration = Duration::from_secs(10);
/// How often an idle worker looks for due work when nobody wakes it.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// Exponential backoff with jitter: about 1 s, 2 s, 4 s … capped at 10 minutes.
pub(crate) fn backoff(attempt: i32) -> Duration {
    let exp = attempt.clamp(1, 20) - 1;
    let base = Duration::from_secs(1).saturating_mul(1u32 << exp.min(10) as u32);
    let capped = base.min(Duration::from_secs(600));
    let jitter = rand::random::<f64>() * 0.2;
    capped.mul_f64(1.0 + jitter)
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An item was handled.
    Done,
    /// An item failed and will be tried again later.
    Retried,
    /// An item was given up on.
    Dead,
    /// Nothing was due.
    Idle,
}

/// Stores inbound events and wakes the worker.
#[derive(Clone)]
pub struct InboxWriter {
    store: Store,
    wake: Arc<Notify>,
}

impl InboxWriter {
    pub fn new(store: Store, wake: Arc<Notify>) -> Self {
        Self { store, wake }
    }

    /// Stores `event` durably. `Ok(false)`: the same event was stored before (a redelivery).
    #[tracing::instrument(skip_all, fields(channel = %event.channel, event_id = %event.event_id))]
    pub async fn accept(&self, event: &InboundEvent) -> Result<bool, StoreError> {
        let payload = serde_json::to_string(event).map_err(|e| StoreError::Other(e.to_string()))?;
        let fresh = self
            .store
            .enqueue_inbox(event.channel.as_str(), &event.event_id, &event.chat_id, &payload)
            .await?;
        metrics::counter!("inbox_events_total", "channel" => event.channel.as_str(), "fresh" => fresh.to_string())
            .increment(1);
        if fresh {
            self.wake.notify_one();
        }
        Ok(fresh)
    }
}

/// The inbox worker.
pub struct Inbox {
    store: Store,
    conversation: Arc<Conversation>,
    /// Turns voice notes into text first, when set.
    voice: Option<Arc<Voice>>,
    wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
}

impl Inbox {
    pub fn new(
        store: Store,
        conversation: Arc<Conversation>,
        wake: Arc<Notify>,
        outbox_wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            conversation,
            voice: None,
            wake,
            outbox_wake,
        }
    }

    /// Voice notes are transcribed by `voice` before the conversation reads them.
    pub fn with_voice(mut self, voice: Arc<Voice>) -> Self {
        self.voice = Some(voice);
        self
    }

    /// Claims and processes one due event.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<Outcome, StoreError> {
        let lease_until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let Some(claimed) = self.store.claim(Queue::Inbox, None, now, lease_until).await? else {
            return Ok(Outcome::Idle);
        };
        tracing::debug!(
            id = claimed.id,
            attempt = claimed.attempts,
            "claimed inbound event"
        );
        let id = claimed.id;
        let work = self.process(claimed, now);
        tokio::pin!(work);
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + RENEW, RENEW);
        loop {
            tokio::select! {
                outcome = &mut work => return outcome,
                _ = renew.tick() => {
                    let until = crate::store::now() + chrono::Duration::from_std(LEASE).unwrap_or_default();
                    if let Err(e) = self.store.renew_claim(Queue::Inbox, id, until).await {
                        tracing::warn!(id, error = %e, "could not renew the claim of an inbound event");
                    }
                }
            }
        }
    }

    /// Hands a claimed event to the conversation and records the outcome.
    async fn process(&self, claimed: Claimed, now: DateTime<Utc>) -> Result<Outcome, StoreError> {
        let mut event: InboundEvent = match serde_json::from_str(&claimed.payload) {
            Ok(event) => event,
            Err(e) => {
                self.store
                    .mark_dead(Queue::Inbox, claimed.id, &format!("unreadable payload: {e}"))
                    .await?;
                metrics::counter!("inbox_dead_letters_total").increment(1);
                return Ok(Outcome::Dead);
            }
        };
        let mut heard = None;
        if let Some(voice) = &self.voice {
            let final_attempt = claimed.attempts >= MAX_ATTEMPTS;
            match voice.prepare(&event, claimed.id, final_attempt).await {
                Ok(Prepared::Unchanged) => {}
                Ok(Prepared::Heard { text, transcript }) => {
                    event.text = text;
                    heard = Some(transcript);
                }
                Ok(Prepared::Answer(text)) => {
                    let mut answer = OutboundMessage::text(event.channel, event.chat_id.clone(), text);
                    answer.reply_to = (event.chat_kind == ChatKind::Group)
                        .then(|| event.message_id.clone())
                        .flatten();
                    return self.finish(&claimed, &event, vec![answer]).await;
                }
                Err(e) => return self.failed(&claimed, &e.to_string(), now).await,
            }
        }
        match self.conversation.handle(&event, claimed.id).await {
            Ok(mut replies) => {
                if let Some(transcript) = &heard {
                    voice::echo(&mut replies, transcript);
                }
                self.finish(&claimed, &event, replies).await
            }
            Err(e) => self.failed(&claimed, &e.to_string(), now).await,
        }
    }

    /// Marks the event done and queues its replies, tagged with the sender and the task.
    async fn finish(
        &self,
        claimed: &Claimed,
        event: &InboundEvent,
        replies: Vec<OutboundMessage>,
    ) -> Result<Outcome, StoreError> {
        let source_key = format!("{}:{}", event.channel, event.event_id);
        let (person, task) = self
            .store
            .inbound_tags(
                event.channel.as_str(),
                &event.sender.external_id,
                &source_key,
                task_hint(event),
            )
            .await?;
        // A voice note's text is its transcript, recorded when it was heard.
        let text = voice::voice_attachment(event)
            .is_none()
            .then_some(event.text.as_str());
        self.store.tag_inbox(claimed.id, person, task, text).await?;
        let outbound = replies
            .iter()
            .enumerate()
            .map(|(n, reply)| {
                let mut row = to_outbound(reply, Some(format!("reply:{}:{n}", claimed.id)))?;
                row.person_id = person;
                row.task_id = row.task_id.or(task);
                Ok(row)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.store.finish_inbox_with(Some(claimed.id), &outbound).await?;
        metrics::counter!("inbox_processed_total", "channel" => event.channel.as_str()).increment(1);
        if !outbound.is_empty() {
            self.outbox_wake.notify_one();
        }
        Ok(Outcome::Done)
    }

    /// Tries the event again later, or gives up on it after `MAX_ATTEMPTS`.
    async fn failed(
        &self,
        claimed: &Claimed,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        if claimed.attempts >= MAX_ATTEMPTS {
            tracing::error!(id = claimed.id, error, "inbound event failed for good");
            self.store.mark_dead(Queue::Inbox, claimed.id, error).await?;
            metrics::counter!("inbox_dead_letters_total").increment(1);
            return Ok(Outcome::Dead);
        }
        tracing::warn!(
            id = claimed.id,
            attempt = claimed.attempts,
            error,
            "inbound event failed, will retry"
        );
        let at = now + chrono::Duration::from_std(backoff(claimed.attempts)).unwrap_or_default();
        self.store
            .retry_at(Queue::Inbox, claimed.id, at, Some(error), true)
            .await?;
        Ok(Outcome::Retried)
    }

    /// Processes events until `shutdown`; wakes early when an event is stored.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self.run_once(crate::store::now()).await {
                Ok(Outcome::Idle) => {}
                Ok(_) => continue,
                Err(e) => tracing::warn!(error = %e, "inbox worker could not reach the database"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }
}

/// An outbox row for `message`; its task is the one its buttons act on, if any.
pub(crate) fn to_outbound(
    message: &OutboundMessage,
    dedupe_key: Option<String>,
) -> Result<NewOutbound, StoreError> {
    Ok(NewOutbound {
        channel: message.channel.as_str().to_owned(),
        chat_id: message.chat_id.clone(),
        payload: serde_json::to_string(message).map_err(|e| StoreError::Other(e.to_string()))?,
        dedupe_key,
        person_id: None,
        task_id: message.buttons.iter().find_map(|b| button_task(&b.data)),
    })
}

/// The task of a button's data: `done:42`, `ack:42`, `snooze:42:1h`.
fn button_task(data: &str) -> Option<i64> {
    let mut parts = data.split(':');
    match parts.next()? {
        "done" | "ack" | "snooze" => parts.next()?.parse().ok(),
        _ => None,
    }
}

/// The task an inbound message names: its button's, or that of `/done 42`, `/status 42 …`,
/// `/comment 42 …`.
fn task_hint(event: &InboundEvent) -> Option<i64> {
    if let Some(press) = &event.button {
        return button_task(&press.data);
    }
    let mut words = event.text.split_whitespace();
    let command = words.next()?.split('@').next()?.to_ascii_lowercase();
    if !matches!(command.as_str(), "/done" | "/status" | "/comment") {
        return None;
    }
    words.next()?.trim_start_matches('#').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_read_from_buttons_and_commands() {
        assert_eq!(button_task("done:42"), Some(42));
        assert_eq!(button_task("snooze:7:1h"), Some(7));
        assert_eq!(button_task("approve:3"), None);
        let mut event = crate::channels::cli::Terminal::new("ann").event("/status #12 done");
        assert_eq!(task_hint(&event), Some(12));
        event.text = "/tasks mine".into();
        assert_eq!(task_hint(&event), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) >= Duration::from_secs(1) && backoff(1) < Duration::from_millis(1300));
        assert!(backoff(4) >= Duration::from_secs(8));
        assert!(backoff(30) <= Duration::from_secs(720));
    }
}
