//! Telling a person a task is theirs. When a task is made for someone, or handed to them, by
//! another person (in a group they may not read, in a private chat, through the agent or the
//! web page), they hear of it on their own chat (their first chat identity), with the task's
//! "Mark done" button.
//!
//! Not told: the person who gave the task to themselves; a person whose own chat is where it was
//! given (they just read it there); a person without a chat; and anyone given a task by an API
//! token or the service itself (an integration may make tasks by the dozen: that would be a
//! flood, and it has its own ways to tell people). In their quiet hours the notice
//! is kept (`held_messages`) and the scheduler sends it when they end. The notice goes under a
//! key of the task's assignment, so the same change processed twice tells them once.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::routing::{chat_address, local_time, outbound, person_address, quiet_until};
use super::{Actor, Origin, Workspace};
use crate::domain::{Priority, Task};
use crate::message::ButtonAction;
use crate::store::StoreError;

/// A task's assignment before and after a change.
pub(super) struct Handover<'a> {
    pub task: &'a Task,
    pub before: Option<i64>,
    pub after: Option<i64>,
    /// The chat the change came from, if any.
    pub origin: Option<&'a Origin>,
}

impl Workspace {
    /// Tells the task's new assignee, when there is one to tell (see the module documentation).
    /// A notice that cannot be stored is logged: the change itself stands.
    pub(super) async fn tell_assignee(&self, actor: &Actor, handover: Handover<'_>, now: DateTime<Utc>) {
        let Some(assignee) = handover.after else {
            return;
        };
        let Some(giver) = actor.person_id else {
            return;
        };
        if handover.before == Some(assignee) || giver == assignee {
            return;
        }
        if let Err(e) = self.queue_handover(actor, &handover, assignee, now).await {
            tracing::warn!(task = handover.task.id, error = %e, "could not queue the new assignee's notice");
        }
    }

    async fn queue_handover(
        &self,
        actor: &Actor,
        handover: &Handover<'_>,
        assignee: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let person = self.store.person(assignee).await?;
        let Some(to) = person_address(&person) else {
            return Ok(());
        };
        let origin = handover
            .origin
            .and_then(|o| chat_address(Some(&o.channel), Some(&o.chat)));
        if origin.as_ref() == Some(&to) {
            return Ok(());
        }
        let tz = self.zone_of(&person);
        let task = handover.task;
        let key = format!(
            "handover:{}:{assignee}:{}",
            task.id,
            task.updated_at.timestamp_micros()
        );
        let buttons = vec![ButtonAction::Done(task.id).button("Mark done")];
        let mut row = outbound(&to, notice(actor, task, tz), buttons, key)?;
        row.person_id = Some(assignee);
        row.task_id = Some(task.id);
        match quiet_until(now, tz, self.store.quiet_hours(assignee).await?) {
            Some(until) => self.store.hold_outbound(&row, until).await,
            None => self.store.enqueue_outbox(&[row]).await,
        }
    }
}

/// "@dora gave you #12: Draft the pitch deck, due Fri 11 Dec 23:59 (Europe/Berlin), high
/// priority."
fn notice(actor: &Actor, task: &Task, tz: Tz) -> String {
    let mut text = format!("@{} gave you #{}: {}", actor.name, task.id, task.title);
    if let Some(due) = task.due_date {
        text.push_str(&format!(", due {} ({tz})", local_time(due, tz)));
    }
    if matches!(task.priority, Priority::High | Priority::Urgent) {
        text.push_str(&format!(", {} priority", task.priority));
    }
    text.push_str(". /tasks mine lists all of yours.");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, TaskStatus};

    fn task(due: Option<&str>, priority: Priority) -> Task {
        let at: DateTime<Utc> = "2030-01-07T09:00:00Z".parse().unwrap();
        Task {
            id: 12,
            title: "Draft the pitch deck".into(),
            description: String::new(),
            status: TaskStatus::Todo,
            priority,
            project_id: None,
            assigned_to: Some("bob".into()),
            time_estimate: None,
            time_spent: None,
            due_date: due.map(|d| d.parse().unwrap()),
            labels: Vec::new(),
            recurrence: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn person_actor() -> Actor {
        Actor {
            name: "dora".into(),
            role: Role::Member,
            person_id: Some(3),
            channel: "discord".into(),
            timezone: Tz::UTC,
        }
    }

    #[test]
    fn the_notice_names_the_giver_the_due_date_in_the_assignees_zone_and_a_high_priority() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let text = notice(
            &person_actor(),
            &task(Some("2030-01-11T22:59:00Z"), Priority::High),
            berlin,
        );
        assert_eq!(
            text,
            "@dora gave you #12: Draft the pitch deck, due Fri 11 Jan 23:59 (Europe/Berlin), high \
             priority. /tasks mine lists all of yours."
        );
    }

    #[test]
    fn a_plain_task_reads_plainly() {
        assert_eq!(
            notice(&person_actor(), &task(None, Priority::Medium), Tz::UTC),
            "@dora gave you #12: Draft the pitch deck. /tasks mine lists all of yours."
        );
    }
}
