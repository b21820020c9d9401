//! The files' slash commands (`/attach`, `/task`): their options, and the text command each
//! invocation stands for (`/task 42 files`). The file of `/attach` (and of `/newtask`) is an
//! attachment option: it arrives in the interaction's `resolved.attachments`, not in the text.

use serde_json::{json, Value};

use super::{choices, option, ATTACHMENT, INTEGER, STRING};

fn id(what: &str) -> Value {
    json!({"type": INTEGER, "name": "id", "description": what, "required": true, "min_value": 1})
}

/// (name, options) of each command, in the menu's order.
pub(super) fn definitions() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        (
            "attach",
            vec![
                id("The task the file goes on"),
                option(ATTACHMENT, "file", "The file to put on the task", true),
            ],
        ),
        (
            "task",
            vec![
                id("The task's ID"),
                choices(
                    option(STRING, "files", "files: send its files here", false),
                    &["files"],
                ),
            ],
        ),
    ]
}

/// The words after `/name` for an invoked files command; `get` reads an option's value.
pub(super) fn arguments(name: &str, get: impl Fn(&str) -> Option<String>) -> Vec<String> {
    match name {
        "attach" => get("id").into_iter().collect(),
        "task" => [get("id"), get("files")].into_iter().flatten().collect(),
        _ => Vec::new(),
    }
}
