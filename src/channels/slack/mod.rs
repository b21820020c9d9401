//! Slack: two ways in, as with Discord. The Events API, slash commands and buttons POSTed to
//! `/webhooks/slack` (`SLACK_SIGNING_SECRET`; `webhook`), or, without a public URL, Socket Mode
//! (`SLACK_APP_TOKEN`; `socket`), which carries the same payloads over a websocket. Both read
//! them the same way (`events`: direct messages, mentions, replies in the bot's threads;
//! `interactive`: the `/coord` slash command and button presses), store them before
//! acknowledging, and leave the answer to the outbox. Out: `chat.postMessage` with Block Kit
//! (`blocks`), `response_url` answers and `chat.update` on a press (`outbound`), with the bot
//! token (`SLACK_BOT_TOKEN`); shared audio files are fetched for transcription (`media`).
//!
//! The Web API is our own small client on reqwest (`api`), and Socket Mode runs on
//! tokio-tungstenite, rather than slack-morphism: the outbox needs each 429's `Retry-After`
//! and owns the retries, the inbox must store before Socket Mode acknowledges, and the handful
//! of methods used here do not justify its hyper stack next to reqwest.

pub mod address;
pub mod api;
pub mod blocks;
pub mod events;
pub mod interactive;
pub mod media;
pub mod mentions;
pub mod outbound;
pub mod signature;
pub mod socket;
pub mod spelling;
pub mod webhook;

use std::sync::Arc;

use axum::routing::post;
use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::config::{Secret, SlackSettings};
use crate::inbox::InboxWriter;
use crate::store::Store;
use api::WebApi;
use interactive::Intake;

pub use address::Address;
pub use interactive::COMMAND;
pub use outbound::SlackOut;
pub use spelling::CommandSpelling;

/// The Slack side of the service.
pub struct Slack {
    api: Arc<WebApi>,
    api_url: String,
    verifier: Option<signature::Verifier>,
    app_token: Option<Secret>,
    spelling: Arc<CommandSpelling>,
}

impl Slack {
    /// `None` when Slack is not configured (no `SLACK_BOT_TOKEN`). `menu`: every command's
    /// usage line (command name, line), so that our text names them as Slack users type them.
    pub fn new(settings: &SlackSettings, menu: &[(&str, &str)]) -> Result<Option<Self>, String> {
        let Some(token) = settings.bot_token.clone() else {
            return Ok(None);
        };
        Ok(Some(Self {
            api: Arc::new(WebApi::new(&settings.api_url, token)?),
            api_url: settings.api_url.clone(),
            verifier: settings.signing_secret.clone().map(signature::Verifier::new),
            app_token: settings.app_token.clone(),
            spelling: Arc::new(CommandSpelling::new(menu)),
        }))
    }

    /// The sending side; response URLs are read from `store`.
    pub fn outbound(&self, store: Store) -> SlackOut {
        SlackOut {
            api: self.api.clone(),
            store,
            spelling: self.spelling.clone(),
        }
    }

    /// Downloads of shared files (audio for transcription).
    pub fn media(&self) -> media::SlackMedia {
        media::SlackMedia {
            api: self.api.clone(),
            api_url: self.api_url.clone(),
        }
    }

    /// `POST /webhooks/slack`, when `SLACK_SIGNING_SECRET` is set.
    pub fn webhook_router(&self, store: Store, inbox: InboxWriter) -> Option<Router> {
        let state = webhook::WebhookState {
            verifier: self.verifier.clone()?,
            intake: Intake { store, inbox },
        };
        Some(
            Router::new()
                .route(
                    "/webhooks/slack",
                    post(crate::http::webhook::receive::<webhook::WebhookState>),
                )
                .with_state(state),
        )
    }

    /// Whether Socket Mode runs (it needs `SLACK_APP_TOKEN`).
    pub fn socket_mode(&self) -> bool {
        self.app_token.is_some()
    }

    /// Whether anything can receive from Slack (the webhook or Socket Mode).
    pub fn receives(&self) -> bool {
        self.verifier.is_some() || self.socket_mode()
    }

    /// Holds the Socket Mode connection (on the one replica holding its lock) until `shutdown`.
    pub async fn socket_until_stopped(
        self: Arc<Self>,
        store: Store,
        inbox: InboxWriter,
        shutdown: CancellationToken,
    ) {
        let Some(token) = self.app_token.clone() else {
            return;
        };
        socket::run_until_stopped(self.api.clone(), token, Intake { store, inbox }, shutdown).await
    }
}
