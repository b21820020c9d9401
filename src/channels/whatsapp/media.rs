//! WhatsApp media in (voice notes): `GET {WHATSAPP_API_URL}/{media-id}` answers the media's
//! short-lived download URL with its MIME type and size, then a `GET` of that URL with the same
//! bearer token gives the bytes. The declared size is checked before downloading, the download
//! is cut off at the limit all the same.

use serde::Deserialize;

use super::graph;
use crate::config::Secret;
use crate::message::{Attachment, SendError};
use crate::message::{Media, MediaError, MediaSource};

/// Fetches media by id from the Graph API.
pub struct WhatsAppMedia {
    pub(super) client: reqwest::Client,
    /// `WHATSAPP_API_URL`.
    pub(super) api_url: String,
    pub(super) phone_number_id: Option<String>,
    pub(super) token: Secret,
}

/// What `GET /{media-id}` answers.
#[derive(Debug, Deserialize)]
struct MediaUrl {
    url: String,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    file_size: Option<u64>,
}

/// A refused call, as the outbox would read it.
fn media_error(failure: graph::Failure) -> MediaError {
    match graph::classify(failure) {
        SendError::RetryAfter(wait) => MediaError::Transient(format!("rate limited for {wait:?}")),
        SendError::Transient(e) => MediaError::Transient(e),
        SendError::Permanent(e) => MediaError::Permanent(e),
    }
}

fn network(e: reqwest::Error) -> MediaError {
    MediaError::Transient(e.without_url().to_string())
}

#[async_trait::async_trait]
impl MediaSource for WhatsAppMedia {
    #[tracing::instrument(skip_all, fields(channel = "whatsapp"))]
    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Media, MediaError> {
        let id = &attachment.platform_id;
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(MediaError::Permanent(format!(
                "'{id}' is not a WhatsApp media id"
            )));
        }
        let mut request = self
            .client
            .get(format!("{}/{id}", self.api_url))
            .bearer_auth(self.token.expose());
        if let Some(phone) = &self.phone_number_id {
            request = request.query(&[("phone_number_id", phone)]);
        }
        let response = request.send().await.map_err(network)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(network)?;
        if !(200..300).contains(&status) {
            return Err(media_error(graph::failure(status, None, &text)));
        }
        let found: MediaUrl = serde_json::from_str(&text)
            .map_err(|e| MediaError::Transient(format!("unreadable answer from the Graph API: {e}")))?;
        if let Some(size) = found.file_size.filter(|size| *size > max_bytes) {
            return Err(MediaError::TooLarge(size));
        }
        let response = self
            .client
            .get(&found.url)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(network)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let body = response.text().await.unwrap_or_default();
            return Err(media_error(graph::failure(status, None, &body)));
        }
        let header_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max_bytes {
                return Err(MediaError::TooLarge(bytes.len() as u64));
            }
        }
        Ok(Media {
            bytes,
            mime_type: found.mime_type.or(header_type),
            file_name: None,
        })
    }
}
