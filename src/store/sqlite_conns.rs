//! SQLite connections held by the store itself rather than by sqlx's pool.
//!
//! A SQLite connection is a file opened in this process, served by a worker thread of its own;
//! every statement is a hand-off to that thread and back. sqlx's pool adds two more to each
//! statement it runs: a connection going back to the pool is handed to a task spawned for it,
//! which pings the worker thread before the connection can be taken again (a check meant for
//! connections a server or a network can drop). Profiled under load, waking and switching
//! threads was 42% of the service's processor time. Here a statement takes an idle connection,
//! runs on it and puts it back, in the same task (measured with `cargo bench --bench load`:
//! docs/PERFORMANCE.md, "SQLite statements on the store's own connections").
//!
//! Waiting is fair (a FIFO semaphore, as in sqlx's pool) and bounded by the acquire timeout
//! (`PoolTimedOut`, which the store reports as unavailable); connections are opened when first
//! needed, and one whose worker thread failed is dropped instead of being put back.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteQueryResult, SqliteRow, SqliteStatement,
    SqliteTransactionManager, SqliteTypeInfo,
};
use sqlx::{ConnectOptions, Connection, Describe, Either, Execute, Executor, TransactionManager};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::BeginWrite;

/// Up to `size` connections to one SQLite database; cheap to clone.
#[derive(Clone)]
pub(crate) struct SqliteConns {
    inner: Arc<Inner>,
}

struct Inner {
    options: SqliteConnectOptions,
    /// The connections not in use, the latest put back last (taken first, so that a light load
    /// keeps using the same few).
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection that may be open; closed by [`SqliteConns::close`].
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
}

/// A write transaction here is `BEGIN IMMEDIATE`: it takes the write lock at once.
impl BeginWrite for SqliteConns {
    type Tx = WriteTx;
    async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let begun = SqliteTransactionManager::begin(&mut conn, Some("BEGIN IMMEDIATE".into())).await;
        conn.note(&begun);
        begun?;
        Ok(WriteTx { conn, open: true })
    }
}

impl std::fmt::Debug for SqliteConns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteConns")
            .field("filename", &self.inner.options.get_filename())
            .field("free", &self.inner.permits.available_permits())
            .finish()
    }
}

impl SqliteConns {
    /// Opens one connection at once, so that a bad path or a locked file fails here.
    pub(crate) async fn connect(
        options: SqliteConnectOptions,
        size: usize,
        acquire_timeout: Duration,
    ) -> Result<Self, sqlx::Error> {
        let first = options.connect().await?;
        Ok(Self {
            inner: Arc::new(Inner {
                options,
                idle: Mutex::new(vec![first]),
                permits: Arc::new(Semaphore::new(size.max(1))),
                acquire_timeout,
            }),
        })
    }

    /// A connection of its own until the returned value is dropped.
    pub(crate) async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        let permit = tokio::time::timeout(
            self.inner.acquire_timeout,
            self.inner.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.inner.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            // Holding a permit and finding none idle: fewer than `size` are open.
            None => self.inner.options.connect().await?,
        };
        Ok(Conn {
            conn: Some(conn),
            broken: false,
            home: self.inner.clone(),
            _permit: permit,
        })
    }

    /// Stops handing out connections and closes the idle ones; those in use close when put back.
    pub(crate) async fn close(&self) {
        self.inner.permits.close();
        let idle = std::mem::take(&mut *self.inner.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for conn in idle {
            if let Err(e) = conn.close().await {
                tracing::debug!(error = %e, "closing a SQLite connection");
            }
        }
    }
}

/// A connection taken from [`SqliteConns`]; put back when dropped.
pub(crate) struct Conn {
    conn: Option<SqliteConnection>,
    /// Its worker thread failed: drop it instead of putting it back.
    broken: bool,
    home: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl Conn {
    /// Marks the connection broken when `result` says its worker thread is gone.
    fn note<T>(&mut self, result: &Result<T, sqlx::Error>) {
        if matches!(result, Err(sqlx::Error::WorkerCrashed | sqlx::Error::Io(_))) {
            self.broken = true;
        }
    }
}

impl Deref for Conn {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.conn
            .as_ref()
            .expect("a taken connection is held until dropped")
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("a taken connection is held until dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // The permit is released after this (fields drop after `drop`), so a waiter woken by it
        // finds the connection idle.
        if let Some(conn) = self.conn.take() {
            if !self.broken && !self.home.permits.is_closed() {
                self.home
                    .idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(conn);
            }
        }
    }
}

/// A write transaction on a connection of [`SqliteConns`]: rolled back when dropped without
/// [`WriteTx::commit`] (the rollback is queued on the connection before it is put back, so the
/// next statement on it runs after it).
pub(crate) struct WriteTx {
    conn: Conn,
    open: bool,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.end(SqliteTransactionManager::commit).await
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.end(SqliteTransactionManager::rollback).await
    }

    /// Ends the transaction with `how`; on failure it stays open, and dropping it rolls it back.
    async fn end(
        mut self,
        how: for<'a> fn(&'a mut SqliteConnection) -> BoxFuture<'a, Result<(), sqlx::Error>>,
    ) -> Result<(), sqlx::Error> {
        let done = how(&mut self.conn).await;
        self.conn.note(&done);
        done?;
        self.open = false;
        Ok(())
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.open {
            SqliteTransactionManager::start_rollback(&mut self.conn);
        }
    }
}

/// A statement on `&SqliteConns` takes a connection for itself, as on sqlx's pool. Rows are
/// read to the end before the first is given: the store reads bounded lists only.
impl<'c> Executor<'c> for &'c SqliteConns {
    type Database = Sqlite;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<SqliteQueryResult, SqliteRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        stream::once(async move {
            let mut conn = match self.acquire().await {
                Ok(conn) => conn,
                Err(e) => return vec![Err(e)],
            };
            let items: Vec<_> = (&mut *conn).fetch_many(query).collect().await;
            if let Some(last) = items.last() {
                conn.note(last);
            }
            items
        })
        .flat_map(stream::iter)
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<SqliteRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        Box::pin(async move {
            let mut conn = self.acquire().await?;
            let row = (&mut *conn).fetch_optional(query).await;
            conn.note(&row);
            row
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [SqliteTypeInfo],
    ) -> BoxFuture<'e, Result<SqliteStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        Box::pin(async move {
            let mut conn = self.acquire().await?;
            let statement = (&mut *conn).prepare_with(sql, parameters).await;
            conn.note(&statement);
            statement
        })
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Sqlite>, sqlx::Error>>
    where
        'c: 'e,
    {
        Box::pin(async move {
            let mut conn = self.acquire().await?;
            let described = (&mut *conn).describe(sql).await;
            conn.note(&described);
            described
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn conns(dir: &tempfile::TempDir, size: usize, timeout: Duration) -> SqliteConns {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("t.db"))
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let conns = SqliteConns::connect(options, size, timeout).await.unwrap();
        sqlx::query("CREATE TABLE IF NOT EXISTS t (n INTEGER NOT NULL)")
            .execute(&conns)
            .await
            .unwrap();
        conns
    }

    async fn count(conns: &SqliteConns) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(conns)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_dropped_transaction_is_rolled_back_before_the_connection_is_used_again() {
        let dir = tempfile::tempdir().unwrap();
        let writer = conns(&dir, 1, Duration::from_secs(10)).await;
        let mut tx = writer.begin_write().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (1)")
            .execute(&mut *tx)
            .await
            .unwrap();
        drop(tx);
        // The one connection again: a transaction still open on it would refuse this BEGIN.
        let mut tx = writer.begin_write().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (2)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let kept: Vec<i64> = sqlx::query_scalar("SELECT n FROM t")
            .fetch_all(&writer)
            .await
            .unwrap();
        assert_eq!(kept, vec![2]);

        let mut tx = writer.begin_write().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (3)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(count(&writer).await, 1);
    }

    #[tokio::test]
    async fn a_read_cancelled_midway_leaves_nothing_for_the_next_statement() {
        let dir = tempfile::tempdir().unwrap();
        let reader = conns(&dir, 1, Duration::from_secs(10)).await;
        let long = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) \
                    SELECT x FROM c";
        for _ in 0..5 {
            let cancelled = tokio::time::timeout(
                Duration::from_millis(1),
                sqlx::query_scalar::<_, i64>(long).fetch_all(&reader),
            )
            .await;
            assert!(cancelled.is_err(), "the long read finished within a millisecond");
            let n: i64 = sqlx::query_scalar("SELECT 41 + 1")
                .fetch_one(&reader)
                .await
                .unwrap();
            assert_eq!(n, 42);
        }
    }

    #[tokio::test]
    async fn statements_wait_for_a_connection_in_turn_and_no_more_are_opened_than_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let reader = conns(&dir, 3, Duration::from_secs(10)).await;
        let writer = conns(&dir, 1, Duration::from_secs(10)).await;
        let mut work = tokio::task::JoinSet::new();
        for n in 0..60 {
            let (reader, writer) = (reader.clone(), writer.clone());
            work.spawn(async move {
                let mut tx = writer.begin_write().await?;
                sqlx::query("INSERT INTO t (n) VALUES ($1)")
                    .bind(n)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM t")
                    .fetch_one(&reader)
                    .await
            });
        }
        while let Some(seen) = work.join_next().await {
            assert!(seen.unwrap().unwrap() >= 1);
        }
        assert_eq!(count(&reader).await, 60);
        assert!(reader.inner.idle.lock().unwrap().len() <= 3);
        assert_eq!(writer.inner.idle.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_full_pool_times_out_and_a_closed_one_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let writer = conns(&dir, 1, Duration::from_millis(50)).await;
        let held = writer.acquire().await.unwrap();
        let waited = writer.acquire().await.err();
        assert!(matches!(waited, Some(sqlx::Error::PoolTimedOut)), "{waited:?}");
        drop(held);
        assert_eq!(count(&writer).await, 0);
        writer.close().await;
        let refused = writer.acquire().await.err();
        assert!(matches!(refused, Some(sqlx::Error::PoolClosed)), "{refused:?}");
        assert!(writer.inner.idle.lock().unwrap().is_empty());
    }
}
