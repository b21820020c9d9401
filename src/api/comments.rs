//! `/api/comments`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ErrorBody, Json, Path, Query};
use super::{page_response, ApiResult, AppState, Auth};
use crate::domain::Comment;
use crate::workspace::{CommentUpdate, NewComment, Paging, WorkspaceError};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommentQuery {
    pub task_id: Option<i64>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[utoipa::path(get, operation_id = "list_comments", tag = "comments", path = "/api/comments", params(CommentQuery), security(("bearer" = [])),
    responses((status = 200, body = [Comment], headers(("x-total-count" = i64)))))]
pub async fn list(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query<CommentQuery>,
) -> ApiResult<Response> {
    let paging = Paging::new(q.limit, q.offset).map_err(WorkspaceError::from)?;
    Ok(page_response(
        s.workspace.list_comments(&actor, q.task_id, paging).await?,
    ))
}

#[utoipa::path(post, operation_id = "create_comment", tag = "comments", path = "/api/comments", request_body = NewComment, security(("bearer" = [])),
    responses((status = 201, body = Comment), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Json(new): Json<NewComment>,
) -> ApiResult<Response> {
    let comment = s.workspace.add_comment(&actor, new, None).await?;
    Ok((StatusCode::CREATED, Json(comment)).into_response())
}

#[utoipa::path(get, operation_id = "get_comment", tag = "comments", path = "/api/comments/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Comment), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Comment>> {
    Ok(Json(s.workspace.comment(&actor, id).await?))
}

#[utoipa::path(put, operation_id = "update_comment", tag = "comments", path = "/api/comments/{id}", params(("id" = i64, Path)), request_body = CommentUpdate,
    security(("bearer" = [])), responses((status = 200, body = Comment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Json(update): Json<CommentUpdate>,
) -> ApiResult<Json<Comment>> {
    Ok(Json(s.workspace.update_comment(&actor, id, update).await?))
}

#[utoipa::path(delete, operation_id = "delete_comment", tag = "comments", path = "/api/comments/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.workspace.delete_comment(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
