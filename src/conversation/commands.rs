//! Chat slash commands: `/tasks mine`, `/newtask Write notes @anna due friday !high`, …
//!
//! Pure: parsing needs only the text, the clock (`now`) and the person's time zone, so that
//! "tomorrow" means tomorrow where the person is. A command used wrongly becomes
//! [`Parsed::Usage`], the reply that says what was wrong and how to write it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::{parse_spoken_date, Handle, Period, Priority, Recurrence, TaskStatus, TaskTitle};

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
                            None => Err(format!("Unknown command /{name}. Try /help.")),
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

/// The words from `words[from]` up to the next `@handle`, `!priority`, `due` or `every`:
/// (end index, text).
fn clause<'a>(args: &'a str, words: &[(usize, &str)], from: usize) -> (usize, &'a str) {
    let stops = |word: &str| {
        word.starts_with('@')
            || word.starts_with('!')
            || word.eq_ignore_ascii_case("due")
            || word.eq_ignore_ascii_case("every")
    };
    let end = words
        .get(from + 1..)
        .unwrap_or_default()
        .iter()
        .position(|(_, w)| stops(w))
        .map_or(words.len(), |n| from + 1 + n);
    let start = words.get(from).map_or(args.len(), |(offset, _)| *offset);
    let stop = words.get(end).map_or(args.len(), |(offset, _)| *offset);
    (end, args[start..stop].trim())
}

/// `TITLE [@handle] [due DATE] [!priority] [every …]`, the options in any order after the
/// title. "every" starts an option only when what follows reads as a repetition ("every
/// month on the 1st"); otherwise it is part of the title ("Review every PR").
fn parse_new_task(args: &str, now: DateTime<Utc>, tz: Tz) -> Result<Command, String> {
    let bad = |problem: &str| usage("newtask", problem);
    let words = words_with_offsets(args);
    let is_option =
        |word: &str| word.starts_with('@') || word.starts_with('!') || word.eq_ignore_ascii_case("due");
    let repeats: Vec<usize> = (0..words.len())
        .filter(|&i| {
            words[i].1.eq_ignore_ascii_case("every")
                && matches!(Recurrence::from_words(clause(args, &words, i).1), Ok(Some(_)))
        })
        .collect();
    let repeat_at = repeats.first().copied();
    let first_option = words
        .iter()
        .position(|(_, word)| is_option(word))
        .unwrap_or(words.len())
        .min(repeat_at.unwrap_or(words.len()));
    let title_text = words
        .get(first_option)
        .map_or(args, |(offset, _)| &args[..*offset]);
    if title_text.trim().is_empty() {
        return Err(bad("The task needs a title."));
    }
    let title = TaskTitle::parse(title_text).map_err(|e| bad(&format!("The title {}.", e.message)))?;

    let (mut assignee, mut due, mut priority, mut recurrence) = (None, None, None, None);
    let mut i = first_option;
    while i < words.len() {
        let word = words[i].1;
        if word.eq_ignore_ascii_case("every") {
            let (end, text) = clause(args, &words, i);
            if recurrence.is_some() {
                return Err(bad("Give one repetition (every …)."));
            }
            recurrence = Some(
                Recurrence::from_words(text)
                    .map_err(|e| bad(&e))?
                    .ok_or_else(|| bad("'every' needs a repetition, e.g. every month on the 1st."))?,
            );
            i = end;
            continue;
        }
        i += 1;
        if word.starts_with('@') {
            if assignee.is_some() {
                return Err(bad("A task has one assignee: give one @handle."));
            }
            let handle = Handle::parse(word).map_err(|e| bad(&format!("{}.", e.message)))?;
            assignee = Some(handle);
        } else if let Some(level) = word.strip_prefix('!') {
            if priority.is_some() {
                return Err(bad("Give one !priority."));
            }
            let level = Priority::parse_field(level, "priority").map_err(|_| {
                bad(&format!(
                    "'{word}' is not a priority: use !low, !medium, !high or !urgent."
                ))
            })?;
            priority = Some(level);
        } else if word.eq_ignore_ascii_case("due") {
            if due.is_some() {
                return Err(bad("Give one due date."));
            }
            let end = (i..words.len())
                .find(|&n| {
                    let w = words[n].1;
                    w.starts_with('@') || w.starts_with('!') || repeats.contains(&n)
                })
                .unwrap_or(words.len());
            let date_text = words[i..end]
                .iter()
                .map(|(_, w)| *w)
                .collect::<Vec<_>>()
                .join(" ");
            i = end;
            if date_text.is_empty() {
                return Err(bad(&format!("'due' needs a date, e.g. {DATE_EXAMPLES}.")));
            }
            due = Some(parse_spoken_date(&date_text, now, tz).map_err(|e| bad(&e))?);
        } else {
            return Err(bad(&format!(
                "I didn't understand '{word}' after the title: after it come only \
                 @handle, due DATE, !priority and every …."
            )));
        }
    }
    Ok(Command::NewTask {
        title,
        assignee,
        due,
        priority,
        recurrence,
    })
}

/// The whitespace-separated words of `text`, each with its byte offset.
fn words_with_offsets(text: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(from)) => {
                words.push((from, &text[from..at]));
                start = None;
            }
            (false, None) => start = Some(at),
            _ => {}
        }
    }
    if let Some(from) = start {
        words.push((from, &text[from..]));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    /// Wednesday 2025-03-12 10:00 UTC, 11:00 in Berlin (CET, UTC+1; CEST from 2025-03-30).
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 12, 10, 0, 0).unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn p(text: &str) -> Parsed {
        parse(text, now(), BERLIN, Some("CoordBot"))
    }

    fn cmd(text: &str) -> Command {
        match p(text) {
            Parsed::Command(command) => command,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    fn usage_of(text: &str) -> String {
        match p(text) {
            Parsed::Usage(reply) => reply,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    fn due(date: &str) -> Result<DateTime<Utc>, String> {
        due_at(date, now())
    }

    fn due_at(date: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
        match parse(&format!("/newtask Thing due {date}"), now, BERLIN, None) {
            Parsed::Command(Command::NewTask { due, .. }) => Ok(due.unwrap()),
            Parsed::Usage(reply) => Err(reply),
            other => panic!("{date:?} gave {other:?}"),
        }
    }

    #[test]
    fn free_text_is_not_a_command() {
        assert_eq!(p("hello there"), Parsed::NotACommand);
        assert_eq!(p("  what about /tasks?"), Parsed::NotACommand);
        assert_eq!(p(""), Parsed::NotACommand);
        assert_eq!(p("/"), Parsed::NotACommand);
        assert_eq!(p("/ hello"), Parsed::NotACommand);
        assert_eq!(p("/usr/bin is full"), Parsed::NotACommand);
    }

    #[test]
    fn help_and_start() {
        assert_eq!(cmd("/help"), Command::Help);
        assert_eq!(cmd("  /HELP  "), Command::Help);
        assert_eq!(cmd("/start"), Command::Help);
        let help = help_text();
        for (name, line) in USAGE {
            assert!(help.contains(line), "{name}");
            assert!(line.starts_with(&format!("/{name}")), "{line}");
        }
    }

    #[test]
    fn unknown_command() {
        assert_eq!(
            p("/frobnicate now"),
            Parsed::Usage("Unknown command /frobnicate. Try /help.".into())
        );
    }

    #[test]
    fn bot_suffix() {
        assert_eq!(cmd("/tasks@CoordBot mine"), Command::Tasks(TasksScope::Mine));
        assert_eq!(cmd("/Done@coordbot #7"), Command::Done { id: 7 });
        assert_eq!(p("/tasks@OtherBot mine"), Parsed::NotACommand);
        assert_eq!(p("/unknown@OtherBot"), Parsed::NotACommand);
        // Without our name, any addressee is accepted.
        let parsed = parse("/help@Whoever", now(), BERLIN, None);
        assert_eq!(parsed, Parsed::Command(Command::Help));
        let parsed = parse("/help@CoordBot", now(), BERLIN, Some("@CoordBot"));
        assert_eq!(parsed, Parsed::Command(Command::Help));
    }

    #[test]
    fn tasks_scopes() {
        assert_eq!(cmd("/tasks"), Command::Tasks(TasksScope::All));
        assert_eq!(cmd("/tasks all"), Command::Tasks(TasksScope::All));
        assert_eq!(cmd("/Tasks MINE"), Command::Tasks(TasksScope::Mine));
        assert_eq!(cmd("/tasks overdue"), Command::Tasks(TasksScope::Overdue));
        assert_eq!(
            cmd("/tasks project  Website relaunch \n"),
            Command::Tasks(TasksScope::Project("Website relaunch".into()))
        );
        assert!(usage_of("/tasks project").contains("Which project?"));
        let reply = usage_of("/tasks someday");
        assert!(reply.contains("'someday'"), "{reply}");
        assert!(reply.contains("Usage: /tasks [mine|overdue|project NAME]"));
        assert!(usage_of("/tasks mine please").contains("'mine please'"));
    }

    #[test]
    fn done_takes_one_id() {
        assert_eq!(cmd("/done 42"), Command::Done { id: 42 });
        assert_eq!(cmd("/done #42"), Command::Done { id: 42 });
        assert_eq!(cmd("/done\n  42 \n"), Command::Done { id: 42 });
        assert_eq!(
            usage_of("/done"),
            "/done needs a task ID.\nUsage: /done ID — e.g. /done 42"
        );
        assert!(usage_of("/done abc").starts_with("'abc' is not a task ID."));
        for bad in ["/done 0", "/done -3", "/done +3", "/done #", "/done 4.5"] {
            assert!(usage_of(bad).contains("is not a task ID"), "{bad}");
        }
        assert!(usage_of("/done 99999999999999999999").contains("is not a task ID"));
        assert!(usage_of("/done 1 2").contains("just one task ID"));
    }

    #[test]
    fn status_is_lenient_and_lists_valid_values() {
        let status = |text| match cmd(text) {
            Command::Status { id: 5, status } => status,
            other => panic!("{other:?}"),
        };
        assert_eq!(status("/status 5 done"), TaskStatus::Done);
        assert_eq!(status("/status #5 In Progress"), TaskStatus::InProgress);
        assert_eq!(status("/status 5 in-progress"), TaskStatus::InProgress);
        assert_eq!(status("/status 5 BLOCKED"), TaskStatus::Blocked);
        let reply = usage_of("/status 5 finished");
        assert!(reply.contains("'finished' is not a status"), "{reply}");
        assert!(reply.contains("todo, in_progress, done, blocked"), "{reply}");
        assert!(usage_of("/status 5").contains("needs a status"));
        assert!(usage_of("/status").contains("needs a task ID"));
        assert!(usage_of("/status done 5").contains("'done' is not a task ID"));
    }

    #[test]
    fn comment_keeps_inner_newlines() {
        assert_eq!(
            cmd("/comment #12  \n First line\n\nsecond line  \n"),
            Command::Comment {
                id: 12,
                text: "First line\n\nsecond line".into()
            }
        );
        assert!(usage_of("/comment 12").contains("no text"));
        assert!(usage_of("/comment").contains("needs a task ID"));
        assert!(usage_of("/comment hello there").contains("'hello' is not a task ID"));
    }

    #[test]
    fn ask_report_link() {
        assert_eq!(
            cmd("/ask  What is late?\nAnd why? "),
            Command::Ask {
                question: "What is late?\nAnd why?".into()
            }
        );
        assert!(usage_of("/ask").contains("Usage: /ask QUESTION"));
        let report = |period| Command::Report { period };
        assert_eq!(cmd("/report"), report(Period::Daily));
        assert_eq!(cmd("/report daily"), report(Period::Daily));
        assert_eq!(cmd("/REPORT Weekly"), report(Period::Weekly));
        assert!(usage_of("/report monthly").contains("'monthly' is not a report period"));
        assert_eq!(
            cmd("/link 7f3k9qab"),
            Command::Link {
                code: "7f3k9qab".into()
            }
        );
        assert!(usage_of("/link").contains("Usage: /link CODE"));
        assert!(usage_of("/link AB CD").contains("one word"));
    }

    #[test]
    fn newtask_with_all_options_in_any_order() {
        let expected = Command::NewTask {
            title: TaskTitle::parse("Update the release notes").unwrap(),
            assignee: Some(Handle::parse("anna").unwrap()),
            due: Some(utc("2025-03-14T22:59:59Z")),
            priority: Some(Priority::High),
            recurrence: None,
        };
        for text in [
            "/newtask Update the release notes @Anna due next friday !high",
            "/newtask Update the release notes !HIGH @anna DUE Next Friday",
            "/NewTask  Update the release notes due friday @anna !high ",
        ] {
            assert_eq!(cmd(text), expected, "{text}");
        }
    }

    #[test]
    fn newtask_title_only_and_option_like_words() {
        let only_title = |title: &str| Command::NewTask {
            title: TaskTitle::parse(title).unwrap(),
            assignee: None,
            due: None,
            priority: None,
            recurrence: None,
        };
        assert_eq!(cmd("/newtask Call the bank"), only_title("Call the bank"));
        assert_eq!(
            cmd("/newtask Update overdue invoices, duel stats & mail a@b.c now!"),
            only_title("Update overdue invoices, duel stats & mail a@b.c now!")
        );
        match cmd("/newtask Update  the due-date docs @bob") {
            Command::NewTask { title, assignee, .. } => {
                assert_eq!(title.as_str(), "Update  the due-date docs");
                assert_eq!(assignee.as_ref().map(Handle::as_str), Some("bob"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn newtask_every_is_a_repetition_only_when_it_reads_as_one() {
        match cmd("/newtask Send the monthly report every month on the 1st @anna") {
            Command::NewTask {
                title,
                assignee,
                recurrence,
                ..
            } => {
                assert_eq!(title.as_str(), "Send the monthly report");
                assert_eq!(assignee.as_ref().map(Handle::as_str), Some("anna"));
                assert_eq!(recurrence.unwrap().rule(), "FREQ=MONTHLY;BYMONTHDAY=1");
            }
            other => panic!("{other:?}"),
        }
        match cmd("/newtask Review every PR @bob") {
            Command::NewTask {
                title, recurrence, ..
            } => {
                assert_eq!(title.as_str(), "Review every PR");
                assert_eq!(recurrence, None);
            }
            other => panic!("{other:?}"),
        }
        assert!(usage_of("/newtask Report every month every week").contains("one repetition"));
    }

    #[test]
    fn newtask_bad_usage() {
        assert!(usage_of("/newtask").contains("needs a title"));
        assert!(usage_of("/newtask   @anna due friday").contains("needs a title"));
        let reply = usage_of("/newtask Fix it !soon");
        assert!(reply.contains("'!soon' is not a priority"), "{reply}");
        assert!(reply.contains("Usage: /newtask TITLE [@handle] [due DATE] [!priority]"));
        assert!(usage_of("/newtask Fix it @bad/handle").contains("is not a handle"));
        assert!(usage_of("/newtask Fix it @a @b").contains("one assignee"));
        assert!(usage_of("/newtask Fix it !low !high").contains("one !priority"));
        assert!(usage_of("/newtask Fix it due").contains("'due' needs a date"));
        assert!(usage_of("/newtask Fix it due friday due monday").contains("'friday due monday'"));
        assert!(usage_of("/newtask Fix it @anna tomorrow").contains("'tomorrow' after the title"));
        let long = format!("/newtask {}", "x".repeat(301));
        assert!(usage_of(&long).contains("at most 300"));
    }

    #[test]
    fn relative_dates_in_berlin() {
        assert_eq!(due("today"), Ok(utc("2025-03-12T22:59:59Z")));
        assert_eq!(due("tomorrow"), Ok(utc("2025-03-13T22:59:59Z")));
        assert_eq!(due("Tomorrow 17:00"), Ok(utc("2025-03-13T16:00:00Z")));
        assert_eq!(due("tomorrow at 5PM"), Ok(utc("2025-03-13T16:00:00Z")));
        assert_eq!(due("tomorrow 12pm"), Ok(utc("2025-03-13T11:00:00Z")));
        assert_eq!(due("tomorrow 12 am"), Ok(utc("2025-03-12T23:00:00Z")));
        assert_eq!(due("friday noon"), Ok(utc("2025-03-14T11:00:00Z")));
        assert_eq!(due("friday"), Ok(utc("2025-03-14T22:59:59Z")));
        assert_eq!(due("next friday"), Ok(utc("2025-03-14T22:59:59Z")));
        assert_eq!(due("next friday 9:30"), Ok(utc("2025-03-14T08:30:00Z")));
        assert_eq!(due("in 3 days"), Ok(utc("2025-03-15T22:59:59Z")));
        assert_eq!(due("in 2 weeks"), Ok(utc("2025-03-26T22:59:59Z")));
        assert_eq!(due("in a week"), Ok(utc("2025-03-19T22:59:59Z")));
        // Across the switch to summer time: 23:59:59 CEST is 21:59:59 UTC.
        assert_eq!(due("in 3 weeks"), Ok(utc("2025-04-02T21:59:59Z")));
        assert_eq!(due("in 2 hours"), Ok(utc("2025-03-12T12:00:00Z")));
    }

    #[test]
    fn local_day_differs_from_utc_day() {
        // 23:30 UTC on the 12th is already 00:30 on the 13th in Berlin.
        let late = Utc.with_ymd_and_hms(2025, 3, 12, 23, 30, 0).unwrap();
        assert_eq!(due_at("today", late), Ok(utc("2025-03-13T22:59:59Z")));
        assert_eq!(due_at("tomorrow", late), Ok(utc("2025-03-14T22:59:59Z")));
        // On a Friday, "next friday" is a week later; plain "friday" too once it has begun.
        let friday = Utc.with_ymd_and_hms(2025, 3, 14, 9, 0, 0).unwrap();
        assert_eq!(due_at("next friday", friday), Ok(utc("2025-03-21T22:59:59Z")));
    }

    #[test]
    fn absolute_dates() {
        assert_eq!(due("2030-01-15"), Ok(utc("2030-01-15T22:59:59Z")));
        assert_eq!(due("2030-01-15 08:00"), Ok(utc("2030-01-15T07:00:00Z")));
        assert_eq!(due("2030-01-15T08:00"), Ok(utc("2030-01-15T07:00:00Z")));
        assert_eq!(due("20 march"), Ok(utc("2025-03-20T22:59:59Z")));
        // A day and month already passed this year means next year's.
        assert_eq!(due("15 jan"), Ok(utc("2026-01-15T22:59:59Z")));
        assert_eq!(due("Jan 15 9:00"), Ok(utc("2026-01-15T08:00:00Z")));
        assert_eq!(due("1/15"), Ok(utc("2026-01-15T22:59:59Z")));
        assert_eq!(due("february"), Ok(utc("2026-02-01T22:59:59Z")));
    }

    #[test]
    fn past_dates_are_refused() {
        for date in [
            "yesterday",
            "2020-01-01",
            "today 9:00",
            "15 jan 2025",
            "2 days ago",
        ] {
            let reply = due(date).unwrap_err();
            assert!(reply.contains(&format!("'{date}'")), "{reply}");
            assert!(reply.contains("is in the past"), "{reply}");
            assert!(reply.contains("Usage: /newtask"), "{reply}");
        }
    }

    #[test]
    fn unparseable_dates_name_the_text() {
        for date in ["someday", "the 5th", "tomorrow 5", "32 jan", "15/01", "soon-ish!"] {
            let reply = due(date).unwrap_err();
            assert!(
                reply.contains(&format!("couldn't understand the date '{date}'")),
                "{reply}"
            );
            assert!(reply.contains("next friday, in 3 days"), "{reply}");
        }
        // Long words must not reach interim, which would panic on them.
        let long = "tomorrow 5abcdefghijklmnopqrstuvwxyz";
        assert!(due(long).unwrap_err().contains("couldn't understand"));
        assert!(due("tomorrow 5ABCDEFGHIJKL").is_err());
    }
}
