//! Tasks created at the same time are written in one transaction ([`super::group_commit`]):
//! each `/newtask` of a burst, and each task an agent turn makes, with its audit entry (the
//! group's audit entries in one statement).

use super::audit::INSERT_AUDITS;
use super::group_commit::{Failed, Group};
use super::tasks::bind_task_data;
use super::{AuditEntry, Pool, StoreError, TaskData};

/// A task to create, owned, so that it can wait for its group.
pub(crate) struct NewTaskRow {
    pub data: TaskData,
    pub origin: Option<(String, String)>,
    pub source_key: Option<String>,
    pub by: AuditEntry,
}

/// A task written: its id, and when it was made, unless an earlier attempt of the same event
/// had made it already (then what it is now must be read).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    pub id: i64,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Task creations, grouped.
pub(crate) struct NewTasks;

impl Group for NewTasks {
    type Row = NewTaskRow;
    type Out = Written;
    const WHAT: &'static str = "new tasks";

    /// Each task with its audit entry. A row whose `source_key` was written before (by an
    /// earlier attempt of the same event) gets that task's id instead of a second task.
    async fn write(pool: &Pool, rows: &[NewTaskRow]) -> Result<Vec<Written>, Failed> {
        let at = super::now();
        let ids = super::on_pool!(pool, |p| {
            let mut tx = super::begin_write(p).await?;
            let mut ids = Vec::with_capacity(rows.len());
            // The audit entries of the tasks made, written together after them.
            let mut made = Vec::new();
            for row in rows {
                let data = &row.data;
                let labels =
                    serde_json::to_string(&data.labels).map_err(|e| StoreError::Other(e.to_string()))?;
                let inserted: Option<(i64,)> = bind_task_data!(
                sqlx::query_as(
                    "INSERT INTO tasks (title, description, status, priority, project_id, assignee_id, \
                     time_estimate, time_spent, due_date, labels, origin_channel, origin_chat, \
                     created_by, created_at, updated_at, source_key, recurrence, recurrence_start, recurrence_tz) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16, $17, $18) \
                     ON CONFLICT (source_key) DO NOTHING RETURNING id",
                ),
                data,
                &labels
            )
            .bind(row.origin.as_ref().map(|o| o.0.as_str()))
            .bind(row.origin.as_ref().map(|o| o.1.as_str()))
            .bind(&row.by.actor)
            .bind(at)
            .bind(row.source_key.as_deref())
            .bind(data.recurrence.as_ref().map(|r| r.rule.as_str()))
            .bind(data.recurrence.as_ref().map(|r| r.start))
            .bind(data.recurrence.as_ref().map(|r| r.timezone.as_str()))
            .fetch_optional(&mut *tx)
            .await?;
                let id = match inserted {
                    Some((id,)) => {
                        let detail = serde_json::json!({"title": data.title}).to_string();
                        made.push((&row.by, id.to_string(), detail));
                        Written {
                            id,
                            created_at: Some(at),
                        }
                    }
                    None => {
                        let (id,): (i64,) = sqlx::query_as("SELECT id FROM tasks WHERE source_key = $1")
                            .bind(row.source_key.as_deref())
                            .fetch_one(&mut *tx)
                            .await?;
                        Written { id, created_at: None }
                    }
                };
                ids.push(id);
            }
            // 7 values a record: a thousand to a statement stays inside every engine's bound.
            for chunk in made.chunks(1_000) {
                let mut qb = sqlx::QueryBuilder::new(INSERT_AUDITS);
                qb.push_values(chunk, |mut record, (by, id, detail)| {
                    record
                        .push_bind(&by.actor)
                        .push_bind(&by.channel)
                        .push_bind("task.create")
                        .push_bind("task")
                        .push_bind(id)
                        .push_bind(detail)
                        .push_bind(at);
                });
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await.map_err(|e| Failed::AtCommit(e.into()))?;
            ids
        });
        Ok(ids)
    }
}
