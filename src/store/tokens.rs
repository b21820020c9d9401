//! API tokens: only the SHA-256 of a token is stored; the token itself is shown once.

use chrono::{DateTime, Utc};

use super::audit::record_audit;
use super::{dispatch, now, AuditEntry, Store, StoreResult};
use crate::domain::Role;

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl Store {
    pub async fn create_token(
        &self,
        name: &str,
        token_hash: &str,
        role: Role,
        by: &AuditEntry,
    ) -> StoreResult<i64> {
        Ok(dispatch!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO api_tokens (name, token_hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(name)
            .bind(token_hash)
            .bind(role.as_str())
            .bind(now())
            .fetch_one(&mut *tx)
            .await?;
            record_audit!(
                tx,
                by,
                "token.create",
                "token",
                id,
                serde_json::json!({"name": name, "role": role})
            );
            tx.commit().await?;
            id
        }))
    }

    /// The token with this hash, if any.
    pub async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
        let row: Option<(i64, String, String, DateTime<Utc>)> = dispatch!(self, |p| sqlx::query_as(
            "SELECT id, name, role, created_at FROM api_tokens WHERE token_hash = $1"
        )
        .bind(token_hash)
        .fetch_optional(p)
        .await)?;
        Ok(row.and_then(|(id, name, role, created_at)| {
            Some(ApiToken {
                id,
                name,
                role: role.parse().ok()?,
                created_at,
            })
        }))
    }

    pub async fn count_tokens(&self) -> StoreResult<i64> {
        let (n,): (i64,) = dispatch!(self, |p| sqlx::query_as("SELECT COUNT(*) FROM api_tokens")
            .fetch_one(p)
            .await)?;
        Ok(n)
    }
}
