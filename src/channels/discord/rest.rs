//! The Discord REST client: one `reqwest::Client` (with timeouts) against `DISCORD_API_URL`,
//! bot authentication where a route needs it, and Discord's rate limits. A 429 (its JSON
//! `retry_after`, in seconds as a float) and exhausted buckets (`X-RateLimit-Remaining: 0` with
//! `X-RateLimit-Reset-After`) are remembered per route, so that a later call to the same route
//! is refused locally with the time left instead of earning another 429: the outbox turns that
//! into a wait. It owns no retries: the outbox decides.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::config::Secret;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum RestError {
    /// Discord asked us to wait (429), or a bucket is known to be empty until then.
    RateLimited(Duration),
    /// An HTTP error answer, with Discord's JSON error code when it gave one (e.g. 10003
    /// Unknown Channel, 50027 Invalid Webhook Token).
    Status {
        status: u16,
        code: Option<i64>,
        message: String,
    },
    /// No answer: connection refused, timeout, unreadable body.
    Network(String),
    /// The route needs `DISCORD_TOKEN`, which is not set.
    NoToken,
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestError::RateLimited(wait) => write!(f, "rate limited for {wait:?}"),
            RestError::Status {
                status,
                code,
                message,
            } => match code {
                Some(code) => write!(f, "HTTP {status}: {message} (code {code})"),
                None => write!(f, "HTTP {status}: {message}"),
            },
            RestError::Network(e) => write!(f, "no answer: {e}"),
            RestError::NoToken => f.write_str(
                "DISCORD_TOKEN is not set: without the bot token only answers to slash commands and buttons can be sent",
            ),
        }
    }
}

impl RestError {
    /// Discord's JSON error code, when the answer carried one.
    pub fn code(&self) -> Option<i64> {
        match self {
            RestError::Status { code, .. } => *code,
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Whether a route is called as the bot (`Authorization: Bot …`) or through an interaction
/// webhook, which its token in the path authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Bot,
    None,
}

/// A Discord REST client.
pub struct Rest {
    client: reqwest::Client,
    base: reqwest::Url,
    token: Option<Secret>,
    /// Route key → not before. `"global"` blocks every route.
    blocked: Mutex<HashMap<String, Instant>>,
}

/// The longest wait we take from a header or body, so that a wrong value cannot park a
/// message for days.
const MAX_WAIT: Duration = Duration::from_secs(3600);

impl Rest {
    pub fn new(api_url: &str, token: Option<Secret>) -> Result<Self, String> {
        let base = reqwest::Url::parse(api_url).map_err(|e| format!("DISCORD_API_URL: {e}"))?;
        if base.cannot_be_a_base() {
            return Err("DISCORD_API_URL: must be an http(s) URL".into());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            base,
            token,
            blocked: Mutex::new(HashMap::new()),
        })
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    pub(super) fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// `scheme://host[:port]` of `DISCORD_API_URL`: what serenity puts in place of
    /// `https://discord.com`.
    pub fn origin(&self) -> String {
        self.base.origin().ascii_serialization()
    }

    /// `{DISCORD_API_URL}/seg/seg…`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> reqwest::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// How long calls on `route` must still wait, if at all.
    fn wait_for(&self, route: &str) -> Option<Duration> {
        let now = Instant::now();
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        [route, "global"]
            .iter()
            .filter_map(|key| blocked.get(*key))
            .filter(|until| **until > now)
            .map(|until| *until - now)
            .max()
    }

    fn block(&self, route: &str, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_WAIT);
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        blocked.retain(|_, at| *at > Instant::now());
        let entry = blocked.entry(route.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Calls `method` on the path `segments`; `route` names the rate-limit bucket (the route and
    /// its major parameter, e.g. `channels/123/messages`). Returns the JSON answer (`Null` for
    /// an empty one).
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        route: &str,
        auth: Auth,
        body: Option<&Value>,
    ) -> Result<Value, RestError> {
        if let Some(wait) = self.wait_for(route) {
            return Err(RestError::RateLimited(wait));
        }
        let mut request = self.client.request(method, self.url(segments));
        if auth == Auth::Bot {
            let token = self.token.as_ref().ok_or(RestError::NoToken)?;
            request = request.header("Authorization", format!("Bot {}", token.expose()));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.finish(request, route).await
    }

    /// Like [`Self::call`] with a message `payload` and files: Discord's multipart form
    /// (`payload_json`, then `files[n]`, named in `payload.attachments`).
    pub async fn call_with_files(
        &self,
        method: Method,
        segments: &[&str],
        route: &str,
        auth: Auth,
        payload: &Value,
        files: Vec<(String, String, Vec<u8>)>,
    ) -> Result<Value, RestError> {
        if let Some(wait) = self.wait_for(route) {
            return Err(RestError::RateLimited(wait));
        }
        let mut request = self.client.request(method, self.url(segments));
        if auth == Auth::Bot {
            let token = self.token.as_ref().ok_or(RestError::NoToken)?;
            request = request.header("Authorization", format!("Bot {}", token.expose()));
        }
        let json = reqwest::multipart::Part::text(payload.to_string())
            .mime_str("application/json")
            .map_err(|e| RestError::Network(e.to_string()))?;
        let mut form = reqwest::multipart::Form::new().part("payload_json", json);
        for (n, (name, mime, bytes)) in files.into_iter().enumerate() {
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(name)
                .mime_str(&mime)
                .map_err(|e| RestError::Network(e.to_string()))?;
            form = form.part(format!("files[{n}]"), part);
        }
        self.finish(request.multipart(form), route).await
    }

    /// Sends `request` and reads Discord's answer (rate limits included).
    async fn finish(&self, request: reqwest::RequestBuilder, route: &str) -> Result<Value, RestError> {
        // reqwest's errors name the URL, and an interaction webhook's URL holds its token.
        let response = request
            .send()
            .await
            .map_err(|e| RestError::Network(e.without_url().to_string()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| RestError::Network(e.without_url().to_string()))?;
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            let (wait, global) = retry_after(&headers, &json);
            self.block(if global { "global" } else { route }, wait);
            return Err(RestError::RateLimited(wait));
        }
        if let Some(wait) = bucket_empty_for(&headers) {
            self.block(route, wait);
        }
        if status.is_success() {
            if json.is_null() && !text.trim().is_empty() {
                return Err(RestError::Network("the answer is not JSON".into()));
            }
            return Ok(json);
        }
        Err(RestError::Status {
            status: status.as_u16(),
            code: json.get("code").and_then(Value::as_i64),
            message: json
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("error"))
                .to_owned(),
        })
    }
}

fn header_secs(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
}

fn secs(value: f64) -> Duration {
    Duration::from_secs_f64(value.clamp(0.0, MAX_WAIT.as_secs_f64()))
}

/// A 429's wait and whether it is global: the JSON `retry_after` (seconds, a float), else the
/// `Retry-After` or `X-RateLimit-Reset-After` header; at least 100 ms, one second when absent.
pub(super) fn retry_after(headers: &HeaderMap, body: &Value) -> (Duration, bool) {
    let wait = body
        .get("retry_after")
        .and_then(Value::as_f64)
        .or_else(|| header_secs(headers, "retry-after"))
        .or_else(|| header_secs(headers, "x-ratelimit-reset-after"))
        .map_or(Duration::from_secs(1), secs)
        .max(Duration::from_millis(100));
    let global = body.get("global").and_then(Value::as_bool).unwrap_or(false)
        || headers
            .get("x-ratelimit-global")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
        || headers
            .get("x-ratelimit-scope")
            .is_some_and(|v| v.as_bytes() == b"global");
    (wait, global)
}

/// When a bucket has no request left (`X-RateLimit-Remaining: 0`), how long until it refills.
pub(super) fn bucket_empty_for(headers: &HeaderMap) -> Option<Duration> {
    let remaining = header_secs(headers, "x-ratelimit-remaining")?;
    if remaining > 0.0 {
        return None;
    }
    header_secs(headers, "x-ratelimit-reset-after").map(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn retry_after_prefers_the_json_float() {
        let body = serde_json::json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false});
        let (wait, global) = retry_after(&headers(&[("retry-after", "2")]), &body);
        assert_eq!(wait, Duration::from_millis(1500));
        assert!(!global);
        let (wait, global) = retry_after(
            &headers(&[("retry-after", "3"), ("x-ratelimit-global", "true")]),
            &Value::Null,
        );
        assert_eq!(wait, Duration::from_secs(3));
        assert!(global);
    }

    #[test]
    fn empty_buckets_are_seen() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset-after", "0.25"),
        ]);
        assert_eq!(bucket_empty_for(&h), Some(Duration::from_millis(250)));
        let h = headers(&[
            ("x-ratelimit-remaining", "4"),
            ("x-ratelimit-reset-after", "0.25"),
        ]);
        assert_eq!(bucket_empty_for(&h), None);
    }

    #[test]
    fn urls_encode_each_segment() {
        let rest = Rest::new("http://127.0.0.1:9/api/v10", None).unwrap();
        let url = rest.url(&["webhooks", "1", "a/b c", "messages", "@original"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/api/v10/webhooks/1/a%2Fb%20c/messages/@original"
        );
        let rest = Rest::new("http://127.0.0.1:9/api/v10/", None).unwrap();
        assert_eq!(
            rest.url(&["channels", "5"]).as_str(),
            "http://127.0.0.1:9/api/v10/channels/5"
        );
    }

    #[tokio::test]
    async fn network_errors_do_not_name_the_url() {
        // Nothing listens on port 9 (discard): the connection is refused.
        let rest = Rest::new("http://127.0.0.1:9/api/v10", None).unwrap();
        let error = rest
            .call(
                Method::POST,
                &["webhooks", "1", "secret-token"],
                "webhooks/1/2",
                Auth::None,
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(error, RestError::Network(_)), "{error:?}");
        let text = error.to_string();
        assert!(
            !text.contains("secret-token") && !text.contains("127.0.0.1"),
            "{text}"
        );
    }

    #[test]
    fn a_blocked_route_waits_locally() {
        let rest = Rest::new("http://127.0.0.1:9", None).unwrap();
        rest.block("channels/1/messages", Duration::from_secs(5));
        assert!(rest.wait_for("channels/1/messages").is_some());
        assert!(rest.wait_for("channels/2/messages").is_none());
        rest.block("global", Duration::from_secs(5));
        assert!(rest.wait_for("channels/2/messages").is_some());
    }
}
