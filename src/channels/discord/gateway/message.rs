//! Gateway messages (`MESSAGE_CREATE`) as our `InboundEvent`: mentions of the bot and replies
//! to it in server channels, and direct messages; the bot's mention is removed from the text and
//! other users' mentions are written as the handle of the person they are linked to, else
//! `@username`.

use std::collections::HashMap;

use chrono::Utc;
use serenity::all::{Message, MessageFlags, UserId};

use crate::domain::Channel;
use crate::message::{Attachment, ChatKind, InboundEvent, Sender};

/// The users a message mentions, the bot left out: whose handles to look up for
/// [`readable_text`].
pub fn mentioned_users(message: &Message, bot: UserId) -> Vec<String> {
    message
        .mentions
        .iter()
        .filter(|u| u.id != bot)
        .map(|u| u.id.to_string())
        .collect()
}

/// Text with the bot's mention removed and other users' mentions written `@handle` (`handles`:
/// linked people by Discord user id), else `@username`.
pub fn readable_text(message: &Message, bot: UserId, handles: &HashMap<String, String>) -> String {
    let mut text = message.content.clone();
    for user in &message.mentions {
        let written = if user.id == bot {
            String::new()
        } else {
            let name = handles.get(&user.id.to_string()).unwrap_or(&user.name);
            format!("@{name}")
        };
        for form in [format!("<@{}>", user.id), format!("<@!{}>", user.id)] {
            text = text.replace(&form, &written);
        }
    }
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('\0', "")
}

fn attachments(message: &Message) -> Vec<Attachment> {
    let voice = message
        .flags
        .is_some_and(|f| f.contains(MessageFlags::IS_VOICE_MESSAGE));
    message
        .attachments
        .iter()
        .map(|a| {
            let mime = a.content_type.clone();
            let kind = match mime.as_deref() {
                _ if voice => "voice",
                Some(m) if m.starts_with("audio/") => "audio",
                Some(m) if m.starts_with("image/") => "photo",
                _ => "document",
            };
            Attachment {
                kind: kind.to_owned(),
                platform_id: a.url.clone(),
                mime_type: mime,
                size: Some(u64::from(a.size)),
                duration_secs: a.duration_secs.map(|d| d.round() as u32),
                file_name: Some(a.filename.clone()),
            }
        })
        .collect()
}

/// Normalizes a gateway message; `None` for the bot's own and other bots' messages, and for
/// server messages that neither mention the bot nor reply to it. Mentioned users are written
/// `@username`; [`readable_text`] with their handles writes linked people as themselves.
pub fn to_event(message: &Message, bot: UserId) -> Option<InboundEvent> {
    if message.author.bot || message.author.id == bot {
        return None;
    }
    let in_server = message.guild_id.is_some();
    let mentioned = message.mentions.iter().any(|u| u.id == bot);
    let replied_to_bot = message
        .referenced_message
        .as_ref()
        .is_some_and(|m| m.author.id == bot);
    if in_server && !mentioned && !replied_to_bot {
        return None;
    }
    let text = readable_text(message, bot, &HashMap::new());
    let attachments = attachments(message);
    if text.is_empty() && attachments.is_empty() {
        return None;
    }
    let display_name = message
        .member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| message.author.global_name.clone())
        .unwrap_or_else(|| message.author.name.clone());
    Some(InboundEvent {
        channel: Channel::Discord,
        event_id: message.id.to_string(),
        chat_id: message.channel_id.to_string(),
        chat_kind: if in_server {
            ChatKind::Group
        } else {
            ChatKind::Private
        },
        sender: Sender {
            external_id: message.author.id.to_string(),
            display_name,
            username: Some(message.author.name.clone()),
        },
        text,
        mentions_bot: mentioned || replied_to_bot,
        message_id: Some(message.id.to_string()),
        reply_to: message
            .message_reference
            .as_ref()
            .and_then(|r| r.message_id)
            .map(|id| id.to_string()),
        attachments,
        button: None,
        received_at: Utc::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOT: u64 = 1100000000000000000;

    fn message(json: serde_json::Value) -> Message {
        serde_json::from_value(json).unwrap()
    }

    fn guild_message(content: &str, mentions: serde_json::Value) -> serde_json::Value {
        json!({
            "id": "1250000000000000001", "channel_id": "1000000000000000002",
            "guild_id": "1000000000000000001", "type": 0, "content": content,
            "author": {"id": "80351110224678912", "username": "anna", "global_name": "Anna K",
                       "discriminator": "0", "avatar": null},
            "member": {"nick": null, "roles": [], "joined_at": "2025-01-01T00:00:00+00:00",
                       "deaf": false, "mute": false, "flags": 0},
            "timestamp": "2025-11-25T10:00:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": mentions, "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "flags": 0
        })
    }

    fn bot_user() -> serde_json::Value {
        json!({"id": BOT.to_string(), "username": "coordinator", "discriminator": "0", "avatar": null, "bot": true})
    }

    #[test]
    fn mentions_in_servers_are_events_with_the_mention_removed() {
        let bob = json!({"id": "90000000000000000", "username": "bob", "discriminator": "0", "avatar": null});
        let json = guild_message(
            &format!("<@{BOT}> /newtask Fix the login <@90000000000000000>"),
            json!([bot_user(), bob]),
        );
        let event = to_event(&message(json), UserId::new(BOT)).unwrap();
        assert_eq!(event.text, "/newtask Fix the login @bob");
        assert_eq!(event.chat_kind, ChatKind::Group);
        assert!(event.mentions_bot);
        assert_eq!(event.chat_id, "1000000000000000002");
        assert_eq!(event.sender.display_name, "Anna K");
        // Bob linked as @robert is his handle, not his Discord username.
        let json = guild_message(
            &format!("<@{BOT}> /newtask Fix the login <@!90000000000000000>"),
            json!([bot_user(), bob]),
        );
        let handles = HashMap::from([("90000000000000000".to_owned(), "robert".to_owned())]);
        let text = readable_text(&message(json), UserId::new(BOT), &handles);
        assert_eq!(text, "/newtask Fix the login @robert");
    }

    #[test]
    fn other_server_chatter_and_bots_are_ignored() {
        let json = guild_message("lunch anyone?", json!([]));
        assert!(to_event(&message(json), UserId::new(BOT)).is_none());
        let mut json = guild_message(&format!("<@{BOT}> hi"), json!([bot_user()]));
        json["author"] = bot_user();
        assert!(to_event(&message(json), UserId::new(BOT)).is_none());
    }

    #[test]
    fn direct_messages_are_private() {
        let mut json = guild_message("/tasks mine", json!([]));
        let object = json.as_object_mut().unwrap();
        object.remove("guild_id");
        object.remove("member");
        let event = to_event(&message(json), UserId::new(BOT)).unwrap();
        assert_eq!(event.chat_kind, ChatKind::Private);
        assert_eq!(event.text, "/tasks mine");
        assert!(!event.mentions_bot);
    }
}
