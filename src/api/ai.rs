//! `/ai`: chat with the agent, the AI actions awaiting approval, and conversations' token usage.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ErrorBody, Json, Path, Query};
use super::{ApiResult, AppState, Auth};
use crate::conversation::agent::TurnInput;
use crate::domain::{ActionStatus, AiAction, ValidationError};
use crate::llm::Usage;
use crate::store::ConversationRecord;
use crate::workspace::WorkspaceError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    /// Not blank, at most 8000 characters.
    #[schema(min_length = 1, max_length = 8000, pattern = r"\S")]
    pub message: String,
    /// Continue this conversation (from an earlier answer); a new one when absent.
    pub conversation_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatReply {
    pub reply: String,
    pub conversation_id: Option<i64>,
    /// Proposals made in this turn, awaiting approval.
    pub actions: Vec<AiAction>,
    #[schema(value_type = Object)]
    pub usage: Usage,
}

#[utoipa::path(post, operation_id = "ai_chat", tag = "ai", path = "/ai/chat", request_body = ChatBody,
    security(("bearer" = [])), responses((status = 200, body = ChatReply), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn chat(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<ChatBody>,
) -> ApiResult<Json<ChatReply>> {
    let message = body.message.trim();
    if message.is_empty() || message.chars().count() > 8000 {
        return Err(
            WorkspaceError::from(ValidationError::new("message", "must be 1-8000 characters")).into(),
        );
    }
    let Some(agent) = &s.agent else {
        return Ok(Json(ChatReply {
            reply: crate::conversation::offline::reply(Some(&s.handbook), message).await,
            conversation_id: None,
            actions: Vec::new(),
            usage: Usage::default(),
        }));
    };
    // API conversations belong to the token that started them.
    let chat_id = match body.conversation_id {
        Some(id) => s.workspace.api_conversation(&actor, id).await?.chat_id,
        None => format!("{}#{}", actor.name, crate::store::now().timestamp_micros()),
    };
    if let Err(refused) = s.limits.agent_turn(&actor.name) {
        return Err(super::ApiError::rate_limited(
            "this token has used its agent turns or model tokens of the day \
             (COORDINATOR_AGENT_TURNS_PER_DAY, COORDINATOR_LLM_TOKENS_PER_DAY)",
            refused.retry_after.as_secs_f64().ceil() as u64,
        ));
    }
    let output = agent
        .run(TurnInput {
            actor: &actor,
            person: None,
            channel: "api",
            chat_id: &chat_id,
            text: message,
            source_key: None,
            now: crate::store::now(),
        })
        .await?;
    s.limits.spent_tokens(
        &actor.name,
        output.usage.prompt_tokens + output.usage.completion_tokens,
    );
    Ok(Json(ChatReply {
        reply: output.reply,
        conversation_id: Some(output.conversation_id),
        actions: output.actions,
        usage: output.usage,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActionQuery {
    /// proposed (default), approved, rejected, done, failed or all
    #[param(pattern = "^(proposed|approved|rejected|done|failed|all)$")]
    pub status: Option<String>,
}

#[utoipa::path(get, operation_id = "list_ai_actions", tag = "ai", path = "/ai/actions", params(ActionQuery),
    security(("bearer" = [])), responses((status = 200, body = [AiAction])))]
pub async fn actions(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query<ActionQuery>,
) -> ApiResult<Json<Vec<AiAction>>> {
    let status = match q.status.as_deref() {
        None => Some(ActionStatus::Proposed),
        Some("all") => None,
        Some(other) => Some(ActionStatus::parse_field(other, "status").map_err(WorkspaceError::from)?),
    };
    Ok(Json(s.workspace.list_actions(&actor, status).await?))
}

#[utoipa::path(post, operation_id = "approve_ai_action", tag = "ai", path = "/ai/actions/{id}/approve",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = AiAction), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<AiAction>> {
    let calls = s
        .agent
        .as_deref()
        .map(|agent| agent as &dyn crate::workspace::DeferredCalls);
    Ok(Json(s.workspace.approve_action_with(&actor, id, calls).await?))
}

#[utoipa::path(post, operation_id = "reject_ai_action", tag = "ai", path = "/ai/actions/{id}/reject",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = AiAction), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<AiAction>> {
    Ok(Json(s.workspace.reject_action(&actor, id).await?))
}

#[utoipa::path(get, operation_id = "get_conversation", tag = "ai", path = "/ai/conversations/{id}",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = ConversationRecord), (status = 404, body = ErrorBody)))]
pub async fn conversation(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ConversationRecord>> {
    Ok(Json(s.workspace.api_conversation(&actor, id).await?))
}
