//! Recurring tasks' next occurrences. The next one is made from the one before (same title,
//! description, priority, project, assignee, estimate, labels and chat) under the key
//! `recur:{id}` (unique among tasks), and the one before is stamped `recurred_at`, in one
//! transaction: whatever replicas or restarts do, a series grows by one task per occurrence.

use chrono::{DateTime, Utc};

use super::audit::record_audit;
use super::{dispatch, dispatch_write, AuditEntry, Store, StoreResult};

/// A recurring task whose next occurrence is due to be made: it is done, or its due date passed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueRecurrence {
    pub task_id: i64,
    pub rule: String,
    pub start: DateTime<Utc>,
    pub timezone: String,
    pub due_date: Option<DateTime<Utc>>,
}

impl Store {
    /// Recurring tasks, done or due at `now`, whose next occurrence was not made yet.
    pub async fn recurrences_due(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<DueRecurrence>> {
        Ok(dispatch!(self, |p| {
            sqlx::query_as::<_, DueRecurrence>(
            "SELECT id AS task_id, recurrence AS rule, recurrence_start AS start, recurrence_tz AS timezone, \
             due_date FROM tasks WHERE recurrence IS NOT NULL AND recurrence_start IS NOT NULL \
             AND recurrence_tz IS NOT NULL AND recurred_at IS NULL \
             AND (status = 'done' OR due_date <= $1) ORDER BY due_date, id LIMIT $2"
        )
        .bind(now)
        .bind(limit)
        .fetch_all(p)
        .await
        })?)
    }

    /// Makes the occurrence after task `task_id`, due `next_due` (`None`: the series has
    /// ended), and stamps the task as recurred. The new task's id when this call made it.
    pub async fn recur_task(
        &self,
        task_id: i64,
        next_due: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        by: &AuditEntry,
    ) -> StoreResult<Option<i64>> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let stamped =
                sqlx::query("UPDATE tasks SET recurred_at = $1 WHERE id = $2 AND recurred_at IS NULL")
                    .bind(now)
                    .bind(task_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if stamped == 0 {
                // Another replica made it (or the task is gone).
                tx.commit().await?;
                return Ok(None);
            }
            let mut made = None;
            if let Some(due) = next_due {
                let inserted: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO tasks (title, description, status, priority, project_id, assignee_id, \
                     time_estimate, time_spent, due_date, labels, origin_channel, origin_chat, created_by, \
                     created_at, updated_at, source_key, recurrence, recurrence_start, recurrence_tz, recurrence_of) \
                     SELECT title, description, 'todo', priority, project_id, assignee_id, time_estimate, NULL, $1, \
                     labels, origin_channel, origin_chat, created_by, $2, $2, $3, recurrence, recurrence_start, \
                     recurrence_tz, id FROM tasks WHERE id = $4 \
                     ON CONFLICT (source_key) DO NOTHING RETURNING id",
                )
                .bind(due)
                .bind(crate::store::now())
                .bind(format!("recur:{task_id}"))
                .bind(task_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((id,)) = inserted {
                    let detail = serde_json::json!({"recurrence_of": task_id, "due_date": due});
                    record_audit!(tx, by, "task.recur", "task", id, detail);
                    made = Some(id);
                }
            }
            tx.commit().await?;
            Ok(made)
        })
    }
}
