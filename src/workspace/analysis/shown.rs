//! The findings of given tasks, the ones a page shows, rather than of the whole workspace: the
//! same rules and sentences as `analyze`, applied to each task's own fields and to the policy
//! breaches reported on those tasks. A board of 100 cards then costs one small query, however
//! large the workspace, and every card has its reasons even where `analyze` caps its kind at
//! the most severe `FINDINGS_PER_KIND`. Projects at risk come from the same bounded aggregate
//! that `analyze` uses.

use std::cmp::Reverse;
use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::{most_severe, rules, AnalysisOptions, Drawn, Finding, DEFAULT_ESTIMATE_HOURS, PROJECTS_EXAMINED};
use crate::domain::{Task, TaskStatus};
use crate::store::TaskSignal;
use crate::workspace::{Actor, Workspace, WsResult};

fn signal(task: &Task) -> TaskSignal {
    TaskSignal {
        id: task.id,
        title: task.title.clone(),
        status: task.status,
        priority: task.priority,
        project_id: task.project_id,
        assigned_to: task.assigned_to.clone(),
        time_estimate: task.time_estimate,
        time_spent: task.time_spent,
        due_date: task.due_date,
        updated_at: task.updated_at,
    }
}

/// The task rules that apply to `task`, in the order `analyze` lists kinds (overdue, blocked,
/// stale, unassigned); each rule's condition is its store query's.
fn task_rules(task: &Task, now: DateTime<Utc>, options: AnalysisOptions) -> Vec<Drawn> {
    let open = task.status != TaskStatus::Done;
    let due_before = |at: DateTime<Utc>| task.due_date.is_some_and(|due| due < at);
    let stale_cutoff = now - TimeDelta::days(i64::from(options.stale_days));
    let horizon = now + TimeDelta::hours(i64::from(options.due_soon_hours));
    let mut drawn = Vec::new();
    if open && due_before(now) {
        drawn.push(rules::overdue(signal(task), now));
    }
    if task.status == TaskStatus::Blocked && task.updated_at <= now {
        drawn.push(rules::blocked(signal(task), now, options));
    }
    if task.status == TaskStatus::InProgress && task.updated_at <= stale_cutoff {
        drawn.push(rules::stale(signal(task), now, options));
    }
    if open && task.assigned_to.is_none() && due_before(horizon) {
        drawn.push(rules::unassigned(signal(task), now));
    }
    drawn
}

impl Workspace {
    /// The findings about each of `tasks` at `now`, per task id, most severe first (kinds in
    /// `analyze`'s order among equals). Tasks without findings are absent. Every role may read
    /// them.
    pub async fn task_findings(
        &self,
        actor: &Actor,
        tasks: &[Task],
        now: DateTime<Utc>,
        options: AnalysisOptions,
    ) -> WsResult<HashMap<i64, Vec<Finding>>> {
        let _ = actor; // every role may read
        let mut drawn: HashMap<i64, Vec<Drawn>> = HashMap::new();
        for task in tasks {
            let found = task_rules(task, now, options);
            if !found.is_empty() {
                drawn.insert(task.id, found);
            }
        }
        let ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
        for breach in self.store.open_breaches_of(&ids).await? {
            let found = rules::policy_breach(breach);
            drawn.entry(found.id()).or_default().push(found);
        }
        Ok(drawn
            .into_iter()
            .map(|(id, mut found)| {
                // Stable: the kinds keep their order among equal severities.
                found.sort_by_key(|d| Reverse(d.finding.severity));
                (id, found.into_iter().map(|d| d.finding).collect())
            })
            .collect())
    }

    /// The active projects whose open work does not fit before their deadline (of the
    /// `PROJECTS_EXAMINED` nearest deadlines), most severe first, as `analyze` finds them.
    pub async fn projects_at_risk(&self, actor: &Actor, now: DateTime<Utc>) -> WsResult<Vec<Finding>> {
        let _ = actor; // every role may read
        let at_risk = most_severe(self.at_risk(now).await?);
        Ok(at_risk.into_iter().map(|d| d.finding).collect())
    }

    /// The at-risk rule over the examined projects (every project it applies to, unsorted).
    pub(super) async fn at_risk(&self, now: DateTime<Utc>) -> WsResult<Vec<Drawn>> {
        let work = self
            .store
            .project_open_work(DEFAULT_ESTIMATE_HOURS, PROJECTS_EXAMINED)
            .await?;
        Ok(work
            .into_iter()
            .filter_map(|w| rules::project(w, now, self.default_tz))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Priority;
    use crate::workspace::FindingKind;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn task(status: TaskStatus, assignee: Option<&str>, due: Option<&str>, updated: &str) -> Task {
        Task {
            id: 7,
            title: "Homepage copy".into(),
            description: String::new(),
            status,
            priority: Priority::Medium,
            project_id: None,
            assigned_to: assignee.map(str::to_owned),
            time_estimate: None,
            time_spent: None,
            due_date: due.map(at),
            labels: Vec::new(),
            recurrence: None,
            created_at: at(updated),
            updated_at: at(updated),
        }
    }

    fn kinds(task: &Task, now: &str) -> Vec<FindingKind> {
        task_rules(task, at(now), AnalysisOptions::default())
            .into_iter()
            .map(|d| d.finding.kind)
            .collect()
    }

    #[test]
    fn each_rule_applies_to_the_task_it_describes() {
        let now = "2030-01-14T09:00:00Z";
        let late = task(TaskStatus::Todo, None, Some("2030-01-10T00:00:00Z"), now);
        assert_eq!(
            kinds(&late, now),
            [FindingKind::Overdue, FindingKind::UnassignedDueSoon]
        );
        let done = task(TaskStatus::Done, None, Some("2030-01-10T00:00:00Z"), now);
        assert!(kinds(&done, now).is_empty());
        let soon = task(TaskStatus::Todo, None, Some("2030-01-15T00:00:00Z"), now);
        assert_eq!(kinds(&soon, now), [FindingKind::UnassignedDueSoon]);
        let later = task(TaskStatus::Todo, None, Some("2030-02-15T00:00:00Z"), now);
        assert!(kinds(&later, now).is_empty());
        let assigned = task(TaskStatus::Todo, Some("anna"), Some("2030-01-15T00:00:00Z"), now);
        assert!(kinds(&assigned, now).is_empty());
        let blocked = task(TaskStatus::Blocked, Some("anna"), None, now);
        assert_eq!(kinds(&blocked, now), [FindingKind::Blocked]);
        let fresh = task(TaskStatus::InProgress, Some("anna"), None, "2030-01-13T09:00:00Z");
        assert!(kinds(&fresh, now).is_empty());
        let stale = task(TaskStatus::InProgress, Some("anna"), None, "2030-01-10T09:00:00Z");
        assert_eq!(kinds(&stale, now), [FindingKind::StaleInProgress]);
        let message = &task_rules(&stale, at(now), AnalysisOptions::default())[0]
            .finding
            .message;
        assert!(
            message.starts_with("#7 Homepage copy is in progress"),
            "{message}"
        );
    }
}
