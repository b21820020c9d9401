//! An S3-compatible bucket (`FILES_S3_*`) for the bytes of files on tasks. rusty-s3 signs each
//! request (SigV4 in the query string, valid for a few minutes); the crate's own reqwest client
//! sends it. Failures the service can wait out (network, 5xx, 429, `SlowDown`) are
//! `StoreError::Unavailable`, so the inbox tries the message again; the rest name S3's error
//! code. Credentials never appear in errors or logs (the signed URL is dropped from them).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rusty_s3::actions::{DeleteObject, GetObject, PutObject};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use super::{StoreError, StoreResult};

/// How long a signed request stays valid: long enough for a slow upload to start.
const SIGNED_FOR: Duration = Duration::from_secs(300);

/// A bucket and the credentials for it.
#[derive(Clone)]
pub struct S3Blobs {
    bucket: Arc<Bucket>,
    credentials: Arc<Credentials>,
    client: reqwest::Client,
}

impl fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Blobs")
            .field("bucket", &self.bucket.name())
            .field("base_url", &self.bucket.base_url().as_str())
            .field("credentials", &"[redacted]")
            .finish()
    }
}

/// How to reach a bucket.
#[derive(Debug, Clone)]
pub struct S3Location<'a> {
    /// The S3 API base, e.g. `https://s3.eu-central-1.amazonaws.com` or `http://127.0.0.1:9000`.
    pub endpoint: &'a str,
    /// `https://endpoint/bucket/key` (MinIO and most self-hosted servers) instead of
    /// `https://bucket.endpoint/key`.
    pub path_style: bool,
    pub bucket: &'a str,
    pub region: &'a str,
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
}

impl S3Blobs {
    /// A client for the bucket at `location`; `Err` says what is wrong with it.
    pub fn new(location: &S3Location<'_>) -> Result<Self, String> {
        let endpoint = location
            .endpoint
            .parse()
            .map_err(|e| format!("'{}' is not a URL ({e})", location.endpoint))?;
        let style = if location.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            endpoint,
            style,
            location.bucket.to_owned(),
            location.region.to_owned(),
        )
        .map_err(|e| format!("cannot use bucket '{}' there: {e}", location.bucket))?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            bucket: Arc::new(bucket),
            credentials: Arc::new(Credentials::new(
                location.access_key_id,
                location.secret_access_key,
            )),
            client,
        })
    }

    /// The object key of a task's file.
    pub fn key(task_id: i64, sha256: &str) -> String {
        format!("tasks/{task_id}/{sha256}")
    }

    pub(super) async fn put(&self, key: &str, bytes: &[u8]) -> StoreResult<()> {
        let url = PutObject::new(&self.bucket, Some(&self.credentials), key).sign(SIGNED_FOR);
        let response = self
            .client
            .put(url)
            .body(bytes.to_vec())
            .send()
            .await
            .map_err(network)?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(refused(response, "store", key).await)
    }

    pub(super) async fn get(&self, key: &str) -> StoreResult<Vec<u8>> {
        let url = GetObject::new(&self.bucket, Some(&self.credentials), key).sign(SIGNED_FOR);
        let response = self.client.get(url).send().await.map_err(network)?;
        if !response.status().is_success() {
            return Err(refused(response, "read", key).await);
        }
        let bytes = response.bytes().await.map_err(network)?;
        Ok(bytes.to_vec())
    }

    /// Deletes `key`; one already gone is no error.
    pub(super) async fn delete(&self, key: &str) -> StoreResult<()> {
        let url = DeleteObject::new(&self.bucket, Some(&self.credentials), key).sign(SIGNED_FOR);
        let response = self.client.delete(url).send().await.map_err(network)?;
        if response.status().is_success() || response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(refused(response, "delete", key).await)
    }
}

fn network(e: reqwest::Error) -> StoreError {
    StoreError::Unavailable(format!("S3 bucket unreachable: {}", e.without_url()))
}

/// The error of a refused request, with S3's `<Code>` when its body has one.
async fn refused(response: reqwest::Response, what: &str, key: &str) -> StoreError {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map_or("", |(code, _)| code);
    let message = format!("S3 could not {what} {key}: {status} {code}");
    if status.is_server_error() || status.as_u16() == 429 || code == "SlowDown" {
        StoreError::Unavailable(message)
    } else {
        StoreError::Other(message)
    }
}
