//! Discord: slash commands and buttons through the HTTP interactions endpoint
//! (`/webhooks/discord`, when `DISCORD_PUBLIC_KEY` is set), answers through the interaction
//! webhook, REST sends to channels and direct messages for everything else (`DISCORD_TOKEN`),
//! mentions of the bot through the gateway, and the slash-command registration (at start and
//! with `coordinator discord register`), global or for `DISCORD_GUILD_ID`.
//!
//! REST goes through our own small client (`rest`) rather than serenity's: with serenity's rate
//! limiter disabled (which its base-URL override requires) a 429 loses its `retry_after` and
//! headers, and the outbox needs them to wait as Discord asks. serenity runs the gateway.

mod address;
pub mod commands;
pub mod gateway;
pub mod inbound;
pub mod outbound;
pub mod rest;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::routing::post;
use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::inbox::InboxWriter;
use crate::store::Store;
use rest::Rest;

pub use address::Address;
pub use commands::Registration;
pub use outbound::DiscordOut;

/// The Discord side of the service.
pub struct Discord {
    rest: Arc<Rest>,
    application_id: Option<String>,
    guild_id: Option<String>,
    verifier: Option<inbound::Verifier>,
    /// The slash commands' usage lines (the conversation's).
    usage: commands::Usage,
}

impl Discord {
    /// `None` when nothing of Discord is configured (neither `DISCORD_TOKEN` nor
    /// `DISCORD_PUBLIC_KEY`).
    pub fn new(settings: &Settings, usage: commands::Usage) -> Result<Option<Self>, String> {
        if settings.discord_token.is_none() && settings.discord_public_key.is_none() {
            return Ok(None);
        }
        let verifier = settings
            .discord_public_key
            .as_deref()
            .map(inbound::Verifier::from_hex)
            .transpose()?;
        Ok(Some(Self {
            rest: Arc::new(Rest::new(
                &settings.discord_api_url,
                settings.discord_token.clone(),
            )?),
            application_id: settings.discord_application_id.clone(),
            guild_id: settings.discord_guild_id.clone(),
            verifier,
            usage,
        }))
    }

    pub fn outbound(&self) -> DiscordOut {
        DiscordOut {
            rest: self.rest.clone(),
            application_id: self.application_id.clone(),
            dm_channels: Mutex::new(HashMap::new()),
        }
    }

    /// `POST /webhooks/discord`, when `DISCORD_PUBLIC_KEY` is set.
    pub fn webhook_router(&self, inbox: InboxWriter) -> Option<Router> {
        let state = inbound::WebhookState {
            verifier: self.verifier.clone()?,
            inbox,
        };
        Some(
            Router::new()
                .route(
                    "/webhooks/discord",
                    post(crate::http::webhook::receive::<inbound::WebhookState>),
                )
                .with_state(state),
        )
    }

    /// Whether slash commands can be registered: that needs the token and the application id.
    pub fn can_register(&self) -> bool {
        self.rest.has_token() && self.application_id.is_some()
    }

    /// Makes Discord's slash commands (global, or `DISCORD_GUILD_ID`'s) match ours; writes
    /// only when they differ. The error names the missing setting or says what Discord said.
    pub async fn register_commands(&self) -> Result<Registration, String> {
        if !self.rest.has_token() {
            return Err("DISCORD_TOKEN: needed to register slash commands".into());
        }
        let application = self
            .application_id
            .as_deref()
            .ok_or("DISCORD_APPLICATION_ID: needed to register slash commands")?;
        commands::register(&self.rest, application, self.guild_id.as_deref(), self.usage)
            .await
            .map_err(|e| format!("Discord refused the slash commands: {e}"))
    }

    /// Whether the gateway runs (it needs `DISCORD_TOKEN`).
    pub fn gateway_enabled(&self) -> bool {
        self.rest.has_token()
    }

    /// Holds the gateway (on the one replica that holds its lock) until `shutdown`.
    pub async fn gateway_until_stopped(
        self: Arc<Self>,
        store: Store,
        inbox: InboxWriter,
        shutdown: CancellationToken,
    ) {
        gateway::run_until_stopped(
            self.rest.clone(),
            self.application_id.clone(),
            store,
            inbox,
            shutdown,
        )
        .await
    }
}
