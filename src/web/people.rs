//! People and chats (`/web/people`): the team with roles and the channels each person is
//! linked on, the invites still open (admins), the invite form (the same as `/invite`: a link
//! code and how the invitee uses it on each configured channel), and each project's chat.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::error::{WebError, WebResult};
use super::layout::{page as shell, when, Frame};
use super::session::{Posted, Signed};
use super::WebState;
use crate::domain::{Handle, Role};

/// `GET /web/people`.
pub async fn page_handler(
    state: &WebState,
    frame: Frame,
    invited: Option<maud::Markup>,
) -> WebResult<Response> {
    let actor = &frame.session.actor;
    let now = crate::store::now();
    let team = state.workspace.team(actor, now).await?;
    let projects = state.workspace.projects_with_chats(actor).await?;
    let admin = actor.require_admin("invite").is_ok();
    let tz = frame.tz();
    let body = html! {
        @if let Some(invited) = invited { (invited) }
        table.people {
            caption { "The team (" (team.people.len()) ")" }
            thead { tr { th scope="col" { "Handle" } th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "Chats" } th scope="col" { "Time zone" } } }
            tbody {
                @for p in &team.people {
                    tr {
                        td { "@" (p.handle) }
                        td { (p.name) }
                        td { (p.role) }
                        td {
                            @if p.identities.is_empty() { "none linked yet" }
                            @for (i, id) in p.identities.iter().enumerate() {
                                @if i > 0 { ", " }
                                (id.channel) " " code { (id.external_id) }
                            }
                        }
                        td { (p.timezone) }
                    }
                }
            }
        }
        @if let Some(pending) = &team.pending {
            @if !pending.is_empty() {
                h2 { "Invites not used yet" }
                ul { @for i in pending { li { "@" (i.handle) " until " (when(i.expires_at, tz)) } } }
            }
        }
        h2 { "Project chats" }
        ul {
            @for (project, chat) in &projects {
                li { (project.name) ": "
                    @match chat {
                        Some((channel, id)) => { (channel) " chat " code { (id) } },
                        None => { "no chat (" code { "/project here " (project.name) } " in a chat sets one)" },
                    }
                }
            }
        }
        @if admin {
            h2 { "Invite someone" }
            form method="post" action="/web/people/invite" {
                (frame.csrf())
                label { "Handle (optional) " input name="handle" placeholder="@anna" size="12"; }
                label { "Role "
                    select name="role" {
                        option value="member" selected { "member" }
                        option value="guest" { "guest" }
                        option value="admin" { "admin" }
                    }
                }
                button type="submit" { "Invite" }
            }
        }
    };
    Ok(shell(&frame, "People and chats", body).into_response())
}

pub async fn page(State(state): State<WebState>, Signed(session): Signed) -> WebResult<Response> {
    let frame = Frame::new(&state, session, "people").await?;
    page_handler(&state, frame, None).await
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    handle: String,
    #[serde(default)]
    role: String,
}

/// `POST /web/people/invite` (admins): the page again, with the code and how to use it.
pub async fn invite(State(state): State<WebState>, posted: Posted<InviteForm>) -> WebResult<Response> {
    let form = posted.form;
    let handle = match form.handle.trim() {
        "" => None,
        text => Some(Handle::parse(text).map_err(|e| WebError::Invalid(format!("handle {}", e.message)))?),
    };
    let role = match form.role.trim() {
        "" => None,
        text => Some(
            Role::parse_field(text, "role").map_err(|e| WebError::Invalid(format!("role {}", e.message)))?,
        ),
    };
    let now = crate::store::now();
    let invite = state
        .workspace
        .invite(&posted.session.actor, handle.as_ref(), role, now)
        .await?;
    let ways = state.invites.ways_for(None, &invite.code.code).await;
    let frame = Frame::new(&state, posted.session, "people").await?;
    let invited = html! {
        section.flash role="status" {
            p { "Invited @" (invite.person.handle) " as " (invite.person.role) ". The code "
                strong { (invite.code.code) } " works once, until " (when(invite.code.expires_at, frame.tz())) ". Send them one of these:" }
            ul { @for way in &ways { li { (way) } } }
        }
    };
    page_handler(&state, frame, Some(invited)).await
}
