//! Retention: at most once a minute ([`EVERY`]), the sweep deletes what is older than the settings keep
//! (`COORDINATOR_KEEP_QUEUE`, `COORDINATOR_KEEP_CONVERSATIONS`, `COORDINATOR_KEEP_HISTORY`), in
//! batches of [`BATCH`] rows and at most [`MAX_BATCHES`] statements per sweep, so that a large
//! backlog (a first run on an old database) is worked off over several sweeps without holding
//! the database's write lock for long. Several replicas pruning at once only delete the same
//! rows once. Also the recovery of AI actions whose approval a stop interrupted.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Scheduler, SweepReport};
use crate::store::{Cutoffs, StoreError};

/// Rows per `DELETE`.
const BATCH: i64 = 500;
/// `DELETE` statements per sweep.
const MAX_BATCHES: u32 = 40;
/// How often retention runs (a sweep runs every tick; pruning needs less). Each run deletes
/// at most `BATCH * MAX_BATCHES` rows, so this bounds how fast a backlog goes, too.
const EVERY: Duration = Duration::from_secs(60);

pub(super) async fn sweep(
    s: &Scheduler,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let Some(keep) = s.config.retention else {
        return Ok(());
    };
    {
        let mut last = s.pruned_at.lock().unwrap_or_else(|p| p.into_inner());
        let every = chrono::Duration::from_std(EVERY).unwrap_or_default();
        if last.is_some_and(|at| now >= at && now - at < every) {
            return Ok(());
        }
        *last = Some(now);
    }
    // A retention too long to compute keeps everything.
    let before = |d: Duration| {
        chrono::Duration::from_std(d)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    };
    let cutoffs = Cutoffs {
        queue: before(keep.queue),
        conversations: before(keep.conversations),
        history: before(keep.history),
    };
    let deleted = s.store.prune(&cutoffs, BATCH, MAX_BATCHES).await?;
    for (table, rows) in &deleted {
        metrics::counter!("retention_deleted_rows_total", "table" => *table).increment(*rows);
    }
    let total: u64 = deleted.values().sum();
    if total > 0 {
        tracing::info!(?deleted, "retention deleted old rows");
    }
    report.rows_pruned = u32::try_from(total).unwrap_or(u32::MAX);
    Ok(())
}

/// Approvals a stop interrupted: an action still `approved` this long after its approval is
/// put back (or, for a deferred tool call, marked failed); an approval in progress takes
/// seconds.
const INTERRUPTED_AFTER: Duration = Duration::from_secs(600);

/// Puts back the AI actions a stopped process left `approved` (see
/// `Store::recover_interrupted_actions`).
pub(super) async fn recover_actions(
    s: &Scheduler,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let before = now - chrono::Duration::from_std(INTERRUPTED_AFTER).unwrap_or_default();
    let recovered = s.store.recover_interrupted_actions(before).await?;
    if recovered.reopened + recovered.failed > 0 {
        tracing::warn!(?recovered, "AI actions interrupted by a stop were put back");
    }
    report.actions_recovered = u32::try_from(recovered.reopened + recovered.failed).unwrap_or(u32::MAX);
    Ok(())
}
