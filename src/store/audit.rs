//! The audit log: who changed what, when, through which channel. Written by the mutations of
//! this module inside their own transaction, so a change without its record cannot exist.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{dispatch, dispatch_write, Store, StoreError, StoreResult};

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

/// [`INSERT_AUDIT`] without its values, for several records in one statement.
pub(crate) const INSERT_AUDITS: &str =
    "INSERT INTO audit_log (actor, channel, action, entity, entity_id, detail, created_at) ";

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

/// What [`Store::delete_audited`] deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deletable {
    Task,
    Comment,
    Person,
    Project,
}

impl Deletable {
    fn delete_sql(self) -> &'static str {
        match self {
            Deletable::Task => "DELETE FROM tasks WHERE id = $1",
            Deletable::Comment => "DELETE FROM comments WHERE id = $1",
            Deletable::Person => "DELETE FROM people WHERE id = $1",
            Deletable::Project => "DELETE FROM projects WHERE id = $1",
        }
    }

    /// The audit log's entity name.
    fn entity(self) -> &'static str {
        match self {
            Deletable::Task => "task",
            Deletable::Comment => "comment",
            Deletable::Person => "person",
            Deletable::Project => "project",
        }
    }

    /// What must be gone first: a count of the rows that still depend on this one, and what to
    /// say when there are some.
    fn dependents(self) -> Option<(&'static str, &'static str)> {
        match self {
            Deletable::Project => Some((
                "SELECT COUNT(*) FROM tasks WHERE project_id = $1",
                "task(s); delete or move them first",
            )),
            _ => None,
        }
    }
}

impl Store {
    /// Deletes row `id` of `what` and records `{entity}.delete` in the audit log, in one
    /// transaction. `NotFound` when there is no such row, `Conflict` while rows still depend on
    /// it.
    pub(crate) async fn delete_audited(&self, what: Deletable, id: i64, by: &AuditEntry) -> StoreResult<()> {
        let entity = what.entity();
        let action = format!("{entity}.delete");
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            if let Some((count_sql, still)) = what.dependents() {
                let (count,): (i64,) = sqlx::query_as(count_sql).bind(id).fetch_one(&mut *tx).await?;
                if count > 0 {
                    return Err(StoreError::Conflict(format!(
                        "{entity} {id} still has {count} {still}"
                    )));
                }
            }
            let done = sqlx::query(what.delete_sql()).bind(id).execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            record_audit!(tx, by, action.as_str(), entity, id, serde_json::json!({}));
            tx.commit().await?;
        });
        if what == Deletable::Project {
            self.chat_projects.forget();
        }
        Ok(())
    }
}
