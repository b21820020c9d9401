//! The alerts feed of the web page: what the coordinator did and what needs a human, newest
//! first. Escalations (sent, acknowledged, waiting), reminders sent, policy breaches with their
//! handbook citation and proposals awaiting approval, for everyone signed in; dead letters,
//! failing integrations and channels, for admins (the same things the admins' alert chat hears
//! of). Each source is read bounded and most recent first, so the feed costs the same however
//! large the workspace grows. Unread: items newer than when the principal last read the feed.

use chrono::{DateTime, Utc};

use super::{Actor, Workspace, WsResult};
use crate::domain::ActionStatus;
use crate::store::Queue;

/// The most items read from each source.
const PER_SOURCE: i64 = 30;
/// The most items in the feed.
const FEED_LENGTH: usize = 100;

/// What an item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    Escalation,
    Reminder,
    PolicyBreach,
    Proposal,
    DeadLetter,
    IntegrationFailure,
    SystemAlert,
}

impl FeedKind {
    pub fn label(self) -> &'static str {
        match self {
            FeedKind::Escalation => "Escalation",
            FeedKind::Reminder => "Reminder",
            FeedKind::PolicyBreach => "Policy breach",
            FeedKind::Proposal => "Proposal",
            FeedKind::DeadLetter => "Dead letter",
            FeedKind::IntegrationFailure => "Integration failure",
            FeedKind::SystemAlert => "Alert",
        }
    }
}

/// One entry of the feed.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub at: DateTime<Utc>,
    pub kind: FeedKind,
    pub task_id: Option<i64>,
    /// One line: what happened.
    pub title: String,
    /// More: a reason, an error, the rule broken.
    pub detail: Option<String>,
    /// A policy breach's `file › heading`.
    pub citation: Option<String>,
    /// Whether a person should act on it (an open escalation, a proposal, a dead letter).
    pub needs_human: bool,
    /// An open escalation: it can be acknowledged or snoozed.
    pub open_escalation: bool,
    /// A proposal's id (approve or reject on the approvals page).
    pub action_id: Option<i64>,
    /// A dead outbox message's id (retry).
    pub dead_letter_id: Option<i64>,
}

impl FeedItem {
    fn new(at: DateTime<Utc>, kind: FeedKind, title: String) -> Self {
        Self {
            at,
            kind,
            task_id: None,
            title,
            detail: None,
            citation: None,
            needs_human: false,
            open_escalation: false,
            action_id: None,
            dead_letter_id: None,
        }
    }

    /// A stable key for the item, for the page's live updates.
    pub fn key(&self) -> String {
        format!(
            "{:?}-{}-{}",
            self.kind,
            self.at.timestamp_micros(),
            self.task_id.unwrap_or(0)
        )
    }
}

/// The feed as one principal sees it.
#[derive(Debug, Clone)]
pub struct Feed {
    pub items: Vec<FeedItem>,
    /// Items newer than the principal's last read.
    pub unread: usize,
    /// Until when the principal had read the feed.
    pub seen_at: Option<DateTime<Utc>>,
}

impl Feed {
    /// Changes whenever an item is added or changes: the live view sends an update then.
    pub fn fingerprint(&self) -> String {
        let newest = self.items.iter().map(|i| i.at).max();
        format!(
            "{}:{}:{}",
            self.items.len(),
            newest.map_or(0, |t| t.timestamp_micros()),
            self.unread
        )
    }
}

impl Workspace {
    /// The feed for `actor`, with its unread count for `principal`.
    pub async fn alert_feed(&self, actor: &Actor, principal: &str, now: DateTime<Utc>) -> WsResult<Feed> {
        let mut items = Vec::new();
        for e in self.store.recent_escalations(PER_SOURCE).await? {
            let open = e.status == "open";
            let state = match e.status.as_str() {
                "open" => match e.next_at {
                    Some(next) if next > now => {
                        format!(
                            "step {} sent; next step {}",
                            e.step,
                            next.format("%Y-%m-%d %H:%M UTC")
                        )
                    }
                    _ => format!("step {} sent", e.step),
                },
                "acknowledged" => format!(
                    "acknowledged by {}",
                    e.acknowledged_by.as_deref().unwrap_or("someone")
                ),
                other => other.to_owned(),
            };
            let mut item = FeedItem::new(
                e.updated_at,
                FeedKind::Escalation,
                format!("#{} {} — {} escalation, {state}", e.task_id, e.title, e.kind),
            );
            item.task_id = Some(e.task_id);
            item.detail = e.reason;
            item.needs_human = open;
            item.open_escalation = open;
            items.push(item);
        }
        for r in self.store.recent_reminders(PER_SOURCE).await? {
            let mut item = FeedItem::new(
                r.sent_at,
                FeedKind::Reminder,
                format!(
                    "#{} {} — reminder sent ({} before it is due)",
                    r.task_id,
                    r.title,
                    lead(r.lead_minutes)
                ),
            );
            item.task_id = Some(r.task_id);
            items.push(item);
        }
        for b in self.store.recent_breaches(PER_SOURCE).await? {
            let mut item = FeedItem::new(
                b.reported_at,
                FeedKind::PolicyBreach,
                format!("#{} {} — breaks rule {}", b.task_id, b.title, b.rule_id),
            );
            item.task_id = Some(b.task_id);
            item.detail = b.message;
            item.citation = b.source;
            item.needs_human = true;
            items.push(item);
        }
        for a in self
            .store
            .list_actions(Some(ActionStatus::Proposed), PER_SOURCE)
            .await?
        {
            let mut item = FeedItem::new(
                a.created_at,
                FeedKind::Proposal,
                format!("Proposal #{} by {} awaits approval", a.id, a.proposed_by),
            );
            item.detail = Some(a.summary);
            item.action_id = Some(a.id);
            item.needs_human = true;
            items.push(item);
        }
        if actor.is_admin() {
            for d in self.store.dead_letters(Queue::Outbox, PER_SOURCE).await? {
                let mut item = FeedItem::new(
                    d.created_at,
                    FeedKind::DeadLetter,
                    format!(
                        "Message #{} to {} chat {} was given up",
                        d.id, d.channel, d.chat_id
                    ),
                );
                item.detail = d.last_error;
                item.dead_letter_id = Some(d.id);
                item.needs_human = true;
                items.push(item);
            }
            for d in self.store.dead_letters(Queue::Integrations, PER_SOURCE).await? {
                let mut item = FeedItem::new(
                    d.created_at,
                    FeedKind::IntegrationFailure,
                    format!("{} job #{} was given up", d.channel, d.id),
                );
                item.detail = d.last_error;
                item.needs_human = true;
                items.push(item);
            }
            for a in self.store.recent_system_alerts(PER_SOURCE).await? {
                let mut item = FeedItem::new(a.last_seen_at, FeedKind::SystemAlert, a.text);
                item.detail = Some(a.key);
                item.needs_human = a.kind == "channel";
                items.push(item);
            }
        }
        items.sort_by_key(|i| std::cmp::Reverse(i.at));
        items.truncate(FEED_LENGTH);
        let seen = self.store.feed_seen(principal).await?;
        let unread = items.iter().filter(|i| seen.is_none_or(|s| i.at > s)).count();
        Ok(Feed {
            items,
            unread,
            seen_at: seen,
        })
    }

    /// Changes to what the feed shows, as they are recorded in this process: a live view waits
    /// on it instead of reading the feed on a timer.
    pub fn feed_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.store.feed_changes()
    }

    /// `principal` has read the feed up to `at`.
    pub async fn mark_feed_read(&self, principal: &str, at: DateTime<Utc>) -> WsResult<()> {
        Ok(self.store.set_feed_seen(principal, at).await?)
    }
}

/// `90` → `1 h 30 min`.
fn lead(minutes: i32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) if h % 24 == 0 => format!("{} d", h / 24),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn leads_read_naturally() {
        assert_eq!(super::lead(30), "30 min");
        assert_eq!(super::lead(120), "2 h");
        assert_eq!(super::lead(1440), "1 d");
        assert_eq!(super::lead(90), "1 h 30 min");
    }
}
