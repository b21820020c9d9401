//! What the durable queues share: the [`Outcome`] of one worker step, the retry [`backoff`],
//! the outbox row of a message ([`to_outbound`]), and the [`EventHandler`] contract through
//! which the inbox hands an event to whatever answers it (the conversation, wired in `app`),
//! so that the queue never imports what it feeds.
//!
//! Used by the inbox and outbox workers, the integration jobs, the scheduler and the API.

use std::time::Duration;

use crate::message::{ButtonAction, InboundEvent, OutboundMessage};
use crate::store::{Claimed, NewOutbound, Queue, Store, StoreError};

/// Exponential backoff with jitter: about 1 s, 2 s, 4 s … capped at 10 minutes.
pub fn backoff(attempt: i32) -> Duration {
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
    /// The claim ran out and another worker took the item over before this one could record
    /// what it did; the other worker's outcome stands.
    Lost,
}

/// Runs `work` while keeping `claim` on `queue`: its lease is extended to `lease` from now at
/// every third of `lease`, so that work that takes longer than one lease (an agent turn, a send
/// to a slow platform) is not taken over by another worker meanwhile.
pub async fn keeping_claim<F: std::future::Future>(
    store: &Store,
    queue: Queue,
    claim: &Claimed,
    lease: Duration,
    work: F,
) -> F::Output {
    let every = (lease / 3).max(Duration::from_millis(50));
    let lease = chrono::Duration::from_std(lease).unwrap_or_default();
    tokio::pin!(work);
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            output = &mut work => return output,
            _ = renew.tick() => {
                let until = crate::store::now() + lease;
                match store.renew_claim(queue, claim, until).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(id = claim.id, ?queue, "a claim was lost while its work ran"),
                    Err(e) => tracing::warn!(id = claim.id, ?queue, error = %e, "could not renew a claim"),
                }
            }
        }
    }
}

/// Counts and logs a claim that was lost (see [`Outcome::Lost`]).
pub fn claim_lost(queue: &'static str, id: i64) -> Outcome {
    tracing::warn!(queue, id, "claim lost: another worker took the item over");
    metrics::counter!("queue_claims_lost_total", "queue" => queue).increment(1);
    Outcome::Lost
}

/// Which try of an inbound event this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The event's row in the inbox.
    pub inbox_id: i64,
    /// No further try follows a failure of this one: answer what can be answered.
    pub last: bool,
}

/// What handling an inbound event gave.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Handled {
    /// The answers, queued in the outbox in the same transaction that finishes the event.
    pub replies: Vec<OutboundMessage>,
    /// The event's text as the history shows it; `None` when it is recorded elsewhere (a voice
    /// note's transcript).
    pub history_text: Option<String>,
}

/// A temporary failure: the inbox tries the event again later, and after its last attempt
/// keeps it as a dead letter with this reason.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

/// Answers inbound events; the inbox worker calls it once per claimed event (again after a
/// failure, with the same [`Attempt::inbox_id`]).
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync {
    async fn handle(&self, event: &InboundEvent, attempt: Attempt) -> Result<Handled, HandlerError>;
}

/// An outbox row for `message`; its task is the one its buttons act on, if any.
pub fn to_outbound(message: &OutboundMessage, dedupe_key: Option<String>) -> Result<NewOutbound, StoreError> {
    Ok(NewOutbound {
        channel: message.channel.as_str().to_owned(),
        chat_id: message.chat_id.clone(),
        payload: serde_json::to_string(message).map_err(|e| StoreError::Other(e.to_string()))?,
        dedupe_key,
        person_id: None,
        task_id: message
            .buttons
            .iter()
            .find_map(|b| ButtonAction::parse(&b.data).and_then(|a| a.task())),
    })
}

/// The task an inbound message names: its button's, or that of `/done 42`, `/status 42 …`,
/// `/comment 42 …`.
pub fn task_hint(event: &InboundEvent) -> Option<i64> {
    if let Some(press) = &event.button {
        return ButtonAction::parse(&press.data).and_then(|a| a.task());
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
        let mut event = crate::channels::cli::Terminal::new("ann").event("/status #12 done");
        assert_eq!(task_hint(&event), Some(12));
        event.text = "/tasks mine".into();
        assert_eq!(task_hint(&event), None);
        event.button = Some(crate::message::ButtonPress {
            id: "1".into(),
            data: "snooze:7:1h".into(),
        });
        assert_eq!(task_hint(&event), Some(7));
        event.button = Some(crate::message::ButtonPress {
            id: "1".into(),
            data: "approve:3".into(),
        });
        assert_eq!(task_hint(&event), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) >= Duration::from_secs(1) && backoff(1) < Duration::from_millis(1300));
        assert!(backoff(4) >= Duration::from_secs(8));
        assert!(backoff(30) <= Duration::from_secs(720));
    }
}
