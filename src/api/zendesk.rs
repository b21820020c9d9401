//! `/integrations/zendesk`: tickets (with the task each is linked to), making a task from a
//! ticket, running the incremental sync now, and the stored settings (admins; secrets are
//! never shown, only whether they are set).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ErrorBody, Json, Path, Query};
use super::{ApiError, ApiResult, AppState, Auth};
use crate::integrations::secrets::SecretError;
use crate::integrations::zendesk::{
    LinkOptions, SyncReport, Ticket, TicketLink, ZendeskConfigUpdate, ZendeskConfigView, ZendeskError, NAME,
};
use crate::workspace::{Actor, WorkspaceError};

impl From<ZendeskError> for ApiError {
    fn from(e: ZendeskError) -> Self {
        let gateway = |m: String| ApiError::new(StatusCode::BAD_GATEWAY, "bad_gateway", m);
        match e {
            ZendeskError::NotConfigured(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string())
            }
            ZendeskError::Secret(SecretError::NoKey(name)) => ApiError::invalid(
                name.rsplit('.').next().unwrap_or(&name),
                "storing a secret needs COORDINATOR_SECRET_KEY (a 32-byte key, base64) to encrypt it",
            ),
            ZendeskError::Secret(SecretError::Store(s)) | ZendeskError::Store(s) => {
                WorkspaceError::from(s).into()
            }
            ZendeskError::Secret(s) => {
                tracing::error!(error = %s, "Zendesk settings unusable");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", s.to_string())
            }
            ZendeskError::NoTicket(id) => ApiError::not_found(format!("Zendesk has no ticket {id}")),
            ZendeskError::Http { status, .. } if status == StatusCode::TOO_MANY_REQUESTS => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Zendesk asks us to slow down; try again in a minute",
            ),
            ZendeskError::Http { status, .. } if matches!(status.as_u16(), 401 | 403) => gateway(format!(
                "Zendesk refused the credentials (HTTP {status}): check ZENDESK_EMAIL and ZENDESK_API_TOKEN"
            )),
            e @ (ZendeskError::Http { .. } | ZendeskError::Unreachable(_)) => {
                tracing::warn!(error = %e, "Zendesk call failed");
                gateway(e.to_string())
            }
            ZendeskError::Workspace(w) => w.into(),
        }
    }
}

pub(super) fn require_admin(actor: &Actor) -> ApiResult<()> {
    Ok(actor.require_admin("change integrations")?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–100, default 25.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketWithTask {
    #[serde(flatten)]
    pub ticket: Ticket,
    /// The task linked to the ticket, if any.
    pub task_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketList {
    pub tickets: Vec<TicketWithTask>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, operation_id = "list_zendesk_tickets", tag = "integrations", path = "/integrations/zendesk/tickets",
    params(TicketQuery), security(("bearer" = [])),
    responses((status = 200, body = TicketList), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn tickets(
    State(s): State<AppState>,
    Auth(_actor): Auth,
    Query(q): Query<TicketQuery>,
) -> ApiResult<Json<TicketList>> {
    let limit = q.limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 100"));
    }
    let i = &s.sync;
    let config = i.zendesk_config().await?;
    let page = crate::integrations::zendesk::Client::new(i.http(), &config)
        .tickets(q.cursor.as_deref(), limit)
        .await?;
    let ids: Vec<String> = page.tickets.iter().map(|t| t.id.to_string()).collect();
    let links = i
        .store()
        .external_links(NAME, "ticket", &ids)
        .await
        .map_err(WorkspaceError::from)?;
    let tickets = page
        .tickets
        .into_iter()
        .map(|ticket| {
            let task_id = links
                .iter()
                .find(|l| l.external_id == ticket.id.to_string())
                .map(|l| l.local_id);
            TicketWithTask { ticket, task_id }
        })
        .collect();
    Ok(Json(TicketList {
        tickets,
        next_cursor: page.after_cursor,
    }))
}

#[utoipa::path(post, operation_id = "task_from_zendesk_ticket", tag = "integrations", path = "/integrations/zendesk/tickets/{id}/task",
    params(("id" = i64, Path)), request_body = LinkOptions, security(("bearer" = [])),
    responses((status = 201, body = TicketLink, description = "a new task"), (status = 200, body = TicketLink, description = "the ticket was linked already"),
        (status = 404, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn link(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Response> {
    let options: LinkOptions = if body.iter().all(u8::is_ascii_whitespace) {
        LinkOptions::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", &e.to_string()))?
    };
    if id <= 0 {
        return Err(ApiError::not_found(format!("Zendesk has no ticket {id}")));
    }
    let (link, created) = s.sync.link_ticket(&actor, id, options).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(link)).into_response())
}

#[utoipa::path(post, operation_id = "sync_zendesk", tag = "integrations", path = "/integrations/zendesk/sync", security(("bearer" = [])),
    responses((status = 200, body = SyncReport), (status = 403, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn sync(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<SyncReport>> {
    require_admin(&actor)?;
    Ok(Json(s.sync.zendesk_poll_once().await?))
}

#[utoipa::path(get, operation_id = "get_zendesk_config", tag = "integrations", path = "/integrations/zendesk/config", security(("bearer" = [])),
    responses((status = 200, body = ZendeskConfigView), (status = 403, body = ErrorBody)))]
pub async fn config(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<ZendeskConfigView>> {
    require_admin(&actor)?;
    Ok(Json(s.sync.zendesk_config_view().await?))
}

#[utoipa::path(put, operation_id = "set_zendesk_config", tag = "integrations", path = "/integrations/zendesk/config",
    request_body = ZendeskConfigUpdate, security(("bearer" = [])),
    responses((status = 200, body = ZendeskConfigView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_config(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Json(update): Json<ZendeskConfigUpdate>,
) -> ApiResult<Json<ZendeskConfigView>> {
    require_admin(&actor)?;
    s.sync.update_zendesk_config(update).await?;
    tracing::info!(by = %actor.name, "Zendesk settings changed");
    Ok(Json(s.sync.zendesk_config_view().await?))
}
