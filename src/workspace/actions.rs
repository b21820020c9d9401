//! AI actions: what the agent may only propose (deleting a task, closing a project,
//! reassigning someone's tasks) and what a person approves or rejects. An approved action runs
//! with the permissions of the person who approved it, never the proposer's or the model's.
//! Its effect and its `done` record are one transaction: a reassignment moves every task or
//! none; an approval a stop interrupted is put back by the scheduler's recovery sweep.

use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::changes::Change;
use super::{Actor, Origin, TaskQuery, Workspace, WorkspaceError, WsResult};
use crate::domain::{ActionStatus, AiAction, Handle, ValidationError};
use crate::store::ActionEffect;

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
            // The effect and the `done` record were one transaction.
            Ok(Carried::Recorded) => {}
            Ok(Carried::Result(result)) => {
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

    /// Carries out an approved action with `actor`'s rights. The built-in actions' effect and
    /// their `done` record are one transaction (`Carried::Recorded`); a deferred tool call runs
    /// through the tools and gives its result to record.
    async fn carry_out(
        &self,
        actor: &Actor,
        action: &AiAction,
        calls: Option<&dyn DeferredCalls>,
    ) -> WsResult<Carried> {
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
                Ok(Carried::Result(
                    calls.run(actor, &tool, &action.data["arguments"]).await?,
                ))
            }
            "delete_task" => {
                let task_id = id("task_id")?;
                actor.require(actor.is_admin(), "delete tasks")?;
                self.task(actor, task_id).await?;
                let hashes = self.task_file_hashes(task_id).await?;
                let effect = ActionEffect::DeleteTask(task_id);
                self.store
                    .carry_out_action(
                        action.id,
                        &effect,
                        &|_: usize| format!("task #{task_id} deleted"),
                        &actor.audit(),
                    )
                    .await
                    .map_err(|e| {
                        WorkspaceError::from_store(e, || format!("task {task_id} does not exist"))
                    })?;
                self.drop_task_files(task_id, &hashes).await;
                self.announce(actor, Change::TaskDeleted(task_id)).await;
                Ok(Carried::Recorded)
            }
            "close_project" => {
                let project_id = id("project_id")?;
                actor.require(actor.can_write(), "change projects")?;
                let project = self.project(actor, project_id).await?;
                let name = project.name.clone();
                let effect = ActionEffect::CloseProject(project_id);
                self.store
                    .carry_out_action(
                        action.id,
                        &effect,
                        &|_: usize| format!("project {name} completed"),
                        &actor.audit(),
                    )
                    .await
                    .map_err(|e| {
                        WorkspaceError::from_store(e, || format!("project {project_id} does not exist"))
                    })?;
                let project = self.project(actor, project_id).await?;
                self.announce(actor, Change::ProjectUpdated(project)).await;
                Ok(Carried::Recorded)
            }
            "reassign_tasks" => {
                let (from, to) = (text("from")?, text("to")?);
                actor.require(actor.can_write(), "change tasks")?;
                let from = self
                    .person(actor, Handle::parse_field(&from, "from")?.as_str())
                    .await?;
                let to = self
                    .person(actor, Handle::parse_field(&to, "to")?.as_str())
                    .await?;
                let effect = ActionEffect::ReassignTasks {
                    from: from.id,
                    to: to.id,
                };
                let words = |n: usize| format!("{n} task(s) moved from @{} to @{}", from.handle, to.handle);
                let moved = self
                    .store
                    .carry_out_action(action.id, &effect, &words, &actor.audit())
                    .await?;
                for task_id in moved {
                    let task = self.task(actor, task_id).await?;
                    let before = task.status;
                    self.announce(actor, Change::TaskUpdated { task, before }).await;
                }
                Ok(Carried::Recorded)
            }
            other => Err(ValidationError::new("action_type", format!("unknown action '{other}'")).into()),
        }
    }
}

/// What carrying out an action left to record.
enum Carried {
    /// Nothing: the effect and the `done` record were one transaction.
    Recorded,
    /// Its result, for the `done` record.
    Result(String),
}

/// The JSON the model sees for a proposal.
pub fn action_json(action: &AiAction) -> Value {
    json!({"action_id": action.id, "status": action.status, "summary": action.summary,
           "note": "Nothing has happened yet: a person must approve this."})
}
