//! Suggestions: one next step per task or project that has findings, most severe first.
//!
//! For a task the first of these that applies wins: `assign` (due soon or overdue with nobody
//! assigned), `follow_up` (blocked: ask what blocks it), `split_or_reestimate` (stale or overdue
//! with its whole estimate spent), `follow_up` (stale: ask the assignee for an update) or
//! `update_status` (stale with nobody assigned: back to todo or assign it), `move_deadline`
//! (overdue). For a project at risk: `split_or_reestimate` (work exceeds the time left) or
//! `move_deadline` (deadline passed).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

use super::phrases::{due_phrase, hours, label, span, working};
use super::rules::ProjectRisk;
use super::{AnalysisOptions, Drawn, FindingKind, Severity, Subject};
use crate::store::TaskSignal;
use crate::workspace::{Actor, Workspace, WsResult};

/// The most suggestions returned.
pub const MAX_SUGGESTIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionAction {
    Assign,
    UpdateStatus,
    SplitOrReestimate,
    MoveDeadline,
    FollowUp,
    /// Bring the task in line with a handbook rule it breaks.
    FollowPolicy,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Suggestion {
    pub action: SuggestionAction,
    /// The most severe finding behind the suggestion.
    pub severity: Severity,
    pub task_id: Option<i64>,
    pub project_id: Option<i64>,
    /// One plain sentence, e.g. "Ask @anna for an update on #4 API client: …".
    pub message: String,
}

impl Workspace {
    /// Next steps derived from the findings at `now` (default thresholds). Every role may read them.
    pub async fn suggestions(&self, actor: &Actor, now: DateTime<Utc>) -> WsResult<Vec<Suggestion>> {
        let (drawn, _) = self.draw(actor, now, AnalysisOptions::default()).await?;
        Ok(suggest(&drawn, now, self.default_tz))
    }
}

fn suggest(drawn: &[Drawn], now: DateTime<Utc>, tz: Tz) -> Vec<Suggestion> {
    let mut kinds: HashMap<i64, Vec<FindingKind>> = HashMap::new();
    for d in drawn {
        if let Subject::Task(task) = &d.subject {
            kinds.entry(task.id).or_default().push(d.finding.kind);
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    // The findings are most severe first, so a task's first finding carries its top severity.
    for d in drawn {
        let severity = d.finding.severity;
        let (action, message) = match &d.subject {
            Subject::Project(risk) => for_project(risk, tz),
            Subject::Task(task) if d.finding.kind == FindingKind::PolicyBreach => {
                // Another finding about the task says more; a breach alone gets its own advice.
                if kinds[&task.id].iter().any(|k| *k != FindingKind::PolicyBreach) || !seen.insert(task.id) {
                    continue;
                }
                let rule = d.finding.detail["rule_message"]
                    .as_str()
                    .unwrap_or("a handbook rule");
                let source = d.finding.detail["source"].as_str().unwrap_or_default();
                (
                    SuggestionAction::FollowPolicy,
                    format!(
                        "Bring {} in line with the handbook: {rule} ({source})",
                        label(task)
                    ),
                )
            }
            Subject::Task(task) => {
                if !seen.insert(task.id) {
                    continue;
                }
                for_task(task, &kinds[&task.id], now)
            }
        };
        out.push(Suggestion {
            action,
            severity,
            task_id: d.finding.task_id,
            project_id: d.finding.project_id,
            message,
        });
        if out.len() == MAX_SUGGESTIONS {
            break;
        }
    }
    out
}

/// "12" or "7.5".
fn number(h: f64) -> String {
    let rounded = (h * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

fn for_task(task: &TaskSignal, kinds: &[FindingKind], now: DateTime<Utc>) -> (SuggestionAction, String) {
    let has = |k: FindingKind| kinds.contains(&k);
    let name = label(task);
    let quiet = span(now - task.updated_at);
    let due = task.due_date.map(|d| due_phrase(d - now));
    let over_budget = match (task.time_estimate, task.time_spent) {
        (Some(estimate), Some(spent)) if estimate > 0.0 && spent >= estimate => Some((spent, estimate)),
        _ => None,
    };
    match (&task.assigned_to, due) {
        (None, Some(due)) if has(FindingKind::UnassignedDueSoon) || has(FindingKind::Overdue) => {
            let message = format!("Assign {name}: it {due} and nobody is assigned");
            return (SuggestionAction::Assign, message);
        }
        _ => {}
    }
    if has(FindingKind::Blocked) {
        let message = match &task.assigned_to {
            Some(handle) => format!("Ask @{handle} what is blocking {name}: no update for {quiet}"),
            None => format!("Find out what is blocking {name} and assign it: no update for {quiet}"),
        };
        return (SuggestionAction::FollowUp, message);
    }
    if let Some((spent, estimate)) = over_budget {
        if has(FindingKind::StaleInProgress) || has(FindingKind::Overdue) {
            let message = format!(
                "Re-estimate or split {name}: {} of {} estimated hours are spent",
                number(spent),
                number(estimate)
            );
            return (SuggestionAction::SplitOrReestimate, message);
        }
    }
    if has(FindingKind::StaleInProgress) {
        return match &task.assigned_to {
            Some(handle) => (
                SuggestionAction::FollowUp,
                format!("Ask @{handle} for an update on {name}: in progress with no update for {quiet}"),
            ),
            None => (
                SuggestionAction::UpdateStatus,
                format!(
                    "Set {name} back to todo or assign it: in progress with nobody assigned and no \
                     update for {quiet}"
                ),
            ),
        };
    }
    let late = task.due_date.map(|d| span(now - d)).unwrap_or_default();
    let message = match &task.assigned_to {
        Some(handle) => {
            format!("Agree a new due date for {name} with @{handle}, or finish it: it is {late} overdue")
        }
        None => format!("Move the due date of {name} or finish it: it is {late} overdue"),
    };
    (SuggestionAction::MoveDeadline, message)
}

fn for_project(risk: &ProjectRisk, tz: Tz) -> (SuggestionAction, String) {
    let work = &risk.work;
    let day = work.deadline.with_timezone(&tz).format("%Y-%m-%d");
    if risk.deadline_passed {
        let tasks = if work.open_tasks == 1 {
            "its open task".to_owned()
        } else {
            format!("its {} open tasks", work.open_tasks)
        };
        let message = format!(
            "Move the deadline of project {} ({day} has passed) or close {tasks}",
            work.name
        );
        (SuggestionAction::MoveDeadline, message)
    } else {
        let message = format!(
            "Re-estimate or split the open work of project {}, or move its deadline ({day}): about {} \
             of work for {} left",
            work.name,
            hours(work.remaining_hours),
            working(risk.capacity_hours)
        );
        (SuggestionAction::SplitOrReestimate, message)
    }
}
