//! The chat platforms: Telegram, Discord, WhatsApp (email has its own module).

use super::catalog::{Group, Setting};
use super::values::Reader;
use super::{ConfigError, Secret, TelegramSettings};

pub(super) const GROUPS: &[Group] = &[
    Group {
        title: "Telegram",
        settings: &[
            Setting::off("TELEGRAM_BOT_TOKEN", "enables Telegram: the token @BotFather gives"),
            Setting::default_to(
                "TELEGRAM_API_URL",
                "https://api.telegram.org",
                "Bot API server (self-hosted Bot API servers, tests)",
            ),
            Setting::off(
                "TELEGRAM_WEBHOOK_SECRET",
                "webhook mode when set (1-256 of A-Z a-z 0-9 _ -), registered at COORDINATOR_PUBLIC_URL; long polling when unset",
            ),
        ],
    },
    Group {
        title: "Discord",
        settings: &[
            Setting::off("DISCORD_TOKEN", "enables Discord: the bot token (REST sends, the gateway)"),
            Setting::off(
                "DISCORD_APPLICATION_ID",
                "the application id (slash commands; needed with DISCORD_PUBLIC_KEY)",
            ),
            Setting::off(
                "DISCORD_PUBLIC_KEY",
                "hex Ed25519 key of the application; enables /webhooks/discord",
            ),
            Setting::default_to(
                "DISCORD_API_URL",
                "https://discord.com/api/v10",
                "Discord REST base",
            ),
            Setting::off(
                "DISCORD_GUILD_ID",
                "register the slash commands for this server only (visible at once) instead of globally",
            ),
        ],
    },
    Group {
        title: "WhatsApp (Cloud API)",
        settings: &[
            Setting::off("WHATSAPP_TOKEN", "enables WhatsApp sends: the Cloud API access token"),
            Setting::off("WHATSAPP_PHONE_NUMBER_ID", "the id of the bot's phone number"),
            Setting::off(
                "WHATSAPP_APP_SECRET",
                "the app secret that signs /webhooks/whatsapp (X-Hub-Signature-256)",
            ),
            Setting::off(
                "WHATSAPP_VERIFY_TOKEN",
                "the token Meta sends to verify the webhook subscription",
            ),
            Setting::default_to(
                "WHATSAPP_API_URL",
                "https://graph.facebook.com/v21.0",
                "Graph API base",
            ),
            Setting::off(
                "WHATSAPP_TEMPLATE_NAME",
                "the approved template sent instead of free text outside the 24-hour window",
            ),
            Setting::default_to(
                "WHATSAPP_TEMPLATE_LANGUAGE",
                "en",
                "the template's language code (en, en_US, pt_BR...)",
            ),
            Setting::default_to(
                "WHATSAPP_TEMPLATE_TEXT_PARAM",
                "true",
                "whether the template's body has one variable ({{1}}) that carries the text",
            ),
        ],
    },
];

/// The settings of this area, checked.
pub(super) struct Channels {
    pub telegram: Option<TelegramSettings>,
    pub discord_token: Option<Secret>,
    pub discord_application_id: Option<String>,
    pub discord_public_key: Option<String>,
    pub discord_api_url: String,
    pub discord_guild_id: Option<String>,
    pub whatsapp_token: Option<Secret>,
    pub whatsapp_phone_number_id: Option<String>,
    pub whatsapp_app_secret: Option<Secret>,
    pub whatsapp_verify_token: Option<Secret>,
    pub whatsapp_api_url: String,
    pub whatsapp_template_name: Option<String>,
    pub whatsapp_template_language: String,
    pub whatsapp_template_text_param: bool,
}

/// `public_url` is `COORDINATOR_PUBLIC_URL`, checked: Telegram's webhook is registered there.
pub(super) fn read(r: &Reader<'_>, public_url: Option<&str>) -> Result<Channels, ConfigError> {
    let telegram = telegram(r, public_url)?;
    let discord_public_key = r.get("DISCORD_PUBLIC_KEY");
    if let Some(key) = &discord_public_key {
        if hex::decode(key).map(|b| b.len()) != Ok(32) {
            return Err(ConfigError::new("DISCORD_PUBLIC_KEY", "must be 64 hex digits"));
        }
    }
    let snowflake = |name: &str| -> Result<Option<String>, ConfigError> {
        match r.get(name) {
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
    let whatsapp_template_name = r.get("WHATSAPP_TEMPLATE_NAME");
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
    let whatsapp_template_language = r.value("WHATSAPP_TEMPLATE_LANGUAGE");
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
    Ok(Channels {
        telegram,
        discord_token: r.secret("DISCORD_TOKEN"),
        discord_application_id,
        discord_public_key,
        discord_api_url: r.url("DISCORD_API_URL")?,
        discord_guild_id,
        whatsapp_token: r.secret("WHATSAPP_TOKEN"),
        whatsapp_phone_number_id: r.get("WHATSAPP_PHONE_NUMBER_ID"),
        whatsapp_app_secret: r.secret("WHATSAPP_APP_SECRET"),
        whatsapp_verify_token: r.secret("WHATSAPP_VERIFY_TOKEN"),
        whatsapp_api_url: r.url("WHATSAPP_API_URL")?,
        whatsapp_template_name,
        whatsapp_template_language,
        whatsapp_template_text_param: r.flag("WHATSAPP_TEMPLATE_TEXT_PARAM")?,
    })
}

fn telegram(r: &Reader<'_>, public_url: Option<&str>) -> Result<Option<TelegramSettings>, ConfigError> {
    let api_url = r.url("TELEGRAM_API_URL")?;
    let webhook_secret = r.secret("TELEGRAM_WEBHOOK_SECRET");
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
    Ok(r.secret("TELEGRAM_BOT_TOKEN").map(|bot_token| TelegramSettings {
        bot_token,
        api_url,
        webhook_secret,
        webhook_url: public_url.map(|base| format!("{base}/webhooks/telegram")),
    }))
}
