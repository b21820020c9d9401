//! The webhook half of [`FakeTelegram`](super::FakeTelegram), as the Bot API documents it
//! (<https://core.telegram.org/bots/api#getting-updates>):
//!
//! - `setWebhook`: `url` must be `https` on port 443, 80, 88 or 8443 (an empty `url` removes the
//!   webhook); `secret_token` 1-256 of `A-Z a-z 0-9 _ -`; `allowed_updates` replaces the
//!   previous list when given (an empty list means all types); `max_connections` 1-100,
//!   default 40; `drop_pending_updates` drops the queue.
//! - `deleteWebhook` (`drop_pending_updates` too), `getWebhookInfo` (`url` empty when unset;
//!   `last_error_date`/`last_error_message` when scripted with
//!   [`FakeTelegram::set_webhook_error`]; `allowed_updates` when a list was given).
//! - `getUpdates` while a webhook is set: 409 `Conflict: can't use getUpdates method while
//!   webhook is active; use deleteWebhook to delete the webhook first`.
//!
//! The fake never posts to the URL: tests deliver updates themselves.

use serde_json::{json, Value};

use super::{param_i64, ApiError, FakeTelegram, Inner};

/// The webhook as the last `setWebhook` left it.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
    /// `None`: never given (all types); `Some([])`: all types too, asked explicitly.
    pub allowed_updates: Option<Vec<String>>,
    pub max_connections: i64,
}

/// The webhook-related state of the fake.
#[derive(Debug, Default)]
pub(super) struct WebhookState {
    pub(super) current: Option<Webhook>,
    /// `(unix time, message)` reported as the last delivery error.
    pub(super) last_error: Option<(i64, String)>,
}

impl FakeTelegram {
    /// The webhook Telegram would now deliver to, if any.
    pub fn webhook(&self) -> Option<Webhook> {
        self.shared.lock().webhook.current.clone()
    }

    /// A webhook set outside the test (by an earlier deployment, say), as `setWebhook` would.
    pub fn set_webhook_outside(&self, url: &str) {
        self.shared.lock().webhook.current = Some(Webhook {
            url: url.to_owned(),
            secret_token: None,
            allowed_updates: None,
            max_connections: 40,
        });
    }

    /// What `getWebhookInfo` reports as the last failed delivery: when, and Telegram's message.
    pub fn set_webhook_error(&self, unix_time: i64, message: &str) {
        self.shared.lock().webhook.last_error = Some((unix_time, message.to_owned()));
    }
}

fn bad_webhook(text: &str) -> ApiError {
    ApiError::bad_request(&format!("bad webhook: {text}"))
}

pub(super) fn set_webhook(state: &mut Inner, params: &Value) -> Result<Value, ApiError> {
    let url = params.get("url").and_then(Value::as_str).unwrap_or("").trim();
    if url.is_empty() {
        state.webhook.current = None;
        return Ok(json!(true));
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| bad_webhook("invalid URL"))?;
    if parsed.scheme() != "https" {
        return Err(bad_webhook("An HTTPS URL must be provided for webhook"));
    }
    if !matches!(parsed.port_or_known_default(), Some(443 | 80 | 88 | 8443)) {
        return Err(bad_webhook(
            "Webhook can be set up only on ports 80, 88, 443 or 8443",
        ));
    }
    let secret_token = match params.get("secret_token") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let token = value
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string());
            let ok = (1..=256).contains(&token.len())
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(ApiError::bad_request(
                    "secret token contains unallowed characters",
                ));
            }
            Some(token)
        }
    };
    let max_connections = match param_i64(params, "max_connections") {
        None => 40,
        Some(n) if (1..=100).contains(&n) => n,
        Some(_) => return Err(bad_webhook("max_connections must be between 1 and 100")),
    };
    let given = match params.get("allowed_updates") {
        None | Some(Value::Null) => None,
        Some(Value::Array(kinds)) => Some(
            kinds
                .iter()
                .map(|k| k.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ApiError::bad_request("can't parse allowed updates"))?,
        ),
        Some(_) => return Err(ApiError::bad_request("can't parse allowed updates")),
    };
    // Not given: the previous list stays.
    let allowed_updates = given.or_else(|| state.webhook.current.as_ref()?.allowed_updates.clone());
    if params.get("drop_pending_updates").and_then(Value::as_bool) == Some(true) {
        state.updates.clear();
    }
    state.webhook.current = Some(Webhook {
        url: url.to_owned(),
        secret_token,
        allowed_updates,
        max_connections,
    });
    Ok(json!(true))
}

pub(super) fn delete_webhook(state: &mut Inner, params: &Value) -> Result<Value, ApiError> {
    if params.get("drop_pending_updates").and_then(Value::as_bool) == Some(true) {
        state.updates.clear();
    }
    state.webhook.current = None;
    Ok(json!(true))
}

pub(super) fn get_webhook_info(state: &Inner) -> Value {
    let mut info = json!({
        "url": "",
        "has_custom_certificate": false,
        "pending_update_count": state.updates.len(),
    });
    if let Some(hook) = &state.webhook.current {
        info["url"] = json!(hook.url);
        info["max_connections"] = json!(hook.max_connections);
        info["ip_address"] = json!("149.154.167.220");
        if let Some(kinds) = &hook.allowed_updates {
            info["allowed_updates"] = json!(kinds);
        }
    }
    if let Some((date, message)) = &state.webhook.last_error {
        info["last_error_date"] = json!(date);
        info["last_error_message"] = json!(message);
    }
    info
}

/// `getUpdates` is refused while a webhook is set.
pub(super) fn refuse_polling(state: &Inner) -> Option<ApiError> {
    state.webhook.current.as_ref().map(|_| {
        ApiError::new(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to \
             delete the webhook first",
        )
    })
}

#[cfg(test)]
mod tests {
    use teloxide::payloads::{GetUpdatesSetters, SetWebhookSetters};
    use teloxide::prelude::Requester;
    use teloxide::types::AllowedUpdate;
    use teloxide::RequestError;

    use super::super::FakeTelegram;

    #[tokio::test]
    async fn webhooks_are_set_reported_and_deleted_like_the_bot_api() {
        let tg = FakeTelegram::start().await;
        let bot = tg.bot();
        let info = bot.get_webhook_info().await.unwrap();
        assert_eq!((info.url, info.pending_update_count), (None, 0));

        let url = reqwest::Url::parse("https://team.example.com/webhooks/telegram").unwrap();
        bot.set_webhook(url.clone())
            .secret_token("s3cret_-token")
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
            .await
            .unwrap();
        let hook = tg.webhook().unwrap();
        assert_eq!(hook.secret_token.as_deref(), Some("s3cret_-token"));
        assert_eq!(
            hook.allowed_updates,
            Some(vec!["message".into(), "callback_query".into()])
        );
        tg.set_webhook_error(1_700_000_000, "Wrong response from the webhook: 502 Bad Gateway");
        let info = bot.get_webhook_info().await.unwrap();
        assert_eq!(info.url, Some(url.clone()));
        assert_eq!(info.max_connections, Some(40));
        assert_eq!(
            info.allowed_updates,
            Some(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
        );
        assert_eq!(info.last_error_date.unwrap().timestamp(), 1_700_000_000);
        assert!(info.last_error_message.unwrap().contains("502"));

        // Polling is refused while the webhook is set.
        match bot.get_updates().timeout(0).await {
            Err(RequestError::Api(e)) => assert!(e.to_string().contains("webhook is active"), "{e}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        bot.delete_webhook().await.unwrap();
        assert_eq!(tg.webhook(), None);
        assert!(bot.get_updates().timeout(0).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn bad_webhooks_are_refused_with_telegrams_messages() {
        let tg = FakeTelegram::start().await;
        let bot = tg.bot();
        let refused = |url: &str, secret: &str| {
            let request = bot
                .set_webhook(reqwest::Url::parse(url).unwrap())
                .secret_token(secret);
            async move { request.await.unwrap_err().to_string() }
        };
        assert!(refused("http://team.example.com/hook", "ok")
            .await
            .contains("HTTPS URL"));
        assert!(refused("https://team.example.com:5001/hook", "ok")
            .await
            .contains("ports 80, 88, 443"));
        assert!(refused("https://team.example.com/hook", "no spaces")
            .await
            .contains("secret token contains unallowed characters"));
        assert_eq!(tg.webhook(), None);
        assert_eq!(tg.calls("setWebhook").len(), 3, "refused calls are recorded");
    }
}
