//! The facts about the work an agent turn begins with: how many tasks are open and overdue,
//! and the speaker's own open tasks (ids and dates only), read in one statement, since every
//! turn asks.

use chrono::{DateTime, Utc};

use super::{dispatch, Store, StoreError, StoreResult};
use crate::domain::{Priority, TaskStatus};

/// What [`Store::work_facts`] read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkFacts {
    /// Tasks not done.
    pub open: i64,
    /// Of them, those due before the moment asked about.
    pub overdue: i64,
    /// Of them, the person's.
    pub theirs: i64,
    /// The first of the person's open tasks, oldest first.
    pub first_of_theirs: Vec<OpenTask>,
}

/// One of a person's open tasks, without its title (which may come from a ticket or a CRM).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenTask {
    pub id: i64,
    pub status: TaskStatus,
    pub priority: Priority,
    pub due_date: Option<DateTime<Utc>>,
}

type Row = (
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
);

impl Store {
    /// The workspace's open and overdue counts at `now`, and, for `person` (none: 0 and none),
    /// how many open tasks they have and the first `limit` of them.
    pub async fn work_facts(
        &self,
        person: Option<i64>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<WorkFacts> {
        // The counts are one row; the person's tasks join it (none: one row of NULLs).
        const SQL: &str = "SELECT c.open, c.overdue, c.theirs, t.id, t.status, t.priority, t.due_date \
            FROM (SELECT COUNT(*) AS open, COUNT(CASE WHEN due_date < $1 THEN 1 END) AS overdue, \
             COUNT(CASE WHEN assignee_id = $2 THEN 1 END) AS theirs FROM tasks WHERE status <> 'done') c \
            LEFT JOIN (SELECT id, status, priority, due_date FROM tasks \
             WHERE assignee_id = $2 AND status <> 'done' ORDER BY id LIMIT $3) t ON 1 = 1 \
            ORDER BY t.id";
        let rows: Vec<Row> = dispatch!(self, |p| sqlx::query_as(SQL)
            .bind(now)
            .bind(person)
            .bind(limit)
            .fetch_all(p)
            .await)?;
        let mut facts = WorkFacts::default();
        for (open, overdue, theirs, id, status, priority, due_date) in rows {
            (facts.open, facts.overdue, facts.theirs) = (open, overdue, theirs);
            let (Some(id), Some(status), Some(priority)) = (id, status, priority) else {
                continue;
            };
            let bad = |what: &str| StoreError::Other(format!("task {id} has an unknown {what}"));
            facts.first_of_theirs.push(OpenTask {
                id,
                status: status.parse().map_err(|_| bad("status"))?,
                priority: priority.parse().map_err(|_| bad("priority"))?,
                due_date,
            });
        }
        Ok(facts)
    }
}
