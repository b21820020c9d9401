//! Delay detection: findings computed from the data alone (no LLM), behind `POST /ai/analyze`,
//! `GET /ai/suggestions` and the reports. Time is a parameter: everything takes `now`.
//!
//! The rules (the severities are in `rules`):
//! - `overdue`: a task that is not done and whose due date has passed.
//! - `stale_in_progress`: a task in progress not updated for `stale_days` (default 3).
//! - `unassigned_due_soon`: an open task with nobody assigned, due within `due_soon_hours`
//!   (default 48) or already overdue.
//! - `blocked`: a blocked task; the longer since its last update, the more severe.
//! - `project_at_risk`: an active project with a deadline whose open work exceeds the working
//!   time left, or whose deadline has passed with open tasks. Open work is the sum over its open
//!   tasks of `time_estimate − time_spent` (never below 0), counting 4 hours for a task without
//!   an estimate. Working time is 8 hours (09:00–17:00 in the workspace's zone) per weekday until
//!   the deadline, times the number of distinct assignees of the open tasks (at least 1).
//!
//! Every rule reads through indexed, bounded queries: per priority, the most severe rows first,
//! at most `FINDINGS_PER_KIND` each, so the work stays flat as the workspace grows; the counts are
//! the totals. Only the `PROJECTS_EXAMINED` active projects with the nearest deadlines are
//! examined.

mod hours;
mod phrases;
mod rules;
mod shown;
mod suggest;

pub use suggest::{Suggestion, SuggestionAction};

use std::cmp::Reverse;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Actor, Workspace, WsResult};
use crate::domain::{Priority, TaskStatus, ValidationError};
use crate::store::TaskSignal;

/// The most findings of one kind in an analysis (the most severe ones).
pub const FINDINGS_PER_KIND: usize = 200;
/// Hours of remaining work assumed for an open task without an estimate.
pub const DEFAULT_ESTIMATE_HOURS: f64 = 4.0;
/// How many active projects with a deadline the at-risk rule examines, nearest deadline first.
pub const PROJECTS_EXAMINED: i64 = 1000;

/// The thresholds of an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct AnalysisOptions {
    /// Days without an update after which a task in progress is stale (1–365, default 3).
    pub stale_days: u32,
    /// Hours ahead in which unassigned work counts as due soon (1–720, default 48).
    pub due_soon_hours: u32,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self {
            stale_days: 3,
            due_soon_hours: 48,
        }
    }
}

impl AnalysisOptions {
    /// Options from user input; absent values take the defaults, out-of-range values name their field.
    pub fn new(stale_days: Option<i64>, due_soon_hours: Option<i64>) -> Result<Self, ValidationError> {
        fn within(field: &str, value: Option<i64>, max: i64, default: u32) -> Result<u32, ValidationError> {
            match value {
                None => Ok(default),
                Some(v) if (1..=max).contains(&v) => Ok(v as u32),
                Some(_) => Err(ValidationError::new(
                    field,
                    format!("must be between 1 and {max}"),
                )),
            }
        }
        let defaults = Self::default();
        Ok(Self {
            stale_days: within("stale_days", stale_days, 365, defaults.stale_days)?,
            due_soon_hours: within("due_soon_hours", due_soon_hours, 720, defaults.due_soon_hours)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Overdue,
    StaleInProgress,
    UnassignedDueSoon,
    ProjectAtRisk,
    Blocked,
    /// A handbook policy rule the task breaks (reported by the scheduler's policy checks).
    PolicyBreach,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

/// One thing that needs attention.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub task_id: Option<i64>,
    pub project_id: Option<i64>,
    /// The assignee's handle.
    pub assignee: Option<String>,
    /// One plain sentence, e.g. "#12 Homepage copy is 3 days overdue (@anna)".
    pub message: String,
    /// The figures behind the finding (kind-specific).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// How many tasks or projects match each rule in all (findings are capped per kind).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct FindingCounts {
    pub overdue: i64,
    pub stale_in_progress: i64,
    pub unassigned_due_soon: i64,
    pub project_at_risk: i64,
    pub blocked: i64,
    pub policy_breach: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Analysis {
    pub generated_at: DateTime<Utc>,
    pub options: AnalysisOptions,
    /// The most findings listed per kind.
    pub limit_per_kind: usize,
    /// All findings, most severe first.
    pub findings: Vec<Finding>,
    pub counts: FindingCounts,
}

/// What a finding was drawn from, for suggestions.
#[derive(Debug, Clone)]
enum Subject {
    Task(TaskSignal),
    Project(rules::ProjectRisk),
}

/// A finding with its subject and its place among the findings of its kind.
#[derive(Debug, Clone)]
struct Drawn {
    finding: Finding,
    subject: Subject,
    /// The rule's time column (due date, last update, deadline): earlier is more pressing.
    at: DateTime<Utc>,
}

impl Drawn {
    fn id(&self) -> i64 {
        self.finding.task_id.or(self.finding.project_id).unwrap_or(0)
    }
}

/// Most severe first, then earliest, then by id; at most `FINDINGS_PER_KIND`.
fn most_severe(mut drawn: Vec<Drawn>) -> Vec<Drawn> {
    drawn.sort_by_key(|d| (Reverse(d.finding.severity), d.at, d.id()));
    drawn.truncate(FINDINGS_PER_KIND);
    drawn
}

const LIMIT: i64 = FINDINGS_PER_KIND as i64;

impl Workspace {
    /// The findings about the workspace at `now`. Every role may read them.
    pub async fn analyze(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        options: AnalysisOptions,
    ) -> WsResult<Analysis> {
        let (drawn, counts) = self.draw(actor, now, options).await?;
        Ok(Analysis {
            generated_at: now,
            options,
            limit_per_kind: FINDINGS_PER_KIND,
            findings: drawn.into_iter().map(|d| d.finding).collect(),
            counts,
        })
    }

    /// Every rule, each kind capped, all findings most severe first (kinds in a fixed order
    /// among equals).
    async fn draw(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        options: AnalysisOptions,
    ) -> WsResult<(Vec<Drawn>, FindingCounts)> {
        let _ = actor; // every role may read
        let mut counts = FindingCounts::default();
        let mut all = Vec::new();

        let mut kind = Vec::new();
        for priority in Priority::ALL.iter().copied() {
            let (rows, total) = self.store.open_tasks_due_before(priority, now, LIMIT).await?;
            counts.overdue += total;
            kind.extend(rows.into_iter().map(|t| rules::overdue(t, now)));
        }
        all.extend(most_severe(kind));

        let mut kind = Vec::new();
        for priority in Priority::ALL.iter().copied() {
            let (rows, total) = self
                .store
                .tasks_untouched_since(TaskStatus::Blocked, priority, now, LIMIT)
                .await?;
            counts.blocked += total;
            kind.extend(rows.into_iter().map(|t| rules::blocked(t, now, options)));
        }
        all.extend(most_severe(kind));

        let cutoff = now - TimeDelta::days(i64::from(options.stale_days));
        let mut kind = Vec::new();
        for priority in Priority::ALL.iter().copied() {
            let (rows, total) = self
                .store
                .tasks_untouched_since(TaskStatus::InProgress, priority, cutoff, LIMIT)
                .await?;
            counts.stale_in_progress += total;
            kind.extend(rows.into_iter().map(|t| rules::stale(t, now, options)));
        }
        all.extend(most_severe(kind));

        let horizon = now + TimeDelta::hours(i64::from(options.due_soon_hours));
        let mut kind = Vec::new();
        for priority in Priority::ALL.iter().copied() {
            let (rows, total) = self
                .store
                .unassigned_tasks_due_before(priority, horizon, LIMIT)
                .await?;
            counts.unassigned_due_soon += total;
            kind.extend(rows.into_iter().map(|t| rules::unassigned(t, now)));
        }
        all.extend(most_severe(kind));

        let at_risk = self.at_risk(now).await?;
        counts.project_at_risk = at_risk.len() as i64;
        all.extend(most_severe(at_risk));

        let (breaches, total) = self.store.open_breaches(LIMIT).await?;
        counts.policy_breach = total;
        all.extend(most_severe(
            breaches.into_iter().map(rules::policy_breach).collect(),
        ));

        // A stable sort keeps the kinds in the order above among equal severities.
        all.sort_by_key(|d| Reverse(d.finding.severity));
        Ok((all, counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_and_name_the_bad_field() {
        assert_eq!(
            AnalysisOptions::new(None, None).unwrap(),
            AnalysisOptions::default()
        );
        assert_eq!(
            AnalysisOptions::new(Some(7), Some(24)).unwrap(),
            AnalysisOptions {
                stale_days: 7,
                due_soon_hours: 24
            }
        );
        assert_eq!(
            AnalysisOptions::new(Some(0), None).unwrap_err().field,
            "stale_days"
        );
        assert_eq!(
            AnalysisOptions::new(Some(366), None).unwrap_err().field,
            "stale_days"
        );
        assert_eq!(
            AnalysisOptions::new(None, Some(-1)).unwrap_err().field,
            "due_soon_hours"
        );
        assert_eq!(
            AnalysisOptions::new(None, Some(721)).unwrap_err().field,
            "due_soon_hours"
        );
    }
}
