//! A generic CRM sync, documented in the README ("Integrations"). In: `POST /webhooks/crm`,
//! signed `X-Coordinator-Signature: sha256=HEX` (HMAC-SHA256 of the raw body with the shared
//! secret), carrying events about CRM objects (deals, contacts, companies…) that a mapping file
//! turns into our projects, tasks and people; each CRM object is linked to the record it made,
//! so a replayed event changes nothing and an update updates. Out: every task and project
//! change is posted, signed the same way, to `CRM_OUTBOUND_URL` through the integration queue.

mod apply;
pub mod inbound;
pub mod mapping;
pub mod outbound;

pub use mapping::{Mapping, Resource};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use super::secrets::SecretError;
use super::Integrations;
use crate::config::Secret;
use crate::domain::ValidationError;
use crate::store::StoreError;
use crate::workspace::Patch;

/// The integration's name: in settings, links, and as the actor of its changes.
pub const NAME: &str = "crm";
/// The header that carries the signature, both ways.
pub const SIGNATURE: &str = "x-coordinator-signature";

/// `sha256=HEX` of the body with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is `sha256=HEX` of the body with `secret`; constant time.
pub fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(expected) = header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(#[from] ValidationError),
}

/// Where to post changes, and the secret that signs them.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub url: String,
    pub secret: Secret,
}

/// A change of the stored settings: absent fields stay, `null` removes the stored value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrmConfigUpdate {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub outbound_url: Patch<String>,
    /// Signs outbound webhooks; stored encrypted.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub outbound_secret: Patch<String>,
    /// Checks inbound webhooks; stored encrypted.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub webhook_secret: Patch<String>,
}

/// The settings in force, without secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrmConfigView {
    pub outbound_url: Option<String>,
    pub outbound_secret_set: bool,
    pub webhook_secret_set: bool,
    /// The mapping file in use; `null` for the built-in mapping.
    pub mapping_file: Option<String>,
    /// The CRM object types the mapping knows, and what each becomes.
    pub objects: std::collections::BTreeMap<String, Resource>,
    pub problems: Vec<String>,
}

impl Integrations {
    /// The secret inbound webhooks are checked with, when one is set.
    pub async fn crm_webhook_secret(&self) -> Result<Option<Secret>, CrmError> {
        let stored = self.settings_store().load(NAME).await?;
        let env = self.shared.crm_env.webhook_secret.clone();
        Ok(stored
            .secret("webhook_secret", self.settings_store().key())?
            .or(env))
    }

    /// Where changes go, when the URL and a secret are set.
    pub async fn crm_outbound(&self) -> Result<Option<Outbound>, CrmError> {
        let env = &self.shared.crm_env;
        let stored = self.settings_store().load(NAME).await?;
        let Some(url) = stored
            .value("outbound_url")
            .map(str::to_owned)
            .or_else(|| env.outbound_url.clone())
        else {
            return Ok(None);
        };
        let key = self.settings_store().key();
        let secret = match stored.secret("outbound_secret", key)? {
            Some(s) => Some(s),
            None => env
                .outbound_secret
                .clone()
                .or(stored.secret("webhook_secret", key)?),
        };
        Ok(secret.map(|secret| Outbound { url, secret }))
    }

    /// The role of the people the CRM creates.
    pub fn crm_people_role(&self) -> crate::domain::Role {
        self.shared.crm_env.people_role
    }

    pub fn crm_mapping(&self) -> &Mapping {
        &self.shared.crm_mapping
    }

    pub async fn crm_config_view(&self) -> Result<CrmConfigView, CrmError> {
        let env = &self.shared.crm_env;
        let stored = self.settings_store().load(NAME).await?;
        let key = self.settings_store().key();
        let mut problems = Vec::new();
        let mut set = |name: &str, env: Option<&Secret>| match stored.secret(name, key) {
            Ok(s) => s.is_some() || env.is_some(),
            Err(e) => {
                problems.push(e.to_string());
                true
            }
        };
        let webhook_secret_set = set("webhook_secret", env.webhook_secret.as_ref());
        let outbound_secret_set = set("outbound_secret", env.outbound_secret.as_ref()) || webhook_secret_set;
        Ok(CrmConfigView {
            outbound_url: stored
                .value("outbound_url")
                .map(str::to_owned)
                .or_else(|| env.outbound_url.clone()),
            outbound_secret_set,
            webhook_secret_set,
            mapping_file: env.mapping_file.as_ref().map(|p| p.display().to_string()),
            objects: self
                .shared
                .crm_mapping
                .objects
                .iter()
                .map(|(k, v)| (k.clone(), v.resource))
                .collect(),
            problems,
        })
    }

    /// Applies `update` to the stored settings (admins only; checked by the caller).
    pub async fn update_crm_config(&self, update: CrmConfigUpdate) -> Result<(), CrmError> {
        let store = self.settings_store();
        match update.outbound_url {
            Patch::Keep => {}
            Patch::Clear => store.set_value(NAME, "outbound_url", None).await?,
            Patch::Set(url) => match reqwest::Url::parse(url.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {
                    store.set_value(NAME, "outbound_url", Some(url.trim())).await?
                }
                _ => return Err(ValidationError::new("outbound_url", "is not an http(s) URL").into()),
            },
        }
        for (name, value) in [
            ("outbound_secret", update.outbound_secret),
            ("webhook_secret", update.webhook_secret),
        ] {
            match value {
                Patch::Keep => {}
                Patch::Clear => store.set_secret(NAME, name, None).await?,
                Patch::Set(v) if v.trim().is_empty() => {
                    return Err(ValidationError::new(name, "must not be empty").into())
                }
                Patch::Set(v) => store.set_secret(NAME, name, Some(v.trim())).await?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip() {
        let sig = sign("shared", br#"{"type":"deal.created"}"#);
        assert!(sig.starts_with("sha256="));
        assert!(verify("shared", br#"{"type":"deal.created"}"#, &sig));
        assert!(!verify("shared", br#"{"type":"deal.deleted"}"#, &sig));
        assert!(!verify("other", br#"{"type":"deal.created"}"#, &sig));
        assert!(!verify("shared", b"{}", "sha256=zz"));
        assert!(!verify("shared", b"{}", "md5=00"));
    }
}
