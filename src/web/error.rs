//! What a page answers when something is wrong: an HTML page with the right status that says
//! what was wrong, in plain words; never internal details.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::layout;
use crate::workspace::WorkspaceError;

#[derive(Debug)]
pub enum WebError {
    /// Not signed in: to the sign-in page.
    SignIn,
    /// The form's CSRF token is missing or wrong.
    Forged,
    /// The form could not be read.
    BadForm(String),
    NotFound(String),
    Forbidden(String),
    Conflict(String),
    Invalid(String),
    Unavailable,
    Internal,
}

impl From<WorkspaceError> for WebError {
    fn from(e: WorkspaceError) -> Self {
        match e {
            WorkspaceError::NotFound(m) => WebError::NotFound(m),
            WorkspaceError::Forbidden(m) => WebError::Forbidden(m),
            WorkspaceError::Conflict(m) => WebError::Conflict(m),
            WorkspaceError::Invalid(v) => WebError::Invalid(format!("{} {}", v.field, v.message)),
            WorkspaceError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                WebError::Unavailable
            }
            WorkspaceError::Internal(detail) => {
                tracing::error!(%detail, "internal error on the web page");
                WebError::Internal
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            WebError::SignIn => return Redirect::to("/web").into_response(),
            WebError::Forged => (
                StatusCode::FORBIDDEN,
                "Form refused",
                "This form was not sent from your signed-in page (its security token is missing or \
                 wrong), so nothing was changed. Go back, reload the page and try again."
                    .to_owned(),
            ),
            WebError::BadForm(m) => (StatusCode::BAD_REQUEST, "Form not understood", m),
            WebError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
            WebError::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                format!("Nothing was changed: {m}."),
            ),
            WebError::Conflict(m) => (StatusCode::CONFLICT, "Conflict", m),
            WebError::Invalid(m) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Please check the form",
                format!("Nothing was changed: {m}."),
            ),
            WebError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The database is unavailable right now; try again in a moment.".to_owned(),
            ),
            WebError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Something went wrong on the server; it has been logged.".to_owned(),
            ),
        };
        (status, layout::message_page(title, &text)).into_response()
    }
}

pub type WebResult<T> = Result<T, WebError>;
