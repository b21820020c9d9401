//! `GET /api/handbook/search`: the handbook's passages for a question, the same search `/ask`,
//! the agent and the no-model answers use, for other tools.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ErrorBody, Json, Query};
use super::{ApiError, ApiResult, AppState, Auth};
use crate::handbook::{HandbookError, Passage, MAX_K, MAX_QUERY_CHARS};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The question, 1 to 1000 characters.
    pub q: String,
    /// How many passages at most, 1 to 50 (default 5).
    pub k: Option<usize>,
}

/// One passage, citable as `file › heading`, lines `line_start`–`line_end`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PassageHit {
    pub file: String,
    /// The headings above the passage, page title first.
    pub heading_path: Vec<String>,
    /// `file › heading`, as the chat cites it.
    pub citation: String,
    pub line_start: u32,
    pub line_end: u32,
    pub text: String,
    /// The ranking score (higher is better; comparable within one answer only).
    pub score: f32,
    /// Whether the passage answers with a margin; when no passage of an answer is sure, they
    /// are the closest the handbook comes and may not answer the question.
    pub sure: bool,
}

impl From<Passage> for PassageHit {
    fn from(p: Passage) -> Self {
        Self {
            citation: p.citation(),
            file: p.file,
            heading_path: p.heading_path,
            line_start: p.line_start,
            line_end: p.line_end,
            text: p.text,
            score: p.score,
            sure: p.sure,
        }
    }
}

#[utoipa::path(get, operation_id = "search_handbook", tag = "handbook", path = "/api/handbook/search",
    params(SearchQuery), security(("bearer" = [])),
    responses((status = 200, description = "Best first; empty when the handbook does not cover the question", body = [PassageHit]),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn search(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Vec<PassageHit>>> {
    actor.require_member("search the handbook")?;
    let k = q.k.unwrap_or(5);
    if !(1..=MAX_K).contains(&k) {
        return Err(ApiError::invalid("k", &format!("must be 1 to {MAX_K}")));
    }
    match s.handbook.search(&q.q, k).await {
        Ok(found) => Ok(Json(found.into_iter().map(PassageHit::from).collect())),
        Err(HandbookError::EmptyQuery) => Err(ApiError::invalid("q", "must not be blank")),
        Err(HandbookError::QueryTooLong { .. }) => Err(ApiError::invalid(
            "q",
            &format!("must be at most {MAX_QUERY_CHARS} characters"),
        )),
        // The start-up ingest is building the first index: it is a matter of waiting.
        Err(HandbookError::NotIndexed) if s.handbook.indexing() => Err(ApiError::unavailable(
            "the handbook is being indexed right now; try again in a minute",
        )),
        Err(e @ HandbookError::NotIndexed) => Err(ApiError::unavailable(e.to_string())),
        Err(e) => {
            tracing::warn!(error = %e, "handbook search failed");
            Err(ApiError::unavailable(
                "the handbook index is not available right now",
            ))
        }
    }
}
