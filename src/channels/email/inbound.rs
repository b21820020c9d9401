//! Reading one raw RFC 5322 message (mail-parser): who wrote, which thread it belongs to, whether
//! a machine wrote it (auto-replies, bounces, lists: never answered, so two bots cannot loop), and
//! only the new text, with quoted history and signatures cut off. Pure: no IO.

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};

use crate::message::Attachment;

/// The most text that reaches the conversation from one message.
const MAX_TEXT_CHARS: usize = 8000;

/// A message we can use.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEmail {
    /// Without angle brackets; a content hash when the message has none.
    pub message_id: String,
    /// The sender's address, lowercased: the identity.
    pub from: String,
    pub from_name: Option<String>,
    pub subject: Option<String>,
    pub in_reply_to: Vec<String>,
    /// Oldest first.
    pub references: Vec<String>,
    /// To, Cc and Delivered-To addresses, lowercased (plus-addresses carry a task).
    pub recipients: Vec<String>,
    /// Only what the sender wrote now: no quoted history, no signature.
    pub text: String,
    /// Why a machine wrote this message (`Auto-Submitted: auto-replied`, a DSN, …).
    pub auto: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The content of the attachments: audio for transcription, documents for tasks (a
    /// mailbox cannot be asked for them again).
    pub audio: Vec<AudioPart>,
}

/// An attachment's content.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioPart {
    /// Its place in [`ParsedEmail::attachments`].
    pub attachment: usize,
    pub mime_type: String,
    pub file_name: Option<String>,
    pub bytes: Vec<u8>,
}

impl ParsedEmail {
    /// Every message this one refers to, most relevant (the direct parent) last.
    pub fn thread_ids(&self) -> Vec<String> {
        let mut ids = self.references.clone();
        for id in &self.in_reply_to {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids
    }
}

/// A message that cannot be used; it is recorded and skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    pub message_id: String,
    pub sender: Option<String>,
    pub reason: String,
}

/// The id of a message without a usable `Message-ID`: a hash of its bytes, so that the same
/// bytes delivered twice are still recognised.
pub fn content_id(raw: &[u8]) -> String {
    format!("sha256-{}@coordinator.invalid", hex::encode(Sha256::digest(raw)))
}

/// Parses `raw`; anything without a sender address or any header is malformed.
pub fn parse(raw: &[u8]) -> Result<ParsedEmail, Malformed> {
    let malformed = |reason: &str, sender: Option<String>, id: Option<String>| Malformed {
        message_id: id.unwrap_or_else(|| content_id(raw)),
        sender,
        reason: reason.to_owned(),
    };
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(malformed("empty message", None, None));
    }
    let Some(message) = MessageParser::default().parse(raw) else {
        return Err(malformed("not an RFC 5322 message", None, None));
    };
    if message.headers().is_empty() {
        return Err(malformed("no header fields", None, None));
    }
    let message_id = message
        .message_id()
        .map(str::trim)
        .filter(|id| !id.is_empty() && !id.contains(char::is_whitespace))
        .map(str::to_owned);
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .filter(|a| valid_address(a));
    let Some(from) = from else {
        return Err(malformed("no valid From address", None, message_id));
    };
    let from_name = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.name())
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let body = message.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    let mut attachments = Vec::new();
    let mut audio = Vec::new();
    for (n, part) in message.attachments().enumerate() {
        let mime_type = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("octet-stream")));
        let is_audio = mime_type
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().starts_with("audio/"));
        if let Some(mime) = &mime_type {
            audio.push(AudioPart {
                attachment: n,
                mime_type: mime.clone(),
                file_name: part.attachment_name().map(str::to_owned),
                bytes: part.contents().to_vec(),
            });
        }
        attachments.push(Attachment {
            kind: if is_audio { "audio" } else { "document" }.into(),
            platform_id: part
                .attachment_name()
                .map_or_else(|| format!("attachment-{n}"), str::to_owned),
            mime_type,
            size: Some(part.len() as u64),
            duration_secs: None,
            file_name: part.attachment_name().map(str::to_owned),
        });
    }
    let mut recipients: Vec<String> = message
        .to()
        .into_iter()
        .chain(message.cc())
        .flat_map(|list| list.iter())
        .filter_map(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .collect();
    for header in ["Delivered-To", "X-Original-To"] {
        if let Some(value) = message.header_raw(header) {
            recipients.push(value.trim().trim_matches(['<', '>']).to_lowercase());
        }
    }
    Ok(ParsedEmail {
        message_id: message_id.unwrap_or_else(|| content_id(raw)),
        from,
        from_name,
        subject: message.subject().map(|s| s.trim().to_owned()),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        recipients,
        text: new_text(&body),
        auto: auto_reason(&message),
        attachments,
        audio,
    })
}

fn valid_address(address: &str) -> bool {
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !address.contains(char::is_whitespace)
                && !domain.starts_with('.')
        }
        None => false,
    }
}

/// Message ids of `In-Reply-To` or `References`.
fn ids(value: &HeaderValue) -> Vec<String> {
    let list: Vec<String> = match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(ids) => ids.iter().map(|id| id.to_string()).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(|id| id.trim().trim_matches(['<', '>']).to_owned())
        .filter(|id| !id.is_empty())
        .collect()
}

/// Why a machine wrote `message`, if one did: RFC 3834 `Auto-Submitted`, `Precedence`,
/// `X-Autoreply`, delivery status notifications and the null return path of bounces.
fn auto_reason(message: &Message) -> Option<String> {
    let raw = |name: &str| message.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    if let Some(value) = raw("Auto-Submitted") {
        let keyword = value.split(';').next().unwrap_or("").trim().to_owned();
        if keyword != "no" {
            return Some(format!("Auto-Submitted: {keyword}"));
        }
    }
    if let Some(value) = raw("Precedence") {
        if matches!(value.as_str(), "bulk" | "junk" | "list" | "auto_reply") {
            return Some(format!("Precedence: {value}"));
        }
    }
    for header in ["X-Autoreply", "X-Autorespond", "X-Auto-Reply"] {
        if raw(header).is_some() {
            return Some(format!("{header} present"));
        }
    }
    if raw("Return-Path").is_some_and(|v| v.trim_matches([' ', '<', '>']).is_empty()) {
        return Some("null Return-Path (a bounce)".into());
    }
    let is_report = message.parts.iter().any(|part| {
        part.content_type().is_some_and(|c| {
            let (t, s) = (
                c.ctype().to_ascii_lowercase(),
                c.subtype().unwrap_or("").to_ascii_lowercase(),
            );
            (t == "multipart" && s == "report") || (t == "message" && s == "delivery-status")
        })
    });
    if is_report {
        return Some("delivery status notification".into());
    }
    let from = message.from().and_then(|a| a.first()).and_then(|a| a.address());
    if from.is_some_and(|a| {
        let local = a.split('@').next().unwrap_or("").to_ascii_lowercase();
        local == "mailer-daemon" || local == "postmaster"
    }) {
        return Some("sent by a mail system".into());
    }
    None
}

/// The new part of a reply: lines quoted with `>` are dropped; everything from an attribution
/// ("On … wrote:"), a forwarded/original-message block or the signature separator (`-- `) on is
/// cut off.
pub fn new_text(body: &str) -> String {
    let body = body.replace("\r\n", "\n");
    let lines: Vec<&str> = body.lines().collect();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let lower = trimmed.to_lowercase();
        if is_attribution(&lower) {
            // "On Mon, 1 Jan 2030, Ann <ann@example.com>\nwrote:" wraps over two lines.
            end = if i > 0
                && !lower.starts_with("on ")
                && lines[i - 1].trim().to_lowercase().starts_with("on ")
            {
                i - 1
            } else {
                i
            };
            break;
        }
        let separator = *line == "-- "
            || trimmed == "--"
            || (lower.starts_with("-----") && lower.contains("original message"))
            || (lower.starts_with("----") && lower.contains("forwarded message"))
            || (trimmed.len() >= 20 && trimmed.chars().all(|c| c == '_'))
            || lower.starts_with("sent from my ")
            || lower.starts_with("get outlook for ");
        let outlook_header = lower.starts_with("from:")
            && lines[i + 1..].iter().take(4).any(|l| {
                ["sent:", "date:"]
                    .iter()
                    .any(|p| l.trim().to_lowercase().starts_with(p))
            });
        if separator || outlook_header {
            end = i;
            break;
        }
    }
    let kept: Vec<&str> = lines[..end]
        .iter()
        .filter(|l| !l.trim_start().starts_with('>'))
        .copied()
        .collect();
    let text = kept.join("\n").trim().to_owned();
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((at, _)) => text[..at].to_owned(),
        None => text,
    }
}

fn is_attribution(lower: &str) -> bool {
    [
        "wrote:",
        "schrieb:",
        "a écrit :",
        "a écrit:",
        "escribió:",
        "ha scritto:",
    ]
    .iter()
    .any(|end| lower.ends_with(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_history_and_signature_are_cut() {
        let body = "Done, see attached.\n\nThanks\n-- \nAnn\nACME\n\nOn Mon, 1 Jan 2030 Bot <bot@x.org> wrote:\n> old";
        assert_eq!(new_text(body), "Done, see attached.\n\nThanks");
        let wrapped = "Yes\r\n\r\nOn Mon, 1 Jan 2030 at 10:00, Bot Name <bot@x.org>\r\nwrote:\r\n> hi\r\n";
        assert_eq!(new_text(wrapped), "Yes");
        let outlook = "Fine by me\n\nFrom: Bot <bot@x.org>\nSent: Monday\nTo: ann\nSubject: x\n\nold";
        assert_eq!(new_text(outlook), "Fine by me");
        assert_eq!(new_text("a\n> quoted\nb"), "a\nb");
    }

    #[test]
    fn machines_are_recognised() {
        let base = "From: Ann <ann@example.com>\r\nTo: bot@example.org\r\nMessage-ID: <a@b.c>\r\n";
        for (header, expect) in [
            ("Auto-Submitted: auto-replied\r\n", true),
            ("Auto-Submitted: no\r\n", false),
            ("Precedence: bulk\r\n", true),
            ("X-Autoreply: yes\r\n", true),
            ("Return-Path: <>\r\n", true),
            ("Return-Path: <ann@example.com>\r\n", false),
        ] {
            let raw = format!("{base}{header}Subject: hi\r\n\r\nbody\r\n");
            let parsed = parse(raw.as_bytes()).unwrap();
            assert_eq!(parsed.auto.is_some(), expect, "{header}");
        }
        let dsn = format!(
            "{base}Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\n\
             Content-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--\r\n"
        );
        assert!(parse(dsn.as_bytes()).unwrap().auto.is_some());
    }

    #[test]
    fn threading_and_encodings_are_read() {
        let raw = "From: =?UTF-8?Q?J=C3=BCrgen?= <Juergen@Example.COM>\r\nTo: bot+t42@example.org\r\n\
                   Message-ID: <r1@example.com>\r\nIn-Reply-To: <p2@example.org>\r\n\
                   References: <p1@example.org> <p2@example.org>\r\nSubject: Re: Task\r\n\
                   Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                   Gr=FC=DFe\r\n";
        let parsed = parse(raw.as_bytes()).unwrap();
        assert_eq!(parsed.from, "juergen@example.com");
        assert_eq!(parsed.from_name.as_deref(), Some("Jürgen"));
        assert_eq!(parsed.text, "Grüße");
        assert_eq!(parsed.thread_ids(), vec!["p1@example.org", "p2@example.org"]);
        assert_eq!(parsed.recipients, vec!["bot+t42@example.org"]);
    }

    #[test]
    fn unusable_messages_are_malformed() {
        assert!(parse(b"").is_err());
        assert!(parse(b"just some words\r\n").is_err());
        let no_from = parse(b"Subject: x\r\nMessage-ID: <m@x.org>\r\n\r\nbody").unwrap_err();
        assert_eq!(no_from.message_id, "m@x.org");
    }
}
