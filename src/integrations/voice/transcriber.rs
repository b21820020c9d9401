//! The transcription client: OpenAI's `POST /audio/transcriptions` (multipart: `file`, `model`,
//! `response_format=json`) on async-openai, at `OPENAI_BASE_URL` with `OPENAI_API_KEY`, so any
//! compatible server works (a local Whisper server, a proxy). The answer is read from its JSON
//! (`text`, and the duration when the server reports one) rather than into async-openai's
//! types, which insist on fields other servers leave out. async-openai's own types stay here.

use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::audio::{AudioInput, AudioResponseFormat, CreateTranscriptionRequest};
use async_openai::Client;
use serde::Deserialize;

use super::formats::AudioFormat;

/// A whole transcription (with async-openai's own quick retries of 429 and 5xx) must come
/// within this; longer counts as a temporary failure.
const TIMEOUT: Duration = Duration::from_secs(120);

/// What the audio said.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub text: String,
    /// The audio's length, when the server says (`usage.seconds` of whisper models,
    /// `duration` of `verbose_json`).
    pub duration_seconds: Option<f64>,
}

/// Why a transcription failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TranscribeError {
    /// Worth trying again later: 5xx, 408, 429, timeouts, connection errors.
    #[error("the transcription service is unavailable: {0}")]
    Unavailable(String),
    /// The service refused this audio (400, 413, 415, 422): trying again cannot help.
    #[error("the transcription service could not read the audio: {0}")]
    Rejected(String),
    /// The service refused us (401, 403, an unknown model…): the operator must act.
    #[error("the transcription service refused the request: {0}")]
    Misconfigured(String),
}

pub struct Transcriber {
    client: Client<OpenAIConfig>,
    model: String,
}

#[derive(Deserialize)]
struct Answer {
    text: String,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    seconds: Option<f64>,
}

impl Transcriber {
    pub fn new(base_url: &str, api_key: &str, model: &str) -> Self {
        crate::llm::ensure_tls_provider();
        let config = OpenAIConfig::new()
            .with_api_base(base_url.to_owned())
            .with_api_key(api_key.to_owned());
        Self {
            client: Client::with_config(config),
            model: model.to_owned(),
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Transcribes `bytes` of audio in `format`.
    #[tracing::instrument(skip_all, fields(model = %self.model, bytes = bytes.len()))]
    pub async fn transcribe(
        &self,
        bytes: Vec<u8>,
        format: AudioFormat,
    ) -> Result<Transcript, TranscribeError> {
        let request = CreateTranscriptionRequest {
            file: AudioInput::from_vec_u8(format!("voice.{}", format.extension()), bytes),
            model: self.model.clone(),
            response_format: Some(AudioResponseFormat::Json),
            ..CreateTranscriptionRequest::default()
        };
        let started = std::time::Instant::now();
        let audio = self.client.audio();
        let transcriptions = audio.transcription();
        let result = match tokio::time::timeout(TIMEOUT, transcriptions.create_raw(request)).await {
            Err(_) => Err(TranscribeError::Unavailable(format!(
                "no answer within {TIMEOUT:?}"
            ))),
            Ok(Err(e)) => Err(classify(e)),
            Ok(Ok(body)) => read(&body),
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(TranscribeError::Unavailable(_)) => "unavailable",
            Err(_) => "refused",
        };
        metrics::counter!("voice_transcriptions_total", "outcome" => outcome).increment(1);
        metrics::histogram!("voice_transcription_seconds").record(started.elapsed().as_secs_f64());
        result
    }
}

fn read(body: &[u8]) -> Result<Transcript, TranscribeError> {
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        TranscribeError::Unavailable(format!("unreadable answer from the transcription service: {e}"))
    })?;
    let from_usage = answer
        .usage
        .filter(|u| u.kind.as_deref() == Some("duration"))
        .and_then(|u| u.seconds);
    Ok(Transcript {
        text: answer.text.trim().to_owned(),
        duration_seconds: answer
            .duration
            .or(from_usage)
            .filter(|d| d.is_finite() && *d >= 0.0),
    })
}

fn classify(e: OpenAIError) -> TranscribeError {
    match e {
        OpenAIError::ApiError(api) => {
            let text = api.to_string();
            match api.status_code.as_u16() {
                408 | 429 | 500..=599 => TranscribeError::Unavailable(text),
                400 | 413 | 415 | 422 => TranscribeError::Rejected(api.api_error.message),
                _ => TranscribeError::Misconfigured(text),
            }
        }
        OpenAIError::JSONDeserialize(e, _) => TranscribeError::Unavailable(e.to_string()),
        OpenAIError::InvalidArgument(e) => TranscribeError::Misconfigured(e),
        other => TranscribeError::Unavailable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::read;

    #[test]
    fn answers_are_read_with_or_without_usage() {
        let t = read(br#"{"text": " hello ", "usage": {"type": "duration", "seconds": 3}}"#).unwrap();
        assert_eq!((t.text.as_str(), t.duration_seconds), ("hello", Some(3.0)));
        let t = read(br#"{"text": "hi", "usage": {"type": "tokens", "input_tokens": 5}}"#).unwrap();
        assert_eq!(t.duration_seconds, None);
        let t = read(br#"{"text": "hi", "duration": 7.5}"#).unwrap();
        assert_eq!(t.duration_seconds, Some(7.5));
        assert!(read(b"not json").is_err());
    }
}
