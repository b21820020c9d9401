//! Throw-away PostgreSQL schemas, for the tests, the benchmarks and the load tool: each run gets
//! an empty database on a shared server, as a URL whose connections use that schema. Schemas
//! that a killed run left behind are dropped after an hour.

use std::sync::atomic::{AtomicU32, Ordering};

use super::{StoreError, StoreResult};

/// An empty schema on a PostgreSQL server, until [`ScratchSchema::drop_now`].
#[derive(Debug, Clone)]
pub struct ScratchSchema {
    base: String,
    /// `{prefix}_{unix seconds}_{pid}_{n}`.
    pub name: String,
    /// `base` with `search_path` set to the schema.
    pub url: String,
}

impl ScratchSchema {
    /// Creates a schema named after `prefix` (letters only) on the server at `base`.
    pub async fn create(base: &str, prefix: &str) -> StoreResult<Self> {
        static N: AtomicU32 = AtomicU32::new(0);
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let prefix: String = prefix.chars().filter(char::is_ascii_alphabetic).collect();
        let name = format!(
            "{prefix}_{started}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let pool = sqlx::PgPool::connect(base).await?;
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&pool)
            .await?;
        // Left-overs of runs older than an hour (killed before they could drop theirs).
        let pattern = format!("^{prefix}_[0-9]+_");
        let old: Vec<(String,)> = sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname ~ $1")
            .bind(&pattern)
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
        for (old,) in old {
            let stamp: u64 = old
                .split('_')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(u64::MAX);
            if stamp.saturating_add(3600) < started {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {old} CASCADE"))
                    .execute(&pool)
                    .await;
            }
        }
        pool.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        Ok(Self {
            url: format!("{base}{sep}options=-c%20search_path%3D{name}"),
            base: base.to_owned(),
            name,
        })
    }

    /// Drops the schema and everything in it.
    pub async fn drop_now(&self) -> StoreResult<()> {
        let pool = sqlx::PgPool::connect(&self.base).await?;
        let dropped = sqlx::query(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .execute(&pool)
            .await;
        pool.close().await;
        dropped.map(|_| ()).map_err(StoreError::from)
    }
}
