//! How Telegram delivers updates to us, set up at start and reported on demand. Webhook mode
//! registers `COORDINATOR_PUBLIC_URL/webhooks/telegram` with `setWebhook` (the secret token and
//! the update types we handle) and checks it with `getWebhookInfo`; long polling first deletes
//! a webhook Telegram still has, since `getUpdates` is refused while one is set. Each outcome is
//! one log line, and none of them stops the service. `coordinator telegram status` prints
//! [`WebhookStatus`].

use std::fmt;

use chrono::{DateTime, Utc};
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::types::WebhookInfo;
use teloxide::RequestError;

use super::inbound::ALLOWED_UPDATES;
use super::Telegram;

/// What Telegram reports about the bot's webhook (`getWebhookInfo`), in our own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookStatus {
    /// Where Telegram delivers updates; `None`: nowhere, updates wait for `getUpdates`.
    pub url: Option<String>,
    /// Updates Telegram holds that nobody has taken yet.
    pub pending_update_count: u32,
    pub last_error_date: Option<DateTime<Utc>>,
    pub last_error_message: Option<String>,
    /// The update types Telegram sends; `None`: all of them.
    pub allowed_updates: Option<Vec<String>>,
    /// What this service does with the webhook at start, from its settings.
    pub configured: String,
}

impl WebhookStatus {
    fn new(info: WebhookInfo, configured: String) -> Self {
        let allowed_updates = info.allowed_updates.map(|kinds| {
            kinds
                .iter()
                .filter_map(|k| serde_json::to_value(k).ok())
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        });
        Self {
            url: info.url.map(|u| u.to_string()),
            pending_update_count: info.pending_update_count,
            last_error_date: info.last_error_date,
            last_error_message: info.last_error_message,
            allowed_updates,
            configured,
        }
    }

    /// The last delivery error, with its date, for a log line.
    fn last_error(&self) -> Option<String> {
        let message = self.last_error_message.as_deref()?;
        Some(match self.last_error_date {
            Some(at) => format!("{} ({})", message, at.format("%Y-%m-%d %H:%M:%S UTC")),
            None => message.to_owned(),
        })
    }
}

impl fmt::Display for WebhookStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self
            .url
            .as_deref()
            .unwrap_or("none (updates wait for getUpdates: long polling)");
        writeln!(f, "webhook URL:      {url}")?;
        writeln!(f, "pending updates:  {}", self.pending_update_count)?;
        let error = self.last_error().unwrap_or_else(|| "none".into());
        writeln!(f, "last error:       {error}")?;
        let allowed = match &self.allowed_updates {
            Some(kinds) if !kinds.is_empty() => kinds.join(", "),
            _ => "all".into(),
        };
        writeln!(f, "allowed updates:  {allowed}")?;
        writeln!(f, "this service:     {}", self.configured)
    }
}

impl Telegram {
    /// What this service does about the webhook, from its settings (for the status report).
    fn configured(&self) -> String {
        match (&self.settings.webhook_secret, &self.settings.webhook_url) {
            (None, _) => "long polling (deletes a webhook at start)".into(),
            (Some(_), Some(url)) => format!("webhook mode, registers {url} at start"),
            (Some(_), None) => "webhook mode, registers nothing (COORDINATOR_PUBLIC_URL is not set)".into(),
        }
    }

    /// `getWebhookInfo`, with what this service would do about it.
    pub async fn webhook_status(&self) -> Result<WebhookStatus, RequestError> {
        let info = self.bot.get_webhook_info().await?;
        Ok(WebhookStatus::new(info, self.configured()))
    }

    /// Webhook mode, at start: registers `COORDINATOR_PUBLIC_URL/webhooks/telegram` and checks
    /// what Telegram then reports; without a public URL, says whether a webhook is set at all.
    pub async fn register_webhook(&self) {
        let Some(secret) = &self.settings.webhook_secret else {
            return;
        };
        let Some(url) = &self.settings.webhook_url else {
            match self.webhook_status().await {
                Ok(WebhookStatus { url: Some(url), .. }) => tracing::info!(
                    "Telegram delivers updates to {url} (registered outside this service; \
                     COORDINATOR_PUBLIC_URL would have it registered at start)"
                ),
                Ok(_) => tracing::warn!(
                    "Telegram has no webhook set and COORDINATOR_PUBLIC_URL is not set, so this \
                     bot receives nothing: set COORDINATOR_PUBLIC_URL, or unset \
                     TELEGRAM_WEBHOOK_SECRET for long polling"
                ),
                Err(e) => tracing::warn!("Telegram getWebhookInfo failed: {e}"),
            }
            return;
        };
        let parsed = match reqwest::Url::parse(url) {
            Ok(parsed) => parsed,
            Err(e) => {
                tracing::error!("Telegram webhook not registered: '{url}' is not a URL ({e})");
                return;
            }
        };
        let set = self
            .bot
            .set_webhook(parsed.clone())
            .secret_token(secret.expose())
            .allowed_updates(ALLOWED_UPDATES)
            .await;
        if let Err(e) = set {
            tracing::error!(
                "Telegram webhook NOT registered at {url}: {e}. The bot receives nothing until it \
                 is: check COORDINATOR_PUBLIC_URL (Telegram needs https on port 443, 80, 88 or \
                 8443) and run `coordinator telegram status`"
            );
            return;
        }
        match self.webhook_status().await {
            Ok(status) if status.url.as_deref() != Some(parsed.as_str()) => tracing::error!(
                "Telegram accepted the webhook {url}, but reports {}",
                status.url.as_deref().unwrap_or("none")
            ),
            Ok(status) => match status.last_error() {
                Some(error) => tracing::warn!(
                    "Telegram webhook registered at {url}, but Telegram's last delivery failed: \
                     {error}; {} updates pending",
                    status.pending_update_count
                ),
                None => tracing::info!(
                    "Telegram webhook registered at {url}; {} updates pending",
                    status.pending_update_count
                ),
            },
            Err(e) => tracing::warn!("Telegram webhook registered at {url}; getWebhookInfo failed: {e}"),
        }
    }

    /// Long polling, before the first `getUpdates`: a webhook Telegram still has is deleted
    /// (Telegram refuses `getUpdates` while one is set).
    pub(super) async fn delete_stale_webhook(&self) {
        let stale = match self.webhook_status().await {
            Ok(WebhookStatus { url: Some(url), .. }) => Some(url),
            Ok(_) => return,
            Err(e) => {
                tracing::warn!("Telegram getWebhookInfo failed ({e}); deleting any webhook to poll");
                None
            }
        };
        match (self.bot.delete_webhook().await, stale) {
            (Ok(_), Some(url)) => tracing::info!(
                "Telegram had a webhook set ({url}); deleted it, since long polling cannot receive \
                 updates while one is set"
            ),
            (Ok(_), None) => {}
            (Err(e), url) => tracing::error!(
                "Telegram deleteWebhook failed: {e}; while a webhook is set ({}), long polling \
                 receives nothing",
                url.as_deref().unwrap_or("maybe")
            ),
        }
    }
}

/// Whether a `getUpdates` error means a webhook is set (HTTP 409 from the Bot API).
pub(super) fn webhook_is_active(error: &RequestError) -> bool {
    error.to_string().contains("webhook is active")
}
