//! The web page's state: one-time sign-in links, browser sessions (only hashes of the link
//! codes and session ids are kept) and how far each principal has read the alerts feed.

use chrono::{DateTime, Utc};

use super::{dispatch, dispatch_write, Store, StoreResult};

/// A browser session as stored; whose it is decides the actor on each request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebSession {
    pub id: i64,
    /// `handle` of a person, or `token:NAME` for an API token.
    pub principal: String,
    pub person_id: Option<i64>,
    pub token_id: Option<i64>,
    /// The session's CSRF token: every form of this session carries it.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A session to store.
#[derive(Debug, Clone)]
pub struct NewWebSession<'a> {
    pub id_hash: &'a str,
    pub principal: &'a str,
    pub person_id: Option<i64>,
    pub token_id: Option<i64>,
    pub csrf: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// Stores a sign-in link's code hash for `person_id`, usable until `expires_at`.
    pub async fn create_sign_in(
        &self,
        code_hash: &str,
        person_id: i64,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "INSERT INTO web_sign_ins (code_hash, person_id, expires_at, created_at) VALUES ($1, $2, $3, $4)"
        )
        .bind(code_hash)
        .bind(person_id)
        .bind(expires_at)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Uses the sign-in link with this code hash: its person, when it was unused and not
    /// expired at `now`. A second use finds nothing (one atomic update).
    pub async fn redeem_sign_in(&self, code_hash: &str, now: DateTime<Utc>) -> StoreResult<Option<i64>> {
        let row: Option<(i64,)> = dispatch_write!(self, |p| sqlx::query_as(
            "UPDATE web_sign_ins SET used_at = $1 \
             WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING person_id"
        )
        .bind(now)
        .bind(code_hash)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(id,)| id))
    }

    pub async fn create_web_session(&self, new: &NewWebSession<'_>) -> StoreResult<i64> {
        let (id,): (i64,) = dispatch_write!(self, |p| {
            sqlx::query_as(
            "INSERT INTO web_sessions (id_hash, principal, person_id, token_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
        )
        .bind(new.id_hash)
        .bind(new.principal)
        .bind(new.person_id)
        .bind(new.token_id)
        .bind(new.csrf)
        .bind(new.created_at)
        .bind(new.expires_at)
        .fetch_one(p)
        .await
        })?;
        Ok(id)
    }

    /// The session with this id hash, whatever its state (the caller checks expiry).
    pub async fn web_session(&self, id_hash: &str) -> StoreResult<Option<WebSession>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, WebSession>(
            "SELECT id, principal, person_id, token_id, csrf, created_at, expires_at, revoked_at \
             FROM web_sessions WHERE id_hash = $1"
        )
        .bind(id_hash)
        .fetch_optional(p)
        .await)?)
    }

    /// Whether session `id` is neither revoked nor expired at `now`.
    pub async fn web_session_live(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        let row: Option<(i64,)> = dispatch!(self, |p| sqlx::query_as(
            "SELECT id FROM web_sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2"
        )
        .bind(id)
        .bind(now)
        .fetch_optional(p)
        .await)?;
        Ok(row.is_some())
    }

    /// Ends one session (sign out).
    pub async fn revoke_web_session(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "UPDATE web_sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
        )
        .bind(now)
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
        // Its live streams look again, and end.
        self.feed_changed();
        Ok(())
    }

    /// Ends every session of `principal` (sign out everywhere); how many were live.
    pub async fn revoke_web_sessions(&self, principal: &str, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = dispatch_write!(self, |p| sqlx::query(
            "UPDATE web_sessions SET revoked_at = $1 WHERE principal = $2 AND revoked_at IS NULL"
        )
        .bind(now)
        .bind(principal)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        self.feed_changed();
        Ok(done)
    }

    /// Until when `principal` has read the alerts feed.
    pub async fn feed_seen(&self, principal: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let row: Option<(DateTime<Utc>,)> = dispatch!(self, |p| sqlx::query_as(
            "SELECT seen_at FROM web_feed_reads WHERE principal = $1"
        )
        .bind(principal)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(at,)| at))
    }

    pub async fn set_feed_seen(&self, principal: &str, at: DateTime<Utc>) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "INSERT INTO web_feed_reads (principal, seen_at) VALUES ($1, $2) \
             ON CONFLICT (principal) DO UPDATE SET seen_at = excluded.seen_at"
        )
        .bind(principal)
        .bind(at)
        .execute(p)
        .await
        .map(|_| ()))?;
        // The unread count of the principal's other open pages changes.
        self.feed_changed();
        Ok(())
    }

    /// The role of API token `id` while it is neither revoked nor expired at `now`.
    pub async fn live_token_role(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<crate::domain::Role>> {
        let row: Option<(String,)> = dispatch!(self, |p| sqlx::query_as(
            "SELECT role FROM api_tokens WHERE id = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)"
        )
        .bind(id)
        .bind(now)
        .fetch_optional(p)
        .await)?;
        Ok(row.and_then(|(role,)| role.parse().ok()))
    }
}
