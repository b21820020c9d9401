//! What a button under one of our messages does. The data a platform hands back on a press is
//! the [`ButtonAction`] encoded as text (`done:42`, `ack:42`, `snooze:42:1h`, `approve:7`,
//! `retry:9`, `rdone:3`, `rsnooze:3:1h`, `btake:5`, `bskip:5`); this is the one place that writes it and the one place that reads it.

use std::fmt;

use super::Button;

/// How long a snoozed escalation waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnoozeFor {
    Hour,
    Day,
}

impl SnoozeFor {
    pub fn duration(self) -> chrono::Duration {
        match self {
            SnoozeFor::Hour => chrono::Duration::hours(1),
            SnoozeFor::Day => chrono::Duration::days(1),
        }
    }

    /// "an hour", "a day".
    pub fn words(self) -> &'static str {
        match self {
            SnoozeFor::Hour => "an hour",
            SnoozeFor::Day => "a day",
        }
    }

    fn code(self) -> &'static str {
        match self {
            SnoozeFor::Hour => "1h",
            SnoozeFor::Day => "1d",
        }
    }
}

/// A button's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonAction {
    /// Mark the task done.
    Done(i64),
    /// Acknowledge the task's escalation (it stops).
    Ack(i64),
    /// Let the task's escalation wait.
    Snooze(i64, SnoozeFor),
    /// Approve a proposed AI action.
    Approve(i64),
    /// Reject a proposed AI action.
    Reject(i64),
    /// Send a dead-lettered outbox message again (admins; under an alert).
    RetryDead(i64),
    /// A one-off reminder is dealt with.
    ReminderDone(i64),
    /// A one-off reminder comes again later.
    ReminderSnooze(i64, SnoozeFor),
    /// Yes: the blocker in stand-up answer N becomes a task (or a comment on the task it names).
    BlockerTake(i64),
    /// No: the blocker in stand-up answer N stays as it is.
    BlockerSkip(i64),
}

impl ButtonAction {
    /// Reads a press's data; `None` for anything we did not write (or no longer write).
    pub fn parse(data: &str) -> Option<Self> {
        let mut parts = data.split(':');
        let kind = parts.next()?;
        let id: i64 = parts.next()?.parse().ok()?;
        let rest = parts.next();
        if parts.next().is_some() {
            return None;
        }
        match (kind, rest) {
            ("done", None) => Some(Self::Done(id)),
            ("ack", None) => Some(Self::Ack(id)),
            ("snooze", Some("1h")) => Some(Self::Snooze(id, SnoozeFor::Hour)),
            ("snooze", Some("1d")) => Some(Self::Snooze(id, SnoozeFor::Day)),
            ("approve", None) => Some(Self::Approve(id)),
            ("reject", None) => Some(Self::Reject(id)),
            ("retry", None) => Some(Self::RetryDead(id)),
            ("rdone", None) => Some(Self::ReminderDone(id)),
            ("rsnooze", Some("1h")) => Some(Self::ReminderSnooze(id, SnoozeFor::Hour)),
            ("rsnooze", Some("1d")) => Some(Self::ReminderSnooze(id, SnoozeFor::Day)),
            ("btake", None) => Some(Self::BlockerTake(id)),
            ("bskip", None) => Some(Self::BlockerSkip(id)),
            _ => None,
        }
    }

    /// The task the button acts on (`None` for AI-action decisions).
    pub fn task(&self) -> Option<i64> {
        match *self {
            Self::Done(id) | Self::Ack(id) | Self::Snooze(id, _) => Some(id),
            Self::Approve(_)
            | Self::Reject(_)
            | Self::RetryDead(_)
            | Self::ReminderDone(_)
            | Self::ReminderSnooze(..)
            | Self::BlockerTake(_)
            | Self::BlockerSkip(_) => None,
        }
    }

    /// A button with `label` that carries this action.
    pub fn button(self, label: impl Into<String>) -> Button {
        Button {
            label: label.into(),
            data: self.to_string(),
        }
    }
}

impl fmt::Display for ButtonAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Done(id) => write!(f, "done:{id}"),
            Self::Ack(id) => write!(f, "ack:{id}"),
            Self::Snooze(id, length) => write!(f, "snooze:{id}:{}", length.code()),
            Self::Approve(id) => write!(f, "approve:{id}"),
            Self::Reject(id) => write!(f, "reject:{id}"),
            Self::RetryDead(id) => write!(f, "retry:{id}"),
            Self::ReminderDone(id) => write!(f, "rdone:{id}"),
            Self::ReminderSnooze(id, length) => write!(f, "rsnooze:{id}:{}", length.code()),
            Self::BlockerTake(id) => write!(f, "btake:{id}"),
            Self::BlockerSkip(id) => write!(f, "bskip:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_as_itself() {
        let all = [
            ButtonAction::Done(42),
            ButtonAction::Ack(7),
            ButtonAction::Snooze(7, SnoozeFor::Hour),
            ButtonAction::Snooze(8, SnoozeFor::Day),
            ButtonAction::Approve(3),
            ButtonAction::Reject(4),
            ButtonAction::RetryDead(9),
            ButtonAction::ReminderDone(10),
            ButtonAction::ReminderSnooze(11, SnoozeFor::Hour),
            ButtonAction::ReminderSnooze(12, SnoozeFor::Day),
            ButtonAction::BlockerTake(13),
            ButtonAction::BlockerSkip(14),
        ];
        for action in all {
            assert_eq!(ButtonAction::parse(&action.to_string()), Some(action));
        }
        assert_eq!(
            ButtonAction::Snooze(7, SnoozeFor::Hour).to_string(),
            "snooze:7:1h"
        );
    }

    #[test]
    fn foreign_or_broken_data_is_nothing() {
        for data in [
            "",
            "done",
            "done:x",
            "done:1:2",
            "snooze:1",
            "snooze:1:2h",
            "open:1",
            "approve:",
        ] {
            assert_eq!(ButtonAction::parse(data), None, "{data}");
        }
        assert_eq!(ButtonAction::Done(5).task(), Some(5));
        assert_eq!(ButtonAction::Approve(5).task(), None);
        assert_eq!(ButtonAction::RetryDead(5).task(), None);
        assert_eq!(ButtonAction::parse("retry:x"), None);
    }
}
