//! Report and policy queries: counts over a period (whole workspace or one project), per-person
//! breakdowns, the series behind the weekly chart, and the tasks a policy rule looks at.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::super::{dispatch, dispatch_write, Store, StoreResult};

/// The numbers of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct ReportCounts {
    /// Tasks marked done within the period.
    pub done: i64,
    /// Tasks not done.
    pub open: i64,
    /// Open tasks past their due date.
    pub overdue: i64,
    /// Open tasks with more than 80% of their estimate spent.
    pub at_risk: i64,
    /// Open tasks due within the next period.
    pub upcoming: i64,
    /// Hours spent on open tasks and tasks done within the period.
    pub time_spent: f64,
    /// Hours estimated for the same tasks.
    pub time_estimate: f64,
}

/// One person's share of a report.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct PersonCounts {
    pub handle: String,
    pub done: i64,
    pub open: i64,
    pub overdue: i64,
}

/// What the report's chart is drawn from (see `Store::chart_counts`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartCounts {
    pub all: i64,
    pub done_now: i64,
    /// Per mark: tasks created after it.
    pub created_after: Vec<i64>,
    /// Per mark: tasks done after it.
    pub done_after: Vec<i64>,
}

/// A task as a policy rule sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PolicyTask {
    pub id: i64,
    pub title: String,
    pub status: String,
    pub priority: String,
    pub labels: String,
    pub assignee_id: Option<i64>,
    pub project_id: Option<i64>,
    pub due_date: Option<DateTime<Utc>>,
    pub time_estimate: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub origin_channel: Option<String>,
    pub origin_chat: Option<String>,
    /// The newest comment, if any.
    pub last_comment_at: Option<DateTime<Utc>>,
}

const POLICY_SELECT: &str = "SELECT t.id, t.title, t.status, t.priority, t.labels, t.assignee_id, \
    t.project_id, t.due_date, t.time_estimate, t.created_at, t.updated_at, t.origin_channel, \
    t.origin_chat, (SELECT MAX(c.created_at) FROM comments c WHERE c.task_id = t.id) AS last_comment_at \
    FROM tasks t";

/// The first `n` columns of `row`, each a count.
fn counts<R: sqlx::Row>(row: &R, n: usize) -> Result<Vec<i64>, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    (0..n).map(|i| row.try_get::<i64, _>(i)).collect()
}

/// `AND t.project_id = $n` when a project is given (the number is the placeholder's).
fn project_clause(project: Option<i64>, n: usize) -> String {
    match project {
        Some(_) => format!(" AND t.project_id = ${n}"),
        None => String::new(),
    }
}

impl Store {
    /// The report numbers for the period `[from, to)`, `now` deciding what is overdue.
    pub async fn report_counts(
        &self,
        project: Option<i64>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        horizon: DateTime<Utc>,
    ) -> StoreResult<ReportCounts> {
        let sql = format!(
            "SELECT \
             COALESCE(SUM(CASE WHEN t.status = 'done' AND t.updated_at >= $1 AND t.updated_at < $2 THEN 1 ELSE 0 END), 0) AS done, \
             COALESCE(SUM(CASE WHEN t.status <> 'done' THEN 1 ELSE 0 END), 0) AS open, \
             COALESCE(SUM(CASE WHEN t.status <> 'done' AND t.due_date < $2 THEN 1 ELSE 0 END), 0) AS overdue, \
             COALESCE(SUM(CASE WHEN t.status <> 'done' AND t.time_estimate > 0 \
                 AND COALESCE(t.time_spent, 0) > 0.8 * t.time_estimate THEN 1 ELSE 0 END), 0) AS at_risk, \
             COALESCE(SUM(CASE WHEN t.status <> 'done' AND t.due_date >= $2 AND t.due_date < $3 THEN 1 ELSE 0 END), 0) AS upcoming, \
             COALESCE(SUM(COALESCE(t.time_spent, 0.0)), 0.0) AS time_spent, \
             COALESCE(SUM(COALESCE(t.time_estimate, 0.0)), 0.0) AS time_estimate \
             FROM tasks t WHERE (t.status <> 'done' OR (t.updated_at >= $1 AND t.updated_at < $2)){}",
            project_clause(project, 4)
        );
        Ok(dispatch!(self, |p| {
            let mut q = sqlx::query_as::<_, ReportCounts>(&sql)
                .bind(from)
                .bind(to)
                .bind(horizon);
            if let Some(id) = project {
                q = q.bind(id);
            }
            q.fetch_one(p).await
        })?)
    }

    /// Per assignee: done within `[from, to)`, open, and overdue at `to`.
    pub async fn report_people(
        &self,
        project: Option<i64>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<PersonCounts>> {
        let sql = format!(
            "SELECT a.handle, \
             COALESCE(SUM(CASE WHEN t.status = 'done' AND t.updated_at >= $1 AND t.updated_at < $2 THEN 1 ELSE 0 END), 0) AS done, \
             COALESCE(SUM(CASE WHEN t.status <> 'done' THEN 1 ELSE 0 END), 0) AS open, \
             COALESCE(SUM(CASE WHEN t.status <> 'done' AND t.due_date < $2 THEN 1 ELSE 0 END), 0) AS overdue \
             FROM tasks t JOIN people a ON a.id = t.assignee_id \
             WHERE (t.status <> 'done' OR (t.updated_at >= $1 AND t.updated_at < $2)){} \
             GROUP BY a.handle ORDER BY a.handle",
            project_clause(project, 3)
        );
        Ok(dispatch!(self, |p| {
            let mut q = sqlx::query_as::<_, PersonCounts>(&sql).bind(from).bind(to);
            if let Some(id) = project {
                q = q.bind(id);
            }
            q.fetch_all(p).await
        })?)
    }

    /// For the chart: all tasks and done tasks now, and for each of `marks` (none before
    /// `since`) how many tasks were created after it and how many were done after it. Counted
    /// in the database: a week in which thousands of tasks were made reads three rows.
    pub async fn chart_counts(
        &self,
        project: Option<i64>,
        since: DateTime<Utc>,
        marks: &[DateTime<Utc>],
    ) -> StoreResult<ChartCounts> {
        let clause = project_clause(project, 2);
        let first_mark = if project.is_some() { 3 } else { 2 };
        let after = |column: &str| {
            (0..marks.len())
                .map(|i| {
                    format!(
                        "COALESCE(SUM(CASE WHEN {column} > ${} THEN 1 ELSE 0 END), 0)",
                        first_mark + i
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let totals = format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END), 0) \
             FROM tasks t WHERE $1 = $1{clause}"
        );
        let created = format!(
            "SELECT {} FROM tasks t WHERE t.created_at >= $1{clause}",
            after("t.created_at")
        );
        let done = format!(
            "SELECT {} FROM tasks t WHERE t.status = 'done' AND t.updated_at >= $1{clause}",
            after("t.updated_at")
        );
        dispatch!(self, |p| {
            let mut q = sqlx::query_as::<_, (i64, i64)>(&totals).bind(since);
            let mut c = sqlx::query(&created).bind(since);
            let mut d = sqlx::query(&done).bind(since);
            if let Some(id) = project {
                q = q.bind(id);
                c = c.bind(id);
                d = d.bind(id);
            }
            for mark in marks {
                c = c.bind(*mark);
                d = d.bind(*mark);
            }
            let (all, done_now) = q.fetch_one(p).await?;
            let created_after = counts(&c.fetch_one(p).await?, marks.len())?;
            let done_after = counts(&d.fetch_one(p).await?, marks.len())?;
            Ok(ChartCounts {
                all,
                done_now,
                created_after,
                done_after,
            })
        })
    }

    /// Open tasks changed since `since` (for the require rules), at most `limit`.
    pub async fn policy_tasks_changed(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<PolicyTask>> {
        let sql = format!(
            "{POLICY_SELECT} WHERE t.updated_at >= $1 AND t.status <> 'done' ORDER BY t.updated_at LIMIT $2"
        );
        Ok(dispatch!(self, |p| sqlx::query_as::<_, PolicyTask>(&sql)
            .bind(since)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Open tasks with `column` (`priority` or `status`) equal to `value` and no comment since
    /// `cutoff`, created (or, for status, last changed) before it, at most `limit`.
    pub async fn policy_tasks_silent(
        &self,
        column: &str,
        value: &str,
        cutoff: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<PolicyTask>> {
        // The column names come from our own rule parser, never from input.
        let (column, since) = match column {
            "status" => ("t.status", "t.updated_at"),
            _ => ("t.priority", "t.created_at"),
        };
        let sql = format!(
            "{POLICY_SELECT} WHERE {column} = $1 AND t.status <> 'done' AND {since} <= $2 \
             AND NOT EXISTS (SELECT 1 FROM comments c WHERE c.task_id = t.id AND c.created_at > $2) \
             ORDER BY t.id LIMIT $3"
        );
        Ok(dispatch!(self, |p| sqlx::query_as::<_, PolicyTask>(&sql)
            .bind(value)
            .bind(cutoff)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    pub async fn policy_task(&self, id: i64) -> StoreResult<PolicyTask> {
        let sql = format!("{POLICY_SELECT} WHERE t.id = $1");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, PolicyTask>(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// Marks (task, rule) as reported; `false` when it was reported before.
    pub async fn record_breach(
        &self,
        task_id: i64,
        rule: &str,
        message: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let fresh = dispatch_write!(self, |p| sqlx::query(
            "INSERT INTO policy_breaches (task_id, rule_id, reported_at, message, source) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
        )
        .bind(task_id)
        .bind(rule)
        .bind(now)
        .bind(message)
        .bind(source)
        .execute(p)
        .await
        .map(|r| r.rows_affected() == 1))?;
        if fresh {
            self.feed_changed();
        }
        Ok(fresh)
    }

    /// Forgets a reported breach (the task complies again), so a later one is reported anew.
    pub async fn clear_breach(&self, task_id: i64, rule: &str) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "DELETE FROM policy_breaches WHERE task_id = $1 AND rule_id = $2"
        )
        .bind(task_id)
        .bind(rule)
        .execute(p)
        .await
        .map(|_| ()))?;
        self.feed_changed();
        Ok(())
    }

    /// The newest audited actor of a task (who changed it last), if any.
    pub async fn task_last_actor(&self, task_id: i64) -> StoreResult<Option<String>> {
        Ok(dispatch!(self, |p| sqlx::query_scalar::<_, String>(
            "SELECT actor FROM audit_log WHERE entity = 'task' AND entity_id = $1 ORDER BY id DESC LIMIT 1"
        )
        .bind(task_id.to_string())
        .fetch_optional(p)
        .await)?)
    }
}
