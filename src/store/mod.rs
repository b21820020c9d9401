//! Persistence on SQLite (embedded default, WAL mode) and PostgreSQL through sqlx, chosen at
//! start-up from the URL scheme. Every query is written once with `$n` placeholders and runs on
//! both engines; `dispatch!` expands a body once per engine. Mutations write their audit record
//! in the same transaction. The bytes of files on tasks are kept beside the rows (`blobs`: a
//! folder, or an S3-compatible bucket through `s3`). This module knows nothing about channels or
//! the LLM.

mod action_effects;
mod actions;
mod analysis;
mod audit;
mod blobs;
mod claims;
mod comments;
mod conversation_writer;
mod conversations;
mod discord;
mod due;
mod email;
mod files;
mod finish;
mod group_commit;
mod heads;
mod held;
mod history;
mod integrations;
mod lease;
mod media;
mod people;
mod projects;
mod queue;
mod recent;
mod recurring;
mod reminders;
mod retention;
mod s3;
mod scheduler;
mod scratch;
mod slack;
mod sqlite_conns;
mod standup_answers;
mod standups;
mod task_writer;
mod tasks;
mod team;
mod tokens;
mod turn_writer;
mod web;
mod web_feed;
mod whatsapp;
mod work_facts;

pub use action_effects::{ActionEffect, Recovered};
pub use analysis::{OpenBreach, ProjectWork, TaskSignal};
pub use audit::{AuditEntry, AuditRecord};
pub use blobs::{Blobs, FileFolder};
pub use claims::{worker_id, Claimed};
pub use comments::CommentData;
pub use conversations::{ConversationRecord, MemoryMessage, TurnRecord, TurnStart};
pub use discord::InteractionToken;
pub use email::{EmailRecord, NewEmailRecord, Watermark};
pub use files::TaskFile;
pub use finish::{EventTags, InboxFinish};
pub use history::{HistoryFilter, HistoryRecord, QueuedMessage};
pub use integrations::{ExternalLink, NewLink, StoredSetting};
pub use lease::Lease;
pub use media::StoredMedia;
pub use people::{Adopt, PersonData};
pub use projects::ProjectData;
pub use queue::{DeadLetter, NewInboxEvent, NewOutbound, Queue, QueueCounts};
pub use recent::KEPT_FOR;
pub use recurring::DueRecurrence;
pub use reminders::{Reminder, ReminderData, ReminderFilter};
pub use retention::{Cutoffs, TableSizes};
pub use s3::{S3Blobs, S3Location};
pub use scheduler::{
    AlertChat, AlertLimits, ChartCounts, DueEscalation, FailingChannel, NewAlert, OpenEscalation,
    PersonCounts, PolicyTask, QuietHours, Raised, ReminderDue, ReportCounts, SweepRecord, TaskRouting,
    UnalertedDead,
};
pub use scratch::ScratchSchema;
pub use slack::SlackInteraction;
pub use standup_answers::{DueAsk, StandupAnswer};
pub use standups::{NewRun, Standup, StandupData, StandupRun};
pub use tasks::{SeriesData, TaskData, TaskFilter};
pub use team::PendingInvite;
pub use tokens::ApiToken;
pub use web::{NewWebSession, WebSession};
pub use web_feed::{AlertRow, BreachRow, EscalationRow, FeedSignal, ReminderRow};
pub use whatsapp::{Delivery, DeliveryStatus, DeliveryUpdate, WindowFacts, REENGAGEMENT_REQUIRED};
pub use work_facts::{OpenTask, WorkFacts};

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::PgPool;

use sqlite_conns::SqliteConns;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached: the caller should answer 503 or retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            other => StoreError::Other(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Other(format!("migration failed: {e}"))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqliteConns),
    Postgres(PgPool),
}

/// The store: one handle, cheap to clone, shared by every part of the service.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    /// What writes use: on SQLite a pool of one connection, so that the service's writers
    /// queue for it in order instead of meeting SQLite's write lock, whose busy handler sleeps
    /// for milliseconds at a time while the lock is free again (measured: 3,741 such sleeps,
    /// 17.9 s in all, in 8 s of the load tool's `/newtask` run). On PostgreSQL the same pool.
    pub(crate) writer: Pool,
    /// Wakes the web page's live alert streams when the feed's sources change.
    feed: FeedSignal,
    /// Writes tasks created at the same time in one transaction.
    tasks: group_commit::GroupWriter<task_writer::NewTasks>,
    /// Records agent turns finished at the same time in one transaction.
    turns: group_commit::GroupWriter<turn_writer::Turns>,
    /// Makes the conversations of chats that speak for the first time at the same moment in
    /// one statement.
    conversations: group_commit::GroupWriter<conversation_writer::NewConversations>,
    /// The project of each chat, as read lately (every task made in a chat asks).
    chat_projects: std::sync::Arc<recent::Recent<(String, String), Option<i64>>>,
    /// Each integration's stored settings, as read lately (every change of a task asks).
    settings: std::sync::Arc<recent::Recent<String, Vec<StoredSetting>>>,
    /// Whether any stand-up question exists, as read lately (every private message asks).
    standup_questions: std::sync::Arc<recent::Recent<(), bool>>,
}

/// Runs `$body` with `$p` bound to the engine's connection pool in `$pool` (a `&Pool`); the body
/// is compiled once per engine.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::store::Pool::Sqlite($p) => $body,
            $crate::store::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// [`on_pool!`] on the store's pool for reading.
macro_rules! dispatch {
    ($store:expr, |$p:ident| $body:expr) => {
        $crate::store::on_pool!(&$store.pool, |$p| $body)
    };
}
pub(crate) use dispatch;

/// As [`dispatch!`], for a body that writes: `$p` is the store's writer (on SQLite its one
/// writing connection). A body that holds the writer must not wait on another write.
macro_rules! dispatch_write {
    ($store:expr, |$p:ident| $body:expr) => {
        $crate::store::on_pool!(&$store.writer, |$p| $body)
    };
}
pub(crate) use dispatch_write;

/// A pool that can open a transaction meant to write.
pub(crate) trait BeginWrite {
    /// The open transaction: `&mut *tx` runs statements in it, `tx.commit()` ends it, and
    /// dropping it rolls it back.
    type Tx: Send;
    fn begin_write(&self) -> impl std::future::Future<Output = Result<Self::Tx, sqlx::Error>> + Send;
}

impl BeginWrite for sqlx::PgPool {
    type Tx = sqlx::Transaction<'static, sqlx::Postgres>;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// Opens a transaction that writes. On SQLite it is `BEGIN IMMEDIATE`, which takes the write
/// lock at once (waiting up to the busy timeout): a deferred transaction that reads first fails
/// at its first write with "database is locked", without waiting, whenever another connection
/// wrote in between. On PostgreSQL a plain `BEGIN`.
pub(crate) async fn begin_write<P: BeginWrite>(pool: &P) -> Result<P::Tx, sqlx::Error> {
    pool.begin_write().await
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). A SQLite file and its folder are
    /// created when missing.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Other(format!("bad sqlite url: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(dir) = options.get_filename().parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| StoreError::Other(format!("cannot create {}: {e}", dir.display())))?;
                }
            }
            // The store's own connections (`sqlite_conns`), without sqlx's pool: a SQLite
            // connection is a file opened in this process, not to be pinged around each use.
            let pool = SqliteConns::connect(options.clone(), 8, Duration::from_secs(10)).await?;
            // SQLite takes one writer at a time: the writers wait here, woken in turn.
            let writer = SqliteConns::connect(options, 1, Duration::from_secs(10)).await?;
            Ok(Self {
                pool: Pool::Sqlite(pool),
                tasks: group_commit::GroupWriter::start(Pool::Sqlite(writer.clone())),
                turns: group_commit::GroupWriter::start(Pool::Sqlite(writer.clone())),
                conversations: group_commit::GroupWriter::start(Pool::Sqlite(writer.clone())),
                writer: Pool::Sqlite(writer),
                feed: FeedSignal::new(),
                chat_projects: Default::default(),
                settings: Default::default(),
                standup_questions: Default::default(),
            })
        } else {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Other(format!("bad postgres url: {e}")))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await?;
            Ok(Self {
                pool: Pool::Postgres(pool.clone()),
                tasks: group_commit::GroupWriter::start(Pool::Postgres(pool.clone())),
                turns: group_commit::GroupWriter::start(Pool::Postgres(pool.clone())),
                conversations: group_commit::GroupWriter::start(Pool::Postgres(pool.clone())),
                writer: Pool::Postgres(pool),
                feed: FeedSignal::new(),
                chat_projects: Default::default(),
                settings: Default::default(),
                standup_questions: Default::default(),
            })
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// Applies the migrations of `migrations/sqlite` or `migrations/postgres`. Migrations that
    /// a newer version applied are tolerated: migrations only add (tables, columns with
    /// defaults, indexes), so during a rolling upgrade a replica of the previous version can
    /// still start on the newer schema. A changed migration is still an error.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.pool {
            Pool::Sqlite(p) => {
                let mut migrator = sqlx::migrate!("migrations/sqlite");
                migrator.set_ignore_missing(true);
                let mut conn = p.acquire().await?;
                migrator.run(&mut *conn).await?
            }
            Pool::Postgres(p) => {
                let mut migrator = sqlx::migrate!("migrations/postgres");
                migrator.set_ignore_missing(true);
                migrator.run(p).await?
            }
        }
        Ok(())
    }

    /// A round trip to the database, for `/health`.
    pub async fn ping(&self) -> StoreResult<()> {
        dispatch!(self, |p| sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        dispatch_write!(self, |p| p.close().await);
        dispatch!(self, |p| p.close().await)
    }
}

/// The current time, truncated to microseconds so that it reads back equal on both engines.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(now)
}
