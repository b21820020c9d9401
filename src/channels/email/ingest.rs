//! One inbound message, from IMAP or the relay webhook, to the inbox: recorded by Message-ID
//! (so the same message read twice has one effect), skipped when malformed, our own, or written
//! by a machine; refused (kept, shown in the history with the reason, never acted on nor
//! answered) when its sender is not authenticated (`auth`); from an unknown sender passed on
//! only when it redeems a code (`/link CODE`, as `/invite` tells invitees to write, or the first
//! admin's `/claim CODE`), else answered once, politely, and otherwise ignored; else matched to its task (plus-address, or the thread's recorded messages and tokens) and stored
//! in the inbox as an [`InboundEvent`]. Every step is idempotent, so a crash anywhere is safe.

use chrono::Utc;

use super::auth::{SenderAuth, Verdict};
use super::inbound::{self, ParsedEmail};
use crate::domain;
use crate::domain::EmailAddress;
use crate::inbox::InboxWriter;
use crate::message::{Attachment, ChatKind, InboundEvent, OutboundMessage, Sender};
use crate::outbox::OutboxWriter;
use crate::store::{NewEmailRecord, Store, StoreError};

/// The one reply an unknown sender gets.
pub const UNKNOWN_SENDER_REPLY: &str = "Hello, this is the project coordinator's mailbox. \
I do not know your address yet, so I cannot act on your message. If an admin gave you a link \
code, send a mail with /link CODE as its first line. Otherwise, please ask an admin of your \
workspace for one, or to add this address to your profile. You will not hear from me again \
until then.";

/// Audio attachments beyond this (the transcription endpoint's own limit) are not kept; the
/// sender is told it is too large.
const MAX_KEPT_AUDIO_BYTES: usize = 25 * 1024 * 1024;

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Stored in the inbox for the conversation.
    Accepted { message_id: String },
    /// Seen before: no second effect.
    Duplicate { message_id: String },
    /// Recorded and deliberately not acted on.
    Skipped { message_id: String, note: String },
}

/// Turns raw messages into inbox events.
#[derive(Clone)]
pub struct Ingest {
    store: Store,
    inbox: InboxWriter,
    outbox: OutboxWriter,
    bot: EmailAddress,
    /// Decides whether the From address is really the sender's.
    auth: SenderAuth,
}

impl Ingest {
    pub fn new(
        store: Store,
        inbox: InboxWriter,
        outbox: OutboxWriter,
        bot: EmailAddress,
        auth: SenderAuth,
    ) -> Self {
        Self {
            store,
            inbox,
            outbox,
            bot,
            auth,
        }
    }

    /// Handles one raw RFC 5322 message. `Err` only when it could not be stored: the caller
    /// tries again later (IMAP keeps its watermark, the webhook answers 503).
    #[tracing::instrument(skip_all)]
    pub async fn ingest(&self, raw: &[u8]) -> Result<Ingested, StoreError> {
        let email = match inbound::parse(raw) {
            Ok(email) => email,
            Err(bad) => {
                tracing::warn!(message_id = %bad.message_id, reason = %bad.reason, "malformed email skipped");
                let record = NewEmailRecord {
                    message_id: &bad.message_id,
                    direction: "in",
                    address: bad.sender.as_deref().unwrap_or(""),
                    status: "malformed",
                    note: Some(&bad.reason),
                    ..NewEmailRecord::default()
                };
                self.store.record_email(&record).await?;
                return Ok(Ingested::Skipped {
                    message_id: bad.message_id,
                    note: format!("malformed: {}", bad.reason),
                });
            }
        };
        let id = email.message_id.clone();
        if self.bot.is_ours(&email.from) {
            return self.skip(&email, "own", "sent by this bot").await;
        }
        if let Some(reason) = &email.auto {
            tracing::info!(message_id = %id, %reason, "automatic email ignored");
            return self
                .skip(&email, "auto_reply", &format!("automatic: {reason}"))
                .await;
        }
        match self.auth.check(raw, &email.from).await {
            Verdict::Authenticated(how) => tracing::debug!(message_id = %id, %how, "sender authenticated"),
            Verdict::Refused(why) => return self.refuse(&email, &why).await,
        }
        // Only now may a first mail from a profile's address link it to that person.
        let known = self.store.link_email_identity(&email.from).await?;
        if !known && !redeems_a_code(&email) {
            return self.unknown_sender(&email).await;
        }
        let task = self.task_of(&email).await?;
        let mut text = conversation_text(&email.text, task);
        if text.is_empty() {
            text = subject_command(email.subject.as_deref());
        }
        let has_audio = email
            .audio
            .iter()
            .any(|part| part.mime_type.to_ascii_lowercase().starts_with("audio/"));
        let has_files = email.attachments.iter().any(|a| a.kind != "audio");
        if text.is_empty() && has_audio {
            // A voice memo in a task's thread: its transcript becomes the comment.
            text = task.map(|id| format!("/comment {id}")).unwrap_or_default();
        } else if text.is_empty() && has_files {
            // Files alone in a task's thread go on that task; elsewhere the answer asks which
            // task (a reply `/attach ID` then finds them).
            text = task.map(|id| format!("/attach {id}")).unwrap_or_default();
        } else if text.is_empty() {
            return self.skip(&email, "empty", "no new text").await;
        }
        let references = email.references.clone();
        let record = NewEmailRecord {
            message_id: &id,
            direction: "in",
            address: &email.from,
            subject: email.subject.as_deref(),
            refs: &references,
            task_id: task,
            status: "accepted",
            note: None,
        };
        self.store.record_email(&record).await?;
        let event = InboundEvent {
            attachments: self.keep_audio(&email).await?,
            ..event_of(&email, text)
        };
        if self.inbox.accept(&event).await? {
            Ok(Ingested::Accepted { message_id: id })
        } else {
            Ok(Ingested::Duplicate { message_id: id })
        }
    }

    /// Keeps the attachments for the inbox worker (audio to transcribe, documents for tasks; a
    /// mailbox cannot be asked for them again); their attachments then name what is stored.
    async fn keep_audio(&self, email: &ParsedEmail) -> Result<Vec<Attachment>, StoreError> {
        let mut attachments = email.attachments.clone();
        for part in &email.audio {
            if part.bytes.len() > MAX_KEPT_AUDIO_BYTES {
                continue;
            }
            let key = format!("email:{}:{}", email.message_id, part.attachment);
            self.store
                .store_media(
                    &key,
                    Some(&part.mime_type),
                    part.file_name.as_deref(),
                    &part.bytes,
                )
                .await?;
            if let Some(attachment) = attachments.get_mut(part.attachment) {
                attachment.platform_id = key;
            }
        }
        Ok(attachments)
    }

    async fn skip(&self, email: &ParsedEmail, status: &str, note: &str) -> Result<Ingested, StoreError> {
        let record = NewEmailRecord {
            message_id: &email.message_id,
            direction: "in",
            address: &email.from,
            subject: email.subject.as_deref(),
            refs: &email.references,
            status,
            note: Some(note),
            ..NewEmailRecord::default()
        };
        let fresh = self.store.record_email(&record).await?;
        let message_id = email.message_id.clone();
        Ok(if fresh {
            Ingested::Skipped {
                message_id,
                note: note.to_owned(),
            }
        } else {
            Ingested::Duplicate { message_id }
        })
    }

    /// Keeps a mail whose sender is not authenticated, visible in the history with `why`; it is
    /// neither acted on nor answered (an answer would go to whoever the forger named).
    async fn refuse(&self, email: &ParsedEmail, why: &str) -> Result<Ingested, StoreError> {
        tracing::warn!(message_id = %email.message_id, from = %email.from, reason = %why, "unauthenticated email refused");
        metrics::counter!("email_unauthenticated_total").increment(1);
        let note = format!("unauthenticated sender: {why}");
        let outcome = self.skip(email, "unauthenticated", &note).await?;
        let event = event_of(email, email.subject.clone().unwrap_or_default());
        let payload = serde_json::to_string(&event).map_err(|e| StoreError::Other(e.to_string()))?;
        self.store
            .refuse_inbox("email", &email.message_id, &email.from, &payload, &note)
            .await?;
        Ok(outcome)
    }

    /// One polite reply per unknown address, ever (the outbox key makes it so); nothing else.
    async fn unknown_sender(&self, email: &ParsedEmail) -> Result<Ingested, StoreError> {
        let outcome = self
            .skip(
                email,
                "unknown_sender",
                "unknown sender: answered once, not acted on",
            )
            .await?;
        let mut reply =
            OutboundMessage::text(domain::Channel::Email, email.from.clone(), UNKNOWN_SENDER_REPLY);
        reply.reply_to = Some(email.message_id.clone());
        self.outbox
            .enqueue(&reply, Some(format!("email:unknown-sender:{}", email.from)))
            .await?;
        Ok(outcome)
    }

    /// The task a message concerns: its plus-address, else the thread it answers.
    async fn task_of(&self, email: &ParsedEmail) -> Result<Option<i64>, StoreError> {
        if let Some(task) = email.recipients.iter().find_map(|r| self.bot.task_in_address(r)) {
            return Ok(Some(task));
        }
        let thread = email.thread_ids();
        if let Some(task) = self.store.email_task_of(&thread).await? {
            return Ok(Some(task));
        }
        Ok(thread.iter().rev().find_map(|id| self.bot.task_in_message_id(id)))
    }
}

/// The inbox event of `email`, reading `text`.
fn event_of(email: &ParsedEmail, text: String) -> InboundEvent {
    InboundEvent {
        channel: domain::Channel::Email,
        event_id: email.message_id.clone(),
        chat_id: email.from.clone(),
        // A mail thread is addressed to the bot by definition; `Group` makes the conversation
        // thread its answer under this exact message (`reply_to`).
        chat_kind: ChatKind::Group,
        sender: Sender {
            external_id: email.from.clone(),
            display_name: email.from_name.clone().unwrap_or_else(|| email.from.clone()),
            username: None,
        },
        text,
        mentions_bot: true,
        message_id: Some(email.message_id.clone()),
        reply_to: email.in_reply_to.last().cloned(),
        attachments: Vec::new(),
        button: None,
        received_at: Utc::now(),
    }
}

/// A subject that is a command (`/newtask Review the brief`), for a mail whose body says nothing:
/// the natural way to send a file with a command. Replies (`Re: /newtask …`) are not commands.
pub fn subject_command(subject: Option<&str>) -> String {
    match subject.map(str::trim) {
        Some(subject) if subject.starts_with('/') => subject.to_owned(),
        _ => String::new(),
    }
}

/// Whether `email` (its first line, else its subject) redeems a code: `/link CODE`, `/start
/// CODE` or `/claim CODE`, the only commands a sender nobody knows yet may give.
fn redeems_a_code(email: &ParsedEmail) -> bool {
    let mut text = conversation_text(&email.text, None);
    if text.is_empty() {
        text = subject_command(email.subject.as_deref());
    }
    let mut words = text.split_whitespace();
    let command = words.next().unwrap_or("");
    let code = words.next().unwrap_or("");
    ["/link", "/start", "/claim"]
        .iter()
        .any(|c| command.eq_ignore_ascii_case(c))
        && !code.is_empty()
        && words.next().is_none()
}

/// What the conversation gets: a command on the first line stands alone (a `/comment` keeps
/// the lines after it); free text in a task's thread becomes a comment on that task.
pub fn conversation_text(text: &str, task: Option<i64>) -> String {
    let text = text.trim();
    let (first, rest) = match text.split_once('\n') {
        Some((first, rest)) => (first.trim(), rest.trim()),
        None => (text, ""),
    };
    if first.starts_with('/') {
        let is_comment = first
            .split_whitespace()
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case("/comment"));
        if is_comment && !rest.is_empty() {
            return format!("{first}\n{rest}");
        }
        return first.to_owned();
    }
    match task {
        Some(id) if !text.is_empty() => format!("/comment {id} {text}"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{conversation_text, subject_command};

    #[test]
    fn commands_and_task_replies() {
        assert_eq!(conversation_text("/done 42\n\nthanks!", None), "/done 42");
        assert_eq!(conversation_text("/done 42\n\nthanks!", Some(7)), "/done 42");
        assert_eq!(conversation_text("/comment 42 a\nb", None), "/comment 42 a\nb");
        assert_eq!(
            conversation_text("Shipped today.", Some(42)),
            "/comment 42 Shipped today."
        );
        assert_eq!(conversation_text("What is due?", None), "What is due?");
        assert_eq!(conversation_text("  ", Some(42)), "");
        assert_eq!(subject_command(Some(" /newtask Brief ")), "/newtask Brief");
        assert_eq!(subject_command(Some("Re: /newtask Brief")), "");
        assert_eq!(subject_command(None), "");
    }
}
