//! Each chat's inbox events, and each chat's outbox messages, are handled in order, one at a
//! time: only a chat's oldest unfinished item (its head) may be claimed. The items behind a head
//! are stored `waiting`, which no claim looks at, and the next one becomes `pending` when the
//! head ends (done or dead). So a claim examines the heads only, however long the queues behind
//! them are: with 8,000 events waiting in 50 chats, a claim that tested every waiting item
//! against its chat's head was a scan of the backlog on the one writer, each time a worker had
//! a free slot (and in the outbox each time a send was held back by a chat's rate limit).
//!
//! Stored `waiting` or `pending` is decided as an item is stored (is anything of its chat
//! unfinished?), and an ending head promotes its chat's next. That needs one writer, which
//! SQLite has. On PostgreSQL a store and a finish of one chat in two transactions at once each
//! miss the other's row, which under load happened often enough to leave many items waiting
//! with nothing in front (8,000 `/newtask` from 40 clients went from 879 to 510 a second), so
//! on PostgreSQL every item is stored `pending` as before and the claim's one-pass `DISTINCT
//! ON` finds the heads. [`Store::promote_stranded`], which the inbox workers run every few
//! seconds, makes due any item left waiting with nothing in front (a crash between two
//! statements). Order never depends on this bookkeeping: a claim still takes no item with an
//! older unfinished one in its chat.

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::{dispatch_write, Store, StoreResult};

/// An item not yet done or dead: waiting behind its chat's head, due, or being worked.
pub(super) const UNFINISHED: &str = "('waiting', 'pending', 'processing')";

/// An item's status as shown outside (the contract's list), from its `column`: one waiting
/// behind its chat's head is `pending`, not started yet.
macro_rules! shown_status {
    ($column:literal) => {
        concat!(
            "CASE ",
            $column,
            " WHEN 'waiting' THEN 'pending' ELSE ",
            $column,
            " END"
        )
    };
}
pub(super) use shown_status;

/// The queues whose items wait behind their chat's head.
const TABLES: [&str; 2] = ["inbox_events", "outbox_messages"];

/// Whether items are stored `waiting` behind their chat's head on the engine of `qb`: on
/// SQLite, whose one writer sees every store and finish in turn.
pub(super) fn waits<DB: Database>(_: &QueryBuilder<'_, DB>) -> bool {
    DB::NAME == "SQLite"
}

/// The status of one item stored with `channel` and `chat` (placeholders) in `table`: `pending`
/// on PostgreSQL; on SQLite `waiting` behind an unfinished item of its chat, else `pending`.
pub(super) fn stored_status_of(pool: &super::Pool, table: &str, channel: &str, chat: &str) -> String {
    match pool {
        super::Pool::Sqlite(_) => {
            let (open, then_chat, close) = stored_status(table);
            format!("{open}{channel}{then_chat}{chat}{close}")
        }
        super::Pool::Postgres(_) => "'pending'".to_owned(),
    }
}

/// The status an item is stored with, in three parts around the placeholders of its channel and
/// chat: `waiting` behind an unfinished item of its chat in `table`, else `pending` (due).
pub(super) fn stored_status(table: &str) -> (String, &'static str, String) {
    (
        format!("CASE WHEN EXISTS (SELECT 1 FROM {table} u WHERE u.channel = "),
        " AND u.chat_id = ",
        format!(" AND u.status IN {UNFINISHED}) THEN 'waiting' ELSE 'pending' END"),
    )
}

/// An `UPDATE` that makes each of `chats`' oldest unfinished item in `table` `pending` when it
/// is `waiting` (its head ended, or it was stored behind one that ended meanwhile).
pub(super) fn promote_heads<'a, DB>(table: &str, chats: &'a [(String, String)]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut qb = QueryBuilder::new(format!(
        "UPDATE {table} SET status = 'pending' WHERE status = 'waiting' AND id IN (\
         SELECT (SELECT MIN(u.id) FROM {table} u WHERE u.channel = c.column1 \
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
    /// Whether `queue` keeps items waiting behind their chat's head here: on SQLite, for the
    /// inbox and the outbox. Elsewhere there is nothing to promote as a head ends.
    pub(super) fn waits(&self, queue: super::Queue) -> bool {
        queue.keeps_heads() && matches!(self.writer, super::Pool::Sqlite(_))
    }

    /// Promotes every chat's oldest unfinished item that is still `waiting`, in both queues:
    /// the rare item left behind a head that ended while it was being stored in another
    /// transaction (PostgreSQL), or one a crash left between two statements. How many it
    /// promoted.
    pub async fn promote_stranded(&self) -> StoreResult<u64> {
        let mut promoted = 0;
        for table in TABLES {
            let sql = format!(
                "UPDATE {table} SET status = 'pending' WHERE status = 'waiting' AND id IN (\
                 SELECT MIN(id) FROM {table} WHERE status IN {UNFINISHED} GROUP BY channel, chat_id)"
            );
            promoted += dispatch_write!(self, |p| sqlx::query(&sql)
                .execute(p)
                .await
                .map(|r| r.rows_affected()))?;
        }
        if promoted > 0 {
            tracing::info!(
                promoted,
                "queued items left waiting with nothing in front were made due"
            );
        }
        Ok(promoted)
    }
}
