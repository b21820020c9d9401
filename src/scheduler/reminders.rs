//! Reminders before a due date: for each lead time (24 h and 2 h by default), once per task
//! and due date, to the assignee on their preferred channel, in their zone, outside their quiet
//! hours. A reminder held by quiet hours goes out when they end, if the task is not due by then;
//! when two lead times are due at once only the nearer one is sent.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{quiet_until, Scheduler, SweepReport};
use crate::store::StoreError;
use crate::workspace::routing::{local_time, outbound, person_address, task_buttons};

/// Tasks looked at per lead time and sweep.
const BATCH: i64 = 500;

pub(super) async fn sweep(
    s: &Scheduler,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let mut leads: Vec<i32> = s
        .config
        .reminder_leads
        .iter()
        .filter_map(|d| i32::try_from(d.as_secs() / 60).ok())
        .filter(|m| *m > 0)
        .collect();
    leads.sort_unstable();
    leads.dedup();
    let mut seen = HashSet::new();
    for (n, lead) in leads.iter().enumerate() {
        for due in s.store.reminders_due(now, *lead, BATCH).await? {
            if !seen.insert(due.task_id) {
                continue;
            }
            // This lead and every longer one are covered by one reminder.
            let covered = &leads[n..];
            match remind(s, due.task_id, due.due_date, *lead, covered, now).await {
                Ok(Sent::Yes) => report.reminders_sent += 1,
                Ok(Sent::Held) => report.held += 1,
                Ok(Sent::No) => {}
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

enum Sent {
    Yes,
    Held,
    No,
}

async fn remind(
    s: &Scheduler,
    task_id: i64,
    due: DateTime<Utc>,
    lead: i32,
    covered: &[i32],
    now: DateTime<Utc>,
) -> Result<Sent, StoreError> {
    let routing = s.store.task_routing(task_id).await?;
    let Some(assignee) = routing.assignee_id else {
        return Ok(Sent::No);
    };
    let person = s.store.person(assignee).await?;
    let Some(to) = person_address(&person) else {
        // Nobody to tell: record it so that the task is not looked at every tick.
        s.store.record_reminder(task_id, covered, due, now, None).await?;
        return Ok(Sent::No);
    };
    let tz = s.zone_of(&person);
    if quiet_until(now, tz, s.store.quiet_hours(assignee).await?).is_some() {
        return Ok(Sent::Held);
    }
    let task = s.store.task(task_id).await?;
    let left = due - now;
    let left = if left.num_minutes() >= 90 {
        format!("{} hours", (left.num_minutes() + 30) / 60)
    } else {
        format!("{} minutes", left.num_minutes().max(1))
    };
    let text = format!(
        "Reminder: #{} {} is due in {left} ({} {}).",
        task.id,
        task.title,
        local_time(due, tz),
        tz.name()
    );
    let key = format!("reminder:{task_id}:{lead}:{}", due.timestamp());
    let message = outbound(&to, text, task_buttons(task_id, false), key)?;
    let fresh = s
        .store
        .record_reminder(task_id, covered, due, now, Some(&message))
        .await?;
    Ok(if fresh { Sent::Yes } else { Sent::No })
}
