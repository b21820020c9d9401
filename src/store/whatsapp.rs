//! WhatsApp delivery state and the 24-hour customer-service window: what the Cloud API said
//! about each message we sent (by wamid, in `whatsapp_deliveries`), and when a `wa_id` last
//! wrote to us (from `inbox_events`). Status callbacks can arrive before the outbox records the
//! wamid of a send, so receipts live in their own table and are joined to the outbox row by
//! `platform_message_id`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{dispatch, dispatch_write, now, Store, StoreResult};

/// The inbox and outbox name of the channel.
const CHANNEL: &str = "whatsapp";

/// The Cloud API's error for a free-form message outside the customer-service window.
pub const REENGAGEMENT_REQUIRED: i64 = 131047;

/// A delivery status as the Cloud API reports it, in the order a message goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Graph accepted the send; no callback yet.
    Accepted,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Accepted => "accepted",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// `None` for statuses we do not track (`deleted`, `warning`, …).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "accepted" => Some(DeliveryStatus::Accepted),
            "sent" => Some(DeliveryStatus::Sent),
            "delivered" => Some(DeliveryStatus::Delivered),
            "read" => Some(DeliveryStatus::Read),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }

    /// A status only moves forward: a late `sent` after `read` changes nothing.
    fn rank(self) -> i32 {
        self as i32
    }
}

/// A status callback, ready to record.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryUpdate {
    pub wamid: String,
    /// The recipient (`recipient_id`).
    pub wa_id: Option<String>,
    pub status: DeliveryStatus,
    pub error_code: Option<i64>,
    pub error: Option<String>,
}

/// What is known about one sent message.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub wamid: String,
    pub wa_id: Option<String>,
    /// `text`, `interactive` or `template`.
    pub kind: Option<String>,
    pub status: String,
    pub error_code: Option<i64>,
    pub error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// What decides whether a free-form message may go to a `wa_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowFacts {
    /// When the person last wrote to us.
    pub last_inbound: Option<DateTime<Utc>>,
    /// The latest "re-engagement required" failure of a message to them.
    pub last_reengagement_failure: Option<DateTime<Utc>>,
}

impl Store {
    /// When `wa_id` last wrote, and when WhatsApp last refused a free-form message to them.
    pub async fn whatsapp_window_facts(&self, wa_id: &str) -> StoreResult<WindowFacts> {
        let last_inbound: Option<(DateTime<Utc>,)> = dispatch!(self, |p| {
            sqlx::query_as(
            "SELECT created_at FROM inbox_events WHERE channel = $1 AND chat_id = $2 ORDER BY id DESC LIMIT 1"
        )
        .bind(CHANNEL)
        .bind(wa_id)
        .fetch_optional(p)
        .await
        })?;
        let failure: Option<(DateTime<Utc>,)> = dispatch!(self, |p| sqlx::query_as(
            "SELECT updated_at FROM whatsapp_deliveries WHERE wa_id = $1 AND error_code = $2 \
             ORDER BY updated_at DESC LIMIT 1"
        )
        .bind(wa_id)
        .bind(REENGAGEMENT_REQUIRED)
        .fetch_optional(p)
        .await)?;
        Ok(WindowFacts {
            last_inbound: last_inbound.map(|(at,)| at),
            last_reengagement_failure: failure.map(|(at,)| at),
        })
    }

    /// Records that `wamid` was sent to `wa_id` as `kind`. Returns the error code of a failure
    /// already reported for it (a status callback that overtook the send).
    pub async fn record_whatsapp_send(
        &self,
        wamid: &str,
        wa_id: &str,
        kind: &str,
    ) -> StoreResult<Option<i64>> {
        let (code,): (Option<i64>,) = dispatch_write!(self, |p| sqlx::query_as(
            "INSERT INTO whatsapp_deliveries (wamid, wa_id, kind, status, status_rank, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (wamid) DO UPDATE SET kind = excluded.kind, \
             wa_id = COALESCE(whatsapp_deliveries.wa_id, excluded.wa_id) \
             RETURNING error_code"
        )
        .bind(wamid)
        .bind(wa_id)
        .bind(kind)
        .bind(DeliveryStatus::Accepted.as_str())
        .bind(DeliveryStatus::Accepted.rank())
        .bind(now())
        .fetch_one(p)
        .await)?;
        Ok(code)
    }

    /// Records a status callback. `false` when it changed nothing (a repeat, or a status the
    /// message is already past). A failure is also written to the outbox row's `last_error`.
    pub async fn record_whatsapp_status(&self, update: &DeliveryUpdate) -> StoreResult<bool> {
        let at = now();
        let changed = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let changed = sqlx::query(
                "INSERT INTO whatsapp_deliveries \
                 (wamid, wa_id, status, status_rank, error_code, error, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (wamid) DO UPDATE SET status = excluded.status, \
                 status_rank = excluded.status_rank, error_code = excluded.error_code, \
                 error = excluded.error, updated_at = excluded.updated_at, \
                 wa_id = COALESCE(whatsapp_deliveries.wa_id, excluded.wa_id) \
                 WHERE excluded.status_rank > whatsapp_deliveries.status_rank",
            )
            .bind(&update.wamid)
            .bind(&update.wa_id)
            .bind(update.status.as_str())
            .bind(update.status.rank())
            .bind(update.error_code)
            .bind(&update.error)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if changed && update.status == DeliveryStatus::Failed {
                let error = update.error.as_deref().unwrap_or("failed");
                sqlx::query(
                    "UPDATE outbox_messages SET last_error = $1 WHERE channel = $2 AND platform_message_id = $3",
                )
                .bind(format!("WhatsApp reported delivery failed: {error}"))
                .bind(CHANNEL)
                .bind(&update.wamid)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            changed
        });
        Ok(changed)
    }

    /// The delivery state of one sent message.
    pub async fn whatsapp_delivery(&self, wamid: &str) -> StoreResult<Option<Delivery>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, Delivery>(
            "SELECT wamid, wa_id, kind, status, error_code, error, updated_at FROM whatsapp_deliveries \
             WHERE wamid = $1"
        )
        .bind(wamid)
        .fetch_optional(p)
        .await)?)
    }

    /// The payload of the outbox message WhatsApp knows as `wamid`, if we sent one.
    pub async fn whatsapp_outbox_payload(&self, wamid: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = dispatch!(self, |p| sqlx::query_as(
            "SELECT payload FROM outbox_messages WHERE channel = $1 AND platform_message_id = $2 \
             ORDER BY id DESC LIMIT 1"
        )
        .bind(CHANNEL)
        .bind(wamid)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(payload,)| payload))
    }

    /// Moves the arrival time of a stored inbound event, for imports and tests of the 24-hour
    /// window. `false` when there is no such event.
    pub async fn set_inbox_received_at(
        &self,
        channel: &str,
        event_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let changed = dispatch_write!(self, |p| sqlx::query(
            "UPDATE inbox_events SET created_at = $1 WHERE channel = $2 AND event_id = $3"
        )
        .bind(at)
        .bind(channel)
        .bind(event_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(changed > 0)
    }
}
