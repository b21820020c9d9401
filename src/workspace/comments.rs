//! Comment operations. Members may change and delete their own comments; admins any.

use serde::Deserialize;
use utoipa::ToSchema;

use super::{Actor, Origin, Page, Paging, Workspace, WorkspaceError, WsResult};
use crate::domain::{Comment, Handle, ValidationError};
use crate::store::CommentData;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    pub task_id: i64,
    /// Not blank, at most 20000 characters.
    #[schema(min_length = 1, max_length = 20000, pattern = r"\S")]
    pub content: String,
    /// Whose comment it is (a person's handle): admins may name anyone, everybody else only
    /// themselves. Default: the caller.
    #[serde(default)]
    pub author: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentUpdate {
    pub content: String,
}

fn content(text: &str) -> Result<String, ValidationError> {
    if text.trim().is_empty() {
        return Err(ValidationError::new("content", "must not be empty"));
    }
    if text.chars().count() > 20_000 {
        return Err(ValidationError::new(
            "content",
            "must be at most 20000 characters",
        ));
    }
    Ok(text.to_owned())
}

impl Workspace {
    pub async fn list_comments(
        &self,
        actor: &Actor,
        task_id: Option<i64>,
        paging: Paging,
    ) -> WsResult<Page<Comment>> {
        let _ = actor;
        let (items, total) = self
            .store
            .list_comments(task_id, paging.limit, paging.offset)
            .await?;
        Ok(Page { items, total })
    }

    pub async fn comment(&self, actor: &Actor, id: i64) -> WsResult<Comment> {
        let _ = actor;
        self.store
            .comment(id)
            .await
            .map_err(|e| WorkspaceError::from_store(e, || format!("comment {id} does not exist")))
    }

    /// Adds a comment; with an `origin`, the same chat message processed twice comments once.
    pub async fn add_comment(
        &self,
        actor: &Actor,
        new: NewComment,
        origin: Option<&Origin>,
    ) -> WsResult<Comment> {
        actor.require(actor.can_write(), "comment")?;
        let content = content(&new.content)?;
        // The task must exist: a comment on nothing is invalid input, not a missing route.
        match self.store.task(new.task_id).await {
            Ok(_) => {}
            Err(crate::store::StoreError::NotFound) => {
                return Err(
                    ValidationError::new("task_id", format!("task {} does not exist", new.task_id)).into(),
                )
            }
            Err(e) => return Err(e.into()),
        }
        let author = self.comment_author(actor, new.author.as_deref()).await?;
        let data = CommentData {
            task_id: new.task_id,
            content,
            author,
            source_key: origin.map(|o| o.source_key.clone()),
        };
        Ok(self.store.create_comment(&data, &actor.audit()).await?)
    }

    /// The author a comment is written as: the caller, or (admins only) a named person.
    async fn comment_author(&self, actor: &Actor, named: Option<&str>) -> WsResult<String> {
        let Some(named) = named.map(str::trim).filter(|n| !n.is_empty()) else {
            return Ok(actor.name.clone());
        };
        if named == actor.name {
            return Ok(actor.name.clone());
        }
        actor.require_admin("write a comment in someone else's name")?;
        let handle = Handle::parse_field(named, "author")?;
        match self.store.person_by_handle(handle.as_str()).await {
            Ok(person) => Ok(person.handle),
            Err(crate::store::StoreError::NotFound) => {
                Err(ValidationError::new("author", super::unknown_handle(handle.as_str())).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_comment(&self, actor: &Actor, id: i64, update: CommentUpdate) -> WsResult<Comment> {
        let current = self.comment(actor, id).await?;
        actor.require(
            actor.is_admin() || (actor.can_write() && current.author == actor.name),
            "change someone else's comment",
        )?;
        let content = content(&update.content)?;
        Ok(self.store.update_comment(id, &content, &actor.audit()).await?)
    }

    pub async fn delete_comment(&self, actor: &Actor, id: i64) -> WsResult<()> {
        let current = self.comment(actor, id).await?;
        actor.require(
            actor.is_admin() || (actor.can_write() && current.author == actor.name),
            "delete someone else's comment",
        )?;
        Ok(self.store.delete_comment(id, &actor.audit()).await?)
    }
}
