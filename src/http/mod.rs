//! What every HTTP surface of ours shares, below the REST API: the JSON error shape and its
//! extractors ([`error`]), and the one path of a signed webhook ([`webhook`]: verify → parse →
//! store → answer), used by the channel and integration webhooks so that none of them imports
//! the API.

pub mod error;
pub mod webhook;

pub use error::{ApiError, ApiResult, ErrorBody, ErrorDetail, Json, Path, Query};
pub use webhook::{SignedWebhook, WebhookError};
