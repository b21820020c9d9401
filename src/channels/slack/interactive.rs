//! Slash commands and button presses, whichever way they arrive (form POSTs to
//! `/webhooks/slack`, or Socket Mode's `slash_commands` and `interactive` envelopes), read into
//! our `InboundEvent` (pure functions, tested from recorded payloads) and stored through
//! [`Intake`]: the response URL apart (by trigger id), the event in the inbox. Only then are they
//! acknowledged, well within Slack's three seconds; the answer follows through the outbox.
//!
//! One slash command, `/coord`, carries every command as its first word (`/coord tasks mine`
//! is `/tasks mine`): Slack's own commands already take `/remind`, `/invite`, `/status` and
//! others in every workspace, and one command is one entry to install and one to remember.
//! Other commands an operator adds to the app (`/tasks`) are read as themselves.

use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::address::{is_slack_id, is_trigger, Address};
use super::events::plain_text;
use crate::domain::Channel;
use crate::inbox::InboxWriter;
use crate::message::{ButtonPress, ChatKind, InboundEvent, Sender};
use crate::store::{SlackInteraction, Store};

/// The slash command that carries the others.
pub const COMMAND: &str = "/coord";

/// Commands whose answer the channel should see; every other answer (help, lists, one's own
/// settings, and what was not understood) is for the sender only, as Slack users expect.
const IN_CHANNEL: &[&str] = &[
    "newtask", "done", "status", "comment", "report", "project", "standup", "remind", "unremind", "ask",
    "role", "remove", "alerts", "attach",
];

/// A slash command as Slack posts it (form fields, or a Socket Mode payload's object).
#[derive(Debug, Clone, Deserialize)]
pub struct SlashCommand {
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub channel_id: String,
    pub user_id: String,
    #[serde(default)]
    pub user_name: Option<String>,
    pub response_url: String,
    pub trigger_id: String,
}

/// What to store for an interaction, and how to acknowledge it.
#[derive(Debug)]
pub struct Stored {
    pub event: InboundEvent,
    pub interaction: SlackInteraction,
    /// The body of the acknowledgement (`None`: an empty 200).
    pub ack: Option<Value>,
}

/// `/coord newtask X` → `/newtask X`; `/coord` alone → `/help`; another command as itself.
pub fn command_text(command: &str, text: &str) -> String {
    let text = plain_text(text.trim());
    if command.eq_ignore_ascii_case(COMMAND) {
        let text = text.trim_start_matches('/');
        if text.is_empty() {
            "/help".into()
        } else {
            format!("/{text}")
        }
    } else if text.is_empty() {
        command.to_owned()
    } else {
        format!("{command} {text}")
    }
}

/// Whether the answer to `text` (a command line) is for the channel.
fn in_channel(text: &str) -> bool {
    let word = text
        .trim_start_matches('/')
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    IN_CHANNEL.contains(&word.as_str())
}

/// Whether a channel and trigger id can address the answer (Slack's always do).
fn addressable(channel_id: &str, trigger_id: &str) -> bool {
    is_slack_id(channel_id) && is_trigger(trigger_id)
}

/// A slash command, read; `None` when its channel or trigger id is not Slack's.
pub fn slash_command(command: SlashCommand) -> Option<Stored> {
    if !addressable(&command.channel_id, &command.trigger_id) || command.user_id.is_empty() {
        return None;
    }
    let text = command_text(&command.command, &command.text);
    let shared = in_channel(&text);
    let event = InboundEvent {
        channel: Channel::Slack,
        event_id: command.trigger_id.clone(),
        chat_id: Address::Interaction {
            channel_id: command.channel_id.clone(),
            trigger_id: command.trigger_id.clone(),
        }
        .to_string(),
        chat_kind: if command.channel_id.starts_with('D') {
            ChatKind::Private
        } else {
            ChatKind::Group
        },
        sender: Sender {
            external_id: command.user_id.clone(),
            display_name: command.user_name.clone().unwrap_or(command.user_id.clone()),
            username: command.user_name.clone(),
        },
        text: text.replace('\0', ""),
        mentions_bot: true,
        message_id: None,
        reply_to: None,
        attachments: Vec::new(),
        button: None,
        received_at: Utc::now(),
    };
    Some(Stored {
        interaction: SlackInteraction {
            channel_id: command.channel_id,
            response_url: command.response_url,
            ephemeral: !shared,
            message_ts: None,
            message_text: None,
            message_blocks: None,
            created_at: crate::store::now(),
        },
        ack: shared.then(|| json!({"response_type": "in_channel"})),
        event,
    })
}

#[derive(Debug, Deserialize)]
struct Actor {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Container {
    #[serde(default)]
    message_ts: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChannelRef {
    id: String,
}

#[derive(Debug, Deserialize)]
struct MessageRef {
    ts: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    blocks: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Action {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    action_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BlockActions {
    #[serde(rename = "type")]
    kind: String,
    user: Actor,
    trigger_id: String,
    response_url: Option<String>,
    #[serde(default)]
    container: Option<Container>,
    #[serde(default)]
    channel: Option<ChannelRef>,
    #[serde(default)]
    message: Option<MessageRef>,
    #[serde(default)]
    actions: Vec<Action>,
}

/// A button press (`block_actions` on one of our messages); `None` for other interactive
/// payloads (modals, shortcuts), which we do not use.
pub fn button_press(payload: Value) -> Option<Stored> {
    let press: BlockActions = serde_json::from_value(payload).ok()?;
    if press.kind != "block_actions" {
        return None;
    }
    let action = press.actions.first()?;
    let data = action.value.clone().or(action.action_id.clone())?;
    let channel_id = press
        .channel
        .map(|c| c.id)
        .or(press.container.as_ref().and_then(|c| c.channel_id.clone()))?;
    let message_ts = press
        .message
        .as_ref()
        .map(|m| m.ts.clone())
        .or(press.container.and_then(|c| c.message_ts))?;
    if !addressable(&channel_id, &press.trigger_id) || press.user.id.is_empty() {
        return None;
    }
    let name = press.user.username.clone().or(press.user.name.clone());
    let event = InboundEvent {
        channel: Channel::Slack,
        event_id: press.trigger_id.clone(),
        chat_id: Address::Interaction {
            channel_id: channel_id.clone(),
            trigger_id: press.trigger_id.clone(),
        }
        .to_string(),
        chat_kind: if channel_id.starts_with('D') {
            ChatKind::Private
        } else {
            ChatKind::Group
        },
        sender: Sender {
            external_id: press.user.id.clone(),
            display_name: name.clone().unwrap_or(press.user.id.clone()),
            username: name,
        },
        text: String::new(),
        mentions_bot: true,
        message_id: Some(message_ts.clone()),
        reply_to: None,
        attachments: Vec::new(),
        button: Some(ButtonPress {
            id: press.trigger_id,
            data,
        }),
        received_at: Utc::now(),
    };
    Some(Stored {
        interaction: SlackInteraction {
            channel_id,
            response_url: press.response_url?,
            ephemeral: true,
            message_ts: Some(message_ts),
            message_text: press.message.as_ref().and_then(|m| m.text.clone()),
            message_blocks: press
                .message
                .and_then(|m| m.blocks)
                .filter(Value::is_array)
                .map(|b| b.to_string()),
            created_at: crate::store::now(),
        },
        ack: None,
        event,
    })
}

/// Where an interaction goes once read, the same for both ways in.
#[derive(Clone)]
pub struct Intake {
    pub store: Store,
    pub inbox: InboxWriter,
}

impl Intake {
    /// Stores the interaction. `Ok(false)`: it was stored before (a redelivery).
    pub async fn accept(&self, stored: &Stored) -> Result<bool, String> {
        self.store
            .remember_slack_interaction(&stored.event.event_id, &stored.interaction)
            .await
            .map_err(|e| e.to_string())?;
        self.accept_event(&stored.event).await
    }

    /// Stores a message event, its mentions of linked teammates written as their handles.
    pub async fn accept_event(&self, event: &InboundEvent) -> Result<bool, String> {
        let Some(text) = super::mentions::with_handles(&self.store, &event.text).await else {
            return self.inbox.accept(event).await.map_err(|e| e.to_string());
        };
        let event = InboundEvent {
            text,
            ..event.clone()
        };
        self.inbox.accept(&event).await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
#[path = "interactive_tests.rs"]
mod tests;
