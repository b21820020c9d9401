//! What the agent can do: `trait Tool` (a name, a JSON schema generated from the Rust type of
//! its arguments, and a call), the tool families, and the `Toolbox` that hands the model the
//! specs its role profile allows and runs its calls. Every tool acts through `workspace` with
//! the permissions of the person who sent the message; arguments are validated before use and
//! errors go back to the model as the tool's result, so it can correct itself.

mod actions;
mod handbook;
mod people;
mod reminders;
mod tasks;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub use handbook::SearchHandbook;

use crate::llm::ToolSpec;
use crate::workspace::{Actor, Origin, Workspace, WorkspaceError};

/// What a tool call knows about its caller.
pub struct ToolContext {
    pub workspace: Workspace,
    pub actor: Actor,
    /// The chat message behind this call; its key makes a repeated call have one effect.
    pub origin: Option<Origin>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error("{0}")]
    Workspace(#[from] WorkspaceError),
}

/// A tool with typed arguments; `Tool` is derived from it.
#[async_trait::async_trait]
pub trait TypedTool: Send + Sync {
    type Args: DeserializeOwned + JsonSchema + Send;
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    /// Whether the tool changes the workspace. The one place that says so: after a turn has
    /// read text that is not the speaker's own, a writing tool's call is not run but proposed
    /// for the speaker to approve.
    const WRITES: bool = false;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<Value, ToolError>;
}

#[async_trait::async_trait]
pub trait Tool: Send + Sync {
    fn name(&self) -> &'static str;
    fn writes(&self) -> bool;
    fn spec(&self) -> ToolSpec;
    async fn call(&self, ctx: &ToolContext, arguments: &str) -> Result<Value, ToolError>;
}

#[async_trait::async_trait]
impl<T: TypedTool> Tool for T {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn writes(&self) -> bool {
        T::WRITES
    }

    fn spec(&self) -> ToolSpec {
        let mut parameters =
            serde_json::to_value(schemars::schema_for!(T::Args)).unwrap_or_else(|_| json!({}));
        if let Some(object) = parameters.as_object_mut() {
            object.remove("$schema");
            object.remove("title");
        }
        ToolSpec::new(T::NAME, T::DESCRIPTION, &parameters)
    }

    async fn call(&self, ctx: &ToolContext, arguments: &str) -> Result<Value, ToolError> {
        let text = if arguments.trim().is_empty() {
            "{}"
        } else {
            arguments
        };
        let args: T::Args =
            serde_json::from_str(text).map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
        self.run(ctx, args).await
    }
}

/// All tools, by name.
#[derive(Clone)]
pub struct Toolbox {
    tools: BTreeMap<&'static str, Arc<dyn Tool>>,
    /// Each tool's spec, made once: generating a JSON schema on every turn cost more than the
    /// rest of the turn's own work.
    specs: BTreeMap<&'static str, ToolSpec>,
}

impl Default for Toolbox {
    fn default() -> Self {
        let list: Vec<Arc<dyn Tool>> = vec![
            Arc::new(tasks::ListTasks),
            Arc::new(tasks::FindTasks),
            Arc::new(tasks::CreateTask),
            Arc::new(tasks::UpdateTask),
            Arc::new(tasks::AssignTask),
            Arc::new(tasks::ChangeStatus),
            Arc::new(people::AddComment),
            Arc::new(people::ListPeople),
            Arc::new(people::ListProjects),
            Arc::new(people::WorkspaceSummary),
            Arc::new(actions::ProposeAction),
            Arc::new(reminders::SetReminder),
        ];
        let mut toolbox = Self {
            tools: BTreeMap::new(),
            specs: BTreeMap::new(),
        };
        for tool in list {
            toolbox.add(tool);
        }
        toolbox
    }
}

impl Toolbox {
    /// Adds or replaces a tool (e.g. handbook search, when the handbook is available).
    pub fn add(&mut self, tool: Arc<dyn Tool>) {
        self.specs.insert(tool.name(), tool.spec());
        self.tools.insert(tool.name(), tool);
    }

    /// Whether `name` is a tool that changes the workspace (unknown names count as writing).
    pub fn writes(&self, name: &str) -> bool {
        self.tools.get(name).is_none_or(|t| t.writes())
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.tools.keys().copied().collect()
    }

    /// The specs of the tools in `allowed`.
    pub fn specs(&self, allowed: &[String]) -> Vec<ToolSpec> {
        self.specs
            .iter()
            .filter(|(name, _)| allowed.iter().any(|a| a == *name))
            .map(|(_, spec)| spec.clone())
            .collect()
    }

    /// Runs one call and returns what goes back to the model: the result, or an error the
    /// model can act on. Tools outside `allowed` are refused, whatever the model says.
    pub async fn call(
        &self,
        ctx: &ToolContext,
        allowed: &[String],
        name: &str,
        arguments: &str,
    ) -> (Value, bool) {
        let Some(tool) = self.tools.get(name).filter(|_| allowed.iter().any(|a| a == name)) else {
            metrics::counter!("agent_tool_calls_total", "tool" => "unknown", "outcome" => "refused")
                .increment(1);
            return (
                json!({"error": format!("there is no tool '{name}' available to you")}),
                false,
            );
        };
        let result = tool.call(ctx, arguments).await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!("agent_tool_calls_total", "tool" => tool.name(), "outcome" => outcome).increment(1);
        match result {
            Ok(value) => (value, true),
            Err(e) => (json!({"error": e.to_string()}), false),
        }
    }
}

/// A task as the model sees it: compact, with its text fields as data.
pub(crate) fn task_json(task: &crate::domain::Task) -> Value {
    json!({
        "id": task.id,
        "title": task.title,
        "status": task.status,
        "priority": task.priority,
        "assigned_to": task.assigned_to,
        "due_date": task.due_date,
        "project_id": task.project_id,
        "time_estimate": task.time_estimate,
        "time_spent": task.time_spent,
        "labels": task.labels.iter().map(|l| l.name.clone()).collect::<Vec<_>>(),
    })
}
