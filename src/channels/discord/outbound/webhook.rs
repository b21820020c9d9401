//! Answers to interactions, through the interaction's webhook (`/webhooks/{application}/{token}`,
//! which its token authenticates: no bot token needed): the first answer to a deferred slash
//! command replaces the "thinking" message, later ones are follow-ups, a button notice is an
//! ephemeral follow-up. The token is looked up by interaction id (the older chat ids carried it
//! inline). When the webhook cannot be used, a young interaction is retried (Discord may not
//! have taken in the acknowledgement yet); otherwise the channel gets the message as the bot.

use reqwest::Method;
use serde_json::{json, Value};

use super::{body, message_id, DiscordOut};
use crate::channels::discord::address::{self, Address};
use crate::channels::discord::interaction::EPHEMERAL;
use crate::channels::discord::rest::{Auth, RestError};
use crate::message::{OutboundMessage, SendError};
use crate::store::InteractionToken;

/// Discord error codes of a webhook that cannot be used, and of a message not there (yet).
const UNKNOWN_WEBHOOK: i64 = 10015;
const INVALID_WEBHOOK_TOKEN: i64 = 50027;
const UNKNOWN_MESSAGE: i64 = 10008;
/// Message flag of a deferred response that still shows "thinking".
const LOADING: u64 = 1 << 7;

/// Whether an interaction webhook is gone (token expired or unknown).
fn webhook_gone(error: &RestError) -> bool {
    matches!(error.code(), Some(UNKNOWN_WEBHOOK | INVALID_WEBHOOK_TOKEN)) || error.status() == Some(401)
}

/// How long after an interaction its webhook may still be missing because Discord has not yet
/// taken in the acknowledgement (the answer can be faster than that).
const WEBHOOK_SETTLING: chrono::Duration = chrono::Duration::seconds(30);

/// What to do with a message for an interaction whose webhook cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Instead {
    /// Try the webhook again shortly: the interaction is young.
    RetrySoon,
    /// Send it to the channel, as the bot.
    ToChannel,
    /// A button notice makes no sense outside its interaction.
    Drop,
}

fn instead(
    interaction_id: &str,
    webhook_refused: bool,
    button_notice: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Instead {
    let young = address::created_at(interaction_id)
        .is_some_and(|at| now.signed_duration_since(at) < WEBHOOK_SETTLING);
    match (webhook_refused && young, button_notice) {
        (true, _) => Instead::RetrySoon,
        (false, true) => Instead::Drop,
        (false, false) => Instead::ToChannel,
    }
}

impl DiscordOut {
    async fn to_interaction(
        &self,
        interaction_id: &str,
        answer: &InteractionToken,
        message: &OutboundMessage,
    ) -> Result<Option<String>, RestError> {
        let webhook = ["webhooks", answer.application_id.as_str(), answer.token.as_str()];
        // The rate-limit bucket is the interaction's webhook; its key names it by id, not token.
        let route = format!("webhooks/{}/{interaction_id}", answer.application_id);
        let as_request = |e: SendError| RestError::Status {
            status: 400,
            code: None,
            message: e.to_string(),
        };
        if message.answers_button.is_some() {
            // The press itself was acknowledged (type 6) when it came in; the notice is for
            // the person who pressed.
            if message.text.trim().is_empty() {
                return Ok(None);
            }
            let mut payload = body(message).map_err(as_request)?;
            payload["flags"] = json!(EPHEMERAL);
            let answer = self
                .rest
                .call(Method::POST, &webhook, &route, Auth::None, Some(&payload))
                .await?;
            return Ok(message_id(&answer));
        }
        let payload = body(message).map_err(as_request)?;
        let original = [&webhook[..], &["messages", "@original"]].concat();
        let current = match self
            .rest
            .call(Method::GET, &original, &route, Auth::None, None)
            .await
        {
            // Discord has not taken in our deferred answer yet: a moment later it has.
            Err(e) if e.code() == Some(UNKNOWN_MESSAGE) => {
                return Err(RestError::Network(
                    "the interaction's first answer is not there yet".into(),
                ))
            }
            other => other?,
        };
        let loading = current.get("flags").and_then(Value::as_u64).unwrap_or(0) & LOADING != 0;
        let answer = if loading {
            self.send_payload(Method::PATCH, &original, &route, Auth::None, payload, message)
                .await?
        } else {
            self.send_payload(Method::POST, &webhook, &route, Auth::None, payload, message)
                .await?
        };
        Ok(message_id(&answer))
    }

    /// An answer to an interaction: through its webhook while its token is usable, otherwise to
    /// its channel (or not at all, for a button notice).
    pub(super) async fn answer_interaction(
        &self,
        channel_id: &str,
        interaction_id: &str,
        inline_token: Option<String>,
        message: &OutboundMessage,
    ) -> Result<Option<String>, RestError> {
        let usable = Address::token_usable(interaction_id, chrono::Utc::now());
        let answer = match inline_token {
            _ if !usable => None,
            // The older form: the token came in the chat id.
            Some(token) => self
                .application_id
                .clone()
                .map(|application_id| InteractionToken {
                    application_id,
                    token,
                }),
            None => self
                .store
                .discord_interaction(interaction_id)
                .await
                .map_err(|e| RestError::Network(format!("could not read the interaction's token: {e}")))?,
        };
        let refused = match answer {
            Some(answer) => match self.to_interaction(interaction_id, &answer, message).await {
                Err(e) if webhook_gone(&e) => true,
                sent => return sent,
            },
            None => false,
        };
        let button_notice = message.answers_button.is_some();
        match instead(interaction_id, refused, button_notice, chrono::Utc::now()) {
            Instead::RetrySoon => Err(RestError::Network(
                "the interaction's webhook is not there yet".into(),
            )),
            Instead::Drop => {
                tracing::info!("interaction token not usable; button notice dropped");
                Ok(None)
            }
            Instead::ToChannel => {
                tracing::info!("interaction token not usable; sending to the channel");
                self.to_channel(channel_id, message, None).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_webhooks_are_recognized() {
        let status = |status, code| RestError::Status {
            status,
            code,
            message: "m".into(),
        };
        assert!(webhook_gone(&status(401, Some(INVALID_WEBHOOK_TOKEN))));
        assert!(webhook_gone(&status(404, Some(UNKNOWN_WEBHOOK))));
        assert!(!webhook_gone(&status(404, Some(super::super::UNKNOWN_CHANNEL))));
    }

    #[test]
    fn an_unusable_webhook_is_waited_for_then_passed_by() {
        let now = chrono::Utc::now();
        let at = |secs: i64| {
            let ms = (now - chrono::Duration::seconds(secs)).timestamp_millis() - 1_420_070_400_000;
            ((ms as u64) << 22).to_string()
        };
        // Refused right after the interaction: Discord has not taken in the acknowledgement yet.
        assert_eq!(instead(&at(1), true, false, now), Instead::RetrySoon);
        assert_eq!(instead(&at(1), true, true, now), Instead::RetrySoon);
        // Refused later, or no token at all: the channel gets it, a button notice goes.
        assert_eq!(instead(&at(120), true, false, now), Instead::ToChannel);
        assert_eq!(instead(&at(120), true, true, now), Instead::Drop);
        assert_eq!(instead(&at(1), false, false, now), Instead::ToChannel);
        assert_eq!(instead(&at(1), false, true, now), Instead::Drop);
    }
}
