//! Discord in, through the HTTP interactions endpoint (`POST /webhooks/discord`): the Ed25519
//! check of `X-Signature-Ed25519` over `X-Signature-Timestamp` + raw body, then the path every
//! interaction takes (`interaction`): PING answers PONG; a slash command or a button press is
//! stored first and only then answered, in the response body, with a deferred response.

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;

use super::interaction::{self, Intake, Interaction, Received};
use crate::http::webhook::{early, Early, SignedWebhook, WebhookError};
use crate::http::ApiError;
use crate::message::InboundEvent;

/// The application's public key, which checks that a request comes from Discord.
#[derive(Clone)]
pub struct Verifier(VerifyingKey);

impl Verifier {
    /// From `DISCORD_PUBLIC_KEY` (64 hex digits).
    pub fn from_hex(key: &str) -> Result<Self, String> {
        let bytes: [u8; 32] = hex::decode(key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("DISCORD_PUBLIC_KEY: must be 64 hex digits")?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| "DISCORD_PUBLIC_KEY: not an Ed25519 public key".into())
    }

    /// Whether `signature_hex` signs `timestamp` followed by `body`.
    pub fn verify(&self, signature_hex: &str, timestamp: &str, body: &[u8]) -> bool {
        let Some(bytes) = hex::decode(signature_hex.trim())
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        let signature = Signature::from_bytes(&bytes);
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(body);
        self.0.verify_strict(&message, &signature).is_ok()
    }
}

/// What the webhook handler needs.
#[derive(Clone)]
pub struct WebhookState {
    pub verifier: Verifier,
    pub intake: Intake,
}

/// `POST /webhooks/discord`.
#[async_trait::async_trait]
impl SignedWebhook for WebhookState {
    /// The interaction, and the event stored for it.
    type Parsed = (Interaction, InboundEvent);
    type Stored = Interaction;
    const WHAT: &'static str = "Discord interaction";

    /// Ed25519 over the timestamp and the body (Discord probes with bad signatures: 401).
    async fn verify(&self, headers: &HeaderMap, body: &Bytes) -> Result<(), WebhookError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let signed = match (header("x-signature-ed25519"), header("x-signature-timestamp")) {
            (Some(signature), Some(timestamp)) => self.verifier.verify(signature, timestamp, body),
            _ => false,
        };
        if signed {
            Ok(())
        } else {
            Err(WebhookError::Unauthorized("invalid request signature".into()))
        }
    }

    /// PING, autocomplete and what we do not act on are answered here.
    fn parse(&self, _headers: &HeaderMap, body: &Bytes) -> Result<Self::Parsed, Early> {
        let value: Value =
            serde_json::from_slice(body).map_err(|_| early(ApiError::bad_request("the body is not JSON")))?;
        match interaction::receive(value) {
            Received::Answer(answer) => Err(early(Json(answer))),
            Received::Act(parsed) => Ok(*parsed),
        }
    }

    async fn store(&self, (interaction, event): Self::Parsed) -> Result<Interaction, String> {
        self.intake.accept(&interaction, &event).await?;
        Ok(interaction)
    }

    /// Deferred: the answer follows through the outbox.
    fn answer(&self, interaction: Interaction) -> Response {
        Json(interaction::deferred(&interaction)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn signatures_are_checked_over_timestamp_and_body() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let verifier = Verifier::from_hex(&hex::encode(key.verifying_key().to_bytes())).unwrap();
        let body = br#"{"type":1}"#;
        let signature = hex::encode(key.sign(&[b"1764000000".as_slice(), body].concat()).to_bytes());
        assert!(verifier.verify(&signature, "1764000000", body));
        assert!(!verifier.verify(&signature, "1764000001", body));
        assert!(!verifier.verify(&signature, "1764000000", br#"{"type":2}"#));
        assert!(!verifier.verify("zz", "1764000000", body));
        assert!(!verifier.verify(&signature[..100], "1764000000", body));
        assert!(Verifier::from_hex("abcd").is_err());
    }
}
