//! Files on tasks: their rows (`task_files`), their bytes (in [`Blobs`]: the data folder or an
//! S3-compatible bucket), and the files of recent chat messages (`chat_files`) that a later
//! `/attach ID` reply refers to.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::audit::record_audit;
use super::blobs::Blobs;
use super::{dispatch, dispatch_write, now, AuditEntry, Store, StoreResult};

/// How long the files of a chat message can be attached by a reply.
const CHAT_FILES_DAYS: i64 = 30;

/// A file on a task.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct TaskFile {
    pub id: i64,
    pub task_id: i64,
    pub name: String,
    pub mime_type: String,
    /// Bytes.
    pub size: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Who attached it: a handle, `token:NAME`, or the chat identity.
    pub uploaded_by: String,
    pub created_at: DateTime<Utc>,
}

const SELECT: &str =
    "SELECT id, task_id, name, mime_type, size, sha256, uploaded_by, created_at FROM task_files";

impl Store {
    /// Keeps `bytes` as file `name` of task `task_id`: the bytes first, then the row. A
    /// `source_key` seen before returns the file it made then.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_task_file(
        &self,
        blobs: &Blobs,
        task_id: i64,
        name: &str,
        mime_type: &str,
        bytes: &[u8],
        source_key: Option<&str>,
        by: &AuditEntry,
    ) -> StoreResult<TaskFile> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        blobs.write(task_id, &sha256, bytes).await?;
        let id: i64 = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let inserted: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO task_files (task_id, name, mime_type, size, sha256, uploaded_by, source_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (source_key) DO NOTHING RETURNING id",
            )
            .bind(task_id)
            .bind(name)
            .bind(mime_type)
            .bind(bytes.len() as i64)
            .bind(&sha256)
            .bind(&by.actor)
            .bind(source_key)
            .bind(now())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id,)) = inserted else {
                let (id,): (i64,) = sqlx::query_as("SELECT id FROM task_files WHERE source_key = $1")
                    .bind(source_key)
                    .fetch_one(&mut *tx)
                    .await?;
                // End the write transaction before reading on another connection.
                tx.rollback().await?;
                return self.task_file(id).await;
            };
            let detail = serde_json::json!({"task_id": task_id, "name": name, "size": bytes.len()});
            record_audit!(tx, by, "file.attach", "file", id, detail);
            tx.commit().await?;
            id
        });
        self.task_file(id).await
    }

    pub async fn task_file(&self, id: i64) -> StoreResult<TaskFile> {
        let sql = format!("{SELECT} WHERE id = $1");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, TaskFile>(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// The files of task `task_id`, oldest first.
    pub async fn task_files(&self, task_id: i64) -> StoreResult<Vec<TaskFile>> {
        let sql = format!("{SELECT} WHERE task_id = $1 ORDER BY id");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, TaskFile>(&sql)
            .bind(task_id)
            .fetch_all(p)
            .await)?)
    }

    /// Remembers the files of chat message `message_id` (JSON of its attachments), for a reply
    /// that attaches them; forgets those older than a month.
    pub async fn remember_chat_files(
        &self,
        channel: &str,
        chat_id: &str,
        message_id: &str,
        attachments: &str,
    ) -> StoreResult<()> {
        let at = now();
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            sqlx::query("DELETE FROM chat_files WHERE created_at < $1")
                .bind(at - Duration::days(CHAT_FILES_DAYS))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO chat_files (channel, chat_id, message_id, attachments, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(channel)
            .bind(chat_id)
            .bind(message_id)
            .bind(attachments)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The attachments (JSON) remembered for chat message `message_id`.
    pub async fn chat_files(
        &self,
        channel: &str,
        chat_id: &str,
        message_id: &str,
    ) -> StoreResult<Option<String>> {
        Ok(dispatch!(self, |p| sqlx::query_scalar::<_, String>(
            "SELECT attachments FROM chat_files WHERE channel = $1 AND chat_id = $2 AND message_id = $3"
        )
        .bind(channel)
        .bind(chat_id)
        .bind(message_id)
        .fetch_optional(p)
        .await)?)
    }
}
