//! WhatsApp out: sends through the Cloud API at `{WHATSAPP_API_URL}/{WHATSAPP_PHONE_NUMBER_ID}/messages`
//! and keeps to the 24-hour customer-service rule. Inside the window (the person wrote in the
//! last 24 hours, minus a safety margin) a message goes as free text or with reply buttons;
//! outside it, or when WhatsApp answers "re-engagement required", the approved template
//! (`WHATSAPP_TEMPLATE_NAME`, `WHATSAPP_TEMPLATE_LANGUAGE`) goes instead, with the text in its
//! one variable when `WHATSAPP_TEMPLATE_TEXT_PARAM` is on. Button presses need no answer on
//! WhatsApp.

use std::num::NonZeroU32;

use chrono::{DateTime, Utc};

use super::graph::{self, codes};
use super::messages::{self, Kind, Template};
use crate::config::Secret;
use crate::domain;
use crate::message::{OutboundMessage, RateLimits, SendError, Transport};
use crate::store::{Store, WindowFacts};

/// How long after a person's last message free-form messages may go: 24 hours, less a margin
/// for queueing and clock differences.
pub const WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(24 * 60 - 5);

/// Whether a free-form message may go now.
pub fn window_open(facts: &WindowFacts, now: DateTime<Utc>) -> bool {
    let Some(last) = facts.last_inbound else {
        return false;
    };
    // WhatsApp said the window was closed after their last message: believe it.
    if facts
        .last_reengagement_failure
        .is_some_and(|failed| failed >= last)
    {
        return false;
    }
    now - last < WINDOW
}

/// Sends to WhatsApp through the Graph API.
pub struct WhatsAppOut {
    pub(super) client: reqwest::Client,
    /// `{WHATSAPP_API_URL}/{WHATSAPP_PHONE_NUMBER_ID}/messages`.
    pub(super) messages_url: String,
    pub(super) token: Secret,
    pub(super) template: Option<Template>,
    pub(super) store: Store,
}

impl WhatsAppOut {
    async fn post(&self, kind: Kind, body: &serde_json::Value) -> Result<String, graph::Failure> {
        let wamid = graph::post(&self.client, &self.messages_url, &self.token, body).await?;
        metrics::counter!("whatsapp_sent_total", "kind" => kind.as_str()).increment(1);
        Ok(wamid)
    }

    /// Records what was sent; returns a failure code WhatsApp already reported for it.
    async fn record(&self, wamid: &str, to: &str, kind: Kind) -> Option<i64> {
        match self.store.record_whatsapp_send(wamid, to, kind.as_str()).await {
            Ok(code) => code,
            // The message is out: failing the send now would send it twice.
            Err(e) => {
                tracing::warn!(error = %e, wamid, "could not record a WhatsApp send");
                None
            }
        }
    }

    async fn send_template(&self, message: &OutboundMessage, why: &str) -> Result<Option<String>, SendError> {
        let Some(template) = &self.template else {
            return Err(SendError::Permanent(format!(
                "{why}, and no WHATSAPP_TEMPLATE_NAME is set, so WhatsApp accepts no message to {} now",
                message.chat_id
            )));
        };
        tracing::info!(reason = why, template = %template.name, "sending the WhatsApp template");
        let body = template.body(&message.chat_id, &message.text);
        let wamid =
            self.post(Kind::Template, &body)
                .await
                .map_err(|failure| match graph::classify(failure) {
                    SendError::Permanent(e) => SendError::Permanent(format!(
                        "template '{}' ({}) was refused: {e}",
                        template.name, template.language
                    )),
                    other => other,
                })?;
        self.record(&wamid, &message.chat_id, Kind::Template).await;
        Ok(Some(wamid))
    }
}

#[async_trait::async_trait]
impl Transport for WhatsAppOut {
    fn kind(&self) -> domain::Channel {
        domain::Channel::Whatsapp
    }

    /// One message a second to a person (WhatsApp's pair limit allows short bursts, then
    /// about one every six seconds; the Graph API says so with error 131056, which is waited
    /// out), and 80 a second in all, the Cloud API's default throughput.
    fn rate_limits(&self) -> RateLimits {
        RateLimits {
            per_chat_per_second: NonZeroU32::MIN,
            global_per_second: NonZeroU32::new(80).unwrap_or(NonZeroU32::MIN),
        }
    }

    #[tracing::instrument(skip_all, fields(channel = "whatsapp", chat = %message.chat_id))]
    async fn send(&self, message: &OutboundMessage) -> Result<Option<String>, SendError> {
        // A reply button needs no acknowledgement: the answer follows as a message.
        if message.answers_button.is_some() {
            return Ok(None);
        }
        if message.text.trim().is_empty() && message.buttons.is_empty() {
            return Ok(None);
        }
        let to = message.chat_id.trim();
        if to.is_empty() || to.chars().any(char::is_whitespace) {
            return Err(SendError::Permanent(format!(
                "'{}' is not a WhatsApp id",
                message.chat_id
            )));
        }
        let facts = self
            .store
            .whatsapp_window_facts(to)
            .await
            .map_err(|e| SendError::Transient(format!("cannot read the 24-hour window: {e}")))?;
        if !window_open(&facts, crate::store::now()) {
            return self
                .send_template(message, "the person has not written in the last 24 hours")
                .await;
        }
        let (kind, body) = messages::free_form(message);
        match self.post(kind, &body).await {
            Ok(wamid) => {
                if self.record(&wamid, to, kind).await == Some(codes::REENGAGEMENT) {
                    // The failure callback overtook this answer: the text will not arrive.
                    return self
                        .send_template(message, "WhatsApp requires re-engagement")
                        .await;
                }
                Ok(Some(wamid))
            }
            Err(failure) if failure.code() == Some(codes::REENGAGEMENT) && self.template.is_some() => {
                self.send_template(message, "WhatsApp requires re-engagement")
                    .await
            }
            Err(failure) => Err(graph::classify(failure)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn the_window_follows_the_last_message_and_failures() {
        let now = Utc::now();
        let facts = |last: Option<i64>, failed: Option<i64>| WindowFacts {
            last_inbound: last.map(|h| now - TimeDelta::hours(h)),
            last_reengagement_failure: failed.map(|h| now - TimeDelta::hours(h)),
        };
        assert!(!window_open(&facts(None, None), now), "never wrote");
        assert!(window_open(&facts(Some(1), None), now));
        assert!(window_open(&facts(Some(23), None), now));
        assert!(!window_open(&facts(Some(25), None), now));
        assert!(!window_open(&facts(Some(2), Some(1)), now), "refused since");
        assert!(window_open(&facts(Some(1), Some(2)), now), "wrote again since");
    }
}
