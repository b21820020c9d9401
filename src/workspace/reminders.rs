//! Reminders, one-off or recurring (a chat prompt): to a person (on their own channel, in
//! their zone) or to a chat. Members remind anyone and any chat; guests only themselves. A
//! reminder is seen, cancelled, done or snoozed by the person it is for, the one who asked for
//! it, or an admin; one for a chat by anyone who can write there (its buttons are pressed in
//! the chat).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Actor, Origin, Page, Paging, Workspace, WorkspaceError, WsResult};
use crate::domain::{self, parse_spoken_moment, Person, Recurrence, ValidationError, REMINDER_HOUR};
use crate::store::{Reminder, ReminderData, ReminderFilter, StoreError};

/// The longest reminder text.
pub const REMINDER_TEXT_MAX: usize = 1000;

/// Whom a reminder is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReminderTarget {
    /// The actor.
    Me,
    /// A person, by handle.
    Person(String),
    /// A chat (`/remind here`).
    Chat { channel: String, chat_id: String },
}

/// When a reminder comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReminderTime {
    At(DateTime<Utc>),
    /// As people write it ("friday 10:00"), read in the recipient's zone.
    Spoken(String),
    /// Again and again ("every monday 09:00"), from the rule's next occurrence on, in the
    /// recipient's zone; without a time of day, at [`REMINDER_HOUR`] o'clock.
    Every(Recurrence),
}

/// A reminder to set.
#[derive(Debug, Clone)]
pub struct NewReminder {
    pub target: ReminderTarget,
    pub when: ReminderTime,
    pub text: String,
}

/// `POST /api/reminders`: a person (by handle) or a chat (`channel` and `chat_id`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderRequest {
    /// The person's handle; without it, `channel` and `chat_id` name the chat.
    pub person: Option<String>,
    pub channel: Option<String>,
    pub chat_id: Option<String>,
    /// RFC 3339 (`2030-01-15T10:00:00+01:00`), or as people write it (`friday 10:00`, read in
    /// the recipient's time zone).
    pub at: String,
    pub text: String,
}

impl ReminderRequest {
    pub fn validate(self) -> Result<NewReminder, ValidationError> {
        let target = match (self.person, self.channel, self.chat_id) {
            (Some(person), None, None) => {
                ReminderTarget::Person(person.trim().trim_start_matches('@').to_owned())
            }
            (None, Some(channel), Some(chat_id)) => {
                let channel: domain::Channel = channel
                    .parse()
                    .map_err(|_| ValidationError::new("channel", format!("'{channel}' is not a channel")))?;
                if chat_id.trim().is_empty() || chat_id.chars().count() > 200 {
                    return Err(ValidationError::new("chat_id", "is not a chat id"));
                }
                ReminderTarget::Chat {
                    channel: channel.as_str().to_owned(),
                    chat_id: chat_id.trim().to_owned(),
                }
            }
            _ => {
                return Err(ValidationError::new(
                    "person",
                    "give a person's handle, or channel and chat_id (not both)",
                ))
            }
        };
        let when = match DateTime::parse_from_rfc3339(self.at.trim()) {
            Ok(at) => ReminderTime::At(at.with_timezone(&Utc)),
            Err(_) => ReminderTime::Spoken(self.at),
        };
        Ok(NewReminder {
            target,
            when,
            text: self.text,
        })
    }
}

impl Workspace {
    /// The zone a reminder for `target` is read in: the person's, or the actor's for a chat.
    pub async fn reminder_zone(&self, actor: &Actor, target: &ReminderTarget) -> WsResult<Tz> {
        Ok(match target {
            ReminderTarget::Chat { .. } => actor.timezone,
            other => self.zone_of(&self.recipient(actor, other).await?),
        })
    }

    /// A person's zone, else the workspace's.
    pub(super) fn zone_of(&self, person: &Person) -> Tz {
        person.timezone.parse().unwrap_or(self.default_tz)
    }

    async fn recipient(&self, actor: &Actor, target: &ReminderTarget) -> WsResult<Person> {
        match target {
            ReminderTarget::Me => {
                let Some(id) = actor.person_id else {
                    return Err(ValidationError::new(
                        "person",
                        "only a person can be reminded: name one (e.g. @anna)",
                    )
                    .into());
                };
                Ok(self.store.person(id).await?)
            }
            ReminderTarget::Person(handle) => {
                let handle = handle.trim_start_matches('@');
                self.store.person_by_handle(handle).await.map_err(|e| {
                    WorkspaceError::from_store(e, || format!("{} @{handle}", super::UNKNOWN_HANDLE))
                })
            }
            ReminderTarget::Chat { .. } => {
                Err(ValidationError::new("person", "a chat is not a person").into())
            }
        }
    }

    /// Sets a reminder. `origin`: the chat message it came from, so that handling the message
    /// twice sets it once.
    pub async fn create_reminder(
        &self,
        actor: &Actor,
        new: NewReminder,
        now: DateTime<Utc>,
        origin: Option<&Origin>,
    ) -> WsResult<Reminder> {
        let text = new.text.trim();
        if text.is_empty() {
            return Err(ValidationError::new("text", "what should the reminder say?").into());
        }
        if text.chars().count() > REMINDER_TEXT_MAX {
            return Err(
                ValidationError::new("text", format!("has at most {REMINDER_TEXT_MAX} characters")).into(),
            );
        }
        let (person, chat, tz) = match &new.target {
            ReminderTarget::Chat { channel, chat_id } => {
                actor.require_member("set reminders for a chat")?;
                if channel == domain::Channel::Cli.as_str() {
                    return Err(ValidationError::new("channel", "the terminal cannot be reminded").into());
                }
                (None, Some((channel.clone(), chat_id.clone())), actor.timezone)
            }
            target => {
                let person = self.recipient(actor, target).await?;
                if actor.person_id != Some(person.id) {
                    actor.require_member("set reminders for others")?;
                }
                if super::routing::person_address(&person).is_none() {
                    return Err(ValidationError::new(
                        "person",
                        format!("@{} has no chat account to be reminded on", person.handle),
                    )
                    .into());
                }
                let tz = self.zone_of(&person);
                (Some(person), None, tz)
            }
        };
        let (at, rule) = match &new.when {
            ReminderTime::At(at) if *at <= now => {
                return Err(ValidationError::new("at", format!("{} is in the past", at.to_rfc3339())).into())
            }
            ReminderTime::At(at) => (*at, None),
            ReminderTime::Spoken(text) => (
                parse_spoken_moment(text, now, tz).map_err(|e| ValidationError::new("at", e))?,
                None,
            ),
            ReminderTime::Every(rule) => {
                let time = rule
                    .time_of_day()
                    .or_else(|| NaiveTime::from_hms_opt(REMINDER_HOUR, 0, 0))
                    .unwrap_or_default();
                let local = now.with_timezone(&tz).date_naive().and_time(time);
                let start = tz
                    .from_local_datetime(&local)
                    .earliest()
                    .map_or(now, |at| at.with_timezone(&Utc));
                (rule.first(start, tz, now, "every")?, Some(rule.rule().to_owned()))
            }
        };
        let recipient = person.as_ref().map_or_else(
            || {
                chat.clone()
                    .map(|(c, id)| format!("{c}:{id}"))
                    .unwrap_or_default()
            },
            |p| p.handle.clone(),
        );
        let data = ReminderData {
            text: text.to_owned(),
            person_id: person.as_ref().map(|p| p.id),
            chat,
            timezone: tz.name().to_owned(),
            remind_at: at,
            creator_id: actor.person_id,
            source_key: origin.map(|o| format!("{}:reminder:{recipient}:{}", o.source_key, at.timestamp())),
            rule,
        };
        Ok(self.store.create_reminder(&data, &actor.audit()).await?)
    }

    /// The reminders the actor is part of (admins and API tokens: all, with `all`).
    pub async fn list_reminders(
        &self,
        actor: &Actor,
        all: bool,
        pending: bool,
        paging: Paging,
    ) -> WsResult<Page<Reminder>> {
        let involving = match actor.person_id {
            Some(_) if all && actor.is_admin() => None,
            Some(id) => Some(id),
            None if actor.channel == "api" => None,
            // An unlinked chat identity has no reminders.
            None => {
                return Ok(Page {
                    items: Vec::new(),
                    total: 0,
                })
            }
        };
        let (items, total) = self
            .store
            .list_reminders(&ReminderFilter {
                involving,
                pending,
                limit: paging.limit,
                offset: paging.offset,
            })
            .await?;
        Ok(Page { items, total })
    }

    pub async fn reminder(&self, actor: &Actor, id: i64) -> WsResult<Reminder> {
        let reminder = self.visible_reminder(actor, id).await?;
        Ok(reminder)
    }

    /// Reminder `id` when the actor may see and change it; a reminder of someone else's reads
    /// as missing.
    async fn visible_reminder(&self, actor: &Actor, id: i64) -> WsResult<Reminder> {
        let missing = || format!("reminder {id} does not exist");
        let reminder = self
            .store
            .reminder(id)
            .await
            .map_err(|e| WorkspaceError::from_store(e, missing))?;
        // An API token acts for the operator; an unlinked chat identity is nobody's.
        let operator = actor.person_id.is_none() && actor.channel == "api";
        let involved = operator
            || actor.is_admin()
            || (reminder.person_id.is_some() && reminder.person_id == actor.person_id)
            || (reminder.creator_id.is_some() && reminder.creator_id == actor.person_id)
            || (reminder.person_id.is_none() && actor.can_write());
        if !involved {
            return Err(WorkspaceError::NotFound(missing()));
        }
        Ok(reminder)
    }

    /// Cancels a pending reminder.
    pub async fn cancel_reminder(&self, actor: &Actor, id: i64) -> WsResult<Reminder> {
        self.visible_reminder(actor, id).await?;
        self.store
            .set_reminder_status(id, &["pending"], "cancelled", &actor.audit())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => {
                    WorkspaceError::Conflict(format!("{m}: only pending reminders can be cancelled"))
                }
                other => other.into(),
            })
    }

    /// The Done button: the reminder is dealt with (whether sent yet or not).
    pub async fn finish_reminder(&self, actor: &Actor, id: i64) -> WsResult<Reminder> {
        self.visible_reminder(actor, id).await?;
        Ok(self
            .store
            .set_reminder_status(id, &["pending", "sent", "done"], "done", &actor.audit())
            .await?)
    }

    /// The Snooze button: the reminder comes again `length` after `now`.
    pub async fn snooze_reminder(
        &self,
        actor: &Actor,
        id: i64,
        length: Duration,
        now: DateTime<Utc>,
    ) -> WsResult<Reminder> {
        let reminder = self.visible_reminder(actor, id).await?;
        if reminder.status == "cancelled" {
            return Err(WorkspaceError::Conflict(format!("reminder {id} was cancelled")));
        }
        Ok(self
            .store
            .snooze_reminder(id, now + length, &actor.audit())
            .await?)
    }
}
