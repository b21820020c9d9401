//! Discord interaction tokens (`discord_interactions`): what answers a slash command or a button
//! press through the interaction's webhook. They are kept here, by interaction id, rather than
//! in chat ids or message payloads, so that a 15-minute credential never reaches the logs, the
//! history or a stored error. Rows older than [`KEEP`] are pruned as new ones arrive.

use chrono::{DateTime, Utc};

use super::{dispatch, dispatch_write, Store, StoreResult};

/// How long a token is kept: Discord's tokens live 15 minutes, so this is already generous.
const KEEP: chrono::Duration = chrono::Duration::hours(1);

/// What answering an interaction needs.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InteractionToken {
    pub application_id: String,
    /// The webhook credential (never logged).
    pub token: String,
}

impl Store {
    /// Keeps the token of `interaction_id` (once: a redelivery changes nothing) and forgets
    /// tokens older than an hour.
    pub async fn remember_discord_interaction(
        &self,
        interaction_id: &str,
        answer: &InteractionToken,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        dispatch_write!(self, |p| {
            sqlx::query(
                "INSERT INTO discord_interactions (interaction_id, application_id, token, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (interaction_id) DO NOTHING",
            )
            .bind(interaction_id)
            .bind(&answer.application_id)
            .bind(&answer.token)
            .bind(now)
            .execute(p)
            .await?;
            sqlx::query("DELETE FROM discord_interactions WHERE created_at < $1")
                .bind(now - KEEP)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// The token that answers `interaction_id`, while it is kept.
    pub async fn discord_interaction(&self, interaction_id: &str) -> StoreResult<Option<InteractionToken>> {
        Ok(dispatch!(self, |p| {
            sqlx::query_as("SELECT application_id, token FROM discord_interactions WHERE interaction_id = $1")
                .bind(interaction_id)
                .fetch_optional(p)
                .await?
        }))
    }
}
