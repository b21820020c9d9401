//! Socket Mode, when `SLACK_APP_TOKEN` is set: `apps.connections.open` (with the app-level
//! token) gives a websocket URL; Slack sends envelopes over it (`hello`, `events_api`,
//! `slash_commands`, `interactive`, `disconnect`), and each is acknowledged with its
//! `envelope_id` only once what it carries is stored, by the same path as the HTTP webhook. An
//! envelope that could not be stored is not acknowledged: Slack sends it again. On `disconnect`
//! (Slack refreshes connections every few hours) or a dropped socket a new connection is opened.
//! One replica holds it: on PostgreSQL the one holding an advisory lock; on SQLite there is one
//! process anyway.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;

use super::api::WebApi;
use super::events::{self, Payload};
use super::interactive::{self, Intake, SlashCommand};
use crate::config::Secret;
use crate::store::Lease;

/// The advisory lock that elects the Socket Mode replica (with the schema as second key).
const LEASE_KEY: i32 = 0x736c_736d; // "slsm"
/// How often the holder checks its lock connection, and others ask for it.
const LEASE_CHECK: Duration = Duration::from_secs(5);

/// What an envelope asks of us once read.
#[derive(Debug, PartialEq)]
enum Step {
    /// Acknowledge with this message (after storing, when there was something to store).
    Ack(Value),
    /// Open a new connection.
    Reconnect,
    /// Nothing to do (`hello`, pings).
    Nothing,
}

/// Runs Socket Mode until `shutdown`, reconnecting with backoff.
pub async fn run_until_stopped(
    api: Arc<WebApi>,
    app_token: Secret,
    intake: Intake,
    shutdown: CancellationToken,
) {
    let mut pause = Duration::from_secs(1);
    loop {
        let Some(mut lease) = Lease::acquire(&intake.store, LEASE_KEY, "Slack Socket Mode", &shutdown).await
        else {
            return;
        };
        match session(&api, &app_token, &intake, &mut lease, &shutdown).await {
            Ok(()) => pause = Duration::from_secs(1),
            Err(e) => tracing::warn!(error = %e, "Slack Socket Mode connection ended"),
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

/// One connection, until Slack asks for a new one, it drops, the lease is lost or `shutdown`.
async fn session(
    api: &WebApi,
    app_token: &Secret,
    intake: &Intake,
    lease: &mut Lease,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let opened = api
        .call_with(
            app_token,
            "apps.connections.open",
            "apps.connections.open",
            &json!({}),
        )
        .await
        .map_err(|e| format!("apps.connections.open: {e}"))?;
    let url = opened
        .get("url")
        .and_then(Value::as_str)
        .ok_or("apps.connections.open gave no url")?;
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("could not open the Socket Mode websocket: {e}"))?;
    tracing::info!("Slack Socket Mode connected");
    loop {
        let incoming = tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = socket.close(None).await;
                return Ok(());
            }
            _ = tokio::time::sleep(LEASE_CHECK) => {
                if !lease.held().await {
                    let _ = socket.close(None).await;
                    return Err("lost the Socket Mode lock".into());
                }
                continue;
            }
            incoming = socket.next() => incoming,
        };
        let text = match incoming {
            Some(Ok(WsMessage::Text(text))) => text,
            Some(Ok(WsMessage::Ping(data))) => {
                socket
                    .send(WsMessage::Pong(data))
                    .await
                    .map_err(|e| e.to_string())?;
                continue;
            }
            Some(Ok(WsMessage::Close(_))) | None => return Ok(()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
        };
        match handle(intake, &text).await {
            Step::Ack(ack) => socket
                .send(WsMessage::Text(ack.to_string()))
                .await
                .map_err(|e| e.to_string())?,
            Step::Reconnect => {
                let _ = socket.close(None).await;
                return Ok(());
            }
            Step::Nothing => {}
        }
    }
}

/// Reads one envelope and stores what it carries.
async fn handle(intake: &Intake, text: &str) -> Step {
    let Ok(envelope) = serde_json::from_str::<Value>(text) else {
        tracing::warn!("unreadable Socket Mode message ignored");
        return Step::Nothing;
    };
    let kind = envelope.get("type").and_then(Value::as_str).unwrap_or_default();
    let id = envelope.get("envelope_id").and_then(Value::as_str);
    let payload = envelope.get("payload").cloned().unwrap_or(Value::Null);
    let (id, stored) = match (kind, id) {
        ("hello", _) => return Step::Nothing,
        ("disconnect", _) => {
            tracing::info!(reason = ?envelope.get("reason"), "Slack asks for a new Socket Mode connection");
            return Step::Reconnect;
        }
        (_, None) => return Step::Nothing,
        ("events_api", Some(id)) => {
            let stored = match events::read(payload) {
                Payload::Event(event) => intake.accept_event(&event).await.map(|_| None),
                _ => Ok(None),
            };
            (id, stored)
        }
        ("slash_commands", Some(id)) => match serde_json::from_value::<SlashCommand>(payload)
            .ok()
            .and_then(interactive::slash_command)
        {
            Some(stored) => (id, intake.accept(&stored).await.map(|_| stored.ack)),
            None => (id, Ok(None)),
        },
        ("interactive", Some(id)) => match interactive::button_press(payload) {
            Some(stored) => (id, intake.accept(&stored).await.map(|_| None)),
            None => (id, Ok(None)),
        },
        (_, Some(id)) => (id, Ok(None)),
    };
    match stored {
        Ok(Some(body)) => Step::Ack(json!({"envelope_id": id, "payload": body})),
        Ok(None) => Step::Ack(json!({"envelope_id": id})),
        Err(e) => {
            tracing::error!(error = %e, "could not store a Slack envelope; Slack will send it again");
            Step::Nothing
        }
    }
}
