//! Project operations.

use serde::Deserialize;
use utoipa::ToSchema;

use super::{Actor, Change, Page, Paging, Patch, Workspace, WorkspaceError, WsResult};
use crate::domain::{parse_due_date, Channel, Project, ProjectStatus, ValidationError};
use crate::store::{ProjectData, StoreError};

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Not blank, at most 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// active (default), completed, on_hold
    #[serde(default)]
    #[schema(pattern = "^(active|completed|on_hold)$")]
    pub status: Option<String>,
    /// RFC 3339 or a date.
    #[serde(default)]
    pub deadline: Option<String>,
    /// Whether the chat a task came from (else the project's chat) also hears of reminders and
    /// the first escalation step; true by default.
    #[serde(default)]
    pub notify_chat: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub deadline: Patch<String>,
    /// Whether the chat a task came from (else the project's chat) also hears of reminders and
    /// the first escalation step.
    #[serde(default)]
    pub notify_chat: Option<bool>,
}

/// What `/project here` did.
#[derive(Debug, Clone)]
pub struct ProjectChat {
    pub project: Project,
    /// The project did not exist before.
    pub created: bool,
    /// The projects whose chat this was until now.
    pub taken_from: Vec<String>,
}

fn project_name(name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ValidationError::new("name", "must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(ValidationError::new("name", "must be at most 200 characters"));
    }
    Ok(name.to_owned())
}

impl Workspace {
    pub async fn list_projects(&self, actor: &Actor, paging: Paging) -> WsResult<Page<Project>> {
        let _ = actor;
        let (items, total) = self.store.list_projects(paging.limit, paging.offset).await?;
        Ok(Page { items, total })
    }

    pub async fn project(&self, actor: &Actor, id: i64) -> WsResult<Project> {
        let _ = actor;
        self.store
            .project(id)
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("project {id} does not exist")))
    }

    /// A project by case-insensitive name (chat commands such as `/tasks project Website`).
    pub async fn project_by_name(&self, actor: &Actor, name: &str) -> WsResult<Project> {
        let _ = actor;
        self.store
            .project_by_name(name)
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("no project is called '{name}'")))
    }

    pub async fn create_project(&self, actor: &Actor, new: NewProject) -> WsResult<Project> {
        actor.require(actor.can_write(), "create projects")?;
        let data = ProjectData {
            name: project_name(&new.name)?,
            description: new.description.unwrap_or_default(),
            status: match new.status.as_deref() {
                Some(s) => ProjectStatus::parse_field(s, "status")?,
                None => ProjectStatus::Active,
            },
            deadline: new
                .deadline
                .as_deref()
                .map(|d| parse_due_date(d, actor.timezone, "deadline"))
                .transpose()?,
            notify_chat: new.notify_chat.unwrap_or(true),
        };
        let project = self.store.create_project(&data, &actor.audit()).await?;
        self.announce(actor, Change::ProjectCreated(project.clone()))
            .await;
        Ok(project)
    }

    pub async fn update_project(&self, actor: &Actor, id: i64, update: ProjectUpdate) -> WsResult<Project> {
        actor.require(actor.can_write(), "change projects")?;
        let mut data = ProjectData::from(&self.project(actor, id).await?);
        if let Some(name) = update.name {
            data.name = project_name(&name)?;
        }
        if let Some(description) = update.description {
            data.description = description;
        }
        if let Some(status) = update.status {
            data.status = ProjectStatus::parse_field(&status, "status")?;
        }
        if let Some(notify) = update.notify_chat {
            data.notify_chat = notify;
        }
        data.deadline = match update.deadline {
            Patch::Keep => data.deadline,
            Patch::Clear => None,
            Patch::Set(d) => Some(parse_due_date(&d, actor.timezone, "deadline")?),
        };
        let project = self.store.update_project(id, &data, &actor.audit()).await?;
        self.announce(actor, Change::ProjectUpdated(project.clone()))
            .await;
        Ok(project)
    }

    /// `/project here NAME` (admins, as `PUT /api/projects/{id}/chat`): the project `name`,
    /// made when missing, gets this chat for its reports, reminders and escalations, and tasks
    /// made here belong to it. A chat is one project's: any other project loses it.
    pub async fn project_here(
        &self,
        actor: &Actor,
        name: &str,
        channel: Channel,
        chat_id: &str,
    ) -> WsResult<ProjectChat> {
        actor.require_admin("make a chat a project's chat")?;
        let (project, created) = match self.store.project_by_name(name.trim()).await {
            Ok(project) => (project, false),
            Err(StoreError::NotFound) => {
                let new = NewProject {
                    name: name.to_owned(),
                    ..NewProject::default()
                };
                (self.create_project(actor, new).await?, true)
            }
            Err(e) => return Err(e.into()),
        };
        let taken_from = self
            .store
            .move_project_chat(project.id, channel.as_str(), chat_id, &actor.audit())
            .await?;
        Ok(ProjectChat {
            project,
            created,
            taken_from,
        })
    }

    /// Every project (up to 500) and the chat it has, if any: (channel, chat id).
    pub async fn projects_with_chats(
        &self,
        actor: &Actor,
    ) -> WsResult<Vec<(Project, Option<(String, String)>)>> {
        let page = self
            .list_projects(actor, Paging::new(Some(Paging::MAX_LIMIT), None)?)
            .await?;
        let chats = self.store.chats_of_projects().await?;
        Ok(page
            .items
            .into_iter()
            .map(|project| {
                let chat = chats
                    .iter()
                    .find(|(id, _, _)| *id == project.id)
                    .map(|(_, channel, chat)| (channel.clone(), chat.clone()));
                (project, chat)
            })
            .collect())
    }

    pub async fn delete_project(&self, actor: &Actor, id: i64) -> WsResult<()> {
        actor.require(actor.is_admin(), "delete projects")?;
        self.store
            .delete_project(id, &actor.audit())
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("project {id} does not exist")))?;
        self.announce(actor, Change::ProjectDeleted(id)).await;
        Ok(())
    }
}
