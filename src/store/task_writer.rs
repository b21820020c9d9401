//! Tasks created at the same time are written in one transaction (a group commit). Each
//! `/newtask` of a burst, and each task an agent turn makes, was a write transaction of its
//! own: on SQLite every one waits for the one writing connection and commits the pages of the
//! tasks and audit tables (and their indexes) again. One task of this module takes every
//! creation waiting when the previous group is done and writes them together; each caller
//! still gets its own task, committed before it hears of it.
//!
//! A group that fails before its commit (a project deleted meanwhile, say) was rolled back
//! whole; its tasks are then written one by one, so each caller gets its own outcome.

use tokio::sync::{mpsc, oneshot};

use super::audit::record_audit;
use super::tasks::bind_task_data;
use super::{AuditEntry, Pool, StoreError, StoreResult, TaskData};

/// Tasks written together at most.
const GROUP: usize = 64;

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

type Job = (NewTaskRow, oneshot::Sender<StoreResult<Written>>);

/// The handle callers send their tasks through; the writing task ends when the last handle
/// is dropped.
#[derive(Clone)]
pub(crate) struct TaskWriter {
    jobs: mpsc::UnboundedSender<Job>,
    writer: Writer,
}

/// What [`insert_group`] gets at: the store's writer.
#[derive(Clone)]
struct Writer {
    writer: Pool,
}

/// Why a group was not written.
enum Failed {
    /// Before the commit: nothing of the group was written.
    Before(StoreError),
    /// At the commit: whether it was written is not known, so it is not written again.
    AtCommit(StoreError),
}

impl From<sqlx::Error> for Failed {
    fn from(e: sqlx::Error) -> Self {
        Failed::Before(e.into())
    }
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed::Before(e)
    }
}

impl From<Failed> for StoreError {
    fn from(f: Failed) -> Self {
        match f {
            Failed::Before(e) | Failed::AtCommit(e) => e,
        }
    }
}

impl TaskWriter {
    /// Starts the writing task on the current runtime.
    pub fn start(writer: Pool) -> Self {
        let (jobs, received) = mpsc::unbounded_channel();
        let writer = Writer { writer };
        tokio::spawn(run(writer.clone(), received));
        Self { jobs, writer }
    }

    /// Writes `row` with whatever else is waiting.
    pub async fn create(&self, row: NewTaskRow) -> StoreResult<Written> {
        let (answer, answered) = oneshot::channel();
        if let Err(mpsc::error::SendError((row, _))) = self.jobs.send((row, answer)) {
            // The writing task is gone (its runtime ended): write it here.
            return self.alone(&row).await;
        }
        match answered.await {
            Ok(result) => result,
            // The writing task stopped before it answered; nothing of ours was committed
            // unless it answered, but it cannot be told: the caller retries as on any error.
            Err(_) => Err(StoreError::Unavailable("the task writer stopped".into())),
        }
    }

    async fn alone(&self, row: &NewTaskRow) -> StoreResult<Written> {
        Ok(insert_group(&self.writer, std::slice::from_ref(row)).await?[0])
    }
}

/// Takes every waiting creation, writes them as one group, answers each; until every handle
/// is gone.
async fn run(writer: Writer, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let (rows, answers): (Vec<NewTaskRow>, Vec<_>) = group.into_iter().unzip();
        match insert_group(&writer, &rows).await {
            Ok(ids) => {
                for (answer, id) in answers.into_iter().zip(ids) {
                    let _ = answer.send(Ok(id));
                }
            }
            Err(Failed::Before(e)) if rows.len() > 1 => {
                tracing::debug!(error = %e, tasks = rows.len(), "a group of tasks failed; writing them one by one");
                for (row, answer) in rows.iter().zip(answers) {
                    let one = insert_group(&writer, std::slice::from_ref(row)).await;
                    let _ = answer.send(one.map(|ids| ids[0]).map_err(StoreError::from));
                }
            }
            Err(failed) => {
                let e = StoreError::from(failed);
                for answer in answers {
                    let _ = answer.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Writes `rows` in one transaction, each with its audit entry; one [`Written`] per row. A row
/// whose `source_key` was written before (by an earlier attempt of the same event) gets that
/// task's id instead of a second task.
async fn insert_group(w: &Writer, rows: &[NewTaskRow]) -> Result<Vec<Written>, Failed> {
    let at = super::now();
    let ids = super::dispatch_write!(w, |p| {
        let mut tx = super::begin_write(p).await?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            let data = &row.data;
            let labels = serde_json::to_string(&data.labels).map_err(|e| StoreError::Other(e.to_string()))?;
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
                    record_audit!(
                        tx,
                        row.by,
                        "task.create",
                        "task",
                        id,
                        serde_json::json!({"title": data.title})
                    );
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
        tx.commit().await.map_err(|e| Failed::AtCommit(e.into()))?;
        ids
    });
    Ok(ids)
}
