//! Discord media in: a message's `attachments[]` carry a signed CDN `url` (with `filename`,
//! `content_type`, `size`), fetched with a plain `GET` (no bot token: the signature in the URL is
//! the credential). Only Discord's own hosts are fetched from (and the host of
//! `DISCORD_API_URL`, for self-hosted gateways and tests): the URL comes from a message, and the
//! service must not be made to fetch anything else. The declared size is checked before, and the
//! download is cut off at the limit all the same.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use super::interaction::InteractionData;
use crate::message::{Attachment, Media, MediaError, MediaSource};

/// Hosts Discord serves attachments from.
const DISCORD_HOSTS: &[&str] = &["cdn.discordapp.com", "media.discordapp.net"];

/// What an interaction resolved for its options: the files uploaded with a slash command.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Resolved {
    #[serde(default)]
    attachments: HashMap<String, ResolvedAttachment>,
}

/// An attachment object, as Discord sends it in `resolved.attachments` and `attachments[]`.
#[derive(Debug, Clone, Deserialize)]
struct ResolvedAttachment {
    filename: String,
    url: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    size: Option<u64>,
}

/// The files of a slash command's attachment options (`/attach id:42 file:…`), in the order of
/// its options.
pub(super) fn command_files(data: &InteractionData) -> Vec<Attachment> {
    let Some(resolved) = &data.resolved else {
        return Vec::new();
    };
    data.options
        .iter()
        .filter_map(|o| o.value.as_str())
        .filter_map(|id| resolved.attachments.get(id))
        .map(|a| {
            let kind = match a.content_type.as_deref() {
                Some(m) if m.starts_with("audio/") => "audio",
                Some(m) if m.starts_with("image/") => "photo",
                _ => "document",
            };
            Attachment {
                kind: kind.to_owned(),
                platform_id: a.url.clone(),
                mime_type: a.content_type.clone(),
                size: a.size,
                duration_secs: None,
                file_name: Some(a.filename.clone()),
            }
        })
        .collect()
}

/// Fetches Discord attachments from their CDN URLs.
pub struct DiscordMedia {
    client: reqwest::Client,
    /// The host of `DISCORD_API_URL` (and its port), also trusted to serve attachments.
    api_host: Option<(String, Option<u16>)>,
}

impl DiscordMedia {
    /// Fetches from Discord's CDN and from the host of `api_url`.
    pub fn new(api_url: &str) -> Result<Self, String> {
        let api_host = reqwest::Url::parse(api_url)
            .ok()
            .and_then(|u| Some((u.host_str()?.to_owned(), u.port())));
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client, api_host })
    }

    /// Whether `url` is one of Discord's (or `DISCORD_API_URL`'s host).
    fn trusted(&self, url: &reqwest::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let discord = url.scheme() == "https" && DISCORD_HOSTS.contains(&host);
        let api = self
            .api_host
            .as_ref()
            .is_some_and(|(h, port)| h == host && *port == url.port());
        matches!(url.scheme(), "https" | "http") && (discord || api)
    }
}

fn network(e: reqwest::Error) -> MediaError {
    MediaError::Transient(e.without_url().to_string())
}

#[async_trait::async_trait]
impl MediaSource for DiscordMedia {
    #[tracing::instrument(skip_all, fields(channel = "discord"))]
    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Media, MediaError> {
        let url = reqwest::Url::parse(&attachment.platform_id)
            .ok()
            .filter(|u| self.trusted(u))
            .ok_or_else(|| MediaError::Permanent("not a Discord attachment URL".into()))?;
        if let Some(size) = attachment.size.filter(|size| *size > max_bytes) {
            return Err(MediaError::TooLarge(size));
        }
        let response = self.client.get(url).send().await.map_err(network)?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(MediaError::Transient(format!("Discord's CDN answered {status}")));
        }
        if !status.is_success() {
            // An expired or unknown link: Discord's CDN answers 403 or 404.
            return Err(MediaError::Permanent(format!(
                "Discord's CDN answered {status}; the link may have expired"
            )));
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
            mime_type: attachment.mime_type.clone().or(header_type),
            file_name: attachment.file_name.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_discord_and_its_api_host_are_fetched_from() {
        let media = DiscordMedia::new("http://127.0.0.1:4000/api/v10").unwrap();
        let trusted = |u: &str| media.trusted(&reqwest::Url::parse(u).unwrap());
        assert!(trusted(
            "https://cdn.discordapp.com/attachments/1/2/brief.pdf?ex=1&hm=2"
        ));
        assert!(trusted("https://media.discordapp.net/attachments/1/2/a.png"));
        assert!(trusted("http://127.0.0.1:4000/attachments/1/2/a.png"));
        assert!(!trusted("http://cdn.discordapp.com/attachments/1/2/a.png"));
        assert!(!trusted("http://127.0.0.1:4001/attachments/1/2/a.png"));
        assert!(!trusted("https://cdn.discordapp.com.evil.example/a.png"));
        assert!(!trusted("file:///etc/passwd"));
    }
}
