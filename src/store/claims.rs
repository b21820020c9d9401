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

use super::heads::{chats_of, promote_heads, CHATS_PER_STATEMENT};
use super::queue::{insert_outbound, NewOutbound, Queue};
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

/// What finishing one claimed inbox event writes (see [`Store::finish_inbox_batch`]).
#[derive(Debug, Clone)]
pub struct InboxFinish {
    pub claim: Claimed,
    /// What the event and its replies are tagged with for the history, found as the event is
    /// finished.
    pub tags: EventTags,
    /// The event's text as the history shows it; a text kept before (a transcript) stays.
    pub history_text: Option<String>,
    /// Each is tagged with the event's person, and its task unless it names one.
    pub replies: Vec<NewOutbound>,
}

/// How an inbound event's history tags are found: the person its sender's chat identity is
/// linked to, and the task it created or commented on (through a command or the agent, by its
/// `source_key` and the keys that extend it: `{key}:{step}:{call}`), else `task_hint` (a task
/// its text or button names).
#[derive(Debug, Clone)]
pub struct EventTags {
    pub channel: String,
    pub external_id: String,
    pub source_key: String,
    pub task_hint: Option<i64>,
}

/// `SET` clauses that tag an inbox event from its [`EventTags`], read from the columns of `v`
/// (a `VALUES` row: the channel, the external id, the source key, the two ends of the keys that
/// extend it, the hint, in `column4` to `column9`): found in the statement that finishes the
/// event, so finding them costs no statement.
fn tag_columns(pool: &Pool) -> String {
    // The keys extending `{key}`, in byte order, lie between `{key}:` and `{key};`: an index
    // range on both databases.
    let bytes = match pool {
        Pool::Sqlite(_) => "",
        Pool::Postgres(_) => " COLLATE \"C\"",
    };
    let [channel, external, key, from, to, hint] = std::array::from_fn(|n| format!("v.column{}", n + 4));
    format!(
        "person_id = (SELECT person_id FROM identities WHERE channel = {channel} AND external_id = {external}), \
         task_id = COALESCE((SELECT MIN(task) FROM (\
          SELECT id AS task FROM tasks WHERE source_key = {key} \
          OR (source_key{bytes} >= {from} AND source_key{bytes} < {to}) \
          UNION ALL SELECT task_id AS task FROM comments WHERE source_key = {key} \
          OR (source_key{bytes} >= {from} AND source_key{bytes} < {to})) made), {hint})"
    )
}

/// This process's worker id: its pid and a random suffix (pids repeat across hosts and
/// restarts). Two claims of one item never share a token, since each counts an attempt.
pub fn worker_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("{}-{:08x}", std::process::id(), rand::random::<u32>()))
}

/// The condition every update of a claim carries, given the placeholders of its token and id.
fn held(token: &str, id: &str) -> String {
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
        // (its head) may be claimed, so several workers never answer a chat out of turn. (The
        // inbox keeps the events behind a head `waiting`, so its candidates are the heads.)
        let first_of_chat = |alias: &str| {
            format!(
                "NOT EXISTS (SELECT 1 FROM {table} o WHERE o.channel = {alias}.channel \
                 AND o.chat_id = {alias}.chat_id AND o.id < {alias}.id AND o.status IN {})",
                queue.unfinished()
            )
        };
        let sql = match self.pool {
            // SQLite: a correlated NOT EXISTS, one index probe per candidate.
            Pool::Sqlite(_) => format!(
                "UPDATE {table} {set} WHERE id IN (SELECT q.id FROM {table} q WHERE {due_q}{only_q} \
                 AND {first_q} ORDER BY q.next_attempt_at, q.id LIMIT $4) {returning}",
                due_q = due("q"),
                only_q = only("q"),
                first_q = first_of_chat("q"),
            ),
            // PostgreSQL: the heads in one pass (DISTINCT ON), whatever the planner's
            // statistics say. A queue table that filled up since its last ANALYZE made the
            // NOT EXISTS above a nested loop over every unfinished row, about 0.7 s a claim with
            // 1,600 replies waiting. Heads locked by another worker are skipped, so a few more
            // are picked than claimed.
            Pool::Postgres(_) => format!(
                "UPDATE {table} {set} WHERE id IN (SELECT q.id FROM {table} q WHERE q.id IN (\
                 SELECT h.id FROM (SELECT DISTINCT ON (channel, chat_id) id, channel, status, \
                 next_attempt_at, locked_until FROM {table} WHERE status IN ('pending', 'processing') \
                 ORDER BY channel, chat_id, id) h WHERE {due_h}{only_h} \
                 ORDER BY h.next_attempt_at, h.id LIMIT $4 * 4) AND {due_q} AND {first_q} \
                 ORDER BY q.next_attempt_at, q.id LIMIT $4 FOR UPDATE SKIP LOCKED) {returning}",
                due_h = due("h"),
                only_h = only("h"),
                due_q = due("q"),
                first_q = first_of_chat("q"),
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

    /// Marks inbox event `claim` done and queues its replies, in one transaction. `false`
    /// (and nothing queued) when the claim was lost: another worker took the event over.
    /// Without a claim, only queues the replies.
    pub async fn finish_inbox_with(
        &self,
        claim: Option<&Claimed>,
        replies: &[NewOutbound],
    ) -> StoreResult<bool> {
        let at = now();
        let finish = format!(
            "UPDATE inbox_events SET status = 'done', finished_at = $1, locked_until = NULL WHERE {}",
            held("$2", "$3")
        );
        let waits = self.waits(Queue::Inbox);
        let applied = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let mut applied = true;
            if let Some(claim) = claim {
                let done = sqlx::query(&finish)
                    .bind(at)
                    .bind(&claim.token)
                    .bind(claim.id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                applied = done == 1;
                if applied && waits {
                    let chats = [(claim.channel.clone(), claim.chat_id.clone())];
                    promote_heads("inbox_events", &chats)
                        .build()
                        .execute(&mut *tx)
                        .await?;
                }
            }
            if applied {
                insert_outbound!(tx, replies, at);
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            applied
        });
        Ok(applied)
    }

    /// Finishes several claimed inbox events in one transaction: each is marked done, tagged
    /// with its sender, task and text, and its replies queued, while its claim still holds.
    /// Says for each whether it applied (`false`: the claim was lost and nothing of it was
    /// written). One commit for a batch, and one statement for its events and one for its
    /// replies, is what lets the inbox keep up with the webhooks.
    pub async fn finish_inbox_batch(&self, items: &[InboxFinish]) -> StoreResult<Vec<bool>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let at = now();
        // `v`: one row per event (id, token, text, then the tags' values).
        let head = "UPDATE inbox_events SET status = 'done', finished_at = ";
        let tail = format!(
            ", locked_until = NULL, text = COALESCE(inbox_events.text, v.column3), {} FROM (",
            tag_columns(&self.writer)
        );
        let condition = ") AS v WHERE inbox_events.id = v.column1 AND inbox_events.claim_token = v.column2 \
                         AND inbox_events.status = 'processing' \
                         RETURNING inbox_events.id, inbox_events.person_id, inbox_events.task_id, \
                         EXISTS (SELECT 1 FROM inbox_events w WHERE w.channel = inbox_events.channel \
                         AND w.chat_id = inbox_events.chat_id AND w.status = 'waiting')";
        let applied = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let mut done = std::collections::HashMap::with_capacity(items.len());
            // 9 values an event: a thousand events to a statement stays inside every engine's
            // bound on values.
            for chunk in items.chunks(1_000) {
                let mut qb = sqlx::QueryBuilder::new(head);
                qb.push_bind(at).push(&tail);
                qb.push_values(chunk, |mut row, item| {
                    let tags = &item.tags;
                    row.push_bind(item.claim.id)
                        .push_bind(&item.claim.token)
                        .push_bind(item.history_text.as_deref())
                        .push_bind(&tags.channel)
                        .push_bind(&tags.external_id)
                        .push_bind(&tags.source_key)
                        .push_bind(format!("{}:", tags.source_key))
                        .push_bind(format!("{};", tags.source_key))
                        .push_bind(tags.task_hint);
                });
                qb.push(condition);
                let rows: Vec<(i64, Option<i64>, Option<i64>, bool)> =
                    qb.build_query_as().fetch_all(&mut *tx).await?;
                done.extend(
                    rows.into_iter()
                        .map(|(id, person, task, behind)| (id, (person, task, behind))),
                );
            }
            let mut replies = Vec::new();
            let mut applied = Vec::with_capacity(items.len());
            for item in items {
                let tagged = done.get(&item.claim.id).copied();
                if let Some((person_id, task_id, _)) = tagged {
                    replies.extend(item.replies.iter().map(|reply| NewOutbound {
                        person_id,
                        task_id: reply.task_id.or(task_id),
                        ..reply.clone()
                    }));
                }
                applied.push(tagged.is_some());
            }
            // The next event of each chat whose head this finished, where one waits (the
            // statement that finished it said so): no statement when none does.
            let finished = chats_of(
                items
                    .iter()
                    .filter(|item| done.get(&item.claim.id).is_some_and(|(_, _, behind)| *behind))
                    .map(|item| (item.claim.channel.as_str(), item.claim.chat_id.as_str())),
            );
            for chunk in finished.chunks(CHATS_PER_STATEMENT) {
                promote_heads("inbox_events", chunk)
                    .build()
                    .execute(&mut *tx)
                    .await?;
            }
            // The batch's replies in one statement.
            insert_outbound!(tx, replies, at);
            tx.commit().await?;
            applied
        });
        Ok(applied)
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
        let waits = self.waits(queue);
        let chats = [(claim.channel.clone(), claim.chat_id.clone())];
        let done = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let done = sqlx::query(sql)
                .bind(text)
                .bind(now())
                .bind(&claim.token)
                .bind(claim.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 1 && waits {
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
