//! `IMAP_URL`: where and how to read mail.

use std::fmt::Debug;

/// Where and how to read mail, from `IMAP_URL`.
#[derive(Clone, PartialEq, Eq)]
pub struct ImapConfig {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub mailbox: String,
}

impl Debug for ImapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}@{}:{}/{}",
            if self.tls { "imaps" } else { "imap" },
            self.user,
            self.host,
            self.port,
            self.mailbox
        )
    }
}

impl ImapConfig {
    /// `imap://user:pass@host[:143]/MAILBOX` or `imaps://…[:993]`; the mailbox defaults to INBOX.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(url).map_err(|_| "IMAP_URL: is not a URL".to_owned())?;
        let tls = match url.scheme() {
            "imap" => false,
            "imaps" => true,
            other => return Err(format!("IMAP_URL: unknown scheme '{other}' (imap or imaps)")),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let host = url.host_str().ok_or("IMAP_URL: no host")?.to_owned();
        let user = decode(url.username());
        if user.is_empty() {
            return Err("IMAP_URL: no user name".into());
        }
        let mailbox = decode(url.path().trim_start_matches('/'));
        Ok(Self {
            tls,
            port: url.port().unwrap_or(if tls { 993 } else { 143 }),
            host,
            user,
            password: url.password().map(decode).unwrap_or_default(),
            mailbox: if mailbox.is_empty() {
                "INBOX".into()
            } else {
                mailbox
            },
        })
    }

    /// The watermark's key: one per account and mailbox.
    pub fn key(&self) -> String {
        format!("{}@{}:{}/{}", self.user, self.host, self.port, self.mailbox)
    }
}

#[cfg(test)]
mod tests {
    use super::ImapConfig;

    #[test]
    fn imap_urls() {
        let c = ImapConfig::parse("imap://bot%40x.org:p%20w@127.0.0.1:1143/INBOX").unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str(), c.port, c.tls),
            ("bot@x.org", "p w", 1143, false)
        );
        assert_eq!(c.mailbox, "INBOX");
        let c = ImapConfig::parse("imaps://u:p@mail.example.org").unwrap();
        assert_eq!((c.port, c.tls, c.mailbox.as_str()), (993, true, "INBOX"));
        assert!(!format!("{c:?}").contains(":p@"));
        assert!(ImapConfig::parse("pop3://u:p@x").is_err());
        assert!(ImapConfig::parse("imap://x.org").is_err());
    }
}
