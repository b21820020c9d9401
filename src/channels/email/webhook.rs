//! `POST /webhooks/email`: inbound-mail relays post one raw RFC 5322 message (`message/rfc822`
//! or `text/plain`), authenticated with an admin bearer token (a relay speaks for any sender).
//! 202 once the message is recorded (also when it was skipped, with a note); 503 when it could
//! not be stored, so that the relay retries.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Ingest, Ingested};
use crate::domain::Role;
use crate::http::webhook::{early, Early, SignedWebhook, WebhookError};
use crate::workspace::Workspace;

#[derive(Clone)]
pub struct WebhookState {
    pub workspace: Workspace,
    pub ingest: Ingest,
}

#[async_trait::async_trait]
impl SignedWebhook for WebhookState {
    type Parsed = Bytes;
    type Stored = Ingested;
    const WHAT: &'static str = "inbound email";

    /// The bearer token of an admin (or the bootstrap token): a relay speaks for any sender.
    async fn verify(&self, headers: &HeaderMap, _body: &Bytes) -> Result<(), WebhookError> {
        let unauthorized = |m: &str| WebhookError::Unauthorized(m.to_owned());
        let token = headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing Authorization: Bearer TOKEN"))?
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be Bearer TOKEN"))?;
        match self.workspace.authenticate(token).await {
            Ok(Some(actor)) if actor.role == Role::Admin => Ok(()),
            Ok(Some(_)) => Err(WebhookError::Forbidden(
                "posting mail needs an admin token".into(),
            )),
            Ok(None) => Err(unauthorized("invalid token")),
            Err(e) => {
                tracing::warn!(error = %e, "cannot check an email relay's token");
                Err(WebhookError::Unavailable(
                    "the token cannot be checked now; try again".into(),
                ))
            }
        }
    }

    fn parse(&self, headers: &HeaderMap, body: &Bytes) -> Result<Bytes, Early> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .unwrap_or_default();
        if !matches!(content_type.as_str(), "message/rfc822" | "text/plain") {
            return Err(early(WebhookError::Refused(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "post the raw message as message/rfc822 or text/plain".into(),
            )));
        }
        Ok(body.clone())
    }

    async fn store(&self, body: Bytes) -> Result<Ingested, String> {
        self.ingest.ingest(&body).await.map_err(|e| e.to_string())
    }

    fn answer(&self, outcome: Ingested) -> Response {
        let body = match outcome {
            Ingested::Accepted { message_id } => json!({"status": "accepted", "message_id": message_id}),
            Ingested::Duplicate { message_id } => json!({"status": "duplicate", "message_id": message_id}),
            Ingested::Skipped { message_id, note } => {
                json!({"status": "skipped", "message_id": message_id, "note": note})
            }
        };
        (StatusCode::ACCEPTED, axum::Json(body)).into_response()
    }
}
