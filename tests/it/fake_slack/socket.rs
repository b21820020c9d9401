//! The fake's Socket Mode websocket: `hello` on connection, envelopes from
//! [`super::FakeSlack::envelope`], acknowledgements kept.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::{Shared, APP_ID};

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
            let hello = json!({"type": "hello", "num_connections": 1,
                "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID}});
            if sink.send(WsMessage::Text(hello.to_string())).await.is_err() {
                return;
            }
            {
                let mut state = shared.lock();
                state.connections += 1;
                state.sockets.push(tx);
            }
            loop {
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    out = rx.recv() => match out {
                        Some(payload) => if sink.send(WsMessage::Text(payload.to_string())).await.is_err() { return },
                        None => return,
                    },
                    incoming = stream.next() => match incoming {
                        Some(Ok(WsMessage::Text(text))) => {
                            if let Ok(ack) = serde_json::from_str::<Value>(&text) {
                                shared.lock().acks.push(ack);
                            }
                        }
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                        Some(Ok(_)) => {}
                    },
                }
            }
        });
    }
}
