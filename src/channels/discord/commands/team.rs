//! The team's and the projects' slash commands (`/claim`, `/invite`, `/people`, `/role`,
//! `/remove`, `/me`, `/tz`, `/quiet`, `/project new|here`, `/projects`): their options, and the
//! text command each invocation stands for (`/invite @anna member`, `/project here Launch`).

use serde_json::{json, Value};

use super::{choices, option, text_of, CommandOption, STRING, SUB_COMMAND};

const ROLES: &[&str] = &["admin", "member", "guest"];

/// Answers only the sender sees: codes, invites, one's own settings and sign-in links.
pub(super) const EPHEMERAL: &[&str] = &["claim", "invite", "people", "me", "tz", "quiet", "web"];

fn handle(description: &str, required: bool) -> Value {
    option(STRING, "handle", description, required)
}

fn role(description: &str, required: bool) -> Value {
    choices(option(STRING, "role", description, required), ROLES)
}

/// `/project new NAME` and `/project here NAME` as Discord subcommands.
fn project_subcommand(verb: &str, description: &str) -> Value {
    json!({
        "type": SUB_COMMAND,
        "name": verb,
        "description": description,
        "options": [option(STRING, "name", "The project's name, e.g. Launch", true)],
    })
}

/// (name, options) of each command, in the menu's order.
pub(super) fn definitions() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        (
            "claim",
            vec![option(
                STRING,
                "code",
                "The code the server printed at start",
                true,
            )],
        ),
        (
            "invite",
            vec![
                handle("Their handle, e.g. anna (default: they bring their own)", false),
                role("Their role (default: member)", false),
            ],
        ),
        ("people", vec![]),
        (
            "role",
            vec![handle("Whose role, e.g. anna", true), role("The new role", true)],
        ),
        (
            "remove",
            vec![handle("Whom to take off the team, e.g. anna", true)],
        ),
        ("me", vec![]),
        (
            "tz",
            vec![option(STRING, "zone", "A time zone, e.g. Europe/Berlin", true)],
        ),
        (
            "quiet",
            vec![option(
                STRING,
                "hours",
                "HH:MM-HH:MM in your time zone, e.g. 22:00-07:00, or off",
                true,
            )],
        ),
        (
            "project",
            vec![
                project_subcommand("new", "A new project"),
                project_subcommand("here", "This chat becomes the project's chat (new or existing)"),
            ],
        ),
        ("projects", vec![]),
    ]
}

/// The words after `/name` for an invoked team or project command; `get` reads a top-level
/// option's value.
pub(super) fn arguments(
    name: &str,
    options: &[CommandOption],
    get: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let at = |key: &str| get(key).map(|h| format!("@{}", h.trim_start_matches('@')));
    match name {
        "claim" => get("code").into_iter().collect(),
        "invite" | "role" => [at("handle"), get("role")].into_iter().flatten().collect(),
        "remove" => at("handle").into_iter().collect(),
        "tz" => get("zone").into_iter().collect(),
        "quiet" => get("hours").into_iter().collect(),
        "project" => match options.first() {
            Some(verb) => {
                let project = verb
                    .options
                    .iter()
                    .find(|o| o.name == "name")
                    .map(|o| text_of(&o.value))
                    .filter(|v| !v.is_empty());
                std::iter::once(verb.name.clone()).chain(project).collect()
            }
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}
