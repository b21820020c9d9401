//! Zendesk Support. Tickets become tasks, on request (`POST /integrations/zendesk/tickets/{id}/task`)
//! or by rule (a tag, or a priority); the comments of a linked ticket become the task's comments
//! (once each, by Zendesk's comment id); a task's status changes go back to its ticket (status
//! and an internal note) through the integration queue. New and changed tickets are found by the
//! incremental export (cursor stored in the database) and by Zendesk's signed webhooks.

pub mod client;
pub mod config;
pub mod outbound;
pub mod sync;
pub mod webhook;

pub use client::{Client, Comment, Ticket, TicketPage};
pub use config::{ZendeskConfig, ZendeskConfigUpdate, ZendeskConfigView};
pub use sync::{LinkOptions, SyncReport, TicketLink};

use std::time::Duration;

use super::secrets::SecretError;
use crate::store::StoreError;

/// The integration's name: in settings, links, and as the actor of its changes.
pub const NAME: &str = "zendesk";

#[derive(Debug, thiserror::Error)]
pub enum ZendeskError {
    #[error("Zendesk is not configured: {0}")]
    NotConfigured(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Zendesk has no ticket {0}")]
    NoTicket(i64),
    /// Zendesk answered with an error status.
    #[error("Zendesk answered {what} with HTTP {status}")]
    Http {
        status: reqwest::StatusCode,
        retry_after: Option<Duration>,
        what: String,
    },
    /// Zendesk did not answer, or answered something unreadable.
    #[error("Zendesk: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Workspace(#[from] crate::workspace::WorkspaceError),
}

impl ZendeskError {
    /// As a job failure: what is worth retrying, and what is not.
    pub fn into_job(self) -> super::JobError {
        use super::JobError;
        match self {
            ZendeskError::Http {
                status,
                retry_after,
                what,
            } => JobError::from_status(status, retry_after, &format!("Zendesk {what}")),
            ZendeskError::NotConfigured(m) => JobError::Permanent(format!("Zendesk is not configured: {m}")),
            ZendeskError::NoTicket(id) => JobError::Permanent(format!("Zendesk has no ticket {id}")),
            ZendeskError::Workspace(crate::workspace::WorkspaceError::Invalid(v)) => {
                JobError::Permanent(v.to_string())
            }
            other => JobError::Transient(other.to_string()),
        }
    }
}

/// Our status → Zendesk's (`open`, `hold`, `solved`).
pub fn ticket_status(status: crate::domain::TaskStatus) -> &'static str {
    use crate::domain::TaskStatus;
    match status {
        TaskStatus::Todo | TaskStatus::InProgress => "open",
        TaskStatus::Blocked => "hold",
        TaskStatus::Done => "solved",
    }
}

/// Zendesk's priority → ours.
pub fn task_priority(priority: Option<&str>) -> &'static str {
    match priority {
        Some("urgent") => "urgent",
        Some("high") => "high",
        Some("low") => "low",
        _ => "medium",
    }
}

/// Zendesk's status → ours, for a task made from a ticket.
pub fn task_status(status: &str) -> &'static str {
    match status {
        "pending" | "hold" => "blocked",
        "solved" | "closed" => "done",
        _ => "todo",
    }
}

/// Notes we write on tickets start with this, so that reading the ticket's comments back does
/// not turn our own notes into task comments.
pub const NOTE_PREFIX: &str = "[coordinator]";
