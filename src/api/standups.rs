//! `/api/projects/{id}/standup`: a project's stand-up, as `/standup here` sets it in chat,
//! and `/api/projects/{id}/standup/runs`: its days with everyone's answers. Members and
//! admins only.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ErrorBody, Json, Path, Query};
use super::{page_response, ApiResult, AppState, Auth};
use crate::store::Standup;
use crate::workspace::{Paging, StandupRequest, StandupRunAnswers, WorkspaceError};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[utoipa::path(get, operation_id = "get_standup", tag = "standups", path = "/api/projects/{id}/standup",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Standup), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Standup>> {
    match s.workspace.standup(&actor, id).await? {
        Some(standup) => Ok(Json(standup)),
        None => Err(WorkspaceError::NotFound(format!("project {id} has no stand-up")).into()),
    }
}

#[utoipa::path(put, operation_id = "set_standup", tag = "standups", path = "/api/projects/{id}/standup",
    params(("id" = i64, Path)), request_body = StandupRequest, security(("bearer" = [])),
    responses((status = 200, body = Standup), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn put(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Json(request): Json<StandupRequest>,
) -> ApiResult<Json<Standup>> {
    let (plan, tz) = request.validate(actor.timezone).map_err(WorkspaceError::from)?;
    let standup = s
        .workspace
        .set_standup(&actor, id, &plan, tz, crate::store::now())
        .await?;
    Ok(Json(standup))
}

#[utoipa::path(delete, operation_id = "delete_standup", tag = "standups", path = "/api/projects/{id}/standup",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.workspace.stop_standup(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, operation_id = "list_standup_runs", tag = "standups", path = "/api/projects/{id}/standup/runs",
    params(("id" = i64, Path), RunsQuery), security(("bearer" = [])),
    responses((status = 200, body = [StandupRunAnswers], headers(("x-total-count" = i64))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn runs(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Query(q): Query<RunsQuery>,
) -> ApiResult<Response> {
    let paging = Paging::new(q.limit, q.offset).map_err(WorkspaceError::from)?;
    let page = s.workspace.standup_runs(&actor, id, paging).await?;
    Ok(page_response(page))
}
