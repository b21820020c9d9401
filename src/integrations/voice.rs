//! Voice notes. A voice note or audio file that reaches the inbox (Telegram `voice`/`audio`,
//! WhatsApp `audio`, an audio attachment of an email) is fetched from its platform (each
//! channel's [`MediaSource`]), checked against the limits (`VOICE_MAX_BYTES`,
//! `VOICE_MAX_SECONDS`, the platform's declared size and duration first), transcribed through
//! the OpenAI-compatible `/audio/transcriptions` endpoint, and then goes on through the
//! conversation as if the transcript had been typed; the answer starts with the transcript, so
//! the sender sees what was heard. All of it runs in the inbox worker, never in a webhook:
//! temporary failures of the download or the transcription are retried by the inbox, and the
//! transcript is kept on the event so a retry does not pay for it twice. Everything else
//! (too long, too large, a format the endpoint does not take, no transcription configured) is
//! answered politely. `POST /integrations/voice/transcribe` uses the same [`Transcriber`].

mod formats;
mod transcriber;

pub use formats::{AudioFormat, SUPPORTED};
pub use transcriber::{TranscribeError, Transcriber, Transcript};

use std::collections::HashMap;
use std::sync::Arc;

use crate::domain;
use crate::domain::size_text;
use crate::message::{Attachment, ChatKind, InboundEvent, MediaError, MediaSource, OutboundMessage};
use crate::store::{Store, StoreError};

/// How much of a transcript the echo line shows.
const ECHO_MAX_CHARS: usize = 600;

pub const NOT_CONFIGURED: &str = "I can't listen to voice messages here: transcription is not set up on \
this server (it needs OPENAI_API_KEY). Please type your message instead.";
const UNLINKED: &str = "I only transcribe voice messages from people I know. Ask an admin for a link \
code, then send /link CODE here.";
const GAVE_UP: &str = "I could not transcribe that voice message: the transcription service did not \
answer after several tries. Please send it again later, or type it.";
const NOTHING_HEARD: &str = "I could not make out any words in that voice message.";

/// Why a voice note could not be handled now: the inbox tries the event again later.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    /// The download or the transcription failed for now.
    #[error("voice note: {0}")]
    Temporary(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The limits of `VOICE_MAX_BYTES` and `VOICE_MAX_SECONDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_seconds: u32,
}

impl Limits {
    pub fn too_large(&self, size: u64) -> String {
        format!(
            "That voice message is too large ({}); I can transcribe up to {}. Please send a shorter one, or type it.",
            size_text(size),
            size_text(self.max_bytes)
        )
    }

    pub fn too_long(&self, seconds: u64) -> String {
        format!(
            "That voice message is too long ({}); I can transcribe up to {}. Please send a shorter one, or type it.",
            minutes(seconds),
            minutes(self.max_seconds.into())
        )
    }
}

fn minutes(seconds: u64) -> String {
    format!("{}:{:02} min", seconds / 60, seconds % 60)
}

pub fn unsupported(what: &str) -> String {
    format!("I can't transcribe {what}: please send a voice note or audio as {SUPPORTED}.")
}

/// What becomes of an inbound event.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    /// No voice to hear (or none meant for the bot): the event goes on as it is.
    Unchanged,
    /// Read the message as `text`; show `transcript` back.
    Heard { text: String, transcript: String },
    /// Answer this and do nothing else.
    Answer(String),
}

/// Voice notes in the inbox.
pub struct Voice {
    store: Store,
    transcriber: Option<Arc<Transcriber>>,
    limits: Limits,
    /// Unlinked chat identities may use everything (`COORDINATOR_OPEN_CHAT`).
    open_chat: bool,
    sources: HashMap<domain::Channel, Arc<dyn MediaSource>>,
}

impl Voice {
    pub fn new(store: Store, transcriber: Option<Arc<Transcriber>>, limits: Limits, open_chat: bool) -> Self {
        Self {
            store,
            transcriber,
            limits,
            open_chat,
            sources: HashMap::new(),
        }
    }

    pub fn add_source(&mut self, channel: domain::Channel, source: Arc<dyn MediaSource>) {
        self.sources.insert(channel, source);
    }

    /// Where files of `channel` are fetched from (also for files on tasks).
    pub fn source(&self, channel: domain::Channel) -> Option<Arc<dyn MediaSource>> {
        self.sources.get(&channel).cloned()
    }

    /// The transcription client, when `OPENAI_API_KEY` is set.
    pub fn transcriber(&self) -> Option<&Transcriber> {
        self.transcriber.as_deref()
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Turns a voice note into text. `Err`: a temporary failure, for the inbox to retry (on the
    /// `final_attempt` the sender is told instead). `inbox_id` keeps the transcript.
    #[tracing::instrument(skip_all, fields(channel = %event.channel, chat = %event.chat_id))]
    pub async fn prepare(
        &self,
        event: &InboundEvent,
        inbox_id: i64,
        final_attempt: bool,
    ) -> Result<Prepared, VoiceError> {
        let Some(audio) = voice_attachment(event) else {
            return Ok(Prepared::Unchanged);
        };
        if event.chat_kind == ChatKind::Group && !event.mentions_bot {
            return Ok(Prepared::Unchanged);
        }
        let kept = self.store.inbox_text(inbox_id).await?;
        if let Some(transcript) = kept.filter(|t| !t.trim().is_empty()) {
            return Ok(heard(&event.text, transcript));
        }
        let Some(transcriber) = &self.transcriber else {
            return Ok(Prepared::Answer(NOT_CONFIGURED.into()));
        };
        if !self.open_chat
            && event.channel != domain::Channel::Email
            && self
                .store
                .person_by_identity(event.channel, &event.sender.external_id)
                .await?
                .is_none()
        {
            return Ok(Prepared::Answer(UNLINKED.into()));
        }
        if let Some(answer) = self.declared_limits(audio) {
            return Ok(Prepared::Answer(answer));
        }
        let Some(source) = self.sources.get(&event.channel) else {
            return Ok(Prepared::Answer(format!(
                "I can't fetch voice messages from {} here.",
                event.channel
            )));
        };
        let media = match source.fetch(audio, self.limits.max_bytes).await {
            Ok(media) if media.bytes.len() as u64 > self.limits.max_bytes => {
                return Ok(Prepared::Answer(self.limits.too_large(media.bytes.len() as u64)))
            }
            Ok(media) => media,
            Err(MediaError::TooLarge(size)) => return Ok(Prepared::Answer(self.limits.too_large(size))),
            Err(MediaError::Transient(e)) if !final_attempt => {
                return Err(VoiceError::Temporary(format!("the download failed: {e}")))
            }
            Err(MediaError::Transient(e)) => {
                tracing::warn!(error = %e, "voice download failed for good");
                return Ok(Prepared::Answer(GAVE_UP.into()));
            }
            Err(MediaError::Permanent(e)) => {
                tracing::warn!(error = %e, "voice download refused");
                return Ok(Prepared::Answer(format!(
                    "I could not download that voice message ({e}). Please send it again."
                )));
            }
        };
        let mime = media.mime_type.as_deref().or(audio.mime_type.as_deref());
        let format = match AudioFormat::detect(mime, media.file_name.as_deref()) {
            Ok(format) => format,
            Err(seen) => return Ok(Prepared::Answer(unsupported(&seen))),
        };
        let transcript = match transcriber.transcribe(media.bytes, format).await {
            Ok(transcript) => transcript,
            Err(TranscribeError::Unavailable(e)) if !final_attempt => {
                return Err(VoiceError::Temporary(format!("the transcription failed: {e}")))
            }
            Err(TranscribeError::Unavailable(e)) => {
                tracing::warn!(error = %e, "transcription failed for good");
                return Ok(Prepared::Answer(GAVE_UP.into()));
            }
            Err(TranscribeError::Rejected(e)) => {
                return Ok(Prepared::Answer(format!(
                    "I could not transcribe that voice message: {e}"
                )))
            }
            Err(e @ TranscribeError::Misconfigured(_)) => {
                tracing::error!(error = %e, "transcription is misconfigured");
                return Ok(Prepared::Answer(
                    "I can't transcribe voice messages right now: the transcription service refused this \
                     server. An admin has to check its settings. Please type your message instead."
                        .into(),
                ));
            }
        };
        if let Some(seconds) = transcript.duration_seconds {
            if seconds > f64::from(self.limits.max_seconds) {
                return Ok(Prepared::Answer(self.limits.too_long(seconds.round() as u64)));
            }
        }
        let text = transcript.text.replace('\0', "");
        if text.trim().is_empty() {
            return Ok(Prepared::Answer(NOTHING_HEARD.into()));
        }
        self.store.set_inbox_text(inbox_id, &text).await?;
        metrics::counter!("voice_notes_total", "channel" => event.channel.as_str()).increment(1);
        Ok(heard(&event.text, text))
    }

    /// The refusal that the platform's declared duration, size or type already calls for.
    fn declared_limits(&self, audio: &Attachment) -> Option<String> {
        if let Some(seconds) = audio.duration_secs {
            if seconds > self.limits.max_seconds {
                return Some(self.limits.too_long(seconds.into()));
            }
        }
        // Telegram reports u32::MAX when it does not know the size.
        if let Some(size) = audio.size.filter(|s| *s != u64::from(u32::MAX)) {
            if size > self.limits.max_bytes {
                return Some(self.limits.too_large(size));
            }
        }
        match audio.mime_type.as_deref() {
            Some(mime) if !AudioFormat::is_generic(mime) && AudioFormat::from_mime(mime).is_none() => {
                Some(unsupported(mime.trim()))
            }
            _ => None,
        }
    }
}

/// The first voice note or audio attachment of `event`.
pub fn voice_attachment(event: &InboundEvent) -> Option<&Attachment> {
    if event.button.is_some() {
        return None;
    }
    event
        .attachments
        .iter()
        .find(|a| matches!(a.kind.as_str(), "voice" | "audio"))
}

/// The message as text: a caption (or an email's `/comment 42`) followed by the transcript.
fn heard(caption: &str, transcript: String) -> Prepared {
    let caption = caption.trim();
    let text = if caption.is_empty() {
        transcript.clone()
    } else if caption.starts_with('/') {
        format!("{caption} {transcript}")
    } else {
        format!("{caption}\n\n{transcript}")
    };
    Prepared::Heard { text, transcript }
}

/// Shows the sender what was heard: the first answer starts with `🎙 "…"`.
pub fn echo(replies: &mut [OutboundMessage], transcript: &str) {
    let Some(first) = replies.iter_mut().find(|r| r.answers_button.is_none()) else {
        return;
    };
    let shown: String = if transcript.chars().count() > ECHO_MAX_CHARS {
        let mut cut: String = transcript.chars().take(ECHO_MAX_CHARS - 1).collect();
        cut.push('…');
        cut
    } else {
        transcript.to_owned()
    };
    first.text = format!("🎙 \"{shown}\"\n\n{}", first.text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_like_people_talk() {
        let limits = Limits {
            max_bytes: 20 * 1024 * 1024,
            max_seconds: 300,
        };
        assert!(limits.too_long(450).contains("7:30 min") && limits.too_long(450).contains("5:00 min"));
        assert!(limits.too_large(30 * 1024 * 1024).contains("30.0 MB"));
    }

    #[test]
    fn captions_and_commands_come_before_the_transcript() {
        let text = |caption: &str| match heard(caption, "ship it".into()) {
            Prepared::Heard { text, .. } => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(text(""), "ship it");
        assert_eq!(text("/comment 4"), "/comment 4 ship it");
        assert_eq!(text("note"), "note\n\nship it");
    }

    #[test]
    fn the_echo_goes_on_the_first_answer() {
        let mut replies = vec![OutboundMessage::text(
            domain::Channel::Telegram,
            "1",
            "Created #1",
        )];
        echo(&mut replies, "make a task");
        assert_eq!(replies[0].text, "🎙 \"make a task\"\n\nCreated #1");
    }
}
