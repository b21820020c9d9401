//! Storing inbound events before their webhook is acknowledged, in groups: see [`InboxWriter`].

use std::sync::Arc;

use tokio::sync::{oneshot, Notify};

use crate::message::InboundEvent;
use crate::store::{NewInboxEvent, Store, StoreError};

/// Stores inbound events and wakes the worker. Events that arrive while an earlier store is
/// under way are stored together, in one statement, by whichever of their requests gets the
/// turn first (a group commit): on SQLite every write waits for the one writing connection, and
/// a burst of webhooks would otherwise take it once each.
#[derive(Clone)]
pub struct InboxWriter {
    store: Store,
    wake: Arc<Notify>,
    group: Arc<Group>,
}

/// Events waiting to be stored, and the turn to store them.
#[derive(Default)]
struct Group {
    waiting: std::sync::Mutex<Vec<Waiting>>,
    turn: tokio::sync::Mutex<()>,
}

/// One request's event and where its answer goes.
struct Waiting {
    event: NewInboxEvent,
    answer: oneshot::Sender<Result<bool, StoreError>>,
}

/// Events stored together at most.
const GROUP: usize = 64;

impl InboxWriter {
    pub fn new(store: Store, wake: Arc<Notify>) -> Self {
        Self {
            store,
            wake,
            group: Arc::default(),
        }
    }

    /// Stores `event` durably. `Ok(false)`: the same event was stored before (a redelivery).
    #[tracing::instrument(skip_all, fields(channel = %event.channel, event_id = %event.event_id))]
    pub async fn accept(&self, event: &InboundEvent) -> Result<bool, StoreError> {
        let fresh = self.store_grouped(row(event)?).await?;
        count(event, fresh);
        Ok(fresh)
    }

    /// Stores `events` durably, together (a long poll's answer): in one statement per
    /// [`GROUP`] events, each chat's events in their order. One flag per event, as
    /// [`Self::accept`] answers; on an error, the events of the statements before it are
    /// stored and the rest are not (the caller confirms only what was stored).
    pub async fn accept_all(&self, events: &[InboundEvent]) -> Result<Vec<bool>, StoreError> {
        let mut fresh = Vec::with_capacity(events.len());
        for part in events.chunks(GROUP) {
            let rows = part.iter().map(row).collect::<Result<Vec<_>, _>>()?;
            let stored = self.store.enqueue_inbox_batch(&rows).await?;
            if stored.contains(&true) {
                self.wake.notify_one();
            }
            for (event, &new) in part.iter().zip(&stored) {
                count(event, new);
            }
            fresh.extend(stored);
        }
        Ok(fresh)
    }

    /// Stores `row` with the others waiting: the request that gets the turn stores everything
    /// waiting then and answers each; the others find their answer when their turn comes.
    async fn store_grouped(&self, row: NewInboxEvent) -> Result<bool, StoreError> {
        let (answer, mut answered) = oneshot::channel();
        let fallback = row.clone();
        self.waiting().push(Waiting { event: row, answer });
        let turn = self.group.turn.lock().await;
        match answered.try_recv() {
            Ok(result) => return result,
            Err(oneshot::error::TryRecvError::Empty) => {}
            // The request that took ours stopped before it answered (its client went away):
            // store ours alone; stored twice is still stored once.
            Err(oneshot::error::TryRecvError::Closed) => {
                drop(turn);
                return self.store_one(&fallback).await;
            }
        }
        loop {
            let batch: Vec<Waiting> = {
                let mut waiting = self.waiting();
                let n = waiting.len().min(GROUP);
                waiting.drain(..n).collect()
            };
            if batch.is_empty() {
                break;
            }
            let (rows, answers): (Vec<NewInboxEvent>, Vec<_>) =
                batch.into_iter().map(|w| (w.event, w.answer)).unzip();
            let results = self.store.enqueue_inbox_batch(&rows).await;
            // One wake-up for the group: the worker it wakes claims the group in one statement
            // (and wakes another when there is more than its slots hold).
            if results.as_ref().is_ok_and(|fresh| fresh.contains(&true)) {
                self.wake.notify_one();
            }
            for (n, answer) in answers.into_iter().enumerate() {
                let result = match &results {
                    Ok(fresh) => Ok(fresh.get(n).copied().unwrap_or(false)),
                    Err(e) => Err(e.clone()),
                };
                let _ = answer.send(result);
            }
            if let Ok(result) = answered.try_recv() {
                return result;
            }
        }
        drop(turn);
        // Not reached: ours was waiting until a turn took it, and this turn took all.
        self.store_one(&fallback).await
    }

    async fn store_one(&self, row: &NewInboxEvent) -> Result<bool, StoreError> {
        let fresh = self
            .store
            .enqueue_inbox(&row.channel, &row.event_id, &row.chat_id, &row.payload)
            .await?;
        if fresh {
            self.wake.notify_one();
        }
        Ok(fresh)
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        self.group
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Counts a stored event in `/metrics` (`fresh`: new, not a redelivery).
fn count(event: &InboundEvent, fresh: bool) {
    metrics::counter!("inbox_events_total", "channel" => event.channel.as_str(), "fresh" => fresh.to_string())
        .increment(1);
}

/// The inbox row of `event`.
fn row(event: &InboundEvent) -> Result<NewInboxEvent, StoreError> {
    let payload = serde_json::to_string(event).map_err(|e| StoreError::Other(e.to_string()))?;
    Ok(NewInboxEvent {
        channel: event.channel.as_str().to_owned(),
        event_id: event.event_id.clone(),
        chat_id: event.chat_id.clone(),
        payload,
    })
}
