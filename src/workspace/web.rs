//! Signing in to the web page: a one-time link sent in chat (`/web`) or an API token makes a
//! browser session; the session's actor is read again on every request (a changed role, a
//! removed person or a revoked token takes effect at once). Only hashes of link codes and
//! session ids are stored. Sign-out ends one session or every session of the principal.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::auth::sha256_hex;
use super::{Actor, Workspace, WorkspaceError, WsResult};
use crate::domain::Role;
use crate::store::{NewWebSession, WebSession};

/// How long a sign-in link works.
pub const SIGN_IN_TTL_MINUTES: i64 = 15;
/// How long a browser session lasts.
pub const SESSION_TTL_HOURS: i64 = 7 * 24;
/// The principal of sessions opened with the bootstrap token.
const BOOTSTRAP: &str = "token:bootstrap";

/// A one-time sign-in link's code, shown once.
#[derive(Debug, Clone)]
pub struct SignInCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// A new session: the cookie value (shown once) and until when it works.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie: String,
    pub expires_at: DateTime<Utc>,
}

/// A live session and who it acts as.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    /// `person:ID` or `token:NAME`: whose sessions "sign out everywhere" ends.
    pub principal: String,
    pub actor: Actor,
    /// What every form of this session must carry.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// Whether `token` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        !token.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes()))
    }
}

/// 256 random bits, URL-safe.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Workspace {
    /// A sign-in link's code for the person speaking. Only people sign in with a link: an
    /// unlinked chat identity or a token has nobody to sign in as.
    pub async fn web_sign_in_code(&self, actor: &Actor, now: DateTime<Utc>) -> WsResult<SignInCode> {
        let Some(person_id) = actor.person_id else {
            return Err(WorkspaceError::Forbidden(
                "only a linked person can sign in to the web page".into(),
            ));
        };
        let code = random_secret();
        let expires_at = now + Duration::minutes(SIGN_IN_TTL_MINUTES);
        self.store
            .create_sign_in(&sha256_hex(&code), person_id, expires_at, now)
            .await?;
        Ok(SignInCode { code, expires_at })
    }

    /// Uses a sign-in link's code (once, before it expires) and opens a session.
    pub async fn web_sign_in_with_code(&self, code: &str, now: DateTime<Utc>) -> WsResult<NewSession> {
        let person_id = self
            .store
            .redeem_sign_in(&sha256_hex(code.trim()), now)
            .await?
            .ok_or_else(|| {
                WorkspaceError::NotFound("this sign-in link is unknown, used already or expired".into())
            })?;
        self.open_session(&format!("person:{person_id}"), Some(person_id), None, now)
            .await
    }

    /// Opens a session with an API token (or the bootstrap token); the session has its role.
    pub async fn web_sign_in_with_token(&self, token: &str, now: DateTime<Utc>) -> WsResult<NewSession> {
        let token = token.trim();
        let invalid = || WorkspaceError::NotFound("this token is not valid".into());
        if let Some(bootstrap) = &self.bootstrap_token {
            if !token.is_empty() && bool::from(bootstrap.expose().as_bytes().ct_eq(token.as_bytes())) {
                return self.open_session(BOOTSTRAP, None, None, now).await;
            }
        }
        let found = self
            .store
            .token_by_hash(&sha256_hex(token))
            .await?
            .filter(|t| t.valid_at(now))
            .ok_or_else(invalid)?;
        self.open_session(&format!("token:{}", found.name), None, Some(found.id), now)
            .await
    }

    async fn open_session(
        &self,
        principal: &str,
        person_id: Option<i64>,
        token_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> WsResult<NewSession> {
        let cookie = random_secret();
        let csrf = random_secret();
        let expires_at = now + Duration::hours(SESSION_TTL_HOURS);
        self.store
            .create_web_session(&NewWebSession {
                id_hash: &sha256_hex(&cookie),
                principal,
                person_id,
                token_id,
                csrf: &csrf,
                created_at: now,
                expires_at,
            })
            .await?;
        Ok(NewSession { cookie, expires_at })
    }

    /// The live session behind a cookie value, if any.
    pub async fn web_session(&self, cookie: &str, now: DateTime<Utc>) -> WsResult<Option<Session>> {
        let Some(stored) = self.store.web_session(&sha256_hex(cookie)).await? else {
            return Ok(None);
        };
        if stored.revoked_at.is_some() || stored.expires_at <= now {
            return Ok(None);
        }
        let Some(actor) = self.session_actor(&stored, now).await? else {
            return Ok(None);
        };
        Ok(Some(Session {
            id: stored.id,
            principal: stored.principal,
            actor,
            csrf: stored.csrf,
            expires_at: stored.expires_at,
        }))
    }

    /// Who a stored session acts as now; `None` when that person or token is gone.
    async fn session_actor(&self, stored: &WebSession, now: DateTime<Utc>) -> WsResult<Option<Actor>> {
        let actor = |name: &str, role: Role| Actor {
            name: name.to_owned(),
            role,
            person_id: None,
            channel: "web".into(),
            timezone: self.default_tz,
        };
        if let Some(person_id) = stored.person_id {
            return match self.store.person(person_id).await {
                Ok(person) => Ok(Some(Actor::person(&person, "web", self.default_tz))),
                Err(crate::store::StoreError::NotFound) => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        if let Some(token_id) = stored.token_id {
            let role = self.store.live_token_role(token_id, now).await?;
            return Ok(role.map(|role| actor(&stored.principal, role)));
        }
        if stored.principal == BOOTSTRAP && self.bootstrap_token.is_some() {
            return Ok(Some(actor(BOOTSTRAP, Role::Admin)));
        }
        Ok(None)
    }

    /// Whether `session` still works (not signed out, not expired): long-lived streams ask.
    pub async fn web_session_live(&self, session: &Session, now: DateTime<Utc>) -> WsResult<bool> {
        Ok(self.store.web_session_live(session.id, now).await?)
    }

    /// Ends `session`, or with `everywhere` every session of its principal; how many ended.
    pub async fn web_sign_out(
        &self,
        session: &Session,
        everywhere: bool,
        now: DateTime<Utc>,
    ) -> WsResult<u64> {
        if everywhere {
            Ok(self.store.revoke_web_sessions(&session.principal, now).await?)
        } else {
            self.store.revoke_web_session(session.id, now).await?;
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_url_safe() {
        let (a, b) = (random_secret(), random_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
