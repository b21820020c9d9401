//! One task: its page (details, why it needs attention, comments, the edit form), and the
//! forms that create, edit, move and comment. Each form is one workspace operation with the
//! signed-in actor, so a guest's form is refused exactly as the API would refuse it.

use axum::extract::Query;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::board::{kind_label, reasons, status_label};
use super::error::{WebError, WebResult};
use super::layout::{page as shell, redirect_with, when, Flash, Frame};
use super::session::{Posted, Signed};
use super::WebState;
use crate::domain::{Priority, TaskStatus};
use crate::workspace::{NewComment, Patch, TaskRequest, TaskUpdate};

fn some(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// `GET /web/tasks/{id}`.
pub async fn page_for(state: &WebState, frame: Frame, id: i64, flash: &Flash) -> WebResult<Response> {
    let actor = &frame.session.actor;
    let now = crate::store::now();
    let task = state.workspace.task(actor, id).await?;
    let comments = state
        .workspace
        .list_comments(actor, Some(id), Default::default())
        .await?;
    let reasons = reasons(state, actor, std::slice::from_ref(&task), now).await?;
    let tz = frame.tz();
    let body = html! {
        (flash.show())
        h2 { "#" (task.id) " " (task.title) }
        dl.facts {
            dt { "Status" } dd { (status_label(task.status)) }
            dt { "Priority" } dd { (task.priority.as_str()) }
            dt { "Assignee" } dd { @match &task.assigned_to { Some(h) => { "@" (h) }, None => { "nobody" } } }
            dt { "Due" } dd { @match task.due_date { Some(d) => { (when(d, tz)) }, None => { "no date" } } }
        }
        @if let Some(list) = reasons.get(&task.id) {
            ul.reasons aria-label="Needs attention" {
                @for finding in list { li { span.kind { (kind_label(finding.kind)) ": " } (finding.message) } }
            }
        }
        @if !task.description.is_empty() { p.description { (task.description) } }
        h2 { "Comments" }
        ol.comments {
            @for c in &comments.items {
                li { strong { (c.author) } " · " (when(c.created_at, tz)) p { (c.content) } }
            }
        }
        form method="post" action={ "/web/tasks/" (task.id) "/comments" } {
            (frame.csrf())
            label for="comment" { "Add a comment" }
            textarea id="comment" name="content" rows="3" required {}
            button type="submit" { "Comment" }
        }
        h2 { "Edit" }
        form.edit method="post" action={ "/web/tasks/" (task.id) } {
            (frame.csrf())
            label { "Title " input name="title" value=(task.title) required maxlength="300"; }
            label { "Description " textarea name="description" rows="3" { (task.description) } }
            label { "Status "
                select name="status" {
                    @for s in TaskStatus::ALL { option value=(s.as_str()) selected[*s == task.status] { (status_label(*s)) } }
                }
            }
            label { "Priority "
                select name="priority" {
                    @for p in Priority::ALL { option value=(p.as_str()) selected[*p == task.priority] { (p.as_str()) } }
                }
            }
            label { "Assignee " input name="assigned_to" value=(task.assigned_to.clone().unwrap_or_default()) placeholder="@handle (empty: nobody)"; }
            label { "Due " input name="due_date" type="date"
                value=(task.due_date.map(|d| d.with_timezone(&tz).format("%Y-%m-%d").to_string()).unwrap_or_default()); }
            button type="submit" { "Save" }
        }
    };
    Ok(shell(&frame, &format!("Task #{}", task.id), body).into_response())
}

pub async fn page(
    State(state): State<WebState>,
    Signed(session): Signed,
    Path(id): Path<i64>,
    Query(flash): Query<Flash>,
) -> WebResult<Response> {
    let frame = Frame::new(&state, session, "board").await?;
    page_for(&state, frame, id, &flash).await
}

#[derive(Debug, Deserialize)]
pub struct NewTaskForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    assigned_to: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    project_id: String,
}

fn project_id(text: &str) -> WebResult<Option<i64>> {
    match some(text) {
        None => Ok(None),
        Some(p) => p
            .parse()
            .map(Some)
            .map_err(|_| WebError::Invalid(format!("project '{p}' is not a project id"))),
    }
}

/// `POST /web/tasks`.
pub async fn create(State(state): State<WebState>, posted: Posted<NewTaskForm>) -> WebResult<Response> {
    let form = posted.form;
    let request = TaskRequest {
        title: form.title,
        priority: some(&form.priority),
        project_id: project_id(&form.project_id)?,
        assigned_to: some(&form.assigned_to).map(|h| h.trim_start_matches('@').to_owned()),
        due_date: some(&form.due_date),
        ..TaskRequest::default()
    };
    let task = state
        .workspace
        .submit_task(&posted.session.actor, request, None)
        .await?;
    Ok(redirect_with("/web", &format!("Created task #{}.", task.id)))
}

#[derive(Debug, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    assigned_to: String,
    #[serde(default)]
    due_date: String,
}

fn patch(text: &str) -> Patch<String> {
    match some(text) {
        Some(v) => Patch::Set(v.trim_start_matches('@').to_owned()),
        None => Patch::Clear,
    }
}

/// `POST /web/tasks/{id}`: every field of the edit form.
pub async fn edit(
    State(state): State<WebState>,
    Path(id): Path<i64>,
    posted: Posted<EditForm>,
) -> WebResult<Response> {
    let form = posted.form;
    let update = TaskUpdate {
        title: Some(form.title),
        description: Some(form.description),
        status: some(&form.status),
        priority: some(&form.priority),
        assigned_to: patch(&form.assigned_to),
        due_date: patch(&form.due_date),
        ..TaskUpdate::default()
    };
    state
        .workspace
        .update_task(&posted.session.actor, id, update)
        .await?;
    Ok(redirect_with(&format!("/web/tasks/{id}"), "Saved."))
}

#[derive(Debug, Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    status: String,
}

/// `POST /web/tasks/{id}/status`.
pub async fn move_to(
    State(state): State<WebState>,
    Path(id): Path<i64>,
    posted: Posted<MoveForm>,
) -> WebResult<Response> {
    let task = state
        .workspace
        .set_task_status(&posted.session.actor, id, &posted.form.status)
        .await?;
    Ok(redirect_with(
        "/web",
        &format!("Moved #{} to {}.", task.id, status_label(task.status)),
    ))
}

#[derive(Debug, Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    content: String,
}

/// `POST /web/tasks/{id}/comments`.
pub async fn comment(
    State(state): State<WebState>,
    Path(id): Path<i64>,
    posted: Posted<CommentForm>,
) -> WebResult<Response> {
    let new = NewComment {
        task_id: id,
        content: posted.form.content,
        author: None,
    };
    state
        .workspace
        .add_comment(&posted.session.actor, new, None)
        .await?;
    Ok(redirect_with(&format!("/web/tasks/{id}"), "Comment added."))
}
