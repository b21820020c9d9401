//! Discord: slash commands and buttons (interactions) through the HTTP interactions endpoint
//! (`/webhooks/discord`, when `DISCORD_PUBLIC_KEY` is set) or, without a public URL, over the
//! gateway, both by the same path (`interaction`); answers through the interaction's webhook
//! (no bot token needed), REST sends to channels and direct messages for everything else
//! (`DISCORD_TOKEN`), mentions of the bot and direct messages through the gateway, and the
//! slash-command registration (at start and with `coordinator discord register`), global or for
//! `DISCORD_GUILD_ID`.
//!
//! REST goes through our own small client (`rest`) rather than serenity's: with serenity's rate
//! limiter disabled (which its base-URL override requires) a 429 loses its `retry_after` and
//! headers, and the outbox needs them to wait as Discord asks. serenity runs the gateway.

mod address;
pub mod commands;
pub mod gateway;
pub mod inbound;
pub mod interaction;
pub mod media;
mod mentions;
pub mod outbound;
pub mod rest;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use axum::routing::post;
use axum::Router;
use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::inbox::InboxWriter;
use crate::store::Store;
use interaction::Intake;
use rest::{Auth, Rest};

pub use address::Address;
pub use commands::Registration;
pub use outbound::DiscordOut;

/// How slash commands and button presses reach the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractionsVia {
    /// Discord POSTs them to `/webhooks/discord` (`DISCORD_PUBLIC_KEY`, with the application's
    /// Interactions Endpoint URL pointing there): this needs a public URL.
    Endpoint,
    /// They come over the gateway as `INTERACTION_CREATE` (no interactions endpoint): the bot
    /// token is enough, no public URL needed.
    Gateway,
}

impl fmt::Display for InteractionsVia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InteractionsVia::Endpoint => "the HTTP interactions endpoint (POST /webhooks/discord)",
            InteractionsVia::Gateway => "gateway interactions (no public URL needed)",
        })
    }
}

/// The Discord side of the service.
pub struct Discord {
    rest: Arc<Rest>,
    /// `DISCORD_APPLICATION_ID`, when set.
    application_id: Option<String>,
    /// Otherwise the application the bot token belongs to, asked of Discord once.
    learned_application_id: OnceLock<String>,
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
            learned_application_id: OnceLock::new(),
            guild_id: settings.discord_guild_id.clone(),
            verifier,
            usage,
        }))
    }

    /// The sending side; interaction tokens are read from `store`.
    pub fn outbound(&self, store: Store) -> DiscordOut {
        DiscordOut {
            rest: self.rest.clone(),
            application_id: self.application_id.clone(),
            store,
            dm_channels: Mutex::new(HashMap::new()),
        }
    }

    /// `POST /webhooks/discord`, when `DISCORD_PUBLIC_KEY` is set.
    pub fn webhook_router(&self, store: Store, inbox: InboxWriter) -> Option<Router> {
        let state = inbound::WebhookState {
            verifier: self.verifier.clone()?,
            intake: Intake { store, inbox },
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

    /// How interactions arrive: the endpoint when its public key is set, else the gateway
    /// (which handles them too, should Discord send them there). `None`: nothing can answer a
    /// slash command.
    pub fn interactions_via(&self) -> Option<InteractionsVia> {
        if self.verifier.is_some() {
            Some(InteractionsVia::Endpoint)
        } else if self.gateway_enabled() {
            Some(InteractionsVia::Gateway)
        } else {
            None
        }
    }

    /// Whether slash commands can be registered: that needs the bot token, and something that
    /// answers them (the endpoint or the gateway).
    pub fn can_register(&self) -> bool {
        self.rest.has_token() && self.interactions_via().is_some()
    }

    /// `DISCORD_APPLICATION_ID`, or else the bot's application as Discord reports it
    /// (`GET /applications/@me`, asked once).
    pub async fn application_id(&self) -> Result<String, String> {
        if let Some(id) = self.application_id.as_ref().or(self.learned_application_id.get()) {
            return Ok(id.clone());
        }
        if !self.rest.has_token() {
            return Err(
                "DISCORD_APPLICATION_ID: not set, and without DISCORD_TOKEN it cannot be asked of Discord"
                    .into(),
            );
        }
        let answer = self
            .rest
            .call(
                Method::GET,
                &["applications", "@me"],
                "applications/@me",
                Auth::Bot,
                None,
            )
            .await
            .map_err(|e| {
                format!("could not ask Discord for the bot's application (GET /applications/@me): {e}")
            })?;
        let id = answer
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .ok_or("GET /applications/@me gave no application id")?
            .to_owned();
        Ok(self.learned_application_id.get_or_init(|| id).clone())
    }

    /// Makes Discord's slash commands (global, or `DISCORD_GUILD_ID`'s) match ours; writes
    /// only when they differ. The error names the missing setting or says what Discord said.
    pub async fn register_commands(&self) -> Result<Registration, String> {
        if !self.rest.has_token() {
            return Err("DISCORD_TOKEN: needed to register slash commands".into());
        }
        if self.interactions_via().is_none() {
            return Err(
                "nothing would answer the slash commands (neither the gateway nor DISCORD_PUBLIC_KEY)".into(),
            );
        }
        let application = self.application_id().await?;
        commands::register(&self.rest, &application, self.guild_id.as_deref(), self.usage)
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
            Intake { store, inbox },
            shutdown,
        )
        .await
    }
}
