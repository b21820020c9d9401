//! Scheduled rows that a sweep claims when they come due (reminders, escalations, stand-ups):
//! up to a limit of due rows are leased until a moment (`locked_until`), soonest first, in one
//! statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer), so that another
//! replica's sweep skips them. A lease that runs out (the replica died) makes the row claimable
//! again; the step that acts on a row clears its lease in the transaction that records it.

use chrono::{DateTime, Utc};

use super::{Pool, Store};

/// One kind of scheduled row: its table, the column that says when it is due, and which of
/// its rows may be claimed at all.
pub(crate) struct DueRows {
    pub table: &'static str,
    pub due: &'static str,
    /// An SQL condition on the row, `TRUE` for every row.
    pub claimable: &'static str,
}

pub(crate) const REMINDERS: DueRows = DueRows {
    table: "reminders",
    due: "next_at",
    claimable: "status = 'pending'",
};
pub(crate) const ESCALATIONS: DueRows = DueRows {
    table: "escalations",
    due: "next_at",
    claimable: "status = 'open'",
};
pub(crate) const STANDUPS: DueRows = DueRows {
    table: "standups",
    due: "next_ask_at",
    claimable: "TRUE",
};

impl Store {
    /// The statement that leases due rows of `rows` and returns `returning` of each: binds
    /// `$1` the lease's end, `$2` now and `$3` the most rows to claim.
    pub(crate) fn claim_due_sql(&self, rows: &DueRows, returning: &str) -> String {
        let lock = match self.pool {
            Pool::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Pool::Sqlite(_) => "",
        };
        let DueRows {
            table,
            due,
            claimable,
        } = rows;
        format!(
            "UPDATE {table} SET locked_until = $1 WHERE id IN (SELECT id FROM {table} \
             WHERE {claimable} AND {due} <= $2 AND (locked_until IS NULL OR locked_until <= $2) \
             ORDER BY {due}, id LIMIT $3{lock}) RETURNING {returning}"
        )
    }

    /// Leases up to `limit` rows of `rows` due at `now` until `lease_until`; their ids.
    pub(crate) async fn claim_due_ids(
        &self,
        rows: &DueRows,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> sqlx::Result<Vec<i64>> {
        let sql = self.claim_due_sql(rows, "id");
        super::dispatch_write!(self, |p| sqlx::query_scalar::<_, i64>(&sql)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(p)
            .await)
    }
}

/// `ids` as the list of an SQL `IN (…)` (they are numbers read from the database).
pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}
