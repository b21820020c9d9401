//! Stand-ups: set (members and admins; in chat, only in a project's chat), shown, stopped;
//! the runs and their answers; a person's answer to their open question; a blocker turned
//! into a task (or a comment on the task it names) once its author says yes. Guests are not
//! asked and cannot see or change stand-ups.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Actor, NewComment, NewTask, Origin, Page, Paging, Workspace, WorkspaceError, WsResult};
use crate::domain::{
    mentioned_task, parse_clock, parse_days, parse_timezone, AnswerParts, Channel, Project, StandupPlan,
    TaskTitle, ValidationError, STANDUP_EXAMPLE,
};
use crate::store::{Standup, StandupAnswer, StandupData, StandupRun, StoreError};

/// `PUT /api/projects/{id}/standup`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StandupRequest {
    /// `mon-fri`, `mon,wed,fri`, `daily`.
    pub days: String,
    /// The question's local time, `HH:MM`.
    pub time: String,
    /// The digest's local time, `HH:MM`, later the same day; default two hours after `time`.
    pub digest: Option<String>,
    /// IANA zone of both times; default the caller's.
    pub timezone: Option<String>,
}

impl StandupRequest {
    /// The plan and its zone (`default` when none is given).
    pub fn validate(&self, default: Tz) -> Result<(StandupPlan, Tz), ValidationError> {
        parse_days(&self.days).map_err(|e| ValidationError::new("days", e))?;
        parse_clock(&self.time).map_err(|e| ValidationError::new("time", e))?;
        let mut args = format!("{} {}", self.days.trim(), self.time.trim());
        if let Some(digest) = &self.digest {
            parse_clock(digest).map_err(|e| ValidationError::new("digest", e))?;
            args.push_str(&format!(" digest {}", digest.trim()));
        }
        let plan = StandupPlan::parse(&args).map_err(|e| ValidationError::new("digest", e))?;
        let tz = match &self.timezone {
            Some(name) => parse_timezone(name, "timezone")?,
            None => default,
        };
        Ok((plan, tz))
    }
}

/// A run and everyone's answers (null `answered_at`: no answer).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StandupRunAnswers {
    #[serde(flatten)]
    pub run: StandupRun,
    pub answers: Vec<StandupAnswer>,
}

/// What answering a question did.
#[derive(Debug, Clone)]
pub struct Answered {
    pub answer: StandupAnswer,
    pub standup: Standup,
    pub run: StandupRun,
    pub project: Project,
}

/// What a blocker became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockerOutcome {
    /// A new task.
    Task(i64),
    /// A comment on the task the blocker names.
    Comment(i64),
    Declined,
    /// Settled before: taken (with its task) or declined.
    Settled(Option<i64>),
}

impl Workspace {
    /// `/standup here …` and `PUT /api/projects/{id}/standup`: project `project_id` has a
    /// stand-up on `plan` in zone `tz`, its digest going to its chat. Replaces the one it had.
    pub async fn set_standup(
        &self,
        actor: &Actor,
        project_id: i64,
        plan: &StandupPlan,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> WsResult<Standup> {
        actor.require_member("set stand-ups")?;
        let project = self.project(actor, project_id).await?;
        let chats = self.store.chats_of_projects().await?;
        let Some((_, channel, chat_id)) = chats.into_iter().find(|(id, _, _)| *id == project.id) else {
            return Err(ValidationError::new(
                "project",
                format!(
                    "{} has no chat for the digest: an admin sends /project here {} in it first",
                    project.name, project.name
                ),
            )
            .into());
        };
        let next_ask_at = plan.next_ask(tz, now).ok_or_else(|| {
            ValidationError::new(
                "days",
                format!("that stand-up never comes; e.g. {STANDUP_EXAMPLE}"),
            )
        })?;
        let data = StandupData {
            project_id: project.id,
            channel,
            chat_id,
            days: plan.days_code(),
            ask_time: plan.ask.format("%H:%M").to_string(),
            digest_minutes: plan.digest_minutes,
            timezone: tz.name().to_owned(),
            next_ask_at,
        };
        Ok(self.store.put_standup(&data, &actor.audit()).await?)
    }

    /// The project whose chat this is; a chat that is no project's is invalid input.
    pub async fn project_of_chat(&self, actor: &Actor, channel: Channel, chat_id: &str) -> WsResult<Project> {
        match self.chat_project(actor, channel, chat_id).await? {
            Some(project) => Ok(project),
            None => Err(ValidationError::new(
                "chat",
                "this chat is no project's chat: an admin makes it one with /project here NAME",
            )
            .into()),
        }
    }

    /// The project whose chat this is, if any.
    pub async fn chat_project(
        &self,
        actor: &Actor,
        channel: Channel,
        chat_id: &str,
    ) -> WsResult<Option<Project>> {
        match self.store.project_for_chat(channel.as_str(), chat_id).await? {
            Some(id) => Ok(Some(self.project(actor, id).await?)),
            None => Ok(None),
        }
    }

    /// Project `project_id`'s stand-up; `None` when it has none.
    pub async fn standup(&self, actor: &Actor, project_id: i64) -> WsResult<Option<Standup>> {
        actor.require_member("see stand-ups")?;
        self.project(actor, project_id).await?;
        match self.store.standup_of_project(project_id).await {
            Ok(standup) => Ok(Some(standup)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Stops project `project_id`'s stand-up.
    pub async fn stop_standup(&self, actor: &Actor, project_id: i64) -> WsResult<()> {
        actor.require_member("stop stand-ups")?;
        let project = self.project(actor, project_id).await?;
        self.store
            .delete_standup(project_id, &actor.audit())
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("{} has no stand-up", project.name)))
    }

    /// Project `project_id`'s runs, latest first, with everyone's answers.
    pub async fn standup_runs(
        &self,
        actor: &Actor,
        project_id: i64,
        paging: Paging,
    ) -> WsResult<Page<StandupRunAnswers>> {
        let Some(standup) = self.standup(actor, project_id).await? else {
            return Err(WorkspaceError::NotFound(format!(
                "project {project_id} has no stand-up"
            )));
        };
        let (runs, total) = self
            .store
            .standup_runs(standup.id, paging.limit, paging.offset)
            .await?;
        let mut items = Vec::with_capacity(runs.len());
        for run in runs {
            let answers = self.store.standup_answers(run.id).await?;
            items.push(StandupRunAnswers { run, answers });
        }
        Ok(Page { items, total })
    }

    /// The open question that the actor's private message `key` answers, if any.
    pub async fn standup_question(&self, actor: &Actor, key: &str) -> WsResult<Option<StandupAnswer>> {
        let Some(person_id) = actor.person_id else {
            return Ok(None);
        };
        Ok(self.store.open_standup_question(person_id, key).await?)
    }

    /// Records the actor's answer `text` (read as `parts`) to `question`, under the message's
    /// `key`: the same message handled twice is recorded once.
    pub async fn answer_standup(
        &self,
        actor: &Actor,
        question: &StandupAnswer,
        key: &str,
        text: &str,
        parts: &AnswerParts,
        now: DateTime<Utc>,
    ) -> WsResult<Answered> {
        if actor.person_id != Some(question.person_id) {
            return Err(WorkspaceError::NotFound("no open stand-up question".into()));
        }
        if question.answered_at.is_none() {
            let text: String = text.trim().chars().take(4000).collect();
            self.store
                .record_standup_answer(question.id, key, &text, parts, now)
                .await?;
        }
        let answer = self.store.standup_answer(question.id).await?;
        let run = self.store.standup_run(answer.run_id).await?;
        let standup = self.store.standup(run.standup_id).await?;
        let project = self.project(actor, standup.project_id).await?;
        Ok(Answered {
            answer,
            standup,
            run,
            project,
        })
    }

    /// The actor's yes (`take`) or no to turning the blocker of their answer `answer_id` into
    /// a task, or a comment on the task it names.
    pub async fn settle_blocker(
        &self,
        actor: &Actor,
        answer_id: i64,
        take: bool,
    ) -> WsResult<BlockerOutcome> {
        let missing = || format!("stand-up answer {answer_id} does not exist");
        let answer = self
            .store
            .standup_answer(answer_id)
            .await
            .map_err(|e| WorkspaceError::from_store(e, missing))?;
        if actor.person_id != Some(answer.person_id) {
            return Err(WorkspaceError::NotFound(missing()));
        }
        match answer.blocker_state.as_deref() {
            Some("offered") => {}
            Some(_) => return Ok(BlockerOutcome::Settled(answer.blocker_task_id)),
            None => return Err(WorkspaceError::Conflict("that answer named no blocker".into())),
        }
        if !take {
            self.store
                .settle_standup_blocker(answer_id, "declined", None)
                .await?;
            return Ok(BlockerOutcome::Declined);
        }
        let blocker = answer.blockers.clone().unwrap_or_default();
        let run = self.store.standup_run(answer.run_id).await?;
        let standup = self.store.standup(run.standup_id).await?;
        let origin = Origin {
            channel: standup.channel.clone(),
            chat: standup.chat_id.clone(),
            source_key: format!("standup:{}:{}:blocker:{answer_id}", standup.id, run.day),
        };
        let named = match mentioned_task(&blocker) {
            Some(id) => self.store.task(id).await.ok().map(|t| t.id),
            None => None,
        };
        let outcome = match named {
            Some(task_id) => {
                let comment = NewComment {
                    task_id,
                    content: format!("Blocker from the stand-up of {}: {blocker}", run.day),
                    author: None,
                };
                self.add_comment(actor, comment, Some(&origin)).await?;
                BlockerOutcome::Comment(task_id)
            }
            None => {
                let first = blocker.lines().next().unwrap_or_default();
                let title: String = format!("Blocker: {first}")
                    .chars()
                    .take(TaskTitle::MAX_CHARS)
                    .collect();
                let new = NewTask {
                    description: format!(
                        "From {}'s stand-up answer of {}:\n{blocker}",
                        answer.person, run.day
                    ),
                    project_id: Some(standup.project_id),
                    ..NewTask::titled(TaskTitle::parse(&title)?)
                };
                BlockerOutcome::Task(self.create_task(actor, new, Some(&origin)).await?.id)
            }
        };
        let task_id = match outcome {
            BlockerOutcome::Task(id) | BlockerOutcome::Comment(id) => Some(id),
            _ => None,
        };
        self.store
            .settle_standup_blocker(answer_id, "taken", task_id)
            .await?;
        Ok(outcome)
    }
}
