//! The scheduler's queries: opening, claiming and advancing escalation ladders, reminders due,
//! quiet hours and chat settings, the record of sweeps, the admins' alerts (`alerts`). Work is claimed with a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL), and every message is queued in the same
//! transaction as the state change, under a dedupe key: two replicas never send one thing twice.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::due;
use super::queue::insert_outbound;
use super::{dispatch, dispatch_write, NewOutbound, Store, StoreResult};

mod alerts;
mod reports;
mod routing;

pub use alerts::{AlertChat, AlertLimits, FailingChannel, NewAlert, Raised, UnalertedDead};
pub use reports::{ChartCounts, PersonCounts, PolicyTask, ReportCounts};

/// An escalation claimed for its next step.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueEscalation {
    pub id: i64,
    pub task_id: i64,
    /// `overdue`, `blocked` or `manual`.
    pub kind: String,
    /// The last step sent (0: none yet).
    pub step: i32,
    pub reason: Option<String>,
    pub raised_by: Option<String>,
}

/// An escalation that is not finished, for monitoring.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct OpenEscalation {
    pub id: i64,
    pub task_id: i64,
    pub kind: String,
    /// `open` (the ladder runs) or `acknowledged` (stopped until the task is resolved).
    pub status: String,
    pub step: i32,
    pub reason: Option<String>,
    pub next_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Where a task came from and what its project says about chats and pace.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct TaskRouting {
    pub assignee_id: Option<i64>,
    pub origin_channel: Option<String>,
    pub origin_chat: Option<String>,
    pub project_channel: Option<String>,
    pub project_chat: Option<String>,
    pub ladder_hours: Option<f64>,
    /// The project's `notify_chat` (`None`: the task has no project).
    pub project_notify_chat: Option<bool>,
}

/// A person's quiet hours, minutes after local midnight (the window may wrap midnight).
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct QuietHours {
    pub quiet_start_minute: i32,
    pub quiet_end_minute: i32,
}

/// A task whose reminder for one lead time is due.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReminderDue {
    pub task_id: i64,
    pub due_date: DateTime<Utc>,
}

/// The last sweep, for monitoring.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct SweepRecord {
    pub ran_at: DateTime<Utc>,
    pub reminders: i32,
    pub escalations: i32,
    pub reports: i32,
    pub breaches: i32,
}

/// Live escalations: open or acknowledged.
const LIVE: &str = "status IN ('open', 'acknowledged')";

impl Store {
    /// Opens a ladder for every overdue or blocked task that has none (at most `limit` each);
    /// returns how many were opened.
    pub async fn open_due_escalations(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<u64> {
        let overdue = format!(
            "INSERT INTO escalations (task_id, kind, status, step, next_at, created_at, updated_at) \
             SELECT t.id, 'overdue', 'open', 0, $1, $1, $1 FROM tasks t \
             WHERE t.status <> 'done' AND t.due_date < $1 \
             AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.task_id = t.id AND e.{LIVE}) \
             ORDER BY t.due_date LIMIT $2 ON CONFLICT DO NOTHING"
        );
        let blocked = format!(
            "INSERT INTO escalations (task_id, kind, status, step, next_at, created_at, updated_at) \
             SELECT t.id, 'blocked', 'open', 0, $1, $1, $1 FROM tasks t \
             WHERE t.status = 'blocked' \
             AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.task_id = t.id AND e.{LIVE}) \
             LIMIT $2 ON CONFLICT DO NOTHING"
        );
        let mut opened = 0;
        for sql in [overdue, blocked] {
            opened += dispatch_write!(self, |p| sqlx::query(&sql)
                .bind(now)
                .bind(limit)
                .execute(p)
                .await
                .map(|r| r.rows_affected()))?;
        }
        if opened > 0 {
            self.feed_changed();
        }
        Ok(opened)
    }

    /// Closes live escalations whose task is done, or (for automatic ones) no longer overdue
    /// nor blocked.
    pub async fn resolve_escalations(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE escalations SET status = 'resolved', next_at = NULL, locked_until = NULL, \
             updated_at = $1 WHERE {LIVE} AND EXISTS (SELECT 1 FROM tasks t WHERE t.id = escalations.task_id \
             AND (t.status = 'done' OR (escalations.kind <> 'manual' AND t.status <> 'blocked' \
             AND (t.due_date IS NULL OR t.due_date >= $1))))"
        );
        let resolved = dispatch_write!(self, |p| sqlx::query(&sql)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        if resolved > 0 {
            self.feed_changed();
        }
        Ok(resolved)
    }

    /// Claims up to `limit` open escalations whose next step is due, leasing them until
    /// `lease_until` so that another replica skips them.
    pub async fn claim_due_escalations(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DueEscalation>> {
        let sql = self.claim_due_sql(&due::ESCALATIONS, "id, task_id, kind, step, reason, raised_by");
        Ok(dispatch_write!(self, |p| sqlx::query_as::<_, DueEscalation>(
            &sql
        )
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }

    /// Records that escalation `id` went from step `from` to step `to` (next step due at
    /// `next_at`) and queues `messages`, in one transaction. `false` when another replica moved
    /// the ladder first (nothing is queued then).
    pub async fn advance_escalation(
        &self,
        id: i64,
        from: i32,
        to: i32,
        next_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        messages: &[NewOutbound],
    ) -> StoreResult<bool> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let moved = sqlx::query(
                "UPDATE escalations SET step = $1, next_at = $2, last_step_at = $3, locked_until = NULL, \
                 updated_at = $3 WHERE id = $4 AND step = $5 AND status = 'open'",
            )
            .bind(to)
            .bind(next_at)
            .bind(now)
            .bind(id)
            .bind(from)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 1 {
                insert_outbound!(tx, messages);
            }
            tx.commit().await?;
            if moved == 1 {
                self.feed_changed();
            }
            Ok(moved == 1)
        })
    }

    /// Holds escalation `id` until `until` (quiet hours) and releases its claim.
    pub async fn hold_escalation(
        &self,
        id: i64,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "UPDATE escalations SET next_at = $1, locked_until = NULL, updated_at = $2 \
             WHERE id = $3 AND status = 'open'"
        )
        .bind(until)
        .bind(now)
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
        self.feed_changed();
        Ok(())
    }

    /// Stops the ladder of task `task_id`; the escalation id, if one was open.
    pub async fn acknowledge_escalation(
        &self,
        task_id: i64,
        by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        let id = dispatch_write!(self, |p| sqlx::query_scalar::<_, i64>(
            "UPDATE escalations SET status = 'acknowledged', acknowledged_by = $1, next_at = NULL, \
             locked_until = NULL, updated_at = $2 WHERE task_id = $3 AND status = 'open' RETURNING id"
        )
        .bind(by)
        .bind(now)
        .bind(task_id)
        .fetch_optional(p)
        .await)?;
        if id.is_some() {
            self.feed_changed();
        }
        Ok(id)
    }

    /// Delays the next step of task `task_id`'s ladder to `until`; the escalation id, if open.
    pub async fn snooze_escalation(
        &self,
        task_id: i64,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        let id = dispatch_write!(self, |p| sqlx::query_scalar::<_, i64>(
            "UPDATE escalations SET next_at = $1, locked_until = NULL, updated_at = $2 \
             WHERE task_id = $3 AND status = 'open' RETURNING id"
        )
        .bind(until)
        .bind(now)
        .bind(task_id)
        .fetch_optional(p)
        .await)?;
        if id.is_some() {
            self.feed_changed();
        }
        Ok(id)
    }

    /// A manual escalation: (re)opens task `task_id`'s ladder at step 1 or later with `reason`,
    /// the next step due at `next_at`, and queues `messages`, in one transaction. Returns the
    /// escalation id.
    pub async fn raise_escalation(
        &self,
        task_id: i64,
        reason: &str,
        by: &str,
        next_at: DateTime<Utc>,
        now: DateTime<Utc>,
        messages: &[NewOutbound],
    ) -> StoreResult<i64> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let sql = format!(
                "UPDATE escalations SET kind = 'manual', status = 'open', reason = $1, raised_by = $2, \
                 step = CASE WHEN step < 1 THEN 1 ELSE step END, next_at = $3, last_step_at = $4, \
                 locked_until = NULL, updated_at = $4 WHERE task_id = $5 AND {LIVE} RETURNING id"
            );
            let existing = sqlx::query_scalar::<_, i64>(&sql)
                .bind(reason)
                .bind(by)
                .bind(next_at)
                .bind(now)
                .bind(task_id)
                .fetch_optional(&mut *tx)
                .await?;
            let id =
                match existing {
                    Some(id) => id,
                    None => sqlx::query_scalar::<_, i64>(
                        "INSERT INTO escalations (task_id, kind, status, step, reason, raised_by, next_at, \
                         last_step_at, created_at, updated_at) \
                         VALUES ($1, 'manual', 'open', 1, $2, $3, $4, $5, $5, $5) RETURNING id",
                    )
                    .bind(task_id)
                    .bind(reason)
                    .bind(by)
                    .bind(next_at)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?,
                };
            insert_outbound!(tx, messages);
            tx.commit().await?;
            self.feed_changed();
            Ok(id)
        })
    }

    /// Escalations that are open or acknowledged, oldest first.
    pub async fn open_escalations(&self, limit: i64) -> StoreResult<(Vec<OpenEscalation>, i64)> {
        let sql = format!(
            "SELECT id, task_id, kind, status, step, reason, next_at, acknowledged_by, created_at \
             FROM escalations WHERE {LIVE} ORDER BY created_at, id LIMIT $1"
        );
        let count = format!("SELECT COUNT(*) FROM escalations WHERE {LIVE}");
        let rows = dispatch!(self, |p| sqlx::query_as::<_, OpenEscalation>(&sql)
            .bind(limit)
            .fetch_all(p)
            .await)?;
        let total = dispatch!(self, |p| sqlx::query_scalar::<_, i64>(&count).fetch_one(p).await)?;
        Ok((rows, total))
    }

    /// The live escalation of a task, if any.
    pub async fn task_escalation(&self, task_id: i64) -> StoreResult<Option<OpenEscalation>> {
        let sql = format!(
            "SELECT id, task_id, kind, status, step, reason, next_at, acknowledged_by, created_at \
             FROM escalations WHERE task_id = $1 AND {LIVE}"
        );
        Ok(dispatch!(self, |p| sqlx::query_as::<_, OpenEscalation>(&sql)
            .bind(task_id)
            .fetch_optional(p)
            .await)?)
    }
}
