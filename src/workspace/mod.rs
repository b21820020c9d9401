//! The operations people and the agent perform on the workspace: projects, tasks, comments,
//! people, link codes, tokens and the admins' alert chat. Every operation takes the `Actor` (a person through a channel,
//! or an API token), checks the actor's role and lets the store write the audit record. The REST
//! API, the chat commands and the agent's tools all come through here. Nothing here formats chat
//! replies; the few messages an operation queues itself (a manual escalation, the notice to a
//! task's new assignee in `handover`) are written here.

mod actions;
mod alerts;
mod analysis;
mod auth;
mod board;
mod changes;
mod comments;
mod conversations;
mod escalations;
mod feed;
mod files;
mod handover;
mod monitoring;
mod newcomers;
mod patch;
mod people;
mod projects;
mod recurring;
mod reminders;
mod reports;
pub mod routing;
mod standups;
mod tasks;
mod team;
mod web;

pub use crate::store::Reminder;
pub use actions::{action_json, DeferredCalls, Proposal};
pub use analysis::{
    Analysis, AnalysisOptions, Finding, FindingCounts, FindingKind, Severity, Suggestion, SuggestionAction,
};
pub use changes::{Change, ChangeEvent, ChangeListener};
pub use comments::{CommentUpdate, NewComment};
pub use escalations::{EscalationList, ManualEscalation, ReportData};
pub use feed::{Feed, FeedItem, FeedKind};
pub use files::{FileSettings, NewFile};
pub use monitoring::{MonitoringStatus, QueueStatus};
pub use newcomers::Newcomer;
pub use patch::Patch;
pub use people::{LinkCode, NewPerson, PersonUpdate, PROFILES};
pub use projects::{NewProject, ProjectChat, ProjectUpdate};
pub use reminders::{NewReminder, ReminderRequest, ReminderTarget, ReminderTime, REMINDER_TEXT_MAX};
pub use reports::{render_chart, Report};
pub use routing::{chat_address, person_address, Address};
pub use standups::{Answered, BlockerOutcome, StandupRequest, StandupRunAnswers};
pub use tasks::{NewTask, StatusChange, TaskQuery, TaskRequest, TaskUpdate};
pub use team::{ClaimCode, Invite, Removed, Team};
#[cfg(feature = "web")]
pub(crate) use web::random_secret;
pub use web::{NewSession, Session, SignInCode, SESSION_TTL_HOURS, SIGN_IN_TTL_MINUTES};

use chrono_tz::Tz;

use crate::config::Secret;
use crate::domain::{Person, Role, ValidationError};
use crate::store::{AuditEntry, Store, StoreError};

/// How errors word a handle nobody has; chat replies recognise it to point to `/people`.
pub const UNKNOWN_HANDLE: &str = "nobody has the handle";

/// `nobody has the handle 'anna'`.
pub(crate) fn unknown_handle(handle: &str) -> String {
    format!("{UNKNOWN_HANDLE} '{handle}'")
}

/// The chat message a change came from: escalations go back to its chat, and `source_key`
/// (unique per message) makes processing the message twice have one effect.
#[derive(Debug, Clone)]
pub struct Origin {
    pub channel: String,
    pub chat: String,
    pub source_key: String,
}

/// Who is acting: the permissions are always the actor's, never the model's.
#[derive(Debug, Clone)]
pub struct Actor {
    /// A person's handle, or `token:NAME` for an API token.
    pub name: String,
    pub role: Role,
    pub person_id: Option<i64>,
    /// `api`, `telegram`, `cli`…: recorded in the audit log.
    pub channel: String,
    /// Zone for reading dates such as "tomorrow" or `2030-01-15`.
    pub timezone: Tz,
}

impl Actor {
    pub fn person(person: &Person, channel: &str, default_tz: Tz) -> Self {
        Self {
            name: person.handle.clone(),
            role: person.role,
            person_id: Some(person.id),
            channel: channel.to_owned(),
            timezone: person.timezone.parse().unwrap_or(default_tz),
        }
    }

    /// The service itself (start-up, CLI administration).
    pub fn system(channel: &str) -> Self {
        Self {
            name: "system".into(),
            role: Role::Admin,
            person_id: None,
            channel: channel.to_owned(),
            timezone: Tz::UTC,
        }
    }

    pub fn audit(&self) -> AuditEntry {
        AuditEntry {
            actor: self.name.clone(),
            channel: self.channel.clone(),
        }
    }

    fn require(&self, allowed: bool, what: &str) -> Result<(), WorkspaceError> {
        if allowed {
            Ok(())
        } else {
            Err(WorkspaceError::Forbidden(format!(
                "{} ({}) may not {what}",
                self.name, self.role
            )))
        }
    }

    /// The one role check for "only admins may `what`".
    pub fn require_admin(&self, what: &str) -> Result<(), WorkspaceError> {
        self.require(self.is_admin(), what)
    }

    /// The one role check for "guests may not `what`" (members and admins may).
    pub fn require_member(&self, what: &str) -> Result<(), WorkspaceError> {
        self.require(self.can_write(), what)
    }

    fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    fn can_write(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Member)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("the database is unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl WorkspaceError {
    /// Maps a store error, naming the missing thing for `NotFound`.
    fn from_store(e: StoreError, missing: impl FnOnce() -> String) -> Self {
        match e {
            StoreError::NotFound => WorkspaceError::NotFound(missing()),
            other => other.into(),
        }
    }
}

impl From<StoreError> for WorkspaceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => WorkspaceError::NotFound("not found".into()),
            StoreError::Conflict(m) => WorkspaceError::Conflict(m),
            StoreError::Unavailable(m) => WorkspaceError::Unavailable(m),
            StoreError::Other(m) => WorkspaceError::Internal(m),
        }
    }
}

pub type WsResult<T> = Result<T, WorkspaceError>;

/// A page of results and the number of all matches.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// Paging as the API takes it; `limit` is 1–500 (default 50).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl Paging {
    pub const MAX_LIMIT: i64 = 500;

    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Self, ValidationError> {
        let limit = limit.unwrap_or(50);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(ValidationError::new(
                "limit",
                format!("must be between 1 and {}", Self::MAX_LIMIT),
            ));
        }
        let offset = offset.unwrap_or(0);
        if offset < 0 {
            return Err(ValidationError::new("offset", "must not be negative"));
        }
        Ok(Self { limit, offset })
    }
}

impl Default for Paging {
    fn default() -> Self {
        Self { limit: 50, offset: 0 }
    }
}

/// The workspace: cheap to clone, shared by the API, the conversation and the tools.
#[derive(Clone)]
pub struct Workspace {
    store: Store,
    default_tz: Tz,
    bootstrap_token: Option<Secret>,
    listeners: changes::Listeners,
    /// Where files on tasks are kept (`None`: they are not).
    files: Option<std::sync::Arc<files::FileSettings>>,
    /// When each API token's use was last written down.
    token_uses: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<i64, std::time::Instant>>>,
}

impl Workspace {
    pub fn new(store: Store, default_tz: Tz, bootstrap_token: Option<Secret>) -> Self {
        Self {
            store,
            default_tz,
            bootstrap_token,
            listeners: changes::Listeners::default(),
            files: None,
            token_uses: Default::default(),
        }
    }

    /// Whether the database answers (for `/health`).
    pub async fn ping(&self) -> WsResult<()> {
        Ok(self.store.ping().await?)
    }

    pub fn default_timezone(&self) -> Tz {
        self.default_tz
    }
}
