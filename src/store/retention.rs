//! Retention: what is old enough is deleted, in small batches. Each batch is one short
//! `DELETE … WHERE key IN (SELECT key … LIMIT n)` statement on its own, so no write lock is
//! held for long (SQLite has one writer; the inbox and outbox keep writing in between), and a
//! sweep stops after a bounded number of batches: a large backlog is worked off over several
//! sweeps. Also the row counts of the tables that grow, for monitoring.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{dispatch, dispatch_write, Store, StoreResult};

/// Rows older than these moments go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// Finished (done, dead, refused) inbox events, outbox messages and integration jobs, and
    /// the media kept for inbound events.
    pub queue: DateTime<Utc>,
    /// Conversation messages and agent turns.
    pub conversations: DateTime<Utc>,
    /// The audit log, email records and read failures, alerts, WhatsApp delivery states and
    /// scheduler runs.
    pub history: DateTime<Utc>,
}

/// Which cutoff a table follows.
#[derive(Debug, Clone, Copy)]
enum Kept {
    Queue,
    Conversations,
    History,
}

/// A table that is pruned: its key column and which of its rows may go (`$1` is the cutoff).
struct Pruned {
    table: &'static str,
    key: &'static str,
    old: &'static str,
    kept: Kept,
}

const PRUNED: &[Pruned] = &[
    Pruned {
        table: "inbox_events",
        key: "id",
        old: "status IN ('done', 'dead', 'refused') AND finished_at < $1",
        kept: Kept::Queue,
    },
    Pruned {
        table: "outbox_messages",
        key: "id",
        // The one reply an unknown email sender ever gets is kept: its dedupe key is what
        // makes it the only one.
        old: "status IN ('done', 'dead') AND finished_at < $1 \
              AND (dedupe_key IS NULL OR dedupe_key NOT LIKE 'email:unknown-sender:%')",
        kept: Kept::Queue,
    },
    Pruned {
        table: "integration_jobs",
        key: "id",
        old: "status IN ('done', 'dead') AND finished_at < $1",
        kept: Kept::Queue,
    },
    Pruned {
        table: "inbound_media",
        key: "media_key",
        old: "created_at < $1",
        kept: Kept::Queue,
    },
    Pruned {
        table: "conversation_messages",
        key: "id",
        old: "created_at < $1",
        kept: Kept::Conversations,
    },
    Pruned {
        table: "ai_turns",
        key: "id",
        old: "created_at < $1",
        kept: Kept::Conversations,
    },
    Pruned {
        table: "audit_log",
        key: "id",
        old: "created_at < $1",
        kept: Kept::History,
    },
    Pruned {
        table: "email_messages",
        key: "message_id",
        old: "created_at < $1",
        kept: Kept::History,
    },
    Pruned {
        table: "alerts",
        key: "key",
        old: "last_seen_at < $1",
        kept: Kept::History,
    },
    Pruned {
        table: "whatsapp_deliveries",
        key: "wamid",
        old: "updated_at < $1",
        kept: Kept::History,
    },
    Pruned {
        table: "email_failures",
        key: "id",
        old: "updated_at < $1",
        kept: Kept::History,
    },
    Pruned {
        table: "scheduler_runs",
        key: "id",
        old: "ran_at < $1",
        kept: Kept::History,
    },
];

/// The tables whose size `/api/monitoring/status` shows: those that grow with use.
const COUNTED: &[&str] = &[
    "inbox_events",
    "outbox_messages",
    "integration_jobs",
    "inbound_media",
    "conversations",
    "conversation_messages",
    "ai_turns",
    "ai_actions",
    "audit_log",
    "email_messages",
    "alerts",
    "whatsapp_deliveries",
    "scheduler_runs",
    "tasks",
    "comments",
];

/// Row counts by table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct TableSizes {
    /// Table name → rows.
    pub rows: BTreeMap<String, i64>,
}

impl Store {
    /// Deletes rows older than `cutoffs`, at most `batch` rows per statement and `max_batches`
    /// statements in all; returns the rows deleted per table (tables with none left out).
    pub async fn prune(
        &self,
        cutoffs: &Cutoffs,
        batch: i64,
        max_batches: u32,
    ) -> StoreResult<BTreeMap<&'static str, u64>> {
        let mut deleted = BTreeMap::new();
        let mut budget = max_batches;
        for t in PRUNED {
            let cutoff = match t.kept {
                Kept::Queue => cutoffs.queue,
                Kept::Conversations => cutoffs.conversations,
                Kept::History => cutoffs.history,
            };
            // Names come from the list above, never from input.
            let sql = format!(
                "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {old} \
                 ORDER BY {key} LIMIT {batch})",
                table = t.table,
                key = t.key,
                old = t.old,
            );
            while budget > 0 {
                budget -= 1;
                let n = dispatch_write!(self, |p| sqlx::query(&sql)
                    .bind(cutoff)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected()))?;
                if n > 0 {
                    *deleted.entry(t.table).or_insert(0) += n;
                }
                if n < batch.unsigned_abs() {
                    break;
                }
                // Let the queues' writers in between two batches.
                tokio::task::yield_now().await;
            }
        }
        Ok(deleted)
    }

    /// How many rows the tables that grow hold.
    pub async fn table_sizes(&self) -> StoreResult<TableSizes> {
        let mut sizes = TableSizes::default();
        for table in COUNTED {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let (n,): (i64,) = dispatch!(self, |p| sqlx::query_as(&sql).fetch_one(p).await)?;
            sizes.rows.insert((*table).to_owned(), n);
        }
        Ok(sizes)
    }

    /// The database's size on disk in bytes, as the engine reports it (SQLite: pages × page
    /// size; PostgreSQL: the tables of the current schema with their indexes and TOAST, so that
    /// several deployments sharing one database are told apart).
    pub async fn database_bytes(&self) -> StoreResult<i64> {
        let (n,): (i64,) = match &self.pool {
            super::Pool::Sqlite(p) => {
                sqlx::query_as("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
                    .fetch_one(p)
                    .await?
            }
            super::Pool::Postgres(p) => {
                sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = current_schema() AND c.relkind = 'r'",
                )
                .fetch_one(p)
                .await?
            }
        };
        Ok(n)
    }
}
