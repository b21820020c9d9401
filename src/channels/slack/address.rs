//! Where a Slack message goes, written into `chat_id`:
//!
//! - `CHANNEL_ID` (`C…`, `G…`, `D…`): a conversation, through `chat.postMessage`. A person's
//!   user id (`U…`, `W…`) works too: Slack then posts in the app's direct messages with them.
//! - `CHANNEL_ID:TRIGGER_ID`: the answer to a slash command or a button press, through its
//!   `response_url`, which is kept in the store by trigger id (never in the chat id). Response
//!   URLs live 30 minutes; after that a command's answer goes to `CHANNEL_ID` instead, which is
//!   also what a later escalation to "the chat where the task was created" uses.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Conversation(String),
    Interaction { channel_id: String, trigger_id: String },
}

/// A Slack id: capitals and digits (`C024BE91L`, `U0G9QF9C6`, `D024BFF1M`).
pub fn is_slack_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 32 && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A trigger id or a message ts: digits, dots and hex (`13345224609.738474920.8088930838d88f008e0`,
/// `1764000000.000100`).
pub fn is_trigger(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

impl Address {
    /// The conversation this address stands for (what a task's origin records).
    pub fn channel(&self) -> &str {
        match self {
            Address::Conversation(id) => id,
            Address::Interaction { channel_id, .. } => channel_id,
        }
    }
}

impl FromStr for Address {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{text}' is not a Slack conversation or CHANNEL:TRIGGER address");
        match text.split_once(':') {
            None if is_slack_id(text) => Ok(Address::Conversation(text.to_owned())),
            Some((channel, trigger)) if is_slack_id(channel) && is_trigger(trigger) => {
                Ok(Address::Interaction {
                    channel_id: channel.to_owned(),
                    trigger_id: trigger.to_owned(),
                })
            }
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Conversation(id) => f.write_str(id),
            Address::Interaction {
                channel_id,
                trigger_id,
            } => write!(f, "{channel_id}:{trigger_id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for text in [
            "C024BE91L",
            "U0G9QF9C6",
            "C024BE91L:13345224609.738474920.8088930838d88f008e0",
        ] {
            assert_eq!(text.parse::<Address>().unwrap().to_string(), text);
        }
        let address: Address = "D1:1.2.ab".parse().unwrap();
        assert_eq!(address.channel(), "D1");
        for bad in ["", "general", "c024", "C1:", ":1.2", "C1:a b", "C1:1:2"] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }
}
