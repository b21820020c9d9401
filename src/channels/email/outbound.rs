//! Sending over SMTP (lettre). A reply (`reply_to` set) threads under the message it answers:
//! `In-Reply-To`, `References` (the parent's chain plus the parent) and `Re:` subject. Every
//! message gets a Message-ID we make and record, with the task as a token when the message is
//! about one, and a plus-address Reply-To (`bot+t42@domain`), so that replies find their task.
//! Bodies are multipart/alternative: plain text and HTML. SMTP 4xx → Transient, 5xx → Permanent.

use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::domain;
use crate::domain::EmailAddress;
use crate::message::{OutboundMessage, RateLimits, SendError, Transport};
use crate::store::{EmailRecord, NewEmailRecord, Store};

/// Subjects of new threads are cut to this many characters.
const SUBJECT_CHARS: usize = 70;

/// The SMTP side of email.
pub struct EmailOut {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    bot: EmailAddress,
    store: Store,
}

impl EmailOut {
    /// `url`: `smtp://[user:pass@]host[:port]` (plain; `?tls=required` for STARTTLS) or
    /// `smtps://…` (TLS from the start).
    pub fn new(url: &str, bot: EmailAddress, store: Store) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP_URL: {e}"))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Self {
            transport,
            bot,
            store,
        })
    }

    fn mailbox(&self, address: String) -> Result<Mailbox, SendError> {
        let address = address
            .parse()
            .map_err(|e| SendError::Permanent(format!("bad bot address: {e}")))?;
        Ok(Mailbox::new(self.bot.name.clone(), address))
    }

    /// Builds the message for `out`.
    async fn compose(&self, out: &OutboundMessage) -> Result<Composed, SendError> {
        let to: Mailbox = out
            .chat_id
            .parse()
            .map_err(|e| SendError::Permanent(format!("'{}' is not an email address: {e}", out.chat_id)))?;
        let parent: Option<EmailRecord> = match &out.reply_to {
            Some(id) => self
                .store
                .email_message(id)
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?,
            None => None,
        };
        let task = parent
            .as_ref()
            .and_then(|p| p.task_id)
            .or_else(|| {
                out.reply_to
                    .as_deref()
                    .and_then(|id| self.bot.task_in_message_id(id))
            })
            .or_else(|| task_in_message(out));
        let message_id = super::new_message_id(&self.bot, task);
        let subject: String = match (&parent, task) {
            (Some(p), _) => reply_subject(p.subject.as_deref().unwrap_or("")),
            (None, task) => new_subject(&out.text, task),
        };
        let mut builder = lettre::Message::builder()
            .from(self.mailbox(self.bot.address())?)
            .to(to)
            .subject(subject.clone())
            .message_id(Some(format!("<{message_id}>")))
            .header(AutoSubmitted(if out.reply_to.is_some() {
                "auto-replied"
            } else {
                "auto-generated"
            }));
        if let Some(task) = task {
            builder = builder.reply_to(self.mailbox(self.bot.task_address(task))?);
        }
        let mut chain = Vec::new();
        if let Some(parent_id) = &out.reply_to {
            chain = match &parent {
                Some(p) => p.reply_references(),
                None => vec![parent_id.clone()],
            };
            let references = chain
                .iter()
                .map(|id| format!("<{id}>"))
                .collect::<Vec<_>>()
                .join(" ");
            builder = builder
                .in_reply_to(format!("<{parent_id}>"))
                .references(references);
        }
        let plain = plain_body(out);
        let html = html_body(&plain);
        let body = with_files(MultiPart::alternative_plain_html(plain, html), out)?;
        let message = builder
            .multipart(body)
            .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))?;
        Ok(Composed {
            message_id,
            task,
            subject,
            references: chain,
            message,
        })
    }
}

/// The body, with the message's files (`/task 42 files`) as attachments after it
/// (multipart/mixed) when it has any.
fn with_files(body: MultiPart, out: &OutboundMessage) -> Result<MultiPart, SendError> {
    if out.attachments.is_empty() {
        return Ok(body);
    }
    let mut mixed = MultiPart::mixed().multipart(body);
    for file in &out.attachments {
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &file.bytes_base64)
            .map_err(|e| SendError::Permanent(format!("file {} is not base64: {e}", file.name)))?;
        let content_type = ContentType::parse(&file.mime_type)
            .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("a valid type"));
        mixed = mixed.singlepart(Attachment::new(file.name.clone()).body(bytes, content_type));
    }
    Ok(mixed)
}

/// A message ready to send, with what is recorded about it.
struct Composed {
    message_id: String,
    task: Option<i64>,
    subject: String,
    references: Vec<String>,
    message: lettre::Message,
}

#[async_trait::async_trait]
impl Transport for EmailOut {
    fn kind(&self) -> domain::Channel {
        domain::Channel::Email
    }

    fn rate_limits(&self) -> RateLimits {
        RateLimits {
            per_chat_per_second: std::num::NonZeroU32::MIN,
            global_per_second: std::num::NonZeroU32::new(5).unwrap_or(std::num::NonZeroU32::MIN),
        }
    }

    #[tracing::instrument(skip_all, fields(channel = "email"))]
    async fn send(&self, message: &OutboundMessage) -> Result<Option<String>, SendError> {
        // Mail has no buttons to acknowledge.
        if message.answers_button.is_some() {
            return Ok(None);
        }
        let Composed {
            message_id,
            task,
            subject,
            references,
            message: email,
        } = self.compose(message).await?;
        self.transport.send(email).await.map_err(classify)?;
        let record = NewEmailRecord {
            message_id: &message_id,
            direction: "out",
            address: &message.chat_id.to_lowercase(),
            subject: Some(&subject),
            refs: &references,
            task_id: task,
            status: "sent",
            note: None,
        };
        // Sent is sent: a reply still finds its task through the token in the Message-ID.
        if let Err(e) = self.store.record_email(&record).await {
            tracing::warn!(error = %e, "could not record a sent email");
        }
        Ok(Some(message_id))
    }
}

/// RFC 3834: marks our mail as written by a machine, so that other machines do not answer it.
#[derive(Debug, Clone)]
struct AutoSubmitted(&'static str);

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(if s.trim() == "auto-replied" {
            "auto-replied"
        } else {
            "auto-generated"
        }))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_owned())
    }
}

/// SMTP 4xx (and connection trouble) are worth retrying; 5xx and unbuildable messages are not.
fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(e.to_string())
    } else if e.is_transient() || e.is_timeout() || e.status().is_none() {
        SendError::Transient(e.to_string())
    } else {
        SendError::Permanent(e.to_string())
    }
}

/// The task a message is about: its first `done:42`-style button, else a `#42` in the text.
fn task_in_message(out: &OutboundMessage) -> Option<i64> {
    let from_button = out
        .buttons
        .iter()
        .find_map(|b| b.data.split_once(':').and_then(|(_, id)| id.parse().ok()));
    from_button.or_else(|| {
        out.text.split('#').skip(1).find_map(|after| {
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
    })
}

fn reply_subject(subject: &str) -> String {
    let subject = subject.trim();
    if subject.len() >= 3 && subject[..3].eq_ignore_ascii_case("re:") {
        subject.to_owned()
    } else if subject.is_empty() {
        "Re: your message".to_owned()
    } else {
        format!("Re: {subject}")
    }
}

fn new_subject(text: &str, task: Option<i64>) -> String {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let mut subject: String = first.chars().take(SUBJECT_CHARS).collect();
    if first.chars().count() > SUBJECT_CHARS {
        subject.push('…');
    }
    match task {
        Some(id) if !subject.contains(&format!("#{id}")) => format!("[#{id}] {subject}"),
        _ if subject.is_empty() => "A message from the coordinator".to_owned(),
        _ => subject,
    }
}

/// The text, and the buttons as commands to write on a reply's first line.
fn plain_body(out: &OutboundMessage) -> String {
    let mut body = out.text.trim_end().to_owned();
    let commands: Vec<String> = out
        .buttons
        .iter()
        .filter_map(|b| match b.data.split_once(':') {
            Some(("done", id)) => Some(format!("/done {id} ({})", b.label)),
            _ => None,
        })
        .collect();
    if !commands.is_empty() {
        body.push_str("\n\nReply with one of these as the first line:\n");
        body.push_str(&commands.join("\n"));
    }
    body.push('\n');
    body
}

fn html_body(plain: &str) -> String {
    let escaped = plain
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let paragraphs: Vec<String> = escaped
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", p.trim().replace('\n', "<br>\n")))
        .collect();
    format!(
        "<!DOCTYPE html><html><body style=\"font-family: sans-serif\">\n{}\n</body></html>\n",
        paragraphs.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Button;

    #[test]
    fn subjects_and_task_references() {
        assert_eq!(reply_subject("Task"), "Re: Task");
        assert_eq!(reply_subject("RE: Task"), "RE: Task");
        assert_eq!(
            new_subject("Overdue: #42 Ship it\nmore", Some(42)),
            "Overdue: #42 Ship it"
        );
        assert_eq!(new_subject("Ship it", Some(42)), "[#42] Ship it");
        let mut out = OutboundMessage::text(domain::Channel::Email, "a@b.org", "Task #42 is overdue");
        assert_eq!(task_in_message(&out), Some(42));
        out.buttons.push(Button {
            label: "Mark done".into(),
            data: "done:7".into(),
        });
        assert_eq!(task_in_message(&out), Some(7));
        assert!(plain_body(&out).contains("/done 7 (Mark done)"));
        assert!(html_body("a < b\n\nc").contains("<p>a &lt; b</p>"));
    }
}
