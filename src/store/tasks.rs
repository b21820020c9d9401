//! Tasks, with their labels (a JSON array column) and assignee (a person, read back as handle).

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::audit::record_audit;
use super::{dispatch, dispatch_write, now, AuditEntry, Store, StoreError, StoreResult};
use crate::domain::{Label, Priority, Task, TaskStatus};

/// Binds the ten writable fields of a task, `$1`…`$10` in the order of [`TaskData`] (labels as
/// JSON), to an insert or an update.
macro_rules! bind_task_data {
    ($query:expr, $data:expr, $labels:expr) => {
        $query
            .bind(&$data.title)
            .bind(&$data.description)
            .bind($data.status.as_str())
            .bind($data.priority.as_str())
            .bind($data.project_id)
            .bind($data.assignee_id)
            .bind($data.time_estimate)
            .bind($data.time_spent)
            .bind($data.due_date)
            .bind($labels)
    };
}

/// The writable fields of a task, already validated.
#[derive(Debug, Clone)]
pub struct TaskData {
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub project_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub time_estimate: Option<f64>,
    pub time_spent: Option<f64>,
    pub due_date: Option<DateTime<Utc>>,
    pub labels: Vec<Label>,
    /// A recurring task's series (written when the task is made; updates keep it).
    pub recurrence: Option<SeriesData>,
}

/// The series a recurring task belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    /// The RRULE value.
    pub rule: String,
    /// The series' DTSTART.
    pub start: DateTime<Utc>,
    /// The zone its occurrences are counted in.
    pub timezone: String,
}

/// Which tasks to list. `now` decides what is overdue.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub project_id: Option<i64>,
    pub status: Option<TaskStatus>,
    /// Assignee handle.
    pub assigned_to: Option<String>,
    pub due_before: Option<DateTime<Utc>>,
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only tasks that are not done.
    pub open_only: bool,
    pub priority: Option<crate::domain::Priority>,
    /// Lower-case text that the title or description contains.
    pub text: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i64,
    title: String,
    description: String,
    status: String,
    priority: String,
    project_id: Option<i64>,
    assigned_to: Option<String>,
    time_estimate: Option<f64>,
    time_spent: Option<f64>,
    due_date: Option<DateTime<Utc>>,
    labels: String,
    recurrence: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;
    fn try_from(r: TaskRow) -> StoreResult<Self> {
        let bad = |e: String| StoreError::Other(format!("task {}: {e}", r.id));
        Ok(Task {
            id: r.id,
            status: r.status.parse().map_err(|e| bad(format!("{e}")))?,
            priority: r.priority.parse().map_err(|e| bad(format!("{e}")))?,
            labels: serde_json::from_str(&r.labels).map_err(|e| bad(e.to_string()))?,
            title: r.title,
            description: r.description,
            project_id: r.project_id,
            assigned_to: r.assigned_to,
            time_estimate: r.time_estimate,
            time_spent: r.time_spent,
            due_date: r.due_date,
            recurrence: r.recurrence,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const SELECT: &str = "SELECT t.id, t.title, t.description, t.status, t.priority, t.project_id, \
    a.handle AS assigned_to, t.time_estimate, t.time_spent, t.due_date, t.labels, t.recurrence, \
    t.created_at, t.updated_at FROM tasks t LEFT JOIN people a ON a.id = t.assignee_id";

/// Counts the tasks matching a filter (the head of [`filtered`]).
const COUNT: &str = "SELECT COUNT(*) FROM tasks t LEFT JOIN people a ON a.id = t.assignee_id";

/// `head` (a select over `tasks t` and their assignee `a`) with the `WHERE` clause of
/// `filter`; the same code serves both engines.
fn filtered<'a, DB>(head: &str, filter: &'a TaskFilter) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    DateTime<Utc>: Encode<'a, DB> + Type<DB>,
{
    let mut qb = QueryBuilder::new(head);
    qb.push(" WHERE 1 = 1");
    if let Some(project_id) = filter.project_id {
        qb.push(" AND t.project_id = ").push_bind(project_id);
    }
    if let Some(status) = filter.status {
        qb.push(" AND t.status = ").push_bind(status.as_str());
    }
    if let Some(handle) = &filter.assigned_to {
        qb.push(" AND a.handle = ").push_bind(handle.as_str());
    }
    if let Some(before) = filter.due_before {
        qb.push(" AND t.due_date < ").push_bind(before);
    }
    if let Some(now) = filter.overdue_at {
        qb.push(" AND t.status <> 'done' AND t.due_date < ")
            .push_bind(now);
    }
    if filter.open_only {
        qb.push(" AND t.status <> 'done'");
    }
    if let Some(priority) = filter.priority {
        qb.push(" AND t.priority = ").push_bind(priority.as_str());
    }
    if let Some(text) = &filter.text {
        let pattern = format!(
            "%{}%",
            text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        );
        qb.push(" AND (lower(t.title) LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR lower(t.description) LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
    qb
}

impl Store {
    /// Creates a task; `origin` is the channel and chat it was created from, if any, so that
    /// escalations can go back there. A `source_key` seen before returns the task it made
    /// then instead of a second one.
    pub async fn create_task(
        &self,
        data: &TaskData,
        origin: Option<(&str, &str)>,
        source_key: Option<&str>,
        by: &AuditEntry,
    ) -> StoreResult<Task> {
        // Written with the other tasks being created at the same moment (`task_writer`).
        let row = super::task_writer::NewTaskRow {
            data: data.clone(),
            origin: origin.map(|(channel, chat)| (channel.to_owned(), chat.to_owned())),
            source_key: source_key.map(str::to_owned),
            by: by.clone(),
        };
        let written = self.tasks.write(row).await?;
        match written.created_at {
            // Just made and unassigned: it is exactly what was written, so it is not read
            // back (an assignee would need their handle looked up).
            Some(at) if data.assignee_id.is_none() => Ok(Task {
                id: written.id,
                title: data.title.clone(),
                description: data.description.clone(),
                status: data.status,
                priority: data.priority,
                project_id: data.project_id,
                assigned_to: None,
                time_estimate: data.time_estimate,
                time_spent: data.time_spent,
                due_date: data.due_date,
                labels: data.labels.clone(),
                recurrence: data.recurrence.as_ref().map(|r| r.rule.clone()),
                created_at: at,
                updated_at: at,
            }),
            _ => self.task(written.id).await,
        }
    }

    pub async fn task(&self, id: i64) -> StoreResult<Task> {
        let sql = format!("{SELECT} WHERE t.id = $1");
        let row = dispatch!(self, |p| sqlx::query_as::<_, TaskRow>(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?;
        row.try_into()
    }

    /// The task's assignee id (the API shows handles; rules need the person).
    pub async fn task_assignee_id(&self, id: i64) -> StoreResult<Option<i64>> {
        let (assignee,): (Option<i64>,) = dispatch!(self, |p| sqlx::query_as(
            "SELECT assignee_id FROM tasks WHERE id = $1"
        )
        .bind(id)
        .fetch_one(p)
        .await)?;
        Ok(assignee)
    }

    /// A page of tasks matching `filter`, by id, without counting them.
    pub async fn task_page(&self, filter: &TaskFilter) -> StoreResult<Vec<Task>> {
        let rows = dispatch!(self, |p| {
            let mut qb = filtered(SELECT, filter);
            qb.push(" ORDER BY t.id LIMIT ")
                .push_bind(filter.limit)
                .push(" OFFSET ")
                .push_bind(filter.offset);
            qb.build_query_as::<TaskRow>().fetch_all(p).await?
        });
        rows.into_iter().map(Task::try_from).collect()
    }

    /// How many tasks match `filter` (paging aside), per status; statuses without any are
    /// absent.
    pub async fn count_tasks_by_status(&self, filter: &TaskFilter) -> StoreResult<Vec<(TaskStatus, i64)>> {
        let rows: Vec<(String, i64)> = dispatch!(self, |p| {
            let mut qb = filtered(
                "SELECT t.status, COUNT(*) FROM tasks t LEFT JOIN people a ON a.id = t.assignee_id",
                filter,
            );
            qb.push(" GROUP BY t.status");
            qb.build_query_as().fetch_all(p).await?
        });
        rows.into_iter()
            .map(|(status, n)| {
                let status = status
                    .parse()
                    .map_err(|e| StoreError::Other(format!("task status {status}: {e}")))?;
                Ok((status, n))
            })
            .collect()
    }

    /// A page of tasks matching `filter`, by id, and the number of all matches.
    pub async fn list_tasks(&self, filter: &TaskFilter) -> StoreResult<(Vec<Task>, i64)> {
        tokio::try_join!(self.task_page(filter), self.count_tasks(filter))
    }

    /// How many tasks match `filter`, paging aside.
    pub async fn count_tasks(&self, filter: &TaskFilter) -> StoreResult<i64> {
        let (total,): (i64,) = dispatch!(self, |p| filtered(COUNT, filter)
            .build_query_as()
            .fetch_one(p)
            .await?);
        Ok(total)
    }

    /// Replaces the writable fields of task `id`; `action` names the change for the audit log.
    pub async fn update_task(
        &self,
        id: i64,
        data: &TaskData,
        action: &str,
        by: &AuditEntry,
    ) -> StoreResult<Task> {
        let labels = serde_json::to_string(&data.labels).map_err(|e| StoreError::Other(e.to_string()))?;
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let done = bind_task_data!(
                sqlx::query(
                    "UPDATE tasks SET title = $1, description = $2, status = $3, priority = $4, \
                     project_id = $5, assignee_id = $6, time_estimate = $7, time_spent = $8, \
                     due_date = $9, labels = $10, updated_at = $11 WHERE id = $12",
                ),
                data,
                &labels
            )
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let detail = serde_json::json!({"status": data.status, "assignee_id": data.assignee_id});
            record_audit!(tx, by, action, "task", id, detail);
            tx.commit().await?;
        });
        self.task(id).await
    }

    pub async fn delete_task(&self, id: i64, by: &AuditEntry) -> StoreResult<()> {
        self.delete_audited(super::audit::Deletable::Task, id, by).await
    }
}
