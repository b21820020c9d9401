//! The Slack Web API client: one `reqwest::Client` (with timeouts) against `SLACK_API_URL`,
//! `POST {base}/{method}` with a JSON body and `Authorization: Bearer` (the bot token, or the
//! app-level token for `apps.connections.open`), and Slack's answers read as Slack writes them:
//! HTTP 200 with `{"ok": false, "error": "channel_not_found"}` for a refusal, HTTP 429 with
//! `Retry-After` (seconds) when a method's rate-limit tier is spent. A 429 is remembered per
//! bucket (the method, and for `chat.postMessage` the channel, as Slack counts them), so that
//! the next call to a spent bucket waits locally instead of earning another 429: the outbox
//! turns that into a delay. Retries are the outbox's.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::config::Secret;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// Slack asked us to wait (429), or the bucket is known to be spent until then.
    RateLimited(Duration),
    /// `ok: false`, with Slack's error code (`channel_not_found`, `invalid_auth`…).
    Slack(String),
    /// An HTTP error status without a readable Slack answer.
    Status(u16),
    /// No answer: connection refused, timeout, unreadable body.
    Network(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::RateLimited(wait) => write!(f, "rate limited for {wait:?}"),
            ApiError::Slack(code) => write!(f, "Slack refused: {code}"),
            ApiError::Status(status) => write!(f, "HTTP {status}"),
            ApiError::Network(e) => write!(f, "no answer: {e}"),
        }
    }
}

impl ApiError {
    /// Whether trying again later can help.
    pub fn transient(&self) -> bool {
        match self {
            ApiError::RateLimited(_) | ApiError::Network(_) => true,
            ApiError::Status(status) => *status >= 500 || *status == 408,
            ApiError::Slack(code) => matches!(
                code.as_str(),
                "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" | "ratelimited"
            ),
        }
    }
}

/// The longest wait taken from a header, so that a wrong value cannot park a message for days.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// A Slack Web API client.
pub struct WebApi {
    client: reqwest::Client,
    base: String,
    bot_token: Secret,
    /// Bucket → not before.
    blocked: Mutex<HashMap<String, Instant>>,
}

impl WebApi {
    pub fn new(api_url: &str, bot_token: Secret) -> Result<Self, String> {
        let url = reqwest::Url::parse(api_url).map_err(|e| format!("SLACK_API_URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("SLACK_API_URL: must be an http(s) URL".into());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            base: api_url.trim_end_matches('/').to_owned(),
            bot_token,
            blocked: Mutex::new(HashMap::new()),
        })
    }

    /// The host of `SLACK_API_URL` (file downloads send the bot token only to Slack's hosts).
    pub fn api_host(&self) -> Option<String> {
        reqwest::Url::parse(&self.base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
    }

    pub(super) fn bot_token(&self) -> &Secret {
        &self.bot_token
    }

    pub(super) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn wait_for(&self, bucket: &str) -> Option<Duration> {
        let now = Instant::now();
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        blocked
            .get(bucket)
            .filter(|until| **until > now)
            .map(|until| *until - now)
    }

    fn block(&self, bucket: &str, wait: Duration) {
        let now = Instant::now();
        let until = now + wait.min(MAX_WAIT);
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        blocked.retain(|_, at| *at > now);
        let entry = blocked.entry(bucket.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Calls `method` as the bot; `bucket` names its rate-limit bucket (the method, or
    /// `chat.postMessage:CHANNEL`). The answer is the JSON of an `ok: true` reply.
    pub async fn call(&self, method: &str, bucket: &str, body: &Value) -> Result<Value, ApiError> {
        self.call_with(&self.bot_token, method, bucket, body).await
    }

    /// Calls `method` with `token` (the app-level token opens Socket Mode connections).
    pub async fn call_with(
        &self,
        token: &Secret,
        method: &str,
        bucket: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        if let Some(wait) = self.wait_for(bucket) {
            return Err(ApiError::RateLimited(wait));
        }
        let response = self
            .client
            .post(format!("{}/{method}", self.base))
            .bearer_auth(token.expose())
            .json(body)
            .send()
            .await
            .map_err(|e| ApiError::Network(e.without_url().to_string()))?;
        let (status, json) = read(response, bucket, self).await?;
        if !status.is_success() {
            return Err(match json.get("error").and_then(Value::as_str) {
                Some(code) => ApiError::Slack(code.to_owned()),
                None => ApiError::Status(status.as_u16()),
            });
        }
        if json.get("ok").and_then(Value::as_bool) == Some(true) {
            Ok(json)
        } else {
            Err(ApiError::Slack(
                json.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown_error")
                    .to_owned(),
            ))
        }
    }

    /// Posts `body` to a `response_url` (no token: the URL is the credential). Slack answers
    /// `ok` (text or JSON) or an error such as `expired_url`, `used_url`.
    pub async fn respond(&self, url: &str, body: &Value) -> Result<(), ApiError> {
        let bucket = "response_url";
        if let Some(wait) = self.wait_for(bucket) {
            return Err(ApiError::RateLimited(wait));
        }
        // reqwest's errors name the URL, which is a credential here.
        let response = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| ApiError::Network(e.without_url().to_string()))?;
        let (status, json) = read(response, bucket, self).await?;
        if status.is_success() && json.get("ok").and_then(Value::as_bool) != Some(false) {
            return Ok(());
        }
        Err(match json.get("error").and_then(Value::as_str) {
            Some(code) => ApiError::Slack(code.to_owned()),
            None => ApiError::Status(status.as_u16()),
        })
    }
}

/// The status and the JSON of an answer (`{"ok": true}` for a bare `ok`, an error object for
/// other text); a 429 blocks `bucket` and becomes `RateLimited`.
async fn read(
    response: reqwest::Response,
    bucket: &str,
    api: &WebApi,
) -> Result<(StatusCode, Value), ApiError> {
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        let wait = retry_after(response.headers());
        api.block(bucket, wait);
        return Err(ApiError::RateLimited(wait));
    }
    let text = response
        .text()
        .await
        .map_err(|e| ApiError::Network(e.without_url().to_string()))?;
    let json = match serde_json::from_str::<Value>(&text) {
        Ok(json) => json,
        Err(_) if text.trim() == "ok" => serde_json::json!({"ok": true}),
        Err(_) if status.is_success() => return Err(ApiError::Network("the answer is not JSON".into())),
        Err(_) => serde_json::json!({"ok": false, "error": text.trim()}),
    };
    Ok((status, json))
}

/// A 429's wait: `Retry-After` in seconds, one second when absent or unreadable.
pub(super) fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(1), |s| {
            Duration::from_secs_f64(s.min(MAX_WAIT.as_secs_f64()))
        })
        .max(Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn retry_after_reads_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), Duration::from_secs(1));
        headers.insert("retry-after", HeaderValue::from_static("30"));
        assert_eq!(retry_after(&headers), Duration::from_secs(30));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), Duration::from_secs(1));
    }

    #[test]
    fn a_spent_bucket_waits_locally() {
        let api = WebApi::new("http://127.0.0.1:9/api", Secret::new("xoxb-1")).unwrap();
        api.block("chat.postMessage:C1", Duration::from_secs(5));
        assert!(api.wait_for("chat.postMessage:C1").is_some());
        assert!(api.wait_for("chat.postMessage:C2").is_none());
    }

    #[test]
    fn refusals_are_sorted() {
        assert!(ApiError::Slack("internal_error".into()).transient());
        assert!(!ApiError::Slack("channel_not_found".into()).transient());
        assert!(ApiError::Status(503).transient());
        assert!(!ApiError::Status(404).transient());
    }
}
