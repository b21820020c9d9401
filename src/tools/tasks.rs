//! Task tools: list, find, create, update, assign, change status.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{task_json, ToolContext, ToolError, TypedTool};
use crate::workspace::{Patch, TaskQuery, TaskRequest, TaskUpdate};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// todo, in_progress, done or blocked
    pub status: Option<String>,
    /// A person's handle.
    pub assigned_to: Option<String>,
    /// A project's name.
    pub project: Option<String>,
    /// Only tasks past their due date and not done.
    pub overdue: Option<bool>,
    /// Include done tasks (default false).
    pub include_done: Option<bool>,
    /// At most this many (1-50, default 20).
    pub limit: Option<i64>,
}

pub struct ListTasks;

#[async_trait::async_trait]
impl TypedTool for ListTasks {
    type Args = ListArgs;
    const NAME: &'static str = "list_tasks";
    const DESCRIPTION: &'static str =
        "List tasks, filtered by status, assignee, project or overdue. Returns at most 50.";

    async fn run(&self, ctx: &ToolContext, args: ListArgs) -> Result<Value, ToolError> {
        let project_id = match &args.project {
            Some(name) => Some(ctx.workspace.project_by_name(&ctx.actor, name).await?.id),
            None => None,
        };
        let query = TaskQuery {
            status: args.status,
            assigned_to: args.assigned_to,
            project_id,
            overdue: args.overdue,
            open: Some(!args.include_done.unwrap_or(false)),
            limit: Some(args.limit.unwrap_or(20).clamp(1, 50)),
            ..TaskQuery::default()
        };
        let page = ctx.workspace.list_tasks(&ctx.actor, &query, ctx.now).await?;
        Ok(json!({"total": page.total, "tasks": page.items.iter().map(task_json).collect::<Vec<_>>()}))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindArgs {
    /// Words to look for in titles and descriptions.
    pub query: String,
    /// At most this many (1-50, default 10).
    pub limit: Option<i64>,
}

pub struct FindTasks;

#[async_trait::async_trait]
impl TypedTool for FindTasks {
    type Args = FindArgs;
    const NAME: &'static str = "find_tasks";
    const DESCRIPTION: &'static str = "Find tasks whose title or description contains the given words.";

    async fn run(&self, ctx: &ToolContext, args: FindArgs) -> Result<Value, ToolError> {
        if args.query.trim().is_empty() {
            return Err(ToolError::InvalidArguments("query must not be empty".into()));
        }
        let query = TaskQuery {
            q: Some(args.query),
            limit: Some(args.limit.unwrap_or(10).clamp(1, 50)),
            ..TaskQuery::default()
        };
        let page = ctx.workspace.list_tasks(&ctx.actor, &query, ctx.now).await?;
        Ok(json!({"total": page.total, "tasks": page.items.iter().map(task_json).collect::<Vec<_>>()}))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    pub title: String,
    pub description: Option<String>,
    /// The assignee's handle.
    pub assigned_to: Option<String>,
    /// YYYY-MM-DD (end of that day in the sender's zone) or RFC 3339.
    pub due_date: Option<String>,
    /// low, medium, high or urgent
    pub priority: Option<String>,
    /// A project's name.
    pub project: Option<String>,
    pub time_estimate_hours: Option<f64>,
}

pub struct CreateTask;

#[async_trait::async_trait]
impl TypedTool for CreateTask {
    type Args = CreateArgs;
    const NAME: &'static str = "create_task";
    const WRITES: bool = true;
    const DESCRIPTION: &'static str = "Create a task. Use YYYY-MM-DD or RFC 3339 for due_date.";

    async fn run(&self, ctx: &ToolContext, args: CreateArgs) -> Result<Value, ToolError> {
        let project_id = match &args.project {
            Some(name) => Some(ctx.workspace.project_by_name(&ctx.actor, name).await?.id),
            None => None,
        };
        let request = TaskRequest {
            title: args.title,
            description: args.description,
            assigned_to: args.assigned_to,
            due_date: args.due_date,
            priority: args.priority,
            project_id,
            time_estimate: args.time_estimate_hours,
            ..TaskRequest::default()
        };
        let task = ctx
            .workspace
            .submit_task(&ctx.actor, request, ctx.origin.as_ref())
            .await?;
        Ok(json!({"created": task_json(&task)}))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    pub id: i64,
    pub title: Option<String>,
    pub description: Option<String>,
    /// low, medium, high or urgent
    pub priority: Option<String>,
    /// YYYY-MM-DD or RFC 3339.
    pub due_date: Option<String>,
    pub time_estimate_hours: Option<f64>,
    pub time_spent_hours: Option<f64>,
}

pub struct UpdateTask;

#[async_trait::async_trait]
impl TypedTool for UpdateTask {
    type Args = UpdateArgs;
    const NAME: &'static str = "update_task";
    const WRITES: bool = true;
    const DESCRIPTION: &'static str = "Change a task's title, description, priority, due date or hours.";

    async fn run(&self, ctx: &ToolContext, args: UpdateArgs) -> Result<Value, ToolError> {
        let set = |v: Option<f64>| v.map_or(Patch::Keep, Patch::Set);
        let update = TaskUpdate {
            title: args.title,
            description: args.description,
            priority: args.priority,
            due_date: args.due_date.map_or(Patch::Keep, Patch::Set),
            time_estimate: set(args.time_estimate_hours),
            time_spent: set(args.time_spent_hours),
            ..TaskUpdate::default()
        };
        let task = ctx.workspace.update_task(&ctx.actor, args.id, update).await?;
        Ok(json!({"updated": task_json(&task)}))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignArgs {
    pub id: i64,
    /// The new assignee's handle, or null to unassign.
    pub assignee: Option<String>,
}

pub struct AssignTask;

#[async_trait::async_trait]
impl TypedTool for AssignTask {
    type Args = AssignArgs;
    const NAME: &'static str = "assign_task";
    const WRITES: bool = true;
    const DESCRIPTION: &'static str = "Assign one task to a person (by handle), or unassign it with null.";

    async fn run(&self, ctx: &ToolContext, args: AssignArgs) -> Result<Value, ToolError> {
        let update = TaskUpdate {
            assigned_to: args.assignee.map_or(Patch::Clear, Patch::Set),
            ..TaskUpdate::default()
        };
        let task = ctx.workspace.update_task(&ctx.actor, args.id, update).await?;
        Ok(json!({"updated": task_json(&task)}))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {
    pub id: i64,
    /// todo, in_progress, done or blocked
    pub status: String,
}

pub struct ChangeStatus;

#[async_trait::async_trait]
impl TypedTool for ChangeStatus {
    type Args = StatusArgs;
    const NAME: &'static str = "change_status";
    const WRITES: bool = true;
    const DESCRIPTION: &'static str = "Set a task's status: todo, in_progress, done or blocked.";

    async fn run(&self, ctx: &ToolContext, args: StatusArgs) -> Result<Value, ToolError> {
        let task = ctx
            .workspace
            .set_task_status(&ctx.actor, args.id, &args.status)
            .await?;
        Ok(json!({"updated": task_json(&task)}))
    }
}
