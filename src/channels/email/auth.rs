//! Who really sent a mail. `From:` alone proves nothing, so a mail acts as a person only when
//! its From domain is authenticated:
//!
//! - behind a trusted relay (`EMAIL_TRUSTED_AUTHSERV_ID`, e.g. Postfix with OpenDKIM or
//!   rspamd, or a hosted mailbox): the topmost `Authentication-Results` header of that
//!   `authserv-id` must show `dmarc=pass`, or `dkim=pass` for a domain aligned with From.
//!   Headers of any other authserv-id are ignored (anyone can write them);
//! - without one: the service verifies the DKIM signatures itself (`mail-auth`), looking the
//!   keys up in DNS (`EMAIL_DNS_SERVER`, else the system's resolver); a passing signature of a
//!   domain aligned with From authenticates. SPF needs the connecting address, which neither
//!   IMAP nor a relay's webhook gives, so it is not checked here.
//!
//! Alignment is relaxed: the signing domain equals the From domain, or one is a subdomain of
//! the other.

use std::net::SocketAddr;
use std::sync::Arc;

use mail_auth::hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The From domain is authenticated; how, in words.
    Authenticated(String),
    /// It is not; why, in words (shown in the history).
    Refused(String),
}

/// Checks senders, as configured.
#[derive(Clone)]
pub struct SenderAuth {
    /// The relay whose `Authentication-Results` are trusted.
    trusted: Option<String>,
    /// Verifies DKIM when no relay is trusted.
    dkim: Option<Arc<MessageAuthenticator>>,
}

impl SenderAuth {
    /// Trusts `trusted_authserv_id` when given; otherwise verifies DKIM with the DNS server at
    /// `dns` (or the system's).
    pub fn new(trusted_authserv_id: Option<String>, dns: Option<SocketAddr>) -> Result<Self, String> {
        let trusted = trusted_authserv_id
            .map(|id| id.trim().to_ascii_lowercase())
            .filter(|id| !id.is_empty());
        if trusted.is_some() {
            return Ok(Self { trusted, dkim: None });
        }
        let authenticator = match dns {
            Some(server) => {
                let servers = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
                let mut options = ResolverOpts::default();
                options.attempts = 1;
                options.timeout = std::time::Duration::from_secs(5);
                MessageAuthenticator::new(ResolverConfig::from_parts(None, Vec::new(), servers), options)
            }
            None => MessageAuthenticator::new_system_conf(),
        }
        .map_err(|e| format!("no DNS resolver for DKIM: {e}"))?;
        Ok(Self {
            trusted: None,
            dkim: Some(Arc::new(authenticator)),
        })
    }

    /// Whether the domain of `from` (the parsed From address) is authenticated in `raw`.
    pub async fn check(&self, raw: &[u8], from: &str) -> Verdict {
        let Some(from_domain) = from.rsplit_once('@').map(|(_, d)| d.trim().to_ascii_lowercase()) else {
            return Verdict::Refused("the From address has no domain".into());
        };
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return Verdict::Refused("the message cannot be read".into());
        };
        if message.froms().len() != 1 {
            return Verdict::Refused("the message does not have exactly one From address".into());
        }
        if let Some(trusted) = &self.trusted {
            return relay_verdict(trusted, message.raw_parsed_headers(), &from_domain);
        }
        let Some(dkim) = &self.dkim else {
            return Verdict::Refused("no way to authenticate senders is configured".into());
        };
        let outputs = dkim.verify_dkim(&message).await;
        if outputs.is_empty() {
            return Verdict::Refused("no DKIM signature".into());
        }
        let mut seen = Vec::new();
        for output in &outputs {
            let domain = output.signature().map(|s| s.d.to_ascii_lowercase());
            match (output.result(), &domain) {
                (DkimResult::Pass, Some(d)) if aligned(&from_domain, d) => {
                    return Verdict::Authenticated(format!("DKIM signature of {d}"));
                }
                (DkimResult::Pass, Some(d)) => {
                    seen.push(format!("a valid DKIM signature of {d}, not {from_domain}"))
                }
                (result, _) => seen.push(format!("DKIM {}", result_word(result))),
            }
        }
        Verdict::Refused(format!("not authenticated: {}", seen.join("; ")))
    }
}

fn result_word(result: &DkimResult) -> String {
    match result {
        DkimResult::Pass => "pass".into(),
        DkimResult::Neutral(e) => format!("neutral ({e})"),
        DkimResult::Fail(e) => format!("fail ({e})"),
        DkimResult::PermError(e) => format!("permerror ({e})"),
        DkimResult::TempError(e) => format!("temperror ({e})"),
        DkimResult::None => "none".into(),
    }
}

/// Relaxed alignment: the same domain, or one a subdomain of the other.
fn aligned(from_domain: &str, signer: &str) -> bool {
    let signer = signer.trim_end_matches('.');
    from_domain == signer
        || from_domain.ends_with(&format!(".{signer}"))
        || signer.ends_with(&format!(".{from_domain}"))
}

/// The verdict of the topmost `Authentication-Results` header of `trusted`.
fn relay_verdict(trusted: &str, headers: &[(&[u8], &[u8])], from_domain: &str) -> Verdict {
    let ours = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(b"Authentication-Results"))
        .filter_map(|(_, value)| parse_results(&String::from_utf8_lossy(value)))
        .find(|r| r.authserv_id == trusted);
    let Some(results) = ours else {
        return Verdict::Refused(format!(
            "no Authentication-Results from the trusted relay {trusted}"
        ));
    };
    for r in &results.results {
        let d = r
            .property("header.d")
            .or_else(|| r.property("header.i").map(|i| i.rsplit('@').next().unwrap_or(i)));
        match (r.method.as_str(), r.result.as_str()) {
            ("dmarc", "pass") => {
                let header_from = r.property("header.from").unwrap_or(from_domain);
                if aligned(from_domain, header_from) {
                    return Verdict::Authenticated(format!("dmarc=pass from {trusted}"));
                }
            }
            ("dkim", "pass") if d.is_some_and(|d| aligned(from_domain, d)) => {
                return Verdict::Authenticated(format!("dkim=pass for {} from {trusted}", d.unwrap_or("")));
            }
            _ => {}
        }
    }
    let summary: Vec<String> = results
        .results
        .iter()
        .map(|r| format!("{}={}", r.method, r.result))
        .collect();
    Verdict::Refused(format!(
        "{trusted} did not authenticate {from_domain} ({})",
        if summary.is_empty() {
            "no results".into()
        } else {
            summary.join(", ")
        }
    ))
}

/// One `Authentication-Results` header (RFC 8601), lowercased.
#[derive(Debug, PartialEq)]
struct Results {
    authserv_id: String,
    results: Vec<MethodResult>,
}

#[derive(Debug, PartialEq)]
struct MethodResult {
    method: String,
    result: String,
    properties: Vec<(String, String)>,
}

impl MethodResult {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `authserv-id [version]; method=result [reason=…] ptype.prop=value …; …`, comments in
/// parentheses left out.
fn parse_results(value: &str) -> Option<Results> {
    let mut text = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' if depth == 0 => {
                quoted = !quoted;
                text.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    let text = text.to_ascii_lowercase();
    let mut parts = text.split(';');
    let authserv_id = parts.next()?.split_whitespace().next()?.to_owned();
    let mut results = Vec::new();
    for part in parts {
        let mut words = part.split_whitespace();
        let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        let properties = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
            .collect();
        results.push(MethodResult {
            method: method.split('/').next().unwrap_or(method).to_owned(),
            result: result.to_owned(),
            properties,
        });
    }
    Some(Results { authserv_id, results })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[&str]) -> Vec<(Vec<u8>, Vec<u8>)> {
        list.iter()
            .map(|h| {
                let (n, v) = h.split_once(':').unwrap();
                (n.as_bytes().to_vec(), v.as_bytes().to_vec())
            })
            .collect()
    }

    fn verdict(list: &[&str]) -> Verdict {
        let owned = headers(list);
        let borrowed: Vec<(&[u8], &[u8])> = owned.iter().map(|(n, v)| (n.as_slice(), v.as_slice())).collect();
        relay_verdict("mx.example.net", &borrowed, "example.com")
    }

    #[test]
    fn results_are_read_with_comments_and_versions() {
        let r = parse_results(
            " mx.example.net 1; dkim=pass (good signature) header.d=example.com header.s=sel;\r\n spf=fail smtp.mailfrom=x@y.z; dmarc=pass header.from=Example.com",
        )
        .unwrap();
        assert_eq!(r.authserv_id, "mx.example.net");
        assert_eq!(r.results.len(), 3);
        assert_eq!(r.results[0].property("header.d"), Some("example.com"));
        assert_eq!(r.results[2].property("header.from"), Some("example.com"));
        assert_eq!(parse_results("mx; none").unwrap().results, Vec::new());
    }

    #[test]
    fn only_the_trusted_relay_counts_and_the_domain_must_align() {
        let pass = "Authentication-Results: mx.example.net; dmarc=pass header.from=example.com";
        assert!(matches!(verdict(&[pass]), Verdict::Authenticated(_)));
        // Another authserv-id: anyone can write that header.
        let forged = "Authentication-Results: evil.example; dmarc=pass header.from=example.com";
        assert!(matches!(verdict(&[forged]), Verdict::Refused(_)));
        // The trusted relay's own verdict is read, not a forged one below it.
        let fail = "Authentication-Results: mx.example.net; dmarc=fail header.from=example.com; dkim=fail";
        assert!(matches!(verdict(&[fail, pass]), Verdict::Refused(_)));
        // DKIM of another domain does not speak for example.com.
        let other = "Authentication-Results: mx.example.net; dkim=pass header.d=attacker.org";
        assert!(matches!(verdict(&[other]), Verdict::Refused(_)));
        let sub = "Authentication-Results: mx.example.net; dkim=pass header.d=mail.example.com";
        assert!(matches!(verdict(&[sub]), Verdict::Authenticated(_)));
        let dmarc_other = "Authentication-Results: mx.example.net; dmarc=pass header.from=attacker.org";
        assert!(matches!(verdict(&[dmarc_other]), Verdict::Refused(_)));
    }

    #[test]
    fn alignment_is_relaxed_but_not_loose() {
        assert!(aligned("example.com", "example.com"));
        assert!(aligned("mail.example.com", "example.com"));
        assert!(aligned("example.com", "mail.example.com"));
        assert!(!aligned("example.com", "badexample.com"));
        assert!(!aligned("example.com", "com.evil"));
    }
}
