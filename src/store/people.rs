//! People, their chat identities (one person, many channels), managers and one-time link codes.

use chrono::{DateTime, Utc};

use super::audit::record_audit;

/// Links `$identity` to person `$person` inside the transaction `$tx`.
macro_rules! insert_identity {
    ($tx:expr, $person:expr, $identity:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO identities (person_id, channel, external_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind($person)
        .bind($identity.channel.as_str())
        .bind(&$identity.external_id)
        .bind($at)
        .execute(&mut *$tx)
        .await?
    };
}
use super::{dispatch, dispatch_write, now, AuditEntry, Store, StoreError, StoreResult};
use crate::domain::{Channel, Identity, Person};
pub(crate) use insert_identity;

/// What a person made for an invitee takes from whoever redeems their link code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adopt {
    /// Nothing: the person was known before the invite.
    Nothing,
    /// Their name (the invite named only a handle).
    Name,
    /// Their name and, when it is free, their handle (the invite named nobody).
    NameAndHandle,
}

impl Adopt {
    fn as_i32(self) -> i32 {
        match self {
            Adopt::Nothing => 0,
            Adopt::Name => 1,
            Adopt::NameAndHandle => 2,
        }
    }

    fn from_i32(value: i32) -> Self {
        match value {
            1 => Adopt::Name,
            2 => Adopt::NameAndHandle,
            _ => Adopt::Nothing,
        }
    }
}

/// The writable fields of a person, already validated.
#[derive(Debug, Clone)]
pub struct PersonData {
    pub handle: String,
    pub name: String,
    pub email: Option<String>,
    pub timezone: String,
    pub role: crate::domain::Role,
    pub manager_id: Option<i64>,
    pub profile: Option<String>,
}

#[derive(sqlx::FromRow)]
struct PersonRow {
    id: i64,
    handle: String,
    name: String,
    email: Option<String>,
    timezone: String,
    role: String,
    manager: Option<String>,
    profile: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct IdentityRow {
    person_id: i64,
    channel: String,
    external_id: String,
}

/// A person's columns, then where they come from (`SELECT` is both).
macro_rules! person_columns {
    () => {
        "SELECT p.id, p.handle, p.name, p.email, p.timezone, p.role, \
         m.handle AS manager, p.profile, p.created_at, p.updated_at"
    };
}
macro_rules! person_from {
    () => {
        " FROM people p LEFT JOIN people m ON m.id = p.manager_id"
    };
}
const SELECT: &str = concat!(person_columns!(), person_from!());
/// A person with each of their identities, one row per identity, found by one of them (`$1`
/// channel, `$2` external id): the speaker of every message, in one statement.
const BY_IDENTITY: &str = concat!(
    person_columns!(),
    ", o.channel AS identity_channel, o.external_id AS identity_external_id",
    person_from!(),
    " JOIN identities i ON i.person_id = p.id AND i.channel = $1 AND i.external_id = $2 \
     JOIN identities o ON o.person_id = p.id ORDER BY o.id"
);

#[derive(sqlx::FromRow)]
struct PersonIdentityRow {
    #[sqlx(flatten)]
    person: PersonRow,
    identity_channel: String,
    identity_external_id: String,
}

impl Store {
    async fn with_identities(&self, rows: Vec<PersonRow>) -> StoreResult<Vec<Person>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let identities: Vec<IdentityRow> = dispatch!(self, |p| {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT person_id, channel, external_id FROM identities WHERE person_id IN (",
            );
            let mut list = qb.separated(", ");
            for id in &ids {
                list.push_bind(*id);
            }
            qb.push(") ORDER BY id");
            qb.build_query_as::<IdentityRow>().fetch_all(p).await?
        });
        rows.into_iter()
            .map(|r| {
                let id = r.id;
                let mine = identities
                    .iter()
                    .filter(move |i| i.person_id == id)
                    .map(|i| (i.channel.as_str(), i.external_id.as_str()));
                person(r, mine)
            })
            .collect()
    }

    async fn person_where(&self, clause: &str, value: &str) -> StoreResult<Person> {
        let sql = format!("{SELECT} WHERE {clause}");
        let row = dispatch!(self, |p| sqlx::query_as::<_, PersonRow>(&sql)
            .bind(value)
            .fetch_one(p)
            .await)?;
        self.with_identities(vec![row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    pub async fn person_by_handle(&self, handle: &str) -> StoreResult<Person> {
        self.person_where("p.handle = $1", handle).await
    }

    pub async fn person(&self, id: i64) -> StoreResult<Person> {
        let sql = format!("{SELECT} WHERE p.id = $1");
        let row = dispatch!(self, |p| sqlx::query_as::<_, PersonRow>(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?;
        self.with_identities(vec![row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    pub async fn list_people(&self, limit: i64, offset: i64) -> StoreResult<(Vec<Person>, i64)> {
        let sql = format!("{SELECT} ORDER BY p.id LIMIT $1 OFFSET $2");
        let (rows, total) = dispatch!(self, |p| {
            let rows = sqlx::query_as::<_, PersonRow>(&sql)
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await?;
            let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM people").fetch_one(p).await?;
            (rows, total)
        });
        Ok((self.with_identities(rows).await?, total))
    }

    /// The person a chat identity belongs to, if anyone linked it.
    pub async fn person_by_identity(
        &self,
        channel: Channel,
        external_id: &str,
    ) -> StoreResult<Option<Person>> {
        let rows = dispatch!(self, |p| sqlx::query_as::<_, PersonIdentityRow>(BY_IDENTITY)
            .bind(channel.as_str())
            .bind(external_id)
            .fetch_all(p)
            .await)?;
        let identities: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.identity_channel.clone(), r.identity_external_id.clone()))
            .collect();
        let Some(first) = rows.into_iter().next() else {
            return Ok(None);
        };
        let mine = identities.iter().map(|(c, e)| (c.as_str(), e.as_str()));
        person(first.person, mine).map(Some)
    }

    /// Creates a person with the given identities; a taken handle or identity is a conflict.
    pub async fn create_person(
        &self,
        data: &PersonData,
        identities: &[Identity],
        by: &AuditEntry,
    ) -> StoreResult<Person> {
        let at = now();
        let id: i64 = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO people (handle, name, email, timezone, role, manager_id, profile, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $8, $7, $7) RETURNING id",
            )
            .bind(&data.handle)
            .bind(&data.name)
            .bind(&data.email)
            .bind(&data.timezone)
            .bind(data.role.as_str())
            .bind(data.manager_id)
            .bind(at)
            .bind(&data.profile)
            .fetch_one(&mut *tx)
            .await?;
            for identity in identities {
                insert_identity!(tx, id, identity, at);
            }
            record_audit!(
                tx,
                by,
                "person.create",
                "person",
                id,
                serde_json::json!({"handle": data.handle})
            );
            tx.commit().await?;
            id
        });
        self.person(id).await
    }

    /// Replaces a person's fields and, when `identities` is given, their identities.
    pub async fn update_person(
        &self,
        id: i64,
        data: &PersonData,
        identities: Option<&[Identity]>,
        by: &AuditEntry,
    ) -> StoreResult<Person> {
        let at = now();
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let done = sqlx::query(
                "UPDATE people SET handle = $1, name = $2, email = $3, timezone = $4, role = $5, \
                 manager_id = $6, updated_at = $7, profile = $9 WHERE id = $8",
            )
            .bind(&data.handle)
            .bind(&data.name)
            .bind(&data.email)
            .bind(&data.timezone)
            .bind(data.role.as_str())
            .bind(data.manager_id)
            .bind(at)
            .bind(id)
            .bind(&data.profile)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            if let Some(identities) = identities {
                sqlx::query("DELETE FROM identities WHERE person_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                for identity in identities {
                    insert_identity!(tx, id, identity, at);
                }
            }
            record_audit!(
                tx,
                by,
                "person.update",
                "person",
                id,
                serde_json::json!({"handle": data.handle})
            );
            tx.commit().await?;
        });
        self.person(id).await
    }

    pub async fn delete_person(&self, id: i64, by: &AuditEntry) -> StoreResult<()> {
        self.delete_audited(super::audit::Deletable::Person, id, by).await
    }

    /// Stores a one-time link code (its hash) for a person, and what the person takes from
    /// whoever redeems it.
    pub async fn create_link_code(
        &self,
        person_id: i64,
        code_hash: &str,
        expires_at: DateTime<Utc>,
        adopt: Adopt,
        by: &AuditEntry,
    ) -> StoreResult<()> {
        dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            sqlx::query(
                "INSERT INTO link_codes (code_hash, person_id, expires_at, adopt_sender) VALUES ($1, $2, $3, $4)",
            )
            .bind(code_hash)
            .bind(person_id)
            .bind(expires_at)
            .bind(adopt.as_i32())
            .execute(&mut *tx)
            .await?;
            record_audit!(
                tx,
                by,
                "person.link_code",
                "person",
                person_id,
                serde_json::json!({})
            );
            tx.commit().await?;
        });
        Ok(())
    }

    /// Uses a link code: ties the chat identity to the code's person, once. `NotFound` when the
    /// code is unknown, used or expired; `Conflict` when the identity belongs to someone else.
    /// Also says what the person takes from the redeemer.
    pub async fn redeem_link_code(
        &self,
        code_hash: &str,
        identity: &Identity,
        at: DateTime<Utc>,
        by: &AuditEntry,
    ) -> StoreResult<(Person, Adopt)> {
        let (person_id, adopt): (i64, i32) = dispatch_write!(self, |p| {
            let mut tx = crate::store::begin_write(p).await?;
            let claimed: Option<(i64, i32)> = sqlx::query_as(
                "UPDATE link_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
                 AND expires_at > $1 RETURNING person_id, adopt_sender",
            )
            .bind(at)
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((person_id, adopt)) = claimed else {
                return Err(StoreError::NotFound);
            };
            let owner: Option<(i64,)> =
                sqlx::query_as("SELECT person_id FROM identities WHERE channel = $1 AND external_id = $2")
                    .bind(identity.channel.as_str())
                    .bind(&identity.external_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match owner {
                Some((owner,)) if owner != person_id => {
                    return Err(StoreError::Conflict(
                        "this chat identity is already linked to someone else".into(),
                    ))
                }
                Some(_) => {}
                None => {
                    insert_identity!(tx, person_id, identity, at);
                }
            }
            let detail =
                serde_json::json!({"channel": identity.channel, "external_id": identity.external_id});
            record_audit!(tx, by, "person.link", "person", person_id, detail);
            tx.commit().await?;
            (person_id, adopt)
        });
        Ok((self.person(person_id).await?, Adopt::from_i32(adopt)))
    }
}

/// A person from their row and their identities (channel, external id), in order.
fn person<'a>(r: PersonRow, identities: impl Iterator<Item = (&'a str, &'a str)>) -> StoreResult<Person> {
    let bad = |e: String| StoreError::Other(format!("person {}: {e}", r.id));
    let identities = identities
        .map(|(channel, external_id)| {
            Ok(Identity {
                channel: channel.parse().map_err(|e| bad(format!("{e}")))?,
                external_id: external_id.to_owned(),
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(Person {
        role: r.role.parse().map_err(|e| bad(format!("{e}")))?,
        id: r.id,
        handle: r.handle,
        name: r.name,
        email: r.email,
        timezone: r.timezone,
        manager: r.manager,
        profile: r.profile,
        identities,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}
