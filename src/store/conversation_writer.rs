//! Conversations made at the same time are inserted in one statement ([`super::group_commit`]).
//! A chat's first agent turn makes its conversation; when many chats speak for the first time
//! at once (a team's first morning, a burst of new chats), each was a write transaction of its
//! own on SQLite's one writer, ahead of the turn's model calls.

use std::collections::HashMap;

use super::conversations::{ConversationRecord, CONVERSATION_COLUMNS};
use super::group_commit::{Failed, Group};
use super::Pool;

/// A chat whose conversation is to be made: (channel, chat id).
pub(crate) type NewConversation = (String, String);

/// New conversations, grouped.
pub(crate) struct NewConversations;

/// Rows to a statement at most (4 values each).
const PER_STATEMENT: usize = 500;

impl Group for NewConversations {
    type Row = NewConversation;
    /// The conversation made, or `None` when the chat had one already (or the same chat is
    /// earlier in the group): the caller then reads it.
    type Out = Option<ConversationRecord>;
    const WHAT: &'static str = "new conversations";

    async fn write(pool: &Pool, rows: &[NewConversation]) -> Result<Vec<Self::Out>, Failed> {
        let at = super::now();
        let mut made: HashMap<(String, String), ConversationRecord> = HashMap::with_capacity(rows.len());
        super::on_pool!(pool, |p| {
            for chunk in rows.chunks(PER_STATEMENT) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO conversations (channel, chat_id, created_at, updated_at) ",
                );
                qb.push_values(chunk, |mut values, (channel, chat_id)| {
                    values
                        .push_bind(channel)
                        .push_bind(chat_id)
                        .push_bind(at)
                        .push_bind(at);
                });
                qb.push(" ON CONFLICT (channel, chat_id) DO NOTHING RETURNING ");
                qb.push(CONVERSATION_COLUMNS);
                let records = qb.build_query_as::<ConversationRecord>().fetch_all(p).await?;
                made.extend(
                    records
                        .into_iter()
                        .map(|r| ((r.channel.clone(), r.chat_id.clone()), r)),
                );
            }
        });
        // Each record goes to the first caller that asked for its chat.
        Ok(rows.iter().map(|row| made.remove(row)).collect())
    }
}
