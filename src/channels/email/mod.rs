//! Email: replies by mail, threaded. Outbound over SMTP (lettre, `SMTP_URL`, `EMAIL_FROM`);
//! inbound from an IMAP mailbox (`IMAP_URL`, IDLE or polling) and from relays that post raw
//! RFC 5322 messages to `POST /webhooks/email` (bearer token, admin). Both inbound paths go
//! through [`ingest::Ingest`], which records every message by Message-ID, drops what machines
//! wrote, answers unknown senders once and hands the rest to the inbox.
//!
//! Threading: every message we send has a Message-ID we make and record; messages about a task
//! carry it as a token (`<t42.…@domain>`) and as a plus-address Reply-To (`bot+t42@domain`), so a
//! reply is matched to its task by its recipient, its `In-Reply-To`/`References`, or both.

pub mod auth;
pub mod imap;
pub mod inbound;
pub mod ingest;
pub mod media;
pub mod outbound;
pub mod unread;
mod webhook;

use axum::routing::post;
use axum::Router;

use crate::config::Settings;
use crate::domain::EmailAddress;
use crate::store::Store;
use crate::workspace::Workspace;

pub use ingest::{Ingest, Ingested};
pub use outbound::EmailOut;

/// A new Message-ID (without brackets) under the bot's domain, carrying the task when there is
/// one (`t42.NONCE@domain`, read back by [`EmailAddress::task_in_message_id`]).
pub fn new_message_id(bot: &EmailAddress, task: Option<i64>) -> String {
    let nonce = hex::encode(rand::random::<[u8; 12]>());
    match task {
        Some(id) => format!("t{id}.{nonce}@{}", bot.domain),
        None => format!("c.{nonce}@{}", bot.domain),
    }
}

/// The SMTP sender, when `SMTP_URL` and `EMAIL_FROM` are set.
pub fn outbound(settings: &Settings, store: Store) -> Result<Option<EmailOut>, String> {
    let (Some(url), Some(bot)) = (&settings.smtp_url, settings.email_from.clone()) else {
        return Ok(None);
    };
    EmailOut::new(url.expose(), bot, store).map(Some)
}

/// `POST /webhooks/email`.
pub fn webhook_router(workspace: Workspace, ingest: Ingest) -> Router {
    let state = webhook::WebhookState { workspace, ingest };
    Router::new()
        .route(
            "/webhooks/email",
            post(crate::http::webhook::receive::<webhook::WebhookState>),
        )
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bot_address_carries_tasks() {
        let bot = EmailAddress::parse("Coordinator <Bot@Example.org>").unwrap();
        assert_eq!(bot.name.as_deref(), Some("Coordinator"));
        assert_eq!(bot.address(), "bot@example.org");
        assert_eq!(bot.task_address(42), "bot+t42@example.org");
        assert_eq!(bot.task_in_address("BOT+t42@example.org"), Some(42));
        assert_eq!(bot.task_in_address("bot+x42@example.org"), None);
        assert_eq!(bot.task_in_address("other+t42@example.org"), None);
        let id = new_message_id(&bot, Some(7));
        assert_eq!(bot.task_in_message_id(&id), Some(7));
        assert_eq!(bot.task_in_message_id(&new_message_id(&bot, None)), None);
        assert_eq!(bot.task_in_message_id("t7.abc@elsewhere.org"), None);
        assert!(bot.is_ours("bot+t1@example.org") && !bot.is_ours("ann@example.org"));
        assert!(EmailAddress::parse("not an address").is_err());
    }
}
