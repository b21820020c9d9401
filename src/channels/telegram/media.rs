//! Telegram media in (voice notes and audio): `getFile` gives the file's path and size, then
//! `GET {TELEGRAM_API_URL}/file/bot<token>/<file_path>` gives the bytes (teloxide's download).
//! The size is checked before downloading and the download is cut off at the limit all the same.
//! The Bot API serves files of up to 20 MB.

use teloxide::net::Download;
use teloxide::prelude::Requester;
use teloxide::types::FileId;
use teloxide::{ApiError, Bot, RequestError};

use crate::message::Attachment;
use crate::message::{collect_capped, Capped, Media, MediaError, MediaSource};

/// Fetches files through the Bot API.
pub struct TelegramMedia {
    pub(super) bot: Bot,
}

fn get_file_error(error: RequestError) -> MediaError {
    match error {
        RequestError::Api(ApiError::Unknown(description)) if description.contains("too big") => {
            MediaError::TooLarge(20 * 1024 * 1024 + 1)
        }
        RequestError::Api(ApiError::Unknown(description)) => MediaError::Transient(description),
        RequestError::Api(other) => MediaError::Permanent(other.to_string()),
        RequestError::RetryAfter(wait) => {
            MediaError::Transient(format!("rate limited for {:?}", wait.duration()))
        }
        other => MediaError::Transient(other.to_string()),
    }
}

fn download_error(error: reqwest::Error) -> MediaError {
    match error.status() {
        Some(status) if status.is_client_error() && status.as_u16() != 429 => MediaError::Permanent(format!(
            "the file could not be downloaded (HTTP {})",
            status.as_u16()
        )),
        _ => MediaError::Transient(error.without_url().to_string()),
    }
}

#[async_trait::async_trait]
impl MediaSource for TelegramMedia {
    #[tracing::instrument(skip_all, fields(channel = "telegram"))]
    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Media, MediaError> {
        let file = self
            .bot
            .get_file(FileId(attachment.platform_id.clone()))
            .await
            .map_err(get_file_error)?;
        // Telegram leaves the size out at times; teloxide reads that as u32::MAX.
        if file.size != u32::MAX && u64::from(file.size) > max_bytes {
            return Err(MediaError::TooLarge(file.size.into()));
        }
        let stream = self.bot.download_file_stream(&file.path);
        let bytes = collect_capped(Box::pin(stream), max_bytes)
            .await
            .map_err(|e| match e {
                Capped::TooLarge(size) => MediaError::TooLarge(size),
                Capped::Failed(e) => download_error(e),
            })?;
        Ok(Media {
            bytes,
            mime_type: attachment.mime_type.clone(),
            file_name: Some(file.path),
        })
    }
}
