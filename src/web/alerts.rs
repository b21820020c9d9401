//! The alerts feed (`/web/alerts`): what the coordinator did and what needs a human, each item
//! linking to its task; acknowledge or snooze an escalation, retry a dead letter, open a
//! proposal. Live: `/web/alerts/stream` (server-sent events) sends the list again whenever it
//! changes, and the page's script swaps it in; without JavaScript, reloading shows the same.
//! The stream sleeps until the store signals that something the feed shows was recorded (see
//! `Workspace::feed_changes`), with a slow poll (`COORDINATOR_WEB_FEED_POLL`) for what other
//! replicas record: an open page costs no database reads while nothing happens.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono_tz::Tz;
use futures::Stream;
use maud::{html, Markup};
use serde::Deserialize;
use tokio::sync::watch;

use super::error::{WebError, WebResult};
use super::layout::redirect_with;
use super::layout::{page as shell, when, Flash, Frame};
use super::session::{Posted, Signed};
use super::WebState;
use crate::workspace::{Feed, Session};

/// The list of items, as the page shows it and the stream sends it.
pub fn feed_list(feed: &Feed, session: &Session, tz: Tz) -> Markup {
    let csrf = html! { input type="hidden" name="csrf" value=(session.csrf); };
    html! {
        @if feed.items.is_empty() {
            p { "Nothing yet: escalations, reminders, policy breaches, proposals and failures will show here." }
        }
        ol.feed {
            @for item in &feed.items {
                @let new = feed.seen_at.is_none_or(|s| item.at > s);
                li.item.new[new].human[item.needs_human] id=(item.key()) {
                    p.head {
                        span.kind { (item.kind.label()) }
                        @if new { " " span.badge { "new" } }
                        " " (when(item.at, tz))
                    }
                    p.title {
                        @match item.task_id {
                            Some(id) => { a href={ "/web/tasks/" (id) } { (item.title) } },
                            None => { (item.title) },
                        }
                    }
                    @if let Some(detail) = &item.detail { p.detail { (detail) } }
                    @if let Some(citation) = &item.citation { p.cite { "Handbook: " cite { (citation) } } }
                    @if let (true, Some(task)) = (item.open_escalation, item.task_id) {
                        div.actions {
                            form method="post" action="/web/alerts/ack" {
                                (csrf) input type="hidden" name="task_id" value=(task);
                                button type="submit" { "Acknowledge" }
                            }
                            form method="post" action="/web/alerts/snooze" {
                                (csrf) input type="hidden" name="task_id" value=(task);
                                label { span.sr { "Snooze for" }
                                    select name="hours" {
                                        option value="1" { "1 hour" }
                                        option value="4" { "4 hours" }
                                        option value="24" selected { "1 day" }
                                    }
                                }
                                button type="submit" { "Snooze" }
                            }
                        }
                    }
                    @if let Some(id) = item.action_id {
                        p { a href={ "/web/approvals#action-" (id) } { "Review proposal #" (id) } }
                    }
                    @if let Some(id) = item.dead_letter_id {
                        form method="post" action={ "/web/deliveries/" (id) "/retry" } {
                            (csrf) button type="submit" { "Retry message #" (id) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /web/alerts`: the feed; reading it marks it read.
pub async fn page(
    State(state): State<WebState>,
    Signed(session): Signed,
    Query(flash): Query<Flash>,
) -> WebResult<Response> {
    let now = crate::store::now();
    let feed = state
        .workspace
        .alert_feed(&session.actor, &session.principal, now)
        .await?;
    state.workspace.mark_feed_read(&session.principal, now).await?;
    let frame = Frame {
        unread: feed.unread,
        session,
        current: "alerts",
    };
    let body = html! {
        (flash.show())
        p.note { span id="unread-count" { (feed.unread) } " unread. This page updates itself while it is open." }
        div id="feed" data-stream="/web/alerts/stream" aria-live="polite" {
            (feed_list(&feed, &frame.session, frame.tz()))
        }
    };
    Ok(shell(&frame, "Alerts", body).into_response())
}

/// Until something the feed shows is recorded in this process, or `poll` passes.
async fn news(changes: &mut watch::Receiver<u64>, poll: Duration) {
    tokio::select! {
        changed = changes.changed() => {
            if changed.is_err() {
                // The store is gone (shutting down): only the poll is left.
                tokio::time::sleep(poll).await;
            }
        }
        () = tokio::time::sleep(poll) => {}
    }
}

/// `GET /web/alerts/stream`: a `feed` event with the unread count and the list, at once (the
/// page may have been rendered before a change the stream would otherwise never see) and then
/// whenever it changes; ends when the session does.
pub async fn stream(
    State(state): State<WebState>,
    Signed(session): Signed,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    struct Watch {
        // Subscribed before the first read, so that nothing recorded after it is missed.
        changes: watch::Receiver<u64>,
        state: WebState,
        session: Session,
        last: Option<String>,
    }
    let start = Watch {
        changes: state.workspace.feed_changes(),
        state,
        session,
        last: None,
    };
    let events = futures::stream::unfold(start, |mut w| async move {
        loop {
            if w.last.is_some() {
                news(&mut w.changes, w.state.feed_poll).await;
            }
            let now = crate::store::now();
            // Signed out (here or everywhere) or expired meanwhile: the stream ends.
            match w.state.workspace.web_session_live(&w.session, now).await {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => tracing::debug!(error = %e, "alerts stream: session check failed"),
            }
            let feed = w
                .state
                .workspace
                .alert_feed(&w.session.actor, &w.session.principal, now)
                .await;
            let print = match &feed {
                Ok(feed) => feed.fingerprint(),
                Err(e) => {
                    tracing::debug!(error = %e, "alerts stream: feed unavailable");
                    // Try again after the next pause.
                    w.last.get_or_insert_with(String::new);
                    continue;
                }
            };
            if w.last.as_deref() == Some(print.as_str()) {
                continue;
            }
            w.last = Some(print);
            let Ok(feed) = feed else { continue };
            let html = feed_list(&feed, &w.session, w.session.actor.timezone).into_string();
            let event = Event::default()
                .event("feed")
                .data(format!("{}\n{}", feed.unread, html));
            return Some((Ok(event), w));
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

#[derive(Debug, Deserialize)]
pub struct TaskForm {
    #[serde(default)]
    task_id: String,
    #[serde(default)]
    hours: String,
}

fn task_id(form: &TaskForm) -> WebResult<i64> {
    form.task_id
        .trim()
        .parse()
        .map_err(|_| WebError::Invalid(format!("'{}' is not a task id", form.task_id.trim())))
}

/// `POST /web/alerts/ack`: stops a task's escalation ladder.
pub async fn acknowledge(State(state): State<WebState>, posted: Posted<TaskForm>) -> WebResult<Response> {
    let id = task_id(&posted.form)?;
    let stopped = state
        .workspace
        .acknowledge_escalation(&posted.session.actor, id, crate::store::now())
        .await?;
    let text = if stopped {
        format!("Acknowledged: the escalation of #{id} stops.")
    } else {
        format!("#{id} has no running escalation.")
    };
    Ok(redirect_with("/web/alerts", &text))
}

/// `POST /web/alerts/snooze`: delays a task's next escalation step.
pub async fn snooze(State(state): State<WebState>, posted: Posted<TaskForm>) -> WebResult<Response> {
    let id = task_id(&posted.form)?;
    let hours: i64 = posted
        .form
        .hours
        .trim()
        .parse()
        .map_err(|_| WebError::Invalid("hours must be a number".into()))?;
    let snoozed = state
        .workspace
        .snooze_escalation(
            &posted.session.actor,
            id,
            chrono::Duration::hours(hours),
            crate::store::now(),
        )
        .await?;
    let text = if snoozed {
        format!("Snoozed the escalation of #{id} for {hours} h.")
    } else {
        format!("#{id} has no running escalation.")
    };
    Ok(redirect_with("/web/alerts", &text))
}
