//! Finishing claimed inbox events: each is marked done, tagged for the history and its replies
//! queued, in the transaction that ends its claim, and each chat's next event made due.

use super::claims::{held, Claimed};
use super::heads::{chats_of, promote_heads, CHATS_PER_STATEMENT};
use super::queue::{insert_outbound, NewOutbound, Queue};
use super::{dispatch_write, now, Pool, Store, StoreResult};

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

impl Store {
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
        // Whether an event of the chat waits behind the finished one (never where nothing waits).
        let behind = if self.waits(Queue::Inbox) {
            "EXISTS (SELECT 1 FROM inbox_events w WHERE w.channel = inbox_events.channel \
             AND w.chat_id = inbox_events.chat_id AND w.status = 'waiting')"
        } else {
            "FALSE"
        };
        let condition = format!(
            ") AS v WHERE inbox_events.id = v.column1 AND inbox_events.claim_token = v.column2 \
             AND inbox_events.status = 'processing' \
             RETURNING inbox_events.id, inbox_events.person_id, inbox_events.task_id, {behind}"
        );
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
                qb.push(&condition);
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
}
