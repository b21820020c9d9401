//! The one path of a webhook: **verify** the platform's signature (401 when it does not hold,
//! 503 when it cannot be checked now), **parse** the body (what cannot be used is acknowledged
//! and logged, not refused, so that the platform does not hold later events back), **store**
//! what came (durably, before any 2xx; 503 when it could not be stored, so that the platform
//! retries), and **answer**. Each webhook implements [`SignedWebhook`]; [`receive`] runs the
//! steps, so every webhook answers 2xx/401/503 in the same JSON shape.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Why a webhook was refused before its body was read.
#[derive(Debug)]
pub enum WebhookError {
    /// No or a wrong signature (or token): 401.
    Unauthorized(String),
    /// Signed, but by someone who may not use this webhook: 403.
    Forbidden(String),
    /// The webhook is not configured, or its secret cannot be read now: 503.
    Unavailable(String),
    /// The request cannot be a valid one (wrong media type): 4xx with this status.
    Refused(StatusCode, &'static str, String),
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        match self {
            WebhookError::Unauthorized(m) => ApiError::unauthorized(m),
            WebhookError::Forbidden(m) => ApiError::forbidden(m),
            WebhookError::Unavailable(m) => ApiError::unavailable(m),
            WebhookError::Refused(status, code, m) => ApiError::new(status, code, m),
        }
        .into_response()
    }
}

/// An answer given before anything was stored (boxed: a response is large).
pub struct Early(pub Box<Response>);

/// Answers `response` at once, without storing anything.
pub fn early(response: impl IntoResponse) -> Early {
    Early(Box::new(response.into_response()))
}

/// A platform's webhook, as its four steps.
#[async_trait::async_trait]
pub trait SignedWebhook: Clone + Send + Sync + 'static {
    /// What one request carries, once read.
    type Parsed: Send;
    /// What storing it gives, for the answer.
    type Stored: Send;
    /// Names the webhook in logs ("Telegram update").
    const WHAT: &'static str;

    /// Checks the signature (or token) over the raw body.
    async fn verify(&self, headers: &HeaderMap, body: &Bytes) -> Result<(), WebhookError>;

    /// Reads the body. `Err(answer)`: nothing to store; `answer` goes back as it is (an
    /// acknowledgement of something unusable, or a platform's handshake).
    fn parse(&self, headers: &HeaderMap, body: &Bytes) -> Result<Self::Parsed, Early>;

    /// Stores what came, durably. `Err`: nothing was acknowledged; the platform retries.
    async fn store(&self, parsed: Self::Parsed) -> Result<Self::Stored, String>;

    /// The answer once stored (`200` with no body unless the platform wants one).
    fn answer(&self, stored: Self::Stored) -> Response {
        let _ = stored;
        StatusCode::OK.into_response()
    }
}

/// The axum handler of any [`SignedWebhook`].
pub async fn receive<W: SignedWebhook>(
    State(webhook): State<W>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = webhook.verify(&headers, &body).await {
        return refused.into_response();
    }
    let parsed = match webhook.parse(&headers, &body) {
        Ok(parsed) => parsed,
        Err(answer) => return *answer.0,
    };
    match webhook.store(parsed).await {
        Ok(stored) => webhook.answer(stored),
        Err(e) => {
            tracing::error!(error = %e, "could not store a {}; asking for redelivery", W::WHAT);
            ApiError::unavailable(format!("could not store the {}; try again", W::WHAT)).into_response()
        }
    }
}

/// The secret a webhook checks against, or 503: not configured (naming the `setting`), or not
/// readable now (the platform retries).
pub fn configured_secret<S, E: std::fmt::Display>(
    found: Result<Option<S>, E>,
    what: &str,
    setting: &str,
) -> Result<S, WebhookError> {
    match found {
        Ok(Some(secret)) => Ok(secret),
        Ok(None) => Err(WebhookError::Unavailable(format!(
            "the {what} webhook is not configured ({setting})"
        ))),
        Err(e) => {
            tracing::error!(error = %e, "{what} webhook secret unavailable");
            Err(WebhookError::Unavailable(format!(
                "the {what} webhook cannot be checked now"
            )))
        }
    }
}

/// Acknowledges a body that cannot be used, with a log line saying why.
pub fn ignored(what: &str, why: impl std::fmt::Display) -> Early {
    tracing::warn!(reason = %why, "unusable {what} ignored");
    early(StatusCode::OK)
}
