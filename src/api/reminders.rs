//! `/api/reminders`: one-off reminders, as `/remind` sets them in chat.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ErrorBody, Json, Path, Query};
use super::{page_response, ApiResult, AppState, Auth};
use crate::store::Reminder;
use crate::workspace::{Paging, ReminderRequest, WorkspaceError};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReminderQuery {
    /// Only pending reminders (default true).
    pub pending: Option<bool>,
    /// Admins: everyone's, not only those they are part of.
    pub all: Option<bool>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[utoipa::path(get, operation_id = "list_reminders", tag = "reminders", path = "/api/reminders", params(ReminderQuery),
    security(("bearer" = [])), responses((status = 200, body = [Reminder], headers(("x-total-count" = i64)))))]
pub async fn list(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query<ReminderQuery>,
) -> ApiResult<Response> {
    let paging = Paging::new(q.limit, q.offset).map_err(WorkspaceError::from)?;
    let page = s
        .workspace
        .list_reminders(&actor, q.all.unwrap_or(false), q.pending.unwrap_or(true), paging)
        .await?;
    Ok(page_response(page))
}

#[utoipa::path(post, operation_id = "create_reminder", tag = "reminders", path = "/api/reminders", request_body = ReminderRequest,
    security(("bearer" = [])), responses((status = 201, body = Reminder), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Json(request): Json<ReminderRequest>,
) -> ApiResult<Response> {
    let new = request.validate().map_err(WorkspaceError::from)?;
    let reminder = s
        .workspace
        .create_reminder(&actor, new, crate::store::now(), None)
        .await?;
    Ok((StatusCode::CREATED, Json(reminder)).into_response())
}

#[utoipa::path(get, operation_id = "get_reminder", tag = "reminders", path = "/api/reminders/{id}", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Reminder), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Reminder>> {
    Ok(Json(s.workspace.reminder(&actor, id).await?))
}

#[utoipa::path(delete, operation_id = "cancel_reminder", tag = "reminders", path = "/api/reminders/{id}", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Reminder), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Reminder>> {
    Ok(Json(s.workspace.cancel_reminder(&actor, id).await?))
}
