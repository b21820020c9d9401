//! The admins' alerts: the one alert chat, the alert keys already raised (each alert once, and
//! at most so many an hour per kind, the rest counted for a summary), the dead letters not yet
//! looked at, and the channels whose messages keep failing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::super::{dispatch, dispatch_write, NewOutbound, Queue, Store, StoreResult};
use crate::store::queue::insert_outbound;

/// Where the admins' alerts go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
pub struct AlertChat {
    pub channel: String,
    pub chat_id: String,
    /// Who made it the alert chat.
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

/// A dead letter (outbox message or integration job) no alert has looked at yet.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnalertedDead {
    pub id: i64,
    /// The channel (outbox) or the job's kind (integrations).
    pub channel: String,
    pub chat_id: String,
    pub dedupe_key: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// A channel with messages that fail and are retried.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FailingChannel {
    pub channel: String,
    /// The oldest failing message.
    pub first_id: i64,
    /// When the oldest failing message was queued.
    pub since: DateTime<Utc>,
    pub failing: i64,
}

/// An alert to raise: `key` says which failure it is (an alert is sent once per key).
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub key: String,
    /// `dead_letter`, `channel`, `integration`, `handbook`: the hourly limit is per kind.
    pub kind: &'static str,
    pub text: String,
}

/// What raising an alert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raised {
    /// Queued for the alert chat.
    Sent,
    /// New, but over its kind's hourly limit: counted for a summary.
    Held,
    /// Raised before (and not yet due again): nothing sent.
    Known,
}

/// The hourly limit of alerts of one kind.
#[derive(Debug, Clone, Copy)]
pub struct AlertLimits {
    /// A key raised before this moment counts as new again.
    pub rearm_before: DateTime<Utc>,
    /// Alerts sent since this moment count against `max_sent`.
    pub window_start: DateTime<Utc>,
    pub max_sent: i64,
}

impl Store {
    pub async fn alert_chat(&self) -> StoreResult<Option<AlertChat>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, AlertChat>(
            "SELECT channel, chat_id, set_by, set_at FROM alert_chat WHERE id = 1"
        )
        .fetch_optional(p)
        .await)?)
    }

    /// Makes a chat the alert chat. Dead letters from before are not alerted.
    pub async fn set_alert_chat(
        &self,
        channel: &str,
        chat_id: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            sqlx::query(
                "INSERT INTO alert_chat (id, channel, chat_id, set_by, set_at) VALUES (1, $1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET channel = excluded.channel, chat_id = excluded.chat_id, \
                 set_by = excluded.set_by, set_at = excluded.set_at",
            )
            .bind(channel)
            .bind(chat_id)
            .bind(by)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for table in ["outbox_messages", "integration_jobs"] {
                let sql = format!(
                    "UPDATE {table} SET alerted_at = $1 WHERE status = 'dead' AND alerted_at IS NULL"
                );
                sqlx::query(&sql).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// No alert chat any more; `false` when there was none.
    pub async fn clear_alert_chat(&self) -> StoreResult<bool> {
        let done = dispatch_write!(self, |p| sqlx::query("DELETE FROM alert_chat WHERE id = 1")
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Dead letters of `queue` (outbox or integrations; the inbox is not alerted) no alert has
    /// looked at, oldest first.
    pub async fn unalerted_dead(&self, queue: Queue, limit: i64) -> StoreResult<Vec<UnalertedDead>> {
        let Some(table) = alerted_table(queue) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT id, channel, chat_id, dedupe_key, attempts, last_error FROM {table} \
             WHERE status = 'dead' AND alerted_at IS NULL ORDER BY id LIMIT $1"
        );
        Ok(dispatch!(self, |p| sqlx::query_as::<_, UnalertedDead>(&sql)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Records that dead letter `id` of `queue` was looked at for an alert.
    pub async fn mark_alerted(&self, queue: Queue, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        let Some(table) = alerted_table(queue) else {
            return Ok(());
        };
        let sql = format!("UPDATE {table} SET alerted_at = $1 WHERE id = $2");
        dispatch_write!(self, |p| sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Channels whose oldest unsent message has failed at least once and that delivered
    /// nothing queued after it.
    pub async fn failing_channels(&self) -> StoreResult<Vec<FailingChannel>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, FailingChannel>(
            "SELECT q.channel, MIN(q.id) AS first_id, MIN(q.created_at) AS since, COUNT(*) AS failing \
             FROM outbox_messages q WHERE q.status IN ('pending', 'processing') AND q.attempts > 0 \
             AND q.last_error IS NOT NULL GROUP BY q.channel"
        )
        .fetch_all(p)
        .await)?)
    }

    /// Whether channel `channel` delivered a message queued after message `after`.
    pub async fn delivered_since(&self, channel: &str, after: i64) -> StoreResult<bool> {
        let found = dispatch!(self, |p| sqlx::query_scalar::<_, i64>(
            "SELECT id FROM outbox_messages WHERE channel = $1 AND id > $2 AND status = 'done' LIMIT 1"
        )
        .bind(channel)
        .bind(after)
        .fetch_optional(p)
        .await)?;
        Ok(found.is_some())
    }

    /// Raises `alert` and, when it is new and under its kind's limit, queues `message` (if
    /// any) with it in one transaction.
    pub async fn raise_alert(
        &self,
        alert: &NewAlert,
        message: Option<&NewOutbound>,
        limits: AlertLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<Raised> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let inserted = sqlx::query(
                "INSERT INTO alerts (key, kind, text, occurrences, raised_at, last_seen_at) \
                 VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT (key) DO NOTHING",
            )
            .bind(&alert.key)
            .bind(alert.kind)
            .bind(&alert.text)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let fresh = inserted == 1
                || sqlx::query(
                    "UPDATE alerts SET text = $1, occurrences = occurrences + 1, raised_at = $2, \
                     last_seen_at = $2, sent_at = NULL, summarized_at = NULL WHERE key = $3 AND raised_at < $4",
                )
                .bind(&alert.text)
                .bind(now)
                .bind(&alert.key)
                .bind(limits.rearm_before)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
            if !fresh {
                sqlx::query(
                    "UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = $1 WHERE key = $2",
                )
                .bind(now)
                .bind(&alert.key)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                self.feed_changed();
                return Ok(Raised::Known);
            }
            let sent: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE kind = $1 AND sent_at >= $2")
                    .bind(alert.kind)
                    .bind(limits.window_start)
                    .fetch_one(&mut *tx)
                    .await?;
            if sent >= limits.max_sent {
                tx.commit().await?;
                self.feed_changed();
                return Ok(Raised::Held);
            }
            insert_outbound!(tx, message.as_slice());
            sqlx::query("UPDATE alerts SET sent_at = $1 WHERE key = $2")
                .bind(now)
                .bind(&alert.key)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            self.feed_changed();
            Ok(Raised::Sent)
        })
    }

    /// Per kind: alerts held back and not yet summarized, and alerts sent since `window_start`.
    pub async fn held_alerts(&self, window_start: DateTime<Utc>) -> StoreResult<Vec<(String, i64, i64)>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT h.kind, COUNT(*), (SELECT COUNT(*) FROM alerts s WHERE s.kind = h.kind \
             AND s.sent_at >= $1) FROM alerts h WHERE h.sent_at IS NULL AND h.summarized_at IS NULL \
             GROUP BY h.kind ORDER BY h.kind"
        )
        .bind(window_start)
        .fetch_all(p)
        .await)?)
    }

    /// Marks the held alerts of `kind` as summarized and queues the summary `message`, which
    /// counts as an alert of that kind (under `key`); how many it summarizes.
    pub async fn summarize_alerts(
        &self,
        kind: &str,
        key: &str,
        message: &NewOutbound,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let held = sqlx::query(
                "UPDATE alerts SET summarized_at = $1 WHERE kind = $2 AND sent_at IS NULL \
                 AND summarized_at IS NULL",
            )
            .bind(now)
            .bind(kind)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if held > 0 {
                sqlx::query(
                    "INSERT INTO alerts (key, kind, text, occurrences, raised_at, last_seen_at, sent_at) \
                     VALUES ($1, $2, 'summary', 1, $3, $3, $3) ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(kind)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                insert_outbound!(tx, std::slice::from_ref(message));
            }
            tx.commit().await?;
            Ok(held)
        })
    }

    /// Forgets the alert under `key` (its failure is over: the next one is new); whether it had
    /// been sent.
    pub async fn forget_alert(&self, key: &str) -> StoreResult<Option<bool>> {
        let forgotten = dispatch_write!(self, |p| sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
            "DELETE FROM alerts WHERE key = $1 RETURNING sent_at"
        )
        .bind(key)
        .fetch_optional(p)
        .await)?;
        if forgotten.is_some() {
            self.feed_changed();
        }
        Ok(forgotten.map(|sent_at| sent_at.is_some()))
    }

    /// The keys of alerts of `kind`.
    pub async fn alert_keys(&self, kind: &str) -> StoreResult<Vec<String>> {
        Ok(dispatch!(self, |p| sqlx::query_scalar::<_, String>(
            "SELECT key FROM alerts WHERE kind = $1 ORDER BY key"
        )
        .bind(kind)
        .fetch_all(p)
        .await)?)
    }
}

/// The tables whose dead letters are alerted.
fn alerted_table(queue: Queue) -> Option<&'static str> {
    match queue {
        Queue::Outbox => Some("outbox_messages"),
        Queue::Integrations => Some("integration_jobs"),
        Queue::Inbox => None,
    }
}
