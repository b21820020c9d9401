//! Reminders from chat: `/remind [@handle|me|here] WHEN TEXT`, `/reminders`, `/unremind ID`.
//! WHEN may be a repetition (`/remind here every monday 09:00 What's blocking you?`): a
//! recurring reminder, posted at each occurrence until `/unremind`.
//! Parsing the command is pure; the moment is read once the recipient is known, in their time
//! zone ("tomorrow 10:00" for a person in New York is 10:00 in New York). Running goes through
//! the workspace, which checks the rights.

use chrono_tz::Tz;

use super::speaker::Speaker;
use super::{replies, Conversation, Reply};
use crate::domain::{split_spoken_moment, Handle, Recurrence, RECURRENCE_EXAMPLES};
use crate::message::InboundEvent;

use crate::workspace::{NewReminder, Origin, Paging, Reminder, ReminderTarget, ReminderTime, WorkspaceError};

/// Whom `/remind` is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Me,
    Here,
    Person(Handle),
}

/// A reminder command, its arguments checked as far as they can be without the recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReminderCommand {
    /// `rest` is `WHEN TEXT`, read in the recipient's zone.
    Remind {
        who: Recipient,
        rest: String,
    },
    List,
    Cancel {
        id: i64,
    },
}

/// One usage line per command, for /help and for usage replies: (command name, line).
pub const USAGE: &[(&str, &str)] = &[
    (
        "remind",
        "/remind [@handle|me|here] WHEN TEXT — a reminder at that time (or every …), in the recipient's time zone",
    ),
    ("reminders", "/reminders — your pending reminders"),
    ("unremind", "/unremind ID — cancel a reminder"),
];

const EXAMPLE: &str = "/remind @anna friday 10:00 Send the invoice";

fn usage(command: &str, problem: &str) -> String {
    let (syntax, example) = match command {
        "reminders" => ("/reminders", "/reminders"),
        "unremind" => ("/unremind ID", "/unremind 3"),
        _ => ("/remind [@handle|me|here] WHEN TEXT", EXAMPLE),
    };
    format!("{problem}\nUsage: {syntax} — e.g. {example}")
}

/// Parses the reminder command `name` (lower case) with `args`; `None` when `name` is not one.
pub fn parse(name: &str, args: &str) -> Option<Result<ReminderCommand, String>> {
    let args = args.trim();
    let parsed = match name {
        "reminders" if args.is_empty() => Ok(ReminderCommand::List),
        "reminders" => Err(usage("reminders", "/reminders takes nothing after it.")),
        "unremind" => {
            let digits = args.strip_prefix('#').unwrap_or(args);
            match digits.parse::<i64>() {
                Ok(id) if id > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    Ok(ReminderCommand::Cancel { id })
                }
                _ if args.is_empty() => Err(usage(
                    "unremind",
                    "/unremind needs the reminder's ID (/reminders lists them).",
                )),
                _ => Err(usage("unremind", &format!("'{args}' is not a reminder ID."))),
            }
        }
        "remind" => parse_remind(args),
        _ => return None,
    };
    Some(parsed)
}

fn parse_remind(args: &str) -> Result<ReminderCommand, String> {
    if args.is_empty() {
        return Err(usage("remind", "Whom, when and what?"));
    }
    let (first, rest) = match args.find(char::is_whitespace) {
        Some(at) => (&args[..at], args[at..].trim()),
        None => (args, ""),
    };
    let (who, rest) = match first.to_ascii_lowercase().as_str() {
        "me" => (Recipient::Me, rest),
        "here" => (Recipient::Here, rest),
        _ if first.starts_with('@') => {
            let handle = Handle::parse(first).map_err(|e| usage("remind", &format!("{}.", e.message)))?;
            (Recipient::Person(handle), rest)
        }
        _ => (Recipient::Me, args),
    };
    if rest.is_empty() {
        return Err(usage("remind", "When, and what should the reminder say?"));
    }
    Ok(ReminderCommand::Remind {
        who,
        rest: rest.to_owned(),
    })
}

/// One reminder as a line of a list, its time in `tz`; `here` is the chat listing it
/// (channel, chat id).
fn line(reminder: &Reminder, tz: Tz, here: (&str, &str)) -> String {
    let whom = match (&reminder.person, &reminder.chat_id) {
        (Some(handle), _) => format!("@{handle}"),
        (None, Some(chat)) if (reminder.channel.as_deref(), chat.as_str()) == (Some(here.0), here.1) => {
            "this chat".to_owned()
        }
        (None, Some(_)) => "another chat".to_owned(),
        (None, None) => "nobody".to_owned(),
    };
    let repeats = match &reminder.rule {
        Some(rule) => format!(" (repeats: {rule})"),
        None => String::new(),
    };
    format!(
        "#{} {}{repeats} — {whom}: {}",
        reminder.id,
        replies::local(reminder.remind_at, tz),
        reminder.text
    )
}

/// How many words at most the rule of a recurring reminder takes ("every 2 weeks on friday
/// at 9:30" is 7).
const RULE_WORDS: usize = 8;

/// `every monday 09:00 TEXT`: the rule (the longest run of leading words that reads as one,
/// then the shortest that reads the same) and the text. `Ok(None)` when `rest` does not begin
/// with "every".
fn split_every(rest: &str) -> Result<Option<(Recurrence, String)>, String> {
    let words: Vec<(usize, &str)> = rest
        .split_whitespace()
        .map(|w| (w.as_ptr() as usize - rest.as_ptr() as usize, w))
        .collect();
    if !words
        .first()
        .is_some_and(|(_, w)| w.eq_ignore_ascii_case("every"))
    {
        return Ok(None);
    }
    let end = |n: usize| words.get(n).map_or(rest.len(), |(offset, _)| *offset);
    let rule_of = |n: usize| Recurrence::from_words(&rest[..end(n)]).ok().flatten();
    let Some(mut n) = (2..=RULE_WORDS.min(words.len()))
        .rev()
        .find(|n| rule_of(*n).is_some())
    else {
        return Err(format!(
            "I couldn't understand the repetition in '{}'. Try e.g. {RECURRENCE_EXAMPLES}; then the text.",
            rest.trim()
        ));
    };
    let rule = rule_of(n).expect("found above");
    while n > 2 && rule_of(n - 1).as_ref() == Some(&rule) {
        n -= 1;
    }
    let text = rest[end(n)..].trim();
    if text.is_empty() {
        return Err(format!(
            "What should I say {}? Add the text after it.",
            rest[..end(n)].trim()
        ));
    }
    Ok(Some((rule, text.to_owned())))
}

impl Conversation {
    pub(super) async fn reminders(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        command: ReminderCommand,
        origin: &Origin,
    ) -> Result<Reply, WorkspaceError> {
        let actor = &speaker.actor;
        let now = event.received_at;
        let text = match command {
            ReminderCommand::Remind { who, rest } => {
                let target = match &who {
                    Recipient::Me => ReminderTarget::Me,
                    Recipient::Person(handle) => ReminderTarget::Person(handle.as_str().to_owned()),
                    Recipient::Here => ReminderTarget::Chat {
                        channel: event.channel.as_str().to_owned(),
                        chat_id: super::standing_chat(event),
                    },
                };
                let tz = match self.workspace.reminder_zone(actor, &target).await {
                    Ok(tz) => tz,
                    Err(WorkspaceError::NotFound(_)) => {
                        return Ok(Reply::text(usage(
                            "remind",
                            &format!("I don't know {}. /people lists the team.", who_words(&who)),
                        )))
                    }
                    Err(e) => return Ok(Reply::text(replies::error(e)?)),
                };
                let (when, text) = match split_every(&rest) {
                    Ok(Some((rule, text))) => (ReminderTime::Every(rule), text),
                    Ok(None) => match split_spoken_moment(&rest, now, tz) {
                        Ok((at, text)) => (ReminderTime::At(at), text),
                        Err(problem) => return Ok(Reply::text(usage("remind", &problem))),
                    },
                    Err(problem) => return Ok(Reply::text(usage("remind", &problem))),
                };
                let new = NewReminder { target, when, text };
                let reminder = match self
                    .workspace
                    .create_reminder(actor, new, now, Some(origin))
                    .await
                {
                    Ok(reminder) => reminder,
                    Err(WorkspaceError::Invalid(v)) => {
                        return Ok(Reply::text(usage("remind", &format!("{}.", v.message))))
                    }
                    Err(e) => return Ok(Reply::text(replies::error(e)?)),
                };
                if let Some(rule) = &reminder.rule {
                    return Ok(Reply::text(format!(
                        "Recurring reminder #{} set for {} ({rule}), first {} ({}): {}\n/unremind {} stops it.",
                        reminder.id,
                        who_words(&who),
                        replies::local(reminder.remind_at, tz),
                        tz.name(),
                        reminder.text,
                        reminder.id
                    )));
                }
                let mut text = format!(
                    "Reminder #{} set for {}: {} ({}",
                    reminder.id,
                    who_words(&who),
                    replies::local(reminder.remind_at, tz),
                    tz.name()
                );
                if tz != actor.timezone {
                    text.push_str(&format!(
                        "; {} your time",
                        replies::local(reminder.remind_at, actor.timezone)
                    ));
                }
                text.push_str(&format!(
                    "): {}\n/unremind {} cancels it.",
                    reminder.text, reminder.id
                ));
                text
            }
            ReminderCommand::List => {
                let page = self
                    .workspace
                    .list_reminders(actor, false, true, Paging::new(Some(20), None)?)
                    .await?;
                if page.items.is_empty() {
                    format!("No pending reminders. Set one with e.g. {EXAMPLE}")
                } else {
                    let mut text = format!("Pending reminders ({}):", page.total);
                    let here = super::standing_chat(event);
                    for reminder in &page.items {
                        text.push('\n');
                        text.push_str(&line(reminder, actor.timezone, (event.channel.as_str(), &here)));
                    }
                    text
                }
            }
            ReminderCommand::Cancel { id } => match self.workspace.cancel_reminder(actor, id).await {
                Ok(reminder) => format!("Cancelled reminder #{}: {}", reminder.id, reminder.text),
                Err(e) => replies::error(e)?,
            },
        };
        Ok(Reply::text(text))
    }
}

fn who_words(who: &Recipient) -> String {
    match who {
        Recipient::Me => "you".to_owned(),
        Recipient::Here => "this chat".to_owned(),
        Recipient::Person(handle) => format!("@{}", handle.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str, args: &str) -> ReminderCommand {
        match parse(name, args) {
            Some(Ok(command)) => command,
            other => panic!("/{name} {args}: {other:?}"),
        }
    }

    fn usage_of(name: &str, args: &str) -> String {
        match parse(name, args) {
            Some(Err(reply)) => reply,
            other => panic!("/{name} {args}: {other:?}"),
        }
    }

    #[test]
    fn recipients_and_the_rest() {
        assert_eq!(parse("tasks", ""), None);
        assert_eq!(
            cmd("remind", "@Anna friday 10:00 Send the invoice"),
            ReminderCommand::Remind {
                who: Recipient::Person(Handle::parse("anna").unwrap()),
                rest: "friday 10:00 Send the invoice".into()
            }
        );
        assert_eq!(
            cmd("remind", "me in 2 hours call back"),
            ReminderCommand::Remind {
                who: Recipient::Me,
                rest: "in 2 hours call back".into()
            }
        );
        assert_eq!(
            cmd("remind", "HERE tomorrow standup notes"),
            ReminderCommand::Remind {
                who: Recipient::Here,
                rest: "tomorrow standup notes".into()
            }
        );
        assert_eq!(
            cmd("remind", "tomorrow call the bank"),
            ReminderCommand::Remind {
                who: Recipient::Me,
                rest: "tomorrow call the bank".into()
            }
        );
        assert_eq!(cmd("reminders", ""), ReminderCommand::List);
        assert_eq!(cmd("unremind", "#4"), ReminderCommand::Cancel { id: 4 });
    }

    #[test]
    fn a_repetition_is_split_from_its_text() {
        let (rule, text) = split_every("every monday 09:00 What's blocking you?")
            .unwrap()
            .unwrap();
        assert_eq!(rule.rule(), "FREQ=WEEKLY;BYDAY=MO");
        assert_eq!(rule.time_of_day(), chrono::NaiveTime::from_hms_opt(9, 0, 0));
        assert_eq!(text, "What's blocking you?");
        let (rule, text) = split_every("every weekday at 9:30 the numbers").unwrap().unwrap();
        assert_eq!(rule.rule(), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR");
        assert_eq!(text, "the numbers");
        assert_eq!(split_every("tomorrow 10:00 x"), Ok(None));
        assert!(split_every("every blue moon hello")
            .unwrap_err()
            .contains("couldn't understand the repetition"));
        assert!(split_every("every monday 09:00")
            .unwrap_err()
            .contains("What should I say"));
    }

    #[test]
    fn bad_usage_shows_an_example() {
        let reply = usage_of("remind", "");
        assert!(reply.contains(EXAMPLE), "{reply}");
        assert!(usage_of("remind", "@anna").contains("When, and what"));
        assert!(usage_of("remind", "@bad/handle friday x").contains("is not a handle"));
        assert!(usage_of("unremind", "").contains("needs the reminder's ID"));
        assert!(usage_of("unremind", "x").contains("'x' is not a reminder ID"));
        assert!(usage_of("reminders", "all").contains("Usage: /reminders"));
    }
}
