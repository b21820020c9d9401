//! Stand-ups and their runs. A stand-up (one per project) is claimed by the scheduler when its
//! ask moment comes (a lease, `FOR UPDATE SKIP LOCKED` on PostgreSQL); the run of that local
//! day is made once (`UNIQUE (standup_id, day)`) with one question row per person, in the
//! transaction that moves the stand-up to its next ask moment. The digest is marked sent in
//! the transaction that queues it. Answers are in `standup_answers`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::audit::record_audit;
use super::due;
use super::queue::insert_outbound;
use super::{dispatch, dispatch_write, now, AuditEntry, NewOutbound, Store, StoreError, StoreResult};

/// A project's stand-up.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct Standup {
    pub id: i64,
    pub project_id: i64,
    /// The chat the digest goes to (the project's chat when it was set).
    pub channel: String,
    pub chat_id: String,
    /// RRULE day codes, e.g. `MO,TU,WE,TH,FR`.
    pub days: String,
    /// The local time of the question, `HH:MM` in `timezone`.
    pub ask_time: String,
    /// Minutes from the question to the digest.
    pub digest_minutes: i32,
    pub timezone: String,
    /// When the team is asked next.
    pub next_ask_at: DateTime<Utc>,
    /// Who set it: a handle, or `token:NAME`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stand-up to store (replacing the project's one, if any).
#[derive(Debug, Clone)]
pub struct StandupData {
    pub project_id: i64,
    pub channel: String,
    pub chat_id: String,
    pub days: String,
    pub ask_time: String,
    pub digest_minutes: i32,
    pub timezone: String,
    pub next_ask_at: DateTime<Utc>,
}

/// One day's stand-up.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct StandupRun {
    pub id: i64,
    pub standup_id: i64,
    /// The local date, `YYYY-MM-DD`.
    pub day: String,
    pub ask_at: DateTime<Utc>,
    pub digest_at: DateTime<Utc>,
    /// When the digest was queued; null until then.
    pub digest_sent_at: Option<DateTime<Utc>>,
}

/// A run to open: its day, moments and the people to ask.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub day: String,
    pub digest_at: DateTime<Utc>,
    pub people: Vec<i64>,
}

const SELECT: &str = "SELECT id, project_id, channel, chat_id, days, ask_time, digest_minutes, timezone, \
    next_ask_at, created_by, created_at, updated_at FROM standups";

const SELECT_RUN: &str = "SELECT id, standup_id, day, ask_at, digest_at, digest_sent_at FROM standup_runs";

impl Store {
    /// Sets project `data.project_id`'s stand-up, replacing the one it had.
    pub async fn put_standup(&self, data: &StandupData, by: &AuditEntry) -> StoreResult<Standup> {
        let at = now();
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO standups (project_id, channel, chat_id, days, ask_time, digest_minutes, timezone, \
                 next_ask_at, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
                 ON CONFLICT (project_id) DO UPDATE SET channel = $2, chat_id = $3, days = $4, ask_time = $5, \
                 digest_minutes = $6, timezone = $7, next_ask_at = $8, locked_until = NULL, created_by = $9, \
                 updated_at = $10 RETURNING id",
            )
            .bind(data.project_id)
            .bind(&data.channel)
            .bind(&data.chat_id)
            .bind(&data.days)
            .bind(&data.ask_time)
            .bind(data.digest_minutes)
            .bind(&data.timezone)
            .bind(data.next_ask_at)
            .bind(&by.actor)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            let detail = serde_json::json!({"project_id": data.project_id, "days": data.days,
                "ask_time": data.ask_time, "digest_minutes": data.digest_minutes, "timezone": data.timezone});
            record_audit!(tx, by, "standup.set", "standup", id, detail);
            tx.commit().await?;
        });
        self.standup_of_project(data.project_id).await
    }

    pub async fn standup_of_project(&self, project_id: i64) -> StoreResult<Standup> {
        let sql = format!("{SELECT} WHERE project_id = $1");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, Standup>(&sql)
            .bind(project_id)
            .fetch_one(p)
            .await)?)
    }

    pub async fn standup(&self, id: i64) -> StoreResult<Standup> {
        let sql = format!("{SELECT} WHERE id = $1");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, Standup>(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// Stops project `project_id`'s stand-up (its runs and answers go with it).
    pub async fn delete_standup(&self, project_id: i64, by: &AuditEntry) -> StoreResult<()> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let gone: Option<(i64,)> =
                sqlx::query_as("DELETE FROM standups WHERE project_id = $1 RETURNING id")
                    .bind(project_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((id,)) = gone else {
                return Err(StoreError::NotFound);
            };
            record_audit!(tx, by, "standup.delete", "standup", id, serde_json::json!({}));
            tx.commit().await?;
        });
        Ok(())
    }

    /// The members and admins of the team: whom a stand-up asks.
    pub async fn standup_people(&self) -> StoreResult<Vec<i64>> {
        Ok(dispatch!(self, |p| sqlx::query_scalar::<_, i64>(
            "SELECT id FROM people WHERE role IN ('admin', 'member') ORDER BY id"
        )
        .fetch_all(p)
        .await)?)
    }

    /// Claims up to `limit` stand-ups whose ask moment has come, leasing them until
    /// `lease_until` so that another replica skips them; soonest first.
    pub async fn claim_due_standups(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Standup>> {
        let ids = self
            .claim_due_ids(&due::STANDUPS, now, lease_until, limit)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{SELECT} WHERE id IN ({}) ORDER BY next_ask_at, id",
            due::id_list(&ids)
        );
        Ok(dispatch!(self, |p| sqlx::query_as::<_, Standup>(&sql)
            .fetch_all(p)
            .await)?)
    }

    /// Moves stand-up `id` from its ask moment `ask_at` to `next` and, with `run`, opens that
    /// day's run with a question for each person, in one transaction. `false` when another
    /// replica (or a change of the stand-up) moved it first, or the day's run exists.
    pub async fn open_standup_run(
        &self,
        id: i64,
        ask_at: DateTime<Utc>,
        next: DateTime<Utc>,
        run: Option<&NewRun>,
    ) -> StoreResult<bool> {
        let opened = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let moved = sqlx::query(
                "UPDATE standups SET next_ask_at = $1, locked_until = NULL WHERE id = $2 AND next_ask_at = $3",
            )
            .bind(next)
            .bind(id)
            .bind(ask_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                return Ok(false);
            }
            let Some(run) = run else {
                tx.commit().await?;
                return Ok(false);
            };
            let inserted: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO standup_runs (standup_id, day, ask_at, digest_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (standup_id, day) DO NOTHING RETURNING id",
            )
            .bind(id)
            .bind(&run.day)
            .bind(ask_at)
            .bind(run.digest_at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((run_id,)) = inserted else {
                tx.commit().await?;
                return Ok(false);
            };
            for person in &run.people {
                sqlx::query("INSERT INTO standup_answers (run_id, person_id, ask_at) VALUES ($1, $2, $3)")
                    .bind(run_id)
                    .bind(person)
                    .bind(ask_at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })?;
        if opened {
            self.standup_questions.forget();
        }
        Ok(opened)
    }

    /// Releases the claim on stand-up `id` without moving it (nothing to do now).
    pub async fn release_standup(&self, id: i64) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "UPDATE standups SET locked_until = NULL WHERE id = $1"
        )
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn standup_run(&self, id: i64) -> StoreResult<StandupRun> {
        let sql = format!("{SELECT_RUN} WHERE id = $1");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, StandupRun>(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// A page of stand-up `standup_id`'s runs, latest first, and the number of all.
    pub async fn standup_runs(
        &self,
        standup_id: i64,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<StandupRun>, i64)> {
        let sql =
            format!("{SELECT_RUN} WHERE standup_id = $1 ORDER BY ask_at DESC, id DESC LIMIT $2 OFFSET $3");
        Ok(dispatch!(self, |p| {
            let rows = sqlx::query_as::<_, StandupRun>(&sql)
                .bind(standup_id)
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await?;
            let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM standup_runs WHERE standup_id = $1")
                .bind(standup_id)
                .fetch_one(p)
                .await?;
            (rows, total)
        }))
    }

    /// Runs whose digest is due at `now` and not yet sent.
    pub async fn due_standup_digests(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<StandupRun>> {
        let sql = format!(
            "{SELECT_RUN} WHERE digest_sent_at IS NULL AND digest_at <= $1 ORDER BY digest_at, id LIMIT $2"
        );
        Ok(dispatch!(self, |p| sqlx::query_as::<_, StandupRun>(&sql)
            .bind(now)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Marks run `id`'s digest sent and queues `messages`, in one transaction; `false`
    /// (nothing queued) when it was sent already.
    pub async fn post_standup_digest(
        &self,
        id: i64,
        now: DateTime<Utc>,
        messages: &[NewOutbound],
    ) -> StoreResult<bool> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let moved = sqlx::query(
                "UPDATE standup_runs SET digest_sent_at = $1 WHERE id = $2 AND digest_sent_at IS NULL",
            )
            .bind(now)
            .bind(id)
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
