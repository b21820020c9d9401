//! The HTTP surface: REST resources under `/api`, bearer-token auth, JSON errors, `/health`,
//! `/metrics`, and the OpenAPI document (`/openapi.json`, `/docs`) generated from the handlers.
//! Handlers translate HTTP to `workspace` operations and back; no SQL here.

mod ai;
mod ai_analysis;
mod auth;
mod comments;
mod crm;
mod docs;
pub mod error;
mod escalations;
mod files;
mod handbook;
mod integrations;
mod monitoring;
mod people;
mod projects;
mod reminders;
mod schedule;
mod shared_errors;
mod standups;
mod system;
mod tasks;
mod tokens;
mod zendesk;

pub use auth::Auth;
pub use error::{ApiError, ApiResult};
pub use integrations::IntegrationsState;

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::workspace::{Page, Workspace};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub workspace: Workspace,
    pub metrics: PrometheusHandle,
    /// The agent behind `/ai/chat`, when a language model is configured.
    pub agent: Option<std::sync::Arc<crate::conversation::agent::Agent>>,
    /// Sends through the outbox, voice transcription.
    pub integrations: IntegrationsState,
    /// The Zendesk and CRM syncs.
    pub sync: crate::integrations::Integrations,
    /// Requests per minute per token.
    pub limits: std::sync::Arc<crate::limits::Limits>,
    /// What `/metrics` asks for, when anything.
    pub metrics_token: Option<crate::config::Secret>,
    /// `GET /api/handbook/search`, and `/ai/chat` without a model.
    pub handbook: crate::handbook::Handbook,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "coordinator", description = "The REST API of the coordinator: projects, tasks, comments, people."),
    modifiers(&BearerAuth),
    components(schemas(error::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes of the API and their OpenAPI document, with `webhooks` (the platforms' routes,
/// which authenticate by signature) under the same limits and metrics.
pub fn router(state: AppState, max_body_bytes: usize, webhooks: Router) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(projects::list, projects::create))
        .routes(routes!(projects::get, projects::update, projects::delete))
        .routes(routes!(tasks::list, tasks::create))
        .routes(routes!(tasks::get, tasks::update, tasks::delete))
        .routes(routes!(tasks::set_status))
        .routes(routes!(files::list))
        .routes(routes!(files::download))
        .routes(routes!(comments::list, comments::create))
        .routes(routes!(comments::get, comments::update, comments::delete))
        .routes(routes!(people::list, people::create))
        .routes(routes!(people::get, people::update, people::delete))
        .routes(routes!(people::link_code))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(reminders::list, reminders::create))
        .routes(routes!(reminders::get, reminders::cancel))
        .routes(routes!(schedule::quiet_hours))
        .routes(routes!(schedule::project_chat))
        .routes(routes!(standups::get, standups::put, standups::delete))
        .routes(routes!(standups::runs))
        .routes(routes!(monitoring::status))
        .routes(routes!(escalations::escalate))
        .routes(routes!(handbook::search))
        .routes(routes!(ai::chat))
        .routes(routes!(ai::actions))
        .routes(routes!(ai::approve))
        .routes(routes!(ai::reject))
        .routes(routes!(ai::conversation))
        .routes(routes!(ai_analysis::analyze))
        .routes(routes!(ai_analysis::suggestions))
        .routes(routes!(system::health))
        .routes(routes!(zendesk::tickets))
        .routes(routes!(zendesk::link))
        .routes(routes!(zendesk::sync))
        .routes(routes!(zendesk::config, zendesk::set_config))
        .routes(routes!(crm::config, crm::set_config))
        .routes(routes!(integrations::send))
        .routes(routes!(integrations::history))
        .split_for_parts();
    // Uploads have their own body limit (VOICE_MAX_BYTES), so they join after the API's.
    let (uploads, upload_doc) = integrations::upload_router(state.clone());
    let mut openapi = openapi;
    openapi.merge(upload_doc);
    let openapi = std::sync::Arc::new(shared_errors::with_shared_errors(openapi));

    api.route("/metrics", axum::routing::get(system::metrics))
        .route("/docs", axum::routing::get(docs::page))
        .route(docs::RAPIDOC_PATH, axum::routing::get(docs::rapidoc))
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .with_state(state)
        .merge(webhooks)
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .merge(uploads)
        .layer(middleware::from_fn(record_metrics))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error").into_response()
        }))
}

/// Request counts and latencies by route, method and status, for `/metrics`.
async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let mut response = next.run(request).await;
    // Bodies refused by the size limit arrive as a plain 413: give them our JSON shape.
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_none_or(|c| c != "application/json")
    {
        response = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        )
        .into_response();
    }
    let status = response.status().as_u16().to_string();
    let labels = [("path", path), ("method", method), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// A list as a JSON array, with the number of all matches in `X-Total-Count`.
fn page_response<T: serde::Serialize>(page: Page<T>) -> Response {
    let mut response = axum::Json(page.items).into_response();
    if let Ok(total) = HeaderValue::from_str(&page.total.to_string()) {
        response.headers_mut().insert("x-total-count", total);
    }
    response
}
