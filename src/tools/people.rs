//! Tools for comments, people, projects and the workspace at a glance.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ToolContext, ToolError, TypedTool};
use crate::workspace::{NewComment, Paging, TaskQuery};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentArgs {
    pub task_id: i64,
    pub text: String,
}

pub struct AddComment;

#[async_trait::async_trait]
impl TypedTool for AddComment {
    type Args = CommentArgs;
    const NAME: &'static str = "add_comment";
    const WRITES: bool = true;
    const DESCRIPTION: &'static str = "Add a comment to a task.";

    async fn run(&self, ctx: &ToolContext, args: CommentArgs) -> Result<Value, ToolError> {
        let new = NewComment {
            task_id: args.task_id,
            content: args.text,
            author: None,
        };
        let comment = ctx
            .workspace
            .add_comment(&ctx.actor, new, ctx.origin.as_ref())
            .await?;
        Ok(json!({"comment_id": comment.id, "task_id": comment.task_id}))
    }
}

/// Tools without arguments take an empty object.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

pub struct ListPeople;

#[async_trait::async_trait]
impl TypedTool for ListPeople {
    type Args = NoArgs;
    const NAME: &'static str = "list_people";
    const DESCRIPTION: &'static str =
        "List the people of the workspace with their handles, roles and managers.";

    async fn run(&self, ctx: &ToolContext, _: NoArgs) -> Result<Value, ToolError> {
        let page = ctx
            .workspace
            .list_people(
                &ctx.actor,
                Paging::new(Some(200), None).map_err(crate::workspace::WorkspaceError::from)?,
            )
            .await?;
        let people: Vec<Value> = page
            .items
            .iter()
            .map(|p| json!({"handle": p.handle, "name": p.name, "role": p.role, "manager": p.manager, "timezone": p.timezone}))
            .collect();
        Ok(json!({"total": page.total, "people": people}))
    }
}

pub struct ListProjects;

#[async_trait::async_trait]
impl TypedTool for ListProjects {
    type Args = NoArgs;
    const NAME: &'static str = "list_projects";
    const DESCRIPTION: &'static str = "List the projects with their status and deadline.";

    async fn run(&self, ctx: &ToolContext, _: NoArgs) -> Result<Value, ToolError> {
        let page = ctx
            .workspace
            .list_projects(
                &ctx.actor,
                Paging::new(Some(200), None).map_err(crate::workspace::WorkspaceError::from)?,
            )
            .await?;
        let projects: Vec<Value> = page
            .items
            .iter()
            .map(|p| json!({"id": p.id, "name": p.name, "status": p.status, "deadline": p.deadline}))
            .collect();
        Ok(json!({"total": page.total, "projects": projects}))
    }
}

pub struct WorkspaceSummary;

#[async_trait::async_trait]
impl TypedTool for WorkspaceSummary {
    type Args = NoArgs;
    const NAME: &'static str = "workspace_summary";
    const DESCRIPTION: &'static str =
        "Counts of open, in-progress, blocked and overdue tasks, and of projects.";

    async fn run(&self, ctx: &ToolContext, _: NoArgs) -> Result<Value, ToolError> {
        let count = |query: TaskQuery| async move {
            let query = TaskQuery {
                limit: Some(1),
                ..query
            };
            ctx.workspace
                .list_tasks(&ctx.actor, &query, ctx.now)
                .await
                .map(|p| p.total)
        };
        let open = count(TaskQuery {
            open: Some(true),
            ..TaskQuery::default()
        })
        .await?;
        let overdue = count(TaskQuery {
            overdue: Some(true),
            ..TaskQuery::default()
        })
        .await?;
        let blocked = count(TaskQuery {
            status: Some("blocked".into()),
            ..TaskQuery::default()
        })
        .await?;
        let in_progress = count(TaskQuery {
            status: Some("in_progress".into()),
            ..TaskQuery::default()
        })
        .await?;
        let projects = ctx
            .workspace
            .list_projects(
                &ctx.actor,
                Paging::new(Some(1), None).map_err(crate::workspace::WorkspaceError::from)?,
            )
            .await?
            .total;
        Ok(
            json!({"open_tasks": open, "in_progress": in_progress, "blocked": blocked, "overdue": overdue, "projects": projects}),
        )
    }
}
