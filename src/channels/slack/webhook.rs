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

/// What a body is, read (a pure function: the fuzz targets call it too).
pub enum Read {
    /// Store it, then acknowledge.
    Store(Incoming),
    /// `url_verification`: answer the challenge.
    Challenge(String),
    /// Slack checking the certificate of a slash command's URL (`ssl_check=1`).
    SslCheck,
    /// Acknowledged and logged, not stored.
    Ignored(&'static str),
}

/// Reads a body: JSON (Events API) or, when `is_form`, a slash command or an interaction.
pub fn read(is_form: bool, body: &[u8]) -> Read {
    if !is_form {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Read::Ignored("the body is not JSON");
        };
        return match events::read(value) {
            Payload::UrlVerification(challenge) => Read::Challenge(challenge),
            Payload::Event(event) => Read::Store(Incoming::Event(event)),
            Payload::Ignored(why) => Read::Ignored(why),
        };
    }
    let Ok(fields) = serde_urlencoded::from_bytes::<std::collections::HashMap<String, String>>(body) else {
        return Read::Ignored("an unreadable form");
    };
    if fields.contains_key("ssl_check") {
        return Read::SslCheck;
    }
    if let Some(payload) = fields.get("payload") {
        let Ok(value) = serde_json::from_str::<Value>(payload) else {
            return Read::Ignored("the payload is not JSON");
        };
        return match interactive::button_press(value) {
            Some(stored) => Read::Store(Incoming::Interaction(Box::new(stored))),
            None => Read::Ignored("an interaction we do not use"),
        };
    }
    match serde_urlencoded::from_bytes::<SlashCommand>(body)
        .ok()
        .and_then(interactive::slash_command)
    {
        Some(stored) => Read::Store(Incoming::Interaction(Box::new(stored))),
        None => Read::Ignored("neither a slash command nor an interaction"),
    }
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
        match read(is_form, body) {
            Read::Store(incoming) => Ok(incoming),
            Read::Challenge(challenge) => Err(early(Json(json!({"challenge": challenge})))),
            Read::SslCheck => Err(early(StatusCode::OK)),
            Read::Ignored(why) => Err(ignored(Self::WHAT, why)),
        }
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
