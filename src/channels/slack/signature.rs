//! Slack's request signature: `X-Slack-Signature: v0=HEX`, the HMAC-SHA256 of
//! `v0:{X-Slack-Request-Timestamp}:{raw body}` with the app's signing secret. A timestamp more
//! than five minutes away from now is refused, so that a captured request cannot be replayed.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// How far a request's timestamp may be from now, in seconds.
pub const MAX_AGE_SECS: i64 = 300;

/// Checks requests with `SLACK_SIGNING_SECRET`.
#[derive(Clone)]
pub struct Verifier {
    secret: Secret,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Missing,
    Stale,
    Wrong,
}

impl Refused {
    pub fn message(self) -> &'static str {
        match self {
            Refused::Missing => "missing X-Slack-Signature or X-Slack-Request-Timestamp",
            Refused::Stale => "the request timestamp is more than five minutes from now",
            Refused::Wrong => "invalid request signature",
        }
    }
}

impl Verifier {
    pub fn new(secret: Secret) -> Self {
        Self { secret }
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        mac
    }

    /// `v0=HEX` for `timestamp` and `body` (what Slack sends; tests and the load tool sign
    /// with it).
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        format!(
            "v0={}",
            hex::encode(self.mac(timestamp, body).finalize().into_bytes())
        )
    }

    /// Whether `signature` signs `body` at `timestamp`, and the timestamp is within five
    /// minutes of `now` (Unix seconds). Compared in constant time.
    pub fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), Refused> {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Err(Refused::Missing);
        };
        let at: i64 = timestamp.trim().parse().map_err(|_| Refused::Stale)?;
        if (now - at).abs() > MAX_AGE_SECS {
            return Err(Refused::Stale);
        }
        let Some(bytes) = signature
            .trim()
            .strip_prefix("v0=")
            .and_then(|h| hex::decode(h).ok())
        else {
            return Err(Refused::Wrong);
        };
        self.mac(timestamp.trim(), body)
            .verify_slice(&bytes)
            .map_err(|_| Refused::Wrong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slacks_documented_example_verifies() {
        // The example from Slack's "Verifying requests from Slack".
        let verifier = Verifier::new(Secret::new("8f742231b10e8888abcd99yyyzzz85a5"));
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(verifier.sign("1531420618", body), expected);
        assert_eq!(
            verifier.verify(Some(expected), Some("1531420618"), body, 1_531_420_618 + 10),
            Ok(())
        );
    }

    #[test]
    fn forged_stale_and_missing_are_refused() {
        let verifier = Verifier::new(Secret::new("secret"));
        let body = br#"{"type":"event_callback"}"#;
        let now = 1_764_000_000;
        let good = verifier.sign("1764000000", body);
        assert_eq!(
            verifier.verify(Some(&good), Some("1764000000"), body, now),
            Ok(())
        );
        assert_eq!(
            verifier.verify(Some(&good), Some("1764000000"), b"{}", now),
            Err(Refused::Wrong)
        );
        let other = Verifier::new(Secret::new("other")).sign("1764000000", body);
        assert_eq!(
            verifier.verify(Some(&other), Some("1764000000"), body, now),
            Err(Refused::Wrong)
        );
        let old = verifier.sign("1763999000", body);
        assert_eq!(
            verifier.verify(Some(&old), Some("1763999000"), body, now),
            Err(Refused::Stale)
        );
        assert_eq!(
            verifier.verify(None, Some("1764000000"), body, now),
            Err(Refused::Missing)
        );
        assert_eq!(
            verifier.verify(Some("v0=zz"), Some("1764000000"), body, now),
            Err(Refused::Wrong)
        );
        assert_eq!(
            verifier.verify(Some(&good), Some("soon"), body, now),
            Err(Refused::Stale)
        );
    }
}
