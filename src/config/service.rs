//! The service itself: database, HTTP, local state, access, time, and what the scheduler and
//! the allowances run on.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use chrono_tz::Tz;

use super::catalog::{Group, Setting};
use super::values::{parse_leads, Reader};
use super::{Allowances, ConfigError, DatabaseUrl, Secret, Throughput, DEFAULT_LOG_FILTER};

pub(super) const GROUPS: &[Group] = &[
    Group {
        title: "Service",
        settings: &[
            Setting::default_to(
                "DATABASE_URL",
                "sqlite://data/coordinator.db",
                "sqlite://FILE or postgres://user:pass@host/db",
            ),
            Setting::default_to("COORDINATOR_ADDR", "127.0.0.1:5001", "HTTP listen address (host:port)"),
            Setting::off(
                "COORDINATOR_PUBLIC_URL",
                "the service's public https base, e.g. https://coordinator.example.com; Telegram's webhook is registered at it",
            ),
            Setting::default_to(
                "COORDINATOR_DATA_DIR",
                "data",
                "local state: the SQLite file, the handbook index",
            ),
            Setting::off(
                "COORDINATOR_API_TOKEN",
                "a bootstrap admin token the API accepts (for operators and scripts)",
            ),
            Setting::off(
                "COORDINATOR_METRICS_TOKEN",
                "when set, /metrics needs Authorization: Bearer with it",
            ),
            Setting::off(
                "COORDINATOR_SECRET_KEY",
                "32-byte key, base64 (openssl rand -base64 32), that encrypts stored integration secrets",
            ),
            Setting::default_to(
                "COORDINATOR_TIMEZONE",
                "UTC",
                "default IANA time zone for people without one, e.g. Europe/Berlin",
            ),
            Setting::default_to(
                "COORDINATOR_MAX_BODY_BYTES",
                "1048576",
                "largest accepted request body in bytes (413 beyond)",
            ),
            Setting::default_to(
                "COORDINATOR_OPEN_CHAT",
                "false",
                "true lets chat identities nobody linked use every command (demos only)",
            ),
            Setting::default_to(
                "COORDINATOR_WEB_FEED_POLL",
                "15s",
                "how often an open alerts page looks for news from other replicas (this one's arrive at once)",
            ),
            Setting::default_to("RUST_LOG", DEFAULT_LOG_FILTER, "log filter, e.g. info or debug"),
        ],
    },
    Group {
        title: "Scheduler",
        settings: &[
            Setting::default_to(
                "COORDINATOR_SCHEDULER_TICK",
                "30s",
                "how often the scheduler looks for due work",
            ),
            Setting::default_to(
                "COORDINATOR_REMINDER_LEADS",
                "24h,2h",
                "how long before a due date reminders go out (none: no reminders)",
            ),
            Setting::default_to(
                "COORDINATOR_REPORT_HOUR",
                "9",
                "local hour (in COORDINATOR_TIMEZONE) the scheduled reports go out",
            ),
        ],
    },
    Group {
        title: "Throughput",
        settings: &[
            Setting::default_to(
                "COORDINATOR_INBOX_WORKERS",
                "128",
                "inbound events worked on at once (each chat's events stay in order)",
            ),
            Setting::default_to(
                "TELEGRAM_SENDS_PER_SECOND",
                "30",
                "messages sent to Telegram per second at most, all chats together (Telegram asks for 30)",
            ),
            Setting::default_to(
                "DISCORD_SENDS_PER_SECOND",
                "20",
                "messages sent to Discord per second at most",
            ),
            Setting::default_to(
                "WHATSAPP_SENDS_PER_SECOND",
                "80",
                "messages sent to the WhatsApp Cloud API per second at most (its default tier)",
            ),
            Setting::default_to(
                "EMAIL_SENDS_PER_SECOND",
                "5",
                "mails handed to the SMTP relay per second at most",
            ),
        ],
    },
    Group {
        title: "Allowances",
        settings: &[
            Setting::default_to(
                "COORDINATOR_MESSAGES_PER_MINUTE",
                "30",
                "messages one chat identity may send per minute",
            ),
            Setting::default_to(
                "COORDINATOR_AGENT_TURNS_PER_DAY",
                "300",
                "answers from the language model per chat identity and day",
            ),
            Setting::default_to(
                "COORDINATOR_LLM_TOKENS_PER_DAY",
                "1000000",
                "language-model tokens per chat identity (or API token) and day",
            ),
            Setting::default_to(
                "COORDINATOR_API_REQUESTS_PER_MINUTE",
                "600",
                "requests per API token and minute (429 beyond)",
            ),
        ],
    },
];

/// The settings of this area, checked.
pub(super) struct Service {
    pub database_url: DatabaseUrl,
    pub addr: SocketAddr,
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    pub api_token: Option<Secret>,
    pub metrics_token: Option<Secret>,
    pub secret_key: Option<Secret>,
    pub timezone: Tz,
    pub max_body_bytes: usize,
    pub open_chat: bool,
    pub log_filter: String,
    pub scheduler_tick: Duration,
    pub web_feed_poll: Duration,
    pub reminder_leads: Vec<Duration>,
    pub report_hour: u32,
    pub allowances: Allowances,
    pub throughput: Throughput,
}

pub(super) fn read(r: &Reader<'_>) -> Result<Service, ConfigError> {
    let database_url = r.value("DATABASE_URL");
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if !known.iter().any(|p| database_url.starts_with(p)) {
        return Err(ConfigError::new(
            "DATABASE_URL",
            "must start with sqlite:// or postgres://",
        ));
    }
    let addr_text = r.value("COORDINATOR_ADDR");
    let addr = addr_text
        .parse()
        .map_err(|_| ConfigError::new("COORDINATOR_ADDR", format!("'{addr_text}' is not host:port")))?;
    let tz_text = r.value("COORDINATOR_TIMEZONE");
    let timezone = tz_text.parse::<Tz>().map_err(|_| {
        ConfigError::new(
            "COORDINATOR_TIMEZONE",
            format!("'{tz_text}' is not an IANA time zone"),
        )
    })?;
    let secret_key = r.secret("COORDINATOR_SECRET_KEY");
    if let Some(key) = &secret_key {
        let decoded = base64::engine::general_purpose::STANDARD.decode(key.expose());
        if decoded.map(|b| b.len()) != Ok(32) {
            return Err(ConfigError::new(
                "COORDINATOR_SECRET_KEY",
                "must be 32 bytes, base64-encoded",
            ));
        }
    }
    let leads_text = r.value("COORDINATOR_REMINDER_LEADS");
    let reminder_leads = parse_leads(&leads_text).ok_or_else(|| {
        ConfigError::new(
            "COORDINATOR_REMINDER_LEADS",
            format!("'{leads_text}' is not a list of durations such as 24h,2h (at most 30 days each)"),
        )
    })?;
    let hour_text = r.value("COORDINATOR_REPORT_HOUR");
    let report_hour = hour_text.parse::<u32>().ok().filter(|h| *h < 24).ok_or_else(|| {
        ConfigError::new(
            "COORDINATOR_REPORT_HOUR",
            format!("'{hour_text}' is not an hour from 0 to 23"),
        )
    })?;
    let count = |name: &str| r.number::<u32>(name, 1, "a whole number");
    Ok(Service {
        database_url: DatabaseUrl(database_url),
        addr,
        public_url: public_url(r)?,
        data_dir: r.value("COORDINATOR_DATA_DIR").into(),
        api_token: r.secret("COORDINATOR_API_TOKEN"),
        metrics_token: r.secret("COORDINATOR_METRICS_TOKEN"),
        secret_key,
        timezone,
        max_body_bytes: r.number("COORDINATOR_MAX_BODY_BYTES", 1024, "a byte count")?,
        open_chat: r.flag("COORDINATOR_OPEN_CHAT")?,
        log_filter: r.value("RUST_LOG"),
        scheduler_tick: r.duration("COORDINATOR_SCHEDULER_TICK")?,
        web_feed_poll: r.duration("COORDINATOR_WEB_FEED_POLL")?,
        reminder_leads,
        report_hour,
        allowances: Allowances {
            messages_per_minute: count("COORDINATOR_MESSAGES_PER_MINUTE")?,
            agent_turns_per_day: count("COORDINATOR_AGENT_TURNS_PER_DAY")?,
            llm_tokens_per_day: count("COORDINATOR_LLM_TOKENS_PER_DAY")?,
            api_requests_per_minute: count("COORDINATOR_API_REQUESTS_PER_MINUTE")?,
        },
        throughput: throughput(r)?,
    })
}

fn throughput(r: &Reader<'_>) -> Result<Throughput, ConfigError> {
    let rate = |name: &str| -> Result<NonZeroU32, ConfigError> {
        let n = r.number::<u32>(name, 1, "a whole number of messages per second")?;
        NonZeroU32::new(n).ok_or_else(|| ConfigError::new(name, "must be at least 1"))
    };
    let inbox_workers = r.number::<usize>("COORDINATOR_INBOX_WORKERS", 1, "a whole number of workers")?;
    if inbox_workers > 256 {
        return Err(ConfigError::new(
            "COORDINATOR_INBOX_WORKERS",
            format!("'{inbox_workers}' is too many (at most 256)"),
        ));
    }
    Ok(Throughput {
        inbox_workers,
        telegram_sends_per_second: rate("TELEGRAM_SENDS_PER_SECOND")?,
        discord_sends_per_second: rate("DISCORD_SENDS_PER_SECOND")?,
        whatsapp_sends_per_second: rate("WHATSAPP_SENDS_PER_SECOND")?,
        email_sends_per_second: rate("EMAIL_SENDS_PER_SECOND")?,
    })
}

/// `COORDINATOR_PUBLIC_URL`: an http(s) base, without query or fragment, kept without a
/// trailing `/` so that paths join onto it.
fn public_url(r: &Reader<'_>) -> Result<Option<String>, ConfigError> {
    const NAME: &str = "COORDINATOR_PUBLIC_URL";
    let Some(value) = r.get(NAME) else {
        return Ok(None);
    };
    let bad = || {
        ConfigError::new(
            NAME,
            format!("'{value}' is not an http(s) URL such as https://coordinator.example.com"),
        )
    };
    let url = reqwest::Url::parse(&value).map_err(|_| bad())?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.query().is_none()
        && url.fragment().is_none();
    if !ok {
        return Err(bad());
    }
    Ok(Some(value.trim_end_matches('/').to_owned()))
}
