//! AI actions: destructive or bulk changes the agent proposed, waiting for a human's decision.

use chrono::{DateTime, Utc};

use super::{dispatch, dispatch_write, now, Store, StoreError, StoreResult};
use crate::domain::{ActionStatus, AiAction};

#[derive(sqlx::FromRow)]
struct ActionRow {
    id: i64,
    action_type: String,
    data: String,
    status: String,
    summary: String,
    proposed_by: String,
    origin_channel: Option<String>,
    origin_chat: Option<String>,
    decided_by: Option<String>,
    result: Option<String>,
    created_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
}

impl TryFrom<ActionRow> for AiAction {
    type Error = StoreError;
    fn try_from(r: ActionRow) -> StoreResult<Self> {
        Ok(AiAction {
            id: r.id,
            action_type: r.action_type,
            data: serde_json::from_str(&r.data).map_err(|e| StoreError::Other(e.to_string()))?,
            status: r
                .status
                .parse()
                .map_err(|e| StoreError::Other(format!("action {}: {e}", r.id)))?,
            summary: r.summary,
            proposed_by: r.proposed_by,
            origin_channel: r.origin_channel,
            origin_chat: r.origin_chat,
            decided_by: r.decided_by,
            result: r.result,
            created_at: r.created_at,
            decided_at: r.decided_at,
        })
    }
}

const SELECT: &str =
    "SELECT id, action_type, data, status, summary, proposed_by, origin_channel, origin_chat, \
    decided_by, result, created_at, decided_at FROM ai_actions";

impl Store {
    pub async fn create_action(
        &self,
        action_type: &str,
        data: &serde_json::Value,
        summary: &str,
        proposed_by: &str,
        origin: Option<(&str, &str)>,
    ) -> StoreResult<AiAction> {
        let (id,): (i64,) = dispatch_write!(self, |p| sqlx::query_as(
            "INSERT INTO ai_actions (action_type, data, status, summary, proposed_by, origin_channel, \
             origin_chat, created_at) VALUES ($1, $2, 'proposed', $3, $4, $5, $6, $7) RETURNING id"
        )
        .bind(action_type)
        .bind(data.to_string())
        .bind(summary)
        .bind(proposed_by)
        .bind(origin.map(|o| o.0))
        .bind(origin.map(|o| o.1))
        .bind(now())
        .fetch_one(p)
        .await)?;
        self.feed_changed();
        self.action(id).await
    }

    pub async fn action(&self, id: i64) -> StoreResult<AiAction> {
        let sql = format!("{SELECT} WHERE id = $1");
        let row = dispatch!(self, |p| sqlx::query_as::<_, ActionRow>(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?;
        row.try_into()
    }

    pub async fn list_actions(&self, status: Option<ActionStatus>, limit: i64) -> StoreResult<Vec<AiAction>> {
        let filter = if status.is_some() {
            "WHERE status = $1"
        } else {
            "WHERE $1 IS NULL"
        };
        let sql = format!("{SELECT} {filter} ORDER BY id DESC LIMIT $2");
        let rows = dispatch!(self, |p| sqlx::query_as::<_, ActionRow>(&sql)
            .bind(status.map(|s| s.as_str()))
            .bind(limit)
            .fetch_all(p)
            .await)?;
        rows.into_iter().map(AiAction::try_from).collect()
    }

    /// Moves an action from `from` to `to`; `false` when it was not in `from` (someone else
    /// decided first).
    pub async fn transition_action(
        &self,
        id: i64,
        from: ActionStatus,
        to: ActionStatus,
        decided_by: Option<&str>,
        result: Option<&str>,
    ) -> StoreResult<bool> {
        let done = dispatch_write!(self, |p| sqlx::query(
            "UPDATE ai_actions SET status = $1, decided_by = COALESCE($2, decided_by), \
             result = COALESCE($3, result), decided_at = $4 WHERE id = $5 AND status = $6"
        )
        .bind(to.as_str())
        .bind(decided_by)
        .bind(result)
        .bind(now())
        .bind(id)
        .bind(from.as_str())
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        if done == 1 {
            self.feed_changed();
        }
        Ok(done == 1)
    }
}
