//! Reminders people asked for (`/remind`, the agent, the API): each goes out once at its
//! moment, with Done and Snooze buttons, to the person's own channel or to the chat it names.
//! A person's quiet hours hold it until they end (so does a private chat's owner's); a group
//! chat is not held. Claimed with a lease and marked sent in the transaction that queues it,
//! under the key `remind:{id}:{moment}`: two replicas, or a sweep run twice, send it once; a
//! snooze gives it a new moment, and so a new key. A recurring reminder (a chat prompt such
//! as "every monday 09:00 What's blocking you?") is posted as written and stays pending, moved
//! to its rule's next occurrence in the same transaction: each occurrence has its own key.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::{quiet_until, Scheduler, SweepReport};
use crate::domain::Recurrence;
use crate::message::{ButtonAction, SnoozeFor};
use crate::store::{Reminder, StoreError};
use crate::workspace::routing::{chat_address, local_time, outbound, person_address};

/// Reminders looked at per sweep.
const BATCH: i64 = 500;
/// How long a replica holds its claim on a reminder it is sending.
const LEASE_SECS: i64 = 120;

pub(super) async fn sweep(
    s: &Scheduler,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let due = s
        .store
        .claim_due_reminders(now, now + Duration::seconds(LEASE_SECS), BATCH)
        .await?;
    for reminder in due {
        match deliver(s, &reminder, now).await {
            Ok(Outcome::Sent) => report.asked_reminders_sent += 1,
            Ok(Outcome::Held) => report.held += 1,
            Ok(Outcome::Gone) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

enum Outcome {
    Sent,
    Held,
    /// Sent meanwhile by another replica, snoozed or cancelled; or nowhere to send it.
    Gone,
}

async fn deliver(s: &Scheduler, reminder: &Reminder, now: DateTime<Utc>) -> Result<Outcome, StoreError> {
    let tz: Tz = reminder.timezone.parse().unwrap_or(s.config.timezone);
    let (to, owner) = match reminder.person_id {
        Some(id) => {
            let person = s.store.person(id).await?;
            (person_address(&person), Some(person))
        }
        None => {
            let to = chat_address(reminder.channel.as_deref(), reminder.chat_id.as_deref());
            let owner = match &to {
                Some(to) => s.store.person_by_identity(to.channel, &to.chat_id).await?,
                None => None,
            };
            (to, owner)
        }
    };
    let Some(to) = to else {
        tracing::warn!(
            reminder = reminder.id,
            "a reminder has nowhere to go: marked sent unsent"
        );
        s.store
            .deliver_reminder(reminder.id, reminder.remind_at, now, None, &[])
            .await?;
        return Ok(Outcome::Gone);
    };
    if let Some(owner) = &owner {
        let quiet = s.store.quiet_hours(owner.id).await?;
        if let Some(until) = quiet_until(now, s.zone_of(owner), quiet) {
            s.store.hold_reminder(reminder.id, until).await?;
            return Ok(Outcome::Held);
        }
    }
    if let Some(rule) = &reminder.rule {
        return prompt(s, reminder, rule, tz, &to, now).await;
    }
    let mut text = format!("Reminder: {}", reminder.text);
    let for_someone_else = match (&owner, reminder.person_id) {
        (Some(owner), Some(_)) => owner.handle != reminder.created_by,
        _ => true,
    };
    if for_someone_else && !reminder.created_by.starts_with("token:") {
        text.push_str(&format!(" (from @{})", reminder.created_by));
    }
    if now - reminder.remind_at > Duration::minutes(5) {
        text.push_str(&format!(
            "\nAsked for {} {}.",
            local_time(reminder.remind_at, tz),
            tz.name()
        ));
    }
    let buttons = vec![
        ButtonAction::ReminderDone(reminder.id).button("Done"),
        ButtonAction::ReminderSnooze(reminder.id, SnoozeFor::Hour).button("Snooze 1h"),
        ButtonAction::ReminderSnooze(reminder.id, SnoozeFor::Day).button("Snooze 1 day"),
    ];
    let key = format!("remind:{}:{}", reminder.id, reminder.remind_at.timestamp());
    let mut message = outbound(&to, text, buttons, key)?;
    message.person_id = reminder.person_id;
    let sent = s
        .store
        .deliver_reminder(reminder.id, reminder.remind_at, now, None, &[message])
        .await?;
    Ok(if sent { Outcome::Sent } else { Outcome::Gone })
}

/// A recurring reminder (a chat prompt): its text as written, no buttons (`/unremind` stops
/// it), and the next occurrence after both this one and `now` (occurrences missed while no
/// scheduler ran are skipped, not sent in a burst). A rule that ends, or cannot be read any
/// more, makes this the last one.
async fn prompt(
    s: &Scheduler,
    reminder: &Reminder,
    rule: &str,
    tz: Tz,
    to: &crate::workspace::Address,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let next = Recurrence::stored(rule)
        .next_after(reminder.remind_at, tz, reminder.remind_at.max(now))
        .unwrap_or_else(|e| {
            tracing::warn!(reminder = reminder.id, error = %e, "a recurring reminder's rule cannot be read: this is its last time");
            None
        });
    let key = format!("remind:{}:{}", reminder.id, reminder.remind_at.timestamp());
    let mut message = outbound(to, reminder.text.clone(), Vec::new(), key)?;
    message.person_id = reminder.person_id;
    let sent = s
        .store
        .deliver_reminder(reminder.id, reminder.remind_at, now, next, &[message])
        .await?;
    Ok(if sent { Outcome::Sent } else { Outcome::Gone })
}
