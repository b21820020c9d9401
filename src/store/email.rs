//! Email bookkeeping: every message read or sent, by Message-ID (`email_messages`), so that a
//! reply finds the conversation and task of the message it answers and our replies thread under
//! the message they answer; the IMAP watermark (`email_watermarks`: UIDVALIDITY and last UID
//! per mailbox) so that nothing is read twice across restarts; and linking a sender's address
//! to the person whose `email` field it is.

use chrono::{DateTime, Utc};

use super::audit::record_audit;
use super::{dispatch, dispatch_write, now, AuditEntry, Store, StoreResult};

/// A message we read (`in`) or sent (`out`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EmailRecord {
    /// Without angle brackets.
    pub message_id: String,
    pub direction: String,
    /// The other party, lowercased.
    pub address: String,
    pub subject: Option<String>,
    /// The References chain of this message, oldest first, space-separated.
    pub refs: String,
    pub task_id: Option<i64>,
    pub status: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl EmailRecord {
    /// The References of a reply to this message: its own chain, then itself.
    pub fn reply_references(&self) -> Vec<String> {
        let mut refs: Vec<String> = self.refs.split_whitespace().map(str::to_owned).collect();
        refs.push(self.message_id.clone());
        refs
    }
}

/// A message to record.
#[derive(Debug, Clone, Default)]
pub struct NewEmailRecord<'a> {
    pub message_id: &'a str,
    pub direction: &'a str,
    pub address: &'a str,
    pub subject: Option<&'a str>,
    pub refs: &'a [String],
    pub task_id: Option<i64>,
    pub status: &'a str,
    pub note: Option<&'a str>,
}

/// How far the IMAP reader got in one mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    pub uid_validity: u32,
    pub last_uid: u32,
}

const SELECT: &str =
    "SELECT message_id, direction, address, subject, refs, task_id, status, note, created_at \
                      FROM email_messages";

impl Store {
    /// Records a message; `Ok(false)` when its Message-ID was recorded before (a redelivery).
    pub async fn record_email(&self, new: &NewEmailRecord<'_>) -> StoreResult<bool> {
        let sql = "INSERT INTO email_messages \
                   (message_id, direction, address, subject, refs, task_id, status, note, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (message_id) DO NOTHING";
        let refs = new.refs.join(" ");
        let done = dispatch_write!(self, |p| sqlx::query(sql)
            .bind(new.message_id)
            .bind(new.direction)
            .bind(new.address)
            .bind(new.subject)
            .bind(&refs)
            .bind(new.task_id)
            .bind(new.status)
            .bind(new.note)
            .bind(now())
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    pub async fn email_message(&self, message_id: &str) -> StoreResult<Option<EmailRecord>> {
        let sql = format!("{SELECT} WHERE message_id = $1");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, EmailRecord>(&sql)
            .bind(message_id)
            .fetch_optional(p)
            .await)?)
    }

    /// The messages exchanged with `address`, oldest first.
    pub async fn email_messages_with(&self, address: &str) -> StoreResult<Vec<EmailRecord>> {
        let sql = format!("{SELECT} WHERE address = $1 ORDER BY created_at, message_id");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, EmailRecord>(&sql)
            .bind(address)
            .fetch_all(p)
            .await)?)
    }

    /// The task of the first of `message_ids` that we recorded with one.
    pub async fn email_task_of(&self, message_ids: &[String]) -> StoreResult<Option<i64>> {
        for id in message_ids.iter().rev() {
            if let Some(task) = self.email_message(id).await?.and_then(|m| m.task_id) {
                return Ok(Some(task));
            }
        }
        Ok(None)
    }

    /// Makes sure `address` is an `email` identity when a person has it as their `email`
    /// field; `Ok(true)` when the address belongs to a person (before or now).
    pub async fn link_email_identity(&self, address: &str) -> StoreResult<bool> {
        let entry = AuditEntry {
            actor: "email".into(),
            channel: "email".into(),
        };
        let at = now();
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let linked: Option<(i64,)> = sqlx::query_as(
                "SELECT person_id FROM identities WHERE channel = 'email' AND external_id = $1",
            )
            .bind(address)
            .fetch_optional(&mut *tx)
            .await?;
            if linked.is_some() {
                return Ok(true);
            }
            let people: Vec<(i64,)> = sqlx::query_as("SELECT id FROM people WHERE LOWER(email) = $1 LIMIT 2")
                .bind(address)
                .fetch_all(&mut *tx)
                .await?;
            // Two people with one address: nobody can tell who wrote, so nobody is linked.
            let [(person_id,)] = people.as_slice() else {
                return Ok(false);
            };
            sqlx::query(
                "INSERT INTO identities (person_id, channel, external_id, created_at) VALUES ($1, 'email', $2, $3) \
                 ON CONFLICT (channel, external_id) DO NOTHING",
            )
            .bind(person_id)
            .bind(address)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            record_audit!(
                tx,
                entry,
                "link_identity",
                "person",
                person_id,
                format!("email:{address}")
            );
            tx.commit().await?;
            Ok(true)
        })
    }

    pub async fn email_watermark(&self, mailbox: &str) -> StoreResult<Option<Watermark>> {
        let row: Option<(i64, i64)> = dispatch!(self, |p| sqlx::query_as(
            "SELECT uid_validity, last_uid FROM email_watermarks WHERE mailbox = $1"
        )
        .bind(mailbox)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(v, u)| Watermark {
            uid_validity: u32::try_from(v).unwrap_or_default(),
            last_uid: u32::try_from(u).unwrap_or_default(),
        }))
    }

    /// Counts one more failure to read message `uid` of `mailbox` (within `uid_validity`) and
    /// returns how many there have been.
    pub async fn count_email_failure(
        &self,
        mailbox: &str,
        uid_validity: u32,
        uid: u32,
        error: &str,
    ) -> StoreResult<i32> {
        let sql =
            "INSERT INTO email_failures (mailbox, uid_validity, uid, failures, last_error, updated_at) \
                   VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (mailbox, uid_validity, uid) DO UPDATE SET \
                   failures = email_failures.failures + 1, last_error = excluded.last_error, \
                   updated_at = excluded.updated_at RETURNING failures";
        let (n,): (i32,) = dispatch_write!(self, |p| sqlx::query_as(sql)
            .bind(mailbox)
            .bind(i64::from(uid_validity))
            .bind(i64::from(uid))
            .bind(error)
            .bind(now())
            .fetch_one(p)
            .await)?;
        Ok(n)
    }

    /// Moves the watermark of `mailbox` to `mark` (never back within one UIDVALIDITY).
    pub async fn set_email_watermark(&self, mailbox: &str, mark: Watermark) -> StoreResult<()> {
        let sql = "INSERT INTO email_watermarks (mailbox, uid_validity, last_uid, updated_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (mailbox) DO UPDATE SET \
                   last_uid = CASE WHEN email_watermarks.uid_validity = excluded.uid_validity \
                                   AND email_watermarks.last_uid > excluded.last_uid \
                              THEN email_watermarks.last_uid ELSE excluded.last_uid END, \
                   uid_validity = excluded.uid_validity, updated_at = excluded.updated_at";
        dispatch_write!(self, |p| sqlx::query(sql)
            .bind(mailbox)
            .bind(i64::from(mark.uid_validity))
            .bind(i64::from(mark.last_uid))
            .bind(now())
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
