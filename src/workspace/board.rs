//! The board's read: tasks by status, each column a page of the tasks that match the filters
//! and how many match in all. One grouped count for every column, then one page per column that
//! has any, each a short range scan of an index (`tasks_status_id`), so a board costs the same
//! whether the workspace holds a hundred tasks or a hundred thousand.

use chrono::{DateTime, Utc};

use super::tasks::task_filter;
use super::{Actor, Page, TaskQuery, Workspace, WsResult};
use crate::domain::{Task, TaskStatus};
use crate::store::TaskFilter;

impl Workspace {
    /// The board for `query`: a column per status in order, or only `query.status`'s; each
    /// column holds the matching tasks by id from `query.offset` on (at most `query.limit`) and
    /// the number of all matches. Every role may read it.
    pub async fn board(
        &self,
        actor: &Actor,
        query: &TaskQuery,
        now: DateTime<Utc>,
    ) -> WsResult<Vec<(TaskStatus, Page<Task>)>> {
        let filter = task_filter(actor, query, now)?;
        let counts = self.store.count_tasks_by_status(&filter).await?;
        let statuses = match filter.status {
            Some(status) => vec![status],
            None => TaskStatus::ALL.to_vec(),
        };
        let mut columns = Vec::with_capacity(statuses.len());
        for status in statuses {
            let total = counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
            let items = if total > filter.offset {
                let column = TaskFilter {
                    status: Some(status),
                    ..filter.clone()
                };
                self.store.task_page(&column).await?
            } else {
                Vec::new()
            };
            columns.push((status, Page { items, total }));
        }
        Ok(columns)
    }
}
