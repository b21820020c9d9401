//! The reads behind delay detection. Each query selects only the rows one rule looks at, for one
//! priority at a time, in the order of the rule's time column and with a `LIMIT`, so that it is a
//! short range scan of an index from `0006_analysis_indexes.sql` whatever the size of the
//! workspace. Counts use the same index ranges. The rules themselves live in `workspace`.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::{dispatch, Store, StoreError, StoreResult};
use crate::domain::{Priority, TaskStatus};

/// The fields of an open task that the delay rules and their messages need.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSignal {
    pub id: i64,
    pub title: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub project_id: Option<i64>,
    /// The assignee's handle.
    pub assigned_to: Option<String>,
    pub time_estimate: Option<f64>,
    pub time_spent: Option<f64>,
    pub due_date: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The open work of an active project with a deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectWork {
    pub id: i64,
    pub name: String,
    pub deadline: DateTime<Utc>,
    pub open_tasks: i64,
    /// Σ max(estimate − spent, 0) over open tasks, with `default_estimate` for tasks without one.
    pub remaining_hours: f64,
    /// Open tasks without an estimate (counted with the default).
    pub unestimated_tasks: i64,
    /// Distinct assignees of the open tasks.
    pub assignees: i64,
}

#[derive(sqlx::FromRow)]
struct SignalRow {
    id: i64,
    title: String,
    status: String,
    priority: String,
    project_id: Option<i64>,
    assigned_to: Option<String>,
    time_estimate: Option<f64>,
    time_spent: Option<f64>,
    due_date: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<SignalRow> for TaskSignal {
    type Error = StoreError;
    fn try_from(r: SignalRow) -> StoreResult<Self> {
        let bad = |e: String| StoreError::Other(format!("task {}: {e}", r.id));
        Ok(TaskSignal {
            id: r.id,
            status: r.status.parse().map_err(|e| bad(format!("{e}")))?,
            priority: r.priority.parse().map_err(|e| bad(format!("{e}")))?,
            title: r.title,
            project_id: r.project_id,
            assigned_to: r.assigned_to,
            time_estimate: r.time_estimate,
            time_spent: r.time_spent,
            due_date: r.due_date,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct WorkRow {
    id: i64,
    name: String,
    deadline: DateTime<Utc>,
    open_tasks: i64,
    remaining_hours: f64,
    unestimated_tasks: i64,
    assignees: i64,
}

const SIGNAL: &str = "SELECT t.id, t.title, t.status, t.priority, t.project_id, a.handle AS assigned_to, \
    t.time_estimate, t.time_spent, t.due_date, t.updated_at \
    FROM tasks t LEFT JOIN people a ON a.id = t.assignee_id";

// The `status <> 'done'` and `assignee_id IS NULL` terms are written literally, as in the partial
// indexes, so that both engines recognise the index as usable. `$1` is the priority, `$2` the time.
const OPEN_DUE: &str = "t.status <> 'done' AND t.priority = $1 AND t.due_date < $2";
const UNASSIGNED_DUE: &str =
    "t.assignee_id IS NULL AND t.status <> 'done' AND t.priority = $1 AND t.due_date < $2";
// `$1` the status, `$2` the priority, `$3` the time.
const UNTOUCHED: &str = "t.status = $1 AND t.priority = $2 AND t.updated_at <= $3";

const PROJECT_WORK: &str = "SELECT p.id, p.name, p.deadline, COUNT(*) AS open_tasks, \
    SUM(CASE WHEN t.time_estimate IS NULL THEN $1 \
             WHEN t.time_estimate > COALESCE(t.time_spent, 0.0) \
                 THEN t.time_estimate - COALESCE(t.time_spent, 0.0) \
             ELSE 0.0 END) AS remaining_hours, \
    SUM(CASE WHEN t.time_estimate IS NULL THEN 1 ELSE 0 END) AS unestimated_tasks, \
    COUNT(DISTINCT t.assignee_id) AS assignees \
    FROM projects p JOIN tasks t ON t.project_id = p.id \
    WHERE t.status <> 'done' AND p.id IN (SELECT id FROM projects \
        WHERE status = 'active' AND deadline IS NOT NULL ORDER BY deadline, id LIMIT $2) \
    GROUP BY p.id, p.name, p.deadline ORDER BY p.deadline, p.id";

/// A policy breach the scheduler reported on a task that is still open.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenBreach {
    pub task: TaskSignal,
    pub rule_id: String,
    pub message: String,
    /// `file.md › Heading` of the rule.
    pub source: String,
    pub reported_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct BreachRow {
    #[sqlx(flatten)]
    task: SignalRow,
    rule_id: String,
    message: Option<String>,
    source: Option<String>,
    reported_at: DateTime<Utc>,
}

fn into_signals(rows: Vec<SignalRow>) -> StoreResult<Vec<TaskSignal>> {
    rows.into_iter().map(TaskSignal::try_from).collect()
}

const BREACH_SELECT: &str = "SELECT t.id, t.title, t.status, t.priority, t.project_id, \
    a.handle AS assigned_to, t.time_estimate, t.time_spent, t.due_date, t.updated_at, \
    b.rule_id, b.message, b.source, b.reported_at \
    FROM policy_breaches b JOIN tasks t ON t.id = b.task_id \
    LEFT JOIN people a ON a.id = t.assignee_id";

fn into_breaches(rows: Vec<BreachRow>) -> StoreResult<Vec<OpenBreach>> {
    rows.into_iter()
        .map(|r| {
            Ok(OpenBreach {
                task: TaskSignal::try_from(r.task)?,
                message: r.message.unwrap_or_else(|| format!("breaks rule {}", r.rule_id)),
                source: r.source.unwrap_or_default(),
                rule_id: r.rule_id,
                reported_at: r.reported_at,
            })
        })
        .collect()
}

impl Store {
    /// Reported policy breaches of open tasks, oldest report first (at most `limit`), and how
    /// many there are in all.
    pub async fn open_breaches(&self, limit: i64) -> StoreResult<(Vec<OpenBreach>, i64)> {
        let select = format!(
            "{BREACH_SELECT} WHERE t.status <> 'done' ORDER BY b.reported_at, t.id, b.rule_id LIMIT $1"
        );
        let count = "SELECT COUNT(*) FROM policy_breaches b JOIN tasks t ON t.id = b.task_id \
            WHERE t.status <> 'done'";
        let (rows, (total,)) = dispatch!(self, |p| {
            let rows = sqlx::query_as::<_, BreachRow>(&select)
                .bind(limit)
                .fetch_all(p)
                .await?;
            let total: (i64,) = sqlx::query_as(count).fetch_one(p).await?;
            (rows, total)
        });
        Ok((into_breaches(rows)?, total))
    }

    /// The reported policy breaches of those of `task_ids` that are open, oldest report first.
    pub async fn open_breaches_of(&self, task_ids: &[i64]) -> StoreResult<Vec<OpenBreach>> {
        if task_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = dispatch!(self, |p| {
            let mut qb = QueryBuilder::new(BREACH_SELECT);
            qb.push(" WHERE t.status <> 'done' AND b.task_id IN (");
            let mut ids = qb.separated(", ");
            for id in task_ids {
                ids.push_bind(*id);
            }
            qb.push(") ORDER BY b.reported_at, t.id, b.rule_id");
            qb.build_query_as::<BreachRow>().fetch_all(p).await?
        });
        into_breaches(rows)
    }

    /// Tasks of `priority` matching `condition` (one of the due-date conditions), earliest due
    /// first (at most `limit`), and the number of all matches.
    async fn due_signals(
        &self,
        condition: &str,
        priority: Priority,
        before: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<(Vec<TaskSignal>, i64)> {
        let select = format!("{SIGNAL} WHERE {condition} ORDER BY t.due_date, t.id LIMIT $3");
        let count = format!("SELECT COUNT(*) FROM tasks t WHERE {condition}");
        let (rows, (total,)) = dispatch!(self, |p| {
            let rows = sqlx::query_as::<_, SignalRow>(&select)
                .bind(priority.as_str())
                .bind(before)
                .bind(limit)
                .fetch_all(p)
                .await?;
            let total: (i64,) = sqlx::query_as(&count)
                .bind(priority.as_str())
                .bind(before)
                .fetch_one(p)
                .await?;
            (rows, total)
        });
        Ok((into_signals(rows)?, total))
    }

    /// Open tasks of `priority` due before `before`, earliest due first (at most `limit`), and
    /// the number of all of them.
    pub async fn open_tasks_due_before(
        &self,
        priority: Priority,
        before: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<(Vec<TaskSignal>, i64)> {
        self.due_signals(OPEN_DUE, priority, before, limit).await
    }

    /// Unassigned open tasks of `priority` due before `before`, earliest due first.
    pub async fn unassigned_tasks_due_before(
        &self,
        priority: Priority,
        before: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<(Vec<TaskSignal>, i64)> {
        self.due_signals(UNASSIGNED_DUE, priority, before, limit).await
    }

    /// Tasks in `status` of `priority` last updated at or before `cutoff`, least recently
    /// updated first (at most `limit`), and the number of all of them.
    pub async fn tasks_untouched_since(
        &self,
        status: TaskStatus,
        priority: Priority,
        cutoff: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<(Vec<TaskSignal>, i64)> {
        let select = format!("{SIGNAL} WHERE {UNTOUCHED} ORDER BY t.updated_at, t.id LIMIT $4");
        let count = format!("SELECT COUNT(*) FROM tasks t WHERE {UNTOUCHED}");
        let (rows, (total,)) = dispatch!(self, |p| {
            let rows = sqlx::query_as::<_, SignalRow>(&select)
                .bind(status.as_str())
                .bind(priority.as_str())
                .bind(cutoff)
                .bind(limit)
                .fetch_all(p)
                .await?;
            let total: (i64,) = sqlx::query_as(&count)
                .bind(status.as_str())
                .bind(priority.as_str())
                .bind(cutoff)
                .fetch_one(p)
                .await?;
            (rows, total)
        });
        Ok((into_signals(rows)?, total))
    }

    /// The open work of the `max_projects` active projects with the nearest deadlines (passed
    /// deadlines first); projects without open tasks are left out.
    pub async fn project_open_work(
        &self,
        default_estimate: f64,
        max_projects: i64,
    ) -> StoreResult<Vec<ProjectWork>> {
        let rows = dispatch!(self, |p| sqlx::query_as::<_, WorkRow>(PROJECT_WORK)
            .bind(default_estimate)
            .bind(max_projects)
            .fetch_all(p)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|r| ProjectWork {
                id: r.id,
                name: r.name,
                deadline: r.deadline,
                open_tasks: r.open_tasks,
                remaining_hours: r.remaining_hours,
                unestimated_tasks: r.unestimated_tasks,
                assignees: r.assignees,
            })
            .collect())
    }
}
