//! Escalations and reports as operations: acknowledge or snooze a task's escalation ladder,
//! list open escalations, set a project's chat and ladder pace and a
//! person's quiet hours, gather the numbers of a report, and escalate a task by hand.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::routing::{chat_notice, ladder_target, outbound, pace, task_buttons, Address};
use super::{Actor, Workspace, WorkspaceError, WsResult};
use crate::domain::{Project, Task, ValidationError};
use crate::store::{NewOutbound, OpenEscalation, PersonCounts, ReportCounts};

/// The longest reason a manual escalation takes.
const MAX_REASON_CHARS: usize = 1000;
/// The longest snooze.
const MAX_SNOOZE_DAYS: i64 = 30;

/// What a manual escalation did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ManualEscalation {
    pub escalation_id: i64,
    pub task_id: i64,
    /// Where the escalation was sent.
    pub notified: Vec<Address>,
}

/// Open escalations, for monitoring.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EscalationList {
    pub total: i64,
    /// The oldest first, at most 50.
    pub items: Vec<OpenEscalation>,
}

/// The numbers behind a report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportData {
    pub project: Option<Project>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub counts: ReportCounts,
    pub people: Vec<PersonCounts>,
    /// One point per day from `from` to `to`: (time, open, done so far).
    pub series: Vec<(DateTime<Utc>, i64, i64)>,
}

impl Workspace {
    /// Escalates a task by hand with `reason`: the assignee (or, without one, the task's chat) is
    /// told at once, whatever the hour, and the ladder continues from there. When the assignee
    /// is told, the task's chat is too (see `routing::chat_notice`).
    pub async fn escalate(
        &self,
        actor: &Actor,
        task_id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> WsResult<ManualEscalation> {
        let (task, reason) = self.prepare_escalation(actor, task_id, reason).await?;
        let routing = self.store.task_routing(task_id).await?;
        let mut to = None;
        for n in 1..=3 {
            if let Some((address, _)) = ladder_target(&self.store, n, &routing).await? {
                to = Some((address, n));
                break;
            }
        }
        let Some((to, step)) = to else {
            return Err(WorkspaceError::Conflict(format!(
                "task {task_id} has nobody to escalate to: no assignee with a chat identity, no manager \
                 and no chat for the task or its project"
            )));
        };
        let text = format!(
            "Escalation: #{} {} was escalated by {}: {reason}",
            task.id, task.title, actor.name
        );
        let key = format!("manual:{task_id}:{}", now.timestamp_micros());
        let mut notified = vec![to.clone()];
        let mut messages: Vec<NewOutbound> = vec![outbound(
            &to,
            text.clone(),
            task_buttons(task_id, true),
            key.clone(),
        )?];
        // Told the assignee: the task's chat hears of it too, as of a first ladder step.
        if step == 1 {
            if let Some(notice) = chat_notice(&self.store, &routing).await? {
                let buttons = task_buttons(task_id, true);
                messages.push(outbound(&notice.to, text, buttons, format!("{key}:chat"))?);
                notified.push(notice.to);
            }
        }
        let next_at = now + pace(&task, &routing);
        let escalation_id = self
            .store
            .raise_escalation(task_id, &reason, &actor.name, next_at, now, &messages)
            .await?;
        Ok(ManualEscalation {
            escalation_id,
            task_id,
            notified,
        })
    }

    /// Checks a manual escalation of task `task_id`: the actor may write, the task exists, the
    /// reason is given. Returns the task and the trimmed reason.
    async fn prepare_escalation(
        &self,
        actor: &Actor,
        task_id: i64,
        reason: &str,
    ) -> WsResult<(Task, String)> {
        actor.require(actor.can_write(), "escalate tasks")?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ValidationError::new("reason", "must not be empty").into());
        }
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(ValidationError::new(
                "reason",
                format!("must be at most {MAX_REASON_CHARS} characters"),
            )
            .into());
        }
        let task = self
            .store
            .task(task_id)
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("task {task_id} does not exist")))?;
        Ok((task, reason.to_owned()))
    }

    /// Stops the escalation ladder of task `task_id`. `false` when none was running.
    pub async fn acknowledge_escalation(
        &self,
        actor: &Actor,
        task_id: i64,
        now: DateTime<Utc>,
    ) -> WsResult<bool> {
        actor.require(actor.can_write(), "acknowledge escalations")?;
        Ok(self
            .store
            .acknowledge_escalation(task_id, &actor.name, now)
            .await?
            .is_some())
    }

    /// Delays the next step of task `task_id`'s ladder by `delay`. `false` when none was running.
    pub async fn snooze_escalation(
        &self,
        actor: &Actor,
        task_id: i64,
        delay: Duration,
        now: DateTime<Utc>,
    ) -> WsResult<bool> {
        actor.require(actor.can_write(), "snooze escalations")?;
        if delay <= Duration::zero() || delay > Duration::days(MAX_SNOOZE_DAYS) {
            return Err(ValidationError::new(
                "snooze",
                format!("must be between 1 minute and {MAX_SNOOZE_DAYS} days"),
            )
            .into());
        }
        Ok(self
            .store
            .snooze_escalation(task_id, now + delay, now)
            .await?
            .is_some())
    }

    pub async fn open_escalations(&self, actor: &Actor) -> WsResult<EscalationList> {
        let _ = actor;
        let (items, total) = self.store.open_escalations(50).await?;
        Ok(EscalationList { total, items })
    }

    /// Sets where project `project_id`'s escalations and reports go and its ladder pace (admins).
    pub async fn configure_project_chat(
        &self,
        actor: &Actor,
        project_id: i64,
        channel: Option<&str>,
        chat_id: Option<&str>,
        ladder_hours: Option<f64>,
    ) -> WsResult<()> {
        actor.require(actor.is_admin(), "configure project chats")?;
        if let Some(channel) = channel {
            channel
                .parse::<crate::domain::Channel>()
                .map_err(|_| ValidationError::new("chat_channel", "is not a known channel"))?;
        }
        if ladder_hours.is_some_and(|h| !(h > 0.0 && h <= 24.0 * 30.0)) {
            return Err(ValidationError::new("ladder_hours", "must be between 0 and 720").into());
        }
        self.store
            .set_project_chat(project_id, channel, chat_id, ladder_hours)
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("project {project_id} does not exist")))
    }

    /// Sets a person's quiet hours, as minutes after local midnight (admins, or the person).
    pub async fn set_quiet_hours(&self, actor: &Actor, handle: &str, start: i32, end: i32) -> WsResult<()> {
        let person = self
            .store
            .person_by_handle(handle)
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("person {handle} does not exist")))?;
        actor.require(
            actor.is_admin() || actor.person_id == Some(person.id),
            "change quiet hours",
        )?;
        for (field, value) in [("quiet_start", start), ("quiet_end", end)] {
            if !(0..24 * 60).contains(&value) {
                return Err(ValidationError::new(field, "must be a minute of the day (0–1439)").into());
            }
        }
        Ok(self.store.set_quiet_hours(person.id, start, end).await?)
    }

    /// The numbers of a report over `[now - length, now)`, for one project or all of them.
    pub async fn report_data(
        &self,
        actor: &Actor,
        project_id: Option<i64>,
        length: Duration,
        now: DateTime<Utc>,
    ) -> WsResult<ReportData> {
        let _ = actor;
        let project = match project_id {
            Some(id) => Some(
                self.store
                    .project(id)
                    .await
                    .map_err(|e| WorkspaceError::from_store(e, || format!("project {id} does not exist")))?,
            ),
            None => None,
        };
        let from = now - length;
        let counts = self
            .store
            .report_counts(project_id, from, now, now + length)
            .await?;
        let people = self.store.report_people(project_id, from, now).await?;
        let days = length.num_days().clamp(1, 31);
        let marks: Vec<_> = (0..=days).map(|d| from + Duration::days(d)).collect();
        let chart = self.store.chart_counts(project_id, from, &marks).await?;
        let series = marks
            .iter()
            .zip(chart.created_after.iter().zip(&chart.done_after))
            .map(|(at, (created_after, done_after))| {
                let total = chart.all - created_after;
                let done_by = chart.done_now - done_after;
                (*at, (total - done_by).max(0), done_by.max(0))
            })
            .collect();
        Ok(ReportData {
            project,
            from,
            to: now,
            counts,
            people,
            series,
        })
    }
}
