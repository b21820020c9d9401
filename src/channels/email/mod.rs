//! Email: replies by mail, threaded. Outbound over SMTP (lettre, `SMTP_URL`, `EMAIL_FROM`);
//! inbound from an IMAP mailbox (`IMAP_URL`, IDLE or polling) and from relays that post raw
//! RFC 5322 messages to `POST /webhooks/email` (bearer token, admin). Both inbound paths go
//! through [`ingest::Ingest`], which records every message by Message-ID, drops what machines
//! wrote, answers unknown senders once and hands the rest to the inbox.
//!
//! Threading: every message we send has a Message-ID we make and record; messages about a task
//! carry it as a token (`<t42.…@domain>`) and as a plus-address Reply-To (`bot+t42@domain`), so a
//! reply is matched to its task by its recipient, its `In-Reply-To`/`References`, or both.

pub mod imap;
pub mod inbound;
pub mod ingest;
pub mod media;
pub mod outbound;
mod webhook;

use axum::routing::post;
use axum::Router;

use crate::config::Settings;
use crate::store::Store;
use crate::workspace::Workspace;

pub use ingest::{Ingest, Ingested};
pub use outbound::EmailOut;

/// The bot's own address (`EMAIL_FROM`, e.g. `Coordinator <bot@example.org>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotAddress {
    /// The display name, when `EMAIL_FROM` has one.
    pub name: Option<String>,
    /// Lowercased.
    pub local: String,
    /// Lowercased.
    pub domain: String,
}

impl BotAddress {
    /// Reads `Name <local@domain>` or `local@domain`.
    pub fn parse(from: &str) -> Result<Self, String> {
        let from = from.trim();
        let (name, address) = match (from.rfind('<'), from.ends_with('>')) {
            (Some(open), true) => {
                let name = from[..open].trim().trim_matches('"').trim();
                (
                    (!name.is_empty()).then(|| name.to_owned()),
                    &from[open + 1..from.len() - 1],
                )
            }
            _ => (None, from),
        };
        let (local, domain) = address
            .trim()
            .split_once('@')
            .filter(|(l, d)| !l.is_empty() && d.contains('.') && !l.contains(char::is_whitespace))
            .ok_or_else(|| format!("EMAIL_FROM: '{from}' is not an email address"))?;
        Ok(Self {
            name,
            local: local.to_lowercase(),
            domain: domain.to_lowercase(),
        })
    }

    pub fn address(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }

    /// The address whose replies belong to task `id`: `local+t42@domain`.
    pub fn task_address(&self, id: i64) -> String {
        format!("{}+t{id}@{}", self.local, self.domain)
    }

    /// Whether `address` is ours, with or without a plus tag.
    pub fn is_ours(&self, address: &str) -> bool {
        let Some((local, domain)) = address.split_once('@') else {
            return false;
        };
        let base = local.split_once('+').map_or(local, |(base, _)| base);
        base.eq_ignore_ascii_case(&self.local) && domain.eq_ignore_ascii_case(&self.domain)
    }

    /// The task of a plus-address `local+t42@domain`.
    pub fn task_in_address(&self, address: &str) -> Option<i64> {
        let (local, domain) = address.split_once('@')?;
        let (base, tag) = local.split_once('+')?;
        if !base.eq_ignore_ascii_case(&self.local) || !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        task_tag(tag)
    }

    /// A new Message-ID (without brackets), carrying the task when there is one.
    pub fn new_message_id(&self, task: Option<i64>) -> String {
        let nonce = hex::encode(rand::random::<[u8; 12]>());
        match task {
            Some(id) => format!("t{id}.{nonce}@{}", self.domain),
            None => format!("c.{nonce}@{}", self.domain),
        }
    }

    /// The task in one of our Message-IDs (`t42.…@domain`).
    pub fn task_in_message_id(&self, id: &str) -> Option<i64> {
        let (left, domain) = id.rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        task_tag(left.split_once('.')?.0)
    }
}

/// `t42` → 42.
fn task_tag(tag: &str) -> Option<i64> {
    let digits = tag.strip_prefix('t')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}

/// The bot's address, when email is configured (`EMAIL_FROM`).
pub fn bot_address(settings: &Settings) -> Result<Option<BotAddress>, String> {
    settings.email_from.as_deref().map(BotAddress::parse).transpose()
}

/// The SMTP sender, when `SMTP_URL` and `EMAIL_FROM` are set.
pub fn outbound(settings: &Settings, store: Store) -> Result<Option<EmailOut>, String> {
    let (Some(url), Some(bot)) = (&settings.smtp_url, bot_address(settings)?) else {
        return Ok(None);
    };
    EmailOut::new(url.expose(), bot, store).map(Some)
}

/// `POST /webhooks/email`.
pub fn webhook_router(workspace: Workspace, ingest: Ingest) -> Router {
    let state = webhook::WebhookState { workspace, ingest };
    Router::new()
        .route("/webhooks/email", post(webhook::receive))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bot_address_carries_tasks() {
        let bot = BotAddress::parse("Coordinator <Bot@Example.org>").unwrap();
        assert_eq!(bot.name.as_deref(), Some("Coordinator"));
        assert_eq!(bot.address(), "bot@example.org");
        assert_eq!(bot.task_address(42), "bot+t42@example.org");
        assert_eq!(bot.task_in_address("BOT+t42@example.org"), Some(42));
        assert_eq!(bot.task_in_address("bot+x42@example.org"), None);
        assert_eq!(bot.task_in_address("other+t42@example.org"), None);
        let id = bot.new_message_id(Some(7));
        assert_eq!(bot.task_in_message_id(&id), Some(7));
        assert_eq!(bot.task_in_message_id(&bot.new_message_id(None)), None);
        assert_eq!(bot.task_in_message_id("t7.abc@elsewhere.org"), None);
        assert!(bot.is_ours("bot+t1@example.org") && !bot.is_ours("ann@example.org"));
        assert!(BotAddress::parse("not an address").is_err());
    }
}
