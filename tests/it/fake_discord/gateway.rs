//! The fake's gateway: Hello, Identify → READY, heartbeats acknowledged, dispatches from
//! [`super::FakeDiscord::dispatch`].

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::{Shared, APP_ID, BOT_ID, BOT_NAME, GUILD_ID};

pub(super) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let (mut sink, mut stream) = ws.split();
            let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
            let hello = json!({"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null});
            if sink.send(WsMessage::Text(hello.to_string())).await.is_err() {
                return;
            }
            loop {
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    out = rx.recv() => match out {
                        Some(payload) => if sink.send(WsMessage::Text(payload.to_string())).await.is_err() { return },
                        None => return,
                    },
                    incoming = stream.next() => {
                        let Some(Ok(WsMessage::Text(text))) = incoming else {
                            match incoming { Some(Ok(_)) => continue, _ => return }
                        };
                        let Ok(payload) = serde_json::from_str::<Value>(&text) else { continue };
                        match payload["op"].as_u64() {
                            Some(1) => { let _ = tx.send(json!({"op": 11, "d": null, "s": null, "t": null})); }
                            Some(2) => {
                                let mut state = shared.lock();
                                state.identifies.push(payload["d"].clone());
                                state.seq += 1;
                                let ready = json!({"op": 0, "s": state.seq, "t": "READY", "d": {
                                    "v": 10,
                                    "user": {"id": BOT_ID, "username": BOT_NAME, "discriminator": "0", "global_name": null,
                                             "avatar": null, "bot": true, "verified": true, "mfa_enabled": false, "flags": 0},
                                    "guilds": [{"id": GUILD_ID, "unavailable": true}],
                                    "session_id": "fake-session", "resume_gateway_url": shared.gateway_url,
                                    "shard": [0, 1], "application": {"id": APP_ID, "flags": 0}
                                }});
                                let _ = tx.send(ready);
                                state.sessions.push(tx.clone());
                            }
                            _ => {}
                        }
                    }
                }
            }
        });
    }
}
