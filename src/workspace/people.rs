//! People operations, and linking chat identities to people with one-time codes.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::sha256_hex;
use super::{Actor, Page, Paging, Patch, Workspace, WorkspaceError, WsResult};
use crate::domain::{non_blank, parse_timezone, Handle, Identity, Person, Role, ValidationError};
use crate::store::{Adopt, PersonData, StoreError};

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    /// 1–32 of `a-z 0-9 _ . -` (stored lowercase; a leading `@` is dropped).
    #[schema(pattern = "^@?[A-Za-z0-9_.-]{1,32}$")]
    pub handle: String,
    /// Not blank, at most 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// IANA zone; the service default when absent.
    #[serde(default)]
    pub timezone: Option<String>,
    /// admin, member (default), guest
    #[serde(default)]
    #[schema(pattern = "^(admin|member|guest)$")]
    pub role: Option<String>,
    /// The manager's handle.
    #[serde(default)]
    pub manager: Option<String>,
    /// project-manager, account-manager, designer, developer or guest
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub identities: Vec<Identity>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonUpdate {
    #[serde(default)]
    pub handle: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub manager: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub profile: Patch<String>,
    /// Replaces all identities when given.
    #[serde(default)]
    pub identities: Option<Vec<Identity>>,
}

/// A one-time code that ties a chat identity to a person with `/link CODE`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// A random code of `len` characters from [`CODE_ALPHABET`].
pub(super) fn random_code(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// How long a link code stays valid.
const LINK_CODE_TTL_HOURS: i64 = 24;
/// Letters and digits that cannot be mistaken for each other when read aloud or retyped.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn email(text: &str) -> Result<String, ValidationError> {
    let text = text.trim();
    let valid = text.len() <= 254
        && text
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !host.contains('@'));
    if valid {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(ValidationError::new(
            "email",
            format!("'{text}' is not an email address"),
        ))
    }
}

fn name(text: &str) -> Result<String, ValidationError> {
    non_blank(Some(text))
        .filter(|n| n.chars().count() <= 200)
        .ok_or_else(|| ValidationError::new("name", "must be 1-200 characters"))
}

/// The agent's role profiles (`prompts/roles/*.md`).
pub const PROFILES: &[&str] = &[
    "project-manager",
    "account-manager",
    "designer",
    "developer",
    "guest",
];

fn profile(text: &str) -> Result<String, ValidationError> {
    let wanted = text.trim().to_ascii_lowercase().replace([' ', '_'], "-");
    PROFILES
        .iter()
        .find(|p| **p == wanted)
        .map(|p| (*p).to_owned())
        .ok_or_else(|| {
            ValidationError::new(
                "profile",
                format!("'{text}' is not one of: {}", PROFILES.join(", ")),
            )
        })
}

fn identities(list: Vec<Identity>) -> Result<Vec<Identity>, ValidationError> {
    list.into_iter()
        .map(|i| {
            let external_id = i.external_id.trim().to_owned();
            if external_id.is_empty() || external_id.len() > 320 {
                return Err(ValidationError::new(
                    "identities",
                    "external_id must be 1-320 characters",
                ));
            }
            Ok(Identity {
                channel: i.channel,
                external_id,
            })
        })
        .collect()
}

impl Workspace {
    pub async fn list_people(&self, actor: &Actor, paging: Paging) -> WsResult<Page<Person>> {
        let _ = actor;
        let (items, total) = self.store.list_people(paging.limit, paging.offset).await?;
        Ok(Page { items, total })
    }

    pub async fn person(&self, actor: &Actor, handle: &str) -> WsResult<Person> {
        let _ = actor;
        let handle =
            Handle::parse(handle).map_err(|_| WorkspaceError::NotFound(super::unknown_handle(handle)))?;
        self.store
            .person_by_handle(handle.as_str())
            .await
            .map_err(|e| WorkspaceError::from_store(e, || super::unknown_handle(handle.as_str())))
    }

    /// The person behind a chat identity, if linked.
    pub async fn person_by_identity(&self, identity: &Identity) -> WsResult<Option<Person>> {
        Ok(self
            .store
            .person_by_identity(identity.channel, &identity.external_id)
            .await?)
    }

    pub(super) async fn manager_id(&self, handle: &str) -> WsResult<i64> {
        let handle = Handle::parse_field(handle, "manager")?;
        match self.store.person_by_handle(handle.as_str()).await {
            Ok(p) => Ok(p.id),
            Err(StoreError::NotFound) => {
                Err(ValidationError::new("manager", super::unknown_handle(handle.as_str())).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn create_person(&self, actor: &Actor, new: NewPerson) -> WsResult<Person> {
        actor.require(actor.is_admin(), "add people")?;
        let timezone = match new.timezone.as_deref() {
            Some(tz) => parse_timezone(tz, "timezone")?.name().to_owned(),
            None => self.default_tz.name().to_owned(),
        };
        let data = PersonData {
            handle: Handle::parse_new(&new.handle)?.into_inner(),
            name: name(&new.name)?,
            email: non_blank(new.email.as_deref()).map(|e| email(&e)).transpose()?,
            timezone,
            role: match new.role.as_deref() {
                Some(r) => Role::parse_field(r, "role")?,
                None => Role::Member,
            },
            manager_id: match non_blank(new.manager.as_deref()) {
                Some(m) => Some(self.manager_id(&m).await?),
                None => None,
            },
            profile: non_blank(new.profile.as_deref())
                .map(|p| profile(&p))
                .transpose()?,
        };
        let identities = identities(new.identities)?;
        self.store
            .create_person(&data, &identities, &actor.audit())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => WorkspaceError::Conflict(format!(
                    "the handle '{}' or one of the identities is already taken",
                    data.handle
                )),
                other => other.into(),
            })
    }

    /// Admins change anyone; a person may change their own name, email and time zone.
    pub async fn update_person(&self, actor: &Actor, handle: &str, update: PersonUpdate) -> WsResult<Person> {
        let current = self.person(actor, handle).await?;
        let is_self = actor.person_id == Some(current.id);
        actor.require(
            actor.is_admin() || (is_self && actor.role != Role::Guest),
            "change this person",
        )?;
        let privileged = update.handle.is_some()
            || update.role.is_some()
            || update.profile != Patch::Keep
            || update.manager != Patch::Keep
            || update.identities.is_some();
        actor.require(
            actor.is_admin() || !privileged,
            "change handles, roles, managers or identities",
        )?;

        let manager_id = match update.manager {
            Patch::Keep => match &current.manager {
                Some(m) => Some(self.manager_id(m).await?),
                None => None,
            },
            Patch::Clear => None,
            Patch::Set(m) => Some(self.manager_id(&m).await?),
        };
        if manager_id == Some(current.id) {
            return Err(ValidationError::new("manager", "a person cannot manage themselves").into());
        }
        let data = PersonData {
            handle: match update.handle {
                Some(h) => Handle::parse_new(&h)?.into_inner(),
                None => current.handle.clone(),
            },
            name: match update.name {
                Some(n) => name(&n)?,
                None => current.name.clone(),
            },
            email: match update.email {
                Patch::Keep => current.email.clone(),
                Patch::Clear => None,
                Patch::Set(e) => Some(email(&e)?),
            },
            timezone: match update.timezone {
                Some(tz) => parse_timezone(&tz, "timezone")?.name().to_owned(),
                None => current.timezone.clone(),
            },
            role: match update.role {
                Some(r) => Role::parse_field(&r, "role")?,
                None => current.role,
            },
            manager_id,
            profile: match update.profile {
                Patch::Keep => current.profile.clone(),
                Patch::Clear => None,
                Patch::Set(p) => Some(profile(&p)?),
            },
        };
        let identities = update.identities.map(identities).transpose()?;
        if data.role != Role::Admin {
            self.keep_an_admin(&current, "stop being one").await?;
        }
        self.store
            .update_person(current.id, &data, identities.as_deref(), &actor.audit())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => WorkspaceError::Conflict(format!(
                    "the handle '{}' or one of the identities is already taken",
                    data.handle
                )),
                other => other.into(),
            })
    }

    pub async fn delete_person(&self, actor: &Actor, handle: &str) -> WsResult<()> {
        actor.require(actor.is_admin(), "remove people")?;
        let current = self.person(actor, handle).await?;
        self.keep_an_admin(&current, "be removed").await?;
        Ok(self.store.delete_person(current.id, &actor.audit()).await?)
    }

    /// Refuses a change by which `person`, when they are the only admin, would `what`: the
    /// team then could not be administered from chat any more.
    async fn keep_an_admin(&self, person: &Person, what: &str) -> WsResult<()> {
        if person.role == Role::Admin && self.store.count_admins().await? <= 1 {
            return Err(WorkspaceError::Conflict(format!(
                "@{} is the only admin and cannot {what}; make someone else an admin first",
                person.handle
            )));
        }
        Ok(())
    }

    /// Makes a one-time code with which a chat identity becomes `handle`'s (admins only).
    pub async fn create_link_code(
        &self,
        actor: &Actor,
        handle: &str,
        now: DateTime<Utc>,
    ) -> WsResult<LinkCode> {
        actor.require(actor.is_admin(), "make link codes")?;
        let person = self.person(actor, handle).await?;
        self.new_link_code(actor, &person, now, Adopt::Nothing).await
    }

    /// A link code for `person` (the caller checked the actor's rights); `adopt`: what the
    /// person takes from whoever redeems it.
    pub(super) async fn new_link_code(
        &self,
        actor: &Actor,
        person: &Person,
        now: DateTime<Utc>,
        adopt: Adopt,
    ) -> WsResult<LinkCode> {
        let code = random_code(8);
        let expires_at = now + Duration::hours(LINK_CODE_TTL_HOURS);
        self.store
            .create_link_code(person.id, &sha256_hex(&code), expires_at, adopt, &actor.audit())
            .await?;
        Ok(LinkCode { code, expires_at })
    }
}
