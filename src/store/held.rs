//! Messages kept back until a moment (`held_messages`): a task's new assignee told of it in
//! their quiet hours hears of it when they end. Kept apart from the outbox so that a message
//! waiting for the morning never holds back the rest of its chat; the scheduler releases the
//! due ones into the outbox, where their dedupe keys keep a message from being queued twice
//! (two replicas releasing at once, a release repeated after a crash).

use chrono::{DateTime, Utc};

use super::queue::insert_outbound;
use super::{dispatch_write, now, NewOutbound, Store, StoreError, StoreResult};

/// A held message: its id, its outbox fields, and whether it is still to be sent.
type HeldRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    bool,
);

impl Store {
    /// Keeps `message` (which must have a dedupe key) until `send_at`; a key already held or
    /// queued is kept once.
    pub async fn hold_outbound(&self, message: &NewOutbound, send_at: DateTime<Utc>) -> StoreResult<()> {
        let Some(key) = &message.dedupe_key else {
            return Err(StoreError::Other("a held message needs a dedupe key".into()));
        };
        dispatch_write!(self, |p| {
            sqlx::query(
            "INSERT INTO held_messages (channel, chat_id, payload, dedupe_key, person_id, task_id, send_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(&message.channel)
        .bind(&message.chat_id)
        .bind(&message.payload)
        .bind(key)
        .bind(message.person_id)
        .bind(message.task_id)
        .bind(send_at)
        .bind(now())
        .execute(p)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    /// Moves the messages due at `at` into the outbox, in one transaction; returns how many.
    /// A notice about a task goes only while the task is still its person's and open: one
    /// handed on, or done, in the meantime is dropped.
    pub async fn release_held(&self, at: DateTime<Utc>) -> StoreResult<usize> {
        let released = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let rows: Vec<HeldRow> = sqlx::query_as(
                "SELECT h.id, h.channel, h.chat_id, h.payload, h.dedupe_key, h.person_id, h.task_id, \
                 (h.task_id IS NULL OR EXISTS (SELECT 1 FROM tasks t WHERE t.id = h.task_id \
                 AND t.assignee_id = h.person_id AND t.status <> 'done')) \
                 FROM held_messages h WHERE h.send_at <= $1 ORDER BY h.id",
            )
            .bind(at)
            .fetch_all(&mut *tx)
            .await?;
            // Only what this transaction deleted: a replica releasing at the same moment gets
            // the rest (on PostgreSQL the second waits for the first, then finds them gone).
            let deleted: Vec<(i64,)> =
                sqlx::query_as("DELETE FROM held_messages WHERE send_at <= $1 RETURNING id")
                    .bind(at)
                    .fetch_all(&mut *tx)
                    .await?;
            let deleted: std::collections::HashSet<i64> = deleted.into_iter().map(|(id,)| id).collect();
            let messages: Vec<NewOutbound> = rows
                .into_iter()
                .filter(|row| row.7 && deleted.contains(&row.0))
                .map(
                    |(_, channel, chat_id, payload, key, person_id, task_id, _)| NewOutbound {
                        channel,
                        chat_id,
                        payload,
                        dedupe_key: Some(key),
                        person_id,
                        task_id,
                    },
                )
                .collect();
            let count = messages.len();
            insert_outbound!(tx, messages.iter());
            tx.commit().await?;
            count
        });
        Ok(released)
    }
}
