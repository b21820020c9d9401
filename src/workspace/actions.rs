//! AI actions: what the agent may only propose (deleting a task, closing a project,
//! reassigning someone's tasks) and what a person approves or rejects. An approved action runs
//! with the permissions of the person who approved it, never the proposer's or the model's.

use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{
    Actor, Origin, Patch, ProjectUpdate, TaskQuery, TaskUpdate, Workspace, WorkspaceError, WsResult,
};
use crate::domain::{ActionStatus, AiAction, Handle, ValidationError};

/// What can be proposed.
#[derive(Debug, Clone, Deserialize, ToSchema, schemars::JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Proposal {
    DeleteTask {
        task_id: i64,
    },
    CloseProject {
        project_id: i64,
    },
    /// Move every open task of `from` to `to`.
    ReassignTasks {
        from: String,
        to: String,
    },
}

/// Carries out a deferred tool call (`tool_call` actions) once a person approves it, with that
/// person's rights. The agent implements it; the workspace knows no tools.
#[async_trait::async_trait]
pub trait DeferredCalls: Send + Sync {
    async fn run(&self, actor: &Actor, tool: &str, arguments: &Value) -> WsResult<String>;
}

/// How many tasks a reassignment moves at most.
const REASSIGN_LIMIT: i64 = 500;

impl Workspace {
    /// Records a proposal, checking that what it names exists.
    pub async fn propose_action(
        &self,
        actor: &Actor,
        proposal: Proposal,
        reason: &str,
        origin: Option<&Origin>,
    ) -> WsResult<AiAction> {
        actor.require(actor.can_write(), "propose changes")?;
        let (action_type, data, summary) = match &proposal {
            Proposal::DeleteTask { task_id } => {
                let task = self.task(actor, *task_id).await?;
                (
                    "delete_task",
                    json!({"task_id": task.id}),
                    format!("Delete task #{} {}", task.id, task.title),
                )
            }
            Proposal::CloseProject { project_id } => {
                let project = self.project(actor, *project_id).await?;
                (
                    "close_project",
                    json!({"project_id": project.id}),
                    format!("Close project {} (mark it completed)", project.name),
                )
            }
            Proposal::ReassignTasks { from, to } => {
                let from = self
                    .person(actor, Handle::parse_field(from, "from")?.as_str())
                    .await?;
                let to = self
                    .person(actor, Handle::parse_field(to, "to")?.as_str())
                    .await?;
                let query = TaskQuery {
                    assigned_to: Some(from.handle.clone()),
                    open: Some(true),
                    limit: Some(1),
                    ..TaskQuery::default()
                };
                let count = self.list_tasks(actor, &query, crate::store::now()).await?.total;
                (
                    "reassign_tasks",
                    json!({"from": from.handle, "to": to.handle}),
                    format!("Move {count} open task(s) of @{} to @{}", from.handle, to.handle),
                )
            }
        };
        let summary = match crate::domain::non_blank(Some(reason)) {
            Some(reason) => format!("{summary}. Reason given: {reason}"),
            None => summary,
        };
        let origin = origin.map(|o| (o.channel.as_str(), o.chat.as_str()));
        Ok(self
            .store
            .create_action(action_type, &data, &summary, &actor.name, origin)
            .await?)
    }

    /// Records a change the agent wanted to make after it read text that is not the speaker's
    /// own (another person's message, a ticket, a handbook passage, ...): the call waits for a
    /// person's approval instead of running.
    pub async fn defer_call(
        &self,
        actor: &Actor,
        tool: &str,
        arguments: &Value,
        origin: Option<&Origin>,
    ) -> WsResult<AiAction> {
        actor.require(actor.can_write(), "propose changes")?;
        let mut shown = arguments.to_string();
        if shown.chars().count() > 300 {
            shown = shown.chars().take(299).collect::<String>() + "…";
        }
        let summary = format!("{tool} {shown} (asked after reading text that is not yours)");
        let data = json!({"tool": tool, "arguments": arguments});
        let origin = origin.map(|o| (o.channel.as_str(), o.chat.as_str()));
        Ok(self
            .store
            .create_action("tool_call", &data, &summary, &actor.name, origin)
            .await?)
    }

    pub async fn list_actions(&self, actor: &Actor, status: Option<ActionStatus>) -> WsResult<Vec<AiAction>> {
        let _ = actor;
        Ok(self.store.list_actions(status, 200).await?)
    }

    async fn action(&self, id: i64) -> WsResult<AiAction> {
        self.store
            .action(id)
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("action {id} does not exist")))
    }

    /// Approves and carries out a proposal with `actor`'s permissions. An approver without the
    /// rights gets `Forbidden` and the proposal stays open for someone who has them.
    pub async fn approve_action(&self, actor: &Actor, id: i64) -> WsResult<AiAction> {
        self.approve_action_with(actor, id, None).await
    }

    /// As [`Workspace::approve_action`]; `calls` carries out deferred tool calls.
    pub async fn approve_action_with(
        &self,
        actor: &Actor,
        id: i64,
        calls: Option<&dyn DeferredCalls>,
    ) -> WsResult<AiAction> {
        actor.require(actor.can_write(), "approve changes")?;
        let action = self.action(id).await?;
        if !self
            .store
            .transition_action(
                id,
                ActionStatus::Proposed,
                ActionStatus::Approved,
                Some(&actor.name),
                None,
            )
            .await?
        {
            return Err(WorkspaceError::Conflict(format!(
                "action {id} was already {}",
                action.status
            )));
        }
        match self.carry_out(actor, &action, calls).await {
            Ok(result) => {
                self.store
                    .transition_action(
                        id,
                        ActionStatus::Approved,
                        ActionStatus::Done,
                        None,
                        Some(&result),
                    )
                    .await?;
            }
            Err(e @ WorkspaceError::Forbidden(_)) => {
                self.store
                    .transition_action(id, ActionStatus::Approved, ActionStatus::Proposed, None, None)
                    .await?;
                return Err(e);
            }
            Err(e @ (WorkspaceError::Unavailable(_) | WorkspaceError::Internal(_))) => {
                self.store
                    .transition_action(id, ActionStatus::Approved, ActionStatus::Proposed, None, None)
                    .await?;
                return Err(e);
            }
            Err(e) => {
                self.store
                    .transition_action(
                        id,
                        ActionStatus::Approved,
                        ActionStatus::Failed,
                        None,
                        Some(&e.to_string()),
                    )
                    .await?;
            }
        }
        self.action(id).await
    }

    pub async fn reject_action(&self, actor: &Actor, id: i64) -> WsResult<AiAction> {
        actor.require(actor.can_write(), "reject changes")?;
        let action = self.action(id).await?;
        if !self
            .store
            .transition_action(
                id,
                ActionStatus::Proposed,
                ActionStatus::Rejected,
                Some(&actor.name),
                None,
            )
            .await?
        {
            return Err(WorkspaceError::Conflict(format!(
                "action {id} was already {}",
                action.status
            )));
        }
        self.action(id).await
    }

    async fn carry_out(
        &self,
        actor: &Actor,
        action: &AiAction,
        calls: Option<&dyn DeferredCalls>,
    ) -> WsResult<String> {
        let id = |key: &str| -> WsResult<i64> {
            action.data[key]
                .as_i64()
                .ok_or_else(|| ValidationError::new(key, "missing from the action").into())
        };
        let text = |key: &str| -> WsResult<String> {
            action.data[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ValidationError::new(key, "missing from the action").into())
        };
        match action.action_type.as_str() {
            "tool_call" => {
                let tool = text("tool")?;
                let Some(calls) = calls else {
                    return Err(WorkspaceError::Unavailable(
                        "this proposal is carried out by the agent, which is not configured".into(),
                    ));
                };
                calls.run(actor, &tool, &action.data["arguments"]).await
            }
            "delete_task" => {
                let task_id = id("task_id")?;
                self.delete_task(actor, task_id).await?;
                Ok(format!("task #{task_id} deleted"))
            }
            "close_project" => {
                let project_id = id("project_id")?;
                let update = ProjectUpdate {
                    status: Some("completed".into()),
                    ..ProjectUpdate::default()
                };
                let project = self.update_project(actor, project_id, update).await?;
                Ok(format!("project {} completed", project.name))
            }
            "reassign_tasks" => {
                let (from, to) = (text("from")?, text("to")?);
                let query = TaskQuery {
                    assigned_to: Some(from.clone()),
                    open: Some(true),
                    limit: Some(REASSIGN_LIMIT),
                    ..TaskQuery::default()
                };
                let tasks = self.list_tasks(actor, &query, crate::store::now()).await?.items;
                for task in &tasks {
                    let update = TaskUpdate {
                        assigned_to: Patch::Set(to.clone()),
                        ..TaskUpdate::default()
                    };
                    self.update_task(actor, task.id, update).await?;
                }
                Ok(format!("{} task(s) moved from @{from} to @{to}", tasks.len()))
            }
            other => Err(ValidationError::new("action_type", format!("unknown action '{other}'")).into()),
        }
    }
}

/// The JSON the model sees for a proposal.
pub fn action_json(action: &AiAction) -> Value {
    json!({"action_id": action.id, "status": action.status, "summary": action.summary,
           "note": "Nothing has happened yet: a person must approve this."})
}
