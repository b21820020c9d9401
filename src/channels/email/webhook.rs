//! `POST /webhooks/email`: inbound-mail relays post one raw RFC 5322 message (`message/rfc822`
//! or `text/plain`), authenticated with an admin bearer token (a relay speaks for any sender).
//! 202 once the message is recorded (also when it was skipped, with a note); 503 when it could
//! not be stored, so that the relay retries.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Ingest, Ingested};
use crate::api::ApiError;
use crate::domain::Role;
use crate::workspace::Workspace;

#[derive(Clone)]
pub struct WebhookState {
    pub workspace: Workspace,
    pub ingest: Ingest,
}

pub async fn receive(State(state): State<WebhookState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = authorize(&state.workspace, &headers).await {
        return e.into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !matches!(content_type.as_str(), "message/rfc822" | "text/plain") {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "post the raw message as message/rfc822 or text/plain",
        )
        .into_response();
    }
    match state.ingest.ingest(&body).await {
        Ok(outcome) => {
            let body = match outcome {
                Ingested::Accepted { message_id } => json!({"status": "accepted", "message_id": message_id}),
                Ingested::Duplicate { message_id } => {
                    json!({"status": "duplicate", "message_id": message_id})
                }
                Ingested::Skipped { message_id, note } => {
                    json!({"status": "skipped", "message_id": message_id, "note": note})
                }
            };
            (StatusCode::ACCEPTED, axum::Json(body)).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "could not store an inbound email");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the message could not be stored; try again",
            )
            .into_response()
        }
    }
}

/// The bearer token of an admin (or the bootstrap token).
async fn authorize(workspace: &Workspace, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer TOKEN"))?
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be Bearer TOKEN"))?;
    match workspace.authenticate(token).await? {
        Some(actor) if actor.role == Role::Admin => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "posting mail needs an admin token",
        )),
        None => Err(ApiError::unauthorized("invalid token")),
    }
}
