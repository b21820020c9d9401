//! Where a task's messages go: the people and chats of its escalation ladder (assignee, their
//! manager, the chat it came from or its project's chat), the chat that hears of reminders and
//! the first step besides the assignee (`chat_notice`), the pace of the ladder, the buttons
//! under a reminder or escalation, and the outbox row that carries them. Shared by the
//! scheduler's sweeps and the manual escalation.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::{self, Person, Priority, Task};
use crate::message::{Button, ButtonAction, OutboundMessage};
use crate::store::{NewOutbound, QuietHours, Store, StoreError, TaskRouting};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Address {
    #[schema(value_type = String)]
    pub channel: domain::Channel,
    pub chat_id: String,
}

/// A person's preferred channel: their first chat identity (the terminal cannot be reached).
pub fn person_address(person: &Person) -> Option<Address> {
    person
        .identities
        .iter()
        .find(|i| i.channel != domain::Channel::Cli)
        .map(|i| Address {
            channel: i.channel,
            chat_id: i.external_id.clone(),
        })
}

/// A chat given by its stored channel name and id.
pub fn chat_address(channel: Option<&str>, chat: Option<&str>) -> Option<Address> {
    let channel: domain::Channel = channel?.parse().ok()?;
    let chat = chat?;
    (channel != domain::Channel::Cli && !chat.is_empty()).then(|| Address {
        channel,
        chat_id: chat.to_owned(),
    })
}

/// Hours between ladder steps: the project's pace, or by priority.
pub fn pace(task: &Task, routing: &TaskRouting) -> Duration {
    if let Some(hours) = routing.ladder_hours.filter(|h| *h > 0.0) {
        return Duration::seconds((hours * 3600.0) as i64);
    }
    match task.priority {
        Priority::Urgent => Duration::hours(1),
        Priority::High => Duration::hours(4),
        _ => Duration::hours(24),
    }
}

/// The person or chat that step `n` of a task's ladder goes to, and the person's id when it is
/// a person.
pub async fn ladder_target(
    store: &Store,
    n: i32,
    routing: &TaskRouting,
) -> Result<Option<(Address, Option<i64>)>, StoreError> {
    match n {
        1 => {
            let Some(id) = routing.assignee_id else {
                return Ok(None);
            };
            let person = store.person(id).await?;
            Ok(person_address(&person).map(|a| (a, Some(id))))
        }
        2 => {
            let Some(id) = routing.assignee_id else {
                return Ok(None);
            };
            let Some(manager) = store.person(id).await?.manager else {
                return Ok(None);
            };
            let manager = match store.person_by_handle(&manager).await {
                Ok(m) => m,
                Err(StoreError::NotFound) => return Ok(None),
                Err(e) => return Err(e),
            };
            Ok(person_address(&manager).map(|a| (a, Some(manager.id))))
        }
        3 => Ok(
            chat_address(routing.origin_channel.as_deref(), routing.origin_chat.as_deref())
                .or_else(|| {
                    chat_address(
                        routing.project_channel.as_deref(),
                        routing.project_chat.as_deref(),
                    )
                })
                .map(|a| (a, None)),
        ),
        _ => Ok(None),
    }
}

/// The chat that hears of a task's reminders and first escalation step besides its assignee.
#[derive(Debug, Clone)]
pub struct ChatNotice {
    pub to: Address,
    /// The person whose private chat it is, when it is one (their quiet hours apply); `None`
    /// for a group chat, which no one person's quiet hours hold.
    pub owner: Option<Person>,
}

/// The chat a task came from, else its project's chat, unless the project turned that off
/// (`notify_chat`) or the chat is the assignee's own: one chat never gets a message twice.
pub async fn chat_notice(store: &Store, routing: &TaskRouting) -> Result<Option<ChatNotice>, StoreError> {
    if routing.project_notify_chat == Some(false) {
        return Ok(None);
    }
    let Some(to) =
        chat_address(routing.origin_channel.as_deref(), routing.origin_chat.as_deref()).or_else(|| {
            chat_address(
                routing.project_channel.as_deref(),
                routing.project_chat.as_deref(),
            )
        })
    else {
        return Ok(None);
    };
    let owner = store.person_by_identity(to.channel, &to.chat_id).await?;
    if let (Some(owner), Some(assignee)) = (&owner, routing.assignee_id) {
        if owner.id == assignee {
            return Ok(None);
        }
    }
    if let Some(assignee) = routing.assignee_id {
        let person = store.person(assignee).await?;
        if person_address(&person).as_ref() == Some(&to) {
            return Ok(None);
        }
    }
    Ok(Some(ChatNotice { to, owner }))
}

/// The buttons under an escalation (`ladder`) or reminder about `task_id`.
pub fn task_buttons(task_id: i64, ladder: bool) -> Vec<Button> {
    let mut buttons = Vec::new();
    if ladder {
        buttons.push(ButtonAction::Ack(task_id).button("Acknowledge"));
        buttons.push(ButtonAction::Snooze(task_id, crate::message::SnoozeFor::Hour).button("Snooze 1h"));
        buttons.push(ButtonAction::Snooze(task_id, crate::message::SnoozeFor::Day).button("Snooze 1 day"));
    }
    buttons.push(ButtonAction::Done(task_id).button("Mark done"));
    buttons
}

/// An outbox row for `text` (with `buttons`) to `to`, under `key`.
pub fn outbound(
    to: &Address,
    text: String,
    buttons: Vec<Button>,
    key: String,
) -> Result<NewOutbound, StoreError> {
    let mut message = OutboundMessage::text(to.channel, to.chat_id.clone(), text);
    message.buttons = buttons;
    crate::queue::to_outbound(&message, Some(key))
}

/// When `now` falls in the quiet hours in zone `tz`, the moment they end.
pub fn quiet_until(now: DateTime<Utc>, tz: Tz, quiet: QuietHours) -> Option<DateTime<Utc>> {
    let (start, end) = (quiet.quiet_start_minute, quiet.quiet_end_minute);
    if start == end {
        return None;
    }
    let local = now.with_timezone(&tz);
    let minute = i32::try_from(local.hour() * 60 + local.minute()).unwrap_or(0);
    let quiet_now = if start < end {
        minute >= start && minute < end
    } else {
        minute >= start || minute < end
    };
    if !quiet_now {
        return None;
    }
    let end_time = NaiveTime::from_hms_opt(u32::try_from(end / 60).ok()?, u32::try_from(end % 60).ok()?, 0)?;
    let mut day = local.date_naive();
    if minute >= end {
        day = day.succ_opt()?;
    }
    let naive = day.and_time(end_time);
    // A gap (DST) resolves to the earliest valid moment after it.
    let at = tz.from_local_datetime(&naive).earliest().or_else(|| {
        tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
    })?;
    Some(at.with_timezone(&Utc))
}

/// A date as people read it in `tz`, e.g. `Tue 14 Jan 10:00`.
pub fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%a %-d %b %H:%M").to_string()
}
