//! What the scheduler needs to know about people and projects: a person's quiet hours
//! (`PUT /api/people/{handle}/quiet-hours`) and where a project's escalations and reports go
//! and how fast its ladder climbs (`PUT /api/projects/{id}/chat`).

use axum::extract::State;
use chrono::{NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ErrorBody, Json, Path};
use super::{ApiResult, AppState, Auth};
use crate::domain::ValidationError;
use crate::workspace::WorkspaceError;

/// Quiet hours in the person's own time zone, `HH:MM`; the window may wrap midnight
/// (`20:00`–`08:00`, the default). Equal times mean no quiet hours.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursBody {
    pub start: String,
    pub end: String,
}

fn minute_of_day(field: &str, text: &str) -> Result<i32, WorkspaceError> {
    let time = NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .map_err(|_| ValidationError::new(field, "must be a time of day as HH:MM, e.g. 20:00"))?;
    Ok((time.hour() * 60 + time.minute()) as i32)
}

#[utoipa::path(put, operation_id = "set_quiet_hours", tag = "people", path = "/api/people/{handle}/quiet-hours",
    params(("handle" = String, Path)), request_body = QuietHoursBody, security(("bearer" = [])),
    responses((status = 200, body = QuietHoursBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn quiet_hours(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(handle): Path<String>,
    Json(body): Json<QuietHoursBody>,
) -> ApiResult<Json<QuietHoursBody>> {
    let start = minute_of_day("start", &body.start)?;
    let end = minute_of_day("end", &body.end)?;
    s.workspace.set_quiet_hours(&actor, &handle, start, end).await?;
    let show = |m: i32| format!("{:02}:{:02}", m / 60, m % 60);
    Ok(Json(QuietHoursBody {
        start: show(start),
        end: show(end),
    }))
}

/// Where a project's escalations (the ladder's last step) and scheduled reports go, and the
/// hours between ladder steps (null: by priority, urgent 1 h, high 4 h, others 24 h).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectChatBody {
    /// `telegram`, `discord`, `whatsapp` or `email`; null to clear.
    pub channel: Option<String>,
    /// The platform's chat id (Telegram chat id, Discord channel id, WhatsApp number, address).
    pub chat_id: Option<String>,
    pub ladder_hours: Option<f64>,
}

#[utoipa::path(put, operation_id = "set_project_chat", tag = "projects", path = "/api/projects/{id}/chat",
    params(("id" = i64, Path)), request_body = ProjectChatBody, security(("bearer" = [])),
    responses((status = 200, body = ProjectChatBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn project_chat(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Json(body): Json<ProjectChatBody>,
) -> ApiResult<Json<ProjectChatBody>> {
    let chat_id = body.chat_id.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if body.channel.is_some() != chat_id.is_some() {
        return Err(WorkspaceError::from(ValidationError::new(
            "chat_id",
            "channel and chat_id are given together (or both null)",
        ))
        .into());
    }
    if chat_id.is_some_and(|c| c.chars().count() > 200 || c.contains('\0')) {
        return Err(WorkspaceError::from(ValidationError::new("chat_id", "is not a chat id")).into());
    }
    s.workspace
        .configure_project_chat(&actor, id, body.channel.as_deref(), chat_id, body.ladder_hours)
        .await?;
    Ok(Json(ProjectChatBody {
        chat_id: chat_id.map(str::to_owned),
        ..body
    }))
}
