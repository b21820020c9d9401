//! Reminders before a due date: for each lead time (24 h and 2 h by default), once per task
//! and due date, to the assignee on their preferred channel, in their zone, outside their quiet
//! hours, and to the chat the task came from (else its project's chat) unless the project
//! turned that off. A reminder held by quiet hours goes out when they end, if the task is not
//! due by then; when two lead times are due at once only the nearer one is sent.
//!
//! Quiet hours are a person's: a group chat is not held by the assignee's, so it hears at the
//! lead time while the assignee's copy waits. A chat that is another person's private chat
//! follows that person's quiet hours: inside them its copy is skipped (the assignee's is the
//! one that matters). Each message has its own dedupe key (`reminder:{task}:{lead}:{due}`, and
//! `…:chat` for the chat), so a sweep run twice sends nothing twice.

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
    let task = s.store.task(task_id).await?;
    let key = format!("reminder:{task_id}:{lead}:{}", due.timestamp());
    let chat = match s.chat_notice_now(&routing, false, now).await? {
        Some((to, tz)) => {
            let text = format!(
                "Reminder: #{} {} (for @{}) is due in {} ({} {}).",
                task.id,
                task.title,
                person.handle,
                time_left(due, now),
                local_time(due, tz),
                tz.name()
            );
            Some(outbound(
                &to,
                text,
                task_buttons(task_id, false),
                format!("{key}:chat"),
            )?)
        }
        None => None,
    };
    let mut messages = Vec::new();
    if let Some(to) = person_address(&person) {
        let tz = s.zone_of(&person);
        if quiet_until(now, tz, s.store.quiet_hours(assignee).await?).is_some() {
            // The chat is no one person's: it hears now (once: its key), the assignee later.
            if let Some(message) = chat {
                s.store.enqueue_outbox(&[message]).await?;
            }
            return Ok(Sent::Held);
        }
        let text = format!(
            "Reminder: #{} {} is due in {} ({} {}).",
            task.id,
            task.title,
            time_left(due, now),
            local_time(due, tz),
            tz.name()
        );
        messages.push(outbound(&to, text, task_buttons(task_id, false), key)?);
    }
    messages.extend(chat);
    // With nobody to tell, it is recorded all the same: the task is not looked at every tick.
    let fresh = s
        .store
        .record_reminder(task_id, covered, due, now, &messages)
        .await?;
    Ok(if fresh && !messages.is_empty() {
        Sent::Yes
    } else {
        Sent::No
    })
}

/// "24 hours", "45 minutes".
fn time_left(due: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let left = due - now;
    if left.num_minutes() >= 90 {
        format!("{} hours", (left.num_minutes() + 30) / 60)
    } else {
        format!("{} minutes", left.num_minutes().max(1))
    }
}
