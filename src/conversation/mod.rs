//! The conversation: what to answer to an inbound event. It identifies the actor (chat identity
//! → person), keeps groups quiet unless addressed, runs commands without any LLM through the
//! `workspace` with the sender as actor, and turns the results into replies. Free text gets the
//! offline reply until the agent is configured.

pub mod agent;
pub mod commands;
mod memory;
pub mod prompts;
mod replies;

pub use memory::count_tokens;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono_tz::Tz;

use crate::channels::{Button, Channels, ChatKind, InboundEvent, OutboundMessage};
use crate::domain::{self, Person, Role, TaskStatus};
use crate::handbook::{answer, Handbook};
use crate::workspace::{Actor, NewComment, NewTask, Origin, TaskQuery, Workspace, WorkspaceError};
use agent::{Agent, TurnInput};
use commands::{Command, Parsed, TasksScope};

/// The reply to free text when no LLM is configured.
const OFFLINE_REPLY: &str = include_str!("../../prompts/offline.md");
/// How many tasks `/tasks` lists.
const LIST_LIMIT: i64 = 20;

pub struct Conversation {
    workspace: Workspace,
    /// Answers free text when a language model is configured.
    agent: Option<Arc<Agent>>,
    /// Unlinked chat identities may use every command (a demo setting).
    open_chat: bool,
    /// The bot's name per channel, to read `/cmd@bot` and mentions.
    bot_names: RwLock<HashMap<domain::Channel, String>>,
    /// For typing indicators while the agent works (never for answers: those go through the
    /// outbox).
    channels: RwLock<Option<Channels>>,
    /// What `/ask` answers from.
    handbook: RwLock<Option<Handbook>>,
}

/// Who sent a message, as far as the workspace knows.
struct Speaker {
    actor: Actor,
    person: Option<Person>,
}

impl Conversation {
    pub fn new(workspace: Workspace, open_chat: bool, agent: Option<Arc<Agent>>) -> Self {
        Self {
            workspace,
            agent,
            open_chat,
            bot_names: RwLock::new(HashMap::new()),
            channels: RwLock::new(None),
            handbook: RwLock::new(None),
        }
    }

    pub fn set_handbook(&self, handbook: Handbook) {
        if let Ok(mut slot) = self.handbook.write() {
            *slot = Some(handbook);
        }
    }

    /// `/ask`: the best handbook passages, quoted with their source; with a language model, an
    /// answer written only from them, citing `file › heading`.
    async fn ask(&self, question: &str) -> Result<String, WorkspaceError> {
        let handbook = self.handbook.read().ok().and_then(|h| h.clone());
        let Some(handbook) = handbook else {
            return Ok("The handbook is not set up on this server.".into());
        };
        // On a first start the index is still being built: wait for it rather than miss.
        handbook.wait_for_ingest(std::time::Duration::from_secs(60)).await;
        let passages = match handbook.search(question, 5).await {
            Ok(passages) => passages,
            Err(e) if e.is_bad_input() => return Ok(format!("I can't search for that: {e}.")),
            Err(e) => {
                tracing::warn!(error = %e, "handbook search failed");
                return Ok("The handbook cannot be searched right now; try again in a minute.".into());
            }
        };
        if passages.is_empty() {
            return Ok(answer::not_found(question));
        }
        if let Some(agent) = &self.agent {
            if let Some(text) = agent
                .answer_from_handbook(question, &answer::context_block(&passages))
                .await
            {
                return Ok(text);
            }
        }
        Ok(answer::quote_answer(question, &passages))
    }

    pub fn set_channels(&self, channels: Channels) {
        if let Ok(mut slot) = self.channels.write() {
            *slot = Some(channels);
        }
    }

    /// Shows "typing…" in the chat every few seconds until the returned guard is dropped.
    fn typing(&self, event: &InboundEvent) -> Option<tokio_util::sync::DropGuard> {
        let channel = self.channels.read().ok()?.as_ref()?.get(event.channel)?.clone();
        let stop = tokio_util::sync::CancellationToken::new();
        let chat = event.chat_id.clone();
        let until = stop.clone();
        tokio::spawn(async move {
            loop {
                channel.typing(&chat).await;
                tokio::select! {
                    _ = until.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(4)) => {}
                }
            }
        });
        Some(stop.drop_guard())
    }

    pub fn set_bot_name(&self, channel: domain::Channel, name: &str) {
        if let Ok(mut names) = self.bot_names.write() {
            names.insert(channel, name.to_owned());
        }
    }

    fn bot_name(&self, channel: domain::Channel) -> Option<String> {
        self.bot_names.read().ok().and_then(|n| n.get(&channel).cloned())
    }

    async fn speaker(&self, event: &InboundEvent) -> Result<Speaker, WorkspaceError> {
        let default_tz = self.workspace.default_timezone();
        // The terminal is the operator's own: its identity is a handle.
        let person = if event.channel == domain::Channel::Cli {
            match self
                .workspace
                .person(&Actor::system("cli"), &event.sender.external_id)
                .await
            {
                Ok(p) => Some(p),
                Err(WorkspaceError::NotFound(_)) => None,
                Err(e) => return Err(e),
            }
        } else {
            self.workspace.person_by_identity(&event.identity()).await?
        };
        let actor = match &person {
            Some(p) => Actor::person(p, event.channel.as_str(), default_tz),
            None => Actor {
                name: format!("{}:{}", event.channel, event.sender.external_id),
                role: if self.open_chat { Role::Member } else { Role::Guest },
                person_id: None,
                channel: event.channel.as_str().to_owned(),
                timezone: default_tz,
            },
        };
        Ok(Speaker { actor, person })
    }

    /// The replies to `event` (none when the bot should stay quiet). `Err` only when the
    /// workspace could not be reached: the inbox then retries the event later.
    #[tracing::instrument(skip_all, fields(channel = %event.channel, chat = %event.chat_id))]
    pub async fn handle(
        &self,
        event: &InboundEvent,
        inbox_id: i64,
    ) -> Result<Vec<OutboundMessage>, WorkspaceError> {
        let origin = Origin {
            channel: event.channel.as_str().to_owned(),
            chat: event.chat_id.clone(),
            source_key: format!("{}:{}", event.channel, event.event_id),
        };
        let _ = inbox_id;
        let speaker = self.speaker(event).await?;
        if let Some(press) = &event.button {
            return self
                .button(event, &speaker, &press.id, &press.data, &origin)
                .await;
        }
        let bot = self.bot_name(event.channel);
        let text = match &bot {
            Some(name) => strip_mention(&event.text, name),
            None => event.text.clone(),
        };
        let tz: Tz = speaker.actor.timezone;
        let parsed = commands::parse(&text, event.received_at, tz, bot.as_deref());
        if event.chat_kind == ChatKind::Group && parsed == Parsed::NotACommand && !event.mentions_bot {
            return Ok(Vec::new());
        }
        let reply = match parsed {
            Parsed::Usage(usage) => usage,
            Parsed::NotACommand if text.trim().is_empty() => return Ok(Vec::new()),
            Parsed::NotACommand => match self.free_text(event, &speaker, &text, &origin).await {
                Ok(reply) => return Ok(vec![self.reply(event, reply)]),
                Err(e) => replies::error(e)?,
            },
            Parsed::Command(command) => match self.command(event, &speaker, command, &origin).await {
                Ok(reply) => return Ok(vec![self.reply(event, reply)]),
                Err(e) => replies::error(e)?,
            },
        };
        Ok(vec![self.reply(event, Reply::text(reply))])
    }

    fn reply(&self, event: &InboundEvent, reply: Reply) -> OutboundMessage {
        OutboundMessage {
            channel: event.channel,
            chat_id: event.chat_id.clone(),
            text: reply.text,
            buttons: reply.buttons,
            reply_to: (event.chat_kind == ChatKind::Group)
                .then(|| event.message_id.clone())
                .flatten(),
            answers_button: None,
            attachments: reply.attachments,
        }
    }

    /// Free text: the agent answers when there is one; otherwise what the bot can do.
    async fn free_text(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        text: &str,
        origin: &Origin,
    ) -> Result<Reply, WorkspaceError> {
        if speaker.person.is_none() && !self.open_chat {
            return Ok(Reply::text(replies::UNLINKED));
        }
        let Some(agent) = &self.agent else {
            return Ok(Reply::text(OFFLINE_REPLY.trim()));
        };
        let _typing = self.typing(event);
        let output = agent
            .run(TurnInput {
                actor: &speaker.actor,
                person: speaker.person.as_ref(),
                channel: event.channel.as_str(),
                chat_id: &event.chat_id,
                text,
                source_key: Some(origin.source_key.clone()),
                now: event.received_at,
            })
            .await?;
        let mut reply = Reply::text(output.reply);
        for action in &output.actions {
            reply
                .text
                .push_str(&format!("\n\nProposed (#{}): {}", action.id, action.summary));
            reply.buttons.push(Button {
                label: format!("Approve #{}", action.id),
                data: format!("approve:{}", action.id),
            });
            reply.buttons.push(Button {
                label: format!("Reject #{}", action.id),
                data: format!("reject:{}", action.id),
            });
        }
        Ok(reply)
    }

    async fn command(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        command: Command,
        origin: &Origin,
    ) -> Result<Reply, WorkspaceError> {
        let actor = &speaker.actor;
        let allowed_unlinked = matches!(command, Command::Help | Command::Link { .. });
        if speaker.person.is_none() && !self.open_chat && !allowed_unlinked {
            return Ok(Reply::text(replies::UNLINKED));
        }
        let tz = actor.timezone;
        match command {
            Command::Help => Ok(Reply::text(commands::help_text())),
            Command::Link { code } => {
                if let Some(person) = &speaker.person {
                    return Ok(Reply::text(format!(
                        "This chat is already linked to @{}.",
                        person.handle
                    )));
                }
                match self
                    .workspace
                    .link_identity(&event.identity(), &code, event.received_at)
                    .await
                {
                    Ok(person) => Ok(Reply::text(format!(
                        "Linked. Hello {}, you are @{} here now. Try /tasks mine.",
                        person.name, person.handle
                    ))),
                    Err(WorkspaceError::NotFound(_)) => Ok(Reply::text(
                        "That code is unknown, already used or expired. Ask an admin for a new one.",
                    )),
                    Err(e) => Err(e),
                }
            }
            Command::Tasks(scope) => {
                let mut query = TaskQuery {
                    limit: Some(LIST_LIMIT),
                    open: Some(true),
                    ..TaskQuery::default()
                };
                let title = match scope {
                    TasksScope::All => "Open tasks".to_owned(),
                    TasksScope::Mine => match &speaker.person {
                        Some(p) => {
                            query.assigned_to = Some(p.handle.clone());
                            "Your open tasks".to_owned()
                        }
                        None => return Ok(Reply::text(replies::UNLINKED)),
                    },
                    TasksScope::Overdue => {
                        query.overdue = Some(true);
                        "Overdue tasks".to_owned()
                    }
                    TasksScope::Project(name) => {
                        let project = self.workspace.project_by_name(actor, &name).await?;
                        query.project_id = Some(project.id);
                        format!("Open tasks in {}", project.name)
                    }
                };
                let page = self
                    .workspace
                    .list_tasks(actor, &query, event.received_at)
                    .await?;
                Ok(Reply::text(replies::task_list(
                    &title,
                    &page.items,
                    page.total,
                    tz,
                    event.received_at,
                )))
            }
            Command::NewTask {
                title,
                assignee,
                due,
                priority,
            } => {
                let new = NewTask {
                    title,
                    assigned_to: assignee,
                    due_date: due.map(|d| d.to_rfc3339()),
                    priority: priority.map(|p| p.as_str().to_owned()),
                    ..NewTask::default()
                };
                let task = self.workspace.create_task(actor, new, Some(origin)).await?;
                Ok(Reply {
                    text: replies::created(&task, tz),
                    buttons: vec![Button {
                        label: "Mark done".into(),
                        data: format!("done:{}", task.id),
                    }],
                    attachments: Vec::new(),
                })
            }
            Command::Done { id } => {
                let task = self
                    .workspace
                    .set_task_status(actor, id, TaskStatus::Done.as_str())
                    .await?;
                Ok(Reply::text(format!("Done: #{} {}", task.id, task.title)))
            }
            Command::Status { id, status } => {
                let task = self.workspace.set_task_status(actor, id, status.as_str()).await?;
                Ok(Reply::text(format!(
                    "#{} {} is now {}.",
                    task.id, task.title, task.status
                )))
            }
            Command::Comment { id, text } => {
                let comment = self
                    .workspace
                    .add_comment(
                        actor,
                        NewComment {
                            task_id: id,
                            content: text,
                        },
                        Some(origin),
                    )
                    .await?;
                Ok(Reply::text(format!("Comment added to #{}.", comment.task_id)))
            }
            Command::Ask { question } => Ok(Reply::text(self.ask(&question).await?)),
            Command::Report { period } => {
                let period = match period {
                    commands::ReportPeriod::Weekly => crate::scheduler::Period::Weekly,
                    _ => crate::scheduler::Period::Daily,
                };
                let report = crate::scheduler::reports::build(
                    &self.workspace,
                    actor,
                    period,
                    None,
                    event.received_at,
                    tz,
                )
                .await?;
                let message = report.message(event.channel, &event.chat_id);
                Ok(Reply {
                    text: message.text,
                    buttons: Vec::new(),
                    attachments: message.attachments,
                })
            }
        }
    }

    /// A button press: acknowledged on the platform, then acted on like the command it stands for.
    async fn button(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        press_id: &str,
        data: &str,
        origin: &Origin,
    ) -> Result<Vec<OutboundMessage>, WorkspaceError> {
        let mut ack = OutboundMessage::text(event.channel, event.chat_id.clone(), "");
        ack.answers_button = Some(press_id.to_owned());
        if speaker.person.is_none() && !self.open_chat {
            ack.text = replies::UNLINKED.into();
            return Ok(vec![ack]);
        }
        let decision = match data.split_once(':') {
            Some(("approve", id)) => id.parse().ok().map(|id| (true, id)),
            Some(("reject", id)) => id.parse().ok().map(|id| (false, id)),
            _ => None,
        };
        if let Some((approve, id)) = decision {
            let outcome = if approve {
                self.workspace.approve_action(&speaker.actor, id).await
            } else {
                self.workspace.reject_action(&speaker.actor, id).await
            };
            let text = match outcome {
                Ok(action) => replies::decided(&action),
                Err(e) => replies::error(e)?,
            };
            ack.text = text.clone();
            return Ok(vec![ack, self.reply(event, Reply::text(text))]);
        }
        if let Some(text) = self.escalation_button(speaker, data, event.received_at).await? {
            ack.text = text.clone();
            return Ok(vec![ack, self.reply(event, Reply::text(text))]);
        }
        let command = match data.split_once(':') {
            Some(("done", id)) => id.parse().ok().map(|id| Command::Done { id }),
            _ => None,
        };
        let Some(command) = command else {
            ack.text = "This button no longer does anything.".into();
            return Ok(vec![ack]);
        };
        let text = match self.command(event, speaker, command, origin).await {
            Ok(reply) => reply.text,
            Err(e) => replies::error(e)?,
        };
        ack.text = text.clone();
        Ok(vec![ack, self.reply(event, Reply::text(text))])
    }
}

impl Conversation {
    /// `ack:ID`, `snooze:ID:1h` and `snooze:ID:1d` under escalations; `None` for other buttons.
    async fn escalation_button(
        &self,
        speaker: &Speaker,
        data: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, WorkspaceError> {
        let mut parts = data.split(':');
        let (kind, id, length) = (parts.next(), parts.next(), parts.next());
        let Some(task_id) = id.and_then(|id| id.parse::<i64>().ok()) else {
            return Ok(None);
        };
        let outcome = match (kind, length) {
            (Some("ack"), None) => self
                .workspace
                .acknowledge_escalation(&speaker.actor, task_id, now)
                .await
                .map(|running| match running {
                    true => format!("Acknowledged: the escalation of #{task_id} stops here."),
                    false => format!("#{task_id} has no running escalation."),
                }),
            (Some("snooze"), Some(length @ ("1h" | "1d"))) => {
                let (delay, words) = match length {
                    "1h" => (chrono::Duration::hours(1), "an hour"),
                    _ => (chrono::Duration::days(1), "a day"),
                };
                self.workspace
                    .snooze_escalation(&speaker.actor, task_id, delay, now)
                    .await
                    .map(|running| match running {
                        true => format!("Snoozed: the escalation of #{task_id} waits {words}."),
                        false => format!("#{task_id} has no running escalation."),
                    })
            }
            _ => return Ok(None),
        };
        match outcome {
            Ok(text) => Ok(Some(text)),
            Err(e) => Ok(Some(replies::error(e)?)),
        }
    }
}

/// A reply before it is addressed.
struct Reply {
    text: String,
    buttons: Vec<Button>,
    attachments: Vec<crate::channels::OutboundFile>,
}

impl Reply {
    fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            buttons: Vec::new(),
            attachments: Vec::new(),
        }
    }
}

/// Removes `@bot` from a message that mentions the bot.
fn strip_mention(text: &str, bot: &str) -> String {
    let mention = format!("@{}", bot.to_lowercase());
    let lower = text.to_lowercase();
    match lower.find(&mention) {
        // Lower-casing keeps byte offsets for ASCII bot names.
        Some(at) if text.is_char_boundary(at) && text.is_char_boundary(at + mention.len()) => {
            let rest = format!("{}{}", &text[..at], &text[at + mention.len()..]);
            // `/tasks@bot` is left for the command parser.
            if at > 0
                && text[..at]
                    .split_whitespace()
                    .last()
                    .is_some_and(|w| w.starts_with('/'))
            {
                text.to_owned()
            } else {
                rest.trim().to_owned()
            }
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::strip_mention;

    #[test]
    fn mentions_are_stripped_but_addressed_commands_kept() {
        assert_eq!(
            strip_mention("@Coord_bot what is due?", "coord_bot"),
            "what is due?"
        );
        assert_eq!(
            strip_mention("/tasks@coord_bot mine", "coord_bot"),
            "/tasks@coord_bot mine"
        );
        assert_eq!(strip_mention("hello", "coord_bot"), "hello");
    }
}
