//! WhatsApp in: `parse` turns a Cloud API webhook notification into our `InboundEvent`s (one per
//! message: text, reply-button and list replies, audio and voice notes, documents, images,
//! videos) and delivery updates (one per status). A pure function, tested from recorded JSON.
//! Each message is read on its own, so one unusable message does not hide the others.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::payload::{Contact, GraphErrorItem, Media, Message, Status};
use crate::domain::Channel;
use crate::message::{Attachment, ButtonPress, ChatKind, InboundEvent, Sender};
use crate::store::{DeliveryStatus, DeliveryUpdate};

/// What one notification carries.
#[derive(Debug, Default, PartialEq)]
pub struct Notification {
    pub events: Vec<InboundEvent>,
    pub statuses: Vec<DeliveryUpdate>,
    /// Things we ignored and why, for the log.
    pub ignored: Vec<String>,
}

/// The list at `value[key]`, or nothing.
fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// When the message was sent: its `timestamp` (Unix seconds, as a string or a number), unless
/// missing or in the future; then now. Redeliveries keep their original time this way.
fn sent_at(timestamp: Option<&Value>, now: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = match timestamp {
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    seconds
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .filter(|at| *at <= now)
        .unwrap_or(now)
}

fn attachment(kind: &str, media: &Media) -> Attachment {
    Attachment {
        kind: kind.to_owned(),
        platform_id: media.id.clone(),
        mime_type: media.mime_type.clone(),
        size: None,
        duration_secs: None,
        file_name: media.filename.clone(),
    }
}

/// Normalizes one message; `Err` says why it was ignored.
fn to_event(message: Message, contacts: &[Contact], now: DateTime<Utc>) -> Result<InboundEvent, String> {
    let display_name = contacts
        .iter()
        .find(|c| c.wa_id == message.from)
        .and_then(|c| c.profile.as_ref()?.name.clone())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| message.from.clone());
    let mut event = InboundEvent {
        channel: Channel::Whatsapp,
        event_id: message.id.clone(),
        chat_id: message.from.clone(),
        chat_kind: ChatKind::Private,
        sender: Sender {
            external_id: message.from.clone(),
            display_name,
            username: None,
        },
        text: String::new(),
        mentions_bot: true,
        message_id: Some(message.id.clone()),
        reply_to: message.context.and_then(|c| c.id),
        attachments: Vec::new(),
        button: None,
        received_at: sent_at(message.timestamp.as_ref(), now),
    };
    match message.kind.as_str() {
        "text" => event.text = message.text.map(|t| t.body).unwrap_or_default(),
        "interactive" => {
            let interactive = message.interactive.ok_or("interactive message without content")?;
            let reply = interactive
                .button_reply
                .or(interactive.list_reply)
                .ok_or("interactive message that is not a button or list reply")?;
            event.text = reply.title;
            event.button = Some(ButtonPress {
                id: message.id,
                data: reply.id,
            });
        }
        // A template's quick-reply button reads like the words on it.
        "button" => event.text = message.button.map(|b| b.text).unwrap_or_default(),
        "audio" | "voice" => {
            let media = message
                .audio
                .or(message.voice)
                .ok_or("audio message without media")?;
            let kind = if message.kind == "voice" || media.voice == Some(true) {
                "voice"
            } else {
                "audio"
            };
            event.attachments.push(attachment(kind, &media));
        }
        "document" | "image" | "video" => {
            let media = match message.kind.as_str() {
                "document" => message.document,
                "image" => message.image,
                _ => message.video,
            }
            .ok_or_else(|| format!("{} message without media", message.kind))?;
            event.text = media.caption.clone().unwrap_or_default();
            event.attachments.push(attachment(&message.kind, &media));
        }
        other => return Err(format!("message type '{other}' is not handled")),
    }
    event.text = event.text.replace('\0', "");
    if event.text.trim().is_empty() && event.attachments.is_empty() && event.button.is_none() {
        return Err("empty message".into());
    }
    Ok(event)
}

fn to_update(status: Status) -> Result<DeliveryUpdate, String> {
    let parsed = DeliveryStatus::parse(&status.status)
        .ok_or_else(|| format!("status '{}' is not tracked", status.status))?;
    let error = (!status.errors.is_empty()).then(|| {
        status
            .errors
            .iter()
            .map(GraphErrorItem::describe)
            .collect::<Vec<_>>()
            .join("; ")
    });
    Ok(DeliveryUpdate {
        wamid: status.id,
        wa_id: status.recipient_id,
        status: parsed,
        error_code: status.errors.iter().find_map(|e| e.code),
        error,
    })
}

/// Reads a notification. `phone_number_id`: ours; changes for other numbers of the same app
/// are ignored (our replies could not go out from that number).
pub fn parse(notification: &Value, phone_number_id: Option<&str>, now: DateTime<Utc>) -> Notification {
    let mut out = Notification::default();
    if notification.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
        out.ignored
            .push("not a whatsapp_business_account notification".into());
        return out;
    }
    for entry in list(notification, "entry") {
        for change in list(entry, "changes") {
            let field = change.get("field").and_then(Value::as_str).unwrap_or("messages");
            if field != "messages" {
                out.ignored.push(format!("field '{field}'"));
                continue;
            }
            let Some(value) = change.get("value") else {
                continue;
            };
            let to = value.pointer("/metadata/phone_number_id").and_then(Value::as_str);
            if let (Some(ours), Some(to)) = (phone_number_id, to) {
                if ours != to {
                    out.ignored.push(format!("a change for phone number id {to}"));
                    continue;
                }
            }
            for error in list(value, "errors") {
                if let Ok(error) = serde_json::from_value::<GraphErrorItem>(error.clone()) {
                    out.ignored
                        .push(format!("WhatsApp reported an error: {}", error.describe()));
                }
            }
            let contacts: Vec<Contact> = list(value, "contacts")
                .iter()
                .filter_map(|c| serde_json::from_value(c.clone()).ok())
                .collect();
            for message in list(value, "messages") {
                let result = serde_json::from_value::<Message>(message.clone())
                    .map_err(|e| format!("unreadable message: {e}"))
                    .and_then(|m| to_event(m, &contacts, now));
                match result {
                    Ok(event) => out.events.push(event),
                    Err(why) => out.ignored.push(why),
                }
            }
            for status in list(value, "statuses") {
                let result = serde_json::from_value::<Status>(status.clone())
                    .map_err(|e| format!("unreadable status: {e}"))
                    .and_then(to_update);
                match result {
                    Ok(update) => out.statuses.push(update),
                    Err(why) => out.ignored.push(why),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PHONE_ID: &str = "106540352242922";

    fn notification(value: Value) -> Value {
        let mut value = value;
        value["messaging_product"] = json!("whatsapp");
        value["metadata"] = json!({"display_phone_number": "15550783881", "phone_number_id": PHONE_ID});
        json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]
        })
    }

    fn contacts() -> Value {
        json!([{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}])
    }

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_750_000_000, 0).unwrap()
    }

    #[test]
    fn text_messages_become_events() {
        let payload = notification(json!({
            "contacts": contacts(),
            "messages": [{
                "from": "16505551234", "id": "wamid.AAA=", "timestamp": "1749416383",
                "type": "text", "text": {"body": "/tasks mine"}
            }]
        }));
        let parsed = parse(&payload, Some(PHONE_ID), now());
        assert_eq!(parsed.events.len(), 1, "{:?}", parsed.ignored);
        let event = &parsed.events[0];
        assert_eq!(event.event_id, "wamid.AAA=");
        assert_eq!(event.chat_id, "16505551234");
        assert_eq!(event.chat_kind, ChatKind::Private);
        assert_eq!(event.sender.external_id, "16505551234");
        assert_eq!(event.sender.display_name, "Sheena Nelson");
        assert_eq!(event.text, "/tasks mine");
        assert_eq!(event.received_at.timestamp(), 1_749_416_383);
    }

    #[test]
    fn several_messages_in_one_notification() {
        let payload = notification(json!({
            "contacts": contacts(),
            "messages": [
                {"from": "16505551234", "id": "wamid.1", "timestamp": "1749416383", "type": "text", "text": {"body": "one"}},
                {"from": "16505551234", "id": "wamid.2", "type": "reaction", "reaction": {"message_id": "wamid.0", "emoji": "👍"}},
                {"from": "16505551234", "id": "wamid.3", "timestamp": 1749416390, "type": "text", "text": {"body": "three"}},
                {"id": "wamid.4", "type": "text"}
            ]
        }));
        let parsed = parse(&payload, Some(PHONE_ID), now());
        let texts: Vec<&str> = parsed.events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["one", "three"]);
        assert_eq!(parsed.ignored.len(), 2, "{:?}", parsed.ignored);
    }

    #[test]
    fn button_and_list_replies_are_presses() {
        let payload = notification(json!({
            "contacts": contacts(),
            "messages": [{
                "context": {"from": "15550783881", "id": "wamid.BOT="},
                "from": "16505551234", "id": "wamid.PRESS=", "timestamp": "1749416383",
                "type": "interactive",
                "interactive": {"type": "button_reply", "button_reply": {"id": "done:12", "title": "Mark done"}}
            }, {
                "from": "16505551234", "id": "wamid.LIST=", "timestamp": "1749416383",
                "type": "interactive",
                "interactive": {"type": "list_reply", "list_reply": {"id": "done:13", "title": "Done", "description": "x"}}
            }]
        }));
        let parsed = parse(&payload, None, now());
        let press = parsed.events[0].button.clone().unwrap();
        assert_eq!(press.id, "wamid.PRESS=");
        assert_eq!(press.data, "done:12");
        assert_eq!(parsed.events[0].reply_to.as_deref(), Some("wamid.BOT="));
        assert_eq!(parsed.events[1].button.as_ref().unwrap().data, "done:13");
    }

    #[test]
    fn voice_notes_and_documents_are_attachments() {
        let payload = notification(json!({
            "contacts": contacts(),
            "messages": [{
                "from": "16505551234", "id": "wamid.V=", "timestamp": "1749416383", "type": "audio",
                "audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": "abc", "id": "1003383421387256", "voice": true}
            }, {
                "from": "16505551234", "id": "wamid.D=", "timestamp": "1749416383", "type": "document",
                "document": {"caption": "the contract", "filename": "c.pdf", "mime_type": "application/pdf",
                             "sha256": "def", "id": "2003383421387256"}
            }]
        }));
        let parsed = parse(&payload, Some(PHONE_ID), now());
        let voice = &parsed.events[0].attachments[0];
        assert_eq!(voice.kind, "voice");
        assert_eq!(voice.platform_id, "1003383421387256");
        assert_eq!(voice.mime_type.as_deref(), Some("audio/ogg; codecs=opus"));
        assert!(parsed.events[0].text.is_empty());
        assert_eq!(parsed.events[1].attachments[0].kind, "document");
        assert_eq!(parsed.events[1].text, "the contract");
    }

    #[test]
    fn statuses_become_delivery_updates() {
        let payload = notification(json!({
            "statuses": [{
                "id": "wamid.OUT=", "status": "delivered", "timestamp": "1750263773", "recipient_id": "16505551234",
                "pricing": {"billable": true, "pricing_model": "PMP", "category": "utility"}
            }, {
                "id": "wamid.BAD=", "status": "failed", "timestamp": "1750263773", "recipient_id": "16505551234",
                "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
                            "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
                            "href": "/documentation/business-messaging/whatsapp/support/error-codes"}]
            }]
        }));
        let parsed = parse(&payload, Some(PHONE_ID), now());
        assert!(parsed.events.is_empty());
        assert_eq!(parsed.statuses[0].status, DeliveryStatus::Delivered);
        assert_eq!(parsed.statuses[0].wa_id.as_deref(), Some("16505551234"));
        let failed = &parsed.statuses[1];
        assert_eq!(failed.error_code, Some(131047));
        assert!(failed
            .error
            .as_deref()
            .unwrap()
            .starts_with("(131047) Re-engagement message: "));
    }

    #[test]
    fn other_numbers_and_objects_are_ignored() {
        let payload = notification(json!({
            "messages": [{"from": "1", "id": "wamid.X", "type": "text", "text": {"body": "hi"}}]
        }));
        assert!(parse(&payload, Some("999"), now()).events.is_empty());
        assert_eq!(parse(&payload, None, now()).events.len(), 1);
        assert!(parse(&json!({"object": "page", "entry": []}), None, now())
            .events
            .is_empty());
        assert!(parse(&json!([1, 2]), None, now()).events.is_empty());
    }
}
