//! Writes that arrive at the same time are committed in one transaction (a group commit).
//! Each `/newtask` of a burst, and each agent turn's record, was a write transaction of its
//! own: on SQLite every one waits for the one writing connection and commits the pages of its
//! tables (and their indexes) again. A [`GroupWriter`] runs one task that takes every write
//! waiting when the previous group is done and writes them together; each caller still gets
//! its own outcome, committed before it hears of it.
//!
//! A group that fails before its commit (a project deleted meanwhile, say) was rolled back
//! whole; its rows are then written one by one, so each caller gets its own outcome.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use super::{Pool, StoreError, StoreResult};

/// Rows written together at most.
const GROUP: usize = 64;

/// One kind of write that can be grouped: how a group of its rows is written.
pub(crate) trait Group: Send + Sync + 'static {
    /// One caller's write, owned, so that it can wait for its group.
    type Row: Send + Sync + 'static;
    /// What each caller hears back.
    type Out: Send + 'static;
    /// What is written, for the log.
    const WHAT: &'static str;

    /// Writes `rows` in one transaction; one outcome per row, in order.
    fn write(pool: &Pool, rows: &[Self::Row]) -> impl Future<Output = Result<Vec<Self::Out>, Failed>> + Send;
}

/// Why a group was not written.
pub(crate) enum Failed {
    /// Before the commit: nothing of the group was written.
    Before(StoreError),
    /// At the commit: whether it was written is not known, so it is not written again.
    AtCommit(StoreError),
}

impl From<sqlx::Error> for Failed {
    fn from(e: sqlx::Error) -> Self {
        Failed::Before(e.into())
    }
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed::Before(e)
    }
}

impl From<Failed> for StoreError {
    fn from(f: Failed) -> Self {
        match f {
            Failed::Before(e) | Failed::AtCommit(e) => e,
        }
    }
}

type Job<G> = (<G as Group>::Row, oneshot::Sender<StoreResult<<G as Group>::Out>>);

/// The handle callers send their rows through; the writing task ends when the last handle is
/// dropped.
pub(crate) struct GroupWriter<G: Group> {
    jobs: mpsc::UnboundedSender<Job<G>>,
    pool: Pool,
}

impl<G: Group> Clone for GroupWriter<G> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
            pool: self.pool.clone(),
        }
    }
}

impl<G: Group> GroupWriter<G> {
    /// Starts the writing task on the current runtime; it writes through `pool`.
    pub fn start(pool: Pool) -> Self {
        let (jobs, received) = mpsc::unbounded_channel();
        tokio::spawn(run::<G>(pool.clone(), received));
        Self { jobs, pool }
    }

    /// Writes `row` with whatever else is waiting.
    pub async fn write(&self, row: G::Row) -> StoreResult<G::Out> {
        let (answer, answered) = oneshot::channel();
        if let Err(mpsc::error::SendError((row, _))) = self.jobs.send((row, answer)) {
            // The writing task is gone (its runtime ended): write it here.
            return one::<G>(&self.pool, &row).await;
        }
        match answered.await {
            Ok(result) => result,
            // The writing task stopped before it answered; nothing of ours was committed
            // unless it answered, but it cannot be told: the caller retries as on any error.
            Err(_) => Err(StoreError::Unavailable(format!(
                "the writer of {} stopped",
                G::WHAT
            ))),
        }
    }
}

/// Writes one row alone.
async fn one<G: Group>(pool: &Pool, row: &G::Row) -> StoreResult<G::Out> {
    let mut outs = G::write(pool, std::slice::from_ref(row)).await?;
    outs.pop()
        .ok_or_else(|| StoreError::Other(format!("no outcome for one of the {}", G::WHAT)))
}

/// Takes every waiting write, writes them as one group, answers each; until every handle is
/// gone.
async fn run<G: Group>(pool: Pool, mut jobs: mpsc::UnboundedReceiver<Job<G>>) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let (rows, answers): (Vec<G::Row>, Vec<_>) = group.into_iter().unzip();
        match G::write(&pool, &rows).await {
            Ok(outs) => {
                for (answer, out) in answers.into_iter().zip(outs) {
                    let _ = answer.send(Ok(out));
                }
            }
            Err(Failed::Before(e)) if rows.len() > 1 => {
                tracing::debug!(error = %e, rows = rows.len(), what = G::WHAT, "a group failed; writing it one by one");
                for (row, answer) in rows.iter().zip(answers) {
                    let _ = answer.send(one::<G>(&pool, row).await);
                }
            }
            Err(failed) => {
                let e = StoreError::from(failed);
                for answer in answers {
                    let _ = answer.send(Err(e.clone()));
                }
            }
        }
    }
}
