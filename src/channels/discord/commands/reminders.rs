//! The reminders' slash commands (`/remind`, `/reminders`, `/unremind`): their options, and
//! the text command each invocation stands for (`/remind @anna friday 10:00 Send the invoice`).

use serde_json::{json, Value};

use super::{option, INTEGER, STRING};

/// (name, options) of each command, in the menu's order.
pub(super) fn definitions() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        (
            "remind",
            vec![
                option(
                    STRING,
                    "when",
                    "When, in the recipient's time zone: tomorrow 10:00, friday, in 2 hours…",
                    true,
                ),
                option(STRING, "text", "What to remind of", true),
                option(
                    STRING,
                    "who",
                    "A handle (e.g. anna), me or here (default: me)",
                    false,
                ),
            ],
        ),
        ("reminders", vec![]),
        (
            "unremind",
            vec![
                json!({"type": INTEGER, "name": "id", "description": "The reminder's ID (from /reminders)",
                "required": true, "min_value": 1}),
            ],
        ),
    ]
}

/// The words after `/name` for an invoked reminder command; `get` reads an option's value.
pub(super) fn arguments(name: &str, get: impl Fn(&str) -> Option<String>) -> Vec<String> {
    match name {
        "remind" => {
            let who = get("who").map(|w| match w.to_ascii_lowercase().as_str() {
                "me" | "here" => w.to_ascii_lowercase(),
                _ => format!("@{}", w.trim_start_matches('@')),
            });
            [who, get("when"), get("text")].into_iter().flatten().collect()
        }
        "unremind" => get("id").into_iter().collect(),
        _ => Vec::new(),
    }
}
