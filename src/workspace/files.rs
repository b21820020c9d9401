//! Files on tasks: attached by members (the task must exist; size and type are checked against
//! `FILES_MAX_BYTES` and `FILES_ALLOWED_TYPES` whatever the way in), listed and downloaded by
//! whoever may read the task, deleted with it. The files of chat messages are remembered so
//! that `/attach ID`, sent as a reply to one, finds them.

use super::{Actor, Workspace, WorkspaceError, WsResult};
use crate::domain::{FileRules, ValidationError};
use crate::message::Attachment;
use crate::store::{Blobs, TaskFile};

/// Where files are kept and what is taken.
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// The data folder, or an S3-compatible bucket (`FILES_S3_BUCKET`).
    pub blobs: Blobs,
    pub rules: FileRules,
}

/// A file to attach.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub name: String,
    /// As declared; checked (and guessed from the name when missing).
    pub mime_type: Option<String>,
    pub bytes: Vec<u8>,
    /// The chat message (and attachment) it came from: attaching it twice keeps one file.
    pub source_key: Option<String>,
}

impl Workspace {
    /// Files are kept in `files.blobs` under `files.rules`.
    pub fn with_files(mut self, files: FileSettings) -> Self {
        self.files = Some(std::sync::Arc::new(files));
        self
    }

    /// The rules files are checked against (`None`: files are not kept here).
    pub fn file_rules(&self) -> Option<&FileRules> {
        self.files.as_deref().map(|f| &f.rules)
    }

    fn file_settings(&self) -> WsResult<&FileSettings> {
        self.files
            .as_deref()
            .ok_or_else(|| WorkspaceError::Conflict("files are not kept on this server".into()))
    }

    /// Attaches `file` to task `task_id`.
    pub async fn attach_file(&self, actor: &Actor, task_id: i64, file: NewFile) -> WsResult<TaskFile> {
        actor.require_member("attach files")?;
        let settings = self.file_settings()?;
        self.task(actor, task_id).await?;
        let name = clean_name(&file.name);
        let content_type = FileRules::content_type(file.mime_type.as_deref(), &name);
        settings
            .rules
            .check(&name, &content_type, file.bytes.len() as u64)
            .map_err(|why| ValidationError::new("file", why))?;
        Ok(self
            .store
            .add_task_file(
                &settings.blobs,
                task_id,
                &name,
                &content_type,
                &file.bytes,
                file.source_key.as_deref(),
                &actor.audit(),
            )
            .await?)
    }

    /// The files of task `task_id`.
    pub async fn task_files(&self, actor: &Actor, task_id: i64) -> WsResult<Vec<TaskFile>> {
        self.task(actor, task_id).await?;
        Ok(self.store.task_files(task_id).await?)
    }

    /// File `file_id` of task `task_id` and its bytes.
    pub async fn task_file(
        &self,
        actor: &Actor,
        task_id: i64,
        file_id: i64,
    ) -> WsResult<(TaskFile, Vec<u8>)> {
        self.task(actor, task_id).await?;
        let missing = || format!("task {task_id} has no file {file_id}");
        let file = self
            .store
            .task_file(file_id)
            .await
            .map_err(|e| WorkspaceError::from_store(e, missing))?;
        if file.task_id != task_id {
            return Err(WorkspaceError::NotFound(missing()));
        }
        let bytes = self
            .file_settings()?
            .blobs
            .read(file.task_id, &file.sha256)
            .await?;
        Ok((file, bytes))
    }

    /// Remembers the files of a chat message.
    pub async fn remember_chat_files(
        &self,
        channel: &str,
        chat_id: &str,
        message_id: &str,
        files: &[Attachment],
    ) -> WsResult<()> {
        let json = serde_json::to_string(files).map_err(|e| WorkspaceError::Internal(e.to_string()))?;
        Ok(self
            .store
            .remember_chat_files(channel, chat_id, message_id, &json)
            .await?)
    }

    /// The files of chat message `message_id`, if it had any.
    pub async fn chat_files(
        &self,
        channel: &str,
        chat_id: &str,
        message_id: &str,
    ) -> WsResult<Vec<Attachment>> {
        let Some(json) = self.store.chat_files(channel, chat_id, message_id).await? else {
            return Ok(Vec::new());
        };
        Ok(serde_json::from_str(&json).unwrap_or_default())
    }

    /// The content hashes of task `task_id`'s files, read before the task is deleted: the
    /// bytes to remove once it is.
    pub(super) async fn task_file_hashes(&self, task_id: i64) -> WsResult<Vec<String>> {
        if self.files.is_none() {
            return Ok(Vec::new());
        }
        let files = self.store.task_files(task_id).await?;
        Ok(files.into_iter().map(|f| f.sha256).collect())
    }

    /// Removes the bytes of a deleted task's files.
    pub(super) async fn drop_task_files(&self, task_id: i64, sha256s: &[String]) {
        if let Some(files) = &self.files {
            files.blobs.remove_task(task_id, sha256s).await;
        }
    }
}

/// A file name fit to show and to send back: no folders, no control characters, at most 200
/// characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.trim().is_empty() {
        "file".to_owned()
    } else {
        clean.trim().to_owned()
    }
}
