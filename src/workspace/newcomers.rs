//! People who arrive from a chat: a link code redeemed by a chat identity, and the name and
//! handle a person made for a newcomer takes from their platform (`/claim`, and `/invite`
//! without a handle).

use chrono::{DateTime, Utc};

use super::auth::sha256_hex;
use super::people::random_code;
use super::{Workspace, WorkspaceError, WsResult};
use crate::domain::{non_blank, Handle, Identity, Person};
use crate::store::{Adopt, AuditEntry, PersonData, StoreError};

/// Someone new in a chat, as their platform names them: where the handle and name of a person
/// made for them (by `/claim`, or `/invite` without a handle) come from.
#[derive(Debug, Clone, Default)]
pub struct Newcomer {
    /// The platform's username (Telegram `@username`), if any.
    pub username: Option<String>,
    /// The name the platform shows.
    pub display_name: String,
}

impl Newcomer {
    /// The name to keep: the display name, else the username.
    pub(super) fn name(&self) -> Option<String> {
        non_blank(Some(&self.display_name))
            .or_else(|| non_blank(self.username.as_deref()))
            .map(|n| n.chars().take(200).collect())
    }

    /// Handles to try, best first: the username, then the display name made into one.
    fn handles(&self) -> Vec<String> {
        let mut handles = Vec::new();
        if let Some(username) = &self.username {
            if let Ok(handle) = Handle::parse_new(username) {
                handles.push(handle.into_inner());
            }
        }
        let slug: String = self
            .display_name
            .split_whitespace()
            .map(|w| {
                w.chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
            })
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(".")
            .to_ascii_lowercase()
            .chars()
            .take(32)
            .collect();
        let slug = slug.trim_end_matches('.').to_owned();
        if let Ok(handle) = Handle::parse_new(&slug) {
            if !handles.contains(&handle.as_str().to_owned()) {
                handles.push(handle.into_inner());
            }
        }
        handles
    }
}

/// The audit entry of something a chat identity does before it is anyone.
pub(super) fn identity_audit(identity: &Identity) -> AuditEntry {
    AuditEntry {
        actor: format!("{}:{}", identity.channel, identity.external_id),
        channel: identity.channel.to_string(),
    }
}

impl Workspace {
    /// Redeems a link code for the chat identity that sent it.
    pub async fn link_identity(
        &self,
        identity: &Identity,
        code: &str,
        now: DateTime<Utc>,
    ) -> WsResult<Person> {
        self.link_sender(identity, None, code, now).await
    }

    /// Redeems a link code for the chat identity that sent it; a person invited without a
    /// handle takes `sender`'s name and, when free, handle.
    pub async fn link_sender(
        &self,
        identity: &Identity,
        sender: Option<&Newcomer>,
        code: &str,
        now: DateTime<Utc>,
    ) -> WsResult<Person> {
        let code = code.trim().to_ascii_uppercase();
        let by = identity_audit(identity);
        let (person, adopt) = self
            .store
            .redeem_link_code(&sha256_hex(&code), identity, now, &by)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => {
                    WorkspaceError::NotFound("that code is unknown, already used or expired".into())
                }
                other => other.into(),
            })?;
        match sender {
            Some(sender) if adopt != Adopt::Nothing => self.adopt_sender(person, sender, adopt, &by).await,
            _ => Ok(person),
        }
    }

    /// `person` takes `sender`'s name, and their handle too when `adopt` says so and nobody
    /// has it.
    async fn adopt_sender(
        &self,
        person: Person,
        sender: &Newcomer,
        adopt: Adopt,
        by: &AuditEntry,
    ) -> WsResult<Person> {
        let handle = match adopt {
            Adopt::NameAndHandle => self.free_handle(sender).await?,
            Adopt::Name | Adopt::Nothing => person.handle.clone(),
        };
        let data = PersonData {
            handle,
            name: sender.name().unwrap_or_else(|| person.name.clone()),
            email: person.email.clone(),
            timezone: person.timezone.clone(),
            role: person.role,
            manager_id: match &person.manager {
                Some(m) => Some(self.manager_id(m).await?),
                None => None,
            },
            profile: person.profile.clone(),
        };
        match self.store.update_person(person.id, &data, None, by).await {
            Ok(renamed) => Ok(renamed),
            // Someone took the handle in between: the invite's handle stays.
            Err(StoreError::Conflict(_)) => Ok(person),
            Err(e) => Err(e.into()),
        }
    }

    /// The newcomer's own handle when it is valid and free, else one made from their name,
    /// numbered when taken.
    pub(super) async fn free_handle(&self, sender: &Newcomer) -> WsResult<String> {
        for base in sender.handles() {
            for n in 1..=20 {
                let candidate = if n == 1 {
                    base.clone()
                } else {
                    let suffix = n.to_string();
                    let keep = base.len().min(32 - suffix.len());
                    format!("{}{suffix}", &base[..keep])
                };
                match self.store.person_by_handle(&candidate).await {
                    Err(StoreError::NotFound) => return Ok(candidate),
                    Ok(_) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(format!("person-{}", random_code(6).to_ascii_lowercase()))
    }
}
