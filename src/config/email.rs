//! Email: sending over SMTP, reading over IMAP (or the inbound webhook), and how senders are
//! authenticated.

use std::net::SocketAddr;
use std::time::Duration;

use super::catalog::{Group, Setting};
use super::values::Reader;
use super::{ConfigError, Secret};
use crate::domain::EmailAddress;

pub(super) const GROUPS: &[Group] = &[Group {
    title: "Email",
    settings: &[
        Setting::off(
            "SMTP_URL",
            "enables sending: smtp://user:pass@host:25, smtp://...?tls=required (STARTTLS) or smtps://...",
        ),
        Setting::off(
            "IMAP_URL",
            "enables reading replies: imaps://user:pass@host:993/INBOX (or imap://)",
        ),
        Setting::off(
            "EMAIL_FROM",
            "the bot's address, e.g. Coordinator <bot@example.org> (also enables /webhooks/email)",
        ),
        Setting::default_to(
            "EMAIL_IMAP_POLL",
            "60s",
            "how often IMAP is read without IDLE, and the longest one IDLE lasts",
        ),
        Setting::off(
            "EMAIL_TRUSTED_AUTHSERV_ID",
            "the authserv-id whose Authentication-Results header is trusted; unset: DKIM is verified here",
        ),
        Setting::off(
            "EMAIL_DNS_SERVER",
            "host:port of the DNS server DKIM keys are looked up at (unset: the system's resolver)",
        ),
    ],
}];

/// The settings of this area, checked.
pub(super) struct Email {
    pub smtp_url: Option<Secret>,
    pub imap_url: Option<Secret>,
    pub email_from: Option<EmailAddress>,
    pub email_imap_poll: Duration,
    pub email_trusted_authserv_id: Option<String>,
    pub email_dns_server: Option<SocketAddr>,
}

pub(super) fn read(r: &Reader<'_>) -> Result<Email, ConfigError> {
    for name in ["SMTP_URL", "IMAP_URL"] {
        if let Some(v) = r.get(name) {
            reqwest::Url::parse(&v).map_err(|_| ConfigError::new(name, "is not a URL"))?;
        }
    }
    let email_from = r
        .get("EMAIL_FROM")
        .map(|from| {
            EmailAddress::parse(&from).map_err(|_| ConfigError::new("EMAIL_FROM", "is not an email address"))
        })
        .transpose()?;
    let email_dns_server = r
        .get("EMAIL_DNS_SERVER")
        .map(|v| {
            v.parse::<SocketAddr>().map_err(|_| {
                ConfigError::new(
                    "EMAIL_DNS_SERVER",
                    format!("'{v}' is not an address such as 127.0.0.1:53"),
                )
            })
        })
        .transpose()?;
    Ok(Email {
        smtp_url: r.secret("SMTP_URL"),
        imap_url: r.secret("IMAP_URL"),
        email_from,
        email_imap_poll: r.duration("EMAIL_IMAP_POLL")?,
        email_trusted_authserv_id: r.get("EMAIL_TRUSTED_AUTHSERV_ID"),
        email_dns_server,
    })
}
