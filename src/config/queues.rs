//! The durable queues and what is kept: how long an outbox claim lasts, how long finished
//! queue rows, conversation turns and the longer records are kept, and the limits of email
//! intake over IMAP.

use std::time::Duration;

use super::catalog::{Group, Setting};
use super::values::Reader;
use super::ConfigError;

pub(super) const GROUPS: &[Group] = &[Group {
    title: "Queues and retention",
    settings: &[
        Setting::default_to(
            "COORDINATOR_OUTBOX_LEASE",
            "60s",
            "how long an outbound message's claim lasts unrenewed (renewed while the send runs)",
        ),
        Setting::default_to(
            "COORDINATOR_KEEP_QUEUE",
            "30d",
            "how long delivered, dead and refused queue rows are kept (the message history)",
        ),
        Setting::default_to(
            "COORDINATOR_KEEP_CONVERSATIONS",
            "180d",
            "how long conversation turns (the agent's memory and usage records) are kept",
        ),
        Setting::default_to(
            "COORDINATOR_KEEP_HISTORY",
            "365d",
            "how long the audit log, email records, alerts and scheduler runs are kept",
        ),
        Setting::default_to(
            "EMAIL_MAX_MESSAGE_BYTES",
            "26214400",
            "larger mails (RFC822.SIZE) are not read over IMAP but recorded as refused",
        ),
        Setting::default_to(
            "EMAIL_MAX_FAILURES",
            "3",
            "a mail that fails this many times over IMAP is dead-lettered and skipped",
        ),
    ],
}];

/// How long what is kept is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Finished inbox events, outbox messages and integration jobs (`COORDINATOR_KEEP_QUEUE`).
    pub queue: Duration,
    /// Conversation messages and agent turns (`COORDINATOR_KEEP_CONVERSATIONS`).
    pub conversations: Duration,
    /// The audit log, email records, alerts and scheduler runs (`COORDINATOR_KEEP_HISTORY`).
    pub history: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: u64 = 24 * 3600;
        Self {
            queue: Duration::from_secs(30 * DAY),
            conversations: Duration::from_secs(180 * DAY),
            history: Duration::from_secs(365 * DAY),
        }
    }
}

/// The settings of this area, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// `COORDINATOR_OUTBOX_LEASE`.
    pub outbox_lease: Duration,
    pub retention: Retention,
    /// `EMAIL_MAX_MESSAGE_BYTES`.
    pub email_max_message_bytes: u64,
    /// `EMAIL_MAX_FAILURES`.
    pub email_max_failures: u32,
}

pub(super) fn read(r: &Reader<'_>) -> Result<QueueSettings, ConfigError> {
    Ok(QueueSettings {
        outbox_lease: r.duration("COORDINATOR_OUTBOX_LEASE")?,
        retention: Retention {
            queue: r.duration("COORDINATOR_KEEP_QUEUE")?,
            conversations: r.duration("COORDINATOR_KEEP_CONVERSATIONS")?,
            history: r.duration("COORDINATOR_KEEP_HISTORY")?,
        },
        email_max_message_bytes: r.number("EMAIL_MAX_MESSAGE_BYTES", 1024, "a byte count")?,
        email_max_failures: r.number("EMAIL_MAX_FAILURES", 1, "a whole number")?,
    })
}
