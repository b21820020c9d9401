//! `/api/monitoring`: queues and dead letters.

use axum::extract::State;

use super::error::{ErrorBody, Json};
use super::{ApiResult, AppState, Auth};
use crate::workspace::MonitoringStatus;

#[utoipa::path(get, operation_id = "monitoring_status", tag = "monitoring", path = "/api/monitoring/status",
    security(("bearer" = [])), responses((status = 200, body = MonitoringStatus), (status = 401, body = ErrorBody)))]
pub async fn status(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<MonitoringStatus>> {
    Ok(Json(s.workspace.monitoring_status(&actor).await?))
}
