//! `POST /webhooks/slack`, one Request URL for all three things Slack posts: Events API
//! callbacks (JSON), slash commands (a form) and interactive payloads (a form whose `payload`
//! field is JSON). Each is checked against `X-Slack-Signature` (401 when wrong, missing or more
//! than five minutes old), stored, and only then acknowledged; `url_verification` gets its
//! challenge back.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::events::{self, Payload};
use super::interactive::{self, Intake, SlashCommand, Stored};
use super::signature::Verifier;
use crate::http::webhook::{early, ignored, Early, SignedWebhook, WebhookError};
use crate::message::InboundEvent;

/// What the webhook handler needs.
#[derive(Clone)]
pub struct WebhookState {
    pub verifier: Verifier,
    pub intake: Intake,
}

/// One request, read.
pub enum Incoming {
    Event(Box<InboundEvent>),
    Interaction(Box<Stored>),
}

/// A form body's fields.
fn form(body: &Bytes) -> Option<std::collections::HashMap<String, String>> {
    serde_urlencoded::from_bytes(body).ok()
}

#[async_trait::async_trait]
impl SignedWebhook for WebhookState {
    type Parsed = Incoming;
    /// The acknowledgement's body, if any.
    type Stored = Option<Value>;
    const WHAT: &'static str = "Slack request";

    async fn verify(&self, headers: &HeaderMap, body: &Bytes) -> Result<(), WebhookError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        self.verifier
            .verify(
                header("x-slack-signature"),
                header("x-slack-request-timestamp"),
                body,
                chrono::Utc::now().timestamp(),
            )
            .map_err(|refused| WebhookError::Unauthorized(refused.message().into()))
    }

    fn parse(&self, headers: &HeaderMap, body: &Bytes) -> Result<Incoming, Early> {
        let is_form = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            let value: Value =
                serde_json::from_slice(body).map_err(|_| ignored(Self::WHAT, "the body is not JSON"))?;
            return match events::read(value) {
                Payload::UrlVerification(challenge) => Err(early(Json(json!({"challenge": challenge})))),
                Payload::Event(event) => Ok(Incoming::Event(event)),
                Payload::Ignored(why) => Err(ignored(Self::WHAT, why)),
            };
        }
        let Some(fields) = form(body) else {
            return Err(ignored(Self::WHAT, "an unreadable form"));
        };
        if fields.contains_key("ssl_check") {
            return Err(early(StatusCode::OK));
        }
        if let Some(payload) = fields.get("payload") {
            let value: Value =
                serde_json::from_str(payload).map_err(|_| ignored(Self::WHAT, "the payload is not JSON"))?;
            return match interactive::button_press(value) {
                Some(stored) => Ok(Incoming::Interaction(Box::new(stored))),
                None => Err(ignored(Self::WHAT, "an interaction we do not use")),
            };
        }
        let command: SlashCommand = serde_urlencoded::from_bytes(body)
            .map_err(|_| ignored(Self::WHAT, "neither a slash command nor an interaction"))?;
        Ok(Incoming::Interaction(Box::new(interactive::slash_command(
            command,
        ))))
    }

    async fn store(&self, incoming: Incoming) -> Result<Option<Value>, String> {
        match incoming {
            Incoming::Event(event) => {
                self.intake.accept_event(&event).await?;
                Ok(None)
            }
            Incoming::Interaction(stored) => {
                self.intake.accept(&stored).await?;
                Ok(stored.ack)
            }
        }
    }

    fn answer(&self, ack: Option<Value>) -> Response {
        match ack {
            Some(body) => Json(body).into_response(),
            None => StatusCode::OK.into_response(),
        }
    }
}
