//! The team administered from chat: the first admin claims the bot with the code `serve`
//! prints, admins invite people (a person and a link code), change roles and remove people,
//! and everyone sees the team and sets their own time zone and quiet hours. Each operation
//! checks the actor's rights here, as the REST API's do.

use chrono::{DateTime, Duration, Utc};

use super::auth::sha256_hex;
use super::newcomers::{identity_audit, Newcomer};
use super::people::random_code;
use super::{Actor, LinkCode, NewPerson, PersonUpdate, Workspace, WorkspaceError, WsResult};
use crate::domain::{Channel, Handle, Identity, Person, Role};
use crate::store::{Adopt, PendingInvite, PersonData, QuietHours, StoreError};

/// How long the claim code works after a start.
const CLAIM_CODE_TTL_HOURS: i64 = 24;
/// Characters of a claim code: it makes an admin, so longer than a link code (60 bits).
const CLAIM_CODE_LEN: usize = 12;
/// The most people `/people` lists.
const TEAM_LIMIT: i64 = 500;

/// A one-time claim code, as `serve` prints it.
#[derive(Debug, Clone)]
pub struct ClaimCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// What `/invite` made: the person (new or not) and the code they link a chat with.
#[derive(Debug, Clone)]
pub struct Invite {
    pub person: Person,
    pub code: LinkCode,
    /// The person did not exist before the invite.
    pub created: bool,
}

/// The team as a member sees it; admins also see the invites still open.
#[derive(Debug, Clone)]
pub struct Team {
    pub people: Vec<Person>,
    /// `None` for anyone but admins.
    pub pending: Option<Vec<PendingInvite>>,
}

/// Who was removed, and how many of their open tasks now have no assignee.
#[derive(Debug, Clone)]
pub struct Removed {
    pub person: Person,
    pub open_tasks: i64,
}

impl Workspace {
    /// At a start while no person is an admin: a fresh claim code, which replaces the one of
    /// the previous start. `None` (and no code kept) once someone is an admin.
    pub async fn start_claim(&self, now: DateTime<Utc>) -> WsResult<Option<ClaimCode>> {
        if self.store.count_admins().await? > 0 {
            self.store.clear_claim_code().await?;
            return Ok(None);
        }
        let code = random_code(CLAIM_CODE_LEN);
        let expires_at = now + Duration::hours(CLAIM_CODE_TTL_HOURS);
        self.store
            .replace_claim_code(&sha256_hex(&code), expires_at)
            .await?;
        Ok(Some(ClaimCode { code, expires_at }))
    }

    /// `/claim CODE`: the chat identity's person (made from `newcomer` when the identity is
    /// nobody's yet) becomes the first admin, and the code stops working. `NotFound` for an
    /// unknown, used or expired code; `Conflict` when someone is an admin already.
    pub async fn claim(
        &self,
        identity: &Identity,
        newcomer: &Newcomer,
        code: &str,
        now: DateTime<Utc>,
    ) -> WsResult<Person> {
        let code = code.trim().to_ascii_uppercase();
        let handle = self.free_handle(newcomer).await?;
        let data = PersonData {
            name: newcomer.name().unwrap_or_else(|| handle.clone()),
            handle,
            email: (identity.channel == Channel::Email).then(|| identity.external_id.to_ascii_lowercase()),
            timezone: self.default_tz.name().to_owned(),
            role: Role::Admin,
            manager_id: None,
            profile: None,
        };
        self.store
            .redeem_claim_code(
                &sha256_hex(&code),
                identity,
                &data,
                now,
                &identity_audit(identity),
            )
            .await
            .map_err(|e| match e {
                StoreError::NotFound => {
                    WorkspaceError::NotFound("that code is unknown, already used or expired".into())
                }
                StoreError::Conflict(_) => {
                    WorkspaceError::Conflict("this bot already has an admin; ask them to /invite you".into())
                }
                other => other.into(),
            })
    }

    /// `/invite [@handle] [role]` (admins): the person `handle` (made when missing; a known
    /// person takes `role` when given), or with no handle a new person who takes the name and
    /// handle of whoever redeems the code; and a fresh link code for them.
    pub async fn invite(
        &self,
        actor: &Actor,
        handle: Option<&Handle>,
        role: Option<Role>,
        now: DateTime<Utc>,
    ) -> WsResult<Invite> {
        actor.require_admin("invite people")?;
        let (person, created, adopt) = match handle {
            Some(handle) => match self.store.person_by_handle(handle.as_str()).await {
                Ok(known) => {
                    let person = match role {
                        Some(role) if role != known.role => self.set_role(actor, &known.handle, role).await?,
                        _ => known,
                    };
                    (person, false, Adopt::Nothing)
                }
                Err(StoreError::NotFound) => {
                    let person = self.new_invitee(actor, handle.as_str(), role).await?;
                    (person, true, Adopt::Name)
                }
                Err(e) => return Err(e.into()),
            },
            None => {
                let handle = format!("invitee-{}", random_code(4).to_ascii_lowercase());
                let person = self.new_invitee(actor, &handle, role).await?;
                (person, true, Adopt::NameAndHandle)
            }
        };
        let code = self.new_link_code(actor, &person, now, adopt).await?;
        Ok(Invite {
            person,
            code,
            created,
        })
    }

    async fn new_invitee(&self, actor: &Actor, handle: &str, role: Option<Role>) -> WsResult<Person> {
        let new = NewPerson {
            handle: handle.to_owned(),
            name: handle.to_owned(),
            role: Some(role.unwrap_or(Role::Member).as_str().to_owned()),
            ..NewPerson::default()
        };
        self.create_person(actor, new).await
    }

    /// `/people`: everyone, for members and admins (guests do not see the team); admins also
    /// see the invites not used yet.
    pub async fn team(&self, actor: &Actor, now: DateTime<Utc>) -> WsResult<Team> {
        actor.require_member("see the team")?;
        let (people, _) = self.store.list_people(TEAM_LIMIT, 0).await?;
        let pending = if actor.is_admin() {
            Some(self.store.pending_invites(now).await?)
        } else {
            None
        };
        Ok(Team { people, pending })
    }

    /// `/role @handle ROLE` (admins); the only admin stays one.
    pub async fn set_role(&self, actor: &Actor, handle: &str, role: Role) -> WsResult<Person> {
        actor.require_admin("change roles")?;
        let update = PersonUpdate {
            role: Some(role.as_str().to_owned()),
            ..PersonUpdate::default()
        };
        self.update_person(actor, handle, update).await
    }

    /// `/remove @handle` (admins): the person and their chat identities go, so they can no
    /// longer use the bot; their tasks stay, without an assignee (as `DELETE /api/people`).
    pub async fn remove_person(&self, actor: &Actor, handle: &str) -> WsResult<Removed> {
        actor.require_admin("remove people")?;
        let person = self.person(actor, handle).await?;
        let open_tasks = self.store.open_tasks_of(person.id).await?;
        self.delete_person(actor, &person.handle).await?;
        Ok(Removed { person, open_tasks })
    }

    /// A person's quiet hours (admins, or the person).
    pub async fn quiet_hours(&self, actor: &Actor, person: &Person) -> WsResult<QuietHours> {
        actor.require(
            actor.is_admin() || actor.person_id == Some(person.id),
            "see these quiet hours",
        )?;
        Ok(self.store.quiet_hours(person.id).await?)
    }

    /// `/tz ZONE`: the person's time zone (admins, or the person).
    pub async fn set_timezone(&self, actor: &Actor, handle: &str, zone: &str) -> WsResult<Person> {
        let update = PersonUpdate {
            timezone: Some(zone.to_owned()),
            ..PersonUpdate::default()
        };
        self.update_person(actor, handle, update).await
    }
}
