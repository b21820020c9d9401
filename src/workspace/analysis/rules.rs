//! The rules of each finding kind: when it applies, how severe it is, its sentence and its
//! figures. Pure functions of the row and `now`.
//!
//! Severities (`N` = `stale_days`):
//! - overdue: high if urgent, 7+ days late, or high priority and 1+ day late; medium if high
//!   priority or 1+ day late; else low.
//! - stale_in_progress: high if urgent, 3N+ days without update, or high priority and 2N+;
//!   medium if high priority or 2N+; else low.
//! - blocked: high if N+ days without update, or urgent and 1+ day; medium if 1+ day or high or
//!   urgent priority; else low.
//! - unassigned_due_soon: high if already overdue, or due within 24 hours with high or urgent
//!   priority; medium if due within 24 hours or high or urgent priority; else low.
//! - project_at_risk: high if the deadline has passed, no working time is left, or the open work
//!   is at least twice the working time left; else medium.
//!
//! Within one priority each severity only grows as a task gets later or staler, so the store's
//! per-priority "oldest first" pages always hold the most severe findings.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::hours::working_hours;
use super::phrases::{due_phrase, hours, label, plural, span, who, working};
use super::{AnalysisOptions, Drawn, Finding, FindingKind, Severity, Subject, DEFAULT_ESTIMATE_HOURS};
use crate::domain::Priority;
use crate::store::{OpenBreach, ProjectWork, TaskSignal};

/// An at-risk project's figures.
#[derive(Debug, Clone)]
pub struct ProjectRisk {
    pub work: ProjectWork,
    /// Working hours until the deadline, times the people involved.
    pub capacity_hours: f64,
    pub deadline_passed: bool,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn hours_of(d: TimeDelta) -> f64 {
    round1(d.num_seconds() as f64 / 3600.0)
}

fn days_of(d: TimeDelta) -> f64 {
    round1(d.num_seconds() as f64 / 86_400.0)
}

fn pressing(p: Priority) -> bool {
    matches!(p, Priority::High | Priority::Urgent)
}

fn task_finding(
    kind: FindingKind,
    severity: Severity,
    task: TaskSignal,
    message: String,
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> Drawn {
    Drawn {
        finding: Finding {
            kind,
            severity,
            task_id: Some(task.id),
            project_id: task.project_id,
            assignee: task.assigned_to.clone(),
            message,
            detail,
        },
        subject: Subject::Task(task),
        at,
    }
}

pub(super) fn overdue_severity(priority: Priority, late: TimeDelta) -> Severity {
    let days = late.num_days();
    if priority == Priority::Urgent || days >= 7 || (priority == Priority::High && days >= 1) {
        Severity::High
    } else if priority == Priority::High || days >= 1 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

pub(super) fn stale_severity(priority: Priority, age: TimeDelta, stale_days: u32) -> Severity {
    let n = i64::from(stale_days);
    let days = age.num_days();
    if priority == Priority::Urgent || days >= 3 * n || (priority == Priority::High && days >= 2 * n) {
        Severity::High
    } else if priority == Priority::High || days >= 2 * n {
        Severity::Medium
    } else {
        Severity::Low
    }
}

pub(super) fn blocked_severity(priority: Priority, age: TimeDelta, stale_days: u32) -> Severity {
    let days = age.num_days();
    if days >= i64::from(stale_days) || (priority == Priority::Urgent && days >= 1) {
        Severity::High
    } else if days >= 1 || pressing(priority) {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// `until_due` is negative once the task is overdue.
pub(super) fn unassigned_severity(priority: Priority, until_due: TimeDelta) -> Severity {
    let within_day = until_due < TimeDelta::hours(24);
    if until_due < TimeDelta::zero() || (within_day && pressing(priority)) {
        Severity::High
    } else if within_day || pressing(priority) {
        Severity::Medium
    } else {
        Severity::Low
    }
}

pub(super) fn overdue(task: TaskSignal, now: DateTime<Utc>) -> Drawn {
    let due = task.due_date.unwrap_or(now);
    let late = now - due;
    let severity = overdue_severity(task.priority, late);
    let message = format!("{} is {} overdue ({})", label(&task), span(late), who(&task));
    let detail = json!({
        "title": task.title, "status": task.status, "priority": task.priority,
        "due_date": due, "hours_overdue": hours_of(late),
    });
    task_finding(FindingKind::Overdue, severity, task, message, detail, due)
}

pub(super) fn stale(task: TaskSignal, now: DateTime<Utc>, options: AnalysisOptions) -> Drawn {
    let age = now - task.updated_at;
    let severity = stale_severity(task.priority, age, options.stale_days);
    let message = format!(
        "{} is in progress but has not been updated for {} ({})",
        label(&task),
        span(age),
        who(&task)
    );
    let detail = json!({
        "title": task.title, "priority": task.priority, "updated_at": task.updated_at,
        "days_since_update": days_of(age), "stale_days": options.stale_days,
    });
    let at = task.updated_at;
    task_finding(FindingKind::StaleInProgress, severity, task, message, detail, at)
}

pub(super) fn blocked(task: TaskSignal, now: DateTime<Utc>, options: AnalysisOptions) -> Drawn {
    let age = now - task.updated_at;
    let severity = blocked_severity(task.priority, age, options.stale_days);
    let message = format!(
        "{} is blocked and has not been updated for {} ({})",
        label(&task),
        span(age),
        who(&task)
    );
    let detail = json!({
        "title": task.title, "priority": task.priority, "updated_at": task.updated_at,
        "days_since_update": days_of(age),
    });
    let at = task.updated_at;
    task_finding(FindingKind::Blocked, severity, task, message, detail, at)
}

pub(super) fn policy_breach(breach: OpenBreach) -> Drawn {
    let severity = if pressing(breach.task.priority) {
        Severity::High
    } else {
        Severity::Medium
    };
    let message = format!(
        "{} breaks a handbook rule: {} ({}; {})",
        label(&breach.task),
        breach.message,
        breach.source,
        who(&breach.task)
    );
    let detail = json!({
        "title": breach.task.title, "rule": breach.rule_id, "rule_message": breach.message,
        "source": breach.source, "reported_at": breach.reported_at,
    });
    let at = breach.reported_at;
    task_finding(
        FindingKind::PolicyBreach,
        severity,
        breach.task,
        message,
        detail,
        at,
    )
}

pub(super) fn unassigned(task: TaskSignal, now: DateTime<Utc>) -> Drawn {
    let due = task.due_date.unwrap_or(now);
    let until_due = due - now;
    let severity = unassigned_severity(task.priority, until_due);
    let message = format!(
        "{} {} and nobody is assigned",
        label(&task),
        due_phrase(until_due)
    );
    let detail = json!({
        "title": task.title, "status": task.status, "priority": task.priority,
        "due_date": due, "hours_until_due": hours_of(until_due),
    });
    task_finding(
        FindingKind::UnassignedDueSoon,
        severity,
        task,
        message,
        detail,
        due,
    )
}

/// The at-risk finding of a project, if its open work does not fit before its deadline.
pub(super) fn project(work: ProjectWork, now: DateTime<Utc>, tz: Tz) -> Option<Drawn> {
    let deadline_passed = work.deadline <= now;
    let working_hours_left = working_hours(now, work.deadline, tz);
    let people = work.assignees.max(1);
    let capacity_hours = working_hours_left * people as f64;
    let remaining = work.remaining_hours;
    if !deadline_passed && remaining <= capacity_hours {
        return None;
    }
    let severity = if deadline_passed || capacity_hours <= 0.0 || remaining >= 2.0 * capacity_hours {
        Severity::High
    } else {
        Severity::Medium
    };
    let day = work.deadline.with_timezone(&tz).format("%Y-%m-%d");
    let message = if deadline_passed {
        format!(
            "Project {} is past its deadline of {day} with {}",
            work.name,
            plural(work.open_tasks, "open task")
        )
    } else {
        format!(
            "Project {} needs about {} of open work but has {} left before its deadline of {day} ({})",
            work.name,
            hours(remaining),
            working(capacity_hours),
            if people == 1 {
                "1 person".to_owned()
            } else {
                format!("{people} people")
            },
        )
    };
    let detail = json!({
        "name": work.name, "deadline": work.deadline, "open_tasks": work.open_tasks,
        "remaining_hours": round1(remaining), "unestimated_tasks": work.unestimated_tasks,
        "default_estimate_hours": DEFAULT_ESTIMATE_HOURS, "people": people,
        "working_hours_left": round1(working_hours_left), "capacity_hours": round1(capacity_hours),
    });
    let at = work.deadline;
    Some(Drawn {
        finding: Finding {
            kind: FindingKind::ProjectAtRisk,
            severity,
            task_id: None,
            project_id: Some(work.id),
            assignee: None,
            message,
            detail,
        },
        subject: Subject::Project(ProjectRisk {
            work,
            capacity_hours,
            deadline_passed,
        }),
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_grow_with_lateness_and_priority() {
        let h = TimeDelta::hours;
        assert_eq!(overdue_severity(Priority::Low, h(5)), Severity::Low);
        assert_eq!(overdue_severity(Priority::Medium, h(30)), Severity::Medium);
        assert_eq!(overdue_severity(Priority::High, h(5)), Severity::Medium);
        assert_eq!(overdue_severity(Priority::High, h(25)), Severity::High);
        assert_eq!(overdue_severity(Priority::Low, h(7 * 24)), Severity::High);
        assert_eq!(overdue_severity(Priority::Urgent, h(1)), Severity::High);

        assert_eq!(stale_severity(Priority::Medium, h(4 * 24), 3), Severity::Low);
        assert_eq!(stale_severity(Priority::Medium, h(6 * 24), 3), Severity::Medium);
        assert_eq!(stale_severity(Priority::Low, h(9 * 24), 3), Severity::High);
        assert_eq!(stale_severity(Priority::High, h(3 * 24), 3), Severity::Medium);
        assert_eq!(stale_severity(Priority::High, h(6 * 24), 3), Severity::High);
        assert_eq!(stale_severity(Priority::Urgent, h(3 * 24), 3), Severity::High);

        assert_eq!(blocked_severity(Priority::Medium, h(2), 3), Severity::Low);
        assert_eq!(blocked_severity(Priority::High, h(2), 3), Severity::Medium);
        assert_eq!(blocked_severity(Priority::Low, h(30), 3), Severity::Medium);
        assert_eq!(blocked_severity(Priority::Urgent, h(30), 3), Severity::High);
        assert_eq!(blocked_severity(Priority::Low, h(3 * 24), 3), Severity::High);

        assert_eq!(unassigned_severity(Priority::Medium, h(30)), Severity::Low);
        assert_eq!(unassigned_severity(Priority::Medium, h(20)), Severity::Medium);
        assert_eq!(unassigned_severity(Priority::High, h(30)), Severity::Medium);
        assert_eq!(unassigned_severity(Priority::Urgent, h(20)), Severity::High);
        assert_eq!(unassigned_severity(Priority::Low, h(-1)), Severity::High);
    }

    fn work(remaining_hours: f64, assignees: i64, deadline: &str) -> ProjectWork {
        ProjectWork {
            id: 3,
            name: "Website".into(),
            deadline: DateTime::parse_from_rfc3339(deadline)
                .unwrap()
                .with_timezone(&Utc),
            open_tasks: 4,
            remaining_hours,
            unestimated_tasks: 1,
            assignees,
        }
    }

    #[test]
    fn projects_at_risk_compare_work_with_working_time() {
        // Monday 2030-01-14 09:00 to Tuesday 17:00: 16 working hours per person.
        let now = DateTime::parse_from_rfc3339("2030-01-14T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let deadline = "2030-01-15T17:00:00Z";
        assert!(project(work(16.0, 1, deadline), now, Tz::UTC).is_none());
        assert!(project(work(30.0, 2, deadline), now, Tz::UTC).is_none());
        let medium = project(work(20.0, 0, deadline), now, Tz::UTC).unwrap().finding;
        assert_eq!(medium.severity, Severity::Medium);
        assert_eq!(
            medium.message,
            "Project Website needs about 20 hours of open work but has 16 working hours left \
             before its deadline of 2030-01-15 (1 person)"
        );
        let high = project(work(70.0, 2, deadline), now, Tz::UTC).unwrap().finding;
        assert_eq!(high.severity, Severity::High);
        assert!(high.message.contains("32 working hours left"), "{}", high.message);
        assert!(high.message.ends_with("(2 people)"), "{}", high.message);
        let passed = project(work(0.0, 1, "2030-01-10T17:00:00Z"), now, Tz::UTC)
            .unwrap()
            .finding;
        assert_eq!(passed.severity, Severity::High);
        assert_eq!(
            passed.message,
            "Project Website is past its deadline of 2030-01-10 with 4 open tasks"
        );
    }
}
