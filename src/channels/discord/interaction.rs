//! Interactions (slash commands, button presses), whichever way they arrive: POSTed to the HTTP
//! interactions endpoint (`inbound`) or dispatched over the gateway as `INTERACTION_CREATE`
//! (`gateway`). Both read them with [`receive`] into our `InboundEvent` (a pure function, tested
//! from recorded JSON) or an immediate answer, store them through [`Intake`] (the token apart,
//! the event in the inbox) and only then acknowledge them with [`deferred`]: type 5
//! ("thinking", ephemeral where the answer is only for the sender) or type 6 for buttons. The
//! real answer goes later through the interaction's webhook (`outbound`).
//!
//! The event's `chat_id` is `CHANNEL_ID:INTERACTION_ID`: the token, a 15-minute credential, is
//! kept in the store by interaction id and never travels in a chat id.

use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::address::Address;
use super::commands::{self, CommandOption};
use super::mentions::mentions;
use crate::channels::mentions::{read_as_handles, Mention};
use crate::domain::Channel;
use crate::inbox::InboxWriter;
use crate::message::{ButtonPress, ChatKind, InboundEvent, Sender};
use crate::store::{InteractionToken, Store};

/// Interaction types and response types, as Discord numbers them.
const PING: u8 = 1;
const APPLICATION_COMMAND: u8 = 2;
pub(super) const MESSAGE_COMPONENT: u8 = 3;
const AUTOCOMPLETE: u8 = 4;
const PONG: u8 = 1;
const CHANNEL_MESSAGE: u8 = 4;
const DEFERRED_CHANNEL_MESSAGE: u8 = 5;
const DEFERRED_UPDATE_MESSAGE: u8 = 6;
const AUTOCOMPLETE_RESULT: u8 = 8;
/// Message flag: only the user who invoked the interaction sees it.
pub const EPHEMERAL: u64 = 1 << 6;

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub global_name: Option<String>,
    #[serde(default)]
    pub bot: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub user: User,
    #[serde(default)]
    pub nick: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InteractionData {
    /// The command's name (application commands).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub options: Vec<CommandOption>,
    /// The button's data (message components).
    #[serde(default)]
    pub custom_id: Option<String>,
    /// Files uploaded with the command (attachment options), by id.
    #[serde(default)]
    pub resolved: Option<super::media::Resolved>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MessageRef {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChannelRef {
    pub id: String,
    /// 1 a direct message, 3 a group direct message, others are server channels.
    #[serde(rename = "type", default)]
    pub kind: Option<u8>,
}

/// The part of an interaction we read. Its `Debug` leaves the token out.
#[derive(Clone, Deserialize)]
pub struct Interaction {
    pub id: String,
    /// Whose webhook answers it (`/webhooks/{application_id}/{token}`).
    pub application_id: String,
    #[serde(rename = "type")]
    pub kind: u8,
    pub token: String,
    #[serde(default)]
    pub guild_id: Option<String>,
    #[serde(default)]
    pub channel_id: Option<String>,
    #[serde(default)]
    pub channel: Option<ChannelRef>,
    /// Who acted, in a server.
    #[serde(default)]
    pub member: Option<Member>,
    /// Who acted, in a direct message.
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub data: Option<InteractionData>,
    /// The message a button was on.
    #[serde(default)]
    pub message: Option<MessageRef>,
}

impl Interaction {
    fn actor(&self) -> Option<(&User, Option<&str>)> {
        match (&self.member, &self.user) {
            (Some(member), _) => Some((&member.user, member.nick.as_deref())),
            (None, Some(user)) => Some((user, None)),
            (None, None) => None,
        }
    }

    /// Whether the answer to this command is only for its sender.
    pub fn ephemeral(&self) -> bool {
        match (&self.data, self.kind) {
            (Some(data), APPLICATION_COMMAND) => {
                commands::ephemeral(data.name.as_deref().unwrap_or_default(), &data.options)
            }
            _ => false,
        }
    }
}

impl std::fmt::Debug for Interaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interaction")
            .field("id", &self.id)
            .field("application_id", &self.application_id)
            .field("kind", &self.kind)
            .field("token", &"[redacted]")
            .field("guild_id", &self.guild_id)
            .field("channel_id", &self.channel_id)
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

/// Normalizes a slash command or a button press; `None` for anything else (or when the
/// interaction lacks its channel or user, which Discord always sends for these types).
pub fn to_event(interaction: &Interaction) -> Option<InboundEvent> {
    let (user, nick) = interaction.actor()?;
    if user.bot {
        return None;
    }
    let channel_id = interaction
        .channel_id
        .clone()
        .or_else(|| interaction.channel.as_ref().map(|c| c.id.clone()))?;
    let data = interaction.data.as_ref()?;
    let (text, button, message_id) = match interaction.kind {
        APPLICATION_COMMAND => (
            commands::to_text(data.name.as_deref()?, &data.options),
            None,
            None,
        ),
        MESSAGE_COMPONENT => (
            String::new(),
            Some(ButtonPress {
                id: interaction.id.clone(),
                data: data.custom_id.clone()?,
            }),
            interaction.message.as_ref().map(|m| m.id.clone()),
        ),
        _ => return None,
    };
    let address = Address::Interaction {
        channel_id,
        interaction_id: interaction.id.clone(),
        token: None,
    };
    Some(InboundEvent {
        channel: Channel::Discord,
        event_id: interaction.id.clone(),
        chat_id: address.to_string(),
        chat_kind: if interaction.guild_id.is_some()
            || interaction.channel.as_ref().and_then(|c| c.kind) == Some(3)
        {
            ChatKind::Group
        } else {
            ChatKind::Private
        },
        sender: Sender {
            external_id: user.id.clone(),
            display_name: nick
                .or(user.global_name.as_deref())
                .unwrap_or(&user.username)
                .to_owned(),
            username: Some(user.username.clone()),
        },
        text: text.replace('\0', ""),
        // A slash command or a button is addressed to the bot.
        mentions_bot: true,
        message_id,
        reply_to: None,
        attachments: super::media::command_files(data),
        button,
        received_at: Utc::now(),
    })
}

/// What to do with an interaction that came in.
#[derive(Debug)]
pub enum Received {
    /// Answer at once with this interaction response; nothing is stored (PING, autocomplete,
    /// what we cannot read or do not act on).
    Answer(Value),
    /// Store it (see [`Intake`]), then acknowledge it with [`deferred`].
    Act(Box<(Interaction, InboundEvent)>),
}

fn ephemeral_message(text: &str) -> Value {
    json!({"type": CHANNEL_MESSAGE, "data": {"content": text, "flags": EPHEMERAL}})
}

/// Reads an interaction as Discord sends it (the HTTP body, or a gateway dispatch's `d`).
pub fn receive(value: Value) -> Received {
    if value.get("type").and_then(Value::as_u64) == Some(u64::from(PING)) {
        return Received::Answer(json!({"type": PONG}));
    }
    let interaction: Interaction = match serde_json::from_value(value) {
        Ok(interaction) => interaction,
        Err(e) => {
            tracing::warn!(error = %e, "unusable Discord interaction ignored");
            return Received::Answer(ephemeral_message("Sorry, I could not read that."));
        }
    };
    if interaction.kind == AUTOCOMPLETE {
        return Received::Answer(json!({"type": AUTOCOMPLETE_RESULT, "data": {"choices": []}}));
    }
    match to_event(&interaction) {
        Some(event) => Received::Act(Box::new((interaction, event))),
        None => {
            tracing::info!(
                kind = interaction.kind,
                "Discord interaction of a kind we do not act on"
            );
            Received::Answer(ephemeral_message("Sorry, I can't handle that here. Try /help."))
        }
    }
}

/// The acknowledgement of a stored interaction: the answer follows through the outbox.
pub fn deferred(interaction: &Interaction) -> Value {
    if interaction.kind == MESSAGE_COMPONENT {
        json!({"type": DEFERRED_UPDATE_MESSAGE})
    } else if interaction.ephemeral() {
        json!({"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}})
    } else {
        json!({"type": DEFERRED_CHANNEL_MESSAGE})
    }
}

/// The answer when an interaction could not be stored and Discord will not send it again (the
/// gateway); the HTTP endpoint answers 503 instead.
pub fn not_stored() -> Value {
    ephemeral_message("Sorry, I could not take that in just now. Please try again in a moment.")
}

/// Where an interaction goes once read, the same for both ways in: its token into the store
/// (by interaction id), then its event into the inbox, deduplicated by interaction id.
#[derive(Clone)]
pub struct Intake {
    pub store: Store,
    pub inbox: InboxWriter,
}

impl Intake {
    /// Stores the interaction. `Ok(false)`: it was stored before (a redelivery).
    pub async fn accept(&self, interaction: &Interaction, event: &InboundEvent) -> Result<bool, String> {
        let token = InteractionToken {
            application_id: interaction.application_id.clone(),
            token: interaction.token.clone(),
        };
        self.store
            .remember_discord_interaction(&interaction.id, &token, crate::store::now())
            .await
            .map_err(|e| e.to_string())?;
        let found = mentions(&event.text);
        let unlinked = |m: &Mention, _: &str| format!("@{}", m.id);
        let Some(text) = read_as_handles(&self.store, Channel::Discord, &event.text, &found, unlinked).await
        else {
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
mod tests {
    use super::*;

    fn interaction(json: Value) -> Interaction {
        serde_json::from_value(json).unwrap()
    }

    fn slash_in_guild() -> Value {
        json!({
            "type": 2, "id": "1200000000000000001", "application_id": "1100000000000000000",
            "token": "aW50ZXJhY3Rpb246dG9rZW4", "version": 1, "locale": "en-US",
            "guild_id": "1000000000000000001", "channel_id": "1000000000000000002",
            "channel": {"id": "1000000000000000002", "type": 0, "name": "general"},
            "member": {
                "user": {"id": "80351110224678912", "username": "anna", "global_name": "Anna K",
                         "discriminator": "0", "avatar": null, "public_flags": 0},
                "nick": null, "roles": [], "joined_at": "2025-01-01T00:00:00.000000+00:00",
                "deaf": false, "mute": false, "permissions": "2147483647"
            },
            "data": {"id": "1300000000000000000", "name": "newtask", "type": 1, "options": [
                {"type": 3, "name": "title", "value": "Write the brief"},
                {"type": 3, "name": "priority", "value": "high"}
            ]},
            "app_permissions": "442368", "entitlements": [], "context": 0
        })
    }

    #[test]
    fn a_slash_command_in_a_server_is_a_group_event_without_its_token() {
        let event = to_event(&interaction(slash_in_guild())).unwrap();
        assert_eq!(event.event_id, "1200000000000000001");
        assert_eq!(event.chat_kind, ChatKind::Group);
        assert_eq!(event.text, "/newtask Write the brief !high");
        assert_eq!(event.sender.external_id, "80351110224678912");
        assert_eq!(event.sender.display_name, "Anna K");
        assert!(event.mentions_bot);
        assert_eq!(event.chat_id, "1000000000000000002:1200000000000000001");
        let stored = serde_json::to_string(&event).unwrap();
        assert!(!stored.contains("aW50ZXJhY3Rpb246dG9rZW4"), "{stored}");
    }

    #[test]
    fn a_direct_message_command_is_private() {
        let mut json = slash_in_guild();
        let user = json["member"]["user"].clone();
        let object = json.as_object_mut().unwrap();
        object.remove("member");
        object.remove("guild_id");
        object.insert("user".into(), user);
        object.insert("data".into(), json!({"id": "1", "name": "tasks", "type": 1, "options": [{"type": 3, "name": "list", "value": "mine"}]}));
        let parsed = interaction(json);
        assert!(parsed.ephemeral());
        assert_eq!(
            deferred(&parsed),
            json!({"type": 5, "data": {"flags": EPHEMERAL}})
        );
        let event = to_event(&parsed).unwrap();
        assert_eq!(event.chat_kind, ChatKind::Private);
        assert_eq!(event.text, "/tasks mine");
    }

    #[test]
    fn a_button_press_carries_its_custom_id() {
        let mut json = slash_in_guild();
        json["type"] = json!(3);
        json["data"] = json!({"custom_id": "done:12", "component_type": 2});
        json["message"] = json!({"id": "1250000000000000000", "channel_id": "1000000000000000002", "content": "Created #12"});
        let parsed = interaction(json);
        assert_eq!(deferred(&parsed), json!({"type": 6}));
        let event = to_event(&parsed).unwrap();
        let press = event.button.unwrap();
        assert_eq!(press.data, "done:12");
        assert_eq!(press.id, "1200000000000000001");
        assert_eq!(event.message_id.as_deref(), Some("1250000000000000000"));
    }

    #[test]
    fn what_is_not_acted_on_is_answered_at_once() {
        let answer = |value: Value| match receive(value) {
            Received::Answer(answer) => answer,
            Received::Act(_) => panic!("stored"),
        };
        assert_eq!(answer(json!({"type": 1, "id": "1"})), json!({"type": 1}));
        let mut autocomplete = slash_in_guild();
        autocomplete["type"] = json!(4);
        assert_eq!(answer(autocomplete)["type"], 8);
        let mut modal = slash_in_guild();
        modal["type"] = json!(5);
        assert_eq!(answer(modal)["data"]["flags"], EPHEMERAL);
        assert_eq!(answer(json!({"type": 2}))["data"]["flags"], EPHEMERAL);
        assert!(matches!(receive(slash_in_guild()), Received::Act(_)));
    }
}
