//! Pure types and rules of the workspace: projects, tasks, comments, people and their chat
//! identities, with validated constructors. Nothing here does IO or is async; everything that
//! depends on the clock takes `now` as a parameter.

mod dates;
mod email;
mod enums;
mod files;
mod moments;
mod recurrence;
mod standup;
mod values;

pub use dates::{end_of_day, parse_due_date, parse_spoken_date, parse_timezone, DATE_EXAMPLES};
pub use email::EmailAddress;
pub use enums::{ActionStatus, Channel, Period, Priority, ProjectStatus, Role, TaskStatus};
pub use files::{size_text, FileRules, DEFAULT_ALLOWED_TYPES};
pub use moments::{parse_spoken_moment, split_spoken_moment, MOMENT_EXAMPLES, REMINDER_HOUR};
pub use recurrence::{Recurrence, RECURRENCE_EXAMPLES};
pub use standup::{
    mentioned_task, no_blocker, parse_clock, parse_days, AnswerParts, StandupPlan, DEFAULT_DIGEST_MINUTES,
    STANDUP_EXAMPLE,
};
pub use values::{Handle, Label, TaskTitle};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A value that failed validation, with the field it came from, so that the API can answer 422
/// naming the field and a chat reply can say what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub status: ProjectStatus,
    pub deadline: Option<DateTime<Utc>>,
    /// Whether the chat a task came from (else the project's chat) hears of its reminders and
    /// first escalation step too, besides the assignee. On by default.
    #[serde(default = "notify_chat_default")]
    pub notify_chat: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn notify_chat_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub project_id: Option<i64>,
    /// The assignee's handle.
    pub assigned_to: Option<String>,
    /// Hours.
    pub time_estimate: Option<f64>,
    /// Hours.
    pub time_spent: Option<f64>,
    pub due_date: Option<DateTime<Utc>>,
    pub labels: Vec<Label>,
    /// For a recurring task, its rule (RFC 5545 RRULE value, e.g. `FREQ=MONTHLY;BYMONTHDAY=1`):
    /// the next occurrence is made when this one is done or due.
    #[serde(default)]
    pub recurrence: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Task {
    /// Overdue: past its due date and not done.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status != TaskStatus::Done && self.due_date.is_some_and(|due| due < now)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Comment {
    pub id: i64,
    pub content: String,
    pub task_id: i64,
    /// Handle of the person, or `token:NAME` for an API token.
    pub author: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Identity {
    pub channel: Channel,
    /// The platform's id of the person: Telegram `from.id`, Discord user id, Slack user id,
    /// WhatsApp `wa_id`, the email address.
    pub external_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Person {
    pub id: i64,
    pub handle: String,
    pub name: String,
    pub email: Option<String>,
    /// IANA zone name, e.g. `Europe/Berlin`.
    pub timezone: String,
    pub role: Role,
    /// The manager's handle.
    pub manager: Option<String>,
    /// The agent's role profile for this person (`project-manager`, `account-manager`,
    /// `designer`, `developer`, `guest`); by default one that fits their role.
    pub profile: Option<String>,
    pub identities: Vec<Identity>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A destructive or bulk change the agent proposed; nothing happens until a person approves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AiAction {
    pub id: i64,
    /// `delete_task`, `close_project` or `reassign_tasks`.
    pub action_type: String,
    pub data: serde_json::Value,
    pub status: ActionStatus,
    /// What will happen, in one sentence.
    pub summary: String,
    pub proposed_by: String,
    pub origin_channel: Option<String>,
    pub origin_chat: Option<String>,
    pub decided_by: Option<String>,
    /// What happened when it was carried out.
    pub result: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// Trims surrounding whitespace; `None` for blank text.
pub fn non_blank(text: Option<&str>) -> Option<String> {
    text.map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// Hours of work must be finite and not negative.
pub fn parse_hours(field: &str, hours: Option<f64>) -> Result<Option<f64>, ValidationError> {
    match hours {
        Some(h) if !h.is_finite() || h < 0.0 => Err(ValidationError::new(
            field,
            "must be a number of hours, zero or more",
        )),
        Some(h) if h > 100_000.0 => Err(ValidationError::new(field, "is unreasonably large")),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_needs_a_past_due_date_and_open_status() {
        let now = Utc::now();
        let mut task = Task {
            id: 1,
            title: "t".into(),
            description: String::new(),
            status: TaskStatus::Todo,
            priority: Priority::Medium,
            project_id: None,
            assigned_to: None,
            time_estimate: None,
            time_spent: None,
            due_date: Some(now - chrono::Duration::hours(1)),
            labels: vec![],
            recurrence: None,
            created_at: now,
            updated_at: now,
        };
        assert!(task.is_overdue(now));
        task.status = TaskStatus::Done;
        assert!(!task.is_overdue(now));
        task.status = TaskStatus::Blocked;
        task.due_date = Some(now + chrono::Duration::hours(1));
        assert!(!task.is_overdue(now));
    }

    #[test]
    fn hours_reject_negative_and_nan() {
        assert!(parse_hours("time_spent", Some(-1.0)).is_err());
        assert!(parse_hours("time_spent", Some(f64::NAN)).is_err());
        assert_eq!(parse_hours("time_spent", Some(2.5)).unwrap(), Some(2.5));
    }
}
