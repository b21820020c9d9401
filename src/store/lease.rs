//! Leadership among replicas for a connection only one of them may hold (the Discord gateway,
//! Slack's Socket Mode): on PostgreSQL a session advisory lock, keyed by the holder's name and
//! the schema, that lives as long as its connection; on SQLite the service is one process and
//! always holds it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Pool, Store};

/// How often a replica that does not hold the lease asks again.
pub const LEASE_RETRY: Duration = Duration::from_secs(5);

/// The right to hold a connection only one replica may hold.
pub enum Lease {
    /// SQLite: one process.
    Sole,
    /// PostgreSQL: the advisory lock lives as long as this connection.
    Postgres(sqlx::PgConnection),
}

impl Lease {
    /// Waits until this replica holds the lease `key` (named `what` in the logs); `None` on
    /// shutdown.
    pub async fn acquire(store: &Store, key: i32, what: &str, shutdown: &CancellationToken) -> Option<Lease> {
        let Pool::Postgres(pool) = &store.pool else {
            return Some(Lease::Sole);
        };
        loop {
            let attempt = async {
                let mut conn = pool.acquire().await?.detach();
                let held: bool =
                    sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext(current_schema()))")
                        .bind(key)
                        .fetch_one(&mut conn)
                        .await?;
                Ok::<_, sqlx::Error>(held.then_some(conn))
            };
            match attempt.await {
                Ok(Some(conn)) => return Some(Lease::Postgres(conn)),
                Ok(None) => tracing::debug!("another replica holds the {what}"),
                Err(e) => tracing::warn!(error = %e, "could not ask for the {what} lock"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(LEASE_RETRY) => {}
            }
        }
    }

    /// Whether the lease still holds (its connection is alive).
    pub async fn held(&mut self) -> bool {
        match self {
            Lease::Sole => true,
            Lease::Postgres(conn) => {
                use sqlx::Connection;
                conn.ping().await.is_ok()
            }
        }
    }
}
