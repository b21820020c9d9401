//! What was received (the inbox) and sent (the outbox), side by side, for
//! `GET /integrations/history`: each row with the person and the task it concerns when known.
//! The inbox worker tags an event once it is processed (who sent it, which task it made or
//! touched, the text it was read as); a row without a tag falls back to the person whose chat
//! identity is the chat. Also the one-row enqueue that tells the API its outbox message id.

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::heads::shown_status;
use super::{dispatch, dispatch_write, now, NewOutbound, Store, StoreResult};

/// Which rows of the history.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub channel: Option<String>,
    /// A person's handle.
    pub person: Option<String>,
    pub task_id: Option<i64>,
    /// `in` or `out`; both when `None`.
    pub direction: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// One message of the history.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HistoryRecord {
    /// `in` or `out`.
    pub direction: String,
    /// The inbox event's or outbox message's id.
    pub id: i64,
    pub channel: String,
    pub chat_id: String,
    /// The stored `InboundEvent` or `OutboundMessage` JSON.
    pub payload: String,
    /// An inbound event's text as it was read (a voice note's transcript), once processed.
    pub text: Option<String>,
    pub status: String,
    pub last_error: Option<String>,
    pub person: Option<String>,
    pub task_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// An outbox row as the API queued it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct QueuedMessage {
    pub id: i64,
    pub channel: String,
    pub chat_id: String,
    pub payload: String,
    pub status: String,
}

/// One side of the history's union: `$table`'s items as `$direction`, with `$text` as their
/// text. An item waiting behind its chat's head shows as pending: not started yet.
macro_rules! side_columns {
    ($direction:literal, $text:literal, $table:literal) => {
        concat!(
            "SELECT '",
            $direction,
            "' AS direction, e.id, e.channel, e.chat_id, e.payload, ",
            $text,
            " AS text, ",
            shown_status!("e.status"),
            " AS status, e.last_error, e.task_id, COALESCE(e.person_id, i.person_id) AS person_id, \
             e.created_at, e.finished_at FROM ",
            $table,
            " e LEFT JOIN identities i ON i.channel = e.channel AND i.external_id = e.chat_id \
             WHERE 1 = 1"
        )
    };
}
const IN_COLUMNS: &str = side_columns!("in", "e.text", "inbox_events");
const OUT_COLUMNS: &str = side_columns!("out", "NULL", "outbox_messages");

/// Appends the conditions of `filter` to one side of the union (its table is `e`).
fn push_conditions<'a, DB>(qb: &mut QueryBuilder<'a, DB>, filter: &'a HistoryFilter)
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    if let Some(channel) = &filter.channel {
        qb.push(" AND e.channel = ").push_bind(channel.as_str());
    }
    if let Some(task_id) = filter.task_id {
        qb.push(" AND e.task_id = ").push_bind(task_id);
    }
    if let Some(handle) = &filter.person {
        qb.push(" AND COALESCE(e.person_id, i.person_id) = (SELECT id FROM people WHERE handle = ")
            .push_bind(handle.as_str())
            .push(")");
    }
}

/// `SELECT … FROM (inbox UNION ALL outbox) h`, both sides filtered. With `first`, each side
/// gives only its newest `first` rows (read backwards along its `created_at` index), so a page
/// costs the same however long the history is.
fn push_union<'a, DB>(qb: &mut QueryBuilder<'a, DB>, filter: &'a HistoryFilter, first: Option<i64>)
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let sides: Vec<&str> = match filter.direction.as_deref() {
        Some("in") => vec![IN_COLUMNS],
        Some("out") => vec![OUT_COLUMNS],
        _ => vec![IN_COLUMNS, OUT_COLUMNS],
    };
    qb.push(" FROM (");
    for (n, side) in sides.into_iter().enumerate() {
        if n > 0 {
            qb.push(" UNION ALL ");
        }
        if first.is_some() {
            qb.push("SELECT * FROM (");
        }
        qb.push(side);
        push_conditions(qb, filter);
        if let Some(first) = first {
            qb.push(" ORDER BY e.created_at DESC, e.id DESC LIMIT ")
                .push_bind(first)
                .push(format!(") side{n}"));
        }
    }
    qb.push(") h");
}

impl Store {
    /// A page of the history, newest first, and the number of all matches.
    pub async fn history(&self, filter: &HistoryFilter) -> StoreResult<(Vec<HistoryRecord>, i64)> {
        Ok(dispatch!(self, |p| {
            let mut qb = QueryBuilder::new(
                "SELECT h.direction, h.id, h.channel, h.chat_id, h.payload, h.text, h.status, h.last_error, \
                 pe.handle AS person, h.task_id, h.created_at, h.finished_at",
            );
            push_union(&mut qb, filter, Some(filter.limit.saturating_add(filter.offset)));
            qb.push(
                " LEFT JOIN people pe ON pe.id = h.person_id ORDER BY h.created_at DESC, h.id DESC LIMIT ",
            )
            .push_bind(filter.limit)
            .push(" OFFSET ")
            .push_bind(filter.offset);
            let rows = qb.build_query_as::<HistoryRecord>().fetch_all(p).await?;
            let mut count = QueryBuilder::new("SELECT COUNT(*)");
            push_union(&mut count, filter, None);
            let (total,): (i64,) = count.build_query_as().fetch_one(p).await?;
            (rows, total)
        }))
    }

    /// The text inbox event `id` was read as, once known (a voice note's transcript).
    pub async fn inbox_text(&self, id: i64) -> StoreResult<Option<String>> {
        let row: Option<(Option<String>,)> = dispatch!(self, |p| sqlx::query_as(
            "SELECT text FROM inbox_events WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await)?;
        Ok(row.and_then(|(text,)| text))
    }

    /// Keeps the text inbox event `id` was read as.
    pub async fn set_inbox_text(&self, id: i64, text: &str) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "UPDATE inbox_events SET text = $1 WHERE id = $2"
        )
        .bind(text)
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Queues one message and returns its id; `false` when its dedupe key was queued before
    /// (the id is then that message's).
    pub async fn enqueue_one(&self, message: &NewOutbound) -> StoreResult<(QueuedMessage, bool)> {
        let at = now();
        let status = super::heads::stored_status_of(&self.writer, "outbox_messages", "$1", "$2");
        let insert = format!(
            "INSERT INTO outbox_messages (channel, chat_id, payload, dedupe_key, status, attempts, \
             next_attempt_at, created_at, person_id, task_id) \
             VALUES ($1, $2, $3, $4, {status}, 0, $5, $5, $6, $7) \
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
        );
        Ok(dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let inserted: Option<(i64,)> = sqlx::query_as(&insert)
                .bind(&message.channel)
                .bind(&message.chat_id)
                .bind(&message.payload)
                .bind(&message.dedupe_key)
                .bind(at)
                .bind(message.person_id)
                .bind(message.task_id)
                .fetch_optional(&mut *tx)
                .await?;
            let select = concat!(
                "SELECT id, channel, chat_id, payload, ",
                shown_status!("status"),
                " AS status FROM outbox_messages WHERE "
            );
            let queued = match inserted {
                Some((id,)) => {
                    sqlx::query_as::<_, QueuedMessage>(&format!("{select}id = $1"))
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?
                }
                None => {
                    sqlx::query_as::<_, QueuedMessage>(&format!("{select}dedupe_key = $1"))
                        .bind(&message.dedupe_key)
                        .fetch_one(&mut *tx)
                        .await?
                }
            };
            tx.commit().await?;
            (queued, inserted.is_some())
        }))
    }
}
