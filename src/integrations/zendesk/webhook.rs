//! `POST /webhooks/zendesk`: Zendesk's webhooks (ticket events, or a trigger's JSON that names
//! the ticket). Each request must carry `X-Zendesk-Webhook-Signature`, the base64
//! HMAC-SHA256 of `X-Zendesk-Webhook-Signature-Timestamp` + the raw body with the webhook's
//! signing secret; anything else gets 401. The event is stored (once per Zendesk event id)
//! before the 200, and the integration worker then syncs the ticket.

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::ZendeskError;
use crate::http::webhook::{configured_secret, early, receive, Early, SignedWebhook, WebhookError};
use crate::integrations::{kinds, Integrations, JobError};

pub const SIGNATURE: &str = "x-zendesk-webhook-signature";
pub const TIMESTAMP: &str = "x-zendesk-webhook-signature-timestamp";

pub fn router(i: Integrations) -> Router {
    Router::new()
        .route("/webhooks/zendesk", post(receive::<ZendeskWebhook>))
        .with_state(ZendeskWebhook(i))
}

/// Whether `signature` is base64(HMAC-SHA256(secret, timestamp + body)); constant time.
pub fn verify(secret: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The signature Zendesk would send (for tests and tools).
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.as_bytes());
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The ticket an event is about: an event's `detail.id` or `subject` (`zen:ticket:123`), or a
/// trigger payload's `ticket_id` / `ticket.id`.
pub fn ticket_id(event: &Value) -> Option<i64> {
    let as_id = |v: &Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    };
    as_id(&event["detail"]["id"])
        .filter(|_| event["type"].as_str().is_none_or(|t| t.contains("ticket")))
        .or_else(|| {
            event["subject"]
                .as_str()
                .and_then(|s| s.strip_prefix("zen:ticket:"))
                .and_then(|s| s.parse().ok())
        })
        .or_else(|| as_id(&event["ticket_id"]))
        .or_else(|| as_id(&event["ticket"]["id"]))
        .filter(|id| *id > 0)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /webhooks/zendesk`: the integrations, as a signed webhook.
#[derive(Clone)]
pub struct ZendeskWebhook(pub Integrations);

/// A ticket event, ready to queue.
pub struct TicketEvent {
    ticket: i64,
    event_id: String,
    kind: Value,
}

#[async_trait::async_trait]
impl SignedWebhook for ZendeskWebhook {
    type Parsed = TicketEvent;
    type Stored = bool;
    const WHAT: &'static str = "Zendesk event";

    /// base64(HMAC-SHA256(secret, timestamp + body)) in the signature header.
    async fn verify(&self, headers: &HeaderMap, body: &Bytes) -> Result<(), WebhookError> {
        let secret = configured_secret(
            self.0.zendesk_webhook_secret().await,
            "Zendesk",
            "ZENDESK_WEBHOOK_SECRET",
        )?;
        let (Some(signature), Some(timestamp)) = (header(headers, SIGNATURE), header(headers, TIMESTAMP))
        else {
            return Err(WebhookError::Unauthorized(
                "missing Zendesk webhook signature".into(),
            ));
        };
        if !verify(secret.expose(), timestamp, body, signature) {
            return Err(WebhookError::Unauthorized("bad Zendesk webhook signature".into()));
        }
        Ok(())
    }

    fn parse(&self, _headers: &HeaderMap, body: &Bytes) -> Result<TicketEvent, Early> {
        let event: Value = serde_json::from_slice(body).map_err(|e| {
            tracing::warn!(error = %e, "Zendesk webhook body is not JSON; ignored");
            ignored("the body is not JSON")
        })?;
        let Some(ticket) = ticket_id(&event) else {
            tracing::info!(
                kind = event["type"].as_str().unwrap_or(""),
                "Zendesk webhook names no ticket; ignored"
            );
            return Err(ignored("no ticket in the event"));
        };
        let event_id = event["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| hex::encode(Sha256::digest(body)));
        Ok(TicketEvent {
            ticket,
            event_id,
            kind: event["type"].clone(),
        })
    }

    async fn store(&self, event: TicketEvent) -> Result<bool, String> {
        let payload = json!({ "ticket_id": event.ticket, "event_id": event.event_id, "type": event.kind });
        let dedupe = format!("zendesk:{}", event.event_id);
        self.0
            .enqueue(
                kinds::ZENDESK_WEBHOOK,
                &format!("ticket:{}", event.ticket),
                &payload,
                Some(&dedupe),
            )
            .await
            .map_err(|e| e.to_string())
    }

    fn answer(&self, fresh: bool) -> Response {
        Json(json!({"status": if fresh { "accepted" } else { "duplicate" }})).into_response()
    }
}

fn ignored(reason: &str) -> Early {
    early(Json(json!({"status": "ignored", "reason": reason})))
}

/// Runs a stored webhook event: syncs its ticket.
pub(crate) async fn process(i: &Integrations, payload: &Value) -> Result<(), JobError> {
    let ticket = payload["ticket_id"]
        .as_i64()
        .ok_or_else(|| JobError::Permanent("the job has no ticket_id".into()))?;
    match i.zendesk_sync_ticket(ticket).await {
        Ok(report) => {
            tracing::info!(
                ticket,
                tasks = report.tasks_created,
                comments = report.comments_imported,
                "Zendesk webhook handled"
            );
            Ok(())
        }
        Err(ZendeskError::NotConfigured(m)) => {
            tracing::warn!(ticket, reason = %m, "Zendesk webhook received but the API is not configured");
            Ok(())
        }
        Err(e) => Err(e.into_job()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_timestamp_and_body() {
        let sig = sign("secret", "2030-01-01T00:00:00Z", b"{}");
        assert!(verify("secret", "2030-01-01T00:00:00Z", b"{}", &sig));
        assert!(!verify("secret", "2030-01-01T00:00:01Z", b"{}", &sig));
        assert!(!verify("other", "2030-01-01T00:00:00Z", b"{}", &sig));
        assert!(!verify("secret", "2030-01-01T00:00:00Z", b"{} ", &sig));
        assert!(!verify("secret", "2030-01-01T00:00:00Z", b"{}", "not base64!"));
    }

    #[test]
    fn finds_the_ticket() {
        let event = json!({"type": "zen:event-type:ticket.comment_added", "subject": "zen:ticket:35", "detail": {"id": "35"}});
        assert_eq!(ticket_id(&event), Some(35));
        assert_eq!(ticket_id(&json!({"subject": "zen:ticket:7"})), Some(7));
        assert_eq!(ticket_id(&json!({"ticket_id": "12"})), Some(12));
        assert_eq!(ticket_id(&json!({"ticket": {"id": 9}})), Some(9));
        assert_eq!(
            ticket_id(&json!({"type": "zen:event-type:user.created", "detail": {"id": "5"}})),
            None
        );
    }
}
