//! Error texts without secrets. A platform client's error often names the URL it called, and
//! some URLs are credentials: Telegram's carries the bot token (`/bot123:AA…/sendMessage`), a
//! Discord interaction webhook's carries a 15-minute token, a `smtp://user:pass@…` setting
//! carries a password. Every error that is stored (dead letters, retry reasons, the history)
//! or shown goes through [`redact`] first; it keeps what helps an operator (the host, the
//! status, the platform's message) and drops the rest.

use std::sync::LazyLock;

use regex::Regex;

/// `scheme://[userinfo@]host[:port]` and the path and query after it.
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b([a-z][a-z0-9+.-]*)://(?:[^\s/@]*@)?([^\s/?#@)"'>\]]+)[^\s)"'>\]]*"#)
        .expect("a valid pattern")
});
/// `Authorization` values and `key=value` pairs whose name says they are secret.
static SECRET_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(Bearer|Basic|Bot)\s+[A-Za-z0-9._~+/=:-]{8,}|(?i:\b((?:access_?)?token|secret|password|passwd|api_?key|signature)(\s*[=:]\s*)[^\s"'&,;]+)"#)
        .expect("a valid pattern")
});
/// A Telegram bot token (`123456:AA…`) or a Discord webhook path (`webhooks/ID/TOKEN`) without
/// its URL, and any long opaque run of token characters.
static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d{5,}:[A-Za-z0-9_-]{30,}|webhooks/\d+/[A-Za-z0-9_.-]+|[A-Za-z0-9_-]{48,}")
        .expect("a valid pattern")
});

/// `text` with URLs cut to their scheme and host, and credentials replaced by `[redacted]`.
pub fn redact(text: &str) -> String {
    let text = URL.replace_all(text, "$1://$2/…");
    let text = SECRET_PAIR.replace_all(&text, |c: &regex::Captures<'_>| match c.get(1) {
        Some(scheme) => format!("{} [redacted]", scheme.as_str()),
        None => format!("{}{}[redacted]", &c[2], &c[3]),
    });
    TOKEN.replace_all(&text, "[redacted]").into_owned()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn urls_lose_their_path_query_and_password() {
        let e = "error sending request for url (https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage): timed out";
        let r = redact(e);
        assert_eq!(
            r,
            "error sending request for url (https://api.telegram.org/…): timed out"
        );
        let r = redact("connect smtp://bot:hunter2@mail.example.org:587 refused");
        assert_eq!(r, "connect smtp://mail.example.org:587/… refused");
        let r = redact(
            "POST https://discord.com/api/v10/webhooks/1/aW50ZXJhY3Rpb246MTIzNDU2Nzg5?wait=true failed: 404",
        );
        assert!(!r.contains("aW50"), "{r}");
        assert!(r.contains("discord.com") && r.contains("404"), "{r}");
    }

    #[test]
    fn credentials_outside_urls_are_redacted() {
        let r = redact("header Authorization: Bearer sk-abc123def refused");
        assert!(!r.contains("sk-abc123def"), "{r}");
        let r = redact("token=abcdef&x=1 and password: hunter2, api_key=XYZ");
        assert!(
            !r.contains("abcdef") && !r.contains("hunter2") && !r.contains("XYZ"),
            "{r}"
        );
        let r = redact("bad token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX here");
        assert_eq!(r, "bad token [redacted] here");
        let r = redact("webhooks/1234/aW50ZXJhY3Rpb246MTIz expired");
        assert_eq!(r, "[redacted] expired");
    }

    #[test]
    fn ordinary_errors_are_kept() {
        let e = "permanent failure: Bad Request: chat not found (400)";
        assert_eq!(redact(e), e);
        assert_eq!(
            redact("database unavailable: pool timed out"),
            "database unavailable: pool timed out"
        );
    }
}
