//! What the integrations (Zendesk, CRM) keep: their settings (secrets only ever sealed, never
//! in plain text), links between our records and the outside system's, sync cursors, and the
//! jobs of the `integration_jobs` queue (claimed, retried and given up through `Queue`).

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::recent::Kept;
use super::{dispatch, dispatch_write, now, Store, StoreResult};

/// One stored setting: a plain `value`, or a `sealed` secret (nonce || ciphertext).
#[derive(Clone, sqlx::FromRow)]
pub struct StoredSetting {
    pub name: String,
    pub value: Option<String>,
    pub sealed: Option<Vec<u8>>,
}

impl std::fmt::Debug for StoredSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSetting")
            .field("name", &self.name)
            .field("value", &self.value)
            .field("sealed", &self.sealed.as_ref().map(|_| "[sealed]"))
            .finish()
    }
}

/// A link between one of our records and an outside object.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExternalLink {
    /// `zendesk` or `crm`.
    pub system: String,
    /// The outside type: `ticket`, `comment`, `deal`, `contact`…
    pub object_type: String,
    pub external_id: String,
    /// Ours: `task`, `project`, `person`, `comment`.
    pub resource: String,
    pub local_id: i64,
    /// What was last synced: a ticket's `updated_at`, a hash of a CRM object's fields.
    pub version: Option<String>,
    pub updated_at: DateTime<Utc>,
}

const LINK_COLUMNS: &str = "system, object_type, external_id, resource, local_id, version, updated_at";

impl Store {
    /// The stored settings of one integration (kept for [`super::KEPT_FOR`]: see `recent`).
    pub async fn integration_settings(&self, integration: &str) -> StoreResult<Vec<StoredSetting>> {
        let ticket = match self.settings.get(integration) {
            Kept::Hit(settings) => return Ok(settings),
            Kept::Miss(ticket) => ticket,
        };
        let settings = dispatch!(self, |p| sqlx::query_as::<_, StoredSetting>(
            "SELECT name, value, sealed FROM integration_settings WHERE integration = $1 ORDER BY name"
        )
        .bind(integration)
        .fetch_all(p)
        .await)?;
        self.settings
            .keep(ticket, integration.to_owned(), settings.clone());
        Ok(settings)
    }

    /// Sets a plain value or a sealed secret (exactly one of them), replacing what was there.
    pub async fn put_integration_setting(
        &self,
        integration: &str,
        name: &str,
        value: Option<&str>,
        sealed: Option<&[u8]>,
    ) -> StoreResult<()> {
        let written = dispatch_write!(self, |p| sqlx::query(
            "INSERT INTO integration_settings (integration, name, value, sealed, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (integration, name) DO UPDATE SET \
             value = excluded.value, sealed = excluded.sealed, updated_at = excluded.updated_at"
        )
        .bind(integration)
        .bind(name)
        .bind(value)
        .bind(sealed)
        .bind(now())
        .execute(p)
        .await
        .map(|_| ()));
        self.settings.forget();
        written?;
        Ok(())
    }

    /// Removes a setting, so that the environment's value applies again.
    pub async fn delete_integration_setting(&self, integration: &str, name: &str) -> StoreResult<()> {
        let deleted = dispatch_write!(self, |p| sqlx::query(
            "DELETE FROM integration_settings WHERE integration = $1 AND name = $2"
        )
        .bind(integration)
        .bind(name)
        .execute(p)
        .await
        .map(|_| ()));
        self.settings.forget();
        deleted?;
        Ok(())
    }

    pub async fn external_link(
        &self,
        system: &str,
        object_type: &str,
        external_id: &str,
    ) -> StoreResult<Option<ExternalLink>> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM external_links WHERE system = $1 AND object_type = $2 \
             AND external_id = $3"
        );
        Ok(dispatch!(self, |p| sqlx::query_as::<_, ExternalLink>(&sql)
            .bind(system)
            .bind(object_type)
            .bind(external_id)
            .fetch_optional(p)
            .await)?)
    }

    /// The outside objects one of our records is linked to.
    pub async fn links_of(
        &self,
        system: &str,
        resource: &str,
        local_id: i64,
    ) -> StoreResult<Vec<ExternalLink>> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM external_links WHERE system = $1 AND resource = $2 \
             AND local_id = $3 ORDER BY object_type, external_id"
        );
        Ok(dispatch!(self, |p| sqlx::query_as::<_, ExternalLink>(&sql)
            .bind(system)
            .bind(resource)
            .bind(local_id)
            .fetch_all(p)
            .await)?)
    }

    /// The links of many outside objects of one type at once.
    pub async fn external_links(
        &self,
        system: &str,
        object_type: &str,
        external_ids: &[String],
    ) -> StoreResult<Vec<ExternalLink>> {
        if external_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = dispatch!(self, |p| {
            let mut qb = QueryBuilder::new(format!(
                "SELECT {LINK_COLUMNS} FROM external_links WHERE system = "
            ));
            qb.push_bind(system)
                .push(" AND object_type = ")
                .push_bind(object_type)
                .push(" AND external_id IN (");
            let mut list = qb.separated(", ");
            for id in external_ids {
                list.push_bind(id.as_str());
            }
            qb.push(")");
            qb.build_query_as::<ExternalLink>().fetch_all(p).await?
        });
        Ok(rows)
    }

    /// Records a link; `false` when the outside object was linked already (nothing changes).
    pub async fn insert_external_link(&self, link: &NewLink<'_>) -> StoreResult<bool> {
        let at = now();
        let done = dispatch_write!(self, |p| sqlx::query(
            "INSERT INTO external_links (system, object_type, external_id, resource, local_id, \
             version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (system, object_type, external_id) DO NOTHING"
        )
        .bind(link.system)
        .bind(link.object_type)
        .bind(link.external_id)
        .bind(link.resource)
        .bind(link.local_id)
        .bind(link.version)
        .bind(at)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Points a link at `local_id` with `version`, creating it when missing.
    pub async fn upsert_external_link(&self, link: &NewLink<'_>) -> StoreResult<()> {
        let at = now();
        dispatch_write!(self, |p| sqlx::query(
            "INSERT INTO external_links (system, object_type, external_id, resource, local_id, \
             version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (system, object_type, external_id) DO UPDATE SET resource = excluded.resource, \
             local_id = excluded.local_id, version = excluded.version, updated_at = excluded.updated_at"
        )
        .bind(link.system)
        .bind(link.object_type)
        .bind(link.external_id)
        .bind(link.resource)
        .bind(link.local_id)
        .bind(link.version)
        .bind(at)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn delete_external_link(
        &self,
        system: &str,
        object_type: &str,
        external_id: &str,
    ) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "DELETE FROM external_links WHERE system = $1 AND object_type = $2 AND external_id = $3"
        )
        .bind(system)
        .bind(object_type)
        .bind(external_id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Where an incremental sync stopped (e.g. Zendesk's export cursor).
    pub async fn sync_cursor(&self, name: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = dispatch!(self, |p| sqlx::query_as(
            "SELECT cursor FROM sync_cursors WHERE name = $1"
        )
        .bind(name)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(c,)| c))
    }

    pub async fn set_sync_cursor(&self, name: &str, cursor: &str) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "INSERT INTO sync_cursors (name, cursor, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at"
        )
        .bind(name)
        .bind(cursor)
        .bind(now())
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Queues integration work of `kind`; jobs with the same `key` run in order. `false` when
    /// `dedupe_key` was queued before (a redelivered webhook).
    pub async fn enqueue_integration_job(
        &self,
        kind: &str,
        key: &str,
        payload: &str,
        dedupe_key: Option<&str>,
    ) -> StoreResult<bool> {
        let at = now();
        let done = dispatch_write!(self, |p| sqlx::query(
            "INSERT INTO integration_jobs (channel, chat_id, payload, dedupe_key, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) \
             ON CONFLICT (dedupe_key) DO NOTHING"
        )
        .bind(kind)
        .bind(key)
        .bind(payload)
        .bind(dedupe_key)
        .bind(at)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// The integration jobs of one kind, oldest first: (status, payload, attempts, last error).
    pub async fn integration_jobs(
        &self,
        kind: &str,
    ) -> StoreResult<Vec<(String, String, i32, Option<String>)>> {
        Ok(dispatch!(self, |p| sqlx::query_as(
            "SELECT status, payload, attempts, last_error FROM integration_jobs WHERE channel = $1 \
             ORDER BY id"
        )
        .bind(kind)
        .fetch_all(p)
        .await)?)
    }
}

/// A link to record.
#[derive(Debug, Clone, Copy)]
pub struct NewLink<'a> {
    pub system: &'a str,
    pub object_type: &'a str,
    pub external_id: &'a str,
    pub resource: &'a str,
    pub local_id: i64,
    pub version: Option<&'a str>,
}
