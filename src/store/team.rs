//! The team as administered from chat: the one-time claim code that makes the first admin,
//! the count of admins that must not drop to zero, open invites, and the chat that belongs to
//! a project (tasks made there belong to it).

use chrono::{DateTime, Utc};

use super::audit::record_audit;
use super::people::insert_identity;
use super::recent::Kept;
use super::{dispatch, dispatch_write, now, AuditEntry, PersonData, Store, StoreError, StoreResult};
use crate::domain::{Identity, Person, Role};

/// A link code not used yet and not expired: someone invited who has not linked a chat.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingInvite {
    pub handle: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// How many people are admins.
    pub async fn count_admins(&self) -> StoreResult<i64> {
        let (count,) = dispatch!(self, |p| sqlx::query_as::<_, (i64,)>(
            "SELECT COUNT(*) FROM people WHERE role = $1"
        )
        .bind(Role::Admin.as_str())
        .fetch_one(p)
        .await)?;
        Ok(count)
    }

    /// Keeps `code_hash` as the one claim code, replacing any earlier one.
    pub async fn replace_claim_code(&self, code_hash: &str, expires_at: DateTime<Utc>) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "INSERT INTO claim_codes (id, code_hash, expires_at, created_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET code_hash = excluded.code_hash, \
             expires_at = excluded.expires_at, created_at = excluded.created_at"
        )
        .bind(code_hash)
        .bind(expires_at)
        .bind(now())
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Forgets the claim code (once there is an admin, it has no use).
    pub async fn clear_claim_code(&self) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query("DELETE FROM claim_codes")
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Uses the claim code: the chat identity's person (made from `new` when the identity is
    /// nobody's yet) becomes an admin, and the code is gone. `NotFound` when the code is
    /// unknown, used or expired; `Conflict` when someone is an admin already.
    pub async fn redeem_claim_code(
        &self,
        code_hash: &str,
        identity: &Identity,
        new: &PersonData,
        at: DateTime<Utc>,
        by: &AuditEntry,
    ) -> StoreResult<Person> {
        let person_id: i64 = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let used: Option<(i32,)> = sqlx::query_as(
                "DELETE FROM claim_codes WHERE code_hash = $1 AND expires_at > $2 RETURNING id",
            )
            .bind(code_hash)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            if used.is_none() {
                return Err(StoreError::NotFound);
            }
            let (admins,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM people WHERE role = $1")
                .bind(Role::Admin.as_str())
                .fetch_one(&mut *tx)
                .await?;
            if admins > 0 {
                return Err(StoreError::Conflict("the bot already has an admin".into()));
            }
            let owner: Option<(i64,)> =
                sqlx::query_as("SELECT person_id FROM identities WHERE channel = $1 AND external_id = $2")
                    .bind(identity.channel.as_str())
                    .bind(&identity.external_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let id = match owner {
                Some((id,)) => {
                    sqlx::query("UPDATE people SET role = $1, updated_at = $2 WHERE id = $3")
                        .bind(Role::Admin.as_str())
                        .bind(at)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    id
                }
                None => {
                    let (id,): (i64,) = sqlx::query_as(
                        "INSERT INTO people (handle, name, email, timezone, role, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                    )
                    .bind(&new.handle)
                    .bind(&new.name)
                    .bind(&new.email)
                    .bind(&new.timezone)
                    .bind(Role::Admin.as_str())
                    .bind(at)
                    .fetch_one(&mut *tx)
                    .await?;
                    insert_identity!(tx, id, identity, at);
                    id
                }
            };
            let detail =
                serde_json::json!({"channel": identity.channel, "external_id": identity.external_id});
            record_audit!(tx, by, "person.claim", "person", id, detail);
            tx.commit().await?;
            id
        });
        self.person(person_id).await
    }

    /// Invites that are still open, soonest to expire first.
    pub async fn pending_invites(&self, at: DateTime<Utc>) -> StoreResult<Vec<PendingInvite>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, PendingInvite>(
            "SELECT p.handle, l.expires_at FROM link_codes l JOIN people p ON p.id = l.person_id \
             WHERE l.used_at IS NULL AND l.expires_at > $1 ORDER BY l.expires_at, p.handle"
        )
        .bind(at)
        .fetch_all(p)
        .await)?)
    }

    /// How many open (not done) tasks are assigned to a person.
    pub async fn open_tasks_of(&self, person_id: i64) -> StoreResult<i64> {
        let (count,) = dispatch!(self, |p| sqlx::query_as::<_, (i64,)>(
            "SELECT COUNT(*) FROM tasks WHERE assignee_id = $1 AND status <> 'done'"
        )
        .bind(person_id)
        .fetch_one(p)
        .await)?;
        Ok(count)
    }

    /// The project whose chat this is (the oldest, should several share it).
    /// Kept for [`super::KEPT_FOR`] (see `recent`): every task made in a chat asks.
    pub async fn project_for_chat(&self, channel: &str, chat_id: &str) -> StoreResult<Option<i64>> {
        let key = (channel.to_owned(), chat_id.to_owned());
        let ticket = match self.chat_projects.get(&key) {
            Kept::Hit(project) => return Ok(project),
            Kept::Miss(ticket) => ticket,
        };
        let found = dispatch!(self, |p| sqlx::query_as::<_, (i64,)>(
            "SELECT id FROM projects WHERE chat_channel = $1 AND chat_id = $2 ORDER BY id LIMIT 1"
        )
        .bind(channel)
        .bind(chat_id)
        .fetch_optional(p)
        .await)?
        .map(|(id,)| id);
        self.chat_projects.keep(ticket, key, found);
        Ok(found)
    }

    /// Every project's chat: (project id, channel, chat id), for projects that have one.
    pub async fn chats_of_projects(&self) -> StoreResult<Vec<(i64, String, String)>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, (i64, String, String)>(
            "SELECT id, chat_channel, chat_id FROM projects \
             WHERE chat_channel IS NOT NULL AND chat_id IS NOT NULL ORDER BY id"
        )
        .fetch_all(p)
        .await)?)
    }

    /// Makes the chat project `project_id`'s chat, and no other project's (their names are
    /// returned); the project's ladder pace is kept. `NotFound` when there is no such project.
    pub async fn move_project_chat(
        &self,
        project_id: i64,
        channel: &str,
        chat_id: &str,
        by: &AuditEntry,
    ) -> StoreResult<Vec<String>> {
        let moved = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let before: Vec<(String,)> = sqlx::query_as(
                "SELECT name FROM projects WHERE chat_channel = $1 AND chat_id = $2 AND id <> $3 ORDER BY id",
            )
            .bind(channel)
            .bind(chat_id)
            .bind(project_id)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE projects SET chat_channel = NULL, chat_id = NULL \
                 WHERE chat_channel = $1 AND chat_id = $2 AND id <> $3",
            )
            .bind(channel)
            .bind(chat_id)
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
            let done = sqlx::query("UPDATE projects SET chat_channel = $1, chat_id = $2 WHERE id = $3")
                .bind(channel)
                .bind(chat_id)
                .bind(project_id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let detail = serde_json::json!({"channel": channel, "chat_id": chat_id});
            record_audit!(tx, by, "project.chat", "project", project_id, detail);
            tx.commit().await?;
            before.into_iter().map(|(name,)| name).collect::<Vec<_>>()
        });
        self.chat_projects.forget();
        Ok(moved)
    }
}
