//! Telegram through the Bot API (teloxide as the client): webhook mode when
//! `TELEGRAM_WEBHOOK_SECRET` is set (registered with Telegram at start when
//! `COORDINATOR_PUBLIC_URL` is set: `webhook`), long polling otherwise; the command menu is
//! registered with `setMyCommands` at start.

pub mod inbound;
pub mod media;
pub mod outbound;
pub mod webhook;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::requests::Request;
use teloxide::types::BotCommand;
use teloxide::Bot;
use tokio_util::sync::CancellationToken;

use crate::config::TelegramSettings;
use crate::inbox::InboxWriter;

pub use outbound::TelegramOut;
pub use webhook::WebhookStatus;

/// The Telegram side of the service.
pub struct Telegram {
    bot: Bot,
    settings: TelegramSettings,
    /// Learnt from `getMe`; used to see mentions in groups and `/cmd@bot`.
    pub username: Arc<RwLock<Option<String>>>,
}

impl Telegram {
    pub fn new(settings: &TelegramSettings) -> Result<Self, String> {
        let url = reqwest::Url::parse(&settings.api_url).map_err(|e| format!("TELEGRAM_API_URL: {e}"))?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Long polls wait up to 25 s at the server.
            .timeout(Duration::from_secs(40))
            .build()
            .map_err(|e| e.to_string())?;
        let bot = Bot::with_client(settings.bot_token.expose(), client).set_api_url(url);
        Ok(Self {
            bot,
            settings: settings.clone(),
            username: Arc::new(RwLock::new(None)),
        })
    }

    pub fn outbound(&self) -> TelegramOut {
        TelegramOut {
            bot: self.bot.clone(),
        }
    }

    /// Downloads of voice notes and audio.
    pub fn media(&self) -> media::TelegramMedia {
        media::TelegramMedia {
            bot: self.bot.clone(),
        }
    }

    pub fn username(&self) -> Option<String> {
        self.username.read().ok().and_then(|u| u.clone())
    }

    /// Learns the bot's username and registers the command menu from `commands` (name, usage
    /// line "/name ARGS — what it does"). Failures are logged: the service still answers, the
    /// menu is a convenience.
    pub async fn set_up(&self, commands: &[(&str, &str)]) {
        match self.bot.get_me().await {
            Ok(me) => {
                if let Ok(mut name) = self.username.write() {
                    *name = me.user.username.clone();
                }
            }
            Err(e) => tracing::warn!(error = %e, "Telegram getMe failed"),
        }
        let menu: Vec<BotCommand> = commands
            .iter()
            .map(|(name, usage)| {
                let description = usage.split_once(" — ").map_or(*usage, |(_, what)| what);
                BotCommand::new(*name, description)
            })
            .collect();
        if let Err(e) = self.bot.set_my_commands(menu).await {
            tracing::warn!(error = %e, "Telegram setMyCommands failed");
        }
    }

    /// The webhook route, when webhook mode is configured.
    pub fn webhook_router(&self, inbox: InboxWriter) -> Option<Router> {
        let secret = self.settings.webhook_secret.clone()?;
        let state = inbound::WebhookState {
            secret,
            inbox,
            bot_username: self.username.clone(),
        };
        Some(
            Router::new()
                .route(
                    "/webhooks/telegram",
                    post(crate::http::webhook::receive::<inbound::WebhookState>),
                )
                .with_state(state),
        )
    }

    pub fn polling(&self) -> bool {
        self.settings.webhook_secret.is_none()
    }

    /// Long polling: each answer's updates are stored in the inbox together before the next
    /// `getUpdates` confirms them, so a crash re-reads unconfirmed updates and the inbox drops
    /// the repeats.
    pub async fn poll_until_stopped(self: Arc<Self>, inbox: InboxWriter, shutdown: CancellationToken) {
        self.delete_stale_webhook().await;
        let mut offset: i32 = 0;
        let mut pause = Duration::from_millis(500);
        loop {
            let request = self
                .bot
                .get_updates()
                .offset(offset)
                .timeout(25)
                .allowed_updates(inbound::ALLOWED_UPDATES);
            let updates = tokio::select! {
                _ = shutdown.cancelled() => return,
                result = request.send() => result,
            };
            let updates = match updates {
                Ok(updates) => {
                    pause = Duration::from_millis(500);
                    updates
                }
                Err(e) => {
                    if webhook::webhook_is_active(&e) {
                        // A webhook was set since: polling gets nothing until it is gone.
                        self.delete_stale_webhook().await;
                    } else {
                        tracing::warn!(error = %e, "Telegram getUpdates failed");
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            let username = self.username();
            let Some(last) = updates.last().map(|u| u.id.0 as i32) else {
                continue;
            };
            // The whole answer is stored together (one statement, not one per update) before
            // the next `getUpdates` confirms it.
            let events: Vec<_> = updates
                .iter()
                .filter_map(|update| inbound::to_event(update, username.as_deref()))
                .collect();
            match inbox.accept_all(&events).await {
                Ok(_) => offset = last + 1,
                Err(e) => {
                    // Not confirmed: Telegram hands the updates out again (after a pause, for
                    // the database to come back), and the inbox drops those it stored already.
                    tracing::error!(error = %e, "could not store Telegram updates; will re-read them");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }
}
