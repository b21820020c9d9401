//! `/health` and `/metrics`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`
    pub status: &'static str,
    /// `ok` or `unreachable`
    pub database: &'static str,
    pub version: &'static str,
}

#[utoipa::path(get, path = "/health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(s): State<AppState>) -> Response {
    let reachable = tokio::time::timeout(std::time::Duration::from_secs(3), s.workspace.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let body = Health {
        status: if reachable { "ok" } else { "unavailable" },
        database: if reachable { "ok" } else { "unreachable" },
        version: env!("CARGO_PKG_VERSION"),
    };
    let status = if reachable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

pub async fn metrics(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(wanted) = &s.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .unwrap_or_default();
        let matches: bool =
            subtle::ConstantTimeEq::ct_eq(given.as_bytes(), wanted.expose().as_bytes()).into();
        if !matches {
            return super::ApiError::unauthorized(
                "/metrics needs Authorization: Bearer COORDINATOR_METRICS_TOKEN",
            )
            .into_response();
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}
