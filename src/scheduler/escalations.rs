//! Escalation ladders. An overdue or blocked task gets a ladder: step 1 tells the assignee
//! and the chat the task came from (else its project's chat, unless the project turned that
//! off; see `reminders` for how quiet hours treat that chat), step 2 (after the project's pace,
//! by default 1 h for urgent, 4 h for high, 24 h otherwise) their manager, step 3 the chat
//! where the task was created or the project's chat. Each step is sent once (dedupe key
//! `escalation:{task}:{step}:{escalation}`, `…:chat` for the chat's copy of step 1), with
//! buttons to acknowledge (stops the ladder), snooze (delays the next step) or mark the task
//! done. Steps to a person wait for the end of their quiet hours unless the task is urgent;
//! the clock for the next step starts when a step is sent. A step with nobody to tell is
//! skipped.

use chrono::{DateTime, Duration, Utc};

use super::{quiet_until, Scheduler, SweepReport};
use crate::domain::{Priority, Task};
use crate::store::{DueEscalation, StoreError};
use crate::workspace::routing::{ladder_target, local_time, outbound, pace, task_buttons};

/// Ladders opened, and steps claimed, per batch.
const BATCH: i64 = 200;
/// Batches per sweep, so that one sweep ends even under a flood.
const MAX_BATCHES: usize = 50;
const LEASE_SECS: i64 = 120;

pub(super) async fn sweep(
    s: &Scheduler,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    report.escalations_resolved += u32::try_from(s.store.resolve_escalations(now).await?).unwrap_or(u32::MAX);
    report.escalations_opened +=
        u32::try_from(s.store.open_due_escalations(now, BATCH * 5).await?).unwrap_or(u32::MAX);
    for _ in 0..MAX_BATCHES {
        let claimed = s
            .store
            .claim_due_escalations(now, now + Duration::seconds(LEASE_SECS), BATCH)
            .await?;
        if claimed.is_empty() {
            break;
        }
        for escalation in claimed {
            match step(s, &escalation, now).await {
                Ok(Step::Sent) => report.escalation_steps += 1,
                Ok(Step::Held) => report.held += 1,
                Ok(Step::Nothing) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

enum Step {
    Sent,
    Held,
    Nothing,
}

async fn step(s: &Scheduler, e: &DueEscalation, now: DateTime<Utc>) -> Result<Step, StoreError> {
    let task = s.store.task(e.task_id).await?;
    let routing = s.store.task_routing(e.task_id).await?;
    let mut next = e.step + 1;
    let found = loop {
        if next > 3 {
            break None;
        }
        if let Some(t) = ladder_target(&s.store, next, &routing).await? {
            break Some(t);
        }
        next += 1;
    };
    let Some((to, person)) = found else {
        // Nobody left to tell: the ladder ends here.
        s.store
            .advance_escalation(e.id, e.step, 3, None, now, &[])
            .await?;
        return Ok(Step::Nothing);
    };
    let urgent = task.priority == Priority::Urgent;
    let key = format!("escalation:{}:{next}:{}", e.task_id, e.id);
    // The first step is the assignee's, and the task's chat hears of it too.
    let chat = match next {
        1 => match s.chat_notice_now(&routing, urgent, now).await? {
            Some((chat, _)) => {
                let text = chat_text(s, &task, e);
                Some(outbound(
                    &chat,
                    text,
                    task_buttons(task.id, true),
                    format!("{key}:chat"),
                )?)
            }
            None => None,
        },
        _ => None,
    };
    if let Some(person_id) = person {
        if !urgent {
            let who = s.store.person(person_id).await?;
            let tz = s.zone_of(&who);
            if let Some(until) = quiet_until(now, tz, s.store.quiet_hours(person_id).await?) {
                // A group chat is no one person's: it hears now (once: its key).
                if let Some(message) = chat {
                    s.store.enqueue_outbox(&[message]).await?;
                }
                s.store.hold_escalation(e.id, until, now).await?;
                return Ok(Step::Held);
            }
        }
    }
    let text = step_text(s, &task, e, next).await?;
    let mut messages = vec![outbound(&to, text, task_buttons(task.id, true), key)?];
    messages.extend(chat);
    let next_at = (next < 3).then(|| now + pace(&task, &routing));
    let moved = s
        .store
        .advance_escalation(e.id, e.step, next, next_at, now, &messages)
        .await?;
    Ok(if moved { Step::Sent } else { Step::Nothing })
}

/// Why a task is escalated, in words.
fn cause(task: &Task, e: &DueEscalation, s: &Scheduler) -> String {
    match (e.kind.as_str(), task.due_date) {
        ("manual", _) => format!(
            "was escalated by {}: {}",
            e.raised_by.as_deref().unwrap_or("someone"),
            e.reason.as_deref().unwrap_or("no reason given")
        ),
        ("blocked", _) => "is blocked".to_owned(),
        (_, Some(due)) => format!(
            "is overdue (due {} {})",
            local_time(due, s.config.timezone),
            s.config.timezone.name()
        ),
        _ => "needs attention".to_owned(),
    }
}

/// Step 1 as the task's chat reads it.
fn chat_text(s: &Scheduler, task: &Task, e: &DueEscalation) -> String {
    let who = task
        .assigned_to
        .as_deref()
        .map(|h| format!("@{h}"))
        .unwrap_or_else(|| "nobody".into());
    format!(
        "Escalation (step 1): #{} {} (assigned to {who}) {}. {who} has been asked to update it; \
         anyone here can comment or mark it done.",
        task.id,
        task.title,
        cause(task, e, s)
    )
}

async fn step_text(s: &Scheduler, task: &Task, e: &DueEscalation, n: i32) -> Result<String, StoreError> {
    let who = task
        .assigned_to
        .as_deref()
        .map(|h| format!("@{h}"))
        .unwrap_or_else(|| "nobody".into());
    let cause = cause(task, e, s);
    Ok(match n {
        1 => format!(
            "Escalation (step 1): #{} {} {cause}. Please update it, comment, or mark it done.",
            task.id, task.title
        ),
        2 => format!(
            "Escalation (step 2): #{} {} (assigned to {who}) {cause}, and nobody has acknowledged it. \
             You are told as {who}'s manager.",
            task.id, task.title
        ),
        _ => format!(
            "Escalation (step 3): #{} {} (assigned to {who}) {cause}, still without an answer. \
             Can someone help?",
            task.id, task.title
        ),
    })
}
