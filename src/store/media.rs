//! Audio that arrived inside a message and has no platform to fetch it from later (the
//! attachments of inbound email): kept in `inbound_media` until the inbox worker transcribes it,
//! and for a week after, then dropped.

use chrono::Duration;

use super::{dispatch, dispatch_write, now, Store, StoreResult};

/// How long stored audio is kept.
const KEEP_DAYS: i64 = 7;

/// Stored audio.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredMedia {
    pub mime_type: Option<String>,
    pub file_name: Option<String>,
    pub bytes: Vec<u8>,
}

impl Store {
    /// Keeps `bytes` under `key` (a key stored before keeps its first bytes), and drops what
    /// is older than a week.
    pub async fn store_media(
        &self,
        key: &str,
        mime_type: Option<&str>,
        file_name: Option<&str>,
        bytes: &[u8],
    ) -> StoreResult<()> {
        let at = now();
        let expired = at - Duration::days(KEEP_DAYS);
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            sqlx::query("DELETE FROM inbound_media WHERE created_at < $1")
                .bind(expired)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO inbound_media (media_key, mime_type, file_name, bytes, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (media_key) DO NOTHING",
            )
            .bind(key)
            .bind(mime_type)
            .bind(file_name)
            .bind(bytes)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The audio stored under `key`, if it is still there.
    pub async fn media(&self, key: &str) -> StoreResult<Option<StoredMedia>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, StoredMedia>(
            "SELECT mime_type, file_name, bytes FROM inbound_media WHERE media_key = $1"
        )
        .bind(key)
        .fetch_optional(p)
        .await)?)
    }
}
