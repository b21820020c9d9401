//! One-off reminders: stored when asked for, claimed by the scheduler when due (with a lease,
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL), held by quiet hours, and marked sent in the same
//! transaction that queues the message: two replicas never send one twice.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::audit::record_audit;
use super::due;
use super::queue::insert_outbound;
use super::{dispatch, dispatch_write, now, AuditEntry, NewOutbound, Store, StoreError, StoreResult};

/// A reminder as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct Reminder {
    pub id: i64,
    pub text: String,
    /// The handle of the person reminded, on their own channel; null when a chat is.
    pub person: Option<String>,
    #[serde(skip)]
    pub person_id: Option<i64>,
    /// The chat reminded (`/remind here`), when no person is.
    pub channel: Option<String>,
    pub chat_id: Option<String>,
    /// The zone the time was read in (the recipient's).
    pub timezone: String,
    /// The moment asked for (a snooze moves it).
    pub remind_at: DateTime<Utc>,
    /// When it is looked at next: later than `remind_at` while quiet hours hold it.
    pub next_at: DateTime<Utc>,
    /// `pending`, `sent`, `done` or `cancelled`.
    pub status: String,
    pub sent_at: Option<DateTime<Utc>>,
    /// Who asked for it: a handle, or `token:NAME`.
    pub created_by: String,
    #[serde(skip)]
    pub creator_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// A recurring reminder's RRULE (e.g. `FREQ=WEEKLY;BYDAY=MO`): after each send it stays
    /// pending, `remind_at` moved to the next occurrence. Null for a one-off.
    pub rule: Option<String>,
}

/// A reminder to store.
#[derive(Debug, Clone)]
pub struct ReminderData {
    pub text: String,
    pub person_id: Option<i64>,
    pub chat: Option<(String, String)>,
    pub timezone: String,
    pub remind_at: DateTime<Utc>,
    pub creator_id: Option<i64>,
    /// A key seen before returns the reminder it made then instead of a second one.
    pub source_key: Option<String>,
    /// Makes it recurring (an RRULE value); `remind_at` is its first occurrence.
    pub rule: Option<String>,
}

/// Which reminders a list shows.
#[derive(Debug, Clone, Default)]
pub struct ReminderFilter {
    /// Only those for or by this person.
    pub involving: Option<i64>,
    /// Only pending ones.
    pub pending: bool,
    pub limit: i64,
    pub offset: i64,
}

const SELECT: &str = "SELECT r.id, r.text, pe.handle AS person, r.person_id, r.channel, r.chat_id, \
    r.timezone, r.remind_at, r.next_at, r.status, r.sent_at, r.created_by, r.creator_id, r.created_at, \
    r.rule FROM reminders r LEFT JOIN people pe ON pe.id = r.person_id";

impl Store {
    pub async fn create_reminder(&self, data: &ReminderData, by: &AuditEntry) -> StoreResult<Reminder> {
        let at = now();
        let (channel, chat) = data.chat.clone().unzip();
        let id: i64 = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let inserted: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO reminders (text, person_id, channel, chat_id, timezone, remind_at, next_at, \
                 status, created_by, creator_id, source_key, created_at, updated_at, rule) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6, 'pending', $7, $8, $9, $10, $10, $11) \
                 ON CONFLICT (source_key) DO NOTHING RETURNING id",
            )
            .bind(&data.text)
            .bind(data.person_id)
            .bind(&channel)
            .bind(&chat)
            .bind(&data.timezone)
            .bind(data.remind_at)
            .bind(&by.actor)
            .bind(data.creator_id)
            .bind(&data.source_key)
            .bind(at)
            .bind(&data.rule)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id,)) = inserted else {
                let (id,): (i64,) = sqlx::query_as("SELECT id FROM reminders WHERE source_key = $1")
                    .bind(&data.source_key)
                    .fetch_one(&mut *tx)
                    .await?;
                // End the write transaction before reading on another connection.
                tx.rollback().await?;
                return self.reminder(id).await;
            };
            let detail = serde_json::json!({"remind_at": data.remind_at, "person_id": data.person_id});
            record_audit!(tx, by, "reminder.create", "reminder", id, detail);
            tx.commit().await?;
            id
        });
        self.reminder(id).await
    }

    pub async fn reminder(&self, id: i64) -> StoreResult<Reminder> {
        let sql = format!("{SELECT} WHERE r.id = $1");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, Reminder>(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// A page of reminders, soonest first, and the number of all that match.
    pub async fn list_reminders(&self, filter: &ReminderFilter) -> StoreResult<(Vec<Reminder>, i64)> {
        let mut conditions = vec!["($1 IS NULL OR r.person_id = $1 OR r.creator_id = $1)"];
        if filter.pending {
            conditions.push("r.status = 'pending'");
        }
        let filter_sql = conditions.join(" AND ");
        let sql = format!("{SELECT} WHERE {filter_sql} ORDER BY r.remind_at, r.id LIMIT $2 OFFSET $3");
        let count = format!("SELECT COUNT(*) FROM reminders r WHERE {filter_sql}");
        Ok(dispatch!(self, |p| {
            let rows = sqlx::query_as::<_, Reminder>(&sql)
                .bind(filter.involving)
                .bind(filter.limit)
                .bind(filter.offset)
                .fetch_all(p)
                .await?;
            let (total,): (i64,) = sqlx::query_as(&count).bind(filter.involving).fetch_one(p).await?;
            (rows, total)
        }))
    }

    /// Moves reminder `id` to `status` when it is in one of `from`; `Conflict` when it is not.
    pub async fn set_reminder_status(
        &self,
        id: i64,
        from: &[&str],
        status: &str,
        by: &AuditEntry,
    ) -> StoreResult<Reminder> {
        let allowed = from
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE reminders SET status = $1, locked_until = NULL, updated_at = $2 \
             WHERE id = $3 AND status IN ({allowed})"
        );
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let moved = sqlx::query(&sql)
                .bind(status)
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved == 0 {
                let current: Option<(String,)> = sqlx::query_as("SELECT status FROM reminders WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                return match current {
                    None => Err(StoreError::NotFound),
                    Some((current,)) => Err(StoreError::Conflict(format!("reminder {id} is {current}"))),
                };
            }
            let action = format!("reminder.{status}");
            record_audit!(tx, by, action.as_str(), "reminder", id, serde_json::json!({}));
            tx.commit().await?;
        });
        self.reminder(id).await
    }

    /// Asks again at `until`: the reminder is pending once more (unless cancelled).
    pub async fn snooze_reminder(
        &self,
        id: i64,
        until: DateTime<Utc>,
        by: &AuditEntry,
    ) -> StoreResult<Reminder> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let moved = sqlx::query(
                "UPDATE reminders SET status = 'pending', remind_at = $1, next_at = $1, locked_until = NULL, \
                 updated_at = $2 WHERE id = $3 AND status <> 'cancelled'",
            )
            .bind(until)
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                return Err(StoreError::NotFound);
            }
            let detail = serde_json::json!({"until": until});
            record_audit!(tx, by, "reminder.snooze", "reminder", id, detail);
            tx.commit().await?;
        });
        self.reminder(id).await
    }

    /// Claims up to `limit` pending reminders due at `now`, leasing them until `lease_until`
    /// so that another replica skips them; soonest first.
    pub async fn claim_due_reminders(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Reminder>> {
        let ids = self
            .claim_due_ids(&due::REMINDERS, now, lease_until, limit)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{SELECT} WHERE r.id IN ({}) ORDER BY r.next_at, r.id",
            due::id_list(&ids)
        );
        Ok(dispatch!(self, |p| sqlx::query_as::<_, Reminder>(&sql)
            .fetch_all(p)
            .await)?)
    }

    /// Holds reminder `id` until `until` (quiet hours) and releases its claim.
    pub async fn hold_reminder(&self, id: i64, until: DateTime<Utc>) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "UPDATE reminders SET next_at = $1, locked_until = NULL WHERE id = $2 AND status = 'pending'"
        )
        .bind(until)
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Marks reminder `id` (asked for `remind_at`) sent and queues `messages`, in one
    /// transaction; `false` (nothing queued) when it was sent, snoozed or cancelled meanwhile.
    /// With `next` (a recurring reminder's next occurrence) it stays pending, due then.
    pub async fn deliver_reminder(
        &self,
        id: i64,
        remind_at: DateTime<Utc>,
        now: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
        messages: &[NewOutbound],
    ) -> StoreResult<bool> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let moved = sqlx::query(
                "UPDATE reminders SET status = CASE WHEN $4 IS NULL THEN 'sent' ELSE 'pending' END, \
                 remind_at = COALESCE($4, remind_at), next_at = COALESCE($4, next_at), sent_at = $1, \
                 locked_until = NULL, updated_at = $1 \
                 WHERE id = $2 AND status = 'pending' AND remind_at = $3",
            )
            .bind(now)
            .bind(id)
            .bind(remind_at)
            .bind(next)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 1 {
                insert_outbound!(tx, messages);
            }
            tx.commit().await?;
            Ok(moved == 1)
        })
    }
}
