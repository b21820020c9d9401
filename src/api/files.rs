//! `/api/tasks/{id}/files`: the files on a task, and each one's bytes, with the same checks as
//! the task itself.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::{ErrorBody, Json, Path};
use super::{ApiResult, AppState, Auth};
use crate::store::TaskFile;

#[utoipa::path(get, operation_id = "list_task_files", tag = "tasks", path = "/api/tasks/{id}/files", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = [TaskFile]), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<TaskFile>>> {
    Ok(Json(s.workspace.task_files(&actor, id).await?))
}

#[utoipa::path(get, operation_id = "download_task_file", tag = "tasks", path = "/api/tasks/{id}/files/{file_id}",
    params(("id" = i64, Path), ("file_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, description = "the file's bytes, with its content type", content_type = "application/octet-stream"),
        (status = 404, body = ErrorBody)))]
pub async fn download(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((id, file_id)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    let (file, bytes) = s.workspace.task_file(&actor, id, file_id).await?;
    // The name is ours (no folders or control characters); quotes are left out of it here.
    let name: String = file.name.chars().filter(|c| *c != '"' && c.is_ascii()).collect();
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        [
            (header::CONTENT_TYPE, file.mime_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
