//! An approved AI action's effect and its `done` record in one transaction: deleting a task,
//! closing a project, or moving every open task of one person to another. Either all of it
//! happens and the action says `done`, or none of it does and the action stays `approved`
//! (the workspace then records why it failed). A reassignment never stops half-way.
//!
//! An action left `approved` by a crash between the approval and this transaction had no
//! effect; [`Store::recover_interrupted_actions`] puts it back to be approved again. A deferred
//! tool call runs outside any transaction of ours: one interrupted is marked `failed`, with a
//! note that it may have taken effect.

use chrono::{DateTime, Utc};

use super::audit::{record_audit, AuditEntry};
use super::{dispatch_write, now, Store, StoreError, StoreResult};

/// What an approved action does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionEffect {
    DeleteTask(i64),
    /// Marks the project completed.
    CloseProject(i64),
    /// Moves every open task assigned to person `from` to person `to`.
    ReassignTasks {
        from: i64,
        to: i64,
    },
}

/// Counts of what [`Store::recover_interrupted_actions`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Actions put back to `proposed`.
    pub reopened: u64,
    /// Deferred tool calls marked `failed`.
    pub failed: u64,
}

const FINISH: &str = "UPDATE ai_actions SET status = 'done', result = $1, decided_at = $2 \
                      WHERE id = $3 AND status = 'approved'";

impl Store {
    /// Carries out approved action `id`'s `effect` and marks it done with the result that
    /// `result` words from the number of rows it changed, in one transaction. Returns the ids
    /// of the tasks it changed. `NotFound` when what it acts on is gone; `Conflict` when the
    /// action is no longer `approved`.
    pub async fn carry_out_action(
        &self,
        id: i64,
        effect: &ActionEffect,
        result: &(dyn Fn(usize) -> String + Send + Sync),
        by: &AuditEntry,
    ) -> StoreResult<Vec<i64>> {
        let at = now();
        let changed = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let changed: Vec<i64> = match effect {
                ActionEffect::DeleteTask(task) => {
                    let done = sqlx::query("DELETE FROM tasks WHERE id = $1")
                        .bind(task)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    record_audit!(
                        tx,
                        by,
                        "task.delete",
                        "task",
                        task,
                        serde_json::json!({"action": id})
                    );
                    vec![*task]
                }
                ActionEffect::CloseProject(project) => {
                    let done = sqlx::query(
                        "UPDATE projects SET status = 'completed', updated_at = $1 WHERE id = $2",
                    )
                    .bind(at)
                    .bind(project)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    let detail = serde_json::json!({"status": "completed", "action": id});
                    record_audit!(tx, by, "project.update", "project", project, detail);
                    Vec::new()
                }
                ActionEffect::ReassignTasks { from, to } => {
                    let rows: Vec<(i64,)> = sqlx::query_as(
                        "SELECT id FROM tasks WHERE assignee_id = $1 AND status <> 'done' ORDER BY id",
                    )
                    .bind(from)
                    .fetch_all(&mut *tx)
                    .await?;
                    for (task,) in &rows {
                        sqlx::query("UPDATE tasks SET assignee_id = $1, updated_at = $2 WHERE id = $3")
                            .bind(to)
                            .bind(at)
                            .bind(task)
                            .execute(&mut *tx)
                            .await?;
                        let detail = serde_json::json!({"assignee_id": to, "action": id});
                        record_audit!(tx, by, "task.update", "task", task, detail);
                    }
                    rows.into_iter().map(|(task,)| task).collect()
                }
            };
            let count = match effect {
                ActionEffect::CloseProject(_) => 1,
                _ => changed.len(),
            };
            let done = sqlx::query(FINISH)
                .bind(result(count))
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!("action {id} is no longer approved")));
            }
            tx.commit().await?;
            changed
        });
        Ok(changed)
    }

    /// Actions approved before `before` and still `approved` were interrupted (the process
    /// stopped between the approval and the effect): the built-in ones had no effect and go
    /// back to `proposed`; deferred tool calls are marked `failed`, since theirs is unknown.
    pub async fn recover_interrupted_actions(&self, before: DateTime<Utc>) -> StoreResult<Recovered> {
        let reopen = "UPDATE ai_actions SET status = 'proposed', decided_by = NULL, decided_at = NULL, \
                      result = 'interrupted before it took effect: approve it again' \
                      WHERE status = 'approved' AND action_type <> 'tool_call' AND decided_at < $1";
        let fail = "UPDATE ai_actions SET status = 'failed', decided_at = $2, \
                    result = 'interrupted: it may or may not have taken effect; check, then ask again' \
                    WHERE status = 'approved' AND action_type = 'tool_call' AND decided_at < $1";
        let at = now();
        let (reopened, failed) = dispatch_write!(self, |p| {
            let reopened = sqlx::query(reopen).bind(before).execute(p).await?.rows_affected();
            let failed = sqlx::query(fail)
                .bind(before)
                .bind(at)
                .execute(p)
                .await?
                .rows_affected();
            (reopened, failed)
        });
        if reopened > 0 {
            self.feed_changed();
        }
        Ok(Recovered { reopened, failed })
    }
}
