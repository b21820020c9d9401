//! The WhatsApp webhook: `GET /webhooks/whatsapp` answers Meta's subscription check, and
//! `POST /webhooks/whatsapp` checks `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the
//! app secret, compared in constant time), stores every message in the inbox and every status
//! in the delivery table, and only then answers 200. When WhatsApp reports that a free-form
//! message failed because the 24-hour window was closed, the message is queued again; the
//! channel then sends it as the template.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::inbound;
use crate::config::Secret;
use crate::http::webhook::{ignored, Early, SignedWebhook, WebhookError};
use crate::http::ApiError;
use crate::inbox::InboxWriter;
use crate::message::OutboundMessage;
use crate::outbox::OutboxWriter;
use crate::store::{DeliveryStatus, DeliveryUpdate, Store, StoreError, REENGAGEMENT_REQUIRED};

/// What the webhook handlers need.
#[derive(Clone)]
pub struct WebhookState {
    pub app_secret: Secret,
    pub verify_token: Option<Secret>,
    /// Ours; notifications for other numbers of the same app are ignored.
    pub phone_number_id: Option<String>,
    /// A template is configured, so a message refused for want of re-engagement can go again.
    pub resend_as_template: bool,
    pub inbox: InboxWriter,
    pub outbox: OutboxWriter,
    pub store: Store,
}

/// Whether `header` (`sha256=HEX`) is the HMAC-SHA256 of `body` under `secret`.
pub fn signature_valid(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_digest) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).is_ok()
}

/// `GET /webhooks/whatsapp`: `hub.mode=subscribe` with our verify token → the challenge.
pub async fn subscribe(
    State(state): State<WebhookState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mode = query.get("hub.mode").map(String::as_str);
    let given = query
        .get("hub.verify_token")
        .map(String::as_bytes)
        .unwrap_or_default();
    let token_ok = state
        .verify_token
        .as_ref()
        .is_some_and(|t| bool::from(given.ct_eq(t.expose().as_bytes())));
    match (mode, token_ok, query.get("hub.challenge")) {
        (Some("subscribe"), true, Some(challenge)) => {
            tracing::info!("WhatsApp webhook subscription confirmed");
            ([(header::CONTENT_TYPE, "text/plain")], challenge.clone()).into_response()
        }
        _ => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the subscription check needs hub.mode=subscribe, the right hub.verify_token and hub.challenge",
        )
        .into_response(),
    }
}

/// `POST /webhooks/whatsapp`.
#[async_trait::async_trait]
impl SignedWebhook for WebhookState {
    type Parsed = inbound::Notification;
    type Stored = ();
    const WHAT: &'static str = "WhatsApp notification";

    /// `X-Hub-Signature-256` must be the HMAC of the body under the app secret.
    async fn verify(&self, headers: &HeaderMap, body: &Bytes) -> Result<(), WebhookError> {
        let signature = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
        if signature_valid(self.app_secret.expose(), body, signature) {
            Ok(())
        } else {
            Err(WebhookError::Unauthorized(
                "X-Hub-Signature-256 does not match the body".into(),
            ))
        }
    }

    fn parse(&self, _headers: &HeaderMap, body: &Bytes) -> Result<inbound::Notification, Early> {
        let payload: serde_json::Value = serde_json::from_slice(body).map_err(|e| ignored(Self::WHAT, e))?;
        let parsed = inbound::parse(&payload, self.phone_number_id.as_deref(), crate::store::now());
        for why in &parsed.ignored {
            tracing::info!(reason = %why, "part of a WhatsApp notification ignored");
        }
        Ok(parsed)
    }

    async fn store(&self, parsed: inbound::Notification) -> Result<(), String> {
        store(self, parsed).await.map_err(|e| e.to_string())
    }
}

async fn store(state: &WebhookState, parsed: inbound::Notification) -> Result<(), StoreError> {
    for event in &parsed.events {
        // A redelivered message is stored once; `accept` drops the repeat.
        state.inbox.accept(event).await?;
    }
    for update in &parsed.statuses {
        let changed = state.store.record_whatsapp_status(update).await?;
        metrics::counter!("whatsapp_statuses_total", "status" => update.status.as_str()).increment(1);
        if changed && update.status == DeliveryStatus::Failed {
            tracing::warn!(wamid = %update.wamid, error = ?update.error, "WhatsApp could not deliver a message");
            if update.error_code == Some(REENGAGEMENT_REQUIRED) && state.resend_as_template {
                resend(state, update).await?;
            }
        }
    }
    Ok(())
}

/// Queues again the message that failed for want of re-engagement; the window is now known
/// to be closed, so it goes as the template. At most once per failed message.
async fn resend(state: &WebhookState, update: &DeliveryUpdate) -> Result<(), StoreError> {
    let Some(payload) = state.store.whatsapp_outbox_payload(&update.wamid).await? else {
        // Either not ours, or the send has not recorded its id yet: the channel sees the
        // recorded failure when it does and sends the template itself.
        return Ok(());
    };
    let message: OutboundMessage = match serde_json::from_str(&payload) {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(error = %e, "cannot resend an unreadable WhatsApp message");
            return Ok(());
        }
    };
    state
        .outbox
        .enqueue(&message, Some(format!("whatsapp:reengage:{}", update.wamid)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn signatures_are_checked() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let good = sign("app-secret", body);
        assert!(signature_valid("app-secret", body, Some(&good)));
        assert!(!signature_valid("other-secret", body, Some(&good)));
        assert!(!signature_valid("app-secret", b"{}", Some(&good)));
        assert!(!signature_valid(
            "app-secret",
            body,
            Some(good.trim_start_matches("sha256="))
        ));
        assert!(!signature_valid("app-secret", body, Some("sha256=zz")));
        assert!(!signature_valid("app-secret", body, Some("sha256=")));
        assert!(!signature_valid("app-secret", body, None));
        // Meta sends lowercase hex; uppercase decodes to the same bytes.
        assert!(signature_valid(
            "app-secret",
            body,
            Some(&format!("sha256={}", good[7..].to_uppercase()))
        ));
    }
}
