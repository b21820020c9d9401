//! Running a parsed command: each one is a workspace operation with the speaker as actor, and
//! its result in words. No language model is needed (the agent may polish `/ask` answers).

use super::commands::{self, Command, TasksScope};
use super::speaker::Speaker;
use super::team::TeamCommand;
use super::{replies, Conversation, Reply, LIST_LIMIT};
use crate::domain::{Priority, Project, TaskStatus};
use crate::handbook::answer;
use crate::message::{ButtonAction, InboundEvent};
use crate::workspace::{NewComment, NewTask, Origin, StatusChange, TaskQuery, WorkspaceError};

impl Conversation {
    /// `/ask`: the best handbook passages, quoted with their source; with a language model, an
    /// answer written only from them, citing `file › heading`.
    pub(super) async fn ask(&self, question: &str) -> Result<String, WorkspaceError> {
        let handbook = self.handbook.clone();
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

    /// The project whose chat this event came from, if any: `/tasks` and `/report` there are
    /// that project's.
    async fn chat_project(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
    ) -> Result<Option<Project>, WorkspaceError> {
        let chat = super::standing_chat(event);
        (self.workspace)
            .chat_project(&speaker.actor, event.channel, &chat)
            .await
    }

    pub(super) async fn command(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        command: Command,
        origin: &Origin,
    ) -> Result<Reply, WorkspaceError> {
        let actor = &speaker.actor;
        let allowed_unlinked = matches!(
            command,
            Command::Help | Command::Link { .. } | Command::Team(TeamCommand::Claim { .. })
        );
        if speaker.person.is_none() && !self.open_chat && !allowed_unlinked {
            return Ok(Reply::text(replies::UNLINKED));
        }
        let tz = actor.timezone;
        match command {
            Command::Help => Ok(Reply::text(commands::help_text())),
            Command::Link { code } => self.link(event, speaker, &code).await,
            Command::Team(command) => self.team(event, speaker, command).await,
            Command::Project(command) => self.project(event, speaker, command).await,
            Command::Reminder(command) => self.reminders(event, speaker, command, origin).await,
            Command::Files(command) => self.files_command(event, speaker, command).await,
            Command::Standup(command) => self.standup(event, speaker, command).await,
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
                // A project's chat (often one the client is in) sees that project's tasks
                // unless another project is named.
                let mut title = title;
                if query.project_id.is_none() {
                    if let Some(project) = self.chat_project(event, speaker).await? {
                        query.project_id = Some(project.id);
                        title = format!("{title} in {}", project.name);
                    }
                }
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
                recurrence,
            } => {
                let new = NewTask {
                    assigned_to: assignee,
                    due_date: due,
                    priority: priority.unwrap_or(Priority::Medium),
                    recurrence,
                    ..NewTask::titled(title)
                };
                let task = self.workspace.create_task(actor, new, Some(origin)).await?;
                let mut text = replies::created(&task, tz);
                // A file sent with the command goes on the new task.
                let files = super::files::files_of(event);
                if !files.is_empty() {
                    let lines = self
                        .attach_files(event, speaker, task.id, &files, &origin.source_key)
                        .await?;
                    for line in lines {
                        text.push('\n');
                        text.push_str(&line);
                    }
                }
                Ok(Reply {
                    text,
                    buttons: vec![ButtonAction::Done(task.id).button("Mark done")],
                    attachments: Vec::new(),
                })
            }
            Command::Done { id } => {
                // A retyped /done changes nothing and says so (the button: see `buttons`).
                Ok(Reply::text(replies::done(
                    &self
                        .workspace
                        .change_task_status(actor, id, TaskStatus::Done)
                        .await?,
                )))
            }
            Command::Status { id, status } => Ok(Reply::text(
                match self.workspace.change_task_status(actor, id, status).await? {
                    StatusChange::Changed(task) => {
                        format!("#{} {} is now {}.", task.id, task.title, task.status)
                    }
                    StatusChange::Unchanged(task) => {
                        format!("#{} {} is already {}.", task.id, task.title, task.status)
                    }
                },
            )),
            Command::Comment { id, text } => {
                let comment = self
                    .workspace
                    .add_comment(
                        actor,
                        NewComment {
                            task_id: id,
                            content: text,
                            author: None,
                        },
                        Some(origin),
                    )
                    .await?;
                Ok(Reply::text(format!("Comment added to #{}.", comment.task_id)))
            }
            Command::Ask { question } => Ok(Reply::text(self.ask(&question).await?)),
            Command::Alerts(action) => self.alerts(event, speaker, action).await,
            Command::Web => Ok(self.web(event, speaker).await?.0),
            Command::Report { period } => {
                // In a project's chat, that project's report (as the scheduler sends there).
                let project = self.chat_project(event, speaker).await?.map(|p| p.id);
                let report = self
                    .workspace
                    .report(actor, period, project, event.received_at, tz)
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
}
