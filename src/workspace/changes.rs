//! Change events: after a task or project is created, changed or deleted, the workspace tells
//! its listeners (the integrations, which queue outbound syncs). This is the one place where
//! such changes are announced; the operations call `announce` after the store has committed.
//! A listener must not fail the operation: it records what it needs and logs its own errors.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use super::{Actor, Workspace};
use crate::domain::{Project, Task, TaskStatus};

/// What changed.
#[derive(Debug, Clone)]
pub enum Change {
    TaskCreated(Task),
    /// `before` is the status the task had, so that listeners can tell a status change.
    TaskUpdated {
        task: Task,
        before: TaskStatus,
    },
    TaskDeleted(i64),
    ProjectCreated(Project),
    ProjectUpdated(Project),
    ProjectDeleted(i64),
}

impl Change {
    /// `task.created`, `project.deleted`…
    pub fn name(&self) -> &'static str {
        match self {
            Change::TaskCreated(_) => "task.created",
            Change::TaskUpdated { .. } => "task.updated",
            Change::TaskDeleted(_) => "task.deleted",
            Change::ProjectCreated(_) => "project.created",
            Change::ProjectUpdated(_) => "project.updated",
            Change::ProjectDeleted(_) => "project.deleted",
        }
    }
}

/// A change and who made it.
#[derive(Debug, Clone)]
pub struct ChangeEvent {
    pub change: Change,
    /// The actor's name (a handle, `token:NAME`, or an integration such as `zendesk`).
    pub actor: String,
    /// Where the change came from (`api`, `telegram`, `zendesk`, `crm`…): an integration
    /// ignores its own changes, so that nothing echoes back and forth.
    pub channel: String,
}

/// Something that wants to hear about changes.
#[async_trait]
pub trait ChangeListener: Send + Sync {
    async fn changed(&self, event: &ChangeEvent);
}

/// The listeners, shared by every clone of the workspace.
#[derive(Clone, Default)]
pub(super) struct Listeners(Arc<RwLock<Vec<Arc<dyn ChangeListener>>>>);

impl Workspace {
    /// Adds a listener; every clone of this workspace announces to it.
    pub fn add_change_listener(&self, listener: Arc<dyn ChangeListener>) {
        if let Ok(mut list) = self.listeners.0.write() {
            list.push(listener);
        }
    }

    /// Tells every listener about `change` made by `actor`.
    pub(super) async fn announce(&self, actor: &Actor, change: Change) {
        let listeners: Vec<Arc<dyn ChangeListener>> = match self.listeners.0.read() {
            Ok(list) => list.clone(),
            Err(_) => return,
        };
        if listeners.is_empty() {
            return;
        }
        let event = ChangeEvent {
            change,
            actor: actor.name.clone(),
            channel: actor.channel.clone(),
        };
        for listener in listeners {
            listener.changed(&event).await;
        }
    }
}
