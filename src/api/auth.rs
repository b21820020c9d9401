//! Bearer-token authentication: the `Auth` extractor yields the actor or answers 401.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::workspace::Actor;

/// The authenticated caller of an `/api`, `/ai` or `/integrations` route.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer TOKEN"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be Bearer TOKEN"))?;
        let actor = state
            .workspace
            .authenticate(token)
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid token"))?;
        if let Err(refused) = state.limits.api_request(&actor.name) {
            return Err(ApiError::rate_limited(
                "this token is over its requests per minute (COORDINATOR_API_REQUESTS_PER_MINUTE)",
                refused.retry_after.as_secs_f64().ceil() as u64,
            ));
        }
        Ok(Auth(actor))
    }
}
