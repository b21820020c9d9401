//! `/api/tasks`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ErrorBody, Json, Path, Query};
use super::{page_response, ApiResult, AppState, Auth};
use crate::domain::Task;
use crate::workspace::{TaskQuery, TaskRequest, TaskUpdate};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// todo, in_progress, done, blocked
    #[schema(pattern = "^(todo|in_progress|done|blocked)$")]
    pub status: String,
}

#[utoipa::path(get, operation_id = "list_tasks", tag = "tasks", path = "/api/tasks", params(TaskQuery), security(("bearer" = [])),
    responses((status = 200, body = [Task], headers(("x-total-count" = i64))), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query<TaskQuery>,
) -> ApiResult<Response> {
    let page = s.workspace.list_tasks(&actor, &q, crate::store::now()).await?;
    Ok(page_response(page))
}

#[utoipa::path(post, operation_id = "create_task", tag = "tasks", path = "/api/tasks", request_body = TaskRequest, security(("bearer" = [])),
    responses((status = 201, body = Task), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Json(request): Json<TaskRequest>,
) -> ApiResult<Response> {
    let task = s.workspace.submit_task(&actor, request, None).await?;
    Ok((StatusCode::CREATED, Json(task)).into_response())
}

#[utoipa::path(get, operation_id = "get_task", tag = "tasks", path = "/api/tasks/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Task), (status = 404, body = ErrorBody)))]
pub async fn get(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<i64>) -> ApiResult<Json<Task>> {
    Ok(Json(s.workspace.task(&actor, id).await?))
}

#[utoipa::path(put, operation_id = "update_task", tag = "tasks", path = "/api/tasks/{id}", params(("id" = i64, Path)), request_body = TaskUpdate,
    security(("bearer" = [])), responses((status = 200, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Json(update): Json<TaskUpdate>,
) -> ApiResult<Json<Task>> {
    Ok(Json(s.workspace.update_task(&actor, id, update).await?))
}

#[utoipa::path(patch, operation_id = "set_task_status", tag = "tasks", path = "/api/tasks/{id}/status", params(("id" = i64, Path)), request_body = StatusChange,
    security(("bearer" = [])), responses((status = 200, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_status(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Json(change): Json<StatusChange>,
) -> ApiResult<Json<Task>> {
    Ok(Json(
        s.workspace.set_task_status(&actor, id, &change.status).await?,
    ))
}

#[utoipa::path(delete, operation_id = "delete_task", tag = "tasks", path = "/api/tasks/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.workspace.delete_task(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
