//! Stand-up questions and answers: one row per person and run. A question is marked asked in
//! the transaction that queues it (so it goes out once, whichever replica sends it); the
//! person's next private message before the digest is their answer, recorded once under the
//! message's key; a blocker in it is offered as a task and settled once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::queue::insert_outbound;
use super::recent::Kept;
use super::{dispatch, dispatch_write, NewOutbound, Store, StoreResult};
use crate::domain::AnswerParts;

/// A person's answer in a run (or their silence: `answered_at` null).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct StandupAnswer {
    pub id: i64,
    pub run_id: i64,
    /// The handle of the person asked.
    pub person: String,
    #[serde(skip)]
    pub person_id: i64,
    /// When the question was queued; null while quiet hours hold it.
    pub asked_at: Option<DateTime<Utc>>,
    /// The answer as written.
    pub answer: Option<String>,
    /// The answer read as what was done, what is next and what blocks (when it could be).
    pub done: Option<String>,
    pub next: Option<String>,
    pub blockers: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    /// `offered` (a blocker waits for the person's yes), `taken` or `declined`.
    pub blocker_state: Option<String>,
    /// The task the blocker became, or the task it was commented on.
    pub blocker_task_id: Option<i64>,
}

/// A question due to be asked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueAsk {
    pub answer_id: i64,
    pub person_id: i64,
    pub standup_id: i64,
    pub day: String,
    pub digest_at: DateTime<Utc>,
    /// The project's name.
    pub project: String,
}

/// An answer's columns, then where they come from (`SELECT` is both).
macro_rules! answer_columns {
    () => {
        "SELECT a.id, a.run_id, pe.handle AS person, a.person_id, a.asked_at, a.answer, a.done, \
         a.next, a.blockers, a.answered_at, a.blocker_state, a.blocker_task_id"
    };
}
macro_rules! answer_from {
    () => {
        " FROM standup_answers a JOIN people pe ON pe.id = a.person_id"
    };
}
const SELECT: &str = concat!(answer_columns!(), answer_from!());
/// For every private message, in one statement: the answer this message already gave (a
/// redelivery, `$1` its key), else the oldest question still open to person `$2`. Each half
/// uses its own index.
const OPEN_QUESTION: &str = concat!(
    "SELECT * FROM (",
    answer_columns!(),
    ", 0 AS rank",
    answer_from!(),
    " WHERE a.answer_key = $1 AND a.person_id = $2 UNION ALL ",
    answer_columns!(),
    ", 1 AS rank",
    answer_from!(),
    " JOIN standup_runs r ON r.id = a.run_id WHERE a.person_id = $2 AND a.asked_at IS NOT NULL \
     AND a.answered_at IS NULL AND r.digest_sent_at IS NULL) q ORDER BY rank, asked_at, id LIMIT 1"
);

impl Store {
    pub async fn standup_answer(&self, id: i64) -> StoreResult<StandupAnswer> {
        let sql = format!("{SELECT} WHERE a.id = $1");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, StandupAnswer>(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// Everyone's answers in run `run_id`, in the order they were asked.
    pub async fn standup_answers(&self, run_id: i64) -> StoreResult<Vec<StandupAnswer>> {
        let sql = format!("{SELECT} WHERE a.run_id = $1 ORDER BY a.id");
        Ok(dispatch!(self, |p| sqlx::query_as::<_, StandupAnswer>(&sql)
            .bind(run_id)
            .fetch_all(p)
            .await)?)
    }

    /// Questions due at `now` whose run's digest is still to come.
    pub async fn due_standup_asks(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<DueAsk>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, DueAsk>(
            "SELECT a.id AS answer_id, a.person_id, r.standup_id, r.day, r.digest_at, pr.name AS project \
             FROM standup_answers a JOIN standup_runs r ON r.id = a.run_id \
             JOIN standups s ON s.id = r.standup_id JOIN projects pr ON pr.id = s.project_id \
             WHERE a.asked_at IS NULL AND a.ask_at <= $1 AND r.digest_sent_at IS NULL AND r.digest_at > $1 \
             ORDER BY a.ask_at, a.id LIMIT $2"
        )
        .bind(now)
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }

    /// Holds question `id` until `until` (the person's quiet hours).
    pub async fn hold_standup_ask(&self, id: i64, until: DateTime<Utc>) -> StoreResult<()> {
        dispatch_write!(self, |p| sqlx::query(
            "UPDATE standup_answers SET ask_at = $1 WHERE id = $2 AND asked_at IS NULL"
        )
        .bind(until)
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Marks question `id` asked and queues `message`, in one transaction; `false` (nothing
    /// queued) when it was asked already.
    pub async fn ask_standup(&self, id: i64, now: DateTime<Utc>, message: &NewOutbound) -> StoreResult<bool> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let moved =
                sqlx::query("UPDATE standup_answers SET asked_at = $1 WHERE id = $2 AND asked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if moved == 1 {
                insert_outbound!(tx, std::slice::from_ref(message));
            }
            tx.commit().await?;
            Ok(moved == 1)
        })
    }

    /// The question person `person_id`'s private message `key` answers: the one it answered
    /// already (a redelivered message), else their oldest asked and unanswered question whose
    /// digest is still to come. Every private message asks, so a workspace that has never run
    /// a stand-up answers from a kept read (see `recent`) instead of a statement per message.
    pub async fn open_standup_question(
        &self,
        person_id: i64,
        key: &str,
    ) -> StoreResult<Option<StandupAnswer>> {
        if !self.any_standup_questions().await? {
            return Ok(None);
        }
        Ok(dispatch!(self, |p| sqlx::query_as::<_, StandupAnswer>(
            OPEN_QUESTION
        )
        .bind(key)
        .bind(person_id)
        .fetch_optional(p)
        .await)?)
    }

    /// Whether any stand-up question was ever put to anyone, kept for [`super::KEPT_FOR`]: a
    /// run made through this store is seen at once, one made by another replica within the
    /// second (long before its questions go out and anyone answers them).
    async fn any_standup_questions(&self) -> StoreResult<bool> {
        let ticket = match self.standup_questions.get(&()) {
            Kept::Hit(any) => return Ok(any),
            Kept::Miss(ticket) => ticket,
        };
        let (any,): (bool,) = dispatch!(self, |p| sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM standup_answers)"
        )
        .fetch_one(p)
        .await)?;
        self.standup_questions.keep(ticket, (), any);
        Ok(any)
    }

    /// Records the answer to question `id` (once: `false` when it was answered, or its digest
    /// went out, meanwhile). A blocker in `parts` is offered as a task.
    pub async fn record_standup_answer(
        &self,
        id: i64,
        key: &str,
        text: &str,
        parts: &AnswerParts,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let offered = parts.blockers.as_ref().map(|_| "offered");
        let moved = dispatch_write!(self, |p| {
            sqlx::query(
            "UPDATE standup_answers SET answer = $1, done = $2, next = $3, blockers = $4, answered_at = $5, \
             answer_key = $6, blocker_state = $7 WHERE id = $8 AND answered_at IS NULL \
             AND run_id IN (SELECT id FROM standup_runs WHERE digest_sent_at IS NULL)"
        )
        .bind(text)
        .bind(&parts.done)
        .bind(&parts.next)
        .bind(&parts.blockers)
        .bind(now)
        .bind(key)
        .bind(offered)
        .bind(id)
        .execute(p)
        .await
        .map(|done| done.rows_affected())
        })?;
        Ok(moved == 1)
    }

    /// Settles the blocker of answer `id` (`taken`, with the task it became or was commented
    /// on, or `declined`); `false` when it was settled already.
    pub async fn settle_standup_blocker(
        &self,
        id: i64,
        state: &str,
        task_id: Option<i64>,
    ) -> StoreResult<bool> {
        let moved = dispatch_write!(self, |p| sqlx::query(
            "UPDATE standup_answers SET blocker_state = $1, blocker_task_id = $2 \
             WHERE id = $3 AND blocker_state = 'offered'"
        )
        .bind(state)
        .bind(task_id)
        .bind(id)
        .execute(p)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(moved == 1)
    }
}
