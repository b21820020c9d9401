//! `/api/people`, addressed by handle, and link codes for chat identities.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::{ErrorBody, Json, Path, Query};
use super::projects::PageQuery;
use super::{page_response, ApiResult, AppState, Auth};
use crate::domain::Person;
use crate::workspace::{LinkCode, NewPerson, Paging, PersonUpdate, WorkspaceError};

#[utoipa::path(get, operation_id = "list_people", tag = "people", path = "/api/people", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = [Person], headers(("x-total-count" = i64)))))]
pub async fn list(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    let paging = Paging::new(q.limit, q.offset).map_err(WorkspaceError::from)?;
    Ok(page_response(s.workspace.list_people(&actor, paging).await?))
}

#[utoipa::path(post, operation_id = "create_person", tag = "people", path = "/api/people", request_body = NewPerson, security(("bearer" = [])),
    responses((status = 201, body = Person), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Json(new): Json<NewPerson>,
) -> ApiResult<Response> {
    let person = s.workspace.create_person(&actor, new).await?;
    Ok((StatusCode::CREATED, Json(person)).into_response())
}

#[utoipa::path(get, operation_id = "get_person", tag = "people", path = "/api/people/{handle}", params(("handle" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Person), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(handle): Path<String>,
) -> ApiResult<Json<Person>> {
    Ok(Json(s.workspace.person(&actor, &handle).await?))
}

#[utoipa::path(put, operation_id = "update_person", tag = "people", path = "/api/people/{handle}", params(("handle" = String, Path)), request_body = PersonUpdate,
    security(("bearer" = [])), responses((status = 200, body = Person), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(handle): Path<String>,
    Json(update): Json<PersonUpdate>,
) -> ApiResult<Json<Person>> {
    Ok(Json(s.workspace.update_person(&actor, &handle, update).await?))
}

#[utoipa::path(delete, operation_id = "delete_person", tag = "people", path = "/api/people/{handle}", params(("handle" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(handle): Path<String>,
) -> ApiResult<StatusCode> {
    s.workspace.delete_person(&actor, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, operation_id = "create_link_code", tag = "people", path = "/api/people/{handle}/link-code", params(("handle" = String, Path)), security(("bearer" = [])),
    responses((status = 201, body = LinkCode), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn link_code(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(handle): Path<String>,
) -> ApiResult<Response> {
    let code = s
        .workspace
        .create_link_code(&actor, &handle, crate::store::now())
        .await?;
    Ok((StatusCode::CREATED, Json(code)).into_response())
}
