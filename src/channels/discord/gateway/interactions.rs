//! `INTERACTION_CREATE` over the gateway: a slash command or a button press takes the same path
//! as through the HTTP endpoint: read by `interaction::receive`, stored by `Intake` (token apart,
//! event in the inbox, deduplicated by interaction id), and only then acknowledged, here through
//! `POST /interactions/{id}/{token}/callback` with the same deferred response the endpoint puts
//! in its answer body. The real answer follows through the outbox and the interaction's webhook.
//! Discord wants the acknowledgement within three seconds, so storing is retried briefly.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::channels::discord::interaction::{self, Intake, Received};
use crate::channels::discord::rest::{Auth, Rest, RestError};

/// Discord's "Interaction has already been acknowledged": a redelivered interaction.
const ALREADY_ACKNOWLEDGED: i64 = 40060;
/// Attempts to store an interaction before it is answered with an apology.
const STORE_ATTEMPTS: u32 = 3;

/// Reads, stores and acknowledges one interaction.
pub(super) async fn handle(intake: &Intake, rest: &Rest, interaction: &serenity::all::Interaction) {
    let value = match as_sent(interaction) {
        Ok(value) => value,
        Err(e) => {
            tracing::warn!(error = %e, "unusable Discord interaction from the gateway ignored");
            return;
        }
    };
    let (Some(id), Some(token)) = (text(&value, "id"), text(&value, "token")) else {
        tracing::warn!("a Discord interaction without id or token ignored");
        return;
    };
    let answer = match interaction::receive(value) {
        Received::Answer(answer) => answer,
        Received::Act(parsed) => {
            let (interaction, event) = *parsed;
            match store(intake, &interaction, &event).await {
                Ok(()) => interaction::deferred(&interaction),
                Err(e) => {
                    tracing::error!(error = %e, interaction = %id, "Discord interaction lost: could not store it");
                    interaction::not_stored()
                }
            }
        }
    };
    acknowledge(rest, &id, &token, &answer).await;
}

/// The interaction as Discord sent it, which is what the endpoint reads too: serenity has read
/// it into its own types, which serialize back to Discord's JSON but for the interaction's type
/// (it went into the enum's variant).
fn as_sent(interaction: &serenity::all::Interaction) -> Result<Value, serde_json::Error> {
    let mut value = serde_json::to_value(interaction)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("type".into(), u8::from(interaction.kind()).into());
    }
    Ok(value)
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

async fn store(
    intake: &Intake,
    interaction: &interaction::Interaction,
    event: &crate::message::InboundEvent,
) -> Result<(), String> {
    let mut attempt = 1;
    loop {
        match intake.accept(interaction, event).await {
            Ok(fresh) => {
                if !fresh {
                    tracing::debug!(interaction = %interaction.id, "Discord interaction seen before");
                }
                return Ok(());
            }
            Err(e) if attempt == STORE_ATTEMPTS => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, attempt, "could not store a Discord interaction; retrying");
                tokio::time::sleep(Duration::from_millis(150 * u64::from(attempt))).await;
                attempt += 1;
            }
        }
    }
}

/// The interaction response, sent as the callback. A second acknowledgement of the same
/// interaction (a redelivery) is refused by Discord and changes nothing.
async fn acknowledge(rest: &Rest, id: &str, token: &str, answer: &Value) {
    let route = format!("interactions/{id}");
    for attempt in 1..=2 {
        let sent = rest
            .call(
                Method::POST,
                &["interactions", id, token, "callback"],
                &route,
                Auth::None,
                Some(answer),
            )
            .await;
        match sent {
            Ok(_) => return,
            Err(e) if e.code() == Some(ALREADY_ACKNOWLEDGED) => {
                tracing::debug!(interaction = %id, "Discord interaction acknowledged before");
                return;
            }
            Err(RestError::Network(e)) if attempt == 1 => {
                tracing::warn!(error = %e, interaction = %id, "could not acknowledge a Discord interaction; retrying");
            }
            Err(e) if e.status().is_some_and(|s| s >= 500) && attempt == 1 => {
                tracing::warn!(error = %e, interaction = %id, "could not acknowledge a Discord interaction; retrying");
            }
            Err(e) => {
                tracing::warn!(error = %e, interaction = %id, "could not acknowledge a Discord interaction");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A slash command as the gateway dispatches it (`d` of `INTERACTION_CREATE`).
    fn dispatched() -> Value {
        json!({
            "type": 2, "id": "1200000000000000001", "application_id": "1100000000000000000",
            "token": "aW50ZXJhY3Rpb246dG9rZW4", "version": 1, "locale": "en-US", "guild_locale": "en-US",
            "guild_id": "1000000000000000001", "channel_id": "1000000000000000002",
            "channel": {"id": "1000000000000000002", "type": 0, "name": "general", "guild_id": "1000000000000000001"},
            "member": {
                "user": {"id": "80351110224678912", "username": "anna", "global_name": "Anna K",
                         "discriminator": "0", "avatar": null, "public_flags": 0},
                "nick": null, "roles": [], "joined_at": "2025-01-01T00:00:00.000000+00:00",
                "deaf": false, "mute": false, "permissions": "2147483647", "flags": 0
            },
            "data": {"id": "1300000000000000000", "name": "newtask", "type": 1, "options": [
                {"type": 3, "name": "title", "value": "Write the brief"},
                {"type": 3, "name": "priority", "value": "high"}
            ]},
            "app_permissions": "442368", "entitlements": [], "context": 0,
            "authorizing_integration_owners": {"0": "1000000000000000001"},
            "attachment_size_limit": 10485760
        })
    }

    #[test]
    fn what_serenity_reads_reads_as_the_endpoint_reads_it() {
        let read = |json: Value| {
            let theirs: serenity::all::Interaction = serde_json::from_value(json).unwrap();
            let value = as_sent(&theirs).unwrap();
            match interaction::receive(value.clone()) {
                Received::Act(parsed) => *parsed,
                Received::Answer(answer) => panic!("{answer}: {value:#}"),
            }
        };
        let (ours, event) = read(dispatched());
        assert_eq!(event.text, "/newtask Write the brief !high");
        assert_eq!(event.sender.display_name, "Anna K");
        assert_eq!(event.chat_id, "1000000000000000002:1200000000000000001");
        assert_eq!(ours.token, "aW50ZXJhY3Rpb246dG9rZW4");
        assert_eq!(interaction::deferred(&ours), json!({"type": 5}));

        let mut button = dispatched();
        button["type"] = json!(3);
        button["data"] = json!({"custom_id": "done:12", "component_type": 2});
        button["message"] = json!({
            "id": "1250000000000000000", "channel_id": "1000000000000000002", "type": 0,
            "content": "Created #12", "author": {"id": "1100000000000000000", "username": "coordinator",
            "discriminator": "0", "avatar": null, "bot": true}, "timestamp": "2025-11-25T10:00:00.000000+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
            "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "components": []
        });
        let (ours, event) = read(button);
        assert_eq!(event.button.unwrap().data, "done:12");
        assert_eq!(event.message_id.as_deref(), Some("1250000000000000000"));
        assert_eq!(interaction::deferred(&ours), json!({"type": 6}));
    }
}
