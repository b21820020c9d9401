//! `POST /api/monitoring/escalate`: escalate a task by hand, with a reason.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ErrorBody, Json};
use super::{ApiResult, AppState, Auth};
use crate::workspace::ManualEscalation;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    pub task_id: i64,
    /// Why: told to the people the escalation reaches (1–1000 characters).
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub reason: String,
}

#[utoipa::path(post, operation_id = "monitoring_escalate", tag = "monitoring", path = "/api/monitoring/escalate",
    request_body = EscalateRequest, security(("bearer" = [])),
    responses((status = 202, body = ManualEscalation), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn escalate(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Json(request): Json<EscalateRequest>,
) -> ApiResult<Response> {
    let done = s
        .workspace
        .escalate(&actor, request.task_id, &request.reason, crate::store::now())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(done)).into_response())
}
