//! The audit log: who changed what, when, through which channel. Written by the mutations of
//! this module inside their own transaction, so a change without its record cannot exist.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{dispatch, Store, StoreResult};

/// Who is acting and through which channel (`api`, `telegram`, `cli`…).
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: String,
    pub channel: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub actor: String,
    pub channel: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub detail: String,
    pub created_at: DateTime<Utc>,
}

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log \
    (actor, channel, action, entity, entity_id, detail, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Appends an audit record using the transaction `$tx`.
macro_rules! record_audit {
    ($tx:expr, $entry:expr, $action:expr, $entity:expr, $id:expr, $detail:expr) => {
        sqlx::query($crate::store::audit::INSERT_AUDIT)
            .bind(&$entry.actor)
            .bind(&$entry.channel)
            .bind($action)
            .bind($entity)
            .bind($id.to_string())
            .bind($detail.to_string())
            .bind($crate::store::now())
            .execute(&mut *$tx)
            .await?
    };
}
pub(crate) use record_audit;

impl Store {
    /// The audit trail of one entity, oldest first.
    pub async fn audit_trail(&self, entity: &str, entity_id: &str) -> StoreResult<Vec<AuditRecord>> {
        let sql = "SELECT id, actor, channel, action, entity, entity_id, detail, created_at \
                   FROM audit_log WHERE entity = $1 AND entity_id = $2 ORDER BY id";
        Ok(dispatch!(self, |p| sqlx::query_as::<_, AuditRecord>(sql)
            .bind(entity)
            .bind(entity_id)
            .fetch_all(p)
            .await)?)
    }
}
