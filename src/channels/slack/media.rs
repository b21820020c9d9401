//! Slack files in (audio shared in a message, Slack's audio clips): `files.info` gives the
//! file's private download URL, MIME type and size; a `GET` of that URL with the bot token gives
//! the bytes (scope `files:read`). The token is sent only to Slack's own hosts (or the host of
//! `SLACK_API_URL`). The declared size is checked first; the download is cut off at the limit
//! all the same.

use std::sync::Arc;

use serde::Deserialize;

use super::api::{retry_after, WebApi};
use crate::message::{Attachment, Media, MediaError, MediaSource};

/// Fetches shared files through the Web API.
pub struct SlackMedia {
    pub(super) api: Arc<WebApi>,
    /// `SLACK_API_URL`, without a trailing `/`.
    pub(super) api_url: String,
}

#[derive(Debug, Deserialize)]
struct FileInfo {
    #[serde(default)]
    url_private_download: Option<String>,
    #[serde(default)]
    url_private: Option<String>,
    #[serde(default)]
    mimetype: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    size: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct FilesInfo {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    file: Option<FileInfo>,
}

fn network(e: reqwest::Error) -> MediaError {
    MediaError::Transient(e.without_url().to_string())
}

fn status_error(status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap) -> MediaError {
    if status.as_u16() == 429 {
        MediaError::Transient(format!("rate limited for {:?}", retry_after(headers)))
    } else if status.is_server_error() {
        MediaError::Transient(format!("HTTP {status}"))
    } else {
        MediaError::Permanent(format!("Slack answered HTTP {status}"))
    }
}

impl SlackMedia {
    /// Whether the bot token may go to `url`: https on a Slack host, or the API's own host.
    fn trusted(&self, url: &reqwest::Url) -> bool {
        let host = url.host_str().unwrap_or_default();
        let slack = url.scheme() == "https" && (host == "slack.com" || host.ends_with(".slack.com"));
        slack || Some(host.to_owned()) == self.api.api_host()
    }
}

#[async_trait::async_trait]
impl MediaSource for SlackMedia {
    #[tracing::instrument(skip_all, fields(channel = "slack"))]
    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Media, MediaError> {
        let id = &attachment.platform_id;
        if !super::address::is_slack_id(id) {
            return Err(MediaError::Permanent(format!("'{id}' is not a Slack file id")));
        }
        let token = self.api.bot_token().expose();
        let response = self
            .api
            .client()
            .get(format!("{}/files.info", self.api_url))
            .query(&[("file", id.as_str())])
            .bearer_auth(token)
            .send()
            .await
            .map_err(network)?;
        if !response.status().is_success() {
            return Err(status_error(response.status(), response.headers()));
        }
        let info: FilesInfo = response.json().await.map_err(|e| {
            MediaError::Transient(format!("unreadable files.info answer: {}", e.without_url()))
        })?;
        let file = match (info.ok, info.file) {
            (true, Some(file)) => file,
            _ => {
                return Err(MediaError::Permanent(format!(
                    "files.info refused: {}",
                    info.error.unwrap_or_else(|| "no file".into())
                )))
            }
        };
        if let Some(size) = file.size.filter(|size| *size > max_bytes) {
            return Err(MediaError::TooLarge(size));
        }
        let url = file
            .url_private_download
            .or(file.url_private)
            .ok_or_else(|| MediaError::Permanent("the file has no download URL".into()))?;
        let url = reqwest::Url::parse(&url)
            .map_err(|_| MediaError::Permanent("the file's URL is not a URL".into()))?;
        if !self.trusted(&url) {
            return Err(MediaError::Permanent(
                "the file's URL is not on a Slack host; the token is not sent there".into(),
            ));
        }
        let mut response = self
            .api
            .client()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(network)?;
        if !response.status().is_success() {
            return Err(status_error(response.status(), response.headers()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max_bytes {
                return Err(MediaError::TooLarge(bytes.len() as u64));
            }
        }
        Ok(Media {
            bytes,
            mime_type: file.mimetype.or(attachment.mime_type.clone()),
            file_name: file.name,
        })
    }
}
