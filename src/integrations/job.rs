//! What an integration job is and how it fails: its kinds, [`JobError`] (permanent, transient,
//! or "wait this long"), and the HTTP helpers that classify an outside API's answer. The job
//! runner (`jobs`) and each integration's outbound side share it; it imports neither.

use std::time::Duration;

use crate::store::StoreError;

/// The kinds of job (the `channel` column of the queue).
pub mod kinds {
    /// Status (and a note) posted back to a Zendesk ticket.
    pub const ZENDESK_TICKET_UPDATE: &str = "zendesk.ticket_update";
    /// A Zendesk webhook event to act on.
    pub const ZENDESK_WEBHOOK: &str = "zendesk.webhook";
    /// A signed webhook to the CRM about a task or project change.
    pub const CRM_OUTBOUND: &str = "crm.outbound";
    /// A CRM webhook event to apply.
    pub const CRM_WEBHOOK: &str = "crm.webhook";
}

/// Why a job did not finish.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Trying again will not help (bad request, refused credentials, unusable payload).
    #[error("{0}")]
    Permanent(String),
    /// Worth trying again later.
    #[error("{0}")]
    Transient(String),
    /// The other side asked us to wait.
    #[error("rate limited: {1}")]
    RetryAfter(Duration, String),
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        JobError::Transient(e.to_string())
    }
}

impl JobError {
    /// Classifies an HTTP error answer from an outside API.
    pub(crate) fn from_status(
        status: reqwest::StatusCode,
        retry_after: Option<Duration>,
        what: &str,
    ) -> Self {
        let message = format!("{what}: HTTP {status}");
        match status.as_u16() {
            429 => JobError::RetryAfter(retry_after.unwrap_or(Duration::from_secs(60)), message),
            408 | 409 | 425 => JobError::Transient(message),
            s if s >= 500 => JobError::Transient(message),
            _ => JobError::Permanent(message),
        }
    }
}

/// A reqwest error's text without its URL (which may carry a query).
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_decode() {
        "unreadable answer"
    } else {
        "request failed"
    };
    kind.to_owned()
}

/// `Retry-After` in seconds, when the answer has one.
pub(crate) fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(3600)))
}
