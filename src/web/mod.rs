//! The team's web page under `/web`, served by the same binary: server-rendered HTML (maud,
//! compiled in), a small stylesheet and script shipped from the binary, no CDN. It reads with
//! JavaScript off, fits a phone, and is usable by keyboard and screen reader.
//!
//! Sign-in (`session`): a one-time link sent in chat by `/web`, or an API token typed into a
//! form; a session cookie (HttpOnly, SameSite=Lax, Secure behind https) then names a stored
//! session whose actor is read again on every request. Every form carries the session's CSRF
//! token. Pages are a thin layer over `workspace`: the same operations, with the same role
//! checks, as the REST API (guests read, members change work, admins administer).
//!
//! Pages: the board (`board`, `task`), the alerts feed with live updates (`alerts`), approvals
//! and deliveries (`admin`), the handbook (`handbook`), people and chats (`people`), reports
//! (`reports`).

mod admin;
mod alerts;
mod board;
mod error;
mod handbook;
mod layout;
mod people;
mod reports;
mod session;
mod task;

use std::path::PathBuf;
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

use crate::conversation::team::InviteRoutes;
use crate::handbook::Handbook;
use crate::workspace::Workspace;

pub use error::WebError;

/// What the pages need.
#[derive(Clone)]
pub struct WebState {
    pub workspace: Workspace,
    pub handbook: Handbook,
    /// The folder a re-ingest reads (`HANDBOOK_DIR`).
    pub handbook_dir: PathBuf,
    /// Cookies are `Secure` when the public URL is https.
    pub secure_cookies: bool,
    /// What the invite form tells an invitee (the same as `/invite`).
    pub invites: InviteRoutes,
    /// How often the live alerts stream reads the feed without being woken: news recorded in
    /// this process wakes it at once, this catches what other replicas record.
    pub feed_poll: Duration,
}

impl WebState {
    pub fn new(workspace: Workspace, handbook: Handbook, settings: &crate::config::Settings) -> Self {
        Self {
            workspace,
            handbook,
            handbook_dir: settings.handbook_dir.clone(),
            secure_cookies: settings
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
            invites: InviteRoutes::new(settings),
            feed_poll: settings.web_feed_poll,
        }
    }
}

const STYLE: &str = include_str!("../../assets/web/app.css");
const SCRIPT: &str = include_str!("../../assets/web/app.js");

/// The routes of the web page.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/web", get(board::page))
        .route(
            "/web/sign-in",
            get(session::confirm_page).post(session::sign_in_with_code),
        )
        .route("/web/sign-in/token", post(session::sign_in_with_token))
        .route("/web/sign-out", post(session::sign_out))
        .route(
            "/web/assets/app.css",
            get(|| asset("text/css; charset=utf-8", STYLE)),
        )
        .route(
            "/web/assets/app.js",
            get(|| asset("text/javascript; charset=utf-8", SCRIPT)),
        )
        .route("/web/tasks", post(task::create))
        .route("/web/tasks/{id}", get(task::page).post(task::edit))
        .route("/web/tasks/{id}/status", post(task::move_to))
        .route("/web/tasks/{id}/comments", post(task::comment))
        .route("/web/alerts", get(alerts::page))
        .route("/web/alerts/stream", get(alerts::stream))
        .route("/web/alerts/ack", post(alerts::acknowledge))
        .route("/web/alerts/snooze", post(alerts::snooze))
        .route("/web/approvals", get(admin::approvals))
        .route("/web/approvals/{id}/{decision}", post(admin::decide))
        .route("/web/deliveries", get(admin::deliveries))
        .route("/web/deliveries/{id}/retry", post(admin::retry))
        .route("/web/handbook", get(handbook::page))
        .route("/web/handbook/ingest", post(handbook::ingest))
        .route("/web/people", get(people::page))
        .route("/web/people/invite", post(people::invite))
        .route("/web/reports", get(reports::page))
        .with_state(state)
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
}
