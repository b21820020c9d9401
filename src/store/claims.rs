//! Claims on the durable queues. A worker claims the next due item with a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer) and a claim token,
//! `worker-id:attempt`, written into the row. Every later update of the claim (renew, finish,
//! retry later, dead letter) applies only while the row is still `processing` under that token,
//! and says whether it applied: a worker whose lease ran out while another took the item over
//! can no longer change it, so a stale worker never flips a finished row back to pending or
//! dead. A claim whose lease ran out (the worker died or stalled) is claimed again, so a crash
//! at any point delays work but never loses it.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use super::heads::promote_heads;
use super::queue::Queue;
use super::{dispatch_write, now, Pool, Store, StoreResult};

/// A claimed item: its id, JSON payload, how many times it has been claimed, and the token
/// that proves this claim is still the current one.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub channel: String,
    pub chat_id: String,
    pub payload: String,
    pub attempts: i32,
    /// `worker-id:attempt`, as written by the claim.
    #[sqlx(rename = "claim_token")]
    pub token: String,
}

/// This process's worker id: its pid and a random suffix (pids repeat across hosts and
/// restarts). Two claims of one item never share a token, since each counts an attempt.
pub fn worker_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("{}-{:08x}", std::process::id(), rand::random::<u32>()))
}

/// The condition every update of a claim carries, given the placeholders of its token and id.
pub(super) fn held(token: &str, id: &str) -> String {
    format!("id = {id} AND claim_token = {token} AND status = 'processing'")
}

impl Store {
    /// Claims the next due item of one of `channels` (all when `None`), leasing it until
    /// `lease_until`.
    pub async fn claim(
        &self,
        queue: Queue,
        channels: Option<&[crate::domain::Channel]>,
        at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Claimed>> {
        let mut claimed = self.claim_batch(queue, channels, at, lease_until, 1).await?;
        Ok(claimed.pop())
    }

    /// Claims up to `limit` due items of `channels` (all when `None`) in one statement, oldest
    /// first, leasing each until `lease_until`: at most one per chat, and none of a chat whose
    /// older item is unfinished, so a batch worked all at once still answers each chat in turn.
    pub async fn claim_batch(
        &self,
        queue: Queue,
        channels: Option<&[crate::domain::Channel]>,
        at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Claimed>> {
        let table = queue.table();
        // The names come from our own enum, never from input.
        let only = |alias: &str| match channels {
            None => String::new(),
            Some(list) => {
                let names: Vec<String> = list.iter().map(|c| format!("'{}'", c.as_str())).collect();
                format!(" AND {alias}.channel IN ({})", names.join(", "))
            }
        };
        if channels.is_some_and(<[_]>::is_empty) {
            return Ok(Vec::new());
        }
        let due = |alias: &str| {
            format!(
                "(({alias}.status = 'pending' AND {alias}.next_attempt_at <= $2) \
                 OR ({alias}.status = 'processing' AND {alias}.locked_until <= $2))"
            )
        };
        let set = "SET status = 'processing', locked_until = $1, attempts = attempts + 1, \
                   claim_token = CAST($3 AS TEXT) || ':' || CAST(attempts + 1 AS TEXT)";
        let returning = "RETURNING id, channel, chat_id, payload, attempts, claim_token";
        // Each chat's items are handled in order: only the oldest unfinished item of a chat
        // (its head, `waiting` items included) may be claimed, so several workers never answer
        // a chat out of turn.
        let unfinished = queue.unfinished();
        let sql = match self.pool {
            // SQLite: a correlated NOT EXISTS, one index probe per candidate. (The inbox and the
            // outbox keep the items behind a head `waiting`, so their candidates are the heads.)
            Pool::Sqlite(_) => format!(
                "UPDATE {table} {set} WHERE id IN (SELECT q.id FROM {table} q WHERE {due_q}{only_q} \
                 AND NOT EXISTS (SELECT 1 FROM {table} o WHERE o.channel = q.channel \
                 AND o.chat_id = q.chat_id AND o.id < q.id AND o.status IN {unfinished}) \
                 ORDER BY q.next_attempt_at, q.id LIMIT $4) {returning}",
                due_q = due("q"),
                only_q = only("q"),
            ),
            // PostgreSQL: the heads in one pass (DISTINCT ON), whatever the planner's
            // statistics say. A queue table that filled up since its last ANALYZE made the
            // NOT EXISTS above a nested loop over every unfinished row, about 0.7 s a claim with
            // 1,600 replies waiting. Heads locked by another worker are skipped, so a few more
            // are picked than claimed.
            Pool::Postgres(_) => format!(
                "UPDATE {table} {set} WHERE id IN (SELECT q.id FROM {table} q WHERE q.id IN (\
                 SELECT h.id FROM (SELECT DISTINCT ON (channel, chat_id) id, channel, status, \
                 next_attempt_at, locked_until FROM {table} WHERE status IN {unfinished} \
                 ORDER BY channel, chat_id, id) h WHERE {due_h}{only_h} \
                 ORDER BY h.next_attempt_at, h.id LIMIT $4 * 4) AND {due_q} \
                 ORDER BY q.next_attempt_at, q.id LIMIT $4 FOR UPDATE SKIP LOCKED) {returning}",
                due_h = due("h"),
                only_h = only("h"),
                due_q = due("q"),
            ),
        };
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let mut claimed = dispatch_write!(self, |p| sqlx::query_as::<_, Claimed>(&sql)
            .bind(lease_until)
            .bind(at)
            .bind(worker_id())
            .bind(limit)
            .fetch_all(p)
            .await)?;
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// Extends the lease of an item this claim still holds; `false` when it no longer does
    /// (finished, or taken over by another worker).
    pub async fn renew_claim(
        &self,
        queue: Queue,
        claim: &Claimed,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE {} SET locked_until = $1 WHERE {}",
            queue.table(),
            held("$2", "$3")
        );
        let done = dispatch_write!(self, |p| sqlx::query(&sql)
            .bind(until)
            .bind(&claim.token)
            .bind(claim.id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// On SQLite the service is a single process, so claims found at start-up were left by a
    /// process that died: release them now instead of waiting for their leases to run out.
    /// (On PostgreSQL other replicas may hold live claims; leases handle that.)
    pub async fn release_orphaned_claims(&self) -> StoreResult<u64> {
        let Pool::Sqlite(p) = &self.writer else {
            return Ok(0);
        };
        let mut released = 0;
        for table in [Queue::Inbox, Queue::Outbox, Queue::Integrations].map(Queue::table) {
            let sql = format!(
                "UPDATE {table} SET status = 'pending', locked_until = NULL, claim_token = NULL \
                 WHERE status = 'processing'"
            );
            released += sqlx::query(&sql).execute(p).await?.rows_affected();
        }
        Ok(released)
    }

    /// Puts a claimed item back to be tried at `at`. `count_attempt: false` when it was not
    /// really tried (e.g. held back by a rate limit). `false` when the claim was lost.
    pub async fn retry_at(
        &self,
        queue: Queue,
        claim: &Claimed,
        at: DateTime<Utc>,
        error: Option<&str>,
        count_attempt: bool,
    ) -> StoreResult<bool> {
        let table = queue.table();
        let undo = if count_attempt {
            ""
        } else {
            ", attempts = attempts - 1"
        };
        let sql = format!(
            "UPDATE {table} SET status = 'pending', next_attempt_at = $1, locked_until = NULL, \
             last_error = COALESCE($2, last_error){undo} WHERE {}",
            held("$3", "$4")
        );
        let done = dispatch_write!(self, |p| sqlx::query(&sql)
            .bind(at)
            .bind(error)
            .bind(&claim.token)
            .bind(claim.id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Gives up on a claimed item: it stays visible as a dead letter (and the next item of its
    /// chat is due). `false` when the claim was lost.
    pub async fn mark_dead(&self, queue: Queue, claim: &Claimed, error: &str) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE {} SET status = 'dead', last_error = $1, locked_until = NULL, finished_at = $2 WHERE {}",
            queue.table(),
            held("$3", "$4")
        );
        let done = self.end_claim(queue, &sql, Some(error), claim).await?;
        if done {
            self.feed_changed();
        }
        Ok(done)
    }

    /// Records a claimed outbox message as delivered, with the platform's id for it (and the
    /// next message of its chat is due). `false` when the claim was lost (the send outlived it
    /// and another worker took the message over).
    pub async fn mark_sent(&self, claim: &Claimed, platform_message_id: Option<&str>) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE outbox_messages SET status = 'done', platform_message_id = $1, finished_at = $2, \
             locked_until = NULL WHERE {}",
            held("$3", "$4")
        );
        self.end_claim(Queue::Outbox, &sql, platform_message_id, claim)
            .await
    }

    /// Ends claimed item `claim` with `sql` (`$1` a text, `$2` the time, `$3` and `$4` the
    /// claim's token and id) and, in the same transaction, makes the next item of its chat due.
    /// `false` when the claim was lost.
    async fn end_claim(
        &self,
        queue: Queue,
        sql: &str,
        text: Option<&str>,
        claim: &Claimed,
    ) -> StoreResult<bool> {
        // The ending statement with its binds, the same with or without a transaction.
        macro_rules! ending {
            () => {
                sqlx::query(sql)
                    .bind(text)
                    .bind(now())
                    .bind(&claim.token)
                    .bind(claim.id)
            };
        }
        if !self.waits(queue) {
            // Nothing waits behind a head here: one statement, no transaction.
            let done = dispatch_write!(self, |p| ending!().execute(p).await.map(|r| r.rows_affected()))?;
            return Ok(done == 1);
        }
        let chats = [(claim.channel.clone(), claim.chat_id.clone())];
        let done = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let done = ending!().execute(&mut *tx).await?.rows_affected();
            if done == 1 {
                promote_heads(queue.table(), &chats)
                    .build()
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            done
        });
        Ok(done == 1)
    }

    /// Marks a claimed integration job done; `false` when the claim was lost.
    pub async fn finish_integration_job(&self, claim: &Claimed) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE integration_jobs SET status = 'done', finished_at = $1, locked_until = NULL WHERE {}",
            held("$2", "$3")
        );
        let done = dispatch_write!(self, |p| sqlx::query(&sql)
            .bind(now())
            .bind(&claim.token)
            .bind(claim.id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}
