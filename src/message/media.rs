//! The download side of a platform: [`MediaSource`] fetches an attachment's bytes (a voice
//! note to transcribe), each platform's adapter implements it.

use futures::{Stream, StreamExt};

use super::Attachment;

/// The audio of a voice note, fetched from its platform.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub bytes: Vec<u8>,
    /// As the platform reports it, if it does.
    pub mime_type: Option<String>,
    /// The platform's file name or path, if any (`voice/file_1.oga`).
    pub file_name: Option<String>,
}

/// Why a download failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MediaError {
    /// The file is larger than allowed (its size, as far as known).
    #[error("the file is larger than allowed ({0} bytes)")]
    TooLarge(u64),
    /// Worth trying again later: 5xx, timeouts, connection errors.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Retrying cannot help: the file is gone, the id is unknown, the token was refused.
    #[error("{0}")]
    Permanent(String),
}

/// Fetches the audio of an attachment on one platform.
#[async_trait::async_trait]
pub trait MediaSource: Send + Sync {
    /// Downloads `attachment`, giving up with [`MediaError::TooLarge`] beyond `max_bytes`.
    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Media, MediaError>;
}

/// Why [`collect_capped`] stopped.
#[derive(Debug)]
pub enum Capped<E> {
    /// More than allowed arrived (this much so far).
    TooLarge(u64),
    Failed(E),
}

/// Collects a download, stopping as soon as it passes `max_bytes`.
pub async fn collect_capped<S, B, E>(mut stream: S, max_bytes: u64) -> Result<Vec<u8>, Capped<E>>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Capped::Failed)?;
        bytes.extend_from_slice(chunk.as_ref());
        if bytes.len() as u64 > max_bytes {
            return Err(Capped::TooLarge(bytes.len() as u64));
        }
    }
    Ok(bytes)
}
