//! `/alerts here|off`: which chat gets the admins' alerts (dead letters, failing channels and
//! integrations, handbook ingests; see `scheduler::alerts`). Admins only: anyone else gets a
//! one-line refusal. `/alerts` alone says where they go now.

use super::commands::{usage, Command};
use super::speaker::Speaker;
use super::{Conversation, Reply};
use crate::message::InboundEvent;
use crate::workspace::{Address, WorkspaceError};

/// What `/alerts` was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertsAction {
    /// Where the alerts go now.
    Show,
    /// This chat gets them.
    Here,
    /// No chat gets them.
    Off,
}

const REFUSAL: &str = "Only admins can choose where alerts go.";

/// The arguments of `/alerts`.
pub(super) fn parse(args: &str) -> Result<Command, String> {
    let action = match args.trim().to_ascii_lowercase().as_str() {
        "" => AlertsAction::Show,
        "here" => AlertsAction::Here,
        "off" => AlertsAction::Off,
        _ => return Err(usage("alerts", &format!("'{}' is not here or off.", args.trim()))),
    };
    Ok(Command::Alerts(action))
}

impl Conversation {
    pub(super) async fn alerts(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        action: AlertsAction,
    ) -> Result<Reply, WorkspaceError> {
        let actor = &speaker.actor;
        let here = Address {
            channel: event.channel,
            chat_id: super::standing_chat(event),
        };
        let result = match action {
            AlertsAction::Here => self
                .workspace
                .set_alert_chat(actor, &here, event.received_at)
                .await
                .map(|()| {
                    "This chat now gets the admins' alerts: messages given up (with a button to retry), \
                     channels failing for minutes, failing integrations and handbook ingests. \
                     /alerts off stops them."
                        .to_owned()
                }),
            AlertsAction::Off => self.workspace.clear_alert_chat(actor).await.map(|was| {
                if was {
                    "Alerts are off: no chat gets them now. /alerts here turns them on in a chat.".to_owned()
                } else {
                    "Alerts were already off. /alerts here turns them on in a chat.".to_owned()
                }
            }),
            AlertsAction::Show => self.workspace.alert_chat(actor).await.map(|chat| match chat {
                Some(c) if c.channel == here.channel.as_str() && c.chat_id == here.chat_id => {
                    format!("This chat gets the admins' alerts (chosen by {}).", c.set_by)
                }
                Some(c) => format!(
                    "The admins' alerts go to {} chat {} (chosen by {}). /alerts here moves them here.",
                    c.channel, c.chat_id, c.set_by
                ),
                None => "No chat gets the admins' alerts. /alerts here makes this chat the one.".to_owned(),
            }),
        };
        match result {
            Ok(text) => Ok(Reply::text(text)),
            Err(WorkspaceError::Forbidden(_)) => Ok(Reply::text(REFUSAL)),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn here_off_or_nothing() {
        assert_eq!(parse(""), Ok(Command::Alerts(AlertsAction::Show)));
        assert_eq!(parse(" HERE "), Ok(Command::Alerts(AlertsAction::Here)));
        assert_eq!(parse("off"), Ok(Command::Alerts(AlertsAction::Off)));
        let reply = parse("everywhere").unwrap_err();
        assert!(reply.starts_with("'everywhere' is not here or off."), "{reply}");
        assert!(reply.contains("Usage: /alerts [here|off]"), "{reply}");
        assert!(reply.contains("e.g. /alerts here"), "{reply}");
    }
}
