//! Discord end to end: real-shaped interactions signed with a test Ed25519 key pair POSTed to
//! `/webhooks/discord` or dispatched over the gateway, a fake Discord server on 127.0.0.1 (REST
//! and gateway) speaking the real JSON, the real app pointed at it through `DISCORD_API_URL`.
//! This module holds what the test files share.

mod files;
mod gateway;
mod gateway_interactions;
mod interactions;
mod interactions_only;
mod sends;

use std::sync::Arc;
use std::time::Duration;

use coordinator::outbox::OutboxWriter;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

use crate::fake_discord::{snowflake, FakeDiscord, Msg, APP_ID, GUILD_ID, TOKEN};
use crate::helpers::{spawn_app_with, Db, TestApp};

pub const ANNA: &str = "80351110224678912";
pub const STRANGER: &str = "80351110224678999";
pub const CHANNEL: &str = "1000000000000000002";
pub const WAIT: Duration = Duration::from_secs(15);

pub fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

pub struct Discord {
    pub app: TestApp,
    pub fake: FakeDiscord,
}

/// What of Discord the app is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Bot token, application id and public key: the interactions endpoint and the gateway.
    Full,
    /// Only the bot token: interactions come over the gateway.
    BotTokenOnly,
    /// Public key and application id, no bot token: the interactions endpoint only.
    InteractionsOnly,
}

pub async fn start(db: Db, extra: &[(&str, &str)]) -> Discord {
    start_as(db, Setup::Full, extra).await
}

pub async fn start_as(db: Db, setup: Setup, extra: &[(&str, &str)]) -> Discord {
    let fake = FakeDiscord::start().await;
    let public_key = hex::encode(key().verifying_key().to_bytes());
    let mut settings = vec![("DISCORD_API_URL", fake.api_url.as_str())];
    if setup != Setup::InteractionsOnly {
        settings.push(("DISCORD_TOKEN", TOKEN));
    }
    if setup != Setup::BotTokenOnly {
        settings.push(("DISCORD_APPLICATION_ID", APP_ID));
        settings.push(("DISCORD_PUBLIC_KEY", public_key.as_str()));
    }
    settings.extend_from_slice(extra);
    let app = spawn_app_with(db, &settings).await;
    let anna = app
        .post(
            "/api/people",
            json!({"handle": "anna", "name": "Anna", "timezone": "Europe/Berlin",
                   "identities": [{"channel": "discord", "external_id": ANNA}]}),
        )
        .await;
    assert_eq!(anna.status, 201, "{}", anna.body);
    Discord { app, fake }
}

pub fn user(id: &str, name: &str) -> Value {
    json!({"id": id, "username": name, "global_name": name.to_uppercase(), "discriminator": "0",
           "avatar": null, "public_flags": 0})
}

/// An interaction as Discord sends it from a server channel.
pub fn interaction(kind: u8, from: &str, data: Value) -> Value {
    json!({
        "type": kind, "id": snowflake(), "application_id": APP_ID,
        "token": format!("aW50ZXJhY3Rpb246{}", snowflake()), "version": 1,
        "guild_id": GUILD_ID, "channel_id": CHANNEL,
        "channel": {"id": CHANNEL, "type": 0, "name": "general", "guild_id": GUILD_ID},
        "member": {"user": user(from, "anna"), "nick": null, "roles": [], "deaf": false, "mute": false,
                   "joined_at": "2025-01-01T00:00:00.000000+00:00", "permissions": "2147483647", "flags": 0},
        "app_permissions": "442368", "locale": "en-US", "guild_locale": "en-US",
        "entitlements": [], "authorizing_integration_owners": {"0": GUILD_ID}, "context": 0,
        "attachment_size_limit": 10485760, "data": data,
    })
}

pub fn slash(from: &str, name: &str, options: Value) -> Value {
    interaction(
        2,
        from,
        json!({"id": snowflake(), "name": name, "type": 1, "options": options}),
    )
}

pub fn string(name: &str, value: &str) -> Value {
    json!({"type": 3, "name": name, "value": value})
}

pub fn integer(name: &str, value: i64) -> Value {
    json!({"type": 4, "name": name, "value": value})
}

pub fn press(from: &str, message: &Msg, custom_id: &str) -> Value {
    let mut i = interaction(3, from, json!({"custom_id": custom_id, "component_type": 2}));
    i["message"] = message.to_json();
    i
}

/// Signs and POSTs `body` as Discord does; returns the status and the answer.
pub async fn post_signed(app: &TestApp, body: &str, signer: &SigningKey) -> (u16, Value) {
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let signature = signer.sign(format!("{timestamp}{body}").as_bytes());
    let response = app
        .client
        .post(format!("{}/webhooks/discord", app.base))
        .header("X-Signature-Ed25519", hex::encode(signature.to_bytes()))
        .header("X-Signature-Timestamp", timestamp)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

impl Discord {
    /// Delivers `interaction`, checks it was answered 200, and lets the fake act on the answer.
    pub async fn interact(&self, interaction: &Value) -> Value {
        self.fake.interaction_sent(interaction);
        let (status, answer) = post_signed(&self.app, &interaction.to_string(), &key()).await;
        assert_eq!(status, 200, "{answer}");
        self.fake.interaction_answered(interaction, &answer);
        answer
    }

    /// The answer to `interaction` as it stands once the "thinking" message was replaced.
    pub async fn answer_to(&self, interaction: &Value) -> Msg {
        let token = interaction["token"].as_str().unwrap().to_owned();
        let messages = self
            .fake
            .wait_for(WAIT, |m| {
                m.iter()
                    .any(|m| m.via_interaction.as_deref() == Some(&token) && !m.content.is_empty())
            })
            .await;
        messages
            .into_iter()
            .find(|m| m.via_interaction.as_deref() == Some(&token) && !m.content.is_empty())
            .unwrap_or_else(|| panic!("no answer to {}", interaction["data"]))
    }

    /// Messages sent through `interaction`'s webhook, once `n` of them are there.
    pub async fn answers_via(&self, interaction: &Value, n: usize) -> Vec<Msg> {
        let token = interaction["token"].as_str().unwrap().to_owned();
        let via = |m: &Msg| m.via_interaction.as_deref() == Some(token.as_str()) && !m.content.is_empty();
        let messages = self
            .fake
            .wait_for(WAIT, |m| m.iter().filter(|m| via(m)).count() >= n)
            .await;
        messages.into_iter().filter(|m| via(m)).collect()
    }

    /// `GET /integrations/history` and `/api/monitoring/status`, as text: where a token must
    /// never show.
    pub async fn visible_records(&self) -> String {
        let history = self.app.get("/integrations/history?limit=200").await;
        assert_eq!(history.status, 200, "{}", history.body);
        let status = self.app.get("/api/monitoring/status").await;
        format!("{} {}", history.body, status.body)
    }

    pub async fn tasks(&self) -> Vec<Value> {
        self.app
            .get("/api/tasks?limit=500")
            .await
            .body
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

pub fn outbox(app: &TestApp) -> OutboxWriter {
    OutboxWriter::new(app.store.clone(), Arc::new(tokio::sync::Notify::new()))
}

pub fn gateway_message(content: &str, guild: bool, mentions: Value) -> Value {
    let mut message = json!({
        "id": snowflake(), "channel_id": CHANNEL, "type": 0, "content": content,
        "author": user(ANNA, "anna"),
        "timestamp": "2025-11-25T10:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": mentions, "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "flags": 0, "nonce": "1"
    });
    if guild {
        message["guild_id"] = json!(GUILD_ID);
        message["member"] = json!({"nick": null, "roles": [], "joined_at": "2025-01-01T00:00:00.000000+00:00",
                                   "deaf": false, "mute": false, "flags": 0});
    } else {
        message["channel_id"] = json!("1000000000000000099");
    }
    message
}
