//! The API's errors: the shared JSON error shape ([`crate::http`]) and how the workspace's
//! errors map onto it.

pub use crate::http::{ApiError, ApiResult, ErrorBody, ErrorDetail, Json, Path, Query};

use axum::http::StatusCode;

use crate::workspace::WorkspaceError;

impl From<WorkspaceError> for ApiError {
    fn from(e: WorkspaceError) -> Self {
        match e {
            WorkspaceError::NotFound(m) => ApiError::not_found(m),
            WorkspaceError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            WorkspaceError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            WorkspaceError::Invalid(v) => ApiError::invalid(&v.field, &v.message),
            WorkspaceError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable, try again",
                )
            }
            WorkspaceError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}
