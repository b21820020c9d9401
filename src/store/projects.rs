//! Projects.

use chrono::{DateTime, Utc};

use super::audit::record_audit;
use super::{dispatch, dispatch_write, now, AuditEntry, Store, StoreError, StoreResult};
use crate::domain::{Project, ProjectStatus};

/// The writable fields of a project, already validated.
#[derive(Debug, Clone)]
pub struct ProjectData {
    pub name: String,
    pub description: String,
    pub status: ProjectStatus,
    pub deadline: Option<DateTime<Utc>>,
    pub notify_chat: bool,
}

impl From<&Project> for ProjectData {
    fn from(p: &Project) -> Self {
        Self {
            name: p.name.clone(),
            description: p.description.clone(),
            status: p.status,
            deadline: p.deadline,
            notify_chat: p.notify_chat,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ProjectRow {
    id: i64,
    name: String,
    description: String,
    status: String,
    deadline: Option<DateTime<Utc>>,
    notify_chat: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ProjectRow> for Project {
    type Error = StoreError;
    fn try_from(r: ProjectRow) -> StoreResult<Self> {
        Ok(Project {
            id: r.id,
            name: r.name,
            description: r.description,
            status: r
                .status
                .parse()
                .map_err(|e| StoreError::Other(format!("project {}: {e}", r.id)))?,
            deadline: r.deadline,
            notify_chat: r.notify_chat,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const SELECT: &str =
    "SELECT id, name, description, status, deadline, notify_chat, created_at, updated_at FROM projects";

impl Store {
    pub async fn create_project(&self, data: &ProjectData, by: &AuditEntry) -> StoreResult<Project> {
        let at = now();
        let id: i64 = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO projects (name, description, status, deadline, notify_chat, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            )
            .bind(&data.name)
            .bind(&data.description)
            .bind(data.status.as_str())
            .bind(data.deadline)
            .bind(data.notify_chat)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            record_audit!(
                tx,
                by,
                "project.create",
                "project",
                id,
                serde_json::json!({"name": data.name})
            );
            tx.commit().await?;
            id
        });
        self.project(id).await
    }

    pub async fn project(&self, id: i64) -> StoreResult<Project> {
        let sql = format!("{SELECT} WHERE id = $1");
        let row = dispatch!(self, |p| sqlx::query_as::<_, ProjectRow>(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?;
        row.try_into()
    }

    pub async fn project_by_name(&self, name: &str) -> StoreResult<Project> {
        let sql = format!("{SELECT} WHERE lower(name) = lower($1) ORDER BY id LIMIT 1");
        let row = dispatch!(self, |p| sqlx::query_as::<_, ProjectRow>(&sql)
            .bind(name)
            .fetch_one(p)
            .await)?;
        row.try_into()
    }

    /// A page of projects, oldest first, and the total count.
    pub async fn list_projects(&self, limit: i64, offset: i64) -> StoreResult<(Vec<Project>, i64)> {
        let sql = format!("{SELECT} ORDER BY id LIMIT $1 OFFSET $2");
        let (rows, total) = dispatch!(self, |p| {
            let rows = sqlx::query_as::<_, ProjectRow>(&sql)
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await?;
            let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM projects")
                .fetch_one(p)
                .await?;
            (rows, total)
        });
        let projects = rows
            .into_iter()
            .map(Project::try_from)
            .collect::<StoreResult<_>>()?;
        Ok((projects, total))
    }

    pub async fn update_project(&self, id: i64, data: &ProjectData, by: &AuditEntry) -> StoreResult<Project> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let done = sqlx::query(
                "UPDATE projects SET name = $1, description = $2, status = $3, deadline = $4, \
                 notify_chat = $5, updated_at = $6 WHERE id = $7",
            )
            .bind(&data.name)
            .bind(&data.description)
            .bind(data.status.as_str())
            .bind(data.deadline)
            .bind(data.notify_chat)
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let detail = serde_json::json!({"name": data.name, "status": data.status, "notify_chat": data.notify_chat});
            record_audit!(tx, by, "project.update", "project", id, detail);
            tx.commit().await?;
        });
        self.project(id).await
    }

    /// Deletes a project that has no tasks; a project with tasks is a conflict.
    pub async fn delete_project(&self, id: i64, by: &AuditEntry) -> StoreResult<()> {
        self.delete_audited(super::audit::Deletable::Project, id, by)
            .await
    }
}
