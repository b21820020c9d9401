//! Comments on tasks.

use chrono::{DateTime, Utc};

use super::audit::record_audit;
use super::{dispatch, dispatch_write, now, AuditEntry, Store, StoreError, StoreResult};
use crate::domain::Comment;

#[derive(Debug, Clone)]
pub struct CommentData {
    pub task_id: i64,
    pub content: String,
    pub author: String,
    /// A key seen before returns the comment it made then instead of a second one.
    pub source_key: Option<String>,
}

#[derive(sqlx::FromRow)]
struct CommentRow {
    id: i64,
    content: String,
    task_id: i64,
    author: String,
    created_at: DateTime<Utc>,
}

impl From<CommentRow> for Comment {
    fn from(r: CommentRow) -> Self {
        Comment {
            id: r.id,
            content: r.content,
            task_id: r.task_id,
            author: r.author,
            created_at: r.created_at,
        }
    }
}

const SELECT: &str = "SELECT id, content, task_id, author, created_at FROM comments";

impl Store {
    pub async fn create_comment(&self, data: &CommentData, by: &AuditEntry) -> StoreResult<Comment> {
        let at = now();
        let id: i64 = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let inserted: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO comments (task_id, content, author, created_at, updated_at, source_key) \
                 VALUES ($1, $2, $3, $4, $4, $5) ON CONFLICT (source_key) DO NOTHING RETURNING id",
            )
            .bind(data.task_id)
            .bind(&data.content)
            .bind(&data.author)
            .bind(at)
            .bind(&data.source_key)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id,)) = inserted else {
                let (id,): (i64,) = sqlx::query_as("SELECT id FROM comments WHERE source_key = $1")
                    .bind(&data.source_key)
                    .fetch_one(&mut *tx)
                    .await?;
                // End the write transaction before reading on another connection.
                tx.rollback().await?;
                return self.comment(id).await;
            };
            // A comment is activity on its task.
            sqlx::query("UPDATE tasks SET updated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(data.task_id)
                .execute(&mut *tx)
                .await?;
            record_audit!(
                tx,
                by,
                "comment.create",
                "comment",
                id,
                serde_json::json!({"task_id": data.task_id})
            );
            tx.commit().await?;
            id
        });
        self.comment(id).await
    }

    pub async fn comment(&self, id: i64) -> StoreResult<Comment> {
        let sql = format!("{SELECT} WHERE id = $1");
        let row = dispatch!(self, |p| sqlx::query_as::<_, CommentRow>(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?;
        Ok(row.into())
    }

    /// A page of comments (of one task when `task_id` is given), oldest first, and the total.
    pub async fn list_comments(
        &self,
        task_id: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<Comment>, i64)> {
        let filter = if task_id.is_some() {
            "WHERE task_id = $1"
        } else {
            "WHERE $1 IS NULL"
        };
        let sql = format!("{SELECT} {filter} ORDER BY id LIMIT $2 OFFSET $3");
        let count = format!("SELECT COUNT(*) FROM comments {filter}");
        let (rows, total) = dispatch!(self, |p| {
            let rows = sqlx::query_as::<_, CommentRow>(&sql)
                .bind(task_id)
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await?;
            let (total,): (i64,) = sqlx::query_as(&count).bind(task_id).fetch_one(p).await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(Comment::from).collect(), total))
    }

    pub async fn update_comment(&self, id: i64, content: &str, by: &AuditEntry) -> StoreResult<Comment> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let done = sqlx::query("UPDATE comments SET content = $1, updated_at = $2 WHERE id = $3")
                .bind(content)
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            record_audit!(tx, by, "comment.update", "comment", id, serde_json::json!({}));
            tx.commit().await?;
        });
        self.comment(id).await
    }

    pub async fn delete_comment(&self, id: i64, by: &AuditEntry) -> StoreResult<()> {
        self.delete_audited(super::audit::Deletable::Comment, id, by)
            .await
    }
}
