//! Running a team command: one workspace operation with the speaker as actor (the workspace
//! checks the rights), and its result in words.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::invite::ways;
use super::TeamCommand;
use crate::conversation::replies::{self, local};
use crate::conversation::speaker::Speaker;
use crate::conversation::{Conversation, Reply};
use crate::domain::{Channel, Person, Role};
use crate::message::InboundEvent;
use crate::store::QuietHours;
use crate::workspace::{Invite, Newcomer, WorkspaceError};

const BAD_CODE: &str = "That code is unknown, already used or expired.";

fn newcomer(event: &InboundEvent) -> Newcomer {
    Newcomer {
        username: event.sender.username.clone(),
        display_name: event.sender.display_name.clone(),
    }
}

/// `20:00–08:00`, or "none".
fn quiet_text(quiet: Option<(i32, i32)>) -> String {
    let show = |m: i32| format!("{:02}:{:02}", m / 60, m % 60);
    match quiet {
        Some((start, end)) if start != end => format!("{}–{}", show(start), show(end)),
        _ => "none".into(),
    }
}

/// `@anna (Anna) — member · telegram, email`.
fn person_line(person: &Person) -> String {
    let mut channels: Vec<&str> = person.identities.iter().map(|i| i.channel.as_str()).collect();
    channels.dedup();
    let chats = if channels.is_empty() {
        "no chat linked yet".to_owned()
    } else {
        channels.join(", ")
    };
    let name = if person.name == person.handle {
        String::new()
    } else {
        format!(" ({})", person.name)
    };
    format!("@{}{name} — {} · {chats}", person.handle, person.role)
}

fn invite_text(invite: &Invite, ways: &[String], tz: Tz) -> String {
    let person = &invite.person;
    let who = if invite.created && person.handle.starts_with("invitee-") {
        format!(
            "Invited a new {} (as @{} until they link a chat and take their own name)",
            person.role, person.handle
        )
    } else if invite.created {
        format!("Invited @{} as {}", person.handle, person.role)
    } else {
        format!("New link code for @{} ({})", person.handle, person.role)
    };
    let mut text = format!(
        "{who}. The code {} works once, until {}.\nSend them one of these:",
        invite.code.code,
        local(invite.code.expires_at, tz)
    );
    for way in ways {
        text.push_str("\n• ");
        text.push_str(way);
    }
    text
}

impl Conversation {
    /// `/link CODE` and `/start CODE`: this chat identity becomes the code's person.
    pub(in crate::conversation) async fn link(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        code: &str,
    ) -> Result<Reply, WorkspaceError> {
        if let Some(person) = &speaker.person {
            return Ok(Reply::text(format!(
                "This chat is already linked to @{}.",
                person.handle
            )));
        }
        match self
            .workspace
            .link_sender(&event.identity(), Some(&newcomer(event)), code, event.received_at)
            .await
        {
            Ok(person) => Ok(Reply::text(format!(
                "Linked. Hello {}, you are @{} here now. Try /tasks mine.",
                person.name, person.handle
            ))),
            Err(WorkspaceError::NotFound(_)) => {
                Ok(Reply::text(format!("{BAD_CODE} Ask an admin for a new one.")))
            }
            Err(e) => Err(e),
        }
    }

    pub(in crate::conversation) async fn team(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        command: TeamCommand,
    ) -> Result<Reply, WorkspaceError> {
        let actor = &speaker.actor;
        let now = event.received_at;
        let tz = actor.timezone;
        let text = match command {
            TeamCommand::Claim { code, or_link } => return self.claim(event, speaker, &code, or_link).await,
            TeamCommand::Invite { handle, role } => {
                let invite = self.workspace.invite(actor, handle.as_ref(), role, now).await?;
                let reach = self.invites.reach(self.bot_name(Channel::Telegram)).await;
                invite_text(&invite, &ways(&reach, &invite.code.code), tz)
            }
            TeamCommand::People => {
                let team = self.workspace.team(actor, now).await?;
                let mut text = format!("The team ({}):", team.people.len());
                for person in &team.people {
                    text.push_str(&format!("\n{}", person_line(person)));
                }
                match team.pending.as_deref() {
                    Some([]) | None => {}
                    Some(pending) => {
                        text.push_str("\nInvites not used yet:");
                        for invite in pending {
                            let until = local(invite.expires_at, tz);
                            text.push_str(&format!("\n@{} (until {until})", invite.handle));
                        }
                    }
                }
                text
            }
            TeamCommand::Role { handle, role } => {
                let person = self.workspace.set_role(actor, handle.as_str(), role).await?;
                format!("@{} is now {} {}.", person.handle, article(role.as_str()), role)
            }
            TeamCommand::Remove { handle } => {
                let removed = self.workspace.remove_person(actor, handle.as_str()).await?;
                let mut text = format!(
                    "Removed @{}: they can no longer use the bot.",
                    removed.person.handle
                );
                if removed.open_tasks > 0 {
                    text.push_str(&format!(
                        " Their {} open task(s) have no assignee now: /tasks lists them.",
                        removed.open_tasks
                    ));
                }
                text
            }
            TeamCommand::Me => {
                let Some(person) = &speaker.person else {
                    return Ok(Reply::text(replies::UNLINKED));
                };
                let quiet = self.workspace.quiet_hours(actor, person).await?;
                me_text(person, quiet, tz, now)
            }
            TeamCommand::Tz { zone } => {
                let Some(person) = &speaker.person else {
                    return Ok(Reply::text(replies::UNLINKED));
                };
                let person = self
                    .workspace
                    .set_timezone(actor, &person.handle, zone.name())
                    .await?;
                format!(
                    "Your time zone is {} now (it is {} there).",
                    person.timezone,
                    now.with_timezone(&zone).format("%H:%M")
                )
            }
            TeamCommand::Quiet(span) => {
                let Some(person) = &speaker.person else {
                    return Ok(Reply::text(replies::UNLINKED));
                };
                let (start, end) = span.unwrap_or((0, 0));
                self.workspace
                    .set_quiet_hours(actor, &person.handle, start, end)
                    .await?;
                match span {
                    Some(_) => format!(
                        "Quiet hours: {} ({}). Reminders, and news of tasks given to you, wait until they end; urgent escalations do not.",
                        quiet_text(span),
                        tz.name()
                    ),
                    None => "No quiet hours: reminders reach you at any time.".into(),
                }
            }
        };
        Ok(Reply::text(text))
    }

    /// `/claim CODE` (and `/start CODE`, which also takes a link code).
    async fn claim(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        code: &str,
        or_link: bool,
    ) -> Result<Reply, WorkspaceError> {
        if speaker.person.as_ref().is_some_and(|p| p.role == Role::Admin) {
            return Ok(Reply::text("You are an admin already."));
        }
        let claimed = self
            .workspace
            .claim(&event.identity(), &newcomer(event), code, event.received_at)
            .await;
        match claimed {
            Ok(person) => Ok(Reply::text(format!(
                "You are the admin now, @{}. Next: /invite @name member adds a teammate, and \
                 /project here NAME in a group makes it that project's chat. /help lists everything.",
                person.handle
            ))),
            Err(WorkspaceError::NotFound(_)) if or_link => self.link(event, speaker, code).await,
            Err(WorkspaceError::NotFound(_)) => Ok(Reply::text(format!(
                "{BAD_CODE} While nobody is an admin, the server prints a new one at each start."
            ))),
            Err(WorkspaceError::Conflict(_)) => Ok(Reply::text(
                "This bot already has an admin: ask them to /invite you.",
            )),
            Err(e) => Err(e),
        }
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn me_text(person: &Person, quiet: QuietHours, tz: Tz, now: DateTime<Utc>) -> String {
    let chats: Vec<String> = person
        .identities
        .iter()
        .map(|i| format!("{} {}", i.channel, i.external_id))
        .collect();
    let chats = if chats.is_empty() {
        "none".to_owned()
    } else {
        chats.join(", ")
    };
    format!(
        "@{} ({}), {}\nChats: {chats}\nTime zone: {} (now {})\nQuiet hours: {}\n\
         Change them with /tz ZONE and /quiet HH:MM-HH:MM.",
        person.handle,
        person.name,
        person.role,
        tz.name(),
        now.with_timezone(&tz).format("%H:%M"),
        quiet_text(Some((quiet.quiet_start_minute, quiet.quiet_end_minute)))
    )
}
