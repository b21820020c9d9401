//! Routing and bookkeeping for the scheduler: a task's assignee, origin chat and project chat,
//! quiet hours, reminders due and sent, and the record of sweeps.

use chrono::{DateTime, Utc};

use super::super::{dispatch, dispatch_write, NewOutbound, Store, StoreResult};
use super::{QuietHours, ReminderDue, SweepRecord, TaskRouting};
use crate::store::queue::insert_outbound;

impl Store {
    /// Assignee, origin chat and project settings of a task.
    pub async fn task_routing(&self, task_id: i64) -> StoreResult<TaskRouting> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, TaskRouting>(
            "SELECT t.assignee_id, t.origin_channel, t.origin_chat, pr.chat_channel AS project_channel, \
             pr.chat_id AS project_chat, pr.ladder_hours, pr.notify_chat AS project_notify_chat FROM tasks t \
             LEFT JOIN projects pr ON pr.id = t.project_id WHERE t.id = $1"
        )
        .bind(task_id)
        .fetch_one(p)
        .await)?)
    }

    /// Sets where a project's escalations and reports go, and its ladder pace.
    pub async fn set_project_chat(
        &self,
        project_id: i64,
        channel: Option<&str>,
        chat_id: Option<&str>,
        ladder_hours: Option<f64>,
    ) -> StoreResult<()> {
        let done = dispatch_write!(self, |p| sqlx::query(
            "UPDATE projects SET chat_channel = $1, chat_id = $2, ladder_hours = $3 WHERE id = $4"
        )
        .bind(channel)
        .bind(chat_id)
        .bind(ladder_hours)
        .bind(project_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        self.chat_projects.forget();
        if done == 0 {
            return Err(super::super::StoreError::NotFound);
        }
        Ok(())
    }

    /// Active projects with a configured chat and something to report: a task made by `slot`
    /// (the report's time) that is still open or changed since `since`. (id, name, channel,
    /// chat id).
    pub async fn project_chats(
        &self,
        since: DateTime<Utc>,
        slot: DateTime<Utc>,
    ) -> StoreResult<Vec<(i64, String, String, String)>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<
            _,
            (i64, String, String, String),
        >(
            "SELECT id, name, chat_channel, chat_id FROM projects WHERE chat_channel IS NOT NULL \
             AND chat_id IS NOT NULL AND status = 'active' AND EXISTS (SELECT 1 FROM tasks t \
             WHERE t.project_id = projects.id AND t.created_at <= $2 \
             AND (t.status <> 'done' OR t.updated_at >= $1)) ORDER BY id"
        )
        .bind(since)
        .bind(slot)
        .fetch_all(p)
        .await)?)
    }

    pub async fn quiet_hours(&self, person_id: i64) -> StoreResult<QuietHours> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, QuietHours>(
            "SELECT quiet_start_minute, quiet_end_minute FROM people WHERE id = $1"
        )
        .bind(person_id)
        .fetch_one(p)
        .await)?)
    }

    /// Sets a person's quiet hours (minutes after local midnight; equal values: none).
    pub async fn set_quiet_hours(
        &self,
        person_id: i64,
        start_minute: i32,
        end_minute: i32,
    ) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "UPDATE people SET quiet_start_minute = $1, quiet_end_minute = $2 WHERE id = $3"
        )
        .bind(start_minute)
        .bind(end_minute)
        .bind(person_id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Open, assigned tasks due within `lead_minutes` of `now` whose reminder for that lead
    /// (and due date) has not been sent.
    pub async fn reminders_due(
        &self,
        now: DateTime<Utc>,
        lead_minutes: i32,
        limit: i64,
    ) -> StoreResult<Vec<ReminderDue>> {
        let until = now + chrono::Duration::minutes(i64::from(lead_minutes));
        Ok(dispatch!(self, |p| sqlx::query_as::<_, ReminderDue>(
            "SELECT t.id AS task_id, t.due_date FROM tasks t WHERE t.status <> 'done' \
             AND t.due_date > $1 AND t.due_date <= $2 AND t.assignee_id IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM task_reminders r WHERE r.task_id = t.id \
             AND r.lead_minutes = $3 AND r.due_date = t.due_date) ORDER BY t.due_date, t.id LIMIT $4"
        )
        .bind(now)
        .bind(until)
        .bind(lead_minutes)
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }

    /// Records the reminders of `leads` for a task's due date as sent and queues `messages`, in
    /// one transaction; `false` (nothing queued) when the first lead was recorded before.
    pub async fn record_reminder(
        &self,
        task_id: i64,
        leads: &[i32],
        due_date: DateTime<Utc>,
        now: DateTime<Utc>,
        messages: &[NewOutbound],
    ) -> StoreResult<bool> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let mut fresh = false;
            for (n, lead) in leads.iter().enumerate() {
                let inserted = sqlx::query(
                    "INSERT INTO task_reminders (task_id, lead_minutes, due_date, sent_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(task_id)
                .bind(lead)
                .bind(due_date)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    fresh = inserted == 1;
                }
            }
            if fresh {
                insert_outbound!(tx, messages);
            }
            tx.commit().await?;
            if fresh {
                self.feed_changed();
            }
            Ok(fresh)
        })
    }

    /// Whether a message with `dedupe_key` was ever queued.
    pub async fn outbox_has_key(&self, dedupe_key: &str) -> StoreResult<bool> {
        Ok(dispatch!(self, |p| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM outbox_messages WHERE dedupe_key = $1"
        )
        .bind(dedupe_key)
        .fetch_one(p)
        .await)?
            > 0)
    }

    pub async fn record_sweep(&self, record: &SweepRecord) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "INSERT INTO scheduler_runs (ran_at, reminders, escalations, reports, breaches) \
             VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(record.ran_at)
        .bind(record.reminders)
        .bind(record.escalations)
        .bind(record.reports)
        .bind(record.breaches)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn last_sweep(&self) -> StoreResult<Option<SweepRecord>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, SweepRecord>(
            "SELECT ran_at, reminders, escalations, reports, breaches FROM scheduler_runs \
             ORDER BY ran_at DESC LIMIT 1"
        )
        .fetch_optional(p)
        .await)?)
    }
}
