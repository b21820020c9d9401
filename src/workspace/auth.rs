//! API tokens: made, hashed and checked here. A token is shown once; only its SHA-256 is kept.
//! The bootstrap `COORDINATOR_API_TOKEN` is compared in constant time.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Actor, Workspace, WsResult};
use crate::domain::Role;

pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A new random token: `crd_` and 43 characters of URL-safe base64 (256 bits).
fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "crd_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

impl Workspace {
    /// The actor behind a bearer token, if the token is valid.
    pub async fn authenticate(&self, token: &str) -> WsResult<Option<Actor>> {
        if let Some(bootstrap) = &self.bootstrap_token {
            if bool::from(bootstrap.expose().as_bytes().ct_eq(token.as_bytes())) {
                return Ok(Some(Actor {
                    name: "token:bootstrap".into(),
                    role: Role::Admin,
                    person_id: None,
                    channel: "api".into(),
                    timezone: self.default_tz,
                }));
            }
        }
        let now = crate::store::now();
        let Some(found) = self.store.token_by_hash(&sha256_hex(token)).await? else {
            return Ok(None);
        };
        // Revoked and expired tokens stop working at once.
        if !found.valid_at(now) {
            return Ok(None);
        }
        self.note_use(found.id, now).await;
        Ok(Some(Actor {
            name: format!("token:{}", found.name),
            role: found.role,
            person_id: None,
            channel: "api".into(),
            timezone: self.default_tz,
        }))
    }

    /// Records when a token was last used, at most once a minute per token (a write on every
    /// request would be a write lock on every request on SQLite).
    async fn note_use(&self, id: i64, now: chrono::DateTime<chrono::Utc>) {
        let due = {
            let Ok(mut seen) = self.token_uses.lock() else {
                return;
            };
            let due = seen
                .get(&id)
                .is_none_or(|last| last.elapsed() >= std::time::Duration::from_secs(60));
            if due {
                if seen.len() > 10_000 {
                    seen.clear();
                }
                seen.insert(id, std::time::Instant::now());
            }
            due
        };
        if due {
            if let Err(e) = self.store.token_used(id, now).await {
                tracing::debug!(error = %e, "could not note a token's use");
            }
        }
    }

    /// Makes a token and returns it; it cannot be shown again.
    pub async fn create_token(&self, actor: &Actor, name: &str, role: Role) -> WsResult<String> {
        Ok(self.create_token_until(actor, name, role, None).await?.0)
    }

    /// Makes a token that stops working at `expires_at` (never, when `None`); names are unique.
    /// Returns the token (shown once) and how it is listed.
    pub async fn create_token_until(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> WsResult<(String, crate::store::ApiToken)> {
        actor.require(actor.is_admin(), "make API tokens")?;
        let name = token_name(name)?;
        if expires_at.is_some_and(|e| e <= crate::store::now()) {
            return Err(crate::domain::ValidationError::new("expires", "must be in the future").into());
        }
        let token = generate_token();
        let hash = sha256_hex(&token);
        self.store
            .create_token(&name, &hash, role, expires_at, &actor.audit())
            .await?;
        let listed = self
            .store
            .token_by_hash(&hash)
            .await?
            .ok_or_else(|| super::WorkspaceError::Internal("the new token is not stored".into()))?;
        Ok((token, listed))
    }

    /// Every token (admins only): names, roles, dates; never the tokens.
    pub async fn tokens(&self, actor: &Actor) -> WsResult<Vec<crate::store::ApiToken>> {
        actor.require_admin("list API tokens")?;
        Ok(self.store.tokens().await?)
    }

    /// Revokes the token `name` (admins only); it gets 401 from the next request on.
    pub async fn revoke_token(&self, actor: &Actor, name: &str) -> WsResult<()> {
        actor.require_admin("revoke API tokens")?;
        self.store
            .revoke_token(name.trim(), &actor.audit())
            .await
            .map_err(|e| {
                super::WorkspaceError::from_store(e, || format!("no active token is named '{}'", name.trim()))
            })
    }

    /// On the very first start (no stored token and no bootstrap token), makes an admin token
    /// to be printed once.
    pub async fn first_start_token(&self) -> WsResult<Option<String>> {
        if self.bootstrap_token.is_some() || self.store.count_tokens().await? > 0 {
            return Ok(None);
        }
        let token = self
            .create_token(&Actor::system("system"), "initial-admin", Role::Admin)
            .await?;
        Ok(Some(token))
    }
}

/// A token's name: its principal (`token:NAME`), so plain and not the bootstrap token's.
fn token_name(name: &str) -> Result<String, crate::domain::ValidationError> {
    let name = name.trim();
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !plain {
        return Err(crate::domain::ValidationError::new(
            "name",
            "must be 1-64 of A-Z, a-z, 0-9, '_', '.', '-'",
        ));
    }
    if name.eq_ignore_ascii_case("bootstrap") {
        return Err(crate::domain::ValidationError::new(
            "name",
            "'bootstrap' is reserved",
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with("crd_") && a.len() == 47);
        assert_eq!(sha256_hex("x"), sha256_hex("x"));
        assert_eq!(sha256_hex("x").len(), 64);
    }

    #[test]
    fn token_names_are_plain_and_not_the_bootstrap() {
        assert_eq!(token_name(" ci-bot.2 ").unwrap(), "ci-bot.2");
        for bad in ["", "a#b", "two words", "bootstrap", "BOOTSTRAP", &"x".repeat(65)] {
            assert!(token_name(bad).is_err(), "{bad}");
        }
    }
}
