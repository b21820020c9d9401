//! Slack interactions (`slack_interactions`): what answers a slash command (its `response_url`)
//! or a button press (its `response_url`, and the message to update). They are kept here, by
//! trigger id, so that a response URL (a credential for 30 minutes) never travels in a chat id,
//! a log line or the history. Rows older than [`KEEP`] are pruned as new ones arrive.

use chrono::{DateTime, Utc};

use super::{dispatch, dispatch_write, Store, StoreResult};

/// Response URLs live 30 minutes; after that a row is useless.
const KEEP: chrono::Duration = chrono::Duration::hours(1);

/// A slash command or button press, as kept for its answers.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SlackInteraction {
    pub channel_id: String,
    /// Answers the interaction (never logged).
    pub response_url: String,
    /// A slash command whose answers only its sender sees.
    pub ephemeral: bool,
    /// A button press: the `ts` of the message the button was on.
    pub message_ts: Option<String>,
    /// A button press: that message's text, as Slack sent it.
    pub message_text: Option<String>,
    /// A button press: that message's blocks (JSON), as Slack sent them.
    pub message_blocks: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Keeps `interaction` under `id` (once: a redelivery changes nothing) and forgets rows
    /// older than an hour.
    pub async fn remember_slack_interaction(
        &self,
        id: &str,
        interaction: &SlackInteraction,
    ) -> StoreResult<()> {
        dispatch_write!(self, |p| {
            sqlx::query(
                "INSERT INTO slack_interactions (interaction_id, channel_id, response_url, ephemeral, \
                 message_ts, message_text, message_blocks, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (interaction_id) DO NOTHING",
            )
            .bind(id)
            .bind(&interaction.channel_id)
            .bind(&interaction.response_url)
            .bind(interaction.ephemeral)
            .bind(&interaction.message_ts)
            .bind(&interaction.message_text)
            .bind(&interaction.message_blocks)
            .bind(interaction.created_at)
            .execute(p)
            .await?;
            sqlx::query("DELETE FROM slack_interactions WHERE created_at < $1")
                .bind(interaction.created_at - KEEP)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// The interaction kept under `id`, while it is kept.
    pub async fn slack_interaction(&self, id: &str) -> StoreResult<Option<SlackInteraction>> {
        Ok(dispatch!(self, |p| {
            sqlx::query_as(
                "SELECT channel_id, response_url, ephemeral, message_ts, message_text, message_blocks, \
                 created_at \
                 FROM slack_interactions WHERE interaction_id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?
        }))
    }
}
