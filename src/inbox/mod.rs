//! The durable inbox: every inbound event is stored (deduplicated on channel + platform event
//! id) before its webhook is acknowledged ([`InboxWriter`]); a worker claims due events in
//! batches (at most one per chat, so each chat is answered in order), works up to its number
//! of slots at once, claiming more as slots free up, and finishes those done together in one
//! transaction. The replies are queued in the outbox in the same transaction that marks the
//! event done, with keys derived from the event, so an event processed twice (after a crash)
//! neither acts twice nor answers twice. Failures retry with backoff and end as dead letters,
//! counted in `/metrics` and listed by `/api/monitoring/status`. Each event is tagged with its
//! sender and task for the history.
//!
//! The worker knows nothing of what answers: it calls an [`EventHandler`] (the conversation,
//! wired in `app`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::message::{redact, InboundEvent};
use crate::queue::{
    backoff, claim_lost, keeping_claim, task_hint, to_outbound, Attempt, EventHandler, Handled, Outcome,
};
use crate::store::{Claimed, EventTags, InboxFinish, Queue, Store, StoreError};

mod writer;
pub use writer::InboxWriter;

/// How one claimed event's work ended.
enum Step {
    /// Answered: to be finished with the others of its batch (and its channel, for metrics).
    Finish(Box<InboxFinish>, &'static str),
    /// Failed, dead-lettered or lost, and recorded as such.
    Ended(Outcome),
}

/// After this many failed attempts an event becomes a dead letter.
pub const MAX_ATTEMPTS: i32 = 6;
/// How long a claim lasts before another worker may take the event over. The worker renews it
/// every third of it while it works (an agent turn can take minutes), so after a crash the
/// event waits at most this long for another worker (on SQLite the next start releases it at
/// once).
const LEASE: Duration = Duration::from_secs(30);
/// Events one worker claims and works at once at most (one per chat), on SQLite: one claim and
/// one commit serve many. SQLite has one writing connection, so fewer, larger write
/// transactions go furthest: with 128 events in flight, 32 a worker turned 3,267–3,597
/// `/newtask` a second into tasks by long polling where 8 turned 1,754–2,151 and 16
/// 2,612–2,844 (`docs/PERFORMANCE.md`).
pub const SQLITE_BATCH: usize = 32;
/// The same on PostgreSQL, which writes over several connections at once: more workers claim
/// and commit side by side there, and 16 a worker measured better than both 8 and 32.
pub const POSTGRES_BATCH: usize = 16;

/// Events one worker of `store` works at once at most (see [`SQLITE_BATCH`]).
pub fn batch_for(store: &Store) -> usize {
    if store.is_postgres() {
        POSTGRES_BATCH
    } else {
        SQLITE_BATCH
    }
}
/// How often an idle worker looks for due work when nobody wakes it.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How often a worker makes due an event left waiting with nothing in front of it (see
/// [`Store::promote_stranded`]): rare, and only ever delayed by this much.
const STRANDED_EVERY: Duration = Duration::from_secs(5);

/// The inbox worker.
#[derive(Clone)]
pub struct Inbox {
    store: Store,
    handler: Arc<dyn EventHandler>,
    wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
    idle_poll: Duration,
    batch: usize,
}

impl Inbox {
    pub fn new(
        store: Store,
        handler: Arc<dyn EventHandler>,
        wake: Arc<Notify>,
        outbox_wake: Arc<Notify>,
    ) -> Self {
        Self {
            batch: batch_for(&store),
            store,
            handler,
            wake,
            outbox_wake,
            idle_poll: IDLE_POLL,
        }
    }

    /// Worker `n` of `workers`: the first looks for due work (retries) every [`IDLE_POLL`] when
    /// idle, the others rarely, so that many workers cost nothing while the inbox is empty; a
    /// stored event wakes one of them at once all the same.
    pub fn nth_of(mut self, n: usize, workers: usize) -> Self {
        let factor = if n == 0 { 1 } else { workers.max(1) as u32 };
        self.idle_poll = IDLE_POLL * factor;
        self
    }

    /// Works at most `batch` events at once.
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Claims and processes one due event.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<Outcome, StoreError> {
        let mut outcomes = self.run_batch(now, 1).await?;
        outcomes.pop().unwrap_or(Ok(Outcome::Idle))
    }

    /// Claims up to `limit` due events (at most one per chat) and works them all at once. Those
    /// whose work ends together are finished in one transaction, so a burst costs one commit
    /// per batch rather than per event, and a slow agent turn does not hold back the answers
    /// of the quick commands claimed with it. One outcome per claimed event; an `Err` leaves
    /// that event claimed until its lease runs out, when it is tried again.
    pub async fn run_batch(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Result<Outcome, StoreError>>, StoreError> {
        let mut running = tokio::task::JoinSet::new();
        self.claim_into(&mut running, now, limit).await?;
        let mut outcomes = Vec::with_capacity(running.len());
        while let Some(first) = running.join_next().await {
            outcomes.extend(self.settle(first, &mut running).await);
        }
        Ok(outcomes)
    }

    /// Claims up to `limit` due events and starts working each; how many it claimed.
    async fn claim_into(
        &self,
        running: &mut Running,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let lease_until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let claims = self
            .store
            .claim_batch(Queue::Inbox, None, now, lease_until, limit)
            .await?;
        let claimed = claims.len();
        // Each event runs as a task of its own: one waiting for the database's write lock must
        // never wait on another that is not being polled.
        for claimed in claims {
            tracing::debug!(
                id = claimed.id,
                attempt = claimed.attempts,
                "claimed inbound event"
            );
            let this = self.clone();
            running.spawn(async move {
                let work = this.process(&claimed, now);
                keeping_claim(&this.store, Queue::Inbox, &claimed, LEASE, work).await
            });
        }
        Ok(claimed)
    }

    /// Takes `first` and every other event whose work has ended by now, and finishes those
    /// answered in one transaction. One outcome per event taken.
    async fn settle(
        &self,
        first: Result<Result<Step, StoreError>, tokio::task::JoinError>,
        running: &mut Running,
    ) -> Vec<Result<Outcome, StoreError>> {
        let mut ready = vec![first];
        while let Some(more) = running.try_join_next() {
            ready.push(more);
        }
        let mut outcomes = Vec::with_capacity(ready.len());
        let mut finishes = Vec::new();
        for step in ready {
            match step {
                Ok(Ok(Step::Finish(finish, channel))) => finishes.push((*finish, channel)),
                Ok(Ok(Step::Ended(outcome))) => outcomes.push(Ok(outcome)),
                Ok(Err(e)) => outcomes.push(Err(e)),
                // A panic: the claim runs out and the event is tried again.
                Err(e) => outcomes.push(Err(StoreError::Other(format!("event handling stopped: {e}")))),
            }
        }
        outcomes.extend(self.finish(finishes).await);
        outcomes
    }

    /// Hands a claimed event to the handler; what it answered is finished with the others of
    /// its batch, a failure is recorded at once.
    async fn process(&self, claimed: &Claimed, now: DateTime<Utc>) -> Result<Step, StoreError> {
        let event: InboundEvent = match serde_json::from_str(&claimed.payload) {
            Ok(event) => event,
            Err(e) => {
                let error = format!("unreadable payload: {e}");
                if !self.store.mark_dead(Queue::Inbox, claimed, &error).await? {
                    return Ok(Step::Ended(claim_lost("inbox", claimed.id)));
                }
                metrics::counter!("inbox_dead_letters_total").increment(1);
                return Ok(Step::Ended(Outcome::Dead));
            }
        };
        let attempt = Attempt {
            inbox_id: claimed.id,
            last: claimed.attempts >= MAX_ATTEMPTS,
        };
        match self.handler.handle(&event, attempt).await {
            Ok(handled) => {
                let finish = Self::prepare(claimed, &event, handled)?;
                Ok(Step::Finish(Box::new(finish), event.channel.as_str()))
            }
            Err(e) => self.failed(claimed, &e.to_string(), now).await.map(Step::Ended),
        }
    }

    /// What finishing the event writes: its replies, and how it is tagged with its sender and
    /// its task (found in the statement that finishes it).
    fn prepare(claimed: &Claimed, event: &InboundEvent, handled: Handled) -> Result<InboxFinish, StoreError> {
        let Handled {
            replies,
            history_text,
        } = handled;
        let replies = replies
            .iter()
            .enumerate()
            .map(|(n, reply)| to_outbound(reply, Some(format!("reply:{}:{n}", claimed.id))))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(InboxFinish {
            claim: claimed.clone(),
            tags: EventTags {
                channel: event.channel.as_str().to_owned(),
                external_id: event.sender.external_id.clone(),
                source_key: format!("{}:{}", event.channel, event.event_id),
                task_hint: task_hint(event),
            },
            history_text,
            replies,
        })
    }

    /// Marks events done and queues their replies, in one transaction.
    async fn finish(&self, finishes: Vec<(InboxFinish, &'static str)>) -> Vec<Result<Outcome, StoreError>> {
        if finishes.is_empty() {
            return Vec::new();
        }
        let (rows, channels): (Vec<InboxFinish>, Vec<&'static str>) = finishes.into_iter().unzip();
        let applied = match self.store.finish_inbox_batch(&rows).await {
            Ok(applied) => applied,
            Err(e) => return rows.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut queued = false;
        let outcomes = rows
            .iter()
            .zip(channels)
            .zip(applied)
            .map(|((row, channel), applied)| {
                if !applied {
                    return Ok(claim_lost("inbox", row.claim.id));
                }
                metrics::counter!("inbox_processed_total", "channel" => channel).increment(1);
                queued |= !row.replies.is_empty();
                Ok(Outcome::Done)
            })
            .collect();
        if queued {
            self.outbox_wake.notify_one();
        }
        outcomes
    }

    /// Tries the event again later, or gives up on it after `MAX_ATTEMPTS`.
    async fn failed(
        &self,
        claimed: &Claimed,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        let redacted = redact(error);
        let error: &str = &redacted;
        if claimed.attempts >= MAX_ATTEMPTS {
            tracing::error!(id = claimed.id, error, "inbound event failed for good");
            if !self.store.mark_dead(Queue::Inbox, claimed, error).await? {
                return Ok(claim_lost("inbox", claimed.id));
            }
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
        if !self
            .store
            .retry_at(Queue::Inbox, claimed, at, Some(error), true)
            .await?
        {
            return Ok(claim_lost("inbox", claimed.id));
        }
        Ok(Outcome::Retried)
    }

    /// Processes events until `shutdown`, up to `batch` at once. Slots are refilled as the
    /// work in them ends, once half of them are free (a claim is a write, so not one per
    /// event), rather than after the whole batch: a slow agent turn keeps one slot, not the
    /// worker. Wakes early when an event is stored; at shutdown, claims nothing more and
    /// finishes what it holds.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        let mut running = Running::new();
        // Whether due work may be waiting: after a wake-up, a poll, or a finished event (which
        // may have been its chat's head, with more of that chat behind it).
        let mut look = true;
        let mut swept: Option<std::time::Instant> = None;
        loop {
            if swept.is_none_or(|at| at.elapsed() >= STRANDED_EVERY) {
                swept = Some(std::time::Instant::now());
                match self.store.promote_stranded().await {
                    Ok(0) => {}
                    Ok(_) => look = true,
                    Err(e) => tracing::warn!(error = %e, "inbox worker could not reach the database"),
                }
            }
            if shutdown.is_cancelled() {
                while let Some(first) = running.join_next().await {
                    log_failures(&self.settle(first, &mut running).await);
                }
                return;
            }
            let free = self.batch.saturating_sub(running.len());
            if look && free > 0 && (running.is_empty() || 2 * free >= self.batch) {
                match self.claim_into(&mut running, crate::store::now(), free).await {
                    // As many as asked: more may be due, and this worker has no slot left for
                    // them, so it passes the wake-up on. Fewer: nothing else is due until
                    // something changes.
                    Ok(claimed) => {
                        look = claimed == free;
                        if look {
                            self.wake.notify_one();
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "inbox worker could not reach the database");
                        look = false;
                    }
                }
            }
            if running.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.idle_poll) => {}
                }
                look = true;
                continue;
            }
            // A wake-up is taken only by a worker that will claim on it: one too busy to claim
            // leaves it to another.
            let could_claim = 2 * self.batch.saturating_sub(running.len()) >= self.batch;
            tokio::select! {
                Some(first) = running.join_next() => {
                    log_failures(&self.settle(first, &mut running).await);
                    look = true;
                }
                _ = self.wake.notified(), if !look && could_claim => look = true,
                _ = shutdown.cancelled() => {}
            }
        }
    }
}

/// The events a worker is working on.
type Running = tokio::task::JoinSet<Result<Step, StoreError>>;

fn log_failures(outcomes: &[Result<Outcome, StoreError>]) {
    for e in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        tracing::warn!(error = %e, "an inbound event could not be finished; it will be tried again");
    }
}
