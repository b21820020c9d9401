//! Each chat's inbox events are worked in order, one at a time: only a chat's oldest unfinished
//! event (its head) may be claimed. The events behind a head are stored `waiting`, which no
//! claim looks at, and the next one becomes `pending` when the head ends (done or dead). So a
//! claim examines the heads only, however long the queues behind them are: with 8,000 events
//! waiting in 50 chats, a claim that tested every waiting event against its chat's head was a
//! scan of the backlog on the one writer, each time a worker had a free slot.
//!
//! Stored `waiting` or `pending` is decided as an event is stored (is anything of its chat
//! unfinished?), and an ending head promotes its chat's next. On PostgreSQL a store and a finish
//! of one chat in two transactions at the same moment can each miss the other, leaving a
//! `waiting` event with no head in front: [`Store::promote_stranded`], which the inbox workers
//! run every few seconds, promotes it. Order never depends on this bookkeeping: a claim still
//! takes no event with an older unfinished one in its chat.

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::{dispatch_write, Store, StoreResult};

/// An inbox event not yet done or dead: waiting behind its chat's head, due, or being worked.
pub(super) const UNFINISHED: &str = "('waiting', 'pending', 'processing')";

/// An `UPDATE` that makes each of `chats`' oldest unfinished event `pending` when it is
/// `waiting` (its head ended, or it was stored behind one that ended meanwhile).
pub(super) fn promote_heads<'a, DB>(chats: &'a [(String, String)]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut qb = QueryBuilder::new(format!(
        "UPDATE inbox_events SET status = 'pending' WHERE status = 'waiting' AND id IN (\
         SELECT (SELECT MIN(u.id) FROM inbox_events u WHERE u.channel = c.column1 \
         AND u.chat_id = c.column2 AND u.status IN {UNFINISHED}) FROM ("
    ));
    qb.push_values(chats, |mut row, (channel, chat)| {
        row.push_bind(channel.as_str()).push_bind(chat.as_str());
    });
    qb.push(") AS c)");
    qb
}

/// The distinct chats of `items`, in first-seen order.
pub(super) fn chats_of<'a>(items: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|chat| seen.insert(*chat))
        .map(|(channel, chat)| (channel.to_owned(), chat.to_owned()))
        .collect()
}

/// Chats to a promoting statement: two values each, well inside every engine's bound.
pub(super) const CHATS_PER_STATEMENT: usize = 1_000;

impl Store {
    /// Promotes every chat's oldest unfinished event that is still `waiting`: the rare event
    /// left behind a head that ended while it was being stored in another transaction
    /// (PostgreSQL), or one a crash left between two statements. How many it promoted.
    pub async fn promote_stranded(&self) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE inbox_events SET status = 'pending' WHERE status = 'waiting' AND id IN (\
             SELECT MIN(id) FROM inbox_events WHERE status IN {UNFINISHED} GROUP BY channel, chat_id)"
        );
        let promoted = dispatch_write!(self, |p| sqlx::query(&sql)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        if promoted > 0 {
            tracing::info!(
                promoted,
                "inbox events left waiting with no event in front were made due"
            );
        }
        Ok(promoted)
    }
}
