use serde_json::json;

use super::*;

fn form(text: &str, channel: &str) -> SlashCommand {
    let body = format!(
        "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0TEAM001&team_domain=example&enterprise_id=E0001&\
         channel_id={channel}&channel_name=general&user_id=U0ANNA001&user_name=anna&command=%2Fcoord&\
         text={text}&api_app_id=A0APP0001&is_enterprise_install=false&\
         response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678&\
         trigger_id=13345224609.738474920.8088930838d88f008e0"
    );
    serde_urlencoded::from_str(&body).unwrap()
}

#[test]
fn coord_carries_the_command() {
    assert_eq!(command_text("/coord", "tasks mine"), "/tasks mine");
    assert_eq!(command_text("/coord", "  "), "/help");
    assert_eq!(command_text("/coord", "/done 4"), "/done 4");
    assert_eq!(command_text("/tasks", "mine"), "/tasks mine");
    assert_eq!(
        command_text("/coord", "newtask Call <@U0BEN0001|ben> &amp; co"),
        "/newtask Call @ben & co"
    );
}

#[test]
fn a_slash_command_keeps_its_response_url_out_of_the_event() {
    let stored = slash_command(form("newtask+Write+the+brief+%21high", "C0GENERAL")).unwrap();
    let event = &stored.event;
    assert_eq!(event.text, "/newtask Write the brief !high");
    assert_eq!(event.event_id, "13345224609.738474920.8088930838d88f008e0");
    assert_eq!(
        event.chat_id,
        "C0GENERAL:13345224609.738474920.8088930838d88f008e0"
    );
    assert_eq!(event.chat_kind, ChatKind::Group);
    assert!(!serde_json::to_string(event).unwrap().contains("hooks.slack.com"));
    assert_eq!(
        stored.interaction.response_url,
        "https://hooks.slack.com/commands/1234/5678"
    );
    assert!(!stored.interaction.ephemeral);
    assert_eq!(stored.ack, Some(json!({"response_type": "in_channel"})));

    let help = slash_command(form("", "D0DM00001")).unwrap();
    // What Slack would never send cannot address an answer: not taken.
    assert!(slash_command(form("", "general")).is_none());
    assert_eq!(help.event.text, "/help");
    assert_eq!(help.event.chat_kind, ChatKind::Private);
    assert!(help.interaction.ephemeral);
    assert_eq!(help.ack, None);
}

fn press() -> Value {
    json!({
        "type": "block_actions",
        "user": {"id": "U0ANNA001", "username": "anna", "name": "anna", "team_id": "T0TEAM001"},
        "api_app_id": "A0APP0001", "token": "9s8d9as89d8as9d8as989",
        "container": {"type": "message", "message_ts": "1764000300.000300", "channel_id": "C0GENERAL", "is_ephemeral": false},
        "trigger_id": "12466734323.1395872398.c0b7e9b6a5d4",
        "team": {"id": "T0TEAM001", "domain": "example"}, "enterprise": null, "is_enterprise_install": false,
        "channel": {"id": "C0GENERAL", "name": "general"},
        "message": {"type": "message", "user": "U0BOT0001", "bot_id": "B0BOT0001", "ts": "1764000300.000300",
                    "text": "#12 is overdue &amp; escalated", "blocks": []},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0TEAM001/1/abc",
        "actions": [{"action_id": "ack:12", "block_id": "actions", "text": {"type": "plain_text", "text": "Acknowledge"},
                     "value": "ack:12", "type": "button", "action_ts": "1764000310.000400"}]
    })
}

#[test]
fn a_button_press_names_its_message() {
    let stored = button_press(press()).unwrap();
    let button = stored.event.button.clone().unwrap();
    assert_eq!(button.data, "ack:12");
    assert_eq!(button.id, "12466734323.1395872398.c0b7e9b6a5d4");
    assert_eq!(stored.event.message_id.as_deref(), Some("1764000300.000300"));
    assert_eq!(
        stored.interaction.message_ts.as_deref(),
        Some("1764000300.000300")
    );
    assert_eq!(
        stored.interaction.message_text.as_deref(),
        Some("#12 is overdue &amp; escalated")
    );
    assert_eq!(stored.interaction.message_blocks.as_deref(), Some("[]"));
    let mut modal = press();
    modal["type"] = json!("view_submission");
    assert!(button_press(modal).is_none());
    let mut odd_trigger = press();
    odd_trigger["trigger_id"] = json!("1.2\",\"x\":\"https://example.com");
    assert!(button_press(odd_trigger).is_none());
    let mut no_actions = press();
    no_actions["actions"] = json!([]);
    assert!(button_press(no_actions).is_none());
}
