//! Where files on tasks are kept: the data folder by default, or an S3-compatible bucket when
//! `FILES_S3_BUCKET` is set (with its endpoint, region, key pair and URL style).

use super::catalog::{Group, Setting};
use super::values::Reader;
use super::{ConfigError, Secret};

pub(super) const GROUPS: &[Group] = &[Group {
    title: "File storage (S3-compatible, instead of the data folder)",
    settings: &[
        Setting::off(
            "FILES_S3_BUCKET",
            "keeps files on tasks in this bucket instead of COORDINATOR_DATA_DIR/files",
        ),
        Setting::off(
            "FILES_S3_ENDPOINT",
            "the S3 API base, e.g. http://127.0.0.1:9000 (MinIO); unset: AWS in FILES_S3_REGION",
        ),
        Setting::default_to("FILES_S3_REGION", "us-east-1", "the bucket's region"),
        Setting::off("FILES_S3_ACCESS_KEY_ID", "the access key id"),
        Setting::off("FILES_S3_SECRET_ACCESS_KEY", "the secret access key"),
        Setting::default_to(
            "FILES_S3_PATH_STYLE",
            "false",
            "true: ENDPOINT/BUCKET/KEY URLs (MinIO, most self-hosted servers); false: BUCKET.ENDPOINT/KEY",
        ),
    ],
}];

/// An S3-compatible bucket for files on tasks.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// Without a trailing `/`.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub path_style: bool,
}

/// The bucket, when one is configured; a key pair without a bucket (or the reverse) is an error.
pub(super) fn read(r: &Reader<'_>) -> Result<Option<S3Settings>, ConfigError> {
    let key_id = r.secret("FILES_S3_ACCESS_KEY_ID");
    let secret = r.secret("FILES_S3_SECRET_ACCESS_KEY");
    let region = r.value("FILES_S3_REGION");
    let path_style = r.flag("FILES_S3_PATH_STYLE")?;
    let endpoint = match r.get("FILES_S3_ENDPOINT") {
        Some(_) => Some(r.url("FILES_S3_ENDPOINT")?),
        None => None,
    };
    let Some(bucket) = r.get("FILES_S3_BUCKET") else {
        if key_id.is_some() || secret.is_some() || endpoint.is_some() {
            return Err(ConfigError::new(
                "FILES_S3_BUCKET",
                "is needed with the other FILES_S3_ settings: the bucket files are kept in",
            ));
        }
        return Ok(None);
    };
    let (Some(access_key_id), Some(secret_access_key)) = (key_id, secret) else {
        return Err(ConfigError::new(
            "FILES_S3_ACCESS_KEY_ID",
            "FILES_S3_ACCESS_KEY_ID and FILES_S3_SECRET_ACCESS_KEY are both needed with FILES_S3_BUCKET",
        ));
    };
    let endpoint = endpoint.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
    Ok(Some(S3Settings {
        bucket,
        endpoint,
        region,
        access_key_id,
        secret_access_key,
        path_style,
    }))
}
