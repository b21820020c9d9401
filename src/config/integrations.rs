//! The settings of the Zendesk and CRM integrations. Each of them can also be set through the
//! API (`PUT /integrations/{zendesk|crm}/config`, stored in the database, secrets encrypted);
//! a stored value wins over the one here.

use std::path::PathBuf;
use std::time::Duration;

use super::catalog::{Group, Setting};
use super::values::Reader;
use super::{ConfigError, Secret};
use crate::domain::Role;

pub(super) const GROUPS: &[Group] = &[
    Group {
        title: "Zendesk",
        settings: &[
            Setting::off(
                "ZENDESK_DOMAIN",
                "the Zendesk subdomain: acme for https://acme.zendesk.com (or ZENDESK_API_URL)",
            ),
            Setting::off("ZENDESK_API_URL", "the API's base URL instead (proxies, tests)"),
            Setting::off("ZENDESK_EMAIL", "the agent the API token belongs to"),
            Setting::off(
                "ZENDESK_API_TOKEN",
                "the API token ({email}/token:{token} authentication)",
            ),
            Setting::off(
                "ZENDESK_WEBHOOK_SECRET",
                "the signing secret of the Zendesk webhook that calls /webhooks/zendesk",
            ),
            Setting::off("ZENDESK_TASK_TAG", "open tickets with this tag become tasks"),
            Setting::off(
                "ZENDESK_TASK_PRIORITIES",
                "open tickets with one of these priorities become tasks, e.g. urgent,high",
            ),
            Setting::off("ZENDESK_PROJECT_ID", "the project tasks made from tickets go to"),
            Setting::default_to(
                "ZENDESK_POLL_INTERVAL",
                "5m",
                "how often the incremental export is read; off leaves it to webhooks",
            ),
        ],
    },
    Group {
        title: "CRM",
        settings: &[
            Setting::off("CRM_WEBHOOK_SECRET", "the shared secret of /webhooks/crm"),
            Setting::off("CRM_OUTBOUND_URL", "where task and project changes are posted"),
            Setting::off(
                "CRM_OUTBOUND_SECRET",
                "signs what is posted (CRM_WEBHOOK_SECRET when unset)",
            ),
            Setting::off(
                "CRM_MAPPING_FILE",
                "which CRM objects become what (see examples/crm-mapping.toml; built in when unset)",
            ),
            Setting::default_to(
                "CRM_PEOPLE_ROLE",
                "guest",
                "the role of people the CRM creates: guest or member",
            ),
        ],
    },
];

/// Zendesk Support: the API (tickets, comments, incremental export) and its webhooks.
#[derive(Debug, Clone, Default)]
pub struct ZendeskSettings {
    /// `https://{ZENDESK_DOMAIN}.zendesk.com`, or `ZENDESK_API_URL` (tests, proxies).
    pub api_url: Option<String>,
    /// The agent the API token belongs to (`ZENDESK_EMAIL`).
    pub email: Option<String>,
    pub api_token: Option<Secret>,
    /// The signing secret of the Zendesk webhook that calls `/webhooks/zendesk`.
    pub webhook_secret: Option<Secret>,
    /// Tickets with this tag become tasks (`ZENDESK_TASK_TAG`).
    pub task_tag: Option<String>,
    /// Tickets with one of these priorities become tasks (`ZENDESK_TASK_PRIORITIES`, e.g.
    /// `urgent,high`).
    pub task_priorities: Vec<String>,
    /// The project tasks made from tickets go to (`ZENDESK_PROJECT_ID`).
    pub project_id: Option<i64>,
    /// How often the incremental export is read; `None` (`off`) leaves it to webhooks and
    /// `POST /integrations/zendesk/sync`.
    pub poll_interval: Option<Duration>,
}

/// A CRM: signed webhooks in, signed webhooks out, objects mapped by a mapping file.
#[derive(Debug, Clone)]
pub struct CrmSettings {
    /// Checks `X-Coordinator-Signature` on `/webhooks/crm` (`CRM_WEBHOOK_SECRET`).
    pub webhook_secret: Option<Secret>,
    /// Where task and project changes are posted (`CRM_OUTBOUND_URL`).
    pub outbound_url: Option<String>,
    /// Signs what is posted (`CRM_OUTBOUND_SECRET`, by default `CRM_WEBHOOK_SECRET`).
    pub outbound_secret: Option<Secret>,
    /// `CRM_MAPPING_FILE`, when set; otherwise the built-in mapping is used. Read (and
    /// checked) by `integrations::crm` when the service is built.
    pub mapping_file: Option<PathBuf>,
    /// The role of people the CRM creates (`CRM_PEOPLE_ROLE`: `guest`, the default, or
    /// `member`; never `admin`: CRM contacts are edited by customers).
    pub people_role: Role,
}

const ZENDESK_PRIORITIES: [&str; 4] = ["urgent", "high", "normal", "low"];

pub(super) fn zendesk(r: &Reader<'_>) -> Result<ZendeskSettings, ConfigError> {
    let api_url = match (r.get("ZENDESK_DOMAIN"), r.get("ZENDESK_API_URL")) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "ZENDESK_API_URL",
                "set either ZENDESK_DOMAIN or ZENDESK_API_URL, not both",
            ))
        }
        (Some(domain), None) => Some(domain_url(&domain)?),
        (None, Some(url)) => {
            reqwest::Url::parse(&url)
                .map_err(|e| ConfigError::new("ZENDESK_API_URL", format!("'{url}' is not a URL ({e})")))?;
            Some(url.trim_end_matches('/').to_owned())
        }
        (None, None) => None,
    };
    let task_priorities = match r.get("ZENDESK_TASK_PRIORITIES") {
        None => Vec::new(),
        Some(list) => priorities(&list).map_err(|bad| ConfigError::new("ZENDESK_TASK_PRIORITIES", bad))?,
    };
    let project_id =
        match r.get("ZENDESK_PROJECT_ID") {
            None => None,
            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError::new("ZENDESK_PROJECT_ID", format!("'{v}' is not a project id"))
            })?),
        };
    let poll_text = r.value("ZENDESK_POLL_INTERVAL");
    let poll_interval = if poll_text.eq_ignore_ascii_case("off") || poll_text == "0" {
        None
    } else {
        Some(
            humantime::parse_duration(&poll_text)
                .ok()
                .filter(|d| *d >= Duration::from_secs(1))
                .ok_or_else(|| {
                    ConfigError::new(
                        "ZENDESK_POLL_INTERVAL",
                        format!("'{poll_text}' is not a duration such as 5m, or off"),
                    )
                })?,
        )
    };
    Ok(ZendeskSettings {
        api_url,
        email: r.get("ZENDESK_EMAIL"),
        api_token: r.get("ZENDESK_API_TOKEN").map(Secret::new),
        webhook_secret: r.get("ZENDESK_WEBHOOK_SECRET").map(Secret::new),
        task_tag: r.get("ZENDESK_TASK_TAG"),
        task_priorities,
        project_id,
        poll_interval,
    })
}

/// `acme` (or `acme.zendesk.com`) → `https://acme.zendesk.com`.
fn domain_url(domain: &str) -> Result<String, ConfigError> {
    let name = domain
        .trim()
        .trim_end_matches(".zendesk.com")
        .to_ascii_lowercase();
    let ok =
        !name.is_empty() && name.len() <= 63 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(format!("https://{name}.zendesk.com"))
    } else {
        Err(ConfigError::new(
            "ZENDESK_DOMAIN",
            format!("'{domain}' is not a Zendesk subdomain such as acme"),
        ))
    }
}

/// A comma-separated list of Zendesk priorities, lowercased; the message names a bad one.
pub(crate) fn priorities(list: &str) -> Result<Vec<String>, String> {
    list.split(',')
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .map(|p| {
            if ZENDESK_PRIORITIES.contains(&p.as_str()) {
                Ok(p)
            } else {
                Err(format!("'{p}' is not one of urgent, high, normal, low"))
            }
        })
        .collect()
}

pub(super) fn crm(r: &Reader<'_>) -> Result<CrmSettings, ConfigError> {
    let outbound_url = match r.get("CRM_OUTBOUND_URL") {
        None => None,
        Some(url) => {
            let parsed = reqwest::Url::parse(&url)
                .map_err(|e| ConfigError::new("CRM_OUTBOUND_URL", format!("'{url}' is not a URL ({e})")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::new("CRM_OUTBOUND_URL", "must be an http(s) URL"));
            }
            Some(url)
        }
    };
    let webhook_secret = r.get("CRM_WEBHOOK_SECRET").map(Secret::new);
    let outbound_secret = r
        .get("CRM_OUTBOUND_SECRET")
        .map(Secret::new)
        .or_else(|| webhook_secret.clone());
    let mapping_file = r.get("CRM_MAPPING_FILE").map(PathBuf::from);
    if let Some(path) = &mapping_file {
        if !path.is_file() {
            return Err(ConfigError::new(
                "CRM_MAPPING_FILE",
                format!("{} is not a readable file", path.display()),
            ));
        }
    }
    let people_role = match r.value("CRM_PEOPLE_ROLE").as_str() {
        "guest" => Role::Guest,
        "member" => Role::Member,
        other => {
            return Err(ConfigError::new(
                "CRM_PEOPLE_ROLE",
                format!("'{other}' is not guest or member"),
            ))
        }
    };
    Ok(CrmSettings {
        people_role,
        webhook_secret,
        outbound_url,
        outbound_secret,
        mapping_file,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    #[test]
    fn zendesk_settings() {
        let s = Settings::with(&[
            ("ZENDESK_DOMAIN", "acme"),
            ("ZENDESK_TASK_PRIORITIES", "Urgent, high"),
        ])
        .unwrap();
        assert_eq!(s.zendesk.api_url.as_deref(), Some("https://acme.zendesk.com"));
        assert_eq!(s.zendesk.task_priorities, ["urgent", "high"]);
        assert_eq!(s.zendesk.poll_interval, Some(std::time::Duration::from_secs(300)));
        let s = Settings::with(&[
            ("ZENDESK_API_URL", "http://127.0.0.1:9/"),
            ("ZENDESK_POLL_INTERVAL", "off"),
        ])
        .unwrap();
        assert_eq!(s.zendesk.api_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(s.zendesk.poll_interval, None);
        for (name, value) in [
            ("ZENDESK_DOMAIN", "not a domain"),
            ("ZENDESK_API_URL", "nowhere"),
            ("ZENDESK_TASK_PRIORITIES", "urgent,asap"),
            ("ZENDESK_PROJECT_ID", "first"),
            ("ZENDESK_POLL_INTERVAL", "often"),
            ("CRM_OUTBOUND_URL", "ftp://crm.example.com/hook"),
            ("CRM_MAPPING_FILE", "/nonexistent/mapping.toml"),
        ] {
            let err = Settings::with(&[(name, value)]).unwrap_err();
            assert_eq!(err.setting, name, "{err}");
        }
    }

    #[test]
    fn crm_outbound_secret_defaults_to_the_webhook_secret() {
        let s = Settings::with(&[("CRM_WEBHOOK_SECRET", "shh")]).unwrap();
        assert_eq!(s.crm.outbound_secret.as_ref().map(|s| s.expose()), Some("shh"));
        assert!(!format!("{s:?}").contains("shh"));
    }
}
