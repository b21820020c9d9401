//! Slack: the bot token (Web API sends), the signing secret (`POST /webhooks/slack`), the
//! app-level token (Socket Mode, for servers without a public URL) and the Web API base.

use super::catalog::{Group, Setting};
use super::values::Reader;
use super::{ConfigError, Secret};

pub(super) const GROUPS: &[Group] = &[Group {
    title: "Slack",
    settings: &[
        Setting::off(
            "SLACK_BOT_TOKEN",
            "enables Slack: the bot token (xoxb-...) from OAuth & Permissions",
        ),
        Setting::off(
            "SLACK_SIGNING_SECRET",
            "the app's signing secret; enables /webhooks/slack (Events API, slash commands, buttons)",
        ),
        Setting::off(
            "SLACK_APP_TOKEN",
            "an app-level token (xapp-..., scope connections:write): Socket Mode, no public URL needed",
        ),
        Setting::default_to(
            "SLACK_API_URL",
            "https://slack.com/api",
            "Slack Web API base (tests, proxies)",
        ),
    ],
}];

/// Slack's settings, checked.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    /// `xoxb-…`: every Web API call (sends, updates, file downloads).
    pub bot_token: Option<Secret>,
    /// Checks `X-Slack-Signature` on `/webhooks/slack`.
    pub signing_secret: Option<Secret>,
    /// `xapp-…`: opens Socket Mode connections (`apps.connections.open`).
    pub app_token: Option<Secret>,
    /// The Web API base, without a trailing `/`.
    pub api_url: String,
}

impl SlackSettings {
    /// Whether anything of Slack is configured.
    pub fn enabled(&self) -> bool {
        self.bot_token.is_some()
    }
}

pub(super) fn read(r: &Reader<'_>) -> Result<SlackSettings, ConfigError> {
    let bot_token = r.secret("SLACK_BOT_TOKEN");
    let signing_secret = r.secret("SLACK_SIGNING_SECRET");
    let app_token = r.secret("SLACK_APP_TOKEN");
    if let Some(token) = &app_token {
        if !token.expose().starts_with("xapp-") {
            return Err(ConfigError::new(
                "SLACK_APP_TOKEN",
                "must be an app-level token (it starts with xapp-), made under Basic Information",
            ));
        }
    }
    if bot_token.is_none() && (signing_secret.is_some() || app_token.is_some()) {
        return Err(ConfigError::new(
            "SLACK_BOT_TOKEN",
            "is needed with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN: every answer is sent with it",
        ));
    }
    Ok(SlackSettings {
        bot_token,
        signing_secret,
        app_token,
        api_url: r.url("SLACK_API_URL")?,
    })
}
