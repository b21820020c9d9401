//! What an invitee is sent: for each configured channel, how they use their link code
//! (a Telegram start link, a `wa.me` link with `/link CODE` filled in, the Discord text, the
//! bot's email address).

use std::sync::Arc;

use crate::channels::whatsapp::BusinessNumber;
use crate::config::Settings;

/// The channels an invitee can reach the bot on, from the settings.
#[derive(Clone, Default)]
pub struct InviteRoutes {
    telegram: bool,
    /// Present when WhatsApp is configured; the number is learnt when first needed.
    whatsapp: Option<Arc<BusinessNumber>>,
    discord: bool,
    slack: bool,
    /// The bot's address, when email is configured.
    email: Option<String>,
}

impl InviteRoutes {
    pub fn new(settings: &Settings) -> Self {
        Self {
            telegram: settings.telegram.is_some(),
            whatsapp: BusinessNumber::new(settings).map(Arc::new),
            discord: settings.discord_token.is_some() || settings.discord_public_key.is_some(),
            slack: settings.slack.enabled(),
            email: settings.email_from.as_ref().map(|a| a.address()),
        }
    }

    /// How an invitee uses `code` on each configured channel: the lines `/invite` answers with
    /// (the web page's invite form shows the same).
    pub async fn ways_for(&self, telegram_bot: Option<String>, code: &str) -> Vec<String> {
        ways(&self.reach(telegram_bot).await, code)
    }

    /// What is known right now: the Telegram bot's username (learnt at start) and the
    /// WhatsApp number (asked of the Graph API the first time).
    pub(super) async fn reach(&self, telegram_bot: Option<String>) -> Reach {
        let whatsapp = match &self.whatsapp {
            Some(number) => Some(number.get().await),
            None => None,
        };
        Reach {
            telegram: self.telegram.then_some(telegram_bot),
            whatsapp,
            discord: self.discord,
            slack: self.slack,
            email: self.email.clone(),
        }
    }
}

/// The channels as known when an invite is made: `Some(None)` is a channel that is
/// configured but whose bot name or number is not known yet.
#[derive(Debug, Clone, Default)]
pub(super) struct Reach {
    pub telegram: Option<Option<String>>,
    pub whatsapp: Option<Option<String>>,
    pub discord: bool,
    pub slack: bool,
    pub email: Option<String>,
}

/// One line per configured channel saying how to use `code` there.
pub(super) fn ways(reach: &Reach, code: &str) -> Vec<String> {
    let mut ways = Vec::new();
    match &reach.telegram {
        Some(Some(bot)) => ways.push(format!(
            "Telegram: https://t.me/{}?start={code}",
            bot.trim_start_matches('@')
        )),
        Some(None) => ways.push(format!("Telegram: send the bot /start {code}")),
        None => {}
    }
    match &reach.whatsapp {
        Some(Some(number)) => ways.push(format!("WhatsApp: https://wa.me/{number}?text=%2Flink%20{code}")),
        Some(None) => ways.push(format!("WhatsApp: send /link {code} to our WhatsApp number")),
        None => {}
    }
    if reach.discord {
        ways.push(format!("Discord: a direct message to the bot: /link {code}"));
    }
    if reach.slack {
        ways.push(format!(
            "Slack: type {} link {code} in any channel or in the app's Messages tab",
            crate::channels::slack::COMMAND
        ));
    }
    if let Some(address) = &reach.email {
        ways.push(format!(
            "Email: write to {address} with /link {code} as the first line"
        ));
    }
    if ways.is_empty() {
        ways.push(format!("Send the bot: /link {code}"));
    }
    ways
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_way_per_configured_channel() {
        let all = Reach {
            telegram: Some(Some("coord_bot".into())),
            whatsapp: Some(Some("15550783881".into())),
            discord: true,
            slack: true,
            email: Some("bot@example.com".into()),
        };
        assert_eq!(
            ways(&all, "7F3K9QAB"),
            [
                "Telegram: https://t.me/coord_bot?start=7F3K9QAB",
                "WhatsApp: https://wa.me/15550783881?text=%2Flink%207F3K9QAB",
                "Discord: a direct message to the bot: /link 7F3K9QAB",
                "Slack: type /coord link 7F3K9QAB in any channel or in the app's Messages tab",
                "Email: write to bot@example.com with /link 7F3K9QAB as the first line",
            ]
        );
    }

    #[test]
    fn unknown_names_and_no_channels() {
        let unknown = Reach {
            telegram: Some(None),
            whatsapp: Some(None),
            ..Reach::default()
        };
        assert_eq!(
            ways(&unknown, "AB"),
            [
                "Telegram: send the bot /start AB",
                "WhatsApp: send /link AB to our WhatsApp number"
            ]
        );
        assert_eq!(ways(&Reach::default(), "AB"), ["Send the bot: /link AB"]);
    }
}
