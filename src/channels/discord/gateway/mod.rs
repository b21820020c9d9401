//! Discord's gateway (serenity's client), when `DISCORD_TOKEN` is set: messages that mention
//! the bot or reply to it in a server channel, and direct messages (`message`), and slash
//! commands and button presses (`INTERACTION_CREATE`, `interactions`: the same path as the HTTP
//! endpoint's) become `InboundEvent`s in the inbox. With the gateway, slash commands need no
//! public URL. One replica holds the gateway: on PostgreSQL it is the one holding an advisory
//! lock (on a connection of its own, keyed by the schema); on SQLite there is one process
//! anyway. The gateway URL comes from `GET {DISCORD_API_URL}/gateway/bot`, so a self-hosted or
//! test server works too. Discord does not redeliver gateway events, so storing is retried a
//! few times before an event is given up (and logged).

mod interactions;
mod message;

pub use message::{mentioned_users, readable_text, to_event};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serenity::all::{Context, EventHandler, GatewayIntents, Interaction, Message, Ready, UserId};
use serenity::http::HttpBuilder;
use tokio_util::sync::CancellationToken;

use super::interaction::Intake;
use super::rest::{Auth, Rest};
use crate::channels::mentions::linked_handles;
use crate::domain::Channel;
use crate::store::Lease;

/// The advisory lock that elects the gateway's replica: this key, and the schema's name as the
/// second key, so that deployments sharing a PostgreSQL database in separate schemas each get
/// their own gateway.
const LEASE_KEY: i32 = 0x6463_6777; // "dcgw"
/// How often the holder checks that its lock connection is alive, and others ask for it.
const LEASE_CHECK: Duration = Duration::from_secs(5);

struct Handler {
    intake: Intake,
    /// Acknowledges interactions (`POST /interactions/{id}/{token}/callback`).
    rest: Arc<Rest>,
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
        let bot = UserId::new(bot);
        let Some(mut event) = to_event(&message, bot) else {
            return;
        };
        // Only a message the bot takes costs lookups of the people it mentions.
        let mentioned = mentioned_users(&message, bot);
        if !mentioned.is_empty() {
            let handles = linked_handles(&self.intake.store, Channel::Discord, &mentioned).await;
            if !handles.is_empty() {
                event.text = readable_text(&message, bot, &handles);
            }
        }
        for attempt in 1..=5u32 {
            match self.intake.inbox.accept(&event).await {
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

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        interactions::handle(&self.intake, &self.rest, &interaction).await;
    }
}

/// Runs the gateway until `shutdown`, reconnecting with backoff.
pub async fn run_until_stopped(
    rest: Arc<Rest>,
    application_id: Option<String>,
    intake: Intake,
    shutdown: CancellationToken,
) {
    let mut pause = Duration::from_secs(1);
    loop {
        let Some(mut lease) = Lease::acquire(&intake.store, LEASE_KEY, "Discord gateway", &shutdown).await
        else {
            return;
        };
        match session(&rest, application_id.as_deref(), &intake, &mut lease, &shutdown).await {
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
    rest: &Arc<Rest>,
    application_id: Option<&str>,
    intake: &Intake,
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
    // Interactions come whatever the intents.
    let intents = GatewayIntents::GUILD_MESSAGES | GatewayIntents::DIRECT_MESSAGES;
    let handler = Handler {
        intake: intake.clone(),
        rest: rest.clone(),
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
