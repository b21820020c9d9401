//! Discord's slash commands: their definitions (names, descriptions and typed options, in
//! Discord's application-command JSON), the translation of an invoked command back into the
//! text command the conversation understands (`/newtask Title @anna due friday !high`), which
//! answers are only for the sender (ephemeral), and the idempotent registration: the commands
//! Discord has are compared with ours and overwritten in bulk only when they differ.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::rest::{Auth, Rest, RestError};

mod files;
mod reminders;
mod team;

/// Discord's option types.
const SUB_COMMAND: u8 = 1;
const STRING: u8 = 3;
const INTEGER: u8 = 4;
/// A file the user uploads with the command (`data.resolved.attachments`).
const ATTACHMENT: u8 = 11;

/// An option of an invoked command, as Discord sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct CommandOption {
    pub name: String,
    #[serde(default)]
    pub value: Value,
    #[serde(default)]
    pub options: Vec<CommandOption>,
}

fn option(kind: u8, name: &str, description: &str, required: bool) -> Value {
    json!({"type": kind, "name": name, "description": description, "required": required})
}

fn choices(mut option: Value, values: &[&str]) -> Value {
    option["choices"] = values.iter().map(|v| json!({"name": v, "value": v})).collect();
    option
}

/// The commands' usage lines, (name, "/done ID — mark a task done"): the conversation's,
/// handed in at construction.
pub type Usage = &'static [(&'static str, &'static str)];

/// What a command does, from its usage line ("/done ID — mark a task done").
fn description(usage: Usage, name: &str) -> String {
    let line = usage
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(name, |(_, line)| *line);
    let what = line.split_once(" — ").map_or(line, |(_, what)| what);
    let mut text: String = what.chars().take(100).collect();
    if let Some(first) = text.get(..1) {
        text = first.to_uppercase() + &text[1..];
    }
    text
}

/// The slash commands, as registered with Discord.
pub fn definitions(usage: Usage) -> Vec<Value> {
    let id = |what: &str| json!({"type": INTEGER, "name": "id", "description": what, "required": true, "min_value": 1});
    let options: Vec<(&str, Vec<Value>)> = vec![
        ("help", vec![]),
        (
            "tasks",
            vec![
                choices(
                    option(STRING, "list", "Which tasks (default: all open tasks)", false),
                    &["all", "mine", "overdue"],
                ),
                option(STRING, "project", "Only the open tasks of this project", false),
            ],
        ),
        (
            "newtask",
            vec![
                option(STRING, "title", "What needs doing", true),
                option(STRING, "assignee", "Who does it: their handle, e.g. anna", false),
                option(
                    STRING,
                    "due",
                    "When: tomorrow, friday, in 3 days, 2030-01-15 17:00…",
                    false,
                ),
                choices(
                    option(STRING, "priority", "How urgent", false),
                    &["low", "medium", "high", "urgent"],
                ),
                option(
                    STRING,
                    "every",
                    "Repeats: every month on the 1st, every weekday at 9:30…",
                    false,
                ),
                option(ATTACHMENT, "file", "A file to put on the new task", false),
            ],
        ),
        ("done", vec![id("The task's ID")]),
        (
            "status",
            vec![
                id("The task's ID"),
                choices(
                    option(STRING, "status", "The new status", true),
                    &["todo", "in_progress", "done", "blocked"],
                ),
            ],
        ),
        (
            "comment",
            vec![id("The task's ID"), option(STRING, "text", "The comment", true)],
        ),
        ("ask", vec![option(STRING, "question", "Your question", true)]),
        (
            "report",
            vec![choices(
                option(STRING, "period", "Which report (default: daily)", false),
                &["daily", "weekly"],
            )],
        ),
        (
            "link",
            vec![option(STRING, "code", "The code an admin gave you", true)],
        ),
        (
            "alerts",
            vec![choices(
                option(
                    STRING,
                    "where",
                    "here: this chat gets them; off: no chat does",
                    false,
                ),
                &["here", "off"],
            )],
        ),
        ("web", vec![]),
    ];
    options
        .into_iter()
        .chain(team::definitions())
        .chain(reminders::definitions())
        .chain(files::definitions())
        .chain([(
            "standup",
            vec![
                choices(
                    option(
                        STRING,
                        "action",
                        "here: set it for this chat; off: stop it; none: show it",
                        false,
                    ),
                    &["here", "off"],
                ),
                option(STRING, "days", "mon-fri, mon,wed,fri or daily", false),
                option(STRING, "time", "When to ask, HH:MM in your time zone", false),
                option(
                    STRING,
                    "digest",
                    "When to post the digest, HH:MM (default: 2 hours later)",
                    false,
                ),
            ],
        )])
        .map(|(name, options)| {
            json!({
                "name": name,
                "type": 1,
                "description": description(usage, name),
                "options": options,
                // Usable in servers and in direct messages with the bot.
                "contexts": [0, 1],
            })
        })
        .collect()
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The text command that an invoked slash command stands for.
pub fn to_text(name: &str, options: &[CommandOption]) -> String {
    let get = |key: &str| {
        options
            .iter()
            .find(|o| o.name == key)
            .map(|o| text_of(&o.value))
            .filter(|v| !v.is_empty())
    };
    let mut parts = vec![format!("/{name}")];
    match name {
        "newtask" => {
            parts.extend(get("title"));
            if let Some(who) = get("assignee") {
                // A person picked from Discord's list arrives as `<@ID>`; the intake reads it.
                if who.starts_with("<@") {
                    parts.push(who);
                } else {
                    parts.push(format!("@{}", who.trim_start_matches('@')));
                }
            }
            if let Some(due) = get("due") {
                parts.push(format!("due {due}"));
            }
            if let Some(priority) = get("priority") {
                parts.push(format!("!{}", priority.trim_start_matches('!')));
            }
            if let Some(every) = get("every") {
                let rest = every.strip_prefix("every ").unwrap_or(&every);
                parts.push(format!("every {rest}"));
            }
        }
        "tasks" => match (get("project"), get("list")) {
            (Some(project), _) => parts.push(format!("project {project}")),
            (None, Some(list)) => parts.push(list),
            (None, None) => {}
        },
        "done" => parts.extend(get("id")),
        "status" => parts.extend([get("id"), get("status")].into_iter().flatten()),
        "comment" => parts.extend([get("id"), get("text")].into_iter().flatten()),
        "ask" => parts.extend(get("question")),
        "report" => parts.extend(get("period")),
        "link" => parts.extend(get("code")),
        "claim" | "invite" | "role" | "remove" | "tz" | "quiet" | "project" => {
            parts.extend(team::arguments(name, options, get))
        }
        "remind" | "reminders" | "unremind" => parts.extend(reminders::arguments(name, get)),
        "attach" | "task" => parts.extend(files::arguments(name, get)),
        "standup" => {
            parts.extend([get("action"), get("days"), get("time")].into_iter().flatten());
            parts.extend(get("digest").map(|d| format!("digest {d}")));
        }
        // A command we no longer define: its values in order, for the usage reply.
        _ => parts.extend(
            options
                .iter()
                .map(|o| text_of(&o.value))
                .filter(|v| !v.is_empty()),
        ),
    }
    parts.join(" ")
}

/// Whether the answer is for the sender's eyes only.
pub fn ephemeral(name: &str, options: &[CommandOption]) -> bool {
    match name {
        "help" | "link" => true,
        name if team::EPHEMERAL.contains(&name) => true,
        "tasks" => options
            .iter()
            .any(|o| o.name == "list" && o.value.as_str() == Some("mine")),
        _ => false,
    }
}

/// The fields of a command that registration compares, with Discord's defaults filled in, so
/// that what Discord answers (ids, versions and other extra fields) compares equal to ours.
fn normalize(command: &Value) -> Value {
    fn normalize_option(o: &Value) -> Value {
        let mut out = json!({
            "type": o["type"],
            "name": o["name"],
            "description": o["description"],
            "required": o["required"].as_bool().unwrap_or(false),
        });
        for key in ["choices", "min_value", "max_value", "min_length", "max_length"] {
            if let Some(v) = o.get(key).filter(|v| !v.is_null()) {
                out[key] = v.clone();
            }
        }
        let nested: Vec<Value> = o["options"]
            .as_array()
            .into_iter()
            .flatten()
            .map(normalize_option)
            .collect();
        if !nested.is_empty() {
            out["options"] = Value::Array(nested);
        }
        out
    }
    let options: Vec<Value> = command["options"]
        .as_array()
        .into_iter()
        .flatten()
        .map(normalize_option)
        .collect();
    let mut contexts: Vec<i64> = command["contexts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .collect();
    contexts.sort_unstable();
    json!({
        "name": command["name"],
        "type": command["type"].as_i64().unwrap_or(1),
        "description": command["description"],
        "options": options,
        "contexts": contexts,
    })
}

fn normalized_set(commands: &[Value]) -> Vec<Value> {
    let mut set: Vec<Value> = commands.iter().map(normalize).collect();
    set.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    set
}

/// What registration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Discord already had exactly these commands: nothing was written.
    UpToDate(usize),
    /// The commands were overwritten in bulk.
    Registered(usize),
}

/// Makes the application's commands (global, or those of `guild_id`) equal to
/// [`definitions`]: reads them, and overwrites them in bulk only when they differ.
pub async fn register(
    rest: &Rest,
    application_id: &str,
    guild_id: Option<&str>,
    usage: Usage,
) -> Result<Registration, RestError> {
    let mut segments = vec!["applications", application_id];
    if let Some(guild) = guild_id {
        segments.extend(["guilds", guild]);
    }
    segments.push("commands");
    let route = segments.join("/");
    let ours = definitions(usage);
    let theirs = rest.call(Method::GET, &segments, &route, Auth::Bot, None).await?;
    let theirs = theirs.as_array().cloned().unwrap_or_default();
    if normalized_set(&theirs) == normalized_set(&ours) {
        return Ok(Registration::UpToDate(ours.len()));
    }
    let body = Value::Array(ours.clone());
    rest.call(Method::PUT, &segments, &route, Auth::Bot, Some(&body))
        .await?;
    Ok(Registration::Registered(ours.len()))
}

#[cfg(test)]
mod tests;
