//! The two durable queues, `inbox_events` and `outbox_messages`: enqueue (deduplicated), record
//! an event that is kept but not acted on (refused, or a dead letter from the start), put a dead
//! letter back, counts and listings. Claiming, finishing and retrying are in `claims`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::heads::{chats_of, promote_heads, shown_status, stored_status, stored_status_of, UNFINISHED};
use super::{dispatch, dispatch_write, now, Store, StoreResult};

/// Which queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    Inbox,
    Outbox,
    /// Integration work (Zendesk, CRM): `channel` holds the job's kind.
    Integrations,
}

impl Queue {
    pub(super) fn table(self) -> &'static str {
        match self {
            Queue::Inbox => "inbox_events",
            Queue::Outbox => "outbox_messages",
            Queue::Integrations => "integration_jobs",
        }
    }

    /// The statuses of an item not yet done or dead. The inbox and the outbox keep items
    /// `waiting` behind their chat's head (see `heads`).
    pub(super) fn unfinished(self) -> &'static str {
        match self {
            Queue::Inbox | Queue::Outbox => UNFINISHED,
            Queue::Integrations => "('pending', 'processing')",
        }
    }

    /// Whether the queue's items wait behind their chat's head.
    pub(super) fn keeps_heads(self) -> bool {
        matches!(self, Queue::Inbox | Queue::Outbox)
    }
}

/// An inbound event, ready to insert into the inbox.
#[derive(Debug, Clone)]
pub struct NewInboxEvent {
    pub channel: String,
    pub event_id: String,
    pub chat_id: String,
    pub payload: String,
}

impl NewInboxEvent {
    fn chat(&self) -> (&str, &str) {
        (&self.channel, &self.chat_id)
    }
}

/// A message for the outbox, ready to insert.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub channel: String,
    pub chat_id: String,
    pub payload: String,
    /// At most one message per key is ever queued (e.g. `reply:17:0` for the first reply to
    /// inbox event 17), so reprocessing an event cannot send its reply twice.
    pub dedupe_key: Option<String>,
    /// The person it goes to and the task it concerns, when known (for the history).
    pub person_id: Option<i64>,
    pub task_id: Option<i64>,
}

/// Counts by status, for monitoring.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct QueueCounts {
    pub pending: i64,
    pub processing: i64,
    pub done: i64,
    pub dead: i64,
}

/// An item that was given up on.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct DeadLetter {
    pub id: i64,
    pub channel: String,
    pub chat_id: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub(super) const INSERT_OUTBOX: &str = "INSERT INTO outbox_messages \
    (channel, chat_id, payload, dedupe_key, status, attempts, next_attempt_at, created_at, person_id, task_id) ";

/// Queues outbox rows inside the open transaction `$tx`, a thousand to a statement (a dedupe
/// key already queued is skipped), due at `$at`, or at the wall-clock time when no `$at` is
/// given (whatever `now` a sweep was given). A row behind an unfinished message of its chat is
/// stored `waiting` (see `heads`). Expanded once per engine by `dispatch!`.
macro_rules! insert_outbound {
    ($tx:expr, $messages:expr) => {
        $crate::store::queue::insert_outbound!($tx, $messages, $crate::store::now())
    };
    ($tx:expr, $messages:expr, $at:expr) => {{
        let at = $at;
        let messages: Vec<_> = $messages.into_iter().collect();
        let (open, then_chat, close) = $crate::store::heads::stored_status("outbox_messages");
        // 8 values a row: at most 1,000 rows a statement stays well inside SQLite's 32,766
        // and PostgreSQL's 65,535 bound values.
        for chunk in messages.chunks(1_000) {
            let heads = $crate::store::queue::Heads::of(
                chunk
                    .iter()
                    .map(|m| (m.channel.as_str(), m.chat_id.as_str(), m.dedupe_key.is_some())),
            );
            let mut qb = sqlx::QueryBuilder::new($crate::store::queue::INSERT_OUTBOX);
            let waits = $crate::store::heads::waits(&qb);
            qb.push_values(chunk.iter().zip(&heads.first), |mut row, (m, first)| {
                row.push_bind(&m.channel)
                    .push_bind(&m.chat_id)
                    .push_bind(&m.payload)
                    .push_bind(&m.dedupe_key);
                if !waits {
                    row.push("'pending'");
                } else if *first {
                    row.push(&open)
                        .push_bind_unseparated(&m.channel)
                        .push_unseparated(then_chat)
                        .push_bind_unseparated(&m.chat_id)
                        .push_unseparated(&close);
                } else {
                    row.push("'waiting'");
                }
                row.push("0")
                    .push_bind(at)
                    .push_bind(at)
                    .push_bind(m.person_id)
                    .push_bind(m.task_id);
            });
            qb.push(" ON CONFLICT (dedupe_key) DO NOTHING");
            qb.build().execute(&mut *$tx).await?;
            if waits && !heads.unchecked.is_empty() {
                $crate::store::heads::promote_heads("outbox_messages", &heads.unchecked)
                    .build()
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}
pub(super) use insert_outbound;

/// Which rows of one insert look for an unfinished item of their chat (the first of each chat:
/// a statement does not see its own rows; the later ones wait behind it), and the chats whose
/// first row may be skipped as a duplicate while a later one is stored (stored waiting without
/// a look in front: they are promoted after the insert).
pub(super) struct Heads {
    pub first: Vec<bool>,
    pub unchecked: Vec<(String, String)>,
}

impl Heads {
    /// From each row's channel, chat and whether it may be skipped (it has a dedupe key).
    pub fn of<'a>(rows: impl Iterator<Item = (&'a str, &'a str, bool)>) -> Self {
        let mut seen = std::collections::HashMap::new();
        let mut first = Vec::new();
        let mut unchecked = Vec::new();
        for (channel, chat, skippable) in rows {
            match seen.get_mut(&(channel, chat)) {
                None => {
                    seen.insert((channel, chat), (skippable, false));
                    first.push(true);
                }
                Some((skippable_first, listed)) => {
                    if *skippable_first && !*listed {
                        *listed = true;
                        unchecked.push((channel.to_owned(), chat.to_owned()));
                    }
                    first.push(false);
                }
            }
        }
        Self { first, unchecked }
    }
}

impl Store {
    /// Stores an inbound event. `false` when the same (channel, event id) was stored before.
    pub async fn enqueue_inbox(
        &self,
        channel: &str,
        event_id: &str,
        chat_id: &str,
        payload: &str,
    ) -> StoreResult<bool> {
        let at = now();
        let status = stored_status_of(&self.writer, "inbox_events", "$1", "$3");
        let sql = format!(
            "INSERT INTO inbox_events (channel, event_id, chat_id, payload, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, {status}, \
             0, $5, $5) ON CONFLICT (channel, event_id) DO NOTHING",
        );
        let done = dispatch_write!(self, |p| sqlx::query(&sql)
            .bind(channel)
            .bind(event_id)
            .bind(chat_id)
            .bind(payload)
            .bind(at)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Stores several inbound events with one statement, as [`Store::enqueue_inbox`] does one:
    /// for each, in order, whether it is new (`false`: stored before, or earlier in `events`).
    pub async fn enqueue_inbox_batch(&self, events: &[NewInboxEvent]) -> StoreResult<Vec<bool>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let at = now();
        // A statement does not see its own rows: the first event of a chat here looks for an
        // unfinished one stored before, the later ones wait behind it.
        let mut chats = std::collections::HashSet::new();
        let first: Vec<bool> = events.iter().map(|e| chats.insert(e.chat())).collect();
        let (open, then_chat, close) = stored_status("inbox_events");
        let inserted: Vec<(String, String)> = dispatch_write!(self, |p| {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO inbox_events (channel, event_id, chat_id, payload, status, attempts, \
                 next_attempt_at, created_at) ",
            );
            let waits = super::heads::waits(&qb);
            qb.push_values(events.iter().zip(&first), |mut row, (event, first)| {
                row.push_bind(&event.channel)
                    .push_bind(&event.event_id)
                    .push_bind(&event.chat_id)
                    .push_bind(&event.payload);
                if !waits {
                    row.push("'pending'");
                } else if *first {
                    row.push(&open)
                        .push_bind_unseparated(&event.channel)
                        .push_unseparated(then_chat)
                        .push_bind_unseparated(&event.chat_id)
                        .push_unseparated(&close);
                } else {
                    row.push("'waiting'");
                }
                row.push("0").push_bind(at).push_bind(at);
            });
            qb.push(" ON CONFLICT (channel, event_id) DO NOTHING RETURNING channel, event_id");
            qb.build_query_as().fetch_all(p).await?
        });
        let mut fresh: std::collections::HashSet<(String, String)> = inserted.into_iter().collect();
        // A key given twice is new once, the first time.
        let new: Vec<bool> = events
            .iter()
            .map(|e| fresh.remove(&(e.channel.clone(), e.event_id.clone())))
            .collect();
        // A chat whose first event here was stored before while a later one is new: that one
        // was stored waiting without a look at what is in front of it.
        let with_new: std::collections::HashSet<_> = events
            .iter()
            .zip(&new)
            .filter(|(_, new)| **new)
            .map(|(e, _)| NewInboxEvent::chat(e))
            .collect();
        let unchecked = chats_of(
            events
                .iter()
                .zip(first.iter().zip(&new))
                .filter(|(e, (first, new))| **first && !**new && with_new.contains(&NewInboxEvent::chat(e)))
                .map(|(e, _)| NewInboxEvent::chat(e)),
        );
        if !unchecked.is_empty() && self.waits(Queue::Inbox) {
            dispatch_write!(self, |p| promote_heads("inbox_events", &unchecked)
                .build()
                .execute(p)
                .await
                .map(|_| ()))?;
        }
        Ok(new)
    }

    /// Records an inbound event that is kept but never acted on (status `refused`, with
    /// `reason`), so that the history shows it and why. `false`: recorded before.
    pub async fn refuse_inbox(
        &self,
        channel: &str,
        event_id: &str,
        chat_id: &str,
        payload: &str,
        reason: &str,
    ) -> StoreResult<bool> {
        self.record_unhandled("refused", channel, event_id, chat_id, payload, reason)
            .await
    }

    /// Records an inbound event that could not be handled, however often it was tried, as a
    /// dead letter (status `dead`, with the last `error`). `false`: recorded before.
    pub async fn dead_inbox(
        &self,
        channel: &str,
        event_id: &str,
        chat_id: &str,
        payload: &str,
        error: &str,
    ) -> StoreResult<bool> {
        self.record_unhandled("dead", channel, event_id, chat_id, payload, error)
            .await
    }

    async fn record_unhandled(
        &self,
        status: &str,
        channel: &str,
        event_id: &str,
        chat_id: &str,
        payload: &str,
        reason: &str,
    ) -> StoreResult<bool> {
        let at = now();
        let done = dispatch_write!(self, |p| {
            sqlx::query(
                "INSERT INTO inbox_events (channel, event_id, chat_id, payload, status, attempts, \
                 next_attempt_at, created_at, finished_at, last_error) \
                 VALUES ($1, $2, $3, $4, $7, 0, $5, $5, $5, $6) ON CONFLICT (channel, event_id) DO NOTHING",
            )
            .bind(channel)
            .bind(event_id)
            .bind(chat_id)
            .bind(payload)
            .bind(at)
            .bind(reason)
            .bind(status)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Queues messages; those whose dedupe key is already queued are skipped.
    pub async fn enqueue_outbox(&self, messages: &[NewOutbound]) -> StoreResult<()> {
        self.finish_inbox_with(None, messages).await.map(|_| ())
    }

    /// Puts dead letter `id` of `queue` back to be tried now, with a fresh count of attempts;
    /// `false` when it is not a dead letter (unknown, or already retried). An inbox event or an
    /// outbox message goes first in its chat again: it is older than anything of its chat still
    /// unfinished.
    pub async fn requeue_dead(&self, queue: Queue, id: i64) -> StoreResult<bool> {
        let alerted = match queue {
            Queue::Inbox => "",
            Queue::Outbox | Queue::Integrations => ", alerted_at = NULL",
        };
        let waits = self.waits(queue);
        let status = if waits { "waiting" } else { "pending" };
        let sql = format!(
            "UPDATE {} SET status = '{status}', attempts = 0, next_attempt_at = $1, locked_until = NULL, \
             finished_at = NULL{alerted} WHERE id = $2 AND status = 'dead' RETURNING channel, chat_id",
            queue.table()
        );
        let done = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let chat: Option<(String, String)> = sqlx::query_as(&sql)
                .bind(now())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            if let (Some(chat), true) = (&chat, waits) {
                let chats = [chat.clone()];
                promote_heads(queue.table(), &chats)
                    .build()
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            chat.is_some()
        });
        if done {
            self.feed_changed();
        }
        Ok(done)
    }

    pub async fn queue_counts(&self, queue: Queue) -> StoreResult<QueueCounts> {
        let sql = format!("SELECT status, COUNT(*) FROM {} GROUP BY status", queue.table());
        let rows: Vec<(String, i64)> = dispatch!(self, |p| sqlx::query_as(&sql).fetch_all(p).await)?;
        let mut counts = QueueCounts::default();
        for (status, n) in rows {
            match status.as_str() {
                // Behind its chat's head: not due yet, but not started either.
                "pending" | "waiting" => counts.pending += n,
                "processing" => counts.processing = n,
                "done" => counts.done = n,
                "dead" => counts.dead = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    pub async fn dead_letters(&self, queue: Queue, limit: i64) -> StoreResult<Vec<DeadLetter>> {
        let sql = format!(
            "SELECT id, channel, chat_id, attempts, last_error, created_at FROM {} \
             WHERE status = 'dead' ORDER BY id DESC LIMIT $1",
            queue.table()
        );
        Ok(dispatch!(self, |p| sqlx::query_as::<_, DeadLetter>(&sql)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Items of one chat in either queue not yet finished.
    pub async fn unfinished_for_chat(&self, channel: &str, chat_id: &str) -> StoreResult<i64> {
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM inbox_events WHERE channel = $1 AND chat_id = $2 \
             AND status IN {UNFINISHED}) + (SELECT COUNT(*) FROM outbox_messages \
             WHERE channel = $1 AND chat_id = $2 AND status IN {UNFINISHED})"
        );
        let (n,): (i64,) = dispatch!(self, |p| sqlx::query_as(&sql)
            .bind(channel)
            .bind(chat_id)
            .fetch_one(p)
            .await)?;
        Ok(n)
    }

    /// The outbox rows of one chat, oldest first: (status, payload, platform message id).
    pub async fn outbox_for_chat(
        &self,
        channel: &str,
        chat_id: &str,
    ) -> StoreResult<Vec<(String, String, Option<String>)>> {
        Ok(dispatch!(self, |p| sqlx::query_as(concat!(
            "SELECT ",
            shown_status!("status"),
            ", payload, platform_message_id FROM outbox_messages \
             WHERE channel = $1 AND chat_id = $2 ORDER BY id"
        ))
        .bind(channel)
        .bind(chat_id)
        .fetch_all(p)
        .await)?)
    }
}
