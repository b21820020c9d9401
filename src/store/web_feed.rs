//! What the alerts feed of the web page is read from: escalations, reminders sent, policy
//! breaches and the alerts about channels and the handbook, each the most recent first and
//! bounded (proposals and dead letters have their own queries elsewhere). And the signal that
//! wakes the page's live streams: the store writes that change what the feed shows (in this
//! process) bump it, so a stream reads the feed again when there is news rather than on a timer.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::{dispatch, Store, StoreResult};

/// A counter bumped whenever something the alerts feed shows is recorded or changes through
/// this process's store; live streams wait on it. Other replicas' writes do not reach it: the
/// streams keep a slow poll for those.
#[derive(Clone)]
pub struct FeedSignal(Arc<watch::Sender<u64>>);

impl FeedSignal {
    pub(crate) fn new() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }

    /// Wakes every waiting stream (no-op when none waits).
    pub(crate) fn bump(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees the changes from now on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// An escalation ladder, with its task's title.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EscalationRow {
    pub id: i64,
    pub task_id: i64,
    pub title: String,
    /// `overdue`, `blocked` or `manual`.
    pub kind: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    pub step: i32,
    pub reason: Option<String>,
    pub acknowledged_by: Option<String>,
    pub next_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A reminder that was sent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReminderRow {
    pub task_id: i64,
    pub title: String,
    pub lead_minutes: i32,
    pub sent_at: DateTime<Utc>,
}

/// A reported policy breach, with the rule's source (`file › heading`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BreachRow {
    pub task_id: i64,
    pub title: String,
    pub rule_id: String,
    pub message: Option<String>,
    pub source: Option<String>,
    pub reported_at: DateTime<Utc>,
}

/// An alert about a failing channel or a handbook ingest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRow {
    pub key: String,
    pub kind: String,
    pub text: String,
    pub last_seen_at: DateTime<Utc>,
}

impl Store {
    /// Changes to what the alerts feed shows, recorded through this store (see [`FeedSignal`]).
    pub fn feed_changes(&self) -> watch::Receiver<u64> {
        self.feed.subscribe()
    }

    /// Something the alerts feed shows was just recorded: wake the live streams.
    pub(crate) fn feed_changed(&self) {
        self.feed.bump();
    }

    /// The escalations changed most recently, at most `limit`.
    pub async fn recent_escalations(&self, limit: i64) -> StoreResult<Vec<EscalationRow>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, EscalationRow>(
            "SELECT e.id, e.task_id, t.title, e.kind, e.status, e.step, e.reason, e.acknowledged_by, \
             e.next_at, e.updated_at FROM escalations e JOIN tasks t ON t.id = e.task_id \
             ORDER BY e.updated_at DESC, e.id DESC LIMIT $1"
        )
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }

    /// The reminders sent most recently, at most `limit`.
    pub async fn recent_reminders(&self, limit: i64) -> StoreResult<Vec<ReminderRow>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, ReminderRow>(
            "SELECT r.task_id, t.title, r.lead_minutes, r.sent_at FROM task_reminders r \
             JOIN tasks t ON t.id = r.task_id ORDER BY r.sent_at DESC LIMIT $1"
        )
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }

    /// The policy breaches reported most recently, at most `limit`.
    pub async fn recent_breaches(&self, limit: i64) -> StoreResult<Vec<BreachRow>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, BreachRow>(
            "SELECT b.task_id, t.title, b.rule_id, b.message, b.source, b.reported_at \
             FROM policy_breaches b JOIN tasks t ON t.id = b.task_id \
             ORDER BY b.reported_at DESC LIMIT $1"
        )
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }

    /// The alerts about channels and handbook ingests seen most recently, at most `limit`.
    pub async fn recent_system_alerts(&self, limit: i64) -> StoreResult<Vec<AlertRow>> {
        Ok(dispatch!(self, |p| sqlx::query_as::<_, AlertRow>(
            "SELECT key, kind, text, last_seen_at FROM alerts WHERE kind IN ('channel', 'handbook') \
             ORDER BY last_seen_at DESC LIMIT $1"
        )
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }
}
