//! The board (`GET /web`): tasks by status for a project, for me or for everyone, filtered by
//! assignee, due date, overdue, priority and text; overdue and at-risk tasks carry the
//! analysis's reasons. Each column shows its first `PER_COLUMN` cards and, when there are more,
//! a link to that column alone (`?status=…&offset=…`), paged by `PER_PAGE`: a page costs the
//! same however many tasks match. The reasons are worked out for the cards shown only. Each
//! card has a form to move it (a button per column with JavaScript off; dragging between
//! columns with it on). Not signed in: the sign-in page.

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
use crate::workspace::{AnalysisOptions, Finding, FindingKind, Page, Paging, TaskQuery};

/// Cards shown per column on the whole board.
pub const PER_COLUMN: i64 = 25;
/// Cards shown on one column's page (`?status=…`).
pub const PER_PAGE: i64 = 50;

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
    /// One column alone, paged.
    #[serde(default)]
    pub status: String,
    /// Where that column's page starts.
    #[serde(default)]
    pub offset: String,
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
        let status = some(&self.status);
        let offset =
            match (&status, some(&self.offset)) {
                (Some(_), Some(o)) => o.parse::<i64>().ok().filter(|o| *o >= 0).ok_or_else(|| {
                    super::WebError::Invalid(format!("offset '{o}' is not a number of tasks"))
                })?,
                _ => 0,
            };
        Ok(TaskQuery {
            project_id,
            assigned_to,
            due_before: some(&self.due),
            overdue: (!self.overdue.is_empty()).then_some(true),
            priority: some(&self.priority),
            q: some(&self.q),
            limit: Some(if status.is_some() { PER_PAGE } else { PER_COLUMN }),
            offset: Some(offset),
            status,
            ..TaskQuery::default()
        })
    }

    /// `/web?…` with these filters (and `extra`), for links that keep them.
    fn link(&self, extra: &[(&str, String)]) -> String {
        let mut pairs: Vec<(&str, String)> = [
            ("scope", &self.scope),
            ("project", &self.project),
            ("assignee", &self.assignee),
            ("due", &self.due),
            ("overdue", &self.overdue),
            ("priority", &self.priority),
            ("q", &self.q),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, v.trim().to_owned()))
        .collect();
        pairs.extend(extra.iter().cloned());
        match serde_urlencoded::to_string(&pairs) {
            Ok(query) if !query.is_empty() => format!("/web?{query}"),
            _ => "/web".to_owned(),
        }
    }
}

/// Why each task needs attention, per task id: the analysis's findings about `tasks`.
pub async fn reasons(
    state: &WebState,
    actor: &crate::workspace::Actor,
    tasks: &[Task],
    now: DateTime<Utc>,
) -> WebResult<HashMap<i64, Vec<Finding>>> {
    Ok(state
        .workspace
        .task_findings(actor, tasks, now, AnalysisOptions::default())
        .await?)
}

pub async fn page_handler(state: &WebState, headers: &HeaderMap, query: BoardQuery) -> WebResult<Response> {
    let Some(session) = current(state, headers).await? else {
        return Ok(sign_in_page(state, None, StatusCode::OK));
    };
    let now = crate::store::now();
    let frame = Frame::new(state, session, "board").await?;
    let actor = &frame.session.actor;
    let me = actor.person_id.map(|_| actor.name.as_str());
    let asked = query.task_query(me)?;
    let columns = state.workspace.board(actor, &asked, now).await?;
    let shown: Vec<Task> = columns
        .iter()
        .flat_map(|(_, page)| page.items.iter().cloned())
        .collect();
    let reasons = reasons(state, actor, &shown, now).await?;
    let at_risk = state.workspace.projects_at_risk(actor, now).await?;
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
    let offset = asked.offset.unwrap_or(0);
    let body = html! {
        (flash(some(&query.done).as_deref()))
        @for risk in &at_risk {
            p.warn role="note" { "At risk: " (risk.message) }
        }
        (filters(&query, &projects))
        @if asked.status.is_some() {
            p { a href=(query.link(&[])) { "Back to every column" } }
        }
        div.board.single[asked.status.is_some()] {
            @for (status, page) in &columns {
                (column(&frame, &query, *status, page, offset, &reasons, now))
            }
        }
        (new_task_form(&frame, &projects))
    };
    Ok(shell(&frame, "Board", body).into_response())
}

/// One column: its cards, and the links to the cards it does not show.
fn column(
    frame: &Frame,
    query: &BoardQuery,
    status: TaskStatus,
    page: &Page<Task>,
    offset: i64,
    reasons: &HashMap<i64, Vec<Finding>>,
    now: DateTime<Utc>,
) -> Markup {
    let single = some(&query.status).is_some();
    let shown = page.items.len() as i64;
    let key = status.as_str();
    let at = |offset: i64| query.link(&[("status", key.to_owned()), ("offset", offset.to_string())]);
    html! {
        section.column data-status=(key) aria-labelledby={ "col-" (key) } {
            h2 id={ "col-" (key) } { (status_label(status)) " " span.count { "(" (page.total) ")" } }
            @if single && shown > 0 {
                p.note { "Showing " (offset + 1) "–" (offset + shown) " of " (page.total) "." }
            } @else if single && page.total > 0 {
                p.note { "No more cards from here on." }
            }
            ul.cards {
                @for task in &page.items {
                    (card(frame, task, reasons.get(&task.id).map(Vec::as_slice).unwrap_or(&[]), now))
                }
            }
            nav.more aria-label={ "More in " (status_label(status)) } {
                @if single && offset > 0 {
                    a rel="prev" href=(at((offset - PER_PAGE).max(0))) { "Earlier" }
                    " "
                }
                @if offset + shown < page.total {
                    a rel="next" href=(at(offset + shown)) {
                        "More (" (page.total - offset - shown) " not shown)"
                    }
                }
            }
        }
    }
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

fn card(frame: &Frame, task: &Task, reasons: &[Finding], now: DateTime<Utc>) -> Markup {
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
                    @for finding in reasons {
                        li { span.kind { (kind_label(finding.kind)) ": " } (finding.message) }
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
