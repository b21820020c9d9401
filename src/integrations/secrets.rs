//! Integration settings kept in the database, with their secrets sealed by
//! `COORDINATOR_SECRET_KEY`: AES-256-GCM, a fresh random 96-bit nonce per value, stored as
//! nonce || ciphertext (with its tag). The setting's name is the associated data, so a sealed
//! value moved to another setting does not open. The key and the secrets never reach a log or
//! an API answer; a wrong key is a clear error, never a panic.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;

use crate::config::Secret;
use crate::store::{Store, StoreError};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("storing {0} needs COORDINATOR_SECRET_KEY (a 32-byte key, base64) to encrypt it")]
    NoKey(String),
    #[error("COORDINATOR_SECRET_KEY must be 32 bytes, base64-encoded")]
    BadKey,
    #[error(
        "the stored {0} cannot be decrypted: COORDINATOR_SECRET_KEY is not the key it was stored \
         with (set the right key, or store the secret again)"
    )]
    WrongKey(String),
    #[error("the stored {0} is encrypted but COORDINATOR_SECRET_KEY is not set")]
    Locked(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The cipher made from `COORDINATOR_SECRET_KEY`. Its `Debug` shows nothing of the key.
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    /// From the base64 text of a 32-byte key.
    pub fn from_base64(key: &Secret) -> Result<Self, SecretError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.expose().trim())
            .map_err(|_| SecretError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SecretError::BadKey);
        }
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
        })
    }

    /// Encrypts `plaintext` for the setting `context` (e.g. `zendesk.api_token`).
    pub fn seal(&self, plaintext: &str, context: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption fails only for messages of gigabytes, which settings never are.
        let sealed = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts what `seal` made for the same `context`.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Secret, SecretError> {
        if sealed.len() <= NONCE_LEN {
            return Err(SecretError::WrongKey(context.to_owned()));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let payload = Payload {
            msg: body,
            aad: context.as_bytes(),
        };
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| SecretError::WrongKey(context.to_owned()))?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SecretError::WrongKey(context.to_owned()))
    }
}

/// The settings of one integration as stored: plain values and (still sealed) secrets.
#[derive(Debug, Default)]
pub struct StoredConfig {
    integration: String,
    values: BTreeMap<String, String>,
    sealed: BTreeMap<String, Vec<u8>>,
}

impl StoredConfig {
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn has_secret(&self, name: &str) -> bool {
        self.sealed.contains_key(name)
    }

    /// The stored secret `name`, decrypted; `Ok(None)` when none is stored.
    pub fn secret(&self, name: &str, key: Option<&SecretBox>) -> Result<Option<Secret>, SecretError> {
        let Some(sealed) = self.sealed.get(name) else {
            return Ok(None);
        };
        let context = format!("{}.{name}", self.integration);
        match key {
            Some(key) => key.open(sealed, &context).map(Some),
            None => Err(SecretError::Locked(context)),
        }
    }
}

/// Reads and writes the stored settings of the integrations.
#[derive(Clone)]
pub struct SettingsStore {
    store: Store,
    key: Option<std::sync::Arc<SecretBox>>,
}

impl SettingsStore {
    pub fn new(store: Store, key: Option<SecretBox>) -> Self {
        Self {
            store,
            key: key.map(std::sync::Arc::new),
        }
    }

    pub fn key(&self) -> Option<&SecretBox> {
        self.key.as_deref()
    }

    pub async fn load(&self, integration: &str) -> Result<StoredConfig, StoreError> {
        let mut config = StoredConfig {
            integration: integration.to_owned(),
            ..StoredConfig::default()
        };
        for row in self.store.integration_settings(integration).await? {
            if let Some(sealed) = row.sealed {
                config.sealed.insert(row.name, sealed);
            } else if let Some(value) = row.value {
                config.values.insert(row.name, value);
            }
        }
        Ok(config)
    }

    /// Stores a plain value; `None` removes it (the environment's value applies again).
    pub async fn set_value(
        &self,
        integration: &str,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        match value {
            Some(v) => {
                self.store
                    .put_integration_setting(integration, name, Some(v), None)
                    .await
            }
            None => self.store.delete_integration_setting(integration, name).await,
        }
    }

    /// Seals and stores a secret; `None` removes it.
    pub async fn set_secret(
        &self,
        integration: &str,
        name: &str,
        secret: Option<&str>,
    ) -> Result<(), SecretError> {
        let Some(secret) = secret else {
            self.store.delete_integration_setting(integration, name).await?;
            return Ok(());
        };
        let context = format!("{integration}.{name}");
        let key = self.key.as_ref().ok_or(SecretError::NoKey(context.clone()))?;
        let sealed = key.seal(secret, &context);
        self.store
            .put_integration_setting(integration, name, None, Some(&sealed))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretBox {
        let text = base64::engine::general_purpose::STANDARD.encode([byte; 32]);
        SecretBox::from_base64(&Secret::new(text)).unwrap()
    }

    #[test]
    fn sealed_values_open_with_the_same_key_and_context_only() {
        let a = key(1);
        let sealed = a.seal("token-123", "zendesk.api_token");
        assert!(!sealed.windows(9).any(|w| w == b"token-123"));
        assert_eq!(
            a.open(&sealed, "zendesk.api_token").unwrap().expose(),
            "token-123"
        );
        // A fresh nonce each time.
        assert_ne!(sealed, a.seal("token-123", "zendesk.api_token"));
        assert!(matches!(
            a.open(&sealed, "crm.outbound_secret"),
            Err(SecretError::WrongKey(_))
        ));
        let err = key(2).open(&sealed, "zendesk.api_token").unwrap_err();
        assert!(err.to_string().contains("COORDINATOR_SECRET_KEY"), "{err}");
        assert!(matches!(
            a.open(&sealed[..5], "zendesk.api_token"),
            Err(SecretError::WrongKey(_))
        ));
    }

    #[test]
    fn keys_must_be_32_bytes_and_never_show() {
        assert!(matches!(
            SecretBox::from_base64(&Secret::new("c2hvcnQ=")),
            Err(SecretError::BadKey)
        ));
        assert_eq!(format!("{:?}", key(3)), "SecretBox([redacted])");
    }
}
