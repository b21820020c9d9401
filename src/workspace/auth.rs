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
        let found = self.store.token_by_hash(&sha256_hex(token)).await?;
        Ok(found.map(|t| Actor {
            name: format!("token:{}", t.name),
            role: t.role,
            person_id: None,
            channel: "api".into(),
            timezone: self.default_tz,
        }))
    }

    /// Makes a token and returns it; it cannot be shown again.
    pub async fn create_token(&self, actor: &Actor, name: &str, role: Role) -> WsResult<String> {
        actor.require(actor.is_admin(), "make API tokens")?;
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(crate::domain::ValidationError::new("name", "must be 1-100 characters").into());
        }
        let token = generate_token();
        self.store
            .create_token(name, &sha256_hex(&token), role, &actor.audit())
            .await?;
        Ok(token)
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
}
