//! Slack out: `chat.postMessage` (Block Kit text and buttons, in the thread of the message that
//! asked), answers to slash commands through their `response_url` (ephemeral for what is only
//! the sender's business: help, lists, what was not understood), and for a button press a
//! private note to the presser (the press's acknowledgement, through its `response_url`) and,
//! once it was acted on, `chat.update` of the message it was on with what the press did. A
//! response URL is looked up by trigger id; once it is gone (30 minutes, five uses) a command's
//! answer goes to its channel. Errors map to what the outbox should do.

use std::num::NonZeroU32;
use std::sync::Arc;

use serde_json::{json, Value};

use super::address::Address;
use super::api::{ApiError, WebApi};
use super::blocks;
use super::spelling::CommandSpelling;
use crate::domain;
use crate::message::{OutboundMessage, RateLimits, SendError, Transport};
use crate::store::{SlackInteraction, Store};

/// How long a response URL answers.
const RESPONSE_URL_LIFETIME: chrono::Duration = chrono::Duration::minutes(29);

/// Sends to Slack at `SLACK_API_URL`.
pub struct SlackOut {
    pub(super) api: Arc<WebApi>,
    /// Where response URLs are kept (`Intake` puts them there).
    pub(super) store: Store,
    /// Our commands as Slack users type them (`/coord help`).
    pub(super) spelling: Arc<CommandSpelling>,
}

/// What a Slack failure means for the outbox.
fn classify(error: ApiError) -> SendError {
    match error {
        ApiError::RateLimited(wait) => SendError::RetryAfter(wait),
        e if e.transient() => SendError::Transient(e.to_string()),
        ApiError::Slack(code)
            if matches!(
                code.as_str(),
                "invalid_auth" | "not_authed" | "token_revoked" | "account_inactive" | "token_expired"
            ) =>
        {
            SendError::Permanent(format!("SLACK_BOT_TOKEN refused: {code}"))
        }
        other => SendError::Permanent(other.to_string()),
    }
}

/// A response URL that no longer answers.
fn url_gone(error: &ApiError) -> bool {
    match error {
        ApiError::Slack(code) => matches!(
            code.as_str(),
            "expired_url" | "used_url" | "invalid_url" | "no_active_hooks" | "channel_not_found"
        ),
        ApiError::Status(status) => *status == 404 || *status == 410,
        _ => false,
    }
}

impl SlackOut {
    async fn post(&self, channel: &str, message: &OutboundMessage) -> Result<Option<String>, ApiError> {
        let (text, blocks) = blocks::message(&message.text, &message.buttons)
            .map_err(|e| ApiError::Slack(format!("invalid_blocks: {e}")))?;
        let mut body = json!({
            "channel": channel, "text": text, "blocks": blocks,
            "unfurl_links": false, "unfurl_media": false,
        });
        if let Some(thread) = &message.reply_to {
            body["thread_ts"] = json!(thread);
        }
        let answer = self
            .api
            .call("chat.postMessage", &format!("chat.postMessage:{channel}"), &body)
            .await?;
        Ok(answer.get("ts").and_then(Value::as_str).map(str::to_owned))
    }

    async fn interaction(&self, trigger_id: &str) -> Result<Option<SlackInteraction>, ApiError> {
        self.store
            .slack_interaction(trigger_id)
            .await
            .map_err(|e| ApiError::Network(format!("could not read the interaction: {e}")))
    }

    /// Posts `message` to `kept`'s response URL while it answers. `Ok(false)`: it no longer
    /// does (expired, used up).
    async fn respond(&self, kept: &SlackInteraction, message: &OutboundMessage) -> Result<bool, ApiError> {
        if crate::store::now() - kept.created_at >= RESPONSE_URL_LIFETIME {
            return Ok(false);
        }
        let (text, blocks) = blocks::message(&message.text, &message.buttons)
            .map_err(|e| ApiError::Slack(format!("invalid_blocks: {e}")))?;
        let body = json!({
            "text": text, "blocks": blocks, "replace_original": false,
            "response_type": if kept.ephemeral { "ephemeral" } else { "in_channel" },
        });
        match self.api.respond(&kept.response_url, &body).await {
            Ok(()) => Ok(true),
            Err(e) if url_gone(&e) => {
                tracing::info!(error = %e, "response URL gone");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// The answer to a slash command (through its response URL, else to its channel), or what
    /// a button press did (the pressed message is updated).
    async fn answer(
        &self,
        channel_id: &str,
        trigger_id: &str,
        message: &OutboundMessage,
    ) -> Result<Option<String>, ApiError> {
        if let Some(kept) = self.interaction(trigger_id).await? {
            if kept.message_ts.is_some() {
                return self.update_pressed(&kept, message).await;
            }
            if self.respond(&kept, message).await? {
                return Ok(None);
            }
        }
        self.post(channel_id, message).await
    }

    /// The note to the person who pressed a button: only they see it.
    async fn note_to_presser(
        &self,
        press_id: &str,
        message: &OutboundMessage,
    ) -> Result<Option<String>, ApiError> {
        if message.text.trim().is_empty() {
            return Ok(None);
        }
        let Some(kept) = self.interaction(press_id).await? else {
            tracing::info!("button press no longer known; its note dropped");
            return Ok(None);
        };
        let private = SlackInteraction {
            ephemeral: true,
            ..kept
        };
        if !self.respond(&private, message).await? {
            tracing::info!("the press's response URL is gone; its note dropped");
        }
        Ok(None)
    }

    /// The message a button was on, with what the press did.
    async fn update_pressed(
        &self,
        kept: &SlackInteraction,
        message: &OutboundMessage,
    ) -> Result<Option<String>, ApiError> {
        let Some(ts) = kept.message_ts.clone() else {
            return Ok(None);
        };
        let text = kept.message_text.clone().unwrap_or_default();
        let blocks = blocks::pressed(kept.message_blocks.as_deref(), &text, &message.text);
        let body = json!({"channel": kept.channel_id, "ts": ts, "text": text, "blocks": blocks});
        match self.api.call("chat.update", "chat.update", &body).await {
            Ok(_) => Ok(Some(ts)),
            Err(ApiError::Slack(code))
                if matches!(
                    code.as_str(),
                    "message_not_found" | "cant_update_message" | "edit_window_closed" | "channel_not_found"
                ) =>
            {
                tracing::info!(%code, "pressed message cannot be updated");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

#[async_trait::async_trait]
impl Transport for SlackOut {
    fn kind(&self) -> domain::Channel {
        domain::Channel::Slack
    }

    /// `chat.postMessage` allows about one message a second per channel (short bursts
    /// over); across channels Slack counts per workspace, well above what a team needs.
    fn rate_limits(&self) -> RateLimits {
        RateLimits {
            per_chat_per_second: NonZeroU32::MIN,
            global_per_second: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
        }
    }

    #[tracing::instrument(skip_all, fields(channel = "slack"))]
    async fn send(&self, message: &OutboundMessage) -> Result<Option<String>, SendError> {
        let address: Address = message.chat_id.parse().map_err(SendError::Permanent)?;
        let spelled;
        let message = match self.spelling.apply(&message.text) {
            std::borrow::Cow::Borrowed(_) => message,
            std::borrow::Cow::Owned(text) => {
                spelled = OutboundMessage {
                    text,
                    ..message.clone()
                };
                &spelled
            }
        };
        let result = match (&message.answers_button, address) {
            (Some(press), _) => self.note_to_presser(press, message).await,
            (None, Address::Conversation(channel)) => self.post(&channel, message).await,
            (
                None,
                Address::Interaction {
                    channel_id,
                    trigger_id,
                },
            ) => self.answer(&channel_id, &trigger_id, message).await,
        };
        result.map_err(classify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn errors_map_to_outbox_decisions() {
        assert!(matches!(
            classify(ApiError::RateLimited(Duration::from_secs(3))),
            SendError::RetryAfter(d) if d == Duration::from_secs(3)
        ));
        assert!(matches!(classify(ApiError::Status(502)), SendError::Transient(_)));
        assert!(matches!(
            classify(ApiError::Slack("not_in_channel".into())),
            SendError::Permanent(_)
        ));
        assert!(matches!(
            classify(ApiError::Slack("invalid_auth".into())),
            SendError::Permanent(m) if m.contains("SLACK_BOT_TOKEN")
        ));
        assert!(url_gone(&ApiError::Slack("expired_url".into())));
        assert!(!url_gone(&ApiError::Network("x".into())));
    }
}
