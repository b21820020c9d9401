//! Chat text: how tasks and errors read in a reply.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::Task;
use crate::workspace::{StatusChange, WorkspaceError, UNKNOWN_HANDLE};

pub const UNLINKED: &str = "I don't know you yet. Ask an admin for a link code, then send /link CODE here. \
/help shows what I can do.";

/// A date as a person reads it, in their zone: `Fri 15 Jan 17:00`.
pub fn local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%a %-d %b %H:%M").to_string()
}

pub(super) fn line(task: &Task, tz: Tz, now: DateTime<Utc>) -> String {
    let mut line = format!("#{} {} [{}]", task.id, task.title, task.status);
    if let Some(who) = &task.assigned_to {
        line.push_str(&format!(" @{who}"));
    }
    if let Some(due) = task.due_date {
        let late = if task.is_overdue(now) { " (overdue)" } else { "" };
        line.push_str(&format!(" due {}{late}", local(due, tz)));
    }
    if task.priority != crate::domain::Priority::Medium {
        line.push_str(&format!(" !{}", task.priority));
    }
    line
}

pub fn task_list(title: &str, tasks: &[Task], total: i64, tz: Tz, now: DateTime<Utc>) -> String {
    if tasks.is_empty() {
        return format!("{title}: none.");
    }
    let mut text = format!("{title} ({total}):\n");
    for task in tasks {
        text.push_str(&line(task, tz, now));
        text.push('\n');
    }
    if total > tasks.len() as i64 {
        text.push_str(&format!("… and {} more.", total - tasks.len() as i64));
    }
    text.trim_end().to_owned()
}

pub fn created(task: &Task, tz: Tz) -> String {
    let mut text = format!("Created #{}: {}", task.id, task.title);
    if let Some(who) = &task.assigned_to {
        text.push_str(&format!(", for @{who}"));
    }
    if let Some(due) = task.due_date {
        text.push_str(&format!(", due {} ({})", local(due, tz), tz.name()));
    }
    if task.priority != crate::domain::Priority::Medium {
        text.push_str(&format!(", priority {}", task.priority));
    }
    if let Some(rule) = &task.recurrence {
        text.push_str(&format!(
            ", repeating ({rule}): the next one is made when this one is done or due"
        ));
    }
    text.push('.');
    text
}

/// The outcome of deciding on a proposed action.
pub fn decided(action: &crate::domain::AiAction) -> String {
    use crate::domain::ActionStatus;
    match action.status {
        ActionStatus::Done => format!(
            "Approved #{}: {}.",
            action.id,
            action.result.as_deref().unwrap_or("done")
        ),
        ActionStatus::Rejected => format!("Rejected #{}: nothing was changed.", action.id),
        ActionStatus::Failed => format!(
            "Approved #{}, but it failed: {}.",
            action.id,
            action.result.as_deref().unwrap_or("unknown error")
        ),
        other => format!("Action #{} is {other}.", action.id),
    }
}

/// The answer to `/done` or "Mark done".
pub fn done(change: &StatusChange) -> String {
    match change {
        StatusChange::Changed(task) => format!("Done: #{} {}", task.id, task.title),
        StatusChange::Unchanged(task) => format!("#{} {} was already done.", task.id, task.title),
    }
}

/// An API field in the words of the chat commands that set it.
fn chat_field(field: &str) -> String {
    match field {
        "assigned_to" => "the assignee".into(),
        "due_date" => "the due date".into(),
        "estimated_hours" => "the estimate".into(),
        other => other.replace('_', " "),
    }
}

/// What to do next about an invalid value.
fn hint(message: &str) -> &'static str {
    if message.starts_with(UNKNOWN_HANDLE) {
        "/people lists the team; an admin adds someone with /invite @handle."
    } else {
        "/help shows the usage."
    }
}

/// What went wrong, for the sender; `Err` for failures worth retrying.
pub fn error(e: WorkspaceError) -> Result<String, WorkspaceError> {
    match e {
        WorkspaceError::Invalid(v) => Ok(format!(
            "That didn't work: {}: {}. {}",
            chat_field(&v.field),
            v.message,
            hint(&v.message)
        )),
        WorkspaceError::NotFound(m) if m.starts_with(UNKNOWN_HANDLE) => Ok(format!("{m}. {}", hint(&m))),
        WorkspaceError::NotFound(m) => Ok(format!("{m}.")),
        WorkspaceError::Forbidden(m) => Ok(format!("Not allowed: {m}.")),
        WorkspaceError::Conflict(m) => Ok(format!("That conflicts with what is there: {m}.")),
        other => Err(other),
    }
}
