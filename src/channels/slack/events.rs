//! Events API payloads (`event_callback`, whether POSTed to `/webhooks/slack` or carried in a
//! Socket Mode `events_api` envelope) read into our `InboundEvent`: a pure function, tested from
//! recorded JSON.
//!
//! What is taken: direct messages (`message` with `channel_type: im`), mentions
//! (`app_mention`), and in channels the bot is in, messages that mention it, commands, and
//! replies in a thread the bot started (`parent_user_id` is the bot). Edits, deletions, joins,
//! bot messages (ours included) are not. With both `app_mention` and `message.channels`
//! subscribed, one message arrives twice under two event ids: the event's id here is the
//! message's own (`CHANNEL:TS`), so the inbox keeps it once, and Slack's retries (same message)
//! too.

use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use crate::domain::Channel;
use crate::message::{Attachment, ChatKind, InboundEvent, Sender};

#[derive(Debug, Deserialize)]
struct Authorization {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    is_bot: bool,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    event: Option<Value>,
    #[serde(default)]
    authorizations: Vec<Authorization>,
}

#[derive(Debug, Deserialize)]
struct Profile {
    #[serde(default)]
    real_name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct File {
    pub id: String,
    #[serde(default)]
    pub mimetype: Option<String>,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// The file's name (`brief.pdf`).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MessageEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    ts: String,
    channel: String,
    #[serde(default)]
    channel_type: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
    #[serde(default)]
    parent_user_id: Option<String>,
    #[serde(default)]
    files: Vec<File>,
    #[serde(default)]
    user_profile: Option<Profile>,
}

/// What a payload is.
#[derive(Debug)]
pub enum Payload {
    /// The endpoint check: answer with this challenge.
    UrlVerification(String),
    /// A message for the inbox.
    Event(Box<InboundEvent>),
    /// Something we do not act on (why, for the log).
    Ignored(&'static str),
}

/// Reads an Events API body.
pub fn read(value: Value) -> Payload {
    if value.get("type").and_then(Value::as_str) == Some("url_verification") {
        return match value.get("challenge").and_then(Value::as_str) {
            Some(challenge) => Payload::UrlVerification(challenge.to_owned()),
            None => Payload::Ignored("url_verification without a challenge"),
        };
    }
    let Ok(envelope) = serde_json::from_value::<Envelope>(value) else {
        return Payload::Ignored("not an Events API payload");
    };
    if envelope.kind != "event_callback" {
        return Payload::Ignored("not an event_callback");
    }
    let bot = envelope
        .authorizations
        .iter()
        .find(|a| a.is_bot)
        .or(envelope.authorizations.first())
        .and_then(|a| a.user_id.clone());
    let Some(event) = envelope.event else {
        return Payload::Ignored("no event");
    };
    match to_event(event, bot.as_deref()) {
        Some(event) => Payload::Event(Box::new(event)),
        None => Payload::Ignored("a message the bot does not answer"),
    }
}

/// `<@U123>` for the bot.
fn mention(bot: &str) -> String {
    format!("<@{bot}>")
}

/// A message or mention, normalized; `None` for what the bot does not answer.
pub fn to_event(event: Value, bot: Option<&str>) -> Option<InboundEvent> {
    let message: MessageEvent = serde_json::from_value(event).ok()?;
    if !matches!(message.kind.as_str(), "message" | "app_mention") {
        return None;
    }
    if !matches!(
        message.subtype.as_deref(),
        None | Some("file_share" | "thread_broadcast")
    ) {
        return None;
    }
    let user = message.user.clone()?;
    // The channel addresses the answer: what Slack would never send is not taken.
    if !super::address::is_slack_id(&message.channel) || !super::address::is_trigger(&message.ts) {
        return None;
    }
    if message.bot_id.is_some() || Some(user.as_str()) == bot {
        return None;
    }
    let raw = message.text.clone().unwrap_or_default();
    let mentioned = bot.is_some_and(|b| raw.contains(&mention(b)));
    let in_bot_thread =
        message.thread_ts.is_some() && bot.is_some() && message.parent_user_id.as_deref() == bot;
    let private = message.channel_type.as_deref() == Some("im")
        || (message.channel_type.is_none() && message.channel.starts_with('D'));
    let text = plain_text(&match bot {
        Some(b) => raw.replace(&mention(b), " "),
        None => raw,
    });
    let is_command = text.trim_start().starts_with('/');
    let mentions_bot = message.kind == "app_mention" || mentioned || in_bot_thread;
    if !private && !mentions_bot && !is_command {
        return None;
    }
    let display_name = message
        .user_profile
        .as_ref()
        .and_then(|p| {
            [&p.display_name, &p.real_name, &p.name]
                .into_iter()
                .flatten()
                .find(|n| !n.trim().is_empty())
                .cloned()
        })
        .unwrap_or_else(|| user.clone());
    let username = message.user_profile.as_ref().and_then(|p| p.name.clone());
    Some(InboundEvent {
        channel: Channel::Slack,
        event_id: format!("{}:{}", message.channel, message.ts),
        chat_id: message.channel.clone(),
        chat_kind: if private {
            ChatKind::Private
        } else {
            ChatKind::Group
        },
        sender: Sender {
            external_id: user,
            display_name,
            username,
        },
        text: text.trim().replace('\0', ""),
        mentions_bot,
        // Replies go into the message's thread (or the thread it is in).
        message_id: Some(message.thread_ts.clone().unwrap_or(message.ts.clone())),
        reply_to: message.thread_ts.clone(),
        attachments: message.files.iter().map(attachment).collect(),
        button: None,
        received_at: Utc::now(),
    })
}

/// A shared file; audio (and Slack's audio clips) is what the transcription path takes.
pub(super) fn attachment(file: &File) -> Attachment {
    let mime = file.mimetype.clone();
    let kind = match (file.subtype.as_deref(), mime.as_deref()) {
        (Some("slack_audio"), _) => "voice",
        (_, Some(m)) if m.starts_with("audio/") => "audio",
        (_, Some(m)) if m.starts_with("image/") => "photo",
        _ => "document",
    };
    Attachment {
        kind: kind.into(),
        platform_id: file.id.clone(),
        mime_type: mime,
        size: file.size,
        duration_secs: file
            .duration_ms
            .map(|ms| u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)),
        file_name: file.name.clone(),
    }
}

/// Slack's message formatting as plain text: `<@U1|anna>` → `@anna`, `<https://x|label>` →
/// `https://x`, `<mailto:a@b|a@b>` → `a@b`, `<!here>` → `@here`, and `&lt; &gt; &amp;` unescaped.
pub fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &rest[start + 1..start + end];
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        let shown = match target.chars().next() {
            Some('@') | Some('#') => match label {
                Some(l) => format!("{}{l}", &target[..1]),
                None => target.to_owned(),
            },
            Some('!') => format!("@{}", target[1..].split('^').next().unwrap_or_default()),
            _ => target.strip_prefix("mailto:").unwrap_or(target).to_owned(),
        };
        out.push_str(&shown);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    unescape(&out)
}

/// `&lt; &gt; &amp;` back to `< > &`.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
