//! What the service is doing: the durable queues and their dead letters, the scheduler's last
//! sweep, the open escalations, where the admins' alerts go, and how large the tables are.

use serde::Serialize;
use utoipa::ToSchema;

use super::EscalationList;
use super::{Actor, Workspace, WsResult};
use crate::store::{AlertChat, DeadLetter, Queue, QueueCounts, SweepRecord, TableSizes};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueStatus {
    pub counts: QueueCounts,
    /// The most recent items given up on (newest first), with their last error.
    pub dead_letters: Vec<DeadLetter>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonitoringStatus {
    pub inbox: QueueStatus,
    pub outbox: QueueStatus,
    /// The Zendesk and CRM jobs (deliveries and webhook events); `channel` is the job's kind.
    pub integrations: QueueStatus,
    /// The last scheduler sweep (any replica), if one ran.
    pub scheduler: Option<SweepRecord>,
    pub open_escalations: EscalationList,
    /// The chat that gets the admins' alerts (`/alerts here`), if one was chosen.
    pub alert_chat: Option<AlertChat>,
    /// Rows in the tables that grow with use (retention keeps them bounded).
    pub tables: TableSizes,
    /// The database's size on disk, in bytes.
    pub database_bytes: i64,
}

impl Workspace {
    pub async fn monitoring_status(&self, actor: &Actor) -> WsResult<MonitoringStatus> {
        let _ = actor;
        let mut status = Vec::with_capacity(3);
        for queue in [Queue::Inbox, Queue::Outbox, Queue::Integrations] {
            status.push(QueueStatus {
                counts: self.store.queue_counts(queue).await?,
                dead_letters: self.store.dead_letters(queue, 20).await?,
            });
        }
        let integrations = status.pop().unwrap_or_else(|| unreachable!("three queues"));
        let outbox = status.pop().unwrap_or_else(|| unreachable!("three queues"));
        let inbox = status.pop().unwrap_or_else(|| unreachable!("three queues"));
        Ok(MonitoringStatus {
            inbox,
            outbox,
            integrations,
            scheduler: self.store.last_sweep().await?,
            open_escalations: self.open_escalations(actor).await?,
            alert_chat: self.store.alert_chat().await?,
            tables: self.store.table_sizes().await?,
            database_bytes: self.store.database_bytes().await?,
        })
    }
}
