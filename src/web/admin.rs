//! Approvals (the agent's proposals, approved or rejected with the reader's own rights) and
//! deliveries (what was received and sent per channel, queue depths, dead letters with their
//! reasons and a retry button).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::{WebError, WebResult};
use super::layout::{page as shell, redirect_with, when, Flash, Frame};
use super::session::{Posted, Signed};
use super::WebState;
use crate::domain::ActionStatus;
use crate::store::{HistoryFilter, QueueCounts};
use crate::workspace::QueueStatus;

/// `GET /web/approvals`.
pub async fn approvals(
    State(state): State<WebState>,
    Signed(session): Signed,
    Query(flash): Query<Flash>,
) -> WebResult<Response> {
    let frame = Frame::new(&state, session, "approvals").await?;
    let actor = &frame.session.actor;
    let tz = frame.tz();
    let waiting = state
        .workspace
        .list_actions(actor, Some(ActionStatus::Proposed))
        .await?;
    let decided: Vec<_> = state
        .workspace
        .list_actions(actor, None)
        .await?
        .into_iter()
        .filter(|a| a.status != ActionStatus::Proposed)
        .take(20)
        .collect();
    let body = html! {
        (flash.show())
        @if waiting.is_empty() { p { "No proposal is waiting." } }
        ol.proposals {
            @for a in &waiting {
                li id={ "action-" (a.id) } {
                    h2 { "#" (a.id) " " (a.summary) }
                    p.meta { "Proposed by " (a.proposed_by) " · " (when(a.created_at, tz)) " · " code { (a.action_type) } }
                    details { summary { "What it would change" } pre { (serde_json::to_string_pretty(&a.data).unwrap_or_default()) } }
                    div.actions {
                        form method="post" action={ "/web/approvals/" (a.id) "/approve" } {
                            (frame.csrf()) button type="submit" { "Approve #" (a.id) }
                        }
                        form method="post" action={ "/web/approvals/" (a.id) "/reject" } {
                            (frame.csrf()) button.secondary type="submit" { "Reject #" (a.id) }
                        }
                    }
                }
            }
        }
        @if !decided.is_empty() {
            h2 { "Decided recently" }
            ul {
                @for a in &decided {
                    li { "#" (a.id) " " (a.summary) " — " strong { (a.status) }
                        @if let Some(by) = &a.decided_by { " by " (by) }
                        @if let Some(result) = &a.result { ": " (result) }
                    }
                }
            }
        }
    };
    Ok(shell(&frame, "Approvals", body).into_response())
}

/// `POST /web/approvals/{id}/approve|reject`.
pub async fn decide(
    State(state): State<WebState>,
    Path((id, decision)): Path<(i64, String)>,
    posted: Posted<Flash>,
) -> WebResult<Response> {
    let actor = &posted.session.actor;
    let action = match decision.as_str() {
        "approve" => state.workspace.approve_action(actor, id).await?,
        "reject" => state.workspace.reject_action(actor, id).await?,
        _ => return Err(WebError::NotFound("approve or reject, nothing else".into())),
    };
    let mut text = format!("#{} is {} now.", action.id, action.status);
    if let Some(result) = &action.result {
        text.push_str(&format!(" {result}"));
    }
    Ok(redirect_with("/web/approvals", &text))
}

#[derive(Debug, Default, Deserialize)]
pub struct DeliveriesQuery {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    done: String,
}

fn counts(name: &str, c: &QueueCounts) -> Markup {
    html! {
        tr { th scope="row" { (name) } td { (c.pending) } td { (c.processing) } td { (c.done) } td { (c.dead) } }
    }
}

fn dead_letters(frame: &Frame, what: &str, status: &QueueStatus, retry: bool) -> Markup {
    html! {
        @if !status.dead_letters.is_empty() {
            h2 { "Given up: " (what) }
            ul.dead {
                @for d in &status.dead_letters {
                    li id={ "dead-" (d.id) } {
                        strong { "#" (d.id) " " (d.channel) } " chat " code { (d.chat_id) }
                        " · " (d.attempts) " attempts · " (when(d.created_at, frame.tz()))
                        @if let Some(e) = &d.last_error { p.detail { "Why: " (e) } }
                        @if retry {
                            form method="post" action={ "/web/deliveries/" (d.id) "/retry" } {
                                (frame.csrf()) button type="submit" { "Retry #" (d.id) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The text of a stored message, for the history table.
fn preview(payload: &str, text: Option<&str>) -> String {
    let text = text.map(str::to_owned).unwrap_or_else(|| {
        serde_json::from_str::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v["text"].as_str().map(str::to_owned))
            .unwrap_or_default()
    });
    let mut short: String = text.chars().take(120).collect();
    if text.chars().count() > 120 {
        short.push('…');
    }
    short
}

/// `GET /web/deliveries`.
pub async fn deliveries(
    State(state): State<WebState>,
    Signed(session): Signed,
    Query(q): Query<DeliveriesQuery>,
) -> WebResult<Response> {
    let frame = Frame::new(&state, session, "deliveries").await?;
    let actor = &frame.session.actor;
    let status = state.workspace.monitoring_status(actor).await?;
    let channel = q.channel.trim();
    let filter = HistoryFilter {
        channel: (!channel.is_empty()).then(|| channel.to_owned()),
        person: None,
        task_id: None,
        direction: None,
        limit: 50,
        offset: 0,
    };
    let history = state.workspace.history(actor, &filter).await;
    let admin = actor.require_admin("retry").is_ok();
    let flash = Flash { done: q.done.clone() };
    let body = html! {
        (flash.show())
        h2 { "Queues" }
        table {
            thead { tr { th scope="col" { "Queue" } th scope="col" { "Waiting" } th scope="col" { "Working" } th scope="col" { "Done" } th scope="col" { "Given up" } } }
            tbody {
                (counts("Inbox (received)", &status.inbox.counts))
                (counts("Outbox (to send)", &status.outbox.counts))
                (counts("Integrations", &status.integrations.counts))
            }
        }
        (dead_letters(&frame, "messages to send", &status.outbox, admin))
        (dead_letters(&frame, "integration jobs", &status.integrations, false))
        (dead_letters(&frame, "received events", &status.inbox, false))
        h2 { "History" }
        form.filters method="get" action="/web/deliveries" {
            label { "Channel "
                select name="channel" {
                    option value="" { "all" }
                    @for c in ["telegram", "discord", "whatsapp", "email", "slack", "cli"] {
                        option value=(c) selected[channel == c] { (c) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
        @match &history {
            Ok((records, total)) => {
                p.note { (records.len()) " most recent of " (total) "." }
                table.history {
                    thead { tr { th scope="col" { "When" } th scope="col" { "" } th scope="col" { "Channel" } th scope="col" { "Chat" } th scope="col" { "Text" } th scope="col" { "State" } } }
                    tbody {
                        @for r in records {
                            tr {
                                td { (when(r.created_at, frame.tz())) }
                                td { @if r.direction == "in" { "received" } @else { "sent" } }
                                td { (r.channel) }
                                td { code { (r.chat_id) } }
                                td { (preview(&r.payload, r.text.as_deref())) }
                                td { (r.status) @if let Some(e) = &r.last_error { br; small { (e) } } }
                            }
                        }
                    }
                }
            },
            Err(e) => { p { "The message history is not shown to you: " (e) "." } },
        }
    };
    Ok(shell(&frame, "Deliveries", body).into_response())
}

/// `POST /web/deliveries/{id}/retry` (admins).
pub async fn retry(
    State(state): State<WebState>,
    Path(id): Path<i64>,
    posted: Posted<Flash>,
) -> WebResult<Response> {
    state
        .workspace
        .retry_dead_letter(&posted.session.actor, id)
        .await?;
    Ok(redirect_with(
        "/web/deliveries",
        &format!("Message #{id} is queued to be sent again."),
    ))
}
