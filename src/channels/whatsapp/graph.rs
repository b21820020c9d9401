//! The Graph API call that sends a message, and what its errors mean for the outbox: rate
//! limits wait, WhatsApp's temporary trouble retries, everything else is recorded as a dead
//! letter with the Graph error as the reason.

use std::time::Duration;

use serde::Deserialize;

use super::messages::truncate;
use crate::config::Secret;
use crate::message::SendError;

/// How long to wait after a rate-limit error that does not say.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Graph error codes (<https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes>).
pub mod codes {
    /// The customer-service window is closed: only a template may go.
    pub const REENGAGEMENT: i64 = crate::store::REENGAGEMENT_REQUIRED;
    /// Rate limits: application, account, throughput, pair (same recipient), spam.
    pub const RATE_LIMITS: [i64; 7] = [4, 80007, 130429, 131056, 131048, 613, 17];
    /// Temporary trouble on WhatsApp's side.
    pub const TEMPORARY: [i64; 5] = [1, 2, 131000, 131016, 133004];
    /// The access token is invalid or expired.
    pub const AUTH: [i64; 2] = [190, 0];
}

/// A refused or failed call.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// No answer: connection refused, timeout, broken body.
    Network(String),
    /// An HTTP error, with the Graph error when the body had one.
    Graph {
        http_status: u16,
        code: Option<i64>,
        message: String,
        retry_after: Option<Duration>,
    },
}

impl Failure {
    pub fn code(&self) -> Option<i64> {
        match self {
            Failure::Graph { code, .. } => *code,
            Failure::Network(_) => None,
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: Option<String>,
}

#[derive(Deserialize)]
struct Sent {
    #[serde(default)]
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: String,
}

/// Reads an error answer: the Graph error's code, message and details when present.
pub fn failure(http_status: u16, retry_after: Option<Duration>, body: &str) -> Failure {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => {
            let mut message = error.message;
            if let Some(details) = error.error_data.and_then(|d| d.details) {
                if !details.is_empty() && !message.contains(&details) {
                    message = format!("{message}: {details}");
                }
            }
            Failure::Graph {
                http_status,
                code: error.code,
                message,
                retry_after,
            }
        }
        Err(_) => Failure::Graph {
            http_status,
            code: None,
            message: format!("HTTP {http_status}: {}", truncate(body.trim(), 200)),
            retry_after,
        },
    }
}

/// What a failure means for the outbox. (Re-engagement is handled before this, by sending
/// the template instead.)
pub fn classify(failure: Failure) -> SendError {
    let (http_status, code, message, retry_after) = match failure {
        Failure::Network(e) => return SendError::Transient(e),
        Failure::Graph {
            http_status,
            code,
            message,
            retry_after,
        } => (http_status, code, message, retry_after),
    };
    let described = match code {
        Some(code) => format!("WhatsApp error {code}: {message}"),
        None => format!("WhatsApp error: {message}"),
    };
    let is = |list: &[i64]| code.is_some_and(|c| list.contains(&c));
    if http_status == 429 || is(&codes::RATE_LIMITS) {
        return SendError::RetryAfter(retry_after.unwrap_or(DEFAULT_RETRY_AFTER));
    }
    if http_status >= 500 || is(&codes::TEMPORARY) {
        return SendError::Transient(described);
    }
    if http_status == 401 || is(&codes::AUTH) {
        return SendError::Permanent(format!("WHATSAPP_TOKEN was refused: {described}"));
    }
    if code == Some(codes::REENGAGEMENT) {
        return SendError::Permanent(format!(
            "{described} (the 24-hour window is closed and no WHATSAPP_TEMPLATE_NAME is set)"
        ));
    }
    SendError::Permanent(described)
}

/// Posts one message; the wamid WhatsApp gave it.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &Secret,
    body: &serde_json::Value,
) -> Result<String, Failure> {
    let response = client
        .post(url)
        .bearer_auth(token.expose())
        .json(body)
        .send()
        .await
        .map_err(|e| Failure::Network(e.without_url().to_string()))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = response
        .text()
        .await
        .map_err(|e| Failure::Network(e.without_url().to_string()))?;
    if !(200..300).contains(&status) {
        return Err(failure(status, retry_after, &text));
    }
    let sent: Sent = serde_json::from_str(&text)
        .map_err(|e| Failure::Network(format!("unreadable answer from the Graph API: {e}")))?;
    sent.messages
        .into_iter()
        .next()
        .map(|m| m.id)
        .ok_or_else(|| Failure::Network("the Graph API answered without a message id".into()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn graph_errors_are_classified() {
        let graph = |status: u16, code: i64| {
            let body = json!({"error": {"message": format!("(#{code}) something"), "type": "OAuthException",
                "code": code, "error_data": {"messaging_product": "whatsapp", "details": "the details"},
                "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}});
            classify(failure(status, None, &body.to_string()))
        };
        assert!(matches!(graph(400, 130429), SendError::RetryAfter(d) if d == DEFAULT_RETRY_AFTER));
        assert!(matches!(graph(400, 131056), SendError::RetryAfter(_)));
        assert!(matches!(graph(400, 80007), SendError::RetryAfter(_)));
        assert!(matches!(
            classify(failure(429, Some(Duration::from_secs(3)), "")),
            SendError::RetryAfter(d) if d == Duration::from_secs(3)
        ));
        assert!(matches!(graph(500, 1), SendError::Transient(_)));
        assert!(matches!(graph(503, 131000), SendError::Transient(_)));
        assert!(matches!(
            classify(Failure::Network("timeout".into())),
            SendError::Transient(_)
        ));
        for code in [131026, 131030, 100, 132001] {
            match graph(400, code) {
                SendError::Permanent(e) => {
                    assert!(e.contains(&code.to_string()) && e.contains("the details"), "{e}")
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        assert!(matches!(graph(401, 190), SendError::Permanent(e) if e.contains("WHATSAPP_TOKEN")));
        assert!(
            matches!(graph(400, 131047), SendError::Permanent(e) if e.contains("WHATSAPP_TEMPLATE_NAME"))
        );
        assert!(matches!(
            classify(failure(502, None, "<html>bad gateway</html>")),
            SendError::Transient(e) if e.contains("502")
        ));
    }
}
