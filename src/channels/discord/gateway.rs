//! Discord's gateway (serenity's client), when `DISCORD_TOKEN` is set: messages that mention
//! the bot or reply to it in a server channel, and direct messages, become `InboundEvent`s in
//! the inbox. One replica holds the gateway: on PostgreSQL it is the one holding an advisory
//! lock (on a connection of its own, keyed by the schema); on SQLite there is one process
//! anyway. The gateway URL comes from `GET {DISCORD_API_URL}/gateway/bot`, so a self-hosted or
//! test server works too. Discord does not redeliver gateway events, so storing is retried a
//! few times before an event is given up (and logged).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serenity::all::{Context, EventHandler, GatewayIntents, Message, MessageFlags, Ready, UserId};
use serenity::http::HttpBuilder;
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

use super::rest::{Auth, Rest};
use crate::domain::Channel;
use crate::inbox::InboxWriter;
use crate::message::{Attachment, ChatKind, InboundEvent, Sender};
use crate::store::{Pool, Store};

/// The advisory lock that elects the gateway's replica: this key, and the schema's name as the
/// second key, so that deployments sharing a PostgreSQL database in separate schemas each get
/// their own gateway.
const LEASE_KEY: i32 = 0x6463_6777; // "dcgw"
/// How often the holder checks that its lock connection is alive, and others ask for it.
const LEASE_CHECK: Duration = Duration::from_secs(5);

/// Text with the bot's mention removed and other users' mentions written `@username`.
fn readable_text(message: &Message, bot: UserId) -> String {
    let mut text = message.content.clone();
    for user in &message.mentions {
        let written = if user.id == bot {
            String::new()
        } else {
            format!("@{}", user.name)
        };
        for form in [format!("<@{}>", user.id), format!("<@!{}>", user.id)] {
            text = text.replace(&form, &written);
        }
    }
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('\0', "")
}

fn attachments(message: &Message) -> Vec<Attachment> {
    let voice = message
        .flags
        .is_some_and(|f| f.contains(MessageFlags::IS_VOICE_MESSAGE));
    message
        .attachments
        .iter()
        .map(|a| {
            let mime = a.content_type.clone();
            let kind = match mime.as_deref() {
                _ if voice => "voice",
                Some(m) if m.starts_with("audio/") => "audio",
                Some(m) if m.starts_with("image/") => "photo",
                _ => "document",
            };
            Attachment {
                kind: kind.to_owned(),
                platform_id: a.url.clone(),
                mime_type: mime,
                size: Some(u64::from(a.size)),
                duration_secs: a.duration_secs.map(|d| d.round() as u32),
            }
        })
        .collect()
}

/// Normalizes a gateway message; `None` for the bot's own and other bots' messages, and for
/// server messages that neither mention the bot nor reply to it.
pub fn to_event(message: &Message, bot: UserId) -> Option<InboundEvent> {
    if message.author.bot || message.author.id == bot {
        return None;
    }
    let in_server = message.guild_id.is_some();
    let mentioned = message.mentions.iter().any(|u| u.id == bot);
    let replied_to_bot = message
        .referenced_message
        .as_ref()
        .is_some_and(|m| m.author.id == bot);
    if in_server && !mentioned && !replied_to_bot {
        return None;
    }
    let text = readable_text(message, bot);
    let attachments = attachments(message);
    if text.is_empty() && attachments.is_empty() {
        return None;
    }
    let display_name = message
        .member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| message.author.global_name.clone())
        .unwrap_or_else(|| message.author.name.clone());
    Some(InboundEvent {
        channel: Channel::Discord,
        event_id: message.id.to_string(),
        chat_id: message.channel_id.to_string(),
        chat_kind: if in_server {
            ChatKind::Group
        } else {
            ChatKind::Private
        },
        sender: Sender {
            external_id: message.author.id.to_string(),
            display_name,
            username: Some(message.author.name.clone()),
        },
        text,
        mentions_bot: mentioned || replied_to_bot,
        message_id: Some(message.id.to_string()),
        reply_to: message
            .message_reference
            .as_ref()
            .and_then(|r| r.message_id)
            .map(|id| id.to_string()),
        attachments,
        button: None,
        received_at: Utc::now(),
    })
}

struct Handler {
    inbox: InboxWriter,
    bot: Arc<AtomicU64>,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        self.bot.store(ready.user.id.get(), Ordering::Relaxed);
        tracing::info!(bot = %ready.user.name, "Discord gateway ready");
    }

    async fn message(&self, _ctx: Context, message: Message) {
        let bot = self.bot.load(Ordering::Relaxed);
        if bot == 0 {
            return;
        }
        let Some(event) = to_event(&message, UserId::new(bot)) else {
            return;
        };
        for attempt in 1..=5u32 {
            match self.inbox.accept(&event).await {
                Ok(_) => return,
                Err(e) if attempt == 5 => {
                    tracing::error!(error = %e, event_id = %event.event_id, "Discord message lost: could not store it");
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "could not store a Discord message; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
            }
        }
    }
}

/// The right to hold the gateway.
enum Lease {
    /// SQLite: one process.
    Sole,
    /// PostgreSQL: the advisory lock lives as long as this connection.
    Postgres(sqlx::PgConnection),
}

impl Lease {
    /// Waits until this replica may hold the gateway; `None` on shutdown.
    async fn acquire(store: &Store, shutdown: &CancellationToken) -> Option<Lease> {
        let Pool::Postgres(pool) = &store.pool else {
            return Some(Lease::Sole);
        };
        loop {
            let attempt = async {
                let mut conn = pool.acquire().await?.detach();
                let held: bool =
                    sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext(current_schema()))")
                        .bind(LEASE_KEY)
                        .fetch_one(&mut conn)
                        .await?;
                Ok::<_, sqlx::Error>(held.then_some(conn))
            };
            match attempt.await {
                Ok(Some(conn)) => return Some(Lease::Postgres(conn)),
                Ok(None) => tracing::debug!("another replica holds the Discord gateway"),
                Err(e) => tracing::warn!(error = %e, "could not ask for the Discord gateway lock"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(LEASE_CHECK) => {}
            }
        }
    }

    async fn held(&mut self) -> bool {
        match self {
            Lease::Sole => true,
            Lease::Postgres(conn) => conn.ping().await.is_ok(),
        }
    }
}

/// Runs the gateway until `shutdown`, reconnecting with backoff.
pub async fn run_until_stopped(
    rest: Arc<Rest>,
    application_id: Option<String>,
    store: Store,
    inbox: InboxWriter,
    shutdown: CancellationToken,
) {
    let mut pause = Duration::from_secs(1);
    loop {
        let Some(mut lease) = Lease::acquire(&store, &shutdown).await else {
            return;
        };
        match session(&rest, application_id.as_deref(), &inbox, &mut lease, &shutdown).await {
            Ok(()) => pause = Duration::from_secs(1),
            Err(e) => tracing::warn!(error = %e, "Discord gateway session ended"),
        }
        if shutdown.is_cancelled() {
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(60));
    }
}

/// One gateway connection, until it ends, the lease is lost or `shutdown`.
async fn session(
    rest: &Rest,
    application_id: Option<&str>,
    inbox: &InboxWriter,
    lease: &mut Lease,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let token = rest
        .token()
        .ok_or("DISCORD_TOKEN is not set")?
        .expose()
        .to_owned();
    let gateway = rest
        .call(Method::GET, &["gateway", "bot"], "gateway/bot", Auth::Bot, None)
        .await
        .map_err(|e| format!("GET /gateway/bot: {e}"))?;
    let url = gateway["url"]
        .as_str()
        .ok_or("GET /gateway/bot gave no url")?
        .to_owned();
    // serenity's own REST calls (it asks for the gateway URL once) go to the same server.
    let mut http = HttpBuilder::new(&token)
        .proxy(rest.origin())
        .ratelimiter_disabled(true);
    if let Some(id) = application_id
        .and_then(|id| id.parse::<u64>().ok())
        .filter(|id| *id > 0)
    {
        http = http.application_id(id.into());
    }
    let intents = GatewayIntents::GUILD_MESSAGES | GatewayIntents::DIRECT_MESSAGES;
    let handler = Handler {
        inbox: inbox.clone(),
        bot: Arc::new(AtomicU64::new(0)),
    };
    let mut client = serenity::client::ClientBuilder::new_with_http(http.build(), intents)
        .event_handler(handler)
        .await
        .map_err(|e| e.to_string())?;
    *client.ws_url.lock().await = url;
    let manager = client.shard_manager.clone();
    let run = client.start();
    tokio::pin!(run);
    loop {
        tokio::select! {
            ended = &mut run => return ended.map_err(|e| e.to_string()),
            _ = shutdown.cancelled() => {
                manager.shutdown_all().await;
                return Ok(());
            }
            _ = tokio::time::sleep(LEASE_CHECK) => {
                if !lease.held().await {
                    manager.shutdown_all().await;
                    return Err("lost the gateway lock".into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOT: u64 = 1100000000000000000;

    fn message(json: serde_json::Value) -> Message {
        serde_json::from_value(json).unwrap()
    }

    fn guild_message(content: &str, mentions: serde_json::Value) -> serde_json::Value {
        json!({
            "id": "1250000000000000001", "channel_id": "1000000000000000002",
            "guild_id": "1000000000000000001", "type": 0, "content": content,
            "author": {"id": "80351110224678912", "username": "anna", "global_name": "Anna K",
                       "discriminator": "0", "avatar": null},
            "member": {"nick": null, "roles": [], "joined_at": "2025-01-01T00:00:00+00:00",
                       "deaf": false, "mute": false, "flags": 0},
            "timestamp": "2025-11-25T10:00:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": mentions, "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "flags": 0
        })
    }

    fn bot_user() -> serde_json::Value {
        json!({"id": BOT.to_string(), "username": "coordinator", "discriminator": "0", "avatar": null, "bot": true})
    }

    #[test]
    fn mentions_in_servers_are_events_with_the_mention_removed() {
        let bob = json!({"id": "90000000000000000", "username": "bob", "discriminator": "0", "avatar": null});
        let json = guild_message(
            &format!("<@{BOT}> /newtask Fix the login <@90000000000000000>"),
            json!([bot_user(), bob]),
        );
        let event = to_event(&message(json), UserId::new(BOT)).unwrap();
        assert_eq!(event.text, "/newtask Fix the login @bob");
        assert_eq!(event.chat_kind, ChatKind::Group);
        assert!(event.mentions_bot);
        assert_eq!(event.chat_id, "1000000000000000002");
        assert_eq!(event.sender.display_name, "Anna K");
    }

    #[test]
    fn other_server_chatter_and_bots_are_ignored() {
        let json = guild_message("lunch anyone?", json!([]));
        assert!(to_event(&message(json), UserId::new(BOT)).is_none());
        let mut json = guild_message(&format!("<@{BOT}> hi"), json!([bot_user()]));
        json["author"] = bot_user();
        assert!(to_event(&message(json), UserId::new(BOT)).is_none());
    }

    #[test]
    fn direct_messages_are_private() {
        let mut json = guild_message("/tasks mine", json!([]));
        let object = json.as_object_mut().unwrap();
        object.remove("guild_id");
        object.remove("member");
        let event = to_event(&message(json), UserId::new(BOT)).unwrap();
        assert_eq!(event.chat_kind, ChatKind::Private);
        assert_eq!(event.text, "/tasks mine");
        assert!(!event.mentions_bot);
    }
}
