//! Mail that is not read: too large to fetch, or failing every time it is tried. Both are kept
//! in the inbox, visible in the history and never acted on, so that the reader can move its
//! watermark past them and one message never stops intake.
//!
//! - Too large: the reader learns a message's size (`RFC822.SIZE`) and its header before
//!   fetching it; over `EMAIL_MAX_MESSAGE_BYTES` the body is never fetched, and the message is
//!   recorded as refused with its sender, subject and size.
//! - Failing: each failure (a timeout, an error, a panic while handling it) is counted per
//!   mailbox and UID; at `EMAIL_MAX_FAILURES` it is recorded as a dead letter with the last
//!   error. Its payload is a summary, not an event: retrying the dead letter cannot make the
//!   conversation act on an unchecked sender (it is refused as unreadable).

use mail_parser::MessageParser;
use serde_json::json;

use crate::store::{NewEmailRecord, Store, StoreError};

/// What a message's header says, read without its body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub message_id: Option<String>,
    /// The sender's address, lowercased.
    pub from: Option<String>,
    pub subject: Option<String>,
}

impl Envelope {
    /// Reads `Message-ID`, `From` and `Subject` from a raw header (encoded words decoded).
    pub fn from_header(header: &[u8]) -> Self {
        let Some(message) = MessageParser::default().parse_headers(header) else {
            return Self::default();
        };
        Self {
            message_id: message
                .message_id()
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
            from: message
                .from()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(|a| a.trim().to_lowercase()),
            subject: message.subject().map(str::to_owned),
        }
    }
}

/// Where in which mailbox a message sits.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The watermark's key (account and mailbox).
    pub mailbox: &'a str,
    pub uid_validity: u32,
    pub uid: u32,
}

impl Place<'_> {
    /// The inbox event id of a message that has no Message-ID.
    fn event_id(&self) -> String {
        format!("imap:{}:{}:{}", self.mailbox, self.uid_validity, self.uid)
    }
}

/// Megabytes, for people.
fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

fn summary(place: Place<'_>, envelope: &Envelope, size: Option<u64>) -> String {
    json!({
        "text": envelope.subject.clone().unwrap_or_default(),
        "from": envelope.from,
        "subject": envelope.subject,
        "size": size,
        "mailbox": place.mailbox,
        "uid_validity": place.uid_validity,
        "uid": place.uid,
    })
    .to_string()
}

/// Records a message over `limit` bytes as refused: in the email records (status `too_large`)
/// and in the inbox, so that the history shows who sent what and why it was not read.
pub async fn refuse_too_large(
    store: &Store,
    place: Place<'_>,
    envelope: &Envelope,
    size: u64,
    limit: u64,
) -> Result<(), StoreError> {
    let reason = format!(
        "too large to read: {} (the limit is {}, EMAIL_MAX_MESSAGE_BYTES)",
        megabytes(size),
        megabytes(limit)
    );
    tracing::warn!(uid = place.uid, size, from = ?envelope.from, "email too large, not read");
    metrics::counter!("email_too_large_total").increment(1);
    let id = envelope.message_id.clone().unwrap_or_else(|| place.event_id());
    let from = envelope.from.as_deref().unwrap_or("");
    store
        .record_email(&NewEmailRecord {
            message_id: &id,
            direction: "in",
            address: from,
            subject: envelope.subject.as_deref(),
            status: "too_large",
            note: Some(&reason),
            ..NewEmailRecord::default()
        })
        .await?;
    store
        .refuse_inbox("email", &id, from, &summary(place, envelope, Some(size)), &reason)
        .await?;
    Ok(())
}

/// Records a message that failed `failures` times as a dead letter with `error`.
pub async fn give_up(
    store: &Store,
    place: Place<'_>,
    envelope: &Envelope,
    size: Option<u64>,
    failures: i32,
    error: &str,
) -> Result<(), StoreError> {
    let error = format!("could not be read ({failures} tries): {error}");
    tracing::error!(uid = place.uid, from = ?envelope.from, %error, "email dead-lettered");
    metrics::counter!("inbox_dead_letters_total").increment(1);
    let id = envelope.message_id.clone().unwrap_or_else(|| place.event_id());
    store
        .dead_inbox(
            "email",
            &id,
            envelope.from.as_deref().unwrap_or(""),
            &summary(place, envelope, size),
            &error,
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Envelope;

    #[test]
    fn the_envelope_is_read_from_the_header_alone() {
        let header = b"From: =?utf-8?q?Ann_M=C3=BCller?= <Ann@Example.com>\r\n\
            Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and a big file\r\nMessage-ID: <big-1@example.com>\r\n\r\n";
        let e = Envelope::from_header(header);
        assert_eq!(e.from.as_deref(), Some("ann@example.com"));
        assert_eq!(e.subject.as_deref(), Some("Grüße and a big file"));
        assert_eq!(e.message_id.as_deref(), Some("big-1@example.com"));
        assert_eq!(Envelope::from_header(b"\r\n"), Envelope::default());
    }
}
