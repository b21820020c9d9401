//! Chat slash commands: `/tasks mine`, `/newtask Write notes @anna due friday !high`, …
//!
//! Pure: parsing needs only the text, the clock (`now`) and the person's time zone, so that
//! "tomorrow" means tomorrow where the person is. A command used wrongly becomes
//! [`Parsed::Usage`], the reply that says what was wrong and how to write it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::{Handle, Period, Priority, Recurrence, TaskStatus, TaskTitle};

mod new_task;

use new_task::parse_new_task;

/// Which tasks `/tasks` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TasksScope {
    All,
    Mine,
    Overdue,
    Project(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Tasks(TasksScope),
    NewTask {
        title: TaskTitle,
        assignee: Option<Handle>,
        due: Option<DateTime<Utc>>,
        priority: Option<Priority>,
        /// "every month on the 1st": a recurring task.
        recurrence: Option<Recurrence>,
    },
    Done {
        id: i64,
    },
    Status {
        id: i64,
        status: TaskStatus,
    },
    Comment {
        id: i64,
        text: String,
    },
    Ask {
        question: String,
    },
    Report {
        period: Period,
    },
    Link {
        code: String,
    },
    /// `/alerts [here|off]` (admins).
    Alerts(super::alerts::AlertsAction),
    /// `/claim`, `/start CODE`, `/invite`, `/people`, `/role`, `/remove`, `/me`, `/tz`, `/quiet`.
    Team(super::team::TeamCommand),
    /// `/project new|here NAME`, `/projects`.
    Project(super::projects::ProjectCommand),
    /// `/web`: a one-time sign-in link for the web page.
    Web,
    /// `/remind`, `/reminders`, `/unremind`.
    Reminder(super::reminders::ReminderCommand),
    /// `/attach ID`, `/task ID [files]`.
    Files(super::files::FileCommand),
    /// `/standup here DAYS HH:MM`, `/standup`, `/standup off`.
    Standup(super::standups::StandupCommand),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Not a slash command: free text for the agent.
    NotACommand,
    Command(Command),
    /// A known command used wrongly, or an unknown command: the reply to send, which says what
    /// was wrong and shows the right usage (e.g. "Usage: /done ID — e.g. /done 42").
    Usage(String),
}

/// One usage line per command, for /help and for Usage replies: (command name, line).
pub const USAGE: &[(&str, &str)] = &[
    ("help", "/help — show this list of commands (also /start)"),
    ("tasks", "/tasks [mine|overdue|project NAME] — list tasks"),
    (
        "newtask",
        "/newtask TITLE [@handle] [due DATE] [!priority] [every …] — create a task (every: a recurring one)",
    ),
    ("done", "/done ID — mark a task done"),
    (
        "status",
        "/status ID STATUS — set a task's status (todo, in_progress, done, blocked)",
    ),
    ("comment", "/comment ID TEXT — comment on a task"),
    ("ask", "/ask QUESTION — ask the coordinator anything"),
    ("report", "/report [daily|weekly] — a progress report"),
    ("link", "/link CODE — link this chat account to your profile"),
    (
        "alerts",
        "/alerts [here|off] — (admins) this chat gets the admins' alerts, or none does",
    ),
    ("web", "/web — a one-time sign-in link for the team's web page"),
];

use crate::domain::DATE_EXAMPLES;

/// Every command's usage line, in the order /help shows them: the task commands ([`USAGE`]),
/// the team's ([`super::team::USAGE`]), the projects' ([`super::projects::USAGE`]), the
/// reminders' ([`super::reminders::USAGE`]), the files' ([`super::files::USAGE`]), the
/// stand-ups' ([`super::standups::USAGE`]). The Telegram command menu and Discord's slash
/// commands are made from it.
pub fn menu() -> &'static [(&'static str, &'static str)] {
    static MENU: std::sync::LazyLock<Vec<(&'static str, &'static str)>> = std::sync::LazyLock::new(|| {
        USAGE
            .iter()
            .chain(super::team::USAGE)
            .chain(super::projects::USAGE)
            .chain(super::reminders::USAGE)
            .chain(super::files::USAGE)
            .chain(super::standups::USAGE)
            .copied()
            .collect()
    });
    MENU.as_slice()
}

/// The reply to an unknown command: the known one it is one or two letters from, if exactly
/// one is that close ("/taks mine" → "/tasks mine"), else a pointer to /help.
fn unknown(name: &str, args: &str) -> String {
    let close = |limit: usize| -> Vec<&'static str> {
        menu()
            .iter()
            .map(|(known, _)| *known)
            .filter(|known| super::offline::edit_distance(known, name) <= limit)
            .collect()
    };
    let limit = if name.chars().count() >= 5 { 2 } else { 1 };
    let near = close(1);
    let near = if near.is_empty() { close(limit) } else { near };
    match near.as_slice() {
        [known] if name.chars().count() >= 3 => {
            let typed = format!("/{known} {args}");
            format!(
                "Unknown command /{name}. Did you mean {}? /help lists them all.",
                typed.trim_end()
            )
        }
        _ => format!("Unknown command /{name}. Try /help."),
    }
}

/// All commands with one-line descriptions.
pub fn help_text() -> String {
    let mut text = String::from("Commands:\n");
    for (_, line) in menu() {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!(
        "Task IDs may be written 42 or #42. Dates: {DATE_EXAMPLES}. \
         Priorities: !low, !medium, !high, !urgent.\n\
         Anything that is not a command goes to the coordinator as a question."
    ));
    text
}

/// Parses a chat message. `bot_username`: commands in groups may be addressed as
/// `/tasks@MyBot`; a command addressed to another bot is `NotACommand` (with `None`, any
/// addressee is accepted). A `/` followed by something that is not a command name (a path such
/// as `/usr/bin`, a bare `/`) is free text too.
pub fn parse(text: &str, now: DateTime<Utc>, tz: Tz, bot_username: Option<&str>) -> Parsed {
    let Some(rest) = text.trim().strip_prefix('/') else {
        return Parsed::NotACommand;
    };
    if rest.starts_with(char::is_whitespace) {
        return Parsed::NotACommand;
    }
    let (word, args) = split_first(rest);
    let (name, addressee) = match word.split_once('@') {
        Some((name, bot)) => (name, Some(bot)),
        None => (word, None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Parsed::NotACommand;
    }
    if let (Some(to), Some(me)) = (addressee, bot_username) {
        if !to.eq_ignore_ascii_case(me.trim_start_matches('@')) {
            return Parsed::NotACommand;
        }
    }
    let result = match name.to_ascii_lowercase().as_str() {
        "help" => Ok(Command::Help),
        "start" if args.is_empty() => Ok(Command::Help),
        "tasks" => parse_tasks(args),
        "newtask" => parse_new_task(args, now, tz),
        "done" => match split_first(args) {
            (id, "") => parse_id("done", id).map(|id| Command::Done { id }),
            _ => Err(usage("done", "/done takes just one task ID.")),
        },
        "status" => parse_status(args),
        "comment" => parse_comment(args),
        "ask" if args.is_empty() => Err(usage("ask", "What would you like to ask?")),
        "ask" => Ok(Command::Ask {
            question: args.to_owned(),
        }),
        "report" => match args.to_ascii_lowercase().as_str() {
            "" | "daily" => Ok(Command::Report {
                period: Period::Daily,
            }),
            "weekly" => Ok(Command::Report {
                period: Period::Weekly,
            }),
            _ => Err(usage(
                "report",
                &format!("'{args}' is not a report period: use daily or weekly."),
            )),
        },
        "link" => match split_first(args) {
            ("", _) => Err(usage("link", "/link needs the code you were given.")),
            (code, "") => Ok(Command::Link {
                code: code.to_owned(),
            }),
            _ => Err(usage("link", "/link takes just the code, one word.")),
        },
        "alerts" => super::alerts::parse(args),
        "web" if args.is_empty() => Ok(Command::Web),
        "web" => Err(usage("web", "/web takes nothing after it.")),
        other => match super::team::parse(other, args) {
            Some(team) => team.map(Command::Team),
            None => match super::projects::parse(other, args) {
                Some(project) => project.map(Command::Project),
                None => match super::reminders::parse(other, args) {
                    Some(reminder) => reminder.map(Command::Reminder),
                    None => match super::files::parse(other, args) {
                        Some(files) => files.map(Command::Files),
                        None => match super::standups::parse(other, args) {
                            Some(standup) => standup.map(Command::Standup),
                            None => Err(unknown(name, args)),
                        },
                    },
                },
            },
        },
    };
    match result {
        Ok(command) => Parsed::Command(command),
        Err(reply) => Parsed::Usage(reply),
    }
}

/// `problem`, then the command's usage line (from [`menu`]) and an example.
pub(super) fn usage(command: &str, problem: &str) -> String {
    let line = menu()
        .iter()
        .find(|(name, _)| *name == command)
        .map_or(command, |(_, line)| *line);
    let syntax = line.split(" — ").next().unwrap_or(line);
    let example = match example(command) {
        Some(example) => example.to_owned(),
        None if menu().iter().any(|(name, _)| *name == command) => format!("/{command}"),
        None => "/help".to_owned(),
    };
    format!("{problem}\nUsage: {syntax} — e.g. {example}")
}

/// A typical use of `command`, for usage replies and hints.
pub(super) fn example(command: &str) -> Option<&'static str> {
    Some(match command {
        "tasks" => "/tasks mine",
        "newtask" => "/newtask Update the release notes @anna due friday !high",
        "done" => "/done 42",
        "status" => "/status 42 in_progress",
        "comment" => "/comment 42 Waiting for the client",
        "ask" => "/ask What is blocking the launch?",
        "report" => "/report weekly",
        "link" => "/link 7F3K9QAB",
        "alerts" => "/alerts here",
        "claim" => "/claim 7F3K9QAB2MXP",
        "invite" => "/invite @anna member",
        "role" => "/role @anna admin",
        "remove" => "/remove @anna",
        "tz" => "/tz Europe/Berlin",
        "quiet" => "/quiet 22:00-07:00",
        "remind" => "/remind @anna friday 10:00 Send the invoice",
        "unremind" => "/unremind 3",
        "attach" => "/attach 42",
        "task" => "/task 42",
        "standup" => "/standup here mon-fri 09:30",
        _ => return None,
    })
}

/// The first whitespace-separated word and the rest, both trimmed (the rest keeps its inner
/// whitespace and newlines).
fn split_first(text: &str) -> (&str, &str) {
    let text = text.trim();
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim()),
        None => (text, ""),
    }
}

/// A task ID written `42` or `#42`.
fn parse_id(command: &str, word: &str) -> Result<i64, String> {
    if word.is_empty() {
        return Err(usage(command, &format!("/{command} needs a task ID.")));
    }
    let digits = word.strip_prefix('#').unwrap_or(word);
    match digits.parse::<i64>() {
        Ok(id) if id > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(id),
        _ => Err(usage(command, &format!("'{word}' is not a task ID."))),
    }
}

fn parse_tasks(args: &str) -> Result<Command, String> {
    let (first, rest) = split_first(args);
    let scope = match first.to_ascii_lowercase().as_str() {
        "" | "all" if rest.is_empty() => TasksScope::All,
        "mine" if rest.is_empty() => TasksScope::Mine,
        "overdue" if rest.is_empty() => TasksScope::Overdue,
        "project" if rest.is_empty() => {
            return Err(usage("tasks", "Which project? Add its name."));
        }
        "project" => TasksScope::Project(rest.to_owned()),
        _ => return Err(usage("tasks", &format!("I don't know the task list '{args}'."))),
    };
    Ok(Command::Tasks(scope))
}

fn parse_status(args: &str) -> Result<Command, String> {
    let (id, status) = split_first(args);
    let id = parse_id("status", id)?;
    let valid = TaskStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if status.is_empty() {
        return Err(usage(
            "status",
            &format!("/status needs a status: one of {valid}."),
        ));
    }
    match TaskStatus::parse_field(status, "status") {
        Ok(status) => Ok(Command::Status { id, status }),
        Err(_) => Err(usage(
            "status",
            &format!("'{status}' is not a status. Valid statuses: {valid}."),
        )),
    }
}

fn parse_comment(args: &str) -> Result<Command, String> {
    let (id, text) = split_first(args);
    let id = parse_id("comment", id)?;
    if text.is_empty() {
        return Err(usage("comment", "The comment has no text."));
    }
    Ok(Command::Comment {
        id,
        text: text.to_owned(),
    })
}

#[cfg(test)]
mod tests;
