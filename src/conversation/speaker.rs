//! Who is speaking: a chat identity becomes a person (and an [`Actor`] with that person's
//! rights), or stays an unlinked guest. The terminal's identity is a handle.

use super::Conversation;
use crate::domain::{self, Person, Role};
use crate::message::InboundEvent;
use crate::workspace::{Actor, WorkspaceError};

/// Who sent a message, as far as the workspace knows.
pub(super) struct Speaker {
    pub actor: Actor,
    pub person: Option<Person>,
}

impl Conversation {
    pub(super) async fn speaker(&self, event: &InboundEvent) -> Result<Speaker, WorkspaceError> {
        let default_tz = self.workspace.default_timezone();
        // The terminal is the operator's own: its identity is a handle.
        let person = if event.channel == domain::Channel::Cli {
            match self
                .workspace
                .person(&Actor::system("cli"), &event.sender.external_id)
                .await
            {
                Ok(p) => Some(p),
                Err(WorkspaceError::NotFound(_)) => None,
                Err(e) => return Err(e),
            }
        } else {
            self.workspace.person_by_identity(&event.identity()).await?
        };
        let actor = match &person {
            Some(p) => Actor::person(p, event.channel.as_str(), default_tz),
            None => Actor {
                name: format!("{}:{}", event.channel, event.sender.external_id),
                role: if self.open_chat { Role::Member } else { Role::Guest },
                person_id: None,
                channel: event.channel.as_str().to_owned(),
                timezone: default_tz,
            },
        };
        Ok(Speaker { actor, person })
    }
}
