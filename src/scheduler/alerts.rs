//! Admin alerts in chat. Once an admin made a chat the alert chat (`/alerts here`), each sweep
//! posts there what would otherwise wait for someone to poll `/api/monitoring/status`:
//!
//! - a dead-lettered outbox message, with a button to send it again;
//! - a channel whose messages have failed for more than [`CHANNEL_GRACE`] while it delivered
//!   nothing queued after them (and a note when it delivers again);
//! - an integration job (Zendesk, CRM) given up on;
//! - a failed handbook ingest.
//!
//! Each failure is alerted once: its key (`dead:{channel}:{chat}:{error}`, `channel:{name}`,
//! `integration:{kind}:{error}`, `handbook:{when}`) is recorded, and the same key is alerted
//! again only after [`REARM`] (a failing channel again after it recovered). At most
//! [`MAX_PER_HOUR`] alerts of one kind are posted an hour; the rest are counted and posted as
//! one summary when the hour allows. Every alert goes through the outbox under a key starting
//! with `alert:`, and those never cause alerts themselves: an alert chat that cannot be reached,
//! or whose own channel is failing, does not make the alerts loop (the failure of the alert
//! chat's own channel is logged instead, and the chat hears when it works again).

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};

use super::{Scheduler, SweepReport};
use crate::message::{Button, ButtonAction};
use crate::store::{AlertLimits, NewAlert, Queue, Raised, StoreError, UnalertedDead};
use crate::workspace::routing::{chat_address, outbound, Address};

/// Alerts of one kind posted per hour at most.
pub const MAX_PER_HOUR: i64 = 5;
/// A failure alerted once is alerted again after this long.
pub const REARM: Duration = Duration::hours(24);
/// How long a channel fails before the admins hear of it.
pub const CHANNEL_GRACE: Duration = Duration::minutes(5);
/// Dead letters looked at per queue and sweep.
const BATCH: i64 = 100;
/// The start of the outbox key of every alert.
const ALERT_KEY: &str = "alert:";

/// One sweep's alerting: where to, the limits, and what was queued.
struct Alerts<'a> {
    s: &'a Scheduler,
    to: Address,
    limits: AlertLimits,
    now: DateTime<Utc>,
    sent: u32,
}

pub(super) async fn sweep(
    s: &Scheduler,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let Some(chat) = s.store.alert_chat().await? else {
        return Ok(());
    };
    let Some(to) = chat_address(Some(&chat.channel), Some(&chat.chat_id)) else {
        return Ok(());
    };
    let mut alerts = Alerts {
        s,
        to,
        limits: AlertLimits {
            rearm_before: now - REARM,
            window_start: now - Duration::hours(1),
            max_sent: MAX_PER_HOUR,
        },
        now,
        sent: 0,
    };
    alerts.dead_letters().await?;
    alerts.integration_jobs().await?;
    alerts.channels().await?;
    alerts.handbook().await?;
    alerts.summaries().await?;
    report.alerts_sent += alerts.sent;
    Ok(())
}

impl Alerts<'_> {
    /// Raises `alert` with `buttons`; `deliver: false` records it without posting (the alert
    /// chat cannot hear of it).
    async fn raise(
        &mut self,
        alert: NewAlert,
        buttons: Vec<Button>,
        deliver: bool,
    ) -> Result<Raised, StoreError> {
        let key = format!("{ALERT_KEY}{}:{}", alert.key, self.now.timestamp_micros());
        let message = outbound(&self.to, alert.text.clone(), buttons, key)?;
        let raised = self
            .s
            .store
            .raise_alert(&alert, deliver.then_some(&message), self.limits, self.now)
            .await?;
        if raised == Raised::Sent && deliver {
            self.sent += 1;
            metrics::counter!("alerts_sent_total", "kind" => alert.kind).increment(1);
        }
        Ok(raised)
    }

    /// Posts `text` outside the limits (a channel works again), once under `key`.
    async fn note(&mut self, key: &str, text: String) -> Result<(), StoreError> {
        let key = format!("{ALERT_KEY}{key}:{}", self.now.timestamp_micros());
        self.s
            .store
            .enqueue_outbox(&[outbound(&self.to, text, Vec::new(), key)?])
            .await?;
        self.sent += 1;
        Ok(())
    }

    async fn dead_letters(&mut self) -> Result<(), StoreError> {
        for dead in self.s.store.unalerted_dead(Queue::Outbox, BATCH).await? {
            if dead
                .dedupe_key
                .as_deref()
                .is_some_and(|k| k.starts_with(ALERT_KEY))
            {
                // An alert that could not be posted is not alerted: that would loop.
                tracing::warn!(id = dead.id, error = ?dead.last_error, "an admin alert could not be delivered");
            } else {
                let error = dead.last_error.as_deref().unwrap_or("unknown error");
                let text = format!(
                    "Alert: message #{} to {} was given up after {}: {error}",
                    dead.id,
                    self.chat_name(&dead).await?,
                    attempts(dead.attempts)
                );
                let alert = NewAlert {
                    key: format!("dead:{}:{}:{}", dead.channel, dead.chat_id, normalized(error)),
                    kind: "dead_letter",
                    text,
                };
                let retry = ButtonAction::RetryDead(dead.id).button(format!("Retry #{}", dead.id));
                self.raise(alert, vec![retry], true).await?;
            }
            self.s
                .store
                .mark_alerted(Queue::Outbox, dead.id, self.now)
                .await?;
        }
        Ok(())
    }

    /// "@anna's telegram chat 42", or "telegram chat -100" for a chat that is nobody's.
    async fn chat_name(&self, dead: &UnalertedDead) -> Result<String, StoreError> {
        let owner = match dead.channel.parse() {
            Ok(channel) => self.s.store.person_by_identity(channel, &dead.chat_id).await?,
            Err(_) => None,
        };
        Ok(match owner {
            Some(person) => format!("@{}'s {} chat {}", person.handle, dead.channel, dead.chat_id),
            None => format!("{} chat {}", dead.channel, dead.chat_id),
        })
    }

    async fn integration_jobs(&mut self) -> Result<(), StoreError> {
        for job in self.s.store.unalerted_dead(Queue::Integrations, BATCH).await? {
            let error = job.last_error.as_deref().unwrap_or("unknown error");
            let alert = NewAlert {
                key: format!("integration:{}:{}", job.channel, normalized(error)),
                kind: "integration",
                text: format!(
                    "Alert: integration job #{} ({}) was given up after {}: {error}",
                    job.id,
                    job.channel,
                    attempts(job.attempts)
                ),
            };
            self.raise(alert, Vec::new(), true).await?;
            self.s
                .store
                .mark_alerted(Queue::Integrations, job.id, self.now)
                .await?;
        }
        Ok(())
    }

    async fn channels(&mut self) -> Result<(), StoreError> {
        let mut failing = HashSet::new();
        for channel in self.s.store.failing_channels().await? {
            if channel.since > self.now - CHANNEL_GRACE
                || self
                    .s
                    .store
                    .delivered_since(&channel.channel, channel.first_id)
                    .await?
            {
                continue;
            }
            let key = format!("channel:{}", channel.channel);
            failing.insert(key.clone());
            let own = channel.channel == self.to.channel.as_str();
            let alert = NewAlert {
                key,
                kind: "channel",
                text: format!(
                    "Alert: {} has not delivered since {} UTC: {} message(s) wait and are retried.",
                    channel.channel,
                    channel.since.format("%Y-%m-%d %H:%M"),
                    channel.failing
                ),
            };
            // The alert chat's own channel: an alert there would only queue behind the rest.
            if self.raise(alert, Vec::new(), !own).await? == Raised::Sent && own {
                tracing::error!(channel = %channel.channel, "the alert chat's own channel is failing");
            }
        }
        for key in self.s.store.alert_keys("channel").await? {
            if failing.contains(&key) {
                continue;
            }
            if self.s.store.forget_alert(&key).await? == Some(true) {
                let name = key.trim_start_matches("channel:");
                self.note(
                    &format!("recovered:{name}"),
                    format!("{name} delivers messages again."),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn handbook(&mut self) -> Result<(), StoreError> {
        let Some(failure) = self.s.handbook.as_ref().and_then(|h| h.last_ingest_failure()) else {
            return Ok(());
        };
        let alert = NewAlert {
            key: format!("handbook:{}", failure.at.timestamp_micros()),
            kind: "handbook",
            text: format!(
                "Alert: the handbook could not be indexed: {}. /ask answers from what was indexed \
                 before; fix the folder and run `coordinator handbook ingest`, or restart.",
                failure.error
            ),
        };
        self.raise(alert, Vec::new(), true).await?;
        Ok(())
    }

    /// One message per kind for the alerts held back by the hourly limit, once it allows.
    async fn summaries(&mut self) -> Result<(), StoreError> {
        for (kind, held, sent) in self.s.store.held_alerts(self.limits.window_start).await? {
            if sent >= self.limits.max_sent {
                continue;
            }
            let what = match kind.as_str() {
                "dead_letter" => "messages were given up",
                "channel" => "channels failed",
                "integration" => "integration jobs were given up",
                _ => "failures came up",
            };
            let text = format!(
                "Alert summary: {held} more {what} within the hour and were not posted one by one \
                 (at most {} alerts of a kind an hour). GET /api/monitoring/status lists the dead letters.",
                self.limits.max_sent
            );
            let key = format!("summary:{kind}:{}", self.now.timestamp_micros());
            let message = outbound(&self.to, text, Vec::new(), format!("{ALERT_KEY}{key}"))?;
            if self
                .s
                .store
                .summarize_alerts(&kind, &key, &message, self.now)
                .await?
                > 0
            {
                self.sent += 1;
            }
        }
        Ok(())
    }
}

/// "1 attempt", "10 attempts".
fn attempts(n: i32) -> String {
    if n == 1 {
        "1 attempt".into()
    } else {
        format!("{n} attempts")
    }
}

/// An error as part of a key: numbers (ids, seconds) do not make two failures different.
fn normalized(error: &str) -> String {
    let mut key = String::new();
    let mut in_number = false;
    for c in error.trim().chars() {
        if c.is_ascii_digit() {
            if !in_number {
                key.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            key.push(c);
        }
        if key.len() >= 160 {
            break;
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_differing_only_in_numbers_share_a_key() {
        assert_eq!(
            normalized("Too Many Requests: retry after 30"),
            normalized("Too Many Requests: retry after 4")
        );
        assert_ne!(
            normalized("Forbidden: bot was blocked"),
            normalized("Bad Request: chat not found")
        );
        assert!(normalized(&"x".repeat(1000)).len() <= 160);
        assert_eq!(normalized("é1é"), "é#é");
    }
}
