//! `/api/tokens` (admins): list, create (shown once; names unique; optional expiry) and revoke
//! API tokens. A revoked or expired token gets 401 from its next request on.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ErrorBody, Json, Path};
use super::{ApiResult, AppState, Auth};
use crate::domain::Role;
use crate::store::ApiToken;
use crate::workspace::WorkspaceError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Unique; 1-64 of A-Z, a-z, 0-9, '_', '.', '-'.
    pub name: String,
    /// admin, member (default) or guest.
    #[serde(default)]
    #[schema(pattern = "^(admin|member|guest)$")]
    pub role: Option<String>,
    /// How long the token works, e.g. `30d`, `12h` (default: until revoked).
    #[serde(default)]
    pub expires: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token: shown this once, only its hash is kept.
    pub token: String,
    #[serde(flatten)]
    pub info: ApiToken,
}

#[utoipa::path(get, operation_id = "list_tokens", tag = "tokens", path = "/api/tokens", security(("bearer" = [])),
    responses((status = 200, body = [ApiToken]), (status = 403, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(s.workspace.tokens(&actor).await?))
}

#[utoipa::path(post, operation_id = "create_token", tag = "tokens", path = "/api/tokens", request_body = NewToken, security(("bearer" = [])),
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Json(new): Json<NewToken>,
) -> ApiResult<Response> {
    actor.require_admin("make API tokens")?;
    let role = match new.role.as_deref() {
        None => Role::Member,
        Some(r) => Role::parse_field(r, "role").map_err(WorkspaceError::from)?,
    };
    let expires_at = match new.expires.as_deref() {
        None => None,
        Some(text) => {
            let length = humantime::parse_duration(text.trim())
                .ok()
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .filter(|d| *d > chrono::Duration::zero())
                .ok_or_else(|| {
                    WorkspaceError::from(crate::domain::ValidationError::new(
                        "expires",
                        format!("'{text}' is not a duration such as 30d or 12h"),
                    ))
                })?;
            Some(crate::store::now() + length)
        }
    };
    let (token, info) = s
        .workspace
        .create_token_until(&actor, &new.name, role, expires_at)
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, info })).into_response())
}

#[utoipa::path(delete, operation_id = "revoke_token", tag = "tokens", path = "/api/tokens/{name}", params(("name" = String, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.workspace.revoke_token(&actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
