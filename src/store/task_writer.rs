//! Tasks created at the same time are written in one transaction ([`super::group_commit`]):
//! each `/newtask` of a burst, and each task an agent turn makes, with its audit entry. The
//! group's tasks are inserted in one statement, and their audit entries in another.

use std::collections::HashSet;

use super::audit::INSERT_AUDITS;
use super::group_commit::{Failed, Group};
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

/// The columns of a new task, in the order their values are bound.
const COLUMNS: &str = "INSERT INTO tasks (title, description, status, priority, project_id, assignee_id, \
     time_estimate, time_spent, due_date, labels, origin_channel, origin_chat, created_by, created_at, \
     updated_at, source_key, recurrence, recurrence_start, recurrence_tz) ";

/// Tasks to a statement at most: 19 values a task stays inside every engine's bound on values.
const PER_STATEMENT: usize = 500;

impl Group for NewTasks {
    type Row = NewTaskRow;
    type Out = Written;
    const WHAT: &'static str = "new tasks";

    /// Each task with its audit entry, the tasks with a source key in one statement (the
    /// others, rare, one by one). A row whose `source_key` was written before (by an earlier
    /// attempt of the same event, or by an earlier row of the group) gets that task's id
    /// instead of a second task.
    async fn write(pool: &Pool, rows: &[NewTaskRow]) -> Result<Vec<Written>, Failed> {
        let at = super::now();
        let labels = rows
            .iter()
            .map(|row| serde_json::to_string(&row.data.labels))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        // Rows inserted together: each with a source key not seen before in the group, so that
        // the key alone says which task is whose.
        let mut seen = HashSet::new();
        let (together, alone): (Vec<usize>, Vec<usize>) =
            (0..rows.len()).partition(|&n| rows[n].source_key.as_deref().is_some_and(|key| seen.insert(key)));
        let written = super::on_pool!(pool, |p| {
            let mut tx = super::begin_write(p).await?;
            let mut written: Vec<Option<Written>> = vec![None; rows.len()];
            // The keyed rows together; each other row in a statement of its own, where the one
            // row returned is its own.
            let statements = together.chunks(PER_STATEMENT).chain(alone.chunks(1));
            for chunk in statements {
                let mut qb = sqlx::QueryBuilder::new(COLUMNS);
                qb.push_values(chunk, |mut values, &n| {
                    let row = &rows[n];
                    let data = &row.data;
                    values
                        .push_bind(&data.title)
                        .push_bind(&data.description)
                        .push_bind(data.status.as_str())
                        .push_bind(data.priority.as_str())
                        .push_bind(data.project_id)
                        .push_bind(data.assignee_id)
                        .push_bind(data.time_estimate)
                        .push_bind(data.time_spent)
                        .push_bind(data.due_date)
                        .push_bind(&labels[n])
                        .push_bind(row.origin.as_ref().map(|o| o.0.as_str()))
                        .push_bind(row.origin.as_ref().map(|o| o.1.as_str()))
                        .push_bind(&row.by.actor)
                        .push_bind(at)
                        .push_bind(at)
                        .push_bind(row.source_key.as_deref())
                        .push_bind(data.recurrence.as_ref().map(|r| r.rule.as_str()))
                        .push_bind(data.recurrence.as_ref().map(|r| r.start))
                        .push_bind(data.recurrence.as_ref().map(|r| r.timezone.as_str()));
                });
                qb.push(" ON CONFLICT (source_key) DO NOTHING RETURNING id, source_key");
                let made: Vec<(i64, Option<String>)> = qb.build_query_as().fetch_all(&mut *tx).await?;
                for (id, key) in made {
                    let n = match chunk {
                        [n] => *n,
                        _ => match chunk.iter().find(|&&n| rows[n].source_key == key) {
                            Some(n) => *n,
                            None => continue,
                        },
                    };
                    written[n] = Some(Written {
                        id,
                        created_at: Some(at),
                    });
                }
            }
            // Keys written before: the task an earlier attempt (or row) made.
            for n in 0..rows.len() {
                if written[n].is_some() {
                    continue;
                }
                let (id,): (i64,) = sqlx::query_as("SELECT id FROM tasks WHERE source_key = $1")
                    .bind(rows[n].source_key.as_deref())
                    .fetch_one(&mut *tx)
                    .await?;
                written[n] = Some(Written { id, created_at: None });
            }
            let written: Vec<Written> = written.into_iter().flatten().collect();
            // The audit entries of the tasks made, in one statement per thousand.
            let made: Vec<_> = rows
                .iter()
                .zip(&written)
                .filter(|(_, w)| w.created_at.is_some())
                .map(|(row, w)| {
                    let detail = serde_json::json!({"title": row.data.title}).to_string();
                    (&row.by, w.id.to_string(), detail)
                })
                .collect();
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
            written
        });
        Ok(written)
    }
}
