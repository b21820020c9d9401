//! The Zendesk settings in force: those stored through `PUT /integrations/zendesk/config`
//! (secrets encrypted) over the environment's (`ZENDESK_*`). Secrets are never shown: the
//! view says whether each is set.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ZendeskError, NAME};
use crate::config::Secret;
use crate::domain::ValidationError;
use crate::integrations::secrets::{SecretError, StoredConfig};
use crate::integrations::Integrations;
use crate::workspace::Patch;

/// What the sync needs to call Zendesk, and its rules.
#[derive(Debug, Clone)]
pub struct ZendeskConfig {
    pub api_url: String,
    pub email: String,
    pub api_token: Secret,
    /// Tickets with this tag become tasks.
    pub task_tag: Option<String>,
    /// Tickets with one of these priorities become tasks.
    pub task_priorities: Vec<String>,
    /// Where tasks made from tickets go.
    pub project_id: Option<i64>,
}

/// A change of the stored settings: absent fields stay, `null` removes the stored value (the
/// environment's applies again).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZendeskConfigUpdate {
    /// The subdomain: `acme` for https://acme.zendesk.com (or give `api_url`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub domain: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub api_url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    /// Stored encrypted; never shown again.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub api_token: Patch<String>,
    /// The webhook's signing secret; stored encrypted.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub webhook_secret: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub task_tag: Patch<String>,
    /// e.g. `["urgent", "high"]`
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub task_priorities: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub project_id: Patch<i64>,
}

/// The settings in force, without secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZendeskConfigView {
    /// The API base and credentials are all there.
    pub configured: bool,
    pub api_url: Option<String>,
    pub email: Option<String>,
    pub api_token_set: bool,
    pub webhook_secret_set: bool,
    pub task_tag: Option<String>,
    pub task_priorities: Vec<String>,
    pub project_id: Option<i64>,
    /// What keeps the settings from working (e.g. a secret that cannot be decrypted).
    pub problems: Vec<String>,
}

/// The stored value `name`, else the environment's.
fn pick(stored: &StoredConfig, name: &str, env: Option<&String>) -> Option<String> {
    stored.value(name).map(str::to_owned).or_else(|| env.cloned())
}

impl Integrations {
    fn zendesk_secret(
        &self,
        stored: &StoredConfig,
        name: &str,
        env: Option<&Secret>,
    ) -> Result<Option<Secret>, SecretError> {
        match stored.secret(name, self.settings_store().key())? {
            Some(s) => Ok(Some(s)),
            None => Ok(env.cloned()),
        }
    }

    /// The settings in force; `NotConfigured` names what is missing.
    pub async fn zendesk_config(&self) -> Result<ZendeskConfig, ZendeskError> {
        let env = &self.shared.zendesk_env;
        let stored = self.settings_store().load(NAME).await?;
        let api_url = pick(&stored, "api_url", env.api_url.as_ref())
            .ok_or_else(|| ZendeskError::NotConfigured("set ZENDESK_DOMAIN or ZENDESK_API_URL".into()))?;
        let email = pick(&stored, "email", env.email.as_ref())
            .ok_or_else(|| ZendeskError::NotConfigured("set ZENDESK_EMAIL".into()))?;
        let api_token = self
            .zendesk_secret(&stored, "api_token", env.api_token.as_ref())?
            .ok_or_else(|| ZendeskError::NotConfigured("set ZENDESK_API_TOKEN".into()))?;
        let task_priorities = match stored.value("task_priorities") {
            Some(list) => crate::config::zendesk_priorities(list).unwrap_or_default(),
            None => env.task_priorities.clone(),
        };
        Ok(ZendeskConfig {
            api_url,
            email,
            api_token,
            task_tag: pick(&stored, "task_tag", env.task_tag.as_ref()),
            task_priorities,
            project_id: match stored.value("project_id") {
                Some(v) => v.parse().ok(),
                None => env.project_id,
            },
        })
    }

    /// The signing secret of Zendesk's webhook, when one is set.
    pub async fn zendesk_webhook_secret(&self) -> Result<Option<Secret>, ZendeskError> {
        let stored = self.settings_store().load(NAME).await?;
        Ok(self.zendesk_secret(
            &stored,
            "webhook_secret",
            self.shared.zendesk_env.webhook_secret.as_ref(),
        )?)
    }

    pub async fn zendesk_config_view(&self) -> Result<ZendeskConfigView, ZendeskError> {
        let env = &self.shared.zendesk_env;
        let stored = self.settings_store().load(NAME).await?;
        let mut problems = Vec::new();
        let mut secret_set = |name: &str, env: Option<&Secret>| match self.zendesk_secret(&stored, name, env)
        {
            Ok(s) => s.is_some(),
            Err(e) => {
                problems.push(e.to_string());
                true
            }
        };
        let api_token_set = secret_set("api_token", env.api_token.as_ref());
        let webhook_secret_set = secret_set("webhook_secret", env.webhook_secret.as_ref());
        let config = self.zendesk_config().await;
        if let Err(ZendeskError::NotConfigured(missing)) = &config {
            problems.push(format!("Zendesk is not configured: {missing}"));
        }
        problems.dedup();
        let (task_priorities, project_id) = match &config {
            Ok(c) => (c.task_priorities.clone(), c.project_id),
            Err(_) => (env.task_priorities.clone(), env.project_id),
        };
        Ok(ZendeskConfigView {
            configured: config.is_ok(),
            api_url: pick(&stored, "api_url", env.api_url.as_ref()),
            email: pick(&stored, "email", env.email.as_ref()),
            api_token_set,
            webhook_secret_set,
            task_tag: pick(&stored, "task_tag", env.task_tag.as_ref()),
            task_priorities,
            project_id,
            problems,
        })
    }

    /// Applies `update` to the stored settings (admins only; checked by the caller).
    pub async fn update_zendesk_config(&self, update: ZendeskConfigUpdate) -> Result<(), ZendeskError> {
        let store = self.settings_store();
        let api_url = match (update.domain, update.api_url) {
            (Patch::Set(_), Patch::Set(_)) => {
                return Err(invalid("api_url", "give either domain or api_url, not both"));
            }
            (Patch::Set(domain), _) => Patch::Set(format!(
                "https://{}.zendesk.com",
                subdomain(&domain)
                    .ok_or_else(|| invalid("domain", "is not a Zendesk subdomain such as acme"))?
            )),
            (_, Patch::Set(url)) => match reqwest::Url::parse(url.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {
                    Patch::Set(url.trim().trim_end_matches('/').to_owned())
                }
                _ => return Err(invalid("api_url", "is not an http(s) URL")),
            },
            (Patch::Clear, _) | (_, Patch::Clear) => Patch::Clear,
            (Patch::Keep, Patch::Keep) => Patch::Keep,
        };
        let priorities = match update.task_priorities {
            Patch::Set(list) => Patch::Set(
                crate::config::zendesk_priorities(&list.join(","))
                    .map_err(|m| invalid("task_priorities", &m))?
                    .join(","),
            ),
            Patch::Clear => Patch::Clear,
            Patch::Keep => Patch::Keep,
        };
        let project_id = match update.project_id {
            Patch::Set(id) if id <= 0 => return Err(invalid("project_id", "is not a project id")),
            Patch::Set(id) => Patch::Set(id.to_string()),
            Patch::Clear => Patch::Clear,
            Patch::Keep => Patch::Keep,
        };
        let email = match update.email {
            Patch::Set(e) if !e.contains('@') => return Err(invalid("email", "is not an email address")),
            other => other,
        };
        for (name, value) in [
            ("api_url", api_url),
            ("email", email),
            ("task_tag", update.task_tag),
            ("task_priorities", priorities),
            ("project_id", project_id),
        ] {
            match value {
                Patch::Keep => {}
                Patch::Clear => store.set_value(NAME, name, None).await?,
                Patch::Set(v) => store.set_value(NAME, name, Some(v.trim())).await?,
            }
        }
        for (name, value) in [
            ("api_token", update.api_token),
            ("webhook_secret", update.webhook_secret),
        ] {
            match value {
                Patch::Keep => {}
                Patch::Clear => store.set_secret(NAME, name, None).await?,
                Patch::Set(v) if v.trim().is_empty() => return Err(invalid(name, "must not be empty")),
                Patch::Set(v) => store.set_secret(NAME, name, Some(v.trim())).await?,
            }
        }
        Ok(())
    }
}

fn invalid(field: &str, message: &str) -> ZendeskError {
    ZendeskError::Workspace(ValidationError::new(field, message).into())
}

fn subdomain(text: &str) -> Option<String> {
    let name = text.trim().trim_end_matches(".zendesk.com").to_ascii_lowercase();
    let ok =
        !name.is_empty() && name.len() <= 63 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    ok.then_some(name)
}
