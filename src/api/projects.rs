//! `/api/projects`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ErrorBody, Json, Path, Query};
use super::{page_response, ApiResult, AppState, Auth};
use crate::domain::Project;
use crate::workspace::{NewProject, Paging, ProjectUpdate};

/// Paging of a list: `limit` 1–500 (default 50), `offset`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[utoipa::path(get, operation_id = "list_projects", tag = "projects", path = "/api/projects", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = [Project], headers(("x-total-count" = i64))), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    let paging = Paging::new(q.limit, q.offset).map_err(crate::workspace::WorkspaceError::from)?;
    Ok(page_response(s.workspace.list_projects(&actor, paging).await?))
}

#[utoipa::path(post, operation_id = "create_project", tag = "projects", path = "/api/projects", request_body = NewProject, security(("bearer" = [])),
    responses((status = 201, body = Project), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Json(new): Json<NewProject>,
) -> ApiResult<Response> {
    let project = s.workspace.create_project(&actor, new).await?;
    Ok((StatusCode::CREATED, Json(project)).into_response())
}

#[utoipa::path(get, operation_id = "get_project", tag = "projects", path = "/api/projects/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Project), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Project>> {
    Ok(Json(s.workspace.project(&actor, id).await?))
}

#[utoipa::path(put, operation_id = "update_project", tag = "projects", path = "/api/projects/{id}", params(("id" = i64, Path)), request_body = ProjectUpdate,
    security(("bearer" = [])), responses((status = 200, body = Project), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Json(update): Json<ProjectUpdate>,
) -> ApiResult<Json<Project>> {
    Ok(Json(s.workspace.update_project(&actor, id, update).await?))
}

#[utoipa::path(delete, operation_id = "delete_project", tag = "projects", path = "/api/projects/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.workspace.delete_project(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
