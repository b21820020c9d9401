//! The agent's memory as operations: a chat's conversation (made on first use), its recent
//! messages and summary, the turn already answered for a message (so a redelivered message is
//! not answered twice), and reading a conversation through the API, which only its owner may.

use super::{Actor, Workspace, WorkspaceError, WsResult};
use crate::domain::AiAction;
use crate::store::{
    ConversationRecord, HistoryFilter, HistoryRecord, MemoryMessage, TurnRecord, TurnStart, WorkFacts,
};

impl Workspace {
    /// Conversation `id`, for the API: API conversations belong to the token that began them;
    /// anything else (a chat's memory) is not shown here.
    pub async fn api_conversation(&self, actor: &Actor, id: i64) -> WsResult<ConversationRecord> {
        let missing = || WorkspaceError::NotFound(format!("conversation {id} does not exist"));
        let record = self.store.conversation(id).await.map_err(|_| missing())?;
        if record.channel != "api" || !record.chat_id.starts_with(&format!("{}#", actor.name)) {
            return Err(missing());
        }
        Ok(record)
    }

    /// The newest messages after the summary, newest first.
    pub async fn recent_messages(
        &self,
        conversation_id: i64,
        after: i64,
        limit: i64,
    ) -> WsResult<Vec<MemoryMessage>> {
        Ok(self.store.recent_messages(conversation_id, after, limit).await?)
    }

    /// Folds messages up to `until_id` into the conversation's summary.
    pub async fn set_summary(&self, conversation_id: i64, summary: &str, until_id: i64) -> WsResult<()> {
        Ok(self.store.set_summary(conversation_id, summary, until_id).await?)
    }

    /// Adds a message (`user` or `assistant`) to a conversation's memory.
    pub async fn append_message(
        &self,
        conversation_id: i64,
        role: &str,
        content: &str,
        tokens: i32,
        speaker: Option<&str>,
    ) -> WsResult<()> {
        Ok(self
            .store
            .append_message(conversation_id, role, content, tokens, speaker)
            .await?)
    }

    /// What an agent turn in this chat starts from, in one read (see [`TurnStart`]).
    pub async fn turn_start(
        &self,
        channel: &str,
        chat_id: &str,
        source_key: Option<&str>,
        speaker: &str,
    ) -> WsResult<TurnStart> {
        Ok(self
            .store
            .turn_start(channel, chat_id, source_key, speaker)
            .await?)
    }

    /// The facts about the work a turn begins with: the open and overdue counts at `now`, and
    /// the first `limit` of `person`'s open tasks with how many they have, in one read.
    pub async fn work_facts(
        &self,
        person: Option<&crate::domain::Person>,
        now: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> WsResult<WorkFacts> {
        Ok(self.store.work_facts(person.map(|p| p.id), now, limit).await?)
    }

    /// Records a turn: its messages, its cost, its reply.
    pub async fn record_turn(&self, conversation_id: i64, turn: &TurnRecord<'_>) -> WsResult<()> {
        Ok(self.store.record_turn(conversation_id, turn).await?)
    }

    /// A proposed action, as the agent shows it after proposing it.
    pub async fn proposed_action(&self, id: i64) -> WsResult<AiAction> {
        self.store
            .action(id)
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("action {id} does not exist")))
    }

    /// What was received and sent (members and admins).
    pub async fn history(
        &self,
        actor: &Actor,
        filter: &HistoryFilter,
    ) -> WsResult<(Vec<HistoryRecord>, i64)> {
        actor.require_member("read the message history")?;
        Ok(self.store.history(filter).await?)
    }
}
