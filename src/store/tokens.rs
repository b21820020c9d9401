//! API tokens: only the SHA-256 of a token is stored; the token itself is shown once. A token
//! may expire, and may be revoked; its name is unique (it is the token's principal) and stays
//! taken after revocation.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::audit::record_audit;
use super::{dispatch, dispatch_write, now, AuditEntry, Store, StoreError, StoreResult};
use crate::domain::Role;

/// A token as listed: never the token itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    #[schema(value_type = String)]
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Whether the token opens the API at `at`: not revoked and not expired.
    pub fn valid_at(&self, at: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > at)
    }
}

type Row = (
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

const SELECT: &str =
    "SELECT id, name, role, created_at, expires_at, revoked_at, last_used_at FROM api_tokens";

fn token(row: Row) -> Option<ApiToken> {
    let (id, name, role, created_at, expires_at, revoked_at, last_used_at) = row;
    Some(ApiToken {
        id,
        name,
        role: role.parse().ok()?,
        created_at,
        expires_at,
        revoked_at,
        last_used_at,
    })
}

impl Store {
    /// Stores a token's hash under `name`; `Conflict` when the name is taken.
    pub async fn create_token(
        &self,
        name: &str,
        token_hash: &str,
        role: Role,
        expires_at: Option<DateTime<Utc>>,
        by: &AuditEntry,
    ) -> StoreResult<i64> {
        let created = dispatch_write!(self, |p| async {
            let mut tx = crate::store::begin_write(p).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO api_tokens (name, token_hash, role, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(name)
            .bind(token_hash)
            .bind(role.as_str())
            .bind(now())
            .bind(expires_at)
            .fetch_one(&mut *tx)
            .await?;
            record_audit!(
                tx,
                by,
                "token.create",
                "token",
                id,
                serde_json::json!({"name": name, "role": role, "expires_at": expires_at})
            );
            tx.commit().await?;
            Ok::<i64, StoreError>(id)
        }
        .await);
        created.map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!("a token named '{name}' exists already")),
            other => other,
        })
    }

    /// The token with this hash, if any (also when revoked or expired: the caller decides).
    pub async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
        let sql = format!("{SELECT} WHERE token_hash = $1");
        let row: Option<Row> = dispatch!(self, |p| sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(p)
            .await)?;
        Ok(row.and_then(token))
    }

    /// Every token, newest first.
    pub async fn tokens(&self) -> StoreResult<Vec<ApiToken>> {
        let sql = format!("{SELECT} ORDER BY id DESC");
        let rows: Vec<Row> = dispatch!(self, |p| sqlx::query_as(&sql).fetch_all(p).await)?;
        Ok(rows.into_iter().filter_map(token).collect())
    }

    /// Revokes the token `name` at once; `NotFound` when there is no such token not yet revoked.
    pub async fn revoke_token(&self, name: &str, by: &AuditEntry) -> StoreResult<()> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let row: Option<(i64,)> = sqlx::query_as(
                "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL RETURNING id",
            )
            .bind(now())
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id,)) = row else {
                return Err(StoreError::NotFound);
            };
            record_audit!(
                tx,
                by,
                "token.revoke",
                "token",
                id,
                serde_json::json!({"name": name})
            );
            tx.commit().await?;
        });
        Ok(())
    }

    /// Notes that token `id` was used at `at`.
    pub async fn token_used(&self, id: i64, at: DateTime<Utc>) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2"
        )
        .bind(at)
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn count_tokens(&self) -> StoreResult<i64> {
        let (n,): (i64,) = dispatch!(self, |p| sqlx::query_as("SELECT COUNT(*) FROM api_tokens")
            .fetch_one(p)
            .await)?;
        Ok(n)
    }
}
