//! The board (`GET /web`): tasks by status for a project, for me or for everyone, filtered by
//! assignee, due date, overdue, priority and text; overdue and at-risk tasks carry the
//! analysis's reasons. Each card has a form to move it (a button per column with JavaScript
//! off; dragging between columns with it on). Not signed in: the sign-in page.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::WebResult;
use super::layout::{flash, page as shell, when, Frame};
use super::session::{current, sign_in_page};
use super::WebState;
use crate::domain::{Priority, Project, Task, TaskStatus};
use crate::workspace::{AnalysisOptions, FindingKind, Paging, TaskQuery};

/// Cards shown per column.
pub const PER_COLUMN: i64 = 100;

/// The board's filters, from the query string (empty fields are no filter).
#[derive(Debug, Default, Deserialize)]
pub struct BoardQuery {
    /// `mine` for my tasks.
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub assignee: String,
    /// A date or RFC 3339: due before it.
    #[serde(default)]
    pub due: String,
    #[serde(default)]
    pub overdue: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub q: String,
    /// What the last form did.
    #[serde(default)]
    pub done: String,
}

fn some(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

impl BoardQuery {
    fn task_query(&self, me: Option<&str>) -> Result<TaskQuery, super::WebError> {
        let project_id = match some(&self.project) {
            Some(p) => Some(
                p.parse::<i64>()
                    .map_err(|_| super::WebError::Invalid(format!("project '{p}' is not a project id")))?,
            ),
            None => None,
        };
        let assigned_to = if self.scope == "mine" {
            me.map(str::to_owned)
        } else {
            some(&self.assignee).map(|a| a.trim_start_matches('@').to_owned())
        };
        Ok(TaskQuery {
            project_id,
            assigned_to,
            due_before: some(&self.due),
            overdue: (!self.overdue.is_empty()).then_some(true),
            priority: some(&self.priority),
            q: some(&self.q),
            limit: Some(PER_COLUMN),
            ..TaskQuery::default()
        })
    }
}

/// Why a task needs attention, per task id, from the analysis.
pub async fn reasons(
    state: &WebState,
    actor: &crate::workspace::Actor,
    now: DateTime<Utc>,
) -> WebResult<(HashMap<i64, Vec<(FindingKind, String)>>, Vec<String>)> {
    let analysis = state
        .workspace
        .analyze(actor, now, AnalysisOptions::default())
        .await?;
    let mut by_task: HashMap<i64, Vec<(FindingKind, String)>> = HashMap::new();
    let mut projects = Vec::new();
    for finding in analysis.findings {
        match finding.task_id {
            Some(id) => by_task
                .entry(id)
                .or_default()
                .push((finding.kind, finding.message)),
            None => projects.push(finding.message),
        }
    }
    Ok((by_task, projects))
}

pub async fn page_handler(state: &WebState, headers: &HeaderMap, query: BoardQuery) -> WebResult<Response> {
    let Some(session) = current(state, headers).await? else {
        return Ok(sign_in_page(state, None, StatusCode::OK));
    };
    let now = crate::store::now();
    let frame = Frame::new(state, session, "board").await?;
    let actor = &frame.session.actor;
    let me = actor.person_id.map(|_| actor.name.as_str());
    let base = query.task_query(me)?;
    let mut columns = Vec::new();
    for status in TaskStatus::ALL {
        let q = TaskQuery {
            status: Some(status.as_str().to_owned()),
            ..base.clone()
        };
        let found = state.workspace.list_tasks(actor, &q, now).await?;
        columns.push((*status, found.items, found.total));
    }
    let (reasons, at_risk) = reasons(state, actor, now).await?;
    let projects = state
        .workspace
        .list_projects(
            actor,
            Paging {
                limit: 500,
                offset: 0,
            },
        )
        .await?
        .items;
    let body = html! {
        (flash(some(&query.done).as_deref()))
        @for risk in &at_risk {
            p.warn role="note" { "At risk: " (risk) }
        }
        (filters(&query, &projects))
        div.board {
            @for (status, tasks, total) in &columns {
                section.column data-status=(status.as_str()) aria-labelledby={ "col-" (status.as_str()) } {
                    h2 id={ "col-" (status.as_str()) } { (status_label(*status)) " " span.count { "(" (total) ")" } }
                    @if *total > tasks.len() as i64 {
                        p.note { "Showing " (tasks.len()) " of " (total) "; narrow the filters to see the rest." }
                    }
                    ul.cards {
                        @for task in tasks {
                            (card(&frame, task, reasons.get(&task.id).map(Vec::as_slice).unwrap_or(&[]), now))
                        }
                    }
                }
            }
        }
        (new_task_form(&frame, &projects))
    };
    Ok(shell(&frame, "Board", body).into_response())
}

/// `GET /web`.
pub async fn page(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<BoardQuery>,
) -> WebResult<Response> {
    page_handler(&state, &headers, query).await
}

pub fn status_label(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Todo => "To do",
        TaskStatus::InProgress => "In progress",
        TaskStatus::Done => "Done",
        TaskStatus::Blocked => "Blocked",
    }
}

fn filters(query: &BoardQuery, projects: &[Project]) -> Markup {
    html! {
        form.filters method="get" action="/web" aria-label="Filters" {
            label { "Show "
                select name="scope" {
                    option value="" selected[query.scope != "mine"] { "everyone's" }
                    option value="mine" selected[query.scope == "mine"] { "mine" }
                }
            }
            label { "Project "
                select name="project" {
                    option value="" { "all" }
                    @for p in projects {
                        option value=(p.id) selected[query.project == p.id.to_string()] { (p.name) }
                    }
                }
            }
            label { "Assignee " input name="assignee" value=(query.assignee) placeholder="@handle" size="10"; }
            label { "Due before " input name="due" type="date" value=(query.due); }
            label { input name="overdue" type="checkbox" value="1" checked[!query.overdue.is_empty()]; " overdue only" }
            label { "Priority "
                select name="priority" {
                    option value="" { "any" }
                    @for p in Priority::ALL {
                        option value=(p.as_str()) selected[query.priority == p.as_str()] { (p.as_str()) }
                    }
                }
            }
            label { "Text " input name="q" type="search" value=(query.q) size="12"; }
            button type="submit" { "Filter" }
            " " a href="/web" { "Clear" }
        }
    }
}

fn card(frame: &Frame, task: &Task, reasons: &[(FindingKind, String)], now: DateTime<Utc>) -> Markup {
    let overdue = task.is_overdue(now);
    let flagged = overdue || !reasons.is_empty();
    html! {
        li.card.flagged[flagged] id={ "task-" (task.id) } data-task=(task.id) draggable="true" {
            a href={ "/web/tasks/" (task.id) } { "#" (task.id) " " (task.title) }
            p.meta {
                span.prio { (task.priority.as_str()) }
                @if let Some(who) = &task.assigned_to { " · @" (who) }
                @if let Some(due) = task.due_date { " · due " (when(due, frame.tz())) }
                @if overdue { " · " strong.late { "overdue" } }
            }
            @if !reasons.is_empty() {
                ul.reasons aria-label="Needs attention" {
                    @for (kind, text) in reasons {
                        li { span.kind { (kind_label(*kind)) ": " } (text) }
                    }
                }
            }
            form.move method="post" action={ "/web/tasks/" (task.id) "/status" } {
                (frame.csrf())
                label { span.sr { "Move #" (task.id) " to " }
                    select name="status" {
                        @for s in TaskStatus::ALL {
                            option value=(s.as_str()) selected[*s == task.status] { (status_label(*s)) }
                        }
                    }
                }
                button type="submit" { "Move" }
            }
        }
    }
}

pub fn kind_label(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Overdue => "Overdue",
        FindingKind::StaleInProgress => "Stale",
        FindingKind::UnassignedDueSoon => "Unassigned",
        FindingKind::ProjectAtRisk => "At risk",
        FindingKind::Blocked => "Blocked",
        FindingKind::PolicyBreach => "Policy",
    }
}

fn new_task_form(frame: &Frame, projects: &[Project]) -> Markup {
    html! {
        section.new aria-labelledby="new-task" {
            h2 id="new-task" { "New task" }
            form method="post" action="/web/tasks" {
                (frame.csrf())
                label { "Title " input name="title" required maxlength="300"; }
                label { "Assignee " input name="assigned_to" placeholder="@handle" size="10"; }
                label { "Due " input name="due_date" type="date"; }
                label { "Priority "
                    select name="priority" {
                        @for p in Priority::ALL {
                            option value=(p.as_str()) selected[*p == Priority::Medium] { (p.as_str()) }
                        }
                    }
                }
                label { "Project "
                    select name="project_id" {
                        option value="" { "none" }
                        @for p in projects { option value=(p.id) { (p.name) } }
                    }
                }
                button type="submit" { "Create" }
            }
        }
    }
}
