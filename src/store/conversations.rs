//! Conversations: per chat, the agent's memory (messages, a summary of older turns) and its
//! token usage per turn and in total.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::turn_writer::TurnRow;
use super::{dispatch, dispatch_write, now, Store, StoreError, StoreResult};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct ConversationRecord {
    pub id: i64,
    pub channel: String,
    pub chat_id: String,
    /// Older turns, folded into a few lines.
    pub summary: String,
    /// Messages up to this id are in the summary.
    pub summarized_until: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub turns: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an agent turn starts from ([`Store::turn_start`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TurnStart {
    #[sqlx(flatten)]
    pub conversation: ConversationRecord,
    /// The reply already given to the turn's message, when it was answered before.
    pub answered: Option<String>,
    /// Whether anyone but the speaker has spoken in the conversation.
    pub others_spoke: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemoryMessage {
    pub id: i64,
    pub role: String,
    pub content: String,
    pub tokens: i32,
    /// Who said it (user messages; `None` in conversations older than this column).
    pub speaker: Option<String>,
}

/// One agent turn, as recorded: with the user's message and the reply, which join the
/// conversation's memory in the same transaction (and only once, however often the turn runs).
#[derive(Debug, Clone)]
pub struct TurnRecord<'a> {
    pub source_key: Option<&'a str>,
    /// What the user said, its tokens, and who said it.
    pub user_text: &'a str,
    pub user_tokens: i32,
    pub speaker: Option<&'a str>,
    /// Tokens of `reply`.
    pub reply_tokens: i32,
    pub steps: i32,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub model: &'a str,
    pub reply: &'a str,
}

const INSERT_MESSAGE: &str = "INSERT INTO conversation_messages \
    (conversation_id, role, content, tokens, created_at, speaker) VALUES ($1, $2, $3, $4, $5, $6)";

macro_rules! conversation_columns {
    () => {
        "id, channel, chat_id, summary, summarized_until, prompt_tokens, completion_tokens, \
         turns, created_at, updated_at"
    };
}

/// The columns of a [`ConversationRecord`].
pub(crate) const CONVERSATION_COLUMNS: &str = conversation_columns!();

const SELECT: &str = concat!("SELECT ", conversation_columns!(), " FROM conversations");

impl Store {
    /// The conversation of a chat, made on first use (read first: a write on every turn would
    /// queue each turn behind SQLite's one writer).
    pub async fn conversation_for(&self, channel: &str, chat_id: &str) -> StoreResult<ConversationRecord> {
        let sql = format!("{SELECT} WHERE channel = $1 AND chat_id = $2");
        // Known after a chat's first turn: read like any read, so that turns in many chats at
        // once do not queue for SQLite's one writing connection just to find theirs.
        let known = dispatch!(self, |p| sqlx::query_as::<_, ConversationRecord>(&sql)
            .bind(channel)
            .bind(chat_id)
            .fetch_optional(p)
            .await)?;
        if let Some(known) = known {
            return Ok(known);
        }
        if let Some(made) = self.make_conversation(channel, chat_id).await? {
            return Ok(made);
        }
        // Made meanwhile by another worker.
        Ok(dispatch!(self, |p| sqlx::query_as::<_, ConversationRecord>(
            &sql
        )
        .bind(channel)
        .bind(chat_id)
        .fetch_one(p)
        .await)?)
    }

    /// Makes the chat's conversation, with any others being made at the same moment; `None`
    /// when it already has one.
    async fn make_conversation(
        &self,
        channel: &str,
        chat_id: &str,
    ) -> StoreResult<Option<ConversationRecord>> {
        self.conversations
            .write((channel.to_owned(), chat_id.to_owned()))
            .await
    }

    pub async fn conversation(&self, id: i64) -> StoreResult<ConversationRecord> {
        let sql = format!("{SELECT} WHERE id = $1");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, ConversationRecord>(
            &sql
        )
        .bind(id)
        .fetch_one(p)
        .await)?)
    }

    pub async fn append_message(
        &self,
        conversation_id: i64,
        role: &str,
        content: &str,
        tokens: i32,
        speaker: Option<&str>,
    ) -> StoreResult<()> {
        dispatch_write!(self, |p| {
            sqlx::query(INSERT_MESSAGE)
                .bind(conversation_id)
                .bind(role)
                .bind(content)
                .bind(tokens)
                .bind(now())
                .bind(speaker)
                .execute(p)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Messages newer than the summary, newest first, at most `limit`.
    pub async fn recent_messages(
        &self,
        conversation_id: i64,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<MemoryMessage>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, MemoryMessage>(
            "SELECT id, role, content, tokens, speaker FROM conversation_messages \
             WHERE conversation_id = $1 AND id > $2 ORDER BY id DESC LIMIT $3"
        )
        .bind(conversation_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }

    /// What an agent turn starts from, in one read: the chat's conversation (made if it has
    /// none), the reply already given to `source_key` if that message was answered before, and
    /// whether anyone but `speaker` has spoken in the conversation.
    pub async fn turn_start(
        &self,
        channel: &str,
        chat_id: &str,
        source_key: Option<&str>,
        speaker: &str,
    ) -> StoreResult<TurnStart> {
        const SQL: &str = "SELECT c.id, c.channel, c.chat_id, c.summary, c.summarized_until, \
            c.prompt_tokens, c.completion_tokens, c.turns, c.created_at, c.updated_at, \
            (SELECT reply FROM ai_turns WHERE source_key = $3) AS answered, \
            EXISTS (SELECT 1 FROM conversation_messages m WHERE m.conversation_id = c.id \
             AND m.role = 'user' AND m.speaker IS NOT NULL AND m.speaker <> $4) AS others_spoke \
            FROM conversations c WHERE c.channel = $1 AND c.chat_id = $2";
        let read = || async {
            Ok::<_, StoreError>(dispatch!(self, |p| sqlx::query_as::<_, TurnStart>(SQL)
                .bind(channel)
                .bind(chat_id)
                .bind(source_key)
                .bind(speaker)
                .fetch_optional(p)
                .await)?)
        };
        if let Some(known) = read().await? {
            return Ok(known);
        }
        // The chat's first turn: nothing was said in a conversation made now.
        if let Some(conversation) = self.make_conversation(channel, chat_id).await? {
            return Ok(TurnStart {
                conversation,
                answered: None,
                others_spoke: false,
            });
        }
        // Made meanwhile by another worker.
        read().await?.ok_or(StoreError::NotFound)
    }

    pub async fn set_summary(&self, conversation_id: i64, summary: &str, until_id: i64) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "UPDATE conversations SET summary = $1, summarized_until = $2 WHERE id = $3"
        )
        .bind(summary)
        .bind(until_id)
        .bind(conversation_id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The reply of the turn already recorded for `source_key`, if any.
    pub async fn turn_reply(&self, source_key: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = dispatch!(self, |p| sqlx::query_as(
            "SELECT reply FROM ai_turns WHERE source_key = $1"
        )
        .bind(source_key)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|r| r.0))
    }

    /// Records a turn, its two messages, and adds its usage to the conversation's totals, in one
    /// transaction (with the other turns finished at the same moment); a turn already recorded
    /// under its source key changes nothing.
    pub async fn record_turn(&self, conversation_id: i64, turn: &TurnRecord<'_>) -> StoreResult<()> {
        let row = TurnRow {
            conversation_id,
            source_key: turn.source_key.map(str::to_owned),
            user_text: turn.user_text.to_owned(),
            user_tokens: turn.user_tokens,
            speaker: turn.speaker.map(str::to_owned),
            reply_tokens: turn.reply_tokens,
            steps: turn.steps,
            prompt_tokens: turn.prompt_tokens,
            completion_tokens: turn.completion_tokens,
            model: turn.model.to_owned(),
            reply: turn.reply.to_owned(),
        };
        self.turns.write(row).await
    }
}
