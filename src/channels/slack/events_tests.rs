use serde_json::json;

use super::*;

const BOT: &str = "U0BOT0001";

fn callback(event: Value) -> Value {
    json!({
        "token": "XXYYZZ", "team_id": "T0TEAM001", "api_app_id": "A0APP0001",
        "event": event, "type": "event_callback", "event_id": "Ev0EVENT01", "event_time": 1764000000,
        "authorizations": [{"enterprise_id": null, "team_id": "T0TEAM001", "user_id": BOT,
                            "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false, "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ"
    })
}

fn event(payload: Value) -> Option<InboundEvent> {
    match read(callback(payload)) {
        Payload::Event(event) => Some(*event),
        _ => None,
    }
}

#[test]
fn a_direct_message_is_private_and_keyed_by_its_message() {
    let got = event(json!({
        "type": "message", "channel": "D0DM00001", "user": "U0ANNA001", "text": "Write the brief &amp; send it",
        "ts": "1764000000.000100", "event_ts": "1764000000.000100", "channel_type": "im",
        "client_msg_id": "5f3c", "team": "T0TEAM001", "blocks": []
    }))
    .unwrap();
    assert_eq!(got.channel, Channel::Slack);
    assert_eq!(got.event_id, "D0DM00001:1764000000.000100");
    assert_eq!(got.chat_id, "D0DM00001");
    assert_eq!(got.chat_kind, ChatKind::Private);
    assert_eq!(got.text, "Write the brief & send it");
    assert_eq!(got.sender.external_id, "U0ANNA001");
    assert_eq!(got.message_id.as_deref(), Some("1764000000.000100"));
}

#[test]
fn a_mention_answers_in_its_thread_and_loses_the_mention() {
    let mention = json!({
        "type": "app_mention", "user": "U0ANNA001", "text": "<@U0BOT0001> what is due for <@U0BEN0001|ben>?",
        "ts": "1764000100.000200", "channel": "C0GENERAL", "event_ts": "1764000100.000200"
    });
    let got = event(mention.clone()).unwrap();
    assert_eq!(got.chat_kind, ChatKind::Group);
    assert!(got.mentions_bot);
    assert_eq!(got.text, "what is due for @ben?");
    assert_eq!(got.message_id.as_deref(), Some("1764000100.000200"));
    // The same message as `message.channels` delivers it is the same event.
    let mut message = mention;
    message["type"] = json!("message");
    message["channel_type"] = json!("channel");
    assert_eq!(event(message).unwrap().event_id, got.event_id);
}

#[test]
fn channel_chatter_edits_and_bots_are_not_taken() {
    let chatter = json!({"type": "message", "channel": "C0GENERAL", "user": "U0ANNA001", "text": "lunch?",
                         "ts": "1.1", "channel_type": "channel"});
    assert!(event(chatter.clone()).is_none());
    let mut command = chatter.clone();
    command["text"] = json!("/tasks mine");
    assert!(event(command).is_some());
    let mut in_our_thread = chatter.clone();
    in_our_thread["thread_ts"] = json!("1.0");
    in_our_thread["parent_user_id"] = json!(BOT);
    let got = event(in_our_thread).unwrap();
    assert!(got.mentions_bot);
    assert_eq!(got.message_id.as_deref(), Some("1.0"));
    let mut in_other_thread = chatter.clone();
    in_other_thread["thread_ts"] = json!("1.0");
    in_other_thread["parent_user_id"] = json!("U0BEN0001");
    assert!(event(in_other_thread).is_none());
    let mut edited = chatter.clone();
    edited["subtype"] = json!("message_changed");
    edited["channel_type"] = json!("im");
    assert!(event(edited).is_none());
    let mut ours = chatter;
    ours["channel_type"] = json!("im");
    ours["user"] = json!(BOT);
    assert!(event(ours.clone()).is_none());
    ours["user"] = json!("U0OTHER01");
    ours["bot_id"] = json!("B0BOT0001");
    assert!(event(ours).is_none());
}

#[test]
fn shared_audio_becomes_a_voice_attachment() {
    let got = event(json!({
        "type": "message", "subtype": "file_share", "channel": "D0DM00001", "user": "U0ANNA001", "text": "",
        "ts": "2.1", "channel_type": "im",
        "files": [{"id": "F0AUDIO01", "name": "audio_message.webm", "mimetype": "audio/webm", "filetype": "webm",
                   "subtype": "slack_audio", "size": 48213, "duration_ms": 4200,
                   "url_private_download": "https://files.slack.com/files-pri/T0-F0AUDIO01/download/audio_message.webm"}]
    }))
    .unwrap();
    let file = &got.attachments[0];
    assert_eq!(file.kind, "voice");
    assert_eq!(file.platform_id, "F0AUDIO01");
    assert_eq!(file.duration_secs, Some(5));
}

#[test]
fn the_endpoint_check_and_other_payloads() {
    let check = json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"});
    assert!(matches!(read(check), Payload::UrlVerification(c) if c.starts_with("3eZbrw")));
    assert!(matches!(
        read(json!({"type": "app_rate_limited"})),
        Payload::Ignored(_)
    ));
    assert!(matches!(read(json!([1, 2])), Payload::Ignored(_)));
    assert!(matches!(
        read(callback(
            json!({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"})
        )),
        Payload::Ignored(_)
    ));
}

#[test]
fn formatting_becomes_plain_text() {
    assert_eq!(
        plain_text(
            "see <https://example.com/a|the doc> and <mailto:a@b.co|a@b.co>, <!here> <#C1|general> 1 &lt; 2"
        ),
        "see https://example.com/a and a@b.co, @here #general 1 < 2"
    );
    assert_eq!(plain_text("unclosed <b"), "unclosed <b");
}
