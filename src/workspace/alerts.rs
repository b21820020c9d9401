//! The admins' alert chat as operations: choose it (`/alerts here`), drop it (`/alerts off`),
//! see it, and send a dead letter again (the button under a dead-letter alert). Admins only.
//! What is alerted, and when, is the scheduler's (`scheduler::alerts`).

use chrono::{DateTime, Utc};

use super::routing::Address;
use super::{Actor, Workspace, WorkspaceError, WsResult};
use crate::domain::{Channel, ValidationError};
use crate::store::{AlertChat, Queue};

impl Workspace {
    /// Where the admins' alerts go, if anywhere.
    pub async fn alert_chat(&self, actor: &Actor) -> WsResult<Option<AlertChat>> {
        actor.require_admin("see the alert chat")?;
        Ok(self.store.alert_chat().await?)
    }

    /// Makes `to` the admins' alert chat (there is one; this replaces it). Dead letters from
    /// before are not alerted.
    pub async fn set_alert_chat(&self, actor: &Actor, to: &Address, now: DateTime<Utc>) -> WsResult<()> {
        actor.require_admin("choose the alert chat")?;
        if to.channel == Channel::Cli {
            return Err(
                ValidationError::new("channel", "the terminal cannot receive alerts: choose a chat").into(),
            );
        }
        Ok(self
            .store
            .set_alert_chat(to.channel.as_str(), &to.chat_id, &actor.name, now)
            .await?)
    }

    /// No alert chat any more; `false` when there was none.
    pub async fn clear_alert_chat(&self, actor: &Actor) -> WsResult<bool> {
        actor.require_admin("turn alerts off")?;
        Ok(self.store.clear_alert_chat().await?)
    }

    /// Sends dead-lettered outbox message `id` again, with a fresh count of attempts.
    pub async fn retry_dead_letter(&self, actor: &Actor, id: i64) -> WsResult<()> {
        actor.require_admin("retry dead letters")?;
        if self.store.requeue_dead(Queue::Outbox, id).await? {
            Ok(())
        } else {
            Err(WorkspaceError::NotFound(format!(
                "message #{id} is not a dead letter (it was retried already, or never failed)"
            )))
        }
    }
}
