//! Discord in, through the HTTP interactions endpoint: the Ed25519 check of
//! `X-Signature-Ed25519` over `X-Signature-Timestamp` + raw body, the normalization of an
//! interaction into our `InboundEvent` (a pure function, tested from recorded JSON), and the
//! handler. PING answers PONG; a slash command or a button press is stored in the inbox first
//! and only then answered with a deferred response (type 5 "thinking", ephemeral where the
//! answer is only for the sender; type 6 for buttons), so slow work never misses Discord's
//! three seconds. The real answer goes later through the interaction's webhook (`outbound`).

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use serde_json::{json, Value};

use super::address::Address;
use super::commands::{self, CommandOption};
use crate::domain::Channel;
use crate::http::webhook::{early, Early, SignedWebhook, WebhookError};
use crate::http::ApiError;
use crate::inbox::InboxWriter;
use crate::message::{ButtonPress, ChatKind, InboundEvent, Sender};

/// Interaction types and response types, as Discord numbers them.
const PING: u8 = 1;
const APPLICATION_COMMAND: u8 = 2;
const MESSAGE_COMPONENT: u8 = 3;
const AUTOCOMPLETE: u8 = 4;
const PONG: u8 = 1;
const CHANNEL_MESSAGE: u8 = 4;
const DEFERRED_CHANNEL_MESSAGE: u8 = 5;
const DEFERRED_UPDATE_MESSAGE: u8 = 6;
const AUTOCOMPLETE_RESULT: u8 = 8;
/// Message flag: only the user who invoked the interaction sees it.
pub const EPHEMERAL: u64 = 1 << 6;

/// The application's public key, which checks that a request comes from Discord.
#[derive(Clone)]
pub struct Verifier(VerifyingKey);

impl Verifier {
    /// From `DISCORD_PUBLIC_KEY` (64 hex digits).
    pub fn from_hex(key: &str) -> Result<Self, String> {
        let bytes: [u8; 32] = hex::decode(key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("DISCORD_PUBLIC_KEY: must be 64 hex digits")?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| "DISCORD_PUBLIC_KEY: not an Ed25519 public key".into())
    }

    /// Whether `signature_hex` signs `timestamp` followed by `body`.
    pub fn verify(&self, signature_hex: &str, timestamp: &str, body: &[u8]) -> bool {
        let Some(bytes) = hex::decode(signature_hex.trim())
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        let signature = Signature::from_bytes(&bytes);
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(body);
        self.0.verify_strict(&message, &signature).is_ok()
    }
}

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

/// The part of an interaction we read.
#[derive(Debug, Clone, Deserialize)]
pub struct Interaction {
    pub id: String,
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
        token: interaction.token.clone(),
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
        attachments: Vec::new(),
        button,
        received_at: Utc::now(),
    })
}

/// What the webhook handler needs.
#[derive(Clone)]
pub struct WebhookState {
    pub verifier: Verifier,
    pub inbox: InboxWriter,
}

fn ephemeral_message(text: &str) -> Response {
    Json(json!({"type": CHANNEL_MESSAGE, "data": {"content": text, "flags": EPHEMERAL}})).into_response()
}

/// `POST /webhooks/discord`.
#[async_trait::async_trait]
impl SignedWebhook for WebhookState {
    /// The interaction, and the event stored for it.
    type Parsed = (Interaction, InboundEvent);
    type Stored = Interaction;
    const WHAT: &'static str = "Discord interaction";

    /// Ed25519 over the timestamp and the body (Discord probes with bad signatures: 401).
    async fn verify(&self, headers: &HeaderMap, body: &Bytes) -> Result<(), WebhookError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let signed = match (header("x-signature-ed25519"), header("x-signature-timestamp")) {
            (Some(signature), Some(timestamp)) => self.verifier.verify(signature, timestamp, body),
            _ => false,
        };
        if signed {
            Ok(())
        } else {
            Err(WebhookError::Unauthorized("invalid request signature".into()))
        }
    }

    /// PING and autocomplete are answered here; what we do not act on gets an ephemeral note.
    fn parse(&self, _headers: &HeaderMap, body: &Bytes) -> Result<Self::Parsed, Early> {
        let value: Value =
            serde_json::from_slice(body).map_err(|_| early(ApiError::bad_request("the body is not JSON")))?;
        if value.get("type").and_then(Value::as_u64) == Some(u64::from(PING)) {
            return Err(early(Json(json!({"type": PONG}))));
        }
        let interaction: Interaction = serde_json::from_value(value).map_err(|e| {
            tracing::warn!(error = %e, "unusable Discord interaction ignored");
            early(ephemeral_message("Sorry, I could not read that."))
        })?;
        if interaction.kind == AUTOCOMPLETE {
            return Err(early(Json(
                json!({"type": AUTOCOMPLETE_RESULT, "data": {"choices": []}}),
            )));
        }
        let Some(event) = to_event(&interaction) else {
            tracing::info!(
                kind = interaction.kind,
                "Discord interaction of a kind we do not act on"
            );
            return Err(early(ephemeral_message(
                "Sorry, I can't handle that here. Try /help.",
            )));
        };
        Ok((interaction, event))
    }

    async fn store(&self, (interaction, event): Self::Parsed) -> Result<Interaction, String> {
        self.inbox.accept(&event).await.map_err(|e| e.to_string())?;
        Ok(interaction)
    }

    /// Deferred: the answer follows through the outbox.
    fn answer(&self, interaction: Interaction) -> Response {
        let answer = if interaction.kind == MESSAGE_COMPONENT {
            json!({"type": DEFERRED_UPDATE_MESSAGE})
        } else if interaction.ephemeral() {
            json!({"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}})
        } else {
            json!({"type": DEFERRED_CHANNEL_MESSAGE})
        };
        Json(answer).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

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
    fn signatures_are_checked_over_timestamp_and_body() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let verifier = Verifier::from_hex(&hex::encode(key.verifying_key().to_bytes())).unwrap();
        let body = br#"{"type":1}"#;
        let signature = hex::encode(key.sign(&[b"1764000000".as_slice(), body].concat()).to_bytes());
        assert!(verifier.verify(&signature, "1764000000", body));
        assert!(!verifier.verify(&signature, "1764000001", body));
        assert!(!verifier.verify(&signature, "1764000000", br#"{"type":2}"#));
        assert!(!verifier.verify("zz", "1764000000", body));
        assert!(!verifier.verify(&signature[..100], "1764000000", body));
        assert!(Verifier::from_hex("abcd").is_err());
    }

    #[test]
    fn a_slash_command_in_a_server_is_a_group_event() {
        let event = to_event(&interaction(slash_in_guild())).unwrap();
        assert_eq!(event.event_id, "1200000000000000001");
        assert_eq!(event.chat_kind, ChatKind::Group);
        assert_eq!(event.text, "/newtask Write the brief !high");
        assert_eq!(event.sender.external_id, "80351110224678912");
        assert_eq!(event.sender.display_name, "Anna K");
        assert!(event.mentions_bot);
        assert_eq!(
            event.chat_id.parse::<Address>().unwrap(),
            Address::Interaction {
                channel_id: "1000000000000000002".into(),
                interaction_id: "1200000000000000001".into(),
                token: "aW50ZXJhY3Rpb246dG9rZW4".into(),
            }
        );
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
        let event = to_event(&interaction(json)).unwrap();
        let press = event.button.unwrap();
        assert_eq!(press.data, "done:12");
        assert_eq!(press.id, "1200000000000000001");
        assert_eq!(event.message_id.as_deref(), Some("1250000000000000000"));
    }
}
