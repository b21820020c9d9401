//! The two durable queues, `inbox_events` and `outbox_messages`: enqueue (deduplicated), claim
//! with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer), finish, retry
//! later, or give up (dead letter). A claim whose lease ran out (the worker died) is claimed
//! again, so a crash at any point delays work but never loses it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{dispatch, now, Pool, Store, StoreResult};

/// Which queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    Inbox,
    Outbox,
    /// Integration work (Zendesk, CRM): `channel` holds the job's kind.
    Integrations,
}

impl Queue {
    fn table(self) -> &'static str {
        match self {
            Queue::Inbox => "inbox_events",
            Queue::Outbox => "outbox_messages",
            Queue::Integrations => "integration_jobs",
        }
    }
}

/// A claimed item: its id, JSON payload and how many times it has been claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub channel: String,
    pub chat_id: String,
    pub payload: String,
    pub attempts: i32,
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
    (channel, chat_id, payload, dedupe_key, status, attempts, next_attempt_at, created_at, person_id, task_id) \
    VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $6, $7) ON CONFLICT (dedupe_key) DO NOTHING";

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
        let done = dispatch!(self, |p| sqlx::query(
            "INSERT INTO inbox_events (channel, event_id, chat_id, payload, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) \
             ON CONFLICT (channel, event_id) DO NOTHING"
        )
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
        let at = now();
        let done = dispatch!(self, |p| {
            sqlx::query(
            "INSERT INTO inbox_events (channel, event_id, chat_id, payload, status, attempts, \
             next_attempt_at, created_at, finished_at, last_error) \
             VALUES ($1, $2, $3, $4, 'refused', 0, $5, $5, $5, $6) ON CONFLICT (channel, event_id) DO NOTHING"
        )
        .bind(channel)
        .bind(event_id)
        .bind(chat_id)
        .bind(payload)
        .bind(at)
        .bind(reason)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Queues messages; those whose dedupe key is already queued are skipped.
    pub async fn enqueue_outbox(&self, messages: &[NewOutbound]) -> StoreResult<()> {
        self.finish_inbox_with(None, messages).await
    }

    /// Marks inbox event `inbox_id` done and queues its replies, in one transaction.
    pub async fn finish_inbox_with(&self, inbox_id: Option<i64>, replies: &[NewOutbound]) -> StoreResult<()> {
        let at = now();
        dispatch!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            for m in replies {
                sqlx::query(INSERT_OUTBOX)
                    .bind(&m.channel)
                    .bind(&m.chat_id)
                    .bind(&m.payload)
                    .bind(&m.dedupe_key)
                    .bind(at)
                    .bind(m.person_id)
                    .bind(m.task_id)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(id) = inbox_id {
                sqlx::query(
                    "UPDATE inbox_events SET status = 'done', finished_at = $1, locked_until = NULL \
                     WHERE id = $2",
                )
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Claims the next due item of one of `channels` (all when `None`), leasing it until
    /// `lease_until`.
    pub async fn claim(
        &self,
        queue: Queue,
        channels: Option<&[crate::domain::Channel]>,
        at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Claimed>> {
        let table = queue.table();
        // The names come from our own enum, never from input.
        let only = match channels {
            None => String::new(),
            Some([]) => return Ok(None),
            Some(list) => {
                let names: Vec<String> = list.iter().map(|c| format!("'{}'", c.as_str())).collect();
                format!(" AND q.channel IN ({})", names.join(", "))
            }
        };
        // Each chat's items are handled in order: an item waits while an older one of the same
        // chat is unfinished, so several workers never answer a chat out of turn.
        let in_order = format!(
            " AND NOT EXISTS (SELECT 1 FROM {table} o WHERE o.channel = q.channel \
             AND o.chat_id = q.chat_id AND o.id < q.id AND o.status IN ('pending', 'processing'))"
        );
        let lock = match self.pool {
            Pool::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Pool::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE {table} SET status = 'processing', locked_until = $1, attempts = attempts + 1 \
             WHERE id = (SELECT q.id FROM {table} q WHERE ((q.status = 'pending' AND q.next_attempt_at <= $2) \
             OR (q.status = 'processing' AND q.locked_until <= $2)){only}{in_order} \
             ORDER BY q.next_attempt_at, q.id LIMIT 1{lock}) \
             RETURNING id, channel, chat_id, payload, attempts"
        );
        Ok(dispatch!(self, |p| sqlx::query_as::<_, Claimed>(&sql)
            .bind(lease_until)
            .bind(at)
            .fetch_optional(p)
            .await)?)
    }

    /// Extends the lease of an item this worker still holds.
    pub async fn renew_claim(&self, queue: Queue, id: i64, until: DateTime<Utc>) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET locked_until = $1 WHERE id = $2 AND status = 'processing'",
            queue.table()
        );
        dispatch!(self, |p| sqlx::query(&sql)
            .bind(until)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// On SQLite the service is a single process, so claims found at start-up were left by a
    /// process that died: release them now instead of waiting for their leases to run out.
    /// (On PostgreSQL other replicas may hold live claims; leases handle that.)
    pub async fn release_orphaned_claims(&self) -> StoreResult<u64> {
        let Pool::Sqlite(p) = &self.pool else {
            return Ok(0);
        };
        let mut released = 0;
        for table in [Queue::Inbox, Queue::Outbox, Queue::Integrations].map(Queue::table) {
            let sql = format!(
                "UPDATE {table} SET status = 'pending', locked_until = NULL WHERE status = 'processing'"
            );
            released += sqlx::query(&sql).execute(p).await?.rows_affected();
        }
        Ok(released)
    }

    /// Puts a claimed item back to be tried at `at`. `count_attempt: false` when it was not
    /// really tried (e.g. held back by a rate limit).
    pub async fn retry_at(
        &self,
        queue: Queue,
        id: i64,
        at: DateTime<Utc>,
        error: Option<&str>,
        count_attempt: bool,
    ) -> StoreResult<()> {
        let table = queue.table();
        let undo = if count_attempt {
            ""
        } else {
            ", attempts = attempts - 1"
        };
        let sql = format!(
            "UPDATE {table} SET status = 'pending', next_attempt_at = $1, locked_until = NULL, \
             last_error = COALESCE($2, last_error){undo} WHERE id = $3"
        );
        dispatch!(self, |p| sqlx::query(&sql)
            .bind(at)
            .bind(error)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Gives up on an item: it stays visible as a dead letter.
    pub async fn mark_dead(&self, queue: Queue, id: i64, error: &str) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET status = 'dead', last_error = $1, locked_until = NULL, finished_at = $2 WHERE id = $3",
            queue.table()
        );
        dispatch!(self, |p| sqlx::query(&sql)
            .bind(error)
            .bind(now())
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Puts dead letter `id` of `queue` back to be tried now, with a fresh count of attempts;
    /// `false` when it is not a dead letter (unknown, or already retried).
    pub async fn requeue_dead(&self, queue: Queue, id: i64) -> StoreResult<bool> {
        let alerted = match queue {
            Queue::Inbox => "",
            Queue::Outbox | Queue::Integrations => ", alerted_at = NULL",
        };
        let sql = format!(
            "UPDATE {} SET status = 'pending', attempts = 0, next_attempt_at = $1, locked_until = NULL, \
             finished_at = NULL{alerted} WHERE id = $2 AND status = 'dead'",
            queue.table()
        );
        let done = dispatch!(self, |p| sqlx::query(&sql)
            .bind(now())
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Records an outbox message as delivered, with the platform's id for it.
    pub async fn mark_sent(&self, id: i64, platform_message_id: Option<&str>) -> StoreResult<()> {
        dispatch!(self, |p| sqlx::query(
            "UPDATE outbox_messages SET status = 'done', platform_message_id = $1, finished_at = $2, \
             locked_until = NULL WHERE id = $3"
        )
        .bind(platform_message_id)
        .bind(now())
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn queue_counts(&self, queue: Queue) -> StoreResult<QueueCounts> {
        let sql = format!("SELECT status, COUNT(*) FROM {} GROUP BY status", queue.table());
        let rows: Vec<(String, i64)> = dispatch!(self, |p| sqlx::query_as(&sql).fetch_all(p).await)?;
        let mut counts = QueueCounts::default();
        for (status, n) in rows {
            match status.as_str() {
                "pending" => counts.pending = n,
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
        let (n,): (i64,) = dispatch!(self, |p| sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM inbox_events WHERE channel = $1 AND chat_id = $2 \
             AND status IN ('pending', 'processing')) + (SELECT COUNT(*) FROM outbox_messages \
             WHERE channel = $1 AND chat_id = $2 AND status IN ('pending', 'processing'))"
        )
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
        Ok(dispatch!(self, |p| sqlx::query_as(
            "SELECT status, payload, platform_message_id FROM outbox_messages \
             WHERE channel = $1 AND chat_id = $2 ORDER BY id"
        )
        .bind(channel)
        .bind(chat_id)
        .fetch_all(p)
        .await)?)
    }
}
