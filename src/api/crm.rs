//! `/integrations/crm/config`: the CRM sync's stored settings (admins; secrets are never shown,
//! only whether they are set).

use axum::extract::State;
use axum::http::StatusCode;

use super::error::{ErrorBody, Json};
use super::zendesk::require_admin as admin_only;
use super::{ApiError, ApiResult, AppState, Auth};
use crate::integrations::crm::{CrmConfigUpdate, CrmConfigView, CrmError};
use crate::integrations::secrets::SecretError;
use crate::workspace::WorkspaceError;

impl From<CrmError> for ApiError {
    fn from(e: CrmError) -> Self {
        match e {
            CrmError::Invalid(v) => WorkspaceError::Invalid(v).into(),
            CrmError::Store(s) | CrmError::Secret(SecretError::Store(s)) => WorkspaceError::from(s).into(),
            CrmError::Secret(SecretError::NoKey(name)) => ApiError::invalid(
                name.rsplit('.').next().unwrap_or(&name),
                "storing a secret needs COORDINATOR_SECRET_KEY (a 32-byte key, base64) to encrypt it",
            ),
            CrmError::Secret(s) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", s.to_string())
            }
        }
    }
}

#[utoipa::path(get, operation_id = "get_crm_config", tag = "integrations", path = "/integrations/crm/config", security(("bearer" = [])),
    responses((status = 200, body = CrmConfigView), (status = 403, body = ErrorBody)))]
pub async fn config(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<CrmConfigView>> {
    admin_only(&actor)?;
    Ok(Json(s.sync.crm_config_view().await?))
}

#[utoipa::path(put, operation_id = "set_crm_config", tag = "integrations", path = "/integrations/crm/config",
    request_body = CrmConfigUpdate, security(("bearer" = [])),
    responses((status = 200, body = CrmConfigView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_config(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Json(update): Json<CrmConfigUpdate>,
) -> ApiResult<Json<CrmConfigView>> {
    admin_only(&actor)?;
    s.sync.update_crm_config(update).await?;
    tracing::info!(by = %actor.name, "CRM settings changed");
    Ok(Json(s.sync.crm_config_view().await?))
}
