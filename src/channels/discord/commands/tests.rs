//! Definitions, the option-to-text translation and what registration compares.

use super::*;
// Test code, like the rest of this file (the layer check reads up to this attribute): the
// definitions are checked against the conversation's real menu.
#[cfg(test)]
use crate::conversation::commands::menu;

fn opts(json: Value) -> Vec<CommandOption> {
    serde_json::from_value(json).unwrap()
}

#[test]
fn options_become_the_text_command() {
    let o = opts(json!([
        {"type": 3, "name": "title", "value": "Write the brief"},
        {"type": 3, "name": "assignee", "value": "@anna"},
        {"type": 3, "name": "due", "value": "next friday"},
        {"type": 3, "name": "priority", "value": "high"},
    ]));
    assert_eq!(
        to_text("newtask", &o),
        "/newtask Write the brief @anna due next friday !high"
    );
    assert_eq!(
        to_text(
            "status",
            &opts(json!([{"name": "id", "value": 4}, {"name": "status", "value": "blocked"}]))
        ),
        "/status 4 blocked"
    );
    assert_eq!(
        to_text("tasks", &opts(json!([{"name": "list", "value": "mine"}]))),
        "/tasks mine"
    );
    assert_eq!(
        to_text("tasks", &opts(json!([{"name": "project", "value": "Launch"}]))),
        "/tasks project Launch"
    );
    assert_eq!(to_text("help", &[]), "/help");
    assert_eq!(
        to_text(
            "invite",
            &opts(json!([{"name": "handle", "value": "@anna"}, {"name": "role", "value": "member"}]))
        ),
        "/invite @anna member"
    );
    assert_eq!(
        to_text("invite", &opts(json!([{"name": "role", "value": "guest"}]))),
        "/invite guest"
    );
    assert_eq!(
        to_text(
            "role",
            &opts(json!([{"name": "handle", "value": "ben"}, {"name": "role", "value": "admin"}]))
        ),
        "/role @ben admin"
    );
    assert_eq!(
        to_text("remove", &opts(json!([{"name": "handle", "value": "ben"}]))),
        "/remove @ben"
    );
    assert_eq!(
        to_text(
            "claim",
            &opts(json!([{"name": "code", "value": " 7F3K9QAB2MXP "}]))
        ),
        "/claim 7F3K9QAB2MXP"
    );
    assert_eq!(
        to_text("tz", &opts(json!([{"name": "zone", "value": "Europe/Berlin"}]))),
        "/tz Europe/Berlin"
    );
    assert_eq!(
        to_text("quiet", &opts(json!([{"name": "hours", "value": "22:00-07:00"}]))),
        "/quiet 22:00-07:00"
    );
    assert_eq!(
        to_text(
            "project",
            &opts(json!([{"type": 1, "name": "here",
                          "options": [{"type": 3, "name": "name", "value": "Launch"}]}]))
        ),
        "/project here Launch"
    );
    // Without its subcommand, /project gets its usage reply.
    assert_eq!(to_text("project", &[]), "/project");
    assert_eq!(to_text("projects", &[]), "/projects");
    assert_eq!(to_text("people", &[]), "/people");
    assert_eq!(
        to_text("old", &opts(json!([{"name": "x", "value": 3}]))),
        "/old 3"
    );
}

#[test]
fn private_answers_are_ephemeral() {
    assert!(ephemeral("help", &[]));
    assert!(ephemeral("link", &[]));
    assert!(ephemeral(
        "tasks",
        &opts(json!([{"name": "list", "value": "mine"}]))
    ));
    assert!(!ephemeral("tasks", &[]));
    assert!(!ephemeral("newtask", &[]));
    assert!(ephemeral("claim", &[]));
    assert!(ephemeral("invite", &[]));
    assert!(!ephemeral("project", &[]));
}

#[test]
fn definitions_are_valid_for_discord() {
    let defs = definitions(menu());
    // One slash command per command of the menu, and no other.
    let names: Vec<&str> = defs.iter().map(|d| d["name"].as_str().unwrap()).collect();
    let menu_names: Vec<&str> = menu().iter().map(|(name, _)| *name).collect();
    assert_eq!(names, menu_names);
    assert!(defs.len() <= 100, "Discord takes at most 100 commands");
    for d in &defs {
        let name = d["name"].as_str().unwrap();
        assert!(name.len() <= 32 && name.chars().all(|c| c.is_ascii_lowercase()));
        let description = d["description"].as_str().unwrap();
        assert!((1..=100).contains(&description.chars().count()));
        // Required options come first, as Discord demands.
        let required: Vec<bool> = d["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["required"].as_bool().unwrap_or(false))
            .collect();
        assert!(required.windows(2).all(|w| w[0] || !w[1]), "{name}");
        for o in d["options"].as_array().unwrap() {
            let described = o["description"].as_str().unwrap().chars().count();
            assert!((1..=100).contains(&described), "{name}: {o}");
        }
    }
}

#[test]
fn what_discord_answers_compares_equal_to_ours() {
    let ours = definitions(menu());
    let theirs: Vec<Value> = ours
        .iter()
        .rev()
        .enumerate()
        .map(|(n, c)| {
            let mut c = c.clone();
            c["id"] = json!(format!("1{n}"));
            c["version"] = json!("1");
            c["default_member_permissions"] = Value::Null;
            for o in c["options"].as_array_mut().unwrap() {
                if o["required"] == json!(false) {
                    o.as_object_mut().unwrap().remove("required");
                }
            }
            c
        })
        .collect();
    assert_eq!(normalized_set(&theirs), normalized_set(&ours));
    let mut changed = theirs.clone();
    changed[0]["description"] = json!("something else");
    assert_ne!(normalized_set(&changed), normalized_set(&ours));
}
