//! Where a Discord message goes, written into `chat_id`:
//!
//! - `CHANNEL_ID`: a server channel or a direct-message channel (bot REST). A person's Discord
//!   user id also works here: Discord answers "Unknown Channel" for it, and the message then
//!   goes to that person's direct messages.
//! - `user:USER_ID`: a person's direct messages (opened with `POST /users/@me/channels`).
//! - `CHANNEL_ID:INTERACTION_ID`: the answer to a slash command or button press, through the
//!   interaction's webhook. The token that webhook needs is kept in the store by interaction id,
//!   never in the chat id. Interaction tokens live 15 minutes; after that (the interaction id
//!   is a snowflake, so its age is known) the message goes to `CHANNEL_ID` instead, which is
//!   what a later escalation to "the chat where the task was created" needs.
//! - `CHANNEL_ID:INTERACTION_ID:TOKEN`: the older form, with the token inline; still read, so
//!   that messages queued before the token moved out still go.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Discord's epoch (2015-01-01), in Unix milliseconds.
const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;
/// Interaction tokens are valid for 15 minutes; we stop using them a little earlier.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Channel(String),
    User(String),
    Interaction {
        channel_id: String,
        interaction_id: String,
        /// Only in the older form; otherwise looked up by `interaction_id`.
        token: Option<String>,
    },
}

fn snowflake(text: &str) -> Option<String> {
    (!text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.to_owned())
}

/// When a snowflake id (message, interaction…) was made.
pub fn created_at(id: &str) -> Option<DateTime<Utc>> {
    let raw: u64 = id.parse().ok()?;
    let ms = i64::try_from(raw >> 22).ok()? + DISCORD_EPOCH_MS;
    DateTime::from_timestamp_millis(ms)
}

impl Address {
    /// Whether an interaction's token can still be used at `now`.
    pub fn token_usable(interaction_id: &str, now: DateTime<Utc>) -> bool {
        created_at(interaction_id).is_some_and(|at| {
            let age = now.signed_duration_since(at);
            age >= -chrono::Duration::minutes(1)
                && age < chrono::Duration::from_std(TOKEN_LIFETIME).unwrap_or_default()
        })
    }
}

impl FromStr for Address {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{text}' is not a Discord channel, user:ID or interaction address");
        if let Some(user) = text.strip_prefix("user:") {
            return snowflake(user).map(Address::User).ok_or_else(bad);
        }
        let mut parts = text.splitn(3, ':');
        let (channel, interaction, token) = (parts.next(), parts.next(), parts.next());
        let Some(channel_id) = channel.and_then(snowflake) else {
            return Err(bad());
        };
        match (interaction, token) {
            (None, None) => Ok(Address::Channel(channel_id)),
            (Some(interaction), token) if token != Some("") => Ok(Address::Interaction {
                channel_id,
                interaction_id: snowflake(interaction).ok_or_else(bad)?,
                token: token.map(str::to_owned),
            }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Channel(id) => f.write_str(id),
            Address::User(id) => write!(f, "user:{id}"),
            Address::Interaction {
                channel_id,
                interaction_id,
                token: None,
            } => write!(f, "{channel_id}:{interaction_id}"),
            Address::Interaction {
                channel_id,
                interaction_id,
                token: Some(token),
            } => write!(f, "{channel_id}:{interaction_id}:{token}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for text in [
            "1000000000000000002",
            "user:80351110224678912",
            "1:2",
            "1:2:tok:en/with=odd",
        ] {
            assert_eq!(text.parse::<Address>().unwrap().to_string(), text);
        }
        assert_eq!(
            "1:2".parse::<Address>().unwrap(),
            Address::Interaction {
                channel_id: "1".into(),
                interaction_id: "2".into(),
                token: None
            }
        );
        for bad in [
            "",
            "general",
            "user:",
            "user:anna",
            "1:",
            "1:2:",
            "a:2:tok",
            "1:b",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }

    #[test]
    fn snowflakes_tell_their_age() {
        // The example from Discord's documentation: 2016-04-30 11:18:25.796 UTC.
        let at = created_at("175928847299117063").unwrap();
        assert_eq!(at.to_rfc3339(), "2016-04-30T11:18:25.796+00:00");
        let now = DateTime::parse_from_rfc3339("2016-04-30T11:28:25Z")
            .unwrap()
            .to_utc();
        assert!(Address::token_usable("175928847299117063", now));
        let later = DateTime::parse_from_rfc3339("2016-04-30T11:40:00Z")
            .unwrap()
            .to_utc();
        assert!(!Address::token_usable("175928847299117063", later));
    }
}
