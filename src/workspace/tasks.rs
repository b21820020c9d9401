//! Task operations.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::handover::Handover;
use super::{Actor, Change, Origin, Page, Paging, Patch, Workspace, WorkspaceError, WsResult};
use crate::domain::{
    non_blank, parse_due_date, parse_hours, Handle, Label, Priority, Recurrence, Task, TaskStatus, TaskTitle,
    ValidationError,
};
use crate::store::{TaskData, TaskFilter};

/// What [`Workspace::change_task_status`] did.
#[derive(Debug, Clone)]
pub enum StatusChange {
    /// The task, with its new status.
    Changed(Task),
    /// The task had that status already.
    Unchanged(Task),
}

/// A new task as the API, the agent's tools and the CRM mapping send it: text, checked by
/// [`TaskRequest::validate`] into a [`NewTask`].
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    /// Not blank, at most 300 characters.
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// todo (default), in_progress, done, blocked
    #[serde(default)]
    #[schema(pattern = "^(todo|in_progress|done|blocked)$")]
    pub status: Option<String>,
    /// low, medium (default), high, urgent
    #[serde(default)]
    #[schema(pattern = "^(low|medium|high|urgent)$")]
    pub priority: Option<String>,
    #[serde(default)]
    pub project_id: Option<i64>,
    /// A person's handle.
    #[serde(default)]
    pub assigned_to: Option<String>,
    #[serde(default)]
    pub time_estimate: Option<f64>,
    #[serde(default)]
    pub time_spent: Option<f64>,
    /// RFC 3339, or a date (end of that day in the actor's zone).
    #[serde(default)]
    pub due_date: Option<String>,
    #[serde(default)]
    pub labels: Option<Vec<Label>>,
    /// A recurring task: an RFC 5545 RRULE value (daily, weekly, monthly or yearly), e.g.
    /// `FREQ=MONTHLY;BYMONTHDAY=1`. The series starts at `due_date` (else at the end of today);
    /// the task is due at its first occurrence, and the next one is made when it is done or due.
    #[serde(default)]
    pub recurrence: Option<String>,
}

impl TaskRequest {
    /// Checks every field; dates without a time are the end of that day in `tz`.
    pub fn validate(self, tz: chrono_tz::Tz) -> Result<NewTask, ValidationError> {
        Ok(NewTask {
            title: TaskTitle::parse(&self.title)?,
            description: self.description.unwrap_or_default(),
            status: match self.status.as_deref() {
                Some(s) => TaskStatus::parse_field(s, "status")?,
                None => TaskStatus::Todo,
            },
            priority: match self.priority.as_deref() {
                Some(p) => Priority::parse_field(p, "priority")?,
                None => Priority::Medium,
            },
            project_id: self.project_id,
            assigned_to: non_blank(self.assigned_to.as_deref())
                .map(|h| Handle::parse_field(&h, "assigned_to"))
                .transpose()?,
            time_estimate: parse_hours("time_estimate", self.time_estimate)?,
            time_spent: parse_hours("time_spent", self.time_spent)?,
            due_date: self
                .due_date
                .as_deref()
                .map(|d| parse_due_date(d, tz, "due_date"))
                .transpose()?,
            labels: labels(self.labels)?,
            recurrence: non_blank(self.recurrence.as_deref())
                .map(|r| Recurrence::parse_rule(&r, "recurrence"))
                .transpose()?,
        })
    }
}

/// A new task, every field already valid (from [`TaskRequest::validate`], a chat command or an
/// integration).
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub project_id: Option<i64>,
    /// Must be a person's handle (checked when the task is made).
    pub assigned_to: Option<Handle>,
    pub time_estimate: Option<f64>,
    pub time_spent: Option<f64>,
    pub due_date: Option<DateTime<Utc>>,
    pub labels: Vec<Label>,
    /// Makes it a recurring task.
    pub recurrence: Option<Recurrence>,
}

impl NewTask {
    /// A task with `title` and the defaults: todo, medium priority, nothing else.
    pub fn titled(title: TaskTitle) -> Self {
        Self {
            title,
            description: String::new(),
            status: TaskStatus::Todo,
            priority: Priority::Medium,
            project_id: None,
            assigned_to: None,
            time_estimate: None,
            time_spent: None,
            due_date: None,
            labels: Vec::new(),
            recurrence: None,
        }
    }
}

/// A partial update: absent fields are kept, `null` clears a field that may be empty.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub project_id: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub assigned_to: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub time_estimate: Patch<f64>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub time_spent: Patch<f64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub due_date: Patch<String>,
    #[serde(default)]
    pub labels: Option<Vec<Label>>,
}

/// Filters and paging for listing tasks.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    pub project_id: Option<i64>,
    /// todo, in_progress, done, blocked
    #[param(pattern = "^(todo|in_progress|done|blocked)$")]
    pub status: Option<String>,
    /// Assignee handle.
    #[param(pattern = "^@?[A-Za-z0-9_.-]{1,32}$")]
    pub assigned_to: Option<String>,
    /// RFC 3339 or a date.
    pub due_before: Option<String>,
    /// `true`: only tasks past their due date and not done.
    pub overdue: Option<bool>,
    /// `true`: only tasks that are not done.
    pub open: Option<bool>,
    /// low, medium, high, urgent
    #[param(pattern = "^(low|medium|high|urgent)$")]
    pub priority: Option<String>,
    /// Words to look for in titles and descriptions (case-insensitive).
    pub q: Option<String>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

fn labels(list: Option<Vec<Label>>) -> Result<Vec<Label>, ValidationError> {
    let list = list.unwrap_or_default();
    if list.len() > 20 {
        return Err(ValidationError::new("labels", "at most 20 labels"));
    }
    list.into_iter().map(Label::validate).collect()
}

impl Workspace {
    pub async fn list_tasks(
        &self,
        actor: &Actor,
        query: &TaskQuery,
        now: DateTime<Utc>,
    ) -> WsResult<Page<Task>> {
        let _ = actor; // every role may read
        let filter = task_filter(actor, query, now)?;
        let (items, total) = self.store.list_tasks(&filter).await?;
        Ok(Page { items, total })
    }

    /// How many tasks match `query`, paging aside.
    pub async fn count_tasks(&self, actor: &Actor, query: &TaskQuery, now: DateTime<Utc>) -> WsResult<i64> {
        let filter = task_filter(actor, query, now)?;
        Ok(self.store.count_tasks(&filter).await?)
    }
}

/// The store's filter for `query`, each field checked and named when invalid; `now` decides
/// what is overdue.
pub(super) fn task_filter(actor: &Actor, query: &TaskQuery, now: DateTime<Utc>) -> WsResult<TaskFilter> {
    let paging = Paging::new(query.limit, query.offset)?;
    Ok(TaskFilter {
        project_id: query.project_id,
        status: query
            .status
            .as_deref()
            .map(|s| TaskStatus::parse_field(s, "status"))
            .transpose()?,
        assigned_to: query
            .assigned_to
            .as_deref()
            .map(|h| Handle::parse_field(h, "assigned_to").map(Handle::into_inner))
            .transpose()?,
        due_before: query
            .due_before
            .as_deref()
            .map(|d| parse_due_date(d, actor.timezone, "due_before"))
            .transpose()?,
        overdue_at: query.overdue.unwrap_or(false).then_some(now),
        open_only: query.open.unwrap_or(false),
        priority: query
            .priority
            .as_deref()
            .map(|p| Priority::parse_field(p, "priority"))
            .transpose()?,
        text: non_blank(query.q.as_deref()).map(|q| q.to_lowercase()),
        limit: paging.limit,
        offset: paging.offset,
    })
}

impl Workspace {
    pub async fn task(&self, actor: &Actor, id: i64) -> WsResult<Task> {
        let _ = actor;
        self.store
            .task(id)
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("task {id} does not exist")))
    }

    /// The stored fields of task `id`, as the starting point of an update.
    async fn current_data(&self, actor: &Actor, id: i64) -> WsResult<TaskData> {
        let current = self.task(actor, id).await?;
        self.data_of(current).await
    }

    /// A task's fields as the store writes them.
    async fn data_of(&self, current: Task) -> WsResult<TaskData> {
        let id = current.id;
        Ok(TaskData {
            title: current.title,
            description: current.description,
            status: current.status,
            priority: current.priority,
            project_id: current.project_id,
            assignee_id: self.store.task_assignee_id(id).await?,
            time_estimate: current.time_estimate,
            time_spent: current.time_spent,
            due_date: current.due_date,
            labels: current.labels,
            recurrence: None,
        })
    }

    /// Resolves an assignee handle to a person id; an unknown handle is invalid input.
    async fn assignee_id(&self, handle: &str, field: &str) -> WsResult<i64> {
        let handle = Handle::parse_field(handle, field)?;
        match self.store.person_by_handle(handle.as_str()).await {
            Ok(person) => Ok(person.id),
            Err(crate::store::StoreError::NotFound) => {
                Err(ValidationError::new(field, super::unknown_handle(handle.as_str())).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn check_project(&self, project_id: i64) -> WsResult<()> {
        match self.store.project(project_id).await {
            Ok(_) => Ok(()),
            Err(crate::store::StoreError::NotFound) => {
                Err(ValidationError::new("project_id", format!("project {project_id} does not exist")).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a task from its wire form: the permission is checked before the fields.
    pub async fn submit_task(
        &self,
        actor: &Actor,
        request: TaskRequest,
        origin: Option<&Origin>,
    ) -> WsResult<Task> {
        actor.require(actor.can_write(), "create tasks")?;
        let new = request.validate(actor.timezone)?;
        self.create_task(actor, new, origin).await
    }

    /// Creates a task. `origin` is the chat message it came from, if any: escalations go back
    /// to that chat, and the same message processed twice creates one task.
    pub async fn create_task(&self, actor: &Actor, new: NewTask, origin: Option<&Origin>) -> WsResult<Task> {
        actor.require(actor.can_write(), "create tasks")?;
        let assignee_id = match &new.assigned_to {
            Some(h) => Some(self.assignee_id(h.as_str(), "assigned_to").await?),
            None => None,
        };
        // A task made in a project's chat belongs to that project, unless it names another.
        let project_id = match (new.project_id, origin) {
            (None, Some(origin)) => self.store.project_for_chat(&origin.channel, &origin.chat).await?,
            (project_id, _) => project_id,
        };
        let (due_date, recurrence) = match &new.recurrence {
            Some(rule) => {
                let (first, series) =
                    super::recurring::series(rule, new.due_date, actor.timezone, crate::store::now())?;
                (Some(first), Some(series))
            }
            None => (new.due_date, None),
        };
        let data = TaskData {
            title: new.title.into_inner(),
            description: new.description,
            status: new.status,
            priority: new.priority,
            project_id,
            assignee_id,
            time_estimate: new.time_estimate,
            time_spent: new.time_spent,
            due_date,
            labels: new.labels,
            recurrence,
        };
        if let Some(project_id) = data.project_id {
            self.check_project(project_id).await?;
        }
        let chat = origin.map(|o| (o.channel.as_str(), o.chat.as_str()));
        let source_key = origin.map(|o| o.source_key.as_str());
        let task = self
            .store
            .create_task(&data, chat, source_key, &actor.audit())
            .await?;
        let handover = Handover {
            task: &task,
            before: None,
            after: assignee_id,
            origin,
        };
        self.tell_assignee(actor, handover, crate::store::now()).await;
        self.announce(actor, Change::TaskCreated(task.clone())).await;
        Ok(task)
    }

    pub async fn update_task(&self, actor: &Actor, id: i64, update: TaskUpdate) -> WsResult<Task> {
        actor.require(actor.can_write(), "change tasks")?;
        let mut data = self.current_data(actor, id).await?;
        let before = data.status;
        let assignee_before = data.assignee_id;
        if let Some(title) = update.title {
            data.title = TaskTitle::parse(&title)?.into_inner();
        }
        if let Some(description) = update.description {
            data.description = description;
        }
        if let Some(status) = update.status {
            data.status = TaskStatus::parse_field(&status, "status")?;
        }
        if let Some(priority) = update.priority {
            data.priority = Priority::parse_field(&priority, "priority")?;
        }
        if let Patch::Set(project_id) = update.project_id {
            self.check_project(project_id).await?;
        }
        data.project_id = update.project_id.apply(data.project_id);
        data.assignee_id = match update.assigned_to {
            Patch::Keep => data.assignee_id,
            Patch::Clear => None,
            Patch::Set(handle) => Some(self.assignee_id(&handle, "assigned_to").await?),
        };
        data.time_estimate = match update.time_estimate {
            Patch::Set(h) => parse_hours("time_estimate", Some(h))?,
            other => other.apply(data.time_estimate),
        };
        data.time_spent = match update.time_spent {
            Patch::Set(h) => parse_hours("time_spent", Some(h))?,
            other => other.apply(data.time_spent),
        };
        data.due_date = match update.due_date {
            Patch::Keep => data.due_date,
            Patch::Clear => None,
            Patch::Set(d) => Some(parse_due_date(&d, actor.timezone, "due_date")?),
        };
        if let Some(list) = update.labels {
            data.labels = labels(Some(list))?;
        }
        let task = self
            .store
            .update_task(id, &data, "task.update", &actor.audit())
            .await?;
        let handover = Handover {
            task: &task,
            before: assignee_before,
            after: data.assignee_id,
            origin: None,
        };
        self.tell_assignee(actor, handover, crate::store::now()).await;
        let change = Change::TaskUpdated {
            task: task.clone(),
            before,
        };
        self.announce(actor, change).await;
        Ok(task)
    }

    /// Changes only the status (`PATCH /api/tasks/{id}/status`, `/done`, `/status`).
    pub async fn set_task_status(&self, actor: &Actor, id: i64, status: &str) -> WsResult<Task> {
        let status = TaskStatus::parse_field(status, "status")?;
        actor.require(actor.can_write(), "change tasks")?;
        let current = self.task(actor, id).await?;
        self.write_status(actor, current, status).await
    }

    /// Sets a task's status unless it has that status already (a repeated `/done`, a second
    /// tap on a button): then nothing is written or announced.
    pub async fn change_task_status(
        &self,
        actor: &Actor,
        id: i64,
        status: TaskStatus,
    ) -> WsResult<StatusChange> {
        let current = self.task(actor, id).await?;
        if current.status == status {
            return Ok(StatusChange::Unchanged(current));
        }
        actor.require(actor.can_write(), "change tasks")?;
        let task = self.write_status(actor, current, status).await?;
        Ok(StatusChange::Changed(task))
    }

    async fn write_status(&self, actor: &Actor, current: Task, status: TaskStatus) -> WsResult<Task> {
        let id = current.id;
        let current = self.data_of(current).await?;
        let before = current.status;
        let data = TaskData { status, ..current };
        let task = self
            .store
            .update_task(id, &data, "task.status", &actor.audit())
            .await?;
        let change = Change::TaskUpdated {
            task: task.clone(),
            before,
        };
        self.announce(actor, change).await;
        Ok(task)
    }

    /// Deleting is for admins: members mark work done instead.
    pub async fn delete_task(&self, actor: &Actor, id: i64) -> WsResult<()> {
        actor.require(actor.is_admin(), "delete tasks")?;
        let hashes = self.task_file_hashes(id).await?;
        self.store
            .delete_task(id, &actor.audit())
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("task {id} does not exist")))?;
        self.drop_task_files(id, &hashes).await;
        self.announce(actor, Change::TaskDeleted(id)).await;
        Ok(())
    }
}
