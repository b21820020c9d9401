//! Recurring tasks: when an occurrence is done or its due date passes, the next one is made,
//! due at the rule's next occurrence after both the last one and now (occurrences missed while
//! a task stayed open are skipped, not piled up). Made once per occurrence: see
//! `Store::recur_task`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{Scheduler, SweepReport};
use crate::domain::Recurrence;
use crate::store::{AuditEntry, StoreError};

/// Tasks looked at per sweep.
const BATCH: i64 = 200;

pub(super) async fn sweep(
    s: &Scheduler,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let by = AuditEntry {
        actor: "scheduler".into(),
        channel: "scheduler".into(),
    };
    for due in s.store.recurrences_due(now, BATCH).await? {
        let tz: Tz = due.timezone.parse().unwrap_or(s.config.timezone);
        let rule = Recurrence::stored(&due.rule);
        let previous = due.due_date.unwrap_or(due.start).max(now);
        let next = rule.next_after(due.start, tz, previous).unwrap_or_else(|e| {
            tracing::warn!(task = due.task_id, error = %e, "a recurring task's rule cannot be read: the series ends");
            None
        });
        if s.store.recur_task(due.task_id, next, now, &by).await?.is_some() {
            report.recurring_tasks_made += 1;
        }
    }
    Ok(())
}
