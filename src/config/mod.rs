//! `Settings`: everything the service can be told, read once at start-up. Sources, weakest
//! first: built-in defaults, the environment (after loading `.env` from the working directory,
//! which never overrides a variable already set), then `coordinator.toml`, as CONTRACT.md says.
//! Nothing else in the crate reads the environment. Secrets never appear in `Debug` output.
//!
//! Every setting is listed once, with its default and what it does, in the module of its area
//! (`service`, `models`, `channels`, `email`, `integrations`), next to the code that checks it;
//! `catalog` gathers the lists (the defaults the readers fall back to, and the commented `.env`
//! of `coordinator init`), and `values` holds the reading helpers they share.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use crate::domain::EmailAddress;

mod catalog;
mod channels;
mod email;
mod files;
mod integrations;
mod models;
mod queues;
mod service;
mod slack;
mod values;

pub use catalog::{env_file, find as find_setting, groups as setting_groups, Group, Setting};
pub use files::S3Settings;
pub(crate) use integrations::priorities as zendesk_priorities;
pub use integrations::{CrmSettings, ZendeskSettings};
pub use queues::{QueueSettings, Retention};
pub use slack::SlackSettings;
use values::{Reader, Source};

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
    /// Where Telegram is told to deliver updates in webhook mode:
    /// `COORDINATOR_PUBLIC_URL/webhooks/telegram`. Unset: the webhook is left as it is.
    pub webhook_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub addr: SocketAddr,
    /// The service's public base (`COORDINATOR_PUBLIC_URL`), without a trailing `/`.
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    pub api_token: Option<Secret>,
    /// When set, `/metrics` needs `Authorization: Bearer` with it (`COORDINATOR_METRICS_TOKEN`).
    pub metrics_token: Option<Secret>,
    pub timezone: Tz,
    pub scheduler_tick: Duration,
    /// How often the web page's live alert stream reads the feed without being woken
    /// (`COORDINATOR_WEB_FEED_POLL`): news recorded by another replica arrives this late.
    pub web_feed_poll: Duration,
    /// Reminders go this long before a due date (`COORDINATOR_REMINDER_LEADS`, e.g. `24h,2h`).
    pub reminder_leads: Vec<Duration>,
    /// The local hour (`COORDINATOR_TIMEZONE`) scheduled reports go out (`COORDINATOR_REPORT_HOUR`).
    pub report_hour: u32,
    pub handbook_dir: PathBuf,
    /// Prompt files that override the built-in ones (`COORDINATOR_PROMPTS_DIR`).
    pub prompts_dir: PathBuf,
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
    /// Largest file kept on a task, in bytes (`FILES_MAX_BYTES`).
    pub files_max_bytes: u64,
    /// Content types kept on tasks, comma-separated (`FILES_ALLOWED_TYPES`).
    pub files_allowed_types: String,
    /// The S3-compatible bucket files on tasks are kept in (`FILES_S3_*`); the data folder when
    /// unset.
    pub files_s3: Option<S3Settings>,
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
    /// How much work runs at once, and how fast each platform is sent to
    /// (`COORDINATOR_INBOX_WORKERS`, `TELEGRAM_SENDS_PER_SECOND`, …).
    pub throughput: Throughput,
    pub secret_key: Option<Secret>,
    pub zendesk: ZendeskSettings,
    pub crm: CrmSettings,
    /// Slack (`SLACK_*`): Web API, Events API signature, Socket Mode.
    pub slack: SlackSettings,
    /// `RUST_LOG`-style filter for the service's logs.
    pub log_filter: String,
    /// Outbox lease, retention, email intake limits.
    pub queues: QueueSettings,
}

/// The log filter without `RUST_LOG`: the handbook's storage engine (LanceDB) narrates every
/// write at info level, which is noise for an operator.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,lance=warn,lance_index=warn,lance_file=warn,\
lance_io=warn,lance_table=warn,lance_encoding=warn,lance_datafusion=warn,lancedb=warn";

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
        source.extend(values::read_toml(Path::new("coordinator.toml"))?);
        Self::from_source(&source)
    }

    /// Builds settings from name → value pairs; used by `load` and by tests.
    pub fn from_source(source: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let r = Reader::new(source);
        let service::Service {
            database_url,
            addr,
            public_url,
            data_dir,
            api_token,
            metrics_token,
            secret_key,
            timezone,
            max_body_bytes,
            open_chat,
            log_filter,
            scheduler_tick,
            web_feed_poll,
            reminder_leads,
            report_hour,
            allowances,
            throughput,
        } = service::read(&r)?;
        let models::Models {
            openai,
            openai_base_url,
            openai_embedding_model,
            openai_transcription_model,
            fallback_openai,
            prompts_dir,
            handbook_dir,
            handbook_embedding_model_dir,
            handbook_model_url,
            voice_max_bytes,
            voice_max_seconds,
            files_max_bytes,
            files_allowed_types,
        } = models::read(&r)?;
        let channels::Channels {
            telegram,
            discord_token,
            discord_application_id,
            discord_public_key,
            discord_api_url,
            discord_guild_id,
            whatsapp_token,
            whatsapp_phone_number_id,
            whatsapp_app_secret,
            whatsapp_verify_token,
            whatsapp_api_url,
            whatsapp_template_name,
            whatsapp_template_language,
            whatsapp_template_text_param,
        } = channels::read(&r, public_url.as_deref())?;
        let email::Email {
            smtp_url,
            imap_url,
            email_from,
            email_imap_poll,
            email_trusted_authserv_id,
            email_dns_server,
        } = email::read(&r)?;
        Ok(Self {
            database_url,
            addr,
            public_url,
            data_dir,
            api_token,
            metrics_token,
            timezone,
            scheduler_tick,
            web_feed_poll,
            reminder_leads,
            report_hour,
            handbook_dir,
            prompts_dir,
            max_body_bytes,
            open_chat,
            openai,
            openai_embedding_model,
            openai_transcription_model,
            voice_max_bytes,
            voice_max_seconds,
            files_max_bytes,
            files_allowed_types,
            files_s3: files::read(&r)?,
            openai_base_url,
            handbook_embedding_model_dir,
            handbook_model_url,
            fallback_openai,
            telegram,
            discord_token,
            discord_application_id,
            discord_public_key,
            discord_api_url,
            discord_guild_id,
            whatsapp_token,
            whatsapp_phone_number_id,
            whatsapp_app_secret,
            whatsapp_verify_token,
            whatsapp_api_url,
            whatsapp_template_name,
            whatsapp_template_language,
            whatsapp_template_text_param,
            smtp_url,
            imap_url,
            email_from,
            email_imap_poll,
            email_trusted_authserv_id,
            email_dns_server,
            allowances,
            throughput,
            secret_key,
            zendesk: integrations::zendesk(&r)?,
            crm: integrations::crm(&r)?,
            slack: slack::read(&r)?,
            log_filter,
            queues: queues::read(&r)?,
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

/// How much work runs at once and how fast each platform is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throughput {
    /// Inbound events worked on at once; each chat's events stay in order.
    pub inbox_workers: usize,
    pub telegram_sends_per_second: std::num::NonZeroU32,
    pub discord_sends_per_second: std::num::NonZeroU32,
    pub whatsapp_sends_per_second: std::num::NonZeroU32,
    pub email_sends_per_second: std::num::NonZeroU32,
}

impl Throughput {
    /// The most messages per second `channel` is sent, all chats together; `None`: the
    /// channel's own limit.
    pub fn sends_per_second(&self, channel: crate::domain::Channel) -> Option<std::num::NonZeroU32> {
        use crate::domain::Channel;
        match channel {
            Channel::Telegram => Some(self.telegram_sends_per_second),
            Channel::Discord => Some(self.discord_sends_per_second),
            Channel::Whatsapp => Some(self.whatsapp_sends_per_second),
            Channel::Email => Some(self.email_sends_per_second),
            _ => None,
        }
    }
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
mod tests;
