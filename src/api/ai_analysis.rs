//! `POST /ai/analyze` and `GET /ai/suggestions`: the findings of delay detection and the next
//! steps they suggest, computed from the data by `workspace` (no LLM).

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, State};
use axum::http::{HeaderMap, Request};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ErrorBody, Json};
use super::{ApiError, ApiResult, AppState, Auth};
use crate::workspace::{Analysis, AnalysisOptions, Suggestion};

/// Thresholds of an analysis; the body and each field are optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeRequest {
    /// Days without an update after which a task in progress is stale: 1–365, default 3.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 365)]
    pub stale_days: Option<i64>,
    /// Hours ahead in which unassigned work counts as due soon: 1–720, default 48.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 720)]
    pub due_soon_hours: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionList {
    /// Most severe first, one per task or project, at most 100.
    pub suggestions: Vec<Suggestion>,
}

/// The request's thresholds: an empty body means the defaults.
async fn options(headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> ApiResult<AnalysisOptions> {
    let bytes = body.map_err(ApiError::from)?;
    let request = if bytes.iter().all(u8::is_ascii_whitespace) {
        AnalyzeRequest::default()
    } else {
        let mut builder = Request::builder();
        if let Some(content_type) = headers.get(axum::http::header::CONTENT_TYPE) {
            builder = builder.header(axum::http::header::CONTENT_TYPE, content_type);
        }
        let request = builder
            .body(Body::from(bytes))
            .map_err(|_| ApiError::bad_request("unreadable request"))?;
        let Json(body) = Json::<Option<AnalyzeRequest>>::from_request(request, &()).await?;
        body.unwrap_or_default()
    };
    AnalysisOptions::new(request.stale_days, request.due_soon_hours)
        .map_err(|e| ApiError::invalid(&e.field, &e.message))
}

#[utoipa::path(post, operation_id = "ai_analyze", tag = "ai", path = "/ai/analyze",
    request_body(content = Option<AnalyzeRequest>, description = "Optional thresholds"), security(("bearer" = [])),
    responses((status = 200, body = Analysis), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn analyze(
    State(s): State<AppState>,
    Auth(actor): Auth,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Analysis>> {
    let options = options(headers, body).await?;
    let analysis = s.workspace.analyze(&actor, crate::store::now(), options).await?;
    Ok(Json(analysis))
}

#[utoipa::path(get, operation_id = "ai_suggestions", tag = "ai", path = "/ai/suggestions", security(("bearer" = [])),
    responses((status = 200, body = SuggestionList), (status = 401, body = ErrorBody)))]
pub async fn suggestions(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<SuggestionList>> {
    let suggestions = s.workspace.suggestions(&actor, crate::store::now()).await?;
    Ok(Json(SuggestionList { suggestions }))
}
